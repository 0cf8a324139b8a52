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

/* memcached splits off at most 23 tokens; a get's keys go on past them. */
#define MAX_TOKENS 23

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

/* C's isspace in the "C" locale, which memcached's xisspace is. */
static gboolean
is_c_space (guint8 c)
{
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* What strtoull/strtoll do with a token, and memcached's check after
 * them: leading white space, an optional sign, at least one digit, then
 * the end of the token or white space.  @magnitude is the digits' value;
 * FALSE also when it does not fit in 64 bits (ERANGE). */
typedef struct {
  guint64 magnitude;
  gboolean negative;
} CNumber;

static gboolean
scan_c_number (const Token *t, CNumber *out)
{
  gsize i = 0;
  gsize digits_start;

  out->magnitude = 0;
  out->negative = FALSE;
  while (i < t->len && is_c_space (t->start[i]))
    i++;
  if (i < t->len && (t->start[i] == '+' || t->start[i] == '-'))
    out->negative = t->start[i++] == '-';
  digits_start = i;
  for (; i < t->len && g_ascii_isdigit (t->start[i]); i++)
    {
      guint d = (guint) (t->start[i] - '0');

      if (out->magnitude > (G_MAXUINT64 - d) / 10)
        return FALSE;
      out->magnitude = out->magnitude * 10 + d;
    }
  if (i == digits_start)
    return FALSE;  /* no number at all: endptr == str */
  return i == t->len || is_c_space (t->start[i]);
}

/* safe_strtoull: strtoull's wrap of a negative number is refused only
 * when the result looks negative (so "-0" is 0 but "-1" is an error). */
static gboolean
parse_u64 (const Token *t, guint64 *out)
{
  CNumber n;
  guint64 v;

  if (!scan_c_number (t, &n))
    return FALSE;
  v = n.negative ? 0 - n.magnitude : n.magnitude;
  if ((gint64) v < 0 && memchr (t->start, '-', t->len) != NULL)
    return FALSE;
  *out = v;
  return TRUE;
}

/* safe_strtoul: an unsigned long (64 bits here) stored in 32 bits, so
 * 4294967296 is 0. */
static gboolean
parse_flags (const Token *t, guint32 *out)
{
  guint64 v;

  if (!parse_u64 (t, &v))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

/* strtol on a 64-bit system: ERANGE outside the 64-bit range. */
static gboolean
parse_i64 (const Token *t, gint64 *out)
{
  CNumber n;

  if (!scan_c_number (t, &n))
    return FALSE;
  if ((!n.negative && n.magnitude > G_MAXINT64) || (n.negative && n.magnitude > (guint64) G_MAXINT64 + 1))
    return FALSE;
  *out = n.negative ? (gint64) (0 - n.magnitude) : (gint64) n.magnitude;
  return TRUE;
}

/* safe_strtol into an int32_t: an exptime or a data length.  The 64-bit
 * number wraps (2147483648 is -2147483648, an item already expired;
 * 4294967296 is 0, never). */
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

/* Where the token starting at @i ends: the next space, or @len.  memchr
 * rather than a byte loop: keys are up to 250 bytes, on every command. */
static inline gsize
token_end (const guint8 *s, gsize i, gsize len)
{
  const guint8 *space = memchr (s + i, ' ', len - i);

  return space != NULL ? (gsize) (space - s) : len;
}

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
      i = token_end (line, i, len);
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
  i = token_end (cmd->keys, i, cmd->keys_len);
  *key = cmd->keys + start;
  *key_len = i - start;
  *offset = i;
  return TRUE;
}

/* Answers @cmd with @reply, unless the command line asked for noreply:
 * memcached silences every answer, errors too, once it has seen
 * "noreply" as the last token of a classic command. */
static void
bad_input (BraidMcCommand *cmd, const gchar *reply, gsize swallow, gboolean close)
{
  cmd->type = BRAID_MC_COMMAND_BAD_INPUT;
  cmd->reply = cmd->noreply ? NULL : reply;
  cmd->swallow = swallow;
  cmd->close = close;
}

/* memcached's set_noreply_maybe: the last token, whatever the command
 * expects there ("incr k noreply" is noreply, with a bad delta). */
static gboolean
last_is_noreply (const Token *tokens, guint n)
{
  return n > 0 && token_equals (&tokens[n - 1], "noreply");
}

static gboolean
take_key (BraidMcCommand *cmd, const Token *tokens)
{
  if (tokens[1].len > BRAID_MC_KEY_MAX)
    {
      bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
      return FALSE;
    }
  cmd->key = tokens[1].start;
  cmd->key_len = tokens[1].len;
  return TRUE;
}

/* ---- one command per kind, in memcached's order of checks ---- */

/* get/gets/gat/gats <keys>: keys longer than the limit are the server's
 * business (memcached answers the keys before one in order, then takes
 * back every reply not yet written). */
static void
parse_retrieval (BraidMcCommand *cmd, Token *tokens, gboolean with_exptime)
{
  guint first_key = with_exptime ? 2 : 1;

  if (with_exptime && !parse_wrapped_i32 (&tokens[1], &cmd->exptime))
    {
      bad_input (cmd, REPLY_BAD_EXPTIME, 0, FALSE);
      return;
    }
  /* "gat 0" has no keys: memcached answers END. */
  cmd->keys = cmd->line + cmd->line_len;
  if (tokens[first_key].start != NULL)
    cmd->keys = tokens[first_key].start;
  cmd->keys_len = (gsize) (cmd->line + cmd->line_len - cmd->keys);
}

/* The storage command line; sets value_len, or answers. */
static void
parse_storage_line (BraidMcParser *parser, BraidMcCommand *cmd, Token *tokens, guint n)
{
  gboolean is_cas = cmd->type == BRAID_MC_COMMAND_CAS;
  gint64 vlen;

  cmd->noreply = last_is_noreply (tokens, n);
  if (!take_key (cmd, tokens))
    return;
  if (!parse_flags (&tokens[2], &cmd->flags) || !parse_wrapped_i32 (&tokens[3], &cmd->exptime) ||
      !parse_wrapped_i32 (&tokens[4], &vlen) || (is_cas && !parse_u64 (&tokens[5], &cmd->cas)) ||
      vlen < 0 || vlen > G_MAXINT32 - 2)
    {
      bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
      return;
    }
  cmd->value_len = (gsize) vlen;
  if (braid_mc_item_size (cmd->key_len, cmd->flags, cmd->value_len, parser->cas_enabled) > parser->item_size_max)
    {
      /* Answered at once; the data that follows is skipped, never
       * parsed.  A refused set takes the old value with it, so that a
       * client never reads back what it meant to replace. */
      cmd->forget_key = cmd->type == BRAID_MC_COMMAND_SET;
      cmd->too_large = TRUE;
      bad_input (cmd, REPLY_TOO_LARGE, cmd->value_len + 2, FALSE);
    }
}

/* delete <key> [0] [noreply]: the usage check comes before the key's. */
static void
parse_delete (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (n > 2)
    {
      /* memcached still takes the old "delete <key> 0". */
      gboolean hold_is_zero = token_equals (&tokens[2], "0");
      gboolean valid;

      cmd->noreply = last_is_noreply (tokens, n);
      valid = (n == 3 && (hold_is_zero || cmd->noreply)) || (n == 4 && hold_is_zero && cmd->noreply);
      if (!valid)
        {
          bad_input (cmd, REPLY_BAD_DELETE, 0, FALSE);
          return;
        }
    }
  take_key (cmd, tokens);
}

static void
parse_arith (BraidMcCommand *cmd, Token *tokens, guint n)
{
  cmd->noreply = last_is_noreply (tokens, n);
  if (take_key (cmd, tokens) && !parse_u64 (&tokens[2], &cmd->delta))
    bad_input (cmd, REPLY_BAD_DELTA, 0, FALSE);
}

static void
parse_touch (BraidMcCommand *cmd, Token *tokens, guint n)
{
  cmd->noreply = last_is_noreply (tokens, n);
  if (take_key (cmd, tokens) && !parse_wrapped_i32 (&tokens[2], &cmd->exptime))
    bad_input (cmd, REPLY_BAD_EXPTIME, 0, FALSE);
}

/* flush_all [delay] [noreply]: any token but a last "noreply" is read as
 * the delay ("flush_all 0 x" is flush_all 0). */
static void
parse_flush_all (BraidMcCommand *cmd, Token *tokens, guint n)
{
  cmd->noreply = last_is_noreply (tokens, n);
  if (n != (cmd->noreply ? 2u : 1u))
    {
      if (!parse_wrapped_i32 (&tokens[1], &cmd->number))
        {
          /* answered by the server, which first counts the command
           * and checks that flush_all is allowed, as memcached does */
          cmd->bad_delay = TRUE;
          return;
        }
      cmd->has_number = TRUE;
    }
}

static void
parse_verbosity (BraidMcCommand *cmd, Token *tokens, guint n)
{
  guint32 level = 0;

  cmd->noreply = last_is_noreply (tokens, n);
  if (!parse_flags (&tokens[1], &level))
    {
      bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
      return;
    }
  cmd->number = level;
  cmd->has_number = TRUE;
}

/* cache_memlimit <megabytes> [noreply]: memcached reads the number with
 * safe_strtoul into 32 bits (so it wraps), and any third token is
 * allowed.  Whether the size is acceptable is the server's business. */
static void
parse_cache_memlimit (BraidMcCommand *cmd, Token *tokens, guint n)
{
  guint32 megabytes;

  cmd->noreply = last_is_noreply (tokens, n);
  if (!parse_flags (&tokens[1], &megabytes))
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->number = megabytes;
  cmd->has_number = TRUE;
}

/* A token that is all a double, as safe_strtod reads it. */
static gboolean
is_double (const Token *t)
{
  g_autofree gchar *text = g_strndup ((const gchar *) t->start, t->len);
  gchar *end = NULL;

  g_ascii_strtod (text, &end);
  return end != text && (*end == '\0' || is_c_space ((guint8) *end));
}

/* slabs automove <0|1|2> [noreply], or slabs automove ratio <r>; braid
 * has no other slabs command (no slab classes to move pages between). */
static void
parse_slabs (BraidMcCommand *cmd, Token *tokens, guint n)
{
  guint32 level;

  if (n < 3 || !token_equals (&tokens[1], "automove"))
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->noreply = last_is_noreply (tokens, n);
  if (token_equals (&tokens[2], "ratio"))
    {
      if (n < 4 || !is_double (&tokens[3]))
        bad_input (cmd, REPLY_ERROR, 0, FALSE);
      cmd->number = 0;  /* accepted, and changes nothing */
      cmd->has_number = TRUE;
      return;
    }
  if (!parse_flags (&tokens[2], &level))
    {
      bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
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

/* The command table: the name, how many tokens it takes (memcached's
 * WANT_TOKENS counts include a terminator: here they do not), and its
 * parser.  Anything else is "ERROR". */
typedef struct {
  const gchar *name;
  BraidMcCommandType type;
  guint min_tokens, max_tokens;  /* 0: no bound */
} CommandSpec;

static const CommandSpec commands[] = {
  { "get", BRAID_MC_COMMAND_GET, 2, 0 },
  { "bget", BRAID_MC_COMMAND_GET, 2, 0 },     /* an ancient name memcached still takes */
  { "gets", BRAID_MC_COMMAND_GETS, 2, 0 },
  { "gat", BRAID_MC_COMMAND_GAT, 2, 0 },
  { "gats", BRAID_MC_COMMAND_GATS, 2, 0 },
  { "set", BRAID_MC_COMMAND_SET, 5, 6 },
  { "add", BRAID_MC_COMMAND_ADD, 5, 6 },
  { "replace", BRAID_MC_COMMAND_REPLACE, 5, 6 },
  { "append", BRAID_MC_COMMAND_APPEND, 5, 6 },
  { "prepend", BRAID_MC_COMMAND_PREPEND, 5, 6 },
  { "cas", BRAID_MC_COMMAND_CAS, 6, 7 },
  { "delete", BRAID_MC_COMMAND_DELETE, 2, 4 },
  { "incr", BRAID_MC_COMMAND_INCR, 3, 4 },
  { "decr", BRAID_MC_COMMAND_DECR, 3, 4 },
  { "touch", BRAID_MC_COMMAND_TOUCH, 3, 4 },
  { "flush_all", BRAID_MC_COMMAND_FLUSH_ALL, 1, 3 },
  { "verbosity", BRAID_MC_COMMAND_VERBOSITY, 2, 3 },
  { "version", BRAID_MC_COMMAND_VERSION, 0, 0 },
  { "quit", BRAID_MC_COMMAND_QUIT, 0, 0 },
  { "shutdown", BRAID_MC_COMMAND_SHUTDOWN, 0, 0 },
  { "cache_memlimit", BRAID_MC_COMMAND_CACHE_MEMLIMIT, 2, 3 },
  { "slabs", BRAID_MC_COMMAND_SLABS_AUTOMOVE, 0, 0 },
  { "lru_crawler", BRAID_MC_COMMAND_LRU_CRAWLER_METADUMP, 0, 0 },
  { "stats", BRAID_MC_COMMAND_STATS, 0, 0 },
  { "debugtime", BRAID_MC_COMMAND_DEBUGTIME, 2, 2 },
};

static const CommandSpec *
find_command (const Token *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (token_equals (name, commands[i].name))
      return &commands[i];
  return NULL;
}

/* memcached closes, without a word, a connection whose unknown command
 * line ends in an HTTP version: a browser or an HTTP client is talking
 * to it. */
static gboolean
looks_like_http (const Token *tokens, guint n)
{
  const Token *last = &tokens[n - 1];

  return last->len >= 5 && memcmp (last->start, "HTTP/", 5) == 0;
}

static void
parse_shutdown (BraidMcCommand *cmd, Token *tokens, guint n)
{
  /* Whether it is enabled (-A) is the server's business. */
  if (n > 1)
    {
      /* the mode and whatever follows it */
      cmd->arg = tokens[1].start;
      cmd->arg_len = n == 2 ? tokens[1].len : (gsize) (cmd->line + cmd->line_len - tokens[1].start);
    }
}

static void
parse_stats (BraidMcCommand *cmd, Token *tokens, guint n)
{
  if (n > 1)
    {
      cmd->arg = tokens[1].start;
      cmd->arg_len = (gsize) (cmd->line + cmd->line_len - tokens[1].start);
    }
}

static void
parse_debugtime (BraidMcCommand *cmd, Token *tokens)
{
  if (!parse_i32 (&tokens[1], &cmd->number))
    bad_input (cmd, REPLY_BAD_FORMAT, 0, FALSE);
  cmd->has_number = TRUE;
}

static void
parse_arguments (BraidMcParser *parser, BraidMcCommand *cmd, Token *tokens, guint n)
{
  switch (cmd->type)
    {
    case BRAID_MC_COMMAND_GET:
    case BRAID_MC_COMMAND_GETS:
      parse_retrieval (cmd, tokens, FALSE);
      break;
    case BRAID_MC_COMMAND_GAT:
    case BRAID_MC_COMMAND_GATS:
      parse_retrieval (cmd, tokens, TRUE);
      break;
    case BRAID_MC_COMMAND_SET:
    case BRAID_MC_COMMAND_ADD:
    case BRAID_MC_COMMAND_REPLACE:
    case BRAID_MC_COMMAND_APPEND:
    case BRAID_MC_COMMAND_PREPEND:
    case BRAID_MC_COMMAND_CAS:
      parse_storage_line (parser, cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_DELETE:
      parse_delete (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_INCR:
    case BRAID_MC_COMMAND_DECR:
      parse_arith (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_TOUCH:
      parse_touch (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_FLUSH_ALL:
      parse_flush_all (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_VERBOSITY:
      parse_verbosity (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_SHUTDOWN:
      parse_shutdown (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_CACHE_MEMLIMIT:
      parse_cache_memlimit (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_SLABS_AUTOMOVE:
      parse_slabs (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_LRU_CRAWLER_METADUMP:
      parse_lru_crawler (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_STATS:
      parse_stats (cmd, tokens, n);
      break;
    case BRAID_MC_COMMAND_DEBUGTIME:
      parse_debugtime (cmd, tokens);
      break;
    case BRAID_MC_COMMAND_VERSION:
    case BRAID_MC_COMMAND_QUIT:
      break;
    case BRAID_MC_COMMAND_NONE:
    case BRAID_MC_COMMAND_BAD_INPUT:
    default:
      g_assert_not_reached ();
    }
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
  if (braid_mc_item_size (meta.key_len, meta.client_flags, meta.value_len, parser->cas_enabled) > parser->item_size_max)
    cmd->swallow = meta.value_len + 2;
  else
    cmd->has_data_block = TRUE;
}

static void
parse_line (BraidMcParser *parser, BraidMcCommand *cmd)
{
  /* One more for the terminator, whose start is the rest of the line
   * past the last token memcached splits off (or NULL). */
  Token tokens[MAX_TOKENS + 1];
  gsize rest_offset;
  guint n = tokenize (cmd->line, cmd->line_len, tokens, MAX_TOKENS, &rest_offset);
  const CommandSpec *spec;

  tokens[n].start = rest_offset < cmd->line_len ? cmd->line + rest_offset : NULL;
  tokens[n].len = 0;
  /* No command is shorter than two bytes. */
  if (n == 0 || tokens[0].len < 2)
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  /* mg, ms, md, ma, mn, me: memcached's meta commands are all two bytes */
  if (braid_mc_meta_is_command (cmd->line, cmd->line_len))
    {
      parse_meta (parser, cmd);
      return;
    }
  spec = find_command (&tokens[0]);
  if (spec == NULL)
    {
      if (looks_like_http (tokens, n))
        bad_input (cmd, NULL, 0, TRUE);
      else
        bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  if ((spec->min_tokens != 0 && n < spec->min_tokens) || (spec->max_tokens != 0 && n > spec->max_tokens))
    {
      bad_input (cmd, REPLY_ERROR, 0, FALSE);
      return;
    }
  cmd->type = spec->type;
  parse_arguments (parser, cmd, tokens, n);
}

/* memcached lets a line without '\n' grow past the limit only if it is
 * a get or gets (after at most 100 spaces): a large multi-get. */
static gboolean
is_multiget_line (const guint8 *buf, gsize len)
{
  gsize i = 0;

  while (i < len && buf[i] == ' ')
    i++;
  if (i > 100)
    return FALSE;
  buf += i;
  len -= i;
  return (len >= 4 && memcmp (buf, "get ", 4) == 0) || (len >= 5 && memcmp (buf, "gets ", 5) == 0);
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
  if (line_end >= BRAID_MC_READ_BUFFER && !is_multiget_line (buf, len))
    {
      bad_input (cmd, NULL, 0, TRUE);
      return line_end + 1;
    }
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
