/* braid — what every braid daemon does around its protocol: readiness and
 * status for systemd, SIGTERM/SIGINT graceful shutdown, SIGHUP reload,
 * and log verbosity. */
#pragma once

#include "reactor.h"

G_BEGIN_DECLS

typedef enum {
  BRAID_EXIT_OK = 0,
  BRAID_EXIT_FAILURE = 1,
  BRAID_EXIT_USAGE = 2,      /* bad command line */
  BRAID_EXIT_CONFIG = 3,     /* bad configuration file */
  BRAID_EXIT_LISTEN = 4,     /* could not listen */
} BraidExitCode;

typedef struct _BraidDaemon BraidDaemon;

/* Returns TRUE while requests are still in flight. */
typedef gboolean (*BraidDaemonBusyFunc) (gpointer user_data);
/* Re-reads what can change at run time; returns a one-line summary of
 * what it did (transfer full), or NULL with @error set. */
typedef gchar *(*BraidDaemonReloadFunc) (gpointer user_data, GError **error);

BraidDaemon *braid_daemon_new (const gchar *name, BraidReactor *reactor);
void braid_daemon_free (BraidDaemon *daemon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidDaemon, braid_daemon_free)

/* Listeners to stop when shutting down (a new reference is kept). */
void braid_daemon_add_listener (BraidDaemon *daemon, BraidListener *listener);
void braid_daemon_set_busy_func (BraidDaemon *daemon, BraidDaemonBusyFunc func, gpointer user_data);
void braid_daemon_set_reload_func (BraidDaemon *daemon, BraidDaemonReloadFunc func, gpointer user_data);
/* How long in-flight requests may take after SIGTERM (default 10 s). */
void braid_daemon_set_grace_period (BraidDaemon *daemon, gint64 grace_us);

/* Tells systemd (when NOTIFY_SOCKET is set) READY=1 and runs the main loop
 * until a stop signal has been handled.  Returns BRAID_EXIT_OK. */
int braid_daemon_run (BraidDaemon *daemon);
/* Begins a graceful stop, as SIGTERM does. */
void braid_daemon_stop (BraidDaemon *daemon);
/* Runs the reload, as SIGHUP does; returns whether it succeeded. */
gboolean braid_daemon_reload (BraidDaemon *daemon);

/* STATUS= for systemctl status. */
void braid_daemon_notify_status (BraidDaemon *daemon, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

/* Log verbosity: 0 = messages and above, 1 (-v) = info, 2 (-vv) = debug.
 * G_MESSAGES_DEBUG keeps working on top. */
void braid_daemon_set_verbosity (gint verbosity);

G_END_DECLS
