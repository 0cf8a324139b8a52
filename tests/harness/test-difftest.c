/* braid — braid-difftest: the same seed gives the same output, a server
 * that behaves differently is caught, and a run against Debian's
 * memcached completes with its summary. */
#include "test-support.h"

#include <string.h>

static const gchar * const server_args[] = { "-I", "64k", "-m", "64", NULL };
static const gchar * const no_flush_args[] = { "-I", "64k", "-m", "64", "-F", NULL };

/* Runs braid-difftest against 127.0.0.1:@reference and :@target; returns
 * its standard output and sets *@status to its exit status. */
static gchar *
run_difftest (guint16 reference, guint16 target, guint seed, guint sessions,
              gboolean shrink, gint *status)
{
  g_autofree gchar *path = braid_test_build_path ("tools/braid-difftest");
  g_autofree gchar *ref = g_strdup_printf ("127.0.0.1:%u", reference);
  g_autofree gchar *tgt = g_strdup_printf ("127.0.0.1:%u", target);
  g_autofree gchar *seed_arg = g_strdup_printf ("%u", seed);
  g_autofree gchar *sessions_arg = g_strdup_printf ("%u", sessions);
  const gchar *argv[] = {
    path, "--reference", ref, "--target", tgt, "--seed", seed_arg,
    "--sessions", sessions_arg, shrink ? "--shrink" : NULL, NULL,
  };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  gchar *out = NULL;

  g_test_message ("%s --reference %s --target %s --seed %s --sessions %s%s",
                  path, ref, tgt, seed_arg, sessions_arg, shrink ? " --shrink" : "");
  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  *status = g_subprocess_get_exit_status (process);
  return out;
}

/* The "N sessions, M divergent" line's M, or fails the test. */
static guint
summary_divergent (const gchar *out, guint sessions)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_autofree gchar *prefix = g_strdup_printf ("%u sessions, ", sessions);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && g_str_has_suffix (lines[i], " divergent"))
      return (guint) g_ascii_strtoull (lines[i] + strlen (prefix), NULL, 10);
  g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,
                       "expected a line \"N sessions, M divergent\" but saw none in the output");
  return 0;
}

static void
stop (GSubprocess *process)
{
  g_subprocess_force_exit (process);
  g_subprocess_wait (process, NULL, NULL);
}

static void
test_difftest_catches_different_server (void)
{
  guint16 a, b;
  g_autoptr(GSubprocess) plain = braid_test_start_memcached (&a, server_args);
  g_autoptr(GSubprocess) no_flush = braid_test_start_memcached (&b, no_flush_args);
  gint status;
  g_autofree gchar *out = NULL;

  g_test_summary ("Against braid-memcached -F (flush_all refused), the tool reports divergences "
                  "and exits 1");
  out = run_difftest (a, b, 1, 10, TRUE, &status);
  g_test_message ("%s", out);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (summary_divergent (out, 10), >, 0);
  g_assert_nonnull (strstr (out, "divergence ["));
  g_assert_nonnull (strstr (out, "flush_all not allowed"));
  stop (plain);
  stop (no_flush);
}

static GSubprocess *
spawn_debian_memcached (const gchar *memcached, guint16 *port)
{
  g_autofree gchar *port_arg = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  *port = braid_test_find_free_port ();
  port_arg = g_strdup_printf ("%u", *port);
  /* memcached refuses -I below its default slab_chunk_max */
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              memcached, "-u", "root", "-p", port_arg, "-U", "0", "-l", "127.0.0.1",
                              "-I", "64k", "-m", "64", "-o", "slab_chunk_max=32768", NULL);
  g_assert_no_error (error);
  if (!braid_test_wait_for_port (*port, 10000))
    g_error ("memcached did not start on port %u", *port);
  return process;
}

static void
test_difftest_deterministic (void)
{
  g_autofree gchar *memcached = g_find_program_in_path ("memcached");
  g_autoptr(GSubprocess) reference = NULL;
  g_autoptr(GSubprocess) target = NULL;
  g_autoptr(GSubprocess) twin = NULL;
  static const guint seeds[] = { 1, 1000, 424242 };
  guint16 r, t, w;

  g_test_summary ("The same seed gives byte-identical output, shrunk sessions included, "
                  "and a server compared with itself never diverges");
  target = braid_test_start_memcached (&t, server_args);
  /* "with itself" means a twin started the same way: one server against
   * itself would see its own cas counter move between the two runs */
  twin = braid_test_start_memcached (&w, server_args);
  /* both servers must honour flush_all, or one run's items leak into the next */
  if (memcached != NULL)
    reference = spawn_debian_memcached (memcached, &r);
  else
    reference = braid_test_start_memcached (&r, server_args);
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
    {
      gint s1, s2, s3;
      g_autofree gchar *first = run_difftest (r, t, seeds[i], 8, TRUE, &s1);
      g_autofree gchar *second = run_difftest (r, t, seeds[i], 8, TRUE, &s2);
      g_autofree gchar *self = run_difftest (t, w, seeds[i], 20, FALSE, &s3);

      braid_assert_bytes_equal (first, strlen (first), second, strlen (second));
      g_assert_cmpint (s1, ==, s2);
      g_assert_cmpint (s3, ==, 0);
      g_assert_cmpuint (summary_divergent (self, 20), ==, 0);
    }
  stop (reference);
  stop (target);
  stop (twin);
}

static void
test_difftest_memcached (void)
{
  g_autofree gchar *memcached = g_find_program_in_path ("memcached");
  g_autoptr(GSubprocess) reference = NULL;
  g_autoptr(GSubprocess) target = NULL;
  guint16 r, t;
  gint status;
  g_autofree gchar *out = NULL;

  g_test_summary ("Against Debian's memcached, a seeded run completes and prints its summary "
                  "(divergences are reported, not asserted away)");
  if (memcached == NULL)
    {
      g_test_skip ("memcached is not installed (apt-get install memcached)");
      return;
    }
  reference = spawn_debian_memcached (memcached, &r);
  target = braid_test_start_memcached (&t, server_args);
  out = run_difftest (r, t, 1, 40, FALSE, &status);
  g_test_message ("%s", out);
  g_assert_cmpint (status, >=, 0);
  g_assert_cmpint (status, <=, 1);
  g_assert_cmpint (status == 0, ==, summary_divergent (out, 40) == 0);
  stop (reference);
  stop (target);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/harness/difftest/deterministic", test_difftest_deterministic);
  g_test_add_func ("/harness/difftest/catches-different-server", test_difftest_catches_different_server);
  g_test_add_func ("/harness/difftest/memcached", test_difftest_memcached);
  return g_test_run ();
}
