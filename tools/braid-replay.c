/* braid-replay — play the client side of fixtures and compare the replies.
 *
 *   braid-replay --target tcp:127.0.0.1:11211 fixtures/memcached/FILE.fixture
 *   braid-replay --in-process memcached --delivery all fixtures/memcached/FILE.fixture
 *   braid-replay --compare tcp:127.0.0.1:11211 tcp:127.0.0.1:11311 fixtures/memcached/FILE.fixture
 *
 * Exits 0 when every fixture matched, 1 on any mismatch (with a readable
 * report), 2 on bad usage. */
#include "replay.h"
#include "replay-components.h"

static gboolean
parse_delivery (const gchar *name, GArray *out)
{
  if (name == NULL || g_str_equal (name, "all"))
    {
      for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
        g_array_append_val (out, d);
      return TRUE;
    }
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    if (g_str_equal (name, braid_fake_delivery_to_string (d)))
      {
        g_array_append_val (out, d);
        return TRUE;
      }
  return FALSE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *target = NULL;
  g_autofree gchar *component = NULL;
  g_autofree gchar *delivery = NULL;
  gint seed = 1;
  gdouble timeout = 2.0;
  gboolean no_timestamps = FALSE;
  gboolean show_version = FALSE;
  gboolean compare = FALSE;
  g_autofree gchar *bind = NULL;
  GOptionEntry entries[] = {
    { "target", 't', 0, G_OPTION_ARG_STRING, &target, "Replay against a live server", "ENDPOINT" },
    { "in-process", 'i', 0, G_OPTION_ARG_STRING, &component,
      "Replay against a braid component in-process on the fake reactor (memcached)", "COMPONENT" },
    { "delivery", 'd', 0, G_OPTION_ARG_STRING, &delivery,
      "In-process delivery policy: whole, byte, random or all (default all)", "POLICY" },
    { "compare", 'c', 0, G_OPTION_ARG_NONE, &compare,
      "Shadow comparison: the first two arguments are endpoints A and B; B's replies must match A's", NULL },
    { "bind", 'b', 0, G_OPTION_ARG_STRING, &bind,
      "Bind server-issued cas uniques: cas, none, or fixture (as each fixture says; default)", "WHAT" },
    { "seed", 's', 0, G_OPTION_ARG_INT, &seed, "Seed for random delivery (default 1)", "N" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds to wait for each reply (default 2)", "S" },
    { "no-timestamps", 0, 0, G_OPTION_ARG_NONE, &no_timestamps, "Send as fast as possible", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("FIXTURE... — replay captured conversations");
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) deliveries = g_array_new (FALSE, FALSE, sizeof (BraidFakeDelivery));
  BraidReplayOptions options = BRAID_REPLAY_OPTIONS_INIT;
  guint passed = 0, failed = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("braid-replay: %s\n", error->message);
      return 2;
    }
  if (show_version)
    {
      g_print ("%s %s\n", g_get_prgname (), PACKAGE_VERSION);
      return 0;
    }
  if ((target != NULL) + (component != NULL) + (compare != FALSE) != 1 || argc < (compare ? 4 : 2))
    {
      g_printerr ("braid-replay: give exactly one of --target ENDPOINT, --in-process COMPONENT or "
                  "--compare ENDPOINT_A ENDPOINT_B, and at least one fixture\n");
      return 2;
    }
  if (bind == NULL || g_str_equal (bind, "fixture"))
    options.bind = BRAID_REPLAY_BIND_FIXTURE;
  else if (g_str_equal (bind, "cas"))
    options.bind = BRAID_REPLAY_BIND_CAS;
  else if (g_str_equal (bind, "none"))
    options.bind = BRAID_REPLAY_BIND_NONE;
  else
    {
      g_printerr ("braid-replay: unknown --bind “%s” (cas, none or fixture)\n", bind);
      return 2;
    }

  if (!parse_delivery (delivery, deliveries))
    {
      g_printerr ("braid-replay: unknown delivery policy “%s”\n", delivery);
      return 2;
    }
  options.reply_timeout_us = (gint64) (timeout * G_USEC_PER_SEC);
  options.honour_timestamps = !no_timestamps;

  for (int i = compare ? 3 : 1; i < argc; i++)
    {
      g_autoptr(BraidFixture) fixture = braid_fixture_load (argv[i], &error);

      if (fixture == NULL)
        {
          g_printerr ("%s\n", error->message);
          g_clear_error (&error);
          failed++;
          continue;
        }
      if (compare)
        {
          if (braid_replay_compare_live (fixture, argv[1], argv[2], &options, &error))
            {
              g_print ("ok %s (%s and %s agree)\n", argv[i], argv[1], argv[2]);
              passed++;
            }
          else
            {
              g_print ("FAIL %s (%s and %s differ)\n%s\n", argv[i], argv[1], argv[2], error->message);
              g_clear_error (&error);
              failed++;
            }
          continue;
        }
      if (target != NULL)
        {
          if (braid_replay_run_live (fixture, target, &options, &error))
            {
              g_print ("ok %s (live %s)\n", argv[i], target);
              passed++;
            }
          else
            {
              g_print ("FAIL %s (live %s)\n%s\n", argv[i], target, error->message);
              g_clear_error (&error);
              failed++;
            }
          continue;
        }
      for (guint d = 0; d < deliveries->len; d++)
        {
          BraidFakeDelivery policy = g_array_index (deliveries, BraidFakeDelivery, d);
          BraidReplayServerFunc server = braid_replay_component_lookup (component, &error);

          if (server == NULL)
            {
              g_printerr ("braid-replay: %s\n", error->message);
              return 2;
            }
          if (braid_replay_run_in_process (fixture, server, NULL, policy, (guint32) seed, &error))
            {
              g_print ("ok %s (%s, %s delivery)\n", argv[i], component, braid_fake_delivery_to_string (policy));
              passed++;
            }
          else
            {
              g_print ("FAIL %s (%s, %s delivery, seed %d)\n%s\n", argv[i], component,
                       braid_fake_delivery_to_string (policy), seed, error->message);
              g_clear_error (&error);
              failed++;
            }
        }
    }
  g_print ("%u passed, %u failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
