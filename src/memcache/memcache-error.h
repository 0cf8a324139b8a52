/* braid — the memcache layer's error domain (server and client). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * BraidMemcacheError:
 * @BRAID_MEMCACHE_ERROR_NOT_FOUND: the key does not exist (NOT_FOUND, or a
 *   get that returned no value)
 * @BRAID_MEMCACHE_ERROR_NOT_STORED: the condition of add/replace/append/
 *   prepend was not met (NOT_STORED)
 * @BRAID_MEMCACHE_ERROR_EXISTS: a cas found the item modified (EXISTS)
 * @BRAID_MEMCACHE_ERROR_CLIENT_ERROR: the server answered CLIENT_ERROR
 * @BRAID_MEMCACHE_ERROR_SERVER_ERROR: the server answered SERVER_ERROR
 * @BRAID_MEMCACHE_ERROR_UNKNOWN_COMMAND: the server answered ERROR
 * @BRAID_MEMCACHE_ERROR_TIMED_OUT: no reply within the request timeout
 * @BRAID_MEMCACHE_ERROR_CONNECTION_LOST: the connection dropped before the
 *   reply arrived, or could not be made
 * @BRAID_MEMCACHE_ERROR_INVALID_ARGUMENT: a key or value was refused before
 *   anything was sent
 * @BRAID_MEMCACHE_ERROR_PROTOCOL: the peer sent bytes that are not memcached
 *   protocol
 * @BRAID_MEMCACHE_ERROR_NO_SERVERS: every server of the pool is down
 * @BRAID_MEMCACHE_ERROR_TOO_LARGE: a value is larger than the item size limit
 */
typedef enum {
  BRAID_MEMCACHE_ERROR_NOT_FOUND,
  BRAID_MEMCACHE_ERROR_NOT_STORED,
  BRAID_MEMCACHE_ERROR_EXISTS,
  BRAID_MEMCACHE_ERROR_CLIENT_ERROR,
  BRAID_MEMCACHE_ERROR_SERVER_ERROR,
  BRAID_MEMCACHE_ERROR_UNKNOWN_COMMAND,
  BRAID_MEMCACHE_ERROR_TIMED_OUT,
  BRAID_MEMCACHE_ERROR_CONNECTION_LOST,
  BRAID_MEMCACHE_ERROR_INVALID_ARGUMENT,
  BRAID_MEMCACHE_ERROR_PROTOCOL,
  BRAID_MEMCACHE_ERROR_NO_SERVERS,
  BRAID_MEMCACHE_ERROR_TOO_LARGE,
} BraidMemcacheError;

#define BRAID_MEMCACHE_ERROR (braid_memcache_error_quark ())
GQuark braid_memcache_error_quark (void);

G_END_DECLS
