/* braid — the "stats" command's replies, memcached 1.6's names.
 *
 * Read from what a server's connections share (store, settings,
 * counters), so the connection that asks needs nothing from the server
 * object. */
#include "mc-stats-private.h"

#include <sys/resource.h>
#include <unistd.h>

#define STAT_U(name, value) g_string_append_printf (out, "STAT %s %" G_GUINT64_FORMAT "\r\n", name, (guint64) (value))
#define STAT_S(name, value) g_string_append_printf (out, "STAT %s %s\r\n", name, value)

static const BraidMcStats *
read_stats (BraidMcServerShared *shared, BraidMcStats *stats)
{
  braid_mc_store_get_stats (shared->store, stats);
  return stats;
}


static void
write_general (BraidMcServerShared *shared, GString *out)
{
  BraidMcStats stats;
  const BraidMcStats *s = read_stats (shared, &stats);
  const BraidMcServerCounters *c = &shared->counters;
  gint64 uptime = (braid_mc_store_now (shared->store) - c->started_us) / G_USEC_PER_SEC;
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  STAT_U ("pid", getpid ());
  STAT_U ("uptime", uptime);
  STAT_U ("time", braid_mc_store_real_seconds (shared->store));
  STAT_S ("version", BRAID_MC_VERSION_STRING);
  STAT_S ("libevent", "none (GLib)");
  STAT_U ("pointer_size", 8 * sizeof (gpointer));
  g_string_append_printf (out, "STAT rusage_user %ld.%06ld\r\n", (long) usage.ru_utime.tv_sec, (long) usage.ru_utime.tv_usec);
  g_string_append_printf (out, "STAT rusage_system %ld.%06ld\r\n", (long) usage.ru_stime.tv_sec, (long) usage.ru_stime.tv_usec);
  STAT_U ("max_connections", shared->settings.max_connections);
  STAT_U ("curr_connections", c->curr_connections);
  STAT_U ("total_connections", c->total_connections);
  STAT_U ("rejected_connections", c->rejected_connections);
  STAT_U ("connection_structures", c->curr_connections);
  STAT_U ("response_obj_oom", 0);
  STAT_U ("response_obj_count", 0);
  STAT_U ("response_obj_bytes", 0);
  STAT_U ("read_buf_count", 0);
  STAT_U ("read_buf_bytes", 0);
  STAT_U ("read_buf_bytes_free", 0);
  STAT_U ("read_buf_oom", 0);
  STAT_U ("reserved_fds", 0);
  STAT_U ("cmd_get", s->cmd_get);
  STAT_U ("cmd_set", s->cmd_set);
  STAT_U ("cmd_flush", s->cmd_flush);
  STAT_U ("cmd_touch", s->cmd_touch);
  STAT_U ("cmd_meta", 0);
  STAT_U ("get_hits", s->get_hits);
  STAT_U ("get_misses", s->get_misses);
  STAT_U ("get_expired", s->get_expired);
  STAT_U ("get_flushed", s->get_flushed);
  STAT_U ("delete_misses", s->delete_misses);
  STAT_U ("delete_hits", s->delete_hits);
  STAT_U ("incr_misses", s->incr_misses);
  STAT_U ("incr_hits", s->incr_hits);
  STAT_U ("decr_misses", s->decr_misses);
  STAT_U ("decr_hits", s->decr_hits);
  STAT_U ("cas_misses", s->cas_misses);
  STAT_U ("cas_hits", s->cas_hits);
  STAT_U ("cas_badval", s->cas_badval);
  STAT_U ("touch_hits", s->touch_hits);
  STAT_U ("touch_misses", s->touch_misses);
  STAT_U ("store_too_large", s->store_too_large);
  STAT_U ("store_no_memory", s->store_no_memory);
  STAT_U ("auth_cmds", 0);
  STAT_U ("auth_errors", 0);
  STAT_U ("bytes_read", c->bytes_read);
  STAT_U ("bytes_written", c->bytes_written);
  STAT_U ("limit_maxbytes", shared->settings.store.limit_bytes);
  STAT_U ("accepting_conns", 1);
  STAT_U ("listen_disabled_num", 0);
  STAT_U ("time_in_listen_disabled_us", 0);
  STAT_U ("threads", shared->settings.threads);
  STAT_U ("conn_yields", 0);
  STAT_U ("hash_power_level", 16);
  STAT_U ("hash_bytes", 524288);
  STAT_U ("hash_is_expanding", 0);
  /* memcached's slab machinery has no equivalent here: these stay 0 so
   * that monitoring that reads them keeps working. */
  STAT_U ("slab_reassign_rescues", 0);
  STAT_U ("slab_reassign_chunk_rescues", 0);
  STAT_U ("slab_reassign_evictions_nomem", 0);
  STAT_U ("slab_reassign_inline_reclaim", 0);
  STAT_U ("slab_reassign_busy_items", 0);
  STAT_U ("slab_reassign_busy_deletes", 0);
  STAT_U ("slab_reassign_running", 0);
  STAT_U ("slabs_moved", 0);
  STAT_U ("lru_crawler_running", 0);
  STAT_U ("lru_crawler_starts", 0);
  STAT_U ("lru_maintainer_juggles", 0);
  STAT_U ("malloc_fails", 0);
  STAT_U ("log_worker_dropped", 0);
  STAT_U ("log_worker_written", 0);
  STAT_U ("log_watcher_skipped", 0);
  STAT_U ("log_watcher_sent", 0);
  STAT_U ("log_watchers", 0);
  STAT_U ("unexpected_napi_ids", 0);
  STAT_U ("round_robin_fallback", 0);
  STAT_U ("bytes", s->bytes);
  STAT_U ("curr_items", s->curr_items);
  STAT_U ("total_items", s->total_items);
  STAT_U ("slab_global_page_pool", 0);
  STAT_U ("expired_unfetched", s->expired_unfetched);
  STAT_U ("evicted_unfetched", s->evicted_unfetched);
  STAT_U ("evicted_active", 0);
  STAT_U ("evictions", s->evictions);
  STAT_U ("reclaimed", s->reclaimed);
  STAT_U ("crawler_reclaimed", 0);
  STAT_U ("crawler_items_checked", 0);
  STAT_U ("lrutail_reflocked", 0);
  STAT_U ("moves_to_cold", 0);
  STAT_U ("moves_to_warm", 0);
  STAT_U ("moves_within_lru", 0);
  STAT_U ("direct_reclaims", 0);
  STAT_U ("lru_bumps_dropped", 0);
}

static void
write_settings (BraidMcServerShared *shared, GString *out)
{
  const BraidMcServerSettings *st = &shared->settings;

  STAT_U ("maxbytes", st->store.limit_bytes);
  STAT_U ("maxconns", st->max_connections);
  STAT_U ("tcpport", 0);
  STAT_U ("udpport", 0);
  STAT_S ("inter", "NULL");
  STAT_U ("verbosity", st->verbosity);
  STAT_U ("oldest", 0);
  STAT_S ("evictions", st->store.evict ? "on" : "off");
  STAT_S ("domain_socket", "NULL");
  STAT_U ("umask", 700);
  STAT_S ("growth_factor", "1.25");
  STAT_U ("chunk_size", 48);
  STAT_U ("num_threads", st->threads);
  STAT_S ("stat_key_prefix", ":");
  STAT_S ("detail_enabled", "no");
  STAT_U ("reqs_per_event", 20);
  STAT_S ("cas_enabled", st->store.cas_enabled ? "yes" : "no");
  STAT_U ("tcp_backlog", 1024);
  STAT_S ("binding_protocol", "ascii");
  STAT_S ("auth_enabled_sasl", "no");
  STAT_U ("item_size_max", st->store.item_size_max);
  STAT_S ("maxconns_fast", "yes");
  STAT_S ("flush_enabled", st->flush_enabled ? "yes" : "no");
  STAT_S ("debugtime_enabled", st->debugtime ? "yes" : "no");
}

/* The store is one LRU, not slab classes: report it as class 1. */
static void
write_items (BraidMcServerShared *shared, GString *out)
{
  BraidMcStats stats;
  const BraidMcStats *s = read_stats (shared, &stats);

  if (s->curr_items == 0)
    return;
  STAT_U ("items:1:number", s->curr_items);
  STAT_U ("items:1:age", 0);
  STAT_U ("items:1:evicted", s->evictions);
  STAT_U ("items:1:evicted_nonzero", 0);
  STAT_U ("items:1:evicted_time", 0);
  STAT_U ("items:1:outofmemory", s->store_no_memory);
  STAT_U ("items:1:reclaimed", s->reclaimed);
  STAT_U ("items:1:expired_unfetched", s->expired_unfetched);
  STAT_U ("items:1:evicted_unfetched", s->evicted_unfetched);
}

static void
write_slabs (BraidMcServerShared *shared, GString *out)
{
  BraidMcStats stats;
  const BraidMcStats *s = read_stats (shared, &stats);

  if (s->curr_items > 0)
    {
      STAT_U ("1:used_chunks", s->curr_items);
      STAT_U ("1:mem_requested", s->bytes);
      STAT_U ("1:get_hits", s->get_hits);
      STAT_U ("1:cmd_set", s->cmd_set);
      STAT_U ("1:delete_hits", s->delete_hits);
      STAT_U ("1:incr_hits", s->incr_hits);
      STAT_U ("1:decr_hits", s->decr_hits);
      STAT_U ("1:cas_hits", s->cas_hits);
      STAT_U ("1:cas_badval", s->cas_badval);
      STAT_U ("1:touch_hits", s->touch_hits);
    }
  STAT_U ("active_slabs", s->curr_items > 0 ? 1 : 0);
  STAT_U ("total_malloced", s->bytes);
}

static void
reset_stats (BraidMcServerShared *shared, GString *out)
{
  braid_mc_store_reset_stats (shared->store);
  shared->counters.total_connections = shared->counters.curr_connections;
  shared->counters.rejected_connections = 0;
  g_string_append (out, "RESET\r\n");
}

gboolean
braid_mc_stats_write (BraidMcServerShared *shared, const gchar *arg, GString *out)
{
  g_return_val_if_fail (shared != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (arg == NULL)
    write_general (shared, out);
  else if (g_str_equal (arg, "settings"))
    write_settings (shared, out);
  else if (g_str_equal (arg, "items"))
    write_items (shared, out);
  else if (g_str_equal (arg, "slabs"))
    write_slabs (shared, out);
  else if (g_str_equal (arg, "reset"))
    {
      reset_stats (shared, out);
      return TRUE;
    }
  else
    return FALSE;
  g_string_append (out, "END\r\n");
  return TRUE;
}
