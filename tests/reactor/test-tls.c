/* braid — tls: endpoints on the GLib reactor: what the connection
 * contract (test-reactor-contract, /reactor/glib-tls/) does not cover.
 * Certificates, handshake failures and peers that never handshake. */
#include "test-support.h"

#include <stdio.h>
#include <unistd.h>
#include "glib-reactor.h"
#include "tls-transport-private.h"

#include <string.h>

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

  status = g_test_run ();
  braid_test_certificate_free (certificate);
  braid_test_certificate_free (stranger);
  g_free (skip_reason);
  return braid_test_exit_after_tls (status);
}
