/* braid — BraidProxy: settings, counters, the cache and the table of
 * flights in the air.
 *
 * Each connection is a BraidProxyRequest (proxy-request.c), which reaches
 * the proxy only through the BraidProxyRequestHost below; each upstream
 * fetch is a BraidProxyFlight (proxy-flight.c), whose end the proxy hears
 * through on_flight_done(): it forgets the flight, counts the outcome and
 * caches a complete 2xx body that fits. */
#include "proxy.h"
#include "proxy-flight-private.h"
#include "proxy-request-private.h"

struct _BraidProxy
{
  GObject parent_instance;
  BraidReactor *reactor;       /* (owned) */
  BraidFetcher *fetcher;       /* (owned) */
  BraidCache *cache;           /* (owned) (nullable) */
  BraidProxySettings settings;
  BraidProxyStats stats;
  GHashTable *flights;         /* url → BraidProxyFlight (unowned: a flight frees itself) */
  BraidProxyRequestHost host;  /* what requests see of the proxy */
};

G_DEFINE_FINAL_TYPE (BraidProxy, braid_proxy, G_TYPE_OBJECT)

static void
on_cached (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!braid_cache_store_finish (BRAID_CACHE (source), result, &error) && error != NULL)
    g_debug ("could not cache a body: %s", error->message);
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
  if (self->cache != NULL && status >= 200 && status < 300 && braid_proxy_flight_has_whole_body (flight) &&
      braid_proxy_flight_get_size (flight) <= braid_cache_get_max_item_size (self->cache))
    {
      g_autoptr(GBytes) body = braid_proxy_flight_dup_body (flight);
      g_autofree gchar *key = braid_cache_key_for_url (url);

      braid_cache_store_async (self->cache, key, body, self->settings.ttl_s, NULL, on_cached, NULL);
    }
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
  BraidProxy *self;
  BraidProxySettings defaults = BRAID_PROXY_SETTINGS_INIT;

  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);
  g_return_val_if_fail (BRAID_IS_FETCHER (fetcher), NULL);
  g_return_val_if_fail (cache == NULL || BRAID_IS_CACHE (cache), NULL);
  g_return_val_if_fail (settings == NULL || (settings->max_line > 0 && settings->read_chunk > 0 &&
                                              settings->max_flights > 0), NULL);

  self = g_object_new (BRAID_TYPE_PROXY, NULL);
  self->reactor = g_object_ref (reactor);
  self->fetcher = g_object_ref (fetcher);
  self->cache = cache != NULL ? g_object_ref (cache) : NULL;
  self->settings = settings != NULL ? *settings : defaults;
  self->host.owner = G_OBJECT (self);
  self->host.reactor = self->reactor;
  self->host.cache = self->cache;
  self->host.settings = &self->settings;
  self->host.stats = &self->stats;
  self->host.get_flight = get_flight;
  return self;
}

BraidProtocolFactory *
braid_proxy_create_factory (BraidProxy *self)
{
  g_return_val_if_fail (BRAID_IS_PROXY (self), NULL);

  return braid_protocol_factory_new (build_request, g_object_ref (self), g_object_unref);
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
