/* braid — the proxy scenario's view of the cache: a BraidCache that
 * wraps the real one, tells the checker when each key was last stored
 * (the start of its TTL), and, for a broken twin, serves bodies past
 * their TTL.
 *
 * The TTL checker needs to know when the proxy stored a body: that is
 * what a cache interface call says, outside the proxy, so the checker
 * watches the interface rather than asking the proxy. */
#pragma once

#include "cache.h"
#include "reactor.h"

G_BEGIN_DECLS

#define SIM_TYPE_CACHE (sim_cache_get_type ())
G_DECLARE_FINAL_TYPE (SimCache, sim_cache, SIM, CACHE, GObject)

/* @serve_expired: the broken twin: a miss of the real cache is answered
 * with the last body ever stored under the key, however old. */
SimCache *sim_cache_new (BraidCache *inner, BraidReactor *reactor, gboolean serve_expired);
/* Makes lookups slow and deaf, as a cache whose lookups cannot be
 * interrupted: each answers after a delay drawn from @rand (up to
 * @max_delay_us), whatever its cancellable says, and one that answers
 * after @time_box_us (the proxy's cache time box) answers with bytes that
 * are no URL's body: a proxy that still waited for it would serve them to
 * its client, which the scenario's body checker catches. */
void sim_cache_set_slow (SimCache *self, GRand *rand, gint64 max_delay_us, gint64 time_box_us);
/* When a store of @key was last asked for (µs, the reactor's clock), or
 * -1 if never. */
gint64 sim_cache_get_last_store (SimCache *self, const gchar *key);

G_END_DECLS
