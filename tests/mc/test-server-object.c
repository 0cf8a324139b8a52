/* braid — the BraidMcServer object itself (mc-server.c): the settings it
 * is given reach its store and its connections, what a reload may change
 * (memory limit, verbosity) changes everywhere it is seen, and its
 * factory, counters and busy flag. */
#include "test-support.h"
#include "mc-server.h"
#include "server-conn.h"

#include <string.h>

/* Sends @line and returns everything the server wrote since the last call. */
static gchar *
ask (BraidTestServerConn *w, const gchar *line)
{
  gchar *written;

  braid_protocol_data_received (w->protocol, (const guint8 *) line, strlen (line));
  braid_fake_reactor_run_until_idle (w->fake);
  written = braid_fake_transport_get_written_string (w->transport);
  braid_fake_transport_clear (w->transport);
  return written != NULL ? written : g_strdup ("");  /* NULL: nothing written */
}

static void
assert_has_line (const gchar *text, const gchar *line)
{
  if (strstr (text, line) == NULL)
    g_error ("no \"%s\" in:\n%s", line, text);
}

static void
test_defaults (void)
{
  BraidTestServerConn w = { 0 };
  BraidMcServerSettings defaults = BRAID_MC_SERVER_SETTINGS_INIT;
  const BraidMcServerSettings *s;

  g_test_summary ("Without settings the server runs with memcached's defaults, its store too");
  braid_test_server_conn_open (&w, NULL);
  s = braid_mc_server_get_settings (w.server);
  g_assert_cmpuint (s->max_connections, ==, defaults.max_connections);
  g_assert_cmpuint (s->threads, ==, 4);
  g_assert_cmpint (s->verbosity, ==, 0);
  g_assert_cmpuint (s->store.limit_bytes, ==, 64 * 1024 * 1024);
  g_assert_cmpuint (braid_mc_store_get_settings (braid_mc_server_get_store (w.server))->limit_bytes, ==,
                    64 * 1024 * 1024);
  braid_test_server_conn_close (&w);
}

static void
test_settings_passed_through (void)
{
  BraidTestServerConn w = { 0 };
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  const BraidMcServerSettings *s;
  g_autofree gchar *stats = NULL;
  g_autofree gchar *stats_settings = NULL;

  g_test_summary ("The settings given reach the store, the settings the server reports and what its "
                  "connections answer: memory limit, item size, threads, verbosity, connection limit");
  settings.store.limit_bytes = 16 * 1024 * 1024;
  settings.store.item_size_max = 2 * 1024 * 1024;
  settings.threads = 7;
  settings.verbosity = 2;
  settings.max_connections = 33;
  braid_test_server_conn_open (&w, &settings);
  s = braid_mc_server_get_settings (w.server);
  g_assert_cmpuint (s->store.limit_bytes, ==, 16 * 1024 * 1024);
  g_assert_cmpuint (s->threads, ==, 7);
  g_assert_cmpint (s->verbosity, ==, 2);
  g_assert_cmpuint (s->max_connections, ==, 33);
  g_assert_cmpuint (braid_mc_store_get_settings (braid_mc_server_get_store (w.server))->limit_bytes, ==,
                    16 * 1024 * 1024);
  g_assert_cmpuint (braid_mc_store_get_settings (braid_mc_server_get_store (w.server))->item_size_max, ==,
                    2 * 1024 * 1024);
  stats = ask (&w, "stats\r\n");
  assert_has_line (stats, "\r\nSTAT threads 7\r\n");
  assert_has_line (stats, "\r\nSTAT limit_maxbytes 16777216\r\n");
  stats_settings = ask (&w, "stats settings\r\n");
  assert_has_line (stats_settings, "\r\nSTAT verbosity 2\r\n");
  assert_has_line (stats_settings, "\r\nSTAT maxconns 33\r\n");
  assert_has_line (stats_settings, "\r\nSTAT num_threads 7\r\n");
  assert_has_line (stats_settings, "\r\nSTAT item_size_max 2097152\r\n");
  braid_test_server_conn_close (&w);
}

static void
test_memory_limit_reloaded (void)
{
  BraidTestServerConn w = { 0 };
  g_autofree gchar *value = g_strnfill (100 * 1024, 'v');
  g_autofree gchar *stats = NULL;
  BraidMcStore *store;

  g_test_summary ("braid_mc_server_set_memory_limit() (a reload) changes the store's limit, which evicts "
                  "down to it, and the limit the server and its stats report");
  braid_test_server_conn_open (&w, NULL);
  store = braid_mc_server_get_store (w.server);
  for (guint i = 0; i < 200; i++)
    {
      g_autofree gchar *set = g_strdup_printf ("set k%u 0 0 %zu noreply\r\n%s\r\n", i, strlen (value), value);
      g_autofree gchar *answer = ask (&w, set);

      g_assert_cmpstr (answer, ==, "");
    }
  g_assert_cmpuint (braid_mc_store_get_n_items (store), ==, 200);
  braid_mc_server_set_memory_limit (w.server, 8 << 20);
  g_assert_cmpuint (braid_mc_store_get_settings (store)->limit_bytes, ==, 8 << 20);
  g_assert_cmpuint (braid_mc_server_get_settings (w.server)->store.limit_bytes, ==, 8 << 20);
  /* each item costs more than its 100 KiB value */
  g_assert_cmpuint (braid_mc_store_get_n_items (store), <=, (8 << 20) / (100 * 1024));
  stats = ask (&w, "stats\r\n");
  assert_has_line (stats, "\r\nSTAT limit_maxbytes 8388608\r\n");
  braid_test_server_conn_close (&w);
}

static void
test_verbosity_reloaded (void)
{
  BraidTestServerConn w = { 0 };
  g_autofree gchar *before = NULL;
  g_autofree gchar *after = NULL;

  g_test_summary ("braid_mc_server_set_verbosity() changes the verbosity the server and 'stats settings' report");
  braid_test_server_conn_open (&w, NULL);
  before = ask (&w, "stats settings\r\n");
  assert_has_line (before, "\r\nSTAT verbosity 0\r\n");
  braid_mc_server_set_verbosity (w.server, 2);
  g_assert_cmpint (braid_mc_server_get_settings (w.server)->verbosity, ==, 2);
  after = ask (&w, "stats settings\r\n");
  assert_has_line (after, "\r\nSTAT verbosity 2\r\n");
  braid_test_server_conn_close (&w);
}

static void
test_factory_and_parts (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_mc_server_create_factory (server);

  g_test_summary ("The server's factory never needs the peer's address (its protocols ask their transport), "
                  "and the server gives back its reactor and one store");
  g_assert_true (braid_protocol_factory_get_ignores_address (factory));
  g_assert_true (braid_mc_server_get_reactor (server) == BRAID_REACTOR (fake));
  g_assert_nonnull (braid_mc_server_get_store (server));
  g_assert_true (braid_mc_server_get_store (server) == braid_mc_server_get_store (server));
}

static void
test_counters_and_busy (void)
{
  BraidTestServerConn w = { 0 };
  BraidMcServerCounters counters = { 0 };
  g_autofree gchar *half = NULL;
  g_autofree gchar *rest = NULL;

  g_test_summary ("The counters count the connection open and its bytes; the server is busy exactly while a "
                  "command is half received");
  braid_test_server_conn_open (&w, NULL);
  g_assert_false (braid_mc_server_is_busy (w.server));
  braid_mc_server_get_counters (w.server, &counters);
  g_assert_cmpuint (counters.curr_connections, ==, 1);
  g_assert_cmpuint (counters.total_connections, ==, 1);
  g_assert_cmpuint (counters.busy_connections, ==, 0);
  g_assert_cmpint (counters.started_us, ==, 0);
  half = ask (&w, "set k 0 0 3\r\nab");
  g_assert_cmpstr (half, ==, "");
  g_assert_true (braid_mc_server_is_busy (w.server));
  braid_mc_server_get_counters (w.server, &counters);
  g_assert_cmpuint (counters.busy_connections, ==, 1);
  rest = ask (&w, "c\r\n");
  g_assert_cmpstr (rest, ==, "STORED\r\n");
  g_assert_false (braid_mc_server_is_busy (w.server));
  braid_mc_server_get_counters (w.server, &counters);
  g_assert_cmpuint (counters.bytes_read, ==, strlen ("set k 0 0 3\r\nabc\r\n"));
  g_assert_cmpuint (counters.bytes_written, ==, strlen ("STORED\r\n"));
  braid_test_server_conn_close (&w);
}

static void
note_released (gpointer data)
{
  gboolean *released = data;

  *released = TRUE;
}

static void
test_finalized_as_gobject (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidMcServer *server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  gboolean released = FALSE;

  g_test_summary ("A server's last unref finalizes it as a GObject: data attached to it is released");
  g_object_set_data_full (G_OBJECT (server), "probe", &released, note_released);
  g_object_unref (server);
  g_assert_true (released);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/server/object/defaults", test_defaults);
  g_test_add_func ("/mc/server/object/settings-passed-through", test_settings_passed_through);
  g_test_add_func ("/mc/server/object/memory-limit-reloaded", test_memory_limit_reloaded);
  g_test_add_func ("/mc/server/object/verbosity-reloaded", test_verbosity_reloaded);
  g_test_add_func ("/mc/server/object/factory-and-parts", test_factory_and_parts);
  g_test_add_func ("/mc/server/object/counters-and-busy", test_counters_and_busy);
  g_test_add_func ("/mc/server/object/finalized-as-gobject", test_finalized_as_gobject);
  return g_test_run ();
}
