#include "proxy-error.h"
#include "atomic-quark-private.h"

BRAID_DEFINE_QUARK (braid-proxy-error-quark, braid_proxy_error)
