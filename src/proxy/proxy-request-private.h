/* braid — BraidProxyRequest: the proxy's protocol on one client
 * connection.  Private: not installed.
 *
 * A request knows nothing of BraidProxy: what it needs from the proxy
 * that built it comes through a BraidProxyRequestHost. */
#pragma once

#include "reactor.h"
#include "cache.h"
#include "proxy-settings.h"
#include "proxy-error.h"
#include "proxy-flight-private.h"

G_BEGIN_DECLS

/* Filled in by the proxy; the pointers stay valid while @owner lives, and
 * each request keeps a reference on @owner. */
typedef struct {
  GObject *owner;
  BraidReactor *reactor;
  BraidCache *cache;                   /* (nullable): no cache */
  const BraidProxySettings *settings;  /* read when needed: a reload may change it */
  BraidProxyStats *stats;              /* the request counts itself in */
  /* Returns @url's flight, starting one if there is none joinable; sets
   * *@shared to whether it was already running.  NULL with
   * BRAID_PROXY_ERROR_OVER_CAPACITY when no flight may start. */
  BraidProxyFlight *(*get_flight) (GObject *owner, const gchar *url, gboolean *shared, GError **error);
  /* (element-type BraidProxyRequest): the requests still reading their
   * line (unowned: each removes itself when it stops reading). */
  GHashTable *reading;
  /* (nullable): the keys of recent URLs (cache.h) */
  BraidCacheKeyMemo *key_memo;
} BraidProxyRequestHost;

#define BRAID_TYPE_PROXY_REQUEST (braid_proxy_request_get_type ())
G_DECLARE_FINAL_TYPE (BraidProxyRequest, braid_proxy_request, BRAID, PROXY_REQUEST, BraidProtocol)

/* One request per connection: reads one URL line (at most
 * @host->settings->max_line bytes, within request_timeout_us), looks it up in the cache (time-boxed
 * by cache_timeout_us), then writes the cached body or joins the URL's
 * flight, and closes.  A request that fails, or whose body is not whole,
 * is aborted (RST), never closed cleanly.  A client whose backlog does
 * not shrink for client_write_timeout_us is cut off.  Every request ends
 * with one access log entry. */
BraidProxyRequest *braid_proxy_request_new (const BraidProxyRequestHost *host);
/* A request still reading its line is closed without a body (the proxy is
 * stopping); any other is left alone. */
void braid_proxy_request_close_idle (BraidProxyRequest *self);

G_END_DECLS
