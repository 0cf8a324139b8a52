/* braid — the relay of the broken twins (see sim-relay.h). */
#include "sim-relay.h"
#include "callback-protocol.h"

/* What one side may hold unsent before the relay stops reading the
 * other: about what a kernel socket buffer holds. */
#define RELAY_BACKLOG_LIMIT (256 * 1024)

struct _SimRelay
{
  BraidSim *sim;
  BraidListener *listener;        /* (owned) (nullable) once stopped */
  gchar *upstream_endpoint;
  SimRelayFilter filter;
  gpointer filter_data;
  GPtrArray *conns;               /* (element-type SimRelayConn) (owned) */
  gboolean stopped;
};

struct _SimRelayConn
{
  SimRelay *relay;                /* (unowned) */
  guint id;
  gpointer data;                  /* the filter's */
  BraidProtocol *downstream;      /* (owned) (nullable) */
  BraidProtocol *upstream;        /* (owned) (nullable) */
  GByteArray *from_client;        /* not yet consumed by the filter */
  GByteArray *from_server;
  gboolean client_gone, server_gone;
  gboolean server_closed_cleanly;
  gboolean processing;
  gboolean closed_reported;
};

static BraidTransport *
transport_of (BraidProtocol *protocol)
{
  return protocol != NULL ? braid_protocol_get_transport (protocol) : NULL;
}

static void
relay_conn_free (gpointer data)
{
  SimRelayConn *conn = data;

  if (conn->data != NULL && conn->relay->filter.conn_free != NULL)
    conn->relay->filter.conn_free (conn->data);
  g_clear_object (&conn->downstream);
  g_clear_object (&conn->upstream);
  g_byte_array_unref (conn->from_client);
  g_byte_array_unref (conn->from_server);
  g_free (conn);
}

/* Feeds @buffer to @filter_func until it consumes nothing more. */
static void
feed (SimRelayConn *conn, GByteArray *buffer, gsize (*filter_func) (SimRelayConn *, const guint8 *, gsize))
{
  gsize used;

  while (buffer->len > 0 && !conn->client_gone &&
         (used = filter_func (conn, buffer->data, buffer->len)) > 0)
    g_byte_array_remove_range (buffer, 0, (guint) used);
}

/* The filter may hold client bytes back until server replies arrive, so
 * each direction's news re-runs both. */
static void
process (SimRelayConn *conn)
{
  SimRelay *relay = conn->relay;

  if (conn->processing || conn->upstream == NULL || transport_of (conn->upstream) == NULL)
    return;
  conn->processing = TRUE;
  feed (conn, conn->from_server, relay->filter.from_server);
  feed (conn, conn->from_client, relay->filter.from_client);
  conn->processing = FALSE;
}

void
sim_relay_conn_process_client (SimRelayConn *conn)
{
  process (conn);
}

static void
report_closed (SimRelayConn *conn)
{
  if (conn->closed_reported)
    return;
  conn->closed_reported = TRUE;
  if (conn->relay->filter.conn_closed != NULL)
    conn->relay->filter.conn_closed (conn);
}

static void
close_client (SimRelayConn *conn, gboolean cleanly)
{
  BraidTransport *t = transport_of (conn->downstream);

  if (conn->client_gone || t == NULL)
    return;
  if (cleanly)
    braid_transport_lose_connection (t);
  else
    braid_transport_abort_connection (t);
}

static void
close_server (SimRelayConn *conn)
{
  BraidTransport *t = transport_of (conn->upstream);

  if (!conn->server_gone && t != NULL)
    braid_transport_abort_connection (t);
}

/* ---- the upstream side ---- */

static void
upstream_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  SimRelayConn *conn = user_data;
  BraidTransport *down = transport_of (conn->downstream);

  g_byte_array_append (conn->from_server, data, (guint) len);
  process (conn);
  if (down != NULL && !conn->client_gone && braid_transport_get_write_buffer_size (down) > RELAY_BACKLOG_LIMIT)
    braid_transport_pause_reading (braid_protocol_get_transport (protocol));
}

static void
upstream_drained (BraidProtocol *protocol, gpointer user_data)
{
  SimRelayConn *conn = user_data;

  if (!conn->client_gone && transport_of (conn->downstream) != NULL)
    braid_transport_resume_reading (transport_of (conn->downstream));
}

static void
upstream_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  SimRelayConn *conn = user_data;

  conn->server_gone = TRUE;
  conn->server_closed_cleanly = g_error_matches (reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  braid_sim_trace (conn->relay->sim, "relay %u: server side lost: %s", conn->id, reason->message);
  report_closed (conn);
  /* The server said all it will say: the client hears the end the same
   * way, clean or not. */
  close_client (conn, conn->server_closed_cleanly);
}

static const BraidProtocolCallbacks upstream_callbacks = {
  .data_received = upstream_data,
  .connection_lost = upstream_lost,
  .output_drained = upstream_drained,
};

static BraidProtocol *
build_upstream (GSocketAddress *address, gpointer user_data)
{
  return BRAID_PROTOCOL (braid_callback_protocol_new (&upstream_callbacks, user_data, NULL));
}

static void
on_upstream_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SimRelayConn *conn = user_data;
  g_autoptr(GError) error = NULL;
  BraidProtocol *upstream = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);

  if (upstream == NULL)
    {
      braid_sim_trace (conn->relay->sim, "relay %u: upstream connect failed: %s", conn->id, error->message);
      conn->server_gone = TRUE;
      report_closed (conn);
      close_client (conn, FALSE);
      return;
    }
  conn->upstream = upstream;
  if (conn->client_gone || conn->relay->stopped)
    {
      close_server (conn);
      return;
    }
  process (conn);
}

/* ---- the client side ---- */

static void
downstream_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  SimRelayConn *conn = user_data;
  SimRelay *relay = conn->relay;
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_upstream, conn, NULL);

  conn->downstream = g_object_ref (protocol);
  braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (relay->sim)), relay->upstream_endpoint,
                               factory, NULL, on_upstream_connected, conn);
}

static void
downstream_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  SimRelayConn *conn = user_data;
  BraidTransport *up = transport_of (conn->upstream);

  g_byte_array_append (conn->from_client, data, (guint) len);
  process (conn);
  if (up != NULL && !conn->server_gone && braid_transport_get_write_buffer_size (up) > RELAY_BACKLOG_LIMIT)
    braid_transport_pause_reading (braid_protocol_get_transport (protocol));
}

static void
downstream_drained (BraidProtocol *protocol, gpointer user_data)
{
  SimRelayConn *conn = user_data;

  if (!conn->server_gone && transport_of (conn->upstream) != NULL)
    braid_transport_resume_reading (transport_of (conn->upstream));
}

static void
downstream_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  SimRelayConn *conn = user_data;

  conn->client_gone = TRUE;
  report_closed (conn);
  close_server (conn);
}

static const BraidProtocolCallbacks downstream_callbacks = {
  .connection_made = downstream_made,
  .data_received = downstream_data,
  .connection_lost = downstream_lost,
  .output_drained = downstream_drained,
};

static BraidProtocol *
build_downstream (GSocketAddress *address, gpointer user_data)
{
  SimRelay *relay = user_data;
  SimRelayConn *conn = g_new0 (SimRelayConn, 1);

  conn->relay = relay;
  conn->id = relay->conns->len;
  conn->from_client = g_byte_array_new ();
  conn->from_server = g_byte_array_new ();
  g_ptr_array_add (relay->conns, conn);
  if (relay->filter.conn_new != NULL)
    conn->data = relay->filter.conn_new (conn, relay->filter_data);
  return BRAID_PROTOCOL (braid_callback_protocol_new (&downstream_callbacks, conn, NULL));
}

/* ---- the relay ---- */

SimRelay *
sim_relay_new (BraidSim *sim, const gchar *listen_endpoint, const gchar *upstream_endpoint,
               const SimRelayFilter *filter, gpointer filter_data)
{
  SimRelay *relay = g_new0 (SimRelay, 1);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_downstream, relay, NULL);

  relay->sim = sim;
  relay->upstream_endpoint = g_strdup (upstream_endpoint);
  relay->filter = *filter;
  relay->filter_data = filter_data;
  relay->conns = g_ptr_array_new_with_free_func (relay_conn_free);
  relay->listener = braid_reactor_listen (BRAID_REACTOR (braid_sim_get_reactor (sim)), listen_endpoint, factory, NULL);
  g_assert (relay->listener != NULL);
  return relay;
}

void
sim_relay_stop (SimRelay *relay)
{
  if (relay == NULL || relay->stopped)
    return;
  relay->stopped = TRUE;
  braid_listener_stop (relay->listener);
  g_clear_object (&relay->listener);
  for (guint i = 0; i < relay->conns->len; i++)
    {
      SimRelayConn *conn = g_ptr_array_index (relay->conns, i);

      close_client (conn, FALSE);
      close_server (conn);
    }
}

void
sim_relay_free (SimRelay *relay)
{
  if (relay == NULL)
    return;
  sim_relay_stop (relay);
  /* Callbacks still queued must not reach a freed connection. */
  for (guint i = 0; i < relay->conns->len; i++)
    {
      SimRelayConn *conn = g_ptr_array_index (relay->conns, i);

      if (conn->downstream != NULL)
        braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (conn->downstream));
      if (conn->upstream != NULL)
        braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (conn->upstream));
    }
  g_ptr_array_unref (relay->conns);
  g_free (relay->upstream_endpoint);
  g_free (relay);
}

gpointer
sim_relay_conn_get_data (SimRelayConn *conn)
{
  return conn->data;
}

gpointer
sim_relay_conn_get_filter_data (SimRelayConn *conn)
{
  return conn->relay->filter_data;
}

BraidSim *
sim_relay_conn_get_sim (SimRelayConn *conn)
{
  return conn->relay->sim;
}

void
sim_relay_conn_to_server (SimRelayConn *conn, const guint8 *data, gsize len)
{
  BraidTransport *t = transport_of (conn->upstream);

  if (t != NULL && !conn->server_gone)
    braid_transport_write (t, data, len);
}

void
sim_relay_conn_to_client (SimRelayConn *conn, const guint8 *data, gsize len)
{
  BraidTransport *t = transport_of (conn->downstream);

  if (t != NULL && !conn->client_gone)
    braid_transport_write (t, data, len);
}
