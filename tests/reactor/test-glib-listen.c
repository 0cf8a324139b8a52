/* braid — what the real reactor listens on and how its connects fail: every interface, a named one,
 * "localhost", a port in use, a stale or foreign unix socket path, a
 * socket's mode.  (The contract tests cover listening on loopback on both
 * reactors; these are the real reactor's own cases.) */
#include "test-support.h"
#include "glib-reactor.h"
#include "reactor-pool.h"
#include "callback-protocol.h"

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static BraidListener *
listen_on (BraidGlibReactor *reactor, const gchar *endpoint, GError **error)
{
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, NULL);

  return braid_reactor_listen (BRAID_REACTOR (reactor), endpoint, factory, error);
}

static guint16
port_of (BraidListener *listener)
{
  GSocketAddress *address = braid_listener_get_address (listener);

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (address));
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

/* A blocking connect: the kernel completes it without the reactor. */
static gboolean
can_connect (GSocketAddress *address)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_client_set_enable_proxy (client, FALSE);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  return connection != NULL;
}

static gboolean
can_connect_to (const gchar *ip, guint16 port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);

  return can_connect (address);
}

static gboolean
has_ipv6_loopback (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) any = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (any, 0);

  return s != NULL && g_socket_bind (s, address, FALSE, NULL);
}

static void
test_every_interface (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  GInetAddress *bound;
  guint16 port;

  g_test_summary ("tcp:PORT with no interface listens on every interface: one IPv6 socket that "
                  "takes IPv4 too, or IPv4 alone; both loopbacks reach it");
  listener = listen_on (reactor, "tcp:0", &error);
  g_assert_no_error (error);
  port = port_of (listener);
  g_assert_cmpuint (port, >, 0);
  bound = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (braid_listener_get_address (listener)));
  g_assert_true (g_inet_address_get_is_any (bound));
  g_assert_true (can_connect_to ("127.0.0.1", port));
  if (has_ipv6_loopback ())
    {
      g_assert_cmpint (g_inet_address_get_family (bound), ==, G_SOCKET_FAMILY_IPV6);
      g_assert_true (can_connect_to ("::1", port));
    }
  braid_listener_stop (listener);
  g_assert_false (can_connect_to ("127.0.0.1", port));
}

static void
test_named_interfaces (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidListener) local = NULL;
  g_autoptr(BraidListener) bad = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *bound = NULL;

  g_test_summary ("interface=localhost is 127.0.0.1; an interface that is not an address is refused "
                  "with INVALID_ENDPOINT, naming it");
  local = listen_on (reactor, "tcp:0:interface=localhost", &error);
  g_assert_no_error (error);
  bound = g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (braid_listener_get_address (local))));
  g_assert_cmpstr (bound, ==, "127.0.0.1");
  g_assert_true (can_connect_to ("127.0.0.1", port_of (local)));

  bad = listen_on (reactor, "tcp:0:interface=eth0", &error);
  g_assert_null (bad);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT);
  g_assert_cmpstr (error->message, ==, "Interface “eth0” is not an IP address");
  braid_listener_stop (local);
}

static void
test_port_in_use (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidListener) first = NULL;
  g_autoptr(BraidListener) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("A port already listened on: LISTEN_FAILED, the message naming the endpoint");
  first = listen_on (reactor, "tcp:0:interface=127.0.0.1", &error);
  g_assert_no_error (error);
  endpoint = g_strdup_printf ("tcp:%u:interface=127.0.0.1", port_of (first));
  second = listen_on (reactor, endpoint, &error);
  g_assert_null (second);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "Cannot listen on “"));
  g_assert_nonnull (strstr (error->message, endpoint));
  /* the first is untouched */
  g_assert_true (can_connect_to ("127.0.0.1", port_of (first)));
  braid_listener_stop (first);
}

static gchar *
socket_path (const gchar *dir, const gchar *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
test_unix_paths (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("braid-listen-XXXXXX", &error);
  g_autofree gchar *stale = socket_path (dir, "stale.sock");
  g_autofree gchar *regular = socket_path (dir, "file");
  g_autofree gchar *endpoint = NULL;
  g_autofree gchar *over_file = NULL;
  g_autofree gchar *content = NULL;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (stale);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidListener) refused = NULL;
  struct stat st;

  g_test_summary ("unix:PATH replaces a socket file a previous run left, never another kind of file; "
                  "mode= sets the socket's permissions");
  g_assert_no_error (error);
  /* a socket file with nobody listening: what a killed daemon leaves */
  {
    g_autoptr(GSocket) old = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, &error);
    g_assert_true (g_socket_bind (old, address, FALSE, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (g_lstat (stale, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_false (can_connect (address));

  endpoint = g_strdup_printf ("unix:%s:mode=0600", stale);
  listener = listen_on (reactor, endpoint, &error);
  g_assert_no_error (error);
  g_assert_true (can_connect (address));
  g_assert_cmpuint (braid_listener_get_port (listener), ==, 0);   /* no port on a unix socket */
  g_assert_cmpint (g_stat (stale, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  braid_listener_stop (listener);

  g_assert_true (g_file_set_contents (regular, "keep me", -1, &error));
  over_file = g_strdup_printf ("unix:%s", regular);
  refused = listen_on (reactor, over_file, &error);
  g_assert_null (refused);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_assert_true (g_file_get_contents (regular, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "keep me");

  g_unlink (regular);
  g_unlink (stale);
  g_rmdir (dir);
}

/* ---- connecting ---- */

static BraidProtocol *
connect_to (BraidGlibReactor *reactor, const gchar *endpoint, BraidProtocolFactory *factory,
            GCancellable *cancellable, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  braid_reactor_connect_async (BRAID_REACTOR (reactor), endpoint, factory, cancellable, braid_test_store_result,
                               &result);
  braid_test_wait_for_result (NULL, &result, 10000);
  return braid_reactor_connect_finish (BRAID_REACTOR (reactor), result, error);
}

/* Runs the default context until nothing is pending for 100 ms. */
static void
drain_main_context (void)
{
  gint64 quiet_since = g_get_monotonic_time ();

  while (g_get_monotonic_time () - quiet_since < 100 * 1000)
    if (g_main_context_iteration (NULL, FALSE))
      quiet_since = g_get_monotonic_time ();
    else
      g_usleep (1000);
}

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
  /* a backlog of 0 still queues one; a few more to be sure it is full */
  for (guint i = 0; i < 4; i++)
    {
      GSocket *filler = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

      g_socket_set_blocking (filler, FALSE);
      g_socket_connect (filler, bound, NULL, NULL);   /* EINPROGRESS for the dropped ones */
      g_ptr_array_add (fillers, filler);
    }
  return listener;
}

static void
test_connect_timeout (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, NULL);
  g_autoptr(GPtrArray) fillers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  guint16 port;
  gint64 start;

  g_test_summary ("A connect that gets no answer fails with TIMED_OUT after the endpoint's timeout=");
  listener = full_listener (&port, fillers);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u:timeout=1", port);
  start = g_get_monotonic_time ();
  protocol = connect_to (reactor, endpoint, factory, NULL, &error);
  g_assert_null (protocol);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT);
  g_assert_true (g_str_has_prefix (error->message, "Connecting to “tcp:127.0.0.1:"));
  g_assert_true (g_str_has_suffix (error->message, "” timed out"));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC - 10000);
  drain_main_context ();
}

static void
test_connect_cancelled (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, NULL);
  g_autoptr(GPtrArray) fillers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  guint16 port;

  g_test_summary ("A connect cancelled while it waits fails with G_IO_ERROR_CANCELLED, not a timeout");
  listener = full_listener (&port, fillers);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u:timeout=5", port);
  braid_reactor_connect_async (BRAID_REACTOR (reactor), endpoint, factory, cancellable, braid_test_store_result,
                               &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable);
  braid_test_wait_for_result (NULL, &result, 10000);
  g_assert_null (braid_reactor_connect_finish (BRAID_REACTOR (reactor), result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* GSocketClient finishes its own attempt (and frees it) on a later turn */
  drain_main_context ();
}

static BraidProtocol *
refuse_every_connection (GSocketAddress *address, gpointer user_data)
{
  return NULL;
}

static void
test_factory_refuses (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidProtocolFactory) refusing = braid_protocol_factory_new (refuse_every_connection, NULL, NULL);
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;

  g_test_summary ("A client factory that builds no protocol fails the connect with CONNECTION_REFUSED");
  listener = listen_on (reactor, "tcp:0:interface=127.0.0.1", &error);
  g_assert_no_error (error);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", port_of (listener));
  protocol = connect_to (reactor, endpoint, refusing, NULL, &error);
  g_assert_null (protocol);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  g_assert_true (g_str_has_prefix (error->message, "The protocol factory refused the connection to “tcp:127.0.0.1:"));
  braid_listener_stop (listener);
}

/* What a factory was given, and the protocol it built. */
typedef struct {
  gboolean built;
  GSocketAddress *address;        /* (owned) (nullable) */
  BraidProtocol *protocol;        /* (owned) (nullable) */
} BuildRecord;

static BraidProtocol *
record_build (GSocketAddress *address, gpointer user_data)
{
  BuildRecord *record = user_data;

  record->built = TRUE;
  g_set_object (&record->address, address);
  record->protocol = BRAID_PROTOCOL (braid_recording_protocol_new ());
  return g_object_ref (record->protocol);
}

/* Connects a blocking client to @port, runs @reactor until @record's
 * factory built a protocol and returns the client's own address. */
static GSocketAddress *
connect_and_build (BraidGlibReactor *reactor, guint16 port, BuildRecord *record, GSocketConnection **connection)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) server = g_inet_socket_address_new (loopback, port);
  g_autoptr(GError) error = NULL;

  g_socket_client_set_enable_proxy (client, FALSE);
  *connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (server), NULL, &error);
  g_assert_no_error (error);
  braid_test_wait_for_flag (braid_glib_reactor_get_context (reactor), &record->built, 5000);
  return g_socket_connection_get_local_address (*connection, NULL);
}

static void
assert_same_inet_address (GSocketAddress *a, GSocketAddress *b)
{
  g_autofree gchar *a_ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (a)));
  g_autofree gchar *b_ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (b)));

  g_assert_cmpstr (a_ip, ==, b_ip);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a)), ==,
                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (b)));
}

static void
check_factory_address (gboolean ignores)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  BuildRecord record = { 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (record_build, &record, NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketAddress) client_address = NULL;
  g_autoptr(GError) error = NULL;
  BraidTransport *transport;
  GSocketAddress *peer;

  braid_protocol_factory_set_ignores_address (factory, ignores);
  g_assert_cmpint (braid_protocol_factory_get_ignores_address (factory), ==, ignores);
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  client_address = connect_and_build (reactor, port_of (listener), &record, &connection);

  if (ignores)
    g_assert_null (record.address);
  else
    assert_same_inet_address (record.address, client_address);
  transport = braid_protocol_get_transport (record.protocol);
  peer = braid_transport_get_peer_address (transport);
  g_assert_nonnull (peer);
  assert_same_inet_address (peer, client_address);
  g_assert_true (braid_transport_get_peer_address (transport) == peer);  /* built once */

  braid_listener_stop (listener);
  g_clear_object (&record.address);
  g_clear_object (&record.protocol);
}

static void
test_factory_address (void)
{
  g_test_summary ("An accepting factory gets the client's address; one that ignores addresses gets NULL, "
                  "and its protocol's transport still knows the peer (built when asked, once)");
  check_factory_address (FALSE);
  check_factory_address (TRUE);
}

static void
test_named_unix_peer (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  BuildRecord record = { 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (record_build, &record, NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("braid-peer-XXXXXX", &error);
  g_autofree gchar *server_path = g_build_filename (dir, "server.sock", NULL);
  g_autofree gchar *client_path = g_build_filename (dir, "a-client-socket-with-a-long-name.sock", NULL);
  g_autofree gchar *endpoint = g_strdup_printf ("unix:%s", server_path);
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GSocketAddress) client_address = g_unix_socket_address_new (client_path);
  g_autoptr(GSocketAddress) server_address = g_unix_socket_address_new (server_path);
  GSocketAddress *peer;

  g_test_summary ("A unix client bound to a path longer than an IP address: the factory and the transport get "
                  "that path as the peer");
  g_assert_no_error (error);
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), endpoint, factory, &error);
  g_assert_no_error (error);
  client = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_bind (client, client_address, FALSE, &error);
  g_assert_no_error (error);
  g_socket_connect (client, server_address, NULL, &error);
  g_assert_no_error (error);
  braid_test_wait_for_flag (braid_glib_reactor_get_context (reactor), &record.built, 5000);

  g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (record.address));
  g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (record.address)), ==, client_path);
  peer = braid_transport_get_peer_address (braid_protocol_get_transport (record.protocol));
  g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (peer));
  g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (peer)), ==, client_path);

  braid_listener_stop (listener);
  g_socket_close (client, NULL);
  g_clear_object (&record.address);
  g_clear_object (&record.protocol);
  g_unlink (client_path);
  g_unlink (server_path);
  g_rmdir (dir);
}

static void
test_factory_ignores_address_flag (void)
{
  g_autoptr(BraidProtocolFactory) by_func = braid_protocol_factory_new (refuse_every_connection, NULL, NULL);
  g_autoptr(BraidProtocolFactory) by_type = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);

  g_test_summary ("A factory built on a function reads addresses until told otherwise; one built for a "
                  "type never reads them; the flag is a boolean");
  g_assert_false (braid_protocol_factory_get_ignores_address (by_func));
  g_assert_true (braid_protocol_factory_get_ignores_address (by_type));
  braid_protocol_factory_set_ignores_address (by_func, 2);
  g_assert_cmpint (braid_protocol_factory_get_ignores_address (by_func), ==, TRUE);
  braid_protocol_factory_set_ignores_address (by_type, FALSE);
  g_assert_false (braid_protocol_factory_get_ignores_address (by_type));

  /* each refuses a NULL factory with its own check */
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*braid_protocol_factory_set_ignores_address*BRAID_IS_PROTOCOL_FACTORY*");
  braid_protocol_factory_set_ignores_address (NULL, TRUE);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*braid_protocol_factory_get_ignores_address*BRAID_IS_PROTOCOL_FACTORY*");
  g_assert_false (braid_protocol_factory_get_ignores_address (NULL));
  g_test_assert_expected_messages ();
}

static void
test_connect_null_endpoint (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (refuse_every_connection, NULL, NULL);

  g_test_summary ("connect_async refuses a NULL endpoint with its own check, before parsing");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*braid_reactor_connect_async*endpoint != NULL*");
  braid_reactor_connect_async (BRAID_REACTOR (reactor), NULL, factory, NULL, NULL, NULL);
  g_test_assert_expected_messages ();
}

static void
test_unix_stop_removes_socket (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("braid-listen-XXXXXX", &error);
  g_autofree gchar *path = socket_path (dir, "gone.sock");
  g_autofree gchar *endpoint = g_strdup_printf ("unix:%s", path);
  g_autoptr(BraidListener) listener = NULL;

  g_test_summary ("Stopping a unix: listener removes its socket file: nothing is left to connect to");
  g_assert_no_error (error);
  listener = listen_on (reactor, endpoint, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  braid_listener_stop (listener);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_unlink (path);
  g_rmdir (dir);
}

typedef struct {
  BraidTransport *transport;  /* (unowned): a weak pointer */
  gboolean lost;
} Outgoing;

static void
outgoing_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  Outgoing *outgoing = user_data;

  outgoing->transport = transport;
  g_object_add_weak_pointer (G_OBJECT (transport), (gpointer *) &outgoing->transport);
}

static void
outgoing_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  ((Outgoing *) user_data)->lost = TRUE;
}

static void
test_closed_connection_released (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  BraidProtocolCallbacks callbacks = { .connection_made = outgoing_made, .connection_lost = outgoing_lost };
  Outgoing outgoing = { NULL, FALSE };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, &outgoing, NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  BraidProtocol *protocol;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_test_summary ("An outgoing connection, once closed, is no longer held by its reactor: "
                  "a long-lived reactor does not keep every transport it ever connected");
  listener = listen_on (reactor, "tcp:0:interface=127.0.0.1", &error);
  g_assert_no_error (error);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", port_of (listener));
  protocol = connect_to (reactor, endpoint, factory, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (outgoing.transport);
  braid_transport_lose_connection (outgoing.transport);
  while (!outgoing.lost && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_true (outgoing.lost);
  g_object_unref (protocol);
  drain_main_context ();
  g_assert_null (outgoing.transport);
  braid_listener_stop (listener);
}

/* The environment systemd would give a process to which it passed @fd
 * (systemd numbers its sockets from fd 3) and the endpoint naming it. */
static gchar **
systemd_environment_for (gint fd, gchar **endpoint)
{
  gchar **env = g_new0 (gchar *, 3);

  *endpoint = g_strdup_printf ("systemd:%d", fd - 3);
  env[0] = g_strdup_printf ("LISTEN_PID=%d", (gint) getpid ());
  env[1] = g_strdup_printf ("LISTEN_FDS=%d", fd - 3 + 1);
  return env;
}

static void
test_systemd_socket (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocket) passed = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidListener) missing = NULL;
  g_autofree gchar *endpoint = NULL;
  g_autofree gchar *past_the_end = NULL;
  g_auto(GStrv) env = NULL;

  g_test_summary ("systemd:N listens on the socket systemd passed; one it did not pass fails with the "
                  "endpoint's own error, not wrapped in another");
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (passed, any_port, TRUE, &error));
  g_assert_true (g_socket_listen (passed, &error));
  bound = g_socket_get_local_address (passed, &error);
  g_assert_no_error (error);
  env = systemd_environment_for (g_socket_get_fd (passed), &endpoint);
  braid_glib_reactor_set_listen_environment (reactor, (const gchar * const *) env);

  listener = listen_on (reactor, endpoint, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (port_of (listener), ==, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_assert_true (can_connect (bound));
  braid_listener_stop (listener);

  past_the_end = g_strdup_printf ("systemd:%d", g_socket_get_fd (passed) - 3 + 1);
  missing = listen_on (reactor, past_the_end, &error);
  g_assert_null (missing);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "Endpoint “systemd:"));
}

/* ---- reactor threads ---- */

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* The names of this process's threads that start with @prefix, sorted. */
static GPtrArray *
threads_named (const gchar *prefix)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *tid;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree gchar *comm = NULL;

      if (!g_file_get_contents (path, &comm, NULL, NULL))
        continue;  /* a thread that ended meanwhile */
      g_strchomp (comm);
      if (g_str_has_prefix (comm, prefix))
        g_ptr_array_add (names, g_steal_pointer (&comm));
    }
  g_ptr_array_sort (names, compare_names);
  return names;
}

static void
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
}

static gboolean
never_called (gpointer data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

static void
test_pool_threads (void)
{
  BraidReactorPool *pool = braid_reactor_pool_new (2, "tpool");
  BraidGlibReactor *reactors[2];
  gboolean contexts_freed[2] = { FALSE, FALSE };
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) after = NULL;

  g_test_summary ("A reactor pool starts one named thread per reactor, each reactor ready on a context of "
                  "its own when the pool is returned; freeing it stops, joins and frees them all, contexts too");
  g_assert_cmpuint (braid_reactor_pool_get_size (pool), ==, 2);
  names = threads_named ("tpool-");
  g_assert_cmpuint (names->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "tpool-1");
  g_assert_cmpstr (g_ptr_array_index (names, 1), ==, "tpool-2");
  for (guint i = 0; i < 2; i++)
    {
      reactors[i] = braid_reactor_pool_get_reactor (pool, i);
      g_assert_nonnull (reactors[i]);
      g_assert_true (braid_glib_reactor_get_context (reactors[i]) != g_main_context_default ());
      g_object_add_weak_pointer (G_OBJECT (reactors[i]), (gpointer *) &reactors[i]);
    }
  g_assert_true (braid_glib_reactor_get_context (reactors[0]) != braid_glib_reactor_get_context (reactors[1]));
  /* A context's last unref destroys the sources still attached to it. */
  for (guint i = 0; i < 2; i++)
    {
      GSource *never_due = g_timeout_source_new_seconds (3600);

      g_source_set_callback (never_due, never_called, &contexts_freed[i], set_flag);
      g_source_attach (never_due, braid_glib_reactor_get_context (reactors[i]));
      g_source_unref (never_due);
    }

  braid_reactor_pool_free (pool);
  g_assert_null (reactors[0]);
  g_assert_null (reactors[1]);
  g_assert_true (contexts_freed[0]);
  g_assert_true (contexts_freed[1]);
  /* A joined thread may linger in /proc for a moment while the kernel
   * reaps it; one that was never stopped stays. */
  for (gint64 end = g_get_monotonic_time () + G_USEC_PER_SEC;; g_usleep (1000))
    {
      g_clear_pointer (&after, g_ptr_array_unref);
      after = threads_named ("tpool-");
      if (after->len == 0 || g_get_monotonic_time () > end)
        break;
    }
  g_assert_cmpuint (after->len, ==, 0);
}

static void
test_pool_at_least_one_thread (void)
{
  BraidReactorPool *none = braid_reactor_pool_new (0, "tnone");
  BraidReactorPool *one = braid_reactor_pool_new (1, "tone");

  g_test_summary ("A pool asked for 0 threads has 1; asked for 1, exactly 1; an index past the end is refused");
  g_assert_cmpuint (braid_reactor_pool_get_size (none), ==, 1);
  g_assert_cmpuint (braid_reactor_pool_get_size (one), ==, 1);
  g_assert_nonnull (braid_reactor_pool_get_reactor (none, 0));
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*index < pool->n_workers*");
  g_assert_null (braid_reactor_pool_get_reactor (one, 1));
  g_test_assert_expected_messages ();
  braid_reactor_pool_free (none);
  braid_reactor_pool_free (one);
}

typedef struct {
  GMutex lock;
  GPtrArray *contexts;  /* (element-type GMainContext) (unowned): where each connection was made */
} MadeWhere;

static void
record_context (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  MadeWhere *where = user_data;

  g_mutex_lock (&where->lock);
  g_ptr_array_add (where->contexts, g_main_context_get_thread_default ());
  g_mutex_unlock (&where->lock);
}

static guint
n_made (MadeWhere *where)
{
  g_mutex_lock (&where->lock);
  guint n = where->contexts->len;
  g_mutex_unlock (&where->lock);
  return n;
}

static GSocket *
blocking_client (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_connect (socket, address, NULL, &error);   /* the kernel completes it from the backlog */
  g_assert_no_error (error);
  return socket;
}

static void
test_pool_round_robin (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  BraidReactorPool *pool = braid_reactor_pool_new (2, "trr");
  BraidProtocolCallbacks callbacks = { .connection_made = record_context };
  MadeWhere where = { .contexts = g_ptr_array_new () };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, &where, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_test_summary ("A listener distributed over a pool hands its connections to the pool's threads in turn");
  g_mutex_init (&where.lock);
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  g_assert_true (braid_glib_listener_distribute (listener, pool));
  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (clients, blocking_client (braid_listener_get_port (listener)));
  while (n_made (&where) < 4 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);

  g_assert_cmpuint (n_made (&where), ==, 4);
  /* The two threads record in either order: count, per thread. */
  for (guint worker = 0; worker < 2; worker++)
    {
      GMainContext *context = braid_glib_reactor_get_context (braid_reactor_pool_get_reactor (pool, worker));
      guint n = 0;

      for (guint i = 0; i < 4; i++)
        n += g_ptr_array_index (where.contexts, i) == context;
      g_assert_cmpuint (n, ==, 2);
    }
  braid_listener_stop (listener);
  g_ptr_array_set_size (clients, 0);
  braid_reactor_pool_free (pool);
  g_ptr_array_unref (where.contexts);
  g_mutex_clear (&where.lock);
}

/* ---- the base class, under a subclass that overrides only stop ---- */

#define TEST_TYPE_BARE_LISTENER (test_bare_listener_get_type ())
G_DECLARE_FINAL_TYPE (TestBareListener, test_bare_listener, TEST, BARE_LISTENER, BraidListener)

struct _TestBareListener
{
  BraidListener parent_instance;
  guint *n_stops;          /* (unowned): counts stop calls, may outlive us */
};

G_DEFINE_FINAL_TYPE (TestBareListener, test_bare_listener, BRAID_TYPE_LISTENER)

static void
bare_listener_stop (BraidListener *listener)
{
  (*TEST_BARE_LISTENER (listener)->n_stops)++;
}

static void
test_bare_listener_class_init (TestBareListenerClass *klass)
{
  BRAID_LISTENER_CLASS (klass)->stop = bare_listener_stop;
}

static void
test_bare_listener_init (TestBareListener *self)
{
}

static TestBareListener *
bare_listener_new (guint *n_stops)
{
  TestBareListener *self = g_object_new (TEST_TYPE_BARE_LISTENER, NULL);

  self->n_stops = n_stops;
  return self;
}

static void
test_listener_base_stop (void)
{
  guint n_stops = 0;
  TestBareListener *dropped = bare_listener_new (&n_stops);
  g_autoptr(TestBareListener) stopped = NULL;

  g_test_summary ("The listener base class stops a listener once: on its last unref if never stopped, "
                  "never twice; mark_stopped says whether it was listening");
  g_assert_true (braid_listener_is_listening (BRAID_LISTENER (dropped)));
  g_object_unref (dropped);
  g_assert_cmpuint (n_stops, ==, 1);

  n_stops = 0;
  stopped = bare_listener_new (&n_stops);
  braid_listener_stop (BRAID_LISTENER (stopped));
  g_assert_cmpuint (n_stops, ==, 1);
  g_assert_false (braid_listener_is_listening (BRAID_LISTENER (stopped)));
  braid_listener_stop (BRAID_LISTENER (stopped));
  g_clear_object (&stopped);
  g_assert_cmpuint (n_stops, ==, 1);

  stopped = bare_listener_new (&n_stops);
  g_assert_true (braid_listener_mark_stopped (BRAID_LISTENER (stopped)));
  g_assert_false (braid_listener_mark_stopped (BRAID_LISTENER (stopped)));
  g_assert_false (braid_listener_is_listening (BRAID_LISTENER (stopped)));
  /* marked stopped by the subclass: the base class does not stop it again */
  braid_listener_stop (BRAID_LISTENER (stopped));
  g_clear_object (&stopped);
  g_assert_cmpuint (n_stops, ==, 1);
}

static void
test_listener_base_queries (void)
{
  guint n_stops = 0;
  g_autoptr(TestBareListener) bare = bare_listener_new (&n_stops);

  g_test_summary ("A listener class without get_address or get_n_connections has no address, port 0 and "
                  "no connections");
  g_assert_null (braid_listener_get_address (BRAID_LISTENER (bare)));
  g_assert_cmpuint (braid_listener_get_port (BRAID_LISTENER (bare)), ==, 0);
  g_assert_cmpuint (braid_listener_get_n_connections (BRAID_LISTENER (bare)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reactor/glib/listen/every-interface", test_every_interface);
  g_test_add_func ("/reactor/glib/listen/named-interfaces", test_named_interfaces);
  g_test_add_func ("/reactor/glib/listen/port-in-use", test_port_in_use);
  g_test_add_func ("/reactor/glib/listen/unix-paths", test_unix_paths);
  g_test_add_func ("/reactor/glib/connect/timeout", test_connect_timeout);
  g_test_add_func ("/reactor/glib/connect/cancelled", test_connect_cancelled);
  g_test_add_func ("/reactor/glib/connect/factory-refuses", test_factory_refuses);
  g_test_add_func ("/reactor/glib/listen/factory-address", test_factory_address);
  g_test_add_func ("/reactor/glib/listen/named-unix-peer", test_named_unix_peer);
  g_test_add_func ("/reactor/factory/ignores-address", test_factory_ignores_address_flag);
  g_test_add_func ("/reactor/glib/connect/null-endpoint", test_connect_null_endpoint);
  g_test_add_func ("/reactor/glib/listen/unix-stop-removes-socket", test_unix_stop_removes_socket);
  g_test_add_func ("/reactor/glib/connect/closed-connection-released", test_closed_connection_released);
  g_test_add_func ("/reactor/glib/listen/systemd-socket", test_systemd_socket);
  g_test_add_func ("/reactor/glib/pool/threads", test_pool_threads);
  g_test_add_func ("/reactor/glib/pool/at-least-one-thread", test_pool_at_least_one_thread);
  g_test_add_func ("/reactor/glib/pool/round-robin", test_pool_round_robin);
  g_test_add_func ("/reactor/listener/base-stop", test_listener_base_stop);
  g_test_add_func ("/reactor/listener/base-queries", test_listener_base_queries);
  return g_test_run ();
}
