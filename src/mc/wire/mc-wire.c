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

/* A space or a control character: what the text protocol cannot carry.
 * Without a branch (a bitwise or), for has_bad_key_byte's loop. */
static inline gboolean
is_bad_key_byte (guint8 c)
{
  return (c <= ' ') | (c == 0x7f);
}

/* Every key of every request goes through here (twice through the pool):
 * one pass without a branch per byte, which the compiler can vectorise;
 * the byte is looked for only when there is one. */
static gboolean
has_bad_key_byte (const guint8 *key, gsize len)
{
  guint8 bad = 0;

  /* a byte-wide accumulator: the vectorised loop's lanes */
  for (gsize i = 0; i < len; i++)
    bad |= (guint8) is_bad_key_byte (key[i]);
  return bad != 0;
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
  if (!has_bad_key_byte ((const guint8 *) key, len))
    return TRUE;
  for (gsize i = 0; i < len; i++)
    if (is_bad_key_byte ((guint8) key[i]))
      {
        g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT,
                     "A key may not contain spaces or control characters (byte 0x%02x at %" G_GSIZE_FORMAT ")",
                     (guint8) key[i], i);
        return FALSE;
      }
  g_assert_not_reached ();
}
