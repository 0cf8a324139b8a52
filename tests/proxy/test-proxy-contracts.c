/* braid — the proxy layer's async contracts: the fetch returns its HTTP
 * status itself, and a _finish given another call's result is refused. */
#include "test-support.h"
#include "proxy.h"
#include "memory-cache.h"
#include "fake-fetcher.h"

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/fetcher/fake/status", test_fetch_status);
  g_test_add_func ("/proxy/cache/memory/source-tag", test_cache_source_tag);
  return g_test_run ();
}
