/* braid — the daemon life cycle: readiness, SIGHUP, graceful SIGTERM,
 * observed through a NOTIFY_SOCKET as systemd would. */
#include "test-support.h"
#include "daemon.h"
#include "daemon-signals.h"

#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

typedef struct {
  GSocket *notify;         /* what systemd would listen on */
  gchar *dir;
  gchar *path;
  gboolean busy;
  guint reloads;
  BraidDaemon *daemon;
} Fixture;

static gchar *
read_notifications (Fixture *f)
{
  GString *all = g_string_new (NULL);
  gchar buf[1024];
  gssize n;

  while ((n = g_socket_receive (f->notify, buf, sizeof buf - 1, NULL, NULL)) > 0)
    {
      buf[n] = '\0';
      g_string_append_printf (all, "%s|", buf);
    }
  return g_string_free (all, FALSE);
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  f->dir = g_dir_make_tmp ("braid-notify-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "notify", NULL);
  address = g_unix_socket_address_new (f->path);
  f->notify = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_bind (f->notify, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (f->notify, FALSE);
  g_setenv ("NOTIFY_SOCKET", f->path, TRUE);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_unsetenv ("NOTIFY_SOCKET");
  g_clear_object (&f->notify);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static gboolean
is_busy (gpointer data)
{
  return ((Fixture *) data)->busy;
}

static gchar *
reload (gpointer data, GError **error)
{
  Fixture *f = data;

  f->reloads++;
  return g_strdup ("log verbosity unchanged");
}

static gboolean
send_signal (gpointer data)
{
  raise (GPOINTER_TO_INT (data));
  return G_SOURCE_REMOVE;
}

static gboolean
finish_work (gpointer data)
{
  Fixture *f = data;

  /* Still running, not yet exited: the request is in flight. */
  f->busy = FALSE;
  return G_SOURCE_REMOVE;
}

static void
test_signals (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = braid_reactor_listen (BRAID_REACTOR (reactor), "tcp:0:interface=127.0.0.1",
                                                            factory, &error);
  g_autofree gchar *notes = NULL;
  gpointer daemon_address;
  gint64 started;

  g_test_summary ("READY=1 on start; SIGHUP reloads; SIGTERM stops listening, waits for in-flight work, "
                  "says STOPPING=1 and returns 0");
  g_assert_no_error (error);
  f->daemon = braid_daemon_new ("test-daemon", BRAID_REACTOR (reactor));
  braid_daemon_add_listener (f->daemon, listener);
  braid_daemon_set_busy_func (f->daemon, is_busy, f);
  braid_daemon_set_reload_func (f->daemon, reload, f);
  f->busy = TRUE;

  g_timeout_add (20, send_signal, GINT_TO_POINTER (SIGHUP));
  g_timeout_add (60, send_signal, GINT_TO_POINTER (SIGTERM));
  g_timeout_add (300, finish_work, f);
  started = g_get_monotonic_time ();
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  /* It waited for the work, and not for the whole grace period. */
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 250 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - started, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (f->reloads, ==, 1);
  g_assert_false (braid_listener_is_listening (listener));

  notes = read_notifications (f);
  g_test_message ("notifications: %s", notes);
  g_assert_nonnull (strstr (notes, "READY=1|"));
  g_assert_nonnull (strstr (notes, "RELOADING=1|"));
  g_assert_nonnull (strstr (notes, "STATUS=Reloaded: log verbosity unchanged|"));
  g_assert_nonnull (strstr (notes, "STOPPING=1"));
  daemon_address = f->daemon;
  g_clear_pointer (&f->daemon, braid_daemon_free);
  /* Nothing of its signals is left on the reactor's context (left
   * attached, the next signal would reach freed memory).  Only the
   * address is compared. */
  g_assert_null (g_main_context_find_source_by_user_data (braid_glib_reactor_get_context (reactor),
                                                          daemon_address));
}

static void
test_grace_period (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  gint64 started;

  g_test_summary ("Work that outlasts the grace period does not keep the daemon alive");
  f->daemon = braid_daemon_new ("test-daemon", BRAID_REACTOR (reactor));
  braid_daemon_set_busy_func (f->daemon, is_busy, f);
  braid_daemon_set_grace_period (f->daemon, 200 * 1000);
  f->busy = TRUE;
  g_timeout_add (20, send_signal, GINT_TO_POINTER (SIGINT));
  started = g_get_monotonic_time ();
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 200 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - started, <, 5 * G_USEC_PER_SEC);
  g_clear_pointer (&f->daemon, braid_daemon_free);
}

static void
test_signal_before_run (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);

  g_test_summary ("A SIGTERM that comes after the daemon is made (its ports may be open) but before it "
                  "runs stops it gracefully as it starts, rather than killing the process");
  f->daemon = braid_daemon_new ("test-daemon", BRAID_REACTOR (reactor));
  raise (SIGTERM);
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_clear_pointer (&f->daemon, braid_daemon_free);
}

/* ---- the signals' own thread (daemon-signals.c) ---- */

typedef struct {
  guint count;
  int signum;
  GThread *thread;
} Received;

static void
on_received (int signum, gpointer data)
{
  Received *r = data;

  r->count++;
  r->signum = signum;
  r->thread = g_thread_self ();
}

/* Raises @signum and iterates @target (this thread's) until it is
 * delivered there: once, in this thread. */
static void
raise_and_deliver (GMainContext *target, Received *r, int signum)
{
  guint before = r->count;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  raise (signum);
  while (r->count == before && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (target, FALSE))
      g_usleep (1000);
  g_assert_cmpuint (r->count, ==, before + 1);
  g_assert_cmpint (r->signum, ==, signum);
  g_assert_true (r->thread == g_thread_self ());
}

static void
test_signals_delivered_in_target (void)
{
  static const int signals[] = { SIGUSR1, SIGUSR2 };
  g_autoptr(GMainContext) target = g_main_context_new ();
  Received r = { 0, };
  BraidDaemonSignals *watch;

  g_test_summary ("A signal reaches its function in the target context's thread, and the target "
                  "context carries no signal source of its own (no cost per iteration)");
  g_main_context_push_thread_default (target);
  watch = braid_daemon_signals_new (signals, G_N_ELEMENTS (signals), target, on_received, &r);
  g_assert_null (g_main_context_find_source_by_funcs_user_data (target, &g_unix_signal_funcs, watch));
  g_assert_null (g_main_context_find_source_by_funcs_user_data (g_main_context_default (), &g_unix_signal_funcs,
                                                                watch));
  raise_and_deliver (target, &r, SIGUSR2);
  raise_and_deliver (target, &r, SIGUSR1);
  /* and again: a watch outlives its first delivery */
  raise_and_deliver (target, &r, SIGUSR2);
  braid_daemon_signals_free (watch);
  g_main_context_pop_thread_default (target);
}

static void
test_signals_free_drops_pending (void)
{
  static const int signals[] = { SIGUSR1 };
  g_autoptr(GMainContext) target = g_main_context_new ();
  Received r = { 0, };
  BraidDaemonSignals *watch;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_test_summary ("A signal already handed to the target but not yet run there is dropped once the "
                  "watch is freed: the function's data may be gone by then");
  g_main_context_push_thread_default (target);
  watch = braid_daemon_signals_new (signals, G_N_ELEMENTS (signals), target, on_received, &r);
  raise (SIGUSR1);
  while (!g_main_context_pending (target) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (g_main_context_pending (target));
  braid_daemon_signals_free (watch);
  while (g_main_context_iteration (target, FALSE))
    ;
  g_assert_cmpuint (r.count, ==, 0);
  g_main_context_pop_thread_default (target);
}

static void
test_signals_new_then_free (void)
{
  static const int signals[] = { SIGUSR1 };
  g_autoptr(GMainContext) target = g_main_context_new ();
  Received r = { 0, };

  struct sigaction now;

  g_test_summary ("A watch freed at once, before its thread got going, stops: no lost wakeup; and it "
                  "lets go of its signals, whose default action is back");
  for (guint i = 0; i < 50; i++)
    braid_daemon_signals_free (braid_daemon_signals_new (signals, 1, target, on_received, &r));
  g_assert_cmpuint (r.count, ==, 0);
  g_assert_cmpint (sigaction (SIGUSR1, NULL, &now), ==, 0);
  g_assert_true (now.sa_handler == SIG_DFL);
}

static void
test_signals_preconditions (void)
{
  static const int signals[] = { SIGUSR1, SIGUSR2, SIGUSR1, SIGUSR2, SIGUSR1, SIGUSR2, SIGUSR1, SIGUSR2, SIGUSR1 };
  g_autoptr(GMainContext) target = g_main_context_new ();
  Received r = { 0, };

  g_test_summary ("No signals, more than eight, no target or no function: a critical and NULL, nothing "
                  "watched; freeing NULL does nothing");
  for (guint i = 0; i < 3; i++)
    g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*signals != NULL*");
  g_assert_null (braid_daemon_signals_new (NULL, 1, target, on_received, &r));
  g_assert_null (braid_daemon_signals_new (signals, 0, target, on_received, &r));
  g_assert_null (braid_daemon_signals_new (signals, G_N_ELEMENTS (signals), target, on_received, &r));
  g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*target != NULL*");
  g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*target != NULL*");
  g_assert_null (braid_daemon_signals_new (signals, 1, NULL, on_received, &r));
  g_assert_null (braid_daemon_signals_new (signals, 1, target, NULL, &r));
  g_test_assert_expected_messages ();
  braid_daemon_signals_free (NULL);
  g_assert_cmpuint (r.count, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/daemon/lifecycle/signals", Fixture, NULL, setup, test_signals, teardown);
  g_test_add ("/daemon/lifecycle/grace-period", Fixture, NULL, setup, test_grace_period, teardown);
  g_test_add ("/daemon/lifecycle/signal-before-run", Fixture, NULL, setup, test_signal_before_run, teardown);
  g_test_add_func ("/daemon/signals/delivered-in-target", test_signals_delivered_in_target);
  g_test_add_func ("/daemon/signals/free-drops-pending", test_signals_free_drops_pending);
  g_test_add_func ("/daemon/signals/new-then-free", test_signals_new_then_free);
  g_test_add_func ("/daemon/signals/preconditions", test_signals_preconditions);
  return g_test_run ();
}
