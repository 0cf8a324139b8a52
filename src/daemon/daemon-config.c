/* braid — strict configuration files. */
#include "daemon-config.h"

#include <errno.h>
#include <string.h>

G_DEFINE_QUARK (braid-config-error-quark, braid_config_error)

/* Where each group and key was written, for messages. */
typedef struct {
  GHashTable *lines;  /* "group\nkey" (or "group") → line number */
  const gchar *name;
} LineMap;

static gchar *
line_key (const gchar *group, const gchar *key)
{
  return key != NULL ? g_strdup_printf ("%s\n%s", group, key) : g_strdup (group);
}

static guint
line_of (LineMap *map, const gchar *group, const gchar *key)
{
  g_autofree gchar *k = line_key (group, key);

  return GPOINTER_TO_UINT (g_hash_table_lookup (map->lines, k));
}

/* GKeyFile's own errors carry no line numbers: check the syntax first,
 * line by line, and remember where everything is. */
static gboolean
scan_lines (const gchar *text, LineMap *map, GError **error)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree gchar *group = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gchar *line = g_strstrip (lines[i]);
      guint line_no = i + 1;
      gchar *eq;

      if (*line == '\0' || *line == '#')
        continue;
      if (*line == '[')
        {
          gsize len = strlen (line);

          if (len < 3 || line[len - 1] != ']')
            {
              g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX,
                           "%s:%u: a group header must look like [Name]", map->name, line_no);
              return FALSE;
            }
          g_free (group);
          group = g_strndup (line + 1, len - 2);
          g_hash_table_insert (map->lines, g_strdup (group), GUINT_TO_POINTER (line_no));
          continue;
        }
      eq = strchr (line, '=');
      if (eq == NULL || eq == line)
        {
          g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX,
                       "%s:%u: expected “key = value”, “[Group]” or a # comment", map->name, line_no);
          return FALSE;
        }
      if (group == NULL)
        {
          g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX,
                       "%s:%u: key outside of any [Group]", map->name, line_no);
          return FALSE;
        }
      *eq = '\0';
      g_hash_table_insert (map->lines, line_key (group, g_strstrip (line)), GUINT_TO_POINTER (line_no));
    }
  return TRUE;
}

static const BraidConfigOption *
find_option (const BraidConfigOption *options, gsize n, const gchar *group, const gchar *key)
{
  for (gsize i = 0; i < n; i++)
    if (g_str_equal (options[i].group, group) && (key == NULL || g_str_equal (options[i].key, key)))
      return &options[i];
  return NULL;
}

static gboolean
bad_value (LineMap *map, const BraidConfigOption *opt, const gchar *value, const gchar *why, GError **error)
{
  g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_BAD_VALUE,
               "%s:%u: [%s] %s = %s: %s", map->name, line_of (map, opt->group, opt->key),
               opt->group, opt->key, value, why);
  return FALSE;
}

/* Parses one value into @out (a union of the types) without storing it. */
typedef union {
  gchar *s;
  gchar **list;
  gint64 i;
  gboolean b;
  gdouble d;
} Value;

static gboolean
parse_value (GKeyFile *file, LineMap *map, const BraidConfigOption *opt, Value *out, GError **error)
{
  g_autofree gchar *raw = g_key_file_get_value (file, opt->group, opt->key, NULL);
  g_autofree gchar *text = g_strstrip (g_strdup (raw != NULL ? raw : ""));

  switch (opt->type)
    {
    case BRAID_CONFIG_STRING:
      out->s = g_steal_pointer (&text);
      return TRUE;
    case BRAID_CONFIG_STRING_LIST:
      {
        g_auto(GStrv) parts = g_strsplit_set (text, ",;", -1);
        GPtrArray *list = g_ptr_array_new ();

        for (guint i = 0; parts[i] != NULL; i++)
          if (*g_strstrip (parts[i]) != '\0')
            g_ptr_array_add (list, g_strdup (parts[i]));
        g_ptr_array_add (list, NULL);
        out->list = (gchar **) g_ptr_array_free (list, FALSE);
        return TRUE;
      }
    case BRAID_CONFIG_INT:
      {
        gint64 v;
        gchar *end = NULL;

        errno = 0;
        v = g_ascii_strtoll (text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno != 0)
          return bad_value (map, opt, text, "not a whole number", error);
        if (v < opt->min || v > opt->max)
          {
            g_autofree gchar *why = g_strdup_printf ("must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                                                     opt->min, opt->max);
            return bad_value (map, opt, text, why, error);
          }
        out->i = v;
        return TRUE;
      }
    case BRAID_CONFIG_BOOLEAN:
      if (g_ascii_strcasecmp (text, "true") == 0 || g_ascii_strcasecmp (text, "yes") == 0 ||
          g_str_equal (text, "1"))
        out->b = TRUE;
      else if (g_ascii_strcasecmp (text, "false") == 0 || g_ascii_strcasecmp (text, "no") == 0 ||
               g_str_equal (text, "0"))
        out->b = FALSE;
      else
        return bad_value (map, opt, text, "expected true or false", error);
      return TRUE;
    case BRAID_CONFIG_DOUBLE:
      {
        gchar *end = NULL;
        gdouble v = g_ascii_strtod (text, &end);

        if (*text == '\0' || *end != '\0' || !(v >= (gdouble) opt->min && v <= (gdouble) opt->max))
          {
            g_autofree gchar *why = g_strdup_printf ("expected a number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                                                     opt->min, opt->max);
            return bad_value (map, opt, text, why, error);
          }
        out->d = v;
        return TRUE;
      }
    default:
      g_assert_not_reached ();
    }
}

static void
store_value (const BraidConfigOption *opt, Value *v)
{
  switch (opt->type)
    {
    case BRAID_CONFIG_STRING:
      g_free (*(gchar **) opt->value);
      *(gchar **) opt->value = g_steal_pointer (&v->s);
      break;
    case BRAID_CONFIG_STRING_LIST:
      g_strfreev (*(gchar ***) opt->value);
      *(gchar ***) opt->value = g_steal_pointer (&v->list);
      break;
    case BRAID_CONFIG_INT:
      *(gint64 *) opt->value = v->i;
      break;
    case BRAID_CONFIG_BOOLEAN:
      *(gboolean *) opt->value = v->b;
      break;
    case BRAID_CONFIG_DOUBLE:
      *(gdouble *) opt->value = v->d;
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
value_clear (const BraidConfigOption *opt, Value *v)
{
  if (opt->type == BRAID_CONFIG_STRING)
    g_free (v->s);
  else if (opt->type == BRAID_CONFIG_STRING_LIST)
    g_strfreev (v->list);
}

gboolean
braid_config_load_data (const gchar *text,
                        const gchar *name,
                        const BraidConfigOption *options,
                        gsize n_options,
                        GError **error)
{
  LineMap map = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), name };
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) groups = NULL;
  g_autofree Value *values = g_new0 (Value, n_options);
  g_autofree gboolean *present = g_new0 (gboolean, n_options);
  gboolean ok = FALSE;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!scan_lines (text, &map, error))
    goto out;
  if (!g_key_file_load_from_data (file, text, (gsize) -1, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX, "%s: %s", name, local_error->message);
      goto out;
    }

  groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (file, groups[g], NULL, NULL);

      if (find_option (options, n_options, groups[g], NULL) == NULL)
        {
          g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s:%u: unknown group [%s]", name, line_of (&map, groups[g], NULL), groups[g]);
          goto out;
        }
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        if (find_option (options, n_options, groups[g], keys[k]) == NULL)
          {
            g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_UNKNOWN_KEY,
                         "%s:%u: unknown key “%s” in [%s]", name, line_of (&map, groups[g], keys[k]),
                         keys[k], groups[g]);
            goto out;
          }
    }

  /* Parse everything first: a bad value anywhere leaves nothing half set. */
  for (gsize i = 0; i < n_options; i++)
    {
      if (!g_key_file_has_key (file, options[i].group, options[i].key, NULL))
        continue;
      if (!parse_value (file, &map, &options[i], &values[i], error))
        goto out;
      present[i] = TRUE;
    }
  for (gsize i = 0; i < n_options; i++)
    if (present[i] && !(options[i].set_by_command_line != NULL && *options[i].set_by_command_line))
      {
        store_value (&options[i], &values[i]);
        present[i] = FALSE;
      }
  ok = TRUE;

out:
  for (gsize i = 0; i < n_options; i++)
    if (present[i])
      value_clear (&options[i], &values[i]);
  g_hash_table_unref (map.lines);
  return ok;
}

gboolean
braid_config_load (const gchar *path,
                   const BraidConfigOption *options,
                   gsize n_options,
                   GError **error)
{
  g_autofree gchar *text = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local_error))
    {
      g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  return braid_config_load_data (text, path, options, n_options, error);
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
