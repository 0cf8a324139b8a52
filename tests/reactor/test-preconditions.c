/* braid — the reactor layer's preconditions: every public function of the
 * reactor, transport, protocol, listener and protocol-factory interfaces
 * refuses what is not one (NULL, or another kind of object) with a critical
 * and its documented failure value, and does nothing else. */
#include "test-support.h"
#include "line-receiver.h"

static void
never_called (GObject *source, GAsyncResult *result, gpointer data)
{
  g_assert_not_reached ();
}

static void
never_run (gpointer data)
{
  g_assert_not_reached ();
}

static void
test_reactor (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GObject) not_a_reactor = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(BraidEndpoint) server = braid_endpoint_parse ("tcp:1", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(GTask) foreign = g_task_new (not_a_reactor, NULL, NULL, NULL);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set before");
  BraidCriticalCounter c;

  g_test_summary ("Reactor functions refuse a non-reactor, a missing endpoint or factory, a set "
                  "error and a client endpoint to listen on, and call nothing back");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_reactor_now (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_reactor_now ((BraidReactor *) not_a_reactor), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_reactor_real_time (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_reactor_real_seconds (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_call_later (NULL, 1, never_run, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_call_later (BRAID_REACTOR (fake), 1, NULL, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (braid_reactor_call_soon (NULL, never_run, NULL, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_listen_endpoint (NULL, server, factory, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_listen_endpoint (BRAID_REACTOR (fake), NULL, factory, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_listen_endpoint (BRAID_REACTOR (fake), server, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_listen_endpoint (BRAID_REACTOR (fake), server, factory, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_listen (BRAID_REACTOR (fake), NULL, factory, NULL)));
  BRAID_EXPECT_CRITICAL (braid_reactor_connect_endpoint_async (NULL, server, factory, NULL, never_called, NULL));
  /* a server endpoint is not one to connect to */
  BRAID_EXPECT_CRITICAL (braid_reactor_connect_endpoint_async (BRAID_REACTOR (fake), server, factory, NULL,
                                                         never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_reactor_connect_endpoint_async (BRAID_REACTOR (fake), NULL, factory, NULL,
                                                         never_called, NULL));
  {
    g_autoptr(BraidEndpoint) client = braid_endpoint_parse ("tcp:localhost:1", BRAID_ENDPOINT_ROLE_CLIENT, NULL);

    BRAID_EXPECT_CRITICAL (braid_reactor_connect_endpoint_async (BRAID_REACTOR (fake), client, NULL, NULL,
                                                                 never_called, NULL));
  }
  BRAID_EXPECT_CRITICAL (braid_reactor_connect_async (NULL, "tcp:localhost:1", factory, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_reactor_connect_async (BRAID_REACTOR (fake), NULL, factory, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_connect_finish (NULL, G_ASYNC_RESULT (foreign), NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_reactor_connect_finish (BRAID_REACTOR (fake), G_ASYNC_RESULT (foreign),
                                                                &error)));
  BRAID_EXPECT_CRITICAL (braid_reactor_run (NULL));
  BRAID_EXPECT_CRITICAL (braid_reactor_stop (NULL));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
  g_assert_cmpstr (error->message, ==, "set before");
  braid_test_count_criticals_end (&c);
}

static void
test_transport_and_protocol (void)
{
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(BraidRecordingProtocol) protocol = braid_recording_protocol_new ();
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "closed");
  BraidTransport *not_a_transport = (BraidTransport *) other;
  BraidProtocol *not_a_protocol = (BraidProtocol *) other;
  GOutputVector vector = { "x", 1 };
  BraidCriticalCounter c;

  g_test_summary ("Transport and protocol functions refuse what is not a transport or protocol, "
                  "and their missing arguments");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (braid_transport_write_bytes (NULL, bytes));
  BRAID_EXPECT_CRITICAL (braid_transport_write_bytes (not_a_transport, bytes));
  BRAID_EXPECT_CRITICAL (braid_transport_write (NULL, "x", 1));
  BRAID_EXPECT_CRITICAL (braid_transport_writev (NULL, &vector, 1));
  BRAID_EXPECT_CRITICAL (braid_transport_write_string (NULL, "x"));
  BRAID_EXPECT_CRITICAL (braid_transport_lose_connection (NULL));
  BRAID_EXPECT_CRITICAL (braid_transport_lose_write_connection (NULL));
  BRAID_EXPECT_CRITICAL (braid_transport_abort_connection (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_transport_get_peer_address (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_transport_get_host_address (not_a_transport)));
  BRAID_EXPECT_CRITICAL (braid_transport_pause_reading (NULL));
  BRAID_EXPECT_CRITICAL (braid_transport_resume_reading (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_transport_get_write_buffer_size (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_true (braid_transport_is_closing (NULL)));

  BRAID_EXPECT_CRITICAL (braid_protocol_connection_made (NULL, NULL));
  BRAID_EXPECT_CRITICAL (braid_protocol_connection_made (BRAID_PROTOCOL (protocol), not_a_transport));
  BRAID_EXPECT_CRITICAL (braid_protocol_data_received (not_a_protocol, (const guint8 *) "x", 1));
  BRAID_EXPECT_CRITICAL (braid_protocol_connection_lost (NULL, reason));
  BRAID_EXPECT_CRITICAL (braid_protocol_connection_lost (BRAID_PROTOCOL (protocol), NULL));
  BRAID_EXPECT_CRITICAL (braid_protocol_output_drained (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_protocol_eof_received (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_protocol_get_transport (not_a_protocol)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_protocol_is_connected (NULL)));
  g_assert_cmpuint (protocol->n_made, ==, 0);
  g_assert_null (protocol->lost_reason);

  BRAID_EXPECT_CRITICAL (braid_listener_stop (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_listener_is_listening (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_listener_get_address (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_listener_get_n_connections (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_protocol_factory_new_for_type (G_TYPE_OBJECT)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_protocol_factory_build_protocol (NULL, NULL)));
  braid_test_count_criticals_end (&c);
}

static void
test_connection_made_twice (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(GPtrArray) built = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, built);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(BraidProtocol) client = NULL;
  BraidProtocol *server;
  BraidCriticalCounter c;

  g_test_summary ("A protocol that already has a transport refuses a second connection_made");
  listener = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:1", factory, NULL);
  braid_reactor_connect_async (BRAID_REACTOR (fake), "tcp:localhost:1", factory, NULL, braid_test_store_result,
                               &result);
  braid_fake_reactor_run_until_idle (fake);
  client = braid_reactor_connect_finish (BRAID_REACTOR (fake), result, NULL);
  g_assert_nonnull (client);
  server = g_ptr_array_index (built, 0);
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (braid_protocol_connection_made (server, braid_protocol_get_transport (client)));
  braid_test_count_criticals_end (&c);
  g_assert_cmpuint (BRAID_RECORDING_PROTOCOL (server)->n_made, ==, 1);
  g_assert_true (braid_protocol_get_transport (server) != braid_protocol_get_transport (client));
  braid_transport_lose_connection (braid_protocol_get_transport (client));
  braid_listener_stop (listener);
  braid_fake_reactor_run_until_idle (fake);
}

static void
never_line (gpointer data, const gchar *line, gsize len)
{
  g_assert_not_reached ();
}

static void
test_line_receiver_and_calls (void)
{
  static const BraidLineReceiverCallbacks callbacks = { never_line, NULL, NULL };
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidDelayedCall *call;
  BraidCriticalCounter c;

  g_test_summary ("The line receiver and delayed calls refuse NULL, a delimiter other than \\n or "
                  "\\r\\n, a zero line limit and missing callbacks");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_line_receiver_new (NULL, 10, &callbacks, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_line_receiver_new ("\r", 10, &callbacks, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_line_receiver_new ("\n", 0, &callbacks, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_line_receiver_new ("\n", 10, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (braid_line_receiver_set_raw_mode (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_line_receiver_set_raw_mode_unbounded (NULL));
  BRAID_EXPECT_CRITICAL (braid_line_receiver_set_line_mode (NULL));
  BRAID_EXPECT_CRITICAL (braid_line_receiver_stop (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_true (braid_line_receiver_is_stopped (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_line_receiver_get_buffered (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_line_receiver_steal_buffer (NULL)));
  BRAID_EXPECT_CRITICAL (braid_line_receiver_feed (NULL, (const guint8 *) "x\n", 2));
  /* both delimiters are fine */
  braid_line_receiver_free (braid_line_receiver_new ("\n", 1, &callbacks, NULL));
  braid_line_receiver_free (braid_line_receiver_new ("\r\n", 1, &callbacks, NULL));
  g_assert_cmpuint (braid_test_n_criticals (), ==, 12);

  BRAID_EXPECT_CRITICAL (g_assert_null (braid_delayed_call_ref (NULL)));
  BRAID_EXPECT_CRITICAL (braid_delayed_call_unref (NULL));
  BRAID_EXPECT_CRITICAL (braid_delayed_call_cancel (NULL));
  BRAID_EXPECT_CRITICAL (braid_delayed_call_reset (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_delayed_call_delay (NULL, 1));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_delayed_call_is_active (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_delayed_call_was_called (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_delayed_call_was_cancelled (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_delayed_call_get_time (NULL), ==, 0));
  call = braid_reactor_call_later (BRAID_REACTOR (fake), 5, never_run, NULL, NULL);
  braid_delayed_call_cancel (call);
  braid_delayed_call_unref (call);
  g_assert_cmpuint (braid_test_n_criticals (), ==, 21);
  braid_test_count_criticals_end (&c);
}

static void
test_fakes (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  g_autoptr(BraidRecordingProtocol) a = braid_recording_protocol_new ();
  g_autoptr(BraidRecordingProtocol) b = braid_recording_protocol_new ();
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  BraidFakeReactor *not_fake = (BraidFakeReactor *) other;
  BraidFakeTransport *not_transport = (BraidFakeTransport *) other;
  BraidCriticalCounter c;

  g_test_summary ("The fake reactor and fake transport refuse what is not theirs, negative time, "
                  "pending connects past the last, a second protocol on a transport");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_reactor_get_rand (not_fake)));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_set_real_time (NULL, 1));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_reactor_get_pending_calls (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_set_delivery (NULL, BRAID_FAKE_DELIVERY_WHOLE));
  BRAID_EXPECT_CRITICAL (braid_fake_connect_pair (NULL, BRAID_PROTOCOL (a), BRAID_PROTOCOL (b), NULL, NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_connect_pair (fake, NULL, BRAID_PROTOCOL (b), NULL, NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_connect_pair (fake, BRAID_PROTOCOL (a), NULL, NULL, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_reactor_get_pending_connect_endpoint (fake, 0)));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_fail_connect (fake, 0, NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_complete_connect (fake, 0));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_fake_reactor_pump (NULL)));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_run_until_idle (NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_advance (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_fake_reactor_advance (fake, -1));
  g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (fake)), ==, 0);
  g_assert_cmpuint (a->n_made + b->n_made, ==, 0);

  braid_fake_transport_attach (transport, BRAID_PROTOCOL (a));
  BRAID_EXPECT_CRITICAL (braid_fake_transport_attach (transport, BRAID_PROTOCOL (b)));
  BRAID_EXPECT_CRITICAL (braid_fake_transport_attach (not_transport, BRAID_PROTOCOL (b)));
  g_assert_true (braid_fake_transport_get_protocol (transport) == BRAID_PROTOCOL (a));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_transport_get_protocol (not_transport)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_transport_get_written (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_transport_get_written_string (NULL)));
  BRAID_EXPECT_CRITICAL (braid_fake_transport_clear (NULL));
  g_assert_cmpuint (b->n_made, ==, 0);
  braid_transport_lose_connection (BRAID_TRANSPORT (transport));
  braid_fake_reactor_run_until_idle (fake);
  braid_test_count_criticals_end (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reactor/preconditions/reactor", test_reactor);
  g_test_add_func ("/reactor/preconditions/transport-and-protocol", test_transport_and_protocol);
  g_test_add_func ("/reactor/preconditions/connection-made-twice", test_connection_made_twice);
  g_test_add_func ("/reactor/preconditions/line-receiver-and-calls", test_line_receiver_and_calls);
  g_test_add_func ("/reactor/preconditions/fakes", test_fakes);
  return g_test_run ();
}
