/* braid — libmemcached-compatible ketama consistent hashing.
 *
 * The continuum of MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (what pylibmc and
 * other ketama clients use): MD5, 160 points per server of equal weight,
 * four points per digest of "host:port-N" ("host-N" on port 11211), and a
 * key goes to the first point at or after its hash, wrapping around. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BraidKetama BraidKetama;

typedef struct {
  const gchar *host;
  guint16 port;
  guint weight;   /* 0 is taken as 1 */
} BraidKetamaServer;

BraidKetama *braid_ketama_new (const BraidKetamaServer *servers, guint n_servers);
void braid_ketama_free (BraidKetama *ketama);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidKetama, braid_ketama_free)

/* The index (into the array given to new) of the server for @key. */
guint braid_ketama_lookup (BraidKetama *ketama, const gchar *key, gsize key_len);
guint braid_ketama_get_n_points (BraidKetama *ketama);
/* libmemcached's MD5 key hash: the digest's first four bytes, little end. */
guint32 braid_ketama_hash (const gchar *key, gsize len);

G_END_DECLS
