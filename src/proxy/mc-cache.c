/* braid — the memcached-backed cache. */
#include "mc-cache.h"

struct _BraidMcCache
{
  GObject parent_instance;
  BraidMcPool *pool;   /* (owned) */
  gsize max_item;
};

static void braid_mc_cache_iface_init (BraidCacheInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidMcCache, braid_mc_cache, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_CACHE, braid_mc_cache_iface_init))

static void
braid_mc_cache_finalize (GObject *object)
{
  g_clear_object (&BRAID_MC_CACHE (object)->pool);
  G_OBJECT_CLASS (braid_mc_cache_parent_class)->finalize (object);
}

static void
braid_mc_cache_class_init (BraidMcCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_mc_cache_finalize;
}

static void
braid_mc_cache_init (BraidMcCache *self)
{
}

BraidMcCache *
braid_mc_cache_new (BraidMcPool *pool, gsize max_item_bytes)
{
  BraidMcCache *self;

  g_return_val_if_fail (BRAID_IS_MC_POOL (pool), NULL);

  self = g_object_new (BRAID_TYPE_MC_CACHE, NULL);
  self->pool = g_object_ref (pool);
  /* room for memcached's item header and the key */
  self->max_item = max_item_bytes > 512 ? max_item_bytes - 512 : max_item_bytes;
  return self;
}

typedef struct {
  BraidCacheLookupFunc func;
  gpointer user_data;
  BraidMcPoolDirectGet *get;   /* (unowned) (nullable): the pool's, until answered */
} DirectLookup;

/* A miss is no error for a cache: NOT_FOUND becomes a NULL body.  The
 * pool's direct get: no GTask between the proxy's lookup and the
 * client's reply (a cache hit's hot path). */
static void
on_got_direct (BraidMcValue *value_taken, GError *error, gpointer data)
{
  DirectLookup *lookup = data;
  g_autoptr(BraidMcValue) value = value_taken;

  if (value != NULL)
    lookup->func (g_bytes_ref (value->data), NULL, lookup->user_data);
  else if (g_error_matches (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND))
    {
      g_error_free (error);
      lookup->func (NULL, NULL, lookup->user_data);
    }
  else
    lookup->func (NULL, error, lookup->user_data);
  g_free (lookup);
}

static gpointer
mc_lookup_direct (BraidCache *cache, const gchar *key, GCancellable *cancellable, BraidCacheLookupFunc func,
                  gpointer user_data)
{
  DirectLookup *lookup = g_new (DirectLookup, 1);

  lookup->func = func;
  lookup->user_data = user_data;
  lookup->get = braid_mc_pool_get_direct (BRAID_MC_CACHE (cache)->pool, key, cancellable, on_got_direct, lookup);
  return lookup;
}

static void
mc_lookup_direct_cancel (BraidCache *cache, gpointer lookup)
{
  braid_mc_pool_cancel_direct (BRAID_MC_CACHE (cache)->pool, ((DirectLookup *) lookup)->get);
}

/* Through the direct lookup: one GTask, the cache's own. */
static void
on_looked_up (GBytes *body, GError *error, gpointer data)
{
  g_autoptr(GTask) task = data;

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, body, (GDestroyNotify) g_bytes_unref);
}

static void
mc_lookup_async (BraidCache *cache, const gchar *key, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (cache, cancellable, callback, user_data);

  g_task_set_source_tag (task, mc_lookup_async);
  mc_lookup_direct (cache, key, cancellable, on_looked_up, task);
}

static GBytes *
mc_lookup_finish (BraidCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, cache), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == mc_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_stored (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (braid_mc_pool_set_finish (BRAID_MC_POOL (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
mc_store_async (BraidCache *cache, const gchar *key, GBytes *body, gint64 ttl_s,
                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  BraidMcCache *self = BRAID_MC_CACHE (cache);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, mc_store_async);
  braid_mc_pool_set_async (self->pool, key, body, 0, ttl_s, cancellable, on_stored, task);
}

static gboolean
mc_store_finish (BraidCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, cache), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == mc_store_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static gsize
mc_get_max_item_size (BraidCache *cache)
{
  return BRAID_MC_CACHE (cache)->max_item;
}

static void
braid_mc_cache_iface_init (BraidCacheInterface *iface)
{
  iface->lookup_async = mc_lookup_async;
  iface->lookup_finish = mc_lookup_finish;
  iface->lookup_direct = mc_lookup_direct;
  iface->lookup_direct_cancel = mc_lookup_direct_cancel;
  iface->store_async = mc_store_async;
  iface->store_finish = mc_store_finish;
  iface->get_max_item_size = mc_get_max_item_size;
}
