/* braid-proxy — the caching URL proxy.
 *
 * Settings come from defaults, then the configuration file, then the
 * command line; then the fetcher, the cache (memory, a memcached pool, or
 * none), the listeners and the daemon life cycle.  SIGHUP re-reads the
 * file and applies verbosity, cache size and TTL. */
#include "daemon.h"
#include "daemon-config.h"
#include "glib-reactor.h"
#include "mc-cache.h"
#include "memory-cache.h"
#include "proxy.h"
#include "soup-fetcher.h"

#include <string.h>

typedef struct {
  gchar **listen;
  gchar *memcached;
  gboolean no_cache;
  gint64 cache_mib;
  gint64 ttl_s;
  gint64 cache_timeout_ms;
  gint64 fetch_timeout_s;
  gint64 max_body_mib;
  gint64 max_conns;
  gint64 max_conns_per_host;
  gint verbosity;
  gdouble grace;
  gchar *config_path;
  gboolean version;
} Options;

static void
options_clear (Options *o)
{
  g_strfreev (o->listen);
  g_free (o->memcached);
  g_free (o->config_path);
  memset (o, 0, sizeof *o);
}

static void
options_defaults (Options *o)
{
  options_clear (o);
  o->cache_mib = 64;
  o->ttl_s = 300;
  o->cache_timeout_ms = 100;
  o->fetch_timeout_s = 30;
  o->max_body_mib = 64;
  o->max_conns = 1024;
  o->max_conns_per_host = 256;
  o->grace = 10.0;
}

static gboolean
on_verbose (const gchar *name, const gchar *value, gpointer data, GError **error)
{
  ((Options *) data)->verbosity++;
  return TRUE;
}

static GOptionContext *
make_context (Options *o)
{
  GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &o->config_path, "Configuration file (default /etc/braid/braid-proxy.conf)", "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &o->listen, "Endpoint to listen on, repeatable (default tcp:8000)", "ENDPOINT" },
    { "memcached", 'm', 0, G_OPTION_ARG_STRING, &o->memcached, "Shared cache: memcached servers, HOST:PORT or tcp:HOST:PORT, comma-separated", "ENDPOINTS" },
    { "no-cache", 0, 0, G_OPTION_ARG_NONE, &o->no_cache, "Fetch every request", NULL },
    { "cache-size", 0, 0, G_OPTION_ARG_INT64, &o->cache_mib, "In-memory cache size in MiB (default 64)", "MIB" },
    { "ttl", 0, 0, G_OPTION_ARG_INT64, &o->ttl_s, "Seconds a cached body lives (default 300)", "S" },
    { "cache-timeout", 0, 0, G_OPTION_ARG_INT64, &o->cache_timeout_ms, "Milliseconds a cache lookup may take before fetching (default 100)", "MS" },
    { "fetch-timeout", 0, 0, G_OPTION_ARG_INT64, &o->fetch_timeout_s, "Upstream I/O timeout in seconds (default 30)", "S" },
    { "max-body", 0, 0, G_OPTION_ARG_INT64, &o->max_body_mib, "Largest body in MiB (default 64)", "MIB" },
    { "max-conns", 0, 0, G_OPTION_ARG_INT64, &o->max_conns, "Upstream connections in total (default 1024)", "N" },
    { "max-conns-per-host", 0, 0, G_OPTION_ARG_INT64, &o->max_conns_per_host, "Upstream connections per host (default 256)", "N" },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, on_verbose, "More log output (repeat for more)", NULL },
    { "grace-period", 0, 0, G_OPTION_ARG_DOUBLE, &o->grace, "Seconds requests in flight may take after SIGTERM (default 10)", "S" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &o->version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *context = g_option_context_new ("— a caching URL-fetching proxy");
  GOptionGroup *group = g_option_group_new ("braid-proxy", "braid-proxy options", "Show options", o, NULL);

  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  g_option_context_set_summary (context,
                                "A client sends a URL and a newline; the proxy answers with the body\n"
                                "and closes.  Bodies are cached in memory or in a shared memcached pool.");
  return context;
}

static gboolean
load_config_file (Options *o, const gchar *path, GError **error)
{
  gboolean enabled = !o->no_cache;
  gint64 verbosity = o->verbosity;
  BraidConfigOption options[] = {
    { "Server", "Listen", BRAID_CONFIG_STRING_LIST, &o->listen, 0, 0, NULL },
    { "Server", "GracePeriodSeconds", BRAID_CONFIG_DOUBLE, &o->grace, 0, 3600, NULL },
    { "Cache", "Enabled", BRAID_CONFIG_BOOLEAN, &enabled, 0, 0, NULL },
    { "Cache", "Memcached", BRAID_CONFIG_STRING, &o->memcached, 0, 0, NULL },
    { "Cache", "MemoryMiB", BRAID_CONFIG_INT, &o->cache_mib, 1, 1024 * 1024, NULL },
    { "Cache", "TTLSeconds", BRAID_CONFIG_INT, &o->ttl_s, 1, 2592000, NULL },
    { "Cache", "TimeoutMilliseconds", BRAID_CONFIG_INT, &o->cache_timeout_ms, 1, 60000, NULL },
    { "Upstream", "TimeoutSeconds", BRAID_CONFIG_INT, &o->fetch_timeout_s, 0, 3600, NULL },
    { "Upstream", "MaxBodyMiB", BRAID_CONFIG_INT, &o->max_body_mib, 1, 1024 * 1024, NULL },
    { "Upstream", "MaxConnections", BRAID_CONFIG_INT, &o->max_conns, 1, 100000, NULL },
    { "Upstream", "MaxConnectionsPerHost", BRAID_CONFIG_INT, &o->max_conns_per_host, 1, 100000, NULL },
    { "Logging", "Verbosity", BRAID_CONFIG_INT, &verbosity, 0, 3, NULL },
  };

  if (!braid_config_load (path, options, G_N_ELEMENTS (options), error))
    return FALSE;
  o->no_cache = !enabled;
  o->verbosity = (gint) verbosity;
  return TRUE;
}

static gboolean
read_settings (Options *o, gchar **argv, GError **error)
{
  g_auto(GStrv) args = g_strdupv (argv);
  g_autofree gchar *explicit_config = braid_config_scan_argv ((int) g_strv_length (args), args);
  g_autofree gchar *path = explicit_config != NULL ? g_strdup (explicit_config)
                                                   : braid_config_find_default ("braid-proxy");
  g_autoptr(GOptionContext) context = NULL;

  options_defaults (o);
  if (path != NULL && !load_config_file (o, path, error))
    return FALSE;
  {
    g_auto(GStrv) file_listen = g_steal_pointer (&o->listen);
    g_autofree gchar *file_memcached = g_steal_pointer (&o->memcached);

    context = make_context (o);
    if (!g_option_context_parse_strv (context, &args, error))
      return FALSE;
    if (o->listen == NULL)
      o->listen = g_steal_pointer (&file_listen);
    if (o->memcached == NULL)
      o->memcached = g_steal_pointer (&file_memcached);
  }
  if (args[1] != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "Unexpected argument “%s”", args[1]);
      return FALSE;
    }
  if (o->cache_mib < 1 || o->ttl_s < 1 || o->ttl_s > 2592000 || o->cache_timeout_ms < 1 ||
      o->max_body_mib < 1 || o->max_conns < 1 || o->max_conns_per_host < 1 || o->fetch_timeout_s < 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "sizes, counts and times must be positive (--ttl at most 30 days)");
      return FALSE;
    }
  return TRUE;
}

/* "tcp:HOST:PORT,HOST:PORT" → the pool's "HOST:PORT,HOST:PORT". */
static gchar *
pool_servers (const gchar *list)
{
  g_auto(GStrv) parts = g_strsplit (list, ",", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const gchar *p = g_strstrip (parts[i]);

      if (*p == '\0')
        continue;
      if (g_str_has_prefix (p, "tcp:"))
        p += 4;
      g_string_append_printf (out, "%s%s", out->len > 0 ? "," : "", p);
    }
  return g_string_free (out, FALSE);
}

typedef struct {
  BraidProxy *proxy;
  BraidMemoryCache *memory;   /* (nullable) */
  gchar **argv;
} ReloadData;

static gchar *
reload (gpointer data, GError **error)
{
  ReloadData *r = data;
  Options fresh = { 0 };
  BraidProxySettings *settings = braid_proxy_get_settings (r->proxy);
  gchar *summary;

  if (!read_settings (&fresh, r->argv, error))
    {
      options_clear (&fresh);
      return NULL;
    }
  braid_daemon_set_verbosity (fresh.verbosity);
  settings->ttl_s = fresh.ttl_s;
  settings->cache_timeout_us = fresh.cache_timeout_ms * 1000;
  if (r->memory != NULL)
    braid_memory_cache_set_max_bytes (r->memory, (gsize) fresh.cache_mib << 20);
  summary = g_strdup_printf ("verbosity %d, TTL %" G_GINT64_FORMAT " s, cache timeout %" G_GINT64_FORMAT " ms, "
                             "memory cache %" G_GINT64_FORMAT " MiB%s",
                             fresh.verbosity, fresh.ttl_s, fresh.cache_timeout_ms, fresh.cache_mib,
                             r->memory != NULL ? "" : " (not in use)");
  options_clear (&fresh);
  return summary;
}

static gboolean
is_busy (gpointer data)
{
  return braid_proxy_is_busy (data);
}

int
main (int argc, char **argv)
{
  Options o = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidSoupFetcher) fetcher = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(BraidMemoryCache) memory = NULL;
  g_autoptr(BraidMcCache) shared = NULL;
  g_autoptr(BraidProxy) proxy = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidDaemon) daemon = NULL;
  g_auto(GStrv) saved_argv = g_strdupv (argv);
  BraidSoupFetcherOptions fetch_options = BRAID_SOUP_FETCHER_OPTIONS_INIT;
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  BraidCache *cache = NULL;
  const gchar *cache_kind = "none";
  const gchar *default_listen[] = { "tcp:8000", NULL };
  const gchar * const *endpoints;
  ReloadData reload_data;
  int status;

  g_set_prgname ("braid-proxy");
  if (!read_settings (&o, saved_argv, &error))
    {
      g_printerr ("braid-proxy: %s\n", error->message);
      return error->domain == BRAID_CONFIG_ERROR ? BRAID_EXIT_CONFIG : BRAID_EXIT_USAGE;
    }
  if (o.version)
    {
      g_print ("braid-proxy %s\n", PACKAGE_VERSION);
      options_clear (&o);
      return BRAID_EXIT_OK;
    }
  braid_daemon_set_verbosity (o.verbosity);

  reactor = braid_glib_reactor_new (NULL);
  fetch_options.max_conns = (guint) o.max_conns;
  fetch_options.max_conns_per_host = (guint) o.max_conns_per_host;
  fetch_options.timeout_s = (guint) o.fetch_timeout_s;
  fetcher = braid_soup_fetcher_new (&fetch_options);
  if (!o.no_cache && o.memcached != NULL && *o.memcached != '\0')
    {
      g_autofree gchar *servers = pool_servers (o.memcached);

      pool = braid_mc_pool_new (BRAID_REACTOR (reactor), servers, &error);
      if (pool == NULL)
        {
          g_printerr ("braid-proxy: --memcached: %s\n", error->message);
          options_clear (&o);
          return BRAID_EXIT_USAGE;
        }
      braid_mc_pool_set_timeout (pool, o.cache_timeout_ms * 1000 * 5);
      shared = braid_mc_cache_new (pool, 1024 * 1024);
      cache = BRAID_CACHE (shared);
      cache_kind = "memcached";
    }
  else if (!o.no_cache)
    {
      memory = braid_memory_cache_new (BRAID_REACTOR (reactor), (gsize) o.cache_mib << 20, 8 << 20);
      cache = BRAID_CACHE (memory);
      cache_kind = "memory";
    }
  settings.ttl_s = o.ttl_s;
  settings.cache_timeout_us = o.cache_timeout_ms * 1000;
  settings.max_body = (gsize) o.max_body_mib << 20;
  proxy = braid_proxy_new (BRAID_REACTOR (reactor), BRAID_FETCHER (fetcher), cache, &settings);
  factory = braid_proxy_create_factory (proxy);
  daemon = braid_daemon_new ("braid-proxy", BRAID_REACTOR (reactor));
  braid_daemon_set_grace_period (daemon, (gint64) (o.grace * G_USEC_PER_SEC));
  endpoints = o.listen != NULL && o.listen[0] != NULL ? (const gchar * const *) o.listen : default_listen;
  for (const gchar * const *e = endpoints; *e != NULL; e++)
    {
      g_autoptr(BraidListener) listener = braid_reactor_listen (BRAID_REACTOR (reactor), *e, factory, &error);

      if (listener == NULL)
        {
          g_printerr ("braid-proxy: %s\n", error->message);
          options_clear (&o);
          return BRAID_EXIT_LISTEN;
        }
      braid_daemon_add_listener (daemon, listener);
      g_message ("braid-proxy %s listening on %s (port %u), cache: %s%s%s", PACKAGE_VERSION, *e,
                 braid_listener_get_port (listener), cache_kind,
                 pool != NULL ? " " : "", pool != NULL ? o.memcached : "");
    }
  braid_daemon_set_busy_func (daemon, is_busy, proxy);
  reload_data.proxy = proxy;
  reload_data.memory = memory;
  reload_data.argv = saved_argv;
  braid_daemon_set_reload_func (daemon, reload, &reload_data);
  braid_daemon_notify_status (daemon, "Proxying on %s, cache: %s", endpoints[0], cache_kind);
  options_clear (&o);
  status = braid_daemon_run (daemon);
  return status;
}
