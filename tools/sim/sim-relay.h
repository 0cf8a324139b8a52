/* braid — a relay between the simulation's clients and a real server, for
 * the broken twins of the scenarios.
 *
 * A broken twin must run the very same clients and checkers as its
 * scenario, against a server that breaks one promise.  Rather than fault
 * hooks in src/, the breakage lives here: the relay listens where the
 * clients connect, opens one upstream connection per client connection to
 * the real server, and hands the bytes of each direction to a filter that
 * may forward them, rewrite them, hold them back or answer itself.
 *
 * Both directions are flow-controlled: when what one side holds unsent
 * passes a limit, the relay stops reading the other side until it
 * drains, so a client that never reads cannot make the relay buffer
 * without end. */
#pragma once

#include "sim.h"

G_BEGIN_DECLS

typedef struct _SimRelay SimRelay;
typedef struct _SimRelayConn SimRelayConn;

typedef struct {
  /* A new client connection: returns the filter's state for it (freed
   * with conn_free). */
  gpointer (*conn_new) (SimRelayConn *conn, gpointer filter_data);
  void (*conn_free) (gpointer conn_data);
  /* Bytes from the client (everything not yet consumed, from the start):
   * returns how many the filter consumed, 0 when it needs more or waits.
   * Called only once the upstream connection is made. */
  gsize (*from_client) (SimRelayConn *conn, const guint8 *data, gsize len);
  /* Bytes from the server, the same way. */
  gsize (*from_server) (SimRelayConn *conn, const guint8 *data, gsize len);
  /* (nullable): the connection ended, on either side; called once. */
  void (*conn_closed) (SimRelayConn *conn);
} SimRelayFilter;

/* Listens on @listen_endpoint ("tcp:11211"); every connection gets its
 * own connection to @upstream_endpoint ("tcp:127.0.0.1:11212"). */
SimRelay *sim_relay_new (BraidSim *sim, const gchar *listen_endpoint, const gchar *upstream_endpoint,
                         const SimRelayFilter *filter, gpointer filter_data);
/* Stops listening and aborts every connection (run the reactor after). */
void sim_relay_stop (SimRelay *relay);
void sim_relay_free (SimRelay *relay);

gpointer sim_relay_conn_get_data (SimRelayConn *conn);
gpointer sim_relay_conn_get_filter_data (SimRelayConn *conn);
BraidSim *sim_relay_conn_get_sim (SimRelayConn *conn);
void sim_relay_conn_to_server (SimRelayConn *conn, const guint8 *data, gsize len);
void sim_relay_conn_to_client (SimRelayConn *conn, const guint8 *data, gsize len);
/* Asks the filter again for the client's bytes it left waiting. */
void sim_relay_conn_process_client (SimRelayConn *conn);

G_END_DECLS
