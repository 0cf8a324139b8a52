/* braid — the pool on the fake reactor: keys to their server, dead servers
 * out after failures and back after the retry delay. */
#include "test-support.h"
#include "mc-pool.h"

#include <string.h>

static void
test_ejection (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, servers);
  g_autoptr(BraidListener) alive = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *key = NULL;
  g_autofree gchar *key_storage = NULL;
  guint dead_index = G_MAXUINT;

  g_test_summary ("A server that keeps failing is taken out and its keys go to the others; "
                  "after the retry delay it is used again");
  /* only port 2 listens: server "127.0.0.1:1" refuses everything */
  alive = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:2", factory, &error);
  g_assert_no_error (error);
  pool = braid_mc_pool_new (BRAID_REACTOR (fake), "127.0.0.1:1,127.0.0.1:2", &error);
  g_assert_no_error (error);
  braid_mc_pool_set_ejection (pool, 2, 30 * G_USEC_PER_SEC);
  for (guint i = 0; key == NULL; i++)
    {
      g_free (key_storage);
      key_storage = g_strdup_printf ("key%u", i);
      if (braid_mc_pool_locate (pool, key_storage) == 0)
        key = key_storage;
    }
  dead_index = 0;

  for (guint attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(GError) e = NULL;

      braid_mc_pool_get_async (pool, key, NULL, braid_test_store_result, &r);
      braid_fake_reactor_run_until_idle (fake);
      /* the client backs off between attempts */
      braid_fake_reactor_advance (fake, G_USEC_PER_SEC);
      g_assert_nonnull (r);
      g_assert_null (braid_mc_pool_get_finish (pool, r, &e));
      g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
    }
  g_assert_false (braid_mc_pool_is_server_alive (pool, dead_index));
  g_assert_true (braid_mc_pool_client_for_key (pool, key, NULL) == braid_mc_pool_get_client (pool, 1));

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(GError) e = NULL;
    g_autoptr(BraidMcValue) v = NULL;

    braid_mc_pool_get_async (pool, key, NULL, braid_test_store_result, &r);
    braid_fake_reactor_run_until_idle (fake);
    g_assert_cmpuint (servers->len, ==, 1);
    braid_transport_write_string (braid_protocol_get_transport (g_ptr_array_index (servers, 0)), "END\r\n");
    braid_fake_reactor_run_until_idle (fake);
    v = braid_mc_pool_get_finish (pool, r, &e);
    g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  }

  braid_fake_reactor_advance (fake, 30 * G_USEC_PER_SEC);
  g_assert_true (braid_mc_pool_is_server_alive (pool, dead_index));
  g_assert_true (braid_mc_pool_client_for_key (pool, key, NULL) == braid_mc_pool_get_client (pool, 0));

  g_clear_object (&pool);
  braid_listener_stop (alive);
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
}

static void
test_no_servers (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(GError) error = NULL;

  g_test_summary ("Bad server lists are refused with a message");
  g_assert_null (braid_mc_pool_new (BRAID_REACTOR (fake), "", &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (braid_mc_pool_new (BRAID_REACTOR (fake), "host:port", &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
}

/* ---- two scripted servers on the fake reactor ---- */

/* Server i (0 or 1) listens on fake port i + 1, "127.0.0.1:i+1" in the
 * pool; conns[i] gets every protocol it accepted, which records what the
 * pool's client sent and lets the test answer. */
typedef struct {
  BraidFakeReactor *fake;
  GPtrArray *conns[2];
  BraidListener *listeners[2];
  BraidMcPool *pool;
} Servers;

static void
servers_listen (Servers *s, guint i)
{
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, s->conns[i]);
  g_autofree gchar *endpoint = g_strdup_printf ("tcp:%u", i + 1);
  g_autoptr(GError) error = NULL;

  s->listeners[i] = braid_reactor_listen (BRAID_REACTOR (s->fake), endpoint, factory, &error);
  g_assert_no_error (error);
}

static void
servers_init (Servers *s, gboolean listen0, gboolean listen1)
{
  g_autoptr(GError) error = NULL;

  s->fake = braid_fake_reactor_new (1);
  for (guint i = 0; i < 2; i++)
    {
      s->conns[i] = g_ptr_array_new_with_free_func (g_object_unref);
      s->listeners[i] = NULL;
    }
  if (listen0)
    servers_listen (s, 0);
  if (listen1)
    servers_listen (s, 1);
  s->pool = braid_mc_pool_new (BRAID_REACTOR (s->fake), "127.0.0.1:1,127.0.0.1:2", &error);
  g_assert_no_error (error);
}

static void
servers_clear (Servers *s)
{
  g_clear_object (&s->pool);
  for (guint i = 0; i < 2; i++)
    {
      if (s->listeners[i] != NULL)
        braid_listener_stop (s->listeners[i]);
      g_clear_object (&s->listeners[i]);
    }
  braid_fake_reactor_run_until_idle (s->fake);
  for (guint i = 0; i < 2; i++)
    g_ptr_array_unref (s->conns[i]);
  g_clear_object (&s->fake);
}

/* A key that ketama puts on server @index (a fresh string). */
static gchar *
key_on (BraidMcPool *pool, guint index)
{
  for (guint i = 0;; i++)
    {
      gchar *key = g_strdup_printf ("key%u", i);

      if (braid_mc_pool_locate (pool, key) == index)
        return key;
      g_free (key);
    }
}

/* Everything server @i received on its latest connection, as a string. */
static gchar *
received (Servers *s, guint i)
{
  BraidRecordingProtocol *p;

  g_assert_cmpuint (s->conns[i]->len, >, 0);
  p = g_ptr_array_index (s->conns[i], s->conns[i]->len - 1);
  return g_strndup ((const gchar *) p->received->data, p->received->len);
}

static void
answer (Servers *s, guint i, const gchar *reply)
{
  BraidProtocol *p = g_ptr_array_index (s->conns[i], s->conns[i]->len - 1);

  braid_transport_write_string (braid_protocol_get_transport (p), reply);
  braid_fake_reactor_run_until_idle (s->fake);
}

/* The tests that get through pool_get run twice: with get_async and with
 * get_direct (their data: a gboolean). */
static gboolean use_direct;

typedef struct {
  guint calls;
  BraidMcValue *value;   /* (owned) (nullable) */
  GError *error;         /* (owned) (nullable) */
} DirectResult;

static void
store_direct (BraidMcValue *value, GError *error, gpointer data)
{
  DirectResult *r = data;

  r->calls++;
  r->value = value;
  r->error = error;
}

/* Runs a get of @key to its end, the server answering @reply (or, if
 * NULL, nothing: a refused connection or a timeout decides); returns the
 * error, or NULL after a hit. */
static GError *
pool_get (Servers *s, const gchar *key, guint server, const gchar *reply)
{
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(BraidMcValue) v = NULL;
  DirectResult d = { 0 };
  GError *e = NULL;

  if (use_direct)
    braid_mc_pool_get_direct (s->pool, key, NULL, store_direct, &d);
  else
    braid_mc_pool_get_async (s->pool, key, NULL, braid_test_store_result, &r);
  braid_fake_reactor_run_until_idle (s->fake);
  if (reply != NULL)
    answer (s, server, reply);
  while (r == NULL && d.calls == 0)
    braid_fake_reactor_advance (s->fake, 100 * 1000);
  if (use_direct)
    {
      g_assert_cmpuint (d.calls, ==, 1);
      v = d.value;
      e = d.error;
    }
  else
    v = braid_mc_pool_get_finish (s->pool, r, &e);
  g_assert_true ((v == NULL) == (e != NULL));
  return e;
}

static void
test_server_specs (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(BraidMcPool) plain = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *bad[] = { "h:0", "h:65536", ":5", "h:", "h:12x", "tcp:", "tls:h", "tcp:h:99999" };

  g_test_summary ("Server lists: HOST, HOST:PORT, tcp: and tls: endpoints, empty entries skipped; "
                  "keys go by HOST:PORT alone, whatever the kind");
  pool = braid_mc_pool_new (BRAID_REACTOR (fake), " a:1 ,, b ,tcp:c:3,tls:d:65535,", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_mc_pool_get_n_servers (pool), ==, 4);
  g_assert_cmpstr (braid_mc_pool_get_server_name (pool, 0), ==, "a:1");
  g_assert_cmpstr (braid_mc_pool_get_server_name (pool, 1), ==, "b:11211");
  g_assert_cmpstr (braid_mc_pool_get_server_name (pool, 2), ==, "c:3");
  g_assert_cmpstr (braid_mc_pool_get_server_name (pool, 3), ==, "d:65535");
  for (guint i = 0; i < 4; i++)
    g_assert_nonnull (braid_mc_pool_get_client (pool, i));
  g_assert_true (braid_mc_pool_get_client (pool, 0) != braid_mc_pool_get_client (pool, 1));

  plain = braid_mc_pool_new (BRAID_REACTOR (fake), "a:1,b:11211,c:3,d:65535", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 200; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);
      g_assert_cmpuint (braid_mc_pool_locate (pool, key), ==, braid_mc_pool_locate (plain, key));
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(BraidMcPool) p = braid_mc_pool_new (BRAID_REACTOR (fake), bad[i], &error);

      g_assert_null (p);
      g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, bad[i]));
      g_clear_error (&error);
    }
  /* an endpoint's own complaint is passed on */
  g_assert_null (braid_mc_pool_new (BRAID_REACTOR (fake), "tcp:", &error));
  g_assert_nonnull (strstr (error->message, "expected HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT): "));
  g_assert_false (g_str_has_suffix (error->message, ": "));
  g_clear_error (&error);
  g_assert_null (braid_mc_pool_new (BRAID_REACTOR (fake), " , ,", &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
}

static void
test_routing (gconstpointer direct)
{
  use_direct = GPOINTER_TO_INT (direct);
  Servers s;

  g_test_summary ("get, set and delete go to the server the key is located on, "
                  "and their answers come back as the client's");
  servers_init (&s, TRUE, TRUE);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *key = key_on (s.pool, i);
      g_autofree gchar *expected = NULL;
      g_autofree gchar *got = NULL;
      g_autofree gchar *hit = NULL;
      g_autoptr(GBytes) data = g_bytes_new_static ("v", 1);
      g_autoptr(GAsyncResult) set = NULL;
      g_autoptr(GAsyncResult) del = NULL;
      g_autoptr(GAsyncResult) miss = NULL;
      g_autoptr(GError) e = NULL;

      g_assert_true (braid_mc_pool_client_for_key (s.pool, key, NULL) == braid_mc_pool_get_client (s.pool, i));
      braid_mc_pool_set_async (s.pool, key, data, 7, 0, NULL, braid_test_store_result, &set);
      braid_fake_reactor_run_until_idle (s.fake);
      g_assert_cmpuint (s.conns[1 - i]->len, ==, 0);
      answer (&s, i, "STORED\r\n");
      g_assert_true (braid_mc_pool_set_finish (s.pool, set, &e));
      g_assert_no_error (e);

      hit = g_strdup_printf ("VALUE %s 7 1\r\nv\r\nEND\r\n", key);
      g_assert_null (pool_get (&s, key, i, hit));

      braid_mc_pool_delete_async (s.pool, key, NULL, braid_test_store_result, &del);
      braid_fake_reactor_run_until_idle (s.fake);
      answer (&s, i, "DELETED\r\n");
      g_assert_true (braid_mc_pool_delete_finish (s.pool, del, &e));
      g_assert_no_error (e);

      braid_mc_pool_delete_async (s.pool, key, NULL, braid_test_store_result, &miss);
      braid_fake_reactor_run_until_idle (s.fake);
      answer (&s, i, "NOT_FOUND\r\n");
      g_assert_false (braid_mc_pool_delete_finish (s.pool, miss, &e));
      g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);

      got = received (&s, i);
      expected = g_strdup_printf ("set %s 7 0 1\r\nv\r\nget %s\r\ndelete %s\r\ndelete %s\r\n", key, key, key, key);
      g_assert_cmpstr (got, ==, expected);
      g_assert_cmpuint (s.conns[1 - i]->len, ==, 0);
      g_assert_true (braid_mc_pool_is_server_alive (s.pool, i));
      if (i == 0)
        g_assert_cmpuint (s.conns[1]->len, ==, 0);
      g_ptr_array_set_size (s.conns[i], 0);
      /* the next round's server must not see this one's connection */
      g_clear_object (&s.listeners[i]);
    }
  servers_clear (&s);
}

static void
test_refused_before_sending (void)
{
  Servers s;
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) e = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("v", 1);

  g_test_summary ("A key the protocol refuses fails at once, reaches no server and "
                  "counts against none");
  servers_init (&s, TRUE, TRUE);
  braid_mc_pool_set_ejection (s.pool, 1, G_USEC_PER_SEC);
  braid_mc_pool_set_async (s.pool, "two words", data, 0, 0, NULL, braid_test_store_result, &r);
  braid_fake_reactor_run_until_idle (s.fake);
  g_assert_false (braid_mc_pool_set_finish (s.pool, r, &e));
  g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (s.conns[0]->len + s.conns[1]->len, ==, 0);
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 1));
  servers_clear (&s);
}

static void
test_failure_accounting (gconstpointer direct)
{
  use_direct = GPOINTER_TO_INT (direct);
  Servers s;
  g_autofree gchar *key = NULL;
  GError *e;

  g_test_summary ("Failures in a row eject a server at exactly the limit; any memcached answer, "
                  "even NOT_FOUND or SERVER_ERROR, resets the count; timeouts and garbage count");
  servers_init (&s, TRUE, TRUE);
  key = key_on (s.pool, 0);
  braid_mc_pool_set_ejection (s.pool, 3, 30 * G_USEC_PER_SEC);
  braid_mc_pool_set_timeout (s.pool, G_USEC_PER_SEC);

  /* two timeouts, then an answer: the count starts again */
  for (guint i = 0; i < 2; i++)
    {
      e = pool_get (&s, key, 0, NULL);
      g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
      g_clear_error (&e);
      g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
    }
  e = pool_get (&s, key, 0, "SERVER_ERROR out of memory\r\n");
  g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_SERVER_ERROR);
  g_clear_error (&e);
  /* two more failures: 2, not 4, so still in */
  for (guint i = 0; i < 2; i++)
    {
      e = pool_get (&s, key, 0, NULL);
      g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
      g_clear_error (&e);
    }
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
  e = pool_get (&s, key, 0, "END\r\n");
  g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  g_clear_error (&e);

  /* three in a row, one of them garbage: out at the third, not before */
  for (guint i = 0; i < 3; i++)
    {
      gint expected = i == 1 ? BRAID_MC_ERROR_PROTOCOL : BRAID_MC_ERROR_TIMED_OUT;

      g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
      e = pool_get (&s, key, 0, i == 1 ? "HELLO\r\n" : NULL);
      g_assert_error (e, BRAID_MC_ERROR, expected);
      g_clear_error (&e);
    }
  g_assert_false (braid_mc_pool_is_server_alive (s.pool, 0));
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 1));
  g_assert_true (braid_mc_pool_client_for_key (s.pool, key, NULL) == braid_mc_pool_get_client (s.pool, 1));

  /* back exactly 30 s after the ejection */
  braid_fake_reactor_advance (s.fake, 30 * G_USEC_PER_SEC - 1);
  g_assert_false (braid_mc_pool_is_server_alive (s.pool, 0));
  braid_fake_reactor_advance (s.fake, 1);
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
  g_assert_true (braid_mc_pool_client_for_key (s.pool, key, NULL) == braid_mc_pool_get_client (s.pool, 0));
  servers_clear (&s);
}

static void
test_all_out (gconstpointer direct)
{
  use_direct = GPOINTER_TO_INT (direct);
  Servers s;
  g_autofree gchar *key0 = NULL;
  g_autofree gchar *key1 = NULL;
  g_autoptr(GError) error = NULL;
  GError *e;

  g_test_summary ("With every server out, requests fail with NO_SERVERS and reach no server; "
                  "a limit of 0 means 1");
  servers_init (&s, FALSE, FALSE);
  key0 = key_on (s.pool, 0);
  key1 = key_on (s.pool, 1);
  braid_mc_pool_set_ejection (s.pool, 0, 10 * G_USEC_PER_SEC);
  e = pool_get (&s, key0, 0, NULL);
  g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  g_clear_error (&e);
  g_assert_false (braid_mc_pool_is_server_alive (s.pool, 0));
  /* key0 now goes to server 1, which is not there either */
  e = pool_get (&s, key0, 1, NULL);
  g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  g_clear_error (&e);
  g_assert_false (braid_mc_pool_is_server_alive (s.pool, 1));

  g_assert_null (braid_mc_pool_client_for_key (s.pool, key1, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NO_SERVERS);
  e = pool_get (&s, key1, 0, NULL);
  g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_NO_SERVERS);
  g_clear_error (&e);
  servers_clear (&s);
}

static void
test_cancelled_does_not_count (void)
{
  Servers s;
  g_autofree gchar *key = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) e = NULL;

  g_test_summary ("A request the caller cancels says nothing about its server");
  servers_init (&s, TRUE, TRUE);
  key = key_on (s.pool, 0);
  braid_mc_pool_set_ejection (s.pool, 1, 10 * G_USEC_PER_SEC);
  braid_mc_pool_get_async (s.pool, key, cancellable, braid_test_store_result, &r);
  braid_fake_reactor_run_until_idle (s.fake);
  g_cancellable_cancel (cancellable);
  braid_fake_reactor_run_until_idle (s.fake);
  g_assert_nonnull (r);
  g_assert_null (braid_mc_pool_get_finish (s.pool, r, &e));
  g_assert_error (e, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
  servers_clear (&s);
}

static void
test_timeout_every_server (gconstpointer direct)
{
  use_direct = GPOINTER_TO_INT (direct);
  Servers s;

  g_test_summary ("set_timeout applies to every server's client: no answer fails at exactly the "
                  "pool's timeout (3 s here, not the client's default 1 s)");
  servers_init (&s, TRUE, TRUE);
  braid_mc_pool_set_timeout (s.pool, 3 * G_USEC_PER_SEC);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *key = key_on (s.pool, i);
      gint64 start = braid_reactor_now (BRAID_REACTOR (s.fake));
      GError *e = pool_get (&s, key, i, NULL);
      gint64 took = braid_reactor_now (BRAID_REACTOR (s.fake)) - start;

      g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
      g_clear_error (&e);
      /* pool_get runs the clock 100 ms at a time */
      g_assert_cmpint (took, >=, 3 * G_USEC_PER_SEC);
      g_assert_cmpint (took, <, 3 * G_USEC_PER_SEC + 100 * 1000);
    }
  servers_clear (&s);
}

static void
test_direct_refused_and_cancelled (void)
{
  Servers s;
  g_autofree gchar *key = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  DirectResult bad = { 0 }, cancelled = { 0 };

  g_test_summary ("The direct get answers a key the protocol refuses from the reactor, not from inside the "
                  "call, reaching no server, and gives no handle; a direct get cancelled by its cancellable "
                  "or by its handle says nothing about its server");
  servers_init (&s, TRUE, TRUE);
  braid_mc_pool_set_ejection (s.pool, 1, 10 * G_USEC_PER_SEC);
  g_assert_null (braid_mc_pool_get_direct (s.pool, "two words", NULL, store_direct, &bad));
  braid_mc_pool_cancel_direct (s.pool, NULL);
  g_assert_cmpuint (bad.calls, ==, 0);
  braid_fake_reactor_run_until_idle (s.fake);
  g_assert_cmpuint (bad.calls, ==, 1);
  g_assert_error (bad.error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (s.conns[0]->len + s.conns[1]->len, ==, 0);

  key = key_on (s.pool, 0);
  braid_mc_pool_get_direct (s.pool, key, cancellable, store_direct, &cancelled);
  braid_fake_reactor_run_until_idle (s.fake);
  g_cancellable_cancel (cancellable);
  braid_fake_reactor_run_until_idle (s.fake);
  g_assert_cmpuint (cancelled.calls, ==, 1);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));

  {
    DirectResult by_handle = { 0 };
    BraidMcPoolDirectGet *get = braid_mc_pool_get_direct (s.pool, key, NULL, store_direct, &by_handle);

    g_assert_nonnull (get);
    braid_fake_reactor_run_until_idle (s.fake);
    braid_mc_pool_cancel_direct (s.pool, get);
    g_assert_cmpuint (by_handle.calls, ==, 0);
    braid_fake_reactor_run_until_idle (s.fake);
    g_assert_cmpuint (by_handle.calls, ==, 1);
    g_assert_error (by_handle.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
    g_clear_error (&by_handle.error);
  }
  g_clear_error (&bad.error);
  g_clear_error (&cancelled.error);
  servers_clear (&s);
}

static void
test_preconditions (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
      g_autoptr(BraidMcPool) pool = braid_mc_pool_new (BRAID_REACTOR (fake), "a:1,b:2", NULL);

      g_log_set_always_fatal (G_LOG_FATAL_MASK);   /* the parent reads the criticals */
      g_assert_null (braid_mc_pool_get_client (pool, 2));
      g_assert_null (braid_mc_pool_get_server_name (pool, 2));
      g_assert_cmpuint (braid_mc_pool_locate (pool, NULL), ==, 0);
      return;
    }
  g_test_summary ("A server index past the end or a NULL key is a programming error: a critical "
                  "and NULL or 0, never a read past the pool's servers");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*CRITICAL*index < self->servers->len*CRITICAL*index < self->servers->len*"
                             "CRITICAL*key != NULL*");
}

static void
test_clients_go_with_the_pool (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidMcPool *pool = braid_mc_pool_new (BRAID_REACTOR (fake), "a:1,b:2", NULL);
  BraidMcClient *clients[2];

  g_test_summary ("The pool owns its clients: they are finalized with it");
  for (guint i = 0; i < 2; i++)
    {
      clients[i] = braid_mc_pool_get_client (pool, i);
      g_object_add_weak_pointer (G_OBJECT (clients[i]), (gpointer *) &clients[i]);
    }
  g_object_unref (pool);
  g_assert_null (clients[0]);
  g_assert_null (clients[1]);
}

static void
test_count_starts_again_after_retry (gconstpointer direct)
{
  use_direct = GPOINTER_TO_INT (direct);
  Servers s;
  g_autofree gchar *key = NULL;
  GError *e;

  g_test_summary ("A server back after its retry delay starts with no failures: it takes the whole limit "
                  "again to take it out, not one failure left over from before");
  servers_init (&s, TRUE, TRUE);
  key = key_on (s.pool, 0);
  braid_mc_pool_set_ejection (s.pool, 2, 10 * G_USEC_PER_SEC);
  braid_mc_pool_set_timeout (s.pool, G_USEC_PER_SEC);
  for (guint round = 0; round < 2; round++)
    {
      for (guint i = 0; i < 2; i++)
        {
          g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
          e = pool_get (&s, key, 0, NULL);
          g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
          g_clear_error (&e);
        }
      g_assert_false (braid_mc_pool_is_server_alive (s.pool, 0));
      braid_fake_reactor_advance (s.fake, 10 * G_USEC_PER_SEC);
    }
  g_assert_true (braid_mc_pool_is_server_alive (s.pool, 0));
  servers_clear (&s);
}

static void
test_finish_preconditions (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
      g_autoptr(BraidMcPool) pool = braid_mc_pool_new (BRAID_REACTOR (fake), "a:1,b:2", NULL);
      g_autoptr(GTask) foreign = g_task_new (NULL, NULL, NULL, NULL);
      DirectResult d = { 0 };

      g_log_set_always_fatal (G_LOG_FATAL_MASK);   /* the parent reads the criticals */
      g_task_return_boolean (foreign, TRUE);
      g_assert_false (braid_mc_pool_set_finish (pool, G_ASYNC_RESULT (foreign), NULL));
      g_assert_false (braid_mc_pool_delete_finish (pool, G_ASYNC_RESULT (foreign), NULL));
      g_assert_null (braid_mc_pool_get_direct (NULL, "key", NULL, store_direct, &d));
      braid_fake_reactor_run_until_idle (fake);
      g_assert_cmpuint (d.calls, ==, 0);
      return;
    }
  g_test_summary ("A result that is not the pool's own, or a direct get on no pool, is a programming "
                  "error: a critical and FALSE or NULL, no answer, never a crash");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*CRITICAL*g_task_is_valid*CRITICAL*g_task_is_valid*CRITICAL*BRAID_IS_MC_POOL*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/pool/ejection", test_ejection);
  g_test_add_func ("/client/pool/bad-servers", test_no_servers);
  g_test_add_func ("/client/pool/server-specs", test_server_specs);
  g_test_add_data_func ("/client/pool/routing", GINT_TO_POINTER (FALSE), test_routing);
  g_test_add_data_func ("/client/pool/direct/routing", GINT_TO_POINTER (TRUE), test_routing);
  g_test_add_func ("/client/pool/refused-before-sending", test_refused_before_sending);
  g_test_add_data_func ("/client/pool/failure-accounting", GINT_TO_POINTER (FALSE), test_failure_accounting);
  g_test_add_data_func ("/client/pool/direct/failure-accounting", GINT_TO_POINTER (TRUE), test_failure_accounting);
  g_test_add_data_func ("/client/pool/all-out", GINT_TO_POINTER (FALSE), test_all_out);
  g_test_add_data_func ("/client/pool/direct/all-out", GINT_TO_POINTER (TRUE), test_all_out);
  g_test_add_func ("/client/pool/cancelled-does-not-count", test_cancelled_does_not_count);
  g_test_add_data_func ("/client/pool/timeout-every-server", GINT_TO_POINTER (FALSE), test_timeout_every_server);
  g_test_add_data_func ("/client/pool/direct/timeout-every-server", GINT_TO_POINTER (TRUE), test_timeout_every_server);
  g_test_add_func ("/client/pool/preconditions", test_preconditions);
  g_test_add_func ("/client/pool/direct/refused-and-cancelled", test_direct_refused_and_cancelled);
  g_test_add_func ("/client/pool/clients-go-with-the-pool", test_clients_go_with_the_pool);
  g_test_add_data_func ("/client/pool/count-starts-again-after-retry", GINT_TO_POINTER (FALSE),
                        test_count_starts_again_after_retry);
  g_test_add_data_func ("/client/pool/direct/count-starts-again-after-retry", GINT_TO_POINTER (TRUE),
                        test_count_starts_again_after_retry);
  g_test_add_func ("/client/pool/finish-preconditions", test_finish_preconditions);
  return g_test_run ();
}
