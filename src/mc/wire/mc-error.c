#include "mc-error.h"

G_DEFINE_QUARK (braid-mc-error-quark, braid_mc_error)
