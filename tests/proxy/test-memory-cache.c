/* braid — the memory cache on its own: its byte budget to the byte, the
 * largest item, LRU eviction, and expiry on the fake reactor's clock. */
#include "test-support.h"
#include "memory-cache.h"
#include "fake-reactor.h"

#include <string.h>

typedef struct {
  BraidFakeReactor *fake;
  BraidMemoryCache *memory;
  BraidCache *cache;   /* the same object, as the interface */
} Fixture;

static void
fixture_init (Fixture *f, gsize max_bytes, gsize max_item)
{
  f->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  f->memory = braid_memory_cache_new (BRAID_REACTOR (f->fake), max_bytes, max_item);
  f->cache = BRAID_CACHE (f->memory);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_object (&f->memory);
  g_clear_object (&f->fake);
}

/* Stores @text under @key; TRUE when the cache kept it. */
static gboolean
store (Fixture *f, const gchar *key, const gchar *text, gint64 ttl_s)
{
  g_autoptr(GBytes) body = g_bytes_new (text, strlen (text));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean stored;

  braid_cache_store_async (f->cache, key, body, ttl_s, NULL, braid_test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  stored = braid_cache_store_finish (f->cache, result, &error);
  g_assert_no_error (error);  /* too large is no error */
  return stored;
}

/* Whether @key is held (a lookup: it becomes the most recently used). */
static gboolean
holds (Fixture *f, const gchar *key)
{
  g_autoptr(GBytes) body = NULL;

  g_assert_true (braid_cache_try_lookup_now (f->cache, key, &body));
  return body != NULL;
}

/* The same through lookup_async, the way a cache without
 * try_lookup_now is asked. */
static GBytes *
lookup (Fixture *f, const gchar *key)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *body;

  braid_cache_lookup_async (f->cache, key, NULL, braid_test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  body = braid_cache_lookup_finish (f->cache, result, &error);
  g_assert_no_error (error);
  return body;
}

static void
assert_held (Fixture *f, gsize size, guint n_items)
{
  g_assert_cmpuint (braid_memory_cache_get_size (f->memory), ==, size);
  g_assert_cmpuint (braid_memory_cache_get_n_items (f->memory), ==, n_items);
}

static void
test_budget_to_the_byte (void)
{
  Fixture f;

  g_test_summary ("Entries that fill the budget exactly are all kept; one byte more evicts the least "
                  "recently used, and only as many as needed");
  fixture_init (&f, 10, 10);
  g_assert_true (store (&f, "a", "aaaa", 0));
  g_assert_true (store (&f, "b", "bbbbbb", 0));
  assert_held (&f, 10, 2);
  g_assert_true (store (&f, "c", "c", 0));   /* 11 bytes: "a" goes, 7 left */
  assert_held (&f, 7, 2);
  g_assert_false (holds (&f, "a"));
  g_assert_true (holds (&f, "b"));
  g_assert_true (holds (&f, "c"));
  /* One entry of the whole budget evicts every other. */
  g_assert_true (store (&f, "d", "dddddddddd", 0));
  assert_held (&f, 10, 1);
  g_assert_true (holds (&f, "d"));
  fixture_clear (&f);
}

static void
test_largest_item (void)
{
  Fixture f;

  g_test_summary ("An item of max_item bytes is kept, one of a byte more is refused without an error and "
                  "without evicting anything; the largest item is never over the budget");
  fixture_init (&f, 100, 8);
  g_assert_cmpuint (braid_cache_get_max_item_size (f.cache), ==, 8);
  g_assert_true (store (&f, "small", "s", 0));
  g_assert_true (store (&f, "eight", "12345678", 0));
  g_assert_false (store (&f, "nine", "123456789", 0));
  assert_held (&f, 9, 2);
  g_assert_false (holds (&f, "nine"));
  fixture_clear (&f);

  fixture_init (&f, 4, 8);
  g_assert_cmpuint (braid_cache_get_max_item_size (f.cache), ==, 4);
  g_assert_false (store (&f, "five", "12345", 0));
  g_assert_true (store (&f, "four", "1234", 0));
  assert_held (&f, 4, 1);
  fixture_clear (&f);
}

static void
test_replace (void)
{
  Fixture f;
  g_autoptr(GBytes) body = NULL;

  g_test_summary ("Storing a key again replaces its body and its size; a replacement too large to keep "
                  "drops the old body too");
  fixture_init (&f, 100, 8);
  g_assert_true (store (&f, "k", "old body", 0));
  g_assert_true (store (&f, "k", "new", 0));
  assert_held (&f, 3, 1);
  body = lookup (&f, "k");
  g_assert_nonnull (body);
  braid_assert_bytes_equal ("new", 3, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_assert_false (store (&f, "k", "much too long", 0));
  assert_held (&f, 0, 0);
  fixture_clear (&f);
}

static void
test_lru_order (void)
{
  Fixture f;
  g_autoptr(GBytes) a = NULL;

  g_test_summary ("A lookup through lookup_async makes an entry the most recently used: the one not looked "
                  "up is evicted first");
  fixture_init (&f, 3, 3);
  g_assert_true (store (&f, "a", "a", 0));
  g_assert_true (store (&f, "b", "b", 0));
  g_assert_true (store (&f, "c", "c", 0));
  a = lookup (&f, "a");
  g_assert_nonnull (a);
  g_assert_true (store (&f, "d", "d", 0));   /* evicts "b", the least recently used */
  assert_held (&f, 3, 3);
  g_assert_false (holds (&f, "b"));
  g_assert_true (holds (&f, "a"));
  g_assert_true (holds (&f, "c"));
  g_assert_true (holds (&f, "d"));
  fixture_clear (&f);
}

static void
test_expiry_at_exactly_now (void)
{
  Fixture f;
  g_autoptr(GBytes) gone = NULL;

  g_test_summary ("An entry of TTL t is served until t s minus 1 µs after its store and is gone at t s "
                  "exactly, through either lookup; a TTL of 0 never expires");
  fixture_init (&f, 100, 100);
  g_assert_true (store (&f, "short", "body", 10));
  g_assert_true (store (&f, "async", "body", 10));
  g_assert_true (store (&f, "forever", "body", 0));
  braid_fake_reactor_advance (f.fake, 10 * G_USEC_PER_SEC - 1);
  g_assert_true (holds (&f, "short"));
  g_assert_true (holds (&f, "async"));
  braid_fake_reactor_advance (f.fake, 1);
  g_assert_false (holds (&f, "short"));
  gone = lookup (&f, "async");
  g_assert_null (gone);
  assert_held (&f, 4, 1);
  braid_fake_reactor_advance (f.fake, (gint64) 400 * 24 * 3600 * G_USEC_PER_SEC);
  g_assert_true (holds (&f, "forever"));
  fixture_clear (&f);
}

static void
test_budget_changed (void)
{
  Fixture f;

  g_test_summary ("Lowering the budget evicts the least recently used down to it and lowers the largest "
                  "item with it; raising it again gives back the largest item the cache was made with");
  fixture_init (&f, 100, 8);
  g_assert_true (store (&f, "a", "aaaa", 0));
  g_assert_true (store (&f, "b", "bbbb", 0));
  g_assert_true (store (&f, "c", "cccc", 0));
  braid_memory_cache_set_max_bytes (f.memory, 8);
  assert_held (&f, 8, 2);
  g_assert_false (holds (&f, "a"));
  braid_memory_cache_set_max_bytes (f.memory, 5);
  assert_held (&f, 4, 1);
  g_assert_true (holds (&f, "c"));
  g_assert_cmpuint (braid_cache_get_max_item_size (f.cache), ==, 5);
  g_assert_false (store (&f, "six", "123456", 0));
  g_assert_true (store (&f, "five", "12345", 0));
  assert_held (&f, 5, 1);
  braid_memory_cache_set_max_bytes (f.memory, 100);
  g_assert_cmpuint (braid_cache_get_max_item_size (f.cache), ==, 8);
  g_assert_true (store (&f, "eight", "12345678", 0));
  assert_held (&f, 13, 2);
  braid_memory_cache_set_max_bytes (f.memory, 0);
  assert_held (&f, 0, 0);
  g_assert_false (store (&f, "one", "1", 0));
  fixture_clear (&f);
}

static void
test_finish_refuses_another_caches_result (void)
{
  Fixture f, twin;
  g_autoptr(GBytes) body = g_bytes_new_static ("b", 1);
  g_autoptr(GAsyncResult) looked = NULL;
  g_autoptr(GAsyncResult) stored = NULL;
  g_autoptr(GError) error = NULL;
  BraidCriticalCounter counter;

  g_test_summary ("The memory cache's _finish functions refuse another memory cache's results, though their "
                  "source tags match: a critical, and nothing is returned");
  fixture_init (&f, 100, 100);
  fixture_init (&twin, 100, 100);
  braid_cache_lookup_async (twin.cache, "k", NULL, braid_test_store_result, &looked);
  braid_cache_store_async (twin.cache, "k", body, 0, NULL, braid_test_store_result, &stored);
  while (looked == NULL || stored == NULL)
    g_main_context_iteration (NULL, TRUE);
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_cache_lookup_finish (f.cache, looked, &error)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_store_finish (f.cache, stored, &error)));
  braid_test_count_criticals_end (&counter);
  g_assert_no_error (error);
  g_assert_true (braid_cache_store_finish (twin.cache, stored, &error));
  g_assert_no_error (error);
  fixture_clear (&twin);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/cache/memory/budget-to-the-byte", test_budget_to_the_byte);
  g_test_add_func ("/proxy/cache/memory/largest-item", test_largest_item);
  g_test_add_func ("/proxy/cache/memory/replace", test_replace);
  g_test_add_func ("/proxy/cache/memory/lru-order", test_lru_order);
  g_test_add_func ("/proxy/cache/memory/expiry-at-exactly-now", test_expiry_at_exactly_now);
  g_test_add_func ("/proxy/cache/memory/budget-changed", test_budget_changed);
  g_test_add_func ("/proxy/cache/memory/finish-refuses-another-caches-result",
                   test_finish_refuses_another_caches_result);
  return g_test_run ();
}
