/* braid — the caching proxy on the fake reactor with the fake fetcher:
 * the tutorial's experiment in simulated time, single flight, caching,
 * cache failures, upstream errors, limits, slow clients, bad requests. */
#include "test-support.h"
#include "proxy.h"
#include "callback-protocol.h"
#include "memory-cache.h"
#include "fake-fetcher.h"
#include "cache-mac.h"
#include "access-log-private.h"

#include <string.h>

/* ---- the access log, captured ---- */

/* One access log entry: its URL, STATUS and MESSAGE fields. */
typedef struct {
  gchar *url, *status, *message;
} LogEntry;

static GArray *access_log;  /* (element-type LogEntry): since the last access_log_clear() */

static void
log_entry_clear (LogEntry *e)
{
  g_free (e->url);
  g_free (e->status);
  g_free (e->message);
}

static gchar *
field_text (const GLogField *field)
{
  return field->length < 0 ? g_strdup (field->value) : g_strndup (field->value, (gsize) field->length);
}

/* Keeps access log entries for the tests; everything else goes on to the
 * default writer. */
static GLogWriterOutput
capture_access_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  LogEntry e = { NULL, NULL, NULL };
  gboolean access = FALSE;

  for (gsize i = 0; i < n_fields; i++)
    {
      g_autofree gchar *value = field_text (&fields[i]);

      if (g_str_equal (fields[i].key, "MESSAGE_ID"))
        access = g_str_equal (value, BRAID_PROXY_ACCESS_LOG_MESSAGE_ID);
      else if (g_str_equal (fields[i].key, "URL"))
        e.url = g_steal_pointer (&value);
      else if (g_str_equal (fields[i].key, "STATUS"))
        e.status = g_steal_pointer (&value);
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        e.message = g_steal_pointer (&value);
    }
  if (!access)
    {
      log_entry_clear (&e);
      return g_log_writer_default (level, fields, n_fields, data);
    }
  g_array_append_val (access_log, e);
  return G_LOG_WRITER_HANDLED;
}

static void
access_log_clear (void)
{
  g_array_set_size (access_log, 0);
}

static const LogEntry *
access_log_last (void)
{
  g_assert_cmpuint (access_log->len, >, 0);
  return &g_array_index (access_log, LogEntry, access_log->len - 1);
}

/* ---- a client that notes when it finished ---- */

/* The user data of a BraidCallbackProtocol, owned by it. */
typedef struct
{
  BraidProtocol *protocol;  /* (unowned): owns this */
  BraidReactor *reactor;
  GByteArray *body;
  gint64 finished_at;   /* -1 until the proxy closed */
  gboolean reset;       /* the proxy aborted the connection (RST), not a clean close */
} TestClient;

static void
client_data (BraidProtocol *p, const guint8 *data, gsize len, gpointer user_data)
{
  TestClient *c = user_data;

  g_byte_array_append (c->body, data, (guint) len);
}

static void
client_lost (BraidProtocol *p, const GError *reason, gpointer user_data)
{
  TestClient *c = user_data;

  c->finished_at = braid_reactor_now (c->reactor);
  c->reset = g_error_matches (reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_LOST);
}

static void
test_client_free (gpointer data)
{
  TestClient *c = data;

  g_byte_array_unref (c->body);
  g_free (c);
}

static const BraidProtocolCallbacks client_callbacks = {
  .data_received = client_data,
  .connection_lost = client_lost,
};

static TestClient *
test_client_of (BraidProtocol *p)
{
  return braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (p));
}

/* ---- the world ---- */

typedef struct {
  BraidFakeReactor *fake;
  BraidReactor *r;
  BraidFakeFetcher *fetcher;
  BraidProxy *proxy;
  BraidListener *listener;
  GPtrArray *clients;  /* (element-type BraidProtocol): their user data is a TestClient */
} World;

static void
world_open (World *w, BraidCache *cache, const BraidProxySettings *settings, BraidFakeDelivery delivery)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;

  w->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  w->r = BRAID_REACTOR (w->fake);
  braid_fake_reactor_set_delivery (w->fake, delivery);
  w->fetcher = braid_fake_fetcher_new (w->r);
  w->proxy = braid_proxy_new (w->r, BRAID_FETCHER (w->fetcher), cache, settings);
  factory = braid_proxy_create_factory (w->proxy);
  w->listener = braid_reactor_listen (w->r, "tcp:8000", factory, &error);
  g_assert_no_error (error);
  w->clients = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
world_close (World *w)
{
  g_clear_pointer (&w->clients, g_ptr_array_unref);
  braid_listener_stop (w->listener);
  g_clear_object (&w->listener);
  braid_fake_reactor_run_all_timers (w->fake, (gint64) 3600 * G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w->fake), ==, 0);
  g_assert_false (braid_proxy_is_busy (w->proxy));
  g_clear_object (&w->proxy);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w->fetcher), ==, 0);
  g_clear_object (&w->fetcher);
  g_clear_object (&w->fake);
  /* A cache that hung answers when it goes away: let those answers run. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static BraidProtocol *
build_client (GSocketAddress *a, gpointer data)
{
  TestClient *c = g_new0 (TestClient, 1);

  c->reactor = data;
  c->body = g_byte_array_new ();
  c->finished_at = -1;
  c->protocol = BRAID_PROTOCOL (braid_callback_protocol_new (&client_callbacks, c, test_client_free));
  return c->protocol;
}

/* Connects to @endpoint and sends @line; returns the client (owned by the
 * world). */
static TestClient *
request_to (World *w, const gchar *endpoint, const gchar *line)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_client, w->r, NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  BraidProtocol *protocol;
  TestClient *c;

  braid_reactor_connect_async (w->r, endpoint, factory, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w->fake);
  protocol = braid_reactor_connect_finish (w->r, result, &error);
  g_assert_no_error (error);
  c = test_client_of (protocol);
  /* A connection over the limit may be closed already. */
  if (braid_protocol_get_transport (c->protocol) != NULL)
    braid_transport_write_string (braid_protocol_get_transport (c->protocol), line);
  g_ptr_array_add (w->clients, protocol);
  return c;
}

/* Connects to the proxy on port 8000 and sends @line. */
static TestClient *
request (World *w, const gchar *line)
{
  return request_to (w, "tcp:127.0.0.1:8000", line);
}

static GBytes *
body_of (const gchar *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
assert_body (TestClient *c, const gchar *expected)
{
  braid_assert_bytes_equal (expected, strlen (expected), c->body->data, c->body->len);
}

/* Requests @url and lets a second of simulated time pass. */
static TestClient *
get (World *w, const gchar *url)
{
  g_autofree gchar *line = g_strdup_printf ("%s\n", url);
  TestClient *c = request (w, line);

  braid_fake_reactor_advance (w->fake, G_USEC_PER_SEC);
  return c;
}

/* ---- the tutorial's experiment ---- */

static void
test_tutorial_experiment (gconstpointer data)
{
  BraidFakeDelivery delivery = GPOINTER_TO_INT (data);
  const gchar *urls[] = { "http://a.example/", "http://b.example/", "http://c.example/", "http://d.example/" };
  const gint64 delays[] = { 850000, 486000, 1582000, 999000 };
  World w = { 0 };
  gint64 last = 0, blocking = 0;

  g_test_summary ("Four URLs whose fetches take 0.850, 0.486, 1.582 and 0.999 s, requested at once, are all "
                  "answered by t = 1.582 s; a blocking proxy would take their sum, 3.917 s");
  world_open (&w, NULL, NULL, delivery);
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(GBytes) b = body_of (urls[i]);

      braid_fake_fetcher_add (w.fetcher, urls[i], 200, b, delays[i], 0, 0);
      blocking += delays[i];
    }
  for (guint i = 0; i < 4; i++)
    {
      g_autofree gchar *line = g_strdup_printf ("%s\n", urls[i]);

      request (&w, line);
    }
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  for (guint i = 0; i < 4; i++)
    {
      TestClient *c = test_client_of (g_ptr_array_index (w.clients, i));

      assert_body (c, urls[i]);
      g_assert_cmpint (c->finished_at, >=, delays[i]);
      g_assert_cmpint (c->finished_at, <=, delays[i] + 1000);
      last = MAX (last, c->finished_at);
      g_test_message ("%s answered at %.3f s", urls[i], (gdouble) c->finished_at / G_USEC_PER_SEC);
    }
  g_test_message ("all answered by %.3f s; a blocking proxy: %.3f s", (gdouble) last / G_USEC_PER_SEC,
                  (gdouble) blocking / G_USEC_PER_SEC);
  g_assert_cmpint (blocking, ==, 3917000);
  g_assert_cmpint (last, >=, 1582000);
  g_assert_cmpint (last, <=, 1582000 + 1000);
  world_close (&w);
}

static void
test_thousand_slow_fetches (void)
{
  World w = { 0 };
  gint64 first = G_MAXINT64, last = 0;

  g_test_summary ("A thousand concurrent 2-second fetches finish together, at 2 s");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree gchar *url = g_strdup_printf ("http://slow.example/%u", i);
      g_autofree gchar *line = g_strdup_printf ("%s\r\n", url);
      g_autoptr(GBytes) b = body_of (url);

      braid_fake_fetcher_add (w.fetcher, url, 200, b, 2 * G_USEC_PER_SEC, 0, 0);
      request (&w, line);
    }
  braid_fake_reactor_advance (w.fake, 3 * G_USEC_PER_SEC);
  for (guint i = 0; i < 1000; i++)
    {
      TestClient *c = test_client_of (g_ptr_array_index (w.clients, i));

      g_assert_cmpint (c->finished_at, >=, 0);
      first = MIN (first, c->finished_at);
      last = MAX (last, c->finished_at);
    }
  g_test_message ("first at %.3f s, last at %.3f s", (gdouble) first / 1e6, (gdouble) last / 1e6);
  g_assert_cmpint (first, >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (last, <=, 2 * G_USEC_PER_SEC + 1000);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->upstream_fetches, ==, 1000);
  world_close (&w);
}

/* ---- caching ---- */

static void
test_cache_hit_miss_expiry (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) b = body_of ("cached body");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;

  g_test_summary ("A miss fetches and caches; the next request is a hit with no fetch; after the TTL it fetches again");
  settings.ttl_s = 10;
  w.fake = NULL;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_BYTE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  g_clear_object (&w.proxy);
  w.proxy = braid_proxy_new (w.r, BRAID_FETCHER (w.fetcher), BRAID_CACHE (cache), &settings);
  braid_listener_stop (w.listener);
  g_clear_object (&w.listener);
  {
    g_autoptr(BraidProtocolFactory) factory = braid_proxy_create_factory (w.proxy);

    w.listener = braid_reactor_listen (w.r, "tcp:8000", factory, NULL);
  }
  braid_fake_fetcher_add (w.fetcher, "http://x.example/a", 200, b, 100000, 0, 0);

  c = request (&w, "http://x.example/a\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "cached body");
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 1);

  c = request (&w, "http://x.example/a\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_body (c, "cached body");
  g_assert_cmpint (c->finished_at, >=, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://x.example/a"), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 1);

  braid_fake_reactor_advance (w.fake, 10 * G_USEC_PER_SEC);
  c = request (&w, "http://x.example/a\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "cached body");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://x.example/a"), ==, 2);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->misses, ==, 2);
  world_close (&w);
}

static void
test_single_flight (void)
{
  World w = { 0 };
  g_autoptr(GBytes) b = g_bytes_new_take (g_strnfill (300000, 's'), 300000);

  g_test_summary ("Concurrent requests for one uncached URL share one upstream fetch; with no cache, the flight "
                  "drops what its clients have sent, so a late joiner starts its own fetch and gets the whole "
                  "body too (test-proxy-bounds: with a cache, it joins)");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_RANDOM);
  braid_fake_fetcher_add (w.fetcher, "http://one.example/", 200, b, 500000, 10000, 10000);
  for (guint i = 0; i < 5; i++)
    request (&w, "http://one.example/\n");
  braid_fake_reactor_advance (w.fake, 600000);   /* the body is half way */
  request (&w, "http://one.example/\n");
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://one.example/"), ==, 2);
  for (guint i = 0; i < 6; i++)
    {
      TestClient *c = test_client_of (g_ptr_array_index (w.clients, i));

      g_assert_cmpuint (c->body->len, ==, 300000);
      g_assert_cmpint (c->finished_at, >=, 0);
    }
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->shared, ==, 4);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->buffered, ==, 0);
  world_close (&w);
}

/* A cache that fails, or never answers. */
#define TEST_TYPE_BAD_CACHE (test_bad_cache_get_type ())
G_DECLARE_FINAL_TYPE (TestBadCache, test_bad_cache, TEST, BAD_CACHE, GObject)
struct _TestBadCache
{
  GObject parent_instance;
  gboolean hang;
  gboolean deaf;     /* hangs, and does not hear a cancellation (a lookup that cannot be interrupted) */
  GPtrArray *hung;   /* tasks not answered yet (test_bad_cache_answer_hung, or finalize) */
};
static void test_bad_cache_iface_init (BraidCacheInterface *iface);
G_DEFINE_FINAL_TYPE_WITH_CODE (TestBadCache, test_bad_cache, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_CACHE, test_bad_cache_iface_init))

static void
on_bad_cancel (GCancellable *c, gpointer data)
{
  TestBadCache *self = data;

  for (guint i = 0; i < self->hung->len; i++)
    {
      GTask *t = g_ptr_array_index (self->hung, i);

      if (g_task_get_cancellable (t) == c)
        {
          g_ptr_array_remove_index (self->hung, i);
          g_task_return_new_error (t, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
          g_object_unref (t);
          return;
        }
    }
}

static void
bad_lookup_async (BraidCache *cache, const gchar *key, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
  TestBadCache *self = TEST_BAD_CACHE (cache);
  GTask *task = g_task_new (self, c, cb, data);

  if (self->hang)
    {
      /* Never answers, except to a cancellation, as a real cache should. */
      g_ptr_array_add (self->hung, task);
      if (c != NULL && !self->deaf)
        g_cancellable_connect (c, G_CALLBACK (on_bad_cancel), self, NULL);
      return;
    }
  g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_CACHE, "the cache is on fire");
  g_object_unref (task);
}

static GBytes *
bad_lookup_finish (BraidCache *cache, GAsyncResult *r, GError **error)
{
  return g_task_propagate_pointer (G_TASK (r), error);
}

static void
bad_store_async (BraidCache *cache, const gchar *key, GBytes *b, gint64 ttl, GCancellable *c,
                 GAsyncReadyCallback cb, gpointer data)
{
  g_autoptr(GTask) task = g_task_new (cache, c, cb, data);

  g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_CACHE, "the cache is on fire");
}

static gboolean
bad_store_finish (BraidCache *cache, GAsyncResult *r, GError **error)
{
  return g_task_propagate_boolean (G_TASK (r), error);
}

static gsize
bad_max (BraidCache *cache)
{
  return 1 << 20;
}

static void
test_bad_cache_iface_init (BraidCacheInterface *iface)
{
  iface->lookup_async = bad_lookup_async;
  iface->lookup_finish = bad_lookup_finish;
  iface->store_async = bad_store_async;
  iface->store_finish = bad_store_finish;
  iface->get_max_item_size = bad_max;
}

/* The hung lookups end at last, as misses. */
static void
test_bad_cache_answer_hung (TestBadCache *self)
{
  while (self->hung->len > 0)
    {
      GTask *t = g_ptr_array_steal_index (self->hung, 0);

      g_task_return_pointer (t, NULL, NULL);
      g_object_unref (t);
    }
}

static void
test_bad_cache_finalize (GObject *o)
{
  TestBadCache *self = TEST_BAD_CACHE (o);

  test_bad_cache_answer_hung (self);
  g_ptr_array_unref (self->hung);
  G_OBJECT_CLASS (test_bad_cache_parent_class)->finalize (o);
}

static void
test_bad_cache_class_init (TestBadCacheClass *k)
{
  G_OBJECT_CLASS (k)->finalize = test_bad_cache_finalize;
}

static void
test_bad_cache_init (TestBadCache *self)
{
  self->hung = g_ptr_array_new ();
}

static void
run_with_bad_cache (gboolean hang, gboolean deaf)
{
  World w = { 0 };
  g_autoptr(TestBadCache) cache = g_object_new (TEST_TYPE_BAD_CACHE, NULL);
  g_autoptr(GBytes) b = body_of ("still served");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;

  cache->hang = hang;
  cache->deaf = deaf;
  settings.cache_timeout_us = 50000;
  /* the proxy holds the only reference, so the cache goes with it */
  world_open (&w, BRAID_CACHE (cache), &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://z.example/", 200, b, 200000, 0, 0);
  c = request (&w, "http://z.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "still served");
  /* a failing cache costs nothing; a silent one at most the time box */
  g_assert_cmpint (c->finished_at, <=, 200000 + (hang ? 50000 : 0) + 1000);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bypass, ==, 1);
  /* Past the time box the proxy no longer waits, and tells the cache so
   * (which a deaf one does not hear). */
  g_assert_cmpuint (cache->hung->len, ==, deaf ? 1 : 0);
  /* The deaf cache's lookup ends at last (it holds the request, which
   * holds the proxy, which holds the cache): too late to change anything. */
  test_bad_cache_answer_hung (cache);
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "still served");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://z.example/"), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bypass, ==, 1);
  g_clear_object (&cache);
  world_close (&w);
}

static void
test_lookup_box_ends_with_answer (void)
{
  World w = { 0 };
  g_autoptr(TestBadCache) cache = g_object_new (TEST_TYPE_BAD_CACHE, NULL);
  g_autoptr(GBytes) b = body_of ("quick");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;

  g_test_summary ("The cache's time box ends when the cache answers: a request served and gone before the "
                  "box would have run out leaves no timer behind");
  settings.cache_timeout_us = 50000;
  world_open (&w, BRAID_CACHE (cache), &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://q.example/", 200, b, 1000, 0, 0);
  c = request (&w, "http://q.example/\n");
  braid_fake_reactor_advance (w.fake, 10000);
  assert_body (c, "quick");
  g_assert_cmpint (c->finished_at, <=, 10000);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w.fake), ==, 0);
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_clear_object (&cache);
  world_close (&w);
}

static void
test_lookup_cancelled_when_client_leaves (void)
{
  World w = { 0 };
  g_autoptr(TestBadCache) cache = g_object_new (TEST_TYPE_BAD_CACHE, NULL);
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;

  g_test_summary ("A client that leaves while the cache is asked cancels the lookup: nothing is fetched for "
                  "it and nothing waits on the cache");
  cache->hang = TRUE;
  settings.cache_timeout_us = G_USEC_PER_SEC;
  world_open (&w, BRAID_CACHE (cache), &settings, BRAID_FAKE_DELIVERY_WHOLE);
  c = request (&w, "http://z.example/\n");
  braid_fake_reactor_advance (w.fake, 1000);
  g_assert_cmpuint (cache->hung->len, ==, 1);
  braid_transport_abort_connection (braid_protocol_get_transport (c->protocol));
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (cache->hung->len, ==, 0);
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://z.example/"), ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bypass, ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->in_flight, ==, 0);
  g_clear_object (&cache);
  world_close (&w);
}

static void
test_cache_failure (void)
{
  g_test_summary ("A cache that fails never fails a request: it is fetched directly");
  run_with_bad_cache (FALSE, FALSE);
}

static void
test_cache_timeout (void)
{
  g_test_summary ("A cache that does not answer delays a request by the time box and no more");
  run_with_bad_cache (TRUE, FALSE);
}

static void
test_cache_timeout_deaf (void)
{
  g_test_summary ("A cache that answers a cancelled lookup only when the lookup ends (one that cannot be "
                  "interrupted) still delays a request by the time box and no more: the proxy fetches when "
                  "the box runs out, not when the cache answers");
  run_with_bad_cache (TRUE, TRUE);
}

static void
test_no_reading_during_lookup (void)
{
  World w = { 0 };
  g_autoptr(TestBadCache) cache = g_object_new (TEST_TYPE_BAD_CACHE, NULL);
  g_autoptr(GBytes) b = body_of ("fetched");
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  const gchar *line = "http://z.example/\n";
  g_autofree gchar *written = NULL;

  g_test_summary ("While the cache is asked (at most the time box) the client's socket is not read, so a "
                  "real one is not watched: its request is whole, and its answer comes within the box; "
                  "a fetch reads it again, to see the client leave");
  cache->hang = TRUE;
  settings.cache_timeout_us = 50000;
  world_open (&w, BRAID_CACHE (cache), &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://z.example/", 200, b, 200000, 0, 0);
  factory = braid_proxy_create_factory (w.proxy);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, protocol);
  g_assert_false (braid_fake_transport_get_read_paused (transport));
  braid_protocol_data_received (protocol, (const guint8 *) line, strlen (line));
  g_assert_true (braid_fake_transport_get_read_paused (transport));
  braid_fake_reactor_advance (w.fake, 50000);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bypass, ==, 1);
  g_assert_false (braid_fake_transport_get_read_paused (transport));
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_true (braid_fake_transport_is_disconnecting (transport));
  written = braid_fake_transport_get_written_string (transport);
  g_assert_cmpstr (written, ==, "fetched");
  braid_fake_transport_close_from_peer (transport, NULL);
  g_clear_object (&protocol);
  g_clear_object (&cache);
  world_close (&w);
}

/* Feeds @input (then an EOF if @eof) to a request on a standalone fake
 * transport, the protocol held by the test so that it outlives its
 * connection's end. */
static void
end_while_reading (const gchar *input, gboolean eof)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();

  g_test_message ("“%s”%s", input, eof ? " then EOF" : "");
  settings.max_line = 16;
  settings.request_timeout_us = 10 * G_USEC_PER_SEC;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  factory = braid_proxy_create_factory (w.proxy);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, protocol);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w.fake), ==, 1);  /* the line's deadline */
  braid_protocol_data_received (protocol, (const guint8 *) input, strlen (input));
  if (eof)
    g_assert_false (braid_protocol_eof_received (protocol));
  g_assert_true (braid_fake_transport_is_disconnecting (transport));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bad_requests, ==, 1);
  /* Over: its line's deadline is gone with it. */
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w.fake), ==, 0);
  braid_fake_transport_close_from_peer (transport, NULL);
  g_clear_object (&protocol);
  world_close (&w);
}

static void
test_no_timer_after_the_end (void)
{
  g_test_summary ("A request that ends before its line is whole (a line over max_line, an EOF, a bad URL) "
                  "leaves no timer behind, even while its protocol lives on");
  end_while_reading ("http://x.example/0123456789", FALSE);
  end_while_reading ("http://x", TRUE);
  end_while_reading ("", TRUE);
  end_while_reading ("ftp://x/\n", FALSE);
}

/* ---- upstream trouble and limits ---- */

static void
test_upstream_error (void)
{
  World w = { 0 };
  g_autoptr(GError) down = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "connection refused");
  TestClient *c1, *c2;

  g_test_summary ("When the fetch fails, the client's connection closes with no body; unknown hosts too");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add_error (w.fetcher, "http://down.example/", down, 100000);
  c1 = request (&w, "http://down.example/\n");
  c2 = request (&w, "http://nowhere.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (c1->body->len, ==, 0);
  g_assert_cmpint (c1->finished_at, ==, 100000);
  g_assert_cmpuint (c2->body->len, ==, 0);
  g_assert_cmpint (c2->finished_at, >=, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->upstream_errors, ==, 2);
  world_close (&w);
}

static void
test_oversize_body (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) big = g_bytes_new_take (g_strnfill (100000, 'b'), 100000);
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;

  g_test_summary ("A body over the limit is cut off and not cached; one over the cache's item limit is served, not cached");
  settings.max_body = 50000;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://big.example/", 200, big, 1000, 8192, 1000);
  c = request (&w, "http://big.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (c->body->len, <=, 50000);
  g_assert_cmpint (c->finished_at, >=, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->too_large, ==, 1);
  world_close (&w);

  /* served but not cached: over the cache's item size */
  cache = NULL;
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 10000);
  g_clear_object (&w.proxy);
  w.proxy = braid_proxy_new (w.r, BRAID_FETCHER (w.fetcher), BRAID_CACHE (cache), NULL);
  braid_listener_stop (w.listener);
  g_clear_object (&w.listener);
  {
    g_autoptr(BraidProtocolFactory) factory = braid_proxy_create_factory (w.proxy);

    w.listener = braid_reactor_listen (w.r, "tcp:8000", factory, NULL);
  }
  braid_fake_fetcher_add (w.fetcher, "http://big.example/", 200, big, 1000, 0, 0);
  c = request (&w, "http://big.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (c->body->len, ==, 100000);
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 0);
  world_close (&w);
}

static void
test_slow_client (void)
{
  World w = { 0 };
  gsize size = 4 * 1024 * 1024;
  g_autoptr(GBytes) b = g_bytes_new_take (g_malloc0 (size), size);
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;
  GPtrArray *transports;
  BraidFakeTransport *proxy_side = NULL;

  g_test_summary ("A client that does not read makes its flight wait: the proxy holds about the buffer "
                  "limit for it, not the whole body");
  settings.client_buffer_limit = 128 * 1024;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://bulk.example/", 200, b, 1000, 64 * 1024, 0);
  c = request (&w, "http://bulk.example/\n");
  braid_fake_reactor_run_until_idle (w.fake);
  braid_transport_pause_reading (braid_protocol_get_transport (c->protocol));
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  transports = braid_fake_reactor_get_transports (w.fake);
  for (guint i = 0; i < transports->len; i++)
    if (braid_fake_transport_get_protocol (g_ptr_array_index (transports, i)) != c->protocol)
      proxy_side = g_ptr_array_index (transports, i);
  g_assert_nonnull (proxy_side);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (proxy_side)), <=, 256 * 1024);
  g_assert_cmpint (c->finished_at, <, 0);
  braid_transport_resume_reading (braid_protocol_get_transport (c->protocol));
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (c->body->len, ==, size);
  g_assert_cmpint (c->finished_at, >=, 0);
  world_close (&w);
}

static void
test_write_deadline (void)
{
  World w = { 0 };
  gsize size = 64 * 1024;  /* the proxy's read size: each half is one read */
  g_autoptr(GBytes) b = g_bytes_new_take (g_malloc0 (size), size);
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  BraidTransport *client_side;
  TestClient *stalled, *reads_once;
  const gint64 ms = 1000;

  g_test_summary ("A client that reads nothing for client_write_timeout (1.5 s) after the proxy wrote to it "
                  "is reset then, not a microsecond before, counted and logged with the timeout in ms; one "
                  "that read something within it gets a new deadline from then");
  settings.client_write_timeout_us = 1500 * ms;
  settings.client_buffer_limit = 4 * size;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  /* Half the body at 1 ms, the rest at 1.2 s. */
  braid_fake_fetcher_add (w.fetcher, "http://stall.example/", 200, b, ms, size / 2, 1200 * ms - ms);
  braid_fake_fetcher_add (w.fetcher, "http://once.example/", 200, b, ms, size / 2, 1200 * ms - ms);
  stalled = request (&w, "http://stall.example/\n");
  reads_once = request (&w, "http://once.example/\n");
  braid_fake_reactor_run_until_idle (w.fake);
  braid_transport_pause_reading (braid_protocol_get_transport (stalled->protocol));
  client_side = braid_protocol_get_transport (reads_once->protocol);
  braid_transport_pause_reading (client_side);
  access_log_clear ();

  braid_fake_reactor_advance (w.fake, 1000 * ms);
  /* reads_once takes what it was sent so far, then stops again. */
  braid_transport_resume_reading (client_side);
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (reads_once->body->len, ==, size / 2);
  braid_transport_pause_reading (client_side);

  braid_fake_reactor_advance (w.fake, 501 * ms - 1);
  g_assert_cmpint (stalled->finished_at, <, 0);
  braid_fake_reactor_advance (w.fake, 1);
  g_assert_cmpint (stalled->finished_at, ==, 1501 * ms);
  g_assert_true (stalled->reset);
  g_assert_cmpuint (access_log->len, ==, 1);
  g_assert_true (g_str_has_suffix (access_log_last ()->message, " too slow: nothing read for 1500 ms"));
  g_assert_cmpstr (access_log_last ()->status, ==, "200");   /* the upstream's, as far as it got */
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->slow_clients, ==, 1);
  /* Progress at 1 s: its next deadline is 1.5 s after the first one. */
  g_assert_cmpint (reads_once->finished_at, <, 0);
  braid_fake_reactor_advance (w.fake, 1500 * ms - 1);
  g_assert_cmpint (reads_once->finished_at, <, 0);
  braid_fake_reactor_advance (w.fake, 1);
  g_assert_cmpint (reads_once->finished_at, ==, 3001 * ms);
  g_assert_true (reads_once->reset);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->slow_clients, ==, 2);
  world_close (&w);
}

static void
test_write_deadline_off (void)
{
  World w = { 0 };
  gsize size = 64 * 1024;
  g_autoptr(GBytes) b = g_bytes_new_take (g_malloc0 (size), size);
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *stalled;

  g_test_summary ("client_write_timeout 0 means no write deadline: a client that reads nothing for an hour "
                  "is not cut off, and reads the whole body when it resumes");
  settings.client_write_timeout_us = 0;
  settings.client_buffer_limit = 4 * size;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://stall.example/", 200, b, 1000, size / 2, 1000);
  stalled = request (&w, "http://stall.example/\n");
  braid_fake_reactor_run_until_idle (w.fake);
  braid_transport_pause_reading (braid_protocol_get_transport (stalled->protocol));
  braid_fake_reactor_advance (w.fake, (gint64) 3600 * G_USEC_PER_SEC);
  g_assert_cmpint (stalled->finished_at, <, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->slow_clients, ==, 0);
  braid_transport_resume_reading (braid_protocol_get_transport (stalled->protocol));
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (stalled->body->len, ==, size);
  g_assert_false (stalled->reset);
  world_close (&w);
}

static void
test_bad_requests (void)
{
  g_autofree gchar *long_line = g_strnfill (10000, 'u');
  const gchar *lines[] = { "ftp://files.example/x\n", "not a url\n", "http://\n", "http://a b/\n",
                           "\n", "mailto:me@example.com\n", long_line };
  World w = { 0 };

  g_test_summary ("Malformed, non-http(s) and over-long request lines close the connection without a body");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_BYTE);
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    request (&w, lines[i]);
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      TestClient *c = test_client_of (g_ptr_array_index (w.clients, i));

      g_test_message ("line %" G_GSIZE_FORMAT, i);
      g_assert_cmpuint (c->body->len, ==, 0);
      g_assert_cmpint (c->finished_at, >=, 0);
    }
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bad_requests, ==, G_N_ELEMENTS (lines));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->upstream_fetches, ==, 0);
  world_close (&w);
}

/* How each kind of request ends: its access log entry's status and
 * message, and whether the client saw a clean close or a reset. */
static void
test_request_endings (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GError) down = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "it is down");
  g_autoptr(GBytes) b = body_of ("ok");
  /* 30 bytes, the line limit below, and 31. */
  const gchar *at_limit = "http://x.example/0123456789abc";
  const gchar *over_limit = "http://x.example/0123456789abcd";
  g_autofree gchar *at_limit_line = g_strdup_printf ("%s\r\n", at_limit);
  g_autofree gchar *over_limit_line = g_strdup_printf ("%s\r\n", over_limit);
  const LogEntry *e;
  TestClient *c;

  g_test_summary ("A bad request line is answered 400 with a clean close and its reason logged (a line one "
                  "byte over max_line among them, not one at it); an upstream failure resets the client (502); "
                  "a whole body closes cleanly (200)");
  g_assert_cmpuint (strlen (at_limit), ==, 30);
  settings.max_line = 30;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, at_limit, 200, b, 1000, 0, 0);
  braid_fake_fetcher_add_error (w.fetcher, "http://down.example/", down, 1000);

  access_log_clear ();
  c = get (&w, "ftp://x.example/");
  e = access_log_last ();
  g_assert_cmpstr (e->status, ==, "400");
  g_assert_nonnull (strstr (e->message, "only http and https URLs with a host are fetched"));
  g_assert_true (c->finished_at >= 0 && !c->reset);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bad_requests, ==, 1);

  c = get (&w, "http://a b/");
  g_assert_cmpstr (access_log_last ()->status, ==, "400");
  g_assert_nonnull (strstr (access_log_last ()->message, "not a single URL"));
  g_assert_true (c->finished_at >= 0 && !c->reset);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bad_requests, ==, 2);

  c = request (&w, over_limit_line);
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpstr (access_log_last ()->status, ==, "400");
  g_assert_nonnull (strstr (access_log_last ()->message, "request line over 30 bytes"));
  g_assert_true (c->finished_at >= 0 && !c->reset);
  g_assert_cmpuint (c->body->len, ==, 0);

  c = request (&w, at_limit_line);
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpstr (access_log_last ()->status, ==, "200");
  assert_body (c, "ok");
  g_assert_true (c->finished_at >= 0 && !c->reset);

  c = get (&w, "http://down.example/");
  g_assert_cmpstr (access_log_last ()->status, ==, "502");
  g_assert_nonnull (strstr (access_log_last ()->message, "it is down"));
  g_assert_true (c->reset);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bad_requests, ==, 3);
  g_assert_cmpuint (access_log->len, ==, 5);
  world_close (&w);
}

static void
test_request_line_deadline_logged (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *half, *idle;

  g_test_summary ("A request line not whole at the deadline is logged 408 with the deadline in seconds; one "
                  "still unread when the proxy stops, 503; both closed cleanly, once");
  settings.request_timeout_us = 2500 * 1000;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  access_log_clear ();
  half = request (&w, "http://x.exa");
  braid_fake_reactor_advance (w.fake, 2500 * 1000);
  g_assert_cmpuint (access_log->len, ==, 1);
  g_assert_cmpstr (access_log_last ()->status, ==, "408");
  g_assert_nonnull (strstr (access_log_last ()->message, "no whole request line within 2.5 s"));
  g_assert_nonnull (strstr (access_log_last ()->message, " cache=bypass "));
  g_assert_true (half->finished_at >= 0 && !half->reset);

  idle = request (&w, "http://y.exa");
  braid_fake_reactor_advance (w.fake, 1000);
  braid_proxy_close_idle (w.proxy);
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (access_log->len, ==, 2);
  g_assert_cmpstr (access_log_last ()->status, ==, "503");
  g_assert_nonnull (strstr (access_log_last ()->message, "the proxy is stopping"));
  g_assert_true (idle->finished_at >= 0 && !idle->reset);
  braid_fake_reactor_advance (w.fake, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (access_log->len, ==, 2);
  world_close (&w);
}

static void
test_one_connection_limit (void)
{
  World w = { 0 };
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GBytes) b = body_of ("one");
  TestClient *first, *second;

  g_test_summary ("With max_connections 1, a second connection while the first is open is closed at once "
                  "without a body or a log entry; 0 means no limit");
  settings.max_connections = 1;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/", 200, b, G_USEC_PER_SEC, 0, 0);
  access_log_clear ();
  first = request (&w, "http://x.example/\n");
  second = request (&w, "http://x.example/\n");
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpint (second->finished_at, ==, 0);
  g_assert_false (second->reset);
  g_assert_cmpuint (second->body->len, ==, 0);
  g_assert_cmpint (first->finished_at, <, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->rejected_connections, ==, 1);
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  assert_body (first, "one");
  g_assert_cmpuint (access_log->len, ==, 1);
  world_close (&w);

  settings.max_connections = 0;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/", 200, b, G_USEC_PER_SEC, 0, 0);
  first = request (&w, "http://x.example/\n");
  second = request (&w, "http://x.example/\n");
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  assert_body (first, "one");
  assert_body (second, "one");
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->rejected_connections, ==, 0);
  world_close (&w);
}

static void
request_at_splits (const BraidChunking *chunking, gpointer data)
{
  World w = { 0 };
  g_autoptr(GBytes) b = body_of ("split body");
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  TestClient *c;

  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://s.example/p?q=1", 200, b, 1000, 0, 0);
  factory = braid_protocol_factory_new (build_client, w.r, NULL);
  braid_reactor_connect_async (w.r, "tcp:127.0.0.1:8000", factory, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w.fake);
  c = test_client_of (braid_reactor_connect_finish (w.r, result, NULL));
  g_ptr_array_add (w.clients, c->protocol);
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      braid_transport_write_bytes (braid_protocol_get_transport (c->protocol),
                                   g_ptr_array_index (chunking->chunks, i));
      braid_fake_reactor_run_until_idle (w.fake);
    }
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "split body");
  world_close (&w);
}

static void
test_request_splits (void)
{
  const gchar *line = "http://s.example/p?q=1\r\n";

  g_test_summary ("The request line may arrive in any pieces");
  braid_test_for_each_chunking ((const guint8 *) line, strlen (line), 10, request_at_splits, NULL);
}

static void
test_line_trimmed_and_logged (void)
{
  World w = { 0 };
  g_autoptr(GBytes) b = body_of ("trimmed");
  TestClient *c;

  g_test_summary ("Blanks around the URL on the request line are not part of it; the access log gives the "
                  "request's URL, status and how long it took, in simulated time");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://t.example/p", 200, b, 1500 * 1000, 0, 0);
  access_log_clear ();
  c = request (&w, "  http://t.example/p \t\r\n");
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  assert_body (c, "trimmed");
  g_assert_cmpstr (access_log_last ()->url, ==, "http://t.example/p");
  g_assert_cmpstr (access_log_last ()->status, ==, "200");
  g_assert_cmpstr (access_log_last ()->message, ==, "http://t.example/p 200 7 bytes cache=bypass 1500.0 ms");
  world_close (&w);
}

static void
test_schemes (void)
{
  World w = { 0 };
  g_autoptr(GBytes) b = body_of ("secure");
  TestClient *https, *upper, *ftp;

  g_test_summary ("http and https URLs are fetched, the scheme in any case; any other scheme is refused "
                  "with 400 and nothing fetched");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "https://t.example/s", 200, b, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "HTTPS://t.example/u", 200, b, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "ftp://t.example/f", 200, b, 1000, 0, 0);
  access_log_clear ();
  https = request (&w, "https://t.example/s\r\n");
  upper = request (&w, "HTTPS://t.example/u\r\n");
  ftp = request (&w, "ftp://t.example/f\r\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (https, "secure");
  assert_body (upper, "secure");
  g_assert_cmpuint (ftp->body->len, ==, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "ftp://t.example/f"), ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bad_requests, ==, 1);
  world_close (&w);
}

/* ---- safety: the address policy, fragments, userinfo ---- */

/* Requests @url from a new world whose fetcher has @url scripted (an
 * "open port") or not ("closed"), and returns the access log's MESSAGE
 * for it; the client must get no body, at t = 0, with no fetch made. */
static gchar *
refused_message (const gchar *url, gboolean scripted, const gchar *host, const gchar *address)
{
  World w = { 0 };
  g_autoptr(GBytes) secret = body_of ("internal secret");
  g_autofree gchar *line = g_strdup_printf ("%s\n", url);
  gchar *message;
  TestClient *c;

  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  if (host != NULL)
    braid_fake_fetcher_set_host_address (w.fetcher, host, address);
  if (scripted)
    braid_fake_fetcher_add (w.fetcher, url, 200, secret, G_USEC_PER_SEC, 0, 0);
  access_log_clear ();
  c = request (&w, line);
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (c->body->len, ==, 0);
  g_assert_cmpint (c->finished_at, ==, 0);   /* refused before connecting */
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->refused, ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->upstream_errors, ==, 0);
  g_assert_cmpstr (access_log_last ()->status, ==, "403");
  message = g_strdup (access_log_last ()->message);
  world_close (&w);
  return message;
}

static void
test_ssrf_targets_refused (void)
{
  static const struct {
    const gchar *url, *host, *address, *why;
  } targets[] = {
    { "http://127.0.0.1:8080/admin", NULL, NULL, "loopback address (127.0.0.0/8)" },
    { "http://127.1.2.3/", NULL, NULL, "loopback" },
    { "http://[::1]:8080/", NULL, NULL, "loopback address (::1/128)" },
    { "http://[::ffff:127.0.0.1]/", NULL, NULL, "::ffff:127.0.0.1 (127.0.0.1) port 80: loopback" },
    { "http://169.254.169.254/latest/meta-data/", NULL, NULL, "link-local" },
    { "http://10.0.0.1/", NULL, NULL, "private" },
    { "http://172.16.5.4/", NULL, NULL, "private" },
    { "http://192.168.1.1/", NULL, NULL, "private" },
    { "http://[fd00::1]/", NULL, NULL, "private" },
    { "http://[fe80::1]/", NULL, NULL, "link-local" },
    { "http://0.0.0.0:8000/", NULL, NULL, "unspecified" },
    { "http://224.0.0.1/", NULL, NULL, "multicast" },
    { "http://internal.example/", "internal.example", "192.168.7.7", "internal.example (192.168.7.7) port 80: private" },
    { "http://rebind.example/", "rebind.example", "::ffff:10.0.0.1", "rebind.example (10.0.0.1)" },
    { "http://public.example:25/", NULL, NULL, "192.0.2.1) port 25: the port is not allowed" },
  };

  g_test_summary ("Loopback, link-local, private, unspecified, multicast and IPv4-mapped targets, and names that "
                  "resolve to them, are refused before connecting with the same error whether the port is open "
                  "or closed: no body, no fetch, 403 in the access log");
  for (gsize i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      g_autofree gchar *open = refused_message (targets[i].url, TRUE, targets[i].host, targets[i].address);
      g_autofree gchar *closed = refused_message (targets[i].url, FALSE, targets[i].host, targets[i].address);

      g_test_message ("%s", open);
      g_assert_cmpstr (open, ==, closed);
      if (strstr (open, targets[i].why) == NULL)
        g_error ("expected “%s” in the access log but saw “%s”", targets[i].why, open);
    }
}

static void
test_ssrf_redirect_refused (void)
{
  World w = { 0 };
  g_autoptr(GBytes) secret = body_of ("internal secret");
  g_autoptr(GBytes) page = body_of ("public page");
  TestClient *to_loopback, *to_public;

  g_test_summary ("A redirect is a new connection, checked in turn: a public page that redirects to 127.0.0.1 is "
                  "refused, one that redirects to another public page is followed");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add_redirect (w.fetcher, "http://public.example/go", "http://127.0.0.1/admin", 100000);
  braid_fake_fetcher_add (w.fetcher, "http://127.0.0.1/admin", 200, secret, 0, 0, 0);
  braid_fake_fetcher_add_redirect (w.fetcher, "http://public.example/moved", "http://other.example/page", 100000);
  braid_fake_fetcher_add (w.fetcher, "http://other.example/page", 200, page, 100000, 0, 0);
  access_log_clear ();
  to_loopback = request (&w, "http://public.example/go\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (to_loopback->body->len, ==, 0);
  g_assert_cmpint (to_loopback->finished_at, ==, 100000);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://public.example/go"), ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://127.0.0.1/admin"), ==, 0);
  g_assert_cmpstr (access_log_last ()->status, ==, "403");
  g_assert_nonnull (strstr (access_log_last ()->message, "refused to connect to 127.0.0.1 port 80: loopback"));

  to_public = request (&w, "http://public.example/moved\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (to_public, "public page");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://other.example/page"), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->refused, ==, 1);
  world_close (&w);
}

static void
test_ssrf_allowed (void)
{
  World w = { 0 };
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
  g_autoptr(GBytes) body = body_of ("internal page");
  TestClient *allowed, *other;

  g_test_summary ("An allow rule lets an internal address through, and only that one");
  g_assert_true (braid_address_policy_allow (policy, "127.0.0.1", NULL));
  g_assert_true (braid_address_policy_allow (policy, "intranet.example", NULL));
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_set_address_policy (w.fetcher, policy);
  braid_fake_fetcher_set_host_address (w.fetcher, "intranet.example", "10.1.1.1");
  braid_fake_fetcher_add (w.fetcher, "http://127.0.0.1:8080/", 200, body, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://intranet.example/", 200, body, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://127.0.0.2:8080/", 200, body, 1000, 0, 0);
  allowed = request (&w, "http://127.0.0.1:8080/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (allowed, "internal page");
  allowed = request (&w, "http://intranet.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (allowed, "internal page");
  other = request (&w, "http://127.0.0.2:8080/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (other->body->len, ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->refused, ==, 1);
  world_close (&w);
}

static void
test_fragment_stripped (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) body = body_of ("the page");
  TestClient *c;

  g_test_summary ("A URL's fragment is dropped before fetching and keying the cache: #a and #b share one flight, "
                  "and #c is a cache hit");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  g_clear_object (&w.proxy);
  w.proxy = braid_proxy_new (w.r, BRAID_FETCHER (w.fetcher), BRAID_CACHE (cache), NULL);
  braid_listener_stop (w.listener);
  g_clear_object (&w.listener);
  {
    g_autoptr(BraidProtocolFactory) factory = braid_proxy_create_factory (w.proxy);

    w.listener = braid_reactor_listen (w.r, "tcp:8000", factory, NULL);
  }
  braid_fake_fetcher_add (w.fetcher, "http://x.example/page", 200, body, 100000, 0, 0);
  access_log_clear ();
  request (&w, "http://x.example/page#a\n");
  request (&w, "http://x.example/page#b\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  for (guint i = 0; i < 2; i++)
    assert_body (test_client_of (g_ptr_array_index (w.clients, i)), "the page");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://x.example/page"), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->shared, ==, 1);
  c = request (&w, "http://x.example/page#c\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_body (c, "the page");
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://x.example/page"), ==, 1);
  g_assert_cmpstr (access_log_last ()->url, ==, "http://x.example/page");
  world_close (&w);
}

static void
test_userinfo_redacted (void)
{
  static const struct {
    const gchar *url, *logged;
  } urls[] = {
    { "http://user:secret@x.example/a", "http://***@x.example/a" },
    { "https://user@x.example:8443/a?b=c@d", "https://***@x.example:8443/a?b=c@d" },
    { "http://a:b@c@x.example#f@g", "http://***@x.example#f@g" },
    { "http://x.example/path@not-userinfo", "http://x.example/path@not-userinfo" },
    { "http://x.example", "http://x.example" },
    { "ftp://user:pw@x.example/", "ftp://***@x.example/" },
    { "user:pw@x.example/a", "***@x.example/a" },
    { "not a url", "not a url" },
    { "-", "-" },
  };
  World w = { 0 };
  g_autoptr(GBytes) body = body_of ("private page");
  TestClient *c;

  g_test_summary ("The userinfo (user:password@) of a URL never reaches the access log, valid URL or not; the "
                  "fetch itself keeps it");
  for (gsize i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autofree gchar *logged = braid_proxy_access_log_redact_url (urls[i].url);

      g_assert_cmpstr (logged, ==, urls[i].logged);
    }
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://user:secret@x.example/a", 200, body, 1000, 0, 0);
  access_log_clear ();
  c = request (&w, "http://user:secret@x.example/a#frag\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "private page");
  g_assert_cmpstr (access_log_last ()->url, ==, "http://***@x.example/a");
  g_assert_null (strstr (access_log_last ()->message, "secret"));
  c = request (&w, "ftp://user:secret@x.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpstr (access_log_last ()->status, ==, "400");
  g_assert_null (strstr (access_log_last ()->message, "secret"));
  world_close (&w);
}

/* ---- the cache policy (cache-policy.c) and signed entries ---- */

/* Replaces the world's proxy by one with @cache and @settings. */
static void
world_use_cache (World *w, BraidCache *cache, const BraidProxySettings *settings)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;

  braid_listener_stop (w->listener);
  g_clear_object (&w->listener);
  g_clear_object (&w->proxy);
  w->proxy = braid_proxy_new (w->r, BRAID_FETCHER (w->fetcher), cache, settings);
  factory = braid_proxy_create_factory (w->proxy);
  w->listener = braid_reactor_listen (w->r, "tcp:8000", factory, NULL);
  g_assert_nonnull (w->listener);
}

static void
test_policy_not_stored (void)
{
  const struct {
    const gchar *url;
    const gchar *headers[6];  /* name, value, … */
  } cases[] = {
    { "http://x.example/no-store", { "Cache-Control", "no-store, private", "Set-Cookie", "id=1", NULL } },
    { "http://x.example/private", { "Cache-Control", "private, max-age=60", NULL } },
    { "http://x.example/cookie", { "Set-Cookie", "id=1", "Cache-Control", "public, max-age=60", NULL } },
    { "http://x.example/vary", { "Vary", "Accept-Encoding", NULL } },
    { "http://x.example/vary-star", { "Vary", "*", NULL } },
    { "http://x.example/no-cache", { "Cache-Control", "no-cache", NULL } },
    { "http://x.example/pragma", { "Pragma", "no-cache", NULL } },
  };
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;

  g_test_summary ("A no-store, private, Set-Cookie, Vary or no-cache response is not cached: two clients one "
                  "after the other cause two fetches and see their own answers");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) first = body_of ("for the first client");
      g_autoptr(GBytes) second = body_of ("for the second client");
      TestClient *c;

      g_test_message ("%s", cases[i].url);
      braid_fake_fetcher_add (w.fetcher, cases[i].url, 200, first, 1000, 0, 0);
      for (guint j = 0; cases[i].headers[j] != NULL; j += 2)
        braid_fake_fetcher_add_header (w.fetcher, cases[i].url, cases[i].headers[j], cases[i].headers[j + 1]);
      c = get (&w, cases[i].url);
      assert_body (c, "for the first client");
      braid_fake_fetcher_add (w.fetcher, cases[i].url, 200, second, 1000, 0, 0);
      for (guint j = 0; cases[i].headers[j] != NULL; j += 2)
        braid_fake_fetcher_add_header (w.fetcher, cases[i].url, cases[i].headers[j], cases[i].headers[j + 1]);
      c = get (&w, cases[i].url);
      assert_body (c, "for the second client");
      g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, cases[i].url), ==, 1);  /* each script once */
    }
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->upstream_fetches, ==, 2 * G_N_ELEMENTS (cases));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->not_stored, ==, 2 * G_N_ELEMENTS (cases));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->stored, ==, 0);
  world_close (&w);
}

static void
test_stored_counted (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) small = body_of ("fits");
  g_autoptr(GBytes) big = g_bytes_new_take (g_strnfill (100, 'b'), 100);
  TestClient *c;

  g_test_summary ("stored counts the bodies the cache took; a body over its item size is not counted");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64);
  world_use_cache (&w, BRAID_CACHE (cache), NULL);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/small", 200, small, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/big", 200, big, 1000, 0, 0);
  c = get (&w, "http://x.example/small");
  assert_body (c, "fits");
  c = get (&w, "http://x.example/big");
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->stored, ==, 1);
  world_close (&w);
}

/* @url (answering with header @name: @value) is cached at t, a hit until
 * @fresh_s, and fetched again after. */
static void
check_lifetime (gint64 ttl_s, const gchar *name, const gchar *value, gint64 fresh_s)
{
  const gchar *url = "http://x.example/fresh";
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) b = body_of ("fresh body");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;
  gint64 stored_at;

  g_test_message ("--ttl %" G_GINT64_FORMAT ", %s: %s: fresh for %" G_GINT64_FORMAT " s", ttl_s, name, value,
                  fresh_s);
  settings.ttl_s = ttl_s;
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), &settings);
  braid_fake_fetcher_add (w.fetcher, url, 200, b, 0, 0, 0);
  braid_fake_fetcher_add_header (w.fetcher, url, name, value);
  c = request (&w, "http://x.example/fresh\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_body (c, "fresh body");
  stored_at = braid_reactor_now (w.r);
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 1);

  /* Just before it expires: a hit. */
  braid_fake_reactor_advance (w.fake, stored_at + fresh_s * G_USEC_PER_SEC - 1000 - braid_reactor_now (w.r));
  c = request (&w, "http://x.example/fresh\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_body (c, "fresh body");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 1);

  /* Just after: fetched again. */
  braid_fake_reactor_advance (w.fake, 2000);
  c = request (&w, "http://x.example/fresh\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_body (c, "fresh body");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, 2);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->misses, ==, 2);
  world_close (&w);
}

static void
test_policy_max_age (void)
{
  g_test_summary ("max-age=2 under --ttl 300 expires after 2 simulated seconds");
  check_lifetime (300, "Cache-Control", "max-age=2", 2);
}

static void
test_policy_s_maxage (void)
{
  g_test_summary ("s-maxage beats max-age, whichever is shorter");
  check_lifetime (300, "Cache-Control", "max-age=100, s-maxage=3", 3);
  check_lifetime (300, "Cache-Control", "s-maxage=7, max-age=2", 7);
}

static void
test_policy_ttl_ceiling (void)
{
  g_test_summary ("--ttl caps a longer max-age, and is the lifetime of a response that states none");
  check_lifetime (10, "Cache-Control", "max-age=3600", 10);
  check_lifetime (10, "X-Other", "1", 10);
}

static void
test_mac_shared_cache (void)
{
  const gchar *url = "http://x.example/signed";
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) b = body_of ("signed body");
  g_autoptr(GBytes) planted = body_of ("planted body");
  g_autoptr(GBytes) secret = g_bytes_new_static ("the proxies' shared secret", 26);
  g_autoptr(GBytes) other_secret = g_bytes_new_static ("somebody else's secret....", 26);
  g_autofree gchar *key = braid_cache_key_for_url (url);
  BraidProxySettings signing = BRAID_PROXY_SETTINGS_INIT;
  BraidProxySettings other = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(BraidProxy) same = NULL;
  g_autoptr(BraidProxy) different = NULL;
  g_autoptr(BraidProtocolFactory) same_factory = NULL;
  g_autoptr(BraidProtocolFactory) different_factory = NULL;
  g_autoptr(BraidListener) same_listener = NULL;
  g_autoptr(BraidListener) different_listener = NULL;
  TestClient *c;

  g_test_summary ("With a cache secret, entries one proxy stores are hits for another with the same secret, "
                  "misses (counted) for one with another secret, and an entry planted without a MAC is refused");
  signing.cache_secret = secret;
  other.cache_secret = other_secret;
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), &signing);
  same = braid_proxy_new (w.r, BRAID_FETCHER (w.fetcher), BRAID_CACHE (cache), &signing);
  different = braid_proxy_new (w.r, BRAID_FETCHER (w.fetcher), BRAID_CACHE (cache), &other);
  same_factory = braid_proxy_create_factory (same);
  different_factory = braid_proxy_create_factory (different);
  same_listener = braid_reactor_listen (w.r, "tcp:8001", same_factory, NULL);
  different_listener = braid_reactor_listen (w.r, "tcp:8002", different_factory, NULL);
  braid_fake_fetcher_add (w.fetcher, url, 200, b, 1000, 0, 0);

  /* The first proxy stores a signed entry: MAC, then the body. */
  c = get (&w, url);
  assert_body (c, "signed body");
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 1);
  g_assert_cmpuint (braid_memory_cache_get_size (cache), >=, BRAID_CACHE_MAC_SIZE + strlen ("signed body"));

  /* Another proxy with the same secret: a hit, the body without the MAC. */
  c = request_to (&w, "tcp:127.0.0.1:8001", "http://x.example/signed\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "signed body");
  g_assert_cmpuint (braid_proxy_get_stats (same)->hits, ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, 1);

  /* One with another secret: a miss, counted, and a fetch. */
  c = request_to (&w, "tcp:127.0.0.1:8002", "http://x.example/signed\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "signed body");
  g_assert_cmpuint (braid_proxy_get_stats (different)->hits, ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (different)->misses, ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (different)->mac_rejects, ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, 2);

  /* Somebody writes to the cache directly, without a MAC: refused. */
  braid_cache_store_async (BRAID_CACHE (cache), key, planted, 0, NULL, NULL, NULL);
  braid_fake_reactor_run_until_idle (w.fake);
  c = get (&w, url);
  assert_body (c, "signed body");
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->mac_rejects, ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, url), ==, 3);
  /* … and replaced by a signed entry, a hit again. */
  c = request_to (&w, "tcp:127.0.0.1:8001", "http://x.example/signed\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (c, "signed body");
  g_assert_cmpuint (braid_proxy_get_stats (same)->hits, ==, 2);

  braid_listener_stop (same_listener);
  braid_listener_stop (different_listener);
  world_close (&w);
}

static void
test_client_leaves_counted (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) b = body_of ("0123456789");
  TestClient *leaves, *stays;

  g_test_summary ("A client that resets its connection before its body is whole is counted once as detached and "
                  "logged with the upstream's status, and the flight goes on for the other client and the cache");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), NULL);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/", 200, b, 1000, 2, 1000);
  leaves = request (&w, "http://x.example/\n");
  stays = request (&w, "http://x.example/\n");
  braid_fake_reactor_advance (w.fake, 2000);
  g_assert_cmpuint (leaves->body->len, >, 0);
  access_log_clear ();
  braid_transport_abort_connection (braid_protocol_get_transport (leaves->protocol));
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->clients_detached, ==, 1);
  g_assert_cmpuint (access_log->len, ==, 1);
  g_assert_cmpstr (access_log_last ()->status, ==, "200");   /* logged with the upstream's status */
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (stays, "0123456789");
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->clients_detached, ==, 1);
  g_assert_cmpuint (braid_memory_cache_get_n_items (cache), ==, 1);
  world_close (&w);
}

/* The access log's MESSAGE of the request for @url, the only one. */
static const gchar *
logged_for (const gchar *url)
{
  const gchar *found = NULL;

  for (guint i = 0; i < access_log->len; i++)
    {
      const LogEntry *e = &g_array_index (access_log, LogEntry, i);

      if (g_strcmp0 (e->url, url) == 0)
        {
          g_assert_null (found);
          found = e->message;
        }
    }
  g_assert_nonnull (found);
  return found;
}

static void
test_cache_outcomes_logged (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  g_autoptr(GBytes) b = body_of ("body");
  TestClient *first, *joiner, *refused;

  g_test_summary ("Each request's log entry names how the cache served it: miss (it started the fetch), "
                  "shared (it joined one), hit; a request refused over max_flights is logged 503 with its "
                  "outcome, and reset");
  settings.max_flights = 1;
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), &settings);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/a", 200, b, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/b", 200, b, 1000, 0, 0);
  access_log_clear ();
  first = request (&w, "http://x.example/a\n");
  joiner = request (&w, "http://x.example/a\n");
  refused = request (&w, "http://x.example/b\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  assert_body (first, "body");
  assert_body (joiner, "body");
  g_assert_true (refused->reset);
  g_assert_cmpuint (refused->body->len, ==, 0);
  g_assert_cmpuint (access_log->len, ==, 3);
  g_assert_nonnull (strstr (logged_for ("http://x.example/b"), " 503 0 bytes cache=miss "));
  access_log_clear ();
  get (&w, "http://x.example/a");
  g_assert_nonnull (strstr (logged_for ("http://x.example/a"), " 200 4 bytes cache=hit "));
  world_close (&w);

  /* The first two, from the log of their own world. */
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  world_use_cache (&w, BRAID_CACHE (cache), &settings);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/c", 200, b, 1000, 0, 0);
  access_log_clear ();
  first = request (&w, "http://x.example/c\n");
  braid_fake_reactor_advance (w.fake, 500);
  joiner = request (&w, "http://x.example/c\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_cmpuint (access_log->len, ==, 2);
  g_assert_nonnull (strstr (g_array_index (access_log, LogEntry, 0).message, " 200 4 bytes cache=miss "));
  g_assert_nonnull (strstr (g_array_index (access_log, LogEntry, 1).message, " 200 4 bytes cache=shared "));
  world_close (&w);
}

static void
test_stats_line (void)
{
  World w = { 0 };
  g_autoptr(GBytes) b = body_of ("a body");
  g_autofree gchar *text = NULL;
  TestClient *c;

  g_test_summary ("A 'stats' line is answered with the counters, STAT name value lines and END, while running");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/a", 200, b, 10 * G_USEC_PER_SEC, 0, 0);
  request (&w, "http://x.example/a\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  c = request (&w, "stats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  text = g_strndup ((const gchar *) c->body->data, c->body->len);
  g_test_message ("%s", text);
  g_assert_true (g_str_has_prefix (text, "STAT requests 2\r\n"));
  g_assert_true (g_str_has_suffix (text, "END\r\n"));
  g_assert_nonnull (strstr (text, "\r\nSTAT flights 1\r\n"));
  g_assert_nonnull (strstr (text, "\r\nSTAT in_flight 2\r\n"));
  g_assert_nonnull (strstr (text, "\r\nSTAT bypass 1\r\n"));
  g_assert_nonnull (strstr (text, "\r\nSTAT not_stored 0\r\n"));
  g_assert_nonnull (strstr (text, "\r\nSTAT mac_rejects 0\r\n"));
  g_assert_cmpint (c->finished_at, >=, 0);
  braid_fake_reactor_advance (w.fake, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->flights, ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bytes, ==, strlen ("a body") + c->body->len);
  world_close (&w);
}

/* ---- the proxy object: settings re-applied (a reload), its factory ---- */

static void
test_ttl_reapplied (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) b = body_of ("a body");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  TestClient *c;

  g_test_summary ("braid_proxy_set_ttl() (a reload) sets the lifetime of the bodies cached after it, "
                  "each time it is called");
  settings.ttl_s = 100;
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), &settings);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/a", 200, b, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/b", 200, b, 1000, 0, 0);

  braid_proxy_set_ttl (w.proxy, 5);
  g_assert_cmpint (braid_proxy_get_settings (w.proxy)->ttl_s, ==, 5);
  c = get (&w, "http://x.example/a");  /* cached at 0.001 s until 5.001 s */
  assert_body (c, "a body");
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  c = get (&w, "http://x.example/a");  /* at 3 s: a hit */
  assert_body (c, "a body");
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 1);
  braid_fake_reactor_advance (w.fake, 2 * G_USEC_PER_SEC);
  c = get (&w, "http://x.example/a");  /* at 6 s: expired, fetched again */
  assert_body (c, "a body");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://x.example/a"), ==, 2);

  braid_proxy_set_ttl (w.proxy, 50);
  g_assert_cmpint (braid_proxy_get_settings (w.proxy)->ttl_s, ==, 50);
  c = get (&w, "http://x.example/b");  /* cached at 7.001 s until 57.001 s */
  braid_fake_reactor_advance (w.fake, 20 * G_USEC_PER_SEC);
  c = get (&w, "http://x.example/b");  /* at 28 s: a hit */
  assert_body (c, "a body");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (w.fetcher, "http://x.example/b"), ==, 1);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->hits, ==, 2);
  world_close (&w);
}

/* A request to a cache that never answers: when its answer started
 * (after the time box), the fetch taking @fetch_us. */
static gint64
answered_after_hung_cache (World *w, const gchar *url, gint64 fetch_us)
{
  gint64 start = braid_reactor_now (w->r);
  g_autofree gchar *line = g_strdup_printf ("%s\n", url);
  g_autoptr(GBytes) b = body_of ("still served");
  TestClient *c;

  braid_fake_fetcher_add (w->fetcher, url, 200, b, fetch_us, 0, 0);
  c = request (w, line);
  braid_fake_reactor_advance (w->fake, G_USEC_PER_SEC);
  assert_body (c, "still served");
  return c->finished_at - start - fetch_us;
}

static void
test_cache_timeout_reapplied (void)
{
  World w = { 0 };
  g_autoptr(TestBadCache) cache = g_object_new (TEST_TYPE_BAD_CACHE, NULL);
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  gint64 waited;

  g_test_summary ("braid_proxy_set_cache_timeout() (a reload) sets how long the next lookups may take, "
                  "each time it is called");
  cache->hang = TRUE;
  settings.cache_timeout_us = 50000;
  world_open (&w, BRAID_CACHE (cache), &settings, BRAID_FAKE_DELIVERY_WHOLE);

  braid_proxy_set_cache_timeout (w.proxy, 300000);
  g_assert_cmpint (braid_proxy_get_settings (w.proxy)->cache_timeout_us, ==, 300000);
  waited = answered_after_hung_cache (&w, "http://z.example/1", 200000);
  g_assert_cmpint (waited, >=, 300000);
  g_assert_cmpint (waited, <=, 300000 + 1000);

  braid_proxy_set_cache_timeout (w.proxy, 20000);
  waited = answered_after_hung_cache (&w, "http://z.example/2", 200000);
  g_assert_cmpint (waited, >=, 20000);
  g_assert_cmpint (waited, <=, 20000 + 1000);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->bypass, ==, 2);
  g_clear_object (&cache);
  world_close (&w);
}

static void
test_factory_ignores_address (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidFakeFetcher) fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  g_autoptr(BraidProxy) proxy = braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher), NULL, NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_proxy_create_factory (proxy);

  g_test_summary ("The proxy's factory never asks for the client's address (a request never reads it)");
  g_assert_true (braid_protocol_factory_get_ignores_address (factory));
}

/* ---- every outcome moves its counters by exactly one ---- */

/* The counters as name → value, read from the stats reply's text. */
static GHashTable *
stats_table (BraidProxy *proxy)
{
  g_autofree gchar *text = braid_proxy_stats_format (braid_proxy_get_stats (proxy));
  g_auto(GStrv) lines = g_strsplit (text, "\r\n", -1);
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit (lines[i], " ", 3);

      if (g_strv_length (words) == 3 && g_str_equal (words[0], "STAT"))
        g_hash_table_insert (table, g_strdup (words[1]),
                             GSIZE_TO_POINTER ((gsize) g_ascii_strtoull (words[2], NULL, 10)));
    }
  return table;
}

/* Every counter of @after is its value in @before, plus one for those
 * named in @moved (a space-separated list); "bytes" is not compared. */
static void
assert_moved_by_one (GHashTable *before, GHashTable *after, const gchar *moved)
{
  g_auto(GStrv) names = g_strsplit (moved, " ", -1);
  GHashTableIter iter;
  gpointer name, value;

  g_assert_cmpuint (g_hash_table_size (after), ==, g_hash_table_size (before));
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &name, &value))
    {
      gsize expected = GPOINTER_TO_SIZE (g_hash_table_lookup (before, name));

      if (g_str_equal (name, "bytes"))
        continue;
      if (g_strv_contains ((const gchar *const *) names, name))
        expected++;
      if (GPOINTER_TO_SIZE (value) != expected)
        g_error ("%s: %" G_GSIZE_FORMAT ", expected %" G_GSIZE_FORMAT " (moved: %s)", (const gchar *) name,
                 GPOINTER_TO_SIZE (value), expected, moved);
    }
}

/* Sends @line, lets it finish, and checks that exactly the counters in
 * @moved went up, by one each. */
static void
check_counted (World *w, const gchar *line, const gchar *moved)
{
  g_autoptr(GHashTable) before = stats_table (w->proxy);
  g_autoptr(GHashTable) after = NULL;
  TestClient *c;

  g_test_message ("%s → %s", line, moved);
  c = request (w, line);
  braid_fake_reactor_advance (w->fake, G_USEC_PER_SEC);
  g_assert_cmpint (c->finished_at, >=, 0);
  after = stats_table (w->proxy);
  assert_moved_by_one (before, after, moved);
}

static void
test_outcomes_counted_once (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(GBytes) b = body_of ("a body");
  g_autoptr(GError) down = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "refused");

  g_test_summary ("Each outcome of a request moves its own counters by exactly one and no other: a miss "
                  "stored, a hit, a body the policy keeps out, a 404 (never cached, not counted as kept out), "
                  "an upstream error, a bad request; the gauges are back where they were");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w.r, 1024 * 1024, 64 * 1024);
  world_use_cache (&w, BRAID_CACHE (cache), NULL);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/ok", 200, b, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/private", 200, b, 1000, 0, 0);
  braid_fake_fetcher_add_header (w.fetcher, "http://x.example/private", "Cache-Control", "private");
  braid_fake_fetcher_add (w.fetcher, "http://x.example/gone", 404, b, 1000, 0, 0);
  /* the edges of 2xx: only a 2xx kept out by its header fields counts as not stored */
  braid_fake_fetcher_add (w.fetcher, "http://x.example/299", 299, b, 1000, 0, 0);
  braid_fake_fetcher_add_header (w.fetcher, "http://x.example/299", "Cache-Control", "private");
  braid_fake_fetcher_add (w.fetcher, "http://x.example/300", 300, b, 1000, 0, 0);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/199", 199, b, 1000, 0, 0);
  braid_fake_fetcher_add_error (w.fetcher, "http://x.example/down", down, 1000);

  check_counted (&w, "http://x.example/ok\n", "requests misses upstream_fetches stored");
  check_counted (&w, "http://x.example/ok\n", "requests hits");
  check_counted (&w, "http://x.example/private\n", "requests misses upstream_fetches not_stored");
  check_counted (&w, "http://x.example/gone\n", "requests misses upstream_fetches");
  check_counted (&w, "http://x.example/299\n", "requests misses upstream_fetches not_stored");
  check_counted (&w, "http://x.example/300\n", "requests misses upstream_fetches");
  check_counted (&w, "http://x.example/199\n", "requests misses upstream_fetches");
  check_counted (&w, "http://x.example/down\n", "requests misses upstream_fetches upstream_errors");
  check_counted (&w, "not a url\n", "requests bad_requests");
  world_close (&w);
}

/* ---- the proxy object: limits at their edges, what it releases ---- */

/* A proxy with a memory cache of items up to @max_item bytes, @settings. */
static BraidMemoryCache *
world_with_cache (World *w, gsize max_item, const BraidProxySettings *settings)
{
  BraidMemoryCache *cache;

  world_open (w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  cache = braid_memory_cache_new (w->r, 1024 * 1024, max_item);
  world_use_cache (w, BRAID_CACHE (cache), settings);
  return cache;
}

/* Whether a body of @size bytes answered for @url is cached. */
static gboolean
cached_at_size (World *w, BraidMemoryCache *cache, const gchar *url, gsize size)
{
  g_autoptr(GBytes) b = g_bytes_new_take (g_strnfill (size, 'b'), size);
  guint before = braid_memory_cache_get_n_items (cache);
  TestClient *c;

  braid_fake_fetcher_add (w->fetcher, url, 200, b, 1000, 0, 0);
  c = get (w, url);
  g_assert_cmpuint (c->body->len, ==, size);
  return braid_memory_cache_get_n_items (cache) > before;
}

static void
test_store_at_item_size (void)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) plain = NULL;
  g_autoptr(BraidMemoryCache) signing = NULL;
  g_autoptr(GBytes) secret = body_of ("s");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;

  g_test_summary ("A body of exactly the cache's item size is stored, one byte more is not; with a secret "
                  "the MAC counts: the item size less the MAC is stored, one byte more is not");
  plain = world_with_cache (&w, 64, NULL);
  g_assert_true (cached_at_size (&w, plain, "http://x.example/64", 64));
  g_assert_false (cached_at_size (&w, plain, "http://x.example/65", 65));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->stored, ==, 1);
  world_close (&w);

  settings.cache_secret = secret;
  signing = world_with_cache (&w, 64, &settings);
  g_assert_true (cached_at_size (&w, signing, "http://x.example/32", 64 - BRAID_CACHE_MAC_SIZE));
  g_assert_false (cached_at_size (&w, signing, "http://x.example/33", 64 - BRAID_CACHE_MAC_SIZE + 1));
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->stored, ==, 1);
  world_close (&w);
}

/* The bytes a memory cache holds after a proxy with @secret cached a
 * 10-byte body. */
static gsize
cached_size_with_secret (GBytes *secret)
{
  World w = { 0 };
  g_autoptr(BraidMemoryCache) cache = NULL;
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  gsize size;

  settings.cache_secret = secret;
  cache = world_with_cache (&w, 64 * 1024, &settings);
  g_assert_true (cached_at_size (&w, cache, "http://x.example/ten", 10));
  size = braid_memory_cache_get_size (cache);
  world_close (&w);
  return size;
}

static void
test_secret_sizes (void)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) one = body_of ("k");
  gsize unsigned_size = cached_size_with_secret (NULL);

  g_test_summary ("A one-byte cache secret signs entries (the MAC is stored with them); an empty one is no "
                  "secret: entries are stored unsigned");
  g_assert_cmpuint (cached_size_with_secret (empty), ==, unsigned_size);
  g_assert_cmpuint (cached_size_with_secret (one), ==, unsigned_size + BRAID_CACHE_MAC_SIZE);
}

static void
test_smallest_settings (void)
{
  World w = { 0 };
  g_autoptr(GBytes) b = body_of ("slow");
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  BraidCriticalCounter counter;
  TestClient *c;

  g_test_summary ("The smallest settings are accepted: max_line, read_chunk and max_flights of 1, and no "
                  "max_buffered limit (0); a fetch timeout of 1 us is a deadline, not 'none'");
  settings.max_line = 1;
  settings.read_chunk = 1;
  settings.max_flights = 1;
  settings.max_buffered = 0;
  braid_test_count_criticals_begin (&counter);
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  g_assert_nonnull (w.proxy);
  braid_test_count_criticals_end (&counter);
  g_assert_cmpuint (braid_proxy_get_settings (w.proxy)->max_line, ==, 1);
  world_close (&w);

  settings = (BraidProxySettings) BRAID_PROXY_SETTINGS_INIT;
  settings.max_buffered = 0;
  settings.max_flights = 1;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/", 200, b, 1000, 0, 0);
  c = get (&w, "http://x.example/");
  assert_body (c, "slow");
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->over_capacity, ==, 0);
  world_close (&w);

  settings = (BraidProxySettings) BRAID_PROXY_SETTINGS_INIT;
  settings.fetch_timeout_us = 1;
  world_open (&w, NULL, &settings, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/", 200, b, 1000, 0, 0);
  c = get (&w, "http://x.example/");
  g_assert_cmpuint (c->body->len, ==, 0);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->fetch_timeouts, ==, 1);
  world_close (&w);
}

static void
test_busy_with_one_request (void)
{
  World w = { 0 };
  g_autoptr(GBytes) b = body_of ("body");

  g_test_summary ("The proxy is busy while one request is in flight, and not before or after");
  world_open (&w, NULL, NULL, BRAID_FAKE_DELIVERY_WHOLE);
  braid_fake_fetcher_add (w.fetcher, "http://x.example/", 200, b, G_USEC_PER_SEC, 0, 0);
  g_assert_false (braid_proxy_is_busy (w.proxy));
  request (&w, "http://x.example/\n");
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC / 2);
  g_assert_cmpuint (braid_proxy_get_stats (w.proxy)->in_flight, ==, 1);
  g_assert_true (braid_proxy_is_busy (w.proxy));
  braid_fake_reactor_advance (w.fake, G_USEC_PER_SEC);
  g_assert_false (braid_proxy_is_busy (w.proxy));
  world_close (&w);
}

static void
note_released (gpointer data)
{
  gboolean *released = data;

  *released = TRUE;
}

static void
test_finalize_releases (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidFakeFetcher *fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  BraidMemoryCache *cache = braid_memory_cache_new (BRAID_REACTOR (fake), 1024, 1024);
  BraidProxy *proxy = braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher), BRAID_CACHE (cache), NULL);
  gboolean released = FALSE;

  g_test_summary ("The proxy's last unref releases its fetcher and its cache, and finalizes it as a GObject "
                  "(data attached to it is released)");
  g_object_add_weak_pointer (G_OBJECT (fetcher), (gpointer *) &fetcher);
  g_object_add_weak_pointer (G_OBJECT (cache), (gpointer *) &cache);
  g_object_unref (fetcher);
  g_object_unref (cache);
  g_assert_nonnull (fetcher);
  g_assert_nonnull (cache);
  g_object_set_data_full (G_OBJECT (proxy), "probe", &released, note_released);
  g_object_unref (proxy);
  g_assert_null (fetcher);
  g_assert_null (cache);
  g_assert_true (released);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  access_log = g_array_new (FALSE, TRUE, sizeof (LogEntry));
  g_array_set_clear_func (access_log, (GDestroyNotify) log_entry_clear);
  g_log_set_writer_func (capture_access_log, NULL, NULL);
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    {
      g_autofree gchar *p = g_strdup_printf ("/proxy/tutorial-experiment/%s", braid_fake_delivery_to_string (d));

      g_test_add_data_func (p, GINT_TO_POINTER (d), test_tutorial_experiment);
    }
  g_test_add_func ("/proxy/thousand-slow-fetches", test_thousand_slow_fetches);
  g_test_add_func ("/proxy/cache/hit-miss-expiry", test_cache_hit_miss_expiry);
  g_test_add_func ("/proxy/cache/single-flight", test_single_flight);
  g_test_add_func ("/proxy/cache/failure", test_cache_failure);
  g_test_add_func ("/proxy/cache/timeout", test_cache_timeout);
  g_test_add_func ("/proxy/cache/timeout-deaf-cache", test_cache_timeout_deaf);
  g_test_add_func ("/proxy/upstream-error", test_upstream_error);
  g_test_add_func ("/proxy/oversize-body", test_oversize_body);
  g_test_add_func ("/proxy/slow-client", test_slow_client);
  g_test_add_func ("/proxy/request/write-deadline", test_write_deadline);
  g_test_add_func ("/proxy/request/write-deadline-off", test_write_deadline_off);
  g_test_add_func ("/proxy/request/client-leaves-counted", test_client_leaves_counted);
  g_test_add_func ("/proxy/bad-requests", test_bad_requests);
  g_test_add_func ("/proxy/cache/no-reading-during-lookup", test_no_reading_during_lookup);
  g_test_add_func ("/proxy/request-splits", test_request_splits);
  g_test_add_func ("/proxy/line-trimmed-and-logged", test_line_trimmed_and_logged);
  g_test_add_func ("/proxy/schemes", test_schemes);
  g_test_add_func ("/proxy/request/endings", test_request_endings);
  g_test_add_func ("/proxy/request/no-timer-after-the-end", test_no_timer_after_the_end);
  g_test_add_func ("/proxy/request/line-deadline-logged", test_request_line_deadline_logged);
  g_test_add_func ("/proxy/request/one-connection", test_one_connection_limit);
  g_test_add_func ("/proxy/cache/lookup-cancelled-when-client-leaves", test_lookup_cancelled_when_client_leaves);
  g_test_add_func ("/proxy/cache/lookup-box-ends-with-answer", test_lookup_box_ends_with_answer);
  g_test_add_func ("/proxy/safety/ssrf-targets-refused", test_ssrf_targets_refused);
  g_test_add_func ("/proxy/safety/ssrf-redirect-refused", test_ssrf_redirect_refused);
  g_test_add_func ("/proxy/safety/allow-rule", test_ssrf_allowed);
  g_test_add_func ("/proxy/safety/fragment-stripped", test_fragment_stripped);
  g_test_add_func ("/proxy/safety/userinfo-redacted", test_userinfo_redacted);
  g_test_add_func ("/proxy/policy/not-stored", test_policy_not_stored);
  g_test_add_func ("/proxy/policy/stored-counted", test_stored_counted);
  g_test_add_func ("/proxy/policy/max-age", test_policy_max_age);
  g_test_add_func ("/proxy/policy/s-maxage", test_policy_s_maxage);
  g_test_add_func ("/proxy/policy/ttl-ceiling", test_policy_ttl_ceiling);
  g_test_add_func ("/proxy/policy/mac-shared-cache", test_mac_shared_cache);
  g_test_add_func ("/proxy/stats-line", test_stats_line);
  g_test_add_func ("/proxy/settings/ttl-reapplied", test_ttl_reapplied);
  g_test_add_func ("/proxy/settings/cache-timeout-reapplied", test_cache_timeout_reapplied);
  g_test_add_func ("/proxy/factory-ignores-address", test_factory_ignores_address);
  g_test_add_func ("/proxy/stats/outcomes-counted-once", test_outcomes_counted_once);
  g_test_add_func ("/proxy/cache/store-at-item-size", test_store_at_item_size);
  g_test_add_func ("/proxy/cache/secret-sizes", test_secret_sizes);
  g_test_add_func ("/proxy/settings/smallest", test_smallest_settings);
  g_test_add_func ("/proxy/busy-with-one-request", test_busy_with_one_request);
  g_test_add_func ("/proxy/finalize-releases", test_finalize_releases);
  g_test_add_func ("/proxy/request/cache-outcomes-logged", test_cache_outcomes_logged);
  return g_test_run ();
}
