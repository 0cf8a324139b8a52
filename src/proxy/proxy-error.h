/* braid — the proxy layer's error domain. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BRAID_PROXY_ERROR_BAD_REQUEST,   /* not a single http(s) URL line */
  BRAID_PROXY_ERROR_UPSTREAM,      /* the fetch failed */
  BRAID_PROXY_ERROR_TOO_LARGE,     /* the body passed the limit */
  BRAID_PROXY_ERROR_TIMED_OUT,
  BRAID_PROXY_ERROR_CACHE,         /* the cache failed (never fails a request) */
  BRAID_PROXY_ERROR_FORBIDDEN,     /* the address policy refused a connection */
  BRAID_PROXY_ERROR_INVALID_RULE,  /* an address policy rule could not be parsed */
  BRAID_PROXY_ERROR_OVER_CAPACITY, /* max_flights or max_buffered reached */
} BraidProxyError;

#define BRAID_PROXY_ERROR (braid_proxy_error_quark ())
GQuark braid_proxy_error_quark (void);

G_END_DECLS
