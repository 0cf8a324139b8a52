/* braid — the memcached item store. */
#include "mc-store-private.h"
#include "tsan-private.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

/* What one item costs the index beyond its own allocation: a GHashTable
 * keeps a hash, a key pointer and a value pointer per slot, and at most
 * half of its slots are used after a resize. */
#define INDEX_COST_PER_ITEM (2 * (sizeof (guint) + 2 * sizeof (gpointer)))

/* Items checked at the LRU tail for expiry on each store: reclaiming
 * expired memory costs O(1) per request, never a scan of the store. */
#define TAIL_RECLAIM_CHECKS 5

/* A shard's share of the limit must hold one item of item_size_max:
 * memcached's nominal size leaves out the item's header here, the
 * allocator's rounding (a page, for a value served by mmap) and the
 * index's cost, which this margin covers with room to spare. */
#define SHARD_SLACK (64 * 1024)
#define MAX_SHARDS 1024

#define N_STATS (sizeof (BraidMcStats) / sizeof (guint64))
G_STATIC_ASSERT (sizeof (BraidMcStats) == N_STATS * sizeof (guint64));
G_STATIC_ASSERT (G_MAXUINT32 >= 1024 * 1024 * 1024 + 2);


/* A key as the index sees it.  The hash is computed by the store, with
 * its seed, when the view is made: GHashTable's hash function gets no
 * user data, so it only reads it back.  An item's view has no pointer to
 * the key (its bytes follow, in item->data: 8 bytes saved per item); a
 * lookup's probe carries one, and says so in the length's top bit. */
typedef struct {
  guint32 len;                 /* keys are short: 250 bytes, 187 in base64 */
  guint32 hash;
} KeyView;

#define KEY_VIEW_PROBE 0x80000000u

typedef struct {
  KeyView view;                /* first: the index is given &probe.view */
  const guint8 *key;
} KeyProbe;

/* Immutable once stored, except for its metadata (expiry, LRU links,
 * fetched): a reply holds a reference to the item rather than a copy of
 * its value, so the bytes may be on their way to a client after the store
 * has let go of the item. */
struct _BraidMcItem
{
  /* 64 bytes before the data, packed: every byte here is paid per item
   * (the benchmark's RSS per 100-byte item; memcached's header is 56). */
  KeyView view;                /* first: the hash table's key points here */
  /* The store's (while linked) and replies', which may drop theirs on
   * any thread.  C11 atomics rather than gatomicrefcount: the same
   * operations, but inline, so ThreadSanitizer sees them. */
  atomic_uint ref_count;
  guint32 flags;
  /* One word of state bits, the size the fetched flag alone took: the
   * meta protocol's marks cost an item nothing. */
  guint32 fetched : 1;
  guint32 stale : 1;           /* meta: invalidated (md I); served with X */
  guint32 win_token_sent : 1;  /* meta: one client was sent W; others see Z */
  guint32 key_binary : 1;      /* meta: stored under a base64 key (b) */
  guint32 value_len;           /* -I is at most 1 GiB */
  BraidMcItem *prev, *next;    /* LRU: head is the most recently used */
  gint64 expires;              /* store µs; 0 never */
  /* store µs: stored, fetched or touched.  Also what a delayed flush_all
   * goes by, as memcached's it->time: an item last used before the flush
   * time is flushed, and using it means it was valid, so it only moves
   * forward past the flush time for an item stored after it. */
  gint64 accessed_at;
  guint64 cas;
  guint8 data[];               /* key, '\0', value, "\r\n" */
};
G_STATIC_ASSERT (G_STRUCT_OFFSET (BraidMcItem, view) == 0);
G_STATIC_ASSERT (sizeof (BraidMcItem) == 64);

/* What malloc gives for @requested bytes, by glibc's rounding on 64-bit:
 * a chunk of the request plus its 8-byte header rounded up to 16 (32 at
 * least), or whole pages plus a 16-byte header past the mmap threshold.
 * Computed rather than asked with malloc_usable_size(): malloc sometimes
 * hands out a chunk 16 bytes bigger, depending on what the heap holds,
 * and the same item must count the same in every run (evictions are part
 * of what the seeded simulation replays). */
static gsize
allocation_size (gsize requested)
{
  if (requested >= 128 * 1024)
    return (requested + 16 + 4095) & ~(gsize) 4095;
  return MAX ((gsize) 32, (requested + 8 + 15) & ~(gsize) 15);
}

/* What the item counts against the limit: what the process really spends
 * on it, since -m bounds memory, not a nominal count.  (-I still uses
 * memcached's nominal size.)  Computed, not kept: 8 bytes per item. */
static gsize
item_size (BraidMcItem *item)
{
  return allocation_size (sizeof (BraidMcItem) + item->view.len + 1 + item->value_len + 2) +
         INDEX_COST_PER_ITEM;
}

/* One lock's worth of the store: everything here but the lock is read
 * and written only with @lock held.  Items live in the shard their key
 * hashes to, and their mutable fields (expiry, LRU links, marks, cas) are
 * the shard's too. */
typedef struct
{
  GMutex lock;
  GHashTable *index;           /* KeyView* → BraidMcItem* (a reference) */
  BraidMcItem *lru_head, *lru_tail;
  gsize used;
  gsize limit;                 /* this shard's share of limit_bytes */
  guint64 last_cas;            /* the cas given last to an item here */
  BraidMcStats stats;          /* curr_items and bytes unused: see index, used */
} Shard;

struct _BraidMcStore
{
  /* (unowned) (nullable): a weak pointer.  The store is shared by
   * connections, which the reactor owns through their transports: a
   * strong reference here would be a cycle that no teardown order breaks.
   * Once the reactor is gone, the clock stops at its last reading.  Its
   * clock must be safe to read from every thread that uses the store
   * (the GLib reactor's is; the fake reactor's is not). */
  BraidReactor *reactor;
  /* The cached clock, read and written from any thread. */
  _Atomic gint64 last_now_us, last_real_us;
  _Atomic gint64 time_offset_us;       /* debugtime */
  BraidMcStoreSettings settings;       /* n_shards as used; limit_bytes as set last */
  guint64 hash_seed;           /* keyed hash: chosen keys cannot collide on purpose */
  guint n_shards;
  Shard *shards;
  _Atomic guint64 next_cas;            /* the last cas given, store-wide */
  _Atomic guint64 oldest_cas;  /* flush_all now: items with smaller cas are gone */
  _Atomic gint64 flush_at;     /* flush_all N: items stored before this are gone, from then on */
  /* Counters that belong to no key (flush_all, the meta commands'
   * braid_mc_store_count): atomic adds, summed into get_stats. */
  _Atomic guint64 counts[N_STATS];
};

/* The shard whose lock this thread holds through braid_mc_store_lock_key
 * (NULL: none).  A store function on a key in that shard runs without
 * locking again; any other locks the key's shard for the call.
 * initial-exec: read on every store call, so no __tls_get_addr. */
static _Thread_local Shard *held_shard __attribute__ ((tls_model ("initial-exec")));

/* XXH3 keyed with a per-store random seed: keys chosen to collide under
 * a fixed hash (DJB2's "Ez"/"FY" blocks, say) spread like any others. */
static KeyView
make_view (BraidMcStore *store, const guint8 *key, gsize len)
{
  KeyView view = { (guint32) len, (guint32) XXH3_64bits_withSeed (key, len, store->hash_seed) };

  return view;
}

static KeyProbe
make_probe (BraidMcStore *store, const guint8 *key, gsize len)
{
  KeyProbe probe = { make_view (store, key, len), key };

  probe.view.len |= KEY_VIEW_PROBE;
  return probe;
}

guint
braid_mc_store_hash_key (BraidMcStore *store, const guint8 *key, gsize len)
{
  g_return_val_if_fail (store != NULL, 0);
  return make_view (store, key, len).hash;
}

/* The hash's high bits pick the shard (multiply-shift): the index inside
 * the shard uses all of them modulo a prime, so the two do not fight. */
static Shard *
shard_of_hash (BraidMcStore *store, guint hash)
{
  return &store->shards[((guint64) hash * store->n_shards) >> 32];
}

static Shard *
shard_of_item (BraidMcStore *store, BraidMcItem *item)
{
  return shard_of_hash (store, item->view.hash);
}

guint
braid_mc_store_shard_of_key (BraidMcStore *store, const guint8 *key, gsize len)
{
  g_return_val_if_fail (store != NULL, 0);
  return (guint) (shard_of_hash (store, make_view (store, key, len).hash) - store->shards);
}

/* GLib's GMutex is invisible to ThreadSanitizer: tsan-private.h's lock
 * functions tell it about the edges. */
static inline void
shard_lock (Shard *shard)
{
  braid_mutex_lock (&shard->lock);
}

static inline void
shard_unlock (Shard *shard)
{
  braid_mutex_unlock (&shard->lock);
}

/* Locks @shard for one call unless this thread holds it already (its
 * caller's key lock); returns whether it locked.  Locking a second shard
 * while holding a key lock could deadlock against a thread doing the
 * reverse: a critical, as any other misuse of the locks. */
static gboolean
shard_enter (Shard *shard)
{
  if (held_shard == shard)
    return FALSE;
  if (held_shard != NULL)
    g_log (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "braid_mc_store: a call on one key while holding another key's lock");
  shard_lock (shard);
  return TRUE;
}

static void
shard_leave (Shard *shard, gboolean locked)
{
  if (locked)
    shard_unlock (shard);
}

void
braid_mc_store_lock_key (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (key != NULL || key_len == 0);
  g_return_if_fail (held_shard == NULL);

  Shard *shard = shard_of_hash (store, make_view (store, key, key_len).hash);

  shard_lock (shard);
  held_shard = shard;
}

void
braid_mc_store_unlock_key (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (key != NULL || key_len == 0);

  Shard *shard = shard_of_hash (store, make_view (store, key, key_len).hash);

  g_return_if_fail (held_shard == shard);
  held_shard = NULL;
  shard_unlock (shard);
}

/* A whole-store function may not run under a key lock: it would take
 * that shard's lock again.  (g_log, not g_critical: with structured
 * logging only g_log's criticals reach g_test_expect_message.) */
#define RETURN_IF_KEY_LOCK_HELD(val) \
  G_STMT_START { \
    if (held_shard != NULL) \
      { \
        g_log (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "%s: called while holding a key lock", G_STRFUNC); \
        return val; \
      } \
  } G_STMT_END

static guint
key_hash (gconstpointer p)
{
  return ((const KeyView *) p)->hash;
}

static const guint8 *
view_key (const KeyView *view)
{
  if (view->len & KEY_VIEW_PROBE)
    return ((const KeyProbe *) view)->key;
  return ((const BraidMcItem *) view)->data;
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  const KeyView *x = a, *y = b;
  guint32 len = x->len & ~KEY_VIEW_PROBE;

  /* the empty key may come as (NULL, 0), which memcmp must not see */
  return len == (y->len & ~KEY_VIEW_PROBE) && (len == 0 || memcmp (view_key (x), view_key (y), len) == 0);
}

static guint64
random_seed (void)
{
  guint64 seed = 0;

  /* The kernel's entropy, not a GRand: the seed is a secret against
   * attackers, and nothing observable depends on it. */
  if (getrandom (&seed, sizeof seed, 0) != (ssize_t) sizeof seed)
    seed = (guint64) GPOINTER_TO_SIZE (&seed) ^ ((guint64) getpid () << 32);  /* ASLR, no clock */
  return seed != 0 ? seed : 1;
}

/* As many shards as asked, but each must hold an item of item_size_max. */
static guint
usable_shards (const BraidMcStoreSettings *settings)
{
  gsize fit = settings->limit_bytes / (settings->item_size_max + SHARD_SLACK);
  guint n = MAX (settings->n_shards, 1);

  n = MIN (n, MAX_SHARDS);
  return (guint) MAX (MIN ((gsize) n, fit), 1);
}

/* Shard @i's share of @limit: the first ones take the remainder, so the
 * shares add up to @limit exactly. */
static gsize
shard_limit (BraidMcStore *store, gsize limit, guint i)
{
  return limit / store->n_shards + (i < limit % store->n_shards ? 1 : 0);
}

BraidMcStore *
braid_mc_store_new (BraidReactor *reactor, const BraidMcStoreSettings *settings)
{
  BraidMcStore *store;
  BraidMcStoreSettings defaults = BRAID_MC_STORE_SETTINGS_INIT;

  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);

  store = g_new0 (BraidMcStore, 1);
  store->reactor = reactor;
  g_object_add_weak_pointer (G_OBJECT (reactor), (gpointer *) &store->reactor);
  store->settings = settings != NULL ? *settings : defaults;
  store->hash_seed = store->settings.hash_seed != 0 ? store->settings.hash_seed : random_seed ();
  store->n_shards = usable_shards (&store->settings);
  store->settings.n_shards = store->n_shards;
  store->shards = g_new0 (Shard, store->n_shards);
  for (guint i = 0; i < store->n_shards; i++)
    {
      Shard *shard = &store->shards[i];

      g_mutex_init (&shard->lock);
      shard->index = g_hash_table_new_full (key_hash, key_equal, NULL, (GDestroyNotify) braid_mc_item_unref);
      shard->limit = shard_limit (store, store->settings.limit_bytes, i);
    }
  return store;
}

void
braid_mc_store_free (BraidMcStore *store)
{
  if (store == NULL)
    return;
  for (guint i = 0; i < store->n_shards; i++)
    {
      g_hash_table_unref (store->shards[i].index);
      g_mutex_clear (&store->shards[i].lock);
    }
  g_free (store->shards);
  if (store->reactor != NULL)
    g_object_remove_weak_pointer (G_OBJECT (store->reactor), (gpointer *) &store->reactor);
  g_free (store);
}

const BraidMcStoreSettings *
braid_mc_store_get_settings (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);

  return &store->settings;
}

void
braid_mc_store_get_stats (BraidMcStore *store, BraidMcStats *stats)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (stats != NULL);
  RETURN_IF_KEY_LOCK_HELD ();

  guint64 *sum = (guint64 *) stats;

  memset (stats, 0, sizeof *stats);
  for (guint i = 0; i < N_STATS; i++)
    sum[i] = atomic_load_explicit (&store->counts[i], memory_order_relaxed);
  /* One shard at a time: under traffic the sum is of moments a little
   * apart, as memcached's per-thread counters are. */
  for (guint s = 0; s < store->n_shards; s++)
    {
      Shard *shard = &store->shards[s];
      const guint64 *counters = (const guint64 *) &shard->stats;

      shard_lock (shard);
      for (guint i = 0; i < N_STATS; i++)
        sum[i] += counters[i];
      stats->curr_items += g_hash_table_size (shard->index);
      stats->bytes += shard->used;
      shard_unlock (shard);
    }
}

void
braid_mc_store_reset_stats (BraidMcStore *store)
{
  g_return_if_fail (store != NULL);
  RETURN_IF_KEY_LOCK_HELD ();

  for (guint i = 0; i < N_STATS; i++)
    atomic_store_explicit (&store->counts[i], 0, memory_order_relaxed);
  for (guint s = 0; s < store->n_shards; s++)
    {
      Shard *shard = &store->shards[s];
      guint64 total_items;

      /* What describes the items stored now survives, as in memcached. */
      shard_lock (shard);
      total_items = shard->stats.total_items;
      memset (&shard->stats, 0, sizeof shard->stats);
      shard->stats.total_items = total_items;
      shard_unlock (shard);
    }
}

guint
braid_mc_store_get_n_items (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  RETURN_IF_KEY_LOCK_HELD (0);

  guint n = 0;

  for (guint s = 0; s < store->n_shards; s++)
    {
      shard_lock (&store->shards[s]);
      n += g_hash_table_size (store->shards[s].index);
      shard_unlock (&store->shards[s]);
    }
  return n;
}

void
braid_mc_store_get_shard_info (BraidMcStore *store, guint index, BraidMcShardInfo *info)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (index < store->n_shards);
  g_return_if_fail (info != NULL);
  RETURN_IF_KEY_LOCK_HELD ();

  Shard *shard = &store->shards[index];

  memset (info, 0, sizeof *info);
  shard_lock (shard);
  info->n_items = g_hash_table_size (shard->index);
  info->used = shard->used;
  info->limit = shard->limit;
  for (BraidMcItem *item = shard->lru_head; item != NULL; item = item->next)
    {
      info->lru_length++;
      info->sum_of_sizes += item_size (item);
    }
  shard_unlock (shard);
}

/* ---- time ---- */

/* Keeps the clock's last reading, to the millisecond, for when the
 * reactor is gone.  Written only when it moved that far: every command
 * reads the clock, on every thread, and a write per read would pass the
 * cache line between the threads. */
static inline void
remember_reading (_Atomic gint64 *last, gint64 now)
{
  gint64 before = atomic_load_explicit (last, memory_order_relaxed);

  if (now - before >= 1000 || now < before)
    atomic_store_explicit (last, now, memory_order_relaxed);
}

gint64
braid_mc_store_now (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  BraidReactor *reactor = store->reactor;
  gint64 now;

  if (reactor != NULL)
    {
      now = braid_reactor_now (reactor);
      remember_reading (&store->last_now_us, now);
    }
  else
    now = atomic_load_explicit (&store->last_now_us, memory_order_relaxed);
  return now + atomic_load_explicit (&store->time_offset_us, memory_order_relaxed);
}

gint64
braid_mc_store_real_seconds (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  BraidReactor *reactor = store->reactor;
  gint64 real;

  if (reactor != NULL)
    {
      real = braid_reactor_real_time (reactor);
      remember_reading (&store->last_real_us, real);
    }
  else
    real = atomic_load_explicit (&store->last_real_us, memory_order_relaxed);
  return (real + atomic_load_explicit (&store->time_offset_us, memory_order_relaxed)) / G_USEC_PER_SEC;
}

void
braid_mc_store_add_time (BraidMcStore *store, gint64 seconds)
{
  g_return_if_fail (store != NULL);

  atomic_fetch_add_explicit (&store->time_offset_us, seconds * G_USEC_PER_SEC, memory_order_relaxed);
}

/* An expiry time already past at @now.  Never 0, which means "never":
 * at the clock's first microsecond (the fake reactor's 1) now - 1 is. */
static gint64
already_expired (gint64 now)
{
  return now - 1 != 0 ? now - 1 : -1;
}

/* memcached's realtime(): 0 never; negative already expired; up to 30
 * days relative; larger an absolute Unix time. */
static gint64
expiry_time (BraidMcStore *store, gint64 exptime)
{
  gint64 now = braid_mc_store_now (store);

  if (exptime == 0)
    return 0;
  if (exptime < 0)
    return already_expired (now);
  if (exptime > BRAID_MC_REALTIME_MAXDELTA)
    {
      gint64 real = braid_mc_store_real_seconds (store);

      if (exptime <= real)
        return already_expired (now);
      return now + (exptime - real) * G_USEC_PER_SEC;
    }
  return now + exptime * G_USEC_PER_SEC;
}

static gboolean
is_expired (BraidMcStore *store, BraidMcItem *item)
{
  return item->expires != 0 && item->expires <= braid_mc_store_now (store);
}

static gboolean
is_flushed (BraidMcStore *store, BraidMcItem *item)
{
  gint64 flush_at = atomic_load_explicit (&store->flush_at, memory_order_relaxed);

  if (item->cas < atomic_load_explicit (&store->oldest_cas, memory_order_relaxed))
    return TRUE;
  return flush_at != 0 && flush_at <= braid_mc_store_now (store) && item->accessed_at < flush_at;
}

/* ---- LRU ---- */

static void
lru_unlink (Shard *shard, BraidMcItem *item)
{
  if (item->prev != NULL)
    item->prev->next = item->next;
  else
    shard->lru_head = item->next;
  if (item->next != NULL)
    item->next->prev = item->prev;
  else
    shard->lru_tail = item->prev;
  item->prev = item->next = NULL;
}

static void
lru_push_head (Shard *shard, BraidMcItem *item)
{
  item->prev = NULL;
  item->next = shard->lru_head;
  if (shard->lru_head != NULL)
    shard->lru_head->prev = item;
  shard->lru_head = item;
  if (shard->lru_tail == NULL)
    shard->lru_tail = item;
}

static void
lru_bump (Shard *shard, BraidMcItem *item)
{
  lru_unlink (shard, item);
  lru_push_head (shard, item);
}

/* Drops the shard's reference: an item a reply holds lives on, unlinked. */
static void
unlink_item (Shard *shard, BraidMcItem *item)
{
  lru_unlink (shard, item);
  shard->used -= item_size (item);
  g_hash_table_remove (shard->index, &item->view);  /* unrefs it */
}

/* Whether only the store holds @item (with its shard locked, nobody else
 * can take a reference: only one held already can be copied).  Acquire:
 * a reply that just dropped its reference has finished reading. */
static gboolean
sole_reference (BraidMcItem *item)
{
  return atomic_load_explicit (&item->ref_count, memory_order_acquire) == 1;
}

/* A new cas, unique and increasing store-wide; the shard remembers it
 * for braid_mc_store_get_last_cas. */
static guint64
next_cas (BraidMcStore *store, Shard *shard)
{
  shard->last_cas = atomic_fetch_add_explicit (&store->next_cas, 1, memory_order_relaxed) + 1;
  return shard->last_cas;
}

/* ---- items ---- */

/* memcpy, for a caller's key or value that may be (NULL, 0): memcpy's
 * arguments must not be NULL even for no bytes. */
static inline void
copy_in (void *to, const void *from, gsize n)
{
  if (n > 0)
    memcpy (to, from, n);
}

static BraidMcItem *
item_new (BraidMcStore *store, const guint8 *key, gsize key_len, guint32 flags,
          gint64 expires, gsize value_len)
{
  BraidMcItem *item = g_malloc (sizeof (BraidMcItem) + key_len + 1 + value_len + 2);

  memset (item, 0, sizeof *item);
  atomic_init (&item->ref_count, 1);
  copy_in (item->data, key, key_len);
  item->data[key_len] = '\0';
  item->view = make_view (store, item->data, key_len);
  item->flags = flags;
  item->expires = expires;
  item->value_len = (guint32) value_len;
  item->data[key_len + 1 + value_len] = '\r';
  item->data[key_len + 1 + value_len + 1] = '\n';
  return item;
}

static guint8 *
item_value (BraidMcItem *item)
{
  return item->data + item->view.len + 1;
}

BraidMcItem *
braid_mc_item_ref (BraidMcItem *item)
{
  g_return_val_if_fail (item != NULL, NULL);
  atomic_fetch_add_explicit (&item->ref_count, 1, memory_order_relaxed);
  return item;
}

void
braid_mc_item_unref (BraidMcItem *item)
{
  g_return_if_fail (item != NULL);
  /* release: this thread's reads of the item happen before the free;
   * acquire: the free happens after every other thread's */
  if (atomic_fetch_sub_explicit (&item->ref_count, 1, memory_order_acq_rel) == 1)
    g_free (item);
}

GBytes *
braid_mc_item_ref_data_block (BraidMcItem *item)
{
  g_return_val_if_fail (item != NULL, NULL);
  return g_bytes_new_with_free_func (item_value (item), item->value_len + 2,
                                     (GDestroyNotify) braid_mc_item_unref, braid_mc_item_ref (item));
}

const guint8 *
braid_mc_item_get_key (BraidMcItem *item, gsize *len)
{
  g_return_val_if_fail (item != NULL && len != NULL, NULL);

  *len = item->view.len;
  return item->data;
}

const guint8 *
braid_mc_item_get_value (BraidMcItem *item, gsize *len)
{
  g_return_val_if_fail (item != NULL && len != NULL, NULL);

  *len = item->value_len;
  return item_value (item);
}

guint32
braid_mc_item_get_flags (BraidMcItem *item)
{
  g_return_val_if_fail (item != NULL, 0);

  return item->flags;
}

guint64
braid_mc_item_get_cas (BraidMcItem *item)
{
  g_return_val_if_fail (item != NULL, 0);

  return item->cas;
}

/* With -C memcached's items carry no cas: every reply shows 0, and a cas
 * compare is made against 0.  braid still numbers its items, since
 * flush_all orders them by that number, but never shows it. */
static guint64
visible_cas (BraidMcStore *store, BraidMcItem *item)
{
  return store->settings.cas_enabled ? item->cas : 0;
}

guint64
braid_mc_store_item_cas (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL, 0);
  g_return_val_if_fail (item != NULL, 0);

  return visible_cas (store, item);
}

/* Finds a live item: expired and flushed ones are unlinked on sight. */
static BraidMcItem *
find_live (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len, gboolean count_get)
{
  KeyProbe probe = make_probe (store, key, key_len);
  BraidMcItem *item = g_hash_table_lookup (shard->index, &probe.view);

  if (item == NULL)
    return NULL;
  if (is_flushed (store, item))
    {
      if (count_get)
        shard->stats.get_flushed++;
      unlink_item (shard, item);
      return NULL;
    }
  if (is_expired (store, item))
    {
      if (count_get)
        shard->stats.get_expired++;
      if (!item->fetched)
        shard->stats.expired_unfetched++;
      unlink_item (shard, item);
      return NULL;
    }
  return item;
}

static void
reclaim_tail (BraidMcStore *store, Shard *shard)
{
  BraidMcItem *item = shard->lru_tail;

  for (guint i = 0; i < TAIL_RECLAIM_CHECKS && item != NULL; i++)
    {
      BraidMcItem *prev = item->prev;

      if (is_expired (store, item) || is_flushed (store, item))
        {
          if (!item->fetched && is_expired (store, item))
            shard->stats.expired_unfetched++;
          shard->stats.reclaimed++;
          unlink_item (shard, item);
        }
      item = prev;
    }
}

/* Makes room for @size bytes; FALSE if it cannot (or must not evict). */
static gboolean
make_room (BraidMcStore *store, Shard *shard, gsize size, gboolean evict)
{
  reclaim_tail (store, shard);
  while (shard->used + size > shard->limit)
    {
      BraidMcItem *victim = shard->lru_tail;

      if (victim == NULL || !evict)
        return FALSE;
      shard->stats.evictions++;
      if (!victim->fetched)
        shard->stats.evicted_unfetched++;
      unlink_item (shard, victim);
    }
  return TRUE;
}

/* Puts @item in place of whatever holds its key.  Takes ownership.  On
 * failure the old item stays, as in memcached (the new one is never
 * allocated there). */
/* What memcached charges an item against -I (not what it costs here). */
static gsize
nominal_size (BraidMcStore *store, gsize key_len, guint32 flags, gsize value_len)
{
  return braid_mc_item_size (key_len, flags, value_len, store->settings.cas_enabled);
}

static BraidMcStoreResult
link_item (BraidMcStore *store, Shard *shard, BraidMcItem *item, BraidMcItem *old)
{
  gsize old_size = old != NULL ? item_size (old) : 0;

  if (nominal_size (store, item->view.len, item->flags, item->value_len) > store->settings.item_size_max)
    {
      shard->stats.store_too_large++;
      braid_mc_item_unref (item);
      return BRAID_MC_STORE_RESULT_TOO_LARGE;
    }
  if (item_size (item) > shard->limit ||
      (!store->settings.evict && shard->used - old_size + item_size (item) > shard->limit))
    {
      shard->stats.store_no_memory++;
      braid_mc_item_unref (item);
      return BRAID_MC_STORE_RESULT_NO_MEMORY;
    }
  if (old != NULL)
    unlink_item (shard, old);
  make_room (store, shard, item_size (item), store->settings.evict);
  item->cas = next_cas (store, shard);
  item->accessed_at = braid_mc_store_now (store);
  g_hash_table_insert (shard->index, &item->view, item);
  lru_push_head (shard, item);
  shard->used += item_size (item);
  shard->stats.total_items++;
  return BRAID_MC_STORE_RESULT_STORED;
}

/* A live item read by a client: fetched, accessed now, bumped. */
static BraidMcItem *
fetch_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len)
{
  BraidMcItem *item = find_live (store, shard, key, key_len, TRUE);

  if (item == NULL)
    return NULL;
  item->fetched = TRUE;
  item->accessed_at = braid_mc_store_now (store);
  lru_bump (shard, item);
  return item;
}

static BraidMcItem *
get_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len)
{
  BraidMcItem *item = fetch_locked (store, shard, key, key_len);

  shard->stats.cmd_get++;
  if (item == NULL)
    {
      shard->stats.get_misses++;
      return NULL;
    }
  shard->stats.get_hits++;
  return item;
}

/* memcached counts a gat as a touch only, never as a get (1.6.18, text
 * and binary alike). */
static BraidMcItem *
gat_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len, gint64 exptime)
{
  BraidMcItem *item = fetch_locked (store, shard, key, key_len);

  shard->stats.cmd_touch++;
  if (item == NULL)
    {
      shard->stats.touch_misses++;
      return NULL;
    }
  shard->stats.touch_hits++;
  item->expires = expiry_time (store, exptime);
  return item;
}

static BraidMcStoreResult
store_locked (BraidMcStore *store, Shard *shard,
                      BraidMcStoreMode mode,
                      const guint8 *key, gsize key_len,
                      guint32 flags, gint64 exptime,
                      const guint8 *value, gsize value_len,
                      guint64 cas)
{
  g_return_val_if_fail (value != NULL || value_len == 0, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_return_val_if_fail (braid_mc_store_mode_name (mode) != NULL, BRAID_MC_STORE_RESULT_NOT_STORED);

  BraidMcItem *old = find_live (store, shard, key, key_len, FALSE);
  BraidMcItem *item;
  BraidMcStoreResult result;

  shard->stats.cmd_set++;
  switch (mode)
    {
    case BRAID_MC_STORE_MODE_ADD:
      if (old != NULL)
        {
          /* memcached bumps the existing item on a failed add. */
          lru_bump (shard, old);
          return BRAID_MC_STORE_RESULT_NOT_STORED;
        }
      break;
    case BRAID_MC_STORE_MODE_REPLACE:
    case BRAID_MC_STORE_MODE_APPEND:
    case BRAID_MC_STORE_MODE_PREPEND:
      if (old == NULL)
        return BRAID_MC_STORE_RESULT_NOT_STORED;
      break;
    case BRAID_MC_STORE_MODE_CAS:
      if (old == NULL)
        {
          shard->stats.cas_misses++;
          return BRAID_MC_STORE_RESULT_NOT_FOUND;
        }
      /* under -C memcached 1.6.18 answers EXISTS to every cas, even 0 */
      if (!store->settings.cas_enabled || old->cas != cas)
        {
          shard->stats.cas_badval++;
          return BRAID_MC_STORE_RESULT_EXISTS;
        }
      shard->stats.cas_hits++;
      break;
    default:
      break;
    }

  if (mode == BRAID_MC_STORE_MODE_APPEND || mode == BRAID_MC_STORE_MODE_PREPEND)
    {
      /* The old item keeps its flags and expiry.  Past the size limit
       * memcached cannot allocate the joined item: NOT_STORED. */
      gsize total = old->value_len + value_len;

      if (nominal_size (store, key_len, old->flags, total) > store->settings.item_size_max)
        return BRAID_MC_STORE_RESULT_NOT_STORED;
      item = item_new (store, key, key_len, old->flags, old->expires, total);
      if (mode == BRAID_MC_STORE_MODE_APPEND)
        {
          memcpy (item_value (item), item_value (old), old->value_len);
          copy_in (item_value (item) + old->value_len, value, value_len);
        }
      else
        {
          copy_in (item_value (item), value, value_len);
          memcpy (item_value (item) + value_len, item_value (old), old->value_len);
        }
    }
  else
    {
      item = item_new (store, key, key_len, flags, expiry_time (store, exptime), value_len);
      if (value_len > 0)
        copy_in (item_value (item), value, value_len);
    }
  result = link_item (store, shard, item, old);
  /* A set refused for memory (-M, or an item over the whole budget) must
   * not leave the old value to be served as if nothing had happened:
   * memcached unlinks it (set only). */
  if (result == BRAID_MC_STORE_RESULT_NO_MEMORY && mode == BRAID_MC_STORE_MODE_SET && old != NULL)
    unlink_item (shard, old);
  return result;
}


static BraidMcStoreResult
delete_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len)
{

  BraidMcItem *item = find_live (store, shard, key, key_len, FALSE);

  if (item == NULL)
    {
      shard->stats.delete_misses++;
      return BRAID_MC_STORE_RESULT_NOT_FOUND;
    }
  shard->stats.delete_hits++;
  unlink_item (shard, item);
  return BRAID_MC_STORE_RESULT_DELETED;
}

/* memcached's safe_strtoull over the item's data (which ends in "\r\n"). */
static gboolean
parse_counter (BraidMcItem *item, guint64 *out)
{
  g_autofree gchar *text = g_strndup ((const gchar *) item_value (item), item->value_len + 2);
  gchar *end = NULL;
  guint64 v;

  /* memcached cannot count on an empty value */
  if (item->value_len == 0)
    return FALSE;
  errno = 0;
  v = g_ascii_strtoull (text, &end, 10);
  if (errno == ERANGE)
    return FALSE;
  if (!(g_ascii_isspace (*end) || (*end == '\0' && end != text)))
    return FALSE;
  if ((gint64) v < 0 && strchr (text, '-') != NULL)
    return FALSE;
  *out = v;
  return TRUE;
}

static BraidMcStoreResult
arith_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len,
                      BraidMcArithMode mode, guint64 delta, guint64 *result)
{
  g_return_val_if_fail (result != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);

  gboolean incr = mode == BRAID_MC_ARITH_MODE_INCR;
  BraidMcItem *item = find_live (store, shard, key, key_len, FALSE);
  guint64 value;
  gchar digits[24];
  gsize n;

  if (item == NULL)
    {
      if (incr)
        shard->stats.incr_misses++;
      else
        shard->stats.decr_misses++;
      return BRAID_MC_STORE_RESULT_NOT_FOUND;
    }
  if (!parse_counter (item, &value))
    return BRAID_MC_STORE_RESULT_NON_NUMERIC;
  if (incr)
    {
      value += delta;  /* wraps at 2^64, as memcached */
      shard->stats.incr_hits++;
    }
  else
    {
      value = delta > value ? 0 : value - delta;
      shard->stats.decr_hits++;
    }
  *result = value;
  n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, value);

  /* In place only while nothing but the store holds the item: a reply on
   * its way to a client keeps the bytes it was given. */
  if (n <= item->value_len && sole_reference (item))
    {
      /* In place, padded with spaces: the length stays (memcached does
       * the same, so "18446744073709551615" + 1 reads "0" + 19 spaces). */
      memcpy (item_value (item), digits, n);
      memset (item_value (item) + n, ' ', item->value_len - n);
      item->cas = next_cas (store, shard);
      lru_bump (shard, item);
      return BRAID_MC_STORE_RESULT_STORED;
    }
  {
    BraidMcItem *grown = item_new (store, key, key_len, item->flags, item->expires, n);
    BraidMcStoreResult r;

    memcpy (item_value (grown), digits, n);
    r = link_item (store, shard, grown, item);
    return r == BRAID_MC_STORE_RESULT_STORED ? BRAID_MC_STORE_RESULT_STORED : BRAID_MC_STORE_RESULT_NO_MEMORY;
  }
}

static BraidMcStoreResult
touch_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len, gint64 exptime)
{

  BraidMcItem *item = find_live (store, shard, key, key_len, FALSE);

  shard->stats.cmd_touch++;
  if (item == NULL)
    {
      shard->stats.touch_misses++;
      return BRAID_MC_STORE_RESULT_NOT_FOUND;
    }
  shard->stats.touch_hits++;
  item->expires = expiry_time (store, exptime);
  item->accessed_at = braid_mc_store_now (store);
  lru_bump (shard, item);
  return BRAID_MC_STORE_RESULT_TOUCHED;
}

static void
count_flush (BraidMcStore *store)
{
  atomic_fetch_add_explicit (&store->counts[G_STRUCT_OFFSET (BraidMcStats, cmd_flush) / sizeof (guint64)], 1,
                             memory_order_relaxed);
}

void
braid_mc_store_count_refused_flush (BraidMcStore *store)
{
  g_return_if_fail (store != NULL);

  count_flush (store);
}

void
braid_mc_store_flush (BraidMcStore *store, gint64 delay)
{
  g_return_if_fail (store != NULL);

  /* No shard's lock: items are judged flushed when next looked at. */
  count_flush (store);
  if (delay > 0)
    {
      atomic_store_explicit (&store->flush_at, expiry_time (store, delay), memory_order_relaxed);
      return;
    }
  /* Everything stored so far is gone; what is stored next is not, even
   * within the same microsecond.  As in memcached, the flush takes a cas
   * id of its own, so the next item's cas is one higher (clients see it).
   * An item whose cas was taken before this one but linked after it, on
   * another thread, is gone too: its store happened before the flush. */
  atomic_store_explicit (&store->oldest_cas,
                         atomic_fetch_add_explicit (&store->next_cas, 1, memory_order_relaxed) + 1,
                         memory_order_relaxed);
  atomic_store_explicit (&store->flush_at, 0, memory_order_relaxed);
}

void
braid_mc_store_set_limit (BraidMcStore *store, gsize limit_bytes)
{
  g_return_if_fail (store != NULL);
  RETURN_IF_KEY_LOCK_HELD ();

  /* A racing get_settings() may read the old limit: admin only. */
  store->settings.limit_bytes = limit_bytes;
  for (guint i = 0; i < store->n_shards; i++)
    {
      Shard *shard = &store->shards[i];

      shard_lock (shard);
      shard->limit = shard_limit (store, limit_bytes, i);
      make_room (store, shard, 0, TRUE);
      shard_unlock (shard);
    }
}

/* A store time (µs) as a Unix time in seconds. */
static gint64
real_seconds_at (gint64 now, gint64 real, gint64 t)
{
  return real + (t - now) / G_USEC_PER_SEC;
}

static gboolean foreach_in_shard (BraidMcStore *store, Shard *shard, gint64 now, gint64 real,
                                  gboolean newest_first, BraidMcStoreItemFunc func, gpointer user_data);

void
braid_mc_store_foreach (BraidMcStore *store,
                        BraidMcStoreOrder order,
                        BraidMcStoreItemFunc func,
                        gpointer user_data)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (func != NULL);

  RETURN_IF_KEY_LOCK_HELD ();

  gint64 now = braid_mc_store_now (store);
  gint64 real = braid_mc_store_real_seconds (store);
  gboolean newest_first = order == BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST;
  gboolean go_on = TRUE;

  for (guint s = 0; s < store->n_shards && go_on; s++)
    {
      Shard *shard = &store->shards[s];

      shard_lock (shard);
      go_on = foreach_in_shard (store, shard, now, real, newest_first, func, user_data);
      shard_unlock (shard);
    }
}

static gboolean
foreach_in_shard (BraidMcStore *store, Shard *shard, gint64 now, gint64 real, gboolean newest_first,
                  BraidMcStoreItemFunc func, gpointer user_data)
{
  for (BraidMcItem *item = newest_first ? shard->lru_head : shard->lru_tail; item != NULL;
       item = newest_first ? item->next : item->prev)
    {
      BraidMcItemInfo info;

      /* Dead items wait for a get or the tail check to unlink them: they
       * are not listed, and not unlinked here (the walk would lose its
       * place). */
      if (is_expired (store, item) || is_flushed (store, item))
        continue;
      info.key = item->data;
      info.key_len = item->view.len;
      info.value_len = item->value_len;
      info.flags = item->flags;
      info.cas = visible_cas (store, item);   /* 0 under -C, as memcached lists it */
      info.fetched = item->fetched;
      info.expires_real = item->expires == 0 ? 0 : real_seconds_at (now, real, item->expires);
      info.accessed_real = real_seconds_at (now, real, item->accessed_at);
      if (!func (&info, user_data))
        return FALSE;
    }
  return TRUE;
}

static void
refuse_too_large_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len, gboolean forget_key)
{

  BraidMcItem *item = forget_key ? find_live (store, shard, key, key_len, FALSE) : NULL;

  shard->stats.store_too_large++;
  if (item != NULL)
    unlink_item (shard, item);
}

/* ---- the meta protocol (mc-store-private.h) ----
 *
 * Kept apart from the classic commands above: memcached 1.6.18 counts
 * and compares differently for mg, ms, md and ma, and the classic
 * functions stay as they were. */

#define META_ACCESS_UPDATE_INTERVAL_US (60 * G_USEC_PER_SEC)

void
braid_mc_store_count (BraidMcStore *store, gsize stat_offset)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (stat_offset + sizeof (guint64) <= sizeof (BraidMcStats));

  atomic_fetch_add_explicit (&store->counts[stat_offset / sizeof (guint64)], 1, memory_order_relaxed);
}

static BraidMcItem *
peek_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len)
{

  return find_live (store, shard, key, key_len, TRUE);
}

static void
bump_locked (BraidMcStore *store, Shard *shard, BraidMcItem *item)
{

  gint64 now = braid_mc_store_now (store);

  item->fetched = TRUE;
  /* memcached moves an item's access time at most once a minute
   * (ITEM_UPDATE_INTERVAL), and mg's l and me's la= show it. */
  if (now - item->accessed_at >= META_ACCESS_UPDATE_INTERVAL_US)
    item->accessed_at = now;
  lru_bump (shard, item);
}

static void
set_expiry_locked (BraidMcStore *store, G_GNUC_UNUSED Shard *shard, BraidMcItem *item, gint64 exptime)
{

  item->expires = expiry_time (store, exptime);
}

static gboolean
expires_before_locked (BraidMcStore *store, G_GNUC_UNUSED Shard *shard, BraidMcItem *item, gint64 exptime)
{

  /* memcached's clock ticks in whole seconds: an item set with T30 is
   * not "sooner than R30" until a second has passed. */
  return item->expires != 0 && item->expires / G_USEC_PER_SEC < expiry_time (store, exptime) / G_USEC_PER_SEC;
}

/* Whole seconds from @from to @to, rounded up: memcached's clock ticks in
 * seconds, so an item set with T30 shows 30 until a full second passes. */
static gint64
seconds_until (gint64 from, gint64 to)
{
  gint64 diff = to - from;

  return diff > 0 ? (diff + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC : -((-diff) / G_USEC_PER_SEC);
}

static gint64
get_ttl_locked (BraidMcStore *store, G_GNUC_UNUSED Shard *shard, BraidMcItem *item)
{

  if (item->expires == 0)
    return -1;
  /* memcached prints exptime - current_time as an unsigned 32-bit number,
   * so an item already past its time shows a huge one. */
  return (gint64) (guint32) seconds_until (braid_mc_store_now (store), item->expires);
}

static gint64
get_idle_locked (BraidMcStore *store, G_GNUC_UNUSED Shard *shard, BraidMcItem *item)
{

  return (braid_mc_store_now (store) - item->accessed_at) / G_USEC_PER_SEC;
}

static gint64
get_exp_debug_locked (BraidMcStore *store, G_GNUC_UNUSED Shard *shard, BraidMcItem *item)
{

  if (item->expires == 0)
    return -1;
  return -seconds_until (braid_mc_store_now (store), item->expires);
}

BraidMcItemMarks
braid_mc_item_get_marks (BraidMcItem *item)
{
  g_return_val_if_fail (item != NULL, 0);

  return (item->fetched ? BRAID_MC_ITEM_MARK_FETCHED : 0) | (item->stale ? BRAID_MC_ITEM_MARK_STALE : 0) |
         (item->win_token_sent ? BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT : 0) |
         (item->key_binary ? BRAID_MC_ITEM_MARK_KEY_BINARY : 0);
}

void
braid_mc_item_add_marks (BraidMcItem *item, BraidMcItemMarks marks)
{
  g_return_if_fail (item != NULL);

  item->fetched |= (marks & BRAID_MC_ITEM_MARK_FETCHED) != 0;
  item->stale |= (marks & BRAID_MC_ITEM_MARK_STALE) != 0;
  item->win_token_sent |= (marks & BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT) != 0;
  item->key_binary |= (marks & BRAID_MC_ITEM_MARK_KEY_BINARY) != 0;
}

static BraidMcItem *
vivify_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len,
                       const guint8 *value, gsize value_len)
{
  g_return_val_if_fail (value != NULL || value_len == 0, NULL);

  BraidMcItem *item = item_new (store, key, key_len, 0, 0, value_len);

  if (value_len > 0)
    copy_in (item_value (item), value, value_len);

  if (link_item (store, shard, item, NULL) != BRAID_MC_STORE_RESULT_STORED)
    return NULL;  /* link_item has dropped it */
  return item;
}

/* The item an append or prepend makes: the old one's flags and expiry,
 * the values joined. */
static BraidMcItem *
joined_item (BraidMcStore *store, BraidMcStoreMode mode, BraidMcItem *old, const guint8 *value, gsize value_len)
{
  BraidMcItem *item = item_new (store, old->data, old->view.len, old->flags, old->expires,
                                old->value_len + value_len);
  gboolean append = mode == BRAID_MC_STORE_MODE_APPEND;

  memcpy (item_value (item) + (append ? 0 : value_len), item_value (old), old->value_len);
  if (value_len > 0)
    copy_in (item_value (item) + (append ? old->value_len : 0), value, value_len);
  return item;
}

typedef enum { CAS_NONE, CAS_MATCH, CAS_STALE, CAS_BADVAL } CasCheck;

static CasCheck
check_cas (BraidMcStore *store, BraidMcItem *old, guint64 cas, gboolean may_be_stale)
{
  if (cas == 0)
    return CAS_NONE;
  if (!store->settings.cas_enabled)
    return CAS_BADVAL;  /* as the cas command: ms C never matches under -C */
  if (cas == old->cas)
    return CAS_MATCH;
  if (may_be_stale && cas < old->cas)
    return CAS_STALE;
  return CAS_BADVAL;
}

/* ms against an existing item: the new item to link (owned), or NULL
 * with *@result saying why not. */
static BraidMcItem *
meta_store_over (BraidMcStore *store, Shard *shard, BraidMcStoreMode mode, BraidMcItem *old, BraidMcItem *fresh_or_null,
                 const guint8 *value, gsize value_len, guint64 cas, gboolean invalidate,
                 BraidMcStoreResult *result)
{
  CasCheck check = check_cas (store, old, cas, invalidate && mode == BRAID_MC_STORE_MODE_CAS);

  *result = BRAID_MC_STORE_RESULT_NOT_STORED;
  switch (mode)
    {
    case BRAID_MC_STORE_MODE_ADD:
      /* memcached bumps the existing item on a failed add. */
      lru_bump (shard, old);
      return NULL;
    case BRAID_MC_STORE_MODE_CAS:
      if (check == CAS_MATCH || check == CAS_STALE)
        {
          shard->stats.cas_hits++;
          if (check == CAS_STALE)
            {
              /* A late write of an invalidated item: it stays stale, with
               * its expiry and the win token already handed out. */
              fresh_or_null->expires = old->expires;
              fresh_or_null->stale = TRUE;
              fresh_or_null->win_token_sent = old->win_token_sent;
            }
          return fresh_or_null;
        }
      shard->stats.cas_badval++;
      *result = BRAID_MC_STORE_RESULT_EXISTS;
      return NULL;
    case BRAID_MC_STORE_MODE_APPEND:
    case BRAID_MC_STORE_MODE_PREPEND:
      if (check != CAS_NONE && check != CAS_MATCH)
        {
          *result = BRAID_MC_STORE_RESULT_EXISTS;
          return NULL;
        }
      /* As the classic append: memcached cannot allocate the joined item
       * and answers NS, the old item untouched. */
      if (nominal_size (store, old->view.len, old->flags, old->value_len + value_len) > store->settings.item_size_max)
        return NULL;
      return joined_item (store, mode, old, value, value_len);
    case BRAID_MC_STORE_MODE_SET:
    case BRAID_MC_STORE_MODE_REPLACE:
    default:
      return fresh_or_null;
    }
}

static BraidMcStoreResult
meta_store_locked (BraidMcStore *store, Shard *shard,
                           BraidMcStoreMode mode,
                           const guint8 *key, gsize key_len,
                           gboolean key_binary,
                           guint32 flags, gint64 exptime,
                           const guint8 *value, gsize value_len,
                           guint64 cas, gboolean invalidate,
                           guint64 *cas_out)
{
  g_return_val_if_fail (value != NULL || value_len == 0, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_return_val_if_fail (cas_out != NULL, BRAID_MC_STORE_RESULT_NOT_STORED);

  BraidMcItem *old = find_live (store, shard, key, key_len, FALSE);
  BraidMcStoreResult result = BRAID_MC_STORE_RESULT_NOT_STORED;
  BraidMcItem *item = NULL;
  gboolean wants_fresh = mode != BRAID_MC_STORE_MODE_APPEND && mode != BRAID_MC_STORE_MODE_PREPEND;
  BraidMcItem *fresh = NULL;

  *cas_out = 0;
  shard->stats.cmd_set++;
  if (wants_fresh)
    {
      fresh = item_new (store, key, key_len, flags, expiry_time (store, exptime), value_len);
      fresh->key_binary = key_binary;
      if (value_len > 0)
        copy_in (item_value (fresh), value, value_len);
    }

  if (old != NULL)
    item = meta_store_over (store, shard, mode, old, fresh, value, value_len, cas, invalidate, &result);
  else if (mode == BRAID_MC_STORE_MODE_SET || mode == BRAID_MC_STORE_MODE_ADD)
    item = fresh;
  else if (mode == BRAID_MC_STORE_MODE_CAS)
    {
      shard->stats.cas_misses++;
      result = BRAID_MC_STORE_RESULT_NOT_FOUND;
    }

  if (fresh != NULL && item != fresh)
    braid_mc_item_unref (fresh);
  if (item == NULL)
    return result;
  result = link_item (store, shard, item, old);
  if (result == BRAID_MC_STORE_RESULT_STORED)
    *cas_out = visible_cas (store, item);
  return result;
}

static BraidMcStoreResult
meta_delete_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len, gboolean compare_cas, guint64 cas)
{

  BraidMcItem *item = find_live (store, shard, key, key_len, FALSE);

  if (item == NULL)
    return BRAID_MC_STORE_RESULT_NOT_FOUND;
  if (compare_cas && visible_cas (store, item) != cas)
    return BRAID_MC_STORE_RESULT_EXISTS;
  unlink_item (shard, item);
  return BRAID_MC_STORE_RESULT_DELETED;
}

static BraidMcStoreResult
invalidate_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len, gboolean compare_cas,
                           guint64 cas, gboolean new_ttl, gint64 exptime)
{

  BraidMcItem *item = find_live (store, shard, key, key_len, FALSE);

  if (item == NULL)
    return BRAID_MC_STORE_RESULT_NOT_FOUND;
  if (compare_cas && visible_cas (store, item) != cas)
    return BRAID_MC_STORE_RESULT_EXISTS;
  if (new_ttl)
    item->expires = expiry_time (store, exptime);
  /* The next client to ask wins the right to recache it. */
  item->stale = TRUE;
  item->win_token_sent = FALSE;
  item->cas = next_cas (store, shard);
  return BRAID_MC_STORE_RESULT_STORED;
}

/* ma's new value as the item will hold it: in the old length, padded with
 * spaces, when the digits fit (memcached rewrites such an item in place,
 * keeping its marks); otherwise a new item of just the digits. */
static BraidMcItem *
arith_result_item (BraidMcStore *store, BraidMcItem *item, const gchar *digits, gsize n)
{
  gboolean fits = n <= item->value_len;
  BraidMcItem *next = item_new (store, item->data, item->view.len, item->flags, item->expires,
                                fits ? item->value_len : n);

  memcpy (item_value (next), digits, n);
  if (fits)
    {
      memset (item_value (next) + n, ' ', item->value_len - n);
      next->fetched = item->fetched;
      next->stale = item->stale;
      next->win_token_sent = item->win_token_sent;
      next->key_binary = item->key_binary;
    }
  return next;
}

static BraidMcStoreResult
meta_arith_locked (BraidMcStore *store, Shard *shard, const guint8 *key, gsize key_len,
                           BraidMcArithMode mode, guint64 delta, guint64 cas,
                           guint64 *value, BraidMcItem **item_out)
{
  g_return_val_if_fail (value != NULL && item_out != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);

  BraidMcItem *item = find_live (store, shard, key, key_len, FALSE);
  gchar digits[24];
  gsize n;
  guint64 v;

  *item_out = NULL;
  if (item == NULL)
    return BRAID_MC_STORE_RESULT_NOT_FOUND;
  if (item->value_len == 0)
    return BRAID_MC_STORE_RESULT_NON_NUMERIC;
  if (cas != 0 && visible_cas (store, item) != cas)
    return BRAID_MC_STORE_RESULT_EXISTS;
  if (!parse_counter (item, &v))
    return BRAID_MC_STORE_RESULT_NON_NUMERIC;
  if (mode == BRAID_MC_ARITH_MODE_INCR)
    v += delta;  /* wraps at 2^64, as memcached */
  else
    v = delta > v ? 0 : v - delta;
  *value = v;
  n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, v);

  if (n <= item->value_len && sole_reference (item))
    {
      /* In place while nothing but the store holds the item. */
      memcpy (item_value (item), digits, n);
      memset (item_value (item) + n, ' ', item->value_len - n);
      item->cas = next_cas (store, shard);
      lru_bump (shard, item);
    }
  else
    {
      BraidMcItem *next = arith_result_item (store, item, digits, n);

      if (link_item (store, shard, next, item) != BRAID_MC_STORE_RESULT_STORED)
        return BRAID_MC_STORE_RESULT_NO_MEMORY;
      item = next;
    }
  *item_out = braid_mc_item_ref (item);
  return BRAID_MC_STORE_RESULT_STORED;
}

/* ---- the public functions on one key or item ----
 *
 * Each runs its *_locked body under the key's shard lock: the caller's,
 * if it holds it (braid_mc_store_lock_key), else taken for the call. */

#define KEY_SHARD(store, key, key_len) shard_of_hash ((store), make_view ((store), (key), (key_len)).hash)

#define CALL_ON_SHARD(type, shard, call) \
  Shard *shard_ = (shard); \
  gboolean locked_ = shard_enter (shard_); \
  type result_ = call; \
  shard_leave (shard_, locked_); \
  return result_

#define CALL_ON_SHARD_VOID(shard, call) \
  Shard *shard_ = (shard); \
  gboolean locked_ = shard_enter (shard_); \
  call; \
  shard_leave (shard_, locked_)

BraidMcItem *
braid_mc_store_get (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), NULL);
  CALL_ON_SHARD (BraidMcItem *, KEY_SHARD (store, key, key_len), get_locked (store, shard_, key, key_len));
}

BraidMcItem *
braid_mc_store_gat (BraidMcStore *store, const guint8 *key, gsize key_len, gint64 exptime)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), NULL);
  CALL_ON_SHARD (BraidMcItem *, KEY_SHARD (store, key, key_len), gat_locked (store, shard_, key, key_len, exptime));
}

BraidMcStoreResult
braid_mc_store_store (BraidMcStore *store,
                      BraidMcStoreMode mode,
                      const guint8 *key, gsize key_len,
                      guint32 flags, gint64 exptime,
                      const guint8 *value, gsize value_len,
                      guint64 cas)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 store_locked (store, shard_, mode, key, key_len, flags, exptime, value, value_len, cas));
}

guint64
braid_mc_store_get_last_cas (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), 0);
  CALL_ON_SHARD (guint64, KEY_SHARD (store, key, key_len), shard_->last_cas);
}

BraidMcStoreResult
braid_mc_store_delete (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len), delete_locked (store, shard_, key, key_len));
}

BraidMcStoreResult
braid_mc_store_arith (BraidMcStore *store, const guint8 *key, gsize key_len,
                      BraidMcArithMode mode, guint64 delta, guint64 *result)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 arith_locked (store, shard_, key, key_len, mode, delta, result));
}

BraidMcStoreResult
braid_mc_store_touch (BraidMcStore *store, const guint8 *key, gsize key_len, gint64 exptime)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 touch_locked (store, shard_, key, key_len, exptime));
}

void
braid_mc_store_refuse_too_large (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean forget_key)
{
  g_return_if_fail (store != NULL && (key != NULL || key_len == 0));
  CALL_ON_SHARD_VOID (KEY_SHARD (store, key, key_len),
                      refuse_too_large_locked (store, shard_, key, key_len, forget_key));
}

BraidMcItem *
braid_mc_store_peek (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), NULL);
  CALL_ON_SHARD (BraidMcItem *, KEY_SHARD (store, key, key_len), peek_locked (store, shard_, key, key_len));
}

void
braid_mc_store_bump (BraidMcStore *store, BraidMcItem *item)
{
  g_return_if_fail (store != NULL && item != NULL);
  CALL_ON_SHARD_VOID (shard_of_item (store, item), bump_locked (store, shard_, item));
}

void
braid_mc_store_set_expiry (BraidMcStore *store, BraidMcItem *item, gint64 exptime)
{
  g_return_if_fail (store != NULL && item != NULL);
  CALL_ON_SHARD_VOID (shard_of_item (store, item), set_expiry_locked (store, shard_, item, exptime));
}

gboolean
braid_mc_store_expires_before (BraidMcStore *store, BraidMcItem *item, gint64 exptime)
{
  g_return_val_if_fail (store != NULL && item != NULL, FALSE);
  CALL_ON_SHARD (gboolean, shard_of_item (store, item), expires_before_locked (store, shard_, item, exptime));
}

gint64
braid_mc_store_get_ttl (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL && item != NULL, -1);
  CALL_ON_SHARD (gint64, shard_of_item (store, item), get_ttl_locked (store, shard_, item));
}

gint64
braid_mc_store_get_idle (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL && item != NULL, 0);
  CALL_ON_SHARD (gint64, shard_of_item (store, item), get_idle_locked (store, shard_, item));
}

gint64
braid_mc_store_get_exp_debug (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL && item != NULL, -1);
  CALL_ON_SHARD (gint64, shard_of_item (store, item), get_exp_debug_locked (store, shard_, item));
}

BraidMcItem *
braid_mc_store_vivify (BraidMcStore *store, const guint8 *key, gsize key_len,
                       const guint8 *value, gsize value_len)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), NULL);
  CALL_ON_SHARD (BraidMcItem *, KEY_SHARD (store, key, key_len),
                 vivify_locked (store, shard_, key, key_len, value, value_len));
}

BraidMcStoreResult
braid_mc_store_meta_store (BraidMcStore *store,
                           BraidMcStoreMode mode,
                           const guint8 *key, gsize key_len,
                           gboolean key_binary,
                           guint32 flags, gint64 exptime,
                           const guint8 *value, gsize value_len,
                           guint64 cas, gboolean invalidate,
                           guint64 *cas_out)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_STORED);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 meta_store_locked (store, shard_, mode, key, key_len, key_binary, flags, exptime, value, value_len,
                                    cas, invalidate, cas_out));
}

BraidMcStoreResult
braid_mc_store_meta_delete (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean compare_cas, guint64 cas)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 meta_delete_locked (store, shard_, key, key_len, compare_cas, cas));
}

BraidMcStoreResult
braid_mc_store_invalidate (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean compare_cas,
                           guint64 cas, gboolean new_ttl, gint64 exptime)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 invalidate_locked (store, shard_, key, key_len, compare_cas, cas, new_ttl, exptime));
}

BraidMcStoreResult
braid_mc_store_meta_arith (BraidMcStore *store, const guint8 *key, gsize key_len,
                           BraidMcArithMode mode, guint64 delta, guint64 cas,
                           guint64 *value, BraidMcItem **item)
{
  g_return_val_if_fail (store != NULL && (key != NULL || key_len == 0), BRAID_MC_STORE_RESULT_NOT_FOUND);
  CALL_ON_SHARD (BraidMcStoreResult, KEY_SHARD (store, key, key_len),
                 meta_arith_locked (store, shard_, key, key_len, mode, delta, cas, value, item));
}
