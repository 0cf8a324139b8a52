/* braid-memcached — a memcached-compatible cache server.
 *
 * main() stays thin: settings come from defaults, then the configuration
 * file, then the command line (memcached's option names); then the
 * reactor, the listeners, and the daemon life cycle.  SIGHUP re-reads the
 * file (the command line still wins) and applies what can change live. */
#include "daemon.h"
#include "daemon-config.h"
#include "glib-reactor.h"
#include "mc-server.h"

#include <string.h>

typedef struct {
  gchar *config_path;
  gchar **listen;         /* --listen, repeatable */
  gint64 port;            /* -p */
  gchar *interface;       /* -l */
  gint64 memory_mib;      /* -m */
  gboolean no_evict;      /* -M */
  gchar *item_size;       /* -I, such as 1m or 512k */
  gint64 max_connections; /* -c */
  gint verbosity;         /* -v */
  gint64 udp_port;        /* -U: only 0 */
  gint64 threads;         /* -t: accepted */
  gboolean no_cas;        /* -C */
  gboolean no_flush;      /* -F */
  gchar *user;            /* -u: accepted */
  gboolean debugtime;     /* --enable-debugtime */
  gdouble grace;          /* --grace-period */
  gboolean version;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->config_path);
  g_strfreev (o->listen);
  g_free (o->interface);
  g_free (o->item_size);
  g_free (o->user);
  memset (o, 0, sizeof *o);
}

static void
options_defaults (Options *o)
{
  options_clear (o);
  o->port = 11211;
  o->memory_mib = 64;
  o->max_connections = 1024;
  o->threads = 4;
  o->grace = 10.0;
}

static gboolean
on_verbose (const gchar *name, const gchar *value, gpointer data, GError **error)
{
  ((Options *) data)->verbosity += g_str_equal (name, "-vv") ? 2 : 1;
  return TRUE;
}

static gboolean
parse_size (const gchar *text, gsize *out, GError **error)
{
  gchar *end = NULL;
  guint64 v = g_ascii_strtoull (text, &end, 10);
  guint64 unit = 1;

  if (end != text && (*end == 'k' || *end == 'K'))
    unit = 1024, end++;
  else if (end != text && (*end == 'm' || *end == 'M'))
    unit = 1024 * 1024, end++;
  if (end == text || *end != '\0' || v == 0 || v > G_MAXUINT32 / unit)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Item size “%s” is not a size such as 1m, 512k or 2097152", text);
      return FALSE;
    }
  *out = (gsize) (v * unit);
  return TRUE;
}

static GOptionContext *
make_context (Options *o)
{
  GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &o->config_path, "Configuration file (default /etc/braid/braid-memcached.conf)", "FILE" },
    { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->listen, "Endpoint to listen on, repeatable: tcp:PORT, tcp:PORT:interface=ADDR, unix:PATH, systemd:N (overrides -p/-l)", "ENDPOINT" },
    { "port", 'p', 0, G_OPTION_ARG_INT64, &o->port, "TCP port (default 11211)", "PORT" },
    { "listen-address", 'l', 0, G_OPTION_ARG_STRING, &o->interface, "Interfaces to listen on, comma-separated (default all)", "ADDR" },
    { "memory-limit", 'm', 0, G_OPTION_ARG_INT64, &o->memory_mib, "Item memory in megabytes (default 64)", "MB" },
    { "disable-evictions", 'M', 0, G_OPTION_ARG_NONE, &o->no_evict, "Answer “SERVER_ERROR out of memory storing object” instead of evicting", NULL },
    { "max-item-size", 'I', 0, G_OPTION_ARG_STRING, &o->item_size, "Largest item, such as 1m or 512k (default 1m)", "SIZE" },
    { "conn-limit", 'c', 0, G_OPTION_ARG_INT64, &o->max_connections, "Maximum simultaneous connections (default 1024)", "N" },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, on_verbose, "More log output (repeat for more)", NULL },
    { "udp-port", 'U', 0, G_OPTION_ARG_INT64, &o->udp_port, "UDP port: only 0 (off) is supported", "0" },
    { "threads", 't', 0, G_OPTION_ARG_INT64, &o->threads, "Accepted for compatibility (one event loop serves all)", "N" },
    { "disable-cas", 'C', 0, G_OPTION_ARG_NONE, &o->no_cas, "No cas values (items are 8 bytes smaller)", NULL },
    { "disable-flush-all", 'F', 0, G_OPTION_ARG_NONE, &o->no_flush, "Refuse flush_all", NULL },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &o->user, "Accepted for compatibility (use systemd's DynamicUser=)", "USER" },
    { "enable-debugtime", 0, 0, G_OPTION_ARG_NONE, &o->debugtime, "Accept “debugtime N”, which moves the server clock N seconds (for tests)", NULL },
    { "grace-period", 0, 0, G_OPTION_ARG_DOUBLE, &o->grace, "Seconds requests in flight may take after SIGTERM (default 10)", "S" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &o->version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *context = g_option_context_new ("— a memcached-compatible cache server");
  GOptionGroup *group = g_option_group_new ("braid-memcached", "braid-memcached options", "Show options", o, NULL);

  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context,
                                "Speaks memcached 1.6's text protocol, with memcached's option names.\n"
                                "Settings come from /etc/braid/braid-memcached.conf (or --config),\n"
                                "and the command line overrides them.");
  return context;
}

static gboolean
load_config_file (Options *o, const gchar *path, GError **error)
{
  gboolean evictions = !o->no_evict;
  BraidConfigOption options[] = {
    { "Server", "Listen", BRAID_CONFIG_STRING_LIST, &o->listen, 0, 0, NULL },
    { "Server", "Port", BRAID_CONFIG_INT, &o->port, 0, 65535, NULL },
    { "Server", "Interface", BRAID_CONFIG_STRING, &o->interface, 0, 0, NULL },
    { "Server", "MaxConnections", BRAID_CONFIG_INT, &o->max_connections, 1, 1000000, NULL },
    { "Server", "GracePeriodSeconds", BRAID_CONFIG_DOUBLE, &o->grace, 0, 3600, NULL },
    { "Server", "EnableDebugTime", BRAID_CONFIG_BOOLEAN, &o->debugtime, 0, 0, NULL },
    { "Logging", "Verbosity", BRAID_CONFIG_INT, NULL, 0, 3, NULL },
    { "Cache", "MemoryMiB", BRAID_CONFIG_INT, &o->memory_mib, 1, 1024 * 1024, NULL },
    { "Cache", "MaxItemSize", BRAID_CONFIG_STRING, &o->item_size, 0, 0, NULL },
    { "Cache", "Evictions", BRAID_CONFIG_BOOLEAN, &evictions, 0, 0, NULL },
  };
  gint64 verbosity = o->verbosity;

  options[6].value = &verbosity;
  if (!braid_config_load (path, options, G_N_ELEMENTS (options), error))
    return FALSE;
  o->no_evict = !evictions;
  o->verbosity = (gint) verbosity;
  return TRUE;
}

/* Defaults, then the file, then @argv (a copy: parsing consumes it). */
static gboolean
read_settings (Options *o, gchar **argv, GError **error)
{
  g_auto(GStrv) args = g_strdupv (argv);
  g_autofree gchar *explicit_config = braid_config_scan_argv ((int) g_strv_length (args), args);
  g_autofree gchar *path = explicit_config != NULL ? g_strdup (explicit_config)
                                                   : braid_config_find_default ("braid-memcached");
  g_autoptr(GOptionContext) context = NULL;

  options_defaults (o);
  if (path != NULL && !load_config_file (o, path, error))
    return FALSE;
  {
    /* GOption does not free what it overwrites: hand it empty fields and
     * keep the file's values where the command line is silent. */
    g_auto(GStrv) file_listen = g_steal_pointer (&o->listen);
    g_autofree gchar *file_interface = g_steal_pointer (&o->interface);
    g_autofree gchar *file_item_size = g_steal_pointer (&o->item_size);

    context = make_context (o);
    if (!g_option_context_parse_strv (context, &args, error))
      return FALSE;
    if (o->listen == NULL)
      o->listen = g_steal_pointer (&file_listen);
    if (o->interface == NULL)
      o->interface = g_steal_pointer (&file_interface);
    if (o->item_size == NULL)
      o->item_size = g_steal_pointer (&file_item_size);
  }
  if (o->udp_port != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "UDP (-U %" G_GINT64_FORMAT ") is not supported: use -U 0", o->udp_port);
      return FALSE;
    }
  if (o->port < 0 || o->port > 65535 || o->memory_mib < 1 || o->max_connections < 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "-p must be 0..65535, -m and -c at least 1");
      return FALSE;
    }
  if (args[1] != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "Unexpected argument “%s”", args[1]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
settings_from_options (const Options *o, BraidMcServerSettings *settings, GError **error)
{
  BraidMcServerSettings defaults = BRAID_MC_SERVER_SETTINGS_INIT;

  *settings = defaults;
  settings->store.limit_bytes = (gsize) o->memory_mib * 1024 * 1024;
  settings->store.evict = !o->no_evict;
  settings->store.cas_enabled = !o->no_cas;
  if (o->item_size != NULL && !parse_size (o->item_size, &settings->store.item_size_max, error))
    return FALSE;
  settings->max_connections = (guint) o->max_connections;
  settings->debugtime = o->debugtime;
  settings->flush_enabled = !o->no_flush;
  settings->verbosity = o->verbosity;
  settings->threads = (guint) MAX (o->threads, 1);
  return TRUE;
}

/* memcached's -p/-l become endpoint strings; --listen wins over both. */
static gchar **
endpoints_from_options (const Options *o)
{
  GPtrArray *list = g_ptr_array_new ();
  g_auto(GStrv) interfaces = NULL;

  for (gchar **l = o->listen; l != NULL && *l != NULL; l++)
    g_ptr_array_add (list, g_strdup (*l));
  if (list->len > 0)
    goto out;
  interfaces = g_strsplit (o->interface != NULL ? o->interface : "", ",", -1);
  for (guint i = 0; interfaces[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_strstrip (interfaces[i]), ":", -1);
      g_autofree gchar *escaped = g_strjoinv ("\\:", parts);

      if (*escaped != '\0')
        g_ptr_array_add (list, g_strdup_printf ("tcp:%" G_GINT64_FORMAT ":interface=%s", o->port, escaped));
    }
  if (list->len == 0)
    g_ptr_array_add (list, g_strdup_printf ("tcp:%" G_GINT64_FORMAT, o->port));
out:
  g_ptr_array_add (list, NULL);
  return (gchar **) g_ptr_array_free (list, FALSE);
}

typedef struct {
  BraidMcServer *server;
  gchar **argv;
} ReloadData;

static gchar *
reload (gpointer data, GError **error)
{
  ReloadData *r = data;
  BraidMcServerSettings *settings = braid_mc_server_get_settings_mutable (r->server);
  gsize old_limit = settings->store.limit_bytes;
  gint old_verbosity = settings->verbosity;
  Options fresh = { 0 };
  gchar *summary;

  if (!read_settings (&fresh, r->argv, error))
    {
      options_clear (&fresh);
      return NULL;
    }
  settings->verbosity = fresh.verbosity;
  braid_daemon_set_verbosity (fresh.verbosity);
  braid_mc_store_set_limit (braid_mc_server_get_store (r->server), (gsize) fresh.memory_mib * 1024 * 1024);
  settings->store.limit_bytes = (gsize) fresh.memory_mib * 1024 * 1024;
  summary = g_strdup_printf ("memory limit %" G_GSIZE_FORMAT " MiB (was %" G_GSIZE_FORMAT "), verbosity %d (was %d); "
                             "listeners and other settings need a restart",
                             settings->store.limit_bytes >> 20, old_limit >> 20, fresh.verbosity, old_verbosity);
  options_clear (&fresh);
  return summary;
}

static gboolean
is_busy (gpointer data)
{
  return braid_mc_server_is_busy (data);
}

int
main (int argc, char **argv)
{
  Options o = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidDaemon) daemon = NULL;
  g_auto(GStrv) endpoints = NULL;
  g_auto(GStrv) saved_argv = g_strdupv (argv);
  BraidMcServerSettings settings;
  ReloadData reload_data;
  gint status;

  g_set_prgname ("braid-memcached");
  if (!read_settings (&o, saved_argv, &error))
    {
      g_printerr ("braid-memcached: %s\n", error->message);
      return error->domain == BRAID_CONFIG_ERROR ? BRAID_EXIT_CONFIG : BRAID_EXIT_USAGE;
    }
  if (o.version)
    {
      g_print ("braid-memcached %s (memcached 1.6 text protocol)\n", PACKAGE_VERSION);
      options_clear (&o);
      return BRAID_EXIT_OK;
    }
  if (!settings_from_options (&o, &settings, &error))
    {
      g_printerr ("braid-memcached: %s\n", error->message);
      options_clear (&o);
      return BRAID_EXIT_USAGE;
    }
  braid_daemon_set_verbosity (o.verbosity);

  reactor = braid_glib_reactor_new (NULL);
  server = braid_mc_server_new (BRAID_REACTOR (reactor), &settings);
  factory = braid_mc_server_create_factory (server);
  daemon = braid_daemon_new ("braid-memcached", BRAID_REACTOR (reactor));
  braid_daemon_set_grace_period (daemon, (gint64) (o.grace * G_USEC_PER_SEC));
  endpoints = endpoints_from_options (&o);
  for (gchar **e = endpoints; *e != NULL; e++)
    {
      g_autoptr(BraidListener) listener = braid_reactor_listen (BRAID_REACTOR (reactor), *e, factory, &error);

      if (listener == NULL)
        {
          g_printerr ("braid-memcached: %s\n", error->message);
          options_clear (&o);
          return BRAID_EXIT_LISTEN;
        }
      braid_daemon_add_listener (daemon, listener);
      g_message ("braid-memcached %s listening on %s (port %u), %" G_GINT64_FORMAT " MiB, items up to %" G_GSIZE_FORMAT " bytes",
                 PACKAGE_VERSION, *e, braid_listener_get_port (listener), o.memory_mib,
                 settings.store.item_size_max);
    }
  braid_daemon_set_busy_func (daemon, is_busy, server);
  reload_data.server = server;
  reload_data.argv = saved_argv;
  braid_daemon_set_reload_func (daemon, reload, &reload_data);
  braid_daemon_notify_status (daemon, "Serving %s", endpoints[0]);
  options_clear (&o);

  status = braid_daemon_run (daemon);
  return status;
}
