/* braid — what braid-proxy is configured with, and what it counts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gsize max_line;               /* longest request line (default 8192) */
  gsize max_body;               /* larger bodies are cut off (default 64 MiB) */
  gint64 cache_timeout_us;      /* a lookup slower than this is skipped (100 ms) */
  gint64 ttl_s;                 /* cached bodies live this long (300 s) */
  gsize client_buffer_limit;    /* pause upstream reading above this (256 KiB) */
  gsize read_chunk;             /* upstream read size (64 KiB) */
  GBytes *cache_secret;         /* (nullable): sign and verify cache entries (cache-mac.h); NULL: don't.
                                 * braid_proxy_new() keeps its own reference. */
  gint64 request_timeout_us;    /* a client has this long to send its whole line (10 s; 0: no limit) */
  gint64 fetch_timeout_us;      /* deadline for a whole upstream fetch, headers and body (30 s; 0: none) */
  guint max_connections;        /* client connections at once; the next is closed (1024; 0: no limit) */
  guint max_flights;            /* upstream fetches at once; more are refused (1024) */
  gsize max_buffered;           /* body bytes held across flights; new fetches refused above (256 MiB) */
  gint64 client_write_timeout_us;  /* a client whose backlog does not shrink for this long is cut off (30 s; 0: never) */
} BraidProxySettings;

#define BRAID_PROXY_SETTINGS_INIT { 8192, 64 * 1024 * 1024, 100 * 1000, 300, 256 * 1024, 64 * 1024, NULL, \
                                    10 * G_USEC_PER_SEC, 30 * G_USEC_PER_SEC, 1024, \
                                    1024, 256 * 1024 * 1024, 30 * G_USEC_PER_SEC }

typedef struct {
  guint64 requests, hits, misses, shared, bypass, bad_requests, upstream_fetches, upstream_errors, too_large;
  guint64 refused;              /* fetches the address policy refused */
  guint in_flight;              /* requests not yet finished */
  guint64 not_stored;           /* complete 2xx bodies the cache policy kept out of the cache */
  guint64 stored;               /* bodies the cache took (its store finished and said so) */
  guint64 mac_rejects;          /* cache entries refused (treated as misses): MAC missing or wrong */
  guint64 bytes;                /* body bytes written to clients */
  guint flights;                /* upstream fetches in the air */
  guint64 clients_detached;     /* clients that went away before their body was whole */
  guint64 request_timeouts;     /* clients closed for not sending a whole line in time */
  guint64 fetch_timeouts;       /* upstream fetches cancelled at the overall deadline */
  guint64 rejected_connections; /* connections closed over max_connections */
  guint connections;            /* client connections open now */
  guint64 over_capacity;        /* requests refused: max_flights or max_buffered reached */
  guint64 slow_clients;         /* clients cut off: too far behind, or no progress in client_write_timeout */
  guint64 abandoned;            /* fetches cancelled: every client left and nothing was to be cached */
  guint64 buffered;             /* body bytes the flights hold now (each chunk counted once) */
} BraidProxyStats;

/* (transfer full): @stats as memcached's stats reply, "STAT name value\r\n"
 * for each counter, then "END\r\n": what a "stats" request line gets. */
gchar *braid_proxy_stats_format (const BraidProxyStats *stats);

G_END_DECLS
