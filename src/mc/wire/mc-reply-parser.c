/* braid — the memcached client's reply parser. */
#include "mc-reply-parser.h"
#include "mc-error.h"
#include "mc-wire.h"

#include <string.h>

const gchar *
braid_mc_reply_type_name (BraidMcReplyType type)
{
  static const gchar *names[] = {
    "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK", "RESET", "END",
    "VALUE", "NUMBER", "STAT", "VERSION", "ERROR", "CLIENT_ERROR", "SERVER_ERROR",
  };

  return (gsize) type < G_N_ELEMENTS (names) ? names[type] : "?";
}

static gboolean
line_is (const guint8 *line, gsize len, const gchar *word)
{
  gsize n = strlen (word);

  return len == n && memcmp (line, word, n) == 0;
}

static gboolean
line_starts (const guint8 *line, gsize len, const gchar *prefix)
{
  gsize n = strlen (prefix);

  return len >= n && memcmp (line, prefix, n) == 0;
}

static gboolean
parse_u64 (const guint8 *s, gsize len, guint64 *out)
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
      if (v > (G_MAXUINT64 - d) / 10)
        return FALSE;
      v = v * 10 + d;
    }
  *out = v;
  return TRUE;
}

/* Splits "a b c" into at most @max space-separated fields. */
static guint
fields (const guint8 *s, gsize len, const guint8 **f, gsize *flen, guint max)
{
  guint n = 0;
  gsize i = 0;

  while (i < len && n < max)
    {
      gsize start = i;

      while (i < len && s[i] != ' ')
        i++;
      f[n] = s + start;
      flen[n] = i - start;
      n++;
      if (i < len)
        i++;
    }
  return i < len ? max + 1 : n;
}

static gsize
protocol_error (GError **error, const gchar *what, const guint8 *line, gsize len)
{
  g_autofree gchar *raw = g_strndup ((const gchar *) line, MIN (len, 80));
  g_autofree gchar *shown = g_strescape (raw, NULL);

  g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL,
               "Not a memcached reply (%s): “%s”", what, shown);
  return 0;
}

static gsize
parse_value (const BraidMcReplyParser *parser, const guint8 *line, gsize line_len,
             const guint8 *buf, gsize len, gsize used, BraidMcReply *reply, GError **error)
{
  const guint8 *f[5];
  gsize fl[5];
  guint n = fields (line + 6, line_len - 6, f, fl, 4);
  guint64 flags, bytes;
  gsize value_max = parser->value_max != 0 ? parser->value_max : BRAID_MC_REPLY_VALUE_MAX_DEFAULT;

  if (n < 3 || n > 4 || fl[0] == 0)
    return protocol_error (error, "bad VALUE line", line, line_len);
  if (fl[0] > BRAID_MC_KEY_MAX)
    return protocol_error (error, "VALUE key longer than 250 bytes", line, line_len);
  if (!parse_u64 (f[1], fl[1], &flags) || flags > G_MAXUINT32)
    return protocol_error (error, "VALUE flags not a 32-bit number", line, line_len);
  if (!parse_u64 (f[2], fl[2], &bytes))
    return protocol_error (error, "VALUE length not a number", line, line_len);
  if (n == 4 && !parse_u64 (f[3], fl[3], &reply->cas))
    return protocol_error (error, "VALUE cas not a 64-bit number", line, line_len);
  /* Before any arithmetic on it: a hostile length must neither wrap nor
   * make the caller wait for (and buffer) gigabytes. */
  if (bytes > value_max)
    {
      g_autofree gchar *what = g_strdup_printf ("VALUE of %" G_GUINT64_FORMAT " bytes, over the %"
                                                G_GSIZE_FORMAT "-byte limit", bytes, value_max);

      return protocol_error (error, what, line, line_len);
    }
  if (len - used < 2 || len - used - 2 < (gsize) bytes)
    return 0;  /* the data block is not all here yet */
  if (buf[used + bytes] != '\r' || buf[used + bytes + 1] != '\n')
    return protocol_error (error, "VALUE data not followed by \\r\\n", line, line_len);
  reply->type = BRAID_MC_REPLY_VALUE;
  reply->key = f[0];
  reply->key_len = fl[0];
  reply->flags = (guint32) flags;
  reply->has_cas = n == 4;
  reply->value = buf + used;
  reply->value_len = (gsize) bytes;
  return used + (gsize) bytes + 2;
}

static void
set_text (BraidMcReply *reply, BraidMcReplyType type, const guint8 *line, gsize line_len, gsize skip)
{
  reply->type = type;
  if (line_len <= skip)
    return;  /* no text: "ERROR" alone */
  reply->value = line + skip;
  reply->value_len = line_len - skip;
}

gsize
braid_mc_parse_reply (BraidMcReplyParser *parser,
                      const guint8 *buf,
                      gsize len,
                      BraidMcReply *reply,
                      GError **error)
{
  const guint8 *nl;
  gsize line_len, used;

  g_return_val_if_fail (parser != NULL, 0);
  g_return_val_if_fail (buf != NULL || len == 0, 0);
  g_return_val_if_fail (reply != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);
  memset (reply, 0, sizeof *reply);
  if (parser->scan_offset > len)
    parser->scan_offset = 0;
  nl = len > parser->scan_offset ? memchr (buf + parser->scan_offset, '\n', len - parser->scan_offset) : NULL;
  if (nl == NULL)
    {
      parser->scan_offset = len;
      if (len > BRAID_MC_REPLY_LINE_MAX)
        return protocol_error (error, "line too long", buf, len);
      return 0;
    }
  parser->scan_offset = 0;
  if (nl == buf || nl[-1] != '\r')
    return protocol_error (error, "line not ended by \\r\\n", buf, (gsize) (nl - buf));
  line_len = (gsize) (nl - buf) - 1;
  used = line_len + 2;

  if (line_starts (buf, line_len, "VALUE "))
    {
      gsize r = parse_value (parser, buf, line_len, buf, len, used, reply, error);

      if (r == 0 && (error == NULL || *error == NULL))
        parser->scan_offset = 0;  /* re-read the line when the data is in */
      return r;
    }
  if (line_is (buf, line_len, "STORED"))
    reply->type = BRAID_MC_REPLY_STORED;
  else if (line_is (buf, line_len, "NOT_STORED"))
    reply->type = BRAID_MC_REPLY_NOT_STORED;
  else if (line_is (buf, line_len, "EXISTS"))
    reply->type = BRAID_MC_REPLY_EXISTS;
  else if (line_is (buf, line_len, "NOT_FOUND"))
    reply->type = BRAID_MC_REPLY_NOT_FOUND;
  else if (line_is (buf, line_len, "DELETED"))
    reply->type = BRAID_MC_REPLY_DELETED;
  else if (line_is (buf, line_len, "TOUCHED"))
    reply->type = BRAID_MC_REPLY_TOUCHED;
  else if (line_is (buf, line_len, "OK"))
    reply->type = BRAID_MC_REPLY_OK;
  else if (line_is (buf, line_len, "RESET"))
    reply->type = BRAID_MC_REPLY_RESET;
  else if (line_is (buf, line_len, "END"))
    reply->type = BRAID_MC_REPLY_END;
  else if (line_is (buf, line_len, "ERROR") || line_starts (buf, line_len, "ERROR "))
    set_text (reply, BRAID_MC_REPLY_ERROR, buf, line_len, 6);
  else if (line_starts (buf, line_len, "CLIENT_ERROR"))
    set_text (reply, BRAID_MC_REPLY_CLIENT_ERROR, buf, line_len, 13);
  else if (line_starts (buf, line_len, "SERVER_ERROR"))
    set_text (reply, BRAID_MC_REPLY_SERVER_ERROR, buf, line_len, 13);
  else if (line_starts (buf, line_len, "VERSION "))
    set_text (reply, BRAID_MC_REPLY_VERSION, buf, line_len, 8);
  else if (line_starts (buf, line_len, "STAT "))
    {
      const guint8 *name = buf + 5;
      const guint8 *space = memchr (name, ' ', line_len - 5);

      reply->type = BRAID_MC_REPLY_STAT;
      reply->key = name;
      reply->key_len = space != NULL ? (gsize) (space - name) : line_len - 5;
      reply->value = space != NULL ? space + 1 : buf + line_len;
      reply->value_len = space != NULL ? (gsize) (buf + line_len - space - 1) : 0;
    }
  else if (line_len > 0 && g_ascii_isdigit (buf[0]))
    {
      /* incr/decr results may be followed by padding spaces */
      gsize digits = 0;

      while (digits < line_len && g_ascii_isdigit (buf[digits]))
        digits++;
      for (gsize i = digits; i < line_len; i++)
        if (buf[i] != ' ')
          return protocol_error (error, "bad number", buf, line_len);
      if (!parse_u64 (buf, digits, &reply->number))
        return protocol_error (error, "number out of range", buf, line_len);
      reply->type = BRAID_MC_REPLY_NUMBER;
    }
  else
    return protocol_error (error, "unknown reply", buf, line_len);
  return used;
}
