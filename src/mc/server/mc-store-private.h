/* braid — the item store, what its tests look at.  Private; never
 * installed. */
#pragma once

#include "mc-store.h"

G_BEGIN_DECLS

/* The index's hash of @key: keyed with the store's seed, so keys chosen
 * to collide under a fixed hash do not collide here. */
guint braid_mc_store_hash_key (BraidMcStore *store, const guint8 *key, gsize len);

/* (transfer none) (nullable): the live item for @key, without counting a
 * get or moving it in the LRU: for the binary protocol, whose replies
 * carry the cas of what a command stored and whose delete, incr and
 * append check a cas first. */
BraidMcItem *braid_mc_store_peek (BraidMcStore *store, const guint8 *key, gsize key_len);

/* The cas unique the store gave last: right after a store or an incr
 * succeeded, the new item's, even if it expired at once (an exptime in
 * the past), whose cas memcached still reports. */
guint64 braid_mc_store_get_last_cas (BraidMcStore *store);

G_END_DECLS
