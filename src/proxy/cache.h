/* braid — the proxy's cache, behind an interface: in memory, or a shared
 * memcached pool.  A cache that fails or is slow never fails a request:
 * the proxy time-boxes lookups and fetches on any error. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * BraidCacheLookupFunc:
 * @body: (transfer full) (nullable): the entry, or NULL for a miss or a failure
 * @error: (transfer full) (nullable): why the cache failed (or
 *   G_IO_ERROR_CANCELLED); NULL for a hit and for a miss
 * @user_data: as given
 */
typedef void (*BraidCacheLookupFunc) (GBytes *body, GError *error, gpointer user_data);

#define BRAID_TYPE_CACHE (braid_cache_get_type ())
G_DECLARE_INTERFACE (BraidCache, braid_cache, BRAID, CACHE, GObject)

struct _BraidCacheInterface
{
  GTypeInterface g_iface;

  void (*lookup_async) (BraidCache *self, const gchar *key, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data);
  GBytes *(*lookup_finish) (BraidCache *self, GAsyncResult *result, GError **error);
  void (*store_async) (BraidCache *self, const gchar *key, GBytes *body, gint64 ttl_s,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*store_finish) (BraidCache *self, GAsyncResult *result, GError **error);
  gsize (*get_max_item_size) (BraidCache *self);
  /* Optional: a cache that holds its entries in this process answers
   * here, without a GTask or a main-loop round. */
  gboolean (*try_lookup_now) (BraidCache *self, const gchar *key, GBytes **body);
  /* Optional, both or neither: lookup without a GTask (see
   * braid_cache_lookup_direct), returning the lookup (nullable: answered
   * already, from the reactor) for lookup_direct_cancel until it answers. */
  gpointer (*lookup_direct) (BraidCache *self, const gchar *key, GCancellable *cancellable,
                             BraidCacheLookupFunc func, gpointer user_data);
  void (*lookup_direct_cancel) (BraidCache *self, gpointer lookup);
};

/* Lookup finish: (transfer full) the body, or NULL with no error for a
 * miss, or NULL and an error when the cache failed.  Store: @ttl_s is in
 * seconds, 0 for no expiry; finish returns FALSE when the body was not
 * stored (too large: no error; a failure: an error).  Implementations tag
 * their GTasks with g_task_set_source_tag and check the tag in _finish. */
void braid_cache_lookup_async (BraidCache *self, const gchar *key, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
GBytes *braid_cache_lookup_finish (BraidCache *self, GAsyncResult *result, GError **error);
void braid_cache_store_async (BraidCache *self, const gchar *key, GBytes *body, gint64 ttl_s,
                              GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_cache_store_finish (BraidCache *self, GAsyncResult *result, GError **error);
/* A lookup answered at once, when the cache can (the memory cache): TRUE
 * with *@body the entry (transfer full) or NULL for a miss.  FALSE, with
 * *@body NULL, when it cannot: use braid_cache_lookup_async().  The hot
 * path of a cache hit: no GTask, no cancellable, no time box. */
gboolean braid_cache_try_lookup_now (BraidCache *self, const gchar *key, GBytes **body);
/* A direct lookup in progress (opaque). */
typedef struct _BraidCacheLookup BraidCacheLookup;

/* The lookup of braid_cache_lookup_async, answered to a plain callback:
 * @func runs once, never from inside this call, from inside
 * g_cancellable_cancel() or from inside braid_cache_lookup_direct_cancel().
 * Without a GTask when the cache implements lookup_direct (the memcached
 * cache: a cache hit's hot path); through lookup_async otherwise.
 * Returns: (transfer none) (nullable): the lookup, valid until @func runs,
 * to cancel without a cancellable; NULL when its answer is decided already. */
BraidCacheLookup *braid_cache_lookup_direct (BraidCache *self, const gchar *key, GCancellable *cancellable,
                                             BraidCacheLookupFunc func, gpointer user_data);
/* Cancels @lookup (nullable: nothing to do), not answered yet, as a
 * cancellable would: @func then runs, from the reactor, usually with
 * G_IO_ERROR_CANCELLED (or with the answer, if it was on its way).  Cheaper
 * on a hot path than a GCancellable per lookup and its signal handler. */
void braid_cache_lookup_direct_cancel (BraidCache *self, BraidCacheLookup *lookup);
/* Bodies larger than this are served but not cached. */
gsize braid_cache_get_max_item_size (BraidCache *self);

/* The key for @url: "braid-proxy:" + SHA-256 of the URL, fit for memcached
 * (no spaces, well under 250 bytes) whatever the URL. */
gchar *braid_cache_key_for_url (const gchar *url);

/* The keys of recently seen URLs, so that a hot URL's key costs a table
 * lookup instead of a SHA-256: a few hundred slots, each replaced by the
 * next URL that falls in it; URLs over a few hundred bytes are not kept.
 * One thread at a time. */
typedef struct _BraidCacheKeyMemo BraidCacheKeyMemo;

BraidCacheKeyMemo *braid_cache_key_memo_new (void);
void braid_cache_key_memo_free (BraidCacheKeyMemo *memo);
/* (transfer full): what braid_cache_key_for_url (@url) gives. */
gchar *braid_cache_key_memo_get (BraidCacheKeyMemo *memo, const gchar *url);
/* (transfer full) (nullable): the key of @url if the memo holds it,
 * else NULL; never computes one. */
gchar *braid_cache_key_memo_lookup (BraidCacheKeyMemo *memo, const gchar *url);

G_END_DECLS
