/* braid — memcached 1.6's meta command lines.
 *
 * The order of the checks is memcached 1.6.18's (proto_text.c), because
 * it decides which error a line with several faults gets: token count,
 * key length, then the flags in the order sent (an unknown or repeated
 * flag stops there; a bad number is noted and the scan goes on, the last
 * such fault naming the reply), then the opaque's length and the mode. */
#include "mc-meta-parser-private.h"

#include <string.h>

static const gchar REPLY_ERROR[] = "ERROR\r\n";
static const gchar REPLY_BAD_FORMAT[] = "CLIENT_ERROR bad command line format\r\n";
static const gchar REPLY_GET_TOO_MANY[] = "CLIENT_ERROR options flags are too long\r\n";
static const gchar REPLY_TOO_MANY[] = "CLIENT_ERROR options flags too long\r\n";
static const gchar REPLY_DUPLICATE[] = "CLIENT_ERROR duplicate flag\r\n";
static const gchar REPLY_INVALID_FLAG[] = "CLIENT_ERROR invalid flag\r\n";
static const gchar REPLY_INVALID_OR_DUPLICATE[] = "CLIENT_ERROR invalid or duplicate flag\r\n";
static const gchar REPLY_BAD_TOKEN[] = "CLIENT_ERROR bad token in command line format\r\n";
static const gchar REPLY_BAD_KEY[] = "CLIENT_ERROR error decoding key\r\n";
static const gchar REPLY_M_LENGTH[] = "CLIENT_ERROR incorrect length for M token\r\n";
static const gchar REPLY_BAD_INITIAL[] = "CLIENT_ERROR invalid numeric initial value\r\n";
static const gchar REPLY_BAD_DELTA[] = "CLIENT_ERROR invalid numeric delta value\r\n";
static const gchar REPLY_OPAQUE_TOO_LONG[] = "CLIENT_ERROR opaque token too long\r\n";
static const gchar REPLY_BAD_SET_MODE[] = "CLIENT_ERROR invalid mode for ms M token\r\n";
static const gchar REPLY_BAD_ARITH_MODE[] = "CLIENT_ERROR invalid mode for ma M token\r\n";

typedef struct {
  const guint8 *start;
  gsize len;
} Token;

gboolean
braid_mc_meta_is_command (const guint8 *line, gsize len)
{
  g_return_val_if_fail (line != NULL || len == 0, FALSE);

  gsize i = 0;

  /* The first token, as memcached's tokenizer finds it. */
  while (i < len && line[i] == ' ')
    i++;
  return len - i >= 2 && line[i] == 'm' && line[i + 1] != '\0' && strchr ("gsdnae", line[i + 1]) != NULL &&
         (len - i == 2 || line[i + 2] == ' ');
}

gboolean
braid_mc_meta_has_flag (const BraidMcMetaCommand *cmd, gchar letter)
{
  guint8 c = (guint8) letter;

  g_return_val_if_fail (cmd != NULL, FALSE);
  return c < 128 && (cmd->letters[c / 64] & (G_GUINT64_CONSTANT (1) << (c % 64))) != 0;
}

static void
note_letter (BraidMcMetaCommand *cmd, guint8 c)
{
  cmd->letters[c / 64] |= G_GUINT64_CONSTANT (1) << (c % 64);
}

/* ---- numbers, as memcached's safe_strto* read them on a 64-bit system ---- */

/* Digits into @out; FALSE if there are none, or on anything else, or if
 * the number passes @max (strto*'s ERANGE). */
static gboolean
read_digits (const guint8 *s, gsize len, guint64 max, guint64 *out)
{
  guint64 v = 0;

  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      guint d;

      if (!g_ascii_isdigit (s[i]))
        return FALSE;
      d = (guint) (s[i] - '0');
      if (v > (max - d) / 10)
        return FALSE;
      v = v * 10 + d;
    }
  *out = v;
  return TRUE;
}

static gboolean
read_sign (const guint8 **s, gsize *len)
{
  gboolean negative = *len > 0 && (*s)[0] == '-';

  if (*len > 0 && ((*s)[0] == '-' || (*s)[0] == '+'))
    {
      (*s)++;
      (*len)--;
    }
  return negative;
}

/* safe_strtol: a long, kept in 32 bits (so it wraps). */
static gboolean
parse_strtol (const guint8 *s, gsize len, gint64 *out)
{
  gboolean negative = read_sign (&s, &len);
  guint64 v;

  if (!read_digits (s, len, negative ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64, &v))
    return FALSE;
  *out = (gint32) (guint32) (negative ? 0 - v : v);
  return TRUE;
}

/* safe_strtoull: strtoull negates a '-' number, which is then refused if
 * it reads as negative. */
static gboolean
parse_strtoull (const guint8 *s, gsize len, guint64 *out)
{
  gboolean negative = read_sign (&s, &len);
  guint64 v;

  if (!read_digits (s, len, G_MAXUINT64, &v))
    return FALSE;
  if (negative)
    v = 0 - v;
  if (negative && (gint64) v < 0)
    return FALSE;
  *out = v;
  return TRUE;
}

/* ---- base64, as memcached decodes keys ----
 *
 * Bytes outside the alphabet are skipped; the rest must come in groups
 * of four; decoding stops after the first group holding a '=', which may
 * hold at most two. */

static gint
base64_value (guint8 c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  if (c == '=')
    return 0;
  return -1;
}

/* Returns the decoded length, 0 on failure. */
static gsize
base64_decode_key (const guint8 *src, gsize len, guint8 *out, gsize out_size)
{
  gsize count = 0, n = 0;
  guint8 block[4];
  guint pad = 0;

  for (gsize i = 0; i < len; i++)
    if (base64_value (src[i]) >= 0)
      count++;
  if (count == 0 || count % 4 != 0 || count / 4 * 3 > out_size)
    return 0;
  count = 0;
  for (gsize i = 0; i < len; i++)
    {
      gint v = base64_value (src[i]);

      if (v < 0)
        continue;
      pad += src[i] == '=';
      block[count++] = (guint8) v;
      if (count < 4)
        continue;
      out[n++] = (guint8) ((block[0] << 2) | (block[1] >> 4));
      out[n++] = (guint8) ((block[1] << 4) | (block[2] >> 2));
      out[n++] = (guint8) ((block[2] << 6) | block[3]);
      count = 0;
      if (pad > 2)
        return 0;
      if (pad > 0)
        return n - pad;
    }
  return n;
}

/* ---- the line ---- */

/* Splits on spaces, as memcached does; counts every token but keeps at
 * most @max. */
static guint
tokenize (const guint8 *line, gsize len, Token *tokens, guint max)
{
  guint n = 0;
  gsize i = 0;

  while (i < len)
    {
      gsize start;

      while (i < len && line[i] == ' ')
        i++;
      if (i == len)
        break;
      start = i;
      while (i < len && line[i] != ' ')
        i++;
      if (n < max)
        {
          tokens[n].start = line + start;
          tokens[n].len = i - start;
        }
      n++;
    }
  return n;
}

static BraidMcMetaType
type_of (guint8 letter)
{
  switch (letter)
    {
    case 'g':
      return BRAID_MC_META_GET;
    case 's':
      return BRAID_MC_META_SET;
    case 'd':
      return BRAID_MC_META_DELETE;
    case 'a':
      return BRAID_MC_META_ARITH;
    case 'n':
      return BRAID_MC_META_NOOP;
    case 'e':
    default:
      return BRAID_MC_META_DEBUG;
    }
}

/* Reads the value of a flag that carries one (N T R F C J D M).  FALSE
 * when it does not parse, with *@reply naming the fault as memcached does
 * (F's fault names none: the reply stays whatever it was). */
static gboolean
parse_flag_value (BraidMcMetaCommand *cmd, const Token *t, const gchar **reply)
{
  const guint8 *v = t->start + 1;
  gsize n = t->len - 1;
  guint64 u;

  switch (t->start[0])
    {
    case 'N':
      return parse_strtol (v, n, &cmd->vivify_ttl) || (*reply = REPLY_BAD_TOKEN, FALSE);
    case 'T':
      return parse_strtol (v, n, &cmd->ttl) || (*reply = REPLY_BAD_TOKEN, FALSE);
    case 'R':
      return parse_strtol (v, n, &cmd->recache_ttl) || (*reply = REPLY_BAD_TOKEN, FALSE);
    case 'F':
      /* safe_strtoul keeps 32 bits of a 64-bit number; its failure leaves
       * the reply as it was. */
      if (!parse_strtoull (v, n, &u))
        return FALSE;
      cmd->client_flags = (guint32) u;
      return TRUE;
    case 'C':
      return parse_strtoull (v, n, &cmd->cas) || (*reply = REPLY_BAD_TOKEN, FALSE);
    case 'J':
      return parse_strtoull (v, n, &cmd->initial) || (*reply = REPLY_BAD_INITIAL, FALSE);
    case 'D':
      return parse_strtoull (v, n, &cmd->delta) || (*reply = REPLY_BAD_DELTA, FALSE);
    case 'M':
      if (t->len != 2)
        return (*reply = REPLY_M_LENGTH, FALSE);
      cmd->mode = (gchar) t->start[1];
      return TRUE;
    default:
      return TRUE;
    }
}

static gboolean
decode_key (BraidMcMetaCommand *cmd)
{
  cmd->key_len = base64_decode_key (cmd->key, cmd->key_len, cmd->key_buf, sizeof cmd->key_buf);
  cmd->key = cmd->key_buf;
  cmd->key_binary = TRUE;
  return cmd->key_len > 0;
}

/* memcached's _meta_flag_preparse.  FALSE with *@reply on a fault. */
static gboolean
parse_flags (BraidMcMetaCommand *cmd, const Token *tokens, guint first, guint n, const gchar **reply)
{
  gboolean ok = TRUE;

  for (guint i = first; i < n; i++)
    {
      const Token *t = &tokens[i];
      guint8 c = t->start[0];

      if (c >= 127 || braid_mc_meta_has_flag (cmd, (gchar) c))
        return (*reply = REPLY_DUPLICATE, FALSE);
      note_letter (cmd, c);
      if (strchr ("bNTRlOPLkstcfvhuqFCMJDI", c) == NULL)
        return (*reply = REPLY_INVALID_FLAG, FALSE);
      if (c == 'b' && !decode_key (cmd))
        {
          *reply = REPLY_BAD_KEY;
          ok = FALSE;
        }
      if (!parse_flag_value (cmd, t, reply))
        ok = FALSE;
      cmd->flags[cmd->n_flags].token = t->start;
      cmd->flags[cmd->n_flags].len = t->len;
      cmd->n_flags++;
    }
  return ok;
}

static gboolean
opaque_fits (const BraidMcMetaCommand *cmd)
{
  for (guint i = 0; i < cmd->n_flags; i++)
    if (cmd->flags[i].token[0] == 'O' && cmd->flags[i].len > BRAID_MC_META_OPAQUE_MAX)
      return FALSE;
  return TRUE;
}

/* me <key> [b]: only a "b" right after the key counts. */
static gboolean
parse_debug (BraidMcMetaCommand *cmd, const Token *tokens, guint n, const gchar **reply)
{
  if (n < 2 || tokens[1].len > BRAID_MC_KEY_MAX)
    return (*reply = REPLY_BAD_FORMAT, FALSE);
  if (n >= 3 && tokens[2].len == 1 && tokens[2].start[0] == 'b' && !decode_key (cmd))
    return (*reply = REPLY_BAD_FORMAT, FALSE);
  return TRUE;
}

static gboolean
parse_set (BraidMcMetaCommand *cmd, const Token *tokens, guint n, const gchar **reply, gsize *swallow)
{
  gint64 vlen;

  if (n == 2)
    return (*reply = REPLY_BAD_FORMAT, FALSE);
  if (n + 1 > BRAID_MC_META_MAX_TOKENS)
    return (*reply = REPLY_TOO_MANY, FALSE);
  if (!parse_strtol (tokens[2].start, tokens[2].len, &vlen) || vlen < 0 || vlen > G_MAXINT32 - 2)
    return (*reply = REPLY_BAD_FORMAT, FALSE);
  cmd->value_len = (gsize) vlen;
  /* From here on a fault costs the data block. */
  *swallow = cmd->value_len + 2;
  *reply = REPLY_BAD_FORMAT;
  if (!parse_flags (cmd, tokens, 3, n, reply))
    return FALSE;
  /* memcached checks the mode before it acts on an opaque too long */
  if (cmd->mode != 0 && strchr ("EAPRS", cmd->mode) == NULL)
    return (*reply = REPLY_BAD_SET_MODE, FALSE);
  if (!opaque_fits (cmd))
    return (*reply = REPLY_OPAQUE_TOO_LONG, FALSE);
  *swallow = 0;
  return TRUE;
}

static gboolean
parse_other (BraidMcMetaCommand *cmd, const Token *tokens, guint n, const gchar **reply)
{
  gboolean get = cmd->type == BRAID_MC_META_GET;

  if (n + 1 > BRAID_MC_META_MAX_TOKENS)
    return (*reply = get ? REPLY_GET_TOO_MANY : REPLY_TOO_MANY, FALSE);
  *reply = REPLY_BAD_FORMAT;
  if (!parse_flags (cmd, tokens, 2, n, reply))
    {
      /* md and ma name no particular fault. */
      if (!get)
        *reply = REPLY_INVALID_OR_DUPLICATE;
      return FALSE;
    }
  if (cmd->type == BRAID_MC_META_ARITH && cmd->mode != 0 && strchr ("I+D-", cmd->mode) == NULL)
    return (*reply = REPLY_BAD_ARITH_MODE, FALSE);
  if (!opaque_fits (cmd))
    {
      /* md refuses before it deletes; mg and ma act first (the server
       * answers the error then) */
      if (cmd->type == BRAID_MC_META_DELETE)
        return (*reply = REPLY_OPAQUE_TOO_LONG, FALSE);
      cmd->opaque_too_long = TRUE;
    }
  return TRUE;
}

gboolean
braid_mc_meta_parse (const guint8 *line, gsize len, BraidMcMetaCommand *cmd, const gchar **reply, gsize *swallow)
{
  g_return_val_if_fail (line != NULL && cmd != NULL && reply != NULL && swallow != NULL, FALSE);
  g_return_val_if_fail (braid_mc_meta_is_command (line, len), FALSE);

  Token tokens[BRAID_MC_META_MAX_TOKENS];
  guint n = tokenize (line, len, tokens, G_N_ELEMENTS (tokens));

  memset (cmd, 0, G_STRUCT_OFFSET (BraidMcMetaCommand, key_buf));
  cmd->delta = 1;
  *reply = NULL;
  *swallow = 0;
  if (n == 0)
    return (*reply = REPLY_ERROR, FALSE);  /* not reached: is_command saw a token */
  cmd->type = type_of (tokens[0].start[1]);
  if (cmd->type == BRAID_MC_META_NOOP)
    return TRUE;
  if (n >= 2)
    {
      cmd->key = tokens[1].start;
      cmd->key_len = tokens[1].len;
    }
  if (cmd->type == BRAID_MC_META_DEBUG)
    return parse_debug (cmd, tokens, n, reply);
  if (n < 2)
    return (*reply = REPLY_ERROR, FALSE);
  if (tokens[1].len > BRAID_MC_KEY_MAX)
    return (*reply = REPLY_BAD_FORMAT, FALSE);
  if (cmd->type == BRAID_MC_META_SET)
    return parse_set (cmd, tokens, n, reply, swallow);
  return parse_other (cmd, tokens, n, reply);
}
