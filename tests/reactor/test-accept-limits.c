/* braid — the GLib reactor's accept loop at the file descriptor limit:
 * out of fds it pauses instead of spinning, says so once, and accepts the
 * waiting connections when fds are free again.  And what a connection's
 * first bytes cost: they are read with the accept, when already there. */
#include "test-support.h"
#include "glib-reactor-private.h"
#include "callback-protocol.h"

#include <dirent.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>

static guint warnings_logged;

static GLogWriterOutput
count_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        strstr (fields[i].value, "Not accepting connections") != NULL)
      {
        warnings_logged++;
        return G_LOG_WRITER_HANDLED;
      }
  return g_log_writer_default (level, fields, n_fields, data);
}

static guint
count_open_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  guint n = 0;

  g_assert_nonnull (dir);
  while (readdir (dir) != NULL)
    n++;
  closedir (dir);
  return n - 3;  /* ".", ".." and the directory itself */
}

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void
iterate_for (GMainContext *context, gint64 duration_us)
{
  gint64 end = g_get_monotonic_time () + duration_us;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (context, FALSE) || (g_usleep (1000), TRUE);
}

static GSocket *
connect_client (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  /* the kernel completes the handshake from the backlog */
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  return socket;
}

static void
test_emfile (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  BraidProtocolCallbacks callbacks = { 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  struct rlimit saved, low;
  gdouble cpu_before, cpu_spent;
  const guint n_clients = 24;

  g_test_summary ("Out of file descriptors, the listener pauses accepting instead of retrying at once: "
                  "little CPU, one warning, and the waiting connections are accepted once fds are free");
  g_test_bug ("11");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);

  /* Room for the clients and a few accepted connections, not all of them. */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = count_open_fds () + n_clients + 6;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  for (guint i = 0; i < n_clients; i++)
    g_ptr_array_add (clients, connect_client (braid_listener_get_port (listener)));

  warnings_logged = 0;
  cpu_before = cpu_seconds ();
  iterate_for (context, G_USEC_PER_SEC);
  cpu_spent = cpu_seconds () - cpu_before;
  g_test_message ("at EMFILE for 1 s: %.3f s of CPU, %u warnings, %" G_GUINT64_FORMAT " pauses, %u accepted",
                  cpu_spent, warnings_logged, braid_glib_listener_get_n_accept_pauses (listener),
                  braid_listener_get_n_connections (listener));
  g_assert_cmpuint (braid_glib_listener_get_n_accept_pauses (listener), >=, 1);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), <, n_clients);
  g_assert_cmpuint (warnings_logged, ==, 1);
  /* paused, not spinning: at most a pause every 100 ms */
  g_assert_cmpuint (braid_glib_listener_get_n_accept_pauses (listener), <=, 12);
  g_assert_cmpfloat (cpu_spent, <, 0.5);

  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  iterate_for (context, G_USEC_PER_SEC / 2);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, n_clients);
  braid_listener_stop (listener);
  g_ptr_array_set_size (clients, 0);
  iterate_for (context, G_USEC_PER_SEC / 10);
}

static void
test_default_backlog (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  BraidProtocolCallbacks callbacks = { 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);

  g_test_summary ("The listen backlog is 1024 by default: 500 connects complete before the reactor "
                  "accepts any (GLib's default of 10 would leave most in SYN retransmits)");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 500; i++)
    {
      g_autoptr(GError) connect_error = NULL;
      g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, braid_listener_get_port (listener));
      GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);

      g_socket_set_blocking (socket, FALSE);
      g_socket_connect (socket, address, NULL, &connect_error);
      g_ptr_array_add (clients, socket);
    }
  /* every handshake done by the kernel from the backlog, without us */
  for (guint i = 0; i < clients->len; i++)
    g_assert_true (g_socket_condition_timed_wait (g_ptr_array_index (clients, i), G_IO_OUT, 0, NULL, NULL));
  iterate_for (braid_glib_reactor_get_context (reactor), G_USEC_PER_SEC / 2);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, 500);
  braid_listener_stop (listener);
}

/* ---- the first bytes, read with the accept ---- */

typedef struct {
  gboolean made, lost;
  gsize received;
} FirstBytes;

static void
note_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  ((FirstBytes *) user_data)->made = TRUE;
}

static void
answer_and_close (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  BraidTransport *transport = braid_protocol_get_transport (protocol);

  ((FirstBytes *) user_data)->received += len;
  braid_transport_write (transport, "ok\n", 3);
  braid_transport_lose_connection (transport);
}

static void
note_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  ((FirstBytes *) user_data)->lost = TRUE;
}

/* A blocking client of the unix socket at @path. */
static GSocket *
unix_client (const gchar *path)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  return socket;
}

static void
assert_answered (GMainContext *context, GSocket *client, FirstBytes *seen)
{
  gchar buffer[16];
  gssize n;

  while (!seen->lost)
    g_main_context_iteration (context, TRUE);
  n = g_socket_receive (client, buffer, sizeof buffer, NULL, NULL);
  g_assert_cmpint (n, ==, 3);
  g_assert_cmpmem (buffer, 3, "ok\n", 3);
  g_assert_cmpint (g_socket_receive (client, buffer, sizeof buffer, NULL, NULL), ==, 0);
}

static void
test_first_bytes_read_with_accept (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  g_autofree gchar *dir = g_dir_make_tmp ("braid-accept-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "s", NULL);
  g_autofree gchar *endpoint = g_strconcat ("unix:", path, NULL);
  FirstBytes early = { 0 }, late = { 0 };
  BraidProtocolCallbacks callbacks = { .connection_made = note_made, .data_received = answer_and_close,
                                       .connection_lost = note_lost };
  g_autoptr(BraidProtocolFactory) early_factory = braid_callback_protocol_factory_new (&callbacks, &early, NULL);
  g_autoptr(BraidProtocolFactory) late_factory = braid_callback_protocol_factory_new (&callbacks, &late, NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A connection whose first bytes arrived before it was accepted gets them in the same "
                  "iteration as connection_made (no wait for the poller); one that sent nothing yet is "
                  "read when it does; a protocol that closes while reading hears connection_lost when "
                  "that read is over, in the same iteration");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), endpoint, early_factory, &error);
  g_assert_no_error (error);
  client = unix_client (path);
  /* a unix socket queues them at the peer before send returns */
  g_assert_cmpint (g_socket_send (client, "line\n", 5, NULL, &error), ==, 5);
  g_main_context_iteration (context, TRUE);
  g_assert_true (early.made);
  g_assert_cmpuint (early.received, ==, 5);
  /* closed during that read: told when the read is over, not an
   * iteration later */
  g_assert_true (early.lost);
  assert_answered (context, client, &early);
  braid_listener_stop (listener);
  g_clear_object (&listener);
  g_clear_object (&client);

  listener = braid_reactor_listen (BRAID_REACTOR (reactor), endpoint, late_factory, &error);
  g_assert_no_error (error);
  client = unix_client (path);
  g_main_context_iteration (context, TRUE);
  g_assert_true (late.made);
  g_assert_cmpuint (late.received, ==, 0);
  g_assert_cmpint (g_socket_send (client, "line\n", 5, NULL, &error), ==, 5);
  g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (late.received, ==, 5);
  g_assert_true (late.lost);
  assert_answered (context, client, &late);
  braid_listener_stop (listener);
  g_rmdir (dir);
}

typedef struct {
  BraidReactor *reactor;
  gboolean answered, lost;
} LaterAnswer;

static void
answer_now (gpointer data)
{
  BraidProtocol *protocol = data;
  LaterAnswer *state = braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (protocol));
  BraidTransport *transport = braid_protocol_get_transport (protocol);

  braid_transport_write (transport, "ok\n", 3);
  braid_transport_lose_connection (transport);
  state->answered = TRUE;
}

static void
answer_later (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  LaterAnswer *state = user_data;

  braid_delayed_call_unref (braid_reactor_call_later (state->reactor, 0, answer_now, g_object_ref (protocol),
                                                     g_object_unref));
}

static void
note_later_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  ((LaterAnswer *) user_data)->lost = TRUE;
}

static void
test_lost_after_deferred_flush (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  g_autofree gchar *dir = g_dir_make_tmp ("braid-accept-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "s", NULL);
  g_autofree gchar *endpoint = g_strconcat ("unix:", path, NULL);
  LaterAnswer state = { BRAID_REACTOR (reactor), FALSE, FALSE };
  BraidProtocolCallbacks callbacks = { .data_received = answer_later, .connection_lost = note_later_lost };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, &state, NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GError) error = NULL;
  gchar buffer[16];

  g_test_summary ("A reply written and closed from a timer leaves at the end of that iteration, and the "
                  "protocol hears connection_lost then, not an iteration later");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), endpoint, factory, &error);
  g_assert_no_error (error);
  client = unix_client (path);
  g_assert_cmpint (g_socket_send (client, "line\n", 5, NULL, &error), ==, 5);
  while (!state.answered)
    g_main_context_iteration (context, TRUE);
  g_assert_true (state.lost);
  g_assert_cmpint (g_socket_receive (client, buffer, sizeof buffer, NULL, NULL), ==, 3);
  braid_listener_stop (listener);
  g_rmdir (dir);
}

/* ---- the peer's address ---- */

static BraidProtocol *
record_peer (GSocketAddress *address, gpointer user_data)
{
  static const BraidProtocolCallbacks none = { 0 };

  g_ptr_array_add (user_data, g_object_ref (address));
  return BRAID_PROTOCOL (braid_callback_protocol_new (&none, NULL, NULL));
}

static void
test_peer_addresses (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (record_peer, peers, NULL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  const gchar *hosts[] = { "127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.1" };

  g_test_summary ("Each accepted connection's factory hears its peer's own address and port");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0", factory, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) server = g_inet_socket_address_new (loopback, braid_listener_get_port (listener));
      g_autoptr(GInetAddress) from = g_inet_address_new_from_string (hosts[i]);
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new (from, 0);
      GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

      g_assert_no_error (error);
      g_socket_bind (socket, local, FALSE, &error);
      g_assert_no_error (error);
      g_socket_connect (socket, server, NULL, &error);
      g_assert_no_error (error);
      g_ptr_array_add (clients, socket);
      while (peers->len < i + 1)
        g_main_context_iteration (context, TRUE);
    }
  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      GInetSocketAddress *peer = g_ptr_array_index (peers, i);
      g_autoptr(GSocketAddress) client = g_socket_get_local_address (g_ptr_array_index (clients, i), &error);
      g_autofree gchar *ip = g_inet_address_to_string (g_inet_socket_address_get_address (peer));

      g_assert_no_error (error);
      g_assert_cmpstr (ip, ==, hosts[i]);
      g_assert_cmpuint (g_inet_socket_address_get_port (peer), ==,
                        g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (client)));
    }
  braid_listener_stop (listener);
}

static void
test_accepts_all_waiting_in_one_wakeup (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (context);
  BraidProtocolCallbacks callbacks = { 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  const guint n_clients = 5;

  g_test_summary ("One wakeup of the listening socket accepts every connection waiting in the backlog, "
                  "not one per main-loop iteration");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n_clients; i++)
    g_ptr_array_add (clients, connect_client (braid_listener_get_port (listener)));

  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, n_clients);
  braid_listener_stop (listener);
  g_ptr_array_set_size (clients, 0);
  iterate_for (context, G_USEC_PER_SEC / 10);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("issue #");
  g_log_set_writer_func (count_warnings, NULL, NULL);
  g_test_add_func ("/reactor/glib/accept/emfile-pauses", test_emfile);
  g_test_add_func ("/reactor/glib/accept/default-backlog", test_default_backlog);
  g_test_add_func ("/reactor/glib/accept/first-bytes-read-with-accept", test_first_bytes_read_with_accept);
  g_test_add_func ("/reactor/glib/accept/lost-after-deferred-flush", test_lost_after_deferred_flush);
  g_test_add_func ("/reactor/glib/accept/peer-addresses", test_peer_addresses);
  g_test_add_func ("/reactor/glib/accept/all-waiting-in-one-wakeup", test_accepts_all_waiting_in_one_wakeup);
  return g_test_run ();
}
