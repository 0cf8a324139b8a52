/* braid — binding server-issued tokens during a replay (see binding.h). */
#include "binding.h"

#include <string.h>

#define MAX_TOKENS 32
/* A partial reply line longer than this is passed on without waiting. */
#define MAX_HELD_LINE 65536

typedef struct {
  gboolean binary;
  gboolean raw;      /* malformed binary: pass everything on */
  gsize data_left;   /* bytes of a data block still to come, its \r\n included */
  gboolean in_line;  /* inside a line already known to hold no token */
  gboolean hold;     /* hold partial reply lines that may carry a token */
} ScanState;

/* Whether a partial reply line may still turn out to carry a token. */
static gboolean
may_carry_token (const guint8 *buf, gsize len)
{
  static const gchar *const starts[] = { "VALUE ", "VA ", "HD", "NS", "EX", "NF", "EN" };

  for (guint i = 0; i < G_N_ELEMENTS (starts); i++)
    {
      gsize n = MIN (len, strlen (starts[i]));

      if (memcmp (buf, starts[i], n) == 0)
        return TRUE;
    }
  return FALSE;
}

typedef struct {
  gsize offset;
  gsize length;
} Token;

static guint
split_tokens (const guint8 *line, gsize len, Token *tokens)
{
  guint n = 0;
  gsize i = 0;

  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  while (i < len && n < MAX_TOKENS)
    {
      gsize start;

      while (i < len && line[i] == ' ')
        i++;
      if (i == len)
        break;
      start = i;
      while (i < len && line[i] != ' ')
        i++;
      tokens[n].offset = start;
      tokens[n].length = i - start;
      n++;
    }
  return n;
}

static gboolean
token_is (const guint8 *line, const Token *token, const gchar *word)
{
  gsize wlen = strlen (word);

  return token->length == wlen && memcmp (line + token->offset, word, wlen) == 0;
}

static gboolean
token_number (const guint8 *line, const Token *token, gsize *out)
{
  guint64 value = 0;

  if (token->length == 0 || token->length > 12)
    return FALSE;
  for (gsize i = 0; i < token->length; i++)
    {
      guint8 c = line[token->offset + i];

      if (c < '0' || c > '9')
        return FALSE;
      value = value * 10 + (guint64) (c - '0');
    }
  *out = (gsize) value;
  return TRUE;
}

static void
add_span (GArray *spans, gsize base, gsize offset, gsize length)
{
  BraidTokenSpan span = { base + offset, length };

  if (spans != NULL)
    g_array_append_val (spans, span);
}

/* Meta flags from @first on: @letters name the flags whose value is a cas
 * unique (c in replies; C and E in requests). */
static void
meta_flags (const guint8 *line, const Token *tokens, guint n, guint first, const gchar *letters,
            gsize base, GArray *spans)
{
  for (guint i = first; i < n; i++)
    if (tokens[i].length > 1 && strchr (letters, line[tokens[i].offset]) != NULL)
      add_span (spans, base, tokens[i].offset + 1, tokens[i].length - 1);
}

static void
data_block (ScanState *st, const guint8 *line, const Token *token)
{
  gsize bytes;

  if (token_number (line, token, &bytes))
    st->data_left = bytes + 2;
}

/* A complete text line of a reply. */
static void
reply_line (ScanState *st, const guint8 *line, gsize len, gsize base, GArray *spans)
{
  Token t[MAX_TOKENS];
  guint n = split_tokens (line, len, t);

  if (n == 0)
    return;
  if (token_is (line, &t[0], "VALUE") && n >= 4)
    {
      data_block (st, line, &t[3]);
      if (n >= 5)
        add_span (spans, base, t[4].offset, t[4].length);
    }
  else if (token_is (line, &t[0], "VA") && n >= 2)
    {
      data_block (st, line, &t[1]);
      meta_flags (line, t, n, 2, "c", base, spans);
    }
  else if (token_is (line, &t[0], "HD") || token_is (line, &t[0], "NS") || token_is (line, &t[0], "EX") ||
           token_is (line, &t[0], "NF") || token_is (line, &t[0], "EN"))
    meta_flags (line, t, n, 1, "c", base, spans);
}

/* A complete text line of a request. */
static void
request_line (ScanState *st, const guint8 *line, gsize len, gsize base, GArray *spans)
{
  Token t[MAX_TOKENS];
  guint n = split_tokens (line, len, t);

  if (n == 0)
    return;
  if ((token_is (line, &t[0], "set") || token_is (line, &t[0], "add") || token_is (line, &t[0], "replace") ||
       token_is (line, &t[0], "append") || token_is (line, &t[0], "prepend")) && n >= 5)
    data_block (st, line, &t[4]);
  else if (token_is (line, &t[0], "cas") && n >= 6)
    {
      data_block (st, line, &t[4]);
      add_span (spans, base, t[5].offset, t[5].length);
    }
  else if (token_is (line, &t[0], "ms") && n >= 3)
    {
      data_block (st, line, &t[2]);
      meta_flags (line, t, n, 3, "CE", base, spans);
    }
  else if (token_is (line, &t[0], "mg") || token_is (line, &t[0], "md") || token_is (line, &t[0], "ma"))
    meta_flags (line, t, n, 2, "CE", base, spans);
}

static gboolean
all_zero (const guint8 *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (data[i] != 0)
      return FALSE;
  return TRUE;
}

/* One unit at @buf (the stream's offset @base): its length, or 0 when more
 * bytes are needed.  Spans are appended with stream offsets; *@unit_end
 * says whether a unit (line, data block, packet) ends here. */
static gsize
scan_unit (ScanState *st, gboolean request, const guint8 *buf, gsize len, gboolean eof, gsize base,
           GArray *spans, gboolean *unit_end)
{
  *unit_end = TRUE;
  if (len == 0)
    return 0;
  if (st->raw)
    return len;
  if (st->data_left > 0)
    {
      gsize n = MIN (len, st->data_left);

      st->data_left -= n;
      *unit_end = st->data_left == 0;
      return n;
    }
  if (st->binary)
    {
      gsize total;

      if (len < 24)
        return eof ? len : 0;
      if (buf[0] != (request ? 0x80 : 0x81))
        {
          st->raw = TRUE;
          return len;
        }
      total = 24 + (((gsize) buf[8] << 24) | ((gsize) buf[9] << 16) | ((gsize) buf[10] << 8) | buf[11]);
      if (total > len)
        return eof ? len : 0;
      if (!request || !all_zero (buf + 16, 8))
        add_span (spans, base, 16, 8);
      return total;
    }
  else
    {
      const guint8 *nl = memchr (buf, '\n', len);
      gsize line_len = nl != NULL ? (gsize) (nl - buf) + 1 : len;

      if (st->in_line)
        {
          /* The rest of a line passed on early. */
          st->in_line = nl == NULL;
          *unit_end = nl != NULL;
          return line_len;
        }
      if (nl == NULL && !eof)
        {
          /* Hold a partial line only while it may carry a token: other
           * servers' bytes (and lines cut by the recording) pass on. */
          if (!request && st->hold && len < MAX_HELD_LINE && may_carry_token (buf, len))
            return 0;
          if (!request)
            {
              st->in_line = TRUE;
              *unit_end = FALSE;
              return len;
            }
          return 0;
        }
      if (request)
        request_line (st, buf, line_len, base, spans);
      else
        reply_line (st, buf, line_len, base, spans);
      return line_len;
    }
}

static GArray *
scan_all (const guint8 *data, gsize len, gboolean binary, gboolean request, GArray *unit_ends)
{
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (BraidTokenSpan));
  ScanState st = { binary, FALSE, 0, FALSE, FALSE };
  gsize pos = 0;

  while (pos < len)
    {
      gboolean unit_end;
      gsize n = scan_unit (&st, request, data + pos, len - pos, TRUE, pos, spans, &unit_end);

      pos += n;
      if (unit_end && unit_ends != NULL)
        g_array_append_val (unit_ends, pos);
    }
  return spans;
}

GArray *
braid_binding_scan_client (const guint8 *data, gsize len)
{
  return scan_all (data, len, len > 0 && data[0] == 0x80, TRUE, NULL);
}

GArray *
braid_binding_scan_server (const guint8 *data, gsize len, gboolean binary, GArray *unit_ends)
{
  return scan_all (data, len, binary, FALSE, unit_ends);
}

/* ---- the binder ---- */

struct _BraidBinder
{
  gboolean binding;
  gboolean binary;
  GBytes *client;              /* (owned) */
  GArray *client_spans;        /* (element-type BraidTokenSpan) */
  guint next_span;
  gsize client_sent;
  GPtrArray *recorded_tokens;  /* (element-type GBytes) */
  GArray *recorded_unit_ends;  /* (element-type gsize) */
  GHashTable *to_live;         /* recorded GBytes -> live GBytes */
  GHashTable *to_recorded;     /* live GBytes -> recorded GBytes */
  ScanState live;
  GByteArray *pending;         /* live bytes not yet a complete unit */
  guint live_tokens;
  GArray *live_unit_ends;      /* (element-type gsize): in the emitted stream */
  gsize emitted;
};

BraidBinder *
braid_binder_new (GBytes *client, GBytes *server, gboolean binding)
{
  BraidBinder *self = g_new0 (BraidBinder, 1);
  gsize clen, slen;
  const guint8 *cdata = g_bytes_get_data (client, &clen);
  const guint8 *sdata = g_bytes_get_data (server, &slen);
  g_autoptr(GArray) server_spans = NULL;

  self->binding = binding;
  self->binary = clen > 0 && cdata[0] == 0x80;
  self->client = g_bytes_ref (client);
  self->client_spans = braid_binding_scan_client (cdata, clen);
  self->recorded_unit_ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  server_spans = braid_binding_scan_server (sdata, slen, self->binary, self->recorded_unit_ends);
  self->recorded_tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < server_spans->len; i++)
    {
      BraidTokenSpan *span = &g_array_index (server_spans, BraidTokenSpan, i);

      g_ptr_array_add (self->recorded_tokens, g_bytes_new (sdata + span->offset, span->length));
    }
  self->to_live = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref,
                                         (GDestroyNotify) g_bytes_unref);
  self->to_recorded = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref,
                                             (GDestroyNotify) g_bytes_unref);
  self->live.binary = self->binary;
  /* Only a conversation with tokens to bind waits for whole reply lines. */
  self->live.hold = binding && self->recorded_tokens->len > 0;
  self->pending = g_byte_array_new ();
  self->live_unit_ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  return self;
}

void
braid_binder_free (BraidBinder *self)
{
  if (self == NULL)
    return;
  g_bytes_unref (self->client);
  g_array_unref (self->client_spans);
  g_ptr_array_unref (self->recorded_tokens);
  g_array_unref (self->recorded_unit_ends);
  g_hash_table_unref (self->to_live);
  g_hash_table_unref (self->to_recorded);
  g_byte_array_unref (self->pending);
  g_array_unref (self->live_unit_ends);
  g_free (self);
}

void
braid_binder_rewrite_client (BraidBinder *self, gsize start, gsize end, GByteArray *out)
{
  gsize clen;
  const guint8 *cdata = g_bytes_get_data (self->client, &clen);
  gsize pos = MAX (start, self->client_sent);

  end = MIN (end, clen);
  while (self->next_span < self->client_spans->len)
    {
      BraidTokenSpan *span = &g_array_index (self->client_spans, BraidTokenSpan, self->next_span);
      g_autoptr(GBytes) recorded = NULL;
      GBytes *live;

      if (span->offset >= end)
        break;
      self->next_span++;
      if (span->offset < pos)
        continue;
      if (pos < span->offset)
        g_byte_array_append (out, cdata + pos, (guint) (span->offset - pos));
      recorded = g_bytes_new_static (cdata + span->offset, span->length);
      live = self->binding ? g_hash_table_lookup (self->to_live, recorded) : NULL;
      if (live != NULL)
        g_byte_array_append (out, g_bytes_get_data (live, NULL), (guint) g_bytes_get_size (live));
      else
        g_byte_array_append (out, cdata + span->offset, (guint) span->length);
      pos = span->offset + span->length;
    }
  if (pos < end)
    g_byte_array_append (out, cdata + pos, (guint) (end - pos));
  self->client_sent = MAX (pos, end);
}

static gchar *
show_token (GBytes *token)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (token, &len);
  GString *s = g_string_new (NULL);
  gboolean printable = TRUE;

  for (gsize i = 0; i < len; i++)
    if (data[i] < 0x21 || data[i] > 0x7e)
      printable = FALSE;
  if (printable)
    g_string_append_len (s, (const gchar *) data, (gssize) len);
  else
    {
      g_string_append (s, "0x");
      for (gsize i = 0; i < len; i++)
        g_string_append_printf (s, "%02x", data[i]);
    }
  return g_string_free (s, FALSE);
}

/* Pairs @live with the next recorded token; returns the bytes to emit in
 * its place (unowned), or NULL on a binding that is not one-to-one. */
static GBytes *
bind_token (BraidBinder *self, GBytes *live, gchar **problem)
{
  GBytes *recorded = self->live_tokens < self->recorded_tokens->len
                       ? g_ptr_array_index (self->recorded_tokens, self->live_tokens) : NULL;
  GBytes *known;

  self->live_tokens++;
  if (!self->binding || recorded == NULL)
    return live;
  if (self->binary && all_zero (g_bytes_get_data (recorded, NULL), g_bytes_get_size (recorded)))
    return live;
  known = g_hash_table_lookup (self->to_recorded, live);
  if (known != NULL && !g_bytes_equal (known, recorded))
    {
      g_autofree gchar *l = show_token (live);
      g_autofree gchar *k = show_token (known);
      g_autofree gchar *r = show_token (recorded);

      *problem = g_strdup_printf ("the server issued cas %s for both recorded %s and recorded %s "
                                  "(token %u of the replies)", l, k, r, self->live_tokens);
      return NULL;
    }
  known = g_hash_table_lookup (self->to_live, recorded);
  if (known != NULL && !g_bytes_equal (known, live))
    {
      g_autofree gchar *l = show_token (live);
      g_autofree gchar *k = show_token (known);
      g_autofree gchar *r = show_token (recorded);

      *problem = g_strdup_printf ("recorded cas %s came back as %s and later as %s (token %u of the replies)",
                                  r, k, l, self->live_tokens);
      return NULL;
    }
  g_hash_table_replace (self->to_live, g_bytes_ref (recorded), g_bytes_ref (live));
  g_hash_table_replace (self->to_recorded, g_bytes_ref (live), g_bytes_ref (recorded));
  return recorded;
}

gboolean
braid_binder_take_reply (BraidBinder *self, const guint8 *data, gsize len, gboolean eof,
                         GByteArray *out, gchar **problem)
{
  gsize used = 0;
  g_autoptr(GArray) spans = g_array_new (FALSE, FALSE, sizeof (BraidTokenSpan));

  g_byte_array_append (self->pending, data, (guint) len);
  while (used < self->pending->len)
    {
      gboolean unit_end;
      const guint8 *unit = self->pending->data + used;
      gsize n;
      gsize pos = 0;

      g_array_set_size (spans, 0);
      n = scan_unit (&self->live, FALSE, unit, self->pending->len - used, eof, 0, spans, &unit_end);
      if (n == 0)
        break;
      for (guint i = 0; i < spans->len; i++)
        {
          BraidTokenSpan *span = &g_array_index (spans, BraidTokenSpan, i);
          g_autoptr(GBytes) live = g_bytes_new (unit + span->offset, span->length);
          GBytes *emit = bind_token (self, live, problem);

          if (emit == NULL)
            {
              g_byte_array_remove_range (self->pending, 0, (guint) used);
              return FALSE;
            }
          g_byte_array_append (out, unit + pos, (guint) (span->offset - pos));
          g_byte_array_append (out, g_bytes_get_data (emit, NULL), (guint) g_bytes_get_size (emit));
          self->emitted += span->offset - pos + g_bytes_get_size (emit);
          pos = span->offset + span->length;
        }
      g_byte_array_append (out, unit + pos, (guint) (n - pos));
      self->emitted += n - pos;
      used += n;
      if (unit_end)
        g_array_append_val (self->live_unit_ends, self->emitted);
    }
  g_byte_array_remove_range (self->pending, 0, (guint) used);
  return TRUE;
}

guint
braid_binder_get_live_units (BraidBinder *self)
{
  return self->live_unit_ends->len;
}

gsize
braid_binder_get_live_unit_end (BraidBinder *self, guint index)
{
  g_return_val_if_fail (index < self->live_unit_ends->len, 0);
  return g_array_index (self->live_unit_ends, gsize, index);
}

guint
braid_binder_count_recorded_units (BraidBinder *self, gsize offset)
{
  guint n = 0;

  while (n < self->recorded_unit_ends->len && g_array_index (self->recorded_unit_ends, gsize, n) <= offset)
    n++;
  return n;
}
