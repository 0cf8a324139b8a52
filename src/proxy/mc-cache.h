/* braid — the shared cache: a memcached pool through the braid client, so
 * that several proxies share one cache. */
#pragma once

#include "cache.h"
#include "mc-pool.h"

G_BEGIN_DECLS

#define BRAID_TYPE_MC_CACHE (braid_mc_cache_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcCache, braid_mc_cache, BRAID, MC_CACHE, GObject)

/* @max_item_bytes: the servers' -I (values over it are not stored). */
BraidMcCache *braid_mc_cache_new (BraidMcPool *pool, gsize max_item_bytes);

G_END_DECLS
