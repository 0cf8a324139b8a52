/* braid — the meta protocol side by side with memcached 1.6.18: every
 * session of meta-sessions.h goes to a fresh braid-memcached and a fresh
 * memcached, and the replies must be the same bytes.  Both servers start
 * fresh for each session, so their cas values count from 1 alike and
 * need no normalising.  Skipped where memcached is not installed. */
#include "test-support.h"
#include "meta-sessions.h"

#include <signal.h>
#include <string.h>

#define END_REQUEST "mg braid-session-end k\r\n"
#define END_REPLY "EN kbraid-session-end\r\n"

static GSubprocess *
start_real_memcached (guint16 *port)
{
  g_autofree gchar *path = g_find_program_in_path ("memcached");
  g_autofree gchar *port_arg = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  if (path == NULL)
    return NULL;
  *port = braid_test_find_free_port ();
  port_arg = g_strdup_printf ("%u", *port);
  /* -u only matters as root, where memcached insists on it */
  /* Its output silenced: a test that aborts must not leave it holding the
   * test's stdout, which meson waits on. */
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, path, "-u", "nobody", "-p", port_arg,
                              "-U", "0", "-l", "127.0.0.1", NULL);
  g_assert_no_error (error);
  if (!braid_test_wait_for_port (*port, 10000))
    g_error ("memcached did not start on port %u", *port);
  return process;
}

static void
stop (GSubprocess *process)
{
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
  g_object_unref (process);
}

/* Sends @request on a new connection and reads until the reply ends with
 * @expected_end. */
static gchar *
converse (guint16 port, const gchar *request, const gchar *expected_end)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  GString *got = g_string_new (NULL);
  GInputStream *in;

  g_socket_client_set_timeout (client, 10);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), request, strlen (request), NULL,
                             NULL, &error);
  g_assert_no_error (error);
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  while (!g_str_has_suffix (got->str, expected_end))
    {
      gchar buf[4096];
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        break;
      g_string_append_len (got, buf, n);
    }
  return g_string_free (got, FALSE);
}

typedef struct {
  GSubprocess *braid, *memcached;    /* (owned) */
  guint16 braid_port, memcached_port;
} Pair;

static gboolean
pair_start (Pair *p)
{
  p->memcached = start_real_memcached (&p->memcached_port);
  if (p->memcached == NULL)
    {
      g_test_skip ("memcached is not installed");
      return FALSE;
    }
  p->braid = braid_test_start_memcached (&p->braid_port, NULL);
  return TRUE;
}

static void
pair_stop (Pair *p)
{
  g_clear_pointer (&p->braid, stop);
  g_clear_pointer (&p->memcached, stop);
}

static void
test_session (gconstpointer data)
{
  const Session *s = data;
  /* A miss on a key no session uses ends every session: its reply, unlike
   * MN (some sessions send mn), says the replies before it are all in. */
  g_autofree gchar *request = g_strconcat (s->input, END_REQUEST, NULL);
  g_autofree gchar *recorded = g_strconcat (s->output, END_REPLY, NULL);
  g_autofree gchar *from_memcached = NULL;
  g_autofree gchar *from_braid = NULL;
  Pair p = { 0 };

  g_test_summary ("A meta session gets the same bytes from braid-memcached as from memcached 1.6.18");
  if (!pair_start (&p))
    return;
  from_memcached = converse (p.memcached_port, request, END_REPLY);
  from_braid = converse (p.braid_port, request, END_REPLY);
  braid_assert_bytes_equal (from_memcached, strlen (from_memcached), (const guint8 *) from_braid, strlen (from_braid));
  /* and the table test-meta checks braid against is still what memcached says */
  g_assert_cmpstr (from_memcached, ==, recorded);
  pair_stop (&p);
}

/* The counters a "stats" reply shows after the same meta commands. */
static void
test_counters (void)
{
  static const gchar *const names[] = {
    "cmd_get", "cmd_set", "cmd_touch", "cmd_meta", "get_hits", "get_misses", "delete_misses", "delete_hits",
    "incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval",
    "touch_hits", "touch_misses", "curr_items", "total_items",
  };
  const gchar *input = "ms s1 1\r\na\r\nms s1 1 C999\r\na\r\nms nok 1 C1\r\na\r\nms s1 1 ME\r\na\r\n"
                       "mg s1\r\nmg nok\r\nmg s1 T30\r\nmg nok T30\r\nmg viv N30\r\nme s1\r\n"
                       "md viv\r\nmd nok\r\nmd s1 C5\r\nms n 1\r\n1\r\nmd n I\r\n"
                       "ma n\r\nma nok\r\nma nok MD\r\nma n MD\r\nma nok4 N0\r\nma n C1\r\nmn\r\n";
  Pair p = { 0 };

  g_test_summary ("Meta commands move the same stats counters in braid-memcached as in memcached 1.6.18");
  if (!pair_start (&p))
    return;
  g_free (converse (p.memcached_port, input, "MN\r\n"));
  g_free (converse (p.braid_port, input, "MN\r\n"));
  {
    g_autofree gchar *mc_stats = converse (p.memcached_port, "stats\r\n", "END\r\n");
    g_autofree gchar *braid_stats = converse (p.braid_port, "stats\r\n", "END\r\n");

    for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree gchar *needle = g_strdup_printf ("\r\nSTAT %s ", names[i]);
        const gchar *a = strstr (mc_stats, needle);
        const gchar *b = strstr (braid_stats, needle);

        g_assert_nonnull (a);
        g_assert_nonnull (b);
        g_assert_cmpint (strtol (a + strlen (needle), NULL, 10), ==, strtol (b + strlen (needle), NULL, 10));
      }
  }
  pair_stop (&p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (meta_sessions); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/mc/meta-integration/session/%s", meta_sessions[i].name);

      g_test_add_data_func (path, &meta_sessions[i], test_session);
    }
  g_test_add_func ("/mc/meta-integration/counters", test_counters);
  return g_test_run ();
}
