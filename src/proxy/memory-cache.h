/* braid — an in-memory cache bounded in bytes, LRU, with a TTL on the
 * reactor clock. */
#pragma once

#include "cache.h"
#include "reactor.h"

G_BEGIN_DECLS

#define BRAID_TYPE_MEMORY_CACHE (braid_memory_cache_get_type ())
G_DECLARE_FINAL_TYPE (BraidMemoryCache, braid_memory_cache, BRAID, MEMORY_CACHE, GObject)

BraidMemoryCache *braid_memory_cache_new (BraidReactor *reactor, gsize max_bytes, gsize max_item_bytes);
gsize braid_memory_cache_get_size (BraidMemoryCache *self);
guint braid_memory_cache_get_n_items (BraidMemoryCache *self);
void braid_memory_cache_set_max_bytes (BraidMemoryCache *self, gsize max_bytes);

G_END_DECLS
