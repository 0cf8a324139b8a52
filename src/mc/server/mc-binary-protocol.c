/* braid — memcached's binary protocol on one braid-memcached connection.
 *
 * Each request is executed as memcached 1.6.18's proto_bin.c executes it:
 * the same statuses and messages, the same cas in each reply, the quiet
 * variants silent on success (and GETQ, GETKQ, GATQ, GATKQ on a miss),
 * errors always answered.  SASL is answered as by a memcached built
 * without it.  Where memcached 1.6.18 loses the framing (an unknown opcode
 * with extras or a key: it skips body-length bytes counted from after the
 * key, and holds its answer until they arrive), braid skips exactly the
 * rest of the body and answers at once: see docs/memcached.md. */
#include "mc-binary-protocol-private.h"
#include "mc-stats-private.h"
#include "mc-store-private.h"

#include <string.h>

/* Values up to this size are copied into the output buffer: for them a
 * reference costs more than the bytes (as for the text protocol). */
#define COPY_VALUE_MAX 512

/* incr/decr: an expiry of all ones means "do not create". */
#define ARITH_NO_CREATE 0xffffffffu

/* One request being executed: the connection, the request, whether it is
 * quiet, and what the connection is to do after. */
typedef struct {
  const BraidMcBinaryConnection *conn;
  const BraidMcBinaryRequest *request;
  guint8 opcode;        /* the loud opcode */
  gboolean quiet;
  BraidMcBinaryAfter *after;
  /* (out) (transfer full) (nullable): a value to send by reference once
   * the key's lock is released, as the last part of the reply */
  GBytes **by_reference;
} Exchange;

static GString *
out_of (const Exchange *x)
{
  return *x->conn->out;
}

static BraidMcStore *
store_of (const Exchange *x)
{
  return x->conn->shared->store;
}

static void
reply_error (const Exchange *x, BraidMcBinaryStatus status)
{
  braid_mc_binary_append_error (out_of (x), &x->request->header, status);
}

/* A success without extras, key or value (suppressed when quiet). */
static void
reply_success (const Exchange *x, guint64 cas)
{
  if (!x->quiet)
    braid_mc_binary_append_response (out_of (x), &x->request->header, BRAID_MC_BINARY_STATUS_NO_ERROR, cas,
                                     NULL, 0, NULL, 0, NULL, 0);
}

/* With -C, memcached's items have no cas: replies carry 0, a stored cas
 * is ignored, and a cas to check against one never matches. */
static guint64
item_cas (const Exchange *x, BraidMcItem *item)
{
  return braid_mc_store_item_cas (store_of (x), item);
}

/* The cas a store request asks to check (0: none). */
static guint64
store_cas (const Exchange *x)
{
  return x->conn->shared->settings.store.cas_enabled ? x->request->header.cas : 0;
}

/* The cas of what the request just stored under its key (live or
 * already expired). */
static guint64
cas_of (const Exchange *x)
{
  return x->conn->shared->settings.store.cas_enabled
           ? braid_mc_store_get_last_cas (store_of (x), x->request->key, x->request->header.key_len)
           : 0;
}

/* ---- retrieval: get, getk, touch, gat, gatk and their quiet variants ---- */

/* A hit: the flags as extras, the key for getk/gatk, the value unless
 * touch.  Large values go by reference to the item, not copied. */
static void
reply_item (const Exchange *x, BraidMcItem *item, gboolean with_key, gboolean with_value)
{
  const BraidMcBinaryConnection *conn = x->conn;
  guint8 flags[4];
  gsize key_len = with_key ? x->request->header.key_len : 0;
  gsize value_len = 0;
  const guint8 *value = braid_mc_item_get_value (item, &value_len);
  gboolean by_reference;

  if (!with_value)
    value_len = 0;
  by_reference = value_len > COPY_VALUE_MAX && conn->send_by_reference != NULL;
  braid_mc_binary_write_u32 (flags, braid_mc_item_get_flags (item));
  braid_mc_binary_append_response (out_of (x), &x->request->header, BRAID_MC_BINARY_STATUS_NO_ERROR,
                                   item_cas (x, item), flags, sizeof flags, x->request->key, key_len,
                                   by_reference ? NULL : value, value_len);
  if (by_reference)
    {
      g_autoptr(GBytes) block = braid_mc_item_ref_data_block (item);

      /* The data block ends in "\r\n", which the binary protocol omits.
       * Sent after the key's lock is released: the bytes hold a
       * reference to the item, whose value never changes. */
      g_assert (*x->by_reference == NULL);
      *x->by_reference = g_bytes_new_from_bytes (block, 0, value_len);
    }
}

static void
reply_miss (const Exchange *x, gboolean with_key)
{
  if (x->quiet)
    return;
  if (with_key)
    braid_mc_binary_append_response (out_of (x), &x->request->header, BRAID_MC_BINARY_STATUS_KEY_ENOENT, 0,
                                     NULL, 0, x->request->key, x->request->header.key_len, NULL, 0);
  else
    reply_error (x, BRAID_MC_BINARY_STATUS_KEY_ENOENT);
}

static void
do_get (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  gboolean with_key = x->opcode == BRAID_MC_BINARY_OPCODE_GETK;
  BraidMcItem *item = braid_mc_store_get (store_of (x), r->key, r->header.key_len);

  if (item != NULL)
    reply_item (x, item, with_key, TRUE);
  else
    reply_miss (x, with_key);
}

/* touch, gat, gatk.  The item found is answered even when the new
 * exptime is already past (it expires after this reply), as memcached
 * answers it. */
static void
do_touch (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  gboolean with_key = x->opcode == BRAID_MC_BINARY_OPCODE_GATK;
  gint64 exptime = braid_mc_binary_read_u32 (r->extras);
  BraidMcItem *live = braid_mc_store_peek (store_of (x), r->key, r->header.key_len);
  g_autoptr(BraidMcItem) item = live != NULL ? braid_mc_item_ref (live) : NULL;

  if (braid_mc_store_touch (store_of (x), r->key, r->header.key_len, exptime) != BRAID_MC_STORE_RESULT_TOUCHED)
    g_clear_pointer (&item, braid_mc_item_unref);
  if (item != NULL)
    reply_item (x, item, with_key, x->opcode != BRAID_MC_BINARY_OPCODE_TOUCH);
  else
    reply_miss (x, with_key);
}

/* ---- storage ---- */

static BraidMcStoreMode
store_mode_of (const Exchange *x)
{
  /* Any set, add or replace that carries a cas is a cas, in memcached. */
  if (store_cas (x) != 0 && x->opcode != BRAID_MC_BINARY_OPCODE_APPEND &&
      x->opcode != BRAID_MC_BINARY_OPCODE_PREPEND)
    return BRAID_MC_STORE_MODE_CAS;
  switch (x->opcode)
    {
    case BRAID_MC_BINARY_OPCODE_ADD: return BRAID_MC_STORE_MODE_ADD;
    case BRAID_MC_BINARY_OPCODE_REPLACE: return BRAID_MC_STORE_MODE_REPLACE;
    case BRAID_MC_BINARY_OPCODE_APPEND: return BRAID_MC_STORE_MODE_APPEND;
    case BRAID_MC_BINARY_OPCODE_PREPEND: return BRAID_MC_STORE_MODE_PREPEND;
    default: return BRAID_MC_STORE_MODE_SET;
    }
}

static BraidMcBinaryStatus
status_of_not_stored (const Exchange *x)
{
  switch (x->opcode)
    {
    case BRAID_MC_BINARY_OPCODE_ADD: return BRAID_MC_BINARY_STATUS_KEY_EEXISTS;
    case BRAID_MC_BINARY_OPCODE_REPLACE: return BRAID_MC_BINARY_STATUS_KEY_ENOENT;
    default: return BRAID_MC_BINARY_STATUS_NOT_STORED;
    }
}

/* append/prepend with a cas: the old item must still have it. */
static gboolean
append_cas_mismatch (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  BraidMcItem *old;

  if (store_cas (x) == 0 || (x->opcode != BRAID_MC_BINARY_OPCODE_APPEND && x->opcode != BRAID_MC_BINARY_OPCODE_PREPEND))
    return FALSE;
  old = braid_mc_store_peek (store_of (x), r->key, r->header.key_len);
  return old != NULL && item_cas (x, old) != store_cas (x);
}

static void
do_store (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  gboolean has_extras = r->header.extras_len == 8;
  guint32 flags = has_extras ? braid_mc_binary_read_u32 (r->extras) : 0;
  gint64 exptime = has_extras ? braid_mc_binary_read_u32 (r->extras + 4) : 0;
  BraidMcStoreResult result;

  if (append_cas_mismatch (x))
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_EEXISTS);
      return;
    }
  result = braid_mc_store_store (store_of (x), store_mode_of (x), r->key, r->header.key_len, flags, exptime,
                                 r->value, r->value_len, store_cas (x));
  switch (result)
    {
    case BRAID_MC_STORE_RESULT_STORED:
      reply_success (x, cas_of (x));
      break;
    case BRAID_MC_STORE_RESULT_EXISTS:
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_EEXISTS);
      break;
    case BRAID_MC_STORE_RESULT_NOT_FOUND:
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_ENOENT);
      break;
    case BRAID_MC_STORE_RESULT_NOT_STORED:
      reply_error (x, status_of_not_stored (x));
      break;
    case BRAID_MC_STORE_RESULT_TOO_LARGE:
      reply_error (x, BRAID_MC_BINARY_STATUS_E2BIG);
      break;
    default:
      reply_error (x, BRAID_MC_BINARY_STATUS_ENOMEM);
      break;
    }
}

/* A value over -I: memcached answers before reading it, then skips it. */
static void
refuse_too_large (const Exchange *x)
{
  /* memcached drops the old value of a set that fails for size, so that
   * a stale value does not outlive a write the client believes it made
   * (counted as store_too_large, not as a delete) */
  braid_mc_store_refuse_too_large (store_of (x), x->request->key, x->request->header.key_len,
                                   x->opcode == BRAID_MC_BINARY_OPCODE_SET);
  reply_error (x, BRAID_MC_BINARY_STATUS_E2BIG);
  x->after->swallow = x->request->value_len;
}

static void
do_delete (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  BraidMcItem *item = braid_mc_store_peek (store_of (x), r->key, r->header.key_len);

  if (item != NULL && r->header.cas != 0 && item_cas (x, item) != r->header.cas)
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_EEXISTS);
      return;
    }
  if (braid_mc_store_delete (store_of (x), r->key, r->header.key_len) == BRAID_MC_STORE_RESULT_DELETED)
    reply_success (x, 0);
  else
    reply_error (x, BRAID_MC_BINARY_STATUS_KEY_ENOENT);
}

/* ---- incr/decr ---- */

static void
reply_counter (const Exchange *x, guint64 value)
{
  guint8 body[8];

  if (x->quiet)
    return;
  braid_mc_binary_write_u64 (body, value);
  braid_mc_binary_append_response (out_of (x), &x->request->header, BRAID_MC_BINARY_STATUS_NO_ERROR, cas_of (x),
                                   NULL, 0, NULL, 0, body, sizeof body);
}

/* A miss with an expiry other than all ones stores the initial value. */
static void
create_counter (const Exchange *x, guint64 initial, guint32 exptime)
{
  const BraidMcBinaryRequest *r = x->request;
  gchar digits[24];
  gsize n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, initial);

  switch (braid_mc_store_store (store_of (x), BRAID_MC_STORE_MODE_ADD, r->key, r->header.key_len, 0, exptime,
                                (const guint8 *) digits, n, 0))
    {
    case BRAID_MC_STORE_RESULT_STORED:
      reply_counter (x, initial);
      break;
    case BRAID_MC_STORE_RESULT_NO_MEMORY:
      reply_error (x, BRAID_MC_BINARY_STATUS_ENOMEM);
      break;
    default:
      reply_error (x, BRAID_MC_BINARY_STATUS_NOT_STORED);
      break;
    }
}

static gboolean
item_is_empty (BraidMcItem *item)
{
  gsize len;

  braid_mc_item_get_value (item, &len);
  return len == 0;
}

static void
do_arith (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  guint64 delta = braid_mc_binary_read_u64 (r->extras);
  guint64 initial = braid_mc_binary_read_u64 (r->extras + 8);
  guint32 exptime = braid_mc_binary_read_u32 (r->extras + 16);
  BraidMcArithMode mode = x->opcode == BRAID_MC_BINARY_OPCODE_INCREMENT ? BRAID_MC_ARITH_MODE_INCR
                                                                        : BRAID_MC_ARITH_MODE_DECR;
  BraidMcItem *item = braid_mc_store_peek (store_of (x), r->key, r->header.key_len);
  guint64 value = 0;

  if (item == NULL && exptime != ARITH_NO_CREATE)
    {
      create_counter (x, initial, exptime);
      return;
    }
  /* memcached's order: an empty value is no number before the cas is
   * compared; other non-numbers only after */
  if (item != NULL && item_is_empty (item))
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_DELTA_BADVAL);
      return;
    }
  if (item != NULL && r->header.cas != 0 && item_cas (x, item) != r->header.cas)
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_EEXISTS);
      return;
    }
  switch (braid_mc_store_arith (store_of (x), r->key, r->header.key_len, mode, delta, &value))
    {
    case BRAID_MC_STORE_RESULT_STORED:
      reply_counter (x, value);
      break;
    case BRAID_MC_STORE_RESULT_NOT_FOUND:
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_ENOENT);
      break;
    case BRAID_MC_STORE_RESULT_NON_NUMERIC:
      reply_error (x, BRAID_MC_BINARY_STATUS_DELTA_BADVAL);
      break;
    default:
      reply_error (x, BRAID_MC_BINARY_STATUS_ENOMEM);
      break;
    }
}

/* ---- stat ---- */

/* Turns the text reply of "stats …" into one packet per "STAT name
 * value" line, and appends the empty packet that ends the list. */
static void
reply_stats_from_text (const Exchange *x, const gchar *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\r\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *name, *value;
      gsize name_len;

      if (!g_str_has_prefix (lines[i], "STAT "))
        continue;
      name = lines[i] + 5;
      value = strchr (name, ' ');
      name_len = value != NULL ? (gsize) (value - name) : strlen (name);
      value = value != NULL ? value + 1 : "";
      braid_mc_binary_append_response (out_of (x), &x->request->header, BRAID_MC_BINARY_STATUS_NO_ERROR, 0, NULL, 0,
                                       (const guint8 *) name, name_len, (const guint8 *) value, strlen (value));
    }
  reply_success (x, 0);
}

static gboolean
key_has_prefix (const BraidMcBinaryRequest *r, const gchar *prefix)
{
  gsize n = strlen (prefix);

  return r->header.key_len >= n && memcmp (r->key, prefix, n) == 0;
}

static gboolean
key_is (const BraidMcBinaryRequest *r, const gchar *word)
{
  return r->header.key_len == strlen (word) && key_has_prefix (r, word);
}

/* Runs the text "stats @arg" and returns its reply (NULL if unknown). */
static gchar *
text_stats (const Exchange *x, const gchar *arg)
{
  GString *text = g_string_new (NULL);

  if (!braid_mc_stats_write (x->conn->shared, x->conn->info, arg, text))
    {
      g_string_free (text, TRUE);
      return NULL;
    }
  return g_string_free (text, FALSE);
}

/* "detail on|off|dump", matched by prefix as memcached matches it. */
static void
do_stat_detail (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  g_autofree gchar *text = NULL;

  if (key_has_prefix (r, "detail dump"))
    {
      /* memcached sends the dump whole, as the value of "detailed". */
      text = text_stats (x, "detail dump");
      braid_mc_binary_append_response (out_of (x), &r->header, BRAID_MC_BINARY_STATUS_NO_ERROR, 0, NULL, 0,
                                       (const guint8 *) "detailed", 8, (const guint8 *) text, strlen (text));
    }
  else if (key_has_prefix (r, "detail on"))
    text = text_stats (x, "detail on");
  else if (key_has_prefix (r, "detail off"))
    text = text_stats (x, "detail off");
  else
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_ENOENT);
      return;
    }
  reply_success (x, 0);
}

/* The groups memcached's binary STAT knows; the others (conns,
 * cachedump, …) are "Not found" there. */
static void
do_stat (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;
  g_autofree gchar *text = NULL;

  if (r->header.key_len == 0)
    text = text_stats (x, NULL);
  else if (key_has_prefix (r, "reset"))
    text = text_stats (x, "reset");
  else if (key_has_prefix (r, "settings"))
    text = text_stats (x, "settings");
  else if (key_has_prefix (r, "detail"))
    {
      do_stat_detail (x);
      return;
    }
  else if (key_is (r, "items") || key_is (r, "slabs") || key_is (r, "sizes"))
    {
      g_autofree gchar *group = g_strndup ((const gchar *) r->key, r->header.key_len);

      text = text_stats (x, group);
    }
  if (text == NULL)
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_KEY_ENOENT);
      return;
    }
  reply_stats_from_text (x, text);
}

/* ---- the rest ---- */

static void
do_flush (const Exchange *x)
{
  const BraidMcBinaryRequest *r = x->request;

  if (!x->conn->shared->settings.flush_enabled)
    {
      reply_error (x, BRAID_MC_BINARY_STATUS_AUTH_ERROR);
      return;
    }
  braid_mc_store_flush (store_of (x), r->header.extras_len == 4 ? braid_mc_binary_read_u32 (r->extras) : 0);
  reply_success (x, 0);
}

static void
do_version (const Exchange *x)
{
  static const gchar version[] = BRAID_MC_VERSION_STRING;

  braid_mc_binary_append_response (out_of (x), &x->request->header, BRAID_MC_BINARY_STATUS_NO_ERROR, 0, NULL, 0,
                                   NULL, 0, (const guint8 *) version, sizeof version - 1);
}

/* Everything memcached does not serve, SASL included (a memcached built
 * without SASL): "unknown command" at once, and the rest of the body
 * skipped. */
static void
refuse_unknown (const Exchange *x)
{
  reply_error (x, BRAID_MC_BINARY_STATUS_UNKNOWN_COMMAND);
  x->after->swallow = x->request->value_len;
}

/* The requests that work on one key (the rest work on the whole store,
 * or on none). */
static gboolean
has_key (guint8 opcode)
{
  switch (opcode)
    {
    case BRAID_MC_BINARY_OPCODE_GET:
    case BRAID_MC_BINARY_OPCODE_GETK:
    case BRAID_MC_BINARY_OPCODE_TOUCH:
    case BRAID_MC_BINARY_OPCODE_GAT:
    case BRAID_MC_BINARY_OPCODE_GATK:
    case BRAID_MC_BINARY_OPCODE_SET:
    case BRAID_MC_BINARY_OPCODE_ADD:
    case BRAID_MC_BINARY_OPCODE_REPLACE:
    case BRAID_MC_BINARY_OPCODE_APPEND:
    case BRAID_MC_BINARY_OPCODE_PREPEND:
    case BRAID_MC_BINARY_OPCODE_DELETE:
    case BRAID_MC_BINARY_OPCODE_INCREMENT:
    case BRAID_MC_BINARY_OPCODE_DECREMENT:
      return TRUE;
    default:
      return FALSE;
    }
}

static void
execute (const Exchange *x)
{
  switch (x->opcode)
    {
    case BRAID_MC_BINARY_OPCODE_GET:
    case BRAID_MC_BINARY_OPCODE_GETK:
      do_get (x);
      break;
    case BRAID_MC_BINARY_OPCODE_TOUCH:
    case BRAID_MC_BINARY_OPCODE_GAT:
    case BRAID_MC_BINARY_OPCODE_GATK:
      do_touch (x);
      break;
    case BRAID_MC_BINARY_OPCODE_SET:
    case BRAID_MC_BINARY_OPCODE_ADD:
    case BRAID_MC_BINARY_OPCODE_REPLACE:
    case BRAID_MC_BINARY_OPCODE_APPEND:
    case BRAID_MC_BINARY_OPCODE_PREPEND:
      do_store (x);
      break;
    case BRAID_MC_BINARY_OPCODE_DELETE:
      do_delete (x);
      break;
    case BRAID_MC_BINARY_OPCODE_INCREMENT:
    case BRAID_MC_BINARY_OPCODE_DECREMENT:
      do_arith (x);
      break;
    case BRAID_MC_BINARY_OPCODE_FLUSH:
      do_flush (x);
      break;
    case BRAID_MC_BINARY_OPCODE_STAT:
      do_stat (x);
      break;
    case BRAID_MC_BINARY_OPCODE_NOOP:
      reply_success (x, 0);
      break;
    case BRAID_MC_BINARY_OPCODE_VERSION:
      do_version (x);
      break;
    case BRAID_MC_BINARY_OPCODE_QUIT:
      reply_success (x, 0);
      x->after->close = TRUE;
      break;
    default:
      refuse_unknown (x);
      break;
    }
}

/* A malformed request: memcached's answer, and what happens after. */
static void
refuse_malformed (const Exchange *x)
{
  switch (x->request->problem)
    {
    case BRAID_MC_BINARY_PROBLEM_BAD_MAGIC:
      /* closed without an answer */
      break;
    case BRAID_MC_BINARY_PROBLEM_BODY_TOO_SHORT:
      reply_error (x, BRAID_MC_BINARY_STATUS_UNKNOWN_COMMAND);
      break;
    case BRAID_MC_BINARY_PROBLEM_KEY_TOO_LONG:
    case BRAID_MC_BINARY_PROBLEM_BAD_SHAPE:
    default:
      reply_error (x, BRAID_MC_BINARY_STATUS_EINVAL);
      break;
    }
  x->after->close = TRUE;
}

gsize
braid_mc_binary_protocol_step (const BraidMcBinaryConnection *conn,
                               const BraidMcBinaryParser *parser,
                               const guint8 *in,
                               gsize len,
                               BraidMcBinaryAfter *after)
{
  BraidMcBinaryRequest request;
  g_autoptr(GBytes) by_reference = NULL;
  Exchange x = { conn, &request, 0, FALSE, after, &by_reference };
  gsize used;

  g_return_val_if_fail (conn != NULL, 0);
  g_return_val_if_fail (parser != NULL, 0);
  g_return_val_if_fail (after != NULL, 0);

  after->swallow = 0;
  after->close = FALSE;
  used = braid_mc_binary_parse_request (parser, in, len, &request);
  if (used == 0)
    return 0;
  x.opcode = braid_mc_binary_opcode_loud (request.header.opcode);
  x.quiet = braid_mc_binary_opcode_is_quiet (request.header.opcode);
  if (request.problem == BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE)
    refuse_too_large (&x);
  else if (request.problem != BRAID_MC_BINARY_PROBLEM_NONE)
    refuse_malformed (&x);
  else if (has_key (x.opcode))
    {
      /* The command's steps (a peek for the cas, then the store, say)
       * run under the key's lock, as memcached runs them under its item
       * lock; nothing is written to the transport meanwhile. */
      braid_mc_store_lock_key (store_of (&x), request.key, request.header.key_len);
      execute (&x);
      braid_mc_store_unlock_key (store_of (&x), request.key, request.header.key_len);
    }
  else
    execute (&x);
  if (by_reference != NULL)
    conn->send_by_reference (conn->send_data, by_reference);
  return used;
}
