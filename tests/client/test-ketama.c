/* braid — the pool's key-to-server mapping equals libmemcached's ketama
 * (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED), checked against libmemcached
 * itself, for thousands of keys and pools of 1 to 12 servers. */
#include "test-support.h"
#include "mc-pool.h"

#include <libmemcached/memcached.h>
#include <string.h>

#define N_KEYS 5000

static void
test_matches_libmemcached (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);

  g_test_summary ("For pools of 1 to 12 servers (with and without the default port) every key goes to "
                  "the server libmemcached's weighted ketama picks");
  for (guint n = 1; n <= 12; n++)
    {
      memcached_st *memc = memcached_create (NULL);
      g_autoptr(GString) spec = g_string_new (NULL);
      g_autoptr(BraidMcPool) pool = NULL;
      g_autoptr(GError) error = NULL;
      guint mismatches = 0;

      memcached_behavior_set (memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
      for (guint i = 0; i < n; i++)
        {
          /* a mix of host names, addresses and ports, 11211 included */
          g_autofree gchar *host = i % 3 == 0 ? g_strdup_printf ("10.0.0.%u", i + 1)
                                              : g_strdup_printf ("cache%u.example.net", i);
          guint port = i % 2 == 0 ? 11211 : 11211 + i;

          g_assert_cmpint (memcached_server_add (memc, host, (in_port_t) port), ==, MEMCACHED_SUCCESS);
          g_string_append_printf (spec, "%s%s:%u", i > 0 ? "," : "", host, port);
        }
      pool = braid_mc_pool_new (BRAID_REACTOR (fake), spec->str, &error);
      g_assert_no_error (error);
      for (guint k = 0; k < N_KEYS; k++)
        {
          g_autofree gchar *key = g_strdup_printf (k % 2 ? "user:%u:profile" : "%u", k * 2654435761u);
          guint theirs = memcached_generate_hash (memc, key, strlen (key));
          guint ours = braid_mc_pool_locate (pool, key);

          if (theirs != ours)
            {
              if (mismatches++ < 5)
                g_test_message ("pool of %u: key “%s”: libmemcached %u, braid %u", n, key, theirs, ours);
            }
        }
      g_test_message ("pool of %u servers: %u keys, %u mismatches", n, N_KEYS, mismatches);
      g_assert_cmpuint (mismatches, ==, 0);
      memcached_free (memc);
    }
}

static void
test_distribution (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcPool) pool = braid_mc_pool_new (BRAID_REACTOR (fake), "a:1,b:2,c:3,d:4", NULL);
  guint counts[4] = { 0 };

  g_test_summary ("Keys spread over all servers, none starved");
  for (guint k = 0; k < 20000; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("key%u", k);

      counts[braid_mc_pool_locate (pool, key)]++;
    }
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (counts[i], >, 20000 / 4 / 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/ketama/matches-libmemcached", test_matches_libmemcached);
  g_test_add_func ("/client/ketama/distribution", test_distribution);
  return g_test_run ();
}
