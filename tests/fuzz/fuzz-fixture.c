/* braid — fuzz target: the fixture parser (tools/harness/fixture.h).
 *
 * Whatever parses must write out as text that parses again to the same
 * text, and its %replace rules must normalise its server bytes in bounded
 * time and space. */
#include "fixture.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = braid_fixture_parse ((const gchar *) data, size, "fuzz", &error);
  g_autoptr(BraidFixture) again = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *text2 = NULL;
  g_autoptr(GBytes) stream = NULL;
  g_autoptr(GBytes) normal = NULL;
  gsize len;
  const guint8 *bytes;

  if (fixture == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, "fuzz"));
      return 0;
    }
  g_assert_no_error (error);
  text = braid_fixture_to_string (fixture);
  again = braid_fixture_parse (text, strlen (text), "written", &error);
  if (again == NULL)
    g_error ("a parsed fixture wrote text that does not read back: %s\n%s", error->message, text);
  text2 = braid_fixture_to_string (again);
  if (strcmp (text, text2) != 0)
    g_error ("a fixture changed when written and read back:\n%s\nthen\n%s", text, text2);

  stream = braid_fixture_get_stream (fixture, BRAID_FIXTURE_SERVER_TO_CLIENT);
  bytes = g_bytes_get_data (stream, &len);
  normal = braid_fixture_normalize (fixture, bytes, len);
  g_assert_cmpuint (g_bytes_get_size (normal), <=, len * 8 + 64 * 1024);
  return 0;
}
