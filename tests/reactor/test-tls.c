/* braid — tls: endpoints on the GLib reactor: what the connection
 * contract (test-reactor-contract, /reactor/glib-tls/) does not cover.
 * Certificates, handshake failures and peers that never handshake. */
#include "test-support.h"

#include <stdio.h>
#include <unistd.h>
#include "glib-reactor.h"
#include "tls-transport-private.h"
#include "callback-protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#define DEADLINE_MS 10000

static BraidTestCertificate *certificate;   /* the server's */
static BraidTestCertificate *stranger;      /* another self-signed one */
static gchar *skip_reason;

typedef struct {
  BraidReactor *reactor;
  BraidListener *listener;
  GPtrArray *servers;   /* (element-type BraidRecordingProtocol) */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *listen = NULL;

  if (certificate == NULL)
    return;
  f->reactor = BRAID_REACTOR (braid_glib_reactor_new (NULL));
  f->servers = g_ptr_array_new_with_free_func (g_object_unref);
  factory = braid_recording_factory_new (TRUE, f->servers);
  listen = g_strdup_printf ("tls:0:interface=127.0.0.1:certificate=%s:key=%s",
                            certificate->certificate, certificate->key);
  f->listener = braid_reactor_listen (f->reactor, listen, factory, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->reactor == NULL)
    return;
  braid_tls_set_handshake_timeout (0);
  if (f->listener != NULL)
    braid_listener_stop (f->listener);
  g_clear_object (&f->listener);
  g_clear_pointer (&f->servers, g_ptr_array_unref);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_finalize_object (f->reactor);
}

static gboolean
skipped (void)
{
  if (certificate != NULL)
    return FALSE;
  g_test_skip (skip_reason);
  return TRUE;
}

/* Connects to the listener with @endpoint_format (one %u for the port,
 * then one %s for a CA file); returns the protocol or NULL with @error. */
static BraidRecordingProtocol *
connect_to (Fixture *f, const gchar *endpoint, GError **error)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GAsyncResult) result = NULL;

  braid_reactor_connect_async (f->reactor, endpoint, factory, NULL, braid_test_store_result, &result);
  braid_test_wait_for_result (NULL, &result, DEADLINE_MS);
  return BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (f->reactor, result, error));
}

static gboolean
is_lost (BraidRecordingProtocol *p)
{
  return braid_recording_protocol_is_lost (p);
}

static void
wait_until (gboolean (*cond) (BraidRecordingProtocol *), BraidRecordingProtocol *p)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (!cond (p))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
wait_for_no_connections (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (braid_listener_get_n_connections (f->listener) > 0)
    {
      g_autoptr(GSource) tick = g_timeout_source_new (10);

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_source_set_dummy_callback (tick);
      g_source_attach (tick, NULL);
      g_main_context_iteration (NULL, TRUE);
      g_source_destroy (tick);
    }
}

static void
assert_message_contains (const GError *error, const gchar *part)
{
  if (strstr (error->message, part) == NULL)
    g_error ("expected an error containing “%s” but saw “%s”", part, error->message);
}

static void
test_hostname (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("A tls: client checks the server's name: localhost matches the certificate's DNS name, "
                  "and the peer's protocol hears the bytes in the clear");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tls:localhost:%u:ca=%s:timeout=5", braid_listener_get_port (f->listener),
                              certificate->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (client)), "ping\r\n");
  while (client->received->len < 6)
    g_main_context_iteration (NULL, TRUE);
  braid_assert_bytes_equal ("ping\r\n", 6, client->received->data, client->received->len);
  g_assert_cmpuint (f->servers->len, ==, 1);
  braid_assert_bytes_equal ("ping\r\n", 6, ((BraidRecordingProtocol *) g_ptr_array_index (f->servers, 0))->received->data,
                            ((BraidRecordingProtocol *) g_ptr_array_index (f->servers, 0))->received->len);
  /* The peer closes: connection_lost once, CONNECTION_DONE. */
  braid_transport_lose_connection (braid_protocol_get_transport (g_ptr_array_index (f->servers, 0)));
  wait_until (is_lost, client);
  g_assert_error (client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  wait_for_no_connections (f);
}

static void
test_wrong_ca (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) system_error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autoptr(BraidRecordingProtocol) system_client = NULL;
  g_autofree gchar *endpoint = NULL;
  g_autofree gchar *system_endpoint = NULL;

  g_test_summary ("A client whose CA did not sign the server's certificate (another ca=, or the system's "
                  "trust store) fails with CONNECTION_REFUSED and says why; the server builds no protocol");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_listener_get_port (f->listener),
                              stranger->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_null (client);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  assert_message_contains (error, "TLS handshake with");
  assert_message_contains (error, "not signed by a trusted CA");

  system_endpoint = g_strdup_printf ("tls:127.0.0.1:%u", braid_listener_get_port (f->listener));
  system_client = connect_to (f, system_endpoint, &system_error);
  g_assert_null (system_client);
  g_assert_error (system_error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  assert_message_contains (system_error, "not signed by a trusted CA");

  wait_for_no_connections (f);
  g_assert_cmpuint (f->servers->len, ==, 0);
}

static void
test_missing_ca_file (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("A ca= file that cannot be read fails the connect with CONNECTION_REFUSED");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=/nonexistent/ca.pem", braid_listener_get_port (f->listener));
  client = connect_to (f, endpoint, &error);
  g_assert_null (client);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  wait_for_no_connections (f);
}

static void
test_bad_certificate_file (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autofree gchar *swapped = NULL;

  g_test_summary ("A tls: listener whose certificate or key cannot be loaded fails with LISTEN_FAILED");
  if (skipped ())
    return;
  listener = braid_reactor_listen (f->reactor, "tls:0:certificate=/nonexistent.pem", factory, &error);
  g_assert_null (listener);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  assert_message_contains (error, "certificate");
  g_clear_error (&error);
  /* The certificate file alone holds no key. */
  swapped = g_strdup_printf ("tls:0:certificate=%s", certificate->certificate);
  listener = braid_reactor_listen (f->reactor, swapped, factory, &error);
  g_assert_null (listener);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
}

static void
test_plain_client (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("A plain TCP client that speaks memcached to the TLS port is disconnected; "
                  "no protocol is built for it");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", braid_listener_get_port (f->listener));
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (client)),
                                "get foo\r\nset a 0 0 1\r\nx\r\n");
  wait_until (is_lost, client);
  wait_for_no_connections (f);
  g_assert_cmpuint (f->servers->len, ==, 0);
}

static void
test_silent_client (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;
  gint64 start;

  g_test_summary ("A client that connects and never starts the handshake is disconnected when the "
                  "handshake time runs out");
  if (skipped ())
    return;
  braid_tls_set_handshake_timeout (300);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", braid_listener_get_port (f->listener));
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  wait_until (is_lost, client);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 250 * 1000);
  wait_for_no_connections (f);
  g_assert_cmpuint (f->servers->len, ==, 0);
}

static void
test_reactor_disposed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("TLS connections do not outlive their reactor: disposing it aborts them");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_listener_get_port (f->listener),
                              certificate->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  while (f->servers->len == 0)
    g_main_context_iteration (NULL, TRUE);
  braid_listener_stop (f->listener);
  g_clear_object (&f->listener);
  g_object_run_dispose (G_OBJECT (f->reactor));
  wait_until (is_lost, client);
  g_assert_error (client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_ABORTED);
  wait_until (is_lost, g_ptr_array_index (f->servers, 0));
}

/* ---- where a tls: listener listens ---- */

static BraidListener *
listen_tls (Fixture *f, const gchar *where, GError **error)
{
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (TRUE, NULL);
  g_autofree gchar *endpoint = g_strdup_printf ("tls:%s:certificate=%s:key=%s", where, certificate->certificate,
                                                certificate->key);

  return braid_reactor_listen (f->reactor, endpoint, factory, error);
}

static void
test_listen_interfaces (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) any = NULL;
  g_autoptr(BraidListener) local = NULL;
  g_autoptr(BraidListener) bad = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;
  g_autofree gchar *bound = NULL;
  GSocketAddress *address;

  g_test_summary ("tls:PORT with no interface listens on every interface, interface=localhost on "
                  "127.0.0.1; an interface that is not an address is refused, naming it");
  if (skipped ())
    return;
  any = listen_tls (f, "0", &error);
  g_assert_no_error (error);
  address = braid_listener_get_address (any);
  g_assert_true (g_inet_address_get_is_any (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address))));
  endpoint = g_strdup_printf ("tls:localhost:%u:ca=%s:timeout=5", braid_listener_get_port (any),
                              certificate->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (client)));
  braid_listener_stop (any);

  local = listen_tls (f, "0:interface=localhost", &error);
  g_assert_no_error (error);
  bound = g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (braid_listener_get_address (local))));
  g_assert_cmpstr (bound, ==, "127.0.0.1");
  braid_listener_stop (local);

  bad = listen_tls (f, "0:interface=eth0", &error);
  g_assert_null (bad);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT);
  g_assert_cmpstr (error->message, ==, "Interface “eth0” is not an IP address");
}

static void
test_listen_port_in_use (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) second = NULL;
  g_autofree gchar *where = NULL;

  g_test_summary ("A port already listened on: LISTEN_FAILED, the message naming the endpoint");
  if (skipped ())
    return;
  where = g_strdup_printf ("%u:interface=127.0.0.1", braid_listener_get_port (f->listener));
  second = listen_tls (f, where, &error);
  g_assert_null (second);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "Cannot listen on “tls:"));
}

static void
test_connect_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("A tls: connect to a port nobody listens on fails with CONNECTION_REFUSED, "
                  "naming the endpoint");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_test_find_free_port (), certificate->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_null (client);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  assert_message_contains (error, "Cannot connect to “tls:127.0.0.1:");
}

/* ---- a reactor on a context of its own ---- */

static gboolean
have_result (GAsyncResult **result)
{
  return *result != NULL;
}

/* Iterates @context alone (never the global default) until @done. */
static void
iterate_until (GMainContext *context, gboolean (*done) (gpointer), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (!done (data))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (!g_main_context_iteration (context, FALSE))
        g_usleep (1000);
    }
}

static gboolean
recording_is_lost (gpointer p)
{
  return braid_recording_protocol_is_lost (p);
}

static gboolean
has_server (gpointer servers)
{
  return ((GPtrArray *) servers)->len > 0;
}

static gboolean
has_ping (gpointer p)
{
  return ((BraidRecordingProtocol *) p)->received->len >= 4;
}

static void
test_private_context (void)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidProtocolFactory) server_factory = NULL;
  g_autoptr(BraidProtocolFactory) client_factory = NULL;
  g_autoptr(GPtrArray) servers = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *listen = NULL;
  g_autofree gchar *endpoint = NULL;
  BraidRecordingProtocol *server;

  g_test_summary ("A reactor on a context of its own runs all of TLS there, the global default context never "
                  "iterated: handshakes, data, and a clean close (close_notify) reported CONNECTION_DONE");
  if (skipped ())
    return;
  context = g_main_context_new ();
  reactor = braid_glib_reactor_new (context);
  servers = g_ptr_array_new_with_free_func (g_object_unref);
  server_factory = braid_recording_factory_new (FALSE, servers);
  client_factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  listen = g_strdup_printf ("tls:0:interface=127.0.0.1:certificate=%s:key=%s", certificate->certificate,
                            certificate->key);
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), listen, server_factory, &error);
  g_assert_no_error (error);
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_listener_get_port (listener),
                              certificate->certificate);
  braid_reactor_connect_async (BRAID_REACTOR (reactor), endpoint, client_factory, NULL, braid_test_store_result,
                               &result);
  iterate_until (context, (gboolean (*) (gpointer)) have_result, &result);
  client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (BRAID_REACTOR (reactor), result, &error));
  g_assert_no_error (error);
  iterate_until (context, has_server, servers);
  server = g_ptr_array_index (servers, 0);

  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (client)), "ping");
  iterate_until (context, has_ping, server);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (client)));
  iterate_until (context, recording_is_lost, client);
  g_assert_error (client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  iterate_until (context, recording_is_lost, server);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  braid_listener_stop (listener);
  while (g_main_context_iteration (context, FALSE))
    ;
}

/* ---- half-close ---- */

static void
test_lose_write_closes (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;
  BraidRecordingProtocol *server;
  BraidTransport *ct;

  g_test_summary ("TLS offers no half-close: lose_write_connection is lose_connection, so the data goes, then "
                  "close_notify, and nothing is read any more; both sides hear CONNECTION_DONE, and both "
                  "transports are freed once their protocols let go");
  if (skipped ())
    return;
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_listener_get_port (f->listener),
                              certificate->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (client));
  g_object_add_weak_pointer (G_OBJECT (ct), (gpointer *) &ct);
  braid_transport_write_string (ct, "last words");
  braid_transport_lose_write_connection (ct);
  g_assert_true (braid_transport_is_closing (ct));
  braid_transport_write_string (ct, "dropped");
  wait_until (is_lost, client);
  g_assert_error (client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  /* the echo server's answer is never read */
  g_assert_cmpuint (client->received->len, ==, 0);
  /* the server's side of the handshake may finish after the client's */
  while (f->servers->len == 0)
    g_main_context_iteration (NULL, TRUE);
  /* the server may have heard the close already and let go of its
   * transport: follow it through the weak pointer its protocol took */
  server = g_ptr_array_index (f->servers, 0);
  wait_until (is_lost, server);
  braid_assert_bytes_equal ("last words", 10, server->received->data, server->received->len);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  wait_for_no_connections (f);
  /* a protocol lets go of its transport when the connection is lost: no
   * reference is left anywhere else (the listener's registry, the
   * connector's) */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (server->made_transport);
  g_assert_null (ct);
}

/* ---- a protocol that aborts inside data_received ---- */

typedef struct {
  guint n_data;
  GError *lost_reason;
} AbortOnData;

static void
abort_on_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  ((AbortOnData *) user_data)->n_data++;
  braid_transport_abort_connection (braid_protocol_get_transport (protocol));
}

static void
note_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  ((AbortOnData *) user_data)->lost_reason = g_error_copy (reason);
}

static void
test_abort_inside_data_received (Fixture *f, gconstpointer data)
{
  static const BraidProtocolCallbacks callbacks = { .data_received = abort_on_data, .connection_lost = note_lost };
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  g_autofree guint8 *blob = g_malloc0 (1024 * 1024);
  AbortOnData server = { 0 };
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  g_test_summary ("A protocol that aborts inside its first data_received hears no more data, however much "
                  "the peer sent, and then CONNECTION_ABORTED");
  if (skipped ())
    return;
  factory = braid_callback_protocol_factory_new (&callbacks, &server, NULL);
  endpoint = g_strdup_printf ("tls:0:interface=127.0.0.1:certificate=%s:key=%s", certificate->certificate,
                              certificate->key);
  listener = braid_reactor_listen (f->reactor, endpoint, factory, &error);
  g_assert_no_error (error);
  g_clear_pointer (&endpoint, g_free);
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_listener_get_port (listener),
                              certificate->certificate);
  client = connect_to (f, endpoint, &error);
  g_assert_no_error (error);
  braid_transport_write (braid_protocol_get_transport (BRAID_PROTOCOL (client)), blob, 1024 * 1024);
  while (server.lost_reason == NULL || !is_lost (client))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (server.n_data, ==, 1);
  g_assert_error (server.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_ABORTED);
  g_clear_error (&server.lost_reason);
  braid_listener_stop (listener);
}

/* ---- the connect timeout ---- */

/* A listening socket whose accept queue is full and never drained: the
 * kernel drops further SYNs, so a connect to it can only time out. */
static GSocket *
full_listener (guint16 *port, GPtrArray *fillers)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  GSocket *listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_socket_set_listen_backlog (listener, 0);
  g_assert_true (g_socket_bind (listener, any_port, TRUE, &error));
  g_assert_true (g_socket_listen (listener, &error));
  bound = g_socket_get_local_address (listener, &error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  for (guint i = 0; i < 4; i++)
    {
      GSocket *filler = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

      g_socket_set_blocking (filler, FALSE);
      g_socket_connect (filler, bound, NULL, NULL);
      g_ptr_array_add (fillers, filler);
    }
  return listener;
}

/* Connects with timeout=@timeout to a port that never answers; returns
 * how long the TIMED_OUT took, in seconds. */
static gdouble
time_out_connect (Fixture *f, const gchar *timeout)
{
  g_autoptr(GPtrArray) fillers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;
  guint16 port;
  gint64 start;

  listener = full_listener (&port, fillers);
  endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s:timeout=%s", port, certificate->certificate, timeout);
  start = g_get_monotonic_time ();
  client = connect_to (f, endpoint, &error);
  g_assert_null (client);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT);
  assert_message_contains (error, "timed out");
  return (g_get_monotonic_time () - start) / 1e6;
}

static void
test_connect_timeout (Fixture *f, gconstpointer data)
{
  gdouble short_wait, rounded_wait;

  g_test_summary ("A tls: connect that gets no answer fails with TIMED_OUT after timeout=, in whole seconds "
                  "rounded to the nearest, at least one: 0.2 waits 1 s, 1.6 waits 2 s");
  if (skipped ())
    return;
  short_wait = time_out_connect (f, "0.2");
  rounded_wait = time_out_connect (f, "1.6");
  g_test_message ("timeout=0.2 took %.2f s, timeout=1.6 took %.2f s", short_wait, rounded_wait);
  g_assert_cmpfloat (short_wait, >=, 0.95);
  g_assert_cmpfloat (rounded_wait, >=, 1.95);
}

/* ---- the accept loop out of file descriptors ---- */

static guint pause_warnings;

static GLogWriterOutput
count_pause_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr (fields[i].value, "Not accepting TLS connections") != NULL)
      {
        pause_warnings++;
        return G_LOG_WRITER_HANDLED;
      }
  return g_log_writer_default (level, fields, n_fields, data);
}

static guint
count_open_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n - 1;  /* the directory's own fd */
}

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void
iterate_for (gint64 duration_us)
{
  gint64 end = g_get_monotonic_time () + duration_us;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static GSocket *
connect_blocking (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_connect (socket, address, NULL, &error);   /* completed by the kernel from the backlog */
  g_assert_no_error (error);
  return socket;
}

static void
test_emfile (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) fillers = g_array_new (FALSE, FALSE, sizeof (gint));
  struct rlimit saved, low;
  gdouble cpu_before, cpu_spent;
  const guint n_clients = 24;

  g_test_summary ("Out of file descriptors, the TLS listener pauses accepting instead of retrying at once: "
                  "little CPU, one warning, and the waiting connections are accepted once fds are free");
  if (skipped ())
    return;
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = count_open_fds () + n_clients + 8;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  for (guint i = 0; i < n_clients; i++)
    g_ptr_array_add (clients, connect_blocking (braid_listener_get_port (f->listener)));
  /* No fd left at all, so every accept fails.  (With a few left, an
   * accepted connection's handshake thread may need one more fd for its
   * cancellable, and GLib aborts when it cannot get one.) */
  for (gint fd; (fd = dup (0)) >= 0;)
    g_array_append_val (fillers, fd);
  g_assert_cmpint (errno, ==, EMFILE);

  pause_warnings = 0;
  cpu_before = cpu_seconds ();
  iterate_for (G_USEC_PER_SEC);
  cpu_spent = cpu_seconds () - cpu_before;
  g_test_message ("at EMFILE for 1 s: %.3f s of CPU, %u warnings, %u accepted", cpu_spent, pause_warnings,
                  braid_listener_get_n_connections (f->listener));
  g_assert_cmpuint (braid_listener_get_n_connections (f->listener), ==, 0);
  g_assert_cmpuint (pause_warnings, >=, 1);
  g_assert_cmpuint (pause_warnings, <=, 12);   /* at most one every 100 ms */
  g_assert_cmpfloat (cpu_spent, <, 0.5);

  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, gint, i));
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  iterate_for (G_USEC_PER_SEC / 2);
  g_assert_cmpuint (braid_listener_get_n_connections (f->listener), ==, n_clients);
  /* none of them ever handshakes */
  g_ptr_array_set_size (clients, 0);
  wait_for_no_connections (f);
  g_assert_cmpuint (f->servers->len, ==, 0);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  certificate = braid_test_certificate_new (&skip_reason);
  if (certificate != NULL)
    stranger = braid_test_certificate_new (&skip_reason);

  g_test_add ("/reactor/tls/hostname", Fixture, NULL, fixture_setup, test_hostname, fixture_teardown);
  g_test_add ("/reactor/tls/wrong-ca", Fixture, NULL, fixture_setup, test_wrong_ca, fixture_teardown);
  g_test_add ("/reactor/tls/missing-ca-file", Fixture, NULL, fixture_setup, test_missing_ca_file, fixture_teardown);
  g_test_add ("/reactor/tls/bad-certificate-file", Fixture, NULL, fixture_setup, test_bad_certificate_file,
              fixture_teardown);
  g_test_add ("/reactor/tls/plain-client", Fixture, NULL, fixture_setup, test_plain_client, fixture_teardown);
  g_test_add ("/reactor/tls/silent-client", Fixture, NULL, fixture_setup, test_silent_client, fixture_teardown);
  g_test_add ("/reactor/tls/reactor-disposed", Fixture, NULL, fixture_setup, test_reactor_disposed,
              fixture_teardown);
  g_test_add ("/reactor/tls/listen-interfaces", Fixture, NULL, fixture_setup, test_listen_interfaces,
              fixture_teardown);
  g_test_add ("/reactor/tls/listen-port-in-use", Fixture, NULL, fixture_setup, test_listen_port_in_use,
              fixture_teardown);
  g_test_add ("/reactor/tls/connect-refused", Fixture, NULL, fixture_setup, test_connect_refused, fixture_teardown);
  g_test_add ("/reactor/tls/connect-timeout", Fixture, NULL, fixture_setup, test_connect_timeout, fixture_teardown);
  g_test_add ("/reactor/tls/lose-write-closes", Fixture, NULL, fixture_setup, test_lose_write_closes,
              fixture_teardown);
  g_test_add ("/reactor/tls/emfile-pauses", Fixture, NULL, fixture_setup, test_emfile, fixture_teardown);
  g_test_add_func ("/reactor/tls/private-context", test_private_context);
  g_test_add ("/reactor/tls/abort-inside-data-received", Fixture, NULL, fixture_setup,
              test_abort_inside_data_received, fixture_teardown);
  g_log_set_writer_func (count_pause_warnings, NULL, NULL);

  status = g_test_run ();
  braid_test_certificate_free (certificate);
  braid_test_certificate_free (stranger);
  g_free (skip_reason);
  return braid_test_exit_after_tls (status);
}
