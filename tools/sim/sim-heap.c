/* braid — the heap watch of the simulation: see sim-heap.h. */
#include "sim-heap.h"

#include <gio/gio.h>
#include <malloc.h>

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

gboolean
braid_sim_heap_watch_check (const BraidSimHeapWatch *watch, gsize slack, GError **error)
{
  guint n = watch->samples->len;
  guint middle = n / 2;
  gsize at_middle, at_end;

  if (n < BRAID_SIM_HEAP_MIN_SEEDS)
    return TRUE;
  at_middle = g_array_index (watch->samples, gsize, middle);
  at_end = g_array_index (watch->samples, gsize, n - 1);
  if (at_middle == 0 || at_end <= at_middle + slack)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "the heap grew by %" G_GSIZE_FORMAT " bytes from seed %u to seed %u, more than the %" G_GSIZE_FORMAT
               " allowed: memory each seed leaves behind (a leak?)",
               at_end - at_middle, watch->first_seed + middle, watch->first_seed + n - 1, slack);
  return FALSE;
}
