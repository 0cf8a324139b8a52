/* braid — the memcached text protocol command parser.
 *
 * Replies to bad input follow memcached 1.6 byte for byte (the hostile
 * fixtures under fixtures/memcached/ are the reference): a malformed
 * storage command line is answered at once and its data block is NOT
 * skipped (memcached reads it as the next command); an object too large
 * is answered at once and exactly <bytes>+2 are skipped; a data block whose
 * last two bytes are not "\r\n" is "bad data chunk" after exactly
 * <bytes>+2 bytes. */
#include "mc-command-parser.h"
#include "mc-meta-parser-private.h"

#include <string.h>

#define MAX_TOKENS 24

typedef struct {
  const guint8 *start;
  gsize len;
} Token;

static const gchar REPLY_ERROR[] = "ERROR\r\n";
static const gchar REPLY_BAD_FORMAT[] = "CLIENT_ERROR bad command line format\r\n";
static const gchar REPLY_BAD_DELETE[] = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
static const gchar REPLY_BAD_CHUNK[] = "CLIENT_ERROR bad data chunk\r\n";
static const gchar REPLY_TOO_LARGE[] = "SERVER_ERROR object too large for cache\r\n";
static const gchar REPLY_BAD_EXPTIME[] = "CLIENT_ERROR invalid exptime argument\r\n";
static const gchar REPLY_BAD_DELTA[] = "CLIENT_ERROR invalid numeric delta argument\r\n";

gboolean
braid_mc_command_is_storage (BraidMcCommandType type)
{
  return type == BRAID_MC_COMMAND_SET || type == BRAID_MC_COMMAND_ADD || type == BRAID_MC_COMMAND_REPLACE ||
         type == BRAID_MC_COMMAND_APPEND || type == BRAID_MC_COMMAND_PREPEND || type == BRAID_MC_COMMAND_CAS;
}

const gchar *
braid_mc_command_name (BraidMcCommandType type)
{
  static const gchar *names[] = {
    "none", "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend", "cas",
    "delete", "incr", "decr", "touch", "flush_all", "stats", "version", "verbosity", "quit",
    "debugtime", "cache_memlimit", "slabs-automove", "metadump", "shutdown", "bad-input", "meta",
  };

  return (gsize) type < G_N_ELEMENTS (names) ? names[type] : "unknown";
}

/* ---- numbers, as memcached's safe_strto* read them ---- */

static gboolean
token_equals (const Token *t, const gchar *s)
{
  gsize n = strlen (s);

  return t->len == n && memcmp (t->start, s, n) == 0;
}

static gboolean
parse_u64 (const Token *t, guint64 *out)
{
  gsize i = 0;
  guint64 v = 0;

  if (t->len > 0 && t->start[0] == '+')
    i = 1;
  if (i == t->len)
    return FALSE;
  for (; i < t->len; i++)
    {
      guint d;

      if (!g_ascii_isdigit (t->start[i]))
        return FALSE;
      d = (guint) (t->start[i] - '0');
      if (v > (G_MAXUINT64 - d) / 10)
        return FALSE;  /* overflow */
      v = v * 10 + d;
    }
  *out = v;
  return TRUE;
}

/* Flags, as memcached 1.6 reads them: any unsigned 64-bit number, kept
 * modulo 2^32 (so 4294967296 stores flags 0). */
static gboolean
parse_flags (const Token *t, guint32 *out)
{
  guint64 v;

  if (!parse_u64 (t, &v))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

/* A signed 64-bit number, as strtol reads it on a 64-bit system. */
static gboolean
parse_i64 (const Token *t, gint64 *out)
{
  Token rest = *t;
  gboolean negative = FALSE;
  guint64 v;

  if (rest.len > 0 && (rest.start[0] == '-' || rest.start[0] == '+'))
    {
      negative = rest.start[0] == '-';
      rest.start++;
      rest.len--;
    }
  if (rest.len == 0 || rest.start[0] == '+' || !parse_u64 (&rest, &v))
    return FALSE;
  if ((!negative && v > G_MAXINT64) || (negative && v > (guint64) G_MAXINT64 + 1))
    return FALSE;
  *out = negative ? (gint64) (0 - v) : (gint64) v;
  return TRUE;
}

/* An exptime or a data length, as memcached 1.6 reads them: a 64-bit
 * number stored in a 32-bit int, so it wraps (2147483648 is -2147483648,
 * an item already expired; 4294967296 is 0, never). */
static gboolean
parse_wrapped_i32 (const Token *t, gint64 *out)
{
  gint64 v;

  if (!parse_i64 (t, &v))
    return FALSE;
  *out = (gint32) (guint32) (guint64) v;
  return TRUE;
}

/* A 32-bit signed number, as memcached's safe_strtol. */
static gboolean
parse_i32 (const Token *t, gint64 *out)
{
  Token rest = *t;
  gboolean negative = FALSE;
  guint64 v;

  if (rest.len > 0 && rest.start[0] == '-')
    {
      negative = TRUE;
      rest.start++;
      rest.len--;
    }
  if (rest.len > 0 && rest.start[0] == '+' && !negative)
    {
      rest.start++;
      rest.len--;
    }
  if (rest.len == 0 || rest.start[0] == '+' || !parse_u64 (&rest, &v))
    return FALSE;
  if ((!negative && v > G_MAXINT32) || (negative && v > (guint64) G_MAXINT32 + 1))
    return FALSE;
  *out = negative ? -(gint64) v : (gint64) v;
  return TRUE;
}

/* ---- tokens ---- */

static guint
tokenize (const guint8 *line, gsize len, Token *tokens, guint max, gsize *rest_offset)
{
  guint n = 0;
  gsize i = 0;

  *rest_offset = len;
  while (i < len)
    {
      gsize start;

      while (i < len && line[i] == ' ')
        i++;
      if (i == len)
        break;
      if (n == max)
        {
          *rest_offset = i;
          break;
        }
      start = i;
      while (i < len && line[i] != ' ')
        i++;
      tokens[n].start = line + start;
      tokens[n].len = i - start;
      n++;
    }
  return n;
}

gboolean
braid_mc_command_next_key (const BraidMcCommand *cmd, gsize *offset, const guint8 **key, gsize *key_len)
{
  g_return_val_if_fail (cmd != NULL && offset != NULL && key != NULL && key_len != NULL, FALSE);

  gsize i = *offset;
  gsize start;

  while (i < cmd->keys_len && cmd->keys[i] == ' ')
    i++;
  if (i >= cmd->keys_len)
    {
      *offset = i;
      return FALSE;
    }
  start = i;
  while (i < cmd->keys_len && cmd->keys[i] != ' ')
    i++;
  *key = cmd->keys + start;
  *key_len = i - start;
  *offset = i;
  return TRUE;
}

static void
bad_input (BraidMcCommand *cmd, const gchar *reply, gsize swallow, gboolean close)
{
  cmd->type = BRAID_MC_COMMAND_BAD_INPUT;
  cmd->reply = reply;
  cmd->swallow = swallow;
  cmd->close = close;
}

static gboolean
is_noreply (const Token *t)
{
  return token_equals (t, "noreply");
}

/* The opening every single-key command shares: @n tokens within
 * [@min_tokens, @max_tokens] ("ERROR" otherwise) and a key no longer than
 * memcached's limit ("CLIENT_ERROR bad command line format" otherwise).
 * Returns FALSE once the command has been answered. */
static gboolean
take_key (BraidMcCommand *cmd, const Token *tokens, guint n, guint min_tokens, guint max_tokens)
{
  if (n < min_tokens || n > max_tokens)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return FALSE;
    }
  if (tokens[1].len > BRAID_MC_KEY_MAX)
    {
      bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
      return FALSE;
    }
  cmd->key = tokens[1].start;
  cmd->key_len = tokens[1].len;
  return TRUE;
}

/* ---- one command per kind ---- */

static void
parse_retrieval (BraidMcCommand *cmd, Token *tokens, guint n, gsize rest_offset, gboolean with_exptime)
{
  guint first_key = with_exptime ? 2 : 1;
  gsize offset;
  const guint8 *key;
  gsize key_len;

  if (n <= first_key)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  if (with_exptime && !parse_wrapped_i32 (&tokens[1], &cmd->exptime))
    {
      bad_input (cmd, REPLY_BAD_EXPTIME, 0, FALSE);
      return;
    }
  cmd->keys = tokens[first_key].start;
  cmd->keys_len = (gsize) (cmd->line + cmd->line_len - cmd->keys);
  (void) rest_offset;
  for (offset = 0; braid_mc_command_next_key (cmd, &offset, &key, &key_len);)
    if (key_len > BRAID_MC_KEY_MAX)
      {
        bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
        return;
      }
}

/* The storage command line; sets value_len, or answers. */
static void
parse_storage_line (BraidMcParser *parser, BraidMcCommand *cmd, Token *tokens, guint n)
{
  gboolean is_cas = cmd->type == BRAID_MC_COMMAND_CAS;
  guint base = is_cas ? 6 : 5;
  gint64 vlen;

  if (!take_key (cmd, tokens, n, base, base + 1))
    return;
  if (!parse_flags (&tokens[2], &cmd->flags) || !parse_wrapped_i32 (&tokens[3], &cmd->exptime) ||
      !parse_wrapped_i32 (&tokens[4], &vlen) || vlen < 0 || vlen > G_MAXINT32 - 2 ||
      (is_cas && !parse_u64 (&tokens[5], &cmd->cas)))
    {
      bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
      return;
    }
  cmd->value_len = (gsize) vlen;
  cmd->noreply = n == base + 1 && is_noreply (&tokens[base]);
  if (braid_mc_item_size (cmd->key_len, cmd->value_len, parser->cas_enabled) > parser->item_size_max)
    /* Answered at once; the data that follows is skipped, never parsed. */
    bad_input (cmd, REPLY_TOO_LARGE, cmd->value_len + 2, FALSE);
}

static void
parse_delete (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (!take_key (cmd, tokens, n, 2, 4))
    return;
  if (n > 2)
    {
      /* memcached still takes the old "delete <key> 0". */
      gboolean hold_is_zero = token_equals (&tokens[2], "0");
      gboolean noreply = is_noreply (&tokens[n - 1]);
      gboolean valid = (n == 3 && (hold_is_zero || noreply)) || (n == 4 && hold_is_zero && noreply);

      if (!valid)
        {
          bad_input (cmd, REPLY_BAD_DELETE, 0, FALSE);
          return;
        }
      cmd->noreply = noreply;
    }
}

static void
parse_arith (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (!take_key (cmd, tokens, n, 3, 4))
    return;
  cmd->noreply = n == 4 && is_noreply (&tokens[3]);
  if (!parse_u64 (&tokens[2], &cmd->delta))
    bad_input (cmd, REPLY_BAD_DELTA, 0, FALSE);
}

static void
parse_touch (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (!take_key (cmd, tokens, n, 3, 4))
    return;
  cmd->noreply = n == 4 && is_noreply (&tokens[3]);
  if (!parse_wrapped_i32 (&tokens[2], &cmd->exptime))
    bad_input (cmd, REPLY_BAD_EXPTIME, 0, FALSE);
}

static void
parse_flush_all (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (n > 3)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->noreply = n > 1 && is_noreply (&tokens[n - 1]);
  if (n == (cmd->noreply ? 3u : 2u))
    {
      if (!parse_wrapped_i32 (&tokens[1], &cmd->number))
        {
          bad_input (cmd, REPLY_BAD_EXPTIME, 0, FALSE);
          return;
        }
      cmd->has_number = TRUE;
    }
  else if (n == 3)
    bad_input (cmd, REPLY_ERROR, 0, FALSE);
}

static void
parse_verbosity (BraidMcCommand *cmd, Token *tokens, guint n)
{
  guint64 level = 0;

  if (n != 2 && n != 3)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->noreply = is_noreply (&tokens[n - 1]);
  if (!parse_u64 (&tokens[1], &level))
    {
      /* memcached's answer, unless noreply silences it */
      bad_input (cmd, cmd->noreply ? NULL : REPLY_BAD_FORMAT, 0, FALSE);
      return;
    }
  cmd->number = (gint64) MIN (level, G_MAXINT32);
  cmd->has_number = TRUE;
}

/* cache_memlimit <megabytes> [noreply]: memcached reads the number with
 * safe_strtoul into 32 bits (so it wraps), and any third token is
 * allowed.  Whether the size is acceptable is the server's business. */
static void
parse_cache_memlimit (BraidMcCommand *cmd, Token *tokens, guint n)
{
  guint64 v;

  if (n != 2 && n != 3)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->noreply = n == 3 && is_noreply (&tokens[2]);
  if (!parse_u64 (&tokens[1], &v))
    {
      bad_input (cmd, cmd->noreply ? NULL : REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->number = (gint64) (guint32) v;
  cmd->has_number = TRUE;
}

/* slabs automove <0|1|2> [noreply]; braid has no other slabs command. */
static void
parse_slabs (BraidMcCommand *cmd, Token *tokens, guint n)
{
  gint64 level;

  if ((n != 3 && n != 4) || !token_equals (&tokens[1], "automove"))
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->noreply = n == 4 && is_noreply (&tokens[3]);
  if (!parse_i32 (&tokens[2], &level))
    {
      bad_input (cmd, cmd->noreply ? NULL : REPLY_BAD_FORMAT, 0, FALSE);
      return;
    }
  cmd->number = level;
  cmd->has_number = TRUE;
}

/* lru_crawler metadump <all|hash|ids>: the only lru_crawler command. */
static void
parse_lru_crawler (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (n != 3 || !token_equals (&tokens[1], "metadump"))
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->arg = tokens[2].start;
  cmd->arg_len = tokens[2].len;
}

/* mg, ms, md, ma, mn, me: their own parser checks the line; here only
 * what the input framing needs, the ms data block and its size limit. */
static void
parse_meta (BraidMcParser *parser, BraidMcCommand *cmd)
{
  BraidMcMetaCommand meta;
  const gchar *reply;
  gsize swallow;

  if (!braid_mc_meta_parse (cmd->line, cmd->line_len, &meta, &reply, &swallow))
    {
      bad_input (cmd, reply, swallow, FALSE);
      return;
    }
  cmd->type = BRAID_MC_COMMAND_META;
  if (meta.type != BRAID_MC_META_SET)
    return;
  cmd->value_len = meta.value_len;
  if (braid_mc_item_size (meta.key_len, meta.value_len, parser->cas_enabled) > parser->item_size_max)
    cmd->swallow = meta.value_len + 2;
  else
    cmd->has_data_block = TRUE;
}

static void
parse_line (BraidMcParser *parser, BraidMcCommand *cmd)
{
  Token tokens[MAX_TOKENS];
  gsize rest_offset;
  guint n = tokenize (cmd->line, cmd->line_len, tokens, MAX_TOKENS, &rest_offset);
  const Token *c = &tokens[0];

  if (n == 0)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  if (braid_mc_meta_is_command (cmd->line, cmd->line_len))
    parse_meta (parser, cmd);
  else if (token_equals (c, "get"))
    cmd->type = BRAID_MC_COMMAND_GET, parse_retrieval (cmd, tokens, n, rest_offset, FALSE);
  else if (token_equals (c, "gets"))
    cmd->type = BRAID_MC_COMMAND_GETS, parse_retrieval (cmd, tokens, n, rest_offset, FALSE);
  else if (token_equals (c, "gat"))
    cmd->type = BRAID_MC_COMMAND_GAT, parse_retrieval (cmd, tokens, n, rest_offset, TRUE);
  else if (token_equals (c, "gats"))
    cmd->type = BRAID_MC_COMMAND_GATS, parse_retrieval (cmd, tokens, n, rest_offset, TRUE);
  else if (token_equals (c, "set"))
    cmd->type = BRAID_MC_COMMAND_SET, parse_storage_line (parser, cmd, tokens, n);
  else if (token_equals (c, "add"))
    cmd->type = BRAID_MC_COMMAND_ADD, parse_storage_line (parser, cmd, tokens, n);
  else if (token_equals (c, "replace"))
    cmd->type = BRAID_MC_COMMAND_REPLACE, parse_storage_line (parser, cmd, tokens, n);
  else if (token_equals (c, "append"))
    cmd->type = BRAID_MC_COMMAND_APPEND, parse_storage_line (parser, cmd, tokens, n);
  else if (token_equals (c, "prepend"))
    cmd->type = BRAID_MC_COMMAND_PREPEND, parse_storage_line (parser, cmd, tokens, n);
  else if (token_equals (c, "cas"))
    cmd->type = BRAID_MC_COMMAND_CAS, parse_storage_line (parser, cmd, tokens, n);
  else if (token_equals (c, "delete"))
    cmd->type = BRAID_MC_COMMAND_DELETE, parse_delete (cmd, tokens, n);
  else if (token_equals (c, "incr"))
    cmd->type = BRAID_MC_COMMAND_INCR, parse_arith (cmd, tokens, n);
  else if (token_equals (c, "decr"))
    cmd->type = BRAID_MC_COMMAND_DECR, parse_arith (cmd, tokens, n);
  else if (token_equals (c, "touch"))
    cmd->type = BRAID_MC_COMMAND_TOUCH, parse_touch (cmd, tokens, n);
  else if (token_equals (c, "flush_all"))
    cmd->type = BRAID_MC_COMMAND_FLUSH_ALL, parse_flush_all (cmd, tokens, n);
  else if (token_equals (c, "verbosity"))
    cmd->type = BRAID_MC_COMMAND_VERBOSITY, parse_verbosity (cmd, tokens, n);
  else if (token_equals (c, "version"))
    cmd->type = BRAID_MC_COMMAND_VERSION;
  else if (token_equals (c, "quit"))
    cmd->type = BRAID_MC_COMMAND_QUIT;
  else if (token_equals (c, "shutdown"))
    {
      /* Whether it is enabled (-A) is the server's business. */
      cmd->type = BRAID_MC_COMMAND_SHUTDOWN;
      if (n > 1)
        {
          /* the mode and whatever follows it */
          cmd->arg = tokens[1].start;
          cmd->arg_len = n == 2 ? tokens[1].len : (gsize) (cmd->line + cmd->line_len - tokens[1].start);
        }
    }
  else if (token_equals (c, "cache_memlimit"))
    cmd->type = BRAID_MC_COMMAND_CACHE_MEMLIMIT, parse_cache_memlimit (cmd, tokens, n);
  else if (token_equals (c, "slabs"))
    cmd->type = BRAID_MC_COMMAND_SLABS_AUTOMOVE, parse_slabs (cmd, tokens, n);
  else if (token_equals (c, "lru_crawler"))
    cmd->type = BRAID_MC_COMMAND_LRU_CRAWLER_METADUMP, parse_lru_crawler (cmd, tokens, n);
  else if (token_equals (c, "stats"))
    {
      cmd->type = BRAID_MC_COMMAND_STATS;
      if (n > 1)
        {
          cmd->arg = tokens[1].start;
          cmd->arg_len = (gsize) (cmd->line + cmd->line_len - tokens[1].start);
        }
    }
  else if (token_equals (c, "debugtime") && n == 2)
    {
      cmd->type = BRAID_MC_COMMAND_DEBUGTIME;
      if (!parse_i32 (&tokens[1], &cmd->number))
        bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
      cmd->has_number = TRUE;
    }
  else
    bad_input (cmd, REPLY_ERROR, 0, FALSE);
}

static gboolean
is_multiget_line (const guint8 *buf, gsize len)
{
  return (len >= 4 && memcmp (buf, "get ", 4) == 0) || (len >= 5 && memcmp (buf, "gets ", 5) == 0) ||
         (len >= 4 && memcmp (buf, "gat ", 4) == 0) || (len >= 5 && memcmp (buf, "gats ", 5) == 0);
}

gsize
braid_mc_parse_command (BraidMcParser *parser,
                        const guint8 *buf,
                        gsize len,
                        gboolean eof,
                        BraidMcCommand *cmd)
{
  g_return_val_if_fail (parser != NULL && (buf != NULL || len == 0) && cmd != NULL, 0);

  const guint8 *nl;
  gsize line_end;
  gsize used;

  memset (cmd, 0, sizeof *cmd);
  if (parser->item_size_max == 0)
    parser->item_size_max = 1024 * 1024;
  if (parser->scan_offset > len)
    parser->scan_offset = 0;

  nl = len > parser->scan_offset ? memchr (buf + parser->scan_offset, '\n', len - parser->scan_offset) : NULL;
  if (nl == NULL)
    {
      gsize limit = is_multiget_line (buf, len) ? BRAID_MC_MULTIGET_LINE_MAX : BRAID_MC_LINE_MAX;

      parser->scan_offset = len;
      if (len > limit)
        {
          /* memcached closes such a connection without a word. */
          bad_input (cmd, NULL, 0, TRUE);
          parser->scan_offset = 0;
          return len;
        }
      return 0;
    }

  line_end = (gsize) (nl - buf);
  parser->scan_offset = 0;
  cmd->line = buf;
  cmd->line_len = line_end > 0 && buf[line_end - 1] == '\r' ? line_end - 1 : line_end;
  used = line_end + 1;
  {
    /* memcached reads the line as a C string: a NUL ends it there ("set
     * a\0b 0 0 1" is "set a"), though the whole line is consumed. */
    const guint8 *nul = memchr (buf, '\0', cmd->line_len);

    if (nul != NULL)
      cmd->line_len = (gsize) (nul - buf);
  }
  parse_line (parser, cmd);

  if (!braid_mc_command_is_storage (cmd->type) && !cmd->has_data_block)
    return used;

  /* The data block: <bytes> then "\r\n", which must all be here. */
  if (len - used < cmd->value_len + 2)
    {
      memset (cmd, 0, sizeof *cmd);
      /* The line is complete: resume the search after it next time. */
      parser->scan_offset = 0;
      return 0;
    }
  cmd->value = buf + used;
  if (buf[used + cmd->value_len] != '\r' || buf[used + cmd->value_len + 1] != '\n')
    bad_input (cmd, REPLY_BAD_CHUNK, 0, FALSE);
  return used + cmd->value_len + 2;
}

BraidMcStoreMode
braid_mc_command_get_store_mode (BraidMcCommandType type)
{
  /* The storage commands are declared in the same order as the modes. */
  G_STATIC_ASSERT (BRAID_MC_COMMAND_CAS - BRAID_MC_COMMAND_SET == BRAID_MC_STORE_MODE_CAS);
  G_STATIC_ASSERT (BRAID_MC_COMMAND_APPEND - BRAID_MC_COMMAND_SET == BRAID_MC_STORE_MODE_APPEND);

  g_return_val_if_fail (braid_mc_command_is_storage (type), BRAID_MC_STORE_MODE_SET);
  return (BraidMcStoreMode) (type - BRAID_MC_COMMAND_SET);
}

BraidMcArithMode
braid_mc_command_get_arith_mode (BraidMcCommandType type)
{
  g_return_val_if_fail (type == BRAID_MC_COMMAND_INCR || type == BRAID_MC_COMMAND_DECR, BRAID_MC_ARITH_MODE_INCR);
  return type == BRAID_MC_COMMAND_INCR ? BRAID_MC_ARITH_MODE_INCR : BRAID_MC_ARITH_MODE_DECR;
}
