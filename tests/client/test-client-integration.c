/* braid — the client over real sockets, the same test bodies against
 * Debian's memcached and braid-memcached. */
#include "test-support.h"
#include "mc-client.h"
#include "mc-pool.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  GSubprocess *process;
  guint16 port;
  BraidGlibReactor *reactor;
  BraidMcClient *client;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  const gchar *which = data;
  g_autofree gchar *port = NULL;
  g_autofree gchar *endpoint = NULL;
  g_autoptr(GError) error = NULL;

  f->port = braid_test_find_free_port ();
  port = g_strdup_printf ("%u", f->port);
  if (g_str_equal (which, "memcached"))
    {
      g_autofree gchar *path = g_find_program_in_path ("memcached");

      if (path == NULL)
        return;
      f->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, path, "-p", port,
                                     "-l", "127.0.0.1", "-U", "0", "-u", g_get_user_name (), NULL);
    }
  else
    {
      g_autofree gchar *path = braid_test_build_path ("src/daemon/braid-memcached");

      f->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, path, "-p", port,
                                     "-l", "127.0.0.1", "--config", "/dev/null", NULL);
    }
  g_assert_no_error (error);
  if (!braid_test_wait_for_port (f->port, 10000))
    g_error ("%s did not start", which);
  f->reactor = braid_glib_reactor_new (NULL);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", f->port);
  f->client = braid_mc_client_new (BRAID_REACTOR (f->reactor), endpoint);
  braid_mc_client_set_timeout (f->client, 5 * G_USEC_PER_SEC);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->reactor);
  if (f->process != NULL)
    {
      g_subprocess_send_signal (f->process, SIGTERM);
      g_subprocess_wait (f->process, NULL, NULL);
      g_clear_object (&f->process);
    }
}

#define WAIT(r) braid_test_wait_for_result (NULL, &(r), 10000)

static gboolean
skip_if_absent (Fixture *f)
{
  if (f->process == NULL)
    {
      g_test_skip ("memcached is not installed (apt-get install memcached)");
      return TRUE;
    }
  return FALSE;
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(GBytes) value = g_bytes_new_static ("hello\r\nworld", 12);
  g_autoptr(GBytes) ten = g_bytes_new_static ("10", 2);
  g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL, r7 = NULL, r8 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) got = NULL;
  g_autoptr(BraidMcValue) got2 = NULL;
  g_autoptr(GHashTable) stats = NULL;
  guint64 n = 0;

  g_test_summary ("set, get, gets+cas, incr, delete, stats round-trip through a real server");
  if (skip_if_absent (f))
    return;
  braid_mc_client_set_async (f->client, "k", value, 42, 0, NULL, braid_test_store_result, &r1);
  /* pipelined: sent before the set is answered */
  braid_mc_client_get_async (f->client, "k", BRAID_MC_GET_FLAGS_WITH_CAS, NULL, braid_test_store_result, &r2);
  WAIT (r2);
  g_assert_true (braid_mc_client_set_finish (f->client, r1, &error));
  got = braid_mc_client_get_finish (f->client, r2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->flags, ==, 42);
  g_assert_cmpmem (g_bytes_get_data (got->data, NULL), g_bytes_get_size (got->data), "hello\r\nworld", 12);

  braid_mc_client_store_async (f->client, BRAID_MC_STORE_MODE_CAS, "k", ten, 0, 0, got->cas, NULL, braid_test_store_result, &r3);
  braid_mc_client_store_async (f->client, BRAID_MC_STORE_MODE_CAS, "k", ten, 0, 0, got->cas, NULL, braid_test_store_result, &r4);
  braid_mc_client_arith_async (f->client, "k", BRAID_MC_ARITH_MODE_INCR, 5, NULL, braid_test_store_result, &r5);
  braid_mc_client_delete_async (f->client, "k", NULL, braid_test_store_result, &r6);
  braid_mc_client_get_async (f->client, "k", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r7);
  braid_mc_client_stats_async (f->client, NULL, NULL, braid_test_store_result, &r8);
  WAIT (r8);
  g_assert_true (braid_mc_client_store_finish (f->client, r3, &error));
  g_assert_false (braid_mc_client_store_finish (f->client, r4, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (braid_mc_client_arith_finish (f->client, r5, &n, &error));
  g_assert_cmpuint (n, ==, 15);
  g_assert_true (braid_mc_client_delete_finish (f->client, r6, &error));
  got2 = braid_mc_client_get_finish (f->client, r7, &error);
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  stats = braid_mc_client_stats_finish (f->client, r8, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g_hash_table_lookup (stats, "curr_items"));
}

static void
test_server_goes_away (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("When the server dies, requests fail with CONNECTION_LOST instead of hanging");
  if (skip_if_absent (f))
    return;
  g_subprocess_force_exit (f->process);
  g_subprocess_wait (f->process, NULL, NULL);
  g_clear_object (&f->process);
  braid_mc_client_get_async (f->client, "k", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r1);
  WAIT (r1);
  g_assert_null (braid_mc_client_get_finish (f->client, r1, &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
}

static void
test_pool (Fixture *f, gconstpointer data)
{
  g_autofree gchar *spec = g_strdup_printf ("127.0.0.1:%u", f->port);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(GBytes) v = g_bytes_new_static ("pooled", 6);
  g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL;
  g_autoptr(BraidMcValue) got = NULL;

  g_test_summary ("The pool sends a key to its server and reads it back");
  if (skip_if_absent (f))
    return;
  pool = braid_mc_pool_new (BRAID_REACTOR (f->reactor), spec, &error);
  g_assert_no_error (error);
  braid_mc_pool_set_async (pool, "pk", v, 0, 0, NULL, braid_test_store_result, &r1);
  braid_mc_pool_get_async (pool, "pk", NULL, braid_test_store_result, &r2);
  WAIT (r2);
  g_assert_true (braid_mc_pool_set_finish (pool, r1, &error));
  got = braid_mc_pool_get_finish (pool, r2, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got->data, NULL), 6, "pooled", 6);
}

int
main (int argc, char **argv)
{
  const gchar *servers[] = { "memcached", "braid-memcached" };

  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      g_autofree gchar *a = g_strdup_printf ("/client/integration/%s/round-trip", servers[i]);
      g_autofree gchar *b = g_strdup_printf ("/client/integration/%s/server-goes-away", servers[i]);
      g_autofree gchar *c = g_strdup_printf ("/client/integration/%s/pool", servers[i]);

      g_test_add (a, Fixture, servers[i], setup, test_round_trip, teardown);
      g_test_add (b, Fixture, servers[i], setup, test_server_goes_away, teardown);
      g_test_add (c, Fixture, servers[i], setup, test_pool, teardown);
    }
  return g_test_run ();
}
