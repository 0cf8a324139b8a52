/* braid — braid-memcached: the server shared by all its connections. */
#pragma once

#include "reactor.h"
#include "mc-store.h"
#include "braid-version.h"

G_BEGIN_DECLS

typedef struct {
  BraidMcStoreSettings store;
  guint max_connections;       /* -c */
  gboolean debugtime;          /* accept "debugtime N" */
  gboolean flush_enabled;      /* FALSE with -F */
  gsize output_limit;          /* pause a connection's reading above this */
  gint verbosity;              /* -v */
  guint threads;               /* -t: reported, not used */
} BraidMcServerSettings;

#define BRAID_MC_SERVER_SETTINGS_INIT \
  { BRAID_MC_STORE_SETTINGS_INIT, 1024, FALSE, TRUE, 1024 * 1024, 0, 4 }

#define BRAID_MC_VERSION_STRING "1.6.18-braid-" BRAID_VERSION

#define BRAID_TYPE_MC_SERVER (braid_mc_server_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcServer, braid_mc_server, BRAID, MC_SERVER, GObject)

BraidMcServer *braid_mc_server_new (BraidReactor *reactor, const BraidMcServerSettings *settings);
/* (transfer full): builds one BraidMcServerProtocol per connection. */
BraidProtocolFactory *braid_mc_server_create_factory (BraidMcServer *self);
BraidMcStore *braid_mc_server_get_store (BraidMcServer *self);
BraidReactor *braid_mc_server_get_reactor (BraidMcServer *self);
const BraidMcServerSettings *braid_mc_server_get_settings (BraidMcServer *self);
BraidMcServerSettings *braid_mc_server_get_settings_mutable (BraidMcServer *self);

/* Connection accounting (for stats and -c). */
typedef struct {
  guint curr_connections;
  guint64 total_connections;
  guint64 rejected_connections;
  guint64 bytes_read;
  guint64 bytes_written;
  guint busy_connections;      /* with a command half-received or output pending */
  gint64 started_us;
} BraidMcServerCounters;

BraidMcServerCounters *braid_mc_server_get_counters (BraidMcServer *self);

/* Live connections, for graceful shutdown: TRUE while any connection has a
 * command half-received or replies not yet sent. */
void braid_mc_server_add_connection (BraidMcServer *self, gpointer protocol);
void braid_mc_server_remove_connection (BraidMcServer *self, gpointer protocol);
gboolean braid_mc_server_is_busy (BraidMcServer *self);

/* Writes the reply to "stats [@arg]" into @out; FALSE for an unknown
 * sub-command. */
gboolean braid_mc_server_write_stats (BraidMcServer *self, const gchar *arg, GString *out);

G_END_DECLS
