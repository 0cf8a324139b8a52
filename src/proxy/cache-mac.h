/* braid — signed cache entries: with a secret the proxies share, an entry
 * is an HMAC-SHA256 over the cache key and the body, then the body, so
 * that a proxy serves only what a proxy holding the secret stored.
 *
 * Entry format: 32 bytes of HMAC-SHA256 (key: the secret; message: the
 * cache key, one NUL byte, the body), then the body as it is. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BRAID_CACHE_MAC_SIZE 32

/* (transfer full): the entry to store for @body under @key. */
GBytes *braid_cache_mac_seal (GBytes *secret, const gchar *key, GBytes *body);
/* (transfer full) (nullable): the body of @entry, found under @key, if its
 * MAC verifies (compared in constant time); NULL if it is too short to
 * carry one or the MAC is wrong.  The body is a slice of @entry, not a
 * copy. */
GBytes *braid_cache_mac_open (GBytes *secret, const gchar *key, GBytes *entry);

G_END_DECLS
