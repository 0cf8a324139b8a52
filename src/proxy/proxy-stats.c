/* braid — the proxy's counters as text, for the "stats" request line. */
#include "proxy-settings.h"

gchar *
braid_proxy_stats_format (const BraidProxyStats *stats)
{
  GString *out;

  g_return_val_if_fail (stats != NULL, NULL);
  out = g_string_new (NULL);  /* after the check: a refused call allocates nothing */

#define STAT(name, value) g_string_append_printf (out, "STAT %s %" G_GUINT64_FORMAT "\r\n", name, (guint64) (value))
  STAT ("requests", stats->requests);
  STAT ("in_flight", stats->in_flight);
  STAT ("hits", stats->hits);
  STAT ("misses", stats->misses);
  STAT ("shared", stats->shared);
  STAT ("bypass", stats->bypass);
  STAT ("bad_requests", stats->bad_requests);
  STAT ("bytes", stats->bytes);
  STAT ("upstream_fetches", stats->upstream_fetches);
  STAT ("flights", stats->flights);
  STAT ("upstream_errors", stats->upstream_errors);
  STAT ("too_large", stats->too_large);
  STAT ("refused", stats->refused);
  STAT ("clients_detached", stats->clients_detached);
  STAT ("not_stored", stats->not_stored);
  STAT ("stored", stats->stored);
  STAT ("mac_rejects", stats->mac_rejects);
  STAT ("request_timeouts", stats->request_timeouts);
  STAT ("fetch_timeouts", stats->fetch_timeouts);
  STAT ("connections", stats->connections);
  STAT ("rejected_connections", stats->rejected_connections);
  STAT ("over_capacity", stats->over_capacity);
  STAT ("slow_clients", stats->slow_clients);
  STAT ("abandoned", stats->abandoned);
  STAT ("buffered", stats->buffered);
#undef STAT
  g_string_append (out, "END\r\n");
  return g_string_free (out, FALSE);
}
