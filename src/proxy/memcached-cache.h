/* braid — the shared cache: a memcached pool through the braid client, so
 * that several proxies share one cache. */
#pragma once

#include "cache.h"
#include "pool.h"

G_BEGIN_DECLS

#define BRAID_TYPE_MEMCACHED_CACHE (braid_memcached_cache_get_type ())
G_DECLARE_FINAL_TYPE (BraidMemcachedCache, braid_memcached_cache, BRAID, MEMCACHED_CACHE, GObject)

/* @max_item_bytes: the servers' -I (values over it are not stored). */
BraidMemcachedCache *braid_memcached_cache_new (BraidMcPool *pool, gsize max_item_bytes);

G_END_DECLS
