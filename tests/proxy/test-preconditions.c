/* braid — the proxy layer's preconditions: the proxy, the cache and fetcher
 * interfaces, the memory and memcached caches, the address policy and the
 * single flight refuse what is not theirs (NULL, another object, a negative
 * ttl, a set error…) with a critical and their failure value, and start
 * nothing. */
#include "test-support.h"
#include "fake-fetcher.h"
#include "memory-cache.h"
#include "mc-cache.h"
#include "proxy.h"
#include "proxy-error.h"
#include "proxy-flight-private.h"
#include "deadline-fetcher-private.h"

static void
never_called (GObject *source, GAsyncResult *result, gpointer data)
{
  g_assert_not_reached ();
}

static void
never_done (BraidProxyFlight *flight, BraidProxyFlightResult result, gpointer data)
{
  g_assert_not_reached ();
}

static void
test_fetcher_wrapper_checks (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidFakeFetcher) fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GTask) foreign = g_task_new (other, NULL, NULL, NULL);
  g_autoptr(GError) set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set before");
  guint status = 7;

  g_test_summary ("The fetcher interface's finish and headers functions refuse a missing result and a set "
                  "error themselves (their own critical), before any implementation sees them");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "braid_fetcher_fetch_finish: *G_IS_ASYNC_RESULT (result)*");
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), NULL, &status, NULL));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (status, ==, 0);
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "braid_fetcher_fetch_finish: *error == NULL*");
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), G_ASYNC_RESULT (foreign), NULL, &set));
  g_test_assert_expected_messages ();
  g_assert_cmpstr (set->message, ==, "set before");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL,
                         "braid_fetcher_dup_response_headers: *G_IS_ASYNC_RESULT (result)*");
  g_assert_null (braid_fetcher_dup_response_headers (BRAID_FETCHER (fetcher), NULL));
  g_test_assert_expected_messages ();
}

static void
test_caches_and_fetchers (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMemoryCache) memory = braid_memory_cache_new (BRAID_REACTOR (fake), 1024, 256);
  g_autoptr(BraidFakeFetcher) fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GTask) foreign = g_task_new (other, NULL, NULL, NULL);
  g_autoptr(GBytes) body = g_bytes_new_static ("b", 1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set before");
  BraidCache *cache = BRAID_CACHE (memory);
  GBytes *hit = NULL;
  BraidCriticalCounter c;

  g_test_summary ("The cache and fetcher interfaces and the memory and memcached caches refuse bad "
                  "arguments with a critical and their failure value, starting nothing");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (braid_cache_lookup_async (NULL, "k", NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_cache_lookup_async (cache, NULL, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_cache_lookup_async (cache, "k", (GCancellable *) other, never_called, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_try_lookup_now (cache, "k", NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_try_lookup_now (NULL, "k", &hit)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_try_lookup_now (cache, NULL, &hit)));
  g_assert_null (hit);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (NULL, G_ASYNC_RESULT (foreign), NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (cache, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (cache, G_ASYNC_RESULT (foreign), &set)));
  BRAID_EXPECT_CRITICAL (braid_cache_store_async (NULL, "k", body, 1, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_cache_store_async (cache, NULL, body, 1, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_cache_store_async (cache, "k", NULL, 1, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_cache_store_async (cache, "k", body, -1, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_cache_store_async (cache, "k", body, 1, (GCancellable *) other, never_called, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (NULL, G_ASYNC_RESULT (foreign), NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (cache, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (cache, G_ASYNC_RESULT (foreign), &set)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_cache_get_max_item_size (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_key_for_url (NULL)));
  /* a store with ttl 0 (no expiry) is valid: the one item stored below */
  braid_cache_store_async (cache, "k", body, 0, cancellable, NULL, NULL);
  g_assert_cmpuint (braid_test_n_criticals (), ==, 19);

  /* a memory cache's finish given its other operation's result */
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (cache, G_ASYNC_RESULT (foreign), NULL)));

  BRAID_EXPECT_CRITICAL (g_assert_null (braid_memory_cache_new (NULL, 1, 1)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_memory_cache_get_size (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_memory_cache_get_n_items (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (braid_memory_cache_set_max_bytes (NULL, 1));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_cache_new (NULL, 1)));

  BRAID_EXPECT_CRITICAL (braid_fetcher_fetch_async (NULL, "http://a/", NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), NULL, NULL, never_called, NULL));
  BRAID_EXPECT_CRITICAL (braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), "http://a/", (GCancellable *) other,
                                              never_called, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fetcher_fetch_finish (NULL, G_ASYNC_RESULT (foreign), NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), NULL, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), G_ASYNC_RESULT (foreign),
                                                              NULL, &set)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fetcher_dup_response_headers (NULL, G_ASYNC_RESULT (foreign))));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fetcher_dup_response_headers (BRAID_FETCHER (fetcher), NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_deadline_fetcher_new (NULL, BRAID_REACTOR (fake), 1, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_deadline_fetcher_new (BRAID_FETCHER (fetcher), NULL, 1, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_deadline_fetcher_new (BRAID_FETCHER (fetcher), BRAID_REACTOR (fake), 0,
                                                                    NULL)));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (fetcher), ==, 0);
  g_assert_cmpuint (braid_memory_cache_get_n_items (memory), ==, 1);
  g_assert_cmpstr (set->message, ==, "set before");
  braid_test_count_criticals_end (&c);
}

static void
test_proxy_and_policy (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidFakeFetcher) fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  g_autoptr(BraidProxy) proxy = braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher), NULL, NULL);
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string ("192.0.2.1");
  g_autoptr(GError) set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set before");
  BraidProxySettings zero_line = BRAID_PROXY_SETTINGS_INIT;
  BraidProxySettings zero_chunk = BRAID_PROXY_SETTINGS_INIT;
  const gchar *ports[] = { "80", NULL };
  BraidProxyFlightLimits limits = { 1024, 64, 1024, 0, 0, NULL };
  BraidProxyFlightLimits no_chunk = { 1024, 0, 1024, 0, 0, NULL };
  BraidCriticalCounter c;

  g_test_summary ("The proxy, the address policy and the single flight refuse bad arguments with "
                  "a critical and their failure value, starting nothing");
  zero_line.max_line = 0;
  zero_chunk.read_chunk = 0;
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_new (NULL, BRAID_FETCHER (fetcher), NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_new (BRAID_REACTOR (fake), NULL, NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher),
                                                   (BraidCache *) other, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher), NULL, &zero_line)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher), NULL,
                                                   &zero_chunk)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_create_factory (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_get_stats (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_get_settings (NULL)));
  BRAID_EXPECT_CRITICAL (braid_proxy_set_ttl (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_proxy_set_ttl (proxy, -1));
  BRAID_EXPECT_CRITICAL (braid_proxy_set_cache_timeout (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_proxy_set_cache_timeout (proxy, -1));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_proxy_is_busy (NULL)));
  BRAID_EXPECT_CRITICAL (braid_proxy_close_idle (NULL));
  g_assert_cmpint (braid_proxy_get_settings (proxy)->ttl_s, ==, 300);
  g_assert_cmpint (braid_proxy_get_settings (proxy)->cache_timeout_us, ==, 100 * 1000);
  /* zero is valid for both */
  braid_proxy_set_ttl (proxy, 0);
  braid_proxy_set_cache_timeout (proxy, 0);
  g_assert_cmpuint (braid_test_n_criticals (), ==, 14);

  BRAID_EXPECT_CRITICAL (g_assert_null (braid_address_policy_ref (NULL)));
  BRAID_EXPECT_CRITICAL (braid_address_policy_unref (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_allow (NULL, "127.0.0.1", NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_allow (policy, "127.0.0.1", &set)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_deny (NULL, "127.0.0.1", NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_deny (policy, "127.0.0.1", &set)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_set_ports (NULL, ports, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_set_ports (policy, ports, &set)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_check (NULL, "a", address, 80, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_check (policy, "a", (GInetAddress *) other, 80, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_address_policy_check (policy, "a", address, 80, &set)));
  /* the calls refused changed nothing: the documentation address still passes, loopback still not */
  g_assert_true (braid_address_policy_check (policy, "a", address, 80, NULL));

  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_start (NULL, "http://a/", &limits, never_done, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_start (BRAID_FETCHER (fetcher), NULL, &limits, never_done, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_start (BRAID_FETCHER (fetcher), "http://a/", NULL, never_done,
                                                            NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_start (BRAID_FETCHER (fetcher), "http://a/", &no_chunk,
                                                            never_done, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_start (BRAID_FETCHER (fetcher), "http://a/", &limits, NULL,
                                                            NULL)));
  BRAID_EXPECT_CRITICAL (braid_proxy_flight_add_client (NULL, NULL, NULL, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_proxy_flight_is_joinable (NULL)));
  BRAID_EXPECT_CRITICAL (braid_proxy_flight_remove_client (NULL, NULL));
  BRAID_EXPECT_CRITICAL (braid_proxy_flight_client_drained (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_get_url (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_proxy_flight_get_status (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_get_response_headers (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_proxy_flight_get_size (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_proxy_flight_get_held (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_proxy_flight_has_whole_body (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_dup_body (NULL)));
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (fetcher), ==, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (fetcher, "http://a/"), ==, 0);
  g_assert_cmpstr (set->message, ==, "set before");
  braid_test_count_criticals_end (&c);
}

static void
test_fake_fetcher (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidFakeFetcher) fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GBytes) body = g_bytes_new_static ("b", 1);
  g_autoptr(GError) error = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "down");
  BraidFakeFetcher *not_fetcher = (BraidFakeFetcher *) other;
  const gchar *url = "http://a/";
  BraidCriticalCounter c;

  g_test_summary ("The fake fetcher refuses what is not a fetcher, missing arguments, negative "
                  "delays, headers or a failure point for a URL it has no body for, a bad address");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_fake_fetcher_new (NULL)));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add (not_fetcher, url, 200, body, 0, 0, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add (fetcher, NULL, 200, body, 0, 0, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add (fetcher, url, 200, NULL, 0, 0, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add (fetcher, url, 200, body, -1, 0, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add (fetcher, url, 200, body, 0, 0, -1));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_header (not_fetcher, url, "a", "b"));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_header (fetcher, url, NULL, "b"));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_header (fetcher, url, "a", "b"));   /* no body for url yet */
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_error (not_fetcher, url, error, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_error (fetcher, NULL, error, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_error (fetcher, url, NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_error (fetcher, url, error, -1));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_redirect (not_fetcher, url, "http://b/", 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_redirect (fetcher, url, NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_add_redirect (fetcher, url, "http://b/", -1));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_fail_after (not_fetcher, url, 1, error));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_fail_after (fetcher, url, 1, NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_fail_after (fetcher, url, 1, error));   /* no body for url */
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_host_address (not_fetcher, "h", "192.0.2.9"));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_host_address (fetcher, "h", NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_host_address (fetcher, "h", "not an address"));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_address_policy (not_fetcher, NULL));
  BRAID_EXPECT_CRITICAL (braid_fake_fetcher_set_address_policy (fetcher, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (not_fetcher, url), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (fetcher, NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_fake_fetcher_get_n_active (not_fetcher), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_fake_fetcher_get_n_cancelled (not_fetcher), ==, 0));
  /* none of that scripted anything: the URL is unknown and fails as such */
  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(GError) e = NULL;
    guint status = 1;

    braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), url, NULL, braid_test_store_result, &r);
    braid_fake_reactor_run_until_idle (fake);
    g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), r, &status, &e));
    g_assert_error (e, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM);
  }
  braid_test_count_criticals_end (&c);
}

static void
test_stats_format (void)
{
  BraidProxyStats stats = { 0 };
  g_autofree gchar *text = NULL;
  const gchar *expected =
    "STAT requests 1\r\nSTAT in_flight 2\r\nSTAT hits 3\r\nSTAT misses 4\r\nSTAT shared 5\r\n"
    "STAT bypass 6\r\nSTAT bad_requests 7\r\nSTAT bytes 8\r\nSTAT upstream_fetches 9\r\nSTAT flights 10\r\n"
    "STAT upstream_errors 11\r\nSTAT too_large 12\r\nSTAT refused 13\r\nSTAT clients_detached 14\r\n"
    "STAT not_stored 15\r\nSTAT stored 25\r\nSTAT mac_rejects 16\r\nSTAT request_timeouts 17\r\nSTAT fetch_timeouts 18\r\n"
    "STAT connections 19\r\nSTAT rejected_connections 20\r\nSTAT over_capacity 21\r\nSTAT slow_clients 22\r\n"
    "STAT abandoned 23\r\nSTAT buffered 18446744073709551615\r\nEND\r\n";

  g_test_summary ("The stats reply names every counter once, in a fixed order, with its own value, "
                  "up to 2^64 - 1");
  stats.requests = 1; stats.in_flight = 2; stats.hits = 3; stats.misses = 4; stats.shared = 5;
  stats.bypass = 6; stats.bad_requests = 7; stats.bytes = 8; stats.upstream_fetches = 9; stats.flights = 10;
  stats.upstream_errors = 11; stats.too_large = 12; stats.refused = 13; stats.clients_detached = 14;
  stats.not_stored = 15; stats.mac_rejects = 16; stats.request_timeouts = 17; stats.fetch_timeouts = 18;
  stats.connections = 19; stats.rejected_connections = 20; stats.over_capacity = 21; stats.slow_clients = 22;
  stats.abandoned = 23; stats.buffered = G_MAXUINT64; stats.stored = 25;
  text = braid_proxy_stats_format (&stats);
  g_assert_cmpstr (text, ==, expected);
}

static void
test_stats_format_null (void)
{
  BraidCriticalCounter c;

  g_test_summary ("No counters to format is refused with a critical, and nothing is allocated for it");
  braid_test_count_criticals_begin (&c);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_stats_format (NULL)));
  braid_test_count_criticals_end (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/preconditions/caches-and-fetchers", test_caches_and_fetchers);
  g_test_add_func ("/proxy/preconditions/fetcher-wrapper-checks", test_fetcher_wrapper_checks);
  g_test_add_func ("/proxy/preconditions/proxy-and-policy", test_proxy_and_policy);
  g_test_add_func ("/proxy/preconditions/fake-fetcher", test_fake_fetcher);
  g_test_add_func ("/proxy/stats-format", test_stats_format);
  g_test_add_func ("/proxy/preconditions/stats-format", test_stats_format_null);
  return g_test_run ();
}
