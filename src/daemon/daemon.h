/* braid — what every braid daemon does around its protocol: readiness and
 * status for systemd, SIGTERM/SIGINT graceful shutdown, SIGHUP reload,
 * and log verbosity. */
#pragma once

#include "reactor.h"
#include "daemon-settings.h"

G_BEGIN_DECLS

typedef enum {
  BRAID_EXIT_OK = 0,
  BRAID_EXIT_FAILURE = 1,
  BRAID_EXIT_USAGE = 2,      /* bad command line */
  BRAID_EXIT_CONFIG = 3,     /* bad configuration file */
  BRAID_EXIT_LISTEN = 4,     /* could not listen */
} BraidExitCode;

typedef struct _BraidDaemon BraidDaemon;

/* Errors of braid_daemon_new_for_service() beside BRAID_CONFIG_ERROR
 * (exit 3) and G_OPTION_ERROR (exit 2). */
typedef enum {
  BRAID_DAEMON_ERROR_SERVICE,  /* the service could not be built (exit 1) */
  BRAID_DAEMON_ERROR_LISTEN,   /* an endpoint could not be listened on (exit 4) */
} BraidDaemonError;

#define BRAID_DAEMON_ERROR (braid_daemon_error_quark ())
GQuark braid_daemon_error_quark (void);

/* What a daemon serves, built from its settings.  One of these per daemon
 * (braid-memcached, braid-proxy); everything around it (settings, listen,
 * signals, drain, reload) is shared. */
typedef struct {
  const BraidSettingsTable *settings;
  const gchar *version_line;     /* printed by --version */
  /* (transfer full): the service, or NULL with @error set. */
  gpointer (*service_new) (BraidReactor *reactor, gconstpointer settings, GError **error);
  GDestroyNotify service_free;
  /* (transfer full): the endpoints to listen on. */
  gchar **(*get_endpoints) (gconstpointer settings);
  /* (transfer full) */
  BraidProtocolFactory *(*create_factory) (gpointer service);
  /* TRUE while requests are in flight. */
  gboolean (*is_busy) (gpointer service);
  /* Applies what can change live from freshly read @settings; returns a
   * one-line summary (transfer full). */
  gchar *(*apply) (gpointer service, gconstpointer settings);
  /* One line for the log once listening (transfer full). */
  gchar *(*describe) (gpointer service, gconstpointer settings);
  /* (nullable): the most connections the settings allow, for the file
   * descriptor limit. */
  guint64 (*get_max_connections) (gconstpointer settings);
  /* (nullable): the user to become after listening (-u), or NULL. */
  const gchar *(*get_user) (gconstpointer settings);
  /* (nullable): how many reactor threads serve connections; above 1 (on
   * the GLib reactor) the daemon's listeners hand each connection to one
   * of that many threads, and the service's protocols must share only
   * thread-safe state.  NULL: 1, the daemon's own reactor. */
  guint (*get_threads) (gconstpointer settings);
  /* (nullable): a graceful stop began (listeners stopped): close the
   * connections that have no request in flight, so that only those with
   * one hold off the exit, for at most the grace period. */
  void (*close_idle) (gpointer service);
} BraidDaemonService;

/* Returns TRUE while requests are still in flight. */
typedef gboolean (*BraidDaemonBusyFunc) (gpointer user_data);
/* Re-reads what can change at run time; returns a one-line summary of
 * what it did (transfer full), or NULL with @error set. */
typedef gchar *(*BraidDaemonReloadFunc) (gpointer user_data, GError **error);

BraidDaemon *braid_daemon_new (const gchar *name, BraidReactor *reactor);
void braid_daemon_free (BraidDaemon *daemon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidDaemon, braid_daemon_free)

/* Reads the settings from @argv (and the file it names), builds the
 * service and listens on its endpoints; SIGHUP (braid_daemon_reload())
 * reads both sources again and applies the result.  Errors in
 * BRAID_CONFIG_ERROR, G_OPTION_ERROR or BRAID_DAEMON_ERROR. */
BraidDaemon *braid_daemon_new_for_service (const BraidDaemonService *service,
                                           BraidReactor *reactor,
                                           gchar **argv,
                                           GError **error);
/* (transfer none) */
gpointer braid_daemon_get_service (BraidDaemon *daemon);
/* (transfer none): the settings in force (replaced by each reload). */
gconstpointer braid_daemon_get_settings (BraidDaemon *daemon);
/* (transfer none) (nullable) */
BraidListener *braid_daemon_get_listener (BraidDaemon *daemon, guint index);

/* The exit status for an error of braid_daemon_new_for_service(). */
BraidExitCode braid_daemon_exit_code (const GError *error);

/* The whole of a daemon's main(): settings, --version, a GLib reactor,
 * the service, and run.  Messages go to stderr as "NAME: …". */
int braid_daemon_main (const BraidDaemonService *service, int argc, char **argv);

/* Listeners to stop when shutting down (a new reference is kept). */
void braid_daemon_add_listener (BraidDaemon *daemon, BraidListener *listener);
void braid_daemon_set_busy_func (BraidDaemon *daemon, BraidDaemonBusyFunc func, gpointer user_data);
void braid_daemon_set_reload_func (BraidDaemon *daemon, BraidDaemonReloadFunc func, gpointer user_data);
/* How long in-flight requests may take after SIGTERM (default 10 s). */
void braid_daemon_set_grace_period (BraidDaemon *daemon, gint64 grace_us);

/* Tells systemd (when NOTIFY_SOCKET is set) READY=1 and runs the reactor
 * (braid_reactor_run()) until a stop has finished draining.  On a GLib
 * reactor SIGTERM, SIGINT and SIGHUP are watched from braid_daemon_new()
 * on, off the reactor's loop (daemon-signals.h), and handled on its
 * context (braid_daemon_handle_signal()): one that comes before the
 * daemon runs is handled as it starts.  Returns BRAID_EXIT_OK. */
int braid_daemon_run (BraidDaemon *daemon);
/* What a signal does: SIGTERM and SIGINT stop, SIGHUP reloads.  Tests
 * call this instead of raising signals. */
void braid_daemon_handle_signal (BraidDaemon *daemon, int signum);
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
