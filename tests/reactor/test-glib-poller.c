/* braid — the GLib reactor's poller: what the main context polls does not
 * grow with the number of connections, and a socket that has nothing to
 * say costs nothing per iteration. */
#include "test-support.h"
#include "glib-reactor-private.h"
#include "callback-protocol.h"
#include "poller-private.h"

#include <sys/resource.h>
#include <sys/socket.h>

static void
count_connection (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
echo (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  braid_transport_write (braid_protocol_get_transport (protocol), data, len);
}

static GSocket *
connect_nonblocking (guint16 port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);

  g_assert_nonnull (socket);
  g_socket_set_blocking (socket, FALSE);
  g_socket_connect (socket, address, NULL, NULL);  /* EINPROGRESS */
  return socket;
}

/* How many fds the context would poll in its next iteration. */
static gint
count_polled_fds (GMainContext *context)
{
  GPollFD fds[64];
  gint priority, timeout, n;

  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &priority);
  n = g_main_context_query (context, priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_main_context_check (context, priority, fds, MIN (n, (gint) G_N_ELEMENTS (fds)));
  g_main_context_release (context);
  return n;
}

static void
test_polled_fds_do_not_grow (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  guint made = 0;
  BraidProtocolCallbacks callbacks = { .connection_made = count_connection, .data_received = echo };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, &made, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  const guint n_clients = 500;
  gint idle_fds, busy_fds;
  gchar reply[8];
  gint64 deadline;

  g_test_summary ("With 500 connections open the main context polls as few fds as with none: one "
                  "epoll fd stands for all of them, so an iteration costs what is ready");
  g_test_bug ("13");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  idle_fds = count_polled_fds (context);

  for (guint i = 0; i < n_clients; i++)
    g_ptr_array_add (clients, connect_nonblocking (braid_listener_get_port (listener)));
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (made < n_clients && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (made, ==, n_clients);

  busy_fds = count_polled_fds (context);
  g_test_message ("fds polled: %d with no connection, %d with %u", idle_fds, busy_fds, n_clients);
  g_assert_cmpint (busy_fds, ==, idle_fds);

  /* and the last of them is served */
  g_assert_cmpint (g_socket_send (g_ptr_array_index (clients, n_clients - 1), "ping", 4, NULL, NULL), ==, 4);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_socket_receive (g_ptr_array_index (clients, n_clients - 1), reply, sizeof reply, NULL, NULL) < 0 &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, FALSE);
  g_assert_cmpmem (reply, 4, "ping", 4);
  braid_listener_stop (listener);
}

static void
pause_after_first_bytes (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  BraidTransport *transport = braid_protocol_get_transport (protocol);

  braid_transport_pause_reading (transport);
  *(BraidTransport **) user_data = transport;
}

static void
test_paused_reader_of_closed_peer_is_quiet (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  BraidTransport *accepted = NULL;
  BraidProtocolCallbacks callbacks = { .data_received = pause_after_first_bytes };
  g_autoptr(BraidProtocolFactory) factory = braid_callback_protocol_factory_new (&callbacks, &accepted, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GSocket) client = NULL;
  gint64 deadline;
  guint busy_iterations = 0;

  g_test_summary ("A connection that paused reading and whose peer then reset it is not reported "
                  "over and over (epoll tells HUP and ERR unasked): the loop sleeps");
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  client = connect_nonblocking (braid_listener_get_port (listener));
  g_assert_true (g_socket_condition_timed_wait (client, G_IO_OUT, G_USEC_PER_SEC, NULL, NULL));
  g_assert_cmpint (g_socket_send (client, "x", 1, NULL, NULL), ==, 1);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (accepted == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_nonnull (accepted);

  /* a reset, not a FIN: linger 0 */
  {
    struct linger linger = { 1, 0 };

    setsockopt (g_socket_get_fd (client), SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
  }
  g_socket_close (client, NULL);

  deadline = g_get_monotonic_time () + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time () < deadline)
    if (g_main_context_iteration (context, FALSE))
      busy_iterations++;
    else
      g_usleep (1000);
  g_test_message ("iterations that dispatched something in 200 ms: %u", busy_iterations);
  g_assert_cmpuint (busy_iterations, <, 10);
  braid_transport_abort_connection (accepted);
  braid_listener_stop (listener);
  while (g_main_context_iteration (context, FALSE))
    ;
}

static gint64
zero_clock (gpointer data)
{
  return 0;
}

static void
note_ready (gpointer user_data, GIOCondition ready)
{
  *(GIOCondition *) user_data |= ready;
}

/* A watch removed while its event is ready but not yet dispatched, then
 * its fd closed: nothing lingers.  The next socket given the same fd
 * number is watched and heard from, and the removed watch is never
 * called. */
static void
test_forgotten_watch_then_close (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  BraidTimerQueue *timers = braid_timer_queue_new (zero_clock, NULL);
  BraidPoller *poller = braid_poller_new (context, timers);
  GIOCondition first = 0, second = 0;
  int a[2], b[2];
  BraidPollerWatch *watch;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), ==, 0);
  watch = braid_poller_watch_fd (poller, a[0], G_IO_IN, note_ready, &first);
  g_assert_cmpint (write (a[1], "x", 1), ==, 1);   /* ready, not yet dispatched */
  braid_poller_watch_remove (watch);
  close (a[0]);
  close (a[1]);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), ==, 0);
  g_assert_cmpint (b[0], ==, a[0]);   /* the number is reused */
  watch = braid_poller_watch_fd (poller, b[0], G_IO_IN, note_ready, &second);
  g_assert_cmpint (write (b[1], "y", 1), ==, 1);
  for (guint i = 0; i < 100 && second == 0; i++)
    g_main_context_iteration (context, FALSE);
  g_assert_true (second & G_IO_IN);
  g_assert_cmpint (first, ==, 0);

  braid_poller_watch_remove (watch);
  close (b[0]);
  close (b[1]);
  braid_poller_free (poller);
  braid_timer_queue_free (timers);
}

/* ---- what a new connection's protocol writes elsewhere leaves with
 * the accept ---- */

typedef struct {
  guint made;
  BraidProtocol *relay;   /* (unowned): the connection written to */
} Relay;

static void
write_to_relay (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  Relay *relay = user_data;

  relay->made++;
  braid_transport_write_string (braid_protocol_get_transport (relay->relay), "hello");
}

static void
test_accept_flushes_deferred_writes (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  GMainContext *context = braid_glib_reactor_get_context (reactor);
  g_autoptr(GSocket) upstream = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                              NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocket) upstream_side = NULL;
  g_autoptr(GSocket) client = NULL;
  g_autoptr(BraidProtocolFactory) relay_factory = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  BraidProtocolCallbacks plain = { 0 };
  BraidProtocolCallbacks callbacks = { .connection_made = write_to_relay };
  Relay relay = { 0 };
  gchar buffer[16];
  gssize n;

  g_test_summary ("What a protocol writes to another connection while its own connection is being accepted (a "
                  "proxy's request to memcached) leaves at the end of the accept's dispatch, not one main-loop "
                  "iteration later");
  /* the other connection: the reactor's, to a plain socket of the test's */
  g_assert_true (g_socket_bind (upstream, any_port, TRUE, NULL) && g_socket_listen (upstream, NULL));
  bound = g_socket_get_local_address (upstream, NULL);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  relay_factory = braid_callback_protocol_factory_new (&plain, NULL, NULL);
  braid_reactor_connect_async (BRAID_REACTOR (reactor), endpoint, relay_factory, NULL, braid_test_store_result,
                               &connected);
  while (connected == NULL)
    g_main_context_iteration (context, TRUE);
  relay.relay = braid_reactor_connect_finish (BRAID_REACTOR (reactor), connected, &error);
  g_assert_no_error (error);
  upstream_side = g_socket_accept (upstream, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (upstream_side, FALSE);

  factory = braid_callback_protocol_factory_new (&callbacks, &relay, NULL);
  listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  client = connect_nonblocking (g_inet_socket_address_get_port (
    G_INET_SOCKET_ADDRESS (braid_listener_get_address (listener))));
  while (relay.made == 0)
    g_main_context_iteration (context, TRUE);
  /* no further iteration: the write has left already */
  n = g_socket_receive (upstream_side, buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpmem (buffer, 5, "hello", 5);

  braid_listener_stop (listener);
  braid_transport_lose_connection (braid_protocol_get_transport (relay.relay));
  g_object_unref (relay.relay);
  while (g_main_context_iteration (context, FALSE))
    ;
}

typedef struct {
  guint runs;
  guint refs;
  guint unrefs;
} DeferCount;

static void
count_run (gpointer data)
{
  ((DeferCount *) data)->runs++;
}

static gpointer
count_ref (gpointer data)
{
  ((DeferCount *) data)->refs++;
  return data;
}

static void
count_unref (gpointer data)
{
  ((DeferCount *) data)->unrefs++;
}

static void
test_free_releases_deferred (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  BraidTimerQueue *timers = braid_timer_queue_new (NULL, NULL);
  BraidPoller *poller = braid_poller_new (context, timers);
  DeferCount counted = { 0 }, plain = { 0 };

  g_test_summary ("A poller freed with calls still deferred runs none of them and drops each reference it "
                  "took, once; a call deferred without ref and unref is only forgotten");
  braid_poller_defer (poller, count_run, &counted, count_ref, count_unref);
  braid_poller_defer (poller, count_run, &plain, NULL, NULL);
  g_assert_cmpuint (counted.refs, ==, 1);
  braid_poller_free (poller);
  g_assert_cmpuint (counted.runs, ==, 0);
  g_assert_cmpuint (counted.unrefs, ==, 1);
  g_assert_cmpuint (plain.runs, ==, 0);
  braid_timer_queue_free (timers);
}

static void
ignore_ready (gpointer data, GIOCondition ready)
{
}

static void
remove_watch_deferred (gpointer data)
{
  BraidPollerWatch **watch = data;

  braid_poller_watch_remove (g_steal_pointer (watch));
}

static void
test_removed_watches_freed_after_dispatch (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  BraidTimerQueue *timers = braid_timer_queue_new (NULL, NULL);
  BraidPoller *poller = braid_poller_new (context, timers);
  int fds[2];
  BraidPollerWatch *inside, *outside;

  g_test_summary ("A watch removed inside run_deferred is held until that run ends, then freed; once it "
                  "has ended, a removal frees at once");
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), ==, 0);
  inside = braid_poller_watch_fd (poller, fds[0], G_IO_IN, ignore_ready, NULL);
  outside = braid_poller_watch_fd (poller, fds[1], G_IO_IN, ignore_ready, NULL);
  braid_poller_defer (poller, remove_watch_deferred, &inside, NULL, NULL);
  braid_poller_run_deferred (poller);
  g_assert_null (inside);
  g_assert_cmpuint (braid_poller_get_n_removed_held (poller), ==, 0);
  braid_poller_watch_remove (outside);
  g_assert_cmpuint (braid_poller_get_n_removed_held (poller), ==, 0);
  /* the same from the poller's own dispatch, run by the context */
  inside = braid_poller_watch_fd (poller, fds[0], G_IO_IN, ignore_ready, NULL);
  braid_poller_defer (poller, remove_watch_deferred, &inside, NULL, NULL);
  while (inside != NULL)
    g_main_context_iteration (context, FALSE);
  g_assert_cmpuint (braid_poller_get_n_removed_held (poller), ==, 0);
  outside = braid_poller_watch_fd (poller, fds[1], G_IO_IN, ignore_ready, NULL);
  braid_poller_watch_remove (outside);
  g_assert_cmpuint (braid_poller_get_n_removed_held (poller), ==, 0);
  braid_poller_free (poller);
  braid_timer_queue_free (timers);
  close (fds[0]);
  close (fds[1]);
}

static void
test_watch_events (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  BraidTimerQueue *timers = braid_timer_queue_new (NULL, NULL);
  BraidPoller *poller = braid_poller_new (context, timers);
  int fds[2];
  BraidPollerWatch *watch;

  g_test_summary ("A watch reports the interest it was last given, reading and writing only (HUP and ERR "
                  "come unasked)");
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), ==, 0);
  watch = braid_poller_watch_fd (poller, fds[0], G_IO_IN, ignore_ready, NULL);
  g_assert_cmpint (braid_poller_watch_get_events (watch), ==, G_IO_IN);
  braid_poller_watch_set_events (watch, G_IO_IN | G_IO_OUT | G_IO_HUP);
  g_assert_cmpint (braid_poller_watch_get_events (watch), ==, G_IO_IN | G_IO_OUT);
  braid_poller_watch_set_events (watch, 0);
  g_assert_cmpint (braid_poller_watch_get_events (watch), ==, 0);
  braid_poller_watch_set_events (watch, G_IO_OUT);
  g_assert_cmpint (braid_poller_watch_get_events (watch), ==, G_IO_OUT);
  braid_poller_watch_remove (watch);
  braid_poller_free (poller);
  braid_timer_queue_free (timers);
  close (fds[0]);
  close (fds[1]);
}

int
main (int argc, char **argv)
{
  struct rlimit limit;

  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("issue #");
  /* 500 clients and 500 accepted connections */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1100 && limit.rlim_max >= 1100)
    {
      limit.rlim_cur = 1100;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  g_test_add_func ("/reactor/glib/poller/polled-fds-do-not-grow", test_polled_fds_do_not_grow);
  g_test_add_func ("/reactor/glib/poller/free-releases-deferred", test_free_releases_deferred);
  g_test_add_func ("/reactor/glib/poller/watch-events", test_watch_events);
  g_test_add_func ("/reactor/glib/poller/removed-watches-freed-after-dispatch", test_removed_watches_freed_after_dispatch);
  g_test_add_func ("/reactor/glib/poller/forgotten-watch-then-close", test_forgotten_watch_then_close);
  g_test_add_func ("/reactor/glib/poller/accept-flushes-deferred-writes", test_accept_flushes_deferred_writes);
  g_test_add_func ("/reactor/glib/poller/paused-reader-of-reset-peer-is-quiet",
                   test_paused_reader_of_closed_peer_is_quiet);
  return g_test_run ();
}
