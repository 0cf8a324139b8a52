/* braid — does a simulated seed leave memory behind?
 *
 * Each seed builds its world and tears it down, so the heap a process
 * holds after many seeds should level off once GLib's caches and the
 * allocator's free lists have filled.  A component that leaks (a buffer
 * per connection never freed) makes it grow with every seed instead: the
 * watch samples the bytes in use after each seed and compares the middle
 * of the run with its end, allowing a slack for caches that still grow.
 * A leak too small for the slack still shows: the heap rises after
 * nearly every seed of the second half (a creep). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Seeds a run needs before the watch judges it. */
#define BRAID_SIM_HEAP_MIN_SEEDS 20
/* Default growth allowed between the middle and the end of a run. */
#define BRAID_SIM_HEAP_DEFAULT_SLACK (256 * 1024)
/* A creep: in a run of 60 seeds or more, the heap rose after at least
 * 9 in 10 of the second half's seeds, and ended above where the half
 * began.  Without a leak, the most measured was 2 in 3 (the proxy
 * scenario, 60 seeds; 55 % at 100 seeds); under 60 seeds the caches
 * are still filling, and rises after 3 in 4 seeds happened. */
#define BRAID_SIM_HEAP_CREEP_MIN_SEEDS 60
#define BRAID_SIM_HEAP_CREEP_NUMERATOR 9
#define BRAID_SIM_HEAP_CREEP_DENOMINATOR 10

/* Bytes the allocator has handed out and not had back (malloc'd and
 * mmapped); 0 where the allocator does not say (a sanitizer's). */
gsize braid_sim_heap_in_use (void);

typedef struct {
  GArray *samples;   /* (element-type gsize): bytes in use after each seed */
  guint32 first_seed;
} BraidSimHeapWatch;

void braid_sim_heap_watch_init (BraidSimHeapWatch *watch, guint32 first_seed);
void braid_sim_heap_watch_clear (BraidSimHeapWatch *watch);
/* After each seed, once its world is torn down. */
void braid_sim_heap_watch_note (BraidSimHeapWatch *watch);
/* FALSE, with @error set, when the heap grew by more than @slack bytes
 * from the run's middle seed to its last, or crept up (see above); TRUE
 * when it did neither, or when there are too few seeds or no measurement
 * to judge. */
gboolean braid_sim_heap_watch_check (const BraidSimHeapWatch *watch, gsize slack, GError **error);

G_END_DECLS
