/* braid — the reactor contract, written once and run against both
 * reactors: /reactor/fake/... and /reactor/glib/... */
#include "test-support.h"
#include "glib-reactor.h"

#include <glib/gstdio.h>
#include <string.h>

/* Real-reactor runs fail after this much real time. */
#define REAL_DEADLINE_US (10 * G_USEC_PER_SEC)

typedef struct _Fixture Fixture;

typedef struct {
  const gchar *name;
  BraidReactor *(*create) (void);
  /* Lets (at least) @us of reactor time pass, running what is due. */
  void (*advance) (Fixture *f, gint64 us);
  /* Runs until @cond is true (fails the test if it never is). */
  void (*run_until) (Fixture *f, gboolean (*cond) (gpointer), gpointer data);
  /* Connections are tls: rather than tcp: (the GLib reactor only). */
  gboolean tls;
} ReactorKind;

/* For the glib-tls kind: made once in main(), NULL when TLS is missing. */
static BraidTestCertificate *certificate;
static gchar *tls_skip_reason;

struct _Fixture
{
  const ReactorKind *kind;
  BraidReactor *reactor;
  BraidDelayedCall *deadline;
  gboolean deadline_hit;
};

/* ---- the fake ---- */

static BraidReactor *
create_fake (void)
{
  return BRAID_REACTOR (braid_fake_reactor_new ((guint32) g_test_rand_int ()));
}

static void
advance_fake (Fixture *f, gint64 us)
{
  braid_fake_reactor_advance (BRAID_FAKE_REACTOR (f->reactor), us);
}

static void
run_until_fake (Fixture *f, gboolean (*cond) (gpointer), gpointer data)
{
  BraidFakeReactor *fake = BRAID_FAKE_REACTOR (f->reactor);

  braid_fake_reactor_run_until_idle (fake);
  /* Time moves only to the next pending call, so timers behave as they
   * would for real, just without waiting. */
  while (!cond (data))
    {
      GPtrArray *pending = braid_fake_reactor_get_pending_calls (fake);
      gint64 next = pending->len > 0
        ? braid_delayed_call_get_time (g_ptr_array_index (pending, 0)) : -1;

      g_ptr_array_unref (pending);
      g_assert_cmpint (next, >=, 0);  /* nothing left to run: cond can never hold */
      braid_fake_reactor_advance (fake, MAX (0, next - braid_reactor_now (f->reactor)));
    }
}

/* ---- the real one ---- */

static BraidReactor *
create_glib (void)
{
  return BRAID_REACTOR (braid_glib_reactor_new (NULL));
}

static void
advance_glib (Fixture *f, gint64 us)
{
  gint64 until = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < until)
    {
      g_autoptr(GSource) wake = g_timeout_source_new (MAX (1, (guint) ((until - g_get_monotonic_time ()) / 1000)));

      g_source_set_dummy_callback (wake);
      g_source_attach (wake, NULL);
      g_main_context_iteration (NULL, TRUE);
      g_source_destroy (wake);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
run_until_glib (Fixture *f, gboolean (*cond) (gpointer), gpointer data)
{
  while (!cond (data))
    {
      g_assert_false (f->deadline_hit);
      g_main_context_iteration (NULL, TRUE);
    }
}

static const ReactorKind kinds[] = {
  { "fake", create_fake, advance_fake, run_until_fake, FALSE },
  { "glib", create_glib, advance_glib, run_until_glib, FALSE },
};

/* The connection contract once more over TLS (tls-transport.c). */
static const ReactorKind tls_kind = { "glib-tls", create_glib, advance_glib, run_until_glib, TRUE };

static void
on_deadline (gpointer data)
{
  Fixture *f = data;

  f->deadline_hit = TRUE;
  g_error ("test deadline: the real reactor did not finish within %d s",
           (int) (REAL_DEADLINE_US / G_USEC_PER_SEC));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->kind = data;
  f->reactor = f->kind->create ();
  if (!BRAID_IS_FAKE_REACTOR (f->reactor))
    f->deadline = braid_reactor_call_later (f->reactor, REAL_DEADLINE_US, on_deadline, f, NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->deadline != NULL)
    {
      if (braid_delayed_call_is_active (f->deadline))
        braid_delayed_call_cancel (f->deadline);
      braid_delayed_call_unref (f->deadline);
    }
  if (BRAID_IS_FAKE_REACTOR (f->reactor))
    {
      braid_fake_reactor_run_until_idle (BRAID_FAKE_REACTOR (f->reactor));
      /* Every test ends with no timer left (STYLE lesson 2). */
      g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (BRAID_FAKE_REACTOR (f->reactor)), ==, 0);
    }
  else
    while (g_main_context_iteration (NULL, FALSE))
      ;
  g_assert_finalize_object (f->reactor);
}

/* ---- delayed calls ---- */

typedef struct {
  GString *log;
  const gchar *name;
} LogCall;

static void
log_call (gpointer data)
{
  LogCall *c = data;

  g_string_append (c->log, c->name);
}

static gboolean
log_has_length (gpointer data)
{
  LogCall *c = data;

  return c->log->len >= (gsize) GPOINTER_TO_SIZE (c->name);
}

static void
wait_for_log (Fixture *f, GString *log, gsize length)
{
  LogCall cond = { log, GSIZE_TO_POINTER (length) };

  f->kind->run_until (f, log_has_length, &cond);
}

static void
test_call_order (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) log = g_string_new (NULL);
  LogCall a = { log, "a" }, b = { log, "b" }, c = { log, "c" }, d = { log, "d" };
  g_autoptr(BraidDelayedCall) ca = NULL;
  g_autoptr(BraidDelayedCall) cb = NULL;
  g_autoptr(BraidDelayedCall) cc = NULL;
  g_autoptr(BraidDelayedCall) cd = NULL;
  gint64 before = braid_reactor_now (f->reactor);

  g_test_summary ("Delayed calls run in time order; calls due at the same time run in the order they were scheduled");

  ca = braid_reactor_call_later (f->reactor, 30000, log_call, &a, NULL);
  cb = braid_reactor_call_later (f->reactor, 10000, log_call, &b, NULL);
  cc = braid_reactor_call_later (f->reactor, 10000, log_call, &c, NULL);
  cd = braid_reactor_call_later (f->reactor, 0, log_call, &d, NULL);
  g_assert_true (braid_delayed_call_is_active (ca));
  /* Equal on the fake clock; on the real one cc may be a microsecond later. */
  g_assert_cmpint (braid_delayed_call_get_time (cb), <=, braid_delayed_call_get_time (cc));
  if (BRAID_IS_FAKE_REACTOR (f->reactor))
    g_assert_cmpint (braid_delayed_call_get_time (cb), ==, braid_delayed_call_get_time (cc));
  wait_for_log (f, log, 4);
  g_assert_cmpstr (log->str, ==, "dbca");
  g_assert_cmpint (braid_reactor_now (f->reactor) - before, >=, 30000);
  g_assert_false (braid_delayed_call_is_active (ca));
  g_assert_true (braid_delayed_call_was_called (ca));
  g_assert_false (braid_delayed_call_was_cancelled (ca));
}

static void
count_destroy (gpointer data)
{
  (*(guint *) data)++;
}

static void
fail_if_called (gpointer data)
{
  g_assert_not_reached ();
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) log = g_string_new (NULL);
  LogCall b = { log, "b" };
  guint destroyed = 0;
  g_autoptr(BraidDelayedCall) ca = NULL;
  g_autoptr(BraidDelayedCall) cb = NULL;

  g_test_summary ("A cancelled call never runs and releases its data at once; "
                  "cancelling a stale handle is a programming error");

  ca = braid_reactor_call_later (f->reactor, 5000, fail_if_called, &destroyed, count_destroy);
  cb = braid_reactor_call_later (f->reactor, 10000, log_call, &b, NULL);
  braid_delayed_call_cancel (ca);
  g_assert_cmpuint (destroyed, ==, 1);
  g_assert_false (braid_delayed_call_is_active (ca));
  g_assert_true (braid_delayed_call_was_cancelled (ca));
  wait_for_log (f, log, 1);
  g_assert_cmpstr (log->str, ==, "b");

  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*already cancelled*");
  braid_delayed_call_cancel (ca);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*already ran*");
  braid_delayed_call_cancel (cb);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*already ran*");
  braid_delayed_call_reset (cb, 10);
  g_test_assert_expected_messages ();
}

static void
test_reset_and_delay (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) log = g_string_new (NULL);
  LogCall a = { log, "a" }, b = { log, "b" }, c = { log, "c" };
  g_autoptr(BraidDelayedCall) ca = NULL;
  g_autoptr(BraidDelayedCall) cb = NULL;
  g_autoptr(BraidDelayedCall) cc = NULL;
  gint64 t;

  g_test_summary ("reset() moves a call to now + delay, delay() pushes it back by an extra amount");

  ca = braid_reactor_call_later (f->reactor, 500000, log_call, &a, NULL);
  cb = braid_reactor_call_later (f->reactor, 20000, log_call, &b, NULL);
  cc = braid_reactor_call_later (f->reactor, 100000, log_call, &c, NULL);
  braid_delayed_call_reset (ca, 10000);     /* a: now first */
  t = braid_delayed_call_get_time (cb);
  braid_delayed_call_delay (cb, 200000);   /* b: now after c */
  g_assert_cmpint (braid_delayed_call_get_time (cb), ==, t + 200000);
  wait_for_log (f, log, 3);
  g_assert_cmpstr (log->str, ==, "acb");
}

typedef struct {
  BraidReactor *reactor;
  GString *log;
  LogCall inner;
} SoonData;

static void
schedule_soon (gpointer data)
{
  SoonData *s = data;

  braid_reactor_call_soon (s->reactor, log_call, &s->inner, NULL);
  g_string_append (s->log, "outer");
}

static void
test_call_soon (Fixture *f, gconstpointer data)
{
  g_autoptr(GString) log = g_string_new (NULL);
  SoonData s = { f->reactor, log, { log, "+inner" } };

  g_test_summary ("call_soon runs after the current callback returns, never inside it");
  braid_reactor_call_soon (f->reactor, schedule_soon, &s, NULL);
  wait_for_log (f, log, strlen ("outer+inner"));
  g_assert_cmpstr (log->str, ==, "outer+inner");
}

static void
cancel_self (gpointer data)
{
  BraidDelayedCall **self = data;

  /* Twisted marks a call as called before running it. */
  g_assert_false (braid_delayed_call_is_active (*self));
  g_assert_true (braid_delayed_call_was_called (*self));
}

static void
test_active_inside_callback (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidDelayedCall) call = NULL;
  g_autoptr(GString) log = g_string_new (NULL);
  LogCall after = { log, "x" };
  g_autoptr(BraidDelayedCall) later = NULL;

  g_test_summary ("A call is marked called before its function runs");
  call = braid_reactor_call_later (f->reactor, 1000, cancel_self, &call, NULL);
  later = braid_reactor_call_later (f->reactor, 2000, log_call, &after, NULL);
  wait_for_log (f, log, 1);
}

/* ---- connections ---- */

typedef struct {
  Fixture *f;
  BraidListener *listener;
  GPtrArray *servers;           /* (element-type BraidRecordingProtocol) */
  BraidRecordingProtocol *client;
  GAsyncResult *result;
} Conn;

static gboolean
have_result (gpointer data)
{
  return ((Conn *) data)->result != NULL;
}

static void
conn_open (Conn *c, Fixture *f, gboolean echo)
{
  g_autoptr(BraidProtocolFactory) server_factory = NULL;
  g_autoptr(BraidProtocolFactory) client_factory = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;

  c->f = f;
  c->servers = g_ptr_array_new_with_free_func (g_object_unref);
  server_factory = braid_recording_factory_new (echo, c->servers);
  if (f->kind->tls)
    {
      g_autofree gchar *listen = g_strdup_printf ("tls:0:interface=127.0.0.1:certificate=%s:key=%s",
                                                  certificate->certificate, certificate->key);

      c->listener = braid_reactor_listen (f->reactor, listen, server_factory, &error);
    }
  else
    c->listener = braid_reactor_listen (f->reactor, "tcp:0:interface=127.0.0.1", server_factory, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_listener_get_port (c->listener), >, 0);

  if (f->kind->tls)
    endpoint = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", braid_listener_get_port (c->listener),
                                certificate->certificate);
  else
    endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", braid_listener_get_port (c->listener));
  client_factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  braid_reactor_connect_async (f->reactor, endpoint, client_factory, NULL,
                               braid_test_store_result, &c->result);
  f->kind->run_until (f, have_result, c);
  c->client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (f->reactor, c->result, &error));
  g_assert_no_error (error);
  g_assert_nonnull (c->client);
  g_assert_cmpuint (c->client->n_made, ==, 1);
}

static gboolean
server_accepted (gpointer data)
{
  return ((Conn *) data)->servers->len > 0;
}

static BraidRecordingProtocol *
conn_server (Conn *c)
{
  c->f->kind->run_until (c->f, server_accepted, c);
  return g_ptr_array_index (c->servers, 0);
}

static void
conn_close (Conn *c)
{
  braid_listener_stop (c->listener);
  g_clear_object (&c->listener);
  g_clear_object (&c->client);
  g_clear_object (&c->result);
  g_clear_pointer (&c->servers, g_ptr_array_unref);
}

typedef struct {
  BraidRecordingProtocol *p;
  gsize n;
} Received;

static gboolean
has_received (gpointer data)
{
  Received *r = data;

  return r->p->received->len >= r->n;
}

static void
wait_received (Fixture *f, BraidRecordingProtocol *p, gsize n)
{
  Received r = { p, n };

  f->kind->run_until (f, has_received, &r);
}

static gboolean
is_lost (gpointer data)
{
  return braid_recording_protocol_is_lost (data);
}

static void
test_echo (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *ct;

  g_test_summary ("listen and connect: bytes flow both ways and addresses match");
  conn_open (&c, f, TRUE);
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));
  braid_transport_write_string (ct, "hello, ");
  braid_transport_write_string (ct, "world");
  wait_received (f, c.client, 12);
  braid_assert_bytes_equal ("hello, world", 12, c.client->received->data, c.client->received->len);

  server = conn_server (&c);
  g_assert_cmpuint (server->n_made, ==, 1);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (braid_transport_get_peer_address (ct))),
                    ==, braid_listener_get_port (c.listener));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (braid_transport_get_host_address (ct))),
                    ==,
                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (
                      braid_transport_get_peer_address (braid_protocol_get_transport (BRAID_PROTOCOL (server))))));
  g_assert_cmpuint (braid_listener_get_n_connections (c.listener), ==, 1);

  braid_transport_lose_connection (ct);
  f->kind->run_until (f, is_lost, c.client);
  f->kind->run_until (f, is_lost, server);
  g_assert_error (c.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (braid_listener_get_n_connections (c.listener), ==, 0);
  conn_close (&c);
}

static void
test_write_then_lose (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *st;
  g_autoptr(GByteArray) expected = g_byte_array_new ();
  gsize big = 4 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc (big);

  g_test_summary ("lose_connection flushes everything written before it, in order, then closes; "
                  "writes after it are dropped, and the flush reports no output_drained (the protocol "
                  "asked to close: it may have let go of what a drain would resume)");
  for (gsize i = 0; i < big; i++)
    blob[i] = (guint8) (i * 7 + 3);
  conn_open (&c, f, FALSE);
  server = conn_server (&c);
  st = braid_protocol_get_transport (BRAID_PROTOCOL (server));

  braid_transport_write_string (st, "first\n");
  g_byte_array_append (expected, (const guint8 *) "first\n", 6);
  braid_transport_write (st, blob, big);
  g_byte_array_append (expected, blob, (guint) big);
  {
    GOutputVector v[] = { { "vec", 3 }, { "tor", 3 }, { "\n", 1 } };

    braid_transport_writev (st, v, G_N_ELEMENTS (v));
    g_byte_array_append (expected, (const guint8 *) "vector\n", 7);
  }
  {
    g_autoptr(GBytes) last = g_bytes_new_static ("last\n", 5);

    braid_transport_write_bytes (st, last);
    g_byte_array_append (expected, (const guint8 *) "last\n", 5);
  }
  braid_transport_lose_connection (st);
  g_assert_true (braid_transport_is_closing (st));
  braid_transport_write_string (st, "dropped");

  f->kind->run_until (f, is_lost, c.client);
  braid_assert_bytes_equal (expected->data, expected->len, c.client->received->data, c.client->received->len);
  g_assert_error (c.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  f->kind->run_until (f, is_lost, server);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (server->n_drained, ==, 0);
  conn_close (&c);
}

static gboolean
received_at_least (gpointer data)
{
  Conn *c = data;

  return c->client->received->len >= GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (c->client), "want"));
}

/* One of the mixed writes of test_mixed_writes_while_blocked: copies of
 * every size around the transports' buffer limits, shared bytes, vectors. */
static void
write_mixed (BraidTransport *st, guint i, GByteArray *expected)
{
  gsize size = (i * 7919) % (40 * 1024) + 1;
  g_autofree guint8 *piece = g_malloc (size);

  for (gsize j = 0; j < size; j++)
    piece[j] = (guint8) (i + j * 31);
  g_byte_array_append (expected, piece, (guint) size);
  switch (i % 4)
    {
    case 0:
    case 1:
      braid_transport_write (st, piece, i % 4 == 0 ? MIN (size, 100) : size);
      if (i % 4 == 0 && size > 100)
        braid_transport_write (st, piece + 100, size - 100);
      break;
    case 2:
      {
        g_autoptr(GBytes) bytes = g_bytes_new (piece, size);

        braid_transport_write_bytes (st, bytes);
      }
      break;
    default:
      {
        GOutputVector v[] = { { piece, size / 2 }, { piece + size / 2, size - size / 2 } };

        braid_transport_writev (st, v, G_N_ELEMENTS (v));
      }
    }
}

/* Opens @c with the client not reading; returns the server's transport. */
static BraidTransport *
open_with_client_paused (Fixture *f, Conn *c)
{
  conn_open (c, f, FALSE);
  braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c->client)));
  return braid_protocol_get_transport (BRAID_PROTOCOL (conn_server (c)));
}

/* Lets @c's paused client read, until it has received @expected. */
static void
resume_and_expect (Fixture *f, Conn *c, GByteArray *expected)
{
  braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c->client)));
  g_object_set_data (G_OBJECT (c->client), "want", GSIZE_TO_POINTER ((gsize) expected->len));
  f->kind->run_until (f, received_at_least, c);
  braid_assert_bytes_equal (expected->data, expected->len, c->client->received->data, c->client->received->len);
}

static void
test_mixed_writes_while_blocked (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidTransport *st;
  g_autoptr(GByteArray) expected = g_byte_array_new ();

  g_test_summary ("copied, shared and vectored writes keep their order while the peer does not "
                  "read and the sender's buffer fills and drains part by part");
  st = open_with_client_paused (f, &c);
  for (guint i = 0; i < 600; i++)
    {
      write_mixed (st, i, expected);
      /* Let some of it go, so writes land on a partly sent buffer. */
      if (i % 16 == 0)
        f->kind->advance (f, 0);
    }
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), >, 0);
  resume_and_expect (f, &c, expected);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), ==, 0);
  conn_close (&c);
}

static void
test_small_copies_while_blocked (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidTransport *st;
  g_autoptr(GByteArray) expected = g_byte_array_new ();

  g_test_summary ("Thousands of small copied writes to a peer that does not read pile up in one copy buffer "
                  "that leaves part by part as the peer reads; every byte arrives once, in order");
  st = open_with_client_paused (f, &c);
  /* 20 MB: more than loopback's socket buffers take, so that sends are partial */
  for (guint i = 0; i < 20000; i++)
    {
      guint8 chunk[997];

      for (gsize j = 0; j < sizeof chunk; j++)
        chunk[j] = (guint8) ((i * 31 + j) % 251);
      braid_transport_write (st, chunk, sizeof chunk);
      g_byte_array_append (expected, chunk, sizeof chunk);
      if (i % 500 == 0)
        f->kind->advance (f, 0);
    }
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), >, 0);
  resume_and_expect (f, &c, expected);
  conn_close (&c);
}

typedef struct {
  BraidRecordingProtocol *p;
  guint n;
} Drained;

static gboolean
has_drained (gpointer data)
{
  Drained *d = data;

  return d->p->n_drained >= d->n;
}

static void
test_pause_resume (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *st, *ct;
  gsize big = 32 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc0 (big);
  Drained drained;

  g_test_summary ("pause_reading stops delivery and lets the writer's buffer grow "
                  "(back pressure); resume delivers everything and the writer hears output_drained");
  conn_open (&c, f, FALSE);
  server = conn_server (&c);
  st = braid_protocol_get_transport (BRAID_PROTOCOL (server));
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));

  braid_transport_pause_reading (ct);
  braid_transport_write (st, blob, big);
  f->kind->advance (f, 50000);
  g_assert_cmpuint (c.client->received->len, ==, 0);
  /* A 32 MiB write cannot all fit in the kernel's socket buffers. */
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), >, 0);
  g_assert_cmpuint (server->n_drained, ==, 0);

  braid_transport_resume_reading (ct);
  wait_received (f, c.client, big);
  g_assert_cmpuint (c.client->received->len, ==, big);
  drained.p = server;
  drained.n = 1;
  f->kind->run_until (f, has_drained, &drained);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), ==, 0);

  braid_transport_lose_connection (ct);
  f->kind->run_until (f, is_lost, server);
  conn_close (&c);
}

static void
test_abort (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *st;

  g_test_summary ("abort_connection closes at once, discarding output; both sides hear connection_lost, the "
                  "peer as a reset (CONNECTION_LOST), not a clean end");
  conn_open (&c, f, FALSE);
  server = conn_server (&c);
  st = braid_protocol_get_transport (BRAID_PROTOCOL (server));
  braid_transport_write_string (st, "never sent");
  braid_transport_abort_connection (st);
  f->kind->run_until (f, is_lost, server);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_ABORTED);
  f->kind->run_until (f, is_lost, c.client);
  g_assert_error (c.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_cmpuint (c.client->received->len, ==, 0);
  conn_close (&c);
}

/* Opens @c with the client not reading and @size zero bytes written by
 * the server, more than the kernel's buffers take: some wait in the
 * server's transport, which is returned. */
static BraidTransport *
open_with_output_waiting (Fixture *f, Conn *c, gsize size)
{
  g_autofree guint8 *blob = g_malloc0 (size);
  BraidTransport *st = open_with_client_paused (f, c);

  braid_transport_write (st, blob, size);
  f->kind->advance (f, 50000);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), >, 0);
  return st;
}

static void
test_abort_discards_buffered (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *st;
  gsize big = 8 * 1024 * 1024;

  g_test_summary ("abort_connection with megabytes waiting for a peer that does not read: the write buffer is "
                  "empty at once, a later write is dropped, and the peer hears a reset");
  st = open_with_output_waiting (f, &c, big);
  server = conn_server (&c);
  braid_transport_abort_connection (st);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), ==, 0);
  braid_transport_write_string (st, "after");
  g_assert_cmpuint (braid_transport_get_write_buffer_size (st), ==, 0);
  braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c.client)));
  f->kind->run_until (f, is_lost, server);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_ABORTED);
  f->kind->run_until (f, is_lost, c.client);
  g_assert_error (c.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_cmpuint (c.client->received->len, <, big);
  conn_close (&c);
}

static void
test_peer_reset_while_writing (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  gsize big = 32 * 1024 * 1024;

  g_test_summary ("A peer that resets the connection while megabytes wait for it, our side not reading: "
                  "the failed write alone ends the connection, with CONNECTION_LOST and the reason");
  (void) open_with_output_waiting (f, &c, big);
  server = conn_server (&c);
  braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (server)));
  braid_transport_abort_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c.client)));
  f->kind->run_until (f, is_lost, server);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_true (g_str_has_prefix (server->lost_reason->message, "Connection was lost: "));
  g_assert_cmpuint (server->received->len, ==, 0);
  conn_close (&c);
}

static gboolean
has_eof (gpointer data)
{
  return BRAID_RECORDING_PROTOCOL (data)->n_eof > 0;
}

static void
test_half_close_kept_open (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *ct, *st;

  g_test_summary ("A protocol whose eof_received answers TRUE keeps writing after the peer's half-close: the "
                  "answer it writes then arrives whole, and its own lose_connection ends it cleanly");
  conn_open (&c, f, FALSE);
  server = conn_server (&c);
  server->keep_open_on_eof = TRUE;
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));
  braid_transport_write_string (ct, "question");
  braid_transport_lose_write_connection (ct);
  f->kind->run_until (f, has_eof, server);
  g_assert_cmpuint (server->n_eof, ==, 1);
  braid_assert_bytes_equal ("question", 8, server->received->data, server->received->len);
  f->kind->advance (f, 10000);
  g_assert_null (server->lost_reason);
  g_assert_null (c.client->lost_reason);

  st = braid_protocol_get_transport (BRAID_PROTOCOL (server));
  braid_transport_write_string (st, "answer after eof");
  braid_transport_lose_connection (st);
  f->kind->run_until (f, is_lost, c.client);
  braid_assert_bytes_equal ("answer after eof", 16, c.client->received->data, c.client->received->len);
  g_assert_error (c.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  f->kind->run_until (f, is_lost, server);
  g_assert_error (server->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  g_assert_cmpuint (server->n_eof, ==, 1);
  conn_close (&c);
}

static void
test_pause_inside_data_received (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *ct;
  gsize big = 4 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc0 (big);
  guint chunks;

  g_test_summary ("A protocol that pauses reading inside data_received gets no more data until it resumes, "
                  "however much is waiting; then everything arrives");
  conn_open (&c, f, FALSE);
  server = conn_server (&c);
  server->pause_on_data = TRUE;
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));
  braid_transport_write (ct, blob, big);
  wait_received (f, server, 1);
  f->kind->advance (f, 50000);
  g_assert_cmpuint (server->n_chunks, ==, 1);
  for (chunks = 1; server->received->len < big; chunks++)
    {
      g_assert_cmpuint (server->n_chunks, ==, chunks);
      braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (server)));
      wait_received (f, server, server->received->len + 1);
      f->kind->advance (f, 0);
    }
  g_assert_cmpuint (server->received->len, ==, big);
  conn_close (&c);
}

static void
test_one_byte_writes (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidTransport *ct;
  g_autoptr(GBytes) one = g_bytes_new_static ("a", 1);

  g_test_summary ("Writes of a single byte, shared and copied, each sent on its own, arrive in order");
  conn_open (&c, f, TRUE);
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));
  braid_transport_write_bytes (ct, one);
  f->kind->advance (f, 0);
  braid_transport_write (ct, "b", 1);
  f->kind->advance (f, 0);
  braid_transport_write_bytes (ct, one);
  braid_transport_write (ct, "c", 1);
  wait_received (f, c.client, 4);
  braid_assert_bytes_equal ("abac", 4, c.client->received->data, c.client->received->len);
  conn_close (&c);
}

typedef struct {
  BraidReactor *reactor;
  BraidRecordingProtocol *client;
  guint n_runs;
  gboolean done;
} ZeroDelayChain;

#define CHAIN_GIVES_UP 200000

static void
chain_step (gpointer data)
{
  ZeroDelayChain *chain = data;

  chain->n_runs++;
  if (chain->client->received->len >= 4 || chain->n_runs >= CHAIN_GIVES_UP)
    chain->done = TRUE;
  else
    braid_delayed_call_unref (braid_reactor_call_later (chain->reactor, 0, chain_step, chain, NULL));
}

static gboolean
chain_done (gpointer data)
{
  return ((ZeroDelayChain *) data)->done;
}

static void
test_zero_delay_chain_yields_to_io (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  ZeroDelayChain chain = { f->reactor, NULL, 0, FALSE };

  g_test_summary ("A call that reschedules itself at zero delay (cooperative work in slices) does not keep "
                  "the reactor from its connections: an echo comes back while the chain runs");
  conn_open (&c, f, TRUE);
  chain.client = c.client;
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (c.client)), "ping");
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, 0, chain_step, &chain, NULL));
  f->kind->run_until (f, chain_done, &chain);
  g_assert_cmpuint (chain.n_runs, <, CHAIN_GIVES_UP);
  braid_assert_bytes_equal ("ping", 4, c.client->received->data, c.client->received->len);
  conn_close (&c);
}

static void
test_nothing_read_after_lose (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *st, *ct;
  gsize big = 8 * 1024 * 1024;

  g_test_summary ("After lose_connection, while its output still waits for a slow peer, nothing more is "
                  "read: what the peer sends then never reaches data_received");
  st = open_with_output_waiting (f, &c, big);
  server = conn_server (&c);
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));
  braid_transport_lose_connection (st);
  braid_transport_write_string (ct, "too late");
  f->kind->advance (f, 50000);
  g_assert_cmpuint (server->received->len, ==, 0);
  g_assert_cmpuint (server->n_chunks, ==, 0);
  braid_transport_resume_reading (ct);
  /* The client's bytes were never read: a real socket closed with unread
   * input is reset by the kernel (as any TCP socket is), so the client may
   * not get all of the output that was still in flight (docs/reactor.md). */
  f->kind->run_until (f, is_lost, c.client);
  g_assert_cmpuint (c.client->received->len, <=, big);
  f->kind->run_until (f, is_lost, server);
  g_assert_cmpuint (server->received->len, ==, 0);
  g_assert_cmpuint (server->n_chunks, ==, 0);
  conn_close (&c);
}

static void
test_connection_lost_not_reentrant (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;

  g_test_summary ("connection_lost is never delivered from inside the call that closed the connection");
  conn_open (&c, f, FALSE);
  server = conn_server (&c);
  braid_transport_abort_connection (braid_protocol_get_transport (BRAID_PROTOCOL (server)));
  g_assert_null (server->lost_reason);
  f->kind->run_until (f, is_lost, server);
  f->kind->run_until (f, is_lost, c.client);
  conn_close (&c);
}

static void
test_half_close (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  BraidRecordingProtocol *server;
  BraidTransport *ct;

  g_test_summary ("lose_write_connection is a half-close: the peer sees EOF after the data, "
                  "and its answers still arrive");
  conn_open (&c, f, TRUE);
  ct = braid_protocol_get_transport (BRAID_PROTOCOL (c.client));
  braid_transport_write_string (ct, "last words");
  braid_transport_lose_write_connection (ct);
  braid_transport_write_string (ct, "dropped");
  /* The echo server answers, then (not half-closeable) closes after its
   * output: the client reads the answer and then the close. */
  f->kind->run_until (f, is_lost, c.client);
  braid_assert_bytes_equal ("last words", 10, c.client->received->data, c.client->received->len);
  g_assert_error (c.client->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
  server = conn_server (&c);
  f->kind->run_until (f, is_lost, server);
  braid_assert_bytes_equal ("last words", 10, server->received->data, server->received->len);
  conn_close (&c);
}

static void
test_connect_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  Conn c = { 0 };
  BraidProtocol *protocol;

  g_test_summary ("Connecting where nobody listens fails with CONNECTION_REFUSED");
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", braid_test_find_free_port ());
  braid_reactor_connect_async (f->reactor, endpoint, factory, NULL, braid_test_store_result, &c.result);
  f->kind->run_until (f, have_result, &c);
  protocol = braid_reactor_connect_finish (f->reactor, c.result, &error);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  g_assert_null (protocol);
  g_clear_object (&c.result);
}

static void
test_bad_endpoint (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = NULL;
  Conn c = { 0 };

  g_test_summary ("Malformed endpoints fail listen and connect with INVALID_ENDPOINT");
  listener = braid_reactor_listen (f->reactor, "tcp:notaport", factory, &error);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT);
  g_assert_null (listener);
  g_clear_error (&error);

  braid_reactor_connect_async (f->reactor, "tcp:1234", factory, NULL, braid_test_store_result, &c.result);
  f->kind->run_until (f, have_result, &c);
  g_assert_null (braid_reactor_connect_finish (f->reactor, c.result, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT);
  g_clear_object (&c.result);
}

static void
test_stop_listening (Fixture *f, gconstpointer data)
{
  Conn c = { 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *endpoint = NULL;
  GAsyncResult *result = NULL;
  Conn wait = { 0 };
  BraidRecordingProtocol *server;

  g_test_summary ("A stopped listener refuses new connections; accepted ones carry on");
  conn_open (&c, f, TRUE);
  server = conn_server (&c);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", braid_listener_get_port (c.listener));
  braid_listener_stop (c.listener);
  g_assert_false (braid_listener_is_listening (c.listener));

  braid_reactor_connect_async (f->reactor, endpoint, factory, NULL, braid_test_store_result, &wait.result);
  f->kind->run_until (f, have_result, &wait);
  result = wait.result;
  g_assert_null (braid_reactor_connect_finish (f->reactor, result, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED);
  g_object_unref (result);

  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (c.client)), "still here");
  wait_received (f, c.client, 10);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c.client)));
  f->kind->run_until (f, is_lost, server);
  conn_close (&c);
}

static void
test_unix_socket (Fixture *f, gconstpointer data)
{
  g_autofree gchar *dir = g_dir_make_tmp ("braid-test-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "s.sock", NULL);
  g_autofree gchar *server_ep = g_strdup_printf ("unix:%s:mode=0600", path);
  g_autofree gchar *client_ep = g_strdup_printf ("unix:%s", path);
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) sf = braid_recording_factory_new (TRUE, servers);
  g_autoptr(BraidProtocolFactory) cf = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  Conn c = { 0 };

  g_test_summary ("unix: endpoints listen and connect");
  listener = braid_reactor_listen (f->reactor, server_ep, sf, &error);
  g_assert_no_error (error);
  braid_reactor_connect_async (f->reactor, client_ep, cf, NULL, braid_test_store_result, &c.result);
  f->kind->run_until (f, have_result, &c);
  client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (f->reactor, c.result, &error));
  g_assert_no_error (error);
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (client)), "unix");
  wait_received (f, client, 4);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (client)));
  f->kind->run_until (f, is_lost, client);
  braid_listener_stop (listener);
  g_clear_object (&c.result);
  g_remove (path);
  g_rmdir (dir);
}

/* ---- run and stop ---- */

typedef struct {
  BraidReactor *reactor;
  guint ran;
  gint64 ran_at;
} RunState;

static void
note_ran (gpointer data)
{
  RunState *r = data;

  r->ran++;
  r->ran_at = braid_reactor_now (r->reactor);
}

static void
stop_reactor (gpointer data)
{
  RunState *r = data;

  note_ran (r);
  braid_reactor_stop (r->reactor);
}

static void
test_run_stop (Fixture *f, gconstpointer data)
{
  RunState early = { f->reactor, 0, 0 };
  RunState stopper = { f->reactor, 0, 0 };
  RunState late = { f->reactor, 0, 0 };
  g_autoptr(BraidDelayedCall) a = NULL;
  g_autoptr(BraidDelayedCall) b = NULL;
  g_autoptr(BraidDelayedCall) c = NULL;
  gint64 start = braid_reactor_now (f->reactor);

  g_test_summary ("braid_reactor_run() runs due calls in time order until a callback calls "
                  "braid_reactor_stop(); later calls stay pending");
  a = braid_reactor_call_later (f->reactor, 10 * 1000, note_ran, &early, NULL);
  b = braid_reactor_call_later (f->reactor, 30 * 1000, stop_reactor, &stopper, NULL);
  c = braid_reactor_call_later (f->reactor, 60 * G_USEC_PER_SEC, note_ran, &late, NULL);
  braid_reactor_run (f->reactor);
  g_assert_cmpuint (early.ran, ==, 1);
  g_assert_cmpuint (stopper.ran, ==, 1);
  g_assert_cmpuint (late.ran, ==, 0);
  g_assert_cmpint (stopper.ran_at - start, >=, 30 * 1000);
  g_assert_cmpint (early.ran_at, <=, stopper.ran_at);
  g_assert_true (braid_delayed_call_is_active (c));
  braid_delayed_call_cancel (c);

  /* It can run again after a stop. */
  g_clear_pointer (&b, braid_delayed_call_unref);
  b = braid_reactor_call_later (f->reactor, 0, stop_reactor, &stopper, NULL);
  braid_reactor_run (f->reactor);
  g_assert_cmpuint (stopper.ran, ==, 2);
}

static void
test_stop_before_run (Fixture *f, gconstpointer data)
{
  RunState later = { f->reactor, 0, 0 };
  g_autoptr(BraidDelayedCall) call = NULL;

  g_test_summary ("braid_reactor_stop() before braid_reactor_run() makes run return at once, running nothing");
  call = braid_reactor_call_later (f->reactor, 5 * 1000, note_ran, &later, NULL);
  braid_reactor_stop (f->reactor);
  braid_reactor_run (f->reactor);
  g_assert_cmpuint (later.ran, ==, 0);
  braid_delayed_call_cancel (call);
}

static void
test_fake_run_returns_when_idle (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  RunState r = { BRAID_REACTOR (fake), 0, 0 };
  g_autoptr(BraidDelayedCall) call = NULL;

  g_test_summary ("The fake's run jumps simulated time to each pending call and returns when none is left");
  call = braid_reactor_call_later (BRAID_REACTOR (fake), G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC, note_ran, &r, NULL);
  braid_reactor_run (BRAID_REACTOR (fake));
  g_assert_cmpuint (r.ran, ==, 1);
  g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (fake)), ==, G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
}

static void
add_contract (const gchar *name, void (*func) (Fixture *, gconstpointer))
{
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/reactor/%s/%s", kinds[i].name, name);

      g_test_add (path, Fixture, &kinds[i], fixture_setup, func, fixture_teardown);
    }
}

static void
skip_tls (void)
{
  g_test_skip (tls_skip_reason);
}

/* Runs @func on the GLib reactor with tls: endpoints. */
static void
add_tls_contract (const gchar *name, void (*func) (Fixture *, gconstpointer))
{
  g_autofree gchar *path = g_strdup_printf ("/reactor/%s/%s", tls_kind.name, name);

  if (certificate == NULL)
    g_test_add_func (path, skip_tls);
  else
    g_test_add (path, Fixture, &tls_kind, fixture_setup, func, fixture_teardown);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  certificate = braid_test_certificate_new (&tls_skip_reason);

  add_contract ("delayed-call/order", test_call_order);
  add_contract ("delayed-call/cancel", test_cancel);
  add_contract ("delayed-call/reset-delay", test_reset_and_delay);
  add_contract ("delayed-call/called-before-running", test_active_inside_callback);
  add_contract ("delayed-call/call-soon", test_call_soon);
  add_contract ("delayed-call/zero-delay-chain-yields-to-io", test_zero_delay_chain_yields_to_io);
  add_contract ("connection/echo", test_echo);
  add_contract ("connection/write-then-lose", test_write_then_lose);
  add_contract ("connection/mixed-writes-while-blocked", test_mixed_writes_while_blocked);
  add_contract ("connection/small-copies-while-blocked", test_small_copies_while_blocked);
  add_contract ("connection/pause-resume", test_pause_resume);
  add_contract ("connection/abort", test_abort);
  add_contract ("connection/abort-discards-buffered", test_abort_discards_buffered);
  add_contract ("connection/one-byte-writes", test_one_byte_writes);
  add_contract ("connection/nothing-read-after-lose", test_nothing_read_after_lose);
  add_contract ("connection/lost-not-reentrant", test_connection_lost_not_reentrant);
  add_contract ("connection/half-close", test_half_close);
  add_contract ("connection/half-close-kept-open", test_half_close_kept_open);
  add_contract ("connection/pause-inside-data-received", test_pause_inside_data_received);
  add_contract ("connection/refused", test_connect_refused);
  add_contract ("connection/bad-endpoint", test_bad_endpoint);
  add_contract ("connection/stop-listening", test_stop_listening);
  add_contract ("connection/unix", test_unix_socket);
  add_contract ("run/stop", test_run_stop);
  add_contract ("run/stop-before-run", test_stop_before_run);
  g_test_add_func ("/reactor/fake/run/returns-when-idle", test_fake_run_returns_when_idle);
  /* Not half-close: TLS falls back to lose_connection there. */
  add_tls_contract ("connection/echo", test_echo);
  add_tls_contract ("connection/abort-discards-buffered", test_abort_discards_buffered);
  add_tls_contract ("connection/write-then-lose", test_write_then_lose);
  add_tls_contract ("connection/mixed-writes-while-blocked", test_mixed_writes_while_blocked);
  add_tls_contract ("connection/pause-resume", test_pause_resume);
  add_tls_contract ("connection/abort", test_abort);
  add_tls_contract ("connection/lost-not-reentrant", test_connection_lost_not_reentrant);
  add_tls_contract ("connection/small-copies-while-blocked", test_small_copies_while_blocked);
  add_tls_contract ("connection/one-byte-writes", test_one_byte_writes);
  add_tls_contract ("connection/nothing-read-after-lose", test_nothing_read_after_lose);
  add_tls_contract ("connection/pause-inside-data-received", test_pause_inside_data_received);
  add_tls_contract ("connection/peer-reset-while-writing", test_peer_reset_while_writing);

  status = g_test_run ();
  braid_test_certificate_free (certificate);
  g_free (tls_skip_reason);
  return braid_test_exit_after_tls (status);
}
