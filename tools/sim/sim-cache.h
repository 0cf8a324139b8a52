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
/* When a store of @key was last asked for (µs, the reactor's clock), or
 * -1 if never. */
gint64 sim_cache_get_last_store (SimCache *self, const gchar *key);

G_END_DECLS
