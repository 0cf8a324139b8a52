/* braid-replay — play the client side of fixtures and compare the replies.
 *
 *   braid-replay --target tcp:127.0.0.1:11211 fixtures/memcached/FILE.fixture
 *   braid-replay --in-process memcached --delivery all fixtures/memcached/FILE.fixture
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
  GOptionEntry entries[] = {
    { "target", 't', 0, G_OPTION_ARG_STRING, &target, "Replay against a live server", "ENDPOINT" },
    { "in-process", 'i', 0, G_OPTION_ARG_STRING, &component,
      "Replay against a braid component in-process on the fake reactor (memcached)", "COMPONENT" },
    { "delivery", 'd', 0, G_OPTION_ARG_STRING, &delivery,
      "In-process delivery policy: whole, byte, random or all (default all)", "POLICY" },
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
  if ((target == NULL) == (component == NULL) || argc < 2)
    {
      g_printerr ("braid-replay: give exactly one of --target ENDPOINT or --in-process COMPONENT, "
                  "and at least one fixture\n");
      return 2;
    }
  if (!parse_delivery (delivery, deliveries))
    {
      g_printerr ("braid-replay: unknown delivery policy “%s”\n", delivery);
      return 2;
    }
  options.reply_timeout_us = (gint64) (timeout * G_USEC_PER_SEC);
  options.honour_timestamps = !no_timestamps;

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(BraidFixture) fixture = braid_fixture_load (argv[i], &error);

      if (fixture == NULL)
        {
          g_printerr ("%s\n", error->message);
          g_clear_error (&error);
          failed++;
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
