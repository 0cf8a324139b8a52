/* braid — the item store, what its tests look at, and what the meta
 * protocol (mg, ms, md, ma, me) needs of it beyond the classic commands:
 * lookups that count and bump as the caller says, the per-item marks
 * (stale, win token sent, binary key), and the cas-aware variants of
 * store, delete and arithmetic that memcached 1.6's meta commands have.
 * Private; never installed. */
#pragma once

#include "mc-store.h"

G_BEGIN_DECLS

/* The index's hash of @key: keyed with the store's seed, so keys chosen
 * to collide under a fixed hash do not collide here. */
guint braid_mc_store_hash_key (BraidMcStore *store, const guint8 *key, gsize len);

/* What the tests look at of one shard (0 ≤ @index < n_shards), read
 * under its lock: the index's size, the LRU's length, the bytes counted
 * and the sum of the linked items' sizes (the two pairs agree unless the
 * store is broken), and the shard's budget. */
typedef struct {
  guint n_items;
  guint lru_length;
  gsize used;
  gsize sum_of_sizes;
  gsize limit;
} BraidMcShardInfo;

void braid_mc_store_get_shard_info (BraidMcStore *store, guint index, BraidMcShardInfo *info);
/* The shard @key lives in. */
guint braid_mc_store_shard_of_key (BraidMcStore *store, const guint8 *key, gsize len);

/* ---- the meta protocol ----
 *
 * The functions on an item (bump, set_expiry, get_ttl, the marks…) need
 * its key's lock held, as the item itself does. */

typedef enum {
  BRAID_MC_ITEM_MARK_FETCHED = 1 << 0,
  BRAID_MC_ITEM_MARK_STALE = 1 << 1,
  BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT = 1 << 2,
  BRAID_MC_ITEM_MARK_KEY_BINARY = 1 << 3,
} BraidMcItemMarks;

/* Adds one to the BraidMcStats counter at @stat_offset
 * (G_STRUCT_OFFSET (BraidMcStats, get_hits), say): the meta commands
 * count differently from the classic ones, as memcached 1.6.18 does.
 * An atomic add to store-wide counters: needs no lock. */
void braid_mc_store_count (BraidMcStore *store, gsize stat_offset);

/* (transfer none) (nullable): the live item under @key, counting nothing
 * but get_expired/get_flushed (as any memcached lookup does) and moving
 * nothing. */
BraidMcItem *braid_mc_store_peek (BraidMcStore *store, const guint8 *key, gsize key_len);
/* A fetch: marks @item fetched, moves it to the LRU head, and sets its
 * last access to now if that is a minute old (as memcached does). */
void braid_mc_store_bump (BraidMcStore *store, BraidMcItem *item);
/* Sets @item's expiry as a command's exptime says (T). */
void braid_mc_store_set_expiry (BraidMcStore *store, BraidMcItem *item, gint64 exptime);
/* Whether @item expires before an exptime would (mg's R). */
gboolean braid_mc_store_expires_before (BraidMcStore *store, BraidMcItem *item, gint64 exptime);

/* Seconds left to live as memcached's unsigned 32-bit arithmetic prints
 * them, or -1 for never. */
gint64 braid_mc_store_get_ttl (BraidMcStore *store, BraidMcItem *item);
/* Seconds since @item was stored, fetched or touched. */
gint64 braid_mc_store_get_idle (BraidMcStore *store, BraidMcItem *item);
/* me's exp=: now minus the expiry (negative while alive), -1 for never. */
gint64 braid_mc_store_get_exp_debug (BraidMcStore *store, BraidMcItem *item);

BraidMcItemMarks braid_mc_item_get_marks (BraidMcItem *item);
void braid_mc_item_add_marks (BraidMcItem *item, BraidMcItemMarks marks);

/* A miss autovivified (mg N, ma N): links an item holding @value, with
 * flags 0 and no expiry, counting no set.  (transfer none) (nullable):
 * NULL if it does not fit. */
BraidMcItem *braid_mc_store_vivify (BraidMcStore *store, const guint8 *key, gsize key_len,
                                   const guint8 *value, gsize value_len);

/* ms: memcached's do_store_item.  CAS compares @cas (0 never matches);
 * APPEND and PREPEND check a non-zero @cas; the others ignore it.  @invalidate (I) accepts a cas older than the item's and
 * stores the value stale.  On STORED *@cas_out is the new item's cas,
 * else 0. */
BraidMcStoreResult braid_mc_store_meta_store (BraidMcStore *store,
                                              BraidMcStoreMode mode,
                                              const guint8 *key, gsize key_len,
                                              gboolean key_binary,
                                              guint32 flags, gint64 exptime,
                                              const guint8 *value, gsize value_len,
                                              guint64 cas, gboolean invalidate,
                                              guint64 *cas_out);

/* md: DELETED, NOT_FOUND, or EXISTS when @compare_cas and @cas differs.
 * Counts nothing. */
BraidMcStoreResult braid_mc_store_meta_delete (BraidMcStore *store, const guint8 *key, gsize key_len,
                                               gboolean compare_cas, guint64 cas);
/* md I: marks the item stale, forgets its win token, gives it a new cas
 * and, with @new_ttl, @exptime.  STORED, NOT_FOUND, or EXISTS. */
BraidMcStoreResult braid_mc_store_invalidate (BraidMcStore *store, const guint8 *key, gsize key_len,
                                              gboolean compare_cas, guint64 cas,
                                              gboolean new_ttl, gint64 exptime);

/* ma: incr or decr with an optional @cas (0: none) to compare.  STORED
 * with *@value and *@item (transfer full: the live item, for its cas and
 * ttl), NOT_FOUND, EXISTS, NON_NUMERIC or NO_MEMORY.  Counts nothing. */
BraidMcStoreResult braid_mc_store_meta_arith (BraidMcStore *store, const guint8 *key, gsize key_len,
                                              BraidMcArithMode mode, guint64 delta, guint64 cas,
                                              guint64 *value, BraidMcItem **item);

/* The cas unique the store gave last in @key's shard: with @key's lock
 * held since a store or an incr on @key succeeded, the new item's, even
 * if it expired at once (an exptime in the past), whose cas memcached
 * still reports (the binary protocol's replies carry it). */
guint64 braid_mc_store_get_last_cas (BraidMcStore *store, const guint8 *key, gsize key_len);

G_END_DECLS
