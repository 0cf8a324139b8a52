#include "reactor-error.h"

G_DEFINE_QUARK (braid-reactor-error-quark, braid_reactor_error)
