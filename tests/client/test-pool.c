/* braid — the pool on the fake reactor: keys to their server, dead servers
 * out after failures and back after the retry delay. */
#include "test-support.h"
#include "mc-pool.h"

#include <string.h>

static void
test_ejection (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(BraidProtocolFactory) factory = braid_recording_factory_new (FALSE, servers);
  g_autoptr(BraidListener) alive = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *key = NULL;
  g_autofree gchar *key_storage = NULL;
  guint dead_index = G_MAXUINT;

  g_test_summary ("A server that keeps failing is taken out and its keys go to the others; "
                  "after the retry delay it is used again");
  /* only port 2 listens: server "127.0.0.1:1" refuses everything */
  alive = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:2", factory, &error);
  g_assert_no_error (error);
  pool = braid_mc_pool_new (BRAID_REACTOR (fake), "127.0.0.1:1,127.0.0.1:2", &error);
  g_assert_no_error (error);
  braid_mc_pool_set_ejection (pool, 2, 30 * G_USEC_PER_SEC);
  for (guint i = 0; key == NULL; i++)
    {
      g_free (key_storage);
      key_storage = g_strdup_printf ("key%u", i);
      if (braid_mc_pool_locate (pool, key_storage) == 0)
        key = key_storage;
    }
  dead_index = 0;

  for (guint attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(GAsyncResult) r = NULL;
      g_autoptr(GError) e = NULL;

      braid_mc_pool_get_async (pool, key, NULL, braid_test_store_result, &r);
      braid_fake_reactor_run_until_idle (fake);
      /* the client backs off between attempts */
      braid_fake_reactor_advance (fake, G_USEC_PER_SEC);
      g_assert_nonnull (r);
      g_assert_null (braid_mc_pool_get_finish (pool, r, &e));
      g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST);
    }
  g_assert_false (braid_mc_pool_is_server_alive (pool, dead_index));
  g_assert_true (braid_mc_pool_client_for_key (pool, key, NULL) == braid_mc_pool_get_client (pool, 1));

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(GError) e = NULL;
    g_autoptr(BraidMcValue) v = NULL;

    braid_mc_pool_get_async (pool, key, NULL, braid_test_store_result, &r);
    braid_fake_reactor_run_until_idle (fake);
    g_assert_cmpuint (servers->len, ==, 1);
    braid_transport_write_string (braid_protocol_get_transport (g_ptr_array_index (servers, 0)), "END\r\n");
    braid_fake_reactor_run_until_idle (fake);
    v = braid_mc_pool_get_finish (pool, r, &e);
    g_assert_error (e, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND);
  }

  braid_fake_reactor_advance (fake, 30 * G_USEC_PER_SEC);
  g_assert_true (braid_mc_pool_is_server_alive (pool, dead_index));
  g_assert_true (braid_mc_pool_client_for_key (pool, key, NULL) == braid_mc_pool_get_client (pool, 0));

  g_clear_object (&pool);
  braid_listener_stop (alive);
  braid_fake_reactor_run_until_idle (fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
}

static void
test_no_servers (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(GError) error = NULL;

  g_test_summary ("Bad server lists are refused with a message");
  g_assert_null (braid_mc_pool_new (BRAID_REACTOR (fake), "", &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (braid_mc_pool_new (BRAID_REACTOR (fake), "host:port", &error));
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/pool/ejection", test_ejection);
  g_test_add_func ("/client/pool/bad-servers", test_no_servers);
  return g_test_run ();
}
