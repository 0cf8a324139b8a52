#include "memcache-error.h"

G_DEFINE_QUARK (braid-memcache-error-quark, braid_memcache_error)
