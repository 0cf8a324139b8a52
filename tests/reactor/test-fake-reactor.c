/* braid — what only the fake reactor does: simulated time, delivery
 * policies, faults, records. */
#include "test-support.h"
#include "callback-protocol.h"
/* braid_fake_transport_pump: whether one transport's step "moved" */
#include "fake-transport-private.h"
/* the timer queue both reactors share, tested on its own clock */
#include "delayed-call-private.h"

#include <string.h>

static BraidFakeReactor *
new_fake (void)
{
  return braid_fake_reactor_new ((guint32) g_test_rand_int ());
}

typedef struct {
  BraidReactor *reactor;
  GArray *times;
  guint reschedules;
} Ticker;

static void
tick (gpointer data)
{
  Ticker *t = data;
  gint64 now = braid_reactor_now (t->reactor);

  g_array_append_val (t->times, now);
  if (t->reschedules > 0)
    {
      t->reschedules--;
      braid_delayed_call_unref (braid_reactor_call_later (t->reactor, 1000, tick, t, NULL));
    }
}

static void
test_advance_runs_nested (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  Ticker t = { BRAID_REACTOR (fake), g_array_new (FALSE, FALSE, sizeof (gint64)), 3 };

  g_test_summary ("advance() runs calls scheduled during the advance when they fall due, each at its own time");
  braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (fake), 1000, tick, &t, NULL));
  braid_fake_reactor_advance (fake, 3500);
  g_assert_cmpuint (t.times->len, ==, 3);
  g_assert_cmpint (g_array_index (t.times, gint64, 0), ==, 1000);
  g_assert_cmpint (g_array_index (t.times, gint64, 1), ==, 2000);
  g_assert_cmpint (g_array_index (t.times, gint64, 2), ==, 3000);
  g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (fake)), ==, 3500);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 1);
  braid_fake_reactor_advance (fake, 500);
  g_assert_cmpuint (t.times->len, ==, 4);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
  g_array_unref (t.times);
}

static void
test_clock (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  const gint64 steps[] = { 10, 20, 30, -1 };

  g_test_summary ("Monotonic time starts at 0; wall time can be set and moves with advance()");
  g_assert_cmpint (braid_reactor_now (r), ==, 0);
  braid_fake_reactor_set_real_time (fake, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC);
  braid_fake_reactor_advance (fake, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (braid_reactor_real_seconds (r), ==, 1800000002);
  braid_fake_reactor_pump_steps (fake, steps);
  g_assert_cmpint (braid_reactor_now (r), ==, 2 * G_USEC_PER_SEC + 60);
}

static void
count_run (guint *runs)
{
  (*runs)++;
}

static void
test_pending_calls (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  g_autoptr(BraidDelayedCall) a = NULL;
  g_autoptr(BraidDelayedCall) b = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  guint runs = 0;

  g_test_summary ("get_pending_calls lists calls in run order");
  a = braid_reactor_call_later (BRAID_REACTOR (fake), 50, (BraidCallFunc) count_run, &runs, NULL);
  b = braid_reactor_call_later (BRAID_REACTOR (fake), 10, (BraidCallFunc) count_run, &runs, NULL);
  pending = braid_fake_reactor_get_pending_calls (fake);
  g_assert_cmpuint (pending->len, ==, 2);
  g_assert_true (g_ptr_array_index (pending, 0) == b);
  g_assert_true (g_ptr_array_index (pending, 1) == a);
  g_assert_true (braid_fake_reactor_run_all_timers (fake, G_USEC_PER_SEC));
  g_assert_cmpuint (runs, ==, 2);
}

typedef struct {
  BraidFakeReactor *fake;
  BraidRecordingProtocol *client;
  BraidRecordingProtocol *server;
  BraidFakeTransport *ct;
  BraidFakeTransport *st;
} Pair;

static void
pair_open (Pair *p, BraidFakeDelivery delivery)
{
  p->fake = new_fake ();
  braid_fake_reactor_set_delivery (p->fake, delivery);
  p->client = braid_recording_protocol_new ();
  p->server = braid_recording_protocol_new ();
  braid_fake_connect_pair (p->fake, BRAID_PROTOCOL (p->client), BRAID_PROTOCOL (p->server), &p->ct, &p->st);
  g_assert_cmpuint (p->client->n_made, ==, 1);
  g_assert_cmpuint (p->server->n_made, ==, 1);
}

static void
pair_close (Pair *p)
{
  g_clear_object (&p->client);
  g_clear_object (&p->server);
  braid_fake_reactor_run_until_idle (p->fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (p->fake), ==, 0);
  g_assert_finalize_object (p->fake);
}

static void
test_delivery_policies (void)
{
  const gchar *message = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";

  g_test_summary ("Whole delivery keeps writes whole; byte delivery sends one byte per call; "
                  "random delivery varies chunk sizes; all deliver the same bytes");
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    {
      Pair p;

      pair_open (&p, d);
      braid_transport_write_string (BRAID_TRANSPORT (p.ct), message);
      braid_transport_write_string (BRAID_TRANSPORT (p.ct), "!");
      g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (p.ct)), ==, strlen (message) + 1);
      braid_fake_reactor_run_until_idle (p.fake);
      braid_assert_bytes_equal (message, strlen (message), p.server->received->data, strlen (message));
      g_assert_cmpuint (p.server->received->len, ==, strlen (message) + 1);
      g_assert_cmpuint (p.client->n_drained, ==, 1);
      switch (d)
        {
        case BRAID_FAKE_DELIVERY_WHOLE:
          g_assert_cmpuint (p.server->n_chunks, ==, 2);
          break;
        case BRAID_FAKE_DELIVERY_BYTE:
          g_assert_cmpuint (p.server->n_chunks, ==, strlen (message) + 1);
          break;
        default:
          g_assert_cmpuint (p.server->n_chunks, >=, 1);
          break;
        }
      {
        g_autoptr(GBytes) written = braid_fake_transport_get_written (p.ct);
        g_autofree gchar *expected = g_strconcat (message, "!", NULL);

        braid_assert_bytes_equal_str (expected, written);
      }
      pair_close (&p);
    }
}

static void
test_lose_connection_order (void)
{
  Pair p;

  g_test_summary ("Bytes written before lose_connection arrive before connection_lost, byte by byte too");
  pair_open (&p, BRAID_FAKE_DELIVERY_BYTE);
  braid_transport_write_string (BRAID_TRANSPORT (p.st), "bye");
  braid_transport_lose_connection (BRAID_TRANSPORT (p.st));
  g_assert_true (braid_fake_transport_is_disconnecting (p.st));
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_cmpuint (p.client->received->len, ==, 3);
  g_assert_error (p.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_error (p.server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  pair_close (&p);
}

static void
test_reset_after (void)
{
  Pair p;

  g_test_summary ("reset_after(N) delivers exactly N bytes, then both sides lose the connection");
  pair_open (&p, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_transport_reset_after (p.st, 5);
  braid_transport_write_string (BRAID_TRANSPORT (p.st), "VALUE k 0 10\r\n");
  braid_fake_reactor_run_until_idle (p.fake);
  braid_assert_bytes_equal ("VALUE", 5, p.client->received->data, p.client->received->len);
  g_assert_error (p.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_error (p.server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  pair_close (&p);
}

static void
test_stall (void)
{
  Pair p;

  g_test_summary ("A stalled direction holds its bytes until unstalled; the other direction flows");
  pair_open (&p, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_transport_set_stalled (p.st, TRUE);
  braid_transport_write_string (BRAID_TRANSPORT (p.st), "held");
  braid_transport_write_string (BRAID_TRANSPORT (p.ct), "flows");
  braid_fake_reactor_advance (p.fake, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (p.client->received->len, ==, 0);
  g_assert_cmpuint (p.server->received->len, ==, 5);
  braid_fake_transport_set_stalled (p.st, FALSE);
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_cmpuint (p.client->received->len, ==, 4);
  pair_close (&p);
}

static void
test_pause_reading (void)
{
  Pair p;

  g_test_summary ("A paused reader receives nothing and the writer's buffer reports the backlog");
  pair_open (&p, BRAID_FAKE_DELIVERY_RANDOM);
  braid_transport_pause_reading (BRAID_TRANSPORT (p.ct));
  g_assert_true (braid_fake_transport_get_read_paused (p.ct));
  braid_transport_write_string (BRAID_TRANSPORT (p.st), "0123456789");
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (p.st)), ==, 10);
  braid_transport_resume_reading (BRAID_TRANSPORT (p.ct));
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_cmpuint (p.client->received->len, ==, 10);
  g_assert_cmpuint (p.server->n_drained, ==, 1);
  pair_close (&p);
}

static void
test_abort_records (void)
{
  Pair p;

  g_test_summary ("abort_connection is recorded and the peer sees a reset");
  pair_open (&p, BRAID_FAKE_DELIVERY_WHOLE);
  braid_transport_abort_connection (BRAID_TRANSPORT (p.ct));
  g_assert_true (braid_fake_transport_is_aborted (p.ct));
  g_assert_true (braid_fake_transport_is_disconnecting (p.ct));
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_error (p.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_ABORTED);
  g_assert_error (p.server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  pair_close (&p);
}

static void
test_standalone_transport (void)
{
  g_autoptr(BraidFakeTransport) t = braid_fake_transport_new ();
  g_autoptr(BraidRecordingProtocol) p = braid_recording_protocol_new ();
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("A standalone transport records writes (StringTransport) and the test drives the protocol");
  p->echo = TRUE;
  braid_fake_transport_attach (t, BRAID_PROTOCOL (p));
  braid_protocol_data_received (BRAID_PROTOCOL (p), (const guint8 *) "ping", 4);
  written = braid_fake_transport_get_written (t);
  braid_assert_bytes_equal_str ("ping", written);
  braid_fake_transport_clear (t);
  g_clear_pointer (&written, g_bytes_unref);
  written = braid_fake_transport_get_written (t);
  g_assert_cmpuint (g_bytes_get_size (written), ==, 0);

  /* Without autoflush, writes stay buffered until flushed. */
  braid_fake_transport_set_autoflush (t, FALSE);
  braid_protocol_data_received (BRAID_PROTOCOL (p), (const guint8 *) "abc", 3);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (t)), ==, 3);
  braid_fake_transport_flush (t);
  g_assert_cmpuint (p->n_drained, ==, 1);

  braid_fake_transport_close_from_peer (t, NULL);
  g_assert_error (p->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (braid_transport_get_peer_address (BRAID_TRANSPORT (t))));
}

typedef struct {
  GAsyncResult *result;
} Wait;

static void
test_manual_connects (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) sf = braid_recording_factory_new (FALSE, servers);
  g_autoptr(BraidProtocolFactory) cf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) injected = g_error_new_literal (BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT, "slow");
  Wait a = { NULL }, b = { NULL };
  g_autoptr(BraidProtocol) client = NULL;

  g_test_summary ("With auto-connect off, the test settles each connect by hand (MemoryReactor)");
  braid_fake_reactor_set_auto_connect (fake, FALSE);
  listener = braid_reactor_listen (r, "tcp:11211", sf, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (fake), ==, 1);

  braid_reactor_connect_async (r, "tcp:localhost:11211", cf, NULL, braid_test_store_result, &a.result);
  braid_reactor_connect_async (r, "tcp:localhost:11211", cf, NULL, braid_test_store_result, &b.result);
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_connects (fake), ==, 2);
  g_assert_cmpstr (braid_fake_reactor_get_pending_connect_endpoint (fake, 0), ==, "tcp:localhost:11211");
  g_assert_null (a.result);

  braid_fake_reactor_fail_connect (fake, 1, injected);
  braid_fake_reactor_complete_connect (fake, 0);
  braid_fake_reactor_run_until_idle (fake);
  client = braid_reactor_connect_finish (r, a.result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  g_assert_cmpuint (servers->len, ==, 1);
  g_assert_null (braid_reactor_connect_finish (r, b.result, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_clear_object (&a.result);
  g_clear_object (&b.result);

  /* Fault switches: refuse everything; listen errors. */
  braid_fake_reactor_set_auto_connect (fake, TRUE);
  braid_fake_reactor_set_refuse_connections (fake, TRUE);
  braid_reactor_connect_async (r, "tcp:localhost:11211", cf, NULL, braid_test_store_result, &a.result);
  braid_fake_reactor_run_until_idle (fake);
  g_assert_null (braid_reactor_connect_finish (r, a.result, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  g_clear_object (&a.result);

  braid_fake_reactor_set_listen_error (fake, injected);
  g_assert_null (braid_reactor_listen (r, "tcp:1", sf, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT);
  g_clear_error (&error);

  braid_fake_reactor_drop_listener (fake, "tcp:11211");
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (fake), ==, 0);
  g_assert_false (braid_listener_is_listening (listener));
}

static void
test_same_seed_same_chunks (void)
{
  GArray *sizes[2];

  g_test_summary ("The same seed gives the same random chunking");
  for (guint run = 0; run < 2; run++)
    {
      g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1234);
      g_autoptr(BraidRecordingProtocol) c = braid_recording_protocol_new ();
      g_autoptr(BraidRecordingProtocol) s = braid_recording_protocol_new ();
      BraidFakeTransport *ct;

      sizes[run] = g_array_new (FALSE, FALSE, sizeof (guint));
      braid_fake_reactor_set_delivery (fake, BRAID_FAKE_DELIVERY_RANDOM);
      braid_fake_connect_pair (fake, BRAID_PROTOCOL (c), BRAID_PROTOCOL (s), &ct, NULL);
      braid_transport_write_string (BRAID_TRANSPORT (ct), "the quick brown fox jumps over the lazy dog, twice over");
      while (braid_fake_reactor_pump (fake))
        g_array_append_val (sizes[run], s->n_chunks);
    }
  g_assert_cmpmem (sizes[0]->data, sizes[0]->len * sizeof (guint), sizes[1]->data, sizes[1]->len * sizeof (guint));
  g_array_unref (sizes[0]);
  g_array_unref (sizes[1]);
}

static void
test_tls_as_tcp (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) sf = braid_recording_factory_new (TRUE, servers);
  g_autoptr(BraidProtocolFactory) cf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  Wait a = { NULL }, b = { NULL };

  g_test_summary ("The fake simulates tls: as TCP in the clear: no certificate is read, a tls: client reaches "
                  "a tls: listener, a tcp: client does not, and tcp: and tls: share the port space");
  listener = braid_reactor_listen (r, "tls:11211:certificate=/nonexistent.pem", sf, &error);
  g_assert_no_error (error);
  g_assert_null (braid_reactor_listen (r, "tcp:11211", sf, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_clear_error (&error);

  braid_reactor_connect_async (r, "tls:localhost:11211:ca=/nonexistent.pem", cf, NULL, braid_test_store_result,
                               &a.result);
  braid_reactor_connect_async (r, "tcp:localhost:11211", cf, NULL, braid_test_store_result, &b.result);
  braid_fake_reactor_run_until_idle (fake);
  client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (r, a.result, &error));
  g_assert_no_error (error);
  g_assert_null (braid_reactor_connect_finish (r, b.result, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (client)), "ping");
  braid_fake_reactor_run_until_idle (fake);
  braid_assert_bytes_equal ("ping", 4, client->received->data, client->received->len);
  g_assert_cmpuint (servers->len, ==, 1);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (client)));
  braid_fake_reactor_run_until_idle (fake);
  g_clear_object (&a.result);
  g_clear_object (&b.result);
}

static void
test_reset_after_exact (void)
{
  Pair p;

  g_test_summary ("reset_after(N) with exactly N bytes written delivers them all, then resets both sides");
  pair_open (&p, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_transport_reset_after (p.st, 5);
  braid_transport_write_string (BRAID_TRANSPORT (p.st), "VALUE");
  braid_fake_reactor_run_until_idle (p.fake);
  braid_assert_bytes_equal ("VALUE", 5, p.client->received->data, p.client->received->len);
  g_assert_error (p.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_error (p.server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  pair_close (&p);
}

static void
test_random_delivery_chunks (void)
{
  Pair p;
  gsize largest_small = 0;
  gboolean saw_whole = FALSE;

  g_test_summary ("Random delivery hands out chunks of at most 32 bytes, and sometimes all that is pending at once");
  pair_open (&p, BRAID_FAKE_DELIVERY_RANDOM);
  /* A whole delivery comes once in four draws: 64 rounds miss it with a
   * probability of (3/4)^64, about 1e-8. */
  for (guint round = 0; round < 64; round++)
    {
      guint chunks_before = p.server->n_chunks;

      p.server->largest_chunk = 0;
      braid_transport_write_string (BRAID_TRANSPORT (p.ct),
                                    "0123456789012345678901234567890123456789012345678901234567890123456789");
      braid_fake_reactor_run_until_idle (p.fake);
      g_assert_cmpuint (p.server->n_chunks, >, chunks_before);
      if (p.server->largest_chunk == 70 && p.server->n_chunks == chunks_before + 1)
        saw_whole = TRUE;
      else if (p.server->largest_chunk <= 32)
        largest_small = MAX (largest_small, p.server->largest_chunk);
    }
  g_assert_cmpuint (p.server->received->len, ==, 64 * 70);
  g_assert_true (saw_whole);
  g_assert_cmpuint (largest_small, <=, 32);
  pair_close (&p);
}

static void
test_peer_gone_drops_pending (void)
{
  Pair p;

  g_test_summary ("Bytes still pending when the peer has gone are dropped, and the writer's connection ends");
  pair_open (&p, BRAID_FAKE_DELIVERY_WHOLE);
  g_object_ref (p.ct);  /* inspected after it closed */
  braid_fake_transport_set_stalled (p.ct, TRUE);
  braid_transport_write_string (BRAID_TRANSPORT (p.ct), "never read");
  braid_transport_lose_connection (BRAID_TRANSPORT (p.st));
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_error (p.server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (p.server->received->len, ==, 0);
  g_assert_error (p.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (p.ct)), ==, 0);
  g_object_unref (p.ct);
  pair_close (&p);
}

/* A protocol that keeps its side open after the peer's EOF (a half-close)
 * and records what it sees. */
typedef struct {
  GString *received;
  guint n_eof;
  GError *lost_reason;
} HalfOpen;

static void
half_open_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  HalfOpen *h = user_data;

  g_string_append_len (h->received, (const gchar *) data, (gssize) len);
}

static gboolean
half_open_eof (BraidProtocol *protocol, gpointer user_data)
{
  HalfOpen *h = user_data;

  h->n_eof++;
  return TRUE;
}

static void
half_open_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  HalfOpen *h = user_data;

  g_assert_null (h->lost_reason);
  h->lost_reason = g_error_copy (reason);
}

static const BraidProtocolCallbacks half_open_callbacks = {
  .data_received = half_open_data,
  .eof_received = half_open_eof,
  .connection_lost = half_open_lost,
};

/* @closer shuts down its sending side; the half-open side reads the EOF,
 * still writes, and the closer still reads; then the half-open side
 * closes and both connections end cleanly. */
static void
check_half_close (gboolean client_closes_first)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  HalfOpen h = { g_string_new (NULL), 0, NULL };
  g_autoptr(BraidRecordingProtocol) closer = braid_recording_protocol_new ();
  g_autoptr(BraidCallbackProtocol) half_open = braid_callback_protocol_new (&half_open_callbacks, &h, NULL);
  BraidFakeTransport *closer_t = NULL, *half_open_t = NULL;

  if (client_closes_first)
    braid_fake_connect_pair (fake, BRAID_PROTOCOL (closer), BRAID_PROTOCOL (half_open), &closer_t, &half_open_t);
  else
    braid_fake_connect_pair (fake, BRAID_PROTOCOL (half_open), BRAID_PROTOCOL (closer), &half_open_t, &closer_t);

  braid_transport_write_string (BRAID_TRANSPORT (closer_t), "request");
  braid_transport_lose_write_connection (BRAID_TRANSPORT (closer_t));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpstr (h.received->str, ==, "request");
  g_assert_cmpuint (h.n_eof, ==, 1);
  g_assert_null (h.lost_reason);
  g_assert_null (closer->lost_reason);
  g_assert_false (braid_transport_is_closing (BRAID_TRANSPORT (half_open_t)));

  /* the half-open side answers after the EOF */
  braid_transport_write_string (BRAID_TRANSPORT (half_open_t), "answer");
  braid_fake_reactor_run_until_idle (fake);
  braid_assert_bytes_equal ("answer", 6, closer->received->data, closer->received->len);
  g_assert_null (h.lost_reason);

  braid_transport_lose_connection (BRAID_TRANSPORT (half_open_t));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_error (h.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_error (closer->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (h.n_eof, ==, 1);
  g_clear_error (&h.lost_reason);
  g_string_free (h.received, TRUE);
}

static void
test_half_close_both_directions (void)
{
  g_test_summary ("A half-closeable protocol keeps writing after the peer's EOF, on the client and on the server side");
  check_half_close (TRUE);
  check_half_close (FALSE);
}

static void
test_half_close_then_shutdown (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  HalfOpen h = { g_string_new (NULL), 0, NULL };
  g_autoptr(BraidRecordingProtocol) closer = braid_recording_protocol_new ();
  g_autoptr(BraidCallbackProtocol) half_open = braid_callback_protocol_new (&half_open_callbacks, &h, NULL);
  BraidFakeTransport *ct = NULL, *st = NULL;

  g_test_summary ("After the peer's EOF, shutting down our own sending side too ends the connection cleanly");
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (closer), BRAID_PROTOCOL (half_open), &ct, &st);
  braid_transport_lose_write_connection (BRAID_TRANSPORT (ct));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (h.n_eof, ==, 1);
  braid_transport_write_string (BRAID_TRANSPORT (st), "last");
  braid_transport_lose_write_connection (BRAID_TRANSPORT (st));
  braid_fake_reactor_run_until_idle (fake);
  braid_assert_bytes_equal ("last", 4, closer->received->data, closer->received->len);
  g_assert_error (h.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_error (closer->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_clear_error (&h.lost_reason);
  g_string_free (h.received, TRUE);
}

static void
test_standalone_lifecycle (void)
{
  BraidRecordingProtocol *p = braid_recording_protocol_new ();
  g_autoptr(GError) reset = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "peer reset");
  BraidFakeTransport *t = braid_fake_transport_new ();
  BraidFakeTransport *t2 = braid_fake_transport_new ();

  g_test_summary ("A standalone transport never owns its protocol; a close with an error is a lost connection");
  braid_fake_transport_attach (t, BRAID_PROTOCOL (p));
  g_assert_true (braid_fake_transport_get_protocol (t) == BRAID_PROTOCOL (p));
  /* the test owns the protocol: disposing the transport leaves it alone */
  g_object_run_dispose (G_OBJECT (t));
  g_assert_null (braid_fake_transport_get_protocol (t));
  g_assert_cmpuint (G_OBJECT (p)->ref_count, ==, 1);
  g_object_unref (t);
  g_object_unref (p);

  p = braid_recording_protocol_new ();
  braid_fake_transport_attach (t2, BRAID_PROTOCOL (p));
  braid_fake_transport_close_from_peer (t2, reset);
  g_assert_error (p->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_cmpstr (p->lost_reason->message, ==, "peer reset");
  g_assert_true (braid_fake_transport_is_disconnected (t2));
  g_assert_null (braid_fake_transport_get_protocol (t2));
  g_assert_finalize_object (p);
  g_assert_finalize_object (t2);
}

static void
test_standalone_details (void)
{
  g_autoptr(BraidFakeTransport) t = braid_fake_transport_new ();
  g_autoptr(BraidRecordingProtocol) p = braid_recording_protocol_new ();
  g_autofree gchar *host = NULL;
  g_autofree gchar *peer = NULL;

  g_test_summary ("A standalone transport has fixed addresses; flush empties its buffer and drains once; "
                  "clear refuses NULL");
  host = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (braid_transport_get_host_address (BRAID_TRANSPORT (t))));
  peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (braid_transport_get_peer_address (BRAID_TRANSPORT (t))));
  g_assert_cmpstr (host, ==, "127.0.0.1:11211");
  g_assert_cmpstr (peer, ==, "192.0.2.1:54321");

  braid_fake_transport_attach (t, BRAID_PROTOCOL (p));
  braid_fake_transport_set_autoflush (t, FALSE);
  braid_fake_transport_flush (t);
  g_assert_cmpuint (p->n_drained, ==, 0);  /* nothing was pending */
  braid_transport_write_string (BRAID_TRANSPORT (t), "abc");
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (t)), ==, 3);
  braid_fake_transport_flush (t);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (t)), ==, 0);
  g_assert_null (braid_fake_transport_peek_pending (t));
  g_assert_cmpuint (p->n_drained, ==, 1);

  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*BRAID_IS_FAKE_TRANSPORT*");
  braid_fake_transport_clear (NULL);
  g_test_assert_expected_messages ();
  braid_fake_transport_close_from_peer (t, NULL);
}

static void
test_whole_after_partial (void)
{
  Pair p;

  g_test_summary ("Whole delivery after a partial one sends the rest of the started write, then each write whole");
  pair_open (&p, BRAID_FAKE_DELIVERY_BYTE);
  braid_transport_write_string (BRAID_TRANSPORT (p.ct), "abc");
  braid_transport_write_string (BRAID_TRANSPORT (p.ct), "defghijk");
  g_assert_true (braid_fake_reactor_pump (p.fake));
  g_assert_cmpuint (p.server->n_chunks, ==, 1);
  braid_fake_reactor_set_delivery (p.fake, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_reactor_run_until_idle (p.fake);
  braid_assert_bytes_equal ("abcdefghijk", 11, p.server->received->data, p.server->received->len);
  /* "a", then "bc", then "defghijk" */
  g_assert_cmpuint (p.server->n_chunks, ==, 3);
  g_assert_cmpuint (p.server->largest_chunk, ==, 8);
  pair_close (&p);
}

/* One transport's pump step must say whether it did anything: the fake
 * reactor stops pumping when no transport moved. */
static void
assert_step_moves (BraidFakeTransport *t)
{
  g_assert_true (braid_fake_transport_pump (t, BRAID_FAKE_DELIVERY_WHOLE, NULL));
}

static void
test_pump_reports_every_event (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  HalfOpen h = { g_string_new (NULL), 0, NULL };
  g_autoptr(BraidRecordingProtocol) closer = braid_recording_protocol_new ();
  g_autoptr(BraidCallbackProtocol) half_open = braid_callback_protocol_new (&half_open_callbacks, &h, NULL);
  BraidFakeTransport *ct = NULL, *st = NULL;

  g_test_summary ("A transport's pump step reports an EOF it delivered and the close that ends both directions");
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (closer), BRAID_PROTOCOL (half_open), &ct, &st);
  g_object_ref (ct);
  g_object_ref (st);

  braid_transport_lose_write_connection (BRAID_TRANSPORT (ct));
  assert_step_moves (ct);  /* sends the EOF */
  assert_step_moves (st);  /* reads it: the half-open protocol keeps writing */
  g_assert_cmpuint (h.n_eof, ==, 1);
  g_assert_false (braid_fake_transport_is_disconnecting (st));

  braid_transport_lose_write_connection (BRAID_TRANSPORT (st));
  assert_step_moves (st);  /* sends its EOF: its side is done */
  g_assert_true (braid_fake_transport_is_disconnected (st));
  assert_step_moves (ct);  /* reads it: both directions are finished */
  g_assert_true (braid_fake_transport_is_disconnected (ct));

  braid_fake_reactor_run_until_idle (fake);
  g_assert_error (h.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_error (closer->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_object_unref (ct);
  g_object_unref (st);
  g_clear_error (&h.lost_reason);
  g_string_free (h.received, TRUE);
}

static void
test_pump_reports_dropped_output (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  HalfOpen h = { g_string_new (NULL), 0, NULL };
  g_autoptr(BraidRecordingProtocol) closer = braid_recording_protocol_new ();
  g_autoptr(BraidCallbackProtocol) half_open = braid_callback_protocol_new (&half_open_callbacks, &h, NULL);
  BraidFakeTransport *ct = NULL, *st = NULL;

  g_test_summary ("A half-open transport whose peer has gone drops what it writes, and its pump step says so");
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (half_open), BRAID_PROTOCOL (closer), &ct, &st);
  g_object_ref (ct);
  braid_transport_lose_connection (BRAID_TRANSPORT (st));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (h.n_eof, ==, 1);
  g_assert_error (closer->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_null (h.lost_reason);

  braid_transport_write_string (BRAID_TRANSPORT (ct), "nobody reads this");
  assert_step_moves (ct);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (ct)), ==, 0);
  g_assert_false (braid_fake_reactor_pump (fake));

  braid_transport_lose_connection (BRAID_TRANSPORT (ct));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_error (h.lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_object_unref (ct);
  g_clear_error (&h.lost_reason);
  g_string_free (h.received, TRUE);
}

static void
test_reset_after_zero (void)
{
  Pair p;

  g_test_summary ("reset_after(0) with nothing to send resets both sides at the next pump step, which says so");
  pair_open (&p, BRAID_FAKE_DELIVERY_WHOLE);
  g_object_ref (p.st);
  braid_fake_transport_reset_after (p.st, 0);
  assert_step_moves (p.st);
  g_assert_true (braid_fake_transport_is_disconnected (p.st));
  braid_fake_reactor_run_until_idle (p.fake);
  g_assert_error (p.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_error (p.server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_object_unref (p.st);
  pair_close (&p);
}

/* ---- the timer queue, on a clock of the test's own ---- */

typedef struct {
  gint64 now;
  guint changes;
  GString *log;
} QueueClock;

static gint64
queue_clock_now (gpointer data)
{
  return ((QueueClock *) data)->now;
}

static void
count_change (gpointer data)
{
  ((QueueClock *) data)->changes++;
}

typedef struct {
  GString *log;
  const gchar *name;
} LogItem;

static void
count_destroyed (gpointer data)
{
  (*(guint *) data)++;
}

static void
fail_if_run (gpointer data)
{
  g_error ("a call that must not run ran");
}

static void
append_name (gpointer data)
{
  LogItem *item = data;

  g_string_append (item->log, item->name);
}

typedef struct {
  BraidTimerQueue *queue;
  GString *log;
  guint n_runs;
} Chain;

static void
chain_step (gpointer data)
{
  Chain *chain = data;

  g_string_append_c (chain->log, 'c');
  if (++chain->n_runs < 1000)
    braid_delayed_call_unref (braid_timer_queue_add (chain->queue, 0, chain_step, chain, NULL));
}

static void
reset_to_now (gpointer data)
{
  braid_delayed_call_reset (data, 0);
}

static void
test_timer_queue_run_due_is_a_snapshot (void)
{
  QueueClock clock = { 1000, 0, g_string_new (NULL) };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);
  Chain chain = { queue, clock.log, 0 };
  LogItem a = { clock.log, "a" }, b = { clock.log, "b" };
  g_autoptr(BraidDelayedCall) cb = NULL;

  g_test_summary ("A run of due calls runs those queued when it began: a call added or moved while it runs "
                  "waits for the next run, even if it is due already (Twisted's runUntilCurrent), so a "
                  "call that reschedules itself at zero delay cannot keep a reactor from its I/O");
  braid_delayed_call_unref (braid_timer_queue_add (queue, 0, chain_step, &chain, NULL));
  braid_delayed_call_unref (braid_timer_queue_add (queue, 0, append_name, &a, NULL));
  cb = braid_timer_queue_add (queue, 10, append_name, &b, NULL);
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1000), ==, 2);
  g_assert_cmpstr (clock.log->str, ==, "ca");
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1000), ==, 1);
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1000), ==, 1);
  g_assert_cmpstr (clock.log->str, ==, "cacc");
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, 2);

  /* Moved while a run is on, to a time that run has reached: it waits too. */
  clock.now = 1005;
  chain.n_runs = 1000;  /* the chain's next step is its last */
  braid_delayed_call_unref (braid_timer_queue_add (queue, 0, reset_to_now, cb, NULL));
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1005), ==, 2);
  g_assert_cmpstr (clock.log->str, ==, "caccc");
  g_assert_cmpint (braid_delayed_call_get_time (cb), ==, 1005);
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1005), ==, 1);
  g_assert_cmpstr (clock.log->str, ==, "cacccb");
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, 0);
  braid_timer_queue_free (queue);
  g_string_free (clock.log, TRUE);
}

static void
test_timer_queue_notifies_changes (void)
{
  QueueClock clock = { 1000, 0, g_string_new (NULL) };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);
  LogItem a = { clock.log, "a" }, b = { clock.log, "b" };
  g_autoptr(BraidDelayedCall) ca = NULL;
  g_autoptr(BraidDelayedCall) cb = NULL;

  g_test_summary ("The timer queue tells its reactor, with the data it was given, each time its earliest time may "
                  "have moved: add, reset, delay, cancel, and a run of even one call; a run of none is silent");
  braid_timer_queue_set_changed_func (queue, count_change, &clock);
  ca = braid_timer_queue_add (queue, 10, append_name, &a, NULL);
  g_assert_cmpuint (clock.changes, ==, 1);
  cb = braid_timer_queue_add (queue, 20, append_name, &b, NULL);
  g_assert_cmpuint (clock.changes, ==, 2);
  braid_delayed_call_reset (cb, 5);
  g_assert_cmpuint (clock.changes, ==, 3);
  g_assert_cmpint (braid_timer_queue_next_time (queue), ==, 1005);
  braid_delayed_call_delay (cb, 100);
  g_assert_cmpuint (clock.changes, ==, 4);
  g_assert_cmpint (braid_delayed_call_get_time (cb), ==, 1105);
  g_assert_cmpint (braid_timer_queue_next_time (queue), ==, 1010);

  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1009), ==, 0);
  g_assert_cmpuint (clock.changes, ==, 4);
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1010), ==, 1);
  g_assert_cmpstr (clock.log->str, ==, "a");
  g_assert_cmpuint (clock.changes, ==, 5);

  braid_delayed_call_cancel (cb);
  g_assert_cmpuint (clock.changes, ==, 6);
  g_assert_cmpint (braid_timer_queue_next_time (queue), ==, -1);
  braid_timer_queue_free (queue);
  g_string_free (clock.log, TRUE);
}

static void
test_timer_queue_free_releases_pending (void)
{
  QueueClock clock = { 0, 0, NULL };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);
  guint destroyed = 0;
  g_autoptr(BraidDelayedCall) first = NULL;
  g_autoptr(BraidDelayedCall) second = NULL;

  g_test_summary ("Freeing a queue releases the data of every pending call once, without running it, and leaves "
                  "the handles cancelled; freeing NULL does nothing");
  first = braid_timer_queue_add (queue, 10, fail_if_run, &destroyed, count_destroyed);
  second = braid_timer_queue_add (queue, 20, fail_if_run, &destroyed, count_destroyed);
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, 2);
  braid_timer_queue_free (queue);
  g_assert_cmpuint (destroyed, ==, 2);
  g_assert_false (braid_delayed_call_is_active (first));
  g_assert_true (braid_delayed_call_was_cancelled (second));
  braid_timer_queue_free (NULL);
}

static void
test_delayed_call_refuses_null (void)
{
  QueueClock clock = { 0, 0, NULL };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);

  g_test_summary ("Every delayed-call function refuses a NULL handle with a critical and a neutral result");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*call != NULL*");
  braid_delayed_call_unref (NULL);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*call != NULL*");
  g_assert_null (braid_delayed_call_ref (NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*call != NULL*");
  g_assert_false (braid_delayed_call_is_active (NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*call != NULL*");
  g_assert_cmpint (braid_delayed_call_get_time (NULL), ==, 0);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*call != NULL*");
  braid_delayed_call_cancel (NULL);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*queue != NULL*");
  g_assert_null (braid_timer_queue_add (NULL, 0, fail_if_run, NULL, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*func != NULL*");
  g_assert_null (braid_timer_queue_add (queue, 0, NULL, NULL, NULL));
  g_test_assert_expected_messages ();
  braid_timer_queue_free (queue);
}

/* ---- the timer queue against a model: a list kept sorted by (time, order of scheduling) ---- */

typedef struct {
  gint64 time;
  guint64 order;              /* when it was scheduled or last moved */
  guint id;
  BraidDelayedCall *call;     /* (owned) */
  GArray *ran;                /* (unowned): ids in the order they ran */
} ModelCall;

static void
model_call_ran (gpointer data)
{
  ModelCall *m = data;

  g_array_append_val (m->ran, m->id);
}

static gint
model_compare (gconstpointer a, gconstpointer b)
{
  const ModelCall *x = *(ModelCall * const *) a, *y = *(ModelCall * const *) b;

  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static void
model_call_free (gpointer data)
{
  ModelCall *m = data;

  g_clear_pointer (&m->call, braid_delayed_call_unref);
  g_free (m);
}

/* Checks length, earliest time and the pending list's order against the
 * model's pending calls, sorted. */
static void
model_check (BraidTimerQueue *queue, GPtrArray *pending)
{
  g_autoptr(GPtrArray) got = braid_timer_queue_get_pending (queue);

  g_ptr_array_sort (pending, model_compare);
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, pending->len);
  g_assert_cmpuint (got->len, ==, pending->len);
  for (guint i = 0; i < got->len; i++)
    g_assert_true (g_ptr_array_index (got, i) == ((ModelCall *) g_ptr_array_index (pending, i))->call);
  g_assert_cmpint (braid_timer_queue_next_time (queue), ==,
                   pending->len > 0 ? ((ModelCall *) g_ptr_array_index (pending, 0))->time : -1);
}

/* Runs what is due at @now in the model's order; checks the queue ran the same. */
static void
model_run_due (BraidTimerQueue *queue, GPtrArray *pending, GPtrArray *done, GArray *ran, gint64 now)
{
  g_autoptr(GArray) expected = g_array_new (FALSE, FALSE, sizeof (guint));

  g_ptr_array_sort (pending, model_compare);
  while (pending->len > 0 && ((ModelCall *) g_ptr_array_index (pending, 0))->time <= now)
    {
      ModelCall *m = g_ptr_array_steal_index (pending, 0);

      g_array_append_val (expected, m->id);
      g_ptr_array_add (done, m);
    }
  g_array_set_size (ran, 0);
  g_assert_cmpuint (braid_timer_queue_run_due (queue, now), ==, expected->len);
  g_assert_cmpuint (ran->len, ==, expected->len);
  for (guint i = 0; i < ran->len; i++)
    g_assert_cmpuint (g_array_index (ran, guint, i), ==, g_array_index (expected, guint, i));
}

static void
model_round (guint32 seed)
{
  /* More delays than the queue has lanes, a clock that sometimes goes
   * back, resets and delays: every path between lanes and the sorted
   * sequence, against the model. */
  static const gint64 delays[] = { 0, 1, 5, 10, 10, 10, 100, 100, 250, 1000, 1000, 3000, 7, 9, 11, 13 };
  QueueClock clock = { 1000, 0, NULL };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func (model_call_free);
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func (model_call_free);
  g_autoptr(GArray) ran = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint64 order = 0;

  for (guint step = 0; step < 400; step++)
    {
      guint op = (guint) g_rand_int_range (rand, 0, 10);
      ModelCall *m;

      if (op < 5 || pending->len == 0)
        {
          gint64 delay = delays[g_rand_int_range (rand, 0, G_N_ELEMENTS (delays))];

          m = g_new0 (ModelCall, 1);
          m->id = step;
          m->ran = ran;
          m->time = clock.now + delay;
          m->order = order++;
          m->call = braid_timer_queue_add (queue, delay, model_call_ran, m, NULL);
          g_ptr_array_add (pending, m);
        }
      else if (op == 5)
        {
          m = g_ptr_array_steal_index (pending, (guint) g_rand_int_range (rand, 0, (gint32) pending->len));
          braid_delayed_call_cancel (m->call);
          g_ptr_array_add (done, m);
        }
      else if (op == 6)
        {
          gint64 delay = delays[g_rand_int_range (rand, 0, G_N_ELEMENTS (delays))];

          m = g_ptr_array_index (pending, (guint) g_rand_int_range (rand, 0, (gint32) pending->len));
          braid_delayed_call_reset (m->call, delay);
          m->time = clock.now + delay;
          m->order = order++;
        }
      else if (op == 7)
        {
          gint64 extra = g_rand_int_range (rand, -50, 200);

          m = g_ptr_array_index (pending, (guint) g_rand_int_range (rand, 0, (gint32) pending->len));
          braid_delayed_call_delay (m->call, extra);
          m->time += extra;
          m->order = order++;
        }
      else if (op == 8)
        clock.now -= g_rand_int_range (rand, 0, 20);  /* a clock that goes back, as a test's may */
      else
        {
          clock.now += g_rand_int_range (rand, 0, 300);
          model_run_due (queue, pending, done, ran, clock.now);
        }
      model_check (queue, pending);
    }
  model_run_due (queue, pending, done, ran, G_MAXINT64);
  model_check (queue, pending);
  braid_timer_queue_free (queue);
}

static void
test_timer_queue_model (void)
{
  g_test_summary ("Random adds with a mix of delays (more kinds than the queue keeps lanes for), cancels, resets, "
                  "delays and a clock that sometimes goes back: the queue runs calls in exactly the order, and at "
                  "the times, of a plain sorted list by (time, order of scheduling), and its length, earliest "
                  "time and pending list agree with it after every step");
  for (guint32 seed = 1; seed <= 50; seed++)
    model_round (seed);
}

static void
test_timer_queue_same_time_across_delays (void)
{
  QueueClock clock = { 1000, 0, g_string_new (NULL) };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);
  LogItem a = { clock.log, "a" }, b = { clock.log, "b" }, c = { clock.log, "c" }, d = { clock.log, "d" };

  g_test_summary ("Calls due at the same instant run in the order they were scheduled, whatever delays they were "
                  "scheduled with, and one scheduled after the clock went back runs before those due later");
  braid_delayed_call_unref (braid_timer_queue_add (queue, 30, append_name, &a, NULL));   /* 1030 */
  clock.now = 1020;
  braid_delayed_call_unref (braid_timer_queue_add (queue, 10, append_name, &b, NULL));   /* 1030 */
  clock.now = 1000;
  braid_delayed_call_unref (braid_timer_queue_add (queue, 30, append_name, &c, NULL));   /* 1030 */
  braid_delayed_call_unref (braid_timer_queue_add (queue, 10, append_name, &d, NULL));   /* 1010, after a clock went back */
  g_assert_cmpint (braid_timer_queue_next_time (queue), ==, 1010);
  g_assert_cmpuint (braid_timer_queue_run_due (queue, 1030), ==, 4);
  g_assert_cmpstr (clock.log->str, ==, "dabc");
  braid_timer_queue_free (queue);
  g_string_free (clock.log, TRUE);
}

static void
count_calls (gpointer data)
{
  (*(guint *) data)++;
}

static void
test_timer_queue_lanes (void)
{
  QueueClock clock = { 1000, 0, NULL };
  BraidTimerQueue *queue = braid_timer_queue_new (queue_clock_now, &clock);
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) braid_delayed_call_unref);
  guint ninth = 0, ran = 0;

  g_test_summary ("Calls of up to 8 delays wait in lanes, none in the sorted sequence, however many there are and "
                  "as the clock moves; a ninth delay goes to the sequence until a lane empties, and then takes "
                  "that lane; a call that ran or was cancelled has its data released once");
  for (guint round = 0; round < 3; round++, clock.now += 7)
    for (gint64 d = 1; d <= 8; d++)
      for (guint i = 0; i < 50; i++)
        g_ptr_array_add (calls, braid_timer_queue_add (queue, d * 1000, count_calls, &ran, NULL));
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, 1200);
  g_assert_cmpuint (braid_timer_queue_get_n_sorted (queue), ==, 0);
  g_ptr_array_add (calls, braid_timer_queue_add (queue, 9000, count_calls, &ninth, count_destroyed));
  g_assert_cmpuint (braid_timer_queue_get_n_sorted (queue), ==, 1);

  /* empty the lane of delay 1000 (its calls cancelled), then the ninth delay takes it */
  for (guint i = 0; i < calls->len; i++)
    {
      BraidDelayedCall *call = g_ptr_array_index (calls, i);

      if (braid_delayed_call_get_time (call) - 1000 <= 1000 + 14 && braid_delayed_call_get_time (call) - 1000 >= 1000)
        braid_delayed_call_cancel (call);
    }
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, 1051);
  g_ptr_array_add (calls, braid_timer_queue_add (queue, 9000, count_calls, &ninth, count_destroyed));
  g_assert_cmpuint (braid_timer_queue_get_n_sorted (queue), ==, 1);
  g_assert_cmpuint (braid_timer_queue_get_length (queue), ==, 1052);

  /* run everything: each call once, and the two with a destroy notify
   * counted twice each (ran, then released) */
  g_assert_cmpuint (braid_timer_queue_run_due (queue, G_MAXINT64), ==, 1052);
  g_assert_cmpuint (ran, ==, 1050);
  g_assert_cmpuint (ninth, ==, 4);
  g_assert_cmpuint (braid_timer_queue_get_n_sorted (queue), ==, 0);
  braid_timer_queue_free (queue);
}


static void
test_call_later_now (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  guint n = 0;

  g_test_summary ("A call with a delay of 0, or a negative one, is due now: it runs without the "
                  "clock moving");
  braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (fake), 0, count_calls, &n, NULL));
  braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (fake), -5, count_calls, &n, NULL));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (fake)), ==, 0);
}

typedef struct {
  BraidReactor *reactor;
  guint n_runs;
} Livelock;

static void
reschedule_at_zero_delay (gpointer data)
{
  Livelock *livelock = data;

  /* Printed as it happens: the guard's critical ends the process. */
  g_print ("run %u\n", ++livelock->n_runs);
  braid_delayed_call_unref (braid_reactor_call_later (livelock->reactor, 0, reschedule_at_zero_delay,
                                                      livelock, NULL));
}

static void
test_livelock_guard (void)
{
  g_test_summary ("A call that reschedules itself at zero delay is a livelock: run_until_idle gives "
                  "up with a critical after exactly its step limit");
  if (g_test_subprocess ())
    {
      g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
      Livelock livelock = { BRAID_REACTOR (fake), 0 };

      g_assert_cmpuint (braid_fake_reactor_get_idle_step_limit (fake), ==, 10000000);
      braid_fake_reactor_set_idle_step_limit (fake, 50);
      braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (fake), 0, reschedule_at_zero_delay,
                                                          &livelock, NULL));
      braid_fake_reactor_run_until_idle (fake);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*still busy after 50 steps*livelock*");
  /* Steps 0 to 50: one pump each, one run of the call per pump. */
  g_test_trap_assert_stdout ("*\nrun 51\n");
  g_test_trap_assert_stdout_unmatched ("*run 52*");
}

static void
test_connect_releases_factories (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(BraidProtocolFactory) sf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  BraidProtocolFactory *cf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) refused = NULL;
  g_autoptr(GAsyncResult) made = NULL;
  g_autoptr(BraidProtocol) client = NULL;

  g_test_summary ("A settled connect, made or refused, lets go of the client's protocol factory");
  listener = braid_reactor_listen (r, "tcp:11211", sf, &error);
  g_assert_no_error (error);
  braid_reactor_connect_async (r, "tcp:localhost:1", cf, NULL, braid_test_store_result, &refused);
  braid_reactor_connect_async (r, "tcp:localhost:11211", cf, NULL, braid_test_store_result, &made);
  braid_fake_reactor_run_until_idle (fake);
  g_assert_null (braid_reactor_connect_finish (r, refused, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  client = braid_reactor_connect_finish (r, made, NULL);
  g_assert_nonnull (client);
  g_assert_finalize_object (cf);
  braid_transport_lose_connection (braid_protocol_get_transport (client));
  braid_fake_reactor_run_until_idle (fake);
}

static void
test_listener_counts_connections (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(BraidProtocolFactory) sf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidProtocolFactory) cf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(BraidProtocol) a = NULL;
  g_autoptr(BraidProtocol) b = NULL;
  g_autoptr(BraidRecordingProtocol) pc = braid_recording_protocol_new ();
  g_autoptr(BraidRecordingProtocol) ps = braid_recording_protocol_new ();
  BraidFakeTransport *pair_transport;

  g_test_summary ("A listener counts its open connections, each one until it closes, whichever side "
                  "closes it; a pair connected directly counts on no listener");
  listener = braid_reactor_listen (r, "tcp:0", sf, NULL);
  g_assert_nonnull (listener);
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (pc), BRAID_PROTOCOL (ps), &pair_transport, NULL);
  {
    g_autofree gchar *endpoint = g_strdup_printf ("tcp:localhost:%u", braid_listener_get_port (listener));

    braid_reactor_connect_async (r, endpoint, cf, NULL, braid_test_store_result, &first);
    braid_reactor_connect_async (r, endpoint, cf, NULL, braid_test_store_result, &second);
  }
  braid_fake_reactor_run_until_idle (fake);
  a = braid_reactor_connect_finish (r, first, NULL);
  b = braid_reactor_connect_finish (r, second, NULL);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, 2);

  braid_transport_lose_connection (BRAID_TRANSPORT (pair_transport));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, 2);

  braid_transport_lose_connection (braid_protocol_get_transport (a));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, 1);
  braid_transport_lose_connection (braid_protocol_get_transport (b));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_listener_get_n_connections (listener), ==, 0);
}

static void
test_stop_before_run_is_spent (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  guint n = 0;

  g_test_summary ("A stop() before run() stops only that one run: the next run() runs the pending calls");
  braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (fake), 1000, count_calls, &n, NULL));
  braid_reactor_stop (BRAID_REACTOR (fake));
  braid_reactor_run (BRAID_REACTOR (fake));
  g_assert_cmpuint (n, ==, 0);
  braid_reactor_run (BRAID_REACTOR (fake));
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (fake)), ==, 1000);
}

static void
test_run_until_idle_refuses_null (void)
{
  g_test_summary ("run_until_idle() refuses a NULL reactor itself, with its own critical");
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "braid_fake_reactor_run_until_idle: *");
  braid_fake_reactor_run_until_idle (NULL);
  g_test_assert_expected_messages ();
}

static void
note_order (gpointer data)
{
  GString *order = data;

  g_string_append_c (order, (gchar) ('a' + order->len));
}

typedef struct {
  GString *order;
  gchar mark;
} Mark;

static void
append_mark (gpointer data)
{
  Mark *m = data;

  g_string_append_c (m->order, m->mark);
}

static void
test_advance_boundaries (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(GString) order = g_string_new (NULL);
  Mark first = { order, '1' }, second = { order, '2' };
  guint n = 0;

  g_test_summary ("advance() runs a call due exactly at the end of the step and not one due a "
                  "microsecond later; calls due at the same time run in the order they were scheduled, "
                  "whatever their delays");
  braid_delayed_call_unref (braid_reactor_call_later (r, 1000, count_calls, &n, NULL));
  braid_fake_reactor_advance (fake, 999);
  g_assert_cmpuint (n, ==, 0);
  braid_fake_reactor_advance (fake, 1);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (braid_reactor_now (r), ==, 1000);

  braid_delayed_call_unref (braid_reactor_call_later (r, 2000, append_mark, &first, NULL));
  braid_fake_reactor_advance (fake, 500);
  braid_delayed_call_unref (braid_reactor_call_later (r, 1500, append_mark, &second, NULL));
  braid_fake_reactor_advance (fake, 1500);
  g_assert_cmpstr (order->str, ==, "12");
  g_assert_cmpint (braid_reactor_now (r), ==, 3000);
}

static void
test_run_all_timers_limit (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(GString) order = g_string_new (NULL);

  g_test_summary ("run_all_timers() runs the calls due up to its limit, one due exactly at the limit "
                  "included, and says whether the queue emptied; the clock stops at the last call run");
  braid_delayed_call_unref (braid_reactor_call_later (r, 500, note_order, order, NULL));
  braid_delayed_call_unref (braid_reactor_call_later (r, 1500, note_order, order, NULL));
  g_assert_false (braid_fake_reactor_run_all_timers (fake, 1000));
  g_assert_cmpstr (order->str, ==, "a");
  g_assert_cmpint (braid_reactor_now (r), ==, 500);
  g_assert_true (braid_fake_reactor_run_all_timers (fake, 1000));
  g_assert_cmpstr (order->str, ==, "ab");
  g_assert_cmpint (braid_reactor_now (r), ==, 1500);
  g_assert_true (braid_fake_reactor_run_all_timers (fake, 0));
}

static void
test_real_time_set_later (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  const gint64 steps[] = { 10, 0, 20, -1 };

  g_test_summary ("Wall time starts at 2026-01-01; set after the clock moved, it reads what was set "
                  "and moves on from there; pump_steps() takes a step of 0 as a step");
  g_assert_cmpint (braid_reactor_real_time (r), ==, G_GINT64_CONSTANT (1767225600) * G_USEC_PER_SEC);
  braid_fake_reactor_advance (fake, 5 * G_USEC_PER_SEC);
  braid_fake_reactor_set_real_time (fake, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC);
  g_assert_cmpint (braid_reactor_real_time (r), ==, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC);
  braid_fake_reactor_pump_steps (fake, steps);
  g_assert_cmpint (braid_reactor_real_time (r), ==, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC + 30);
  g_assert_cmpint (braid_reactor_now (r), ==, 5 * G_USEC_PER_SEC + 30);
}

static void
test_drop_listener_by_endpoint (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(BraidProtocolFactory) sf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) a = NULL;
  g_autoptr(BraidListener) b = NULL;

  g_test_summary ("drop_listener() closes the one listener on that endpoint and leaves the others");
  a = braid_reactor_listen (r, "tcp:11211", sf, NULL);
  b = braid_reactor_listen (r, "tcp:11212", sf, NULL);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  braid_fake_reactor_drop_listener (fake, "tcp:11213");
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (fake), ==, 2);
  braid_fake_reactor_drop_listener (fake, "tcp:11211");
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (fake), ==, 1);
  g_assert_false (braid_listener_is_listening (a));
  g_assert_true (braid_listener_is_listening (b));
  braid_fake_reactor_drop_listener (fake, "tcp:11212");
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (fake), ==, 0);
  g_assert_false (braid_listener_is_listening (b));
}

static guint16
port_of (GSocketAddress *address)
{
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static BraidProtocol *
build_noting_port (GSocketAddress *address, gpointer user_data)
{
  *(guint16 *) user_data = port_of (address);
  return BRAID_PROTOCOL (braid_recording_protocol_new ());
}

static void
test_client_ports (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidReactor *r = BRAID_REACTOR (fake);
  guint16 told = 0;
  g_autoptr(BraidProtocolFactory) sf = braid_protocol_factory_new (build_noting_port, &told, NULL);
  g_autoptr(BraidProtocolFactory) cf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = braid_reactor_listen (r, "tcp:11211", sf, NULL);
  g_autoptr(BraidRecordingProtocol) c = braid_recording_protocol_new ();
  g_autoptr(BraidRecordingProtocol) s = braid_recording_protocol_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(BraidProtocol) client = NULL;
  BraidFakeTransport *pair_transport;
  BraidTransport *ct;
  guint16 first;

  g_test_summary ("Each connection's client side gets the next client port, as an OS hands out "
                  "ephemeral ports; the server's factory is told the address the client has");
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (c), BRAID_PROTOCOL (s), &pair_transport, NULL);
  first = port_of (braid_transport_get_host_address (BRAID_TRANSPORT (pair_transport)));
  braid_reactor_connect_async (r, "tcp:localhost:11211", cf, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (fake);
  client = braid_reactor_connect_finish (r, result, NULL);
  g_assert_nonnull (client);
  ct = braid_protocol_get_transport (client);
  g_assert_cmpuint (port_of (braid_transport_get_host_address (ct)), ==, first + 1);
  g_assert_cmpuint (told, ==, first + 1);
  g_assert_cmpuint (port_of (braid_transport_get_peer_address (ct)), ==, 11211);
  braid_transport_lose_connection (ct);
  braid_transport_lose_connection (BRAID_TRANSPORT (pair_transport));
  braid_fake_reactor_run_until_idle (fake);
}

static void
test_dispose_releases_protocols (void)
{
  BraidFakeReactor *fake = new_fake ();
  BraidRecordingProtocol *c = braid_recording_protocol_new ();
  BraidRecordingProtocol *s = braid_recording_protocol_new ();
  BraidRecordingProtocol *c2 = braid_recording_protocol_new ();
  BraidRecordingProtocol *s2 = braid_recording_protocol_new ();

  g_test_summary ("A reactor released with connections still open lets go of every connection's "
                  "protocols, both sides of each");
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (c), BRAID_PROTOCOL (s), NULL, NULL);
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (c2), BRAID_PROTOCOL (s2), NULL, NULL);
  g_object_add_weak_pointer (G_OBJECT (c), (gpointer *) &c);
  g_object_add_weak_pointer (G_OBJECT (s), (gpointer *) &s);
  g_object_add_weak_pointer (G_OBJECT (c2), (gpointer *) &c2);
  g_object_add_weak_pointer (G_OBJECT (s2), (gpointer *) &s2);
  g_object_unref (c);
  g_object_unref (s);
  g_object_unref (c2);
  g_object_unref (s2);
  g_assert_finalize_object (fake);
  g_assert_null (c);
  g_assert_null (s);
  g_assert_null (c2);
  g_assert_null (s2);
}

static void
test_run_moves_bytes (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  g_autoptr(BraidRecordingProtocol) c = braid_recording_protocol_new ();
  g_autoptr(BraidRecordingProtocol) s = braid_recording_protocol_new ();
  BraidFakeTransport *ct;

  g_test_summary ("braid_reactor_run() on the fake delivers pending bytes even when no call is pending");
  braid_fake_connect_pair (fake, BRAID_PROTOCOL (c), BRAID_PROTOCOL (s), &ct, NULL);
  braid_transport_write_string (BRAID_TRANSPORT (ct), "ping");
  braid_reactor_run (BRAID_REACTOR (fake));
  braid_assert_bytes_equal ("ping", 4, s->received->data, s->received->len);
  braid_transport_lose_connection (BRAID_TRANSPORT (ct));
  braid_fake_reactor_run_until_idle (fake);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fake/clock/advance-nested", test_advance_runs_nested);
  g_test_add_func ("/fake/clock/wall-time", test_clock);
  g_test_add_func ("/fake/clock/pending-calls", test_pending_calls);
  g_test_add_func ("/fake/clock/call-later-now", test_call_later_now);
  g_test_add_func ("/fake/clock/livelock-guard", test_livelock_guard);
  g_test_add_func ("/fake/delivery/policies", test_delivery_policies);
  g_test_add_func ("/fake/delivery/lose-connection-order", test_lose_connection_order);
  g_test_add_func ("/fake/delivery/same-seed", test_same_seed_same_chunks);
  g_test_add_func ("/fake/fault/reset-after", test_reset_after);
  g_test_add_func ("/fake/fault/stall", test_stall);
  g_test_add_func ("/fake/fault/pause-reading", test_pause_reading);
  g_test_add_func ("/fake/fault/abort", test_abort_records);
  g_test_add_func ("/fake/transport/standalone", test_standalone_transport);
  g_test_add_func ("/fake/connect/manual", test_manual_connects);
  g_test_add_func ("/fake/connect/tls", test_tls_as_tcp);
  g_test_add_func ("/fake/fault/reset-after-exact", test_reset_after_exact);
  g_test_add_func ("/fake/delivery/random-chunks", test_random_delivery_chunks);
  g_test_add_func ("/fake/delivery/peer-gone", test_peer_gone_drops_pending);
  g_test_add_func ("/fake/transport/half-close-both-directions", test_half_close_both_directions);
  g_test_add_func ("/fake/transport/half-close-then-shutdown", test_half_close_then_shutdown);
  g_test_add_func ("/fake/transport/standalone-lifecycle", test_standalone_lifecycle);
  g_test_add_func ("/fake/transport/standalone-details", test_standalone_details);
  g_test_add_func ("/fake/delivery/whole-after-partial", test_whole_after_partial);
  g_test_add_func ("/fake/pump/reports-every-event", test_pump_reports_every_event);
  g_test_add_func ("/fake/pump/reports-dropped-output", test_pump_reports_dropped_output);
  g_test_add_func ("/fake/fault/reset-after-zero", test_reset_after_zero);
  g_test_add_func ("/fake/timer-queue/notifies-changes", test_timer_queue_notifies_changes);
  g_test_add_func ("/fake/timer-queue/run-due-is-a-snapshot", test_timer_queue_run_due_is_a_snapshot);
  g_test_add_func ("/fake/timer-queue/free-releases-pending", test_timer_queue_free_releases_pending);
  g_test_add_func ("/fake/timer-queue/refuses-null", test_delayed_call_refuses_null);
  g_test_add_func ("/fake/timer-queue/model", test_timer_queue_model);
  g_test_add_func ("/fake/timer-queue/lanes", test_timer_queue_lanes);
  g_test_add_func ("/fake/timer-queue/same-time-across-delays", test_timer_queue_same_time_across_delays);
  g_test_add_func ("/fake/connect/releases-factories", test_connect_releases_factories);
  g_test_add_func ("/fake/connect/listener-counts", test_listener_counts_connections);
  g_test_add_func ("/fake/run/stop-before-run-is-spent", test_stop_before_run_is_spent);
  g_test_add_func ("/fake/run/until-idle-refuses-null", test_run_until_idle_refuses_null);
  g_test_add_func ("/fake/clock/advance-boundaries", test_advance_boundaries);
  g_test_add_func ("/fake/clock/run-all-timers-limit", test_run_all_timers_limit);
  g_test_add_func ("/fake/clock/real-time-set-later", test_real_time_set_later);
  g_test_add_func ("/fake/connect/drop-listener-by-endpoint", test_drop_listener_by_endpoint);
  g_test_add_func ("/fake/connect/client-ports", test_client_ports);
  g_test_add_func ("/fake/connect/dispose-releases-protocols", test_dispose_releases_protocols);
  g_test_add_func ("/fake/run/moves-bytes", test_run_moves_bytes);
  return g_test_run ();
}
