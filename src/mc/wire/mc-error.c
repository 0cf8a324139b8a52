#include "mc-error.h"
#include "atomic-quark-private.h"

BRAID_DEFINE_QUARK (braid-mc-error-quark, braid_mc_error)
