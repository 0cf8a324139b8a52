/* braid — daemon life cycle. */
#include "daemon.h"
#include "daemon-limits.h"
#include "daemon-signals.h"
#include "log-writer.h"
#include "glib-reactor.h"
#include "reactor-pool.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#define DEFAULT_GRACE_US (10 * G_USEC_PER_SEC)
#define DRAIN_POLL_US (50 * 1000)

struct _BraidDaemon
{
  gchar *name;
  BraidReactor *reactor;             /* (owned) */
  GPtrArray *listeners;              /* (element-type BraidListener) (owned) */
  BraidDaemonBusyFunc busy;
  gpointer busy_data;
  BraidDaemonReloadFunc reload;
  gpointer reload_data;
  gint64 grace_us;
  gint64 stop_started;
  BraidDaemonSignals *signals;       /* (owned) (nullable): while it runs on a real reactor */
  gboolean stopping;
  /* With a service (braid_daemon_new_for_service()): */
  const BraidDaemonService *service_class;
  gpointer service;                  /* (owned) (nullable) */
  gpointer settings;                 /* (owned) (nullable) */
  gchar **argv;                      /* (owned) (nullable): read again on reload */
  BraidReactorPool *pool;            /* (owned) (nullable): with -t above 1 */
};

G_DEFINE_QUARK (braid-daemon-error-quark, braid_daemon_error)

static const int handled_signals[] = { SIGTERM, SIGINT, SIGHUP };

static void
on_signal (int signum, gpointer data)
{
  braid_daemon_handle_signal (data, signum);
}

/* From the start, before anything listens: a SIGTERM that comes as soon
 * as the port answers waits for the loop, then stops it gracefully,
 * instead of killing the process.  Real signals need a real main
 * context: the fake reactor's tests call braid_daemon_handle_signal()
 * instead. */
static void
watch_signals (BraidDaemon *daemon)
{
  if (BRAID_IS_GLIB_REACTOR (daemon->reactor))
    daemon->signals = braid_daemon_signals_new (handled_signals, G_N_ELEMENTS (handled_signals),
                                                braid_glib_reactor_get_context (BRAID_GLIB_REACTOR (daemon->reactor)),
                                                on_signal, daemon);
}

BraidDaemon *
braid_daemon_new (const gchar *name, BraidReactor *reactor)
{
  BraidDaemon *daemon = g_new0 (BraidDaemon, 1);

  daemon->name = g_strdup (name);
  daemon->reactor = g_object_ref (reactor);
  daemon->listeners = g_ptr_array_new_with_free_func (g_object_unref);
  daemon->grace_us = DEFAULT_GRACE_US;
  watch_signals (daemon);
  return daemon;
}

void
braid_daemon_free (BraidDaemon *daemon)
{
  if (daemon == NULL)
    return;
  g_clear_pointer (&daemon->signals, braid_daemon_signals_free);
  for (guint i = 0; i < daemon->listeners->len; i++)
    braid_listener_stop (g_ptr_array_index (daemon->listeners, i));
  g_ptr_array_unref (daemon->listeners);
  /* The threads' connections go before the service they use. */
  g_clear_pointer (&daemon->pool, braid_reactor_pool_free);
  if (daemon->service != NULL)
    daemon->service_class->service_free (daemon->service);
  if (daemon->settings != NULL)
    braid_settings_free (daemon->service_class->settings, daemon->settings);
  g_strfreev (daemon->argv);
  g_object_unref (daemon->reactor);
  g_free (daemon->name);
  g_free (daemon);
}

void
braid_daemon_add_listener (BraidDaemon *daemon, BraidListener *listener)
{
  g_ptr_array_add (daemon->listeners, g_object_ref (listener));
}

void
braid_daemon_set_busy_func (BraidDaemon *daemon, BraidDaemonBusyFunc func, gpointer user_data)
{
  daemon->busy = func;
  daemon->busy_data = user_data;
}

void
braid_daemon_set_reload_func (BraidDaemon *daemon, BraidDaemonReloadFunc func, gpointer user_data)
{
  daemon->reload = func;
  daemon->reload_data = user_data;
}

void
braid_daemon_set_grace_period (BraidDaemon *daemon, gint64 grace_us)
{
  daemon->grace_us = grace_us;
}

void
braid_daemon_notify_status (BraidDaemon *daemon, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *status = NULL;
  g_autofree gchar *message = NULL;

  va_start (args, format);
  status = g_strdup_vprintf (format, args);
  va_end (args);
  message = g_strdup_printf ("STATUS=%s", status);
  sd_notify (0, message);
}

void
braid_daemon_set_verbosity (gint verbosity)
{
  /* G_MESSAGES_DEBUG decides what the default writer shows: add to it,
   * never take away what the user asked for. */
  if (verbosity >= 2)
    g_log_set_debug_enabled (TRUE);
  if (verbosity >= 1)
    {
      const gchar *current = g_getenv ("G_MESSAGES_DEBUG");

      if (current == NULL || *current == '\0')
        g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
    }
}

static gboolean
is_busy (BraidDaemon *daemon)
{
  if (daemon->busy != NULL)
    return daemon->busy (daemon->busy_data);
  for (guint i = 0; i < daemon->listeners->len; i++)
    if (braid_listener_get_n_connections (g_ptr_array_index (daemon->listeners, i)) > 0)
      return TRUE;
  return FALSE;
}

static void
check_drained (gpointer data)
{
  BraidDaemon *daemon = data;
  gint64 waited = braid_reactor_now (daemon->reactor) - daemon->stop_started;

  if (is_busy (daemon) && waited < daemon->grace_us)
    {
      braid_delayed_call_unref (braid_reactor_call_later (daemon->reactor, DRAIN_POLL_US,
                                                          check_drained, daemon, NULL));
      return;
    }
  if (is_busy (daemon))
    g_log (daemon->name, G_LOG_LEVEL_MESSAGE, "%s: grace period of %.1f s over with requests still in flight; exiting",
               daemon->name, (gdouble) daemon->grace_us / G_USEC_PER_SEC);
  else
    g_log (daemon->name, G_LOG_LEVEL_MESSAGE, "%s: all requests finished; exiting", daemon->name);
  braid_reactor_stop (daemon->reactor);
}

void
braid_daemon_stop (BraidDaemon *daemon)
{
  if (daemon->stopping)
    return;
  daemon->stopping = TRUE;
  daemon->stop_started = braid_reactor_now (daemon->reactor);
  sd_notify (0, "STOPPING=1\nSTATUS=Stopping: finishing requests in flight");
  g_log (daemon->name, G_LOG_LEVEL_MESSAGE, "%s: stopping: no new connections, finishing requests in flight", daemon->name);
  for (guint i = 0; i < daemon->listeners->len; i++)
    braid_listener_stop (g_ptr_array_index (daemon->listeners, i));
  if (daemon->service != NULL && daemon->service_class->close_idle != NULL)
    daemon->service_class->close_idle (daemon->service);
  check_drained (daemon);
}

gboolean
braid_daemon_reload (BraidDaemon *daemon)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *summary = NULL;

  if (daemon->reload == NULL)
    {
      g_log (daemon->name, G_LOG_LEVEL_MESSAGE, "%s: SIGHUP: nothing to reload", daemon->name);
      return TRUE;
    }
  sd_notify (0, "RELOADING=1");
  summary = daemon->reload (daemon->reload_data, &error);
  sd_notify (0, "READY=1");
  if (summary == NULL)
    {
      g_log (daemon->name, G_LOG_LEVEL_WARNING, "%s: reload failed, keeping the running configuration: %s", daemon->name, error->message);
      return FALSE;
    }
  g_log (daemon->name, G_LOG_LEVEL_MESSAGE, "%s: reloaded: %s", daemon->name, summary);
  braid_daemon_notify_status (daemon, "Reloaded: %s", summary);
  return TRUE;
}

void
braid_daemon_handle_signal (BraidDaemon *daemon, int signum)
{
  if (signum == SIGHUP)
    braid_daemon_reload (daemon);
  else if (signum == SIGTERM || signum == SIGINT)
    braid_daemon_stop (daemon);
  else
    g_log (daemon->name, G_LOG_LEVEL_WARNING, "%s: signal %d is not handled", daemon->name, signum);
}

int
braid_daemon_run (BraidDaemon *daemon)
{
  sd_notify (0, "READY=1");
  braid_reactor_run (daemon->reactor);
  return BRAID_EXIT_OK;
}

/* ---- daemons built from a BraidDaemonService ---- */

BraidExitCode
braid_daemon_exit_code (const GError *error)
{
  if (error->domain == BRAID_CONFIG_ERROR)
    return BRAID_EXIT_CONFIG;
  if (error->domain == G_OPTION_ERROR)
    return BRAID_EXIT_USAGE;
  if (g_error_matches (error, BRAID_DAEMON_ERROR, BRAID_DAEMON_ERROR_LISTEN))
    return BRAID_EXIT_LISTEN;
  return BRAID_EXIT_FAILURE;
}

static gboolean
service_is_busy (gpointer data)
{
  BraidDaemon *daemon = data;

  return daemon->service_class->is_busy (daemon->service);
}

/* SIGHUP: both sources again, and what can change live. */
static gchar *
service_reload (gpointer data, GError **error)
{
  BraidDaemon *daemon = data;
  const BraidSettingsTable *table = daemon->service_class->settings;
  gpointer fresh = braid_settings_read (table, daemon->argv, error);
  gchar *summary;

  if (fresh == NULL)
    return NULL;
  braid_daemon_set_verbosity ((gint) ((BraidDaemonCommonSettings *) fresh)->verbosity);
  summary = daemon->service_class->apply (daemon->service, fresh);
  braid_settings_free (table, daemon->settings);
  daemon->settings = fresh;
  return summary;
}

static gboolean
listen_all (BraidDaemon *daemon, GError **error)
{
  g_autoptr(BraidProtocolFactory) factory = daemon->service_class->create_factory (daemon->service);
  g_auto(GStrv) endpoints = daemon->service_class->get_endpoints (daemon->settings);
  g_autofree gchar *description = daemon->service_class->describe (daemon->service, daemon->settings);

  for (gchar **e = endpoints; *e != NULL; e++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(BraidListener) listener = braid_reactor_listen (daemon->reactor, *e, factory, &local_error);

      if (listener == NULL)
        {
          g_set_error (error, BRAID_DAEMON_ERROR, BRAID_DAEMON_ERROR_LISTEN, "%s", local_error->message);
          return FALSE;
        }
      if (daemon->pool != NULL && !braid_glib_listener_distribute (listener, daemon->pool))
        g_log (daemon->name, G_LOG_LEVEL_INFO, "%s: connections to %s are served on the main thread", daemon->name, *e);
      braid_daemon_add_listener (daemon, listener);
      g_log (daemon->name, G_LOG_LEVEL_MESSAGE, "%s %s listening on %s (port %u), %s", daemon->name, PACKAGE_VERSION, *e,
                 braid_listener_get_port (listener), description);
    }
  braid_daemon_notify_status (daemon, "Serving on %s, %s", endpoints[0] != NULL ? endpoints[0] : "nothing",
                              description);
  return TRUE;
}

static BraidDaemon *
new_with_settings (const BraidDaemonService *service, BraidReactor *reactor, gchar **argv,
                   gpointer settings, GError **error)
{
  g_autoptr(BraidDaemon) daemon = braid_daemon_new (service->settings->name, reactor);
  const BraidDaemonCommonSettings *common = settings;

  daemon->service_class = service;
  daemon->settings = settings;
  daemon->argv = g_strdupv (argv);
  braid_daemon_set_verbosity ((gint) common->verbosity);
  braid_daemon_set_grace_period (daemon, (gint64) (common->grace_s * G_USEC_PER_SEC));
  daemon->service = service->service_new (reactor, settings, error);
  if (daemon->service != NULL && service->get_threads != NULL && BRAID_IS_GLIB_REACTOR (reactor) &&
      service->get_threads (settings) > 1)
    daemon->pool = braid_reactor_pool_new (service->get_threads (settings), service->settings->name);
  if (daemon->service == NULL || !listen_all (daemon, error))
    return NULL;
  braid_daemon_set_busy_func (daemon, service_is_busy, daemon);
  braid_daemon_set_reload_func (daemon, service_reload, daemon);
  return g_steal_pointer (&daemon);
}

BraidDaemon *
braid_daemon_new_for_service (const BraidDaemonService *service,
                              BraidReactor *reactor,
                              gchar **argv,
                              GError **error)
{
  gpointer settings;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  settings = braid_settings_read (service->settings, argv, error);
  if (settings == NULL)
    return NULL;
  return new_with_settings (service, reactor, argv, settings, error);
}

gpointer
braid_daemon_get_service (BraidDaemon *daemon)
{
  return daemon->service;
}

gconstpointer
braid_daemon_get_settings (BraidDaemon *daemon)
{
  return daemon->settings;
}

BraidListener *
braid_daemon_get_listener (BraidDaemon *daemon, guint index)
{
  return index < daemon->listeners->len ? g_ptr_array_index (daemon->listeners, index) : NULL;
}

/* Before anything is opened and before any thread starts: file
 * descriptors for every connection the settings allow, and a file table
 * that holds them, so the limit is met at start rather than as EMFILE under
 * load, and a connect storm does not wait for the table to grow. */
static gboolean
prepare_process (const BraidDaemonService *service, gconstpointer settings, GError **error)
{
  guint64 connections;
  g_autofree gchar *why = NULL;

  if (service->get_max_connections == NULL)
    return TRUE;
  connections = service->get_max_connections (settings);
  why = g_strdup_printf ("a limit of %" G_GUINT64_FORMAT " connections", connections);
  if (!braid_daemon_ensure_fd_limit (connections + BRAID_DAEMON_FD_HEADROOM, why, error))
    return FALSE;
  braid_daemon_reserve_fd_table (connections + BRAID_DAEMON_FD_HEADROOM);
  return TRUE;
}

int
braid_daemon_main (const BraidDaemonService *service, int argc, char **argv)
{
  const gchar *name = service->settings->name;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidDaemon) daemon = NULL;
  gpointer settings;

  g_set_prgname (name);
  braid_daemon_log_setup ();
  settings = braid_settings_read (service->settings, argv, &error);
  if (settings == NULL)
    {
      g_printerr ("%s: %s\n", name, error->message);
      return braid_daemon_exit_code (error);
    }
  if (((BraidDaemonCommonSettings *) settings)->version)
    {
      g_print ("%s\n", service->version_line);
      braid_settings_free (service->settings, settings);
      return BRAID_EXIT_OK;
    }
  if (!prepare_process (service, settings, &error))
    {
      g_printerr ("%s: %s\n", name, error->message);
      braid_settings_free (service->settings, settings);
      return BRAID_EXIT_FAILURE;
    }
  reactor = braid_glib_reactor_new (NULL);
  braid_daemon_log_batch_in (braid_glib_reactor_get_context (reactor));
  daemon = new_with_settings (service, BRAID_REACTOR (reactor), argv, settings, &error);
  /* Only daemons that have -u switch users (and warn as root without it). */
  if (daemon == NULL ||
      (service->get_user != NULL && !braid_daemon_drop_privileges (service->get_user (settings), &error)))
    {
      g_printerr ("%s: %s\n", name, error->message);
      return braid_daemon_exit_code (error);
    }
  return braid_daemon_run (daemon);
}
