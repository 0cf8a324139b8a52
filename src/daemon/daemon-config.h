/* braid — daemon configuration files (GKeyFile), strict: unknown groups
 * and keys and bad values are errors that name the file and line, so a
 * daemon refuses to start rather than guess. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BRAID_CONFIG_ERROR_SYNTAX,
  BRAID_CONFIG_ERROR_UNKNOWN_KEY,
  BRAID_CONFIG_ERROR_BAD_VALUE,
  BRAID_CONFIG_ERROR_IO,
} BraidConfigError;

#define BRAID_CONFIG_ERROR (braid_config_error_quark ())
GQuark braid_config_error_quark (void);

typedef enum {
  BRAID_CONFIG_STRING,       /* gchar **: replaced (freed first) */
  BRAID_CONFIG_STRING_LIST,  /* gchar ***: "a,b;c" or "a;b" lists */
  BRAID_CONFIG_INT,          /* gint64 *, within [min, max] */
  BRAID_CONFIG_BOOLEAN,      /* gboolean *: true/false/yes/no/1/0 */
  BRAID_CONFIG_DOUBLE,       /* gdouble *, within [min, max] */
} BraidConfigType;

typedef struct {
  const gchar *group;
  const gchar *key;
  BraidConfigType type;
  gpointer value;
  gint64 min;
  gint64 max;
  /* When it points to TRUE the command line set this option: the file
   * does not override it. */
  const gboolean *set_by_command_line;
} BraidConfigOption;

/* Loads @path and stores every recognised value.  Fails (and stores
 * nothing) on the first syntax error, unknown group or key, or bad value. */
gboolean braid_config_load (const gchar *path,
                            const BraidConfigOption *options,
                            gsize n_options,
                            GError **error);
gboolean braid_config_load_data (const gchar *text,
                                 const gchar *name,
                                 const BraidConfigOption *options,
                                 gsize n_options,
                                 GError **error);

/* The file to read for daemon @name: $SYSCONFDIR/braid/NAME.conf, then
 * $DATADIR/braid/NAME.conf; NULL if neither exists. */
gchar *braid_config_find_default (const gchar *name);

/* Finds "--config PATH" / "--config=PATH" in argv without
 * consuming anything, so the file can be loaded before the command line
 * is parsed over it. */
gchar *braid_config_scan_argv (int argc, char **argv);

G_END_DECLS
