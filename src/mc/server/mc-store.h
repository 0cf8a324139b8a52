/* braid — the memcached item store.
 *
 * One allocation per item holds its key, value and metadata, with
 * intrusive LRU links; a GHashTable indexes items by key.  Time comes from
 * the reactor (plus a debugtime offset), so tests move it at will.
 * Expiry, flush_all and cas follow memcached 1.6.
 *
 * Threads.  One store may be shared by several reactor threads.  It is
 * split into shards (settings.n_shards): each has its own index, LRU,
 * share of the memory limit, counters and one GMutex.  A key's shard comes
 * from the store's seeded key hash.  As memcached runs each command under
 * its key's item lock, a caller that needs several steps on one key to be
 * atomic (and every caller that looks at a transfer-none item) holds that
 * key's lock around them: braid_mc_store_lock_key() … _unlock_key().  A
 * thread holds at most one key lock at a time.  Each function on a key
 * that is called without the lock takes it for the call itself, so a
 * single call is always atomic, and a single-threaded user (the tests)
 * needs no lock at all.  The functions on the whole store (flush, stats,
 * set_limit, foreach, get_n_items) take the shards' locks one at a time
 * themselves: never call them while holding a key lock.
 *
 * Items are reference-counted atomically.  A reply may keep a reference
 * after the lock is released, even drop it on another thread: the bytes
 * of an item someone holds never change (an incr rewrites a counter in
 * place only while the store holds the sole reference), but its metadata
 * (cas after md I, expiry, LRU links, marks) may, so read those under the
 * key lock. */
#pragma once

#include "reactor.h"
#include "mc-wire.h"

G_BEGIN_DECLS

typedef struct _BraidMcStore BraidMcStore;
typedef struct _BraidMcItem BraidMcItem;

typedef enum {
  BRAID_MC_STORE_RESULT_STORED,
  BRAID_MC_STORE_RESULT_NOT_STORED,
  BRAID_MC_STORE_RESULT_EXISTS,
  BRAID_MC_STORE_RESULT_NOT_FOUND,
  BRAID_MC_STORE_RESULT_DELETED,
  BRAID_MC_STORE_RESULT_TOUCHED,
  BRAID_MC_STORE_RESULT_NON_NUMERIC,
  BRAID_MC_STORE_RESULT_NO_MEMORY,
  BRAID_MC_STORE_RESULT_TOO_LARGE,
} BraidMcStoreResult;

typedef struct {
  guint64 curr_items, total_items, bytes;
  guint64 cmd_get, cmd_set, cmd_flush, cmd_touch;
  guint64 get_hits, get_misses, get_expired, get_flushed;
  guint64 delete_hits, delete_misses;
  guint64 incr_hits, incr_misses, decr_hits, decr_misses;
  guint64 cas_hits, cas_misses, cas_badval;
  guint64 touch_hits, touch_misses;
  guint64 store_too_large, store_no_memory;
  guint64 evictions, reclaimed, expired_unfetched, evicted_unfetched;
  guint64 cmd_meta;         /* me: memcached counts no other meta command here */
} BraidMcStats;

typedef struct {
  gsize limit_bytes;        /* -m, in bytes */
  gboolean evict;           /* FALSE with -M: refuse instead */
  gsize item_size_max;      /* -I */
  gboolean cas_enabled;     /* FALSE with -C */
  guint64 hash_seed;        /* the index's hash key; 0: a random one */
  /* Shards, each with its own lock, LRU and limit_bytes / n_shards of
   * memory.  0 or 1: one, exactly the single-threaded store.  Capped so
   * that each shard's share still holds an item of item_size_max
   * (limit_bytes / n_shards >= item_size_max + 64 KiB) and at 1024;
   * braid_mc_store_get_settings() tells the number used.  With several
   * shards, eviction and "LRU order" are per shard, as memcached's are
   * per slab class. */
  guint n_shards;
} BraidMcStoreSettings;

#define BRAID_MC_STORE_SETTINGS_INIT { 64 * 1024 * 1024, TRUE, 1024 * 1024, TRUE, 0, 1 }

/* The store reads its clock from @reactor but does not keep it alive (its
 * users are connections that the reactor owns): once @reactor is
 * finalized the clock stops at its last reading. */
BraidMcStore *braid_mc_store_new (BraidReactor *reactor, const BraidMcStoreSettings *settings);
void braid_mc_store_free (BraidMcStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidMcStore, braid_mc_store_free)

const BraidMcStoreSettings *braid_mc_store_get_settings (BraidMcStore *store);

/* Holds @key's lock (its shard's mutex) until _unlock_key: the store's
 * functions on that key called meanwhile by this thread run without
 * locking again, and the items they return (transfer none) stay valid
 * until the unlock.  Not recursive; one key lock per thread at a time
 * (a multi-key get locks each key in turn); no whole-store function may
 * be called while holding it. */
void braid_mc_store_lock_key (BraidMcStore *store, const guint8 *key, gsize key_len);
void braid_mc_store_unlock_key (BraidMcStore *store, const guint8 *key, gsize key_len);

/* Whole-store functions: each takes the shards' locks one at a time (the
 * caller holds no key lock). */

/* Changes the memory limit (evicting at once if it shrank).  The number
 * of shards stays: each gets its share of the new limit. */
void braid_mc_store_set_limit (BraidMcStore *store, gsize limit_bytes);
/* Copies the counters into @stats (curr_items and bytes as of now). */
void braid_mc_store_get_stats (BraidMcStore *store, BraidMcStats *stats);
/* "stats reset": zeroes the counters, except what describes the items
 * stored now (curr_items, total_items, bytes). */
void braid_mc_store_reset_stats (BraidMcStore *store);

/* The store's clock, in microseconds (monotonic) and Unix seconds. */
gint64 braid_mc_store_now (BraidMcStore *store);
gint64 braid_mc_store_real_seconds (BraidMcStore *store);
/* debugtime: moves the store's clock forward by @seconds. */
void braid_mc_store_add_time (BraidMcStore *store, gint64 seconds);

/* (transfer none) (nullable): valid while the caller holds @key's lock
 * (without it: until the store changes, in a single-threaded user).
 * Counts a get hit or miss and bumps the item in the LRU. */
BraidMcItem *braid_mc_store_get (BraidMcStore *store, const guint8 *key, gsize key_len);
/* get-and-touch. */
BraidMcItem *braid_mc_store_gat (BraidMcStore *store, const guint8 *key, gsize key_len, gint64 exptime);

/* Items are reference-counted and immutable once stored (their bytes;
 * expiry and LRU position may change): a reply may hold one after the
 * store has dropped it. */
BraidMcItem *braid_mc_item_ref (BraidMcItem *item);
void braid_mc_item_unref (BraidMcItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidMcItem, braid_mc_item_unref)
/* (transfer full): the item's data block as it goes on the wire, the value
 * and "\r\n", holding a reference to the item rather than a copy. */
GBytes *braid_mc_item_ref_data_block (BraidMcItem *item);

/* Key, value and flags never change; the cas may (md I), so read it
 * under the key lock. */
const guint8 *braid_mc_item_get_key (BraidMcItem *item, gsize *len);
const guint8 *braid_mc_item_get_value (BraidMcItem *item, gsize *len);
guint32 braid_mc_item_get_flags (BraidMcItem *item);
guint64 braid_mc_item_get_cas (BraidMcItem *item);
/* The cas a reply shows for @item: its own, or 0 when @store runs without
 * cas (-C), as memcached's items then have none. */
guint64 braid_mc_store_item_cas (BraidMcStore *store, BraidMcItem *item);

/* set/add/replace/append/prepend/cas, as @mode says; @cas only for CAS. */
BraidMcStoreResult braid_mc_store_store (BraidMcStore *store,
                                    BraidMcStoreMode mode,
                                    const guint8 *key, gsize key_len,
                                    guint32 flags, gint64 exptime,
                                    const guint8 *value, gsize value_len,
                                    guint64 cas);
BraidMcStoreResult braid_mc_store_delete (BraidMcStore *store, const guint8 *key, gsize key_len);
/* incr or decr, as @mode says: BRAID_MC_STORE_RESULT_STORED with *@result, NOT_FOUND,
 * NON_NUMERIC or NO_MEMORY. */
BraidMcStoreResult braid_mc_store_arith (BraidMcStore *store, const guint8 *key, gsize key_len,
                                    BraidMcArithMode mode, guint64 delta, guint64 *result);
BraidMcStoreResult braid_mc_store_touch (BraidMcStore *store, const guint8 *key, gsize key_len, gint64 exptime);
/* A storage command refused before its data was read, as too large for
 * -I: counts it and, if @forget_key (a set), drops the key's present
 * value, as memcached does so that a client never reads back the value
 * it meant to replace.  Not a delete: no delete counter moves. */
void braid_mc_store_refuse_too_large (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean forget_key);

/* flush_all [delay] */
void braid_mc_store_flush (BraidMcStore *store, gint64 delay);
/* Counts a flush_all refused before it flushed (-F, a bad delay): memcached
 * counts every text flush_all in cmd_flush, done or not. */
void braid_mc_store_count_refused_flush (BraidMcStore *store);

guint braid_mc_store_get_n_items (BraidMcStore *store);

/* What an admin listing ("stats cachedump", "lru_crawler metadump") shows
 * of one item.  @key is valid during the callback only. */
typedef struct {
  const guint8 *key;
  gsize key_len;
  gsize value_len;
  guint32 flags;
  guint64 cas;
  gboolean fetched;
  gint64 expires_real;   /* Unix seconds; 0 never */
  gint64 accessed_real;  /* Unix seconds: last stored, fetched or touched */
} BraidMcItemInfo;

typedef enum {
  BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST,   /* the LRU from its head */
  BRAID_MC_STORE_ORDER_LEAST_RECENT_FIRST,  /* the LRU from its tail */
} BraidMcStoreOrder;

/* Returns FALSE to stop the walk. */
typedef gboolean (*BraidMcStoreItemFunc) (const BraidMcItemInfo *info, gpointer user_data);

/* Calls @func for each live item in LRU @order, without counting a get or
 * moving anything.  @func runs with a shard's lock held and must not call
 * the store.  With several shards the order holds within each shard, and
 * the shards are walked one after another in index order. */
void braid_mc_store_foreach (BraidMcStore *store,
                             BraidMcStoreOrder order,
                             BraidMcStoreItemFunc func,
                             gpointer user_data);

G_END_DECLS
