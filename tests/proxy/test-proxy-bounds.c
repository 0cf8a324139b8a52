/* braid — braid-proxy's memory bounds, on the fake reactor with the fake
 * fetcher in simulated time: a table of hostile cases, each with its exact
 * outcome per client and a bound on the body bytes the flights hold
 * (BraidProxyStats.buffered, sampled every simulated millisecond), then
 * the flight and buffer caps and cache hits shared by non-readers. */
#include "test-support.h"
#include "proxy.h"
#include "callback-protocol.h"
#include "memory-cache.h"
#include "fake-fetcher.h"
#include "access-log-private.h"

#include <string.h>

#define KIB ((gsize) 1024)
#define MIB (1024 * KIB)
#define MS ((gint64) 1000)

/* The access log (one entry per request) is not checked here: dropped. */
static GLogWriterOutput
drop_access_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE_ID") && fields[i].length < 0 &&
        g_str_equal (fields[i].value, BRAID_PROXY_ACCESS_LOG_MESSAGE_ID))
      return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

/* ---- clients ---- */

typedef enum {
  OUTCOME_NONE,     /* not in this case */
  OUTCOME_WHOLE,    /* the whole body, then a clean close */
  OUTCOME_ABORTED,  /* a reset: never a clean EOF */
  OUTCOME_LEFT,     /* hung up itself */
} Outcome;

static const gchar *
outcome_to_string (Outcome o)
{
  const gchar *names[] = { "none", "whole", "aborted", "left" };

  return names[o];
}

typedef struct
{
  BraidProtocol *protocol;  /* (unowned): owns this */
  BraidReactor *reactor;
  gsize received;
  gboolean body_ok;         /* every byte received matches the body */
  const guint8 *expected;   /* (unowned): the body */
  gsize expected_len;
  gint64 finished_at;       /* -1 until the connection ended */
  gboolean clean;           /* it ended with CONNECTION_DONE */
  gboolean left;            /* the test hung it up */
} Client;

static void
client_data (BraidProtocol *p, const guint8 *data, gsize len, gpointer user_data)
{
  Client *c = user_data;

  if (c->received + len > c->expected_len || memcmp (c->expected + c->received, data, len) != 0)
    c->body_ok = FALSE;
  c->received += len;
}

static void
client_lost (BraidProtocol *p, const GError *reason, gpointer user_data)
{
  Client *c = user_data;

  c->finished_at = braid_reactor_now (c->reactor);
  c->clean = g_error_matches (reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE);
}

static const BraidProtocolCallbacks client_callbacks = {
  .data_received = client_data,
  .connection_lost = client_lost,
};

static Outcome
client_outcome (Client *c)
{
  if (c->left)
    return OUTCOME_LEFT;
  if (c->finished_at < 0)
    return OUTCOME_NONE;
  if (c->clean && c->body_ok && c->received == c->expected_len)
    return OUTCOME_WHOLE;
  if (!c->clean)
    return OUTCOME_ABORTED;
  return OUTCOME_NONE;  /* a clean close after a partial body: never allowed */
}

/* ---- the world ---- */

typedef struct {
  BraidFakeReactor *fake;
  BraidReactor *r;
  BraidFakeFetcher *fetcher;
  BraidMemoryCache *cache;   /* (nullable) */
  BraidProxy *proxy;
  BraidListener *listener;
  GPtrArray *clients;        /* (element-type BraidProtocol) */
  GBytes *body;              /* (nullable): what clients expect */
  gsize peak_buffered;
} World;

static void
world_open (World *w, gsize cache_item, const BraidProxySettings *settings)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;

  w->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  w->r = BRAID_REACTOR (w->fake);
  braid_fake_reactor_set_delivery (w->fake, BRAID_FAKE_DELIVERY_WHOLE);
  w->fetcher = braid_fake_fetcher_new (w->r);
  if (cache_item > 0)
    w->cache = braid_memory_cache_new (w->r, 64 * MIB, cache_item);
  w->proxy = braid_proxy_new (w->r, BRAID_FETCHER (w->fetcher), w->cache != NULL ? BRAID_CACHE (w->cache) : NULL,
                              settings);
  factory = braid_proxy_create_factory (w->proxy);
  w->listener = braid_reactor_listen (w->r, "tcp:8000", factory, &error);
  g_assert_no_error (error);
  w->clients = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
world_close (World *w)
{
  const BraidProxyStats *stats = braid_proxy_get_stats (w->proxy);

  g_clear_pointer (&w->clients, g_ptr_array_unref);
  braid_listener_stop (w->listener);
  g_clear_object (&w->listener);
  braid_fake_reactor_run_all_timers (w->fake, (gint64) 3600 * G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w->fake), ==, 0);
  g_assert_false (braid_proxy_is_busy (w->proxy));
  g_assert_cmpuint (stats->flights, ==, 0);
  g_assert_cmpuint (stats->buffered, ==, 0);
  g_clear_object (&w->proxy);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w->fetcher), ==, 0);
  g_clear_object (&w->fetcher);
  g_clear_object (&w->cache);
  g_clear_pointer (&w->body, g_bytes_unref);
  g_clear_object (&w->fake);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
client_free (gpointer data)
{
  g_free (data);
}

static BraidProtocol *
build_client (GSocketAddress *a, gpointer data)
{
  World *w = data;
  Client *c = g_new0 (Client, 1);

  c->reactor = w->r;
  c->finished_at = -1;
  c->body_ok = TRUE;
  c->expected = w->body != NULL ? g_bytes_get_data (w->body, &c->expected_len) : NULL;
  c->protocol = BRAID_PROTOCOL (braid_callback_protocol_new (&client_callbacks, c, client_free));
  return c->protocol;
}

static Client *
client_of (BraidProtocol *p)
{
  return braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (p));
}

static BraidTransport *
client_transport (Client *c)
{
  return braid_protocol_get_transport (c->protocol);
}

/* Connects and sends @url; a client that does not read is paused at once. */
static Client *
request (World *w, const gchar *url, gboolean reads)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_client, w, NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = g_strconcat (url, "\n", NULL);
  BraidProtocol *protocol;
  Client *c;

  braid_reactor_connect_async (w->r, "tcp:127.0.0.1:8000", factory, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w->fake);
  protocol = braid_reactor_connect_finish (w->r, result, &error);
  g_assert_no_error (error);
  c = client_of (protocol);
  if (!reads)
    braid_transport_pause_reading (client_transport (c));
  braid_transport_write_string (client_transport (c), line);
  g_ptr_array_add (w->clients, protocol);
  return c;
}

/* Advances @us a millisecond at a time, noting the most the flights held. */
static void
advance (World *w, gint64 us)
{
  const BraidProxyStats *stats = braid_proxy_get_stats (w->proxy);

  for (gint64 t = 0; t < us; t += MS)
    {
      braid_fake_reactor_advance (w->fake, MIN (MS, us - t));
      w->peak_buffered = MAX (w->peak_buffered, stats->buffered);
    }
}

static GBytes *
patterned_body (gsize size)
{
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + i / 251);
  return g_bytes_new_take (data, size);
}

/* ---- the table ---- */

typedef struct {
  const gchar *name;
  const gchar *summary;
  gsize cache_item;            /* the cache's item limit; 0: no cache */
  gsize body_size;             /* in 64 KiB chunks, one per millisecond */
  gsize fail_after;            /* 0, or the upstream dies after this many bytes */
  gsize max_body;              /* 0: the default */
  gsize client_buffer_limit;   /* 0: the default (256 KiB) */
  guint n_readers;             /* clients that read, from the start */
  guint n_stalled;             /* clients that never read, from the start */
  guint n_leavers;             /* clients that hang up after 10 ms */
  guint n_late;                /* readers that join after 20 ms */
  /* expected */
  Outcome readers, stalled, late;
  guint fetches;
  guint cached;                /* items in the cache at the end */
  gsize buffered_bound;        /* stats->buffered never above this */
  gint64 readers_by_us;        /* the readers were done by then (0: not checked) */
  guint64 slow_clients, abandoned, upstream_errors, too_large;
} Case;

#define CHUNK (64 * KIB)
#define DELAY_US (10 * MS)

static const Case cases[] = {
  { "abandoned", "Every client leaves a flight that would not be cached: the fetch is cancelled and "
    "nothing stays buffered",
    0, 8 * MIB, 0, 0, 0, 0, 0, 3, 0,
    OUTCOME_NONE, OUTCOME_NONE, OUTCOME_NONE, 1, 0, 4 * CHUNK, 0, 0, 1, 0, 0 },
  { "abandoned-cacheable", "Every client leaves a flight whose body will be cached: it goes on, and is cached",
    8 * MIB, 2 * MIB, 0, 0, 0, 0, 0, 3, 0,
    OUTCOME_NONE, OUTCOME_NONE, OUTCOME_NONE, 1, 1, 2 * MIB, 0, 0, 0, 0, 0 },
  { "late-joiners-shared", "Late joiners on a big cacheable flight share its chunks: one fetch, the flights "
    "hold one copy of the body whatever the number of clients",
    8 * MIB, 4 * MIB, 0, 0, 0, 5, 0, 0, 5,
    OUTCOME_WHOLE, OUTCOME_NONE, OUTCOME_WHOLE, 1, 1, 4 * MIB, 200 * MS, 0, 0, 0, 0 },
  { "no-cache-streams", "With no cache, a flight holds only what its slowest client has not sent",
    0, 4 * MIB, 0, 0, 0, 5, 0, 0, 0,
    OUTCOME_WHOLE, OUTCOME_NONE, OUTCOME_NONE, 1, 0, 2 * CHUNK, 200 * MS, 0, 0, 0, 0 },
  { "stalled-no-cache", "A client that never reads, on a flight that is not cached, is cut off once it is "
    "client_buffer_limit behind; the others get the whole body at full pace",
    0, 4 * MIB, 0, 0, 0, 5, 1, 0, 0,
    OUTCOME_WHOLE, OUTCOME_ABORTED, OUTCOME_NONE, 1, 0, 256 * KIB + 2 * CHUNK, 200 * MS, 1, 0, 0, 0 },
  { "stalled-cached", "A client that never reads, on a cacheable flight, does not slow the others; it is cut "
    "off at its write deadline",
    8 * MIB, 4 * MIB, 0, 0, 0, 5, 1, 0, 0,
    OUTCOME_WHOLE, OUTCOME_ABORTED, OUTCOME_NONE, 1, 1, 4 * MIB, 200 * MS, 1, 0, 0, 0 },
  { "stalled-alone", "A lone client that never reads holds its flight at client_buffer_limit, then is cut off "
    "at its write deadline and the fetch is cancelled",
    0, 8 * MIB, 0, 0, 0, 0, 1, 0, 0,
    OUTCOME_NONE, OUTCOME_ABORTED, OUTCOME_NONE, 1, 0, 256 * KIB + CHUNK, 0, 1, 1, 0, 0 },
  { "oversize", "A body over max_body is cut off: its clients see a reset, never a clean EOF; not cached",
    8 * MIB, 2 * MIB, 0, 1 * MIB, 0, 3, 0, 0, 0,
    OUTCOME_ABORTED, OUTCOME_NONE, OUTCOME_NONE, 1, 0, 1 * MIB, 0, 0, 0, 0, 1 },
  { "upstream-dies-cached", "The upstream dies half-way: clients see a reset; nothing is cached",
    8 * MIB, 2 * MIB, 1 * MIB, 0, 0, 3, 0, 0, 0,
    OUTCOME_ABORTED, OUTCOME_NONE, OUTCOME_NONE, 1, 0, 1 * MIB, 0, 0, 0, 1, 0 },
  { "upstream-dies-no-cache", "The upstream dies half-way with no cache: clients see a reset",
    0, 2 * MIB, 1 * MIB, 0, 0, 3, 0, 0, 0,
    OUTCOME_ABORTED, OUTCOME_NONE, OUTCOME_NONE, 1, 0, 2 * CHUNK, 0, 0, 0, 1, 0 },
};

static void
assert_outcome (const Case *k, const gchar *kind, guint i, Client *c, Outcome expected)
{
  Outcome seen = client_outcome (c);

  if (seen != expected)
    {
      g_autofree gchar *msg = g_strdup_printf ("%s: %s client %u: expected %s but saw %s (%" G_GSIZE_FORMAT
                                               " bytes, %s)", k->name, kind, i,
                                               outcome_to_string (expected), outcome_to_string (seen),
                                               c->received, c->clean ? "clean close" : "not a clean close");

      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
    }
}

static void
test_case (gconstpointer data)
{
  const Case *k = data;
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  const BraidProxyStats *stats;
  const gchar *url = "http://bulk.example/";
  g_autoptr(GPtrArray) readers = g_ptr_array_new ();
  g_autoptr(GPtrArray) stalled = g_ptr_array_new ();
  g_autoptr(GPtrArray) leavers = g_ptr_array_new ();
  g_autoptr(GPtrArray) late = g_ptr_array_new ();

  g_test_summary (k->summary);
  if (k->max_body > 0)
    settings.max_body = k->max_body;
  if (k->client_buffer_limit > 0)
    settings.client_buffer_limit = k->client_buffer_limit;
  settings.client_write_timeout_us = 2 * G_USEC_PER_SEC;
  world_open (&w, k->cache_item, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  w.body = patterned_body (k->body_size);
  braid_fake_fetcher_add (w.fetcher, url, 200, w.body, DELAY_US, CHUNK, MS);
  if (k->fail_after > 0)
    {
      g_autoptr(GError) died = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM,
                                                    "connection reset by the upstream");

      braid_fake_fetcher_set_fail_after (w.fetcher, url, k->fail_after, died);
    }

  for (guint i = 0; i < k->n_readers; i++)
    g_ptr_array_add (readers, request (&w, url, TRUE));
  for (guint i = 0; i < k->n_stalled; i++)
    g_ptr_array_add (stalled, request (&w, url, FALSE));
  for (guint i = 0; i < k->n_leavers; i++)
    g_ptr_array_add (leavers, request (&w, url, TRUE));
  advance (&w, DELAY_US + 10 * MS);
  for (guint i = 0; i < leavers->len; i++)
    {
      Client *c = g_ptr_array_index (leavers, i);

      c->left = TRUE;
      braid_transport_abort_connection (client_transport (c));
    }
  advance (&w, 10 * MS);
  for (guint i = 0; i < k->n_late; i++)
    g_ptr_array_add (late, request (&w, url, TRUE));
  advance (&w, 5 * G_USEC_PER_SEC);

  g_test_message ("%s: peak buffered %" G_GSIZE_FORMAT " bytes (bound %" G_GSIZE_FORMAT ")", k->name,
                  w.peak_buffered, k->buffered_bound);
  g_assert_cmpuint (w.peak_buffered, <=, k->buffered_bound);
  for (guint i = 0; i < readers->len; i++)
    {
      Client *c = g_ptr_array_index (readers, i);

      assert_outcome (k, "reader", i, c, k->readers);
      if (k->readers_by_us > 0)
        g_assert_cmpint (c->finished_at, <=, k->readers_by_us);
    }
  for (guint i = 0; i < stalled->len; i++)
    assert_outcome (k, "stalled", i, g_ptr_array_index (stalled, i), k->stalled);
  for (guint i = 0; i < late->len; i++)
    assert_outcome (k, "late", i, g_ptr_array_index (late, i), k->late);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, k->fetches);
  g_assert_cmpuint (w.cache != NULL ? braid_memory_cache_get_n_items (w.cache) : 0, ==, k->cached);
  g_assert_cmpuint (stats->slow_clients, ==, k->slow_clients);
  g_assert_cmpuint (stats->abandoned, ==, k->abandoned);
  g_assert_cmpuint (stats->upstream_errors, ==, k->upstream_errors);
  g_assert_cmpuint (stats->too_large, ==, k->too_large);
  /* Everything is over: nothing is held, no fetch is left. */
  g_assert_cmpuint (stats->flights, ==, 0);
  g_assert_cmpuint (stats->buffered, ==, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w.fetcher), ==, 0);
  world_close (&w);
}

static void
test_abandoned_before_answer (void)
{
  World w = { 0 };
  const BraidProxyStats *stats;
  Client *a, *b;

  g_test_summary ("Every client leaves before the upstream answered, with no cache: the fetch is cancelled, "
                  "the flight ends at once and a new request starts a new fetch");
  world_open (&w, 0, NULL);
  stats = braid_proxy_get_stats (w.proxy);
  w.body = patterned_body (CHUNK);
  braid_fake_fetcher_add (w.fetcher, "http://late.example/", 200, w.body, G_USEC_PER_SEC, CHUNK, MS);
  a = request (&w, "http://late.example/", TRUE);
  b = request (&w, "http://late.example/", TRUE);
  advance (&w, 10 * MS);
  a->left = b->left = TRUE;
  braid_transport_abort_connection (client_transport (a));
  braid_transport_abort_connection (client_transport (b));
  advance (&w, MS);
  g_assert_cmpuint (stats->abandoned, ==, 1);
  g_assert_cmpuint (stats->flights, ==, 0);
  a = request (&w, "http://late.example/", TRUE);
  advance (&w, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (client_outcome (a), ==, OUTCOME_WHOLE);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://late.example/"), ==, 2);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w.fetcher), ==, 0);
  g_assert_cmpuint (w.peak_buffered, <=, CHUNK);
  world_close (&w);
}

/* ---- caps ---- */

static void
test_flight_cap (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  const BraidProxyStats *stats;
  Client *a, *b, *c, *a2, *d;

  g_test_summary ("Past max_flights fetches in the air, a request for another URL is refused with a reset "
                  "and counted; joining a running flight is not refused; once a flight ends, fetching works again");
  settings.max_flights = 2;
  world_open (&w, 0, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  w.body = patterned_body (256 * KIB);
  braid_fake_fetcher_add (w.fetcher, "http://a.example/", 200, w.body, DELAY_US, CHUNK, 10 * MS);
  braid_fake_fetcher_add (w.fetcher, "http://b.example/", 200, w.body, DELAY_US, CHUNK, 10 * MS);
  braid_fake_fetcher_add (w.fetcher, "http://c.example/", 200, w.body, DELAY_US, CHUNK, 10 * MS);
  a = request (&w, "http://a.example/", TRUE);
  b = request (&w, "http://b.example/", TRUE);
  c = request (&w, "http://c.example/", TRUE);
  a2 = request (&w, "http://a.example/", TRUE);
  advance (&w, 5 * MS);
  g_assert_cmpint (client_outcome (c), ==, OUTCOME_ABORTED);
  g_assert_cmpuint (c->received, ==, 0);
  g_assert_cmpuint (stats->over_capacity, ==, 1);
  g_assert_cmpuint (stats->flights, ==, 2);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://c.example/"), ==, 0);
  advance (&w, G_USEC_PER_SEC);
  g_assert_cmpint (client_outcome (a), ==, OUTCOME_WHOLE);
  g_assert_cmpint (client_outcome (a2), ==, OUTCOME_WHOLE);
  g_assert_cmpint (client_outcome (b), ==, OUTCOME_WHOLE);
  g_assert_cmpuint (stats->flights, ==, 0);
  d = request (&w, "http://c.example/", TRUE);
  advance (&w, G_USEC_PER_SEC);
  g_assert_cmpint (client_outcome (d), ==, OUTCOME_WHOLE);
  g_assert_cmpuint (stats->over_capacity, ==, 1);
  world_close (&w);
}

static void
test_buffer_cap (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  const BraidProxyStats *stats;
  Client *stuck, *refused, *later;

  g_test_summary ("While the flights hold max_buffered bytes, a new fetch is refused with a reset and counted; "
                  "a cacheable flight that would pass max_buffered stops keeping its body for the cache");
  settings.max_buffered = 256 * KIB;
  settings.client_buffer_limit = 1 * MIB;
  settings.client_write_timeout_us = 2 * G_USEC_PER_SEC;
  world_open (&w, 8 * MIB, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  w.body = patterned_body (4 * MIB);
  braid_fake_fetcher_add (w.fetcher, "http://a.example/", 200, w.body, DELAY_US, CHUNK, MS);
  braid_fake_fetcher_add (w.fetcher, "http://b.example/", 200, w.body, DELAY_US, CHUNK, MS);
  stuck = request (&w, "http://a.example/", FALSE);
  advance (&w, 200 * MS);
  /* Not kept any more: held for the stuck client only, up to its limit. */
  g_assert_cmpuint (stats->buffered, >=, settings.max_buffered);
  g_assert_cmpuint (w.peak_buffered, <=, settings.client_buffer_limit + CHUNK);
  refused = request (&w, "http://b.example/", TRUE);
  advance (&w, 5 * MS);
  g_assert_cmpint (client_outcome (refused), ==, OUTCOME_ABORTED);
  g_assert_cmpuint (stats->over_capacity, ==, 1);
  /* The stuck client meets its write deadline; its flight is cancelled. */
  advance (&w, 3 * G_USEC_PER_SEC);
  g_assert_cmpint (client_outcome (stuck), ==, OUTCOME_ABORTED);
  g_assert_cmpuint (stats->slow_clients, ==, 1);
  g_assert_cmpuint (stats->abandoned, ==, 1);
  g_assert_cmpuint (stats->buffered, ==, 0);
  g_assert_cmpuint (braid_memory_cache_get_n_items (w.cache), ==, 0);
  later = request (&w, "http://b.example/", TRUE);
  advance (&w, G_USEC_PER_SEC);
  g_assert_cmpint (client_outcome (later), ==, OUTCOME_WHOLE);
  world_close (&w);
}

/* ---- cache hits ---- */

static void
test_hits_not_copied (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  const BraidProxyStats *stats;
  g_autoptr(GPtrArray) stalled = g_ptr_array_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) cached = NULL;
  g_autofree gchar *key = NULL;
  GPtrArray *transports;
  guint n_proxy_sides = 0;
  Client *first;

  g_test_summary ("20 clients that never read, on a cached 7 MiB body: each transport gets the cached GBytes "
                  "itself (no copy), the flights hold nothing, and each client is cut off at its write deadline");
  settings.client_write_timeout_us = 2 * G_USEC_PER_SEC;
  world_open (&w, 8 * MIB, &settings);
  stats = braid_proxy_get_stats (w.proxy);
  w.body = patterned_body (7 * MIB);
  braid_fake_fetcher_add (w.fetcher, "http://big.example/", 200, w.body, DELAY_US, CHUNK, MS);
  first = request (&w, "http://big.example/", TRUE);
  advance (&w, G_USEC_PER_SEC);
  g_assert_cmpint (client_outcome (first), ==, OUTCOME_WHOLE);
  g_assert_cmpuint (braid_memory_cache_get_n_items (w.cache), ==, 1);

  key = braid_cache_key_for_url ("http://big.example/");
  braid_cache_lookup_async (BRAID_CACHE (w.cache), key, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w.fake);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  cached = braid_cache_lookup_finish (BRAID_CACHE (w.cache), result, NULL);
  g_assert_nonnull (cached);

  w.peak_buffered = 0;
  for (guint i = 0; i < 20; i++)
    g_ptr_array_add (stalled, request (&w, "http://big.example/", FALSE));
  advance (&w, 100 * MS);
  g_assert_cmpuint (stats->hits, ==, 20);
  g_assert_cmpuint (w.peak_buffered, ==, 0);
  transports = braid_fake_reactor_get_transports (w.fake);
  for (guint i = 0; i < transports->len; i++)
    {
      BraidFakeTransport *t = g_ptr_array_index (transports, i);
      BraidProtocol *p = braid_fake_transport_get_protocol (t);
      GBytes *pending;

      if (p == NULL || BRAID_IS_CALLBACK_PROTOCOL (p) || braid_fake_transport_is_disconnected (t))
        continue;
      pending = braid_fake_transport_peek_pending (t);
      g_assert_nonnull (pending);
      g_assert_true (g_bytes_get_data (pending, NULL) == g_bytes_get_data (cached, NULL));
      n_proxy_sides++;
    }
  g_assert_cmpuint (n_proxy_sides, ==, 20);
  advance (&w, 3 * G_USEC_PER_SEC);
  for (guint i = 0; i < stalled->len; i++)
    g_assert_cmpint (client_outcome (g_ptr_array_index (stalled, i)), ==, OUTCOME_ABORTED);
  g_assert_cmpuint (stats->slow_clients, ==, 20);
  world_close (&w);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (drop_access_log, NULL, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/proxy/bounds/%s", cases[i].name);

      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/proxy/bounds/abandoned-before-answer", test_abandoned_before_answer);
  g_test_add_func ("/proxy/bounds/flight-cap", test_flight_cap);
  g_test_add_func ("/proxy/bounds/buffer-cap", test_buffer_cap);
  g_test_add_func ("/proxy/bounds/hits-not-copied", test_hits_not_copied);
  return g_test_run ();
}
