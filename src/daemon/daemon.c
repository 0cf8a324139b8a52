/* braid — daemon life cycle. */
#include "daemon.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
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
  GMainLoop *loop;                   /* (owned) */
  guint signal_ids[3];
  gboolean stopping;
};

BraidDaemon *
braid_daemon_new (const gchar *name, BraidReactor *reactor)
{
  BraidDaemon *daemon = g_new0 (BraidDaemon, 1);

  daemon->name = g_strdup (name);
  daemon->reactor = g_object_ref (reactor);
  daemon->listeners = g_ptr_array_new_with_free_func (g_object_unref);
  daemon->grace_us = DEFAULT_GRACE_US;
  daemon->loop = g_main_loop_new (NULL, FALSE);
  return daemon;
}

void
braid_daemon_free (BraidDaemon *daemon)
{
  if (daemon == NULL)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (daemon->signal_ids); i++)
    if (daemon->signal_ids[i] != 0)
      g_source_remove (daemon->signal_ids[i]);
  g_ptr_array_unref (daemon->listeners);
  g_main_loop_unref (daemon->loop);
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
    g_message ("%s: grace period of %.1f s over with requests still in flight; exiting",
               daemon->name, (gdouble) daemon->grace_us / G_USEC_PER_SEC);
  else
    g_message ("%s: all requests finished; exiting", daemon->name);
  g_main_loop_quit (daemon->loop);
}

void
braid_daemon_stop (BraidDaemon *daemon)
{
  if (daemon->stopping)
    return;
  daemon->stopping = TRUE;
  daemon->stop_started = braid_reactor_now (daemon->reactor);
  sd_notify (0, "STOPPING=1\nSTATUS=Stopping: finishing requests in flight");
  g_message ("%s: stopping: no new connections, finishing requests in flight", daemon->name);
  for (guint i = 0; i < daemon->listeners->len; i++)
    braid_listener_stop (g_ptr_array_index (daemon->listeners, i));
  check_drained (daemon);
}

gboolean
braid_daemon_reload (BraidDaemon *daemon)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *summary = NULL;

  if (daemon->reload == NULL)
    {
      g_message ("%s: SIGHUP: nothing to reload", daemon->name);
      return TRUE;
    }
  sd_notify (0, "RELOADING=1");
  summary = daemon->reload (daemon->reload_data, &error);
  sd_notify (0, "READY=1");
  if (summary == NULL)
    {
      g_warning ("%s: reload failed, keeping the running configuration: %s", daemon->name, error->message);
      return FALSE;
    }
  g_message ("%s: reloaded: %s", daemon->name, summary);
  braid_daemon_notify_status (daemon, "Reloaded: %s", summary);
  return TRUE;
}

static gboolean
on_stop_signal (gpointer data)
{
  braid_daemon_stop (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_hup (gpointer data)
{
  braid_daemon_reload (data);
  return G_SOURCE_CONTINUE;
}

int
braid_daemon_run (BraidDaemon *daemon)
{
  daemon->signal_ids[0] = g_unix_signal_add (SIGTERM, on_stop_signal, daemon);
  daemon->signal_ids[1] = g_unix_signal_add (SIGINT, on_stop_signal, daemon);
  daemon->signal_ids[2] = g_unix_signal_add (SIGHUP, on_hup, daemon);
  sd_notify (0, "READY=1");
  g_main_loop_run (daemon->loop);
  return BRAID_EXIT_OK;
}
