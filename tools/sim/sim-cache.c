/* braid — the proxy scenario's observing cache (see sim-cache.h). */
#include "sim-cache.h"
#include "reactor.h"
#include "delayed-call.h"

#include <string.h>

struct _SimCache
{
  GObject parent_instance;
  BraidCache *inner;         /* (owned) */
  BraidReactor *reactor;     /* (owned) */
  gboolean serve_expired;
  GHashTable *last_store;    /* key → gint64 *, when a store was last asked */
  GHashTable *bodies;        /* key → GBytes: serve_expired only */
  GRand *slow_rand;          /* (owned) (nullable): slow and deaf lookups */
  gint64 max_delay_us, time_box_us;
};

static void sim_cache_iface_init (BraidCacheInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SimCache, sim_cache, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_CACHE, sim_cache_iface_init))

static void
sim_cache_finalize (GObject *object)
{
  SimCache *self = SIM_CACHE (object);

  g_object_unref (self->inner);
  g_object_unref (self->reactor);
  g_hash_table_unref (self->last_store);
  g_hash_table_unref (self->bodies);
  g_clear_pointer (&self->slow_rand, g_rand_free);
  G_OBJECT_CLASS (sim_cache_parent_class)->finalize (object);
}

static void
sim_cache_class_init (SimCacheClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sim_cache_finalize;
}

static void
sim_cache_init (SimCache *self)
{
  self->last_store = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->bodies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
}

/* ---- lookup ---- */

static void
on_inner_lookup (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  SimCache *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  GBytes *body = braid_cache_lookup_finish (BRAID_CACHE (source), result, &error);

  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (body == NULL && self->serve_expired)
    {
      GBytes *stale = g_hash_table_lookup (self->bodies, g_task_get_task_data (task));

      body = stale != NULL ? g_bytes_ref (stale) : NULL;
    }
  g_task_return_pointer (task, body, (GDestroyNotify) g_bytes_unref);
}

/* What a slow lookup answers past the proxy's time box: no URL's body. */
#define LATE_ANSWER "(a cache answer that came after the time box)"

typedef struct {
  GTask *task;        /* (owned) */
  gint64 asked_at;
} SlowLookup;

static void
slow_lookup_free (gpointer data)
{
  SlowLookup *slow = data;

  g_clear_object (&slow->task);
  g_free (slow);
}

static void
on_slow_lookup_due (gpointer data)
{
  SlowLookup *slow = data;
  GTask *task = g_steal_pointer (&slow->task);
  SimCache *self = g_task_get_source_object (task);

  if (braid_reactor_now (self->reactor) - slow->asked_at >= self->time_box_us)
    {
      g_task_return_pointer (task, g_bytes_new_static (LATE_ANSWER, strlen (LATE_ANSWER)),
                             (GDestroyNotify) g_bytes_unref);
      g_object_unref (task);
      return;
    }
  /* deaf: its cancellable no longer matters, as for a lookup under way */
  braid_cache_lookup_async (self->inner, g_task_get_task_data (task), NULL, on_inner_lookup, task);
}

static void
sim_cache_lookup_async (BraidCache *cache, const gchar *key, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  SimCache *self = SIM_CACHE (cache);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, sim_cache_lookup_async);
  g_task_set_task_data (task, g_strdup (key), g_free);
  if (self->slow_rand != NULL)
    {
      SlowLookup *slow = g_new0 (SlowLookup, 1);
      gint64 delay_us = g_rand_int_range (self->slow_rand, 0, (gint32) self->max_delay_us + 1);

      /* deaf: the answer, not a cancellation error, whatever the cancellable says */
      g_task_set_check_cancellable (task, FALSE);
      slow->task = task;
      slow->asked_at = braid_reactor_now (self->reactor);
      braid_delayed_call_unref (braid_reactor_call_later (self->reactor, delay_us, on_slow_lookup_due, slow,
                                                          slow_lookup_free));
      return;
    }
  braid_cache_lookup_async (self->inner, key, cancellable, on_inner_lookup, task);
}

static GBytes *
sim_cache_lookup_finish (BraidCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, cache), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sim_cache_lookup_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- store ---- */

static void
on_inner_store (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  gboolean stored = braid_cache_store_finish (BRAID_CACHE (source), result, &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, stored);
}

static void
sim_cache_store_async (BraidCache *cache, const gchar *key, GBytes *body, gint64 ttl_s,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  SimCache *self = SIM_CACHE (cache);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  gint64 *when = g_new (gint64, 1);

  g_task_set_source_tag (task, sim_cache_store_async);
  *when = braid_reactor_now (self->reactor);
  g_hash_table_replace (self->last_store, g_strdup (key), when);
  if (self->serve_expired)
    g_hash_table_replace (self->bodies, g_strdup (key), g_bytes_ref (body));
  braid_cache_store_async (self->inner, key, body, ttl_s, cancellable, on_inner_store, task);
}

static gboolean
sim_cache_store_finish (BraidCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, cache), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sim_cache_store_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gsize
sim_cache_get_max_item_size (BraidCache *cache)
{
  return braid_cache_get_max_item_size (SIM_CACHE (cache)->inner);
}

static void
sim_cache_iface_init (BraidCacheInterface *iface)
{
  iface->lookup_async = sim_cache_lookup_async;
  iface->lookup_finish = sim_cache_lookup_finish;
  iface->store_async = sim_cache_store_async;
  iface->store_finish = sim_cache_store_finish;
  iface->get_max_item_size = sim_cache_get_max_item_size;
}

SimCache *
sim_cache_new (BraidCache *inner, BraidReactor *reactor, gboolean serve_expired)
{
  SimCache *self = g_object_new (SIM_TYPE_CACHE, NULL);

  self->inner = g_object_ref (inner);
  self->reactor = g_object_ref (reactor);
  self->serve_expired = serve_expired;
  return self;
}

void
sim_cache_set_slow (SimCache *self, GRand *rand, gint64 max_delay_us, gint64 time_box_us)
{
  g_return_if_fail (self->slow_rand == NULL && max_delay_us >= 0 && max_delay_us < G_MAXINT32);

  self->slow_rand = g_rand_copy (rand);
  self->max_delay_us = max_delay_us;
  self->time_box_us = time_box_us;
}

gint64
sim_cache_get_last_store (SimCache *self, const gchar *key)
{
  gint64 *when = g_hash_table_lookup (self->last_store, key);

  return when != NULL ? *when : -1;
}
