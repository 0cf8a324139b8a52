/* braid — daemon configuration files, strict.
 *
 * The format is GKeyFile's ("[Group]", "Key = value", "# comment"), read
 * by our own scanner so every error names the file and line, and stricter
 * than GKeyFile: a group or a key given twice, a localised key such as
 * "Port[de]", text that is not UTF-8 and a malformed group header are
 * errors.  A UTF-8 byte-order mark at the very start is skipped.  What the
 * keys mean is decided by the settings table (daemon-settings.h). */
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

/* One line that meant something: a group header (key and value NULL) or a
 * key = value line (both stripped), in file order. */
typedef struct {
  const gchar *group;
  const gchar *key;    /* (nullable) */
  const gchar *value;  /* (nullable) */
  guint line;
} BraidConfigEntry;

typedef struct _BraidConfigFile BraidConfigFile;

/* Errors in BRAID_CONFIG_ERROR (SYNTAX), messages "NAME:LINE: …". */
BraidConfigFile *braid_config_file_parse (const gchar *text, const gchar *name, GError **error);
/* As parse, plus BRAID_CONFIG_ERROR_IO. */
BraidConfigFile *braid_config_file_load (const gchar *path, GError **error);
void braid_config_file_free (BraidConfigFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidConfigFile, braid_config_file_free)

const gchar *braid_config_file_get_name (BraidConfigFile *file);
guint braid_config_file_get_n_entries (BraidConfigFile *file);
/* (transfer none) */
const BraidConfigEntry *braid_config_file_get_entry (BraidConfigFile *file, guint index);

/* The file to read for daemon @name: $SYSCONFDIR/braid/NAME.conf, then
 * $DATADIR/braid/NAME.conf; NULL if neither exists. */
gchar *braid_config_find_default (const gchar *name);

/* Finds "--config PATH" / "--config=PATH" in argv without consuming
 * anything, so the file can be loaded before the command line is parsed
 * over it. */
gchar *braid_config_scan_argv (int argc, char **argv);

G_END_DECLS
