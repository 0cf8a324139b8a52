#include "proxy-error.h"

G_DEFINE_QUARK (braid-proxy-error-quark, braid_proxy_error)
