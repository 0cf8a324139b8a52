/* braid — the seeded simulation: many seeds pass, the same seed gives the
 * same trace, a broken server is caught with a reproduction line, and so
 * is a broken resource bound. */
/* posix_openpt, grantpt, unlockpt, ptsname: the progress test needs a terminal. */
#define _XOPEN_SOURCE 600
#include "test-support.h"
#include "sim-scenarios.h"
#include "sim-heap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_SEEDS 500
/* The memcached scenario carries the adversaries (non-readers, big
 * multi-key gets, floods, a lying server): each seed costs more. */
#define N_SEEDS_MEMCACHED 300

static void
test_seeds (gconstpointer data)
{
  const BraidSimScenario *scenario = data;
  guint32 first = (guint32) g_test_rand_int_range (1, 1000000);
  guint n = g_str_equal (scenario->name, "memcached") ? N_SEEDS_MEMCACHED : N_SEEDS;
  const gchar *scale = g_getenv ("BRAID_SIM_SEED_PERCENT");

  /* The sanitizer build runs a share of the seeds (tests/meson.build's
   * asan setup): each seed costs it several times more. */
  if (scale != NULL)
    n = MAX (1, n * (guint) g_ascii_strtoull (scale, NULL, 10) / 100);
  g_test_message ("%u seeds from %u", n, first);

  g_test_summary ("Hundreds of seeded runs with random delivery, resets, stalls and refused "
                  "connections keep every invariant and finish in the liveness phase");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(BraidSim) sim = braid_sim_new (scenario, first + i);
      g_autoptr(GError) error = NULL;

      if (!braid_sim_run (sim, &error))
        g_error ("%s", error->message);
    }
}

static void
test_deterministic (gconstpointer data)
{
  const BraidSimScenario *scenario = data;
  guint32 seed = (guint32) g_test_rand_int ();
  g_autoptr(BraidSim) a = braid_sim_new (scenario, seed);
  g_autoptr(BraidSim) b = braid_sim_new (scenario, seed);
  g_autofree gchar *ha = NULL;
  g_autofree gchar *hb = NULL;

  g_test_summary ("The same seed gives the same trace, byte for byte");
  g_assert_true (braid_sim_run (a, NULL));
  g_assert_true (braid_sim_run (b, NULL));
  g_assert_cmpstr (braid_sim_get_trace (a), ==, braid_sim_get_trace (b));
  ha = braid_sim_get_trace_hash (a);
  hb = braid_sim_get_trace_hash (b);
  g_assert_cmpstr (ha, ==, hb);
  g_assert_cmpuint (strlen (braid_sim_get_trace (a)), >, 100);
}

static void
test_catches_broken (void)
{
  guint failures = 0;

  g_test_summary ("A server that breaks the reference model is caught, and the failure names "
                  "the seed and the command that reproduces it");
  for (guint32 seed = 1; seed <= 20; seed++)
    {
      g_autoptr(BraidSim) sim = braid_sim_new (&braid_sim_scenario_upper_broken, seed);
      g_autoptr(GError) error = NULL;

      if (braid_sim_run (sim, &error))
        continue;
      failures++;
      g_assert_nonnull (strstr (error->message, "not the upper-cased echo"));
      {
        g_autofree gchar *repro = g_strdup_printf ("reproduce with: braid-sim --scenario upper-broken --seed %u", seed);

        g_assert_nonnull (strstr (error->message, repro));
      }
    }
  /* Seeds whose clients sent no letters could pass; nearly all must not. */
  g_assert_cmpuint (failures, >=, 15);
}

/* A broken twin: a scenario's clients and checkers against a server that
 * breaks one promise.  Its checker must catch it within @budget seeds
 * (the first seeds, so the run is the same every time), naming the
 * promise, with a line that reproduces the run. */
typedef struct {
  const BraidSimScenario *twin;
  const gchar *invariant;     /* what the failure message must name */
  guint budget;
} BrokenTwin;

static const BrokenTwin broken_twins[] = {
  { &braid_sim_scenario_memcached_cas_unstored, "an update was lost", 5 },
  { &braid_sim_scenario_memcached_lru_unbumped, "LRU order broken: the wrong item was evicted", 10 },
  { &braid_sim_scenario_memcached_reordered, "got a reply that is not its own", 5 },
  { &braid_sim_scenario_memcached_hit_uncounted, "stats get_hits", 10 },
  { &braid_sim_scenario_proxy_late_joiner_dropped, "(a truncated body)", 10 },
  { &braid_sim_scenario_proxy_expired_served, "TTL (an expired body)", 20 },
};

static void
test_catches_twin (gconstpointer data)
{
  const BrokenTwin *t = data;

  g_test_summary ("A broken twin of a scenario (a server that breaks one promise) is caught by the "
                  "scenario's checker within its seed budget, and the failure names the broken promise "
                  "and the command that reproduces it");
  for (guint32 seed = 1; seed <= t->budget; seed++)
    {
      g_autoptr(BraidSim) sim = braid_sim_new (t->twin, seed);
      g_autoptr(GError) error = NULL;
      g_autofree gchar *repro = NULL;

      if (braid_sim_run (sim, &error))
        continue;
      g_test_message ("caught at seed %u: %s", seed, error->message);
      g_assert_nonnull (strstr (error->message, t->invariant));
      repro = g_strdup_printf ("reproduce with: braid-sim --scenario %s --seed %u", t->twin->name, seed);
      g_assert_nonnull (strstr (error->message, repro));
      g_assert_true (braid_sim_find_scenario (t->twin->name) == t->twin);
      return;
    }
  g_test_fail_printf ("%s was not caught within %u seeds", t->twin->name, t->budget);
}

/* The twins break their servers through a relay: through a faithful
 * relay the memcached scenario must pass, or the twins prove nothing. */
static void
test_faithful_relay_passes (void)
{
  static const guint32 seeds[] = { 2, 5, 6 };

  g_test_summary ("The memcached scenario through the twins' relay, breaking nothing, keeps every invariant");
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
    {
      g_autoptr(BraidSim) sim = braid_sim_new (&braid_sim_scenario_memcached_relayed, seeds[i]);
      g_autoptr(GError) error = NULL;

      if (!braid_sim_run (sim, &error))
        g_error ("%s", error->message);
    }
}

static void
test_twins_not_listed (void)
{
  g_test_summary ("The broken twins run by name only, never with the scenarios");
  for (const BraidSimScenario * const *t = braid_sim_broken_twins (); *t != NULL; t++)
    for (const BraidSimScenario * const *s = braid_sim_scenarios (); *s != NULL; s++)
      g_assert_cmpstr ((*t)->name, !=, (*s)->name);
}

static void
test_catches_broken_bound (void)
{
  const BraidSimScenario *scenario = braid_sim_find_scenario ("memcached");
  guint failures = 0;

  g_test_summary ("The resource checkers run at every step: with every bound capped at 4 KiB "
                  "(a deliberately broken bound) the memcached scenario fails, naming what "
                  "held too much and the command that reproduces it");
  g_assert_nonnull (scenario);
  for (guint32 seed = 1; seed <= 30; seed++)
    {
      g_autoptr(BraidSim) sim = braid_sim_new (scenario, seed);
      g_autoptr(GError) error = NULL;
      g_autofree gchar *repro = g_strdup_printf ("reproduce with: braid-sim --scenario memcached --seed %u "
                                                 "--bound-limit 4096", seed);

      braid_sim_set_bound_limit (sim, 4096);
      if (braid_sim_run (sim, &error))
        continue;
      failures++;
      g_test_message ("seed %u: %s", seed, error->message);
      g_assert_nonnull (strstr (error->message, "bound: "));
      g_assert_nonnull (strstr (error->message, "over its bound of 4096 (capped by --bound-limit)"));
      g_assert_nonnull (strstr (error->message, repro));
    }
  /* Seeds with big values, big multi-key gets or a lying server pass 4 KiB
   * (16 of these 30 do); seeds that drew only polite clients may not. */
  g_assert_cmpuint (failures, >=, 10);
}

/* ---- the command line ---- */

/* Runs braid-sim on a few seeds of "upper"; @stderr_fd (or a pipe when
 * -1) is its stderr.  Returns its stdout. */
static gchar *
run_braid_sim (gint stderr_fd, gchar **err_out)
{
  const gchar *argv[] = { BRAID_SIM_PATH, "--scenario", "upper", "--seeds", "3", NULL };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                        (stderr_fd < 0 ? G_SUBPROCESS_FLAGS_STDERR_PIPE : 0));
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  gchar *out = NULL;

  if (stderr_fd >= 0)
    g_subprocess_launcher_take_stderr_fd (launcher, stderr_fd);
  child = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, NULL, NULL, &out, err_out, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (child));
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);
  return out;
}

static void
test_cli_summary_without_progress (void)
{
  g_autofree gchar *err = NULL;
  g_autofree gchar *out = run_braid_sim (-1, &err);

  g_test_summary ("braid-sim ends with a one-line summary (seeds, failures, seconds) and, when stderr "
                  "is not a terminal (CI logs), shows no progress line");
  g_assert_true (g_regex_match_simple ("^3 seeds, 0 failed, [0-9]+\\.[0-9] s\n$", out, 0, 0));
  g_assert_null (strchr (err, '\r'));
  g_assert_null (strstr (err, "seeds"));
}

/* What the terminal got, once the child is gone: read until EIO. */
static gchar *
read_terminal (gint master)
{
  GString *got = g_string_new (NULL);
  gchar buf[4096];
  gssize n;

  while ((n = read (master, buf, sizeof buf)) > 0)
    g_string_append_len (got, buf, n);
  return g_string_free (got, FALSE);
}

static void
test_cli_progress_on_terminal (void)
{
  gint master = posix_openpt (O_RDWR | O_NOCTTY);
  gint slave;
  g_autofree gchar *out = NULL;
  g_autofree gchar *shown = NULL;

  g_test_summary ("On a terminal, braid-sim shows its progress on stderr as one line rewritten with "
                  "\\r: seeds done of the total, failures so far, elapsed seconds");
  if (master < 0 || grantpt (master) != 0 || unlockpt (master) != 0)
    {
      g_test_skip ("no pseudo-terminal here");
      return;
    }
  slave = open (ptsname (master), O_RDWR | O_NOCTTY);
  g_assert_cmpint (slave, >=, 0);
  out = run_braid_sim (slave, NULL);
  shown = read_terminal (master);
  close (master);
  g_assert_true (g_regex_match_simple ("^3 seeds, 0 failed, [0-9.]+ s\n$", out, 0, 0));
  g_assert_true (g_regex_match_simple ("\r3/3 seeds, 0 failed, [0-9]+\\.[0-9] s", shown, 0, 0));
}

/* ---- the heap watch ---- */

/* Whether the allocator reports what it holds here (not under a
 * sanitizer's allocator, which also reports the twin's leaks itself). */
static gboolean
heap_is_measured (void)
{
  /* A margin and a few tries: another thread (GLib's worker) may free
   * memory between the two readings, which must not read as "blind". */
  for (guint attempt = 0; attempt < 3; attempt++)
    {
      gsize before = braid_sim_heap_in_use ();
      gpointer block = g_malloc0 (4 * 1024 * 1024);
      gboolean measured = braid_sim_heap_in_use () >= before + 3 * 1024 * 1024;

      g_free (block);
      if (measured)
        return TRUE;
    }
  return FALSE;
}

static gboolean
heap_watch_run (const BraidSimScenario *scenario, guint n_seeds, GError **error)
{
  BraidSimHeapWatch watch;
  gboolean ok;

  braid_sim_heap_watch_init (&watch, 1);
  for (guint32 seed = 1; seed <= n_seeds; seed++)
    {
      g_autoptr(BraidSim) sim = braid_sim_new (scenario, seed);

      g_assert_true (braid_sim_run (sim, NULL));
      g_clear_pointer (&sim, braid_sim_free);
      braid_sim_heap_watch_note (&watch);
    }
  ok = braid_sim_heap_watch_check (&watch, BRAID_SIM_HEAP_DEFAULT_SLACK, error);
  braid_sim_heap_watch_clear (&watch);
  return ok;
}

static void
test_heap_catches_leaky_twin (void)
{
  g_autoptr(GError) error = NULL;

  g_test_summary ("A server whose replies are right but that leaks 1 KiB per connection is caught by the heap "
                  "watch within 40 seeds, naming the seeds it grew between");
  if (!heap_is_measured ())
    {
      g_test_skip ("the allocator does not report its heap (a sanitizer's)");
      return;
    }
  g_assert_false (heap_watch_run (&braid_sim_scenario_upper_leaky, 40, &error));
  g_assert_nonnull (strstr (error->message, "from seed 21 to seed 40"));
  g_assert_nonnull (strstr (error->message, "a leak"));
}

static gboolean
run_seed_once (const BraidSimScenario *scenario, guint32 seed)
{
  g_autoptr(BraidSim) sim = braid_sim_new (scenario, seed);

  return braid_sim_run (sim, NULL);
}

/* The exact check needs the tcache off (main restarts this program so):
 * FALSE, skipped, only under a sanitizer's allocator. */
static gboolean
heap_replay_can_run (void)
{
  if (!heap_is_measured ())
    {
      g_test_skip ("the allocator does not report its heap (a sanitizer's)");
      return FALSE;
    }
  g_assert_true (braid_sim_heap_is_exact ());
  return TRUE;
}

static void
test_heap_replay_catches_leaky_twin (void)
{
  g_autoptr(GError) error = NULL;

  g_test_summary ("Replayed, one seed of a server that leaks 1 KiB per connection leaves bytes in the heap: "
                  "the exact check names the seed and the bytes, with no slack and no run of seeds");
  if (!heap_replay_can_run ())
    return;
  g_assert_true (run_seed_once (&braid_sim_scenario_upper_leaky, 3));
  g_assert_false (braid_sim_heap_replay_check (&braid_sim_scenario_upper_leaky, 3, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "upper-leaky seed 3, replayed, left"));
  g_assert_nonnull (strstr (error->message, "a leak"));
}

static void
test_heap_replay_exact (void)
{
  g_test_summary ("Every scenario, each seed replayed, leaves the heap exactly as it found it: the exact "
                  "check never blames a component that does not leak");
  if (!heap_replay_can_run ())
    return;
  for (const BraidSimScenario * const *s = braid_sim_scenarios (); *s != NULL; s++)
    for (guint32 seed = 1; seed <= 8; seed++)
      {
        g_autoptr(GError) error = NULL;

        g_assert_true (run_seed_once (*s, seed));
        if (!braid_sim_heap_replay_check (*s, seed, &error))
          g_error ("%s", error->message);
      }
}

static void
test_heap_replay_needs_tcache_off (void)
{
  if (g_test_subprocess ())
    {
      /* as if started without the tunable: nothing is run or judged */
      g_unsetenv ("GLIBC_TUNABLES");
      g_assert_false (braid_sim_heap_is_exact ());
      g_assert_true (braid_sim_heap_replay_check (&braid_sim_scenario_upper_broken, 1, NULL));
      return;
    }
  g_test_summary ("Without the tunable that turns glibc's tcache off, the exact check does not judge (its "
                  "figures would move by a kilobyte either way): it runs nothing and blames nothing");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_heap_levels_off (void)
{
  g_autoptr(GError) error = NULL;

  g_test_summary ("The upper and proxy scenarios leave nothing behind: over 60 seeds their heap grows by less "
                  "than the slack from the middle seed to the last");
  if (!heap_is_measured ())
    {
      g_test_skip ("the allocator does not report its heap (a sanitizer's)");
      return;
    }
  g_assert_true (heap_watch_run (&braid_sim_scenario_upper, 60, &error));
  g_assert_no_error (error);
  g_assert_true (heap_watch_run (&braid_sim_scenario_proxy, 60, &error));
  g_assert_no_error (error);
}

static void
test_heap_watch_needs_seeds (void)
{
  BraidSimHeapWatch watch;
  gsize fake = 1000;

  g_test_summary ("The watch judges nothing before 20 seeds, and fails exactly past the slack");
  braid_sim_heap_watch_init (&watch, 7);
  for (guint i = 0; i < BRAID_SIM_HEAP_MIN_SEEDS - 1; i++, fake += 1000000)
    g_array_append_val (watch.samples, fake);
  g_assert_true (braid_sim_heap_watch_check (&watch, 0, NULL));
  g_array_set_size (watch.samples, 0);
  for (guint i = 0; i < BRAID_SIM_HEAP_MIN_SEEDS; i++)
    {
      gsize sample = i < BRAID_SIM_HEAP_MIN_SEEDS - 1 ? 1000 : 1000 + 500;

      g_array_append_val (watch.samples, sample);
    }
  /* from seed 7 + 10 (the middle) to seed 7 + 19 (the last): 500 bytes */
  g_assert_true (braid_sim_heap_watch_check (&watch, 500, NULL));
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (braid_sim_heap_watch_check (&watch, 499, &error));
    g_assert_nonnull (strstr (error->message, "grew by 500 bytes from seed 17 to seed 26"));
  }
  braid_sim_heap_watch_clear (&watch);
}

/* 60 samples: flat to the middle, then rising after @rises of the 29
 * seeds of the second half (the first ones) by one byte each. */
static gboolean
creep_check (guint n, guint rises, GError **error)
{
  BraidSimHeapWatch watch;
  gsize level = 100000;
  gboolean ok;

  braid_sim_heap_watch_init (&watch, 1);
  for (guint i = 0; i < n; i++)
    {
      if (i > n / 2 && i <= n / 2 + rises)
        level++;
      g_array_append_val (watch.samples, level);
    }
  ok = braid_sim_heap_watch_check (&watch, BRAID_SIM_HEAP_DEFAULT_SLACK, error);
  braid_sim_heap_watch_clear (&watch);
  return ok;
}

static void
test_heap_watch_creep (void)
{
  g_autoptr(GError) error = NULL;

  g_test_summary ("A leak far under the slack is still a leak when the heap rises after 9 in 10 of the second "
                  "half's seeds, in runs of 60 seeds or more: exactly at those bounds");
  /* 60 seeds: the second half judges seeds 31..59, 29 of them */
  g_assert_false (creep_check (60, 29, &error));
  g_assert_nonnull (strstr (error->message, "the heap rose after 29 of the 29 seeds from seed 32 to seed 60 "
                                            "(by 29 bytes in all)"));
  g_clear_error (&error);
  g_assert_false (creep_check (60, 27, &error));   /* 27 × 10 ≥ 29 × 9 */
  g_assert_nonnull (strstr (error->message, "rose after 27 of the 29 seeds"));
  g_clear_error (&error);
  g_assert_true (creep_check (60, 26, NULL));
  /* 59 seeds: too few to judge a creep (the caches may still fill) */
  g_assert_true (creep_check (59, 28, NULL));
  /* rising after every seed, but ending where the half began: no leak */
  {
    BraidSimHeapWatch watch;

    braid_sim_heap_watch_init (&watch, 1);
    for (guint i = 0; i < 60; i++)
      {
        gsize level = i == 30 ? 200000 : 100000 + i;

        g_array_append_val (watch.samples, level);
      }
    g_assert_true (braid_sim_heap_watch_check (&watch, BRAID_SIM_HEAP_DEFAULT_SLACK, NULL));
    braid_sim_heap_watch_clear (&watch);
  }
}

static void
test_cli_check_heap (void)
{
  const gchar *argv[] = { BRAID_SIM_PATH, "--scenario", "upper-leaky", "--seeds", "30", "--check-heap", NULL };
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL;

  g_test_summary ("braid-sim --check-heap fails a leaking scenario with a FAIL line and exit status 1, and "
                  "each of its seeds, replayed, with a line of its own");
  if (!heap_is_measured ())
    {
      g_test_skip ("the allocator does not report its heap (a sanitizer's)");
      return;
    }
  child = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 1);
  g_assert_true (g_regex_match_simple ("^FAIL upper-leaky: the heap grew by [0-9]+ bytes from seed 16 to seed 30",
                                       out, G_REGEX_MULTILINE, 0));
  /* and, replayed, each seed on its own, with the line that reproduces it */
  g_assert_true (g_regex_match_simple ("^FAIL upper-leaky seed 1, replayed, left [0-9]+ bytes more in the heap "
                                       "than it found: .* \\(reproduce: braid-sim --scenario upper-leaky --seeds 1 "
                                       "--first-seed 1 --check-heap\\)$", out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^30 seeds, 31 failed", out, G_REGEX_MULTILINE, 0));
}

static void
test_cli_fail_fast (void)
{
  const gchar *argv[] = { BRAID_SIM_PATH, "--scenario", "upper-broken", "--seeds", "20", "--fail-fast", NULL };
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL;

  g_test_summary ("braid-sim --fail-fast stops at the first seed that fails (braid-mutate's use: one is a catch)");
  child = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 1);
  g_assert_true (g_regex_match_simple ("^FAIL seed 1 \\(upper-broken\\)", out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^1 seeds, 1 failed", out, G_REGEX_MULTILINE, 0));
}

/* The library reports each lying server with g_message: hundreds of them
 * here, and expected. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  braid_sim_observe_log (fields, n_fields);
  if ((level & G_LOG_LEVEL_MESSAGE) != 0)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

int
main (int argc, char **argv)
{
  braid_sim_heap_make_exact (argv);
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  for (const BraidSimScenario * const *s = braid_sim_scenarios (); *s != NULL; s++)
    {
      g_autofree gchar *seeds = g_strdup_printf ("/sim/%s/seeds", (*s)->name);
      g_autofree gchar *det = g_strdup_printf ("/sim/%s/deterministic", (*s)->name);

      g_test_add_data_func (seeds, *s, test_seeds);
      g_test_add_data_func (det, *s, test_deterministic);
    }
  g_test_add_func ("/sim/catches-broken-server", test_catches_broken);
  g_test_add_func ("/sim/catches-broken-bound", test_catches_broken_bound);
  for (guint i = 0; i < G_N_ELEMENTS (broken_twins); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/sim/catches-twin/%s", broken_twins[i].twin->name);

      g_test_add_data_func (path, &broken_twins[i], test_catches_twin);
    }
  g_test_add_func ("/sim/faithful-relay-passes", test_faithful_relay_passes);
  g_test_add_func ("/sim/twins-not-listed", test_twins_not_listed);
  g_test_add_func ("/sim/cli/summary-without-progress", test_cli_summary_without_progress);
  g_test_add_func ("/sim/cli/progress-on-terminal", test_cli_progress_on_terminal);
  g_test_add_func ("/sim/cli/check-heap", test_cli_check_heap);
  g_test_add_func ("/sim/cli/fail-fast", test_cli_fail_fast);
  g_test_add_func ("/sim/heap/catches-leaky-twin", test_heap_catches_leaky_twin);
  g_test_add_func ("/sim/heap/levels-off", test_heap_levels_off);
  g_test_add_func ("/sim/heap/needs-seeds", test_heap_watch_needs_seeds);
  g_test_add_func ("/sim/heap/creep", test_heap_watch_creep);
  g_test_add_func ("/sim/heap/replay-catches-leaky-twin", test_heap_replay_catches_leaky_twin);
  g_test_add_func ("/sim/heap/replay-exact", test_heap_replay_exact);
  g_test_add_func ("/sim/heap/replay-needs-tcache-off", test_heap_replay_needs_tcache_off);
  return g_test_run ();
}
