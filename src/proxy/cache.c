#include "cache.h"

G_DEFINE_INTERFACE (BraidCache, braid_cache, G_TYPE_OBJECT)

static void
braid_cache_default_init (BraidCacheInterface *iface)
{
}

void
braid_cache_lookup_async (BraidCache *self, const gchar *key, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_CACHE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  BRAID_CACHE_GET_IFACE (self)->lookup_async (self, key, cancellable, callback, user_data);
}

gboolean
braid_cache_try_lookup_now (BraidCache *self, const gchar *key, GBytes **body)
{
  BraidCacheInterface *iface;

  g_return_val_if_fail (body != NULL, FALSE);
  *body = NULL;
  g_return_val_if_fail (BRAID_IS_CACHE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  iface = BRAID_CACHE_GET_IFACE (self);
  return iface->try_lookup_now != NULL && iface->try_lookup_now (self, key, body);
}

GBytes *
braid_cache_lookup_finish (BraidCache *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (BRAID_IS_CACHE (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return BRAID_CACHE_GET_IFACE (self)->lookup_finish (self, result, error);
}

void
braid_cache_store_async (BraidCache *self, const gchar *key, GBytes *body, gint64 ttl_s,
                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_CACHE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (body != NULL);
  g_return_if_fail (ttl_s >= 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  BRAID_CACHE_GET_IFACE (self)->store_async (self, key, body, ttl_s, cancellable, callback, user_data);
}

gboolean
braid_cache_store_finish (BraidCache *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (BRAID_IS_CACHE (self), FALSE);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return BRAID_CACHE_GET_IFACE (self)->store_finish (self, result, error);
}

gsize
braid_cache_get_max_item_size (BraidCache *self)
{
  g_return_val_if_fail (BRAID_IS_CACHE (self), 0);

  return BRAID_CACHE_GET_IFACE (self)->get_max_item_size (self);
}

gchar *
braid_cache_key_for_url (const gchar *url)
{
  g_autofree gchar *digest = NULL;

  g_return_val_if_fail (url != NULL, NULL);

  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, url, -1);
  return g_strconcat ("braid-proxy:", digest, NULL);
}
