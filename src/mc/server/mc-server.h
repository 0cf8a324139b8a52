/* braid — braid-memcached: the server whose connections share one store.
 *
 * The server builds one BraidMcServerProtocol per connection through its
 * factory; every connection shares the server's store, settings and
 * counters (BraidMcServerShared, private), and never calls back into the
 * server. */
#pragma once

#include "reactor.h"
#include "mc-store.h"
#include "mc-server-settings.h"
#include "braid-version.h"

G_BEGIN_DECLS

/* What "version" answers: memcached's version, then braid's. */
#define BRAID_MC_VERSION_STRING "1.6.18-braid-" BRAID_VERSION

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

#define BRAID_TYPE_MC_SERVER (braid_mc_server_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcServer, braid_mc_server, BRAID, MC_SERVER, GObject)

/* @settings: (nullable): NULL for memcached's defaults */
BraidMcServer *braid_mc_server_new (BraidReactor *reactor, const BraidMcServerSettings *settings);
/* (transfer full): builds one BraidMcServerProtocol per connection. */
BraidProtocolFactory *braid_mc_server_create_factory (BraidMcServer *self);
/* (transfer none) */
BraidMcStore *braid_mc_server_get_store (BraidMcServer *self);
/* (transfer none) */
BraidReactor *braid_mc_server_get_reactor (BraidMcServer *self);
/* (transfer none): the settings in force (reload and "verbosity" change
 * some of them) */
const BraidMcServerSettings *braid_mc_server_get_settings (BraidMcServer *self);

/* What a reload may change while connections stay open. */
void braid_mc_server_set_memory_limit (BraidMcServer *self, gsize limit_bytes);
void braid_mc_server_set_verbosity (BraidMcServer *self, gint verbosity);

/* Copies the connection accounting into @counters. */
void braid_mc_server_get_counters (BraidMcServer *self, BraidMcServerCounters *counters);
/* TRUE while any connection has a command half-received or replies not
 * yet sent: a graceful stop waits for this to turn FALSE. */
gboolean braid_mc_server_is_busy (BraidMcServer *self);

G_END_DECLS
