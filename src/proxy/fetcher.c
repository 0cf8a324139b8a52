#include "fetcher.h"

G_DEFINE_INTERFACE (BraidFetcher, braid_fetcher, G_TYPE_OBJECT)

static void
braid_fetcher_default_init (BraidFetcherInterface *iface)
{
}

void
braid_fetcher_fetch_async (BraidFetcher *self, const gchar *url, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_FETCHER (self));
  g_return_if_fail (url != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  BRAID_FETCHER_GET_IFACE (self)->fetch_async (self, url, cancellable, callback, user_data);
}

GInputStream *
braid_fetcher_fetch_finish (BraidFetcher *self, GAsyncResult *result, guint *status, GError **error)
{
  guint ignored;

  if (status == NULL)
    status = &ignored;
  *status = 0;
  g_return_val_if_fail (BRAID_IS_FETCHER (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return BRAID_FETCHER_GET_IFACE (self)->fetch_finish (self, result, status, error);
}

GHashTable *
braid_fetcher_dup_response_headers (BraidFetcher *self, GAsyncResult *result)
{
  BraidFetcherInterface *iface;

  g_return_val_if_fail (BRAID_IS_FETCHER (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  iface = BRAID_FETCHER_GET_IFACE (self);
  return iface->dup_response_headers != NULL ? iface->dup_response_headers (self, result) : NULL;
}
