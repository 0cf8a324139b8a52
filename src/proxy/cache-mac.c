/* braid — HMAC-SHA256 over a cache entry (GLib's GHmac). */
#include "cache-mac.h"

#include <string.h>

static void
compute_mac (GBytes *secret, const gchar *key, const guint8 *body, gsize body_len, guint8 mac[BRAID_CACHE_MAC_SIZE])
{
  gsize secret_len, mac_len = BRAID_CACHE_MAC_SIZE;
  const guint8 *secret_data = g_bytes_get_data (secret, &secret_len);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, secret_data, secret_len);
  const guchar separator = 0;

  g_hmac_update (hmac, (const guchar *) key, (gssize) strlen (key));
  g_hmac_update (hmac, &separator, 1);
  if (body_len > 0)
    g_hmac_update (hmac, body, (gssize) body_len);
  g_hmac_get_digest (hmac, mac, &mac_len);
  g_assert (mac_len == BRAID_CACHE_MAC_SIZE);
}

GBytes *
braid_cache_mac_seal (GBytes *secret, const gchar *key, GBytes *body)
{
  gsize len;
  const guint8 *data;
  guint8 *entry;

  g_return_val_if_fail (secret != NULL && g_bytes_get_size (secret) > 0, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (body != NULL, NULL);

  data = g_bytes_get_data (body, &len);
  entry = g_malloc (BRAID_CACHE_MAC_SIZE + len);
  compute_mac (secret, key, data, len, entry);
  if (len > 0)
    memcpy (entry + BRAID_CACHE_MAC_SIZE, data, len);
  return g_bytes_new_take (entry, BRAID_CACHE_MAC_SIZE + len);
}

GBytes *
braid_cache_mac_open (GBytes *secret, const gchar *key, GBytes *entry)
{
  gsize len;
  const guint8 *data;
  guint8 expected[BRAID_CACHE_MAC_SIZE];
  guint8 difference = 0;

  g_return_val_if_fail (secret != NULL && g_bytes_get_size (secret) > 0, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (entry != NULL, NULL);

  data = g_bytes_get_data (entry, &len);
  if (len < BRAID_CACHE_MAC_SIZE)
    return NULL;
  compute_mac (secret, key, data + BRAID_CACHE_MAC_SIZE, len - BRAID_CACHE_MAC_SIZE, expected);
  /* Constant time: no early exit on the first differing byte. */
  for (gsize i = 0; i < BRAID_CACHE_MAC_SIZE; i++)
    difference |= expected[i] ^ data[i];
  if (difference != 0)
    return NULL;
  return g_bytes_new_from_bytes (entry, BRAID_CACHE_MAC_SIZE, len - BRAID_CACHE_MAC_SIZE);
}
