/* braid — the reactor layer's error domain. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * BraidReactorError:
 * @BRAID_REACTOR_ERROR_INVALID_ENDPOINT: an endpoint string could not be parsed
 * @BRAID_REACTOR_ERROR_LISTEN_FAILED: a listening socket could not be set up
 * @BRAID_REACTOR_ERROR_CONNECTION_REFUSED: an outgoing connection was refused
 * @BRAID_REACTOR_ERROR_CONNECTION_DONE: the connection was closed cleanly
 *   (by either side); this is the normal reason given to `connection_lost`
 * @BRAID_REACTOR_ERROR_CONNECTION_LOST: the connection was lost uncleanly
 *   (reset, I/O error)
 * @BRAID_REACTOR_ERROR_CONNECTION_ABORTED: this side aborted the connection
 * @BRAID_REACTOR_ERROR_TIMED_OUT: an operation did not finish in time
 * @BRAID_REACTOR_ERROR_NOT_SUPPORTED: the endpoint kind is not supported here
 */
typedef enum {
  BRAID_REACTOR_ERROR_INVALID_ENDPOINT,
  BRAID_REACTOR_ERROR_LISTEN_FAILED,
  BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
  BRAID_REACTOR_ERROR_CONNECTION_DONE,
  BRAID_REACTOR_ERROR_CONNECTION_LOST,
  BRAID_REACTOR_ERROR_CONNECTION_ABORTED,
  BRAID_REACTOR_ERROR_TIMED_OUT,
  BRAID_REACTOR_ERROR_NOT_SUPPORTED,
} BraidReactorError;

#define BRAID_REACTOR_ERROR (braid_reactor_error_quark ())
GQuark braid_reactor_error_quark (void);

G_END_DECLS
