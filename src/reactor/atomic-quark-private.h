/* braid — error quarks that reactor threads may create at the same time.
 *
 * G_DEFINE_QUARK caches its quark in a static that it reads and writes
 * without atomics: two reactor threads meeting their first error at once
 * race on it (ThreadSanitizer reports it; C11 calls it undefined).  This
 * is the same function with atomic accesses; g_quark_from_static_string()
 * itself is thread-safe and gives both threads the same quark. */
#pragma once

#include <glib.h>

#define BRAID_DEFINE_QUARK(QN, q_n) \
  GQuark q_n##_quark (void) \
  { \
    static gint quark; \
    gint value = g_atomic_int_get (&quark); \
    if (G_UNLIKELY (value == 0)) \
      { \
        value = (gint) g_quark_from_static_string (#QN); \
        g_atomic_int_set (&quark, value); \
      } \
    return (GQuark) value; \
  }
