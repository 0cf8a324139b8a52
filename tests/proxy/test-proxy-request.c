/* braid — a request on its own: a BraidProxyRequestHost filled in by the
 * test (no BraidProxy), a standalone fake transport whose output the test
 * flushes or not, and the fake reactor's clock.  What the host may leave
 * out (the key memo, the table of reading requests) and what a request
 * releases when it is freed are checked here. */
#include "test-support.h"
#include "fake-fetcher.h"
#include "memory-cache.h"
#include "proxy-request-private.h"
#include "access-log-private.h"

#include <string.h>

#define URL "http://up.example/a"

typedef struct {
  BraidFakeReactor *fake;
  BraidFakeFetcher *fetcher;
  BraidMemoryCache *cache;
  GObject *owner;
  BraidProxySettings settings;
  BraidProxyStats stats;
  BraidProxyRequestHost host;
  BraidProxyFlightLimits limits;
  guint n_get_flight;
  gboolean over_capacity;   /* get_flight refuses */
} World;

static void
flight_done (BraidProxyFlight *flight, BraidProxyFlightResult result, gpointer data)
{
}

static BraidProxyFlight *
get_flight (GObject *owner, const gchar *url, gboolean *shared, GError **error)
{
  World *w = g_object_get_data (owner, "world");

  w->n_get_flight++;
  *shared = FALSE;
  if (w->over_capacity)
    {
      g_set_error_literal (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_OVER_CAPACITY, "over capacity");
      return NULL;
    }
  return braid_proxy_flight_start (BRAID_FETCHER (w->fetcher), url, &w->limits, flight_done, w);
}

/* A host with a memory cache, no key memo and no table of reading
 * requests (both nullable). */
static void
world_open (World *w)
{
  BraidProxySettings init = BRAID_PROXY_SETTINGS_INIT;

  memset (w, 0, sizeof *w);
  w->fake = braid_fake_reactor_new (1);
  w->fetcher = braid_fake_fetcher_new (BRAID_REACTOR (w->fake));
  w->cache = braid_memory_cache_new (BRAID_REACTOR (w->fake), 1024 * 1024, 64 * 1024);
  w->owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data (w->owner, "world", w);
  w->settings = init;
  w->limits.max_body = 1024 * 1024;
  w->limits.read_chunk = 4096;
  w->limits.client_buffer_limit = 1024 * 1024;
  w->limits.stats = &w->stats;
  w->host.owner = w->owner;
  w->host.reactor = BRAID_REACTOR (w->fake);
  w->host.cache = BRAID_CACHE (w->cache);
  w->host.settings = &w->settings;
  w->host.stats = &w->stats;
  w->host.get_flight = get_flight;
  w->host.reading = NULL;
  w->host.key_memo = NULL;
}

/* Every request is over and freed: no timer, nothing counted, and no
 * reference left on the owner. */
static void
world_close (World *w)
{
  gpointer owner = w->owner;

  braid_fake_reactor_run_all_timers (w->fake, 3600 * (gint64) G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w->fake), ==, 0);
  g_assert_cmpuint (w->stats.in_flight, ==, 0);
  g_assert_cmpuint (w->stats.connections, ==, 0);
  g_object_add_weak_pointer (w->owner, &owner);
  g_clear_object (&w->owner);
  g_assert_null (owner);
  g_clear_object (&w->cache);
  g_clear_object (&w->fetcher);
  g_clear_object (&w->fake);
}

/* Stores @body under @url's key as the proxy would (no MAC: no secret). */
static void
world_cache (World *w, const gchar *url, const gchar *body)
{
  g_autofree gchar *key = braid_cache_key_for_url (url);
  g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
  g_autoptr(GAsyncResult) result = NULL;

  braid_cache_store_async (BRAID_CACHE (w->cache), key, bytes, 60, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w->fake);
  g_assert_nonnull (result);
  g_assert_true (braid_cache_store_finish (BRAID_CACHE (w->cache), result, NULL));
}

/* A request on a new standalone @transport, fed @line. */
static BraidProtocol *
request_on (World *w, BraidFakeTransport *transport, const gchar *line)
{
  BraidProtocol *protocol = BRAID_PROTOCOL (braid_proxy_request_new (&w->host));

  braid_fake_transport_attach (transport, protocol);
  braid_protocol_data_received (protocol, (const guint8 *) line, strlen (line));
  return protocol;
}

static void
test_host_without_memo (void)
{
  World w;
  g_autoptr(BraidFakeTransport) hit_transport = braid_fake_transport_new ();
  g_autoptr(BraidFakeTransport) miss_transport = braid_fake_transport_new ();
  g_autoptr(BraidProtocol) hit = NULL;
  g_autoptr(BraidProtocol) miss = NULL;
  g_autoptr(GBytes) body = g_bytes_new_static ("fetched", 7);
  g_autofree gchar *hit_written = NULL;
  g_autofree gchar *miss_written = NULL;

  g_test_summary ("A host with no key memo and no table of reading requests: the cache is asked under "
                  "braid_cache_key_for_url's key (a hit is served from it), a miss joins the host's flight");
  world_open (&w);
  world_cache (&w, URL, "cached");
  braid_fake_fetcher_add (w.fetcher, "http://up.example/b", 200, body, 1000, 0, 0);
  hit = request_on (&w, hit_transport, URL "\n");
  miss = request_on (&w, miss_transport, "http://up.example/b\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  hit_written = braid_fake_transport_get_written_string (hit_transport);
  miss_written = braid_fake_transport_get_written_string (miss_transport);
  g_assert_cmpstr (hit_written, ==, "cached");
  g_assert_cmpstr (miss_written, ==, "fetched");
  g_assert_true (braid_fake_transport_is_disconnecting (hit_transport));
  g_assert_true (braid_fake_transport_is_disconnecting (miss_transport));
  g_assert_false (braid_fake_transport_is_aborted (miss_transport));
  g_assert_cmpuint (w.stats.hits, ==, 1);
  g_assert_cmpuint (w.stats.misses, ==, 1);
  g_assert_cmpuint (w.n_get_flight, ==, 1);
  braid_fake_transport_close_from_peer (hit_transport, NULL);
  braid_fake_transport_close_from_peer (miss_transport, NULL);
  g_clear_object (&hit);
  g_clear_object (&miss);
  world_close (&w);
}

static void
test_over_capacity (void)
{
  World w;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("When the host can start no flight, the request is reset at once without a body");
  world_open (&w);
  w.over_capacity = TRUE;
  protocol = request_on (&w, transport, URL "\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (w.n_get_flight, ==, 1);
  g_assert_true (braid_fake_transport_is_aborted (transport));
  written = braid_fake_transport_get_written (transport);
  g_assert_cmpuint (g_bytes_get_size (written), ==, 0);
  g_assert_cmpuint (w.stats.in_flight, ==, 0);
  braid_fake_transport_close_from_peer (transport, NULL);
  g_clear_object (&protocol);
  world_close (&w);
}

static void
test_freed_while_writing (void)
{
  World w;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  BraidProtocol *protocol;

  g_test_summary ("A request freed while its answer is still unsent (its connection never reported lost) "
                  "takes its write deadline and its place in the counters with it");
  world_open (&w);
  w.settings.client_write_timeout_us = G_USEC_PER_SEC;
  world_cache (&w, URL, "cached");
  braid_fake_transport_set_autoflush (transport, FALSE);
  protocol = request_on (&w, transport, URL "\n");
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_true (braid_fake_transport_is_disconnecting (transport));
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (transport)), ==, 6);
  g_assert_cmpuint (w.stats.connections, ==, 1);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w.fake), ==, 1);  /* the write deadline */
  g_object_unref (protocol);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w.fake), ==, 0);
  g_assert_cmpuint (w.stats.connections, ==, 0);
  g_clear_object (&transport);
  world_close (&w);
}

static void
test_drained_after_flight_ended (void)
{
  World w;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(GBytes) body = g_bytes_new_static ("fetched", 7);
  g_autofree gchar *written = NULL;

  g_test_summary ("A request whose flight ended (and was freed) while its last bytes still wait in the "
                  "transport: they go out later and the close is clean; the transport, closing, reports no "
                  "drain to the request (so its pointer to the ended flight is never followed)");
  world_open (&w);
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, 1000, 0, 0);
  braid_fake_transport_set_autoflush (transport, FALSE);
  protocol = request_on (&w, transport, URL "\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (w.n_get_flight, ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w.fetcher), ==, 0);
  g_assert_true (braid_fake_transport_is_disconnecting (transport));
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (transport)), ==, 7);
  braid_fake_transport_flush (transport);
  written = braid_fake_transport_get_written_string (transport);
  g_assert_cmpstr (written, ==, "fetched");
  g_assert_false (braid_fake_transport_is_aborted (transport));
  braid_fake_transport_close_from_peer (transport, NULL);
  g_clear_object (&protocol);
  world_close (&w);
}

static void
test_preconditions (void)
{
  World w;
  BraidCriticalCounter counter;
  BraidProxyRequestHost bad;

  g_test_summary ("A request needs a host with an owner, a reactor, settings, stats and get_flight: a "
                  "critical and NULL; closing a NULL request idle is a critical");
  world_open (&w);
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_request_new (NULL)));
  bad = w.host;
  bad.owner = NULL;
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_request_new (&bad)));
  bad = w.host;
  bad.reactor = NULL;
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_request_new (&bad)));
  bad = w.host;
  bad.settings = NULL;
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_request_new (&bad)));
  bad = w.host;
  bad.stats = NULL;
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_request_new (&bad)));
  bad = w.host;
  bad.get_flight = NULL;
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_request_new (&bad)));
  BRAID_EXPECT_CRITICAL (braid_proxy_request_close_idle (NULL));
  braid_test_count_criticals_end (&counter);
  world_close (&w);
}

/* The access log is tested in test-proxy.c: keep it out of the output. */
static GLogWriterOutput
drop_access_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE_ID") && fields[i].length < 0 &&
        g_str_equal (fields[i].value, BRAID_PROXY_ACCESS_LOG_MESSAGE_ID))
      return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (drop_access_log, NULL, NULL);
  g_test_add_func ("/proxy/request/host-without-memo", test_host_without_memo);
  g_test_add_func ("/proxy/request/over-capacity", test_over_capacity);
  g_test_add_func ("/proxy/request/freed-while-writing", test_freed_while_writing);
  g_test_add_func ("/proxy/request/drained-after-flight-ended", test_drained_after_flight_ended);
  g_test_add_func ("/proxy/request/preconditions", test_preconditions);
  return g_test_run ();
}
