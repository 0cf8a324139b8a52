/* braid — strict configuration files. */
#include "daemon-config.h"

#include <string.h>

G_DEFINE_QUARK (braid-config-error-quark, braid_config_error)

#define UTF8_BOM "\xEF\xBB\xBF"

typedef struct {
  gchar *group;  /* (owned) */
  gchar *key;    /* (owned) (nullable) */
  gchar *value;  /* (owned) (nullable) */
  guint line;
} Entry;

struct _BraidConfigFile
{
  gchar *name;
  GArray *entries;  /* (element-type Entry) */
};

static void
entry_clear (gpointer data)
{
  Entry *e = data;

  g_free (e->group);
  g_free (e->key);
  g_free (e->value);
}

void
braid_config_file_free (BraidConfigFile *file)
{
  if (file == NULL)
    return;
  g_array_unref (file->entries);
  g_free (file->name);
  g_free (file);
}

const gchar *
braid_config_file_get_name (BraidConfigFile *file)
{
  return file->name;
}

guint
braid_config_file_get_n_entries (BraidConfigFile *file)
{
  return file->entries->len;
}

const BraidConfigEntry *
braid_config_file_get_entry (BraidConfigFile *file, guint index)
{
  g_return_val_if_fail (index < file->entries->len, NULL);
  /* Entry and BraidConfigEntry have the same layout. */
  G_STATIC_ASSERT (sizeof (Entry) == sizeof (BraidConfigEntry));
  return (const BraidConfigEntry *) &g_array_index (file->entries, Entry, index);
}

static gboolean
syntax_error (GError **error, const gchar *name, guint line, const gchar *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
syntax_error (GError **error, const gchar *name, guint line, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *why = NULL;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX, "%s:%u: %s", name, line, why);
  return FALSE;
}

static const Entry *
find_entry (BraidConfigFile *file, const gchar *group, const gchar *key)
{
  for (guint i = 0; i < file->entries->len; i++)
    {
      const Entry *e = &g_array_index (file->entries, Entry, i);

      if (g_str_equal (e->group, group) && g_strcmp0 (e->key, key) == 0)
        return e;
    }
  return NULL;
}

static gboolean
is_group_name (const gchar *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (*s == '[' || *s == ']' || g_ascii_iscntrl (*s))
      return FALSE;
  return TRUE;
}

static gboolean
is_key_name (const gchar *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && *s != '-' && *s != '_')
      return FALSE;
  return TRUE;
}

static gboolean
add_line (BraidConfigFile *file, gchar *line, guint line_no, gchar **group, GError **error)
{
  const Entry *seen;
  Entry e = { 0 };
  gchar *eq;

  if (*line == '\0' || *line == '#')
    return TRUE;
  if (*line == '[')
    {
      gsize len = strlen (line);

      if (len < 3 || line[len - 1] != ']')
        return syntax_error (error, file->name, line_no, "a group header must look like [Name]");
      line[len - 1] = '\0';
      if (!is_group_name (line + 1))
        return syntax_error (error, file->name, line_no,
                             "a group header must look like [Name], without brackets or control characters in the name");
      if ((seen = find_entry (file, line + 1, NULL)) != NULL)
        return syntax_error (error, file->name, line_no, "group [%s] already appeared at line %u",
                             line + 1, seen->line);
      g_free (*group);
      *group = g_strdup (line + 1);
      e.group = g_strdup (*group);
      e.line = line_no;
      g_array_append_val (file->entries, e);
      return TRUE;
    }
  eq = strchr (line, '=');
  if (eq == NULL || eq == line)
    return syntax_error (error, file->name, line_no, "expected “key = value”, “[Group]” or a # comment");
  *eq = '\0';
  g_strstrip (line);
  if (strchr (line, '[') != NULL)
    return syntax_error (error, file->name, line_no, "localised keys such as “%s” are not supported", line);
  if (!is_key_name (line))
    return syntax_error (error, file->name, line_no, "“%s” is not a key name (letters, digits, - and _)", line);
  if (*group == NULL)
    return syntax_error (error, file->name, line_no, "key outside of any [Group]");
  if ((seen = find_entry (file, *group, line)) != NULL)
    return syntax_error (error, file->name, line_no, "key “%s” in [%s] already set at line %u",
                         line, *group, seen->line);
  e.group = g_strdup (*group);
  e.key = g_strdup (line);
  e.value = g_strstrip (g_strdup (eq + 1));
  e.line = line_no;
  g_array_append_val (file->entries, e);
  return TRUE;
}

BraidConfigFile *
braid_config_file_parse (const gchar *text, const gchar *name, GError **error)
{
  g_autoptr(BraidConfigFile) file = g_new0 (BraidConfigFile, 1);
  g_autofree gchar *group = NULL;
  g_auto(GStrv) lines = NULL;

  g_return_val_if_fail (text != NULL && name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  file->name = g_strdup (name);
  file->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_array_set_clear_func (file->entries, entry_clear);
  if (g_str_has_prefix (text, UTF8_BOM))
    text += strlen (UTF8_BOM);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (!g_utf8_validate (lines[i], -1, NULL))
        {
          syntax_error (error, name, i + 1, "not valid UTF-8");
          return NULL;
        }
      if (!add_line (file, g_strstrip (lines[i]), i + 1, &group, error))
        return NULL;
    }
  return g_steal_pointer (&file);
}

BraidConfigFile *
braid_config_file_load (const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length;

  if (!g_file_get_contents (path, &text, &length, &local_error))
    {
      g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_IO, "%s", local_error->message);
      return NULL;
    }
  if (memchr (text, '\0', length) != NULL)
    {
      g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX, "%s: contains a NUL byte", path);
      return NULL;
    }
  return braid_config_file_parse (text, path, error);
}

gchar *
braid_config_find_default (const gchar *name)
{
  g_autofree gchar *file = g_strdup_printf ("%s.conf", name);
  const gchar *dirs[] = { BRAID_SYSCONFDIR, BRAID_DATADIR };

  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree gchar *path = g_build_filename (dirs[i], "braid", file, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

gchar *
braid_config_scan_argv (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        break;
      if (g_str_equal (argv[i], "--config") && i + 1 < argc)
        return g_strdup (argv[i + 1]);
      if (g_str_has_prefix (argv[i], "--config="))
        return g_strdup (argv[i] + strlen ("--config="));
    }
  return NULL;
}
