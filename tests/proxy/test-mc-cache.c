/* braid — the memcached cache on its own, against a braid memcached on
 * the fake reactor: the largest item it will store, what it writes (body,
 * flags, TTL), hits, misses and failures through lookup_async, and the
 * _finish functions refusing another call's result. */
#include "test-support.h"
#include "mc-cache.h"
#include "mc-pool.h"
#include "mc-server.h"
#include "memory-cache.h"
#include "fake-reactor.h"

#include <string.h>

typedef struct {
  BraidFakeReactor *fake;
  BraidMcServer *server;      /* (nullable): none for the failure tests */
  BraidListener *listener;    /* (nullable) */
  BraidMcPool *pool;
  BraidMcCache *mc;
  BraidCache *cache;          /* the same object, as the interface */
} Fixture;

static void
fixture_init (Fixture *f, gboolean with_server)
{
  memset (f, 0, sizeof *f);
  f->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  if (with_server)
    {
      g_autoptr(BraidProtocolFactory) factory = NULL;

      f->server = braid_mc_server_new (BRAID_REACTOR (f->fake), NULL);
      factory = braid_mc_server_create_factory (f->server);
      f->listener = braid_reactor_listen (BRAID_REACTOR (f->fake), "tcp:11211", factory, NULL);
      g_assert_nonnull (f->listener);
    }
  else
    braid_fake_reactor_set_refuse_connections (f->fake, TRUE);
  f->pool = braid_mc_pool_new (BRAID_REACTOR (f->fake), "127.0.0.1:11211", NULL);
  f->mc = braid_mc_cache_new (f->pool, 1 << 20);
  f->cache = BRAID_CACHE (f->mc);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_object (&f->mc);
  g_clear_object (&f->pool);
  if (f->listener != NULL)
    braid_listener_stop (f->listener);
  braid_fake_reactor_run_until_idle (f->fake);
  g_clear_object (&f->listener);
  g_clear_object (&f->server);
  g_clear_object (&f->fake);
}

/* Runs the fake reactor and the main context until *@result is set. */
static void
wait_for (Fixture *f, GAsyncResult **result)
{
  for (guint i = 0; i < 1000 && *result == NULL; i++)
    {
      braid_fake_reactor_run_until_idle (f->fake);
      g_main_context_iteration (NULL, FALSE);
    }
  /* A pool with no server answers only when its timers run (a retry, a
   * time-out): let the simulated clock jump to them. */
  for (guint i = 0; i < 100 && *result == NULL; i++)
    {
      braid_fake_reactor_run_all_timers (f->fake, 10 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_nonnull (*result);
}

static gboolean
store (Fixture *f, const gchar *key, const gchar *text, gint64 ttl_s, GError **error)
{
  g_autoptr(GBytes) body = g_bytes_new (text, strlen (text));
  g_autoptr(GAsyncResult) result = NULL;

  braid_cache_store_async (f->cache, key, body, ttl_s, NULL, braid_test_store_result, &result);
  wait_for (f, &result);
  return braid_cache_store_finish (f->cache, result, error);
}

static GBytes *
lookup (Fixture *f, const gchar *key, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  braid_cache_lookup_async (f->cache, key, NULL, braid_test_store_result, &result);
  wait_for (f, &result);
  return braid_cache_lookup_finish (f->cache, result, error);
}

static void
test_max_item_size (void)
{
  static const struct {
    gsize server_max, cached_max;
  } cases[] = {
    { 1 << 20, (1 << 20) - 512 },
    { 1024, 512 },
    { 513, 1 },
    /* At 512 or less no room can be kept for the header: the servers' -I. */
    { 512, 512 },
    { 511, 511 },
    { 0, 0 },
  };
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(BraidMcPool) pool = braid_mc_pool_new (BRAID_REACTOR (fake), "127.0.0.1:11211", NULL);

  g_test_summary ("The largest body cached is the servers' item size less 512 bytes for memcached's header "
                  "and the key, when the item size is over 512");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(BraidMcCache) mc = braid_mc_cache_new (pool, cases[i].server_max);

      g_assert_cmpuint (braid_cache_get_max_item_size (BRAID_CACHE (mc)), ==, cases[i].cached_max);
    }
}

static void
test_store_and_lookup (void)
{
  Fixture f;
  g_autoptr(GBytes) hit = NULL;
  g_autoptr(GBytes) miss = NULL;
  g_autoptr(GAsyncResult) got = NULL;
  g_autoptr(BraidMcValue) value = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A stored body is found through lookup_async, with flags 0 on the server; an absent key "
                  "is a miss without an error");
  fixture_init (&f, TRUE);
  g_assert_true (store (&f, "k", "the body", 0, &error));
  g_assert_no_error (error);
  hit = lookup (&f, "k", &error);
  g_assert_no_error (error);
  g_assert_nonnull (hit);
  braid_assert_bytes_equal ("the body", 8, g_bytes_get_data (hit, NULL), g_bytes_get_size (hit));
  miss = lookup (&f, "absent", &error);
  g_assert_no_error (error);
  g_assert_null (miss);

  braid_mc_pool_get_async (f.pool, "k", NULL, braid_test_store_result, &got);
  wait_for (&f, &got);
  value = braid_mc_pool_get_finish (f.pool, got, &error);
  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_cmpuint (value->flags, ==, 0);
  fixture_clear (&f);
}

static void
test_ttl (void)
{
  Fixture f;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  g_autoptr(GBytes) forever = NULL;

  g_test_summary ("The TTL is given to memcached: an entry of TTL 10 is gone after 10 s, one of TTL 0 stays");
  fixture_init (&f, TRUE);
  g_assert_true (store (&f, "short", "body", 10, &error));
  g_assert_true (store (&f, "forever", "body", 0, &error));
  g_assert_no_error (error);
  braid_fake_reactor_advance (f.fake, 5 * G_USEC_PER_SEC);
  before = lookup (&f, "short", &error);
  g_assert_nonnull (before);
  braid_fake_reactor_advance (f.fake, 6 * G_USEC_PER_SEC);
  after = lookup (&f, "short", &error);
  g_assert_no_error (error);
  g_assert_null (after);
  forever = lookup (&f, "forever", &error);
  g_assert_no_error (error);
  g_assert_nonnull (forever);
  fixture_clear (&f);
}

static void
test_failures (void)
{
  Fixture f;
  g_autoptr(GError) store_error = NULL;
  g_autoptr(GError) lookup_error = NULL;

  g_test_summary ("With no server, a store fails and a lookup fails, each with the pool's error (a failure "
                  "is not a miss)");
  fixture_init (&f, FALSE);
  g_assert_false (store (&f, "k", "body", 0, &store_error));
  g_assert_error (store_error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  g_assert_null (lookup (&f, "k", &lookup_error));
  g_assert_error (lookup_error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
  fixture_clear (&f);
}

static void
test_finish_refuses_other_results (void)
{
  Fixture f;
  g_autoptr(BraidMemoryCache) memory = NULL;
  g_autoptr(GBytes) body = g_bytes_new_static ("b", 1);
  g_autoptr(GAsyncResult) looked = NULL;
  g_autoptr(GAsyncResult) stored = NULL;
  g_autoptr(GAsyncResult) elsewhere = NULL;
  g_autoptr(BraidMcCache) twin = NULL;
  g_autoptr(GAsyncResult) twin_looked = NULL;
  g_autoptr(GAsyncResult) twin_stored = NULL;
  g_autoptr(GError) error = NULL;
  BraidCriticalCounter counter;

  g_test_summary ("lookup_finish refuses a store's result and store_finish a lookup's, and either refuses "
                  "another cache's result, even another memcached cache's: a critical, and nothing is returned");
  fixture_init (&f, TRUE);
  memory = braid_memory_cache_new (BRAID_REACTOR (f.fake), 100, 100);
  braid_cache_lookup_async (f.cache, "k", NULL, braid_test_store_result, &looked);
  braid_cache_store_async (f.cache, "k", body, 0, NULL, braid_test_store_result, &stored);
  braid_cache_store_async (BRAID_CACHE (memory), "k", body, 0, NULL, braid_test_store_result, &elsewhere);
  wait_for (&f, &looked);
  wait_for (&f, &stored);
  wait_for (&f, &elsewhere);
  twin = braid_mc_cache_new (f.pool, 1 << 20);
  braid_cache_lookup_async (BRAID_CACHE (twin), "k", NULL, braid_test_store_result, &twin_looked);
  braid_cache_store_async (BRAID_CACHE (twin), "k", body, 0, NULL, braid_test_store_result, &twin_stored);
  wait_for (&f, &twin_looked);
  wait_for (&f, &twin_stored);

  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (f.cache, stored, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (f.cache, looked, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (f.cache, elsewhere, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (f.cache, elsewhere, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (f.cache, twin_looked, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (f.cache, twin_stored, &error)));
  braid_test_count_criticals_end (&counter);
  g_assert_no_error (error);
  /* Each result still gives its own answer to its own call. */
  g_assert_null (braid_cache_lookup_finish (f.cache, looked, &error));
  g_assert_no_error (error);
  g_assert_true (braid_cache_store_finish (f.cache, stored, &error));
  g_assert_no_error (error);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/cache/mc/max-item-size", test_max_item_size);
  g_test_add_func ("/proxy/cache/mc/store-and-lookup", test_store_and_lookup);
  g_test_add_func ("/proxy/cache/mc/ttl", test_ttl);
  g_test_add_func ("/proxy/cache/mc/failures", test_failures);
  g_test_add_func ("/proxy/cache/mc/finish-refuses-other-results", test_finish_refuses_other_results);
  return g_test_run ();
}
