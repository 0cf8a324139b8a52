/* braid-proxy as a BraidDaemonService: its settings table and how the
 * fetcher, the cache and the proxy are built from them.  braid-proxy.c's
 * main() only hands this to braid_daemon_main(); tests build the same
 * service around a fake fetcher. */
#pragma once

#include "daemon.h"
#include "address-policy.h"
#include "fetcher.h"
#include "proxy.h"

G_BEGIN_DECLS

typedef struct {
  BraidDaemonCommonSettings common;
  gchar *memcached;            /* -m: shared cache servers (nullable) */
  gboolean cache_enabled;      /* FALSE with --no-cache */
  gint64 cache_mib;            /* --cache-size */
  gint64 ttl_s;                /* --ttl */
  gint64 cache_timeout_ms;     /* --cache-timeout */
  gint64 fetch_timeout_s;      /* --fetch-timeout */
  gint64 max_body_mib;         /* --max-body */
  gint64 max_conns;            /* --max-conns */
  gint64 max_conns_per_host;   /* --max-conns-per-host */
  gint64 fetch_threads;        /* --fetch-threads */
  gchar **allow;               /* --allow: address policy allow rules (nullable) */
  gchar **deny;                /* --deny: deny rules besides the built-in ranges (nullable) */
  gchar **allow_ports;         /* --allow-port: upstream ports (nullable: the policy's default) */
  gchar *cache_secret_file;    /* --cache-secret-file: signs cache entries (nullable) */
  gdouble request_timeout_s;   /* --request-timeout: for the whole request line (0: none) */
  gint64 conn_limit;           /* -c: client connections at once */
  gint64 max_flights;          /* --max-flights */
  gint64 max_buffered_mib;     /* --max-buffered */
  gint64 client_write_timeout_s;  /* --client-write-timeout */
} BraidProxyDaemonSettings;

typedef struct _BraidProxyService BraidProxyService;

/* Where braid-proxy listens without --listen. */
#define BRAID_PROXY_DAEMON_DEFAULT_LISTEN "tcp:8000:interface=127.0.0.1"

extern const BraidSettingsTable braid_proxy_settings_table;
extern const BraidDaemonService braid_proxy_service;

/* (transfer full): the address policy the settings describe (their rules
 * were checked when read). */
BraidAddressPolicy *braid_proxy_daemon_address_policy_new (const BraidProxyDaemonSettings *settings);
/* (transfer full): the libsoup fetcher, with the upstream limits and the
 * address policy. */
BraidFetcher *braid_proxy_daemon_fetcher_new (const BraidProxyDaemonSettings *settings);
/* (nullable): the upstream proxies that @envp names (http_proxy,
 * https_proxy or HTTPS_PROXY, no_proxy or NO_PROXY; never HTTP_PROXY,
 * which CGI fills from a request header), or NULL when it names none. */
GProxyResolver *braid_proxy_daemon_proxy_resolver_new (const gchar *const *envp);
/* (transfer full) (nullable): the shared memcached cache, the memory cache
 * or none (NULL, no error).  @kind says which. */
BraidCache *braid_proxy_daemon_cache_new (BraidReactor *reactor, const BraidProxyDaemonSettings *settings,
                                          const gchar **kind, GError **error);
/* (transfer full): the secret in @path: its contents without the
 * trailing newline, at least 16 bytes; NULL and @error otherwise. */
GBytes *braid_proxy_daemon_read_cache_secret (const gchar *path, GError **error);
/* The service around @fetcher (a new reference is kept). */
BraidProxyService *braid_proxy_service_new (BraidReactor *reactor, const BraidProxyDaemonSettings *settings,
                                            BraidFetcher *fetcher, GError **error);
void braid_proxy_service_free (BraidProxyService *service);
/* (transfer none) */
BraidProxy *braid_proxy_service_get_proxy (BraidProxyService *service);

G_END_DECLS
