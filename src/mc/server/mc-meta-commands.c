/* braid — the meta commands, as memcached 1.6.18 answers them.
 *
 * A reply is a code (HD, VA <len>, EN, NS, EX, NF, MN, ME) followed by
 * the return flags in the order the client sent them.  q silences the
 * nominal replies only: a hit's HD/VA on mg is still sent, a miss's EN is
 * not; ms silences HD, md HD, ma its whole success; NS, EX, NF from ms,
 * md and ma, and every error, are always sent (proto_text.c's
 * resp->skip).  mn needs no flushing of its own: a connection's replies
 * go out once its input is consumed. */
#include "mc-meta-commands-private.h"
#include "mc-meta-parser-private.h"
#include "mc-store-private.h"

#include <string.h>

#define COUNT(store, field) braid_mc_store_count ((store), G_STRUCT_OFFSET (BraidMcStats, field))

/* ---- reply pieces ---- */

static void
append_flag_number (GString *out, gchar letter, guint64 value)
{
  g_string_append_printf (out, " %c%" G_GUINT64_FORMAT, letter, value);
}

/* The key as sent back: in base64 with a " b" after it when it is binary. */
static void
append_key (GString *out, const guint8 *key, gsize key_len, gboolean binary)
{
  g_string_append (out, " k");
  if (binary)
    {
      g_autofree gchar *encoded = g_base64_encode (key, key_len);

      g_string_append (out, encoded);
      g_string_append (out, " b");
    }
  else
    g_string_append_len (out, (const gchar *) key, (gssize) key_len);
}

static void
append_opaque (GString *out, const BraidMcMetaFlag *flag)
{
  g_string_append_c (out, ' ');
  g_string_append_len (out, (const gchar *) flag->token, (gssize) flag->len);
}

/* What every reply without an item carries: O and k, in order. */
static void
append_opaque_and_key (GString *out, const BraidMcMetaCommand *meta)
{
  for (guint i = 0; i < meta->n_flags; i++)
    if (meta->flags[i].token[0] == 'O')
      append_opaque (out, &meta->flags[i]);
    else if (meta->flags[i].token[0] == 'k')
      append_key (out, meta->key, meta->key_len, meta->key_binary);
}

static void
append_ttl (GString *out, BraidMcStore *store, BraidMcItem *item)
{
  gint64 ttl = braid_mc_store_get_ttl (store, item);

  g_string_append_printf (out, " t%" G_GINT64_FORMAT, ttl);
}

static gboolean
item_has_mark (BraidMcItem *item, BraidMcItemMarks mark)
{
  return (braid_mc_item_get_marks (item) & mark) != 0;
}

/* ---- mg ---- */

typedef struct {
  BraidMcItem *item;        /* (unowned) */
  gboolean created;         /* by N, just now */
  gboolean won;             /* this client gets W */
  gboolean touched;         /* T */
} GetState;

/* One return flag of a hit, or its side effect (T, N, R), in the order
 * sent: "t" before "T30" prints the old ttl, after it the new one. */
static void
get_flag (BraidMcStore *store, const BraidMcMetaCommand *meta, const BraidMcMetaFlag *flag, GetState *st,
          GString *out)
{
  BraidMcItem *item = st->item;
  gsize value_len;

  switch (flag->token[0])
    {
    case 'T':
      st->touched = TRUE;
      braid_mc_store_set_expiry (store, item, meta->ttl);
      break;
    case 'N':
      if (st->created)
        {
          braid_mc_store_set_expiry (store, item, meta->vivify_ttl);
          st->won = TRUE;
        }
      break;
    case 'R':
      /* Recache: the first to ask once the ttl left is under R wins. */
      if (!item_has_mark (item, BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT) && !st->created &&
          braid_mc_store_expires_before (store, item, meta->recache_ttl))
        st->won = TRUE;
      break;
    case 's':
      braid_mc_item_get_value (item, &value_len);
      append_flag_number (out, 's', value_len);
      break;
    case 't':
      append_ttl (out, store, item);
      break;
    case 'c':
      append_flag_number (out, 'c', braid_mc_store_item_cas (store, item));
      break;
    case 'f':
      append_flag_number (out, 'f', braid_mc_item_get_flags (item));
      break;
    case 'l':
      append_flag_number (out, 'l', (guint64) braid_mc_store_get_idle (store, item));
      break;
    case 'h':
      append_flag_number (out, 'h', item_has_mark (item, BRAID_MC_ITEM_MARK_FETCHED) ? 1 : 0);
      break;
    case 'O':
      append_opaque (out, flag);
      break;
    case 'k':
      {
        gsize key_len;
        const guint8 *key = braid_mc_item_get_key (item, &key_len);

        append_key (out, key, key_len, item_has_mark (item, BRAID_MC_ITEM_MARK_KEY_BINARY));
      }
      break;
    default:
      break;
    }
}

/* Z when a win was already handed out, X when stale, W to the winner
 * (and then to nobody else until the item is invalidated again). */
static void
append_win_flags (BraidMcItem *item, GetState *st, GString *out)
{
  gboolean token_sent = item_has_mark (item, BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT);

  if (token_sent)
    g_string_append (out, " Z");
  if (item_has_mark (item, BRAID_MC_ITEM_MARK_STALE))
    {
      g_string_append (out, " X");
      if (!token_sent)
        st->won = TRUE;
    }
  if (st->won)
    {
      g_string_append (out, " W");
      braid_mc_item_add_marks (item, BRAID_MC_ITEM_MARK_WIN_TOKEN_SENT);
    }
}

static void
execute_get (BraidMcStore *store, const BraidMcMetaCommand *meta, GString *out, BraidMcMetaOutcome *outcome)
{
  GetState st = { braid_mc_store_peek (store, meta->key, meta->key_len), FALSE, FALSE, FALSE };
  gsize value_len;

  if (st.item == NULL && braid_mc_meta_has_flag (meta, 'N'))
    {
      st.item = braid_mc_store_vivify (store, meta->key, meta->key_len, NULL, 0);
      st.created = st.item != NULL;
    }
  if (st.item == NULL)
    {
      /* memcached counts a miss as a get, T or not. */
      COUNT (store, cmd_get);
      COUNT (store, get_misses);
      if (braid_mc_meta_has_flag (meta, 'q'))
        return;
      g_string_append (out, "EN");
      append_opaque_and_key (out, meta);
      g_string_append (out, "\r\n");
      return;
    }

  braid_mc_item_get_value (st.item, &value_len);
  if (braid_mc_meta_has_flag (meta, 'v'))
    g_string_append_printf (out, "VA %" G_GSIZE_FORMAT, value_len);
  else
    g_string_append (out, "HD");
  for (guint i = 0; i < meta->n_flags; i++)
    get_flag (store, meta, &meta->flags[i], &st, out);
  /* memcached stops at an opaque too long before it sends (and marks) a
   * win token */
  if (!meta->opaque_too_long)
    append_win_flags (st.item, &st, out);
  g_string_append (out, "\r\n");
  if (braid_mc_meta_has_flag (meta, 'v'))
    outcome->value = braid_mc_item_ref (st.item);
  /* After the reply: h and l show the state before this fetch.  A
   * vivified item is marked fetched only once its reply is written, which
   * an opaque too long stops (memcached's order). */
  if (!braid_mc_meta_has_flag (meta, 'u') && !(st.created && meta->opaque_too_long))
    braid_mc_store_bump (store, st.item);
  if (st.touched)
    {
      COUNT (store, cmd_touch);
      COUNT (store, touch_hits);
    }
  else
    {
      COUNT (store, cmd_get);
      COUNT (store, get_hits);
    }
}

/* ---- ms ---- */

static BraidMcStoreMode
store_mode (const BraidMcMetaCommand *meta)
{
  gboolean with_cas = braid_mc_meta_has_flag (meta, 'C');

  switch (meta->mode)
    {
    case 'E':
      return BRAID_MC_STORE_MODE_ADD;
    case 'A':
      return BRAID_MC_STORE_MODE_APPEND;
    case 'P':
      return BRAID_MC_STORE_MODE_PREPEND;
    case 'R':
      /* replace with a cas is a cas */
      return with_cas ? BRAID_MC_STORE_MODE_CAS : BRAID_MC_STORE_MODE_REPLACE;
    case 'S':
    default:
      return with_cas ? BRAID_MC_STORE_MODE_CAS : BRAID_MC_STORE_MODE_SET;
    }
}

static const gchar *
store_code (BraidMcStoreResult r)
{
  switch (r)
    {
    case BRAID_MC_STORE_RESULT_STORED:
      return "HD";
    case BRAID_MC_STORE_RESULT_EXISTS:
      return "EX";
    case BRAID_MC_STORE_RESULT_NOT_FOUND:
      return "NF";
    case BRAID_MC_STORE_RESULT_NOT_STORED:
      return "NS";
    default:
      return NULL;
    }
}

/* Too large for -I: memcached also drops the item the value was to
 * replace, so a failed write never leaves a stale value behind. */
static void
refuse_too_large (BraidMcStore *store, const BraidMcCommand *cmd, const BraidMcMetaCommand *meta, GString *out,
                  BraidMcMetaOutcome *outcome)
{
  COUNT (store, store_too_large);
  braid_mc_store_meta_delete (store, meta->key, meta->key_len, FALSE, 0);
  g_string_append (out, "SERVER_ERROR object too large for cache\r\n");
  outcome->swallow = cmd->swallow;
}

static void
execute_set (BraidMcStore *store, const BraidMcCommand *cmd, const BraidMcMetaCommand *meta, GString *out,
             BraidMcMetaOutcome *outcome)
{
  BraidMcStoreMode mode = store_mode (meta);
  guint64 cas = 0;
  BraidMcStoreResult r;
  const gchar *code;

  if (!cmd->has_data_block)
    {
      refuse_too_large (store, cmd, meta, out, outcome);
      return;
    }
  r = braid_mc_store_meta_store (store, mode, meta->key, meta->key_len, meta->key_binary, meta->client_flags,
                                 braid_mc_meta_has_flag (meta, 'T') ? meta->ttl : 0, cmd->value, cmd->value_len,
                                 meta->cas, braid_mc_meta_has_flag (meta, 'I'), &cas);
  code = store_code (r);
  if (code == NULL)
    {
      g_string_append (out, r == BRAID_MC_STORE_RESULT_TOO_LARGE ? "SERVER_ERROR object too large for cache\r\n"
                                                                  : "SERVER_ERROR out of memory storing object\r\n");
      return;
    }
  if (r == BRAID_MC_STORE_RESULT_STORED && braid_mc_meta_has_flag (meta, 'q'))
    return;
  g_string_append (out, code);
  for (guint i = 0; i < meta->n_flags; i++)
    if (meta->flags[i].token[0] == 'O')
      append_opaque (out, &meta->flags[i]);
    else if (meta->flags[i].token[0] == 'k')
      append_key (out, meta->key, meta->key_len, meta->key_binary);
    else if (meta->flags[i].token[0] == 'c')
      append_flag_number (out, 'c', cas);
  g_string_append (out, "\r\n");
}

/* ---- md ---- */

static void
execute_delete (BraidMcStore *store, const BraidMcMetaCommand *meta, GString *out)
{
  gboolean compare_cas = braid_mc_meta_has_flag (meta, 'C');
  BraidMcStoreResult r;
  const gchar *code;

  if (braid_mc_meta_has_flag (meta, 'I'))
    r = braid_mc_store_invalidate (store, meta->key, meta->key_len, compare_cas, meta->cas,
                                   braid_mc_meta_has_flag (meta, 'T'), meta->ttl);
  else
    {
      r = braid_mc_store_meta_delete (store, meta->key, meta->key_len, compare_cas, meta->cas);
      if (r == BRAID_MC_STORE_RESULT_DELETED)
        COUNT (store, delete_hits);
      else
        COUNT (store, delete_misses);
    }
  if (r == BRAID_MC_STORE_RESULT_DELETED || r == BRAID_MC_STORE_RESULT_STORED)
    {
      if (braid_mc_meta_has_flag (meta, 'q'))
        return;
      code = "HD";
    }
  else
    code = r == BRAID_MC_STORE_RESULT_EXISTS ? "EX" : "NF";
  g_string_append (out, code);
  append_opaque_and_key (out, meta);
  g_string_append (out, "\r\n");
}

/* ---- ma ---- */

static void
arith_flags (BraidMcStore *store, const BraidMcMetaCommand *meta, BraidMcItem *item, gboolean created,
             GString *out)
{
  for (guint i = 0; i < meta->n_flags; i++)
    switch (meta->flags[i].token[0])
      {
      case 'c':
        append_flag_number (out, 'c', braid_mc_store_item_cas (store, item));
        break;
      case 't':
        append_ttl (out, store, item);
        break;
      case 'T':
        braid_mc_store_set_expiry (store, item, meta->ttl);
        break;
      case 'N':
        if (created)
          braid_mc_store_set_expiry (store, item, meta->vivify_ttl);
        break;
      case 'O':
        append_opaque (out, &meta->flags[i]);
        break;
      case 'k':
        append_key (out, meta->key, meta->key_len, meta->key_binary);
        break;
      default:
        break;
      }
}

static void
count_arith_miss (BraidMcStore *store, BraidMcArithMode mode)
{
  if (mode == BRAID_MC_ARITH_MODE_INCR)
    COUNT (store, incr_misses);
  else
    COUNT (store, decr_misses);
}

static void
count_arith_hit (BraidMcStore *store, BraidMcArithMode mode)
{
  if (mode == BRAID_MC_ARITH_MODE_INCR)
    COUNT (store, incr_hits);
  else
    COUNT (store, decr_hits);
}

/* A miss with N: the counter starts at J (0 by default), untouched by D. */
static BraidMcItem *
vivify_counter (BraidMcStore *store, const BraidMcMetaCommand *meta, guint64 *value)
{
  gchar digits[24];
  gsize n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, meta->initial);
  BraidMcItem *item = braid_mc_store_vivify (store, meta->key, meta->key_len, (const guint8 *) digits, n);

  *value = meta->initial;
  return item != NULL ? braid_mc_item_ref (item) : NULL;
}

/* The success reply of ma.  Built aside: a quiet success (not a
 * vivified one) is not sent, but still applies its T and N. */
static void
arith_reply (BraidMcStore *store, const BraidMcMetaCommand *meta, BraidMcItem *item, gboolean created,
             guint64 value, GString *out)
{
  GString *line = g_string_new (NULL);
  gchar digits[24];

  g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, value);
  if (braid_mc_meta_has_flag (meta, 'v'))
    g_string_append_printf (line, "VA %" G_GSIZE_FORMAT, strlen (digits));
  else
    g_string_append (line, "HD");
  arith_flags (store, meta, item, created, line);
  if (braid_mc_meta_has_flag (meta, 'v'))
    g_string_append_printf (line, "\r\n%s", digits);
  g_string_append (line, "\r\n");
  if (created || !braid_mc_meta_has_flag (meta, 'q'))
    g_string_append_len (out, line->str, (gssize) line->len);
  g_string_free (line, TRUE);
}

static void
execute_arith (BraidMcStore *store, const BraidMcMetaCommand *meta, GString *out)
{
  BraidMcArithMode mode = meta->mode == 'D' || meta->mode == '-' ? BRAID_MC_ARITH_MODE_DECR
                                                                 : BRAID_MC_ARITH_MODE_INCR;
  g_autoptr(BraidMcItem) item = NULL;
  gboolean created = FALSE;
  guint64 value = 0;
  BraidMcStoreResult r = braid_mc_store_meta_arith (store, meta->key, meta->key_len, mode, meta->delta,
                                                    braid_mc_meta_has_flag (meta, 'C') ? meta->cas : 0,
                                                    &value, &item);

  switch (r)
    {
    case BRAID_MC_STORE_RESULT_STORED:
      count_arith_hit (store, mode);
      break;
    case BRAID_MC_STORE_RESULT_NON_NUMERIC:
      g_string_append (out, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      return;
    case BRAID_MC_STORE_RESULT_NO_MEMORY:
      g_string_append (out, "SERVER_ERROR out of memory\r\n");
      return;
    case BRAID_MC_STORE_RESULT_NOT_FOUND:
      if (braid_mc_meta_has_flag (meta, 'N'))
        {
          item = vivify_counter (store, meta, &value);
          created = item != NULL;
          if (created)
            break;
          g_string_append (out, "SERVER_ERROR Out of memory allocating new item\r\n");
          return;
        }
      count_arith_miss (store, mode);
      /* fall through */
    case BRAID_MC_STORE_RESULT_EXISTS:
    default:
      g_string_append (out, r == BRAID_MC_STORE_RESULT_EXISTS ? "EX" : "NF");
      append_opaque_and_key (out, meta);
      g_string_append (out, "\r\n");
      return;
    }

  arith_reply (store, meta, item, created, value, out);
}

/* ---- me ---- */

static void
execute_debug (BraidMcServerShared *shared, const BraidMcMetaCommand *meta, GString *out)
{
  BraidMcStore *store = shared->store;
  BraidMcItem *item = braid_mc_store_peek (store, meta->key, meta->key_len);
  gsize key_len, value_len;
  const guint8 *key;

  COUNT (store, cmd_meta);
  if (item == NULL)
    {
      g_string_append (out, "EN\r\n");
      return;
    }
  key = braid_mc_item_get_key (item, &key_len);
  braid_mc_item_get_value (item, &value_len);
  g_string_append (out, "ME ");
  if (item_has_mark (item, BRAID_MC_ITEM_MARK_KEY_BINARY))
    {
      g_autofree gchar *encoded = g_base64_encode (key, key_len);

      g_string_append (out, encoded);
    }
  else
    g_string_append_len (out, (const gchar *) key, (gssize) key_len);
  /* braid has one slab class; size is memcached's nominal item size. */
  g_string_append_printf (out, " exp=%" G_GINT64_FORMAT " la=%" G_GINT64_FORMAT " cas=%" G_GUINT64_FORMAT
                          " fetch=%s cls=1 size=%" G_GSIZE_FORMAT "\r\n",
                          braid_mc_store_get_exp_debug (store, item), braid_mc_store_get_idle (store, item),
                          braid_mc_store_item_cas (store, item),
                          item_has_mark (item, BRAID_MC_ITEM_MARK_FETCHED) ? "yes" : "no",
                          braid_mc_item_size (key_len, braid_mc_item_get_flags (item), value_len, shared->settings.store.cas_enabled));
}

/* mg or ma with an opaque over 32 bytes has acted; memcached notices the
 * opaque as it writes the reply and answers the error instead (an error
 * the command hit first stands). */
static void
take_back_for_long_opaque (GString *out, gsize reply_start, BraidMcMetaOutcome *outcome)
{
  const gchar *reply = out->str + reply_start;

  if (g_str_has_prefix (reply, "CLIENT_ERROR") || g_str_has_prefix (reply, "SERVER_ERROR"))
    return;
  g_string_truncate (out, reply_start);
  g_clear_pointer (&outcome->value, braid_mc_item_unref);
  g_string_append (out, "CLIENT_ERROR opaque token too long\r\n");
}

void
braid_mc_meta_execute (BraidMcServerShared *shared,
                       const BraidMcCommand *cmd,
                       GString *out,
                       BraidMcMetaOutcome *outcome)
{
  g_return_if_fail (shared != NULL && cmd != NULL && out != NULL && outcome != NULL);
  g_return_if_fail (cmd->type == BRAID_MC_COMMAND_META);

  BraidMcMetaCommand meta;
  const gchar *reply;
  gsize swallow;
  gsize reply_start;

  memset (outcome, 0, sizeof *outcome);
  if (!braid_mc_meta_parse (cmd->line, cmd->line_len, &meta, &reply, &swallow))
    {
      /* The command parser has already answered such a line. */
      g_warn_if_reached ();
      return;
    }
  reply_start = out->len;
  /* As memcached runs a command under its item lock, the steps of one
   * (look up, vivify, hand out the win token, set the expiry, read the
   * TTL and cas) happen with no other thread's command on the key in
   * between.  What outlives the lock is outcome->value, a reference whose
   * bytes never change. */
  if (meta.type != BRAID_MC_META_NOOP)
    braid_mc_store_lock_key (shared->store, meta.key, meta.key_len);
  switch (meta.type)
    {
    case BRAID_MC_META_GET:
      execute_get (shared->store, &meta, out, outcome);
      break;
    case BRAID_MC_META_SET:
      execute_set (shared->store, cmd, &meta, out, outcome);
      break;
    case BRAID_MC_META_DELETE:
      execute_delete (shared->store, &meta, out);
      break;
    case BRAID_MC_META_ARITH:
      execute_arith (shared->store, &meta, out);
      break;
    case BRAID_MC_META_NOOP:
      g_string_append (out, "MN\r\n");
      outcome->flushes = TRUE;
      break;
    case BRAID_MC_META_DEBUG:
    default:
      execute_debug (shared, &meta, out);
      break;
    }
  if (meta.type != BRAID_MC_META_NOOP)
    braid_mc_store_unlock_key (shared->store, meta.key, meta.key_len);
  if (meta.opaque_too_long)
    take_back_for_long_opaque (out, reply_start, outcome);
}
