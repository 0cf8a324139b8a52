/* braid — what braid-memcached is configured with (memcached's options). */
#pragma once

#include "mc-store.h"
#include "braid-version.h"

G_BEGIN_DECLS

/* What "version" answers: memcached's version, then braid's. */
#define BRAID_MC_VERSION_STRING "1.6.18-braid-" BRAID_VERSION

typedef struct {
  BraidMcStoreSettings store;
  guint max_connections;       /* -c */
  gboolean debugtime;          /* accept "debugtime N" */
  gboolean flush_enabled;      /* FALSE with -F */
  gsize output_limit;          /* pause a connection's reading above this */
  gint verbosity;              /* -v */
  guint threads;               /* -t: the daemon's reactor threads, as stats shows them */
  gboolean detail_enabled;     /* "stats detail on|off" */
  /* (nullable): what "shutdown" calls (-A, --enable-shutdown); NULL
   * answers "ERROR: shutdown not enabled", as memcached without -A.  Set
   * by whoever runs the server (the daemon stops gracefully), so a
   * connection never reaches back into it. */
  void (*shutdown_func) (gpointer shutdown_data);
  gpointer shutdown_data;
  /* TRUE, as memcached: a get with a key too long, or a close for bad
   * input, drops the replies not yet written (which ones depends on how
   * the client's bytes arrived).  FALSE keeps them, so that the answers
   * never depend on the reads: for a client that pipelines carelessly,
   * and for checks that a stream split anywhere is answered the same. */
  gboolean take_back_unwritten;
  guint tcp_backlog;           /* -b, as "stats settings" shows it; 0: 1024 */
  /* What "stats settings" reports of TLS (-Z, -o ssl_chain_cert=FILE,
   * ssl_key=FILE) as memcached 1.6 built with TLS does.  The listeners
   * are set up by whoever runs the server; the server copies the
   * strings.  (nullable) */
  gboolean ssl_enabled;
  const gchar *ssl_chain_cert;
  const gchar *ssl_key;
  /* (nullable): the TLS handshakes that failed so far, for "stats"
   * ssl_handshake_errors (the listeners count them, not the server). */
  guint64 (*ssl_handshake_errors_func) (gpointer ssl_handshake_errors_data);
  gpointer ssl_handshake_errors_data;
} BraidMcServerSettings;

#define BRAID_MC_SERVER_SETTINGS_INIT \
  { BRAID_MC_STORE_SETTINGS_INIT, 1024, FALSE, TRUE, 1024 * 1024, 0, 4, FALSE, NULL, NULL, TRUE, 0, FALSE, NULL, NULL, NULL, NULL }

G_END_DECLS
