/* braid — a relay filter whose stats under-count (see sim-stats-filter.h).
 *
 * Every reply of the text and meta protocols, values included, is made of
 * CRLF-terminated lines, so the filter forwards whole lines and rewrites
 * only the one it breaks. */
#include "sim-stats-filter.h"

#include <string.h>

#define GET_HITS_LINE "STAT get_hits "

static gsize
stats_from_client (SimRelayConn *conn, const guint8 *data, gsize len)
{
  sim_relay_conn_to_server (conn, data, len);
  return len;
}

static void
send_line (SimRelayConn *conn, const guint8 *line, gsize len)
{
  gsize prefix = strlen (GET_HITS_LINE);
  g_autofree gchar *number = NULL;
  g_autofree gchar *lowered = NULL;
  guint64 hits;

  if (len < prefix + 2 || memcmp (line, GET_HITS_LINE, prefix) != 0)
    {
      sim_relay_conn_to_client (conn, line, len);
      return;
    }
  number = g_strndup ((const gchar *) line + prefix, len - prefix - 2);
  if (!g_ascii_string_to_unsigned (number, 10, 1, G_MAXUINT64, &hits, NULL))
    {
      sim_relay_conn_to_client (conn, line, len);
      return;
    }
  lowered = g_strdup_printf (GET_HITS_LINE "%" G_GUINT64_FORMAT "\r\n", hits - 1);
  braid_sim_trace (sim_relay_conn_get_sim (conn), "twin: stats get_hits %" G_GUINT64_FORMAT " shown as %"
                   G_GUINT64_FORMAT, hits, hits - 1);
  sim_relay_conn_to_client (conn, (const guint8 *) lowered, strlen (lowered));
}

/* Whole lines only; a partial one waits for its end. */
static gsize
stats_from_server (SimRelayConn *conn, const guint8 *data, gsize len)
{
  gsize used = 0;

  for (;;)
    {
      const guint8 *eol = memchr (data + used, '\n', len - used);
      gsize line_len;

      if (eol == NULL)
        return used;
      line_len = (gsize) (eol + 1 - (data + used));
      send_line (conn, data + used, line_len);
      used += line_len;
    }
}

/* No state per connection: the relay's conn_new and conn_free are optional. */
const SimRelayFilter sim_stats_filter = {
  .from_client = stats_from_client,
  .from_server = stats_from_server,
};
