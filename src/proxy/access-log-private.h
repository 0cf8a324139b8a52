/* braid — the proxy's access log: one structured entry per request.
 * Private: not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The MESSAGE_ID of every access log entry (journalctl MESSAGE_ID=…). */
#define BRAID_PROXY_ACCESS_LOG_MESSAGE_ID "5b7d0e9a2c4f4e1b8a6d3f2e1c0b9a87"

/* One finished request.  The strings are borrowed for the call. */
typedef struct {
  const gchar *url;        /* (nullable): logged as "-" when the line was not read;
                            * its userinfo is redacted */
  guint status;            /* HTTP status given to the client (400, 502, …) */
  gsize bytes;             /* body bytes written to the client */
  const gchar *cache;      /* (nullable): hit, miss, shared or bypass; NULL logs "bypass" */
  gint64 duration_us;      /* from connection to the end */
  const gchar *problem;    /* (nullable): why the request failed or was cut off */
} BraidProxyAccessLogEntry;

/* Logs @entry as one g_log_structured() call at G_LOG_LEVEL_MESSAGE in
 * G_LOG_DOMAIN, with the fields MESSAGE_ID, URL, STATUS, BYTES, CACHE and
 * DURATION_MS (milliseconds, one decimal) and a one-line MESSAGE; nothing
 * is formatted when the default writer would drop it.  The URL is logged
 * as braid_proxy_access_log_redact_url() gives it. */
void braid_proxy_access_log_write (const BraidProxyAccessLogEntry *entry);

/* (transfer full): @url with the userinfo of its authority ("user:password@")
 * replaced by "***@", so that credentials never reach a log.  Works on the
 * text, so that lines that are not valid URLs are redacted too; the rest
 * is unchanged. */
gchar *braid_proxy_access_log_redact_url (const gchar *url);

G_END_DECLS
