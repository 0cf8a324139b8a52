/* braid — a daemon's settings from one table: defaults, file, command line. */
#include "daemon-settings.h"
#include "endpoint.h"

#include <errno.h>
#include <string.h>

#define COMMON(field) G_STRUCT_OFFSET (BraidDaemonCommonSettings, field)

static gboolean
check_listen_endpoint (const gchar *value, gchar **why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidEndpoint) endpoint = braid_endpoint_parse (value, BRAID_ENDPOINT_ROLE_SERVER, &error);

  if (endpoint == NULL)
    *why = g_strdup (error->message);
  return endpoint != NULL;
}

static const BraidSettingSpec common_specs[] = {
  { "config", 0, NULL, NULL, BRAID_SETTING_STRING, COMMON (config_path), 0, 0, NULL, NULL, NULL,
    "Configuration file (default /etc/braid/NAME.conf)", "FILE" },
  { "listen", 0, "Server", "Listen", BRAID_SETTING_STRING_LIST, COMMON (listen), 0, 0, NULL, NULL,
    check_listen_endpoint,
    "Endpoint to listen on, repeatable: tcp:PORT, tcp:PORT:interface=ADDR, "
    "tls:PORT:certificate=FILE[:key=FILE], unix:PATH, systemd:N", "ENDPOINT" },
  { "verbose", 'v', "Logging", "Verbosity", BRAID_SETTING_COUNT, COMMON (verbosity), 0, 3, "0", "1", NULL,
    "More log output (-v info, -vv debug; at most 3)", NULL },
  { "grace-period", 0, "Server", "GracePeriodSeconds", BRAID_SETTING_DOUBLE, COMMON (grace_s), 0, 3600, "10",
    NULL, NULL, "Seconds requests in flight may take after SIGTERM (0 to 3600, default 10)", "S" },
  { "version", 'V', NULL, NULL, BRAID_SETTING_BOOLEAN, COMMON (version), 0, 0, "false", "true", NULL,
    "Show the version and exit", NULL },
};

const BraidSettingSpec *
braid_settings_get_common_specs (gsize *n_specs)
{
  *n_specs = G_N_ELEMENTS (common_specs);
  return common_specs;
}

/* ---- one value ---- */

typedef union {
  gint64 i;
  gdouble d;
  gboolean b;
  gchar *s;
} Value;

static gpointer
field (gpointer settings, const BraidSettingSpec *spec)
{
  return (guint8 *) settings + spec->offset;
}

static gchar *
range_text (const BraidSettingSpec *spec)
{
  return g_strdup_printf ("must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT "%s",
                          spec->min, spec->max, spec->type == BRAID_SETTING_SIZE ? " bytes" : "");
}

static gboolean
parse_whole (const gchar *text, gint64 *out, const gchar **rest)
{
  gchar *end = NULL;

  errno = 0;
  *out = g_ascii_strtoll (text, &end, 10);
  *rest = end;
  return end != text && errno == 0 && g_ascii_isdigit (*text);
}

static gboolean
parse_size (const gchar *text, gint64 *out)
{
  const gchar *rest;
  gint64 unit = 1;

  if (!parse_whole (text, out, &rest))
    return FALSE;
  if (*rest == 'k' || *rest == 'K')
    unit = 1024, rest++;
  else if (*rest == 'm' || *rest == 'M')
    unit = 1024 * 1024, rest++;
  if (*rest != '\0' || *out > G_MAXINT64 / unit)
    return FALSE;
  *out *= unit;
  return TRUE;
}

/* Parses @text (not a list) for @spec; on failure @why says why. */
static gboolean
parse_one (const BraidSettingSpec *spec, const gchar *text, Value *out, gchar **why)
{
  const gchar *rest;

  switch (spec->type)
    {
    case BRAID_SETTING_INT:
    case BRAID_SETTING_COUNT:
      if (!parse_whole (*text == '-' ? text + 1 : text, &out->i, &rest) || *rest != '\0')
        {
          *why = g_strdup ("not a whole number");
          return FALSE;
        }
      if (*text == '-')
        out->i = -out->i;
      break;
    case BRAID_SETTING_SIZE:
      if (!parse_size (text, &out->i))
        {
          *why = g_strdup ("not a size such as 1m, 512k or 2097152");
          return FALSE;
        }
      break;
    case BRAID_SETTING_DOUBLE:
      {
        gchar *end = NULL;

        out->d = g_ascii_strtod (text, &end);
        if (*text == '\0' || *end != '\0' || !(out->d >= (gdouble) spec->min && out->d <= (gdouble) spec->max))
          {
            *why = g_strdup_printf ("expected a number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                                    spec->min, spec->max);
            return FALSE;
          }
        break;
      }
    case BRAID_SETTING_BOOLEAN:
      if (g_ascii_strcasecmp (text, "true") == 0 || g_ascii_strcasecmp (text, "yes") == 0 || g_str_equal (text, "1"))
        out->b = TRUE;
      else if (g_ascii_strcasecmp (text, "false") == 0 || g_ascii_strcasecmp (text, "no") == 0 || g_str_equal (text, "0"))
        out->b = FALSE;
      else
        {
          *why = g_strdup ("expected true or false");
          return FALSE;
        }
      break;
    case BRAID_SETTING_STRING:
    case BRAID_SETTING_STRING_LIST:
      out->s = g_strdup (text);
      break;
    default:
      g_assert_not_reached ();
    }
  if ((spec->type == BRAID_SETTING_INT || spec->type == BRAID_SETTING_SIZE || spec->type == BRAID_SETTING_COUNT) &&
      (out->i < spec->min || out->i > spec->max))
    {
      *why = range_text (spec);
      return FALSE;
    }
  if (spec->check != NULL && !spec->check (text, why))
    {
      if (spec->type == BRAID_SETTING_STRING || spec->type == BRAID_SETTING_STRING_LIST)
        g_free (out->s);
      return FALSE;
    }
  return TRUE;
}

static void
store_one (const BraidSettingSpec *spec, gpointer settings, Value *v)
{
  gpointer p = field (settings, spec);

  switch (spec->type)
    {
    case BRAID_SETTING_INT:
    case BRAID_SETTING_SIZE:
    case BRAID_SETTING_COUNT:
      *(gint64 *) p = v->i;
      break;
    case BRAID_SETTING_DOUBLE:
      *(gdouble *) p = v->d;
      break;
    case BRAID_SETTING_BOOLEAN:
      *(gboolean *) p = v->b;
      break;
    case BRAID_SETTING_STRING:
      g_free (*(gchar **) p);
      *(gchar **) p = v->s;
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Appends @item to the list setting (which takes it). */
static void
append_item (const BraidSettingSpec *spec, gpointer settings, gchar *item)
{
  gchar ***list = field (settings, spec);
  guint n = *list != NULL ? g_strv_length (*list) : 0;

  *list = g_renew (gchar *, *list, n + 2);
  (*list)[n] = item;
  (*list)[n + 1] = NULL;
}

static void
clear_list (const BraidSettingSpec *spec, gpointer settings)
{
  g_clear_pointer ((gchar ***) field (settings, spec), g_strfreev);
}

/* Sets @spec from the text @value (a list is split at , and ;): the one
 * path for defaults and the file. */
static gboolean
set_from_text (const BraidSettingSpec *spec, gpointer settings, const gchar *value, gchar **why)
{
  Value v;

  if (spec->type != BRAID_SETTING_STRING_LIST)
    {
      if (!parse_one (spec, value, &v, why))
        return FALSE;
      store_one (spec, settings, &v);
      return TRUE;
    }
  {
    g_auto(GStrv) parts = g_strsplit_set (value, ",;", -1);

    clear_list (spec, settings);
    for (guint i = 0; parts[i] != NULL; i++)
      {
        if (*g_strstrip (parts[i]) == '\0')
          continue;
        if (!parse_one (spec, parts[i], &v, why))
          return FALSE;
        append_item (spec, settings, v.s);
      }
    return TRUE;
  }
}

/* ---- the table ---- */

typedef struct {
  const BraidSettingsTable *table;
  gpointer settings;
  GPtrArray *specs;          /* (element-type BraidSettingSpec) (unowned) */
  GHashTable *from_command_line;  /* set of specs */
} Reader;

static void
reader_init (Reader *r, const BraidSettingsTable *table)
{
  gsize n_common;
  const BraidSettingSpec *common = braid_settings_get_common_specs (&n_common);

  r->table = table;
  r->settings = g_malloc0 (table->settings_size);
  r->specs = g_ptr_array_new ();
  r->from_command_line = g_hash_table_new (NULL, NULL);
  for (gsize i = 0; i < n_common; i++)
    g_ptr_array_add (r->specs, (gpointer) &common[i]);
  for (gsize i = 0; i < table->n_specs; i++)
    g_ptr_array_add (r->specs, (gpointer) &table->specs[i]);
}

static gpointer
reader_finish (Reader *r, gboolean ok)
{
  gpointer settings = g_steal_pointer (&r->settings);

  g_ptr_array_unref (r->specs);
  g_hash_table_unref (r->from_command_line);
  if (!ok)
    {
      braid_settings_free (r->table, settings);
      return NULL;
    }
  return settings;
}

#define READER_SPEC(r, i) ((const BraidSettingSpec *) g_ptr_array_index ((r)->specs, (i)))

static void
apply_defaults (Reader *r)
{
  for (guint i = 0; i < r->specs->len; i++)
    {
      g_autofree gchar *why = NULL;

      if (READER_SPEC (r, i)->default_value != NULL &&
          !set_from_text (READER_SPEC (r, i), r->settings, READER_SPEC (r, i)->default_value, &why))
        g_error ("bad default for %s: %s", READER_SPEC (r, i)->key, why);
    }
}

static const BraidSettingSpec *
find_in_file (Reader *r, const gchar *group, const gchar *key)
{
  for (guint i = 0; i < r->specs->len; i++)
    if (g_strcmp0 (READER_SPEC (r, i)->group, group) == 0 &&
        (key == NULL || g_strcmp0 (READER_SPEC (r, i)->key, key) == 0))
      return READER_SPEC (r, i);
  return NULL;
}

static gboolean
apply_file (Reader *r, BraidConfigFile *file, GError **error)
{
  const gchar *name = braid_config_file_get_name (file);

  for (guint i = 0; i < braid_config_file_get_n_entries (file); i++)
    {
      const BraidConfigEntry *e = braid_config_file_get_entry (file, i);
      const BraidSettingSpec *spec = find_in_file (r, e->group, e->key);
      g_autofree gchar *why = NULL;

      if (spec == NULL && e->key == NULL)
        {
          g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s:%u: unknown group [%s]", name, e->line, e->group);
          return FALSE;
        }
      if (spec == NULL)
        {
          g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s:%u: unknown key “%s” in [%s]", name, e->line, e->key, e->group);
          return FALSE;
        }
      if (e->key != NULL && !set_from_text (spec, r->settings, e->value, &why))
        {
          g_set_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_BAD_VALUE,
                       "%s:%u: [%s] %s = %s: %s", name, e->line, e->group, e->key, e->value, why);
          return FALSE;
        }
    }
  return TRUE;
}

static gchar
short_name (Reader *r, const BraidSettingSpec *spec)
{
  return g_strcmp0 (spec->long_name, "listen") == 0 ? r->table->listen_short_name : spec->short_name;
}

static gchar *
flag_names (Reader *r, const BraidSettingSpec *spec)
{
  gchar s = short_name (r, spec);

  return s != 0 ? g_strdup_printf ("--%s (-%c)", spec->long_name, s) : g_strdup_printf ("--%s", spec->long_name);
}

static gboolean
on_option (const gchar *option_name, const gchar *value, gpointer data, GError **error)
{
  Reader *r = data;
  const BraidSettingSpec *spec = NULL;
  gboolean first = FALSE;
  g_autofree gchar *why = NULL;
  Value v;

  for (guint i = 0; i < r->specs->len && spec == NULL; i++)
    {
      const BraidSettingSpec *s = READER_SPEC (r, i);

      if (s->long_name == NULL)
        continue;
      if ((g_str_has_prefix (option_name, "--") && g_str_equal (option_name + 2, s->long_name)) ||
          (option_name[0] == '-' && option_name[1] == short_name (r, s) && option_name[2] == '\0'))
        spec = s;
    }
  g_assert (spec != NULL);
  first = g_hash_table_add (r->from_command_line, (gpointer) spec);

  if (spec->type == BRAID_SETTING_COUNT)
    {
      /* The command line replaces the file's value, then counts. */
      gint64 *count = field (r->settings, spec);
      g_autofree gchar *text = g_strdup_printf ("%" G_GINT64_FORMAT, (first ? 0 : *count) + 1);

      if (!parse_one (spec, text, &v, &why))
        goto bad;
      store_one (spec, r->settings, &v);
      return TRUE;
    }
  if (value == NULL)
    value = spec->flag_value;
  if (!parse_one (spec, value, &v, &why))
    goto bad;
  if (spec->type != BRAID_SETTING_STRING_LIST)
    store_one (spec, r->settings, &v);
  else
    {
      if (first)
        clear_list (spec, r->settings);
      append_item (spec, r->settings, v.s);
    }
  return TRUE;

bad:
  {
    g_autofree gchar *names = flag_names (r, spec);

    if (spec->type == BRAID_SETTING_COUNT)
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s given too often: %s", names, why);
    else
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s %s: %s", names, value, why);
    return FALSE;
  }
}

static gboolean
apply_command_line (Reader *r, gchar **argv, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (r->table->parameter_string);
  GOptionGroup *group = g_option_group_new (r->table->name, r->table->name, "Show options", r, NULL);
  g_autoptr(GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  g_auto(GStrv) args = g_strdupv (argv);

  for (guint i = 0; i < r->specs->len; i++)
    {
      const BraidSettingSpec *spec = READER_SPEC (r, i);
      GOptionEntry entry = { spec->long_name, short_name (r, spec), 0, G_OPTION_ARG_CALLBACK,
                             (gpointer) on_option, spec->description, spec->arg_description };

      if (spec->long_name == NULL)
        continue;
      if (spec->flag_value != NULL)
        entry.flags = G_OPTION_FLAG_NO_ARG;
      g_array_append_val (entries, entry);
    }
  g_option_group_add_entries (group, (const GOptionEntry *) (gpointer) entries->data);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context, r->table->summary);
  if (!g_option_context_parse_strv (context, &args, error))
    return FALSE;
  if (args[0] != NULL && args[1] != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "Unexpected argument “%s”", args[1]);
      return FALSE;
    }
  return TRUE;
}

gpointer
braid_settings_read_file (const BraidSettingsTable *table, BraidConfigFile *file, GError **error)
{
  Reader r;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  reader_init (&r, table);
  apply_defaults (&r);
  return reader_finish (&r, apply_file (&r, file, error));
}

gpointer
braid_settings_read (const BraidSettingsTable *table, gchar **argv, GError **error)
{
  g_autofree gchar *explicit_config = braid_config_scan_argv ((int) g_strv_length (argv), argv);
  g_autofree gchar *path = explicit_config != NULL ? g_strdup (explicit_config)
                                                   : braid_config_find_default (table->name);
  g_autoptr(BraidConfigFile) file = NULL;
  Reader r;
  gboolean ok;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  reader_init (&r, table);
  apply_defaults (&r);
  ok = (path == NULL || ((file = braid_config_file_load (path, error)) != NULL && apply_file (&r, file, error))) &&
       apply_command_line (&r, argv, error) &&
       (table->validate == NULL || table->validate (r.settings, error));
  return reader_finish (&r, ok);
}

void
braid_settings_free (const BraidSettingsTable *table, gpointer settings)
{
  gsize n_common;
  const BraidSettingSpec *common = braid_settings_get_common_specs (&n_common);

  if (settings == NULL)
    return;
  for (gsize i = 0; i < n_common + table->n_specs; i++)
    {
      const BraidSettingSpec *spec = i < n_common ? &common[i] : &table->specs[i - n_common];

      if (spec->type == BRAID_SETTING_STRING)
        g_clear_pointer ((gchar **) field (settings, spec), g_free);
      else if (spec->type == BRAID_SETTING_STRING_LIST)
        clear_list (spec, settings);
    }
  g_free (settings);
}
