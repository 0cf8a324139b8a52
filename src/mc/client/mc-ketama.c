/* braid — ketama consistent hashing, libmemcached-compatible.
 *
 * The arithmetic below (floats included) follows what libmemcached's
 * update_continuum() computes, so that the same key lands on the same
 * server as with libmemcached, pylibmc and other ketama clients;
 * tests/client/test-ketama.c checks it against libmemcached itself. */
#include "mc-ketama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POINTS_PER_SERVER 160
#define POINTS_PER_HASH 4
#define DEFAULT_PORT 11211

typedef struct {
  guint32 value;
  guint index;
} Point;

struct _BraidKetama
{
  Point *points;
  guint n_points;
  gboolean one_server;   /* every point is the first server's: no need to hash */
};

static void
md5 (const gchar *data, gsize len, guint8 digest[16])
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_MD5);
  gsize dlen = 16;

  g_checksum_update (sum, (const guchar *) data, (gssize) len);
  g_checksum_get_digest (sum, digest, &dlen);
}

static guint32
digest_word (const guint8 *d, guint alignment)
{
  return ((guint32) d[3 + alignment * 4] << 24) | ((guint32) d[2 + alignment * 4] << 16) |
         ((guint32) d[1 + alignment * 4] << 8) | (guint32) d[alignment * 4];
}

guint32
braid_ketama_hash (const gchar *key, gsize len)
{
  guint8 d[16];

  md5 (key, len, d);
  return digest_word (d, 0);
}

static int
compare_points (const void *a, const void *b)
{
  const Point *x = a, *y = b;

  return x->value < y->value ? -1 : x->value > y->value ? 1 : 0;
}

BraidKetama *
braid_ketama_new (const BraidKetamaServer *servers, guint n_servers)
{
  BraidKetama *k = g_new0 (BraidKetama, 1);
  guint total_weight = 0;

  for (guint i = 0; i < n_servers; i++)
    total_weight += MAX (servers[i].weight, 1u);
  k->points = g_new0 (Point, (gsize) n_servers * POINTS_PER_SERVER * 2 + 1);
  for (guint i = 0; i < n_servers; i++)
    {
      /* libmemcached computes this in float, then floors. */
      float pct = (float) MAX (servers[i].weight, 1u) / (float) total_weight;
      guint per_server = (guint) (floorf ((float) (pct * POINTS_PER_SERVER / 4 * (float) n_servers + 0.0000000001))) * 4;

      for (guint p = 1; p <= per_server / POINTS_PER_HASH; p++)
        {
          g_autofree gchar *name = servers[i].port == DEFAULT_PORT
                                     ? g_strdup_printf ("%s-%u", servers[i].host, p - 1)
                                     : g_strdup_printf ("%s:%u-%u", servers[i].host, servers[i].port, p - 1);
          guint8 d[16];

          md5 (name, strlen (name), d);
          for (guint x = 0; x < POINTS_PER_HASH; x++)
            {
              k->points[k->n_points].value = digest_word (d, x);
              k->points[k->n_points].index = i;
              k->n_points++;
            }
        }
    }
  qsort (k->points, k->n_points, sizeof (Point), compare_points);
  k->one_server = n_servers == 1;
  return k;
}

void
braid_ketama_free (BraidKetama *ketama)
{
  if (ketama == NULL)
    return;
  g_free (ketama->points);
  g_free (ketama);
}

guint
braid_ketama_get_n_points (BraidKetama *ketama)
{
  return ketama->n_points;
}

guint
braid_ketama_lookup (BraidKetama *ketama, const gchar *key, gsize key_len)
{
  guint32 hash;
  guint left = 0, right = ketama->n_points;

  g_return_val_if_fail (ketama->n_points > 0, 0);
  if (ketama->one_server)
    return 0;  /* an MD5 per key for nothing, on every request of a one-server pool */
  hash = braid_ketama_hash (key, key_len);
  /* The first point at or after the hash; past the end wraps to 0. */
  while (left < right)
    {
      guint middle = left + (right - left) / 2;

      if (ketama->points[middle].value < hash)
        left = middle + 1;
      else
        right = middle;
    }
  if (right == ketama->n_points)
    right = 0;
  return ketama->points[right].index;
}
