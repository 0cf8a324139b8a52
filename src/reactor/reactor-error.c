#include "reactor-error.h"
#include "atomic-quark-private.h"

BRAID_DEFINE_QUARK (braid-reactor-error-quark, braid_reactor_error)
