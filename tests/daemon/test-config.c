/* braid — strict daemon configuration files. */
#include "test-support.h"
#include "daemon-config.h"

#include <string.h>

typedef struct {
  gchar *listen;
  gchar **memcached;
  gint64 memory;
  gboolean cache;
  gdouble ttl;
  gboolean memory_from_cli;
} Settings;

static void
settings_clear (Settings *s)
{
  g_free (s->listen);
  g_strfreev (s->memcached);
}

static gsize
make_options (Settings *s, BraidConfigOption *o)
{
  BraidConfigOption options[] = {
    { "Server", "Listen", BRAID_CONFIG_STRING, &s->listen, 0, 0, NULL },
    { "Server", "MemoryMiB", BRAID_CONFIG_INT, &s->memory, 1, 65536, &s->memory_from_cli },
    { "Cache", "Memcached", BRAID_CONFIG_STRING_LIST, &s->memcached, 0, 0, NULL },
    { "Cache", "Enabled", BRAID_CONFIG_BOOLEAN, &s->cache, 0, 0, NULL },
    { "Cache", "TTLSeconds", BRAID_CONFIG_DOUBLE, &s->ttl, 0, 86400, NULL },
  };

  memcpy (o, options, sizeof options);
  return G_N_ELEMENTS (options);
}

static void
test_good (void)
{
  Settings s = { g_strdup ("tcp:1"), NULL, 64, TRUE, 0, FALSE };
  BraidConfigOption o[8];
  gsize n = make_options (&s, o);
  g_autoptr(GError) error = NULL;
  const gchar *text =
    "# braid test\n"
    "[Server]\n"
    "Listen = tcp:11211\n"
    "MemoryMiB=128\n"
    "\n"
    "[Cache]\n"
    "Memcached = tcp:a:1, tcp:b:2;tcp:c:3\n"
    "Enabled = no\n"
    "TTLSeconds = 2.5\n";

  g_test_summary ("Every value type is read; values not in the file keep their defaults");
  g_assert_true (braid_config_load_data (text, "good.conf", o, n, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (s.listen, ==, "tcp:11211");
  g_assert_cmpint (s.memory, ==, 128);
  g_assert_cmpuint (g_strv_length (s.memcached), ==, 3);
  g_assert_cmpstr (s.memcached[2], ==, "tcp:c:3");
  g_assert_false (s.cache);
  g_assert_cmpfloat (s.ttl, ==, 2.5);
  settings_clear (&s);
}

static void
test_command_line_wins (void)
{
  Settings s = { NULL, NULL, 512, TRUE, 0, TRUE };
  BraidConfigOption o[8];
  gsize n = make_options (&s, o);

  g_test_summary ("Options given on the command line are not overridden by the file");
  g_assert_true (braid_config_load_data ("[Server]\nMemoryMiB = 128\n", "c.conf", o, n, NULL));
  g_assert_cmpint (s.memory, ==, 512);
  settings_clear (&s);
}

typedef struct {
  const gchar *text;
  gint code;
  const gchar *message;
} Bad;

static const Bad bad[] = {
  { "[Server]\nListen tcp:1\n", BRAID_CONFIG_ERROR_SYNTAX, "bad.conf:2: expected “key = value”" },
  { "Listen = x\n", BRAID_CONFIG_ERROR_SYNTAX, "bad.conf:1: key outside of any [Group]" },
  { "[Server\n", BRAID_CONFIG_ERROR_SYNTAX, "bad.conf:1: a group header" },
  { "[Server]\n\n[Nope]\nA=1\n", BRAID_CONFIG_ERROR_UNKNOWN_KEY, "bad.conf:3: unknown group [Nope]" },
  { "[Server]\nListen=x\nListn = y\n", BRAID_CONFIG_ERROR_UNKNOWN_KEY, "bad.conf:3: unknown key “Listn” in [Server]" },
  { "[Server]\nMemoryMiB = lots\n", BRAID_CONFIG_ERROR_BAD_VALUE, "bad.conf:2: [Server] MemoryMiB = lots: not a whole number" },
  { "[Server]\nMemoryMiB = 0\n", BRAID_CONFIG_ERROR_BAD_VALUE, "bad.conf:2: [Server] MemoryMiB = 0: must be from 1 to 65536" },
  { "[Cache]\nEnabled = maybe\n", BRAID_CONFIG_ERROR_BAD_VALUE, "bad.conf:2: [Cache] Enabled = maybe: expected true or false" },
  { "[Cache]\n\n\nTTLSeconds = -1\n", BRAID_CONFIG_ERROR_BAD_VALUE, "bad.conf:4: [Cache] TTLSeconds = -1" },
};

static void
test_bad (void)
{
  g_test_summary ("Syntax errors, unknown groups and keys and bad values name the file and line; nothing is half-applied");
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      Settings s = { g_strdup ("default"), NULL, 64, TRUE, 0, FALSE };
      BraidConfigOption o[8];
      gsize n = make_options (&s, o);
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_false (braid_config_load_data (bad[i].text, "bad.conf", o, n, &error));
      g_assert_error (error, BRAID_CONFIG_ERROR, bad[i].code);
      if (strstr (error->message, bad[i].message) == NULL)
        g_error ("expected an error containing “%s” but saw “%s”", bad[i].message, error->message);
      g_assert_cmpstr (s.listen, ==, "default");
      settings_clear (&s);
    }
}

static void
test_scan_argv (void)
{
  char *a1[] = { "prog", "-p", "1", "--config", "/x.conf", NULL };
  char *a2[] = { "prog", "--config=/y.conf", NULL };
  char *a3[] = { "prog", "--", "--config", "/z", NULL };
  g_autofree gchar *c1 = braid_config_scan_argv (5, a1);
  g_autofree gchar *c2 = braid_config_scan_argv (2, a2);
  g_autofree gchar *c3 = braid_config_scan_argv (4, a3);

  g_test_summary ("--config is found before the command line is parsed");
  g_assert_cmpstr (c1, ==, "/x.conf");
  g_assert_cmpstr (c2, ==, "/y.conf");
  g_assert_null (c3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/daemon/config/good", test_good);
  g_test_add_func ("/daemon/config/command-line-wins", test_command_line_wins);
  g_test_add_func ("/daemon/config/bad", test_bad);
  g_test_add_func ("/daemon/config/scan-argv", test_scan_argv);
  return g_test_run ();
}
