/* braid — the memcached item store. */
#include "mc-store-private.h"

#include <errno.h>
#include <malloc.h>
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

/* A key as the index sees it.  The hash is computed by the store, with
 * its seed, when the view is made: GHashTable's hash function gets no
 * user data, so it only reads it back. */
typedef struct {
  const guint8 *key;
  gsize len;
  guint hash;
} KeyView;

/* Immutable once stored, except for its metadata (expiry, LRU links,
 * fetched): a reply holds a reference to the item rather than a copy of
 * its value, so the bytes may be on their way to a client after the store
 * has let go of the item. */
struct _BraidMcItem
{
  KeyView view;                /* first: the hash table's key points here */
  gatomicrefcount ref_count;   /* the store's (while linked) and replies' */
  BraidMcItem *prev, *next;    /* LRU: head is the most recently used */
  gint64 expires;              /* store µs; 0 never */
  gint64 stored_at;            /* store µs */
  gint64 accessed_at;          /* store µs: stored, fetched or touched */
  guint64 cas;
  guint32 flags;
  /* One word of state bits, the size the fetched flag alone took: the
   * meta protocol's marks cost an item nothing. */
  guint32 fetched : 1;
  guint32 stale : 1;           /* meta: invalidated (md I); served with X */
  guint32 win_token_sent : 1;  /* meta: one client was sent W; others see Z */
  guint32 key_binary : 1;      /* meta: stored under a base64 key (b) */
  gsize value_len;
  gsize size;                  /* what it counts against the limit */
  guint8 data[];               /* key, '\0', value, "\r\n" */
};

struct _BraidMcStore
{
  /* (unowned) (nullable): a weak pointer.  The store is shared by
   * connections, which the reactor owns through their transports: a
   * strong reference here would be a cycle that no teardown order breaks.
   * Once the reactor is gone, the clock stops at its last reading. */
  BraidReactor *reactor;
  gint64 last_now_us, last_real_us;
  BraidMcStoreSettings settings;
  GHashTable *index;           /* KeyView* → BraidMcItem* (a reference) */
  guint64 hash_seed;           /* keyed hash: chosen keys cannot collide on purpose */
  BraidMcItem *lru_head, *lru_tail;
  gsize used;
  guint64 next_cas;
  guint64 oldest_cas;          /* flush_all now: items with smaller cas are gone */
  gint64 flush_at;             /* flush_all N: items stored before this are gone, from then on */
  gint64 time_offset_us;       /* debugtime */
  BraidMcStats stats;
};

/* XXH3 keyed with a per-store random seed: keys chosen to collide under
 * a fixed hash (DJB2's "Ez"/"FY" blocks, say) spread like any others. */
static KeyView
make_view (BraidMcStore *store, const guint8 *key, gsize len)
{
  KeyView view = { key, len, (guint) XXH3_64bits_withSeed (key, len, store->hash_seed) };

  return view;
}

guint
braid_mc_store_hash_key (BraidMcStore *store, const guint8 *key, gsize len)
{
  g_return_val_if_fail (store != NULL, 0);
  return make_view (store, key, len).hash;
}

static guint
key_hash (gconstpointer p)
{
  return ((const KeyView *) p)->hash;
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  const KeyView *x = a, *y = b;

  return x->len == y->len && memcmp (x->key, y->key, x->len) == 0;
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
  store->index = g_hash_table_new_full (key_hash, key_equal, NULL, (GDestroyNotify) braid_mc_item_unref);
  return store;
}

void
braid_mc_store_free (BraidMcStore *store)
{
  if (store == NULL)
    return;
  g_hash_table_unref (store->index);
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
  store->stats.curr_items = g_hash_table_size (store->index);
  store->stats.bytes = store->used;
  *stats = store->stats;
}

void
braid_mc_store_reset_stats (BraidMcStore *store)
{
  guint64 total_items;

  g_return_if_fail (store != NULL);
  /* What describes the items stored now survives, as in memcached. */
  total_items = store->stats.total_items;
  memset (&store->stats, 0, sizeof store->stats);
  store->stats.total_items = total_items;
}

guint
braid_mc_store_get_n_items (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  return g_hash_table_size (store->index);
}

/* ---- time ---- */

gint64
braid_mc_store_now (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  if (store->reactor != NULL)
    store->last_now_us = braid_reactor_now (store->reactor);
  return store->last_now_us + store->time_offset_us;
}

gint64
braid_mc_store_real_seconds (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  if (store->reactor != NULL)
    store->last_real_us = braid_reactor_real_time (store->reactor);
  return (store->last_real_us + store->time_offset_us) / G_USEC_PER_SEC;
}

void
braid_mc_store_add_time (BraidMcStore *store, gint64 seconds)
{
  g_return_if_fail (store != NULL);

  store->time_offset_us += seconds * G_USEC_PER_SEC;
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
    return now - 1;
  if (exptime > BRAID_MC_REALTIME_MAXDELTA)
    {
      gint64 real = braid_mc_store_real_seconds (store);

      if (exptime <= real)
        return now - 1;
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
  if (item->cas < store->oldest_cas)
    return TRUE;
  return store->flush_at != 0 && store->flush_at <= braid_mc_store_now (store) &&
         item->stored_at < store->flush_at;
}

/* ---- LRU ---- */

static void
lru_unlink (BraidMcStore *store, BraidMcItem *item)
{
  if (item->prev != NULL)
    item->prev->next = item->next;
  else
    store->lru_head = item->next;
  if (item->next != NULL)
    item->next->prev = item->prev;
  else
    store->lru_tail = item->prev;
  item->prev = item->next = NULL;
}

static void
lru_push_head (BraidMcStore *store, BraidMcItem *item)
{
  item->prev = NULL;
  item->next = store->lru_head;
  if (store->lru_head != NULL)
    store->lru_head->prev = item;
  store->lru_head = item;
  if (store->lru_tail == NULL)
    store->lru_tail = item;
}

static void
unlink_item (BraidMcStore *store, BraidMcItem *item)
{
  lru_unlink (store, item);
  store->used -= item->size;
  g_hash_table_remove (store->index, &item->view);  /* frees it */
}

/* ---- items ---- */

static BraidMcItem *
item_new (BraidMcStore *store, const guint8 *key, gsize key_len, guint32 flags,
          gint64 expires, gsize value_len)
{
  BraidMcItem *item = g_malloc (sizeof (BraidMcItem) + key_len + 1 + value_len + 2);

  memset (item, 0, sizeof *item);
  g_atomic_ref_count_init (&item->ref_count);
  memcpy (item->data, key, key_len);
  item->data[key_len] = '\0';
  item->view = make_view (store, item->data, key_len);
  item->flags = flags;
  item->expires = expires;
  item->value_len = value_len;
  /* What the process really spends on it: -m bounds memory, not a
   * nominal count.  (-I still uses memcached's nominal size.) */
  item->size = malloc_usable_size (item) + INDEX_COST_PER_ITEM;
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
  g_atomic_ref_count_inc (&item->ref_count);
  return item;
}

void
braid_mc_item_unref (BraidMcItem *item)
{
  g_return_if_fail (item != NULL);
  if (g_atomic_ref_count_dec (&item->ref_count))
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

/* Finds a live item: expired and flushed ones are unlinked on sight. */
static BraidMcItem *
find_live (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean count_get)
{
  KeyView probe = make_view (store, key, key_len);
  BraidMcItem *item = g_hash_table_lookup (store->index, &probe);

  if (item == NULL)
    return NULL;
  if (is_flushed (store, item))
    {
      if (count_get)
        store->stats.get_flushed++;
      unlink_item (store, item);
      return NULL;
    }
  if (is_expired (store, item))
    {
      if (count_get)
        store->stats.get_expired++;
      if (!item->fetched)
        store->stats.expired_unfetched++;
      unlink_item (store, item);
      return NULL;
    }
  return item;
}

static void
reclaim_tail (BraidMcStore *store)
{
  BraidMcItem *item = store->lru_tail;

  for (guint i = 0; i < TAIL_RECLAIM_CHECKS && item != NULL; i++)
    {
      BraidMcItem *prev = item->prev;

      if (is_expired (store, item) || is_flushed (store, item))
        {
          if (!item->fetched && is_expired (store, item))
            store->stats.expired_unfetched++;
          store->stats.reclaimed++;
          unlink_item (store, item);
        }
      item = prev;
    }
}

/* Makes room for @size bytes; FALSE if it cannot (or must not evict). */
static gboolean
make_room (BraidMcStore *store, gsize size)
{
  reclaim_tail (store);
  while (store->used + size > store->settings.limit_bytes)
    {
      BraidMcItem *victim = store->lru_tail;

      if (victim == NULL || !store->settings.evict)
        return FALSE;
      store->stats.evictions++;
      if (!victim->fetched)
        store->stats.evicted_unfetched++;
      unlink_item (store, victim);
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
link_item (BraidMcStore *store, BraidMcItem *item, BraidMcItem *old)
{
  gsize old_size = old != NULL ? old->size : 0;

  if (nominal_size (store, item->view.len, item->flags, item->value_len) > store->settings.item_size_max)
    {
      store->stats.store_too_large++;
      braid_mc_item_unref (item);
      return BRAID_MC_STORE_RESULT_TOO_LARGE;
    }
  if (item->size > store->settings.limit_bytes ||
      (!store->settings.evict && store->used - old_size + item->size > store->settings.limit_bytes))
    {
      store->stats.store_no_memory++;
      braid_mc_item_unref (item);
      return BRAID_MC_STORE_RESULT_NO_MEMORY;
    }
  if (old != NULL)
    unlink_item (store, old);
  make_room (store, item->size);
  item->cas = ++store->next_cas;
  item->stored_at = braid_mc_store_now (store);
  item->accessed_at = item->stored_at;
  g_hash_table_insert (store->index, &item->view, item);
  lru_push_head (store, item);
  store->used += item->size;
  store->stats.total_items++;
  return BRAID_MC_STORE_RESULT_STORED;
}

BraidMcItem *
braid_mc_store_get (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (key != NULL || key_len == 0, NULL);

  BraidMcItem *item = find_live (store, key, key_len, TRUE);

  store->stats.cmd_get++;
  if (item == NULL)
    {
      store->stats.get_misses++;
      return NULL;
    }
  store->stats.get_hits++;
  item->fetched = TRUE;
  item->accessed_at = braid_mc_store_now (store);
  lru_unlink (store, item);
  lru_push_head (store, item);
  return item;
}

BraidMcItem *
braid_mc_store_gat (BraidMcStore *store, const guint8 *key, gsize key_len, gint64 exptime)
{
  g_return_val_if_fail (store != NULL, NULL);

  BraidMcItem *item = braid_mc_store_get (store, key, key_len);

  store->stats.cmd_touch++;
  if (item == NULL)
    {
      store->stats.touch_misses++;
      return NULL;
    }
  store->stats.touch_hits++;
  item->expires = expiry_time (store, exptime);
  return item;
}

BraidMcStoreResult
braid_mc_store_store (BraidMcStore *store,
                      BraidMcStoreMode mode,
                      const guint8 *key, gsize key_len,
                      guint32 flags, gint64 exptime,
                      const guint8 *value, gsize value_len,
                      guint64 cas)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (value != NULL || value_len == 0, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_return_val_if_fail (braid_mc_store_mode_name (mode) != NULL, BRAID_MC_STORE_RESULT_NOT_STORED);

  BraidMcItem *old = find_live (store, key, key_len, FALSE);
  BraidMcItem *item;

  store->stats.cmd_set++;
  switch (mode)
    {
    case BRAID_MC_STORE_MODE_ADD:
      if (old != NULL)
        {
          /* memcached bumps the existing item on a failed add. */
          lru_unlink (store, old);
          lru_push_head (store, old);
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
          store->stats.cas_misses++;
          return BRAID_MC_STORE_RESULT_NOT_FOUND;
        }
      if (old->cas != cas)
        {
          store->stats.cas_badval++;
          return BRAID_MC_STORE_RESULT_EXISTS;
        }
      store->stats.cas_hits++;
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
          memcpy (item_value (item) + old->value_len, value, value_len);
        }
      else
        {
          memcpy (item_value (item), value, value_len);
          memcpy (item_value (item) + value_len, item_value (old), old->value_len);
        }
    }
  else
    {
      item = item_new (store, key, key_len, flags, expiry_time (store, exptime), value_len);
      if (value_len > 0)
        memcpy (item_value (item), value, value_len);
    }
  return link_item (store, item, old);
}

guint64
braid_mc_store_get_last_cas (BraidMcStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  return store->next_cas;
}

BraidMcStoreResult
braid_mc_store_delete (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);

  BraidMcItem *item = find_live (store, key, key_len, FALSE);

  if (item == NULL)
    {
      store->stats.delete_misses++;
      return BRAID_MC_STORE_RESULT_NOT_FOUND;
    }
  store->stats.delete_hits++;
  unlink_item (store, item);
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

BraidMcStoreResult
braid_mc_store_arith (BraidMcStore *store, const guint8 *key, gsize key_len,
                      BraidMcArithMode mode, guint64 delta, guint64 *result)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (result != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);

  gboolean incr = mode == BRAID_MC_ARITH_MODE_INCR;
  BraidMcItem *item = find_live (store, key, key_len, FALSE);
  guint64 value;
  gchar digits[24];
  gsize n;

  if (item == NULL)
    {
      if (incr)
        store->stats.incr_misses++;
      else
        store->stats.decr_misses++;
      return BRAID_MC_STORE_RESULT_NOT_FOUND;
    }
  if (!parse_counter (item, &value))
    return BRAID_MC_STORE_RESULT_NON_NUMERIC;
  if (incr)
    {
      value += delta;  /* wraps at 2^64, as memcached */
      store->stats.incr_hits++;
    }
  else
    {
      value = delta > value ? 0 : value - delta;
      store->stats.decr_hits++;
    }
  *result = value;
  n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, value);

  /* In place only while nothing but the store holds the item: a reply on
   * its way to a client keeps the bytes it was given. */
  if (n <= item->value_len && g_atomic_ref_count_compare (&item->ref_count, 1))
    {
      /* In place, padded with spaces: the length stays (memcached does
       * the same, so "18446744073709551615" + 1 reads "0" + 19 spaces). */
      memcpy (item_value (item), digits, n);
      memset (item_value (item) + n, ' ', item->value_len - n);
      item->cas = ++store->next_cas;
      lru_unlink (store, item);
      lru_push_head (store, item);
      return BRAID_MC_STORE_RESULT_STORED;
    }
  {
    BraidMcItem *grown = item_new (store, key, key_len, item->flags, item->expires, n);
    BraidMcStoreResult r;

    memcpy (item_value (grown), digits, n);
    r = link_item (store, grown, item);
    return r == BRAID_MC_STORE_RESULT_STORED ? BRAID_MC_STORE_RESULT_STORED : BRAID_MC_STORE_RESULT_NO_MEMORY;
  }
}

BraidMcStoreResult
braid_mc_store_touch (BraidMcStore *store, const guint8 *key, gsize key_len, gint64 exptime)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);

  BraidMcItem *item = find_live (store, key, key_len, FALSE);

  store->stats.cmd_touch++;
  if (item == NULL)
    {
      store->stats.touch_misses++;
      return BRAID_MC_STORE_RESULT_NOT_FOUND;
    }
  store->stats.touch_hits++;
  item->expires = expiry_time (store, exptime);
  item->accessed_at = braid_mc_store_now (store);
  lru_unlink (store, item);
  lru_push_head (store, item);
  return BRAID_MC_STORE_RESULT_TOUCHED;
}

void
braid_mc_store_flush (BraidMcStore *store, gint64 delay)
{
  g_return_if_fail (store != NULL);

  store->stats.cmd_flush++;
  if (delay > 0)
    {
      store->flush_at = expiry_time (store, delay);
      return;
    }
  /* Everything stored so far is gone; what is stored next is not, even
   * within the same microsecond.  As in memcached, the flush takes a cas
   * id of its own, so the next item's cas is one higher (clients see it). */
  store->oldest_cas = ++store->next_cas;
  store->flush_at = 0;
}

void
braid_mc_store_set_limit (BraidMcStore *store, gsize limit_bytes)
{
  g_return_if_fail (store != NULL);

  gboolean evict = store->settings.evict;

  store->settings.limit_bytes = limit_bytes;
  store->settings.evict = TRUE;
  make_room (store, 0);
  store->settings.evict = evict;
}

/* A store time (µs) as a Unix time in seconds. */
static gint64
real_seconds_at (gint64 now, gint64 real, gint64 t)
{
  return real + (t - now) / G_USEC_PER_SEC;
}

void
braid_mc_store_foreach (BraidMcStore *store,
                        BraidMcStoreOrder order,
                        BraidMcStoreItemFunc func,
                        gpointer user_data)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (func != NULL);

  gint64 now = braid_mc_store_now (store);
  gint64 real = braid_mc_store_real_seconds (store);
  gboolean newest_first = order == BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST;

  for (BraidMcItem *item = newest_first ? store->lru_head : store->lru_tail; item != NULL;
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
      info.cas = item->cas;
      info.fetched = item->fetched;
      info.expires_real = item->expires == 0 ? 0 : real_seconds_at (now, real, item->expires);
      info.accessed_real = real_seconds_at (now, real, item->accessed_at);
      if (!func (&info, user_data))
        break;
    }
}

void
braid_mc_store_refuse_too_large (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean forget_key)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (key != NULL || key_len == 0);

  BraidMcItem *item = forget_key ? find_live (store, key, key_len, FALSE) : NULL;

  store->stats.store_too_large++;
  if (item != NULL)
    unlink_item (store, item);
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

  G_STRUCT_MEMBER (guint64, &store->stats, stat_offset)++;
}

BraidMcItem *
braid_mc_store_peek (BraidMcStore *store, const guint8 *key, gsize key_len)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (key != NULL || key_len == 0, NULL);

  return find_live (store, key, key_len, TRUE);
}

void
braid_mc_store_bump (BraidMcStore *store, BraidMcItem *item)
{
  g_return_if_fail (store != NULL && item != NULL);

  gint64 now = braid_mc_store_now (store);

  item->fetched = TRUE;
  /* memcached moves an item's access time at most once a minute
   * (ITEM_UPDATE_INTERVAL), and mg's l and me's la= show it. */
  if (now - item->accessed_at >= META_ACCESS_UPDATE_INTERVAL_US)
    item->accessed_at = now;
  lru_unlink (store, item);
  lru_push_head (store, item);
}

void
braid_mc_store_set_expiry (BraidMcStore *store, BraidMcItem *item, gint64 exptime)
{
  g_return_if_fail (store != NULL && item != NULL);

  item->expires = expiry_time (store, exptime);
}

gboolean
braid_mc_store_expires_before (BraidMcStore *store, BraidMcItem *item, gint64 exptime)
{
  g_return_val_if_fail (store != NULL && item != NULL, FALSE);

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

gint64
braid_mc_store_get_ttl (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL && item != NULL, -1);

  if (item->expires == 0)
    return -1;
  /* memcached prints exptime - current_time as an unsigned 32-bit number,
   * so an item already past its time shows a huge one. */
  return (gint64) (guint32) seconds_until (braid_mc_store_now (store), item->expires);
}

gint64
braid_mc_store_get_idle (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL && item != NULL, 0);

  return (braid_mc_store_now (store) - item->accessed_at) / G_USEC_PER_SEC;
}

gint64
braid_mc_store_get_exp_debug (BraidMcStore *store, BraidMcItem *item)
{
  g_return_val_if_fail (store != NULL && item != NULL, -1);

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

BraidMcItem *
braid_mc_store_vivify (BraidMcStore *store, const guint8 *key, gsize key_len,
                       const guint8 *value, gsize value_len)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (key != NULL || key_len == 0, NULL);
  g_return_val_if_fail (value != NULL || value_len == 0, NULL);

  BraidMcItem *item = item_new (store, key, key_len, 0, 0, value_len);

  if (value_len > 0)
    memcpy (item_value (item), value, value_len);

  if (link_item (store, item, NULL) != BRAID_MC_STORE_RESULT_STORED)
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
    memcpy (item_value (item) + (append ? old->value_len : 0), value, value_len);
  return item;
}

typedef enum { CAS_NONE, CAS_MATCH, CAS_STALE, CAS_BADVAL } CasCheck;

static CasCheck
check_cas (BraidMcItem *old, guint64 cas, gboolean may_be_stale)
{
  if (cas == 0)
    return CAS_NONE;
  if (cas == old->cas)
    return CAS_MATCH;
  if (may_be_stale && cas < old->cas)
    return CAS_STALE;
  return CAS_BADVAL;
}

/* ms against an existing item: the new item to link (owned), or NULL
 * with *@result saying why not. */
static BraidMcItem *
meta_store_over (BraidMcStore *store, BraidMcStoreMode mode, BraidMcItem *old, BraidMcItem *fresh_or_null,
                 const guint8 *value, gsize value_len, guint64 cas, gboolean invalidate,
                 BraidMcStoreResult *result)
{
  CasCheck check = check_cas (old, cas, invalidate && mode == BRAID_MC_STORE_MODE_CAS);

  *result = BRAID_MC_STORE_RESULT_NOT_STORED;
  switch (mode)
    {
    case BRAID_MC_STORE_MODE_ADD:
      /* memcached bumps the existing item on a failed add. */
      lru_unlink (store, old);
      lru_push_head (store, old);
      return NULL;
    case BRAID_MC_STORE_MODE_CAS:
      if (check == CAS_MATCH || check == CAS_STALE)
        {
          store->stats.cas_hits++;
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
      store->stats.cas_badval++;
      *result = BRAID_MC_STORE_RESULT_EXISTS;
      return NULL;
    case BRAID_MC_STORE_MODE_APPEND:
    case BRAID_MC_STORE_MODE_PREPEND:
      if (check != CAS_NONE && check != CAS_MATCH)
        {
          *result = BRAID_MC_STORE_RESULT_EXISTS;
          return NULL;
        }
      return joined_item (store, mode, old, value, value_len);
    case BRAID_MC_STORE_MODE_SET:
    case BRAID_MC_STORE_MODE_REPLACE:
    default:
      return fresh_or_null;
    }
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
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_return_val_if_fail (value != NULL || value_len == 0, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_return_val_if_fail (cas_out != NULL, BRAID_MC_STORE_RESULT_NOT_STORED);

  BraidMcItem *old = find_live (store, key, key_len, FALSE);
  BraidMcStoreResult result = BRAID_MC_STORE_RESULT_NOT_STORED;
  BraidMcItem *item = NULL;
  gboolean wants_fresh = mode != BRAID_MC_STORE_MODE_APPEND && mode != BRAID_MC_STORE_MODE_PREPEND;
  BraidMcItem *fresh = NULL;

  *cas_out = 0;
  store->stats.cmd_set++;
  if (wants_fresh)
    {
      fresh = item_new (store, key, key_len, flags, expiry_time (store, exptime), value_len);
      fresh->key_binary = key_binary;
      if (value_len > 0)
        memcpy (item_value (fresh), value, value_len);
    }

  if (old != NULL)
    item = meta_store_over (store, mode, old, fresh, value, value_len, cas, invalidate, &result);
  else if (mode == BRAID_MC_STORE_MODE_SET || mode == BRAID_MC_STORE_MODE_ADD)
    item = fresh;
  else if (mode == BRAID_MC_STORE_MODE_CAS)
    {
      store->stats.cas_misses++;
      result = BRAID_MC_STORE_RESULT_NOT_FOUND;
    }

  if (fresh != NULL && item != fresh)
    braid_mc_item_unref (fresh);
  if (item == NULL)
    return result;
  result = link_item (store, item, old);
  if (result == BRAID_MC_STORE_RESULT_STORED)
    *cas_out = item->cas;
  return result;
}

BraidMcStoreResult
braid_mc_store_meta_delete (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean compare_cas, guint64 cas)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);

  BraidMcItem *item = find_live (store, key, key_len, FALSE);

  if (item == NULL)
    return BRAID_MC_STORE_RESULT_NOT_FOUND;
  if (compare_cas && item->cas != cas)
    return BRAID_MC_STORE_RESULT_EXISTS;
  unlink_item (store, item);
  return BRAID_MC_STORE_RESULT_DELETED;
}

BraidMcStoreResult
braid_mc_store_invalidate (BraidMcStore *store, const guint8 *key, gsize key_len, gboolean compare_cas,
                           guint64 cas, gboolean new_ttl, gint64 exptime)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);

  BraidMcItem *item = find_live (store, key, key_len, FALSE);

  if (item == NULL)
    return BRAID_MC_STORE_RESULT_NOT_FOUND;
  if (compare_cas && item->cas != cas)
    return BRAID_MC_STORE_RESULT_EXISTS;
  if (new_ttl)
    item->expires = expiry_time (store, exptime);
  /* The next client to ask wins the right to recache it. */
  item->stale = TRUE;
  item->win_token_sent = FALSE;
  item->cas = ++store->next_cas;
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

BraidMcStoreResult
braid_mc_store_meta_arith (BraidMcStore *store, const guint8 *key, gsize key_len,
                           BraidMcArithMode mode, guint64 delta, guint64 cas,
                           guint64 *value, BraidMcItem **item_out)
{
  g_return_val_if_fail (store != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (key != NULL || key_len == 0, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_return_val_if_fail (value != NULL && item_out != NULL, BRAID_MC_STORE_RESULT_NOT_FOUND);

  BraidMcItem *item = find_live (store, key, key_len, FALSE);
  gchar digits[24];
  gsize n;
  guint64 v;

  *item_out = NULL;
  if (item == NULL)
    return BRAID_MC_STORE_RESULT_NOT_FOUND;
  if (item->value_len == 0)
    return BRAID_MC_STORE_RESULT_NON_NUMERIC;
  if (cas != 0 && item->cas != cas)
    return BRAID_MC_STORE_RESULT_EXISTS;
  if (!parse_counter (item, &v))
    return BRAID_MC_STORE_RESULT_NON_NUMERIC;
  if (mode == BRAID_MC_ARITH_MODE_INCR)
    v += delta;  /* wraps at 2^64, as memcached */
  else
    v = delta > v ? 0 : v - delta;
  *value = v;
  n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, v);

  if (n <= item->value_len && g_atomic_ref_count_compare (&item->ref_count, 1))
    {
      /* In place while nothing but the store holds the item. */
      memcpy (item_value (item), digits, n);
      memset (item_value (item) + n, ' ', item->value_len - n);
      item->cas = ++store->next_cas;
      lru_unlink (store, item);
      lru_push_head (store, item);
    }
  else
    {
      BraidMcItem *next = arith_result_item (store, item, digits, n);

      if (link_item (store, next, item) != BRAID_MC_STORE_RESULT_STORED)
        return BRAID_MC_STORE_RESULT_NO_MEMORY;
      item = next;
    }
  *item_out = braid_mc_item_ref (item);
  return BRAID_MC_STORE_RESULT_STORED;
}
