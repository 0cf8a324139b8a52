/* braid — BraidCallbackProtocol: each event reaches its callback with the
 * protocol and the user data, on the fake reactor. */
#include "test-support.h"
#include "callback-protocol.h"

#include <string.h>

/* What the callbacks saw. */
typedef struct {
  BraidProtocol *protocol;    /* (unowned): the protocol the events must name */
  BraidTransport *transport;  /* (unowned): from connection_made */
  guint n_made;
  GByteArray *received;
  guint n_drained;
  guint n_eof;
  gboolean keep_open_on_eof;
  GError *lost_reason;        /* (owned) (nullable) */
  gboolean echo;
  guint n_destroyed;
} Events;

static void
events_init (Events *e)
{
  memset (e, 0, sizeof *e);
  e->received = g_byte_array_new ();
}

static void
events_clear (Events *e)
{
  g_byte_array_unref (e->received);
  g_clear_error (&e->lost_reason);
}

static void
on_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  Events *e = user_data;

  if (e->protocol != NULL)
    g_assert_true (protocol == e->protocol);
  g_assert_true (braid_protocol_get_transport (protocol) == transport);
  e->transport = transport;
  e->n_made++;
}

static void
on_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  Events *e = user_data;

  if (e->protocol != NULL)
    g_assert_true (protocol == e->protocol);
  g_byte_array_append (e->received, data, (guint) len);
  if (e->echo)
    braid_transport_write (braid_protocol_get_transport (protocol), data, len);
}

static void
on_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  Events *e = user_data;

  if (e->protocol != NULL)
    g_assert_true (protocol == e->protocol);
  g_assert_null (e->lost_reason);
  e->lost_reason = g_error_copy (reason);
}

static void
on_drained (BraidProtocol *protocol, gpointer user_data)
{
  Events *e = user_data;

  e->n_drained++;
}

static gboolean
on_eof (BraidProtocol *protocol, gpointer user_data)
{
  Events *e = user_data;

  e->n_eof++;
  return e->keep_open_on_eof;
}

static void
on_destroy (gpointer user_data)
{
  Events *e = user_data;

  e->n_destroyed++;
}

static const BraidProtocolCallbacks all_callbacks = {
  .connection_made = on_made,
  .data_received = on_data,
  .connection_lost = on_lost,
  .output_drained = on_drained,
  .eof_received = on_eof,
};

static BraidFakeReactor *
new_fake (void)
{
  return braid_fake_reactor_new ((guint32) g_test_rand_int ());
}

static void
test_events (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  Events ce, se;
  BraidCallbackProtocol *client, *server;
  BraidFakeTransport *ct = NULL, *st = NULL;

  g_test_summary ("connection_made, data_received, output_drained and connection_lost reach the callbacks "
                  "with the protocol and the user data; destroy runs once, when the protocol goes");
  events_init (&ce);
  events_init (&se);
  se.echo = TRUE;
  client = braid_callback_protocol_new (&all_callbacks, &ce, on_destroy);
  server = braid_callback_protocol_new (&all_callbacks, &se, on_destroy);
  ce.protocol = BRAID_PROTOCOL (client);
  se.protocol = BRAID_PROTOCOL (server);
  g_assert_true (braid_callback_protocol_get_user_data (client) == &ce);

  braid_fake_connect_pair (fake, BRAID_PROTOCOL (client), BRAID_PROTOCOL (server), &ct, &st);
  g_assert_cmpuint (ce.n_made, ==, 1);
  g_assert_cmpuint (se.n_made, ==, 1);
  g_assert_true (ce.transport == BRAID_TRANSPORT (ct));
  g_assert_true (se.transport == BRAID_TRANSPORT (st));

  braid_transport_write_string (BRAID_TRANSPORT (ct), "hello");
  braid_fake_reactor_run_until_idle (fake);
  braid_assert_bytes_equal ("hello", 5, se.received->data, se.received->len);
  braid_assert_bytes_equal ("hello", 5, ce.received->data, ce.received->len);
  g_assert_cmpuint (ce.n_drained, ==, 1);
  g_assert_cmpuint (se.n_drained, ==, 1);
  g_assert_null (ce.lost_reason);

  braid_transport_lose_connection (BRAID_TRANSPORT (ct));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_error (ce.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_error (se.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (ce.n_eof, ==, 0);

  g_assert_cmpuint (ce.n_destroyed, ==, 0);
  g_assert_finalize_object (client);
  g_assert_finalize_object (server);
  g_assert_cmpuint (ce.n_destroyed, ==, 1);
  g_assert_cmpuint (se.n_destroyed, ==, 1);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
  events_clear (&ce);
  events_clear (&se);
}

static void
test_eof (void)
{
  Events e;
  g_autoptr(BraidCallbackProtocol) keeps_open = NULL;
  g_autoptr(BraidCallbackProtocol) closes = NULL;
  g_autoptr(BraidCallbackProtocol) no_callback = NULL;
  BraidProtocolCallbacks none = { 0 };

  g_test_summary ("eof_received answers what its callback returns, and FALSE (close) without one");
  events_init (&e);
  keeps_open = braid_callback_protocol_new (&all_callbacks, &e, NULL);
  closes = braid_callback_protocol_new (&all_callbacks, &e, NULL);
  no_callback = braid_callback_protocol_new (&none, &e, NULL);

  e.keep_open_on_eof = TRUE;
  g_assert_true (braid_protocol_eof_received (BRAID_PROTOCOL (keeps_open)));
  e.keep_open_on_eof = FALSE;
  g_assert_false (braid_protocol_eof_received (BRAID_PROTOCOL (closes)));
  g_assert_cmpuint (e.n_eof, ==, 2);
  g_assert_false (braid_protocol_eof_received (BRAID_PROTOCOL (no_callback)));
  g_assert_cmpuint (e.n_eof, ==, 2);
  events_clear (&e);
}

static void
test_no_callbacks (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidProtocolCallbacks none = { 0 };
  Events se;
  BraidCallbackProtocol *client, *server;
  BraidFakeTransport *ct = NULL;

  g_test_summary ("A protocol without callbacks ignores every event and still connects and closes");
  events_init (&se);
  client = braid_callback_protocol_new (&none, NULL, NULL);
  server = braid_callback_protocol_new (&all_callbacks, &se, NULL);
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (client), BRAID_PROTOCOL (server), &ct, NULL);
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (server)), "ignored");
  braid_fake_reactor_run_until_idle (fake);
  g_assert_true (braid_protocol_is_connected (BRAID_PROTOCOL (client)));
  braid_transport_lose_connection (BRAID_TRANSPORT (ct));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_false (braid_protocol_is_connected (BRAID_PROTOCOL (client)));
  g_assert_error (se.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_finalize_object (client);
  g_assert_finalize_object (server);
  events_clear (&se);
}

static void
test_detach (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  Events ce, se;
  BraidCallbackProtocol *client, *server;
  BraidFakeTransport *ct = NULL;

  g_test_summary ("After detach no callback runs, the user data is released at once and only once, "
                  "and eof_received answers FALSE");
  events_init (&ce);
  events_init (&se);
  client = braid_callback_protocol_new (&all_callbacks, &ce, on_destroy);
  server = braid_callback_protocol_new (&all_callbacks, &se, on_destroy);
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (client), BRAID_PROTOCOL (server), &ct, NULL);

  braid_callback_protocol_detach (client);
  g_assert_cmpuint (ce.n_destroyed, ==, 1);
  g_assert_null (braid_callback_protocol_get_user_data (client));
  braid_callback_protocol_detach (client);
  g_assert_cmpuint (ce.n_destroyed, ==, 1);

  ce.keep_open_on_eof = TRUE;
  g_assert_false (braid_protocol_eof_received (BRAID_PROTOCOL (client)));
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (server)), "unheard");
  braid_fake_reactor_run_until_idle (fake);
  braid_transport_lose_connection (BRAID_TRANSPORT (ct));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (ce.received->len, ==, 0);
  g_assert_null (ce.lost_reason);
  g_assert_cmpuint (ce.n_eof, ==, 0);
  g_assert_error (se.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);

  g_assert_finalize_object (client);
  g_assert_finalize_object (server);
  g_assert_cmpuint (ce.n_destroyed, ==, 1);
  g_assert_cmpuint (se.n_destroyed, ==, 1);
  events_clear (&ce);
  events_clear (&se);
}

static void
test_factory (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  BraidProtocolFactory *factory;
  BraidListener *listener;
  Events se;

  g_test_summary ("A callback factory builds protocols that share the callbacks and the user data, "
                  "which lives until the factory and every protocol it built are gone");
  events_init (&se);
  se.echo = TRUE;
  factory = braid_callback_protocol_factory_new (&all_callbacks, &se, on_destroy);
  listener = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:7000", factory, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(BraidProtocolFactory) client_factory =
        braid_callback_protocol_factory_new (&(BraidProtocolCallbacks) { 0 }, NULL, NULL);
      g_autoptr(BraidProtocol) client = NULL;

      braid_reactor_connect_async (BRAID_REACTOR (fake), "tcp:127.0.0.1:7000", client_factory, NULL,
                                   braid_test_store_result, &result);
      braid_fake_reactor_run_until_idle (fake);
      client = braid_reactor_connect_finish (BRAID_REACTOR (fake), result, &error);
      g_assert_no_error (error);
      g_assert_true (BRAID_IS_CALLBACK_PROTOCOL (client));
      braid_transport_write_string (braid_protocol_get_transport (client), "ab");
      braid_fake_reactor_run_until_idle (fake);
      braid_transport_lose_connection (braid_protocol_get_transport (client));
      braid_fake_reactor_run_until_idle (fake);
      g_assert_error (se.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
      g_clear_error (&se.lost_reason);
    }
  g_assert_cmpuint (se.n_made, ==, 2);
  braid_assert_bytes_equal ("abab", 4, se.received->data, se.received->len);

  /* A protocol the factory built keeps the user data alive. */
  {
    g_autoptr(BraidProtocol) extra = braid_protocol_factory_build_protocol (factory, NULL);

    g_assert_true (braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (extra)) == &se);
    braid_listener_stop (listener);
    g_clear_object (&listener);
    g_assert_finalize_object (factory);
    g_assert_cmpuint (se.n_destroyed, ==, 0);
  }
  g_assert_cmpuint (se.n_destroyed, ==, 1);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
  events_clear (&se);
}

static void
test_preconditions (void)
{
  g_test_summary ("Constructors refuse a NULL callbacks struct, detach and get_user_data a NULL protocol, "
                  "each with its own critical");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*callbacks != NULL*");
  g_assert_null (braid_callback_protocol_new (NULL, NULL, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*callbacks != NULL*");
  g_assert_null (braid_callback_protocol_factory_new (NULL, NULL, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*BRAID_IS_CALLBACK_PROTOCOL*");
  braid_callback_protocol_detach (NULL);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL,
                         "*braid_callback_protocol_get_user_data*BRAID_IS_CALLBACK_PROTOCOL*");
  g_assert_null (braid_callback_protocol_get_user_data (NULL));
  g_test_assert_expected_messages ();
}

/* ---- a factory shared by threads ---- */

#define N_BUILDERS 4
#define BUILDS_PER_THREAD 20000

static void
count_destroy (gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

static gpointer
build_and_drop (gpointer data)
{
  BraidProtocolFactory *factory = data;

  for (guint i = 0; i < BUILDS_PER_THREAD; i++)
    g_object_unref (braid_protocol_factory_build_protocol (factory, NULL));
  return NULL;
}

static void
test_factory_across_threads (void)
{
  static const BraidProtocolCallbacks callbacks = { 0 };
  gint destroyed = 0;
  BraidProtocolFactory *factory = braid_callback_protocol_factory_new (&callbacks, &destroyed, count_destroy);
  GThread *threads[N_BUILDERS];

  g_test_summary ("A callback factory serves several reactor threads at once (a listener over a pool): "
                  "protocols built and freed on four threads together share its callbacks safely, and the "
                  "user data is freed once, after the factory and the last protocol");
  for (guint t = 0; t < N_BUILDERS; t++)
    threads[t] = g_thread_new ("builder", build_and_drop, factory);
  for (guint t = 0; t < N_BUILDERS; t++)
    g_thread_join (threads[t]);
  g_assert_cmpint (g_atomic_int_get (&destroyed), ==, 0);
  g_object_unref (factory);
  g_assert_cmpint (g_atomic_int_get (&destroyed), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reactor/callback-protocol/events", test_events);
  g_test_add_func ("/reactor/callback-protocol/eof", test_eof);
  g_test_add_func ("/reactor/callback-protocol/no-callbacks", test_no_callbacks);
  g_test_add_func ("/reactor/callback-protocol/detach", test_detach);
  g_test_add_func ("/reactor/callback-protocol/factory", test_factory);
  g_test_add_func ("/reactor/callback-protocol/factory-across-threads", test_factory_across_threads);
  g_test_add_func ("/reactor/callback-protocol/preconditions", test_preconditions);
  return g_test_run ();
}
