/* braid — the in-memory cache: a GHashTable over a GQueue in LRU order. */
#include "memory-cache.h"

#include <string.h>
#include <xxhash.h>

typedef struct {
  gchar *key;
  GBytes *body;
  gint64 expires_us;     /* reactor time; 0 never */
  GList *link;           /* in the LRU queue: head is most recent */
} Entry;

struct _BraidMemoryCache
{
  GObject parent_instance;
  BraidReactor *reactor;   /* (owned) */
  GHashTable *entries;     /* key → Entry (owned) */
  GQueue lru;
  gsize size, max_bytes, max_item;
  /* The largest item asked for at creation: max_item is this, or the
   * budget when the budget is smaller, so a budget lowered and raised
   * again (a reload) gives it back. */
  gsize max_item_asked;
};

static void braid_memory_cache_iface_init (BraidCacheInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidMemoryCache, braid_memory_cache, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_CACHE, braid_memory_cache_iface_init))

static void
entry_free (Entry *e)
{
  g_free (e->key);
  g_bytes_unref (e->body);
  g_free (e);
}

static void
remove_entry (BraidMemoryCache *self, Entry *e)
{
  g_queue_delete_link (&self->lru, e->link);
  self->size -= g_bytes_get_size (e->body);
  g_hash_table_remove (self->entries, e->key);  /* frees e */
}

static void
braid_memory_cache_finalize (GObject *object)
{
  BraidMemoryCache *self = BRAID_MEMORY_CACHE (object);

  g_queue_clear (&self->lru);
  g_hash_table_unref (self->entries);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_memory_cache_parent_class)->finalize (object);
}

/* Keys are hashed with XXH3 under a random seed of the process: eight
 * bytes a step where g_str_hash takes one (a proxy key is 76 bytes: 600
 * instructions a hit with g_str_hash), and nobody can choose keys that
 * share a bucket.  Set once, in class_init. */
static guint64 key_seed;

static guint
key_hash (gconstpointer key)
{
  return (guint) XXH3_64bits_withSeed (key, strlen (key), key_seed);
}

static void
braid_memory_cache_class_init (BraidMemoryCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_memory_cache_finalize;
  key_seed = ((guint64) g_random_int () << 32) | g_random_int ();
}

static void
braid_memory_cache_init (BraidMemoryCache *self)
{
  self->entries = g_hash_table_new_full (key_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
  g_queue_init (&self->lru);
}

BraidMemoryCache *
braid_memory_cache_new (BraidReactor *reactor, gsize max_bytes, gsize max_item_bytes)
{
  BraidMemoryCache *self;

  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);

  self = g_object_new (BRAID_TYPE_MEMORY_CACHE, NULL);
  self->reactor = g_object_ref (reactor);
  self->max_bytes = max_bytes;
  self->max_item_asked = max_item_bytes;
  self->max_item = MIN (max_item_bytes, max_bytes);
  return self;
}

gsize
braid_memory_cache_get_size (BraidMemoryCache *self)
{
  g_return_val_if_fail (BRAID_IS_MEMORY_CACHE (self), 0);

  return self->size;
}

guint
braid_memory_cache_get_n_items (BraidMemoryCache *self)
{
  g_return_val_if_fail (BRAID_IS_MEMORY_CACHE (self), 0);

  return g_hash_table_size (self->entries);
}

static void
evict_to (BraidMemoryCache *self, gsize limit)
{
  while (self->size > limit && self->lru.tail != NULL)
    remove_entry (self, self->lru.tail->data);
}

void
braid_memory_cache_set_max_bytes (BraidMemoryCache *self, gsize max_bytes)
{
  g_return_if_fail (BRAID_IS_MEMORY_CACHE (self));

  self->max_bytes = max_bytes;
  self->max_item = MIN (self->max_item_asked, max_bytes);
  evict_to (self, max_bytes);
}

/* The live entry for @key, made the most recently used; NULL for a miss
 * (an expired entry is dropped on the way). */
static Entry *
use_entry (BraidMemoryCache *self, const gchar *key)
{
  Entry *e = g_hash_table_lookup (self->entries, key);

  if (e != NULL && e->expires_us != 0 && e->expires_us <= braid_reactor_now (self->reactor))
    {
      remove_entry (self, e);
      return NULL;
    }
  if (e != NULL)
    {
      g_queue_unlink (&self->lru, e->link);
      g_queue_push_head_link (&self->lru, e->link);
    }
  return e;
}

static gboolean
memory_try_lookup_now (BraidCache *cache, const gchar *key, GBytes **body)
{
  Entry *e = use_entry (BRAID_MEMORY_CACHE (cache), key);

  *body = e != NULL ? g_bytes_ref (e->body) : NULL;
  return TRUE;
}

static void
memory_lookup_async (BraidCache *cache, const gchar *key, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  BraidMemoryCache *self = BRAID_MEMORY_CACHE (cache);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Entry *e = use_entry (self, key);

  g_task_set_source_tag (task, memory_lookup_async);
  if (e == NULL)
    g_task_return_pointer (task, NULL, NULL);
  else
    g_task_return_pointer (task, g_bytes_ref (e->body), (GDestroyNotify) g_bytes_unref);
}

static GBytes *
memory_lookup_finish (BraidCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, cache), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == memory_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
memory_store_async (BraidCache *cache, const gchar *key, GBytes *body, gint64 ttl_s,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  BraidMemoryCache *self = BRAID_MEMORY_CACHE (cache);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Entry *old = g_hash_table_lookup (self->entries, key);
  Entry *e;
  gsize size = g_bytes_get_size (body);

  g_task_set_source_tag (task, memory_store_async);
  if (old != NULL)
    remove_entry (self, old);
  if (size > self->max_item)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }
  evict_to (self, self->max_bytes - size);
  e = g_new0 (Entry, 1);
  e->key = g_strdup (key);
  e->body = g_bytes_ref (body);
  e->expires_us = ttl_s > 0 ? braid_reactor_now (self->reactor) + ttl_s * G_USEC_PER_SEC : 0;
  g_queue_push_head (&self->lru, e);
  e->link = self->lru.head;
  g_hash_table_insert (self->entries, e->key, e);
  self->size += size;
  g_task_return_boolean (task, TRUE);
}

static gboolean
memory_store_finish (BraidCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, cache), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == memory_store_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static gsize
memory_get_max_item_size (BraidCache *cache)
{
  return BRAID_MEMORY_CACHE (cache)->max_item;
}

static void
braid_memory_cache_iface_init (BraidCacheInterface *iface)
{
  iface->lookup_async = memory_lookup_async;
  iface->lookup_finish = memory_lookup_finish;
  iface->store_async = memory_store_async;
  iface->store_finish = memory_store_finish;
  iface->get_max_item_size = memory_get_max_item_size;
  iface->try_lookup_now = memory_try_lookup_now;
}
