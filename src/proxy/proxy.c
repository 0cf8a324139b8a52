/* braid — BraidProxy: settings, counters, the cache and the table of
 * flights in the air.
 *
 * Each connection is a BraidProxyRequest (proxy-request.c), which reaches
 * the proxy only through the BraidProxyRequestHost below; each upstream
 * fetch is a BraidProxyFlight (proxy-flight.c), whose end the proxy hears
 * through on_flight_done(): it forgets the flight, counts the outcome and
 * caches a complete body that the cache policy (cache-policy.c) allows and
 * that fits, signed when there is a cache secret (cache-mac.c). */
#include "proxy.h"
#include "cache-mac.h"
#include "cache-policy.h"
#include "access-log-private.h"
#include "deadline-fetcher-private.h"
#include "proxy-flight-private.h"
#include "proxy-request-private.h"

struct _BraidProxy
{
  GObject parent_instance;
  BraidReactor *reactor;       /* (owned) */
  BraidFetcher *fetcher;       /* (owned): with the fetch deadline around it, if any */
  BraidCache *cache;           /* (owned) (nullable) */
  BraidProxySettings settings;
  BraidProxyStats stats;
  GHashTable *flights;         /* url → BraidProxyFlight (unowned: a flight frees itself) */
  GHashTable *reading;         /* requests still reading their line (unowned) */
  BraidCacheKeyMemo *key_memo; /* (owned) */
  BraidProxyRequestHost host;  /* what requests see of the proxy */
};

G_DEFINE_FINAL_TYPE (BraidProxy, braid_proxy, G_TYPE_OBJECT)

static void
on_cached (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(BraidProxy) self = data;
  g_autoptr(GError) error = NULL;

  if (braid_cache_store_finish (BRAID_CACHE (source), result, &error))
    self->stats.stored++;
  else if (error != NULL)
    g_debug ("could not cache a body: %s", error->message);
}

/* A complete body: stored if the cache policy (cache-policy.c) lets it,
 * for the lifetime it allows, --ttl at most, and if it fits. */
static void
cache_body (BraidProxy *self, BraidProxyFlight *flight, const gchar *url, guint status)
{
  g_autoptr(GBytes) body = NULL;
  g_autofree gchar *key = NULL;
  const gchar *why_not = NULL;
  gsize overhead = self->settings.cache_secret != NULL ? BRAID_CACHE_MAC_SIZE : 0;
  gsize max_item = braid_cache_get_max_item_size (self->cache);
  gint64 ttl_s;

  if (!braid_cache_policy_decide (status, braid_proxy_flight_get_response_headers (flight), self->settings.ttl_s,
                                  &ttl_s, &why_not))
    {
      /* Non-2xx answers were never cached: only the ones the origin's
       * header fields keep out count. */
      if (status >= 200 && status < 300)
        {
          g_autofree gchar *shown = braid_proxy_access_log_redact_url (url);

          self->stats.not_stored++;
          g_debug ("not caching %s: %s", shown, why_not);
        }
      return;
    }
  /* A flight that could not keep its whole body (over max_buffered, or
   * nothing to keep it for) has nothing to store. */
  if (!braid_proxy_flight_has_whole_body (flight) || max_item < overhead ||
      braid_proxy_flight_get_size (flight) > max_item - overhead)
    return;
  body = braid_proxy_flight_dup_body (flight);
  key = braid_cache_key_memo_get (self->key_memo, url);
  if (self->settings.cache_secret != NULL)
    {
      GBytes *sealed = braid_cache_mac_seal (self->settings.cache_secret, key, body);

      g_bytes_unref (body);
      body = sealed;
    }
  braid_cache_store_async (self->cache, key, body, ttl_s, NULL, on_cached, g_object_ref (self));
}

static void
on_flight_done (BraidProxyFlight *flight, BraidProxyFlightResult result, gpointer data)
{
  g_autoptr(BraidProxy) self = data;  /* the flight's reference */
  const gchar *url = braid_proxy_flight_get_url (flight);
  guint status = braid_proxy_flight_get_status (flight);

  /* A flight that no longer took joiners may have been replaced. */
  if (g_hash_table_lookup (self->flights, url) == flight)
    g_hash_table_remove (self->flights, url);
  self->stats.flights--;
  switch (result)
    {
    case BRAID_PROXY_FLIGHT_RESULT_ABANDONED:
      self->stats.abandoned++;
      return;
    case BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR:
      self->stats.upstream_errors++;
      return;
    case BRAID_PROXY_FLIGHT_RESULT_TOO_LARGE:
      self->stats.too_large++;
      return;
    case BRAID_PROXY_FLIGHT_RESULT_REFUSED:
      self->stats.refused++;
      return;
    case BRAID_PROXY_FLIGHT_RESULT_COMPLETE:
      break;
    }
  if (self->cache != NULL)
    cache_body (self, flight, url, status);
}

/* BraidProxyRequestHost.get_flight: joins @url's flight while it can
 * still give the whole body; else starts one, unless max_flights fetches
 * are in the air or the flights hold max_buffered bytes. */
static BraidProxyFlight *
get_flight (GObject *owner, const gchar *url, gboolean *shared, GError **error)
{
  BraidProxy *self = BRAID_PROXY (owner);
  BraidProxyFlight *flight = g_hash_table_lookup (self->flights, url);
  BraidProxyFlightLimits limits = { 0, };

  *shared = flight != NULL && braid_proxy_flight_is_joinable (flight);
  if (*shared)
    return flight;
  if (self->stats.flights >= self->settings.max_flights)
    {
      self->stats.over_capacity++;
      g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_OVER_CAPACITY,
                   "over capacity: %u fetches in the air", self->stats.flights);
      return NULL;
    }
  if (self->settings.max_buffered > 0 && self->stats.buffered >= self->settings.max_buffered)
    {
      self->stats.over_capacity++;
      g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_OVER_CAPACITY,
                   "over capacity: %" G_GUINT64_FORMAT " bytes buffered", self->stats.buffered);
      return NULL;
    }
  limits.max_body = self->settings.max_body;
  limits.read_chunk = self->settings.read_chunk;
  limits.client_buffer_limit = self->settings.client_buffer_limit;
  limits.keep_limit = self->cache != NULL ? braid_cache_get_max_item_size (self->cache) : 0;
  limits.max_buffered = self->settings.max_buffered;
  limits.stats = &self->stats;
  self->stats.upstream_fetches++;
  self->stats.flights++;
  flight = braid_proxy_flight_start (self->fetcher, url, &limits, on_flight_done, g_object_ref (self));
  g_hash_table_replace (self->flights, (gpointer) braid_proxy_flight_get_url (flight), flight);
  return flight;
}

static BraidProtocol *
build_request (GSocketAddress *address, gpointer data)
{
  BraidProxy *self = data;

  return BRAID_PROTOCOL (braid_proxy_request_new (&self->host));
}

static void
braid_proxy_finalize (GObject *object)
{
  BraidProxy *self = BRAID_PROXY (object);

  g_hash_table_unref (self->flights);
  g_clear_pointer (&self->settings.cache_secret, g_bytes_unref);
  g_hash_table_unref (self->reading);
  braid_cache_key_memo_free (self->key_memo);
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
  self->reading = g_hash_table_new (NULL, NULL);
  self->key_memo = braid_cache_key_memo_new ();
}

BraidProxy *
braid_proxy_new (BraidReactor *reactor, BraidFetcher *fetcher, BraidCache *cache,
                 const BraidProxySettings *settings)
{
  BraidProxy *self;
  BraidProxySettings defaults = BRAID_PROXY_SETTINGS_INIT;

  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);
  g_return_val_if_fail (BRAID_IS_FETCHER (fetcher), NULL);
  g_return_val_if_fail (cache == NULL || BRAID_IS_CACHE (cache), NULL);
  g_return_val_if_fail (settings == NULL || (settings->max_line > 0 && settings->read_chunk > 0 &&
                                              settings->max_flights > 0), NULL);

  self = g_object_new (BRAID_TYPE_PROXY, NULL);
  self->reactor = g_object_ref (reactor);
  self->cache = cache != NULL ? g_object_ref (cache) : NULL;
  self->settings = settings != NULL ? *settings : defaults;
  if (self->settings.cache_secret != NULL && g_bytes_get_size (self->settings.cache_secret) > 0)
    g_bytes_ref (self->settings.cache_secret);
  else
    self->settings.cache_secret = NULL;
  /* The fetch timeout bounds each whole fetch, headers and body, in
   * reactor time, whatever the fetcher's own timeouts. */
  if (self->settings.fetch_timeout_us > 0)
    self->fetcher = BRAID_FETCHER (braid_deadline_fetcher_new (fetcher, reactor, self->settings.fetch_timeout_us,
                                                               &self->stats.fetch_timeouts));
  else
    self->fetcher = g_object_ref (fetcher);
  self->host.owner = G_OBJECT (self);
  self->host.reactor = self->reactor;
  self->host.cache = self->cache;
  self->host.settings = &self->settings;
  self->host.stats = &self->stats;
  self->host.get_flight = get_flight;
  self->host.reading = self->reading;
  self->host.key_memo = self->key_memo;
  return self;
}

BraidProtocolFactory *
braid_proxy_create_factory (BraidProxy *self)
{
  BraidProtocolFactory *factory;

  g_return_val_if_fail (BRAID_IS_PROXY (self), NULL);

  factory = braid_protocol_factory_new (build_request, g_object_ref (self), g_object_unref);
  braid_protocol_factory_set_ignores_address (factory, TRUE);  /* a request never reads it */
  return factory;
}

const BraidProxyStats *
braid_proxy_get_stats (BraidProxy *self)
{
  g_return_val_if_fail (BRAID_IS_PROXY (self), NULL);

  return &self->stats;
}

const BraidProxySettings *
braid_proxy_get_settings (BraidProxy *self)
{
  g_return_val_if_fail (BRAID_IS_PROXY (self), NULL);

  return &self->settings;
}

void
braid_proxy_set_ttl (BraidProxy *self, gint64 ttl_s)
{
  g_return_if_fail (BRAID_IS_PROXY (self));
  g_return_if_fail (ttl_s >= 0);

  self->settings.ttl_s = ttl_s;
}

void
braid_proxy_set_cache_timeout (BraidProxy *self, gint64 timeout_us)
{
  g_return_if_fail (BRAID_IS_PROXY (self));
  g_return_if_fail (timeout_us >= 0);

  self->settings.cache_timeout_us = timeout_us;
}

gboolean
braid_proxy_is_busy (BraidProxy *self)
{
  g_return_val_if_fail (BRAID_IS_PROXY (self), FALSE);

  return self->stats.in_flight > 0;
}

void
braid_proxy_close_idle (BraidProxy *self)
{
  g_autoptr(GPtrArray) idle = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer request;

  g_return_if_fail (BRAID_IS_PROXY (self));

  /* Closing a request takes it out of the table: walk a copy. */
  g_hash_table_iter_init (&iter, self->reading);
  while (g_hash_table_iter_next (&iter, &request, NULL))
    g_ptr_array_add (idle, g_object_ref (request));
  for (guint i = 0; i < idle->len; i++)
    braid_proxy_request_close_idle (g_ptr_array_index (idle, i));
}
