/* braid — the proxy's bounds on the fake reactor, in simulated time: the
 * request line's deadline, the overall fetch deadline against a trickling
 * upstream (and before its headers), the client connection limit, and
 * closing the connections that have no request yet (a graceful stop). */
#include "test-support.h"
#include "proxy.h"
#include "memory-cache.h"
#include "fake-fetcher.h"
#include "access-log-private.h"

#include <string.h>

#define S ((gint64) G_USEC_PER_SEC)

typedef struct {
  BraidFakeReactor *fake;
  BraidReactor *r;
  BraidFakeFetcher *fetcher;
  BraidMemoryCache *cache;
  BraidProxy *proxy;
  BraidListener *listener;
  GPtrArray *clients;  /* (element-type BraidRecordingProtocol) */
} World;

static void
world_open (World *w, const BraidProxySettings *settings)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;

  w->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  w->r = BRAID_REACTOR (w->fake);
  w->fetcher = braid_fake_fetcher_new (w->r);
  w->cache = braid_memory_cache_new (w->r, 1024 * 1024, 64 * 1024);
  w->proxy = braid_proxy_new (w->r, BRAID_FETCHER (w->fetcher), BRAID_CACHE (w->cache), settings);
  factory = braid_proxy_create_factory (w->proxy);
  w->listener = braid_reactor_listen (w->r, "tcp:8000", factory, &error);
  g_assert_no_error (error);
  w->clients = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
world_close (World *w)
{
  for (guint i = 0; i < w->clients->len; i++)
    {
      BraidProtocol *p = g_ptr_array_index (w->clients, i);

      if (!braid_recording_protocol_is_lost (BRAID_RECORDING_PROTOCOL (p)))
        braid_transport_lose_connection (braid_protocol_get_transport (p));
    }
  braid_fake_reactor_run_until_idle (w->fake);
  g_clear_pointer (&w->clients, g_ptr_array_unref);
  braid_listener_stop (w->listener);
  g_clear_object (&w->listener);
  braid_fake_reactor_run_all_timers (w->fake, (gint64) 3600 * S);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w->fake), ==, 0);
  g_assert_false (braid_proxy_is_busy (w->proxy));
  g_assert_cmpuint (braid_proxy_get_stats (w->proxy)->connections, ==, 0);
  g_clear_object (&w->proxy);
  g_clear_object (&w->cache);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w->fetcher), ==, 0);
  g_clear_object (&w->fetcher);
  g_clear_object (&w->fake);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Connects and sends @text (which need not be a whole line). */
static BraidRecordingProtocol *
connect_and_send (World *w, const gchar *text)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  BraidProtocol *protocol;

  braid_reactor_connect_async (w->r, "tcp:127.0.0.1:8000", factory, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w->fake);
  g_assert_nonnull (result);
  protocol = braid_reactor_connect_finish (w->r, result, &error);
  g_assert_no_error (error);
  /* A connection over the limit may be closed already. */
  if (*text != '\0' && braid_protocol_get_transport (protocol) != NULL)
    braid_transport_write_string (braid_protocol_get_transport (protocol), text);
  braid_fake_reactor_run_until_idle (w->fake);
  g_ptr_array_add (w->clients, protocol);
  return BRAID_RECORDING_PROTOCOL (protocol);
}

static gboolean
lost_cleanly (BraidRecordingProtocol *c)
{
  return g_error_matches (c->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
}

static gboolean
reset (BraidRecordingProtocol *c)
{
  return g_error_matches (c->lost_reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
}

/* ---- the request line ---- */

static void
test_request_line_deadline (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GBytes) body = g_bytes_new_static ("body", 4);
  const BraidProxyStats *stats;
  BraidRecordingProtocol *half, *silent, *late;

  g_test_summary ("Half a URL and no newline, or nothing at all, is closed without a body at the request "
                  "deadline and counted; a line that comes in time is served past the deadline");
  settings.request_timeout_us = 10 * S;
  world_open (&w, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  braid_fake_fetcher_add (w.fetcher, "http://up.example/late", 200, body, 5 * S, 0, 0);
  half = connect_and_send (&w, "http://up.exa");
  silent = connect_and_send (&w, "");
  late = connect_and_send (&w, "http://up.example/");
  g_assert_cmpuint (stats->connections, ==, 3);

  braid_fake_reactor_advance (w.fake, 9 * S);
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (late)), "late\n");
  braid_fake_reactor_advance (w.fake, S - 1);
  g_assert_false (braid_recording_protocol_is_lost (half));
  g_assert_false (braid_recording_protocol_is_lost (silent));
  g_assert_cmpuint (stats->request_timeouts, ==, 0);

  braid_fake_reactor_advance (w.fake, 1);
  g_assert_true (braid_recording_protocol_is_lost (half));
  g_assert_true (braid_recording_protocol_is_lost (silent));
  g_assert_true (lost_cleanly (half));
  g_assert_cmpuint (half->received->len, ==, 0);
  g_assert_cmpuint (silent->received->len, ==, 0);
  g_assert_cmpuint (stats->request_timeouts, ==, 2);
  g_assert_cmpuint (stats->bad_requests, ==, 0);
  g_assert_false (braid_recording_protocol_is_lost (late));
  g_assert_cmpuint (stats->connections, ==, 1);
  g_assert_cmpuint (stats->in_flight, ==, 1);

  braid_fake_reactor_advance (w.fake, 5 * S);
  g_assert_true (braid_recording_protocol_is_lost (late));
  braid_assert_bytes_equal ("body", 4, late->received->data, late->received->len);
  g_assert_cmpuint (stats->request_timeouts, ==, 2);
  world_close (&w);
}

static void
test_request_line_splits (void)
{
  const gchar *line = "http://up.example/page\r\n";
  gsize len = strlen (line);

  g_test_summary ("Every prefix of a request line short of its newline, sent in one piece or in two, is closed "
                  "at the deadline; the whole line in two pieces is not");
  for (gsize cut = 0; cut <= len; cut++)
    for (gsize split = 0; split <= cut; split++)
      {
        World w = { 0 };
        BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
        g_autofree gchar *first = g_strndup (line, split);
        g_autofree gchar *second = g_strndup (line + split, cut - split);
        g_autoptr(GBytes) body = g_bytes_new_static ("b", 1);
        BraidRecordingProtocol *c;

        g_test_message ("%" G_GSIZE_FORMAT " bytes, split at %" G_GSIZE_FORMAT, cut, split);
        settings.request_timeout_us = 2 * S;
        world_open (&w, &settings);
        braid_fake_fetcher_add (w.fetcher, "http://up.example/page", 200, body, 5 * S, 0, 0);
        c = connect_and_send (&w, first);
        braid_fake_reactor_advance (w.fake, S);
        if (*second != '\0')
          braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (c)), second);
        braid_fake_reactor_advance (w.fake, S);
        /* "…\r" alone is not yet a line: the receiver's delimiter is CRLF
         * or LF, and LF has not come. */
        g_assert_cmpint (braid_recording_protocol_is_lost (c), ==, cut < len);
        g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->request_timeouts, ==, cut < len ? 1 : 0);
        world_close (&w);
      }
}

static void
test_request_line_no_deadline (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  BraidRecordingProtocol *half;

  g_test_summary ("request_timeout_us 0 sets no deadline: a half line waits (and arms no timer); 1 µs is "
                  "a deadline, the shortest");
  settings.request_timeout_us = 0;
  world_open (&w, &settings);
  half = connect_and_send (&w, "http://up.exa");
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w.fake), ==, 0);
  braid_fake_reactor_advance (w.fake, 3600 * S);
  g_assert_false (braid_recording_protocol_is_lost (half));
  world_close (&w);

  settings.request_timeout_us = 1;
  world_open (&w, &settings);
  half = connect_and_send (&w, "http://up.exa");
  braid_fake_reactor_advance (w.fake, 1);
  g_assert_true (braid_recording_protocol_is_lost (half));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->request_timeouts, ==, 1);
  world_close (&w);
}

/* ---- the fetch deadline ---- */

static void
test_fetch_deadline_trickle (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GBytes) body = g_bytes_new_static ("1234567", 7);
  const BraidProxyStats *stats;
  BraidRecordingProtocol *c, *again;

  g_test_summary ("--fetch-timeout 3 against an upstream sending one byte a second for 7 s: the fetch is "
                  "cancelled at 3 s, the client's connection is reset after the partial body, nothing is cached");
  settings.fetch_timeout_us = 3 * S;
  world_open (&w, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  braid_fake_fetcher_add (w.fetcher, "http://trickle.example/", 200, body, 0, 1, S);
  c = connect_and_send (&w, "http://trickle.example/\n");

  braid_fake_reactor_advance (w.fake, 3 * S - 1);
  g_assert_false (braid_recording_protocol_is_lost (c));
  g_assert_cmpuint (c->received->len, >, 0);
  braid_fake_reactor_advance (w.fake, 1);
  g_assert_true (braid_recording_protocol_is_lost (c));
  g_test_message ("%u bytes before the reset", c->received->len);
  g_assert_true (reset (c));
  g_assert_cmpuint (c->received->len, <, 7);
  g_assert_cmpuint (stats->fetch_timeouts, ==, 1);
  g_assert_cmpuint (stats->upstream_errors, ==, 1);
  g_assert_cmpuint (stats->in_flight, ==, 0);
  braid_fake_reactor_advance (w.fake, 10 * S);
  g_assert_cmpuint (braid_memory_cache_get_n_items (w.cache), ==, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w.fetcher), ==, 0);

  /* Not cached: the next request fetches again. */
  again = connect_and_send (&w, "http://trickle.example/\n");
  braid_fake_reactor_advance (w.fake, 4 * S);
  g_assert_true (reset (again));
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://trickle.example/"), ==, 2);
  g_assert_cmpuint (stats->fetch_timeouts, ==, 2);
  world_close (&w);
}

static void
test_fetch_deadline_headers (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GBytes) body = g_bytes_new_static ("body", 4);
  const BraidProxyStats *stats;
  BraidRecordingProtocol *slow, *fast;

  g_test_summary ("The deadline covers the wait for the headers too (an upstream answering after 5 s is given "
                  "up at 3 s, its clients reset); a fetch that ends in time is served, cached, and leaves no timer");
  settings.fetch_timeout_us = 3 * S;
  world_open (&w, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  braid_fake_fetcher_add (w.fetcher, "http://slow.example/", 200, body, 5 * S, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://fast.example/", 200, body, 0, 1, S / 2);
  slow = connect_and_send (&w, "http://slow.example/\n");
  fast = connect_and_send (&w, "http://fast.example/\n");
  braid_fake_reactor_advance (w.fake, 3 * S);
  g_assert_true (reset (slow));
  g_assert_cmpuint (slow->received->len, ==, 0);
  g_assert_true (lost_cleanly (fast));
  braid_assert_bytes_equal ("body", 4, fast->received->data, fast->received->len);
  g_assert_cmpuint (stats->fetch_timeouts, ==, 1);
  g_assert_cmpuint (braid_memory_cache_get_n_items (w.cache), ==, 1);
  braid_fake_reactor_advance (w.fake, 5 * S);
  g_assert_cmpuint (stats->fetch_timeouts, ==, 1);
  world_close (&w);
}

/* ---- the connection limit ---- */

static void
test_connection_limit (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  const BraidProxyStats *stats;
  BraidRecordingProtocol *first, *over, *after;

  g_test_summary ("With max_connections 3, the fourth connection is closed at once without a body and "
                  "counted; once one closes, a new one is served");
  settings.max_connections = 3;
  world_open (&w, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  first = connect_and_send (&w, "http://a.exa");
  connect_and_send (&w, "http://b.exa");
  connect_and_send (&w, "http://c.exa");
  g_assert_cmpuint (stats->connections, ==, 3);
  over = connect_and_send (&w, "http://d.example/\n");
  g_assert_true (braid_recording_protocol_is_lost (over));
  g_assert_true (lost_cleanly (over));
  g_assert_cmpuint (over->received->len, ==, 0);
  g_assert_cmpuint (stats->rejected_connections, ==, 1);
  g_assert_cmpuint (stats->connections, ==, 3);
  g_assert_cmpuint (stats->requests, ==, 3);

  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (first)));
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (stats->connections, ==, 2);
  after = connect_and_send (&w, "http://e.exa");
  g_assert_false (braid_recording_protocol_is_lost (after));
  g_assert_cmpuint (stats->connections, ==, 3);
  g_assert_cmpuint (stats->rejected_connections, ==, 1);
  world_close (&w);
}

/* ---- a graceful stop ---- */

static void
test_close_idle (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GBytes) body = g_bytes_new_static ("body", 4);
  BraidRecordingProtocol *idle, *busy;

  g_test_summary ("braid_proxy_close_idle() closes a connection still reading its line at once, and leaves a "
                  "request in flight to finish");
  world_open (&w, &settings);
  braid_fake_fetcher_add (w.fetcher, "http://up.example/", 200, body, 2 * S, 0, 0);
  idle = connect_and_send (&w, "http://up.exa");
  busy = connect_and_send (&w, "http://up.example/\n");
  braid_fake_reactor_advance (w.fake, S);
  braid_proxy_close_idle (w.proxy);
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_true (braid_recording_protocol_is_lost (idle));
  g_assert_cmpuint (idle->received->len, ==, 0);
  g_assert_false (braid_recording_protocol_is_lost (busy));
  g_assert_true (braid_proxy_is_busy (w.proxy));
  braid_fake_reactor_advance (w.fake, S);
  g_assert_true (lost_cleanly (busy));
  braid_assert_bytes_equal ("body", 4, busy->received->data, busy->received->len);
  g_assert_false (braid_proxy_is_busy (w.proxy));
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
  g_test_add_func ("/proxy/timeouts/request-line", test_request_line_deadline);
  g_test_add_func ("/proxy/timeouts/request-line-splits", test_request_line_splits);
  g_test_add_func ("/proxy/timeouts/request-line-none", test_request_line_no_deadline);
  g_test_add_func ("/proxy/timeouts/fetch-trickle", test_fetch_deadline_trickle);
  g_test_add_func ("/proxy/timeouts/fetch-headers", test_fetch_deadline_headers);
  g_test_add_func ("/proxy/limits/connections", test_connection_limit);
  g_test_add_func ("/proxy/limits/close-idle", test_close_idle);
  return g_test_run ();
}
