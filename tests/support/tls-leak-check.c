/* braid — leak checking in test programs that load glib-networking.
 *
 * LeakSanitizer's exit-time check crashes in such processes ("Tracer
 * caught signal 11"): with glibc 2.36 it misreads the dynamic TLS block
 * (DTLS) of a thread that used GnuTLS, with GCC's and clang's runtime
 * alike.  use_tls=0 skips every thread's TLS and the crash with it; the
 * price is that what GLib keeps per thread through GPrivate (its slice
 * magazines, the current-source stack, the charset caches, the thread
 * default contexts) is referenced from nowhere LeakSanitizer looks, and is
 * reported as leaked.
 *
 * So braid_test_exit_after_tls() runs the check itself before exiting,
 * with the report captured, and keeps a leak only if
 *   - braid's code (src/, fakes/, tests/) is on its allocation stack: a
 *     leak inside GLib's or GnuTLS's own threads is theirs, and
 *   - it is not GLib's per-thread state: allocated by GLib's unnamed
 *     GPrivate allocator right under g_malloc0, or by one of the few
 *     functions that fill per-thread caches.
 * A kept leak is printed and fails the program.  The exit-time check,
 * which would crash, is skipped by _exit().
 *
 * This file is linked only into the programs that call
 * braid_test_exit_after_tls() (the support library is static), so the
 * option below changes nothing for the other tests. */
#include "test-support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)

const char *__lsan_default_options (void);
const char *__asan_default_options (void);
int __lsan_do_recoverable_leak_check (void);

const char *
__lsan_default_options (void)
{
  return "use_tls=0";
}

/* Whole allocation stacks: GLib is built without frame pointers, so the
 * fast unwinder stops at g_malloc and never reaches braid's frames. */
const char *
__asan_default_options (void)
{
  return "fast_unwind_on_malloc=0";
}

/* The function named in a report's frame line ("    #3 0x… in NAME …"),
 * or "" for an unnamed one. */
static gchar *
frame_function (const gchar *line)
{
  const gchar *in = strstr (line, " in ");

  if (in == NULL)
    return g_strdup ("");
  in += 4;
  return g_strndup (in, strcspn (in, " "));
}

static gboolean
is_frame_line (const gchar *line)
{
  return line[strspn (line, " ")] == '#';
}

static gboolean
is_braid_frame (const gchar *line)
{
  return strstr (line, "/src/") != NULL || strstr (line, "/fakes/") != NULL || strstr (line, "/tests/") != NULL;
}

/* GLib functions that allocate per-thread state, and nothing a caller
 * would own. */
static gboolean
is_per_thread_filler (const gchar *function)
{
  static const gchar *const fillers[] = {
    "g_get_charset", "g_get_filename_charsets", "g_main_current_source", "g_thread_self",
    "g_main_context_push_thread_default",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fillers); i++)
    if (g_str_equal (function, fillers[i]))
      return TRUE;
  return FALSE;
}

/* @frames: one leak's stack, frame lines only. */
static gboolean
is_glib_per_thread (GPtrArray *frames)
{
  for (guint i = 1; i < frames->len && i <= 4; i++)
    {
      g_autofree gchar *function = frame_function (g_ptr_array_index (frames, i));

      if (is_per_thread_filler (function))
        return TRUE;
    }
  /* GPrivate's allocator (g_private_set_alloc0, static: unnamed) */
  if (frames->len > 2)
    {
      g_autofree gchar *first = frame_function (g_ptr_array_index (frames, 1));
      g_autofree gchar *second = frame_function (g_ptr_array_index (frames, 2));
      const gchar *line = g_ptr_array_index (frames, 2);

      if (g_str_equal (first, "g_malloc0") && second[0] == '\0' && strstr (line, "libglib-2.0.so") != NULL)
        return TRUE;
    }
  return FALSE;
}

static gboolean
is_braids (GPtrArray *frames)
{
  for (guint i = 0; i < frames->len; i++)
    if (is_braid_frame (g_ptr_array_index (frames, i)))
      return !is_glib_per_thread (frames);
  return FALSE;
}

/* Prints the leaks of @report that are braid's; returns how many. */
static guint
print_braids_leaks (const gchar *report)
{
  g_auto(GStrv) lines = g_strsplit (report, "\n", -1);
  guint kept = 0, ignored = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GPtrArray) frames = NULL;
      guint head = i;

      if (!g_str_has_prefix (lines[i], "Direct leak") && !g_str_has_prefix (lines[i], "Indirect leak"))
        continue;
      frames = g_ptr_array_new ();
      while (lines[i + 1] != NULL && is_frame_line (lines[i + 1]))
        g_ptr_array_add (frames, lines[++i]);
      if (!is_braids (frames))
        {
          ignored++;
          continue;
        }
      kept++;
      fprintf (stderr, "%s\n", lines[head]);
      for (guint j = 0; j < frames->len; j++)
        fprintf (stderr, "%s\n", (const gchar *) g_ptr_array_index (frames, j));
      fprintf (stderr, "\n");
    }
  fprintf (stderr, "braid leak check: %u leak(s) from braid's code, %u of GLib's per-thread state or inside "
           "its own threads ignored (tests/support/tls-leak-check.c)\n", kept, ignored);
  return kept;
}

/* Runs LeakSanitizer now, its report captured; returns how many leaks
 * are braid's. */
static guint
check_leaks (void)
{
  gchar path[] = "/tmp/braid-lsan-XXXXXX";
  g_autofree gchar *report = NULL;
  int fd = mkstemp (path);
  int saved = dup (STDERR_FILENO);
  int leaked;

  if (fd < 0 || saved < 0)
    g_error ("braid leak check: no temporary file for the report");
  dup2 (fd, STDERR_FILENO);
  leaked = __lsan_do_recoverable_leak_check ();
  fflush (stderr);
  dup2 (saved, STDERR_FILENO);
  close (saved);
  close (fd);
  if (!g_file_get_contents (path, &report, NULL, NULL))
    report = g_strdup ("");
  unlink (path);
  return leaked ? print_braids_leaks (report) : 0;
}

#endif

int
braid_test_exit_after_tls (int status)
{
#if defined(__SANITIZE_ADDRESS__)
  fflush (stdout);
  fflush (stderr);
  if (check_leaks () > 0 && status == 0)
    status = 1;
  _exit (status);
#endif
  return status;
}
