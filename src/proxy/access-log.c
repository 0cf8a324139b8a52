/* braid — the proxy's access log. */
#include "access-log-private.h"

#include <string.h>

gchar *
braid_proxy_access_log_redact_url (const gchar *url)
{
  const gchar *scheme_end = strstr (url, "://");
  const gchar *authority = url;
  const gchar *at;
  gsize authority_len;

  /* "://" after the first "/" is in the path, not after a scheme. */
  if (scheme_end != NULL && (strchr (url, '/') == NULL || strchr (url, '/') > scheme_end))
    authority = scheme_end + 3;
  authority_len = strcspn (authority, "/?#");
  at = g_strrstr_len (authority, (gssize) authority_len, "@");
  if (at == NULL)
    return g_strdup (url);
  return g_strdup_printf ("%.*s***%s", (int) (authority - url), url, at);
}

void
braid_proxy_access_log_write (const BraidProxyAccessLogEntry *entry)
{
  g_autofree gchar *status = NULL;
  g_autofree gchar *bytes = NULL;
  g_autofree gchar *duration = NULL;
  g_autofree gchar *url = NULL;
  const gchar *cache;
  gint64 ms10;

  g_return_if_fail (entry != NULL);

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_MESSAGE, G_LOG_DOMAIN))
    return;
  ms10 = entry->duration_us / 100;
  status = g_strdup_printf ("%u", entry->status);
  bytes = g_strdup_printf ("%" G_GSIZE_FORMAT, entry->bytes);
  duration = g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, ms10 / 10, ms10 % 10);
  url = braid_proxy_access_log_redact_url (entry->url != NULL ? entry->url : "-");
  cache = entry->cache != NULL ? entry->cache : "bypass";
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
                    "MESSAGE_ID", BRAID_PROXY_ACCESS_LOG_MESSAGE_ID,
                    "URL", url,
                    "STATUS", status,
                    "BYTES", bytes,
                    "CACHE", cache,
                    "DURATION_MS", duration,
                    "MESSAGE", "%s %s %s bytes cache=%s %s ms%s%s", url, status, bytes, cache, duration,
                    entry->problem != NULL ? " " : "", entry->problem != NULL ? entry->problem : "");
}
