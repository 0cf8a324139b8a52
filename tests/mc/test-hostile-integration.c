/* braid — hostile peers through real sockets: braid-memcached as a real
 * process against clients that never read, ask for one large value
 * thousands of times, or flood its index with colliding keys; braid-mc
 * against a server that lies about lengths.  The same findings are tested
 * byte-exact on the fake reactor in test-server.c and test-client.c; here
 * the bound is the process's own memory. */
#include "test-support.h"

#include <signal.h>
#include <sys/socket.h>
#include <string.h>

typedef struct {
  GSubprocess *process;
  guint16 port;
} Server;

static void
server_start (Server *s, const gchar * const *extra)
{
  s->process = braid_test_start_memcached (&s->port, extra);
}

static void
server_stop (Server *s)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (s->process, SIGKILL);
  g_subprocess_wait (s->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&s->process);
}

/* The process's resident memory, in KiB, from /proc. */
static guint64
rss_kib (GSubprocess *process)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (process));
  g_autofree gchar *text = NULL;
  const gchar *line;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  line = strstr (text, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

static GSocket *
connect_to (guint16 port, gint receive_buffer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  if (receive_buffer > 0)
    g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, receive_buffer, NULL);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (socket, 10);
  return socket;
}

static void
send_all (GSocket *socket, const gchar *data, gsize len)
{
  while (len > 0)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (socket, data, len, NULL, &error);

      g_assert_no_error (error);
      data += n;
      len -= (gsize) n;
    }
}

/* Reads until @suffix ends what was read. */
static gchar *
read_until (GSocket *socket, const gchar *suffix)
{
  GString *got = g_string_new (NULL);

  while (!g_str_has_suffix (got->str, suffix))
    {
      gchar buf[65536];
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (socket, buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      g_string_append_len (got, buf, n);
    }
  return g_string_free (got, FALSE);
}

static gchar *
ask (guint16 port, const gchar *request, const gchar *until)
{
  g_autoptr(GSocket) socket = connect_to (port, 0);

  send_all (socket, request, strlen (request));
  return read_until (socket, until);
}

/* Lets a real server work through what it was sent: braid-memcached answers
 * a "version" only after every command before it on other connections
 * that arrived first has been read, so a round trip is a fence. */
static void
settle (guint16 port)
{
  g_autofree gchar *version = NULL;

  g_usleep (200 * 1000);
  version = ask (port, "version\r\n", "\r\n");
  g_assert_true (g_str_has_prefix (version, "VERSION "));
}

static void
test_multiget_of_a_large_value (void)
{
  const guint counts[] = { 300, 2000 };

  g_test_summary ("A client that never reads and asks for one 1 MB value 300 or 2,000 times in one line "
                  "costs braid-memcached a few MB, not the values' total; others are served meanwhile");
  g_test_bug ("11");
  for (gsize i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      Server s;
      g_autoptr(GSocket) hostile = NULL;
      g_autoptr(GString) line = g_string_new ("get");
      g_autofree gchar *value = g_strnfill (1000000, 'v');
      g_autofree gchar *set = g_strdup_printf ("set big 0 0 1000000\r\n%s\r\n", value);
      g_autofree gchar *stored = NULL;
      guint64 before, after;

      server_start (&s, NULL);
      stored = ask (s.port, set, "\r\n");
      g_assert_cmpstr (stored, ==, "STORED\r\n");
      settle (s.port);
      before = rss_kib (s.process);

      for (guint k = 0; k < counts[i]; k++)
        g_string_append (line, " big");
      g_string_append (line, "\r\n");
      hostile = connect_to (s.port, 4096);
      send_all (hostile, line->str, line->len);
      settle (s.port);
      after = rss_kib (s.process);
      g_test_message ("%u keys: RSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT " KiB after",
                      counts[i], before, after);
      /* the output limit (1 MiB) plus one value plus socket buffers */
      g_assert_cmpuint (after, <, before + 16 * 1024);
      g_clear_object (&hostile);
      server_stop (&s);
    }
}

static void
test_colliding_keys (void)
{
  Server s;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GString) batch = g_string_new (NULL);
  g_autofree gchar *replies = NULL;
  g_autofree gchar *stats = NULL;
  const guint n_keys = 16384;

  g_test_summary ("16,384 keys that collide under DJB2 (Ez/FY blocks) are all stored and counted "
                  "through a real connection: the keyed hash leaves nothing to flood");
  g_test_bug ("11");
  server_start (&s, NULL);
  socket = connect_to (s.port, 0);
  for (guint i = 0; i < n_keys; i++)
    {
      g_string_append (batch, "set ");
      for (guint b = 0; b < 14; b++)
        g_string_append (batch, (i >> b) & 1 ? "FY" : "Ez");
      g_string_append (batch, " 0 0 1 noreply\r\nv\r\n");
    }
  g_string_append (batch, "stats\r\n");
  send_all (socket, batch->str, batch->len);
  stats = read_until (socket, "END\r\n");
  g_assert_nonnull (strstr (stats, "STAT curr_items 16384\r\n"));
  server_stop (&s);
}

static void
test_wire_differences (void)
{
  static const struct {
    const gchar *request;
    gsize request_len;
    const gchar *reply;
  } cases[] = {
    /* what Debian's memcached 1.6.18 answers, byte for byte */
    { "set a\0b 0 0 1\r\nx\r\nget a\r\n", 25, "ERROR\r\nERROR\r\nEND\r\n" },
    { "verbosity abc\r\n", 0, "CLIENT_ERROR bad command line format\r\n" },
    { "shutdown\r\n", 0, "ERROR: shutdown not enabled\r\n" },
    { "set f 4294967297 0 1\r\nx\r\nget f\r\n", 0, "STORED\r\nVALUE f 1 1\r\nx\r\nEND\r\n" },
    { "set e 0 2147483648 1\r\nx\r\nget e\r\n", 0, "STORED\r\nEND\r\n" },
    { "set e 0 4294967296 1\r\nx\r\nget e\r\n", 0, "STORED\r\nVALUE e 0 1\r\nx\r\nEND\r\n" },
    { "flush_all 4294967296\r\n", 0, "OK\r\n" },
  };
  Server s;

  g_test_summary ("Edge values get memcached 1.6.18's exact replies over a real socket");
  g_test_bug ("11");
  server_start (&s, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GSocket) socket = connect_to (s.port, 0);
      gsize len = cases[i].request_len != 0 ? cases[i].request_len : strlen (cases[i].request);
      g_autofree gchar *got = NULL;

      send_all (socket, cases[i].request, len);
      got = read_until (socket, cases[i].reply);
      g_assert_cmpstr (got, ==, cases[i].reply);
    }
  server_stop (&s);
}

/* ---- a lying server for braid-mc ---- */

typedef struct {
  const gchar *reply;
} Liar;

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer data)
{
  Liar *liar = data;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  gchar buf[1024];

  /* one request line in, the lie out */
  g_input_stream_read (in, buf, sizeof buf, NULL, NULL);
  g_output_stream_write_all (out, liar->reply, strlen (liar->reply), NULL, NULL, NULL);
  g_output_stream_flush (out, NULL, NULL);
  return FALSE;
}

static void
test_braid_mc_against_a_liar (void)
{
  static const struct {
    const gchar *reply;
    const gchar *message;
  } lies[] = {
    { "VALUE k 0 18446744073709551614\r\n\r\nEND\r\n", "over the 1048576-byte limit" },
    { "VALUE k 0 1000000000\r\n", "VALUE of 1000000000 bytes" },
    { "VALUE other 0 1\r\nx\r\nEND\r\n", "did not ask for" },
  };

  g_test_summary ("braid-mc asking a server that lies about lengths or keys fails with a message naming "
                  "the lie and exit status 1, without allocating what was announced");
  g_test_bug ("11");
  for (gsize i = 0; i < G_N_ELEMENTS (lies); i++)
    {
      Liar liar = { lies[i].reply };
      g_autoptr(GSocketService) service = g_threaded_socket_service_new (2);
      g_autoptr(GError) error = NULL;
      g_autofree gchar *tool = braid_test_build_path ("tools/braid-mc");
      g_autofree gchar *servers = NULL;
      g_autoptr(GSubprocess) run = NULL;
      g_autofree gchar *out = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      guint16 port = braid_test_find_free_port ();

      g_socket_listener_add_inet_port (G_SOCKET_LISTENER (service), port, NULL, &error);
      g_assert_no_error (error);
      g_signal_connect (service, "run", G_CALLBACK (on_incoming), &liar);
      g_socket_service_start (service);
      servers = g_strdup_printf ("127.0.0.1:%u", port);
      run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                              tool, "--servers", servers, "get", "k", NULL);
      g_assert_no_error (error);
      /* the liar accepts on this thread's main context: iterate it */
      g_subprocess_communicate_utf8_async (run, NULL, NULL, braid_test_store_result, &result);
      braid_test_wait_for_result (NULL, &result, 20000);
      g_subprocess_communicate_utf8_finish (run, result, &out, NULL, &error);
      g_assert_no_error (error);
      g_test_message ("%s", out);
      g_assert_true (g_subprocess_get_if_exited (run));
      g_assert_cmpint (g_subprocess_get_exit_status (run), ==, 1);
      if (strstr (out, lies[i].message) == NULL)
        g_error ("expected “%s” in braid-mc's output but saw “%s”", lies[i].message, out);
      g_socket_service_stop (service);
      g_socket_listener_close (G_SOCKET_LISTENER (service));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("issue #");
  g_test_add_func ("/mc/hostile-integration/multiget-of-a-large-value", test_multiget_of_a_large_value);
  g_test_add_func ("/mc/hostile-integration/colliding-keys", test_colliding_keys);
  g_test_add_func ("/mc/hostile-integration/wire-differences", test_wire_differences);
  g_test_add_func ("/mc/hostile-integration/braid-mc-against-a-liar", test_braid_mc_against_a_liar);
  return g_test_run ();
}
