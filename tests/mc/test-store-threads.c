/* braid — the item store shared by several threads: its shards, their
 * budgets and counters, and invariants that hold under concurrent mixed
 * traffic (run it under ThreadSanitizer with tools/braid-dev tsan).
 *
 * The threaded tests read the clock from a GLib reactor, whose clock
 * (g_get_monotonic_time) is safe from any thread; the fake reactor's is
 * not, and is used only by the single-threaded tests here. */
#include "test-support.h"
#include "mc-store-private.h"

#include <stdlib.h>
#include <string.h>

#define K(s) (const guint8 *) (s), strlen (s)
#define N_THREADS 8

static BraidMcStats
stats_of (BraidMcStore *store)
{
  BraidMcStats stats;

  braid_mc_store_get_stats (store, &stats);
  return stats;
}

static BraidFakeReactor *
new_fake (void)
{
  BraidFakeReactor *fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());

  braid_fake_reactor_set_real_time (fake, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC);
  return fake;
}

/* ---- what every test checks at the end ---- */

static gboolean
count_item (const BraidMcItemInfo *info, gpointer user_data)
{
  gsize *n = user_data;

  (*n)++;
  return TRUE;
}

/* Each shard's index and LRU hold the same items, its byte count is the
 * sum of their sizes and within its budget; the shares add up to the
 * limit; get_stats sums the shards; foreach walks curr_items items (the
 * caller has made sure no dead item waits to be unlinked). */
static void
assert_consistent (BraidMcStore *store, gboolean no_dead_items)
{
  const BraidMcStoreSettings *settings = braid_mc_store_get_settings (store);
  BraidMcStats stats = stats_of (store);
  gsize limits = 0, used = 0, items = 0, walked = 0;

  for (guint i = 0; i < settings->n_shards; i++)
    {
      BraidMcShardInfo info;

      braid_mc_store_get_shard_info (store, i, &info);
      g_assert_cmpuint (info.n_items, ==, info.lru_length);
      g_assert_cmpuint (info.used, ==, info.sum_of_sizes);
      g_assert_cmpuint (info.used, <=, info.limit);
      limits += info.limit;
      used += info.used;
      items += info.n_items;
    }
  g_assert_cmpuint (limits, ==, settings->limit_bytes);
  g_assert_cmpuint (stats.bytes, ==, used);
  g_assert_cmpuint (stats.bytes, <=, settings->limit_bytes);
  g_assert_cmpuint (stats.curr_items, ==, items);
  g_assert_cmpuint (braid_mc_store_get_n_items (store), ==, items);
  braid_mc_store_foreach (store, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, count_item, &walked);
  if (no_dead_items)
    g_assert_cmpuint (walked, ==, stats.curr_items);
  else
    g_assert_cmpuint (walked, <=, stats.curr_items);
}

/* ---- single-threaded: the shards themselves ---- */

static gboolean
list_item (const BraidMcItemInfo *info, gpointer user_data)
{
  GString *text = user_data;

  g_string_append_len (text, (const gchar *) info->key, (gssize) info->key_len);
  g_string_append_printf (text, " %" G_GSIZE_FORMAT " %" G_GUINT64_FORMAT " %d\n", info->value_len, info->cas,
                          info->fetched);
  return TRUE;
}

/* The same seeded operations on a store; returns its LRU listing and
 * counters as text. */
static gchar *
run_script (BraidMcStore *store, guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  GString *text = g_string_new (NULL);
  BraidMcStats stats;
  guint64 *counters = (guint64 *) &stats;

  for (guint i = 0; i < 2000; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("key:%d", g_rand_int_range (rand, 0, 60));
      g_autofree gchar *value = g_strnfill ((gsize) g_rand_int_range (rand, 0, 700), 'v');
      guint64 result;

      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0:
        case 1:
          braid_mc_store_store (store, BRAID_MC_STORE_MODE_SET, K (key), 0, 0, K (value), 0);
          break;
        case 2:
          braid_mc_store_get (store, K (key));
          break;
        case 3:
          braid_mc_store_delete (store, K (key));
          break;
        case 4:
          braid_mc_store_store (store, BRAID_MC_STORE_MODE_APPEND, K (key), 0, 0, K ("12"), 0);
          break;
        default:
          braid_mc_store_arith (store, K (key), BRAID_MC_ARITH_MODE_INCR, 3, &result);
          break;
        }
    }
  braid_mc_store_foreach (store, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, list_item, text);
  braid_mc_store_get_stats (store, &stats);
  for (gsize i = 0; i < sizeof stats / sizeof (guint64); i++)
    g_string_append_printf (text, "%" G_GUINT64_FORMAT " ", counters[i]);
  return g_string_free (text, FALSE);
}

static void
test_one_shard_is_the_store (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidMcStoreSettings zero = { 10 * 1024, TRUE, 1024 * 1024, TRUE, 7, 0 };
  BraidMcStoreSettings one = { 10 * 1024, TRUE, 1024 * 1024, TRUE, 7, 1 };
  g_autoptr(BraidMcStore) a = braid_mc_store_new (BRAID_REACTOR (fake), &zero);
  g_autoptr(BraidMcStore) b = braid_mc_store_new (BRAID_REACTOR (fake), &one);
  g_autoptr(BraidMcStore) c = braid_mc_store_new (BRAID_REACTOR (fake), NULL);
  guint32 seed = (guint32) g_test_rand_int ();
  g_autofree gchar *listing_a = NULL;
  g_autofree gchar *listing_b = NULL;

  g_test_summary ("n_shards 0 and 1 (and the defaults) make one shard, which behaves exactly as the "
                  "single-threaded store: same LRU, same evictions, same counters");
  g_assert_cmpuint (braid_mc_store_get_settings (a)->n_shards, ==, 1);
  g_assert_cmpuint (braid_mc_store_get_settings (b)->n_shards, ==, 1);
  g_assert_cmpuint (braid_mc_store_get_settings (c)->n_shards, ==, 1);
  listing_a = run_script (a, seed);
  listing_b = run_script (b, seed);
  g_assert_cmpstr (listing_a, ==, listing_b);
  g_assert_cmpuint (stats_of (a).evictions, >, 0);
  assert_consistent (a, TRUE);
}

static void
test_shard_count_capped (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidMcStoreSettings settings = { 4 * 1024 * 1024, TRUE, 1024 * 1024, TRUE, 0, 16 };
  g_autoptr(BraidMcStore) store = braid_mc_store_new (BRAID_REACTOR (fake), &settings);
  g_autofree gchar *big = g_strnfill (1024 * 1024 - 100, 'x');
  guint n_shards = braid_mc_store_get_settings (store)->n_shards;
  g_autofree gboolean *filled = NULL;
  guint n_filled = 0;

  g_test_summary ("n_shards is capped so that each shard's share of -m still holds an item of -I");
  /* 4 MiB / (1 MiB + 64 KiB) */
  g_assert_cmpuint (n_shards, ==, 3);
  filled = g_new0 (gboolean, n_shards);
  for (guint i = 0; n_filled < n_shards; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("big:%u", i);
      guint shard = braid_mc_store_shard_of_key (store, K (key));

      g_assert_cmpuint (i, <, 1000);
      if (filled[shard])
        continue;
      g_assert_cmpint (braid_mc_store_store (store, BRAID_MC_STORE_MODE_SET, K (key), 0, 0,
                                             (const guint8 *) big, strlen (big), 0),
                       ==, BRAID_MC_STORE_RESULT_STORED);
      filled[shard] = TRUE;
      n_filled++;
    }
  g_assert_cmpuint (stats_of (store).curr_items, ==, n_shards);
  assert_consistent (store, TRUE);

  settings.limit_bytes = 10 * 1024;
  settings.n_shards = 8;
  {
    g_autoptr(BraidMcStore) small = braid_mc_store_new (BRAID_REACTOR (fake), &settings);

    g_assert_cmpuint (braid_mc_store_get_settings (small)->n_shards, ==, 1);
  }
}

static void
test_eviction_per_shard (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidMcStoreSettings settings = { 1024 * 1024 + 3, TRUE, 64 * 1024, TRUE, 0, 4 };
  g_autoptr(BraidMcStore) store = braid_mc_store_new (BRAID_REACTOR (fake), &settings);
  g_autofree gchar *value = g_strnfill (1000, 'v');
  guint64 evictions = 0;

  g_test_summary ("Each shard evicts from its own LRU to stay within its share of the limit, and the shares "
                  "add up to the limit");
  g_assert_cmpuint (braid_mc_store_get_settings (store)->n_shards, ==, 4);
  for (guint i = 0; i < 3000; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("key:%u", i);

      g_assert_cmpint (braid_mc_store_store (store, BRAID_MC_STORE_MODE_SET, K (key), 0, 0, K (value), 0), ==,
                       BRAID_MC_STORE_RESULT_STORED);
      if (i % 500 == 0)
        assert_consistent (store, TRUE);
    }
  for (guint i = 0; i < 4; i++)
    {
      BraidMcShardInfo info;

      braid_mc_store_get_shard_info (store, i, &info);
      g_test_message ("shard %u: %u items, %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes", i, info.n_items,
                      info.used, info.limit);
      /* full: less than one more item would fit */
      g_assert_cmpuint (info.used + 2 * strlen (value), >, info.limit);
      g_assert_cmpuint (info.limit, >=, (1024 * 1024) / 4);
    }
  evictions = stats_of (store).evictions;
  g_assert_cmpuint (evictions, >, 0);
  g_assert_cmpuint (stats_of (store).curr_items + evictions, ==, 3000);
  /* the newest item of each shard survived */
  g_assert_nonnull (braid_mc_store_get (store, K ("key:2999")));
  assert_consistent (store, TRUE);

  braid_mc_store_set_limit (store, 512 * 1024);
  assert_consistent (store, TRUE);
  g_assert_cmpuint (stats_of (store).bytes, <=, 512 * 1024);
}

static void
test_stats_sum_over_shards (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidMcStoreSettings settings = BRAID_MC_STORE_SETTINGS_INIT;
  g_autoptr(BraidMcStore) store = NULL;
  BraidMcStats stats;
  gboolean *used_shard;
  guint n_used = 0;

  g_test_summary ("get_stats sums every shard's counters and the store-wide ones; reset_stats resets them all "
                  "but total_items");
  settings.n_shards = 8;
  store = braid_mc_store_new (BRAID_REACTOR (fake), &settings);
  g_assert_cmpuint (braid_mc_store_get_settings (store)->n_shards, ==, 8);
  used_shard = g_new0 (gboolean, 8);
  for (guint i = 0; i < 100; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("key:%u", i);

      braid_mc_store_store (store, BRAID_MC_STORE_MODE_SET, K (key), 0, 0, K ("1"), 0);
      used_shard[braid_mc_store_shard_of_key (store, K (key))] = TRUE;
    }
  for (guint i = 0; i < 8; i++)
    n_used += used_shard[i];
  g_free (used_shard);
  g_assert_cmpuint (n_used, ==, 8);
  for (guint i = 0; i < 150; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("key:%u", i);

      braid_mc_store_get (store, K (key));
    }
  for (guint i = 0; i < 10; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("key:%u", i);
      guint64 v;

      g_assert_cmpint (braid_mc_store_delete (store, K (key)), ==, BRAID_MC_STORE_RESULT_DELETED);
      g_assert_cmpint (braid_mc_store_arith (store, K (key), BRAID_MC_ARITH_MODE_INCR, 1, &v), ==,
                       BRAID_MC_STORE_RESULT_NOT_FOUND);
    }
  braid_mc_store_count (store, G_STRUCT_OFFSET (BraidMcStats, cmd_meta));
  braid_mc_store_flush (store, 100);

  braid_mc_store_get_stats (store, &stats);
  g_assert_cmpuint (stats.curr_items, ==, 90);
  g_assert_cmpuint (stats.total_items, ==, 100);
  g_assert_cmpuint (stats.cmd_set, ==, 100);
  g_assert_cmpuint (stats.cmd_get, ==, 150);
  g_assert_cmpuint (stats.get_hits, ==, 100);
  g_assert_cmpuint (stats.get_misses, ==, 50);
  g_assert_cmpuint (stats.delete_hits, ==, 10);
  g_assert_cmpuint (stats.incr_misses, ==, 10);
  g_assert_cmpuint (stats.cmd_meta, ==, 1);
  g_assert_cmpuint (stats.cmd_flush, ==, 1);
  assert_consistent (store, TRUE);

  braid_mc_store_reset_stats (store);
  braid_mc_store_get_stats (store, &stats);
  g_assert_cmpuint (stats.curr_items, ==, 90);
  g_assert_cmpuint (stats.total_items, ==, 100);
  g_assert_cmpuint (stats.get_hits + stats.cmd_get + stats.cmd_meta + stats.cmd_flush + stats.delete_hits, ==, 0);
}

static void
test_key_lock (void)
{
  g_autoptr(BraidFakeReactor) fake = new_fake ();
  BraidMcStoreSettings settings = BRAID_MC_STORE_SETTINGS_INIT;
  g_autoptr(BraidMcStore) store = NULL;
  BraidMcItem *item;
  BraidMcStats stats;

  g_test_summary ("Under a key's lock, several calls on the key run as one; a whole-store call under it is a "
                  "critical, not a deadlock");
  settings.n_shards = 4;
  store = braid_mc_store_new (BRAID_REACTOR (fake), &settings);
  braid_mc_store_lock_key (store, K ("k"));
  g_assert_null (braid_mc_store_peek (store, K ("k")));
  item = braid_mc_store_vivify (store, K ("k"), K ("0"));
  g_assert_nonnull (item);
  braid_mc_store_set_expiry (store, item, 100);
  g_assert_cmpint (braid_mc_store_get_ttl (store, item), ==, 100);
  g_assert_cmpuint (braid_mc_store_get_last_cas (store, K ("k")), ==, braid_mc_item_get_cas (item));
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*holding a key lock*");
  braid_mc_store_get_stats (store, &stats);
  g_test_assert_expected_messages ();
  braid_mc_store_unlock_key (store, K ("k"));
  g_assert_cmpuint (stats_of (store).curr_items, ==, 1);
}

/* ---- threads ---- */

typedef struct {
  guint64 value;
  guint64 cas;
} Observation;

typedef struct {
  BraidMcStore *store;
  guint index;
  guint32 seed;
  guint n_ops;
  guint n_keys;
  gboolean sizes_vary;      /* values of 100..8000 bytes: the budget test */
  gboolean flushes;         /* flush_all now and then (no counter check then) */
  /* what the thread did, for the checks after the join */
  guint64 counter_incrs;    /* on "counter" */
  guint64 cas_updates;      /* won cas loops on "casval" */
  GArray *cas_stored;       /* guint64: the cas of each store this thread made, in order */
  GArray *casval_seen;      /* Observation: "casval" read or written */
  guint64 max_bytes_seen;
} Worker;

/* An item held after its key's lock was released, as a reply holds it:
 * its bytes must not change whatever the other threads do. */
typedef struct {
  BraidMcItem *item;
  gchar *copy;
  gsize len;
} Held;

static void
held_check_and_drop (Held *held)
{
  gsize len;
  const guint8 *value;

  if (held->item == NULL)
    return;
  value = braid_mc_item_get_value (held->item, &len);
  g_assert_cmpuint (len, ==, held->len);
  g_assert_true (len == 0 || memcmp (value, held->copy, len) == 0);  /* held->copy is NULL for "" */
  g_clear_pointer (&held->item, braid_mc_item_unref);
  g_clear_pointer (&held->copy, g_free);
}

static guint64
parse_u64 (const guint8 *value, gsize len)
{
  g_autofree gchar *text = g_strndup ((const gchar *) value, len);

  return g_ascii_strtoull (text, NULL, 10);
}

/* A store under the key's lock, recording the new item's cas. */
static BraidMcStoreResult
store_recording (Worker *w, BraidMcStoreMode mode, const gchar *key, const gchar *value, gsize value_len,
                 gint64 exptime, guint64 cas, guint64 *new_cas)
{
  BraidMcStoreResult r;

  braid_mc_store_lock_key (w->store, K (key));
  r = braid_mc_store_store (w->store, mode, K (key), 0, exptime, (const guint8 *) value, value_len, cas);
  if (r == BRAID_MC_STORE_RESULT_STORED)
    {
      guint64 c = braid_mc_store_get_last_cas (w->store, K (key));

      g_array_append_val (w->cas_stored, c);
      if (new_cas != NULL)
        *new_cas = c;
    }
  braid_mc_store_unlock_key (w->store, K (key));
  return r;
}

/* gets + cas until the increment wins. */
static void
cas_increment (Worker *w)
{
  for (guint attempt = 0;; attempt++)
    {
      Observation seen = { 0, 0 };
      BraidMcItem *item;
      gsize len;
      const guint8 *value;
      g_autofree gchar *next = NULL;
      Observation written;

      g_assert_cmpuint (attempt, <, 100000);
      braid_mc_store_lock_key (w->store, K ("casval"));
      item = braid_mc_store_get (w->store, K ("casval"));
      g_assert_nonnull (item);
      value = braid_mc_item_get_value (item, &len);
      seen.value = parse_u64 (value, len);
      seen.cas = braid_mc_item_get_cas (item);
      braid_mc_store_unlock_key (w->store, K ("casval"));
      g_array_append_val (w->casval_seen, seen);

      next = g_strdup_printf ("%" G_GUINT64_FORMAT, seen.value + 1);
      written.value = seen.value + 1;
      switch (store_recording (w, BRAID_MC_STORE_MODE_CAS, "casval", next, strlen (next), 0, seen.cas,
                               &written.cas))
        {
        case BRAID_MC_STORE_RESULT_STORED:
          g_array_append_val (w->casval_seen, written);
          w->cas_updates++;
          return;
        case BRAID_MC_STORE_RESULT_EXISTS:
          break;  /* another thread won: read again */
        default:
          g_assert_not_reached ();
        }
    }
}

static gpointer
worker_run (gpointer data)
{
  Worker *w = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (w->seed);
  Held held = { NULL, NULL, 0 };
  gchar value[8192];

  for (guint i = 0; i < w->n_ops; i++)
    {
      guint k = (guint) g_rand_int_range (rand, 0, (gint32) w->n_keys);
      gchar key[32], counter_key[32];
      gsize len = w->sizes_vary ? (gsize) g_rand_int_range (rand, 100, 8000) : (gsize) g_rand_int_range (rand, 1, 200);
      guint64 result;
      guint op = (guint) g_rand_int_range (rand, 0, 14);

      g_snprintf (key, sizeof key, "key:%u", k);
      g_snprintf (counter_key, sizeof counter_key, "num:%u", k % 16);
      memset (value, 'a' + (gint) (i % 26), len);
      if (w->flushes && g_rand_int_range (rand, 0, 2000) == 0)
        braid_mc_store_flush (w->store, 0);
      if (i % 256 == 0)
        {
          BraidMcStats stats = stats_of (w->store);

          g_assert_cmpuint (stats.bytes, <=, braid_mc_store_get_settings (w->store)->limit_bytes);
          w->max_bytes_seen = MAX (w->max_bytes_seen, stats.bytes);
        }

      switch (op)
        {
        case 0:
          if (!w->flushes)
            {
              g_assert_cmpint (braid_mc_store_arith (w->store, K ("counter"), BRAID_MC_ARITH_MODE_INCR, 1, &result),
                               ==, BRAID_MC_STORE_RESULT_STORED);
              w->counter_incrs++;
              break;
            }
          G_GNUC_FALLTHROUGH;
        case 1:
          if (!w->flushes)
            {
              cas_increment (w);
              break;
            }
          G_GNUC_FALLTHROUGH;
        case 2:
        case 3:
          store_recording (w, BRAID_MC_STORE_MODE_SET, key, value, len, g_rand_boolean (rand) ? 0 : 3600, 0, NULL);
          break;
        case 4:
        case 5:
          {
            /* a get whose item outlives the lock, as a reply's does; the
             * previous one is checked unchanged and dropped first */
            const gchar *which = g_rand_boolean (rand) ? key : counter_key;
            BraidMcItem *item;

            held_check_and_drop (&held);
            braid_mc_store_lock_key (w->store, K (which));
            item = braid_mc_store_get (w->store, K (which));
            if (item != NULL)
              {
                const guint8 *v = braid_mc_item_get_value (item, &held.len);

                held.item = braid_mc_item_ref (item);
                held.copy = g_memdup2 (v, held.len);
              }
            braid_mc_store_unlock_key (w->store, K (which));
          }
          break;
        case 6:
          store_recording (w, g_rand_boolean (rand) ? BRAID_MC_STORE_MODE_APPEND : BRAID_MC_STORE_MODE_PREPEND, key,
                           value, MIN (len, 20), 0, 0, NULL);
          break;
        case 7:
          braid_mc_store_delete (w->store, K (key));
          break;
        case 8:
          if (g_rand_boolean (rand))
            braid_mc_store_touch (w->store, K (key), 3600);
          else
            {
              braid_mc_store_lock_key (w->store, K (key));
              braid_mc_store_gat (w->store, K (key), 0);
              braid_mc_store_unlock_key (w->store, K (key));
            }
          break;
        case 9:
        case 10:
          /* incr and decr on counters that readers hold: an in-place
           * rewrite would show in their copies */
          if (braid_mc_store_arith (w->store, K (counter_key),
                                    g_rand_boolean (rand) ? BRAID_MC_ARITH_MODE_INCR : BRAID_MC_ARITH_MODE_DECR,
                                    (guint64) g_rand_int_range (rand, 1, 1000), &result) ==
              BRAID_MC_STORE_RESULT_NOT_FOUND)
            store_recording (w, BRAID_MC_STORE_MODE_ADD, counter_key, "1000000", 7, 0, 0, NULL);
          break;
        case 11:
          store_recording (w, g_rand_boolean (rand) ? BRAID_MC_STORE_MODE_ADD : BRAID_MC_STORE_MODE_REPLACE, key,
                           value, len, 0, 0, NULL);
          break;
        case 12:
          {
            /* mg N: look up, vivify on a miss, hand out the win token,
             * read the TTL: one step as far as other threads can tell */
            BraidMcItem *item;

            braid_mc_store_lock_key (w->store, K (key));
            item = braid_mc_store_peek (w->store, K (key));
            if (item == NULL)
              item = braid_mc_store_vivify (w->store, K (key), NULL, 0);
            if (item != NULL)
              {
                if (!(braid_mc_item_get_marks (item) & BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT))
                  braid_mc_item_add_marks (item, BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT);
                braid_mc_store_set_expiry (w->store, item, 3600);
                g_assert_cmpint (braid_mc_store_get_ttl (w->store, item), <=, 3600);
                braid_mc_store_bump (w->store, item);
              }
            braid_mc_store_unlock_key (w->store, K (key));
          }
          break;
        default:
          {
            BraidMcItem *item = NULL;

            /* ma on a shared counter, holding the result as a reply does */
            if (braid_mc_store_meta_arith (w->store, K (counter_key), BRAID_MC_ARITH_MODE_INCR, 1, 0, &result,
                                           &item) == BRAID_MC_STORE_RESULT_STORED)
              braid_mc_item_unref (item);
          }
          break;
        }
    }
  held_check_and_drop (&held);
  return NULL;
}

static int
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

static int
compare_observations (gconstpointer a, gconstpointer b)
{
  const Observation *x = a, *y = b;

  return x->value != y->value ? (x->value < y->value ? -1 : 1) : compare_u64 (&x->cas, &y->cas);
}

static void
run_workers (BraidMcStore *store, Worker *workers, guint n_ops, guint n_keys, gboolean sizes_vary, gboolean flushes)
{
  GThread *threads[N_THREADS];
  guint32 seed = (guint32) g_test_rand_int ();

  g_test_message ("%d threads x %u operations on %u keys, seed %" G_GUINT32_FORMAT, N_THREADS, n_ops, n_keys, seed);
  for (guint i = 0; i < N_THREADS; i++)
    {
      Worker *w = &workers[i];

      w->store = store;
      w->index = i;
      w->seed = seed + i;
      w->n_ops = n_ops;
      w->n_keys = n_keys;
      w->sizes_vary = sizes_vary;
      w->flushes = flushes;
      w->cas_stored = g_array_new (FALSE, FALSE, sizeof (guint64));
      w->casval_seen = g_array_new (FALSE, FALSE, sizeof (Observation));
    }
  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("store-worker", worker_run, &workers[i]);
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
}

static void
workers_clear (Worker *workers)
{
  for (guint i = 0; i < N_THREADS; i++)
    {
      g_array_unref (workers[i].cas_stored);
      g_array_unref (workers[i].casval_seen);
    }
}

/* Every cas a store handed out is unique, and each thread saw its own
 * increase. */
static void
assert_cas_unique (Worker *workers)
{
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (guint i = 0; i < N_THREADS; i++)
    {
      GArray *mine = workers[i].cas_stored;

      for (guint j = 1; j < mine->len; j++)
        g_assert_cmpuint (g_array_index (mine, guint64, j - 1), <, g_array_index (mine, guint64, j));
      g_array_append_vals (all, mine->data, mine->len);
    }
  g_array_sort (all, compare_u64);
  for (guint j = 1; j < all->len; j++)
    g_assert_cmpuint (g_array_index (all, guint64, j - 1), <, g_array_index (all, guint64, j));
  g_test_message ("%u stores, %u distinct cas", all->len, all->len);
}

static BraidGlibReactor *
new_glib_reactor (GMainContext **context)
{
  *context = g_main_context_new ();
  return braid_glib_reactor_new (*context);
}

static void
test_threads_mixed (void)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(BraidGlibReactor) reactor = new_glib_reactor (&context);
  BraidMcStoreSettings settings = BRAID_MC_STORE_SETTINGS_INIT;
  g_autoptr(BraidMcStore) store = NULL;
  Worker workers[N_THREADS] = { 0 };
  guint n_ops = g_test_slow () ? 500000 : 50000;
  guint64 incrs = 0, updates = 0;
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (Observation));
  BraidMcItem *item;
  const guint8 *value;
  gsize len;

  g_test_summary ("8 threads of mixed commands on overlapping keys: no increment or cas update is lost, every cas "
                  "is unique and a value's cas grows with it, held items never change, and the shards stay "
                  "consistent");
  settings.n_shards = 8;
  store = braid_mc_store_new (BRAID_REACTOR (reactor), &settings);
  g_assert_cmpuint (braid_mc_store_get_settings (store)->n_shards, ==, 8);
  g_assert_cmpint (braid_mc_store_store (store, BRAID_MC_STORE_MODE_SET, K ("counter"), 0, 0, K ("0"), 0), ==,
                   BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (braid_mc_store_store (store, BRAID_MC_STORE_MODE_SET, K ("casval"), 0, 0, K ("0"), 0), ==,
                   BRAID_MC_STORE_RESULT_STORED);

  run_workers (store, workers, n_ops, 64, FALSE, FALSE);

  for (guint i = 0; i < N_THREADS; i++)
    {
      incrs += workers[i].counter_incrs;
      updates += workers[i].cas_updates;
      g_array_append_vals (seen, workers[i].casval_seen->data, workers[i].casval_seen->len);
    }
  item = braid_mc_store_get (store, K ("counter"));
  g_assert_nonnull (item);
  value = braid_mc_item_get_value (item, &len);
  g_assert_cmpuint (parse_u64 (value, len), ==, incrs);
  item = braid_mc_store_get (store, K ("casval"));
  g_assert_nonnull (item);
  value = braid_mc_item_get_value (item, &len);
  g_assert_cmpuint (parse_u64 (value, len), ==, updates);
  g_test_message ("counter: %" G_GUINT64_FORMAT " increments, casval: %" G_GUINT64_FORMAT " updates", incrs,
                  updates);
  g_assert_cmpuint (incrs, >, 0);
  g_assert_cmpuint (updates, >, 0);

  /* "casval": one cas per value, growing with the value */
  g_array_sort (seen, compare_observations);
  for (guint j = 1; j < seen->len; j++)
    {
      Observation *a = &g_array_index (seen, Observation, j - 1), *b = &g_array_index (seen, Observation, j);

      if (a->value == b->value)
        g_assert_cmpuint (a->cas, ==, b->cas);
      else
        g_assert_cmpuint (a->cas, <, b->cas);
    }
  assert_cas_unique (workers);
  assert_consistent (store, TRUE);
  workers_clear (workers);
}

static void
test_threads_budget (void)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(BraidGlibReactor) reactor = new_glib_reactor (&context);
  BraidMcStoreSettings settings = { 2 * 1024 * 1024, TRUE, 64 * 1024, TRUE, 0, 8 };
  g_autoptr(BraidMcStore) store = braid_mc_store_new (BRAID_REACTOR (reactor), &settings);
  Worker workers[N_THREADS] = { 0 };
  guint n_ops = g_test_slow () ? 250000 : 25000;
  guint n_keys = 2000;
  guint64 max_seen = 0;

  g_test_summary ("8 threads storing values of up to 8 KB in a 2 MB store, with flush_all now and then: the "
                  "memory budget holds at every moment, eviction keeps every shard in its share, and the "
                  "counters match the items");
  g_assert_cmpuint (braid_mc_store_get_settings (store)->n_shards, ==, 8);

  run_workers (store, workers, n_ops, n_keys, TRUE, TRUE);

  for (guint i = 0; i < N_THREADS; i++)
    max_seen = MAX (max_seen, workers[i].max_bytes_seen);
  g_test_message ("at most %" G_GUINT64_FORMAT " bytes of %" G_GSIZE_FORMAT ", %" G_GUINT64_FORMAT " evictions",
                  max_seen, settings.limit_bytes, stats_of (store).evictions);
  g_assert_cmpuint (stats_of (store).evictions, >, 0);
  assert_cas_unique (workers);
  assert_consistent (store, FALSE);
  /* Look every key up once: flushed items go, and what is left is what
   * foreach lists. */
  for (guint k = 0; k < n_keys; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("key:%u", k);

      braid_mc_store_get (store, K (key));
    }
  for (guint k = 0; k < 16; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("num:%u", k);

      braid_mc_store_get (store, K (key));
    }
  assert_consistent (store, TRUE);
  workers_clear (workers);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/store-threads/shards/one-is-the-store", test_one_shard_is_the_store);
  g_test_add_func ("/mc/store-threads/shards/count-capped", test_shard_count_capped);
  g_test_add_func ("/mc/store-threads/shards/eviction-per-shard", test_eviction_per_shard);
  g_test_add_func ("/mc/store-threads/shards/stats-sum", test_stats_sum_over_shards);
  g_test_add_func ("/mc/store-threads/shards/key-lock", test_key_lock);
  g_test_add_func ("/mc/store-threads/threads/mixed", test_threads_mixed);
  g_test_add_func ("/mc/store-threads/threads/budget", test_threads_budget);
  return g_test_run ();
}
