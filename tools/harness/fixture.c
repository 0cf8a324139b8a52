/* braid — fixtures: parse, write, normalise. */
#include "fixture.h"

#include <string.h>

#define FIXTURE_MAGIC "# braid fixture 1"
/* Bytes per continuation line for data without newlines. */
#define SEGMENT_MAX 1024
/* Normalising never grows the bytes past this (see fixture.h). */
#define NORMALIZE_GROWTH 8
#define NORMALIZE_SLACK (64 * 1024)

G_DEFINE_QUARK (braid-fixture-error-quark, braid_fixture_error)

static void
chunk_free (gpointer data)
{
  BraidFixtureChunk *chunk = data;

  g_clear_pointer (&chunk->data, g_bytes_unref);
  g_free (chunk);
}

static void
rule_free (gpointer data)
{
  BraidFixtureRule *rule = data;

  g_regex_unref (rule->regex);
  g_free (rule->pattern);
  g_free (rule->replacement);
  g_free (rule);
}

BraidFixture *
braid_fixture_new (const gchar *name)
{
  BraidFixture *fixture = g_new0 (BraidFixture, 1);

  fixture->name = g_strdup (name != NULL ? name : "<memory>");
  fixture->headers = g_ptr_array_new_with_free_func (g_free);
  fixture->rules = g_ptr_array_new_with_free_func (rule_free);
  fixture->chunks = g_ptr_array_new_with_free_func (chunk_free);
  return fixture;
}

void
braid_fixture_free (BraidFixture *fixture)
{
  if (fixture == NULL)
    return;
  g_free (fixture->name);
  g_ptr_array_unref (fixture->headers);
  g_ptr_array_unref (fixture->rules);
  g_ptr_array_unref (fixture->chunks);
  g_free (fixture);
}

/* Headers are one line of text: control characters (tab excepted) become
 * '?', so that what is written reads back the same. */
static gboolean
is_header_control (guchar c)
{
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

void
braid_fixture_add_header (BraidFixture *fixture, const gchar *key, const gchar *value)
{
  gchar *header;

  g_return_if_fail (key != NULL && *key != '\0' && strchr (key, ' ') == NULL);
  header = g_strdup_printf ("%s %s", key, value != NULL ? value : "");
  for (gchar *c = header; *c != '\0'; c++)
    if (is_header_control ((guchar) *c))
      *c = '?';
  g_ptr_array_add (fixture->headers, header);
}

const gchar *
braid_fixture_get_header (BraidFixture *fixture, const gchar *key)
{
  gsize klen = strlen (key);

  for (guint i = 0; i < fixture->headers->len; i++)
    {
      const gchar *h = g_ptr_array_index (fixture->headers, i);

      if (strncmp (h, key, klen) == 0 && h[klen] == ' ')
        return h + klen + 1;
    }
  return NULL;
}

gboolean
braid_fixture_add_rule (BraidFixture *fixture, const gchar *pattern,
                        const gchar *replacement, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  GRegex *regex = g_regex_new (pattern, G_REGEX_MULTILINE | G_REGEX_RAW | G_REGEX_OPTIMIZE,
                               0, &local_error);
  BraidFixtureRule *rule;

  if (regex == NULL)
    {
      g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                   "bad %%replace pattern “%s”: %s", pattern, local_error->message);
      return FALSE;
    }
  /* A rule that matches nothing would insert its replacement between
   * every two bytes, and a few such rules multiply the data. */
  if (g_regex_match (regex, "", 0, NULL))
    {
      g_regex_unref (regex);
      g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                   "bad %%replace pattern “%s”: it matches the empty string "
                   "(a rule must match at least one byte)", pattern);
      return FALSE;
    }
  if (!g_regex_check_replacement (replacement, NULL, &local_error))
    {
      g_regex_unref (regex);
      g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                   "bad %%replace replacement “%s”: %s", replacement, local_error->message);
      return FALSE;
    }
  rule = g_new0 (BraidFixtureRule, 1);
  rule->regex = regex;
  rule->pattern = g_strdup (pattern);
  rule->replacement = g_strdup (replacement);
  g_ptr_array_add (fixture->rules, rule);
  return TRUE;
}

static BraidFixtureChunk *
new_chunk (BraidFixture *fixture, BraidFixtureDirection direction, gdouble time)
{
  BraidFixtureChunk *chunk = g_new0 (BraidFixtureChunk, 1);

  chunk->direction = direction;
  chunk->has_time = time >= 0;
  chunk->time = time;
  g_ptr_array_add (fixture->chunks, chunk);
  return chunk;
}

void
braid_fixture_add_chunk (BraidFixture *fixture, BraidFixtureDirection direction,
                         gdouble time, const guint8 *data, gsize len)
{
  new_chunk (fixture, direction, time)->data = g_bytes_new (data, len);
}

void
braid_fixture_add_close (BraidFixture *fixture, BraidFixtureDirection direction, gdouble time)
{
  new_chunk (fixture, direction, time)->is_close = TRUE;
}

/* ---- quoting ---- */

gchar *
braid_fixture_quote (const guint8 *data, gsize len)
{
  GString *out = g_string_sized_new (len + 2);

  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      switch (c)
        {
        case '\r': g_string_append (out, "\\r"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '"': g_string_append (out, "\\\""); break;
        default:
          if (c >= 0x20 && c < 0x7f)
            g_string_append_c (out, (gchar) c);
          else
            g_string_append_printf (out, "\\x%02x", c);
        }
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

static gint
hex_value (gchar c)
{
  return g_ascii_xdigit_value (c);
}

/* Parses a quoted string at *p; advances *p past it. */
static gboolean
parse_quoted (const gchar **p, GByteArray *out, const gchar **problem)
{
  const gchar *s = *p;

  if (*s != '"')
    {
      *problem = "expected a quoted string";
      return FALSE;
    }
  for (s++; *s != '"'; s++)
    {
      guint8 c = (guint8) *s;

      if (c == '\0')
        {
          *problem = "unterminated quoted string";
          return FALSE;
        }
      if (c < 0x20 || c == 0x7f)
        {
          *problem = "raw control character in a quoted string (escape it as \\xNN)";
          return FALSE;
        }
      if (c != '\\')
        {
          g_byte_array_append (out, &c, 1);
          continue;
        }
      s++;
      switch (*s)
        {
        case 'r': c = '\r'; break;
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case '0': c = '\0'; break;
        case '\\': c = '\\'; break;
        case '"': c = '"'; break;
        case 'x':
          if (hex_value (s[1]) < 0 || hex_value (s[2]) < 0)
            {
              *problem = "\\x must be followed by two hex digits";
              return FALSE;
            }
          c = (guint8) (hex_value (s[1]) * 16 + hex_value (s[2]));
          s += 2;
          break;
        default:
          *problem = "unknown escape (use \\r \\n \\t \\0 \\\\ \\\" or \\xNN)";
          return FALSE;
        }
      g_byte_array_append (out, &c, 1);
    }
  *p = s + 1;
  return TRUE;
}

static const gchar *
skip_blanks (const gchar *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* ---- parsing ---- */

typedef struct {
  BraidFixture *fixture;
  guint line_no;
  GError **error;
} Parser;

static gboolean
fail (Parser *parser, const gchar *problem)
{
  g_set_error (parser->error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
               "%s:%u: %s", parser->fixture->name, parser->line_no, problem);
  return FALSE;
}

static gboolean
parse_rule (Parser *parser, const gchar *p)
{
  g_autoptr(GByteArray) pattern = g_byte_array_new ();
  g_autoptr(GByteArray) replacement = g_byte_array_new ();
  const gchar *problem = NULL;
  g_autoptr(GError) error = NULL;

  if (g_str_has_prefix (p, "%bind "))
    {
      const gchar *what = skip_blanks (p + strlen ("%bind "));

      if (g_str_equal (what, "cas"))
        parser->fixture->bind = BRAID_FIXTURE_BIND_CAS;
      else if (g_str_equal (what, "none"))
        parser->fixture->bind = BRAID_FIXTURE_BIND_NONE;
      else
        return fail (parser, "unknown %bind (expected %bind cas or %bind none)");
      return TRUE;
    }
  if (!g_str_has_prefix (p, "%replace "))
    return fail (parser, "unknown directive (expected %replace \"REGEX\" \"REPLACEMENT\" or %bind cas|none)");
  p = skip_blanks (p + strlen ("%replace "));
  if (!parse_quoted (&p, pattern, &problem))
    return fail (parser, problem);
  p = skip_blanks (p);
  if (!parse_quoted (&p, replacement, &problem))
    return fail (parser, problem);
  if (*skip_blanks (p) != '\0')
    return fail (parser, "unexpected text after %replace arguments");
  /* GRegex takes C strings: a NUL would silently cut the rule. */
  if (pattern->len > 0 && memchr (pattern->data, '\0', pattern->len) != NULL)
    return fail (parser, "a NUL byte in a %replace pattern (write the regex escape \\\\x00 instead)");
  if (replacement->len > 0 && memchr (replacement->data, '\0', replacement->len) != NULL)
    return fail (parser, "a NUL byte in a %replace replacement is not supported");
  g_byte_array_append (pattern, (const guint8 *) "", 1);
  g_byte_array_append (replacement, (const guint8 *) "", 1);
  if (!braid_fixture_add_rule (parser->fixture, (const gchar *) pattern->data,
                               (const gchar *) replacement->data, &error))
    return fail (parser, error->message);
  return TRUE;
}

static gboolean
parse_chunk (Parser *parser, const gchar *p)
{
  BraidFixtureDirection direction = *p == '>' ? BRAID_FIXTURE_CLIENT_TO_SERVER
                                              : BRAID_FIXTURE_SERVER_TO_CLIENT;
  gdouble time = -1;
  g_autoptr(GByteArray) data = g_byte_array_new ();
  const gchar *problem = NULL;

  p = skip_blanks (p + 1);
  if (*p == '+')
    {
      gchar *end = NULL;

      time = g_ascii_strtod (p + 1, &end);
      if (end == p + 1 || !(time >= 0) || (*end != ' ' && *end != '\t'))
        return fail (parser, "bad timestamp (expected +SECONDS, such as +0.000120)");
      p = skip_blanks (end);
    }
  if (g_str_has_prefix (p, "close") && *skip_blanks (p + 5) == '\0')
    {
      braid_fixture_add_close (parser->fixture, direction, time);
      ((BraidFixtureChunk *) g_ptr_array_index (parser->fixture->chunks,
                                                parser->fixture->chunks->len - 1))->line = parser->line_no;
      return TRUE;
    }
  if (!parse_quoted (&p, data, &problem))
    return fail (parser, problem);
  if (*skip_blanks (p) != '\0')
    return fail (parser, "unexpected text after the quoted data");
  braid_fixture_add_chunk (parser->fixture, direction, time, data->data, data->len);
  ((BraidFixtureChunk *) g_ptr_array_index (parser->fixture->chunks,
                                            parser->fixture->chunks->len - 1))->line = parser->line_no;
  return TRUE;
}

static gboolean
parse_continuation (Parser *parser, const gchar *p)
{
  BraidFixtureChunk *last;
  g_autoptr(GByteArray) data = NULL;
  const gchar *problem = NULL;
  gsize old_len;
  const guint8 *old;

  if (parser->fixture->chunks->len == 0)
    return fail (parser, "continuation line before any chunk");
  last = g_ptr_array_index (parser->fixture->chunks, parser->fixture->chunks->len - 1);
  if (last->is_close)
    return fail (parser, "continuation line after a close");
  old = g_bytes_get_data (last->data, &old_len);
  data = g_byte_array_sized_new ((guint) old_len + 64);
  g_byte_array_append (data, old, (guint) old_len);
  if (!parse_quoted (&p, data, &problem))
    return fail (parser, problem);
  if (*skip_blanks (p) != '\0')
    return fail (parser, "unexpected text after the quoted data");
  g_bytes_unref (last->data);
  last->data = g_byte_array_free_to_bytes (g_steal_pointer (&data));
  return TRUE;
}

static gboolean
parse_line (Parser *parser, const gchar *line, gboolean *seen_magic)
{
  const gchar *p = line;

  if (!*seen_magic)
    {
      g_autofree gchar *first = g_strchomp (g_strdup (line));

      if (*first == '\0')
        return TRUE;
      if (!g_str_equal (first, FIXTURE_MAGIC))
        return fail (parser, "not a braid fixture (the first line must be “" FIXTURE_MAGIC "”)");
      *seen_magic = TRUE;
      return TRUE;
    }
  if (*p == ' ' || *p == '\t')
    {
      p = skip_blanks (p);
      if (*p == '\0')
        return TRUE;
      return parse_continuation (parser, p);
    }
  switch (*p)
    {
    case '\0':
    case '#':
      return TRUE;
    case '@':
      {
        const gchar *space = strchr (p, ' ');

        if (space == NULL || space == p + 1)
          return fail (parser, "header lines are “@key value”");
        for (const gchar *c = p; *c != '\0'; c++)
          if (is_header_control ((guchar) *c))
            return fail (parser, "raw control character in a header line");
        g_ptr_array_add (parser->fixture->headers, g_strdup (p + 1));
        return TRUE;
      }
    case '%':
      return parse_rule (parser, p);
    case '>':
    case '<':
      return parse_chunk (parser, p);
    default:
      return fail (parser, "a line must start with >, <, @, %, # or blanks");
    }
}

BraidFixture *
braid_fixture_parse (const gchar *text, gsize len, const gchar *name, GError **error)
{
  g_autoptr(BraidFixture) fixture = braid_fixture_new (name);
  g_autofree gchar *copy = g_strndup (text, len);
  Parser parser = { fixture, 0, error };
  gboolean seen_magic = FALSE;
  gchar *line = copy;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (memchr (text, '\0', len) != NULL)
    {
      g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                   "%s: contains a NUL byte: fixtures are text", fixture->name);
      return NULL;
    }
  while (line != NULL)
    {
      gchar *nl = strchr (line, '\n');

      if (nl != NULL)
        *nl = '\0';
      parser.line_no++;
      /* "\r\n" ends a line as "\n" does, and so does a "\r" ending the
       * last line. */
      {
        gsize line_len = strlen (line);

        if (line_len > 0 && line[line_len - 1] == '\r')
          line[line_len - 1] = '\0';
      }
      if (!parse_line (&parser, line, &seen_magic))
        return NULL;
      line = nl != NULL ? nl + 1 : NULL;
    }
  if (!seen_magic)
    {
      parser.line_no = 1;
      fail (&parser, "empty file: not a braid fixture");
      return NULL;
    }
  return g_steal_pointer (&fixture);
}

BraidFixture *
braid_fixture_load (const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  gsize len;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents (path, &text, &len, &local_error))
    {
      g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_IO, "%s", local_error->message);
      return NULL;
    }
  return braid_fixture_parse (text, len, path, error);
}

/* ---- writing ---- */

static void
append_data_lines (GString *out, const guint8 *data, gsize len, const gchar *indent)
{
  gsize start = 0;
  gboolean first = TRUE;

  if (len == 0)
    {
      g_string_append (out, "\"\"\n");
      return;
    }
  /* One protocol line per file line keeps diffs readable. */
  while (start < len)
    {
      const guint8 *nl = memchr (data + start, '\n', len - start);
      gsize end = nl != NULL ? (gsize) (nl - data) + 1 : len;
      g_autofree gchar *quoted = NULL;

      end = MIN (end, start + SEGMENT_MAX);
      quoted = braid_fixture_quote (data + start, end - start);
      if (!first)
        g_string_append (out, indent);
      g_string_append (out, quoted);
      g_string_append_c (out, '\n');
      first = FALSE;
      start = end;
    }
}

gchar *
braid_fixture_to_string (BraidFixture *fixture)
{
  GString *out = g_string_new (FIXTURE_MAGIC "\n");

  for (guint i = 0; i < fixture->headers->len; i++)
    g_string_append_printf (out, "@%s\n", (const gchar *) g_ptr_array_index (fixture->headers, i));
  for (guint i = 0; i < fixture->rules->len; i++)
    {
      BraidFixtureRule *rule = g_ptr_array_index (fixture->rules, i);
      g_autofree gchar *p = braid_fixture_quote ((const guint8 *) rule->pattern, strlen (rule->pattern));
      g_autofree gchar *r = braid_fixture_quote ((const guint8 *) rule->replacement, strlen (rule->replacement));

      g_string_append_printf (out, "%%replace %s %s\n", p, r);
    }
  if (fixture->bind != BRAID_FIXTURE_BIND_DEFAULT)
    g_string_append_printf (out, "%%bind %s\n", fixture->bind == BRAID_FIXTURE_BIND_CAS ? "cas" : "none");
  for (guint i = 0; i < fixture->chunks->len; i++)
    {
      BraidFixtureChunk *chunk = g_ptr_array_index (fixture->chunks, i);
      gchar marker = chunk->direction == BRAID_FIXTURE_CLIENT_TO_SERVER ? '>' : '<';
      /* Room for any double in %f: up to 309 digits before the point. */
      gchar time[400] = "";
      g_autofree gchar *indent = NULL;

      if (chunk->has_time)
        g_ascii_formatd (time, sizeof time, "%.6f", chunk->time);
      g_string_append_printf (out, "%c %s%s%s", marker, chunk->has_time ? "+" : "", time,
                              chunk->has_time ? " " : "");
      if (chunk->is_close)
        {
          g_string_append (out, "close\n");
          continue;
        }
      indent = g_strnfill (2 + (chunk->has_time ? strlen (time) + 2 : 0), ' ');
      {
        gsize len;
        const guint8 *data = g_bytes_get_data (chunk->data, &len);

        append_data_lines (out, data, len, indent);
      }
    }
  return g_string_free (out, FALSE);
}

gboolean
braid_fixture_save (BraidFixture *fixture, const gchar *path, GError **error)
{
  g_autofree gchar *text = braid_fixture_to_string (fixture);

  return g_file_set_contents (path, text, -1, error);
}

/* ---- streams and normalisation ---- */

GBytes *
braid_fixture_get_stream (BraidFixture *fixture, BraidFixtureDirection direction)
{
  GByteArray *out = g_byte_array_new ();

  for (guint i = 0; i < fixture->chunks->len; i++)
    {
      BraidFixtureChunk *chunk = g_ptr_array_index (fixture->chunks, i);
      gsize len;
      const guint8 *data;

      if (chunk->direction != direction || chunk->is_close)
        continue;
      data = g_bytes_get_data (chunk->data, &len);
      g_byte_array_append (out, data, (guint) len);
    }
  return g_byte_array_free_to_bytes (out);
}

GBytes *
braid_fixture_normalize (BraidFixture *fixture, const guint8 *data, gsize len)
{
  g_autofree gchar *current = g_malloc (len + 1);
  gsize current_len = len;
  gsize limit = len <= (G_MAXSIZE - NORMALIZE_SLACK) / NORMALIZE_GROWTH
                  ? len * NORMALIZE_GROWTH + NORMALIZE_SLACK : G_MAXSIZE;

  if (len > 0)
    memcpy (current, data, len);
  current[len] = '\0';
  for (guint i = 0; i < fixture->rules->len; i++)
    {
      BraidFixtureRule *rule = g_ptr_array_index (fixture->rules, i);
      GString *out = g_string_sized_new (current_len);
      GMatchInfo *match = NULL;
      gsize pos = 0;

      /* g_regex_replace stops at NUL; walk matches by hand to stay
       * binary-safe. */
      g_regex_match_full (rule->regex, current, (gssize) current_len, 0, G_REGEX_MATCH_NOTEMPTY,
                          &match, NULL);
      while (g_match_info_matches (match))
        {
          gint start, end;
          g_autofree gchar *expanded = g_match_info_expand_references (match, rule->replacement, NULL);

          g_match_info_fetch_pos (match, 0, &start, &end);
          /* The bound: past it, the rest is kept as it is. */
          if (out->len + ((gsize) start - pos) + (expanded != NULL ? strlen (expanded) : 0) +
              (current_len - (gsize) end) > limit)
            break;
          g_string_append_len (out, current + pos, (gssize) ((gsize) start - pos));
          g_string_append (out, expanded != NULL ? expanded : "");
          pos = (gsize) end;
          if (!g_match_info_next (match, NULL))
            break;
        }
      g_match_info_free (match);
      g_string_append_len (out, current + pos, (gssize) (current_len - pos));
      g_free (current);
      current_len = out->len;
      current = g_string_free (out, FALSE);
    }
  return g_bytes_new (current, current_len);
}
