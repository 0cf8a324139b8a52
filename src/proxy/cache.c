#include "cache.h"
#include "iface-cache-private.h"

#include <string.h>
#include <xxhash.h>

G_DEFINE_INTERFACE (BraidCache, braid_cache, G_TYPE_OBJECT)

static void
braid_cache_default_init (BraidCacheInterface *iface)
{
}

BRAID_IFACE_CACHE_DEFINE (cache_iface_cache);

/* The interface table of @self, NULL if it is not a cache: the lookups
 * run once per proxy request, and GType's check and lookup cost more than
 * a memory hit's hash lookup (iface-cache-private.h). */
static inline BraidCacheInterface *
cache_iface (BraidCache *self)
{
  return braid_iface_cache_peek (&cache_iface_cache, self, BRAID_TYPE_CACHE);
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
  iface = cache_iface (self);
  g_return_val_if_fail (iface != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

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

/* A lookup through lookup_async, for a cache without lookup_direct: its
 * own cancellable, which the caller's (if any) and
 * braid_cache_lookup_direct_cancel() cancel. */
typedef struct {
  BraidCacheLookupFunc func;
  gpointer user_data;
  GCancellable *cancellable;         /* (owned) */
  GCancellable *caller_cancellable;  /* (owned) (nullable) */
  gulong caller_cancel_id;
} DirectLookup;

static void
on_looked_up_for_direct (GObject *source, GAsyncResult *result, gpointer data)
{
  DirectLookup *lookup = data;
  GError *error = NULL;
  GBytes *body = braid_cache_lookup_finish (BRAID_CACHE (source), result, &error);

  if (lookup->caller_cancel_id != 0)
    g_cancellable_disconnect (lookup->caller_cancellable, lookup->caller_cancel_id);
  g_clear_object (&lookup->caller_cancellable);
  g_object_unref (lookup->cancellable);
  lookup->func (body, error, lookup->user_data);
  g_free (lookup);
}

static void
on_caller_cancelled (GCancellable *caller_cancellable, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static DirectLookup *
lookup_through_async (BraidCache *self, BraidCacheInterface *iface, const gchar *key, GCancellable *cancellable,
                      BraidCacheLookupFunc func, gpointer user_data)
{
  DirectLookup *lookup = g_new0 (DirectLookup, 1);

  lookup->func = func;
  lookup->user_data = user_data;
  lookup->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      lookup->caller_cancellable = g_object_ref (cancellable);
      lookup->caller_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                                        lookup->cancellable, NULL);
    }
  /* GTask answers from the main loop, never from inside this call */
  iface->lookup_async (self, key, lookup->cancellable, on_looked_up_for_direct, lookup);
  return lookup;
}

BraidCacheLookup *
braid_cache_lookup_direct (BraidCache *self, const gchar *key, GCancellable *cancellable,
                           BraidCacheLookupFunc func, gpointer user_data)
{
  BraidCacheInterface *iface;

  iface = cache_iface (self);
  g_return_val_if_fail (iface != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (iface->lookup_direct != NULL)
    return iface->lookup_direct (self, key, cancellable, func, user_data);
  return (BraidCacheLookup *) lookup_through_async (self, iface, key, cancellable, func, user_data);
}

void
braid_cache_lookup_direct_cancel (BraidCache *self, BraidCacheLookup *lookup)
{
  BraidCacheInterface *iface = cache_iface (self);

  g_return_if_fail (iface != NULL);
  if (lookup == NULL)
    return;
  if (iface->lookup_direct != NULL)
    iface->lookup_direct_cancel (self, lookup);
  else
    g_cancellable_cancel (((DirectLookup *) lookup)->cancellable);
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

/* Slots in the memo (a power of two), and the longest URL it keeps: at
 * most 256 × 256 bytes of URLs, and their keys. */
#define KEY_MEMO_SLOTS 256
#define KEY_MEMO_MAX_URL 256

typedef struct {
  gchar *url;  /* (owned) (nullable) */
  gchar *key;  /* (owned) (nullable) */
} KeyMemoSlot;

struct _BraidCacheKeyMemo
{
  KeyMemoSlot slots[KEY_MEMO_SLOTS];
  guint64 seed;  /* so that nobody can pick URLs that share a slot */
};

BraidCacheKeyMemo *
braid_cache_key_memo_new (void)
{
  BraidCacheKeyMemo *memo = g_new0 (BraidCacheKeyMemo, 1);

  memo->seed = ((guint64) g_random_int () << 32) | g_random_int ();
  return memo;
}

/* @url's slot: XXH3 reads 8 bytes a step where g_str_hash reads one, a
 * few hundred instructions less per request for a URL of usual length. */
static KeyMemoSlot *
memo_slot (BraidCacheKeyMemo *memo, const gchar *url, gsize len)
{
  return &memo->slots[XXH3_64bits_withSeed (url, len, memo->seed) & (KEY_MEMO_SLOTS - 1)];
}

void
braid_cache_key_memo_free (BraidCacheKeyMemo *memo)
{
  if (memo == NULL)
    return;
  for (guint i = 0; i < KEY_MEMO_SLOTS; i++)
    {
      g_free (memo->slots[i].url);
      g_free (memo->slots[i].key);
    }
  g_free (memo);
}

gchar *
braid_cache_key_memo_get (BraidCacheKeyMemo *memo, const gchar *url)
{
  KeyMemoSlot *slot;
  gsize len;

  g_return_val_if_fail (memo != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);

  len = strlen (url);
  if (len > KEY_MEMO_MAX_URL)
    return braid_cache_key_for_url (url);
  slot = memo_slot (memo, url, len);
  if (slot->url == NULL || strcmp (slot->url, url) != 0)
    {
      g_free (slot->url);
      g_free (slot->key);
      slot->url = g_strdup (url);
      slot->key = braid_cache_key_for_url (url);
    }
  return g_strdup (slot->key);
}

gchar *
braid_cache_key_memo_lookup (BraidCacheKeyMemo *memo, const gchar *url)
{
  KeyMemoSlot *slot;

  g_return_val_if_fail (memo != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);

  slot = memo_slot (memo, url, strlen (url));
  if (slot->url == NULL || strcmp (slot->url, url) != 0)
    return NULL;
  return g_strdup (slot->key);
}
