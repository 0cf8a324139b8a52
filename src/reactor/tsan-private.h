/* braid — telling ThreadSanitizer about synchronisation it cannot see.
 *
 * GLib is not built with -fsanitize=thread: its GMutex is a futex of its
 * own and g_main_context_invoke() hands data over under the context's
 * lock, so TSan sees neither edge and reports the data as raced.  Where
 * braid relies on one, it says so: BRAID_TSAN_RELEASE (addr) in the
 * thread that hands over (or unlocks), BRAID_TSAN_ACQUIRE (addr) in the
 * one that takes over (or locks).  Outside a TSan build both are empty.
 * Private; never installed. */
#pragma once

#include <glib.h>

#if defined(__SANITIZE_THREAD__)
# define BRAID_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define BRAID_TSAN 1
# endif
#endif

#ifdef BRAID_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
# define BRAID_TSAN_ACQUIRE(addr) __tsan_acquire ((void *) (addr))
# define BRAID_TSAN_RELEASE(addr) __tsan_release ((void *) (addr))
#else
# define BRAID_TSAN_ACQUIRE(addr) ((void) (addr))
# define BRAID_TSAN_RELEASE(addr) ((void) (addr))
#endif

/* A GMutex that TSan sees. */
static inline void
braid_mutex_lock (GMutex *mutex)
{
  g_mutex_lock (mutex);
  BRAID_TSAN_ACQUIRE (mutex);
}

static inline void
braid_mutex_unlock (GMutex *mutex)
{
  BRAID_TSAN_RELEASE (mutex);
  g_mutex_unlock (mutex);
}
