/* braid — the caching URL proxy.
 *
 * Each connection is a BraidProxyRequest: read one line, look the URL up
 * in the cache (time-boxed), then serve the cached body or join the
 * URL's flight: the one upstream fetch that every concurrent request for
 * that URL shares.  A flight reads the upstream body a chunk at a time and
 * writes each chunk to every request on it; it reads the next chunk only
 * when every client has drained below the buffer limit, so a slow client
 * slows its flight rather than filling the proxy's memory.  Requests that
 * join late get what has arrived so far, then the rest. */
#include "proxy.h"
#include "line-receiver.h"

#include <string.h>

#define ACCESS_LOG_MESSAGE_ID "5b7d0e9a2c4f4e1b8a6d3f2e1c0b9a87"

typedef struct _Flight Flight;

struct _BraidProxy
{
  GObject parent_instance;
  BraidReactor *reactor;       /* (owned) */
  BraidFetcher *fetcher;       /* (owned) */
  BraidCache *cache;           /* (owned) (nullable) */
  BraidProxySettings settings;
  BraidProxyStats stats;
  GHashTable *flights;         /* url → Flight (unowned: a flight frees itself) */
};

G_DEFINE_FINAL_TYPE (BraidProxy, braid_proxy, G_TYPE_OBJECT)

/* ---- requests (one per connection) ---- */

typedef enum {
  REQ_READING,
  REQ_LOOKUP,
  REQ_SERVING,   /* on a flight or writing a cached body */
  REQ_DONE,
} RequestState;

#define BRAID_TYPE_PROXY_REQUEST (braid_proxy_request_get_type ())
G_DECLARE_FINAL_TYPE (BraidProxyRequest, braid_proxy_request, BRAID, PROXY_REQUEST, BraidProtocol)

struct _BraidProxyRequest
{
  BraidProtocol parent_instance;
  BraidProxy *proxy;            /* (owned) */
  BraidLineReceiver *lines;     /* (owned) */
  RequestState state;
  gchar *url;
  gchar *key;
  const gchar *cache_outcome;   /* hit, miss, shared, bypass */
  guint status;
  gsize bytes;
  gint64 started_us;
  BraidDelayedCall *lookup_timer;  /* (owned) (nullable) */
  GCancellable *lookup_cancellable; /* (owned) (nullable) */
  Flight *flight;               /* (unowned) (nullable) */
  gboolean counted;
};

G_DEFINE_FINAL_TYPE (BraidProxyRequest, braid_proxy_request, BRAID_TYPE_PROTOCOL)

static BraidTransport *
request_transport (BraidProxyRequest *r)
{
  return braid_protocol_get_transport (BRAID_PROTOCOL (r));
}

static void
access_log (BraidProxyRequest *r, const gchar *problem)
{
  gint64 ms10 = (braid_reactor_now (r->proxy->reactor) - r->started_us) / 100;
  g_autofree gchar *status = g_strdup_printf ("%u", r->status);
  g_autofree gchar *bytes = g_strdup_printf ("%" G_GSIZE_FORMAT, r->bytes);
  g_autofree gchar *duration = g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, ms10 / 10, ms10 % 10);
  const gchar *url = r->url != NULL ? r->url : "-";
  const gchar *cache = r->cache_outcome != NULL ? r->cache_outcome : "bypass";

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_MESSAGE, G_LOG_DOMAIN))
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MESSAGE_ID", ACCESS_LOG_MESSAGE_ID,
                    "URL", url,
                    "STATUS", status,
                    "BYTES", bytes,
                    "CACHE", cache,
                    "DURATION_MS", duration,
                    "MESSAGE", "%s %s %s bytes cache=%s %s ms%s%s", url, status, bytes, cache, duration,
                    problem != NULL ? " " : "", problem != NULL ? problem : "");
}

static void
request_finish (BraidProxyRequest *r, const gchar *problem)
{
  BraidTransport *t = request_transport (r);

  if (r->state == REQ_DONE)
    return;
  r->state = REQ_DONE;
  r->flight = NULL;
  if (r->counted)
    r->proxy->stats.in_flight--;
  r->counted = FALSE;
  access_log (r, problem);
  if (t != NULL)
    braid_transport_lose_connection (t);
}

static void
request_write (BraidProxyRequest *r, const guint8 *data, gsize len)
{
  BraidTransport *t = request_transport (r);

  if (t == NULL || r->state == REQ_DONE || len == 0)
    return;
  braid_transport_write (t, data, len);
  r->bytes += len;
}

/* ---- flights ---- */

struct _Flight
{
  BraidProxy *proxy;          /* (owned) */
  gchar *url;
  gchar *key;
  GPtrArray *requests;        /* (element-type BraidProxyRequest) (owned refs) */
  GByteArray *body;
  guint status;
  GInputStream *stream;       /* (owned) (nullable) */
  GCancellable *cancellable;  /* (owned) */
  gboolean reading;
  gboolean waiting;           /* for a client to drain */
  gboolean finished;
};

static void flight_read_next (Flight *f);

static void
flight_free (Flight *f)
{
  g_ptr_array_unref (f->requests);
  g_byte_array_unref (f->body);
  g_clear_object (&f->stream);
  g_object_unref (f->cancellable);
  g_object_unref (f->proxy);
  g_free (f->url);
  g_free (f->key);
  g_free (f);
}

static void
on_cached (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!braid_cache_store_finish (BRAID_CACHE (source), result, &error) && error != NULL)
    g_debug ("could not cache a body: %s", error->message);
}

/* The flight is over: every request on it ends; a complete 2xx body that
 * fits is cached. */
static void
flight_end (Flight *f, guint status, const gchar *problem, gboolean cacheable)
{
  BraidProxy *proxy = f->proxy;

  f->finished = TRUE;
  g_hash_table_remove (proxy->flights, f->url);
  for (guint i = 0; i < f->requests->len; i++)
    {
      BraidProxyRequest *r = g_ptr_array_index (f->requests, i);

      r->status = status;
      request_finish (r, problem);
    }
  if (cacheable && proxy->cache != NULL && status >= 200 && status < 300 &&
      f->body->len <= braid_cache_get_max_item_size (proxy->cache))
    {
      g_autoptr(GBytes) body = g_bytes_new (f->body->data, f->body->len);

      braid_cache_store_async (proxy->cache, f->key, body, proxy->settings.ttl_s, NULL, on_cached, NULL);
    }
  flight_free (f);
}

static gboolean
any_client_full (Flight *f)
{
  for (guint i = 0; i < f->requests->len; i++)
    {
      BraidProxyRequest *r = g_ptr_array_index (f->requests, i);
      BraidTransport *t = request_transport (r);

      if (r->state != REQ_DONE && t != NULL &&
          braid_transport_get_write_buffer_size (t) > f->proxy->settings.client_buffer_limit)
        return TRUE;
    }
  return FALSE;
}

static void
on_chunk (GObject *source, GAsyncResult *result, gpointer data)
{
  Flight *f = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  gsize len;
  const guint8 *bytes;

  f->reading = FALSE;
  if (chunk == NULL)
    {
      f->proxy->stats.upstream_errors++;
      flight_end (f, 502, error->message, FALSE);
      return;
    }
  bytes = g_bytes_get_data (chunk, &len);
  if (len == 0)
    {
      flight_end (f, f->status, NULL, TRUE);
      return;
    }
  if (f->body->len + len > f->proxy->settings.max_body)
    {
      f->proxy->stats.too_large++;
      g_cancellable_cancel (f->cancellable);
      flight_end (f, f->status, "body over the size limit: cut off", FALSE);
      return;
    }
  g_byte_array_append (f->body, bytes, (guint) len);
  for (guint i = 0; i < f->requests->len; i++)
    request_write (g_ptr_array_index (f->requests, i), bytes, len);
  flight_read_next (f);
}

static void
flight_read_next (Flight *f)
{
  if (f->reading || f->finished)
    return;
  if (any_client_full (f))
    {
      /* Back pressure: a client's output_drained wakes us. */
      f->waiting = TRUE;
      return;
    }
  f->waiting = FALSE;
  f->reading = TRUE;
  g_input_stream_read_bytes_async (f->stream, f->proxy->settings.read_chunk, G_PRIORITY_DEFAULT,
                                   f->cancellable, on_chunk, f);
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  Flight *f = data;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  f->stream = braid_fetcher_fetch_finish (BRAID_FETCHER (source), result, &status, &error);
  if (f->stream == NULL)
    {
      f->proxy->stats.upstream_errors++;
      flight_end (f, g_error_matches (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT) ? 504 : 502,
                  error->message, FALSE);
      return;
    }
  f->status = status;
  flight_read_next (f);
}

static Flight *
flight_start (BraidProxy *proxy, const gchar *url, const gchar *key)
{
  Flight *f = g_new0 (Flight, 1);

  f->proxy = g_object_ref (proxy);
  f->url = g_strdup (url);
  f->key = g_strdup (key);
  f->requests = g_ptr_array_new_with_free_func (g_object_unref);
  f->body = g_byte_array_new ();
  f->cancellable = g_cancellable_new ();
  g_hash_table_insert (proxy->flights, f->url, f);
  proxy->stats.upstream_fetches++;
  braid_fetcher_fetch_async (proxy->fetcher, url, f->cancellable, on_fetched, f);
  return f;
}

static void
flight_join (Flight *f, BraidProxyRequest *r)
{
  g_ptr_array_add (f->requests, g_object_ref (r));
  r->flight = f;
  r->state = REQ_SERVING;
  /* A late joiner gets what has arrived so far. */
  request_write (r, f->body->data, f->body->len);
}

static void
fetch_for (BraidProxyRequest *r, const gchar *outcome)
{
  BraidProxy *proxy = r->proxy;
  Flight *f = g_hash_table_lookup (proxy->flights, r->url);

  if (f != NULL)
    {
      r->cache_outcome = "shared";
      proxy->stats.shared++;
    }
  else
    {
      r->cache_outcome = outcome;
      if (g_str_equal (outcome, "miss"))
        proxy->stats.misses++;
      else
        proxy->stats.bypass++;
      f = flight_start (proxy, r->url, r->key);
    }
  flight_join (f, r);
}

/* ---- the cache lookup, time-boxed ---- */

static void
on_lookup_timeout (gpointer data)
{
  BraidProxyRequest *r = data;

  if (r->state != REQ_LOOKUP)
    return;
  /* Tell the cache we no longer wait: it lets go of the request. */
  if (r->lookup_cancellable != NULL)
    g_cancellable_cancel (r->lookup_cancellable);
  g_debug ("cache lookup for %s took over %" G_GINT64_FORMAT " ms: fetching", r->url,
           r->proxy->settings.cache_timeout_us / 1000);
  fetch_for (r, "bypass");
}

static void
on_lookup (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(BraidProxyRequest) r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = braid_cache_lookup_finish (BRAID_CACHE (source), result, &error);

  if (r->state != REQ_LOOKUP)
    return;  /* the time box ran out, or the client left */
  if (r->lookup_timer != NULL && braid_delayed_call_is_active (r->lookup_timer))
    braid_delayed_call_cancel (r->lookup_timer);
  g_clear_pointer (&r->lookup_timer, braid_delayed_call_unref);
  if (error != NULL)
    {
      g_debug ("cache lookup for %s failed: %s; fetching", r->url, error->message);
      fetch_for (r, "bypass");
      return;
    }
  if (body == NULL)
    {
      fetch_for (r, "miss");
      return;
    }
  r->cache_outcome = "hit";
  r->proxy->stats.hits++;
  r->state = REQ_SERVING;
  r->status = 200;
  request_write (r, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  request_finish (r, NULL);
}

/* ---- the request line ---- */

static gboolean
valid_url (const gchar *line, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  const gchar *scheme;

  if (!g_utf8_validate (line, -1, NULL) || strchr (line, ' ') != NULL)
    {
      g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST, "not a single URL");
      return FALSE;
    }
  uri = g_uri_parse (line, G_URI_FLAGS_NONE, error);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST,
                   "only http and https URLs with a host are fetched");
      return FALSE;
    }
  return TRUE;
}

static void
bad_request (BraidProxyRequest *r, const gchar *why)
{
  r->proxy->stats.bad_requests++;
  r->status = 400;
  r->cache_outcome = "bypass";
  request_finish (r, why);
}

static void
on_line (gpointer data, const gchar *line, gsize len)
{
  BraidProxyRequest *r = data;
  BraidProxy *proxy = r->proxy;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *trimmed = g_strstrip (g_strndup (line, len));

  braid_line_receiver_stop (r->lines);  /* one request per connection */
  r->url = g_strdup (trimmed);
  if (strlen (trimmed) != len && memchr (line, '\0', len) != NULL)
    {
      bad_request (r, "NUL byte in the request line");
      return;
    }
  if (!valid_url (trimmed, &error))
    {
      bad_request (r, error->message);
      return;
    }
  r->key = braid_cache_key_for_url (r->url);
  if (proxy->cache == NULL)
    {
      fetch_for (r, "bypass");
      return;
    }
  r->state = REQ_LOOKUP;
  r->lookup_timer = braid_reactor_call_later (proxy->reactor, proxy->settings.cache_timeout_us,
                                              on_lookup_timeout, r, NULL);
  r->lookup_cancellable = g_cancellable_new ();
  braid_cache_lookup_async (proxy->cache, r->key, r->lookup_cancellable, on_lookup, g_object_ref (r));
}

static void
on_line_too_long (gpointer data, gsize seen)
{
  BraidProxyRequest *r = data;
  g_autofree gchar *why = g_strdup_printf ("request line over %" G_GSIZE_FORMAT " bytes", r->proxy->settings.max_line);

  bad_request (r, why);
}

static const BraidLineReceiverCallbacks line_callbacks = { on_line, NULL, on_line_too_long };

/* ---- the protocol ---- */

static void
proxy_request_connection_made (BraidProtocol *protocol, BraidTransport *transport)
{
  BraidProxyRequest *r = BRAID_PROXY_REQUEST (protocol);

  r->started_us = braid_reactor_now (r->proxy->reactor);
  r->proxy->stats.requests++;
  r->proxy->stats.in_flight++;
  r->counted = TRUE;
}

static void
proxy_request_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidProxyRequest *r = BRAID_PROXY_REQUEST (protocol);

  if (r->state == REQ_READING)
    braid_line_receiver_feed (r->lines, data, len);
}

static gboolean
proxy_request_eof_received (BraidProtocol *protocol)
{
  BraidProxyRequest *r = BRAID_PROXY_REQUEST (protocol);

  /* "echo URL | nc -N" half-closes after the line: keep writing. */
  if (r->state == REQ_READING)
    {
      bad_request (r, "the client closed before sending a whole line");
      return FALSE;
    }
  return r->state != REQ_DONE;
}

static void
proxy_request_output_drained (BraidProtocol *protocol)
{
  BraidProxyRequest *r = BRAID_PROXY_REQUEST (protocol);

  if (r->flight != NULL && r->flight->waiting)
    flight_read_next (r->flight);
}

static void
proxy_request_connection_lost (BraidProtocol *protocol, const GError *reason)
{
  BraidProxyRequest *r = BRAID_PROXY_REQUEST (protocol);

  if (r->state == REQ_LOOKUP && r->lookup_cancellable != NULL)
    g_cancellable_cancel (r->lookup_cancellable);

  if (r->state != REQ_DONE)
    {
      Flight *f = r->flight;

      request_finish (r, "the client went away");
      /* The flight goes on without it (the body may still be cached);
       * if it was waiting on this client, it need wait no more. */
      if (f != NULL && f->waiting)
        flight_read_next (f);
    }
}

static void
braid_proxy_request_finalize (GObject *object)
{
  BraidProxyRequest *r = BRAID_PROXY_REQUEST (object);

  if (r->lookup_timer != NULL && braid_delayed_call_is_active (r->lookup_timer))
    braid_delayed_call_cancel (r->lookup_timer);
  g_clear_pointer (&r->lookup_timer, braid_delayed_call_unref);
  g_clear_object (&r->lookup_cancellable);
  if (r->counted)
    r->proxy->stats.in_flight--;
  braid_line_receiver_free (r->lines);
  g_free (r->url);
  g_free (r->key);
  g_object_unref (r->proxy);
  G_OBJECT_CLASS (braid_proxy_request_parent_class)->finalize (object);
}

static void
braid_proxy_request_class_init (BraidProxyRequestClass *klass)
{
  BraidProtocolClass *p = BRAID_PROTOCOL_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_proxy_request_finalize;
  p->connection_made = proxy_request_connection_made;
  p->data_received = proxy_request_data_received;
  p->eof_received = proxy_request_eof_received;
  p->output_drained = proxy_request_output_drained;
  p->connection_lost = proxy_request_connection_lost;
}

static void
braid_proxy_request_init (BraidProxyRequest *r)
{
}

static BraidProtocol *
build_request (GSocketAddress *address, gpointer data)
{
  BraidProxy *proxy = data;
  BraidProxyRequest *r = g_object_new (BRAID_TYPE_PROXY_REQUEST, NULL);

  r->proxy = g_object_ref (proxy);
  r->lines = braid_line_receiver_new ("\r\n", proxy->settings.max_line, &line_callbacks, r);
  return BRAID_PROTOCOL (r);
}

/* ---- the proxy ---- */

static void
braid_proxy_finalize (GObject *object)
{
  BraidProxy *self = BRAID_PROXY (object);

  g_hash_table_unref (self->flights);
  g_clear_object (&self->cache);
  g_object_unref (self->fetcher);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_proxy_parent_class)->finalize (object);
}

static void
braid_proxy_class_init (BraidProxyClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_proxy_finalize;
}

static void
braid_proxy_init (BraidProxy *self)
{
  self->flights = g_hash_table_new (g_str_hash, g_str_equal);
}

BraidProxy *
braid_proxy_new (BraidReactor *reactor, BraidFetcher *fetcher, BraidCache *cache,
                 const BraidProxySettings *settings)
{
  BraidProxy *self = g_object_new (BRAID_TYPE_PROXY, NULL);
  BraidProxySettings defaults = BRAID_PROXY_SETTINGS_INIT;

  self->reactor = g_object_ref (reactor);
  self->fetcher = g_object_ref (fetcher);
  self->cache = cache != NULL ? g_object_ref (cache) : NULL;
  self->settings = settings != NULL ? *settings : defaults;
  return self;
}

BraidProtocolFactory *
braid_proxy_create_factory (BraidProxy *self)
{
  return braid_protocol_factory_new (build_request, g_object_ref (self), g_object_unref);
}

BraidProxyStats *
braid_proxy_get_stats (BraidProxy *self)
{
  return &self->stats;
}

BraidProxySettings *
braid_proxy_get_settings (BraidProxy *self)
{
  return &self->settings;
}

gboolean
braid_proxy_is_busy (BraidProxy *self)
{
  return self->stats.in_flight > 0;
}
