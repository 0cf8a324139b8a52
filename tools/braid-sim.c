/* braid-sim — seeded deterministic simulation.
 *
 *   braid-sim --scenario upper --seed 42        one run, trace hash printed
 *   braid-sim --seeds 500                       seeds 1..500 of every scenario
 *   braid-sim --scenario upper --seed 42 --trace    print the whole trace
 *   braid-sim --scenario memcached --seed 7 --bound-limit 1024
 *                                               every resource bound capped
 *                                               (a deliberately broken bound)
 *
 * Exits 1 if any run broke an invariant, printing the command that
 * reproduces it exactly.  The broken twins (--list-twins) run by name
 * only.  On a terminal, stderr shows one line of progress; at the end a
 * one-line summary says how many seeds ran, failed, and how long it took. */
#include "sim-scenarios.h"
#include "sim-heap.h"

#include <unistd.h>

/* Progress, on one line rewritten in place: only for a person watching
 * (a terminal), never in CI logs. */
typedef struct {
  gboolean on_terminal;
  guint done, total, failed;
  gint64 started_us;
  gint64 shown_us;
} Progress;

/* --fail-fast: nothing more runs once a seed has failed. */
static gboolean
gave_up (const Progress *p, gboolean fail_fast)
{
  return fail_fast && p->failed > 0;
}

static gdouble
progress_elapsed_s (const Progress *p)
{
  return (gdouble) (g_get_monotonic_time () - p->started_us) / G_USEC_PER_SEC;
}

static void
progress_show (Progress *p, gboolean force)
{
  gint64 now_us = g_get_monotonic_time ();

  if (!p->on_terminal || (!force && now_us - p->shown_us < G_USEC_PER_SEC / 10))
    return;
  p->shown_us = now_us;
  g_printerr ("\r%u/%u seeds, %u failed, %.1f s ", p->done, p->total, p->failed, progress_elapsed_s (p));
}

static void
progress_note (Progress *p, gboolean ok)
{
  p->done++;
  if (!ok)
    p->failed++;
  progress_show (p, FALSE);
}

static void
progress_finish (Progress *p)
{
  if (p->on_terminal)
    {
      progress_show (p, TRUE);
      g_printerr ("\n");
    }
  g_print ("%u seeds, %u failed, %.1f s\n", p->done, p->failed, progress_elapsed_s (p));
}

static gboolean
run_one (const BraidSimScenario *scenario, guint32 seed, guint64 bound_limit, gboolean print_trace, gboolean verbose)
{
  g_autoptr(BraidSim) sim = braid_sim_new (scenario, seed);
  g_autoptr(GError) error = NULL;
  gboolean ok;
  g_autofree gchar *hash = NULL;

  if (bound_limit > 0)
    braid_sim_set_bound_limit (sim, bound_limit);
  ok = braid_sim_run (sim, &error);
  hash = braid_sim_get_trace_hash (sim);

  if (print_trace)
    g_print ("%s", braid_sim_get_trace (sim));
  if (!ok)
    g_print ("FAIL %s\n", error->message);
  else if (verbose)
    g_print ("ok %s seed %u trace %s\n", scenario->name, seed, hash);
  return ok;
}

/* --check-heap, exactly: the seed once more, which must leave the heap as
 * it found it (sim-heap.h). */
static gboolean
replay_leaves_nothing (const BraidSimScenario *scenario, guint32 seed)
{
  g_autoptr(GError) error = NULL;

  if (braid_sim_heap_replay_check (scenario, seed, &error))
    return TRUE;
  g_print ("FAIL %s (reproduce: braid-sim --scenario %s --seeds 1 --first-seed %u --check-heap)\n", error->message,
           scenario->name, seed);
  return FALSE;
}

/* The library reports each lying server it meets with g_message: in a
 * simulation full of them that is noise, not news (the trace has them). */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  braid_sim_observe_log (fields, n_fields);
  if ((level & G_LOG_LEVEL_MESSAGE) != 0 && g_getenv ("BRAID_SIM_ECHO_TRACE") == NULL)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *scenario_name = NULL;
  gint64 seed = -1;
  gint64 bound_limit = 0;
  gint seeds = 0;
  gint first = 1;
  gboolean trace = FALSE;
  gboolean list = FALSE;
  gboolean list_twins = FALSE;
  gboolean show_version = FALSE;
  gboolean check_heap = FALSE;
  gboolean fail_fast = FALSE;
  gint64 heap_slack = BRAID_SIM_HEAP_DEFAULT_SLACK;
  GOptionEntry entries[] = {
    { "scenario", 0, 0, G_OPTION_ARG_STRING, &scenario_name, "Scenario to run (default: all)", "NAME" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Run one seed", "N" },
    { "seeds", 0, 0, G_OPTION_ARG_INT, &seeds, "Run this many seeds", "COUNT" },
    { "first-seed", 0, 0, G_OPTION_ARG_INT, &first, "First seed of --seeds (default 1)", "N" },
    { "bound-limit", 0, 0, G_OPTION_ARG_INT64, &bound_limit, "Cap every resource bound at BYTES (tests the checkers)", "BYTES" },
    { "trace", 0, 0, G_OPTION_ARG_NONE, &trace, "Print the trace of each run", NULL },
    { "list", 0, 0, G_OPTION_ARG_NONE, &list, "List the scenarios", NULL },
    { "list-twins", 0, 0, G_OPTION_ARG_NONE, &list_twins, "List the broken twins (run by name only)", NULL },
    { "check-heap", 0, 0, G_OPTION_ARG_NONE, &check_heap,
      "Run each seed twice and fail one whose second run leaves bytes in the heap; fail a scenario whose heap grows from the middle of its seeds to the end (20 seeds or more): leaks", NULL },
    { "heap-slack", 0, 0, G_OPTION_ARG_INT64, &heap_slack, "Growth --check-heap allows (default 262144)", "BYTES" },
    { "fail-fast", 0, 0, G_OPTION_ARG_NONE, &fail_fast, "Stop at the first seed that fails", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— seeded deterministic simulation");
  g_autoptr(GError) error = NULL;
  guint failed = 0;

  g_auto(GStrv) original_argv = g_strdupv (argv);

  g_log_set_writer_func (quiet_writer, NULL, NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("braid-sim: %s\n", error->message);
      return 2;
    }
  if (check_heap)
    braid_sim_heap_make_exact (original_argv);
  if (show_version)
    {
      g_print ("%s %s\n", g_get_prgname (), PACKAGE_VERSION);
      return 0;
    }
  if (list)
    {
      for (const BraidSimScenario * const *s = braid_sim_scenarios (); *s != NULL; s++)
        g_print ("%-10s %s\n", (*s)->name, (*s)->description);
      return 0;
    }
  if (list_twins)
    {
      for (const BraidSimScenario * const *s = braid_sim_broken_twins (); *s != NULL; s++)
        g_print ("%-26s %s\n", (*s)->name, (*s)->description);
      return 0;
    }
  if (scenario_name != NULL && braid_sim_find_scenario (scenario_name) == NULL)
    {
      g_printerr ("braid-sim: unknown scenario “%s” (see --list)\n", scenario_name);
      return 2;
    }
  if (bound_limit < 0 || heap_slack < 0)
    {
      g_printerr ("braid-sim: --bound-limit and --heap-slack must be 0 or more\n");
      return 2;
    }
  if (seed < 0 && seeds <= 0)
    seeds = 100;

  {
    const BraidSimScenario *only = scenario_name != NULL ? braid_sim_find_scenario (scenario_name) : NULL;
    const BraidSimScenario *one[] = { only, NULL };
    const BraidSimScenario * const *to_run = only != NULL ? one : braid_sim_scenarios ();
    Progress progress = { isatty (STDERR_FILENO), 0, 0, 0, g_get_monotonic_time (), 0 };

    for (const BraidSimScenario * const *s = to_run; *s != NULL; s++)
      progress.total += seed >= 0 ? 1 : (guint) seeds;
    for (const BraidSimScenario * const *s = to_run; *s != NULL && !gave_up (&progress, fail_fast); s++)
      {
        if (seed >= 0)
          {
            progress_note (&progress, run_one (*s, (guint32) seed, (guint64) bound_limit, trace, TRUE));
            continue;
          }
        {
          BraidSimHeapWatch heap;
          g_autoptr(GError) leak = NULL;

          braid_sim_heap_watch_init (&heap, (guint32) first);
          for (gint i = 0; i < seeds && !gave_up (&progress, fail_fast); i++)
            {
              guint32 this_seed = (guint32) (first + i);
              gboolean ok = run_one (*s, this_seed, (guint64) bound_limit, trace, FALSE);

              braid_sim_heap_watch_note (&heap);
              if (ok && check_heap && bound_limit == 0)
                ok = replay_leaves_nothing (*s, this_seed);
              progress_note (&progress, ok);
            }
          if (check_heap && !gave_up (&progress, fail_fast) && !braid_sim_heap_watch_check (&heap, (gsize) heap_slack, &leak))
            {
              g_print ("FAIL %s: %s\n", (*s)->name, leak->message);
              progress.failed++;
            }
          braid_sim_heap_watch_clear (&heap);
        }
      }
    progress_finish (&progress);
    failed = progress.failed;
  }
  return failed == 0 ? 0 : 1;
}
