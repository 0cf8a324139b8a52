/* braid — the memcache layer's error domain (server and client). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * BraidMcError:
 * @BRAID_MC_ERROR_NOT_FOUND: the key does not exist (NOT_FOUND, or a
 *   get that returned no value)
 * @BRAID_MC_ERROR_NOT_STORED: the condition of add/replace/append/
 *   prepend was not met (NOT_STORED)
 * @BRAID_MC_ERROR_EXISTS: a cas found the item modified (EXISTS)
 * @BRAID_MC_ERROR_CLIENT_ERROR: the server answered CLIENT_ERROR
 * @BRAID_MC_ERROR_SERVER_ERROR: the server answered SERVER_ERROR
 * @BRAID_MC_ERROR_UNKNOWN_COMMAND: the server answered ERROR
 * @BRAID_MC_ERROR_TIMED_OUT: no reply within the request timeout
 * @BRAID_MC_ERROR_CONNECTION_LOST: the connection dropped before the
 *   reply arrived, or could not be made
 * @BRAID_MC_ERROR_INVALID_ARGUMENT: a key or value was refused before
 *   anything was sent
 * @BRAID_MC_ERROR_PROTOCOL: the peer sent bytes that are not memcached
 *   protocol
 * @BRAID_MC_ERROR_NO_SERVERS: every server of the pool is down
 * @BRAID_MC_ERROR_TOO_LARGE: a value is larger than the item size limit
 */
typedef enum {
  BRAID_MC_ERROR_NOT_FOUND,
  BRAID_MC_ERROR_NOT_STORED,
  BRAID_MC_ERROR_EXISTS,
  BRAID_MC_ERROR_CLIENT_ERROR,
  BRAID_MC_ERROR_SERVER_ERROR,
  BRAID_MC_ERROR_UNKNOWN_COMMAND,
  BRAID_MC_ERROR_TIMED_OUT,
  BRAID_MC_ERROR_CONNECTION_LOST,
  BRAID_MC_ERROR_INVALID_ARGUMENT,
  BRAID_MC_ERROR_PROTOCOL,
  BRAID_MC_ERROR_NO_SERVERS,
  BRAID_MC_ERROR_TOO_LARGE,
} BraidMcError;

#define BRAID_MC_ERROR (braid_mc_error_quark ())
GQuark braid_mc_error_quark (void);

G_END_DECLS
