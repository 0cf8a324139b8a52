/* braid — does a simulated seed leave memory behind?
 *
 * Each seed builds its world and tears it down, so the heap a process
 * holds after many seeds should level off once GLib's caches and the
 * allocator's free lists have filled.  A component that leaks (a buffer
 * per connection never freed) makes it grow with every seed instead: the
 * watch samples the bytes in use after each seed and compares the middle
 * of the run with its end, allowing a slack for caches that still grow.
 * A leak too small for the slack still shows: the heap rises after
 * nearly every seed of the second half (a creep).  The exact check
 * (braid_sim_heap_replay_check) runs one seed twice instead. */
#pragma once

#include "sim.h"

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

/* The exact check.  A seed's world is deterministic, and its first run
 * has filled GLib's caches and the allocator's free lists: run again, the
 * same seed allocates and frees the same things, so whatever bytes its
 * second run leaves in the heap are a leak, however few and on whichever
 * path that seed alone takes.  Exact only without glibc's per-thread
 * cache (the tcache), whose chunks mallinfo2 counts as in use and whose
 * contents follow the allocation history (a kilobyte either way): the
 * process must start with BRAID_SIM_HEAP_EXACT_TUNABLE in GLIBC_TUNABLES
 * (braid_sim_heap_make_exact). */
#define BRAID_SIM_HEAP_EXACT_TUNABLE "glibc.malloc.tcache_count=0"

/* At the start of main(), before any thread: restarts the program (the
 * same @argv) with the tcache off, unless it is off already or the heap
 * is not measured.  Returns only when it did not restart. */
void braid_sim_heap_make_exact (char **argv);

/* Whether the exact check can run here: the heap is measured (not under a
 * sanitizer's allocator, whose leak check does this job) and the tcache
 * is off. */
gboolean braid_sim_heap_is_exact (void);

/* Call it right after a run of @seed of @scenario: it runs the seed once
 * more and returns FALSE, with @error set, when that run fails (state kept
 * from the first) or leaves the heap bigger than it found it.  TRUE
 * without running where braid_sim_heap_is_exact() is FALSE. */
gboolean braid_sim_heap_replay_check (const BraidSimScenario *scenario, guint32 seed, GError **error);

G_END_DECLS
