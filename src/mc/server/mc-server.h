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
#include "mc-server-counters.h"

G_BEGIN_DECLS



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
