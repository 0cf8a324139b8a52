/* braid-memcached: settings table and server. */
#include "memcached-daemon.h"
#include "tls-transport-private.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MC(field) G_STRUCT_OFFSET (BraidMemcachedSettings, field)

/* memcached's -o takes dozens of suboptions; braid-memcached the TLS
 * ones it implements.  Others are refused, as memcached refuses a
 * suboption it does not know, rather than ignored. */
static const gchar *const extended_keys[] = { "ssl_chain_cert", "ssl_key" };

static gboolean
check_extended (const gchar *value, gchar **why)
{
  g_auto(GStrv) items = g_strsplit (value, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      const gchar *eq = strchr (items[i], '=');
      gboolean known = FALSE;

      if (items[i][0] == '\0')
        continue;
      for (gsize k = 0; eq != NULL && k < G_N_ELEMENTS (extended_keys); k++)
        known |= strlen (extended_keys[k]) == (gsize) (eq - items[i]) &&
                 strncmp (items[i], extended_keys[k], (gsize) (eq - items[i])) == 0;
      if (!known)
        {
          *why = g_strdup_printf ("“%s” is not a suboption braid-memcached supports "
                                  "(ssl_chain_cert=FILE, ssl_key=FILE)", items[i]);
          return FALSE;
        }
      if (eq[1] == '\0')
        {
          *why = g_strdup_printf ("“%s” has no value", items[i]);
          return FALSE;
        }
    }
  return TRUE;
}

static const BraidSettingSpec memcached_specs[] = {
  { "port", 'p', "Server", "Port", BRAID_SETTING_INT, MC (port), 0, 65535, "11211", NULL, NULL,
    "TCP port, 0 to 65535 (default 11211)", "PORT" },
  { "listen-address", 'l', "Server", "Interface", BRAID_SETTING_STRING, MC (interface), 0, 0, NULL, NULL, NULL,
    "Interfaces to listen on, comma-separated (default all)", "ADDR" },
  { "conn-limit", 'c', "Server", "MaxConnections", BRAID_SETTING_INT, MC (max_connections), 1, 1000000, "1024",
    NULL, NULL, "Maximum simultaneous connections, 1 to 1000000 (default 1024)", "N" },
  { "enable-debugtime", 0, "Server", "EnableDebugTime", BRAID_SETTING_BOOLEAN, MC (debugtime), 0, 0, "false",
    "true", NULL, "Accept “debugtime N”, which moves the server clock N seconds (for tests)", NULL },
  { "enable-shutdown", 'A', "Server", "EnableShutdown", BRAID_SETTING_BOOLEAN, MC (shutdown), 0, 0, "false",
    "true", NULL, "Accept the “shutdown” command, which stops the server gracefully", NULL },
  { "memory-limit", 'm', "Cache", "MemoryMiB", BRAID_SETTING_INT, MC (memory_mib), 1, 1024 * 1024, "64", NULL,
    NULL, "Item memory in megabytes, 1 to 1048576 (default 64)", "MB" },
  { "max-item-size", 'I', "Cache", "MaxItemSize", BRAID_SETTING_SIZE, MC (item_size), 1024, 1024 * 1024 * 1024,
    "1m", NULL, NULL, "Largest item, such as 1m or 512k, 1k to 1024m (default 1m)", "SIZE" },
  { "disable-evictions", 'M', "Cache", "Evictions", BRAID_SETTING_BOOLEAN, MC (evictions), 0, 0, "true", "false",
    NULL, "Answer “SERVER_ERROR out of memory storing object” instead of evicting", NULL },
  { "disable-cas", 'C', NULL, NULL, BRAID_SETTING_BOOLEAN, MC (cas), 0, 0, "true", "false", NULL,
    "No cas values (items are 8 bytes smaller)", NULL },
  { "disable-flush-all", 'F', NULL, NULL, BRAID_SETTING_BOOLEAN, MC (flush), 0, 0, "true", "false", NULL,
    "Refuse flush_all", NULL },
  { "udp-port", 'U', NULL, NULL, BRAID_SETTING_INT, MC (udp_port), 0, 0, "0", NULL, NULL,
    "UDP port: only 0 (off) is supported", "0" },
  { "listen-backlog", 'b', "Server", "ListenBacklog", BRAID_SETTING_INT, MC (backlog), 1, 65535, "1024", NULL,
    NULL, "Listen backlog of the -p/-l sockets, 1 to 65535 (default 1024)", "N" },
  { "threads", 't', "Server", "Threads", BRAID_SETTING_INT, MC (threads), 0, 256, "0", NULL, NULL,
    "Reactor threads serving connections, 1 to 256 (0, the default: one per core)", "N" },
  { "user", 'u', NULL, NULL, BRAID_SETTING_STRING, MC (user), 0, 0, NULL, NULL, NULL,
    "As root, become USER once listening (not as root: ignored)", "USER" },
  { "enable-ssl", 'Z', "TLS", "Enabled", BRAID_SETTING_BOOLEAN, MC (ssl), 0, 0, "false", "true", NULL,
    "TCP listeners speak TLS (needs -o ssl_chain_cert=FILE)", NULL },
  { "extended", 'o', NULL, NULL, BRAID_SETTING_STRING_LIST, MC (extended), 0, 0, NULL, NULL, check_extended,
    "memcached's extended options, comma-separated: ssl_chain_cert=FILE (PEM certificate chain), "
    "ssl_key=FILE (PEM private key)", "OPTIONS" },
  { NULL, 0, "TLS", "CertificateChain", BRAID_SETTING_STRING, MC (ssl_chain_cert), 0, 0, NULL, NULL, NULL,
    "PEM certificate chain for -Z", NULL },
  { NULL, 0, "TLS", "Key", BRAID_SETTING_STRING, MC (ssl_key), 0, 0, NULL, NULL, NULL,
    "PEM private key for -Z", NULL },
};

/* -o wins over the file: its ssl_* values go into the fields the file
 * sets (the settings are still being built when this runs), then -Z is
 * checked for a certificate. */
static gboolean
validate (gconstpointer settings, GError **error)
{
  BraidMemcachedSettings *s = (BraidMemcachedSettings *) settings;

  for (gchar **o = s->extended; o != NULL && *o != NULL; o++)
    {
      g_auto(GStrv) items = g_strsplit (*o, ",", -1);

      for (guint i = 0; items[i] != NULL; i++)
        {
          gchar *eq = strchr (items[i], '=');

          if (eq == NULL)
            continue;
          *eq = '\0';
          if (g_str_equal (items[i], "ssl_chain_cert"))
            {
              g_free (s->ssl_chain_cert);
              s->ssl_chain_cert = g_strdup (eq + 1);
            }
          else if (g_str_equal (items[i], "ssl_key"))
            {
              g_free (s->ssl_key);
              s->ssl_key = g_strdup (eq + 1);
            }
        }
    }
  if (s->ssl && s->ssl_chain_cert == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "-Z/--enable-ssl needs a certificate: -o ssl_chain_cert=FILE,ssl_key=FILE");
      return FALSE;
    }
  /* A socket systemd passes cannot be wrapped: refuse rather than serve
   * it in the clear when TLS was asked for. */
  for (gchar **l = s->common.listen; s->ssl && l != NULL && *l != NULL; l++)
    {
      g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (*l, BRAID_ENDPOINT_ROLE_SERVER, NULL);

      if (ep != NULL && ep->kind == BRAID_ENDPOINT_KIND_SYSTEMD)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "-Z/--enable-ssl cannot wrap “%s” in TLS: listen with tls:PORT:certificate=FILE instead",
                       *l);
          return FALSE;
        }
    }
  return TRUE;
}

const BraidSettingsTable braid_memcached_settings_table = {
  .name = "braid-memcached",
  .parameter_string = "— a memcached-compatible cache server",
  .summary = "Speaks memcached 1.6's text protocol, with memcached's option names.\n"
             "Settings come from /etc/braid/braid-memcached.conf (or --config),\n"
             "and the command line overrides them.",
  .listen_short_name = 0,
  .specs = memcached_specs,
  .n_specs = G_N_ELEMENTS (memcached_specs),
  .settings_size = sizeof (BraidMemcachedSettings),
  .validate = validate,
};

G_STATIC_ASSERT (G_STRUCT_OFFSET (BraidMemcachedSettings, common) == 0);

/* "shutdown" with -A: as memcached, the server signals its own process,
 * and the daemon's SIGTERM handling stops it gracefully.  The connection
 * never reaches into the daemon. */
static void
shutdown_by_signal (gpointer data)
{
  kill (getpid (), SIGTERM);
}

void
braid_memcached_server_settings (const BraidMemcachedSettings *s, BraidMcServerSettings *out)
{
  BraidMcServerSettings defaults = BRAID_MC_SERVER_SETTINGS_INIT;

  *out = defaults;
  out->store.limit_bytes = (gsize) s->memory_mib << 20;
  out->store.evict = s->evictions;
  out->store.cas_enabled = s->cas;
  out->store.item_size_max = (gsize) s->item_size;
  out->max_connections = (guint) s->max_connections;
  out->debugtime = s->debugtime;
  out->flush_enabled = s->flush;
  out->verbosity = (gint) s->common.verbosity;
  out->threads = braid_memcached_threads (s);
  /* Threads contend per key, not per store: a lock per shard, several
   * shards per thread (the store lowers this when -m is too small for
   * each shard to hold an -I item). */
  out->store.n_shards = out->threads > 1 ? MAX (16, 4 * out->threads) : 1;
  out->tcp_backlog = (guint) s->backlog;
  out->shutdown_func = s->shutdown ? shutdown_by_signal : NULL;
  out->shutdown_data = NULL;
  out->ssl_enabled = s->ssl;
  out->ssl_chain_cert = s->ssl_chain_cert;
  out->ssl_key = s->ssl_key;
}

/* @value with `:` and `\` escaped for an endpoint string. */
static gchar *
escape_endpoint_value (const gchar *value)
{
  GString *out = g_string_new (NULL);

  for (const gchar *p = value; *p != '\0'; p++)
    {
      if (*p == ':' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

/* -Z: the tls: endpoint for tcp: endpoint @description, or a copy of
 * @description when it is not tcp:. */
static gchar *
with_tls (const BraidMemcachedSettings *s, const gchar *description)
{
  g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (description, BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autofree gchar *certificate = NULL;
  GString *out;

  if (!s->ssl || ep == NULL || ep->kind != BRAID_ENDPOINT_KIND_TCP)
    return g_strdup (description);
  certificate = escape_endpoint_value (s->ssl_chain_cert);
  out = g_string_new (NULL);
  g_string_append_printf (out, "tls:%u", ep->port);
  if (ep->host != NULL)
    {
      g_autofree gchar *host = escape_endpoint_value (ep->host);

      g_string_append_printf (out, ":interface=%s", host);
    }
  if (ep->backlog > 0)
    g_string_append_printf (out, ":backlog=%d", ep->backlog);
  g_string_append_printf (out, ":certificate=%s", certificate);
  if (s->ssl_key != NULL)
    {
      g_autofree gchar *key = escape_endpoint_value (s->ssl_key);

      g_string_append_printf (out, ":key=%s", key);
    }
  return g_string_free (out, FALSE);
}

guint
braid_memcached_threads (const BraidMemcachedSettings *s)
{
  return s->threads > 0 ? (guint) s->threads : MAX (g_get_num_processors (), 1);
}

gchar **
braid_memcached_endpoints (const BraidMemcachedSettings *s)
{
  GPtrArray *list = g_ptr_array_new ();
  g_auto(GStrv) interfaces = NULL;

  for (gchar **l = s->common.listen; l != NULL && *l != NULL; l++)
    g_ptr_array_add (list, with_tls (s, *l));
  if (list->len > 0)
    goto out;
  interfaces = g_strsplit (s->interface != NULL ? s->interface : "", ",", -1);
  for (guint i = 0; interfaces[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_strstrip (interfaces[i]), ":", -1);
      g_autofree gchar *escaped = g_strjoinv ("\\:", parts);

      if (*escaped != '\0')
        {
          g_autofree gchar *tcp = g_strdup_printf ("tcp:%" G_GINT64_FORMAT ":interface=%s:backlog=%" G_GINT64_FORMAT,
                                                   s->port, escaped, s->backlog);

          g_ptr_array_add (list, with_tls (s, tcp));
        }
    }
  if (list->len == 0)
    {
      g_autofree gchar *tcp = g_strdup_printf ("tcp:%" G_GINT64_FORMAT ":backlog=%" G_GINT64_FORMAT, s->port,
                                               s->backlog);

      g_ptr_array_add (list, with_tls (s, tcp));
    }
out:
  g_ptr_array_add (list, NULL);
  return (gchar **) g_ptr_array_free (list, FALSE);
}

static guint64
get_handshake_errors (gpointer reactor)
{
  return braid_tls_get_n_handshake_failures (reactor);
}

static gpointer
server_new (BraidReactor *reactor, gconstpointer settings, GError **error)
{
  BraidMcServerSettings server_settings;

  braid_memcached_server_settings (settings, &server_settings);
  /* The reactor outlives the server; its tls: listeners count handshake
   * failures. */
  server_settings.ssl_handshake_errors_func = get_handshake_errors;
  server_settings.ssl_handshake_errors_data = reactor;
  return braid_mc_server_new (reactor, &server_settings);
}

static gchar **
get_endpoints (gconstpointer settings)
{
  return braid_memcached_endpoints (settings);
}

static BraidProtocolFactory *
create_factory (gpointer server)
{
  return braid_mc_server_create_factory (server);
}

static gboolean
is_busy (gpointer server)
{
  return braid_mc_server_is_busy (server);
}

/* What SIGHUP changes live: the memory limit and the verbosity. */
static gchar *
apply (gpointer server, gconstpointer settings)
{
  const BraidMemcachedSettings *s = settings;
  const BraidMcServerSettings *now = braid_mc_server_get_settings (server);
  gsize old_limit = now->store.limit_bytes;
  gint old_verbosity = now->verbosity;

  braid_mc_server_set_memory_limit (server, (gsize) s->memory_mib << 20);
  braid_mc_server_set_verbosity (server, (gint) s->common.verbosity);
  return g_strdup_printf ("memory limit %" G_GINT64_FORMAT " MiB (was %" G_GSIZE_FORMAT "), verbosity %d (was %d); "
                          "listeners and other settings need a restart",
                          s->memory_mib, old_limit >> 20, (gint) s->common.verbosity, old_verbosity);
}

static gchar *
describe (gpointer server, gconstpointer settings)
{
  const BraidMemcachedSettings *s = settings;

  return g_strdup_printf ("%" G_GINT64_FORMAT " MiB, items up to %" G_GINT64_FORMAT " bytes",
                          s->memory_mib, s->item_size);
}

static guint64
get_max_connections (gconstpointer settings)
{
  return (guint64) ((const BraidMemcachedSettings *) settings)->max_connections;
}

static guint
get_threads (gconstpointer settings)
{
  return braid_memcached_threads (settings);
}

static const gchar *
get_user (gconstpointer settings)
{
  return ((const BraidMemcachedSettings *) settings)->user;
}

const BraidDaemonService braid_memcached_service = {
  .settings = &braid_memcached_settings_table,
  .version_line = "braid-memcached " PACKAGE_VERSION " (memcached 1.6 text protocol)",
  .service_new = server_new,
  .service_free = g_object_unref,
  .get_endpoints = get_endpoints,
  .create_factory = create_factory,
  .is_busy = is_busy,
  .apply = apply,
  .describe = describe,
  .get_max_connections = get_max_connections,
  .get_user = get_user,
  .get_threads = get_threads,
};
