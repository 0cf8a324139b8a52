/* braid — what the connections of one braid-memcached share: the store,
 * the settings and the counters.
 *
 * Reference-counted: the server and every connection hold a reference,
 * so a connection never reaches back into the BraidMcServer object, and
 * either may go first.  With -t N the connections of every reactor thread
 * share one of these: the connection list and its counters are under
 * @lock (taken when a connection opens or closes, not per command), the
 * byte counters are per thread slot (no cache line passed between
 * threads per command), and the few settings that change at run time are
 * read and written atomically.  Private; never installed. */
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
  gint64 last_cmd_us;               /* store time of the last command (atomic) */
  GList link;                       /* in BraidMcServerShared.connections */
} BraidMcConnectionInfo;

/* Bytes in and out, counted by the threads that use a slot (atomically,
 * since threads beyond BRAID_MC_TRAFFIC_SLOTS share), each slot on a
 * cache line of its own. */
#define BRAID_MC_TRAFFIC_SLOTS 16
typedef struct {
  _Alignas (64) guint64 bytes_read;
  guint64 bytes_written;
  gint64 busy;                      /* +1 when a connection turns busy, -1 when idle again */
} BraidMcTrafficSlot;

typedef struct {
  gatomicrefcount ref_count;
  BraidMcStore *store;              /* (owned) */
  /* verbosity, detail_enabled and store.limit_bytes change at run time:
   * use the accessors below. */
  BraidMcServerSettings settings;
  GMutex lock;
  /* Under @lock: curr, total and rejected connections; started_us is
   * fixed.  busy_connections and the byte counts are per thread slot. */
  BraidMcServerCounters counters;
  GQueue connections;               /* (under @lock) BraidMcConnectionInfo, oldest first */
  guint64 next_connection_id;       /* (under @lock) */
  BraidMcTrafficSlot traffic[BRAID_MC_TRAFFIC_SLOTS];
} BraidMcServerShared;

BraidMcServerShared *braid_mc_server_shared_new (BraidReactor *reactor, const BraidMcServerSettings *settings);
BraidMcServerShared *braid_mc_server_shared_ref (BraidMcServerShared *shared);
void braid_mc_server_shared_unref (BraidMcServerShared *shared);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidMcServerShared, braid_mc_server_shared_unref)

/* A new connection: FALSE (and counted as rejected) when -c is reached;
 * else it is counted, numbered and listed in @info. */
gboolean braid_mc_server_shared_open_connection (BraidMcServerShared *shared, BraidMcConnectionInfo *info);
void braid_mc_server_shared_close_connection (BraidMcServerShared *shared, BraidMcConnectionInfo *info);
void braid_mc_server_shared_set_busy (BraidMcServerShared *shared, gboolean busy);
guint braid_mc_server_shared_count_busy (BraidMcServerShared *shared);
void braid_mc_server_shared_add_read (BraidMcServerShared *shared, gsize n);
void braid_mc_server_shared_add_written (BraidMcServerShared *shared, gsize n);
/* A consistent snapshot, every thread summed. */
void braid_mc_server_shared_get_counters (BraidMcServerShared *shared, BraidMcServerCounters *out);
/* "stats reset": total_connections back to the open ones, no rejections. */
void braid_mc_server_shared_reset_counters (BraidMcServerShared *shared);
/* Calls @func on each open connection, in the order they opened, with
 * the list locked (so @func must not open or close connections). */
void braid_mc_server_shared_foreach_connection (BraidMcServerShared *shared,
                                                void (*func) (const BraidMcConnectionInfo *info, gpointer data),
                                                gpointer data);
void braid_mc_connection_info_touch (BraidMcConnectionInfo *info, gint64 now_us);
gint64 braid_mc_connection_info_get_last_cmd (const BraidMcConnectionInfo *info);

gint braid_mc_server_shared_get_verbosity (BraidMcServerShared *shared);
void braid_mc_server_shared_set_verbosity (BraidMcServerShared *shared, gint verbosity);
gboolean braid_mc_server_shared_get_detail_enabled (BraidMcServerShared *shared);
void braid_mc_server_shared_set_detail_enabled (BraidMcServerShared *shared, gboolean enabled);
gsize braid_mc_server_shared_get_limit (BraidMcServerShared *shared);
void braid_mc_server_shared_set_limit (BraidMcServerShared *shared, gsize limit_bytes);

G_END_DECLS
