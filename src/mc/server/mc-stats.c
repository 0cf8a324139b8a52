/* braid — the "stats" command's replies, memcached 1.6's names.
 *
 * Read from what a server's connections share (store, settings,
 * counters), so the connection that asks needs nothing from the server
 * object. */
#include "mc-stats-private.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* memcached's slab class ids run from 1 to 63 (MAX_NUMBER_OF_SLAB_CLASSES
 * is 64); braid's one LRU is class 1. */
#define SLAB_CLASSES 64
#define BRAID_SLAB_CLASS 1
/* memcached stops a cachedump at 2 MiB of reply. */
#define CACHEDUMP_MAX (2 * 1024 * 1024)

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
  BraidMcServerCounters counters;
  const BraidMcServerCounters *c = &counters;
  gint64 uptime;
  struct rusage usage;

  braid_mc_server_shared_get_counters (shared, &counters);
  /* debugtime may move the store's clock back before the start: never
   * below 0 (an unsigned stat would show 2^64 - n) */
  uptime = MAX (0, (braid_mc_store_now (shared->store) - c->started_us) / G_USEC_PER_SEC);
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
  STAT_U ("cmd_meta", s->cmd_meta);
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
  STAT_U ("limit_maxbytes", braid_mc_server_shared_get_limit (shared));
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
  if (shared->settings.ssl_enabled)
    {
      /* memcached -Z's two; the certificate is loaded once, at start. */
      STAT_U ("ssl_handshake_errors", shared->settings.ssl_handshake_errors_func != NULL
                                        ? shared->settings.ssl_handshake_errors_func (
                                            shared->settings.ssl_handshake_errors_data)
                                        : 0);
      STAT_U ("time_since_server_cert_refresh", uptime);
    }
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

  STAT_U ("maxbytes", braid_mc_server_shared_get_limit (shared));
  STAT_U ("maxconns", st->max_connections);
  STAT_U ("tcpport", 0);
  STAT_U ("udpport", 0);
  STAT_S ("inter", "NULL");
  STAT_U ("verbosity", braid_mc_server_shared_get_verbosity (shared));
  STAT_U ("oldest", 0);
  STAT_S ("evictions", st->store.evict ? "on" : "off");
  STAT_S ("domain_socket", "NULL");
  STAT_U ("umask", 700);
  STAT_S ("shutdown_command", st->shutdown_func != NULL ? "yes" : "no");
  STAT_S ("growth_factor", "1.25");
  STAT_U ("chunk_size", 48);
  STAT_U ("num_threads", st->threads);
  STAT_U ("num_threads_per_udp", st->threads);
  STAT_S ("stat_key_prefix", ":");
  STAT_S ("detail_enabled", braid_mc_server_shared_get_detail_enabled (shared) ? "yes" : "no");
  STAT_U ("reqs_per_event", 20);
  STAT_S ("cas_enabled", st->store.cas_enabled ? "yes" : "no");
  STAT_U ("tcp_backlog", st->tcp_backlog > 0 ? st->tcp_backlog : 1024);
  STAT_S ("binding_protocol", "auto-negotiate");
  STAT_S ("auth_enabled_sasl", "no");
  STAT_S ("auth_enabled_ascii", "no");
  STAT_U ("item_size_max", st->store.item_size_max);
  STAT_S ("maxconns_fast", "yes");
  /* braid has one LRU and no slab classes: what describes memcached's
   * slab mover and LRU maintainer is reported as switched off. */
  STAT_U ("hashpower_init", 0);
  STAT_S ("slab_reassign", "no");
  STAT_U ("slab_automove", 0);
  STAT_S ("slab_automove_ratio", "0.00");
  STAT_U ("slab_automove_window", 0);
  STAT_U ("slab_chunk_max", st->store.item_size_max);
  STAT_S ("lru_crawler", "no");
  STAT_U ("lru_crawler_sleep", 0);
  STAT_U ("lru_crawler_tocrawl", 0);
  STAT_U ("tail_repair_time", 0);
  STAT_S ("flush_enabled", st->flush_enabled ? "yes" : "no");
  STAT_S ("dump_enabled", "yes");
  STAT_S ("hash_algorithm", "xxh3");
  STAT_S ("lru_maintainer_thread", "no");
  STAT_S ("lru_segmented", "no");
  STAT_U ("hot_lru_pct", 0);
  STAT_U ("warm_lru_pct", 0);
  STAT_S ("hot_max_factor", "0.00");
  STAT_S ("warm_max_factor", "0.00");
  STAT_S ("temp_lru", "no");
  STAT_U ("temporary_ttl", 0);
  STAT_U ("idle_timeout", 0);
  STAT_U ("watcher_logbuf_size", 0);
  STAT_U ("worker_logbuf_size", 0);
  STAT_U ("read_buf_mem_limit", 0);
  STAT_S ("track_sizes", "no");
  STAT_S ("inline_ascii_response", "no");
  /* memcached built without extstore prints no ext_* settings; neither
   * does braid.  Debian's is built with TLS, and so is braid: the ssl_*
   * block is memcached 1.6.18's, with its defaults for what braid does
   * not let one change. */
  STAT_S ("slab_automove_freeratio", "0.000");
  STAT_S ("ssl_enabled", st->ssl_enabled ? "yes" : "no");
  STAT_S ("ssl_chain_cert", st->ssl_chain_cert != NULL ? st->ssl_chain_cert : "(null)");
  STAT_S ("ssl_key", st->ssl_key != NULL ? st->ssl_key : "(null)");
  STAT_U ("ssl_verify_mode", 0);
  STAT_U ("ssl_keyformat", 1);
  STAT_S ("ssl_ciphers", "NULL");
  STAT_S ("ssl_ca_cert", "NULL");
  STAT_U ("ssl_wbuf_size", 16384);
  STAT_S ("ssl_session_cache", "no");
  STAT_S ("ssl_kernel_tls", "no");
  STAT_S ("ssl_min_version", "tlsv1.2");
  STAT_S ("num_napi_ids", "(null)");
  STAT_S ("memory_file", "(null)");
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
  braid_mc_server_shared_reset_counters (shared);
  g_string_append (out, "RESET\r\n");
}

/* A number as memcached's safe_strtoul reads it: no sign, and kept in
 * 32 bits. */
static gboolean
parse_u32 (const gchar *s, guint32 *out)
{
  guint64 v;

  if (s == NULL || *s == '-' || !g_ascii_string_to_unsigned (*s == '+' ? s + 1 : s, 10, 0, G_MAXUINT64, &v, NULL))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

typedef struct {
  GString *out;
  gsize start;
  guint32 limit;    /* 0: all */
  guint32 shown;
} Cachedump;

static gboolean
cachedump_item (const BraidMcItemInfo *info, gpointer data)
{
  Cachedump *d = data;
  gsize before = d->out->len;

  if (d->limit != 0 && d->shown == d->limit)
    return FALSE;
  g_string_append (d->out, "ITEM ");
  g_string_append_len (d->out, (const gchar *) info->key, (gssize) info->key_len);
  /* memcached prints 0 for an item that never expires. */
  g_string_append_printf (d->out, " [%" G_GSIZE_FORMAT " b; %" G_GINT64_FORMAT " s]\r\n", info->value_len,
                          info->expires_real);
  if (d->out->len - d->start + 5 > CACHEDUMP_MAX)
    {
      g_string_truncate (d->out, before);
      return FALSE;
    }
  d->shown++;
  return TRUE;
}

/* stats cachedump <class> <limit>: class 1 lists the LRU from its most
 * recently used end, other classes are empty, limit 0 lists everything. */
static void
write_cachedump (BraidMcServerShared *shared, gchar **tokens, GString *out)
{
  guint32 id, limit;
  Cachedump d = { out, out->len, 0, 0 };

  if (g_strv_length (tokens) < 3)
    {
      g_string_append (out, "CLIENT_ERROR bad command line\r\n");
      return;
    }
  if (!parse_u32 (tokens[1], &id) || !parse_u32 (tokens[2], &limit))
    {
      g_string_append (out, "CLIENT_ERROR bad command line format\r\n");
      return;
    }
  if (id >= SLAB_CLASSES)
    {
      g_string_append (out, "CLIENT_ERROR Illegal slab id\r\n");
      return;
    }
  d.limit = limit;
  if (id == BRAID_SLAB_CLASS)
    braid_mc_store_foreach (shared->store, BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, cachedump_item, &d);
  g_string_append (out, "END\r\n");
}

/* stats detail on|off|dump.  braid keeps no per-prefix counters, so the
 * dump is always empty. */
static void
write_detail (BraidMcServerShared *shared, gchar **tokens, GString *out)
{
  const gchar *sub = tokens[1];

  if (g_strcmp0 (sub, "on") == 0 || g_strcmp0 (sub, "off") == 0)
    {
      braid_mc_server_shared_set_detail_enabled (shared, g_str_equal (sub, "on"));
      g_string_append (out, "OK\r\n");
    }
  else if (g_strcmp0 (sub, "dump") == 0)
    g_string_append (out, "END\r\n");
  else
    g_string_append (out, "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
}

/* One block per open connection, in the order they opened.  braid has no
 * file descriptors: each is numbered instead, and listeners are not
 * listed (they belong to the daemon, not to the server). */
typedef struct {
  const BraidMcConnectionInfo *asking;
  gint64 now;
  GString *out;
} ConnsDump;

static void
write_one_conn (const BraidMcConnectionInfo *c, gpointer data)
{
  ConnsDump *d = data;
  guint64 id = c->id;

  g_string_append_printf (d->out, "STAT %" G_GUINT64_FORMAT ":addr %s\r\n", id, c->addr);
  g_string_append_printf (d->out, "STAT %" G_GUINT64_FORMAT ":listen_addr %s\r\n", id, c->listen_addr);
  g_string_append_printf (d->out, "STAT %" G_GUINT64_FORMAT ":state %s\r\n", id,
                          c == d->asking ? "conn_parse_cmd" : "conn_read");
  g_string_append_printf (d->out, "STAT %" G_GUINT64_FORMAT ":secs_since_last_cmd %" G_GINT64_FORMAT "\r\n", id,
                          MAX (d->now - braid_mc_connection_info_get_last_cmd (c), 0) / G_USEC_PER_SEC);
}

static void
write_conns (BraidMcServerShared *shared, const BraidMcConnectionInfo *asking, GString *out)
{
  ConnsDump d = { asking, braid_mc_store_now (shared->store), out };

  braid_mc_server_shared_foreach_connection (shared, write_one_conn, &d);
}

/* memcached's uriencode(): anything but unreserved characters as %XX. */
static void
append_uriencoded (GString *out, const guint8 *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      guint8 ch = s[i];

      if (g_ascii_isalnum (ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
        g_string_append_c (out, (gchar) ch);
      else
        g_string_append_printf (out, "%%%02X", ch);
    }
}

static gboolean
metadump_item (const BraidMcItemInfo *info, gpointer data)
{
  const BraidMcStoreSettings *settings = ((gpointer *) data)[0];
  GString *out = ((gpointer *) data)[1];

  g_string_append (out, "key=");
  append_uriencoded (out, info->key, info->key_len);
  /* memcached's exp=-1 is "never"; size is its nominal item size. */
  g_string_append_printf (out, " exp=%" G_GINT64_FORMAT " la=%" G_GINT64_FORMAT " cas=%" G_GUINT64_FORMAT
                          " fetch=%s cls=%d size=%" G_GSIZE_FORMAT "\n",
                          info->expires_real == 0 ? (gint64) -1 : info->expires_real, info->accessed_real,
                          info->cas, info->fetched ? "yes" : "no", BRAID_SLAB_CLASS,
                          braid_mc_item_size (info->key_len, info->flags, info->value_len, settings->cas_enabled));
  return TRUE;
}

void
braid_mc_stats_write_metadump (BraidMcServerShared *shared, const gchar *classes, GString *out)
{
  gboolean braid_class = FALSE;

  g_return_if_fail (shared != NULL);
  g_return_if_fail (classes != NULL);
  g_return_if_fail (out != NULL);

  if (g_str_equal (classes, "all") || g_str_equal (classes, "hash"))
    braid_class = TRUE;
  else
    {
      g_auto(GStrv) ids = g_strsplit (classes, ",", -1);

      for (guint i = 0; ids[i] != NULL; i++)
        {
          guint32 id;

          if (!parse_u32 (ids[i], &id) || id >= SLAB_CLASSES)
            {
              g_string_append (out, "BADCLASS invalid class id\r\n");
              return;
            }
          braid_class |= id == BRAID_SLAB_CLASS;
        }
    }
  if (braid_class)
    {
      gpointer data[2] = { (gpointer) braid_mc_store_get_settings (shared->store), out };

      /* the crawler walks each LRU from its tail */
      braid_mc_store_foreach (shared->store, BRAID_MC_STORE_ORDER_LEAST_RECENT_FIRST, metadump_item, data);
    }
  g_string_append (out, "END\r\n");
}

gboolean
braid_mc_stats_write (BraidMcServerShared *shared,
                      const BraidMcConnectionInfo *asking,
                      const gchar *arg,
                      GString *out)
{
  g_auto(GStrv) tokens = NULL;

  g_return_val_if_fail (shared != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (arg != NULL)
    {
      /* the sub-command's tokens, without empty ones */
      gchar **all = g_strsplit (arg, " ", -1);
      guint n = 0;

      for (guint i = 0; all[i] != NULL; i++)
        if (*all[i] != '\0')
          all[n++] = all[i];
        else
          g_free (all[i]);
      all[n] = NULL;
      tokens = all;
    }
  if (tokens != NULL && tokens[0] != NULL && g_str_equal (tokens[0], "cachedump"))
    {
      write_cachedump (shared, tokens, out);
      return TRUE;
    }
  if (tokens != NULL && tokens[0] != NULL && g_str_equal (tokens[0], "detail"))
    {
      write_detail (shared, tokens, out);
      return TRUE;
    }
  if (tokens != NULL && tokens[0] != NULL && g_str_equal (tokens[0], "sizes"))
    {
      /* memcached without -o track_sizes */
      g_string_append (out, "STAT sizes_status disabled\r\nEND\r\n");
      return TRUE;
    }

  if (arg == NULL)
    write_general (shared, out);
  else if (g_str_equal (arg, "settings"))
    write_settings (shared, out);
  else if (g_str_equal (arg, "items"))
    write_items (shared, out);
  else if (g_str_equal (arg, "slabs"))
    write_slabs (shared, out);
  else if (g_str_equal (arg, "conns"))
    write_conns (shared, asking, out);
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
