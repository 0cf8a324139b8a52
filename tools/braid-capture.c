/* braid-capture — a recording relay.
 *
 *   braid-capture --listen tcp:22122 --upstream tcp:127.0.0.1:11211 \
 *                 --output fixtures/memcached --prefix memccp --memcached-rules
 *
 * Every connection accepted on --listen is relayed to --upstream, and what
 * each side sent is written to OUTPUT/PREFIX-N.fixture when it ends. */
#include "capture.h"

#include <string.h>
#include "glib-reactor.h"

#include <glib-unix.h>
#include <glib/gstdio.h>

typedef struct {
  gchar *output;
  gchar *prefix;
  guint written;
  gint count;
  GMainLoop *loop;
  gboolean failed;
} Recorder;

static void
on_fixture (BraidFixture *fixture, gpointer user_data)
{
  Recorder *r = user_data;
  g_autoptr(BraidFixture) owned = fixture;
  g_autofree gchar *name = g_strdup_printf ("%s-%u.fixture", r->prefix, ++r->written);
  g_autofree gchar *path = g_build_filename (r->output, name, NULL);
  g_autoptr(GError) error = NULL;

  if (!braid_fixture_save (fixture, path, &error))
    {
      g_printerr ("braid-capture: %s\n", error->message);
      r->failed = TRUE;
    }
  else
    g_printerr ("braid-capture: wrote %s (%u chunks)\n", path, fixture->chunks->len);
  if (r->count > 0 && r->written >= (guint) r->count)
    g_main_loop_quit (r->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *listen = NULL;
  g_autofree gchar *upstream = NULL;
  g_auto(GStrv) rules = NULL;
  g_auto(GStrv) headers = NULL;
  gboolean memcached_rules = FALSE;
  Recorder r = { NULL, NULL, 0, 0, NULL, FALSE };
  gboolean show_version = FALSE;
  GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Where clients connect (default tcp:22122)", "ENDPOINT" },
    { "upstream", 'u', 0, G_OPTION_ARG_STRING, &upstream, "The real server", "ENDPOINT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &r.output, "Directory for the fixtures (default .)", "DIR" },
    { "prefix", 'p', 0, G_OPTION_ARG_STRING, &r.prefix, "File name prefix (default capture)", "NAME" },
    { "count", 'n', 0, G_OPTION_ARG_INT, &r.count, "Exit after N connections", "N" },
    { "memcached-rules", 0, 0, G_OPTION_ARG_NONE, &memcached_rules,
      "Add %replace rules for cas values, stats values and versions", NULL },
    { "rule", 0, 0, G_OPTION_ARG_STRING_ARRAY, &rules, "Add a %replace rule", "REGEX=>REPLACEMENT" },
    { "header", 0, 0, G_OPTION_ARG_STRING_ARRAY, &headers, "Add an @KEY VALUE header", "KEY=VALUE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— record client/server conversations as fixtures");
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidCapture) capture = NULL;
  g_autoptr(BraidListener) listener = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("braid-capture: %s\n", error->message);
      return 2;
    }
  if (show_version)
    {
      g_print ("%s %s\n", g_get_prgname (), PACKAGE_VERSION);
      return 0;
    }
  if (upstream == NULL)
    {
      g_printerr ("braid-capture: --upstream is required\n");
      return 2;
    }
  if (r.output == NULL)
    r.output = g_strdup (".");
  if (r.prefix == NULL)
    r.prefix = g_strdup ("capture");
  g_mkdir_with_parents (r.output, 0755);

  reactor = braid_glib_reactor_new (NULL);
  capture = braid_capture_new (BRAID_REACTOR (reactor), upstream, on_fixture, &r);
  if (memcached_rules && !braid_capture_add_memcached_rules (capture, &error))
    goto fail;
  for (gchar **rule = rules; rule != NULL && *rule != NULL; rule++)
    {
      g_auto(GStrv) parts = g_strsplit (*rule, "=>", 2);

      if (g_strv_length (parts) != 2)
        {
          g_printerr ("braid-capture: --rule takes REGEX=>REPLACEMENT\n");
          return 2;
        }
      if (!braid_capture_add_rule (capture, parts[0], parts[1], &error))
        goto fail;
    }
  for (gchar **header = headers; header != NULL && *header != NULL; header++)
    {
      g_auto(GStrv) parts = g_strsplit (*header, "=", 2);

      if (g_strv_length (parts) != 2 || parts[0][0] == '\0' || strpbrk (parts[0], " \t\r\n") != NULL)
        {
          g_printerr ("braid-capture: --header takes KEY=VALUE, KEY not empty and without spaces\n");
          return 2;
        }
      braid_capture_add_header (capture, parts[0], parts[1]);
    }
  listener = braid_capture_listen (capture, listen != NULL ? listen : "tcp:22122", &error);
  if (listener == NULL)
    goto fail;
  g_printerr ("braid-capture: listening on port %u, relaying to %s\n",
              braid_listener_get_port (listener), upstream);

  r.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, r.loop);
  g_unix_signal_add (SIGTERM, on_signal, r.loop);
  g_main_loop_run (r.loop);
  g_main_loop_unref (r.loop);
  g_free (r.output);
  g_free (r.prefix);
  return r.failed ? 1 : 0;

fail:
  g_printerr ("braid-capture: %s\n", error->message);
  return 1;
}
