/* braid — binding server-issued tokens during replay, and shadow
 * comparison: the substitution at every chunk split, tokens inside data
 * blocks left alone, live replay against a memcached whose cas counter has
 * moved, and braid-replay --compare between two live servers. */
#include "test-support.h"
#include "binding.h"
#include "replay.h"

#include <string.h>

static GBytes *
bytes_of (const gchar *s)
{
  return g_bytes_new (s, strlen (s));
}

/* Feeds @live to the binder in @step-byte pieces; returns what it emitted. */
static gchar *
take_live (BraidBinder *binder, const gchar *live, gsize step)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  gsize len = strlen (live);
  g_autofree gchar *problem = NULL;

  for (gsize i = 0; i < len; i += step)
    g_assert_true (braid_binder_take_reply (binder, (const guint8 *) live + i, MIN (step, len - i), FALSE,
                                            out, &problem));
  g_assert_true (braid_binder_take_reply (binder, NULL, 0, TRUE, out, &problem));
  g_assert_null (problem);
  return g_strndup ((const gchar *) out->data, out->len);
}

static const gchar recorded_client[] =
  "gets k\r\n"
  "cas k 0 0 5 17\r\n"
  "17 17\r\n"
  "mg k c v\r\n"
  "ms k 2 C17 T0\r\n"
  "17\r\n"
  "ms j 2 C23 E17\r\n"
  "17\r\n"
  "cas k 0 0 2 23 noreply\r\n"
  "23\r\n";
static const gchar recorded_server[] =
  "VALUE k 0 5 17\r\n"
  "hello\r\n"
  "END\r\n"
  "STORED\r\n"
  "VA 2 c23\r\n"
  "17\r\n";
static const gchar live_server[] =
  "VALUE k 0 5 90017\r\n"
  "hello\r\n"
  "END\r\n"
  "STORED\r\n"
  "VA 2 c90023\r\n"
  "17\r\n";
static const gchar rewritten_client[] =
  "gets k\r\n"
  "cas k 0 0 5 90017\r\n"
  "17 17\r\n"
  "mg k c v\r\n"
  "ms k 2 C90017 T0\r\n"
  "17\r\n"
  "ms j 2 C90023 E90017\r\n"
  "17\r\n"
  "cas k 0 0 2 90023 noreply\r\n"
  "23\r\n";

static void
test_binding_every_split (void)
{
  gsize len = strlen (recorded_client);
  g_autoptr(GBytes) client = bytes_of (recorded_client);
  g_autoptr(GBytes) server = bytes_of (recorded_server);

  g_test_summary ("Recorded cas uniques in cas lines and meta C/E flags become the live ones, at every "
                  "two-way split of the client bytes (a token cut by a chunk is sent whole), several "
                  "tokens at once, and never inside a data block");
  for (gsize split = 0; split <= len; split++)
    {
      g_autoptr(BraidBinder) binder = braid_binder_new (client, server, TRUE);
      g_autoptr(GByteArray) out = g_byte_array_new ();
      g_autofree gchar *emitted = take_live (binder, live_server, 1);

      g_assert_cmpstr (emitted, ==, recorded_server);
      braid_binder_rewrite_client (binder, 0, split, out);
      braid_binder_rewrite_client (binder, split, len, out);
      braid_assert_bytes_equal ((const guint8 *) rewritten_client, strlen (rewritten_client), out->data, out->len);
    }
}

static void
test_binding_three_chunks (void)
{
  gsize len = strlen (recorded_client);
  g_autoptr(GBytes) client = bytes_of (recorded_client);
  g_autoptr(GBytes) server = bytes_of (recorded_server);

  g_test_summary ("The client bytes cut into three chunks anywhere give the same rewritten stream");
  for (gsize a = 0; a <= len; a += 3)
    for (gsize b = a; b <= len; b += 2)
      {
        g_autoptr(BraidBinder) binder = braid_binder_new (client, server, TRUE);
        g_autoptr(GByteArray) out = g_byte_array_new ();
        g_autofree gchar *emitted = take_live (binder, live_server, 7);

        g_assert_cmpstr (emitted, ==, recorded_server);
        braid_binder_rewrite_client (binder, 0, a, out);
        braid_binder_rewrite_client (binder, a, b, out);
        braid_binder_rewrite_client (binder, b, len, out);
        braid_assert_bytes_equal ((const guint8 *) rewritten_client, strlen (rewritten_client), out->data, out->len);
      }
}

static void
test_binding_off (void)
{
  g_autoptr(GBytes) client = bytes_of (recorded_client);
  g_autoptr(GBytes) server = bytes_of (recorded_server);
  g_autoptr(BraidBinder) binder = braid_binder_new (client, server, FALSE);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree gchar *emitted = take_live (binder, live_server, 5);

  g_test_summary ("With binding off, nothing is rewritten either way, and the replies are still cut "
                  "into units (lines and data blocks)");
  g_assert_cmpstr (emitted, ==, live_server);
  braid_binder_rewrite_client (binder, 0, strlen (recorded_client), out);
  braid_assert_bytes_equal ((const guint8 *) recorded_client, strlen (recorded_client), out->data, out->len);
  /* VALUE line, data, END, STORED, VA line, data. */
  g_assert_cmpuint (braid_binder_get_live_units (binder), ==, 6);
  g_assert_cmpuint (braid_binder_count_recorded_units (binder, strlen (recorded_server)), ==, 6);
  g_assert_cmpuint (braid_binder_get_live_unit_end (binder, 0), ==, strlen ("VALUE k 0 5 90017\r\n"));
}

static void
test_binding_not_one_to_one (void)
{
  g_autoptr(GBytes) client = bytes_of ("gets a b\r\n");
  g_autoptr(GBytes) server = bytes_of ("VALUE a 0 1 1\r\nx\r\nVALUE b 0 1 2\r\ny\r\nEND\r\n");
  g_autoptr(BraidBinder) binder = braid_binder_new (client, server, TRUE);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  const gchar *live = "VALUE a 0 1 0\r\nx\r\nVALUE b 0 1 0\r\ny\r\nEND\r\n";
  g_autofree gchar *problem = NULL;

  g_test_summary ("A server that issues one cas for two recorded ones (no cas support) breaks the binding "
                  "with a message instead of passing");
  g_assert_false (braid_binder_take_reply (binder, (const guint8 *) live, strlen (live), FALSE, out, &problem));
  g_assert_cmpstr (problem, ==, "the server issued cas 0 for both recorded 1 and recorded 2 (token 2 of the replies)");
}

static void
test_binding_binary (void)
{
  /* A GETS-like GET response with CAS 5, then a SET request carrying CAS 5
   * and a value that holds the same 8 bytes. */
  static const guint8 cas5[8] = { 0, 0, 0, 0, 0, 0, 0, 5 };
  static const guint8 cas9[8] = { 0, 0, 0, 0, 0, 0, 0x10, 9 };
  guint8 request[24 + 8 + 1 + 8] = { 0x80, 0x01, 0, 1, 8, 0, 0, 0, 0, 0, 0, 17 };
  guint8 recorded[24 + 4 + 1] = { 0x81, 0x00, 0, 0, 4, 0, 0, 0, 0, 0, 0, 5 };
  guint8 live[sizeof recorded];
  g_autoptr(GBytes) client = NULL;
  g_autoptr(GBytes) server = NULL;
  g_autoptr(BraidBinder) binder = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) sent = g_byte_array_new ();
  g_autofree gchar *problem = NULL;

  g_test_summary ("Binary protocol: a response's CAS field binds, a request's CAS field is rewritten, "
                  "the same bytes inside the value are not");
  memcpy (recorded + 16, cas5, 8);
  memcpy (live, recorded, sizeof recorded);
  memcpy (live + 16, cas9, 8);
  memcpy (request + 16, cas5, 8);
  request[24 + 8] = 'k';
  memcpy (request + 24 + 8 + 1, cas5, 8);
  client = g_bytes_new (request, sizeof request);
  server = g_bytes_new (recorded, sizeof recorded);
  binder = braid_binder_new (client, server, TRUE);
  g_assert_true (braid_binder_take_reply (binder, live, 10, FALSE, out, &problem));
  g_assert_cmpuint (out->len, ==, 0);
  g_assert_true (braid_binder_take_reply (binder, live + 10, sizeof live - 10, FALSE, out, &problem));
  braid_assert_bytes_equal (recorded, sizeof recorded, out->data, out->len);
  braid_binder_rewrite_client (binder, 0, 20, sent);
  braid_binder_rewrite_client (binder, 20, sizeof request, sent);
  g_assert_cmpuint (sent->len, ==, sizeof request);
  g_assert_cmpmem (sent->data + 16, 8, cas9, 8);
  g_assert_cmpmem (sent->data + 24 + 8 + 1, 8, cas5, 8);
}

/* ---- live ---- */

static gchar *
fixture_path (const gchar *name)
{
  return g_test_build_filename (G_TEST_DIST, "..", "fixtures", "memcached", name, NULL);
}

/* Moves the server's cas counter: sets, gets and a cas of its own. */
static void
stir (guint16 port)
{
  g_autofree gchar *a = braid_test_converse (port, "set other 0 0 1\r\nx\r\nset other 0 0 1\r\ny\r\n"
                                                   "set greeting 0 0 3\r\nold\r\ngets other\r\n", "END\r\n");
  g_autofree gchar *b = braid_test_converse (port, "add third 0 0 1\r\nz\r\nappend third 0 0 1\r\nz\r\n",
                                             "STORED\r\nSTORED\r\n");

  g_assert_true (g_str_has_suffix (a, "END\r\n"));
  g_assert_nonnull (strstr (a, "VALUE other 0 1 "));
  g_assert_false (g_str_has_prefix (strstr (a, "VALUE other 0 1 ") + strlen ("VALUE other 0 1 "), "1\r"));
}

static void
test_live_moved_counter (void)
{
  GPtrArray *servers = braid_test_servers_start (NULL, NULL);
  g_autofree gchar *path = fixture_path ("pymemcache-session.fixture");
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = braid_fixture_load (path, &error);
  /* gets/cas; meta c and C; binary CAS fields. */
  const gchar *const green[] = { "pymemcache-session.fixture", "meta-client-1.fixture",
                                 "binary-pylibmc-1.fixture", "twisted-session.fixture" };

  g_test_summary ("gets/cas, meta and binary fixtures replay green against servers that served other "
                  "traffic first (the cas counter has moved) with binding; without it, gets/cas fails");
  g_assert_no_error (error);
  for (guint i = 0; i < servers->len; i++)
    {
      BraidTestServer *s = g_ptr_array_index (servers, i);
      g_autofree gchar *endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", s->port);
      BraidReplayOptions options = BRAID_REPLAY_OPTIONS_INIT;

      g_test_message ("%s on %s", s->name, endpoint);
      options.honour_timestamps = FALSE;
      g_assert_true (braid_replay_binds (fixture, &options));
      for (guint f = 0; f < G_N_ELEMENTS (green); f++)
        {
          g_autofree gchar *green_path = fixture_path (green[f]);
          g_autoptr(BraidFixture) green_fixture = braid_fixture_load (green_path, &error);

          g_assert_no_error (error);
          g_test_message ("replaying %s", green[f]);
          stir (s->port);
          braid_replay_run_live (green_fixture, endpoint, &options, &error);
          g_assert_no_error (error);
        }

      stir (s->port);
      options.bind = BRAID_REPLAY_BIND_NONE;
      g_assert_false (braid_replay_run_live (fixture, endpoint, &options, &error));
      g_assert_error (error, BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_MISMATCH);
      g_test_message ("without binding: %s", error->message);
      g_assert_nonnull (strstr (error->message, "expected \"STORED\\r\\n\""));
      g_assert_nonnull (strstr (error->message, "got      \"EXISTS\\r\\n\" instead"));
      g_clear_error (&error);
    }
  braid_test_servers_stop (servers);
}

static void
test_fixture_bind_directive (void)
{
  static const gchar text[] = "# braid fixture 1\n%bind none\n> \"gets k\\r\\n\"\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = braid_fixture_parse (text, strlen (text), "sample", &error);
  g_autofree gchar *written = NULL;
  BraidReplayOptions options = BRAID_REPLAY_OPTIONS_INIT;
  g_autoptr(BraidFixture) bad = NULL;
  static const gchar bad_text[] = "# braid fixture 1\n%bind everything\n";

  g_test_summary ("%bind none|cas parses, is written back, and --bind overrides it");
  g_assert_no_error (error);
  g_assert_cmpint (fixture->bind, ==, BRAID_FIXTURE_BIND_NONE);
  g_assert_false (braid_replay_binds (fixture, &options));
  options.bind = BRAID_REPLAY_BIND_CAS;
  g_assert_true (braid_replay_binds (fixture, &options));
  written = braid_fixture_to_string (fixture);
  g_assert_nonnull (strstr (written, "\n%bind none\n"));
  bad = braid_fixture_parse (bad_text, strlen (bad_text), "sample", &error);
  g_assert_null (bad);
  g_assert_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "sample:2: unknown %bind"));
}

/* ---- shadow comparison ---- */

static gint
run_replay (const gchar *const *args, gchar **out)
{
  g_autofree gchar *tool = braid_test_build_path ("tools/braid-replay");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, tool);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return braid_test_run_tool ((const gchar *const *) argv->pdata, out);
}

static void
test_compare_agree (void)
{
  GPtrArray *servers = braid_test_servers_start (NULL, NULL);
  const gchar *names[] = { "pymemcache-session.fixture", "meta-client-1.fixture", "twisted-session.fixture",
                           "hostile-pipelined.fixture", "binary-pylibmc-1.fixture", "memccp-set.fixture" };
  g_autofree gchar *a = NULL;
  g_autofree gchar *b = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *out = NULL;
  gint status;

  g_test_summary ("braid-replay --compare: braid-memcached and memcached agree on gets/cas, meta, binary "
                  "and hostile fixtures, with their cas counters at different places");
  if (servers->len < 2)
    {
      braid_test_servers_stop (servers);
      g_test_skip ("memcached is not installed");
      return;
    }
  a = g_strdup_printf ("tcp:127.0.0.1:%u", ((BraidTestServer *) g_ptr_array_index (servers, 1))->port);
  b = g_strdup_printf ("tcp:127.0.0.1:%u", ((BraidTestServer *) g_ptr_array_index (servers, 0))->port);
  stir (((BraidTestServer *) g_ptr_array_index (servers, 0))->port);
  g_ptr_array_add (args, g_strdup ("--no-timestamps"));
  g_ptr_array_add (args, g_strdup ("--compare"));
  g_ptr_array_add (args, g_strdup (a));
  g_ptr_array_add (args, g_strdup (b));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_ptr_array_add (args, fixture_path (names[i]));
  g_ptr_array_add (args, NULL);
  status = run_replay ((const gchar *const *) args->pdata, &out);
  g_test_message ("%s", out);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "6 passed, 0 failed"));
  braid_test_servers_stop (servers);
}

/* A server that answers every line with ERROR. */
static gpointer
error_server (gpointer data)
{
  GSocket *listener = data;

  for (;;)
    {
      g_autoptr(GSocket) conn = g_socket_accept (listener, NULL, NULL);
      gchar buf[4096];
      gssize n;

      if (conn == NULL)
        break;
      while ((n = g_socket_receive (conn, buf, sizeof buf, NULL, NULL)) > 0)
        for (gssize i = 0; i < n; i++)
          if (buf[i] == '\n')
            g_assert_cmpint (g_socket_send (conn, "ERROR\r\n", 7, NULL, NULL), ==, 7);
    }
  g_object_unref (listener);
  return NULL;
}

static guint16
start_error_server (void)
{
  g_autoptr(GError) error = NULL;
  GSocket *listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (listener, address, TRUE, &error));
  g_assert_true (g_socket_listen (listener, &error));
  bound = g_socket_get_local_address (listener, &error);
  g_assert_no_error (error);
  /* The thread lives until the test program exits. */
  g_thread_unref (g_thread_new ("error-server", error_server, listener));
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
test_compare_differ (void)
{
  GPtrArray *servers = braid_test_servers_start (NULL, NULL);
  guint16 other = start_error_server ();
  g_autofree gchar *a = g_strdup_printf ("tcp:127.0.0.1:%u",
                                         ((BraidTestServer *) g_ptr_array_index (servers, 0))->port);
  g_autofree gchar *b = g_strdup_printf ("tcp:127.0.0.1:%u", other);
  g_autofree gchar *path = fixture_path ("pymemcache-session.fixture");
  g_autofree gchar *ok_path = fixture_path ("memccat-miss.fixture");
  const gchar *args[] = { "--no-timestamps", "--timeout", "0.5", "--compare", a, b, path, NULL };
  g_autofree gchar *out = NULL;
  g_autofree gchar *same = NULL;
  g_autofree gchar *header = NULL;
  gint status;

  g_test_summary ("braid-replay --compare against a server that answers something else prints which "
                  "exchange differs, A's reply against B's with escaped bytes and context, and exits 1");
  status = run_replay (args, &out);
  g_test_message ("%s", out);
  g_assert_cmpint (status, ==, 1);
  header = g_strdup_printf ("FAIL %s (%s and %s differ)", path, a, b);
  g_assert_nonnull (strstr (out, header));
  g_assert_nonnull (strstr (out, "(expected: the replies of A"));
  g_assert_nonnull (strstr (out, ": turn 1 of "));
  g_assert_nonnull (strstr (out, "  after    \"set greeting 0 0 5\\r\\nhello\\r\\n\"\n"
                                 "  expected \"STORED\\r\\n\"\n"));
  g_assert_nonnull (strstr (out, "  got      \"ERROR\\r\\nERROR\\r\\n\" instead\n"));
  g_assert_nonnull (strstr (out, "  line 1 - \"STORED\\r\"\n  line 1 + \"ERROR\\r\"\n  line 2 + \"ERROR\\r\"\n"));
  g_assert_nonnull (strstr (out, "0 passed, 1 failed"));

  /* The same server twice agrees. */
  {
    const gchar *args_same[] = { "--no-timestamps", "--compare", a, a, ok_path, NULL };

    g_assert_cmpint (run_replay (args_same, &same), ==, 0);
  }
  braid_test_servers_stop (servers);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/harness/binding/every-split", test_binding_every_split);
  g_test_add_func ("/harness/binding/three-chunks", test_binding_three_chunks);
  g_test_add_func ("/harness/binding/off", test_binding_off);
  g_test_add_func ("/harness/binding/not-one-to-one", test_binding_not_one_to_one);
  g_test_add_func ("/harness/binding/binary", test_binding_binary);
  g_test_add_func ("/harness/binding/fixture-directive", test_fixture_bind_directive);
  g_test_add_func ("/harness/binding/live-moved-counter", test_live_moved_counter);
  g_test_add_func ("/harness/compare/agree", test_compare_agree);
  g_test_add_func ("/harness/compare/differ", test_compare_differ);
  return g_test_run ();
}
