/* braid — the proxy layer's async contracts: the fetch returns its HTTP
 * status itself, and a _finish given another call's result is refused. */
#include "test-support.h"
#include "proxy.h"
#include "memory-cache.h"
#include "mc-cache.h"
#include "fake-fetcher.h"
#include "mc-server.h"

#include <string.h>

static void
test_fetch_status (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidFakeFetcher) fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  g_autoptr(GBytes) body = g_bytes_new_static ("gone", 4);
  g_autoptr(GError) down = g_error_new (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "down");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) failed = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 1;

  g_test_summary ("braid_fetcher_fetch_finish gives the status of the fetch, and 0 when it failed");
  braid_fake_fetcher_add (fetcher, "http://x.example/", 404, body, 1000, 0, 0);
  braid_fake_fetcher_add_error (fetcher, "http://down.example/", down, 1000);
  braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), "http://x.example/", NULL, braid_test_store_result, &result);
  braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), "http://down.example/", NULL, braid_test_store_result, &failed);
  braid_fake_reactor_run_all_timers (fake, G_USEC_PER_SEC);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_nonnull (result);
  stream = braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), result, &status, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stream);
  g_assert_cmpuint (status, ==, 404);
  g_assert_nonnull (failed);
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), failed, &status, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM);
  g_assert_cmpuint (status, ==, 0);
  g_clear_object (&stream);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (fetcher), ==, 0);
}

static void
test_cache_source_tag (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMemoryCache) cache = braid_memory_cache_new (BRAID_REACTOR (fake), 1 << 20, 1 << 16);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("The memory cache refuses to finish a store with a lookup's result");
  braid_cache_lookup_async (BRAID_CACHE (cache), "k", NULL, braid_test_store_result, &result);
  while (result == NULL && g_main_context_iteration (NULL, TRUE))
    ;
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*source_tag*");
  g_assert_false (braid_cache_store_finish (BRAID_CACHE (cache), result, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_null (braid_cache_lookup_finish (BRAID_CACHE (cache), result, &error));
  g_assert_no_error (error);
}

static gboolean
stored (BraidCache *cache, const gchar *key, const gchar *text, gint64 ttl_s)
{
  g_autoptr(GBytes) body = g_bytes_new (text, strlen (text));
  g_autoptr(GAsyncResult) result = NULL;

  braid_cache_store_async (cache, key, body, ttl_s, NULL, braid_test_store_result, &result);
  while (result == NULL && g_main_context_iteration (NULL, TRUE))
    ;
  return braid_cache_store_finish (cache, result, NULL);
}

static void
test_memory_lookup_now (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMemoryCache) memory = braid_memory_cache_new (BRAID_REACTOR (fake), 1 << 20, 1 << 16);
  BraidCache *cache = BRAID_CACHE (memory);
  GBytes *body = GINT_TO_POINTER (1);

  g_test_summary ("The memory cache answers a lookup at once, without a GTask: hit, miss, and expired");
  g_assert_true (braid_cache_try_lookup_now (cache, "absent", &body));
  g_assert_null (body);

  g_assert_true (stored (cache, "k", "the body", 10));
  g_assert_true (braid_cache_try_lookup_now (cache, "k", &body));
  g_assert_nonnull (body);
  braid_assert_bytes_equal ("the body", 8, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_bytes_unref (body);

  braid_fake_reactor_advance (fake, 10 * G_USEC_PER_SEC);
  g_assert_true (braid_cache_try_lookup_now (cache, "k", &body));
  g_assert_null (body);
  g_assert_cmpuint (braid_memory_cache_get_n_items (memory), ==, 0);
}

/* A lookup at once refreshes the entry's place in the LRU order, as a
 * lookup through lookup_async does: the least recently used goes first. */
static void
test_memory_lookup_now_is_a_use (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMemoryCache) memory = braid_memory_cache_new (BRAID_REACTOR (fake), 16, 16);
  BraidCache *cache = BRAID_CACHE (memory);
  g_autoptr(GBytes) a = NULL;
  g_autoptr(GBytes) b = NULL;

  g_assert_true (stored (cache, "a", "aaaaaa", 0));
  g_assert_true (stored (cache, "b", "bbbbbb", 0));
  g_assert_true (braid_cache_try_lookup_now (cache, "a", &a));
  g_assert_nonnull (a);
  g_assert_true (stored (cache, "c", "cccccc", 0));   /* over 16 bytes: evicts one */
  g_clear_pointer (&a, g_bytes_unref);
  g_assert_true (braid_cache_try_lookup_now (cache, "a", &a));
  g_assert_nonnull (a);
  g_assert_true (braid_cache_try_lookup_now (cache, "b", &b));
  g_assert_null (b);
}

/* A cache that cannot answer at once (here, a pool on the fake reactor)
 * says so, and the proxy asks it the asynchronous way. */
static void
test_mc_cache_cannot_lookup_now (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMcPool) pool = braid_mc_pool_new (BRAID_REACTOR (fake), "127.0.0.1:11211", NULL);
  g_autoptr(BraidMcCache) mc = braid_mc_cache_new (pool, 1 << 20);
  GBytes *body = GINT_TO_POINTER (1);

  g_assert_false (braid_cache_try_lookup_now (BRAID_CACHE (mc), "k", &body));
  g_assert_null (body);
}

static void
test_key_memo (void)
{
  BraidCacheKeyMemo *memo = braid_cache_key_memo_new ();
  g_autoptr(GString) long_url = g_string_new ("http://x.example/");

  g_test_summary ("The memo of recent keys gives every URL the key braid_cache_key_for_url gives it: "
                  "again and again, for more URLs than it keeps (so slots are shared and replaced), and "
                  "for URLs too long to keep");
  for (guint i = 0; i < 1000; i++)
    g_string_append_c (long_url, 'a');
  for (guint round = 0; round < 3; round++)
    for (guint i = 0; i < 2000; i++)
      {
        g_autofree gchar *url = g_strdup_printf ("http://x.example/%u", (i * 7919) % 2000);
        g_autofree gchar *expected = braid_cache_key_for_url (url);
        g_autofree gchar *memoized = braid_cache_key_memo_get (memo, url);
        g_autofree gchar *again = braid_cache_key_memo_get (memo, url);

        g_assert_cmpstr (memoized, ==, expected);
        g_assert_cmpstr (again, ==, expected);
      }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *expected = braid_cache_key_for_url (long_url->str);
      g_autofree gchar *memoized = braid_cache_key_memo_get (memo, long_url->str);

      g_assert_cmpstr (memoized, ==, expected);
    }
  braid_cache_key_memo_free (memo);
}

static void
test_key_memo_lookup (void)
{
  BraidCacheKeyMemo *memo = braid_cache_key_memo_new ();
  g_autoptr(GString) long_url = g_string_new ("http://x.example/");
  const gchar *url = "http://x.example/hot";
  g_autofree gchar *expected = braid_cache_key_for_url (url);
  g_autofree gchar *first = NULL;
  g_autofree gchar *found = NULL;
  g_autofree gchar *rival = NULL;

  g_test_summary ("Looking up the memo never computes a key: NULL for a URL it does not hold, the key for one it "
                  "does, NULL again once another URL took its slot, and NULL for a URL too long to keep");
  g_assert_null (braid_cache_key_memo_lookup (memo, url));
  first = braid_cache_key_memo_get (memo, url);
  found = braid_cache_key_memo_lookup (memo, url);
  g_assert_cmpstr (found, ==, expected);
  /* URLs until one falls in the same slot (the slots' hash is seeded:
   * which one is not known in advance); the others leave it in place */
  for (guint i = 0; rival == NULL; i++)
    {
      g_autofree gchar *candidate = g_strdup_printf ("http://x.example/%u", i);
      g_autofree gchar *still = NULL;

      g_assert_cmpuint (i, <, 100000);
      g_free (braid_cache_key_memo_get (memo, candidate));
      still = braid_cache_key_memo_lookup (memo, url);
      if (still == NULL)
        rival = g_steal_pointer (&candidate);
      else
        g_assert_cmpstr (still, ==, expected);
    }
  g_assert_null (braid_cache_key_memo_lookup (memo, url));
  {
    g_autofree gchar *rival_key = braid_cache_key_for_url (rival);
    g_autofree gchar *rival_found = braid_cache_key_memo_lookup (memo, rival);

    g_assert_cmpstr (rival_found, ==, rival_key);
  }
  for (guint i = 0; i < 300; i++)
    g_string_append_c (long_url, 'a');
  g_free (braid_cache_key_memo_get (memo, long_url->str));
  g_assert_null (braid_cache_key_memo_lookup (memo, long_url->str));
  braid_cache_key_memo_free (memo);
}

/* ---- braid_cache_lookup_direct, on both caches: the memory cache goes
 * through its lookup_async, the memcached cache through the pool's
 * direct get (here to a braid memcached on the fake reactor) ---- */

typedef struct {
  guint calls;
  GBytes *body;    /* (owned) (nullable) */
  GError *error;   /* (owned) (nullable) */
} Looked;

static void
store_looked (GBytes *body, GError *error, gpointer data)
{
  Looked *l = data;

  l->calls++;
  l->body = body;
  l->error = error;
}

static void
looked_clear (Looked *l)
{
  g_clear_pointer (&l->body, g_bytes_unref);
  g_clear_error (&l->error);
  l->calls = 0;
}

static void
wait_for_answer (BraidFakeReactor *fake, Looked *l)
{
  for (guint i = 0; i < 1000 && l->calls == 0; i++)
    {
      braid_fake_reactor_run_until_idle (fake);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (l->calls, ==, 1);
}

/* @l, just cancelled, is not answered yet; then it is, once, with
 * CANCELLED (a cancelled get's reply is still read: nothing more comes). */
static void
assert_cancelled_once (BraidFakeReactor *fake, Looked *l)
{
  g_assert_cmpuint (l->calls, ==, 0);
  wait_for_answer (fake, l);
  g_assert_error (l->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (l->body);
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (l->calls, ==, 1);
}

static void
test_lookup_direct (gconstpointer data)
{
  gboolean memcached = GPOINTER_TO_INT (data);
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(BraidCache) cache = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Looked hit = { 0 }, miss = { 0 }, cancelled = { 0 };

  g_test_summary ("The direct lookup answers its callback once, never from inside the call or from inside "
                  "g_cancellable_cancel or a cancel by its handle: the body for a hit, no body and no error "
                  "for a miss, CANCELLED");
  if (memcached)
    {
      g_autoptr(BraidProtocolFactory) factory = NULL;

      server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
      factory = braid_mc_server_create_factory (server);
      listener = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:11211", factory, NULL);
      g_assert_nonnull (listener);
      pool = braid_mc_pool_new (BRAID_REACTOR (fake), "127.0.0.1:11211", NULL);
      cache = BRAID_CACHE (braid_mc_cache_new (pool, 1 << 20));
    }
  else
    cache = BRAID_CACHE (braid_memory_cache_new (BRAID_REACTOR (fake), 1 << 20, 1 << 16));
  {
    g_autoptr(GBytes) body = g_bytes_new_static ("the body", 8);
    g_autoptr(GAsyncResult) result = NULL;

    braid_cache_store_async (cache, "k", body, 0, NULL, braid_test_store_result, &result);
    while (result == NULL)
      {
        braid_fake_reactor_run_until_idle (fake);
        g_main_context_iteration (NULL, FALSE);
      }
    g_assert_true (braid_cache_store_finish (cache, result, NULL));
  }

  braid_cache_lookup_direct (cache, "k", NULL, store_looked, &hit);
  braid_cache_lookup_direct (cache, "absent", NULL, store_looked, &miss);
  g_assert_cmpuint (hit.calls + miss.calls, ==, 0);
  wait_for_answer (fake, &hit);
  g_assert_no_error (hit.error);
  g_assert_nonnull (hit.body);
  braid_assert_bytes_equal ("the body", 8, g_bytes_get_data (hit.body, NULL), g_bytes_get_size (hit.body));
  wait_for_answer (fake, &miss);
  g_assert_no_error (miss.error);
  g_assert_null (miss.body);

  braid_cache_lookup_direct (cache, "k", cancellable, store_looked, &cancelled);
  g_cancellable_cancel (cancellable);
  assert_cancelled_once (fake, &cancelled);

  /* the same by the lookup's handle, with no cancellable */
  looked_clear (&cancelled);
  {
    BraidCacheLookup *lookup = braid_cache_lookup_direct (cache, "k", NULL, store_looked, &cancelled);

    g_assert_nonnull (lookup);
    braid_cache_lookup_direct_cancel (cache, lookup);
    braid_cache_lookup_direct_cancel (cache, NULL);
    assert_cancelled_once (fake, &cancelled);
  }

  looked_clear (&hit);
  looked_clear (&miss);
  looked_clear (&cancelled);
  g_clear_object (&cache);
  g_clear_object (&pool);
  if (listener != NULL)
    braid_listener_stop (listener);
  braid_fake_reactor_run_until_idle (fake);
}

static void
test_lookup_direct_failure (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMcPool) pool = braid_mc_pool_new (BRAID_REACTOR (fake), "127.0.0.1:11211", NULL);
  g_autoptr(BraidMcCache) mc = braid_mc_cache_new (pool, 1 << 20);
  Looked failed = { 0 };

  g_test_summary ("A memcached cache with no server answers the direct lookup with an error, not as a miss");
  braid_fake_reactor_set_refuse_connections (fake, TRUE);
  braid_cache_lookup_direct (BRAID_CACHE (mc), "k", NULL, store_looked, &failed);
  wait_for_answer (fake, &failed);
  g_assert_null (failed.body);
  g_assert_error (failed.error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  looked_clear (&failed);
}

static void
test_key_memo_edges (void)
{
  BraidCacheKeyMemo *memo = braid_cache_key_memo_new ();
  BraidCriticalCounter counter;
  g_autoptr(GString) url = g_string_new ("http://x.example/");

  g_test_summary ("The memo refuses a NULL memo or URL with a critical and NULL, frees NULL quietly, and "
                  "gives the right keys to URLs of 255, 256 and 257 bytes, the longest it keeps and the "
                  "shortest it does not, again and again");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_key_memo_get (NULL, "http://x.example/")));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_key_memo_get (memo, NULL)));
  BRAID_EXPECT_NO_CRITICAL (braid_cache_key_memo_free (NULL));
  braid_test_count_criticals_end (&counter);
  while (url->len < 255)
    g_string_append_c (url, 'u');
  for (guint len = 255; len <= 257; len++, g_string_append_c (url, 'v'))
    for (guint round = 0; round < 2; round++)
      {
        g_autofree gchar *expected = braid_cache_key_for_url (url->str);
        g_autofree gchar *memoized = braid_cache_key_memo_get (memo, url->str);

        g_assert_cmpuint (url->len, ==, len);
        g_assert_cmpstr (memoized, ==, expected);
      }
  braid_cache_key_memo_free (memo);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/proxy/cache/memory/lookup-direct", GINT_TO_POINTER (FALSE), test_lookup_direct);
  g_test_add_data_func ("/proxy/cache/memcached/lookup-direct", GINT_TO_POINTER (TRUE), test_lookup_direct);
  g_test_add_func ("/proxy/cache/memcached/lookup-direct-failure", test_lookup_direct_failure);
  g_test_add_func ("/proxy/cache/key-memo-lookup", test_key_memo_lookup);
  g_test_add_func ("/proxy/fetcher/fake/status", test_fetch_status);
  g_test_add_func ("/proxy/cache/memory/source-tag", test_cache_source_tag);
  g_test_add_func ("/proxy/cache/memory/lookup-now", test_memory_lookup_now);
  g_test_add_func ("/proxy/cache/memory/lookup-now-is-a-use", test_memory_lookup_now_is_a_use);
  g_test_add_func ("/proxy/cache/mc/cannot-lookup-now", test_mc_cache_cannot_lookup_now);
  g_test_add_func ("/proxy/cache/key-memo", test_key_memo);
  g_test_add_func ("/proxy/cache/key-memo-edges", test_key_memo_edges);
  return g_test_run ();
}
