/* braid — a daemon's settings, described once.
 *
 * Each setting is one row of a table: its command-line flag(s), its
 * configuration-file group and key, its type, range and default.  Both
 * sources go through the same parser and the same range check, so a value
 * is accepted or refused the same way wherever it comes from:
 *
 *   defaults → configuration file → command line (which wins)
 *
 * A bad file is a BRAID_CONFIG_ERROR whose message starts "FILE:LINE: ";
 * a bad command line is a G_OPTION_ERROR naming the option and its range. */
#pragma once

#include <glib.h>
#include "daemon-config.h"

G_BEGIN_DECLS

typedef enum {
  BRAID_SETTING_INT,          /* gint64 within [min, max] */
  BRAID_SETTING_SIZE,         /* gint64 bytes within [min, max]: 2097152, 512k or 1m */
  BRAID_SETTING_DOUBLE,       /* gdouble within [min, max] */
  BRAID_SETTING_BOOLEAN,      /* gboolean: true/false/yes/no/1/0 */
  BRAID_SETTING_STRING,       /* gchar * */
  BRAID_SETTING_STRING_LIST,  /* gchar **: "a,b;c" in the file; the flag repeats */
  BRAID_SETTING_COUNT,        /* gint64 within [min, max]: each flag adds one (-vv) */
} BraidSettingType;

/* Extra check of one value (one item of a list): FALSE with @why set to
 * a reason (transfer full). */
typedef gboolean (*BraidSettingCheckFunc) (const gchar *value, gchar **why);

typedef struct {
  const gchar *long_name;        /* (nullable): no command-line flag */
  gchar short_name;              /* 0 for none */
  const gchar *group;            /* (nullable): not in the file */
  const gchar *key;
  BraidSettingType type;
  gsize offset;                  /* of the value in the settings struct */
  gint64 min, max;               /* for INT, SIZE, DOUBLE and COUNT */
  const gchar *default_value;    /* (nullable): as it would be written in the file */
  const gchar *flag_value;       /* (nullable): the flag takes no argument and sets this */
  BraidSettingCheckFunc check;   /* (nullable) */
  const gchar *description;
  const gchar *arg_description;  /* (nullable) */
} BraidSettingSpec;

/* What every daemon has; the first member of each daemon's settings. */
typedef struct {
  gchar *config_path;      /* --config */
  gchar **listen;          /* --listen, [Server] Listen */
  gint64 verbosity;        /* -v, [Logging] Verbosity */
  gdouble grace_s;         /* --grace-period, [Server] GracePeriodSeconds */
  gboolean version;        /* --version */
} BraidDaemonCommonSettings;

typedef struct {
  const gchar *name;               /* program, log prefix and NAME.conf */
  const gchar *parameter_string;   /* after "Usage: name [OPTION…]" */
  const gchar *summary;
  gchar listen_short_name;         /* 0: --listen has no short form */
  const BraidSettingSpec *specs;   /* the daemon's own settings */
  gsize n_specs;
  gsize settings_size;             /* begins with BraidDaemonCommonSettings */
  /* Checks across settings once both sources are read (nullable); errors
   * in G_OPTION_ERROR. */
  gboolean (*validate) (gconstpointer settings, GError **error);
} BraidSettingsTable;

/* The settings every daemon shares (--config, --listen, -v, --grace-period,
 * --version), and how many there are. */
const BraidSettingSpec *braid_settings_get_common_specs (gsize *n_specs);

/* Defaults, then the file (--config in @argv, or NAME.conf found by
 * braid_config_find_default()), then @argv (not modified).
 * (transfer full): free with braid_settings_free(). */
gpointer braid_settings_read (const BraidSettingsTable *table, gchar **argv, GError **error);
/* Defaults, then @file only (for tests and tools). */
gpointer braid_settings_read_file (const BraidSettingsTable *table, BraidConfigFile *file, GError **error);
void braid_settings_free (const BraidSettingsTable *table, gpointer settings);

G_END_DECLS
