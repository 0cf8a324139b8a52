/* braid — what both ends of the memcached text protocol agree on: the
 * limits, the storage and arithmetic modes, and what a key may be.  The
 * server (mc/server) and the client (mc/client) both build on this and
 * never on each other. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BRAID_MC_KEY_MAX 250
/* A command line without '\n' longer than this closes the connection;
 * get/gets lines (many keys) may be longer, up to the next. */
#define BRAID_MC_LINE_MAX 2048
#define BRAID_MC_MULTIGET_LINE_MAX (1024 * 1024)
/* memcached reads into a 16 KiB buffer: any other line whose '\n' does
 * not fit in it never completes there, and the connection is closed. */
#define BRAID_MC_READ_BUFFER 16384
/* memcached's item header: what an item costs beyond its key and value. */
#define BRAID_MC_ITEM_HEADER 48
/* Expiry times up to this many seconds are relative, larger ones are
 * absolute Unix times. */
#define BRAID_MC_REALTIME_MAXDELTA (60 * 60 * 24 * 30)

/**
 * BraidMcStoreMode:
 * @BRAID_MC_STORE_MODE_SET: store unconditionally
 * @BRAID_MC_STORE_MODE_ADD: only if the key is absent
 * @BRAID_MC_STORE_MODE_REPLACE: only if the key is present
 * @BRAID_MC_STORE_MODE_APPEND: add the data after the present value
 * @BRAID_MC_STORE_MODE_PREPEND: add the data before the present value
 * @BRAID_MC_STORE_MODE_CAS: only if the item is unchanged since the cas
 *   unique was read
 *
 * The six storage commands, as a store and a client take them.
 */
typedef enum {
  BRAID_MC_STORE_MODE_SET,
  BRAID_MC_STORE_MODE_ADD,
  BRAID_MC_STORE_MODE_REPLACE,
  BRAID_MC_STORE_MODE_APPEND,
  BRAID_MC_STORE_MODE_PREPEND,
  BRAID_MC_STORE_MODE_CAS,
} BraidMcStoreMode;

/**
 * BraidMcArithMode:
 * @BRAID_MC_ARITH_MODE_INCR: add the delta, wrapping at 2^64
 * @BRAID_MC_ARITH_MODE_DECR: subtract the delta, stopping at 0
 */
typedef enum {
  BRAID_MC_ARITH_MODE_INCR,
  BRAID_MC_ARITH_MODE_DECR,
} BraidMcArithMode;

/* The command word of @mode ("set", "add", …). */
const gchar *braid_mc_store_mode_name (BraidMcStoreMode mode);
/* "incr" or "decr". */
const gchar *braid_mc_arith_mode_name (BraidMcArithMode mode);

/* The size memcached 1.6 charges an item of this key, flags and value
 * against its item size limit (-I): a client checks a value before
 * sending it by the same rule the server applies.  Flags cost 4 bytes
 * unless they are 0. */
gsize braid_mc_item_size (gsize key_len, guint32 flags, gsize value_len, gboolean cas_enabled);

/* TRUE if @key can travel in a text-protocol command: 1 to 250 bytes, no
 * space, control character or DEL.  Otherwise sets @error
 * (BRAID_MC_ERROR_INVALID_ARGUMENT). */
gboolean braid_mc_validate_key (const gchar *key, GError **error);

G_END_DECLS
