/* braid-mc — a memcached command line for people, on the braid client.
 *
 *   braid-mc --servers HOST:PORT[,HOST:PORT...] COMMAND ARGS
 *
 *   get KEY...                  print the values (and flags with -v)
 *   set KEY VALUE [EXPTIME] [FLAGS]
 *   delete KEY...
 *   incr KEY [DELTA] / decr KEY [DELTA]
 *   touch KEY EXPTIME
 *   stats [ARG]                 every server's statistics
 *   flush [DELAY]               flush_all on every server
 *   locate KEY...               HOST:PORT of the server that holds each key
 *
 * The servers (also from $MEMCACHED_SERVERS, as libmemcached-tools read
 * it) form a ketama pool, so keys go where libmemcached would put them.
 * A server may be an endpoint instead: tls:HOST:PORT[:ca=FILE] speaks
 * TLS to memcached -Z or braid-memcached -Z (keys still go by HOST:PORT). */
#include "glib-reactor.h"
#include "mc-pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  BraidMcPool *pool;
  BraidGlibReactor *reactor;
  gint64 timeout_us;
  gboolean verbose;
} Tool;

static GAsyncResult *
wait (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static int
fail (const gchar *what, const gchar *key, GError *error)
{
  g_printerr ("braid-mc: %s%s%s: %s\n", what, key != NULL ? " " : "", key != NULL ? key : "", error->message);
  return 1;
}

static BraidMcClient *
client_for (Tool *t, const gchar *key, GError **error)
{
  if (!braid_mc_validate_key (key, error))
    return NULL;
  return braid_mc_pool_client_for_key (t->pool, key, error);
}

static int
cmd_get (Tool *t, int argc, char **argv)
{
  int status = 0;

  for (int i = 0; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(BraidMcValue) v = NULL;
      BraidMcClient *c = client_for (t, argv[i], &error);

      if (c == NULL)
        {
          status = fail ("get", argv[i], error);
          continue;
        }
      braid_mc_client_get_async (c, argv[i], BRAID_MC_GET_FLAGS_NONE, NULL, store_result, &r);
      v = braid_mc_client_get_finish (c, wait (&r), &error);
      if (v == NULL)
        {
          status = fail ("get", argv[i], error);
          continue;
        }
      if (t->verbose)
        g_print ("key: %s\nflags: %u\nlength: %" G_GSIZE_FORMAT "\nvalue: ", v->key, v->flags, g_bytes_get_size (v->data));
      fwrite (g_bytes_get_data (v->data, NULL), 1, g_bytes_get_size (v->data), stdout);
      g_print ("\n");
    }
  return status;
}

static int
cmd_set (Tool *t, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GBytes) value = NULL;
  BraidMcClient *c;
  gint64 exptime = argc > 2 ? g_ascii_strtoll (argv[2], NULL, 10) : 0;
  guint32 flags = argc > 3 ? (guint32) g_ascii_strtoull (argv[3], NULL, 10) : 0;

  if (argc < 2)
    {
      g_printerr ("usage: braid-mc set KEY VALUE [EXPTIME] [FLAGS]\n");
      return 2;
    }
  if ((c = client_for (t, argv[0], &error)) == NULL)
    return fail ("set", argv[0], error);
  value = g_bytes_new (argv[1], strlen (argv[1]));
  braid_mc_client_set_async (c, argv[0], value, flags, exptime, NULL, store_result, &r);
  if (!braid_mc_client_set_finish (c, wait (&r), &error))
    return fail ("set", argv[0], error);
  return 0;
}

static int
cmd_delete (Tool *t, int argc, char **argv)
{
  int status = 0;

  for (int i = 0; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GAsyncResult) r = NULL;
      BraidMcClient *c = client_for (t, argv[i], &error);

      if (c == NULL)
        {
          status = fail ("delete", argv[i], error);
          continue;
        }
      braid_mc_client_delete_async (c, argv[i], NULL, store_result, &r);
      if (!braid_mc_client_delete_finish (c, wait (&r), &error))
        status = fail ("delete", argv[i], error);
    }
  return status;
}

static int
cmd_arith (Tool *t, BraidMcArithMode mode, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) r = NULL;
  BraidMcClient *c;
  guint64 delta = 1, value = 0;

  if (argc < 1 || (argc > 1 && !g_ascii_string_to_unsigned (argv[1], 10, 0, G_MAXUINT64, &delta, &error)))
    {
      g_printerr ("usage: braid-mc %s KEY [DELTA]%s%s\n", braid_mc_arith_mode_name (mode),
                  error != NULL ? ": " : "", error != NULL ? error->message : "");
      return 2;
    }
  if ((c = client_for (t, argv[0], &error)) == NULL)
    return fail (braid_mc_arith_mode_name (mode), argv[0], error);
  braid_mc_client_arith_async (c, argv[0], mode, delta, NULL, store_result, &r);
  if (!braid_mc_client_arith_finish (c, wait (&r), &value, &error))
    return fail (braid_mc_arith_mode_name (mode), argv[0], error);
  g_print ("%" G_GUINT64_FORMAT "\n", value);
  return 0;
}

static int
cmd_touch (Tool *t, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) r = NULL;
  BraidMcClient *c;

  if (argc < 2)
    {
      g_printerr ("usage: braid-mc touch KEY EXPTIME\n");
      return 2;
    }
  if ((c = client_for (t, argv[0], &error)) == NULL)
    return fail ("touch", argv[0], error);
  braid_mc_client_touch_async (c, argv[0], g_ascii_strtoll (argv[1], NULL, 10), NULL, store_result, &r);
  if (!braid_mc_client_touch_finish (c, wait (&r), &error))
    return fail ("touch", argv[0], error);
  return 0;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static int
cmd_stats (Tool *t, int argc, char **argv)
{
  int status = 0;

  for (guint i = 0; i < braid_mc_pool_get_n_servers (t->pool); i++)
    {
      BraidMcClient *c = braid_mc_pool_get_client (t->pool, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(GHashTable) stats = NULL;
      g_autoptr(GPtrArray) names = NULL;

      braid_mc_client_stats_async (c, argc > 0 ? argv[0] : NULL, NULL, store_result, &r);
      stats = braid_mc_client_stats_finish (c, wait (&r), &error);
      if (stats == NULL)
        {
          status = fail ("stats", braid_mc_pool_get_server_name (t->pool, i), error);
          continue;
        }
      g_print ("Server: %s\n", braid_mc_pool_get_server_name (t->pool, i));
      /* sorted: never in hash table order */
      names = g_ptr_array_new ();
      {
        GHashTableIter iter;
        gpointer name;

        g_hash_table_iter_init (&iter, stats);
        while (g_hash_table_iter_next (&iter, &name, NULL))
          g_ptr_array_add (names, name);
      }
      g_ptr_array_sort (names, compare_strings);
      for (guint n = 0; n < names->len; n++)
        g_print ("\t%s: %s\n", (const gchar *) g_ptr_array_index (names, n),
                 (const gchar *) g_hash_table_lookup (stats, g_ptr_array_index (names, n)));
    }
  return status;
}

static int
cmd_flush (Tool *t, int argc, char **argv)
{
  int status = 0;

  for (guint i = 0; i < braid_mc_pool_get_n_servers (t->pool); i++)
    {
      BraidMcClient *c = braid_mc_pool_get_client (t->pool, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GAsyncResult) r = NULL;

      braid_mc_client_flush_all_async (c, argc > 0 ? g_ascii_strtoll (argv[0], NULL, 10) : 0, NULL, store_result, &r);
      if (!braid_mc_client_flush_all_finish (c, wait (&r), &error))
        status = fail ("flush", braid_mc_pool_get_server_name (t->pool, i), error);
    }
  return status;
}

static int
cmd_locate (Tool *t, int argc, char **argv)
{
  int status = 0;

  for (int i = 0; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!braid_mc_validate_key (argv[i], &error))
        {
          status = fail ("locate", argv[i], error);
          continue;
        }
      g_print ("%s\n", braid_mc_pool_get_server_name (t->pool, braid_mc_pool_locate (t->pool, argv[i])));
    }
  return status;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *servers = NULL;
  gdouble timeout = 5.0;
  gboolean verbose = FALSE, version = FALSE;
  GOptionEntry entries[] = {
    { "servers", 's', 0, G_OPTION_ARG_STRING, &servers, "Servers, HOST:PORT[,HOST:PORT...]; tls:HOST:PORT[:ca=FILE] for TLS "
      "(default $MEMCACHED_SERVERS)", "LIST" },
    { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds to wait for each reply (default 5)", "S" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Show flags and lengths", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("COMMAND [ARGS...] — talk to memcached servers");
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  Tool t;
  const gchar *cmd;
  int status;

  g_option_context_set_description (context,
    "Commands:\n"
    "  get KEY...                      print values\n"
    "  set KEY VALUE [EXPTIME] [FLAGS] store a value\n"
    "  delete KEY...                   delete keys\n"
    "  incr KEY [DELTA], decr KEY [DELTA]\n"
    "  touch KEY EXPTIME               give a key a new lifetime\n"
    "  stats [ARG]                     every server's statistics\n"
    "  flush [DELAY]                   flush_all on every server\n"
    "  locate KEY...                   which server holds each key (libmemcached ketama)\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("braid-mc: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("braid-mc %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (servers == NULL && g_getenv ("MEMCACHED_SERVERS") != NULL)
    servers = g_strdup (g_getenv ("MEMCACHED_SERVERS"));
  if (argc < 2 || servers == NULL)
    {
      g_printerr ("usage: braid-mc --servers HOST:PORT[,HOST:PORT...] COMMAND ARGS (see --help)\n");
      return 2;
    }
  reactor = braid_glib_reactor_new (NULL);
  pool = braid_mc_pool_new (BRAID_REACTOR (reactor), servers, &error);
  if (pool == NULL)
    {
      g_printerr ("braid-mc: %s\n", error->message);
      return 2;
    }
  braid_mc_pool_set_timeout (pool, (gint64) (timeout * G_USEC_PER_SEC));
  t.pool = pool;
  t.reactor = reactor;
  t.verbose = verbose;
  cmd = argv[1];
  argc -= 2;
  argv += 2;
  if (g_str_equal (cmd, "get"))
    status = cmd_get (&t, argc, argv);
  else if (g_str_equal (cmd, "set"))
    status = cmd_set (&t, argc, argv);
  else if (g_str_equal (cmd, "delete"))
    status = cmd_delete (&t, argc, argv);
  else if (g_str_equal (cmd, "incr") || g_str_equal (cmd, "decr"))
    status = cmd_arith (&t, g_str_equal (cmd, "incr") ? BRAID_MC_ARITH_MODE_INCR : BRAID_MC_ARITH_MODE_DECR, argc, argv);
  else if (g_str_equal (cmd, "touch"))
    status = cmd_touch (&t, argc, argv);
  else if (g_str_equal (cmd, "stats"))
    status = cmd_stats (&t, argc, argv);
  else if (g_str_equal (cmd, "flush"))
    status = cmd_flush (&t, argc, argv);
  else if (g_str_equal (cmd, "locate"))
    status = cmd_locate (&t, argc, argv);
  else
    {
      g_printerr ("braid-mc: unknown command “%s” (see --help)\n", cmd);
      status = 2;
    }
  g_clear_object (&pool);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return status;
}
