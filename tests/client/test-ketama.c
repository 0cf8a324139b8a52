/* braid — the pool's key-to-server mapping equals libmemcached's ketama
 * (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED), checked against libmemcached
 * itself, for thousands of keys and pools of 1 to 12 servers. */
#include "test-support.h"
#include "mc-pool.h"
#include "mc-ketama.h"

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

/* The servers libmemcached places for @servers' weighted ketama of @key. */
static guint
libmemcached_server_of (memcached_st *memc, const gchar *key)
{
  return memcached_generate_hash (memc, key, strlen (key));
}

static void
test_weighted_matches_libmemcached (void)
{
  static const BraidKetamaServer servers[] = {
    { "10.0.0.1", 11211, 1 }, { "cache1.example.net", 11212, 3 }, { "cache2.example.net", 11211, 2 },
    { "10.0.0.4", 11214, 7 }, { "cache4.example.net", 11211, 1 },
  };
  memcached_st *memc = memcached_create (NULL);
  g_autoptr(BraidKetama) ketama = braid_ketama_new (servers, G_N_ELEMENTS (servers));
  guint mismatches = 0;

  g_test_summary ("With unequal weights, every key goes to the server libmemcached's weighted ketama picks");
  memcached_behavior_set (memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    g_assert_cmpint (memcached_server_add_with_weight (memc, servers[i].host, servers[i].port, servers[i].weight),
                     ==, MEMCACHED_SUCCESS);
  for (guint k = 0; k < N_KEYS; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("weighted:%u", k * 2654435761u);

      mismatches += libmemcached_server_of (memc, key) != braid_ketama_lookup (ketama, key, strlen (key));
    }
  g_assert_cmpuint (mismatches, ==, 0);
  memcached_free (memc);
}

static void
test_points (void)
{
  static const BraidKetamaServer equal[] = { { "a", 11211, 1 }, { "b", 1, 1 }, { "c", 2, 1 } };
  static const BraidKetamaServer weighted[] = { { "a", 11211, 1 }, { "b", 11211, 3 } };

  g_test_summary ("160 points a server when weights are equal; with weights, each server's share of 160 × n, "
                  "floored to a multiple of 4 (libmemcached's update_continuum)");
  for (guint n = 1; n <= G_N_ELEMENTS (equal); n++)
    {
      g_autoptr(BraidKetama) k = braid_ketama_new (equal, n);

      g_assert_cmpuint (braid_ketama_get_n_points (k), ==, 160 * n);
    }
  {
    /* 1/4 of 320 and 3/4 of 320 */
    g_autoptr(BraidKetama) k = braid_ketama_new (weighted, G_N_ELEMENTS (weighted));

    g_assert_cmpuint (braid_ketama_get_n_points (k), ==, 80 + 240);
  }
}

static void
test_weight_zero_is_one (void)
{
  static const BraidKetamaServer zero[] = { { "a", 11211, 0 }, { "b", 11211, 0 }, { "c", 11211, 2 } };
  static const BraidKetamaServer one[] = { { "a", 11211, 1 }, { "b", 11211, 1 }, { "c", 11211, 2 } };
  g_autoptr(BraidKetama) with_zero = braid_ketama_new (zero, G_N_ELEMENTS (zero));
  g_autoptr(BraidKetama) with_one = braid_ketama_new (one, G_N_ELEMENTS (one));

  g_test_summary ("A weight of 0 counts as 1: the same points, the same server for every key");
  g_assert_cmpuint (braid_ketama_get_n_points (with_zero), ==, braid_ketama_get_n_points (with_one));
  for (guint k = 0; k < 2000; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("zero%u", k);

      g_assert_cmpuint (braid_ketama_lookup (with_zero, key, strlen (key)), ==,
                        braid_ketama_lookup (with_one, key, strlen (key)));
    }
}

static void
test_hash_is_md5_little_endian (void)
{
  g_test_summary ("A key's hash is the first four bytes of its MD5, little-endian (libmemcached's "
                  "ketama hash)");
  /* MD5("") = d41d8cd9…, MD5("a") = 0cc175b9… */
  g_assert_cmphex (braid_ketama_hash ("", 0), ==, 0xd98c1dd4);
  g_assert_cmphex (braid_ketama_hash ("a", 1), ==, 0xb975c10c);
  g_assert_cmphex (braid_ketama_hash ("ab", 1), ==, 0xb975c10c);
}

static void
test_empty_is_refused (void)
{
  g_test_summary ("A continuum without points has no server to give: looking a key up is a programming "
                  "error, reported, and answers 0");
  if (g_test_subprocess ())
    {
      g_autoptr(BraidKetama) k = braid_ketama_new (NULL, 0);

      g_assert_cmpuint (braid_ketama_get_n_points (k), ==, 0);
      g_assert_cmpuint (braid_ketama_lookup (k, "key", 3), ==, 0);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_stderr ("*CRITICAL*n_points > 0*");
}

/* The ring's points for @host (port 11211, weight 1, in a pool of
 * servers of equal weight): libmemcached's 40 MD5s of "HOST-N", four
 * little-endian words each; the lowest and highest in *@low, *@high. */
static void
points_of (const gchar *host, guint32 *low, guint32 *high)
{
  for (guint n = 0; n < 40; n++)
    {
      g_autofree gchar *name = g_strdup_printf ("%s-%u", host, n);
      g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_MD5);
      guint8 d[16];
      gsize len = sizeof d;

      g_checksum_update (sum, (const guchar *) name, (gssize) strlen (name));
      g_checksum_get_digest (sum, d, &len);
      for (guint w = 0; w < 4; w++)
        {
          guint32 v;

          memcpy (&v, d + 4 * w, sizeof v);
          v = GUINT32_FROM_LE (v);

          *low = MIN (*low, v);
          *high = MAX (*high, v);
        }
    }
}

static void
test_wrap_around (void)
{
  /* "a" and "c": one owns the highest point, the other the lowest, so
   * that wrapping to the wrong end of the ring shows */
  static const BraidKetamaServer servers[] = { { "a", 11211, 1 }, { "c", 11211, 1 } };
  g_autoptr(BraidKetama) ketama = braid_ketama_new (servers, G_N_ELEMENTS (servers));
  guint32 low[2] = { G_MAXUINT32, G_MAXUINT32 }, high[2] = { 0, 0 };
  guint lowest_owner, highest_owner, above = 0, at_or_below = 0;

  g_test_summary ("A key hashed past the ring's highest point goes to the owner of its lowest point, "
                  "as does a key hashed at or below that lowest point");
  for (guint i = 0; i < 2; i++)
    points_of (servers[i].host, &low[i], &high[i]);
  lowest_owner = low[0] < low[1] ? 0 : 1;
  highest_owner = high[0] > high[1] ? 0 : 1;
  g_assert_cmpuint (lowest_owner, !=, highest_owner);
  for (guint k = 0; above < 3 || at_or_below < 3; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("wrap%u", k);
      guint32 hash = braid_ketama_hash (key, strlen (key));

      if (hash > MAX (high[0], high[1]))
        above++;
      else if (hash <= MIN (low[0], low[1]))
        at_or_below++;
      else
        continue;
      g_assert_cmpuint (braid_ketama_lookup (ketama, key, strlen (key)), ==, lowest_owner);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/ketama/matches-libmemcached", test_matches_libmemcached);
  g_test_add_func ("/client/ketama/distribution", test_distribution);
  g_test_add_func ("/client/ketama/weighted-matches-libmemcached", test_weighted_matches_libmemcached);
  g_test_add_func ("/client/ketama/points", test_points);
  g_test_add_func ("/client/ketama/weight-zero-is-one", test_weight_zero_is_one);
  g_test_add_func ("/client/ketama/hash", test_hash_is_md5_little_endian);
  g_test_add_func ("/client/ketama/empty-is-refused", test_empty_is_refused);
  g_test_add_func ("/client/ketama/wrap-around", test_wrap_around);
  return g_test_run ();
}
