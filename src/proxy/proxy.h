/* braid — the caching URL proxy (the tutorial's wire protocol): a client
 * sends one URL and a newline; the proxy answers with the body and closes.
 *
 * Bodies are relayed as they arrive, paced by the fastest client, in
 * bounded memory (see docs/proxy.md, "Memory bounds"); concurrent
 * requests for one uncached URL share one upstream fetch; a cache that
 * fails or is slow never fails a request; a failed or partial body is
 * answered with a reset, never a clean close. */
#pragma once

#include "reactor.h"
#include "fetcher.h"
#include "cache.h"
#include "proxy-error.h"
#include "proxy-settings.h"

G_BEGIN_DECLS

#define BRAID_TYPE_PROXY (braid_proxy_get_type ())
G_DECLARE_FINAL_TYPE (BraidProxy, braid_proxy, BRAID, PROXY, GObject)

/* @cache: (nullable): NULL for no cache.
 * @settings: (nullable): copied; NULL for BRAID_PROXY_SETTINGS_INIT.
 *   max_line, read_chunk and max_flights must not be 0.  With fetch_timeout_us, every
 *   fetch through @fetcher, headers and body, is cancelled at that
 *   deadline on @reactor's clock; with max_connections, a connection over
 *   it is closed at once; with request_timeout_us, a client that has not
 *   sent its whole line by then is closed. */
BraidProxy *braid_proxy_new (BraidReactor *reactor, BraidFetcher *fetcher, BraidCache *cache,
                             const BraidProxySettings *settings);
/* (transfer full): builds the proxy's protocol, one per client connection. */
BraidProtocolFactory *braid_proxy_create_factory (BraidProxy *self);
/* (transfer none): the counters, live; valid as long as @self. */
const BraidProxyStats *braid_proxy_get_stats (BraidProxy *self);
/* (transfer none): the settings in use, live; valid as long as @self.
 * Change them with the setters below. */
const BraidProxySettings *braid_proxy_get_settings (BraidProxy *self);
/* Bodies cached from now on live @ttl_s seconds (0: until evicted). */
void braid_proxy_set_ttl (BraidProxy *self, gint64 ttl_s);
/* Cache lookups started from now on are given up after @timeout_us. */
void braid_proxy_set_cache_timeout (BraidProxy *self, gint64 timeout_us);
/* Whether a request is still being served. */
gboolean braid_proxy_is_busy (BraidProxy *self);
/* For a graceful stop: closes, without a body, every connection that has
 * not sent its whole request line yet, so that only requests in flight
 * keep braid_proxy_is_busy() TRUE. */
void braid_proxy_close_idle (BraidProxy *self);

G_END_DECLS
