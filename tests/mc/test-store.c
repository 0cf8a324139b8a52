/* braid — the memcached item store, in simulated time. */
#include "test-support.h"
#include "mc-store-private.h"

#include <string.h>

#define DAY (24 * 60 * 60)
#define K(s) (const guint8 *) (s), strlen (s)

static BraidMcStats
stats_of (BraidMcStore *store)
{
  BraidMcStats stats;

  braid_mc_store_get_stats (store, &stats);
  return stats;
}

typedef struct {
  BraidFakeReactor *fake;
  BraidMcStore *store;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  const BraidMcStoreSettings *settings = data;

  f->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  braid_fake_reactor_set_real_time (f->fake, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC);
  f->store = braid_mc_store_new (BRAID_REACTOR (f->fake), settings);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  braid_mc_store_free (f->store);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (f->fake), ==, 0);
  g_assert_finalize_object (f->fake);
}

static BraidMcStoreResult
set (Fixture *f, const gchar *key, const gchar *value, gint64 exptime)
{
  return braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_SET, K (key), 0, exptime, K (value), 0);
}

static gboolean
has (Fixture *f, const gchar *key)
{
  return braid_mc_store_get (f->store, K (key)) != NULL;
}

static gchar *
value_of (Fixture *f, const gchar *key)
{
  BraidMcItem *item = braid_mc_store_get (f->store, K (key));
  gsize len;
  const guint8 *v;

  if (item == NULL)
    return NULL;
  v = braid_mc_item_get_value (item, &len);
  return g_strndup ((const gchar *) v, len);
}

static void
advance_s (Fixture *f, gint64 seconds)
{
  braid_fake_reactor_advance (f->fake, seconds * G_USEC_PER_SEC);
}

static void
test_relative_expiry (Fixture *f, gconstpointer data)
{
  g_test_summary ("Relative expiry: an item lives its seconds and is gone at the deadline, without sleeping");
  g_assert_cmpint (set (f, "a", "1", 10), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (set (f, "never", "1", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  braid_fake_reactor_advance (f->fake, 10 * G_USEC_PER_SEC - 1);
  g_assert_true (has (f, "a"));
  braid_fake_reactor_advance (f->fake, 1);
  g_assert_false (has (f, "a"));
  advance_s (f, 365 * DAY);
  g_assert_true (has (f, "never"));
  g_assert_cmpuint (stats_of (f->store).get_expired, ==, 1);
}

static void
test_thirty_day_boundary (Fixture *f, gconstpointer data)
{
  gint64 now = braid_mc_store_real_seconds (f->store);

  g_test_summary ("Up to 30 days is relative; beyond is an absolute Unix time; absolute times in the past are expired");
  g_assert_cmpint (set (f, "rel", "1", 30 * DAY), ==, BRAID_MC_STORE_RESULT_STORED);
  /* 30 days + 1 second is read as a Unix time in 1970: long past. */
  g_assert_cmpint (set (f, "past", "1", 30 * DAY + 1), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_false (has (f, "past"));
  g_assert_cmpint (set (f, "abs", "1", now + 100), ==, BRAID_MC_STORE_RESULT_STORED);
  advance_s (f, 99);
  g_assert_true (has (f, "abs"));
  advance_s (f, 1);
  g_assert_false (has (f, "abs"));
  advance_s (f, 30 * DAY - 101);
  g_assert_true (has (f, "rel"));
  advance_s (f, 1);
  g_assert_false (has (f, "rel"));
}

static void
test_negative_expiry (Fixture *f, gconstpointer data)
{
  g_test_summary ("A negative expiry means already expired, for set and touch alike");
  g_assert_cmpint (set (f, "k", "x", -1), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_false (has (f, "k"));
  g_assert_cmpint (set (f, "j", "y", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("j"), -1), ==, BRAID_MC_STORE_RESULT_TOUCHED);
  g_assert_false (has (f, "j"));
}

static void
test_negative_expiry_at_clock_start (Fixture *f, gconstpointer data)
{
  g_test_summary ("An expiry already past is stored as already expired at every instant, the clock's first "
                  "microseconds included, where 'now minus one' would be 0, which means never");
  for (guint us = 0; us < 4; us++)
    {
      g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (f->fake)), ==, us);
      g_assert_cmpint (set (f, "neg", "x", -1), ==, BRAID_MC_STORE_RESULT_STORED);
      g_assert_false (has (f, "neg"));
      /* an absolute time in the past takes the same way */
      g_assert_cmpint (set (f, "abs", "x", 1800000000 - 1), ==, BRAID_MC_STORE_RESULT_STORED);
      g_assert_false (has (f, "abs"));
      braid_fake_reactor_advance (f->fake, 1);
    }
}

static void
test_touch_and_gat (Fixture *f, gconstpointer data)
{
  g_test_summary ("touch and gat give an item a new lifetime");
  set (f, "k", "v", 5);
  advance_s (f, 4);
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("k"), 10), ==, BRAID_MC_STORE_RESULT_TOUCHED);
  advance_s (f, 9);
  g_assert_nonnull (braid_mc_store_gat (f->store, K ("k"), 3));
  advance_s (f, 3);
  g_assert_false (has (f, "k"));
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("k"), 10), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
}

static void
test_storage_modes (Fixture *f, gconstpointer data)
{
  g_autofree gchar *v = NULL;
  guint64 cas = 0;

  g_test_summary ("add, replace, append and prepend follow memcached (a one-byte join too); append keeps the old "
                  "flags");
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_REPLACE, K ("k"), 0, 0, K ("x"), 0), ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_APPEND, K ("k"), 0, 0, K ("x"), 0), ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_ADD, K ("k"), 7, 0, K ("mid"), 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_ADD, K ("k"), 0, 0, K ("x"), 0), ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_APPEND, K ("k"), 1, 0, K ("-end"), 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_PREPEND, K ("k"), 2, 0, K ("start-"), 0), ==, BRAID_MC_STORE_RESULT_STORED);
  v = value_of (f, "k");
  g_assert_cmpstr (v, ==, "start-mid-end");
  g_assert_cmpuint (braid_mc_item_get_flags (braid_mc_store_get (f->store, K ("k"))), ==, 7);
  g_clear_pointer (&v, g_free);

  /* one byte each way: the smallest join copies its byte too */
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_APPEND, K ("k"), 0, 0, K ("!"), 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_PREPEND, K ("k"), 0, 0, K ("^"), 0), ==, BRAID_MC_STORE_RESULT_STORED);
  v = value_of (f, "k");
  g_assert_cmpstr (v, ==, "^start-mid-end!");
  g_clear_pointer (&v, g_free);
  /* and through ms's MA and MP, which join on a path of their own */
  g_assert_cmpint (braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_APPEND, K ("k"), FALSE, 0, 0, K ("$"), 0,
                                              FALSE, &cas),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_PREPEND, K ("k"), FALSE, 0, 0, K ("<"), 0,
                                              FALSE, &cas),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  v = value_of (f, "k");
  g_assert_cmpstr (v, ==, "<^start-mid-end!$");
}

static void
test_cas (Fixture *f, gconstpointer data)
{
  guint64 first, second;
  GHashTable *seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  g_test_summary ("cas values are unique and change on every store; cas succeeds only with the current one");
  set (f, "k", "1", 0);
  first = braid_mc_item_get_cas (braid_mc_store_get (f->store, K ("k")));
  g_assert_cmpuint (first, ==, 1);  /* as memcached numbers a fresh server's first item */
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_CAS, K ("k"), 0, 0, K ("2"), first), ==, BRAID_MC_STORE_RESULT_STORED);
  second = braid_mc_item_get_cas (braid_mc_store_get (f->store, K ("k")));
  g_assert_cmpuint (second, !=, first);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_CAS, K ("k"), 0, 0, K ("3"), first), ==, BRAID_MC_STORE_RESULT_EXISTS);
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_CAS, K ("nope"), 0, 0, K ("3"), 1), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i % 37);
      guint64 *cas = g_new (guint64, 1);

      set (f, key, "v", 0);
      *cas = braid_mc_item_get_cas (braid_mc_store_get (f->store, K (key)));
      g_assert_false (g_hash_table_contains (seen, cas));
      g_hash_table_add (seen, cas);
    }
  g_hash_table_destroy (seen);
  g_assert_cmpuint (stats_of (f->store).cas_badval, ==, 1);
}

static void
test_incr_decr (Fixture *f, gconstpointer data)
{
  guint64 r = 0;
  g_autofree gchar *v = NULL;

  g_test_summary ("incr wraps at 2^64 and keeps the value's length; decr floors at 0; "
                  "non-numeric values (digits followed by letters too) are refused; leading spaces are fine");
  set (f, "n", "18446744073709551615", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("n"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (r, ==, 0);
  v = value_of (f, "n");
  g_assert_cmpstr (v, ==, "0                   ");
  g_clear_pointer (&v, g_free);

  set (f, "m", "5", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("m"), BRAID_MC_ARITH_MODE_DECR, 10, &r), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (r, ==, 0);

  set (f, "grow", "9", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("grow"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_STORED);
  v = value_of (f, "grow");
  g_assert_cmpstr (v, ==, "10");
  g_clear_pointer (&v, g_free);

  set (f, "sp", " 12", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("sp"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (r, ==, 13);
  v = value_of (f, "sp");
  g_assert_cmpstr (v, ==, "13 ");

  set (f, "s", "abc", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("s"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_NON_NUMERIC);
  /* digits, then something that is neither a space nor the end */
  set (f, "tail", "12abc", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("tail"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_NON_NUMERIC);
  set (f, "neg", "-5", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("neg"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_NON_NUMERIC);
  set (f, "huge", "18446744073709551616", 0);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("huge"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_NON_NUMERIC);
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("absent"), BRAID_MC_ARITH_MODE_INCR, 1, &r), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
}

static void
test_flush_all (Fixture *f, gconstpointer data)
{
  g_test_summary ("flush_all invalidates everything at once; flush_all N does so N seconds later, "
                  "keeping what is stored after that moment");
  set (f, "a", "1", 0);
  braid_mc_store_flush (f->store, 0);
  g_assert_false (has (f, "a"));
  set (f, "b", "2", 0);  /* same instant, after the flush */
  g_assert_true (has (f, "b"));

  braid_mc_store_flush (f->store, 10);
  set (f, "c", "3", 0);
  advance_s (f, 9);
  g_assert_true (has (f, "b"));
  g_assert_true (has (f, "c"));
  advance_s (f, 1);
  g_assert_false (has (f, "b"));
  g_assert_false (has (f, "c"));
  set (f, "d", "4", 0);
  g_assert_true (has (f, "d"));
}

static const BraidMcStoreSettings small = { 10 * 1024, TRUE, 1024 * 1024, TRUE };
static const BraidMcStoreSettings small_no_evict = { 10 * 1024, FALSE, 1024 * 1024, TRUE };
static const BraidMcStoreSettings no_evict_big = { 64 * 1024 * 1024, FALSE, 1024 * 1024, TRUE };

static void
test_eviction_order (Fixture *f, gconstpointer data)
{
  g_autofree gchar *value = g_strnfill (800, 'v');
  BraidMcStats stats;

  g_test_summary ("Over the byte budget the least recently used items go first; reading an item protects it");
  for (guint i = 0; i < 10; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);

      g_assert_cmpint (set (f, key, value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  /* 10 items of ~940 bytes as really allocated (value, key, header,
   * malloc's rounding, the index slot) fit the 10 KiB budget; touch k0 so
   * it is recent. */
  g_assert_true (has (f, "k0"));
  set (f, "k10", value, 0);
  set (f, "k11", value, 0);
  braid_mc_store_get_stats (f->store, &stats);
  g_assert_cmpuint (stats.evictions, >=, 1);
  g_assert_true (has (f, "k0"));
  g_assert_false (has (f, "k1"));
  g_assert_true (has (f, "k11"));
  g_assert_cmpuint (stats.bytes, <=, 10 * 1024);
}

static void
test_evicted_unfetched (Fixture *f, gconstpointer data)
{
  g_autofree gchar *value = g_strnfill (800, 'v');
  BraidMcStats stats;
  guint64 evictions_before;

  g_test_summary ("evicted_unfetched counts the evicted items nobody read, and only those");
  for (guint i = 0; i < 14; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);
      g_assert_cmpint (set (f, key, value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  braid_mc_store_get_stats (f->store, &stats);
  g_assert_cmpuint (stats.evictions, >=, 1);
  g_assert_cmpuint (stats.evicted_unfetched, ==, stats.evictions);

  /* read every item left, then push them all out */
  for (guint i = 0; i < 14; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);
      (void) has (f, key);
    }
  evictions_before = stats.evictions;
  /* new items until three more went: the least recent, all of them read */
  for (guint i = 100; stats.evictions < evictions_before + 3; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);
      g_assert_cmpint (set (f, key, value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
      braid_mc_store_get_stats (f->store, &stats);
    }
  g_assert_cmpuint (stats.evicted_unfetched, ==, evictions_before);
}

static void
test_exact_fit (Fixture *f, gconstpointer data)
{
  BraidMcStats stats;
  guint64 used;

  g_test_summary ("A budget of exactly the bytes in use evicts nothing; one byte less evicts");
  for (guint i = 0; i < 5; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);
      g_assert_cmpint (set (f, key, "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  braid_mc_store_get_stats (f->store, &stats);
  used = stats.bytes;
  g_assert_cmpuint (stats.evictions, ==, 0);
  braid_mc_store_set_limit (f->store, used);
  braid_mc_store_get_stats (f->store, &stats);
  g_assert_cmpuint (stats.evictions, ==, 0);
  g_assert_cmpuint (braid_mc_store_get_n_items (f->store), ==, 5);
  braid_mc_store_set_limit (f->store, used - 1);
  braid_mc_store_get_stats (f->store, &stats);
  g_assert_cmpuint (stats.evictions, ==, 1);
  g_assert_cmpuint (braid_mc_store_get_n_items (f->store), ==, 4);
  g_assert_false (has (f, "k0"));
}

static void
test_no_evict (Fixture *f, gconstpointer data)
{
  g_autofree gchar *value = g_strnfill (900, 'v');
  guint stored = 0;

  g_test_summary ("With -M a full store refuses new items instead of evicting, and keeps the old ones");
  for (guint i = 0; i < 20; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);

      if (set (f, key, value, 0) == BRAID_MC_STORE_RESULT_STORED)
        stored++;
    }
  g_assert_cmpuint (stored, <, 20);
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 0);
  g_assert_cmpuint (stats_of (f->store).store_no_memory, ==, 20 - stored);
  g_assert_true (has (f, "k0"));
  /* replacing in place still works when it fits */
  g_assert_cmpint (set (f, "k0", "small", 0), ==, BRAID_MC_STORE_RESULT_STORED);
}

static void
test_expired_memory_reclaimed (Fixture *f, gconstpointer data)
{
  g_autofree gchar *value = g_strnfill (800, 'v');

  g_test_summary ("Expired items' memory is reclaimed from the LRU tail as new items arrive, before anything live is "
                  "evicted; items fetched before they expired do not count as expired_unfetched");
  for (guint i = 0; i < 10; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("old%u", i);

      set (f, key, value, 1);
      /* fetched while alive: its reclaim is not an unfetched expiry */
      g_assert_true (has (f, key));
    }
  advance_s (f, 2);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("new%u", i);

      g_assert_cmpint (set (f, key, value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 0);
  g_assert_cmpuint (stats_of (f->store).reclaimed, >=, 5);
  g_assert_cmpuint (stats_of (f->store).expired_unfetched, ==, 0);
}

static void
test_debugtime (Fixture *f, gconstpointer data)
{
  g_test_summary ("debugtime moves the store's clock: expiry can be checked without any sleeping");
  set (f, "k", "v", 60);
  braid_mc_store_add_time (f->store, 59);
  g_assert_true (has (f, "k"));
  braid_mc_store_add_time (f->store, 1);
  g_assert_false (has (f, "k"));
}

/* DJB2 (h * 33 + c) gives "Ez" and "FY" the same hash, so every string of
 * n such blocks collides with every other: 2^n keys in one bucket. */
static gchar *
colliding_key (guint bits, guint n_blocks)
{
  GString *key = g_string_new (NULL);

  for (guint b = 0; b < n_blocks; b++)
    g_string_append (key, (bits >> b) & 1 ? "FY" : "Ez");
  return g_string_free (key, FALSE);
}

static guint
djb2 (const gchar *key)
{
  guint h = 5381;

  for (; *key != '\0'; key++)
    h = h * 33 + (guint8) *key;
  return h;
}

static void
test_hash_flooding (Fixture *f, gconstpointer data)
{
  const guint n_keys = 16384;
  g_autoptr(GHashTable) hashes = g_hash_table_new (NULL, NULL);
  BraidMcStoreSettings other_seed = BRAID_MC_STORE_SETTINGS_INIT;
  g_autoptr(BraidMcStore) other = NULL;
  g_autofree gchar *k0 = colliding_key (0, 14);
  g_autofree gchar *k1 = colliding_key (1, 14);

  g_test_summary ("Keys built to collide under a fixed string hash (DJB2's Ez/FY blocks) spread under "
                  "the store's keyed hash, and another seed hashes them differently");
  g_test_bug ("11");
  g_assert_cmpuint (djb2 (k0), ==, djb2 (k1));
  for (guint i = 0; i < n_keys; i++)
    {
      g_autofree gchar *key = colliding_key (i, 14);

      g_hash_table_add (hashes, GUINT_TO_POINTER (braid_mc_store_hash_key (f->store, (const guint8 *) key, strlen (key))));
      g_assert_cmpint (set (f, key, "v", 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  /* 32-bit hashes of 16384 keys: a handful of chance collisions at most. */
  g_assert_cmpuint (g_hash_table_size (hashes), >=, n_keys - 16);
  g_assert_cmpuint (braid_mc_store_get_n_items (f->store), ==, n_keys);

  other_seed.hash_seed = 0x5eed;
  other = braid_mc_store_new (BRAID_REACTOR (f->fake), &other_seed);
  g_assert_cmpuint (braid_mc_store_hash_key (f->store, (const guint8 *) k0, strlen (k0)), !=,
                    braid_mc_store_hash_key (other, (const guint8 *) k0, strlen (k0)));
}

static void
test_random_seeds_differ (Fixture *f, gconstpointer data)
{
  BraidMcStore *stores[2];
  guint32 hashes[2];

  g_test_summary ("Two stores without a seed in their settings draw different ones (from the kernel: "
                  "nothing the process could be made to repeat), so a key hashes differently in each");
  /* made the same way, at the same call depth, in the same process */
  for (guint i = 0; i < G_N_ELEMENTS (stores); i++)
    stores[i] = braid_mc_store_new (BRAID_REACTOR (f->fake), NULL);
  for (guint i = 0; i < G_N_ELEMENTS (stores); i++)
    hashes[i] = braid_mc_store_hash_key (stores[i], K ("the same key"));
  /* equal by chance: once in 2^32 runs */
  g_assert_cmpuint (hashes[0], !=, hashes[1]);
  for (guint i = 0; i < G_N_ELEMENTS (stores); i++)
    braid_mc_store_free (stores[i]);
}

static void
test_real_cost (Fixture *f, gconstpointer data)
{
  BraidMcStats stats;

  g_test_summary ("-m counts what an item really costs (its allocation and its slot in the index), "
                  "more than memcached's nominal 48-byte header + key + value");
  g_test_bug ("11");
  g_assert_cmpint (set (f, "k", "0123456789", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  braid_mc_store_get_stats (f->store, &stats);
  g_assert_cmpuint (stats.bytes, >, braid_mc_item_size (1, 0, 10, TRUE));
  /* the index slot alone is 2 × (hash + key + value pointers) */
  g_assert_cmpuint (stats.bytes, >=, 1 + 10 + 2 * (sizeof (guint) + 2 * sizeof (gpointer)));
  braid_mc_store_delete (f->store, (const guint8 *) "k", 1);
  braid_mc_store_get_stats (f->store, &stats);
  g_assert_cmpuint (stats.bytes, ==, 0);
}

/* ---- counters, cas and the clock: what the mutation runs found untested ---- */

#define STAT_FIELDS(X) \
  X (curr_items) X (total_items) X (bytes) X (cmd_get) X (cmd_set) X (cmd_flush) X (cmd_touch) \
  X (get_hits) X (get_misses) X (get_expired) X (get_flushed) X (delete_hits) X (delete_misses) \
  X (incr_hits) X (incr_misses) X (decr_hits) X (decr_misses) X (cas_hits) X (cas_misses) X (cas_badval) \
  X (touch_hits) X (touch_misses) X (store_too_large) X (store_no_memory) X (evictions) X (reclaimed) \
  X (expired_unfetched) X (evicted_unfetched) X (cmd_meta)

/* Every counter, by name, so that a failure says which one. */
static void
assert_stats_equal (const BraidMcStats *got, const BraidMcStats *want)
{
#define CHECK_FIELD(name) \
  if (got->name != want->name) \
    g_error ("stat %s: %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, #name, got->name, want->name);
  STAT_FIELDS (CHECK_FIELD)
#undef CHECK_FIELD
}

static BraidMcStoreResult
store_mode (Fixture *f, BraidMcStoreMode mode, const gchar *key, const gchar *value, guint64 cas)
{
  return braid_mc_store_store (f->store, mode, K (key), 0, 0, K (value), cas);
}

static BraidMcStoreResult
arith (Fixture *f, const gchar *key, BraidMcArithMode mode, guint64 delta)
{
  guint64 result;

  return braid_mc_store_arith (f->store, K (key), mode, delta, &result);
}

static guint64
cas_of (Fixture *f, const gchar *key)
{
  BraidMcItem *item = braid_mc_store_peek (f->store, K (key));

  g_assert_nonnull (item);
  return braid_mc_item_get_cas (item);
}

static void
test_counters (Fixture *f, gconstpointer data)
{
  g_autofree gchar *too_large = g_strnfill (1024 * 1024, 'x');
  BraidMcStats want = { 0 };
  BraidMcStats got;
  gsize keep_bytes;

  g_test_summary ("Each classic command moves exactly its own counters, hits apart from misses (gat counts as "
                  "a touch only, as memcached 1.6.18 counts it); reset zeroes them all but total_items, "
                  "curr_items and bytes");
  set (f, "a", "1", 0);
  want.cmd_set = 1;
  want.total_items = 1;
  g_assert_true (has (f, "a"));
  g_assert_false (has (f, "zz"));
  want.cmd_get = 2, want.get_hits = 1, want.get_misses = 1;
  g_assert_nonnull (braid_mc_store_gat (f->store, K ("a"), 100));
  g_assert_null (braid_mc_store_gat (f->store, K ("zz"), 100));
  want.cmd_touch = 2, want.touch_hits = 1, want.touch_misses = 1;
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("a"), 100), ==, BRAID_MC_STORE_RESULT_TOUCHED);
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("zz"), 100), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("zz"), 100), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  want.cmd_touch = 5, want.touch_hits = 2, want.touch_misses = 3;
  g_assert_cmpint (arith (f, "a", BRAID_MC_ARITH_MODE_INCR, 1), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (arith (f, "zz", BRAID_MC_ARITH_MODE_INCR, 1), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  want.incr_hits = 1, want.incr_misses = 1;
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (arith (f, "a", BRAID_MC_ARITH_MODE_DECR, 1), ==, BRAID_MC_STORE_RESULT_STORED);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (arith (f, "zz", BRAID_MC_ARITH_MODE_DECR, 1), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  want.decr_hits = 2, want.decr_misses = 3;
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_CAS, "a", "2", cas_of (f, "a")), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_CAS, "a", "3", 1), ==, BRAID_MC_STORE_RESULT_EXISTS);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_CAS, "a", "3", 2), ==, BRAID_MC_STORE_RESULT_EXISTS);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_CAS, "zz", "3", 1), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  want.cmd_set = 5, want.total_items = 2, want.cas_hits = 1, want.cas_badval = 2, want.cas_misses = 1;
  g_assert_cmpint (braid_mc_store_delete (f->store, K ("a")), ==, BRAID_MC_STORE_RESULT_DELETED);
  g_assert_cmpint (braid_mc_store_delete (f->store, K ("a")), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  g_assert_cmpint (braid_mc_store_delete (f->store, K ("zz")), ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  want.delete_hits = 1, want.delete_misses = 2;

  /* an expired item nobody read; a flushed one that was read */
  set (f, "e", "1", 1);
  set (f, "fl", "1", 0);
  g_assert_true (has (f, "fl"));
  advance_s (f, 1);
  g_assert_false (has (f, "e"));
  braid_mc_store_flush (f->store, 0);
  g_assert_false (has (f, "fl"));
  want.cmd_set = 7, want.total_items = 4, want.cmd_flush = 1;
  want.cmd_get = 5, want.get_hits = 2, want.get_misses = 3;
  want.get_expired = 1, want.expired_unfetched = 1, want.get_flushed = 1;

  g_assert_cmpint (set (f, "big", too_large, 0), ==, BRAID_MC_STORE_RESULT_TOO_LARGE);
  want.cmd_set = 8, want.store_too_large = 1;
  set (f, "keep", "v", 0);
  want.cmd_set = 9, want.total_items = 5, want.curr_items = 1;
  keep_bytes = stats_of (f->store).bytes;
  g_assert_cmpuint (keep_bytes, >, 0);
  want.bytes = keep_bytes;
  got = stats_of (f->store);
  assert_stats_equal (&got, &want);

  braid_mc_store_reset_stats (f->store);
  memset (&want, 0, sizeof want);
  want.total_items = 5, want.curr_items = 1, want.bytes = keep_bytes;
  got = stats_of (f->store);
  assert_stats_equal (&got, &want);
}

static void
test_cas_changes_on_every_modification (Fixture *f, gconstpointer data)
{
  guint64 before;
  guint64 result = 0;

  g_test_summary ("Every change of an item gives it a new, higher cas, in place (incr, decr) or not (append, "
                  "prepend, touch keeps it); the old cas no longer matches");
  set (f, "n", "10", 0);
  before = cas_of (f, "n");
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("n"), BRAID_MC_ARITH_MODE_INCR, 5, &result), ==,
                   BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (result, ==, 15);
  g_assert_cmpuint (cas_of (f, "n"), >, before);
  g_assert_cmpuint (braid_mc_store_get_last_cas (f->store, K ("n")), ==, cas_of (f, "n"));
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_CAS, "n", "1", before), ==, BRAID_MC_STORE_RESULT_EXISTS);
  before = cas_of (f, "n");
  g_assert_cmpint (braid_mc_store_arith (f->store, K ("n"), BRAID_MC_ARITH_MODE_DECR, 20, &result), ==,
                   BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (result, ==, 0);
  g_assert_cmpuint (cas_of (f, "n"), >, before);
  before = cas_of (f, "n");
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_APPEND, "n", "1", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (cas_of (f, "n"), >, before);
  before = cas_of (f, "n");
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_PREPEND, "n", "1", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (cas_of (f, "n"), >, before);
  before = cas_of (f, "n");
  g_assert_cmpint (braid_mc_store_touch (f->store, K ("n"), 100), ==, BRAID_MC_STORE_RESULT_TOUCHED);
  g_assert_cmpuint (cas_of (f, "n"), ==, before);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_CAS, "n", "x", before), ==, BRAID_MC_STORE_RESULT_STORED);
}

static void
test_absolute_expiry_at_now (Fixture *f, gconstpointer data)
{
  gint64 real = braid_mc_store_real_seconds (f->store);

  g_test_summary ("An absolute exptime equal to the current Unix time is already expired; one second later "
                  "lives exactly one second");
  g_assert_cmpint (set (f, "now", "1", real), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_false (has (f, "now"));
  g_assert_cmpint (set (f, "next", "1", real + 1), ==, BRAID_MC_STORE_RESULT_STORED);
  braid_fake_reactor_advance (f->fake, G_USEC_PER_SEC - 1);
  g_assert_true (has (f, "next"));
  braid_fake_reactor_advance (f->fake, 1);
  g_assert_false (has (f, "next"));
}

static void
test_clock_after_reactor_gone (void)
{
  BraidFakeReactor *fake = braid_fake_reactor_new (1);
  BraidMcStore *store;
  gint64 now, real;

  g_test_summary ("Once its reactor is gone the store's clock stops at the last reading, to the millisecond "
                  "(the reading is kept only when it moved that far)");
  braid_fake_reactor_set_real_time (fake, G_GINT64_CONSTANT (1800000000) * G_USEC_PER_SEC);
  store = braid_mc_store_new (BRAID_REACTOR (fake), NULL);
  braid_fake_reactor_advance (fake, 10 * G_USEC_PER_SEC + 1234);
  now = braid_mc_store_now (store);
  real = braid_mc_store_real_seconds (store);
  g_assert_cmpint (now, >=, 10 * G_USEC_PER_SEC + 1234);
  /* under a millisecond later: not worth a write */
  braid_fake_reactor_advance (fake, 999);
  g_assert_cmpint (braid_mc_store_now (store), ==, now + 999);
  g_assert_finalize_object (fake);
  g_assert_cmpint (braid_mc_store_now (store), ==, now);
  g_assert_cmpint (braid_mc_store_real_seconds (store), ==, real);
  braid_mc_store_free (store);
}

/* The bytes one item of @key_len and @value_len counts against -m, by
 * the cost model mc-store.c documents: its 64-byte header, the key, a
 * NUL, the value and "\r\n", as glibc's malloc rounds them on 64-bit (an
 * 8-byte chunk header rounded up to 16, 32 at least; whole pages and a
 * 16-byte header from 128 KiB, where malloc maps them), plus the index's
 * 2 × (hash + two pointers). */
static gsize
modelled_cost (gsize key_len, gsize value_len)
{
  gsize requested = 64 + key_len + 1 + value_len + 2;
  gsize allocated = requested >= 128 * 1024 ? (requested + 16 + 4095) / 4096 * 4096
                                            : MAX ((gsize) 32, (requested + 8 + 15) / 16 * 16);

  return allocated + 2 * (sizeof (guint) + 2 * sizeof (gpointer));
}

static void
test_cost_model (Fixture *f, gconstpointer data)
{
  /* value lengths around malloc's steps: 16 bytes apart on the heap, the
   * mmap threshold (a request of 128 KiB: 131004), a page boundary */
  static const gsize lengths[] = { 0, 1, 9, 10, 11, 100, 131002, 131003, 131004, 131005, 163755, 163756, 163757 };

  g_test_summary ("An item costs what malloc gives for it plus its index slot: 16-byte steps on the heap, "
                  "whole pages past the mmap threshold, exactly at each boundary");
  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autofree gchar *value = g_strnfill (lengths[i], 'v');

      g_assert_cmpint (set (f, "k", value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
      g_assert_cmpuint (stats_of (f->store).bytes, ==, modelled_cost (1, lengths[i]));
    }
}

static gsize
cost_of_one (Fixture *f, const gchar *key, const gchar *value)
{
  gsize cost;

  g_assert_cmpint (set (f, key, value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
  cost = stats_of (f->store).bytes;
  g_assert_cmpint (braid_mc_store_delete (f->store, K (key)), ==, BRAID_MC_STORE_RESULT_DELETED);
  return cost;
}

static void
test_exact_fit_on_store (Fixture *f, gconstpointer data)
{
  gsize cost = cost_of_one (f, "k0", "value");

  g_test_summary ("An item that fits the budget to the byte is stored; with two such items a third evicts "
                  "exactly one, the least recent; an item one byte over the whole budget is refused");
  braid_mc_store_set_limit (f->store, cost);
  g_assert_cmpint (set (f, "k0", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 0);
  braid_mc_store_set_limit (f->store, 2 * cost);
  g_assert_cmpint (set (f, "k1", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 0);
  g_assert_cmpint (set (f, "k2", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 1);
  g_assert_false (has (f, "k0"));
  g_assert_true (has (f, "k1"));
  g_assert_true (has (f, "k2"));
  braid_mc_store_set_limit (f->store, cost - 1);
  g_assert_cmpuint (braid_mc_store_get_n_items (f->store), ==, 0);
  g_assert_cmpint (set (f, "k3", "value", 0), ==, BRAID_MC_STORE_RESULT_NO_MEMORY);
  g_assert_cmpuint (stats_of (f->store).store_no_memory, ==, 1);
}

static void
test_no_evict_exact_fit (Fixture *f, gconstpointer data)
{
  gsize cost = cost_of_one (f, "a", "value");

  g_test_summary ("With -M, a store full to the byte refuses a new item but takes a same-size replacement "
                  "(the old item's bytes count as freed)");
  braid_mc_store_set_limit (f->store, 2 * cost);
  g_assert_cmpint (set (f, "a", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (set (f, "b", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (set (f, "c", "value", 0), ==, BRAID_MC_STORE_RESULT_NO_MEMORY);
  g_assert_cmpint (set (f, "a", "other", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (set (f, "a", "longer", 0), ==, BRAID_MC_STORE_RESULT_STORED);  /* same malloc size */
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 0);
  g_assert_cmpuint (stats_of (f->store).store_no_memory, ==, 1);
  g_assert_true (has (f, "b"));
}

static void
test_no_evict_failed_set_drops_old (Fixture *f, gconstpointer data)
{
  gsize cost = cost_of_one (f, "a", "value");
  g_autofree gchar *v = NULL;
  g_autofree gchar *longer = g_strnfill (300, 'L');

  g_test_summary ("With -M, a set refused for memory drops the value it would have replaced, so that a "
                  "failed set never leaves stale data (memcached 1.6.18, live: the get after it misses); "
                  "a refused replace or append leaves the old value, as memcached does");
  braid_mc_store_set_limit (f->store, 2 * cost);
  g_assert_cmpint (set (f, "a", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (set (f, "b", "value", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_REPLACE, "b", longer, 0), ==,
                   BRAID_MC_STORE_RESULT_NO_MEMORY);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_APPEND, "b", longer, 0), ==,
                   BRAID_MC_STORE_RESULT_NO_MEMORY);
  g_assert_cmpstr ((v = value_of (f, "b")), ==, "value");
  g_assert_cmpint (set (f, "a", longer, 0), ==, BRAID_MC_STORE_RESULT_NO_MEMORY);
  g_assert_false (has (f, "a"));
  g_assert_true (has (f, "b"));
  g_assert_cmpuint (stats_of (f->store).store_no_memory, ==, 3);
}

static void
test_failed_add_bumps (Fixture *f, gconstpointer data)
{
  g_autofree gchar *value = g_strnfill (800, 'v');

  g_test_summary ("A failed add moves the existing item to the LRU head, as memcached does: it outlives "
                  "items stored after it");
  braid_mc_store_set_limit (f->store, 10 * cost_of_one (f, "k0", value));
  for (guint i = 0; i < 10; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);

      g_assert_cmpint (set (f, key, value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  g_assert_cmpint (braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_ADD, K ("k0"), 0, 0, K ("x"), 0), ==,
                   BRAID_MC_STORE_RESULT_NOT_STORED);
  g_assert_cmpint (set (f, "k10", value, 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (stats_of (f->store).evictions, ==, 1);
  g_assert_true (braid_mc_store_peek (f->store, K ("k0")) != NULL);
  g_assert_null (braid_mc_store_peek (f->store, K ("k1")));
}

static gboolean
collect_key (const BraidMcItemInfo *info, gpointer data)
{
  g_hash_table_add (data, g_strndup ((const gchar *) info->key, info->key_len));
  return TRUE;
}

static const BraidMcStoreSettings four_shards = { 64 * 1024 * 1024, TRUE, 1024 * 1024, TRUE, 0, 4 };

static void
test_foreach_every_shard (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const guint n_keys = 64;

  g_test_summary ("foreach lists the items of every shard, in either order, and counts match get_n_items");
  g_assert_cmpuint (braid_mc_store_get_settings (f->store)->n_shards, ==, 4);
  for (guint i = 0; i < n_keys; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("k%u", i);

      g_assert_cmpint (set (f, key, "v", 0), ==, BRAID_MC_STORE_RESULT_STORED);
    }
  g_assert_cmpuint (braid_mc_store_shard_of_key (f->store, K ("k0")), <, 4);
  braid_mc_store_foreach (f->store, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, collect_key, seen);
  g_assert_cmpuint (g_hash_table_size (seen), ==, n_keys);
  g_hash_table_remove_all (seen);
  braid_mc_store_foreach (f->store, BRAID_MC_STORE_ORDER_LEAST_RECENT_FIRST, collect_key, seen);
  g_assert_cmpuint (g_hash_table_size (seen), ==, n_keys);
  g_assert_cmpuint (braid_mc_store_get_n_items (f->store), ==, n_keys);
  g_assert_cmpuint (stats_of (f->store).curr_items, ==, n_keys);
}

static void
test_foreach_skips_dead (Fixture *f, gconstpointer data)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_test_summary ("foreach lists only live items: not one past its expiry, not one a flush_all hid, whether or "
                  "not a get has unlinked it yet");
  set (f, "flushed", "v", 0);
  braid_mc_store_flush (f->store, 0);
  set (f, "expiring", "v", 1);
  set (f, "live", "v", 0);
  advance_s (f, 2);
  braid_mc_store_foreach (f->store, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, collect_key, seen);
  g_assert_cmpuint (g_hash_table_size (seen), ==, 1);
  g_assert_true (g_hash_table_contains (seen, "live"));
}

static void
test_get_stats_writes_only_its_struct (Fixture *f, gconstpointer data)
{
  struct {
    BraidMcStats stats;
    guint64 canary;
  } guarded;

  g_test_summary ("get_stats fills the caller's struct and not one byte past it");
  set (f, "k", "v", 0);
  guarded.canary = G_GUINT64_CONSTANT (0x5ca1ab1edeadbeef);
  braid_mc_store_get_stats (f->store, &guarded.stats);
  g_assert_cmphex (guarded.canary, ==, G_GUINT64_CONSTANT (0x5ca1ab1edeadbeef));
  g_assert_cmpuint (guarded.stats.curr_items, ==, 1);
}

/* ---- preconditions ---- */

/* ma on an item somebody else still holds (a reply not yet written, another
 * thread) cannot rewrite it in place: the store links a new item.  While
 * the digits fit, that item stands for the old one rewritten, so it keeps
 * the old one's marks: the key's base64 form, fetched, stale, win token. */
static void
test_meta_arith_remade_keeps_marks (Fixture *f, gconstpointer data)
{
  const BraidMcItemMarks all = BRAID_MC_ITEM_MARK_FETCHED | BRAID_MC_ITEM_MARK_STALE |
                               BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT | BRAID_MC_ITEM_MARK_KEY_BINARY;
  g_autoptr(BraidMcItem) held = NULL;
  g_autoptr(BraidMcItem) remade = NULL;
  g_autoptr(BraidMcItem) grown = NULL;
  g_autoptr(BraidMcItem) in_place = NULL;
  g_autofree gchar *value = NULL;
  guint64 number = 0;
  guint64 cas = 0;

  g_test_summary ("An ma whose digits fit (shorter or exactly as long), on an item held elsewhere, links a new item "
                  "with the old one's marks; "
                  "one whose digits do not fit makes an item of just the digits, without them");
  g_assert_cmpint (braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_SET, K ("n"), TRUE, 0, 0, K ("5 "), 0,
                                              FALSE, &cas),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  held = braid_mc_item_ref (braid_mc_store_get (f->store, K ("n")));
  braid_mc_item_add_marks (held, all);

  g_assert_cmpint (braid_mc_store_meta_arith (f->store, K ("n"), BRAID_MC_ARITH_MODE_INCR, 4, 0, &number, &remade),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (number, ==, 9);
  g_assert_true (remade != held);
  g_assert_cmpuint (braid_mc_item_get_marks (remade), ==, all);
  g_assert_cmpstr ((value = value_of (f, "n")), ==, "9 ");
  g_clear_pointer (&value, g_free);

  /* nothing holds it now but the store and @remade: still not in place */
  g_assert_cmpint (braid_mc_store_meta_arith (f->store, K ("n"), BRAID_MC_ARITH_MODE_INCR, 91, 0, &number, &grown),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (number, ==, 100);
  g_assert_cmpuint (braid_mc_item_get_marks (grown), ==, 0);
  g_assert_cmpstr ((value = value_of (f, "n")), ==, "100");
  g_clear_pointer (&value, g_free);

  /* the store alone holds it: rewritten in place, marks and all */
  braid_mc_item_add_marks (grown, BRAID_MC_ITEM_MARK_KEY_BINARY);
  g_clear_pointer (&grown, braid_mc_item_unref);
  g_assert_cmpint (braid_mc_store_meta_arith (f->store, K ("n"), BRAID_MC_ARITH_MODE_DECR, 99, 0, &number, &in_place),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpuint (number, ==, 1);
  /* (value_of's get above marked it fetched) */
  g_assert_cmpuint (braid_mc_item_get_marks (in_place), ==, BRAID_MC_ITEM_MARK_KEY_BINARY | BRAID_MC_ITEM_MARK_FETCHED);
  g_assert_true (in_place == braid_mc_store_get (f->store, K ("n")));
  g_assert_cmpstr ((value = value_of (f, "n")), ==, "1  ");
  g_clear_pointer (&value, g_free);

  /* digits exactly as long as the old value fit too: marks kept */
  g_clear_pointer (&held, braid_mc_item_unref);
  g_clear_pointer (&remade, braid_mc_item_unref);
  g_assert_cmpint (braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_SET, K ("e"), TRUE, 0, 0, K ("5"), 0,
                                              FALSE, &cas),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  held = braid_mc_item_ref (braid_mc_store_peek (f->store, K ("e")));
  braid_mc_item_add_marks (held, all);
  g_assert_cmpint (braid_mc_store_meta_arith (f->store, K ("e"), BRAID_MC_ARITH_MODE_INCR, 4, 0, &number, &remade),
                   ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_true (remade != held);
  g_assert_cmpuint (braid_mc_item_get_marks (remade), ==, all);
  g_assert_cmpstr ((value = value_of (f, "e")), ==, "9");
}

static void
test_preconditions (Fixture *f, gconstpointer data)
{
  BraidCriticalCounter counter;
  const guint8 *v = (const guint8 *) "v";
  BraidMcStats stats;
  BraidMcShardInfo info;
  BraidMcItem *got = (BraidMcItem *) 0x1;
  BraidMcItem *item = NULL;
  guint64 number = 7, cas = 7;
  gsize len = 7;
  gint r;

  g_test_summary ("Every store function refuses a NULL store or item, and a NULL key or value with a "
                  "length, with a critical and its documented failure value; a NULL key of length 0 "
                  "is a valid empty key");
  braid_test_count_criticals_begin (&counter);
  g_assert_cmpint (set (f, "k", "1", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  item = braid_mc_item_ref (braid_mc_store_get (f->store, K ("k")));   /* ours until the end */
  g_assert_nonnull (item);

  /* NULL store */
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_store_hash_key (NULL, K ("k")), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_store_shard_of_key (NULL, K ("k")), ==, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_store_lock_key (NULL, K ("k")));
  BRAID_EXPECT_CRITICAL (braid_mc_store_unlock_key (NULL, K ("k")));
  /* a key lock not held: refused, and the shard's lock left alone (an
   * unlock of a mutex not locked would abort), so it can be taken after */
  BRAID_EXPECT_CRITICAL (braid_mc_store_unlock_key (f->store, K ("k")));
  braid_mc_store_lock_key (f->store, K ("k"));
  braid_mc_store_unlock_key (f->store, K ("k"));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_get_settings (NULL)));
  BRAID_EXPECT_CRITICAL (braid_mc_store_get_stats (NULL, &stats));
  BRAID_EXPECT_CRITICAL (braid_mc_store_get_stats (f->store, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_store_reset_stats (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_store_get_n_items (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_store_get_shard_info (NULL, 0, &info));
  BRAID_EXPECT_CRITICAL (braid_mc_store_get_shard_info (f->store, G_MAXUINT, &info));
  BRAID_EXPECT_CRITICAL (braid_mc_store_get_shard_info (f->store, 0, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_mc_store_now (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_mc_store_real_seconds (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_store_add_time (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_mc_store_flush (NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_store_count_refused_flush (NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_store_set_limit (NULL, 1));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_get (NULL, K ("k"))));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_gat (NULL, K ("k"), 0)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_peek (NULL, K ("k"))));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_vivify (NULL, K ("k"), v, 1)));
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_store (NULL, BRAID_MC_STORE_MODE_SET, K ("k"), 0, 0, v, 1, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_store_get_last_cas (NULL, K ("k")), ==, 0));
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_delete (NULL, K ("k")));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_arith (NULL, K ("k"), BRAID_MC_ARITH_MODE_INCR, 1, &number));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_touch (NULL, K ("k"), 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (braid_mc_store_refuse_too_large (NULL, K ("k"), TRUE));
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_store (NULL, BRAID_MC_STORE_MODE_SET, K ("k"), FALSE, 0, 0, v, 1, 0,
                                                  FALSE, &cas));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_delete (NULL, K ("k"), FALSE, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_invalidate (NULL, K ("k"), FALSE, 0, FALSE, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_arith (NULL, K ("k"), BRAID_MC_ARITH_MODE_INCR, 1, 0, &number, &got));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);

  /* NULL item */
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_item_ref (NULL)));
  BRAID_EXPECT_CRITICAL (braid_mc_item_unref (NULL));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_item_ref_data_block (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_item_get_key (NULL, &len)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_item_get_key (item, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_item_get_value (NULL, &len)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_item_get_value (item, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_item_get_flags (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_item_get_cas (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_item_get_marks (NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_item_add_marks (NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_store_bump (f->store, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_store_bump (NULL, item));
  BRAID_EXPECT_CRITICAL (braid_mc_store_set_expiry (f->store, NULL, 0));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_store_expires_before (f->store, NULL, 0)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_mc_store_get_ttl (f->store, NULL), ==, -1));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_store_item_cas (f->store, NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_store_item_cas (NULL, item), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_mc_store_get_idle (f->store, NULL), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_mc_store_get_exp_debug (f->store, NULL), ==, -1));
  BRAID_EXPECT_CRITICAL (braid_mc_store_foreach (NULL, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, NULL, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_store_foreach (f->store, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, NULL, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_store_count (NULL, 0));

  /* a NULL key or value with a length */
  BRAID_EXPECT_CRITICAL (braid_mc_store_lock_key (f->store, NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_mc_store_unlock_key (f->store, NULL, 1));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_get (f->store, NULL, 1)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_gat (f->store, NULL, 1, 0)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_peek (f->store, NULL, 1)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_vivify (f->store, NULL, 1, v, 1)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_store_vivify (f->store, K ("k2"), NULL, 1)));
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_SET, NULL, 1, 0, 0, v, 1, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_SET, K ("k"), 0, 0, NULL, 1, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_delete (f->store, NULL, 1));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_arith (f->store, NULL, 1, BRAID_MC_ARITH_MODE_INCR, 1, &number));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_arith (f->store, K ("k"), BRAID_MC_ARITH_MODE_INCR, 1, NULL));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_touch (f->store, NULL, 1, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_SET, NULL, 1, FALSE, 0, 0, v, 1, 0,
                                                  FALSE, &cas));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_SET, K ("k"), FALSE, 0, 0, NULL, 1,
                                                  0, FALSE, &cas));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_store (f->store, BRAID_MC_STORE_MODE_SET, K ("k"), FALSE, 0, 0, v, 1, 0,
                                                  FALSE, NULL));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_STORED);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_delete (f->store, NULL, 1, FALSE, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_invalidate (f->store, NULL, 1, FALSE, 0, FALSE, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_arith (f->store, NULL, 1, BRAID_MC_ARITH_MODE_INCR, 1, 0, &number, &got));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_CRITICAL (r = braid_mc_store_meta_arith (f->store, K ("k"), BRAID_MC_ARITH_MODE_INCR, 1, 0, NULL, &got));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);

  /* the empty key, NULL and 0, is a key like another: no critical */
  BRAID_EXPECT_NO_CRITICAL (g_assert_null (braid_mc_store_get (f->store, NULL, 0)));
  BRAID_EXPECT_NO_CRITICAL (g_assert_null (braid_mc_store_peek (f->store, NULL, 0)));
  BRAID_EXPECT_NO_CRITICAL (braid_mc_store_lock_key (f->store, NULL, 0));
  BRAID_EXPECT_NO_CRITICAL (braid_mc_store_unlock_key (f->store, NULL, 0));
  BRAID_EXPECT_NO_CRITICAL (r = braid_mc_store_store (f->store, BRAID_MC_STORE_MODE_SET, NULL, 0, 0, 0, NULL, 0, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_STORED);
  BRAID_EXPECT_NO_CRITICAL (r = braid_mc_store_delete (f->store, NULL, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_DELETED);
  BRAID_EXPECT_NO_CRITICAL (r = braid_mc_store_touch (f->store, NULL, 0, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);
  BRAID_EXPECT_NO_CRITICAL (r = braid_mc_store_meta_delete (f->store, NULL, 0, FALSE, 0));
  g_assert_cmpint (r, ==, BRAID_MC_STORE_RESULT_NOT_FOUND);

  braid_mc_item_unref (item);
  braid_test_count_criticals_end (&counter);
}

/* The value length that makes an item of key "k" exactly @size bytes. */
static gsize
value_len_for_size (gsize size)
{
  gsize len = 0;

  while (braid_mc_item_size (1, 0, len + 1, TRUE) <= size)
    len++;
  g_assert_cmpuint (braid_mc_item_size (1, 0, len, TRUE), ==, size);
  return len;
}

static void
test_append_to_exact_limit (Fixture *f, gconstpointer data)
{
  gsize limit = braid_mc_store_get_settings (f->store)->item_size_max;
  gsize whole = value_len_for_size (limit);
  g_autofree gchar *head = g_strnfill (whole - 10, 'h');
  gsize len = 0;

  g_test_summary ("append and prepend may join an item up to exactly the item size limit (-I), as set may "
                  "store one; a byte more is NOT_STORED and leaves the item as it was");
  g_assert_cmpint (set (f, "k", head, 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_APPEND, "k", "aaaaa", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_PREPEND, "k", "pppppp", 0), ==,
                   BRAID_MC_STORE_RESULT_NOT_STORED);
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_PREPEND, "k", "ppppp", 0), ==, BRAID_MC_STORE_RESULT_STORED);
  {
    BraidMcItem *item = braid_mc_store_get (f->store, K ("k"));

    g_assert_nonnull (item);
    braid_mc_item_get_value (item, &len);
    g_assert_cmpuint (len, ==, whole);
  }
  g_assert_cmpint (store_mode (f, BRAID_MC_STORE_MODE_APPEND, "k", "a", 0), ==, BRAID_MC_STORE_RESULT_NOT_STORED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("issue #");
#define ADD(path, func, settings) g_test_add (path, Fixture, settings, setup, func, teardown)
  ADD ("/mc/store/expiry/relative", test_relative_expiry, NULL);
  ADD ("/mc/store/expiry/thirty-days", test_thirty_day_boundary, NULL);
  ADD ("/mc/store/expiry/negative", test_negative_expiry, NULL);
  ADD ("/mc/store/expiry/negative-at-clock-start", test_negative_expiry_at_clock_start, NULL);
  ADD ("/mc/store/expiry/touch-gat", test_touch_and_gat, NULL);
  ADD ("/mc/store/expiry/debugtime", test_debugtime, NULL);
  ADD ("/mc/store/modes", test_storage_modes, NULL);
  ADD ("/mc/store/modes/append-to-exact-limit", test_append_to_exact_limit, NULL);
  ADD ("/mc/store/hostile/hash-flooding", test_hash_flooding, NULL);
  ADD ("/mc/store/hostile/random-seeds-differ", test_random_seeds_differ, NULL);
  ADD ("/mc/store/memory/real-cost", test_real_cost, NULL);
  ADD ("/mc/store/cas", test_cas, NULL);
  ADD ("/mc/store/incr-decr", test_incr_decr, NULL);
  ADD ("/mc/store/flush-all", test_flush_all, NULL);
  ADD ("/mc/store/memory/eviction-order", test_eviction_order, &small);
  ADD ("/mc/store/memory/evicted-unfetched", test_evicted_unfetched, &small);
  ADD ("/mc/store/memory/exact-fit", test_exact_fit, &small);
  ADD ("/mc/store/memory/no-evict", test_no_evict, &small_no_evict);
  ADD ("/mc/store/memory/reclaim-expired", test_expired_memory_reclaimed, &small);
  ADD ("/mc/store/preconditions", test_preconditions, NULL);
  ADD ("/mc/store/stats/counters", test_counters, NULL);
  ADD ("/mc/store/cas/every-modification", test_cas_changes_on_every_modification, NULL);
  ADD ("/mc/store/meta-arith/remade-keeps-marks", test_meta_arith_remade_keeps_marks, NULL);
  ADD ("/mc/store/expiry/absolute-now", test_absolute_expiry_at_now, NULL);
  g_test_add_func ("/mc/store/clock/reactor-gone", test_clock_after_reactor_gone);
  ADD ("/mc/store/memory/cost-model", test_cost_model, NULL);
  ADD ("/mc/store/memory/exact-fit-on-store", test_exact_fit_on_store, NULL);
  ADD ("/mc/store/memory/no-evict-exact-fit", test_no_evict_exact_fit, &no_evict_big);
  ADD ("/mc/store/memory/no-evict-failed-set-drops-old", test_no_evict_failed_set_drops_old, &no_evict_big);
  ADD ("/mc/store/lru/failed-add-bumps", test_failed_add_bumps, NULL);
  ADD ("/mc/store/shards/foreach", test_foreach_every_shard, &four_shards);
  ADD ("/mc/store/foreach/skips-dead", test_foreach_skips_dead, NULL);
  ADD ("/mc/store/stats/no-overrun", test_get_stats_writes_only_its_struct, NULL);
  return g_test_run ();
}
