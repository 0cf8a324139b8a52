/* braid — memcached's binary protocol checked with real clients:
 * libmemcached's memccp, memccat and memcrm with --binary, pylibmc with
 * binary=True and PHP's Memcached with OPT_BINARY_PROTOCOL.  Each runs
 * against braid-memcached and, where it is installed, against memcached
 * itself, and must give the same results from both. */
#include "test-support.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

/* Whether @program exits 0 when run with @args (a probe for a module). */
static gboolean
probe (const gchar *program, const gchar *flag, const gchar *code)
{
  g_autofree gchar *out = NULL;
  const gchar *argv[] = { program, flag, code, NULL };

  if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  return braid_test_run_tool (argv, &out) == 0;
}

/* Runs a client session script (@interpreter @script PORT) against each
 * server and checks that every server gave the lines the first one gave,
 * and that braid's contain each of @must_have. */
static void
compare_script (const gchar *interpreter, const gchar *script, const gchar *const *must_have)
{
  g_autoptr(GPtrArray) servers = braid_test_servers_start (NULL, NULL);
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "mc", "binary-clients", script, NULL);
  g_autofree gchar *first = NULL;

  for (guint i = 0; i < servers->len; i++)
    {
      BraidTestServer *s = g_ptr_array_index (servers, i);
      g_autofree gchar *port = g_strdup_printf ("%u", s->port);
      const gchar *argv[] = { interpreter, path, port, NULL };
      g_autofree gchar *out = NULL;

      g_test_message ("%s against %s", script, s->name);
      g_assert_cmpint (braid_test_run_tool (argv, &out), ==, 0);
      if (i == 0)
        {
          for (guint k = 0; must_have[k] != NULL; k++)
            if (strstr (out, must_have[k]) == NULL)
              g_error ("%s against %s: expected a line \"%s\" in:\n%s", script, s->name, must_have[k], out);
          first = g_steal_pointer (&out);
        }
      else
        g_assert_cmpstr (out, ==, first);
    }
  braid_test_servers_stop (g_steal_pointer (&servers));
}

static void
test_pylibmc (void)
{
  static const gchar *const must_have[] = {
    "get_multi: [('k1', 'v1'), ('k2', b'v2'), ('k3', 3)]\n",
    "get appended: '<<BETA>>'\n",
    "cas right: True\ncas stale: False\n",
    "incr: 15\ndecr: 12\ndecr below zero: 0\n",
    "touch: True\ntouch missing: False\n",
    "get large: True\n",
    "set too large: 'raised TooBig'\n",
    "get after flush: None\n",
    NULL,
  };

  g_test_summary ("pylibmc with binary=True: set, get, get_multi, add, replace, append, prepend, gets and "
                  "cas, incr, decr, delete, touch and flush_all give the same results from braid-memcached "
                  "as from memcached");
  if (!probe ("/usr/bin/python3", "-c", "import pylibmc"))
    {
      g_test_skip ("python3-pylibmc is not installed (tools/braid-dev deps)");
      return;
    }
  compare_script ("/usr/bin/python3", "pylibmc-session.py", must_have);
}

static void
test_php_memcached (void)
{
  static const gchar *const must_have[] = {
    "getMulti: {\"k1\":\"v1\",\"k2\":\"v2\",\"k3\":3} (0)\n",
    "cas right: true (0)\ncas stale: false (12)\n",
    "increment with initial: 42 (0)\nincrement after initial: 43 (0)\ndecrement with initial: 7 (0)\n",
    "get large: true (0)\n",
    "get after flush: false (16)\n",
    NULL,
  };
  g_autofree gchar *php = g_find_program_in_path ("php");

  g_test_summary ("PHP's Memcached with OPT_BINARY_PROTOCOL (incr/decr with an initial value included, and "
                  "getAllKeys) gives the same results and result codes from braid-memcached as from "
                  "memcached");
  if (php == NULL || !probe (php, "-r", "exit(class_exists('Memcached') ? 0 : 1);"))
    {
      g_test_skip ("php-cli with php-memcached is not installed (tools/braid-dev deps)");
      return;
    }
  compare_script (php, "php-session.php", must_have);
}

static void
test_counters (void)
{
  static const gchar *const must_have[] = {
    "statuses: [0, 0, 1, 0, 2, 1, 0, 2, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1]\n",
    "cmd_get 4\ncmd_set 7\ncmd_flush 1\ncmd_touch 4\nget_hits 2\nget_misses 2\n",
    "cas_misses 1\ncas_hits 0\ncas_badval 1\ntouch_hits 2\ntouch_misses 2\n",
    NULL,
  };

  g_test_summary ("Raw binary requests (get, getk, set, add, replace, append, cas, delete, incr, decr, "
                  "touch, gat, gatk, flush) move the same counters, read with a binary STAT, on "
                  "braid-memcached as on memcached");
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("/usr/bin/python3 is not installed");
      return;
    }
  compare_script ("/usr/bin/python3", "counters-session.py", must_have);
}

/* memccp a file, memccat it, memcrm it, memccat and memcrm it again: the
 * exit statuses and outputs, as one transcript. */
static gchar *
libmemcached_transcript (guint16 port, const gchar *dir)
{
  g_autofree gchar *servers = g_strdup_printf ("--servers=127.0.0.1:%u", port);
  g_autofree gchar *file = g_build_filename (dir, "braid-binary.txt", NULL);
  const gchar *steps[][2] = {
    { "memccp", file }, { "memccat", "braid-binary.txt" }, { "memcrm", "braid-binary.txt" },
    { "memccat", "braid-binary.txt" }, { "memcrm", "braid-binary.txt" },
  };
  GString *transcript = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      const gchar *argv[] = { steps[i][0], "--binary", servers, steps[i][1], NULL };
      g_autofree gchar *out = NULL;
      gint status = braid_test_run_tool (argv, &out);

      g_string_append_printf (transcript, "%s: exit %d\n%s", steps[i][0], status, out);
    }
  return g_string_free (transcript, FALSE);
}

static void
test_libmemcached_tools (void)
{
  g_autoptr(GPtrArray) servers = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *file = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *memccp = g_find_program_in_path ("memccp");

  g_test_summary ("libmemcached's memccp, memccat and memcrm with --binary store, read and remove a file "
                  "on braid-memcached as on memcached, and fail alike once it is gone");
  if (memccp == NULL)
    {
      g_test_skip ("libmemcached-tools is not installed (tools/braid-dev deps)");
      return;
    }
  dir = g_dir_make_tmp ("braid-binary-XXXXXX", &error);
  g_assert_no_error (error);
  file = g_build_filename (dir, "braid-binary.txt", NULL);
  g_file_set_contents (file, "hello over the binary protocol\nsecond line\n", -1, &error);
  g_assert_no_error (error);

  servers = braid_test_servers_start (NULL, NULL);
  for (guint i = 0; i < servers->len; i++)
    {
      BraidTestServer *s = g_ptr_array_index (servers, i);
      g_autofree gchar *transcript = libmemcached_transcript (s->port, dir);

      if (i == 0)
        {
          g_assert_nonnull (strstr (transcript, "memccat: exit 0\nhello over the binary protocol\nsecond line\n"));
          g_assert_nonnull (strstr (transcript, "memcrm: exit 0\nmemccat: exit 1\n"));
          first = g_steal_pointer (&transcript);
        }
      else
        g_assert_cmpstr (transcript, ==, first);
    }
  braid_test_servers_stop (g_steal_pointer (&servers));
  g_unlink (file);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/binary-integration/libmemcached-tools", test_libmemcached_tools);
  g_test_add_func ("/mc/binary-integration/pylibmc", test_pylibmc);
  g_test_add_func ("/mc/binary-integration/php-memcached", test_php_memcached);
  g_test_add_func ("/mc/binary-integration/counters", test_counters);
  return g_test_run ();
}
