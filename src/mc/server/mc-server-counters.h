/* braid — braid-memcached's connection accounting, as a snapshot. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * BraidMcServerCounters:
 * @curr_connections: connections open now
 * @total_connections: connections accepted since start (or "stats reset")
 * @rejected_connections: connections refused over -c
 * @bytes_read: bytes received from clients
 * @bytes_written: bytes sent to clients
 * @busy_connections: connections with a command half-received or replies
 *   not yet sent
 * @started_us: the reactor time the server started at
 *
 * A snapshot of a server's connection accounting (see
 * braid_mc_server_get_counters()).
 */
typedef struct {
  guint curr_connections;
  guint64 total_connections;
  guint64 rejected_connections;
  guint64 bytes_read;
  guint64 bytes_written;
  guint busy_connections;
  gint64 started_us;
} BraidMcServerCounters;

G_END_DECLS
