/* braid — the state one braid-memcached's connections share, on however
 * many reactor threads they run. */
#include "mc-server-shared-private.h"
#include "tsan-private.h"

BraidMcServerShared *
braid_mc_server_shared_new (BraidReactor *reactor, const BraidMcServerSettings *settings)
{
  BraidMcServerShared *shared = g_new0 (BraidMcServerShared, 1);
  BraidMcServerSettings defaults = BRAID_MC_SERVER_SETTINGS_INIT;

  g_atomic_ref_count_init (&shared->ref_count);
  g_mutex_init (&shared->lock);
  shared->settings = settings != NULL ? *settings : defaults;
  shared->settings.ssl_chain_cert = g_strdup (shared->settings.ssl_chain_cert);
  shared->settings.ssl_key = g_strdup (shared->settings.ssl_key);
  shared->store = braid_mc_store_new (reactor, &shared->settings.store);
  shared->counters.started_us = braid_reactor_now (reactor);
  return shared;
}

BraidMcServerShared *
braid_mc_server_shared_ref (BraidMcServerShared *shared)
{
  g_return_val_if_fail (shared != NULL, NULL);
  g_atomic_ref_count_inc (&shared->ref_count);
  return shared;
}

void
braid_mc_server_shared_unref (BraidMcServerShared *shared)
{
  g_return_if_fail (shared != NULL);
  if (!g_atomic_ref_count_dec (&shared->ref_count))
    return;
  braid_mc_store_free (shared->store);
  g_mutex_clear (&shared->lock);
  g_free ((gchar *) shared->settings.ssl_chain_cert);
  g_free ((gchar *) shared->settings.ssl_key);
  g_free (shared);
}

/* ---- connections ---- */

gboolean
braid_mc_server_shared_open_connection (BraidMcServerShared *shared, BraidMcConnectionInfo *info)
{
  gboolean open;

  braid_mutex_lock (&shared->lock);
  open = shared->counters.curr_connections < shared->settings.max_connections;
  if (!open)
    shared->counters.rejected_connections++;
  else
    {
      shared->counters.curr_connections++;
      shared->counters.total_connections++;
      info->id = ++shared->next_connection_id;
      info->link.data = info;
      g_queue_push_tail_link (&shared->connections, &info->link);
    }
  braid_mutex_unlock (&shared->lock);
  return open;
}

void
braid_mc_server_shared_close_connection (BraidMcServerShared *shared, BraidMcConnectionInfo *info)
{
  braid_mutex_lock (&shared->lock);
  g_queue_unlink (&shared->connections, &info->link);
  shared->counters.curr_connections--;
  braid_mutex_unlock (&shared->lock);
}

void
braid_mc_server_shared_foreach_connection (BraidMcServerShared *shared,
                                           void (*func) (const BraidMcConnectionInfo *info, gpointer data),
                                           gpointer data)
{
  braid_mutex_lock (&shared->lock);
  for (GList *l = shared->connections.head; l != NULL; l = l->next)
    func (l->data, data);
  braid_mutex_unlock (&shared->lock);
}

void
braid_mc_connection_info_touch (BraidMcConnectionInfo *info, gint64 now_us)
{
  __atomic_store_n (&info->last_cmd_us, now_us, __ATOMIC_RELAXED);
}

gint64
braid_mc_connection_info_get_last_cmd (const BraidMcConnectionInfo *info)
{
  return __atomic_load_n (&info->last_cmd_us, __ATOMIC_RELAXED);
}

/* ---- traffic, per thread slot ---- */

static guint
thread_slot (void)
{
  static gint next_slot;
  /* initial-exec: a plain %fs-relative load, not a __tls_get_addr call
   * per counter update (libbraid is linked, not dlopen()ed). */
  static _Thread_local gint slot __attribute__ ((tls_model ("initial-exec"))) = -1;

  if (slot < 0)
    slot = (gint) ((guint) g_atomic_int_add (&next_slot, 1) % BRAID_MC_TRAFFIC_SLOTS);
  return (guint) slot;
}

void
braid_mc_server_shared_add_read (BraidMcServerShared *shared, gsize n)
{
  __atomic_fetch_add (&shared->traffic[thread_slot ()].bytes_read, n, __ATOMIC_RELAXED);
}

void
braid_mc_server_shared_add_written (BraidMcServerShared *shared, gsize n)
{
  __atomic_fetch_add (&shared->traffic[thread_slot ()].bytes_written, n, __ATOMIC_RELAXED);
}

/* Every command turns its connection busy and idle again: counted in the
 * thread's own slot, so threads do not pass a cache line per command. */
void
braid_mc_server_shared_set_busy (BraidMcServerShared *shared, gboolean busy)
{
  __atomic_fetch_add (&shared->traffic[thread_slot ()].busy, busy ? 1 : -1, __ATOMIC_RELAXED);
}

guint
braid_mc_server_shared_count_busy (BraidMcServerShared *shared)
{
  gint64 busy = 0;

  for (guint i = 0; i < BRAID_MC_TRAFFIC_SLOTS; i++)
    busy += __atomic_load_n (&shared->traffic[i].busy, __ATOMIC_RELAXED);
  return (guint) MAX (busy, 0);
}

void
braid_mc_server_shared_get_counters (BraidMcServerShared *shared, BraidMcServerCounters *out)
{
  braid_mutex_lock (&shared->lock);
  *out = shared->counters;
  braid_mutex_unlock (&shared->lock);
  out->busy_connections = braid_mc_server_shared_count_busy (shared);
  out->bytes_read = out->bytes_written = 0;
  for (guint i = 0; i < BRAID_MC_TRAFFIC_SLOTS; i++)
    {
      out->bytes_read += __atomic_load_n (&shared->traffic[i].bytes_read, __ATOMIC_RELAXED);
      out->bytes_written += __atomic_load_n (&shared->traffic[i].bytes_written, __ATOMIC_RELAXED);
    }
}

void
braid_mc_server_shared_reset_counters (BraidMcServerShared *shared)
{
  braid_mutex_lock (&shared->lock);
  shared->counters.total_connections = shared->counters.curr_connections;
  shared->counters.rejected_connections = 0;
  braid_mutex_unlock (&shared->lock);
}

/* ---- what changes at run time ---- */

gint
braid_mc_server_shared_get_verbosity (BraidMcServerShared *shared)
{
  return g_atomic_int_get (&shared->settings.verbosity);
}

void
braid_mc_server_shared_set_verbosity (BraidMcServerShared *shared, gint verbosity)
{
  g_atomic_int_set (&shared->settings.verbosity, verbosity);
}

gboolean
braid_mc_server_shared_get_detail_enabled (BraidMcServerShared *shared)
{
  return g_atomic_int_get (&shared->settings.detail_enabled);
}

void
braid_mc_server_shared_set_detail_enabled (BraidMcServerShared *shared, gboolean enabled)
{
  g_atomic_int_set (&shared->settings.detail_enabled, enabled);
}

gsize
braid_mc_server_shared_get_limit (BraidMcServerShared *shared)
{
  return __atomic_load_n (&shared->settings.store.limit_bytes, __ATOMIC_RELAXED);
}

void
braid_mc_server_shared_set_limit (BraidMcServerShared *shared, gsize limit_bytes)
{
  __atomic_store_n (&shared->settings.store.limit_bytes, limit_bytes, __ATOMIC_RELAXED);
}
