/* braid examples — the shared main(). */
#include "example-main.h"

#include <braid.h>
#include <glib-unix.h>

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
braid_example_run (int argc, char **argv, const gchar *summary, BraidProtocolFactory *factory)
{
  g_autofree gchar *endpoint = NULL;
  gboolean show_version = FALSE;
  GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &endpoint,
      "Where to listen (default tcp:10000)", "ENDPOINT" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) options = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GMainLoop) loop = NULL;

  g_option_context_set_summary (options, summary);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return 2;
    }
  if (show_version)
    {
      g_print ("%s %s\n", g_get_prgname (), PACKAGE_VERSION);
      return 0;
    }

  reactor = braid_glib_reactor_new (NULL);
  listener = braid_reactor_listen (BRAID_REACTOR (reactor),
                                   endpoint != NULL ? endpoint : "tcp:10000",
                                   factory, &error);
  if (listener == NULL)
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return 1;
    }
  g_printerr ("%s: listening on port %u\n", g_get_prgname (), braid_listener_get_port (listener));

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);
  braid_listener_stop (listener);
  return 0;
}
