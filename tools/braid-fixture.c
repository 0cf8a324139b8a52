/* braid-fixture — check fixtures, and import tshark captures.
 *
 *   braid-fixture check FILE...
 *   braid-fixture import-tshark FOLLOW.txt OUT.fixture [--memcached-rules]
 *       where FOLLOW.txt is the output of
 *       tshark -r capture.pcap -q -z follow,tcp,raw,0 */
#include "fixture.h"
#include "tshark-import.h"

#include <string.h>

static int
check (int argc, char **argv)
{
  int status = 0;

  if (argc < 1)
    {
      g_printerr ("usage: braid-fixture check FILE...\n");
      return 2;
    }
  for (int i = 0; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidFixture) fixture = braid_fixture_load (argv[i], &error);

      if (fixture == NULL)
        {
          g_printerr ("%s\n", error->message);
          status = 1;
          continue;
        }
      g_print ("%s: %u chunks, %u rules\n", argv[i], fixture->chunks->len, fixture->rules->len);
    }
  return status;
}

static int
import_tshark (int argc, char **argv)
{
  g_autofree gchar *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidFixture) fixture = NULL;

  if (argc < 2)
    {
      g_printerr ("usage: braid-fixture import-tshark FOLLOW.txt OUT.fixture [--memcached-rules]\n");
      return 2;
    }
  if (!g_file_get_contents (argv[0], &text, NULL, &error))
    goto fail;
  fixture = braid_fixture_from_tshark_follow (text, argv[0], &error);
  if (fixture == NULL)
    goto fail;
  if (argc > 2 && g_str_equal (argv[2], "--memcached-rules") &&
      !(braid_fixture_add_rule (fixture, "^(VALUE \\S+ \\d+ \\d+) \\d+\\r$", "\\1 <cas>\\r", &error) &&
        braid_fixture_add_rule (fixture, "^STAT (\\S+) .*\\r$", "STAT \\1 <value>\\r", &error) &&
        braid_fixture_add_rule (fixture, "^VERSION .*\\r$", "VERSION <version>\\r", &error)))
    goto fail;
  if (!braid_fixture_save (fixture, argv[1], &error))
    goto fail;
  g_printerr ("braid-fixture: wrote %s (%u chunks)\n", argv[1], fixture->chunks->len);
  return 0;

fail:
  g_printerr ("braid-fixture: %s\n", error->message);
  return 1;
}

int
main (int argc, char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "check"))
    return check (argc - 2, argv + 2);
  if (argc >= 2 && g_str_equal (argv[1], "import-tshark"))
    return import_tshark (argc - 2, argv + 2);
  if (argc >= 2 && g_str_equal (argv[1], "--version"))
    {
      g_print ("braid-fixture %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
    {
      g_print ("usage: braid-fixture check FILE...\n"
               "       braid-fixture import-tshark FOLLOW.txt OUT.fixture [--memcached-rules]\n");
      return 0;
    }
  g_printerr ("usage: braid-fixture check FILE... | import-tshark FOLLOW.txt OUT.fixture\n");
  return 2;
}
