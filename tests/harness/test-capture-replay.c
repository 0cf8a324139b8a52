/* braid — capture and replay: record through the relay, replay under every
 * delivery policy, catch a broken server with a readable diff, and check
 * the recorded memcached fixtures against the real memcached. */
#include "test-support.h"
#include "capture.h"
#include "replay.h"
#include "replay-components.h"
#include "upper-protocol.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void
keep_fixture (BraidFixture *fixture, gpointer user_data)
{
  BraidFixture **out = user_data;

  g_assert_null (*out);
  *out = fixture;
}

/* Records "hello\nworld\n" + half-close through the relay, in front of
 * the upper-casing server, on a fake reactor with @delivery. */
static BraidFixture *
record_upper_session (BraidFakeDelivery delivery)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  BraidReactor *r = BRAID_REACTOR (fake);
  g_autoptr(BraidProtocolFactory) upper = braid_upper_factory_new ();
  g_autoptr(BraidProtocolFactory) recorder = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) server = NULL;
  g_autoptr(BraidListener) relay = NULL;
  g_autoptr(BraidCapture) capture = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autoptr(GError) error = NULL;
  BraidFixture *fixture = NULL;
  BraidTransport *t;

  braid_fake_reactor_set_delivery (fake, delivery);
  server = braid_reactor_listen (r, "tcp:11211", upper, &error);
  g_assert_no_error (error);
  capture = braid_capture_new (r, "tcp:127.0.0.1:11211", keep_fixture, &fixture);
  relay = braid_capture_listen (capture, "tcp:22122", &error);
  g_assert_no_error (error);

  braid_reactor_connect_async (r, "tcp:127.0.0.1:22122", recorder, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (fake);
  client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (r, result, &error));
  g_assert_no_error (error);
  t = braid_protocol_get_transport (BRAID_PROTOCOL (client));
  braid_transport_write_string (t, "hello\n");
  braid_fake_reactor_advance (fake, 1000);
  braid_transport_write_string (t, "world\n");
  braid_fake_reactor_advance (fake, 1000);
  braid_transport_lose_write_connection (t);
  braid_fake_reactor_run_until_idle (fake);

  braid_assert_bytes_equal ("HELLO\nWORLD\n", 12, client->received->data, client->received->len);
  g_assert_true (braid_recording_protocol_is_lost (client));
  g_assert_nonnull (fixture);
  g_assert_cmpuint (braid_capture_get_n_active (capture), ==, 0);
  return fixture;
}

static void
test_capture_records (void)
{
  g_test_summary ("The relay records each side's bytes in order, with times and closes, under every delivery policy");
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    {
      g_autoptr(BraidFixture) fixture = record_upper_session (d);
      g_autoptr(GBytes) c = braid_fixture_get_stream (fixture, BRAID_FIXTURE_CLIENT_TO_SERVER);
      g_autoptr(GBytes) s = braid_fixture_get_stream (fixture, BRAID_FIXTURE_SERVER_TO_CLIENT);
      BraidFixtureChunk *first = g_ptr_array_index (fixture->chunks, 0);
      BraidFixtureChunk *last = g_ptr_array_index (fixture->chunks, fixture->chunks->len - 1);
      gboolean client_closed = FALSE;

      g_test_message ("delivery %s: %u chunks", braid_fake_delivery_to_string (d), fixture->chunks->len);
      braid_assert_bytes_equal_str ("hello\nworld\n", c);
      braid_assert_bytes_equal_str ("HELLO\nWORLD\n", s);
      g_assert_true (first->has_time);
      g_assert_true (last->is_close);
      g_assert_cmpint (last->direction, ==, BRAID_FIXTURE_SERVER_TO_CLIENT);
      for (guint i = 0; i < fixture->chunks->len; i++)
        {
          BraidFixtureChunk *chunk = g_ptr_array_index (fixture->chunks, i);

          client_closed |= chunk->is_close && chunk->direction == BRAID_FIXTURE_CLIENT_TO_SERVER;
        }
      g_assert_true (client_closed);
      g_assert_cmpstr (braid_fixture_get_header (fixture, "upstream"), ==, "tcp:127.0.0.1:11211");
    }
}

static BraidProtocolFactory *
build_upper (BraidReactor *reactor, gpointer data)
{
  return braid_upper_factory_new ();
}

/* The "broken" server: echoes without upper-casing. */
static BraidProtocolFactory *
build_broken (BraidReactor *reactor, gpointer data)
{
  return braid_recording_factory_new (TRUE, NULL);
}

static void
test_replay_green (void)
{
  g_autoptr(BraidFixture) fixture = record_upper_session (BRAID_FAKE_DELIVERY_RANDOM);

  g_test_summary ("A recorded conversation replays green in-process under every delivery policy");
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    {
      g_autoptr(GError) error = NULL;

      braid_replay_run_in_process (fixture, build_upper, NULL, d, (guint32) g_test_rand_int (), &error);
      g_assert_no_error (error);
    }
}

static void
test_replay_catches_broken_server (void)
{
  g_autoptr(BraidFixture) recorded = record_upper_session (BRAID_FAKE_DELIVERY_WHOLE);
  g_autofree gchar *text = braid_fixture_to_string (recorded);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = braid_fixture_parse (text, strlen (text), "upper.fixture", &error);

  g_test_summary ("A server that behaves differently is caught, with a report naming the turn, the "
                  "fixture line, and the expected and actual bytes");
  g_assert_no_error (error);
  g_assert_false (braid_replay_run_in_process (fixture, build_broken, NULL, BRAID_FAKE_DELIVERY_BYTE, 1, &error));
  g_assert_error (error, BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_MISMATCH);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "turn 1 of"));
  g_assert_nonnull (strstr (error->message, "upper.fixture: turn 1 of"));
  g_assert_nonnull (strstr (error->message, "fixture line"));
  g_assert_nonnull (strstr (error->message, "expected \"HELLO\\n"));
  g_assert_nonnull (strstr (error->message, "got      \"hello\\n"));
  g_assert_nonnull (strstr (error->message, "line 1 - \"HELLO\""));
  g_assert_nonnull (strstr (error->message, "line 1 + \"hello\""));
}

static void
test_replay_timestamps (void)
{
  const gchar text[] =
    "# braid fixture 1\n"
    "> +0 \"hi\\n\"\n"
    "< \"HI\\n\"\n"
    "> +30 \"later\\n\"\n"
    "< \"LATER\\n\"\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = braid_fixture_parse (text, sizeof text - 1, "timed", &error);

  g_test_summary ("In-process replay honours recorded timestamps in simulated time, without sleeping");
  g_assert_no_error (error);
  g_assert_true (braid_replay_run_in_process (fixture, build_upper, NULL, BRAID_FAKE_DELIVERY_WHOLE, 1, &error));
  g_assert_no_error (error);
}

static void
test_replay_unexpected_close (void)
{
  const gchar text[] =
    "# braid fixture 1\n"
    "> \"hi\\n\"\n"
    "< \"HI\\n\"\n"
    "< close\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = braid_fixture_parse (text, sizeof text - 1, "close", &error);

  g_test_summary ("A fixture that expects the server to close fails against a server that stays open");
  g_assert_false (braid_replay_run_in_process (fixture, build_upper, NULL, BRAID_FAKE_DELIVERY_WHOLE, 1, &error));
  g_assert_error (error, BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_MISMATCH);
  g_assert_nonnull (strstr (error->message, "and a close"));
}

/* ---- the recorded memcached fixtures ---- */

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static GPtrArray *
list_fixtures (const gchar *subdir)
{
  g_autofree gchar *dir = g_test_build_filename (G_TEST_DIST, "..", "fixtures", subdir, NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".fixture"))
      g_ptr_array_add (paths, g_build_filename (dir, name, NULL));
  /* Never depend on directory order. */
  g_ptr_array_sort (paths, compare_paths);
  return paths;
}

static GSubprocess *
spawn_memcached (guint16 port)
{
  g_autofree gchar *port_arg = g_strdup_printf ("%u", port);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  if (getuid () == 0)
    process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "memcached", "-u", "root",
                                "-p", port_arg, "-l", "127.0.0.1", "-U", "0", NULL);
  else
    process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "memcached",
                                "-p", port_arg, "-l", "127.0.0.1", "-U", "0", NULL);
  g_assert_no_error (error);
  if (!braid_test_wait_for_port (port, 10000))
    g_error ("memcached did not start on port %u", port);
  return process;
}

static void
test_fixtures_against_memcached (void)
{
  g_autoptr(GPtrArray) paths = list_fixtures ("memcached");
  g_autofree gchar *memcached = g_find_program_in_path ("memcached");

  g_test_summary ("Every memcached fixture replays green against Debian's memcached, "
                  "a fresh server each (the differential check that the fixtures are true)");
  if (memcached == NULL)
    {
      g_test_skip ("memcached is not installed (apt-get install memcached)");
      return;
    }
  if (paths->len == 0)
    {
      g_test_skip ("no fixtures recorded yet under fixtures/memcached");
      return;
    }
  for (guint i = 0; i < paths->len; i++)
    {
      const gchar *path = g_ptr_array_index (paths, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidFixture) fixture = braid_fixture_load (path, &error);
      guint16 port = braid_test_find_free_port ();
      g_autoptr(GSubprocess) server = spawn_memcached (port);
      g_autofree gchar *endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", port);
      BraidReplayOptions options = BRAID_REPLAY_OPTIONS_INIT;

      g_assert_no_error (error);
      g_test_message ("replaying %s", path);
      options.reply_timeout_us = 5 * G_USEC_PER_SEC;
      braid_replay_run_live (fixture, endpoint, &options, &error);
      g_subprocess_force_exit (server);
      g_subprocess_wait (server, NULL, NULL);
      g_assert_no_error (error);
    }
}

static void
test_fixtures_in_process (void)
{
  g_autoptr(GPtrArray) paths = list_fixtures ("memcached");
  g_autoptr(GError) error = NULL;
  BraidReplayServerFunc server = braid_replay_component_lookup ("memcached", &error);

  g_test_summary ("Every memcached fixture replays green against braid-memcached in-process, "
                  "under every delivery policy");
  if (server == NULL)
    {
      g_test_skip ("the memcached component is not wired into replay yet");
      return;
    }
  for (guint i = 0; i < paths->len; i++)
    {
      const gchar *path = g_ptr_array_index (paths, i);
      g_autoptr(BraidFixture) fixture = braid_fixture_load (path, &error);

      g_assert_no_error (error);
      for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
        {
          g_test_message ("replaying %s (%s)", path, braid_fake_delivery_to_string (d));
          braid_replay_run_in_process (fixture, server, NULL, d, (guint32) g_test_rand_int (), &error);
          g_assert_no_error (error);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/harness/capture/records", test_capture_records);
  g_test_add_func ("/harness/replay/green", test_replay_green);
  g_test_add_func ("/harness/replay/catches-broken-server", test_replay_catches_broken_server);
  g_test_add_func ("/harness/replay/timestamps", test_replay_timestamps);
  g_test_add_func ("/harness/replay/unexpected-close", test_replay_unexpected_close);
  g_test_add_func ("/harness/fixtures/memcached-live", test_fixtures_against_memcached);
  g_test_add_func ("/harness/fixtures/memcached-in-process", test_fixtures_in_process);
  return g_test_run ();
}
