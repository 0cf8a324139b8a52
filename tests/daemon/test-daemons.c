/* braid — the daemons as systemd runs them: socket activation through
 * systemd-socket-activate, configuration errors, SIGHUP reload. */
#include "test-support.h"

#include <glib/gstdio.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <signal.h>
#include <string.h>

static gchar *
talk (guint16 port, const gchar *request, const gchar *terminator)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) reply = g_string_new (NULL);
  gchar buf[4096];

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), request, strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  while (!g_str_has_suffix (reply->str, terminator))
    {
      gssize n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      if (n <= 0)
        break;
      g_string_append_len (reply, buf, n);
    }
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

static void
stop (GSubprocess *p)
{
  g_subprocess_send_signal (p, SIGTERM);
  g_subprocess_wait (p, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
}

/* Fails the test when @needle is not in @text, after killing @p: a server
 * left running would hold meson's output pipe until its timeout.
 * force_exit() signals from GLib's worker thread, hence the wait. */
static void
expect_or_kill (GSubprocess *p, const gchar *text, const gchar *needle)
{
  if (strstr (text, needle) != NULL)
    return;
  g_subprocess_force_exit (p);
  g_subprocess_wait (p, NULL, NULL);
  g_error ("expected “%s” in “%s”", needle, text);
}

static void
test_socket_activation (void)
{
  g_autofree gchar *activate = g_find_program_in_path ("systemd-socket-activate");
  g_autofree gchar *mc = braid_test_build_path ("src/daemon/braid-memcached");
  g_autofree gchar *proxy = braid_test_build_path ("src/daemon/braid-proxy");
  guint16 mc_port = braid_test_find_free_port ();
  guint16 proxy_port = braid_test_find_free_port ();
  g_autofree gchar *mc_listen = g_strdup_printf ("127.0.0.1:%u", mc_port);
  g_autofree gchar *proxy_listen = g_strdup_printf ("127.0.0.1:%u", proxy_port);
  g_autofree gchar *servers = g_strdup_printf ("127.0.0.1:%u", mc_port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) a = NULL;
  g_autoptr(GSubprocess) b = NULL;
  g_autofree gchar *version = NULL;
  g_autofree gchar *body = NULL;

  g_test_summary ("Both daemons start under systemd-socket-activate and serve on the sockets it passes "
                  "(systemd:name=… endpoints, LISTEN_FDNAMES)");
  if (activate == NULL)
    {
      g_test_skip ("systemd-socket-activate is not installed (apt-get install systemd)");
      return;
    }
  a = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, activate, "-l", mc_listen,
                        "--fdname=braid-memcached", mc, "--config", "/dev/null",
                        "--listen", "systemd:name=braid-memcached", NULL);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (mc_port, 10000));
  version = talk (mc_port, "version\r\n", "\r\n");
  g_assert_true (g_str_has_prefix (version, "VERSION 1.6.18-braid"));

  b = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, activate, "-l", proxy_listen,
                        "--fdname=braid-proxy", proxy, "--config", "/dev/null",
                        "--listen", "systemd:0", "--memcached", servers, NULL);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (proxy_port, 10000));
  /* no upstream reachable here: a bad request is enough to prove it is the proxy answering */
  body = talk (proxy_port, "ftp://nowhere\n", "\x01");
  g_assert_cmpstr (body, ==, "");
  stop (b);
  stop (a);
}

static void
run_expect_failure (const gchar *program, const gchar *config_text, gint expected_status, const gchar *message_part)
{
  g_autofree gchar *path = braid_test_build_path (program);
  g_autofree gchar *dir = g_dir_make_tmp ("braid-conf-XXXXXX", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "bad.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = NULL;
  g_autofree gchar *err = NULL;

  g_file_set_contents (conf, config_text, -1, &error);
  g_assert_no_error (error);
  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, path, "--config", conf, "-p", "0", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_test_message ("%s: %s", program, err);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, expected_status);
  if (strstr (err, message_part) == NULL)
    g_error ("expected a message containing “%s” but saw “%s”", message_part, err);
  g_unlink (conf);
  g_rmdir (dir);
}

static void
test_config_errors (void)
{
  g_test_summary ("A bad configuration file stops a daemon before it starts: exit status 3 and a message with file and line");
  run_expect_failure ("src/daemon/braid-memcached", "[Server]\nPort = 11211\nPrt = 1\n", 3, "bad.conf:3: unknown key");
  run_expect_failure ("src/daemon/braid-memcached", "[Cache]\n\nMemoryMiB = lots\n", 3, "bad.conf:3: [Cache] MemoryMiB = lots: not a whole number");
  run_expect_failure ("src/daemon/braid-proxy", "[Cache]\nTTLSeconds = 0\n", 3, "bad.conf:2: [Cache] TTLSeconds = 0");
  run_expect_failure ("src/daemon/braid-proxy", "[Nope]\n", 3, "bad.conf:1: unknown group [Nope]");
  run_expect_failure ("src/daemon/braid-memcached", "[Cache]\nMaxItemSize = 0\n", 3, "bad.conf:2: [Cache] MaxItemSize = 0");
  run_expect_failure ("src/daemon/braid-memcached", "[Server]\nListen = nope:1\n", 3, "bad.conf:2: [Server] Listen = nope:1");
  run_expect_failure ("src/daemon/braid-memcached", "[]]\n", 3, "bad.conf:1: a group header");
  run_expect_failure ("src/daemon/braid-proxy", "[Cache]\nTTLSeconds = 5\nTTLSeconds = 6\n", 3, "in [Cache] already set at line 2");
}

static void
run_expect_usage (const gchar *program, const gchar *option, const gchar *value, const gchar *message_part)
{
  g_autofree gchar *path = braid_test_build_path (program);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = NULL;
  g_autofree gchar *err = NULL;

  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, path, "--config", "/dev/null", option, value, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_test_message ("%s %s %s: %s", program, option, value, err);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 2);
  if (strstr (err, message_part) == NULL)
    g_error ("expected a message containing “%s” but saw “%s”", message_part, err);
}

static void
test_usage_errors (void)
{
  g_test_summary ("A command-line value out of range stops a daemon before it starts: exit status 2 and a "
                  "message naming the option and its range");
  g_test_bug ("11");
  run_expect_usage ("src/daemon/braid-memcached", "-m", "17592186044416",
                    "braid-memcached: --memory-limit (-m) 17592186044416: must be from 1 to 1048576");
  run_expect_usage ("src/daemon/braid-memcached", "-c", "4294967296", "--conn-limit (-c) 4294967296: must be from 1 to 1000000");
  run_expect_usage ("src/daemon/braid-memcached", "--grace-period", "-5", "--grace-period -5: expected a number from 0 to 3600");
  run_expect_usage ("src/daemon/braid-proxy", "--max-body", "0", "braid-proxy: --max-body 0: must be from 1 to 1048576");
}

static void
test_sighup_reload (void)
{
  g_autofree gchar *mc = braid_test_build_path ("src/daemon/braid-memcached");
  g_autofree gchar *dir = g_dir_make_tmp ("braid-conf-XXXXXX", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "mc.conf", NULL);
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *port_s = g_strdup_printf ("%u", port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = NULL;
  g_autofree gchar *before = NULL;
  g_autofree gchar *after = NULL;

  g_test_summary ("SIGHUP re-reads the configuration file and applies the new memory limit");
  g_file_set_contents (conf, "[Cache]\nMemoryMiB = 32\n", -1, &error);
  g_assert_no_error (error);
  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, mc, "--config", conf, "-p", port_s, "-l", "127.0.0.1", NULL);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (port, 10000));
  before = talk (port, "stats settings\r\n", "END\r\n");
  expect_or_kill (p, before, "STAT maxbytes 33554432\r\n");
  g_file_set_contents (conf, "[Cache]\nMemoryMiB = 128\n", -1, &error);
  g_subprocess_send_signal (p, SIGHUP);
  for (guint i = 0; i < 100; i++)
    {
      g_clear_pointer (&after, g_free);
      after = talk (port, "stats settings\r\n", "END\r\n");
      if (strstr (after, "STAT maxbytes 134217728\r\n") != NULL)
        break;
      g_usleep (20000);
    }
  expect_or_kill (p, after, "STAT maxbytes 134217728\r\n");
  stop (p);
  g_unlink (conf);
  g_rmdir (dir);
}

/* A line of /proc/PID/status or /proc/PID/limits that starts with @prefix. */
static gchar *
proc_line (GSubprocess *p, const gchar *file, const gchar *prefix)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/%s", g_subprocess_get_identifier (p), file);
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strdup (lines[i]);
  g_error ("no “%s” in %s", prefix, path);
}

static GSubprocess *
start_memcached (guint16 port, GSubprocessLauncher *launcher, const gchar *extra1, const gchar *extra2,
                 GError **error)
{
  g_autofree gchar *mc = braid_test_build_path ("src/daemon/braid-memcached");
  g_autofree gchar *port_arg = g_strdup_printf ("%u", port);
  const gchar *argv[] = { mc, "-p", port_arg, "-l", "127.0.0.1", "--config", "/dev/null", extra1, extra2, NULL };

  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

static void
test_user_switch (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *uid = NULL;
  g_autofree gchar *version = NULL;
  guint16 port = braid_test_find_free_port ();
  struct passwd *nobody = getpwnam ("nobody");

  g_test_summary ("As root, -u USER makes braid-memcached that user once it listens; an unknown user "
                  "is an error at start");
  g_test_bug ("11");
  if (geteuid () != 0 || nobody == NULL)
    {
      g_test_skip ("needs root and a “nobody” user");
      return;
    }
  p = start_memcached (port, launcher, "-u", "nobody", &error);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (port, 10000));
  version = talk (port, "version\r\n", "\r\n");
  g_assert_true (g_str_has_prefix (version, "VERSION "));
  uid = proc_line (p, "status", "Uid:");
  {
    g_autofree gchar *expected = g_strdup_printf ("Uid:\t%u\t%u\t%u\t%u", nobody->pw_uid, nobody->pw_uid,
                                                  nobody->pw_uid, nobody->pw_uid);

    g_assert_cmpstr (uid, ==, expected);
  }
  stop (p);
  g_clear_object (&p);

  p = start_memcached (braid_test_find_free_port (), launcher, "-u", "no-such-user-braid", &error);
  g_assert_no_error (error);
  g_subprocess_wait (p, NULL, NULL);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
}

static void
test_shutdown_command (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *refused = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  gchar buf[64];
  guint16 port = braid_test_find_free_port ();

  g_test_summary ("With -A, memcached's “shutdown” stops braid-memcached as SIGTERM does (exit 0); without "
                  "it the command is refused and the server goes on");
  p = start_memcached (port, launcher, "--grace-period", "0", &error);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (port, 10000));
  refused = talk (port, "shutdown\r\n", "\r\n");
  g_assert_cmpstr (refused, ==, "ERROR: shutdown not enabled\r\n");
  stop (p);
  g_clear_object (&p);

  port = braid_test_find_free_port ();
  p = start_memcached (port, launcher, "-A", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (port, 10000));
  /* No reply is read before the server exits: one that ignored the
   * command would keep the connection open. */
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), "shutdown\r\n", 10, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  /* GSubprocess reaps the child in GLib's worker thread: no main loop
   * needed, and a server that ignored the command fails here, not at the
   * suite's timeout. */
  for (guint i = 0; i < 500 && g_subprocess_get_identifier (p) != NULL; i++)
    g_usleep (10 * 1000);
  if (g_subprocess_get_identifier (p) != NULL)
    {
      /* force_exit() signals from GLib's worker thread: wait for it
       * before aborting, or the server outlives the test. */
      g_subprocess_force_exit (p);
      g_subprocess_wait (p, NULL, NULL);
      g_error ("braid-memcached -A is still running 5 s after “shutdown”");
    }
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
  /* It said nothing and closed the connection. */
  g_assert_cmpint (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL,
                                        &error), ==, 0);
  g_assert_no_error (error);
}

static void
lower_fd_limit (gpointer data)
{
  struct rlimit limit = { 64, 64 };

  setrlimit (RLIMIT_NOFILE, &limit);
}

static void
test_fd_limit (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = braid_test_find_free_port ();

  g_test_summary ("Started with 64 file descriptors and -c 1000, braid-memcached raises its limit to fit "
                  "(root may) or refuses to start naming the limit, rather than meet EMFILE under load");
  g_test_bug ("11");
  g_subprocess_launcher_set_child_setup (launcher, lower_fd_limit, NULL, NULL);
  p = start_memcached (port, launcher, "-c", "1000", &error);
  g_assert_no_error (error);
  /* Whether root may raise its hard limit depends on CAP_SYS_RESOURCE
   * (not in every container): either outcome is right, nothing else. */
  while (!braid_test_wait_for_port (port, 100) && g_subprocess_get_identifier (p) != NULL)
    ;
  if (g_subprocess_get_identifier (p) != NULL)
    {
      g_autofree gchar *line = proc_line (p, "limits", "Max open files");
      guint64 soft = g_ascii_strtoull (line + strlen ("Max open files"), NULL, 10);

      g_test_message ("raised: %s", line);
      g_assert_cmpuint (soft, >=, 1000 + 16);
      stop (p);
    }
  else
    {
      g_autofree gchar *err = NULL;

      g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err, &error);
      g_assert_no_error (error);
      g_test_message ("refused: %s", err);
      g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
      g_assert_nonnull (strstr (err, "needs 1016 file descriptors but the limit is 64"));
    }
}

static void
test_fd_table_reserved (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;
  guint16 port = braid_test_find_free_port ();
  struct rlimit limit;
  guint64 connections = 3000;
  g_autofree gchar *connections_arg = NULL;

  g_test_summary ("braid-memcached -c 3000 starts with a file table that holds 3000 connections, so that a "
                  "connect storm to it never waits for the kernel to grow the table of a threaded process");
  /* within this machine's hard limit, so that it starts as any user */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < connections + 16)
    connections = limit.rlim_max - 16;
  g_assert_cmpuint (connections, >, 500);
  connections_arg = g_strdup_printf ("%" G_GUINT64_FORMAT, connections);
  p = start_memcached (port, launcher, "-c", connections_arg, &error);
  g_assert_no_error (error);
  g_assert_true (braid_test_wait_for_port (port, 5000));
  line = proc_line (p, "status", "FDSize:");
  g_test_message ("-c %s: %s", connections_arg, line);
  g_assert_cmpuint (g_ascii_strtoull (line + strlen ("FDSize:"), NULL, 10), >=, connections + 16);
  stop (p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("https://example.invalid/braid/issues/");
  g_test_add_func ("/daemon/socket-activation", test_socket_activation);
  g_test_add_func ("/daemon/config-errors", test_config_errors);
  g_test_add_func ("/daemon/usage-errors", test_usage_errors);
  g_test_add_func ("/daemon/sighup-reload", test_sighup_reload);
  g_test_add_func ("/daemon/user-switch", test_user_switch);
  g_test_add_func ("/daemon/fd-limit", test_fd_limit);
  g_test_add_func ("/daemon/fd-table-reserved", test_fd_table_reserved);
  g_test_add_func ("/daemon/shutdown-command", test_shutdown_command);
  return g_test_run ();
}
