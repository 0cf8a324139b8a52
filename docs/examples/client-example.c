/* braid example — the memcached client from a GLib program.
 *
 *   client-example HOST:PORT[,HOST:PORT...]
 *
 * Stores a counter, reads it back, increments it, all asynchronously on
 * the GLib main loop, and quits.  Compile against an installed braid with
 *   cc client-example.c $(pkg-config --cflags --libs braid) */
#include <braid.h>

typedef struct {
  GMainLoop *loop;
  BraidMcPool *pool;
  BraidMcClient *client;
  int status;
} App;

static void
on_incremented (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;
  guint64 value = 0;

  if (!braid_mc_client_arith_finish (BRAID_MC_CLIENT (source), result, &value, &error))
    {
      g_printerr ("incr failed: %s\n", error->message);
      app->status = 1;
    }
  else
    g_print ("visits after incr: %" G_GUINT64_FORMAT "\n", value);
  g_main_loop_quit (app->loop);
}

static void
on_got (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) value = braid_mc_pool_get_finish (BRAID_MC_POOL (source), result, &error);

  if (value == NULL)
    {
      g_printerr ("get failed: %s\n", error->message);
      app->status = 1;
      g_main_loop_quit (app->loop);
      return;
    }
  g_print ("visits read back: %.*s\n", (int) g_bytes_get_size (value->data),
           (const gchar *) g_bytes_get_data (value->data, NULL));
  /* The client that holds "visits" in the pool, for the other commands. */
  app->client = braid_mc_pool_client_for_key (app->pool, "visits", NULL);
  braid_mc_client_arith_async (app->client, "visits", BRAID_MC_ARITH_MODE_INCR, 1, NULL, on_incremented, app);
}

static void
on_stored (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;

  if (!braid_mc_pool_set_finish (BRAID_MC_POOL (source), result, &error))
    {
      g_printerr ("set failed: %s\n", error->message);
      app->status = 1;
      g_main_loop_quit (app->loop);
      return;
    }
  braid_mc_pool_get_async (app->pool, "visits", NULL, on_got, app);
}

int
main (int argc, char **argv)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) start = g_bytes_new_static ("41", 2);
  App app = { NULL, NULL, NULL, 0 };

  if (argc != 2)
    {
      g_printerr ("usage: %s HOST:PORT[,HOST:PORT...]\n", argv[0]);
      return 2;
    }
  app.pool = braid_mc_pool_new (BRAID_REACTOR (reactor), argv[1], &error);
  if (app.pool == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  app.loop = g_main_loop_new (NULL, FALSE);
  braid_mc_pool_set_async (app.pool, "visits", start, 0, 300, NULL, on_stored, &app);
  g_main_loop_run (app.loop);
  g_main_loop_unref (app.loop);
  g_object_unref (app.pool);
  return app.status;
}
