/* braid — what the connections of one braid-memcached share: the store,
 * the settings and the counters.
 *
 * Reference-counted: the server and every connection hold a reference,
 * so a connection never reaches back into the BraidMcServer object, and
 * either may go first.  Private; never installed. */
#pragma once

#include "mc-store.h"
#include "mc-server-settings.h"
#include "mc-server-counters.h"

G_BEGIN_DECLS

/* One open connection, as "stats conns" shows it: each connection owns
 * its entry and links it into the shared list while it is open. */
typedef struct {
  guint64 id;                       /* in the order connections opened */
  gchar addr[80];                   /* memcached's "tcp:IP:PORT" */
  gchar listen_addr[80];
  gint64 last_cmd_us;               /* store time of the last command */
  GList link;                       /* in BraidMcServerShared.connections */
} BraidMcConnectionInfo;

typedef struct {
  gatomicrefcount ref_count;
  BraidMcStore *store;              /* (owned) */
  BraidMcServerSettings settings;
  BraidMcServerCounters counters;
  GQueue connections;               /* BraidMcConnectionInfo, oldest first */
  guint64 next_connection_id;
} BraidMcServerShared;

BraidMcServerShared *braid_mc_server_shared_new (BraidReactor *reactor, const BraidMcServerSettings *settings);
BraidMcServerShared *braid_mc_server_shared_ref (BraidMcServerShared *shared);
void braid_mc_server_shared_unref (BraidMcServerShared *shared);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidMcServerShared, braid_mc_server_shared_unref)

G_END_DECLS
