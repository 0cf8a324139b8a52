/* braid-memcached as a BraidDaemonService: its settings table (memcached's
 * option names, the [Server]/[Cache] file keys) and how a BraidMcServer is
 * built from them.  braid-memcached.c's main() only hands this to
 * braid_daemon_main(); tests build the same daemon on a fake reactor. */
#pragma once

#include "daemon.h"
#include "mc-server.h"

G_BEGIN_DECLS

typedef struct {
  BraidDaemonCommonSettings common;
  gint64 port;            /* -p */
  gchar *interface;       /* -l */
  gint64 memory_mib;      /* -m */
  gboolean evictions;     /* FALSE with -M */
  gint64 item_size;       /* -I, bytes */
  gint64 max_connections; /* -c */
  gint64 udp_port;        /* -U: only 0 */
  gint64 threads;         /* -t; 0: one per core */
  gint64 backlog;         /* -b: listen backlog of the -p/-l endpoints */
  gboolean cas;           /* FALSE with -C */
  gboolean flush;         /* FALSE with -F */
  gchar *user;            /* -u: accepted */
  gboolean debugtime;     /* --enable-debugtime */
  gboolean shutdown;      /* -A, --enable-shutdown */
  gboolean ssl;           /* -Z, --enable-ssl: TCP listeners speak TLS */
  gchar **extended;       /* -o KEY=VALUE,...: only ssl_chain_cert and ssl_key */
  gchar *ssl_chain_cert;  /* [TLS] CertificateChain, or -o ssl_chain_cert= */
  gchar *ssl_key;         /* [TLS] Key, or -o ssl_key= */
} BraidMemcachedSettings;

extern const BraidSettingsTable braid_memcached_settings_table;
extern const BraidDaemonService braid_memcached_service;

/* The server's settings from the daemon's. */
void braid_memcached_server_settings (const BraidMemcachedSettings *settings, BraidMcServerSettings *out);
/* memcached's -p/-l as endpoint strings; --listen wins over both.  With
 * -Z every tcp: endpoint becomes tls: with the certificate and key.
 * (transfer full) */
gchar **braid_memcached_endpoints (const BraidMemcachedSettings *settings);
/* -t, with 0 read as the number of cores. */
guint braid_memcached_threads (const BraidMemcachedSettings *settings);

G_END_DECLS
