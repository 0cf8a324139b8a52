/* braid — the memcached client on the fake reactor: exact bytes sent,
 * replies fed back in pieces, results checked (the _test(send, recv,
 * result) shape), pipelining, timeouts, reconnects, resets, cancellation. */
#include "test-support.h"
#include "mc-client.h"
#include "mc-client-private.h"
#include "mc-reply-parser.h"

#include <string.h>

typedef struct {
  BraidFakeReactor *fake;
  BraidListener *listener;
  GPtrArray *servers;      /* BraidRecordingProtocol, one per connection */
  BraidMcClient *client;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;

  f->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  braid_fake_reactor_set_delivery (f->fake, GPOINTER_TO_INT (data));
  f->servers = g_ptr_array_new_with_free_func (g_object_unref);
  factory = braid_recording_factory_new (FALSE, f->servers);
  f->listener = braid_reactor_listen (BRAID_REACTOR (f->fake), "tcp:11211", factory, &error);
  g_assert_no_error (error);
  f->client = braid_mc_client_new (BRAID_REACTOR (f->fake), "tcp:127.0.0.1:11211");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  braid_listener_stop (f->listener);
  g_clear_object (&f->listener);
  braid_fake_reactor_run_until_idle (f->fake);
  /* every test ends with no timer left */
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (f->fake), ==, 0);
  g_clear_pointer (&f->servers, g_ptr_array_unref);
  g_assert_finalize_object (f->fake);
}

static BraidRecordingProtocol *
server (Fixture *f)
{
  g_assert_cmpuint (f->servers->len, >, 0);
  return g_ptr_array_index (f->servers, f->servers->len - 1);
}

static void
expect_sent (Fixture *f, const gchar *expected)
{
  BraidRecordingProtocol *s;

  braid_fake_reactor_run_until_idle (f->fake);
  s = server (f);
  braid_assert_bytes_equal (expected, strlen (expected), s->received->data, s->received->len);
  g_byte_array_set_size (s->received, 0);
}

static void
reply (Fixture *f, const gchar *bytes)
{
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (server (f))), bytes);
  braid_fake_reactor_run_until_idle (f->fake);
}

static void
test_get (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = NULL;

  g_test_summary ("get: the exact request, the value with its flags (a reference counted value); a miss is "
                  "NOT_FOUND");
  braid_mc_client_get_async (f->client, "greeting", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  expect_sent (f, "get greeting\r\n");
  reply (f, "VALUE greeting 7 5\r\nhello\r\nEND\r\n");
  v = braid_mc_client_get_finish (f->client, r1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v->key, ==, "greeting");
  g_assert_cmpuint (v->flags, ==, 7);
  g_assert_cmpmem (g_bytes_get_data (v->data, NULL), g_bytes_get_size (v->data), "hello", 5);
  /* a second holder keeps it alive past the first's unref */
  g_assert_true (g_atomic_ref_count_compare (&v->ref_count, 1));
  g_assert_true (braid_mc_value_ref (v) == v);
  g_assert_true (g_atomic_ref_count_compare (&v->ref_count, 2));
  braid_mc_value_unref (v);
  g_assert_true (g_atomic_ref_count_compare (&v->ref_count, 1));
  g_assert_cmpstr (v->key, ==, "greeting");

  braid_mc_client_get_async (f->client, "absent", BRAID_MC_GET_FLAGS_WITH_CAS, NULL, braid_test_store_result, &r2);
  expect_sent (f, "gets absent\r\n");
  reply (f, "END\r\n");
  g_assert_null (braid_mc_client_get_finish (f->client, r2, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
}

static void
test_gat (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v1 = NULL;
  g_autoptr(BraidMcValue) v2 = NULL;

  g_test_summary ("gat and gats: the exact request (exptime before the key), the value, its cas with gats");
  braid_mc_client_gat_async (f->client, "greeting", 30, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  expect_sent (f, "gat 30 greeting\r\n");
  reply (f, "VALUE greeting 7 5\r\nhello\r\nEND\r\n");
  v1 = braid_mc_client_gat_finish (f->client, r1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v1->key, ==, "greeting");
  g_assert_cmpuint (v1->flags, ==, 7);
  g_assert_cmpmem (g_bytes_get_data (v1->data, NULL), g_bytes_get_size (v1->data), "hello", 5);

  braid_mc_client_gat_async (f->client, "k", -1, BRAID_MC_GET_FLAGS_WITH_CAS, NULL, braid_test_store_result, &r2);
  expect_sent (f, "gats -1 k\r\n");
  reply (f, "VALUE k 0 1 42\r\nv\r\nEND\r\n");
  v2 = braid_mc_client_gat_finish (f->client, r2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (v2->cas, ==, 42);
}

static void
test_dispose_closes (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(BraidRecordingProtocol) s = NULL;

  g_test_summary ("A client dropped while connected closes its connection; one that never connected opens none");
  braid_mc_client_get_async (f->client, "k", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r);
  expect_sent (f, "get k\r\n");
  reply (f, "END\r\n");
  s = g_object_ref (server (f));
  g_assert_false (braid_recording_protocol_is_lost (s));
  g_clear_object (&r);  /* the result holds the client too */
  g_assert_finalize_object (g_steal_pointer (&f->client));
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_true (braid_recording_protocol_is_lost (s));

  f->client = braid_mc_client_new (BRAID_REACTOR (f->fake), "tcp:127.0.0.1:11211");
  g_assert_finalize_object (g_steal_pointer (&f->client));
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (f->servers->len, ==, 1);
}

static void
test_multi_get_and_cas (Fixture *f, gconstpointer data)
{
  const gchar *keys[] = { "a", "b", "c", NULL };
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) values = NULL;
  g_autoptr(GBytes) data_new = g_bytes_new_static ("new", 3);
  BraidMcValue *b;

  g_test_summary ("Multi-get returns the hits by key with their cas; cas sends the value read");
  braid_mc_client_get_multi_async (f->client, keys, BRAID_MC_GET_FLAGS_WITH_CAS, NULL, braid_test_store_result, &r1);
  expect_sent (f, "gets a b c\r\n");
  reply (f, "VALUE a 0 1 10\r\n1\r\nVALUE b 0 2 11\r\n22\r\nEND\r\n");
  values = braid_mc_client_get_multi_finish (f->client, r1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (values), ==, 2);
  b = g_hash_table_lookup (values, "b");
  g_assert_cmpuint (b->cas, ==, 11);
  braid_mc_client_store_async (f->client, BRAID_MC_STORE_MODE_CAS, "b", data_new, 0, 0, b->cas, NULL, braid_test_store_result, &r2);
  expect_sent (f, "cas b 0 0 3 11\r\nnew\r\n");
  reply (f, "EXISTS\r\n");
  g_assert_false (braid_mc_client_store_finish (f->client, r2, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_EXISTS);
}

typedef struct {
  const gchar *sent;
  const gchar *reply;
  gint error_code;   /* -1: success */
} StoreCase;

static void
test_storage_and_others (Fixture *f, gconstpointer data)
{
  static const BraidMcStoreMode modes[] = { BRAID_MC_STORE_MODE_SET, BRAID_MC_STORE_MODE_ADD, BRAID_MC_STORE_MODE_REPLACE, BRAID_MC_STORE_MODE_APPEND, BRAID_MC_STORE_MODE_PREPEND };
  static const StoreCase cases[] = {
    { "set k 3 60 2\r\nhi\r\n", "STORED\r\n", -1 },
    { "add k 3 60 2\r\nhi\r\n", "NOT_STORED\r\n", BRAID_MC_ERROR_NOT_STORED },
    { "replace k 3 60 2\r\nhi\r\n", "SERVER_ERROR out of memory storing object\r\n", BRAID_MC_ERROR_SERVER_ERROR },
    { "append k 3 60 2\r\nhi\r\n", "CLIENT_ERROR bad data chunk\r\n", BRAID_MC_ERROR_CLIENT_ERROR },
    { "prepend k 3 60 2\r\nhi\r\n", "ERROR\r\n", BRAID_MC_ERROR_UNKNOWN_COMMAND },
  };
  g_autoptr(GBytes) hi = g_bytes_new_static ("hi", 2);

  g_test_summary ("Every storage command sends memcached's line and data; every answer maps to its result");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(GError) error = NULL;
      gboolean ok;

      braid_mc_client_store_async (f->client, modes[i], "k", hi, 3, 60, 0, NULL, braid_test_store_result, &r);
      expect_sent (f, cases[i].sent);
      reply (f, cases[i].reply);
      ok = braid_mc_client_store_finish (f->client, r, &error);
      if (cases[i].error_code < 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        g_assert_error (error, BRAID_MC_ERROR, cases[i].error_code);
    }

  {
    g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL, r7 = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) stats = NULL;
    g_autofree gchar *version = NULL;
    guint64 n = 0;

    braid_mc_client_delete_async (f->client, "k", NULL, braid_test_store_result, &r1);
    braid_mc_client_arith_async (f->client, "n", BRAID_MC_ARITH_MODE_INCR, 18446744073709551615ULL, NULL, braid_test_store_result, &r2);
    braid_mc_client_arith_async (f->client, "n", BRAID_MC_ARITH_MODE_DECR, 1, NULL, braid_test_store_result, &r3);
    braid_mc_client_touch_async (f->client, "k", 10, NULL, braid_test_store_result, &r4);
    braid_mc_client_flush_all_async (f->client, 5, NULL, braid_test_store_result, &r5);
    braid_mc_client_stats_async (f->client, NULL, NULL, braid_test_store_result, &r6);
    braid_mc_client_version_async (f->client, NULL, braid_test_store_result, &r7);
    expect_sent (f, "delete k\r\nincr n 18446744073709551615\r\ndecr n 1\r\ntouch k 10\r\n"
                    "flush_all 5\r\nstats\r\nversion\r\n");
    reply (f, "NOT_FOUND\r\n18446744073709551615\r\n0   \r\nTOUCHED\r\nOK\r\nSTAT pid 1\r\nSTAT a b c\r\nEND\r\nVERSION 1.6.18\r\n");
    g_assert_false (braid_mc_client_delete_finish (f->client, r1, &error));
    g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_true (braid_mc_client_arith_finish (f->client, r2, &n, &error));
    g_assert_cmpuint (n, ==, G_MAXUINT64);
    g_assert_true (braid_mc_client_arith_finish (f->client, r3, &n, &error));
    g_assert_cmpuint (n, ==, 0);
    g_assert_true (braid_mc_client_touch_finish (f->client, r4, &error));
    g_assert_true (braid_mc_client_flush_all_finish (f->client, r5, &error));
    stats = braid_mc_client_stats_finish (f->client, r6, &error);
    g_assert_cmpstr (g_hash_table_lookup (stats, "a"), ==, "b c");
    version = braid_mc_client_version_finish (f->client, r7, &error);
    g_assert_cmpstr (version, ==, "1.6.18");
    g_assert_no_error (error);
  }
}

static void
test_validation (Fixture *f, gconstpointer data)
{
  g_autofree gchar *long_key = g_strnfill (251, 'k');
  const gchar *bad_keys[] = { "", long_key, "with space", "tab\there", "nl\n", NULL };
  g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (2 * 1024 * 1024), 2 * 1024 * 1024);

  g_test_summary ("Bad keys and oversize values are refused before anything is sent");
  for (const gchar **k = bad_keys; *k != NULL; k++)
    {
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(GError) error = NULL;

      braid_mc_client_get_async (f->client, *k, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r);
      braid_fake_reactor_run_until_idle (f->fake);
      g_assert_null (braid_mc_client_get_finish (f->client, r, &error));
      g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
    }
  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(GError) error = NULL;

    braid_mc_client_set_async (f->client, "big", big, 0, 0, NULL, braid_test_store_result, &r);
    braid_fake_reactor_run_until_idle (f->fake);
    g_assert_false (braid_mc_client_set_finish (f->client, r, &error));
    g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_TOO_LARGE);
  }
  {
    const gchar *no_keys[] = { NULL };
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(GError) error = NULL;

    braid_mc_client_get_multi_async (f->client, no_keys, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r);
    braid_fake_reactor_run_until_idle (f->fake);
    g_assert_nonnull (r);
    g_assert_null (braid_mc_client_get_multi_finish (f->client, r, &error));
    g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  }
  g_assert_cmpuint (f->servers->len, ==, 0);  /* never even connected */
}

static void
test_defaults_and_edges (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  g_autoptr(GError) error = NULL;
  gsize bytes = 0;
  guint n_keys = 0;

  g_test_summary ("flush_all with a delay of 1 sends it; a get in flight is visible to the checkers with its key "
                  "and what it has read, a flush_all with no key; a request times out after exactly the default 1 s");
  braid_mc_client_flush_all_async (f->client, 1, NULL, braid_test_store_result, &r1);
  expect_sent (f, "flush_all 1\r\n");
  /* a request that asks for no key holds no values */
  n_keys = 7;
  g_assert_true (braid_mc_client_get_request_buffered (f->client, 0, &bytes, &n_keys));
  g_assert_cmpuint (bytes, ==, 0);
  g_assert_cmpuint (n_keys, ==, 0);
  reply (f, "OK\r\n");
  g_assert_true (braid_mc_client_flush_all_finish (f->client, r1, &error));
  g_assert_no_error (error);

  braid_mc_client_get_async (f->client, "abc", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r2);
  expect_sent (f, "get abc\r\n");
  g_assert_true (braid_mc_client_get_request_buffered (f->client, 0, &bytes, &n_keys));
  g_assert_cmpuint (bytes, ==, 0);
  g_assert_cmpuint (n_keys, ==, 1);
  reply (f, "VALUE abc 0 2\r\nhi\r\n");
  g_assert_true (braid_mc_client_get_request_buffered (f->client, 0, &bytes, &n_keys));
  g_assert_cmpuint (bytes, ==, 5);   /* key and data */
  g_assert_false (braid_mc_client_get_request_buffered (f->client, 1, &bytes, &n_keys));
  reply (f, "END\r\n");
  g_assert_nonnull (r2);

  braid_mc_client_get_async (f->client, "slow", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r3);
  expect_sent (f, "get slow\r\n");
  braid_fake_reactor_advance (f->fake, G_USEC_PER_SEC - 1);
  g_assert_null (r3);
  braid_fake_reactor_advance (f->fake, 1);
  g_assert_nonnull (r3);
  g_assert_null (braid_mc_client_get_finish (f->client, r3, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
}

static void
test_checker_views (Fixture *f, gconstpointer data)
{
  const gchar *keys[] = { "a", "b", "c", "b", NULL };
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GHashTable) values = NULL;
  g_autoptr(GError) error = NULL;
  gsize bytes = 7;
  guint n_keys = 7;

  g_test_summary ("What the resource checkers read of a multi-get in flight: the distinct keys it waits for, "
                  "the values it holds, and the partial reply element the client has buffered, emptied when "
                  "the reply is whole");
  braid_mc_client_get_multi_async (f->client, keys, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r);
  expect_sent (f, "get a b c b\r\n");
  g_assert_cmpuint (braid_mc_client_get_input_buffered (f->client), ==, 0);
  g_assert_true (braid_mc_client_get_request_buffered (f->client, 0, &bytes, &n_keys));
  g_assert_cmpuint (bytes, ==, 0);
  g_assert_cmpuint (n_keys, ==, 3);
  reply (f, "VALUE a 0 2\r\nhi\r\nVALUE b 0 3\r\nab");
  g_assert_true (braid_mc_client_get_request_buffered (f->client, 0, &bytes, &n_keys));
  g_assert_cmpuint (bytes, ==, 3);   /* "a" and "hi" */
  g_assert_cmpuint (n_keys, ==, 3);
  g_assert_cmpuint (braid_mc_client_get_input_buffered (f->client), ==, strlen ("VALUE b 0 3\r\nab"));
  reply (f, "c\r\nEND\r\n");
  g_assert_cmpuint (braid_mc_client_get_input_buffered (f->client), ==, 0);
  g_assert_false (braid_mc_client_get_request_buffered (f->client, 0, &bytes, &n_keys));
  g_assert_nonnull (r);
  values = braid_mc_client_get_multi_finish (f->client, r, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (values), ==, 2);
}

static void
test_pipelining (Fixture *f, gconstpointer data)
{
  GAsyncResult *r[3] = { NULL, NULL, NULL };
  const gchar *keys[] = { "one", "two", "three" };

  g_test_summary ("Requests are pipelined on one connection and matched to replies in order");
  for (guint i = 0; i < 3; i++)
    braid_mc_client_get_async (f->client, keys[i], BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r[i]);
  expect_sent (f, "get one\r\nget two\r\nget three\r\n");
  g_assert_cmpuint (braid_mc_client_get_n_pending (f->client), ==, 3);
  reply (f, "VALUE one 0 1\r\n1\r\nEND\r\nEND\r\nVALUE three 0 1\r\n3\r\nEND\r\n");
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidMcValue) v = braid_mc_client_get_finish (f->client, r[i], &error);

      if (i == 1)
        g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
      else
        g_assert_cmpstr (v->key, ==, keys[i]);
      g_clear_object (&r[i]);
    }
  g_assert_cmpuint (braid_mc_client_get_n_pending (f->client), ==, 0);
  g_assert_cmpuint (f->servers->len, ==, 1);
}

static void
test_timeout_and_reconnect (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = NULL;

  g_test_summary ("A request with no reply times out on the reactor clock; the client starts a new "
                  "connection for the next one");
  braid_mc_client_set_timeout (f->client, 500 * 1000);
  braid_mc_client_get_async (f->client, "slow", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  expect_sent (f, "get slow\r\n");
  braid_fake_reactor_advance (f->fake, 499 * 1000);
  g_assert_null (r1);
  braid_fake_reactor_advance (f->fake, 1000);
  g_assert_null (braid_mc_client_get_finish (f->client, r1, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
  g_assert_true (braid_recording_protocol_is_lost (server (f)));

  braid_mc_client_get_async (f->client, "k", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r2);
  expect_sent (f, "get k\r\n");
  g_assert_cmpuint (f->servers->len, ==, 2);
  reply (f, "VALUE k 0 1\r\nx\r\nEND\r\n");
  v = braid_mc_client_get_finish (f->client, r2, &error);
  g_assert_nonnull (v);
}

static void
test_reset_mid_value (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(BraidMcValue) v = NULL;

  g_test_summary ("A reset in the middle of a value fails the requests in flight, and only those");
  braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  braid_mc_client_get_async (f->client, "b", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r2);
  expect_sent (f, "get a\r\nget b\r\n");
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (server (f))), "VALUE a 0 10\r\n01234");
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_null (r1);
  braid_transport_abort_connection (braid_protocol_get_transport (BRAID_PROTOCOL (server (f))));
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_null (braid_mc_client_get_finish (f->client, r1, &e1));
  g_assert_error (e1, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  g_assert_null (braid_mc_client_get_finish (f->client, r2, &e2));
  g_assert_error (e2, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);

  braid_mc_client_get_async (f->client, "c", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r3);
  expect_sent (f, "get c\r\n");
  reply (f, "VALUE c 0 1\r\nc\r\nEND\r\n");
  v = braid_mc_client_get_finish (f->client, r3, &e3);
  g_assert_no_error (e3);
}

static void
test_cancellation (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(BraidMcValue) v = NULL;

  g_test_summary ("Cancelling answers at once; the cancelled reply is still read and dropped, so the "
                  "next request gets its own reply");
  braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, cancellable, braid_test_store_result, &r1);
  braid_mc_client_get_async (f->client, "b", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r2);
  expect_sent (f, "get a\r\nget b\r\n");
  g_cancellable_cancel (cancellable);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_null (braid_mc_client_get_finish (f->client, r1, &e1));
  g_assert_error (e1, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (r2);
  reply (f, "VALUE a 0 1\r\nA\r\nEND\r\nVALUE b 0 1\r\nB\r\nEND\r\n");
  v = braid_mc_client_get_finish (f->client, r2, &e2);
  g_assert_no_error (e2);
  g_assert_cmpstr (v->key, ==, "b");
  g_assert_cmpmem (g_bytes_get_data (v->data, NULL), 1, "B", 1);
}

static void
test_cancel_after_answer (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(BraidMcValue) v = NULL;
  g_autoptr(GHashTable) stats = NULL;

  g_test_summary ("A cancellable cancelled after its request was answered and freed does nothing: the "
                  "request let go of it; a stats argument with a line break is refused unsent");
  braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, cancellable, braid_test_store_result, &r1);
  expect_sent (f, "get a\r\n");
  reply (f, "VALUE a 0 1\r\nA\r\nEND\r\n");
  v = braid_mc_client_get_finish (f->client, r1, NULL);
  g_assert_nonnull (v);
  g_clear_object (&r1);
  braid_fake_reactor_run_until_idle (f->fake);
  /* nothing of the request is left listening: a handler left behind
   * would run on freed memory at the cancel below */
  g_assert_false (g_signal_has_handler_pending (cancellable, g_signal_lookup ("cancelled", G_TYPE_CANCELLABLE), 0, TRUE));
  g_cancellable_cancel (cancellable);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (braid_mc_client_get_n_pending (f->client), ==, 0);

  braid_mc_client_stats_async (f->client, "items\r\nflush_all", NULL, braid_test_store_result, &r2);
  braid_fake_reactor_run_until_idle (f->fake);
  stats = braid_mc_client_stats_finish (f->client, r2, &e2);
  g_assert_null (stats);
  g_assert_error (e2, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  expect_sent (f, "");
}

static void
test_refused_and_backoff (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A refused connection fails the waiting requests; the next connect waits out a backoff, "
                  "which a successful connect resets");
  braid_fake_reactor_set_refuse_connections (f->fake, TRUE);
  braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_null (braid_mc_client_get_finish (f->client, r1, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);

  braid_fake_reactor_set_refuse_connections (f->fake, FALSE);
  braid_mc_client_get_async (f->client, "b", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r2);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (f->servers->len, ==, 0);   /* still backing off */
  braid_fake_reactor_advance (f->fake, 50 * 1000);
  expect_sent (f, "get b\r\n");
  reply (f, "END\r\n");
  g_assert_nonnull (r2);

  /* A connect that succeeded starts the backoff over: after the next
   * refusal the client waits 50 ms again, not the 100 ms the first
   * refusal had doubled it to. */
  {
    g_autoptr(GAsyncResult) r3 = NULL;
    g_autoptr(GAsyncResult) r4 = NULL;
    g_autoptr(GError) e3 = NULL;

    braid_fake_reactor_set_refuse_connections (f->fake, TRUE);
    braid_transport_abort_connection (braid_protocol_get_transport (BRAID_PROTOCOL (server (f))));
    braid_fake_reactor_run_until_idle (f->fake);
    braid_mc_client_get_async (f->client, "c", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r3);
    braid_fake_reactor_run_until_idle (f->fake);
    g_assert_null (braid_mc_client_get_finish (f->client, r3, &e3));
    g_assert_error (e3, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
    braid_fake_reactor_set_refuse_connections (f->fake, FALSE);
    braid_mc_client_get_async (f->client, "d", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r4);
    braid_fake_reactor_advance (f->fake, 50 * 1000 - 1);
    g_assert_cmpuint (f->servers->len, ==, 1);   /* backing off */
    braid_fake_reactor_advance (f->fake, 1);
    g_assert_cmpuint (f->servers->len, ==, 2);
    expect_sent (f, "get d\r\n");
    reply (f, "END\r\n");
    g_assert_nonnull (r4);
  }
}

/* A server (or anything on the path) that lies: each reply answers
 * "get a" (with "get b" pipelined behind it) and must fail "get a" with a
 * protocol error that names what was wrong, fail "get b" as a lost
 * connection, allocate nothing the reply announces, and leave the client
 * able to reconnect and serve the next request. */
static const struct {
  const gchar *name;
  const gchar *reply;
  const gchar *message;      /* a part of the error's message */
} hostile_replies[] = {
  { "wrapping length", "VALUE a 0 18446744073709551614\r\n\r\nEND\r\n", "over the 1048576-byte limit" },
  { "huge length", "VALUE a 0 1000000000\r\n", "VALUE of 1000000000 bytes" },
  { "empty key", "VALUE  0 1\r\nx\r\nEND\r\n", "bad VALUE line" },
  { "key never asked", "VALUE b 0 1\r\nx\r\nEND\r\n", "did not ask for" },
  { "the key asked, and more", "VALUE aa 0 1\r\nx\r\nEND\r\n", "did not ask for" },
  { "another key of the same length", "VALUE A 0 1\r\nx\r\nEND\r\n", "did not ask for" },
  { "endless values", "VALUE a 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nVALUE a 0 1\r\n", "did not ask for" },
  { "flags over 32 bits", "VALUE a 4294967296 1\r\nx\r\nEND\r\n", "flags" },
  { "garbage", "HELLO\r\n", "unknown reply" },
  { "bare newline", "END\n", "not ended by" },
  { "long line", NULL, "line too long" },
  { "stored for a get", "STORED\r\n", "expects values" },
};

static void
test_hostile_server (Fixture *f, gconstpointer data)
{
  g_test_summary ("A lying server fails the request it was answering with a protocol error naming what "
                  "was wrong, never allocates what it announces, and the client recovers");
  g_test_bug ("11");
  for (gsize i = 0; i < G_N_ELEMENTS (hostile_replies); i++)
    {
      g_autoptr(GAsyncResult) ra = NULL;
      g_autoptr(GAsyncResult) rb = NULL;
      g_autoptr(GAsyncResult) rc = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidMcValue) v = NULL;
      g_autofree gchar *long_line = g_strnfill (9000, 'x');

      g_test_message ("%s", hostile_replies[i].name);
      braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &ra);
      braid_mc_client_get_async (f->client, "b", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &rb);
      expect_sent (f, "get a\r\nget b\r\n");
      reply (f, hostile_replies[i].reply != NULL ? hostile_replies[i].reply : long_line);
      g_assert_nonnull (ra);
      g_assert_nonnull (rb);
      g_assert_null (braid_mc_client_get_finish (f->client, ra, &error));
      g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
      if (strstr (error->message, hostile_replies[i].message) == NULL)
        g_error ("expected “%s” in the error but saw “%s”", hostile_replies[i].message, error->message);
      g_clear_error (&error);
      g_assert_null (braid_mc_client_get_finish (f->client, rb, &error));
      g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
      g_assert_false (braid_mc_client_is_connected (f->client));

      braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &rc);
      expect_sent (f, "get a\r\n");
      reply (f, "VALUE a 0 2\r\nok\r\nEND\r\n");
      v = braid_mc_client_get_finish (f->client, rc, NULL);
      g_assert_nonnull (v);
      g_assert_cmpmem (g_bytes_get_data (v->data, NULL), g_bytes_get_size (v->data), "ok", 2);
    }
}

/* A lying server's reply failed the request with a protocol error that
 * says @what, and the client let the connection go. */
static void
assert_protocol_error (Fixture *f, const GError *error, const gchar *what)
{
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
  if (strstr (error->message, what) == NULL)
    g_error ("expected \u201c%s\u201d in the error but saw \u201c%s\u201d", what, error->message);
  g_assert_false (braid_mc_client_is_connected (f->client));
}

static void
test_multi_get_unasked (Fixture *f, gconstpointer data)
{
  /* a key never asked for, and a second value for a key asked once */
  static const gchar *const replies[] = {
    "VALUE a 0 1\r\nx\r\nVALUE z 0 1\r\ny\r\nEND\r\n",
    "VALUE b 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\n",
  };
  static const gchar *const named[] = { "“z”", "“b”" };
  const gchar *keys[] = { "a", "b", NULL };

  g_test_summary ("A multi-get answered with a value for a key it did not ask for, or twice for one it asked "
                  "once, fails with a protocol error naming the key, and the client connects anew");
  for (gsize i = 0; i < G_N_ELEMENTS (replies); i++)
    {
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GHashTable) values = NULL;

      braid_mc_client_get_multi_async (f->client, keys, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r);
      expect_sent (f, "get a b\r\n");
      reply (f, replies[i]);
      g_assert_nonnull (r);
      values = braid_mc_client_get_multi_finish (f->client, r, &error);
      g_assert_null (values);
      assert_protocol_error (f, error, named[i]);
    }
}

static void
test_stats_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) stats = NULL;
  g_autoptr(GString) flood = g_string_new (NULL);
  g_autofree gchar *filler = g_strnfill (100, 'x');

  g_test_summary ("A stats reply of more than 1 MiB (names and values) fails with a protocol error, not a "
                  "table that grows with what the server sends");
  braid_mc_client_stats_async (f->client, NULL, NULL, braid_test_store_result, &r);
  expect_sent (f, "stats\r\n");
  /* what counts is the names and values: past 1 MiB of them */
  for (guint i = 0, counted = 0; counted <= 1024 * 1024; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("s%u", i);

      g_string_append_printf (flood, "STAT %s %s\r\n", name, filler);
      counted += (guint) (strlen (name) + strlen (filler));
    }
  g_string_append (flood, "END\r\n");
  reply (f, flood->str);
  g_assert_nonnull (r);
  stats = braid_mc_client_stats_finish (f->client, r, &error);
  g_assert_null (stats);
  assert_protocol_error (f, error, "more than 1 MiB of stats");
}

static void
test_value_limit (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = NULL;

  g_test_summary ("The client's value limit is exact: a VALUE of exactly the limit is taken, one byte "
                  "more is refused before its data arrives; the checkers' view of it follows, from 1 byte");
  g_assert_cmpuint (braid_mc_client_get_value_max (f->client), ==, BRAID_MC_REPLY_VALUE_MAX_DEFAULT);
  braid_mc_client_set_item_size_max (f->client, 1);
  g_assert_cmpuint (braid_mc_client_get_value_max (f->client), ==, 1);
  braid_mc_client_set_item_size_max (f->client, 4);
  g_assert_cmpuint (braid_mc_client_get_value_max (f->client), ==, 4);
  braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  expect_sent (f, "get a\r\n");
  reply (f, "VALUE a 0 4\r\nabcd\r\nEND\r\n");
  v = braid_mc_client_get_finish (f->client, r1, &error);
  g_assert_no_error (error);
  braid_mc_client_get_async (f->client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r2);
  expect_sent (f, "get a\r\n");
  reply (f, "VALUE a 0 5\r\n");
  g_assert_null (braid_mc_client_get_finish (f->client, r2, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
}

/* ---- preconditions ---- */

static void
never_called (GObject *source, GAsyncResult *result, gpointer data)
{
  g_assert_not_reached ();
}

static void
test_preconditions (void)
{
  BraidCriticalCounter counter;
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcClient) client = braid_mc_client_new (BRAID_REACTOR (fake), "tcp:127.0.0.1:11211");
  g_autoptr(GBytes) data = g_bytes_new_static ("v", 1);
  g_autoptr(GTask) foreign = g_task_new (fake, NULL, NULL, NULL);   /* not the client's */
  g_autoptr(GAsyncResult) version = NULL;
  const gchar *keys[] = { "k", NULL };
  GError *error = NULL;
  guint64 value = 7;
  gsize bytes;
  guint n_keys;

  g_test_summary ("Every client function refuses what is not a client (and a finish a result that is "
                  "not its own) with a critical and its failure value, never calling back");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_value_ref (NULL)));
  BRAID_EXPECT_CRITICAL (braid_mc_value_unref (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_new (NULL, "tcp:127.0.0.1:1")));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_new (BRAID_REACTOR (fake), NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_get_endpoint (NULL)));
  BRAID_EXPECT_CRITICAL (braid_mc_client_set_timeout (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_mc_client_set_item_size_max (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_mc_client_set_item_size_max (client, 0));
  g_assert_cmpuint (braid_mc_client_get_value_max (client), >, 0);
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_client_get_n_pending (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_is_connected (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_client_get_input_buffered (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_client_get_value_max (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_get_request_buffered (NULL, 0, &bytes, &n_keys)));
  BRAID_EXPECT_CRITICAL (braid_mc_client_disconnect (NULL));

  BRAID_EXPECT_CRITICAL (braid_mc_client_get_async (NULL, "k", 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_get_multi_async (NULL, keys, 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_gat_async (NULL, "k", 0, 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_store_async (NULL, BRAID_MC_STORE_MODE_SET, "k", data, 0, 0, 0, NULL,
                                                never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_store_async (client, (BraidMcStoreMode) (BRAID_MC_STORE_MODE_CAS + 1), "k",
                                                data, 0, 0, 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_set_async (NULL, "k", data, 0, 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_delete_async (NULL, "k", NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_arith_async (NULL, "k", BRAID_MC_ARITH_MODE_INCR, 1, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_touch_async (NULL, "k", 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_flush_all_async (NULL, 0, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_stats_async (NULL, NULL, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_client_version_async (NULL, NULL, never_called, NULL));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_mc_client_get_n_pending (client), ==, 0);

  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_get_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_get_multi_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_gat_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_store_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_set_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_delete_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_arith_finish (client, G_ASYNC_RESULT (foreign), &value, &error)));
  g_assert_cmpuint (value, ==, 7);
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_touch_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_flush_all_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_stats_finish (client, G_ASYNC_RESULT (foreign), &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_client_version_finish (client, G_ASYNC_RESULT (foreign), &error)));
  g_assert_no_error (error);

  /* a result of the client's own, from another call: set_finish checks the source tag */
  braid_mc_client_set_timeout (client, G_USEC_PER_SEC);
  braid_mc_client_version_async (client, NULL, braid_test_store_result, &version);
  while (version == NULL)
    braid_fake_reactor_advance (fake, G_USEC_PER_SEC / 10);
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_client_set_finish (client, version, &error)));
  g_assert_no_error (error);

  braid_test_count_criticals_end (&counter);
}

/* ---- braid_mc_client_get_direct ---- */

typedef struct {
  guint calls;
  BraidMcValue *value;       /* (owned) (nullable) */
  GError *error;             /* (owned) (nullable) */
  BraidMcClient *disconnect; /* (nullable): disconnects it from inside the callback */
} DirectResult;

static void
direct_result_clear (DirectResult *r)
{
  g_clear_pointer (&r->value, braid_mc_value_unref);
  g_clear_error (&r->error);
  r->calls = 0;
}

static void
store_direct (BraidMcValue *value, GError *error, gpointer data)
{
  DirectResult *r = data;

  r->calls++;
  g_clear_pointer (&r->value, braid_mc_value_unref);
  g_clear_error (&r->error);
  r->value = value;
  r->error = error;
  if (r->disconnect != NULL)
    braid_mc_client_disconnect (r->disconnect);
}

static void
test_get_direct (Fixture *f, gconstpointer data)
{
  DirectResult r = { 0 }, r2 = { 0 };

  g_test_summary ("The direct get sends what get_async sends and answers its callback once with the value, "
                  "NOT_FOUND, or the server's error");
  braid_mc_client_get_direct (f->client, "greeting", NULL, store_direct, &r);
  expect_sent (f, "get greeting\r\n");
  g_assert_cmpuint (r.calls, ==, 0);
  reply (f, "VALUE greeting 7 5\r\nhello\r\nEND\r\n");
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_no_error (r.error);
  g_assert_cmpstr (r.value->key, ==, "greeting");
  g_assert_cmpuint (r.value->flags, ==, 7);
  g_assert_cmpmem (g_bytes_get_data (r.value->data, NULL), g_bytes_get_size (r.value->data), "hello", 5);
  direct_result_clear (&r);

  braid_mc_client_get_direct (f->client, "absent", NULL, store_direct, &r);
  braid_mc_client_get_direct (f->client, "bad", NULL, store_direct, &r2);
  expect_sent (f, "get absent\r\nget bad\r\n");
  reply (f, "END\r\nSERVER_ERROR out of memory\r\n");
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_null (r.value);
  g_assert_error (r.error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  g_assert_cmpuint (r2.calls, ==, 1);
  g_assert_error (r2.error, BRAID_MC_ERROR, BRAID_MC_ERROR_SERVER_ERROR);
  direct_result_clear (&r);
  direct_result_clear (&r2);

  /* a value for another key is a protocol error, as for get_async */
  braid_mc_client_get_direct (f->client, "a", NULL, store_direct, &r);
  expect_sent (f, "get a\r\n");
  reply (f, "VALUE ab 0 1\r\nx\r\nEND\r\n");
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_error (r.error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
  direct_result_clear (&r);
}

static void
test_dispose_while_waiting (Fixture *f, gconstpointer data)
{
  DirectResult first = { 0 }, waiting = { 0 };

  g_test_summary ("A client let go of while a request waits out the reconnect backoff (no connection, a "
                  "timer) answers that request with an error, and makes no connection");
  braid_mc_client_get_direct (f->client, "k", NULL, store_direct, &first);
  braid_mc_client_disconnect (f->client);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (first.calls, ==, 1);
  /* within the backoff: queued behind the reconnect timer */
  braid_mc_client_get_direct (f->client, "k", NULL, store_direct, &waiting);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (waiting.calls, ==, 0);
  g_clear_object (&f->client);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (waiting.calls, ==, 1);
  g_assert_nonnull (waiting.error);
  g_assert_null (waiting.value);
  g_assert_cmpuint (f->servers->len, ==, 0);
  direct_result_clear (&first);
  direct_result_clear (&waiting);
}

static void
test_disconnect_while_connecting (Fixture *f, gconstpointer data)
{
  DirectResult r = { 0 }, again = { 0 };

  g_test_summary ("A disconnect while the connection is still being made cancels the connect: the request "
                  "waiting for it fails, no connection is left open, and the next request connects anew");
  braid_mc_client_get_direct (f->client, "k", NULL, store_direct, &r);
  g_assert_false (braid_mc_client_is_connected (f->client));
  braid_mc_client_disconnect (f->client);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_nonnull (r.error);
  g_assert_null (r.value);
  g_assert_false (braid_mc_client_is_connected (f->client));
  g_assert_cmpuint (f->servers->len, ==, 0);

  /* past the reconnect backoff the next request connects */
  braid_fake_reactor_advance (f->fake, 60 * G_USEC_PER_SEC);
  braid_mc_client_get_direct (f->client, "k", NULL, store_direct, &again);
  expect_sent (f, "get k\r\n");
  g_assert_cmpuint (f->servers->len, ==, 1);
  reply (f, "END\r\n");
  g_assert_cmpuint (again.calls, ==, 1);
  g_assert_error (again.error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  direct_result_clear (&r);
  direct_result_clear (&again);
}

static void
test_get_direct_never_reentrant (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  DirectResult r = { 0 }, bad = { 0 }, pre = { 0 }, late = { 0 };

  g_test_summary ("The direct get never calls back from inside itself or from inside g_cancellable_cancel: an "
                  "invalid key, an already cancelled cancellable and a cancellation are answered by the reactor; "
                  "the reply of a cancelled get is still read, so the next get gets its own");
  braid_mc_client_get_direct (f->client, "has space", NULL, store_direct, &bad);
  g_assert_cmpuint (bad.calls, ==, 0);
  g_cancellable_cancel (cancelled);
  braid_mc_client_get_direct (f->client, "x", cancelled, store_direct, &pre);
  g_assert_cmpuint (pre.calls, ==, 0);
  braid_mc_client_get_direct (f->client, "a", cancellable, store_direct, &r);
  braid_mc_client_get_direct (f->client, "b", NULL, store_direct, &late);
  expect_sent (f, "get x\r\nget a\r\nget b\r\n");
  g_assert_cmpuint (bad.calls, ==, 1);
  g_assert_error (bad.error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (pre.calls, ==, 1);
  g_assert_error (pre.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_cancellable_cancel (cancellable);
  g_assert_cmpuint (r.calls, ==, 0);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  reply (f, "END\r\nVALUE a 0 1\r\n1\r\nEND\r\nVALUE b 0 1\r\n2\r\nEND\r\n");
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_cmpuint (pre.calls, ==, 1);
  g_assert_cmpuint (late.calls, ==, 1);
  g_assert_no_error (late.error);
  g_assert_cmpstr (late.value->key, ==, "b");
  direct_result_clear (&r);
  direct_result_clear (&bad);
  direct_result_clear (&pre);
  direct_result_clear (&late);
}

static void
test_get_direct_timeout_and_disconnect (Fixture *f, gconstpointer data)
{
  DirectResult r = { 0 }, behind = { 0 }, first = { 0 }, second = { 0 };

  g_test_summary ("A direct get times out as get_async does and the gets behind it fail as a lost connection; a "
                  "callback that disconnects the client while its reply is read fails the gets still queued "
                  "once, and the client serves the next get");
  braid_mc_client_set_timeout (f->client, 1000);
  braid_mc_client_get_direct (f->client, "a", NULL, store_direct, &r);
  expect_sent (f, "get a\r\n");
  braid_fake_reactor_advance (f->fake, 999);
  g_assert_cmpuint (r.calls, ==, 0);
  braid_mc_client_get_direct (f->client, "b", NULL, store_direct, &behind);
  braid_fake_reactor_advance (f->fake, 1);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_error (r.error, BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT);
  g_assert_cmpuint (behind.calls, ==, 1);
  g_assert_error (behind.error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  braid_mc_client_set_timeout (f->client, 0);

  first.disconnect = f->client;
  braid_mc_client_get_direct (f->client, "c", NULL, store_direct, &first);
  braid_mc_client_get_direct (f->client, "d", NULL, store_direct, &second);
  expect_sent (f, "get c\r\nget d\r\n");
  reply (f, "END\r\nEND\r\n");
  g_assert_cmpuint (first.calls, ==, 1);
  g_assert_error (first.error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  g_assert_cmpuint (second.calls, ==, 1);
  g_assert_error (second.error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  first.disconnect = NULL;

  direct_result_clear (&r);
  braid_mc_client_get_direct (f->client, "e", NULL, store_direct, &r);
  expect_sent (f, "get e\r\n");
  reply (f, "VALUE e 0 1\r\n5\r\nEND\r\n");
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_nonnull (r.value);
  direct_result_clear (&r);
  direct_result_clear (&behind);
  direct_result_clear (&first);
  direct_result_clear (&second);
}

static void
test_get_direct_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  DirectResult r = { 0 }, both = { 0 }, bad = { 0 }, next = { 0 };
  BraidMcDirectGet *get, *get_both;

  g_test_summary ("Cancelling a direct get by its handle answers CANCELLED from the reactor, not inside the "
                  "call, once however often it is cancelled and whether or not a cancellable was cancelled "
                  "too; its reply is still read, so the next get gets its own; a bad key gives no handle");
  get = braid_mc_client_get_direct (f->client, "a", NULL, store_direct, &r);
  get_both = braid_mc_client_get_direct (f->client, "b", cancellable, store_direct, &both);
  g_assert_nonnull (get);
  g_assert_nonnull (get_both);
  g_assert_null (braid_mc_client_get_direct (f->client, "has space", NULL, store_direct, &bad));
  braid_mc_client_cancel_direct (f->client, NULL);
  expect_sent (f, "get a\r\nget b\r\n");

  braid_mc_client_cancel_direct (f->client, get);
  braid_mc_client_cancel_direct (f->client, get);
  g_cancellable_cancel (cancellable);
  braid_mc_client_cancel_direct (f->client, get_both);
  g_assert_cmpuint (r.calls, ==, 0);
  g_assert_cmpuint (both.calls, ==, 0);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (both.calls, ==, 1);
  g_assert_error (both.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (bad.calls, ==, 1);
  g_assert_error (bad.error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);

  braid_mc_client_get_direct (f->client, "c", NULL, store_direct, &next);
  expect_sent (f, "get c\r\n");
  reply (f, "VALUE a 0 1\r\n1\r\nEND\r\nEND\r\nVALUE c 0 1\r\n3\r\nEND\r\n");
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_cmpuint (both.calls, ==, 1);
  g_assert_cmpuint (next.calls, ==, 1);
  g_assert_nonnull (next.value);
  g_assert_cmpstr (next.value->key, ==, "c");

  direct_result_clear (&r);
  direct_result_clear (&both);
  direct_result_clear (&bad);
  direct_result_clear (&next);
}

static void
test_get_direct_cancel_then_lost (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  DirectResult r = { 0 }, by_cancellable = { 0 };
  BraidMcDirectGet *get;

  g_test_summary ("A direct get whose cancel is on its way (by handle or by cancellable) is answered "
                  "CANCELLED even when a disconnect or its reply ends it first, as a GTask's cancellable "
                  "wins over its error");
  get = braid_mc_client_get_direct (f->client, "a", NULL, store_direct, &r);
  braid_mc_client_get_direct (f->client, "b", cancellable, store_direct, &by_cancellable);
  expect_sent (f, "get a\r\nget b\r\n");
  braid_mc_client_cancel_direct (f->client, get);
  g_cancellable_cancel (cancellable);
  braid_mc_client_disconnect (f->client);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (by_cancellable.calls, ==, 1);
  g_assert_error (by_cancellable.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  direct_result_clear (&r);
  direct_result_clear (&by_cancellable);

  /* the reply read before the cancel's turn comes does not answer it */
  get = braid_mc_client_get_direct (f->client, "c", NULL, store_direct, &r);
  expect_sent (f, "get c\r\n");
  braid_mc_client_cancel_direct (f->client, get);
  reply (f, "VALUE c 0 1\r\n3\r\nEND\r\n");
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (r.value);
  direct_result_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    {
      const gchar *name = braid_fake_delivery_to_string (d);
#define ADD(what, func) \
      { g_autofree gchar *p = g_strdup_printf ("/client/%s/%s", name, what); \
        g_test_add (p, Fixture, GINT_TO_POINTER (d), setup, func, teardown); }
      ADD ("get", test_get);
      ADD ("gat", test_gat);
      ADD ("dispose-closes", test_dispose_closes);
      ADD ("disconnect-while-connecting", test_disconnect_while_connecting);
      ADD ("dispose-while-waiting", test_dispose_while_waiting);
      ADD ("multi-get-and-cas", test_multi_get_and_cas);
      ADD ("storage-and-others", test_storage_and_others);
      ADD ("validation", test_validation);
      ADD ("defaults-and-edges", test_defaults_and_edges);
      ADD ("checker-views", test_checker_views);
      ADD ("pipelining", test_pipelining);
      ADD ("timeout-and-reconnect", test_timeout_and_reconnect);
      ADD ("reset-mid-value", test_reset_mid_value);
      ADD ("cancellation", test_cancellation);
      ADD ("cancel-after-answer", test_cancel_after_answer);
      ADD ("refused-and-backoff", test_refused_and_backoff);
      ADD ("hostile/server", test_hostile_server);
      ADD ("hostile/value-limit", test_value_limit);
      ADD ("hostile/multi-get-unasked", test_multi_get_unasked);
      ADD ("hostile/stats-limit", test_stats_limit);
      ADD ("direct/get", test_get_direct);
      ADD ("direct/never-reentrant", test_get_direct_never_reentrant);
      ADD ("direct/timeout-and-disconnect", test_get_direct_timeout_and_disconnect);
      ADD ("direct/cancel", test_get_direct_cancel);
      ADD ("direct/cancel-then-lost", test_get_direct_cancel_then_lost);
    }
  g_test_add_func ("/client/preconditions", test_preconditions);
  return g_test_run ();
}
