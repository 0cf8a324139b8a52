/* braid — the heap watch of the simulation: see sim-heap.h. */
#include "sim-heap.h"

#include <gio/gio.h>
#include <malloc.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

gsize
braid_sim_heap_in_use (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return info.uordblks + info.hblkhd;
}

void
braid_sim_heap_watch_init (BraidSimHeapWatch *watch, guint32 first_seed)
{
  watch->samples = g_array_new (FALSE, FALSE, sizeof (gsize));
  watch->first_seed = first_seed;
}

void
braid_sim_heap_watch_clear (BraidSimHeapWatch *watch)
{
  g_clear_pointer (&watch->samples, g_array_unref);
}

void
braid_sim_heap_watch_note (BraidSimHeapWatch *watch)
{
  gsize in_use = braid_sim_heap_in_use ();

  g_array_append_val (watch->samples, in_use);
}

/* Seeds of the run's second half after which the heap rose. */
static guint
rises_in_second_half (const BraidSimHeapWatch *watch)
{
  guint rises = 0;

  for (guint i = watch->samples->len / 2 + 1; i < watch->samples->len; i++)
    if (g_array_index (watch->samples, gsize, i) > g_array_index (watch->samples, gsize, i - 1))
      rises++;
  return rises;
}

gboolean
braid_sim_heap_watch_check (const BraidSimHeapWatch *watch, gsize slack, GError **error)
{
  guint n = watch->samples->len;
  guint middle = n / 2;
  guint judged = n - 1 - middle;
  gsize at_middle, at_end;
  guint rises;

  if (n < BRAID_SIM_HEAP_MIN_SEEDS)
    return TRUE;
  at_middle = g_array_index (watch->samples, gsize, middle);
  at_end = g_array_index (watch->samples, gsize, n - 1);
  if (at_middle == 0 || at_end <= at_middle)
    return TRUE;
  if (at_end > at_middle + slack)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the heap grew by %" G_GSIZE_FORMAT " bytes from seed %u to seed %u, more than the %" G_GSIZE_FORMAT
                   " allowed: memory each seed leaves behind (a leak?)",
                   at_end - at_middle, watch->first_seed + middle, watch->first_seed + n - 1, slack);
      return FALSE;
    }
  /* A small leak stays under the slack for a long time, but it leaves
   * something behind after (nearly) every seed, where caches filling up
   * or a fluctuating free list rise after some seeds and stay put or fall
   * after the others. */
  rises = rises_in_second_half (watch);
  if (n < BRAID_SIM_HEAP_CREEP_MIN_SEEDS ||
      rises * BRAID_SIM_HEAP_CREEP_DENOMINATOR < judged * BRAID_SIM_HEAP_CREEP_NUMERATOR)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "the heap rose after %u of the %u seeds from seed %u to seed %u (by %" G_GSIZE_FORMAT
               " bytes in all): memory each seed leaves behind (a leak?)",
               rises, judged, watch->first_seed + middle + 1, watch->first_seed + n - 1, at_end - at_middle);
  return FALSE;
}

void
braid_sim_heap_make_exact (char **argv)
{
  const gchar *tunables = g_getenv ("GLIBC_TUNABLES");
  g_autofree gchar *wanted = NULL;

  if (braid_sim_heap_in_use () == 0 || braid_sim_heap_is_exact ())
    return;
  wanted = tunables != NULL && *tunables != '\0' ? g_strconcat (tunables, ":", BRAID_SIM_HEAP_EXACT_TUNABLE, NULL)
                                                 : g_strdup (BRAID_SIM_HEAP_EXACT_TUNABLE);
  g_setenv ("GLIBC_TUNABLES", wanted, TRUE);
  execv ("/proc/self/exe", argv);
  g_warning ("could not restart with %s (%s): the exact heap check is off", wanted, g_strerror (errno));
  if (tunables != NULL)
    g_setenv ("GLIBC_TUNABLES", tunables, TRUE);
  else
    g_unsetenv ("GLIBC_TUNABLES");
}

gboolean
braid_sim_heap_is_exact (void)
{
  const gchar *tunables = g_getenv ("GLIBC_TUNABLES");

  return braid_sim_heap_in_use () != 0 && tunables != NULL && strstr (tunables, BRAID_SIM_HEAP_EXACT_TUNABLE) != NULL;
}

gboolean
braid_sim_heap_replay_check (const BraidSimScenario *scenario, guint32 seed, GError **error)
{
  gsize before, after;

  if (!braid_sim_heap_is_exact ())
    return TRUE;
  before = braid_sim_heap_in_use ();
  {
    g_autoptr(BraidSim) sim = braid_sim_new (scenario, seed);
    g_autoptr(GError) failure = NULL;

    if (!braid_sim_run (sim, &failure))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "%s seed %u failed when replayed (state kept from its first run?): %s", scenario->name, seed,
                     failure->message);
        return FALSE;
      }
  }
  after = braid_sim_heap_in_use ();
  if (after <= before)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "%s seed %u, replayed, left %" G_GSIZE_FORMAT " bytes more in the heap than it found: memory the "
               "seed leaves behind (a leak)", scenario->name, seed, after - before);
  return FALSE;
}
