/* braid-proxy: settings table, fetcher, cache and proxy. */
#include "proxy-daemon.h"
#include "mc-cache.h"
#include "memory-cache.h"
#include "soup-fetcher.h"

#include <string.h>

#define PX(field) G_STRUCT_OFFSET (BraidProxyDaemonSettings, field)

/* Values over these are not cached: the servers' -I for the shared cache,
 * a share of the memory for the memory cache. */
#define SHARED_CACHE_MAX_ITEM (1024 * 1024)
#define MEMORY_CACHE_MAX_ITEM (8 * 1024 * 1024)
/* A pool request may take this many cache timeouts before it fails. */
#define POOL_TIMEOUT_FACTOR 5

/* "HOST:PORT,tcp:HOST:PORT,tls:HOST:PORT:ca=FILE" → the pool's list:
 * HOST:PORT and tcp: entries as HOST:PORT, tls: entries as they are (the
 * pool takes both forms). */
static gchar *
pool_servers (const gchar *list)
{
  g_auto(GStrv) parts = braid_endpoint_split_list (list);
  GString *out = g_string_new (NULL);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const gchar *p = g_strstrip (parts[i]);

      if (*p == '\0')
        continue;
      if (g_str_has_prefix (p, "tcp:"))
        p += strlen ("tcp:");
      g_string_append_printf (out, "%s%s", out->len > 0 ? "," : "", p);
    }
  return g_string_free (out, FALSE);
}

static gboolean
check_servers (const gchar *value, gchar **why)
{
  g_autofree gchar *servers = pool_servers (value);
  g_auto(GStrv) parts = braid_endpoint_split_list (servers);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      gboolean tls = g_str_has_prefix (parts[i], "tls:");
      g_autofree gchar *description = tls ? g_strdup (parts[i]) : g_strdup_printf ("tcp:%s", parts[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidEndpoint) endpoint = braid_endpoint_parse (description, BRAID_ENDPOINT_ROLE_CLIENT, &error);

      if (endpoint == NULL)
        {
          *why = g_strdup_printf (tls ? "“%s” is not tls:HOST:PORT: %s" : "“%s” is not HOST:PORT: %s",
                                  parts[i], error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_rule (const gchar *value, gchar **why)
{
  g_autoptr(BraidAddressPolicy) scratch = braid_address_policy_new ();
  g_autoptr(GError) error = NULL;

  if (braid_address_policy_allow (scratch, value, &error))
    return TRUE;
  *why = g_strdup (error->message);
  return FALSE;
}

static gboolean
check_port_range (const gchar *value, gchar **why)
{
  g_autoptr(BraidAddressPolicy) scratch = braid_address_policy_new ();
  g_autoptr(GError) error = NULL;
  const gchar *ports[] = { value, NULL };

  if (braid_address_policy_set_ports (scratch, ports, &error))
    return TRUE;
  *why = g_strdup (error->message);
  return FALSE;
}

static const BraidSettingSpec proxy_specs[] = {
  { "memcached", 'm', "Cache", "Memcached", BRAID_SETTING_STRING, PX (memcached), 0, 0, NULL, NULL, check_servers,
    "Shared cache: memcached servers, HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT[:ca=FILE], "
    "comma-separated", "ENDPOINTS" },
  { "no-cache", 0, "Cache", "Enabled", BRAID_SETTING_BOOLEAN, PX (cache_enabled), 0, 0, "true", "false", NULL,
    "Fetch every request", NULL },
  { "cache-size", 0, "Cache", "MemoryMiB", BRAID_SETTING_INT, PX (cache_mib), 1, 1024 * 1024, "64", NULL, NULL,
    "In-memory cache size in MiB, 1 to 1048576 (default 64)", "MIB" },
  { "ttl", 0, "Cache", "TTLSeconds", BRAID_SETTING_INT, PX (ttl_s), 1, 2592000, "300", NULL, NULL,
    "Seconds a cached body lives, 1 to 2592000 (default 300)", "S" },
  { "cache-timeout", 0, "Cache", "TimeoutMilliseconds", BRAID_SETTING_INT, PX (cache_timeout_ms), 1, 60000, "100",
    NULL, NULL, "Milliseconds a cache lookup may take before fetching, 1 to 60000 (default 100)", "MS" },
  { "fetch-timeout", 0, "Upstream", "TimeoutSeconds", BRAID_SETTING_INT, PX (fetch_timeout_s), 0, 3600, "30",
    NULL, NULL, "Upstream I/O timeout in seconds, 0 to 3600 (default 30)", "S" },
  { "max-body", 0, "Upstream", "MaxBodyMiB", BRAID_SETTING_INT, PX (max_body_mib), 1, 1024 * 1024, "64", NULL,
    NULL, "Largest body in MiB, 1 to 1048576 (default 64)", "MIB" },
  { "max-conns", 0, "Upstream", "MaxConnections", BRAID_SETTING_INT, PX (max_conns), 1, 100000, "1024", NULL,
    NULL, "Upstream connections in total, 1 to 100000 (default 1024)", "N" },
  { "max-conns-per-host", 0, "Upstream", "MaxConnectionsPerHost", BRAID_SETTING_INT, PX (max_conns_per_host), 1,
    100000, "1024", NULL, NULL, "Upstream connections per host, 1 to 100000 (default 1024)", "N" },
  { "fetch-threads", 0, "Upstream", "FetchThreads", BRAID_SETTING_INT, PX (fetch_threads), 0, 64, "4", NULL, NULL,
    "Threads the upstream connections run in, 0 to 64; 0: in the main loop (default 4)", "N" },
  { "allow", 0, "Upstream", "Allow", BRAID_SETTING_STRING_LIST, PX (allow), 0, 0, NULL, NULL, check_rule,
    "Upstream address, ADDRESS/PREFIX or host name to fetch from although denied, with an optional :PORT; "
    "repeatable", "RULE" },
  { "deny", 0, "Upstream", "Deny", BRAID_SETTING_STRING_LIST, PX (deny), 0, 0, NULL, NULL, check_rule,
    "Upstream address, ADDRESS/PREFIX or host name never to fetch from, besides loopback, link-local, private, "
    "multicast and unspecified addresses; repeatable", "RULE" },
  { "allow-port", 0, "Upstream", "AllowPorts", BRAID_SETTING_STRING_LIST, PX (allow_ports), 0, 0,
    "80,443,1024-65535", NULL, check_port_range,
    "Upstream port or LOW-HIGH range to fetch from, repeatable (default 80, 443 and 1024-65535)", "PORTS" },
  { "cache-secret-file", 0, "Cache", "SecretFile", BRAID_SETTING_STRING, PX (cache_secret_file), 0, 0, NULL, NULL,
    NULL, "File holding a secret the proxies sharing a cache share: entries carry an HMAC-SHA256 with it, and "
    "entries without a valid one are misses", "FILE" },
  { "request-timeout", 0, "Server", "RequestTimeoutSeconds", BRAID_SETTING_DOUBLE, PX (request_timeout_s), 0, 3600,
    "10", NULL, NULL, "Seconds a client has to send its whole request line, 0 (none) to 3600 (default 10)", "S" },
  { "conn-limit", 'c', "Server", "MaxConnections", BRAID_SETTING_INT, PX (conn_limit), 1, 1000000, "1024", NULL,
    NULL, "Client connections at once, 1 to 1000000 (default 1024); more are closed at once", "N" },
  { "max-flights", 0, "Upstream", "MaxFlights", BRAID_SETTING_INT, PX (max_flights), 1, 1000000, "1024", NULL, NULL,
    "Upstream fetches at once, more are refused, 1 to 1000000 (default 1024)", "N" },
  { "max-buffered", 0, "Upstream", "MaxBufferedMiB", BRAID_SETTING_INT, PX (max_buffered_mib), 1, 1024 * 1024,
    "256", NULL, NULL, "Body MiB held across fetches, new ones refused above, 1 to 1048576 (default 256)", "MIB" },
  { "client-write-timeout", 0, "Server", "ClientWriteTimeoutSeconds", BRAID_SETTING_INT,
    PX (client_write_timeout_s), 1, 3600, "30", NULL, NULL,
    "Seconds a client may read nothing before it is cut off, 1 to 3600 (default 30)", "S" },
};

const BraidSettingsTable braid_proxy_settings_table = {
  .name = "braid-proxy",
  .parameter_string = "— a caching URL-fetching proxy",
  .summary = "A client sends a URL and a newline; the proxy answers with the body\n"
             "and closes.  Bodies are cached in memory or in a shared memcached pool.",
  .listen_short_name = 'l',
  .specs = proxy_specs,
  .n_specs = G_N_ELEMENTS (proxy_specs),
  .settings_size = sizeof (BraidProxyDaemonSettings),
};

G_STATIC_ASSERT (G_STRUCT_OFFSET (BraidProxyDaemonSettings, common) == 0);

struct _BraidProxyService
{
  BraidProxy *proxy;           /* (owned) */
  BraidCache *cache;           /* (owned) (nullable) */
  const gchar *cache_kind;     /* "memcached", "memory" or "none" */
};

BraidAddressPolicy *
braid_proxy_daemon_address_policy_new (const BraidProxyDaemonSettings *s)
{
  BraidAddressPolicy *policy = braid_address_policy_new ();

  /* Every rule went through check_rule() or check_port_range() already. */
  for (guint i = 0; s->allow != NULL && s->allow[i] != NULL; i++)
    if (!braid_address_policy_allow (policy, s->allow[i], NULL))
      g_assert_not_reached ();
  for (guint i = 0; s->deny != NULL && s->deny[i] != NULL; i++)
    if (!braid_address_policy_deny (policy, s->deny[i], NULL))
      g_assert_not_reached ();
  if (s->allow_ports != NULL && !braid_address_policy_set_ports (policy, (const gchar * const *) s->allow_ports, NULL))
    g_assert_not_reached ();
  return policy;
}

static const gchar *
first_set (const gchar *const *envp, const gchar *a, const gchar *b)
{
  const gchar *value = g_environ_getenv ((gchar **) envp, a);

  if ((value == NULL || *value == '\0') && b != NULL)
    value = g_environ_getenv ((gchar **) envp, b);
  return value != NULL && *value != '\0' ? value : NULL;
}

GProxyResolver *
braid_proxy_daemon_proxy_resolver_new (const gchar *const *envp)
{
  const gchar *http = first_set (envp, "http_proxy", NULL);
  const gchar *https = first_set (envp, "https_proxy", "HTTPS_PROXY");
  const gchar *no_proxy = first_set (envp, "no_proxy", "NO_PROXY");
  g_auto(GStrv) ignore = NULL;
  GSimpleProxyResolver *resolver;

  if (http == NULL && https == NULL)
    return NULL;
  ignore = no_proxy != NULL ? g_strsplit (no_proxy, ",", -1) : g_new0 (gchar *, 1);
  for (guint i = 0; ignore[i] != NULL; i++)
    g_strstrip (ignore[i]);
  resolver = G_SIMPLE_PROXY_RESOLVER (g_simple_proxy_resolver_new (NULL, ignore));
  if (http != NULL)
    g_simple_proxy_resolver_set_uri_proxy (resolver, "http", http);
  if (https != NULL)
    g_simple_proxy_resolver_set_uri_proxy (resolver, "https", https);
  return G_PROXY_RESOLVER (resolver);
}

/* The proxy resolver is read once from the environment: GIO's default
 * one (GNOME's or libproxy) asks a settings service or PAC machinery, in
 * a thread, for every connection (0.2 s of the 1,000-fetch benchmark). */
BraidFetcher *
braid_proxy_daemon_fetcher_new (const BraidProxyDaemonSettings *s)
{
  BraidSoupFetcherOptions options = BRAID_SOUP_FETCHER_OPTIONS_INIT;
  g_autoptr(BraidAddressPolicy) policy = braid_proxy_daemon_address_policy_new (s);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GProxyResolver) resolver = braid_proxy_daemon_proxy_resolver_new ((const gchar *const *) envp);

  options.max_conns = (guint) s->max_conns;
  options.max_conns_per_host = (guint) s->max_conns_per_host;
  options.threads = (guint) s->fetch_threads;
  options.timeout_s = (guint) s->fetch_timeout_s;
  options.address_policy = policy;
  options.use_proxy_resolver = TRUE;
  options.proxy_resolver = resolver;
  return BRAID_FETCHER (braid_soup_fetcher_new (&options));
}

BraidCache *
braid_proxy_daemon_cache_new (BraidReactor *reactor, const BraidProxyDaemonSettings *s,
                              const gchar **kind, GError **error)
{
  *kind = "none";
  if (!s->cache_enabled)
    return NULL;
  if (s->memcached != NULL && *s->memcached != '\0')
    {
      g_autofree gchar *servers = pool_servers (s->memcached);
      g_autoptr(BraidMcPool) pool = braid_mc_pool_new (reactor, servers, error);

      if (pool == NULL)
        return NULL;
      braid_mc_pool_set_timeout (pool, s->cache_timeout_ms * 1000 * POOL_TIMEOUT_FACTOR);
      *kind = "memcached";
      return BRAID_CACHE (braid_mc_cache_new (pool, SHARED_CACHE_MAX_ITEM));
    }
  *kind = "memory";
  return BRAID_CACHE (braid_memory_cache_new (reactor, (gsize) s->cache_mib << 20, MEMORY_CACHE_MAX_ITEM));
}

#define CACHE_SECRET_MIN 16

GBytes *
braid_proxy_daemon_read_cache_secret (const gchar *path, GError **error)
{
  g_autofree gchar *contents = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  while (len > 0 && (contents[len - 1] == '\n' || contents[len - 1] == '\r'))
    len--;
  if (len < CACHE_SECRET_MIN)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: a cache secret has at least %d bytes", path,
                   CACHE_SECRET_MIN);
      return NULL;
    }
  return g_bytes_new (contents, len);
}

static void
proxy_settings (const BraidProxyDaemonSettings *s, BraidProxySettings *out)
{
  BraidProxySettings defaults = BRAID_PROXY_SETTINGS_INIT;

  *out = defaults;
  out->ttl_s = s->ttl_s;
  out->cache_timeout_us = s->cache_timeout_ms * 1000;
  out->max_body = (gsize) s->max_body_mib << 20;
  out->request_timeout_us = (gint64) (s->request_timeout_s * G_USEC_PER_SEC);
  out->fetch_timeout_us = s->fetch_timeout_s * G_USEC_PER_SEC;
  out->max_connections = (guint) s->conn_limit;
  out->max_flights = (guint) s->max_flights;
  out->max_buffered = (gsize) s->max_buffered_mib << 20;
  out->client_write_timeout_us = s->client_write_timeout_s * G_USEC_PER_SEC;
}

BraidProxyService *
braid_proxy_service_new (BraidReactor *reactor, const BraidProxyDaemonSettings *s,
                         BraidFetcher *fetcher, GError **error)
{
  BraidProxyService *service;
  BraidProxySettings settings;
  g_autoptr(GError) local_error = NULL;
  const gchar *kind;
  BraidCache *cache = braid_proxy_daemon_cache_new (reactor, s, &kind, &local_error);

  if (local_error != NULL)
    {
      g_set_error (error, BRAID_DAEMON_ERROR, BRAID_DAEMON_ERROR_SERVICE, "--memcached: %s", local_error->message);
      return NULL;
    }
  proxy_settings (s, &settings);
  if (s->cache_secret_file != NULL && *s->cache_secret_file != '\0')
    {
      settings.cache_secret = braid_proxy_daemon_read_cache_secret (s->cache_secret_file, &local_error);
      if (settings.cache_secret == NULL)
        {
          g_set_error (error, BRAID_DAEMON_ERROR, BRAID_DAEMON_ERROR_SERVICE, "--cache-secret-file: %s",
                       local_error->message);
          g_clear_object (&cache);
          return NULL;
        }
    }
  service = g_new0 (BraidProxyService, 1);
  service->cache = cache;
  service->cache_kind = kind;
  service->proxy = braid_proxy_new (reactor, fetcher, cache, &settings);
  g_clear_pointer (&settings.cache_secret, g_bytes_unref);
  return service;
}

void
braid_proxy_service_free (BraidProxyService *service)
{
  if (service == NULL)
    return;
  g_object_unref (service->proxy);
  g_clear_object (&service->cache);
  g_free (service);
}

BraidProxy *
braid_proxy_service_get_proxy (BraidProxyService *service)
{
  return service->proxy;
}

static gpointer
service_new (BraidReactor *reactor, gconstpointer settings, GError **error)
{
  g_autoptr(BraidFetcher) fetcher = braid_proxy_daemon_fetcher_new (settings);

  return braid_proxy_service_new (reactor, settings, fetcher, error);
}

static gchar **
get_endpoints (gconstpointer settings)
{
  const BraidProxyDaemonSettings *s = settings;

  if (s->common.listen != NULL && s->common.listen[0] != NULL)
    return g_strdupv (s->common.listen);
  /* Loopback only: a proxy open to every interface fetches for anyone
   * who can reach it. */
  return g_strsplit (BRAID_PROXY_DAEMON_DEFAULT_LISTEN, ",", -1);
}

static BraidProtocolFactory *
create_factory (gpointer service)
{
  return braid_proxy_create_factory (((BraidProxyService *) service)->proxy);
}

static gboolean
is_busy (gpointer service)
{
  return braid_proxy_is_busy (((BraidProxyService *) service)->proxy);
}

/* SIGTERM: connections that have not sent their line must not hold off
 * the drain. */
static void
close_idle (gpointer service)
{
  braid_proxy_close_idle (((BraidProxyService *) service)->proxy);
}

/* Each client connection may have an upstream one besides: -c clients
 * and libsoup's --max-conns. */
static guint64
get_max_connections (gconstpointer settings)
{
  const BraidProxyDaemonSettings *s = settings;

  return (guint64) s->conn_limit + (guint64) s->max_conns;
}

/* What SIGHUP changes live: TTL, cache timeout, memory cache size and
 * verbosity.  The address policy is built with the fetcher, at start. */
static gchar *
apply (gpointer data, gconstpointer settings)
{
  BraidProxyService *service = data;
  const BraidProxyDaemonSettings *s = settings;
  gboolean memory = BRAID_IS_MEMORY_CACHE (service->cache);

  braid_proxy_set_ttl (service->proxy, s->ttl_s);
  braid_proxy_set_cache_timeout (service->proxy, s->cache_timeout_ms * 1000);
  if (memory)
    braid_memory_cache_set_max_bytes (BRAID_MEMORY_CACHE (service->cache), (gsize) s->cache_mib << 20);
  return g_strdup_printf ("verbosity %d, TTL %" G_GINT64_FORMAT " s, cache timeout %" G_GINT64_FORMAT " ms, "
                          "memory cache %" G_GINT64_FORMAT " MiB%s",
                          (gint) s->common.verbosity, s->ttl_s, s->cache_timeout_ms, s->cache_mib,
                          memory ? "" : " (not in use)");
}

static gchar *
describe (gpointer data, gconstpointer settings)
{
  BraidProxyService *service = data;
  const BraidProxyDaemonSettings *s = settings;
  gboolean shared = g_str_equal (service->cache_kind, "memcached");

  g_autofree gchar *allowed = s->allow != NULL ? g_strjoinv (",", s->allow) : g_strdup ("none");

  return g_strdup_printf ("cache: %s%s%s%s; upstream allow rules: %s", service->cache_kind, shared ? " " : "",
                          shared ? s->memcached : "",
                          braid_proxy_get_settings (service->proxy)->cache_secret != NULL ? ", signed" : "",
                          allowed);
}

const BraidDaemonService braid_proxy_service = {
  .settings = &braid_proxy_settings_table,
  .version_line = "braid-proxy " PACKAGE_VERSION,
  .service_new = service_new,
  .service_free = (GDestroyNotify) braid_proxy_service_free,
  .get_endpoints = get_endpoints,
  .create_factory = create_factory,
  .is_busy = is_busy,
  .apply = apply,
  .describe = describe,
  .get_max_connections = get_max_connections,
  .close_idle = close_idle,
};
