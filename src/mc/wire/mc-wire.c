/* braid — the memcached text protocol's shared rules. */
#include "mc-wire.h"
#include "mc-error.h"

#include <string.h>

const gchar *
braid_mc_store_mode_name (BraidMcStoreMode mode)
{
  static const gchar *names[] = { "set", "add", "replace", "append", "prepend", "cas" };

  g_return_val_if_fail ((gsize) mode < G_N_ELEMENTS (names), NULL);
  return names[mode];
}

const gchar *
braid_mc_arith_mode_name (BraidMcArithMode mode)
{
  g_return_val_if_fail (mode == BRAID_MC_ARITH_MODE_INCR || mode == BRAID_MC_ARITH_MODE_DECR, NULL);
  return mode == BRAID_MC_ARITH_MODE_INCR ? "incr" : "decr";
}

gsize
braid_mc_item_size (gsize key_len, guint32 flags, gsize value_len, gboolean cas_enabled)
{
  return BRAID_MC_ITEM_HEADER + key_len + 1 + (flags != 0 ? sizeof flags : 0) + value_len + 2 +
         (cas_enabled ? 8 : 0);
}

gboolean
braid_mc_validate_key (const gchar *key, GError **error)
{
  gsize len = key != NULL ? strlen (key) : 0;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (len == 0 || len > BRAID_MC_KEY_MAX)
    {
      g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT,
                   "A key must be 1 to %d bytes (this one is %" G_GSIZE_FORMAT ")", BRAID_MC_KEY_MAX, len);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if ((guint8) key[i] <= ' ' || (guint8) key[i] == 0x7f)
      {
        g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT,
                     "A key may not contain spaces or control characters (byte 0x%02x at %" G_GSIZE_FORMAT ")",
                     (guint8) key[i], i);
        return FALSE;
      }
  return TRUE;
}
