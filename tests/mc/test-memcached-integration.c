/* braid — braid-memcached as a real process over real sockets: memccapable,
 * the recorded fixtures (true against Debian's memcached), black-box
 * expiry with debugtime, graceful SIGTERM. */
#include "test-support.h"
#include "fixture.h"
#include "replay.h"

#include <signal.h>
#include <sys/types.h>
#include <string.h>

typedef struct {
  GSubprocess *process;
  guint16 port;
} Server;

static void
server_start (Server *s, const gchar *extra)
{
  const gchar *args[] = { extra, NULL };

  s->process = braid_test_start_memcached (&s->port, args);
}

static void
server_stop (Server *s)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (s->process, SIGTERM);
  g_subprocess_wait (s->process, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (s->process));
  g_assert_cmpint (g_subprocess_get_exit_status (s->process), ==, 0);
  g_clear_object (&s->process);
}

static void
test_memccapable (void)
{
  g_autofree gchar *tool = g_find_program_in_path ("memccapable");
  g_autofree gchar *port = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) run = NULL;
  g_autofree gchar *out = NULL;
  Server s;
  guint passed = 0;

  g_test_summary ("libmemcached's memccapable -a passes all 27 ASCII protocol tests against braid-memcached");
  if (tool == NULL)
    {
      g_test_skip ("memccapable is not installed (apt-get install libmemcached-tools)");
      return;
    }
  server_start (&s, NULL);
  port = g_strdup_printf ("%u", s.port);
  run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                          tool, "-a", "-h", "127.0.0.1", "-p", port, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (run, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s", out);
  for (const gchar *p = out; (p = strstr (p, "[pass]")) != NULL; p++)
    passed++;
  g_assert_cmpuint (passed, ==, 27);
  g_assert_null (strstr (out, "[FAIL]"));
  g_assert_nonnull (strstr (out, "All tests passed"));
  g_assert_cmpint (g_subprocess_get_exit_status (run), ==, 0);
  server_stop (&s);
}

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
test_fixtures_live (void)
{
  g_autofree gchar *dir = g_test_build_filename (G_TEST_DIST, "..", "fixtures", "memcached", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  g_test_summary ("The sessions third-party clients had with Debian's memcached get the same bytes "
                  "from braid-memcached over real sockets (cas, stats values and versions excepted by the fixtures' rules)");
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".fixture"))
      g_ptr_array_add (paths, g_build_filename (dir, name, NULL));
  g_ptr_array_sort (paths, compare_paths);
  g_assert_cmpuint (paths->len, >=, 20);
  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidFixture) fixture = braid_fixture_load (g_ptr_array_index (paths, i), &error);
      BraidReplayOptions options = BRAID_REPLAY_OPTIONS_INIT;
      g_autofree gchar *endpoint = NULL;
      Server s;

      g_assert_no_error (error);
      g_test_message ("replaying %s", fixture->name);
      server_start (&s, NULL);
      endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", s.port);
      options.reply_timeout_us = 5 * G_USEC_PER_SEC;
      braid_replay_run_live (fixture, endpoint, &options, &error);
      server_stop (&s);
      g_assert_no_error (error);
    }
}

static gchar *
exchange (GSocketConnection *conn, const gchar *request, const gchar *terminator)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr(GString) reply = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  gchar buf[4096];

  if (request != NULL)
    {
      g_output_stream_write_all (out, request, strlen (request), NULL, NULL, &error);
      g_assert_no_error (error);
    }
  while (!g_str_has_suffix (reply->str, terminator))
    {
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      g_string_append_len (reply, buf, n);
    }
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

static GSocketConnection *
connect_to (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);

  g_assert_no_error (error);
  return conn;
}

static void
test_debugtime_black_box (void)
{
  Server s;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autofree gchar *r1 = NULL;
  g_autofree gchar *r2 = NULL;

  g_test_summary ("With --enable-debugtime a test in any language checks expiry without sleeping; off by default");
  server_start (&s, "--enable-debugtime");
  conn = connect_to (s.port);
  r1 = exchange (conn, "set k 0 3600 1\r\nx\r\ndebugtime 3599\r\nget k\r\n", "END\r\n");
  g_assert_cmpstr (r1, ==, "STORED\r\nOK\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
  r2 = exchange (conn, "debugtime 1\r\nget k\r\n", "END\r\n");
  g_assert_cmpstr (r2, ==, "OK\r\nEND\r\n");
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  server_stop (&s);

  server_start (&s, NULL);
  g_clear_object (&conn);
  conn = connect_to (s.port);
  g_clear_pointer (&r1, g_free);
  r1 = exchange (conn, "debugtime 10\r\n", "\r\n");
  g_assert_cmpstr (r1, ==, "ERROR\r\n");
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  server_stop (&s);
}

static void
test_graceful_sigterm (void)
{
  Server s;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GSocketConnection) idle = NULL;
  g_autofree gchar *reply = NULL;
  GOutputStream *out;
  g_autoptr(GError) error = NULL;

  g_test_summary ("SIGTERM: a request in flight completes, new connections are refused, the daemon exits 0");
  server_start (&s, NULL);
  idle = connect_to (s.port);
  conn = connect_to (s.port);
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_output_stream_write_all (out, "set k 0 0 5\r\nab", 15, NULL, NULL, &error);
  g_assert_no_error (error);
  g_usleep (100 * 1000);
  g_subprocess_send_signal (s.process, SIGTERM);
  g_usleep (200 * 1000);
  /* still running: the half-received set is in flight */
  g_assert_cmpint (kill ((pid_t) g_ascii_strtoll (g_subprocess_get_identifier (s.process), NULL, 10), 0), ==, 0);
  reply = exchange (conn, "cde\r\n", "\r\n");
  g_assert_cmpstr (reply, ==, "STORED\r\n");
  g_subprocess_wait (s.process, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (s.process));
  g_assert_cmpint (g_subprocess_get_exit_status (s.process), ==, 0);
  g_clear_object (&s.process);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/integration/memccapable", test_memccapable);
  g_test_add_func ("/mc/integration/fixtures-live", test_fixtures_live);
  g_test_add_func ("/mc/integration/debugtime", test_debugtime_black_box);
  g_test_add_func ("/mc/integration/graceful-sigterm", test_graceful_sigterm);
  return g_test_run ();
}
