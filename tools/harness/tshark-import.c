/* braid — importing fixtures from tshark's "Follow TCP Stream" output.
 *
 * `tshark -r capture.pcap -q -z follow,tcp,raw,N` prints a stream as hex
 * lines: node 0's unindented, node 1's indented by a tab. */
#include "tshark-import.h"

#include <string.h>

static gboolean
decode_hex_line (const gchar *hex, GByteArray *out)
{
  gsize n = strlen (hex);

  if (n % 2 != 0)
    return FALSE;
  for (gsize i = 0; i < n; i += 2)
    {
      gint hi = g_ascii_xdigit_value (hex[i]), lo = g_ascii_xdigit_value (hex[i + 1]);
      guint8 c;

      if (hi < 0 || lo < 0)
        return FALSE;
      c = (guint8) (hi * 16 + lo);
      g_byte_array_append (out, &c, 1);
    }
  return TRUE;
}

BraidFixture *
braid_fixture_from_tshark_follow (const gchar *text, const gchar *name, GError **error)
{
  g_autoptr(BraidFixture) fixture = braid_fixture_new (name);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in_body = FALSE, seen_header = FALSE;
  guint line_no = 0;

  for (gchar **l = lines; *l != NULL; l++)
    {
      gchar *line = *l;
      gboolean server = line[0] == '\t';
      g_autoptr(GByteArray) data = NULL;

      line_no++;
      g_strchomp (line);
      if (g_str_has_prefix (line, "====="))
        {
          if (in_body)
            break;  /* the closing rule */
          continue;
        }
      if (g_str_has_prefix (line, "Follow: "))
        {
          if (!g_str_has_prefix (line, "Follow: tcp,raw"))
            {
              g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                           "%s:%u: expected “Follow: tcp,raw” (run tshark -q -z follow,tcp,raw,N)",
                           fixture->name, line_no);
              return NULL;
            }
          seen_header = TRUE;
          continue;
        }
      if (g_str_has_prefix (line, "Filter: "))
        continue;
      if (g_str_has_prefix (line, "Node 0: ") || g_str_has_prefix (line, "Node 1: "))
        {
          braid_fixture_add_header (fixture, line[5] == '0' ? "client" : "server", line + 8);
          in_body = TRUE;
          continue;
        }
      if (!in_body || *g_strstrip (line) == '\0')
        continue;
      data = g_byte_array_new ();
      if (!decode_hex_line (g_strstrip (line), data))
        {
          g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                       "%s:%u: not a hex line: “%s”", fixture->name, line_no, line);
          return NULL;
        }
      braid_fixture_add_chunk (fixture, server ? BRAID_FIXTURE_SERVER_TO_CLIENT
                                               : BRAID_FIXTURE_CLIENT_TO_SERVER,
                               -1, data->data, data->len);
    }
  if (!seen_header || !in_body)
    {
      g_set_error (error, BRAID_FIXTURE_ERROR, BRAID_FIXTURE_ERROR_PARSE,
                   "%s: no “Follow: tcp,raw” stream found", fixture->name);
      return NULL;
    }
  braid_fixture_add_header (fixture, "imported-from", "tshark -z follow,tcp,raw");
  return g_steal_pointer (&fixture);
}
