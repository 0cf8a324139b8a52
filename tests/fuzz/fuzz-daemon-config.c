/* braid — fuzz target: the daemons' configuration loader (src/daemon):
 * the strict GKeyFile-style scanner, then both daemons' settings tables
 * reading what it found.  Every refusal is an error naming the file (and
 * for the scanner, the line); nothing crashes, asserts or leaks. */
#include "daemon-config.h"
#include "daemon-settings.h"
#include "memcached-daemon.h"
#include "proxy-daemon.h"

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

static void
read_with (const BraidSettingsTable *table, BraidConfigFile *file)
{
  g_autoptr(GError) error = NULL;
  gpointer settings = braid_settings_read_file (table, file, &error);

  if (settings == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_no_error (error);
  braid_settings_free (table, settings);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  /* the loader reads text: what a file holds up to its first NUL */
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidConfigFile) file = braid_config_file_parse (text, "fuzz.conf", &error);

  if (file == NULL)
    {
      g_assert_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX);
      g_assert_true (g_str_has_prefix (error->message, "fuzz.conf:"));
      return 0;
    }
  g_assert_no_error (error);
  for (guint i = 0; i < braid_config_file_get_n_entries (file); i++)
    g_assert_nonnull (braid_config_file_get_entry (file, i)->group);
  read_with (&braid_memcached_settings_table, file);
  read_with (&braid_proxy_settings_table, file);
  return 0;
}
