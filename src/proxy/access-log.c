/* braid — the proxy's access log.
 *
 * One entry per request, so it is on every cache hit's path: the fields
 * are formatted into stack buffers with plain copies (no printf, no heap
 * unless the line is long) and handed to g_log_structured_array()
 * already made, with the PRIORITY and GLIB_DOMAIN g_log_structured()
 * would add. */
#include "access-log-private.h"

#include <string.h>

/* g_log_structured()'s PRIORITY for G_LOG_LEVEL_MESSAGE (syslog notice). */
#define MESSAGE_PRIORITY "5"
/* Digits of the largest guint64, and a NUL. */
#define UINT_TEXT_SIZE 21
/* A line up to this long is built on the stack. */
#define MESSAGE_STACK_SIZE 1024

/* Where the userinfo ("user:password@") of @url's authority is: its
 * start in *@authority and the "@" that ends it in *@at; FALSE if it has
 * none.  Works on the text, so that lines that are not valid URLs are
 * redacted too. */
static gboolean
find_userinfo (const gchar *url, const gchar **authority, const gchar **at)
{
  const gchar *scheme_end, *first_slash;

  /* Most URLs have no "@" at all: one fast scan instead of four. */
  if (strchr (url, '@') == NULL)
    {
      *authority = url;
      *at = NULL;
      return FALSE;
    }
  scheme_end = strstr (url, "://");
  first_slash = strchr (url, '/');
  *authority = url;
  /* "://" after the first "/" is in the path, not after a scheme. */
  if (scheme_end != NULL && (first_slash == NULL || first_slash > scheme_end))
    *authority = scheme_end + 3;
  *at = g_strrstr_len (*authority, (gssize) strcspn (*authority, "/?#"), "@");
  return *at != NULL;
}

gchar *
braid_proxy_access_log_redact_url (const gchar *url)
{
  const gchar *authority, *at;

  if (!find_userinfo (url, &authority, &at))
    return g_strdup (url);
  return g_strdup_printf ("%.*s***%s", (int) (authority - url), url, at);
}

/* @value in decimal into @text (UINT_TEXT_SIZE bytes); returns @text. */
static const gchar *
uint_text (guint64 value, gchar text[UINT_TEXT_SIZE])
{
  gchar *p = text + UINT_TEXT_SIZE - 1;

  *p = '\0';
  do
    {
      *--p = (gchar) ('0' + value % 10);
      value /= 10;
    }
  while (value > 0);
  return memmove (text, p, (gsize) (text + UINT_TEXT_SIZE - p));
}

/* "MS.D": milliseconds with one decimal, truncated. */
static const gchar *
duration_text (gint64 duration_us, gchar text[UINT_TEXT_SIZE + 2])
{
  gint64 ms10 = duration_us / 100;
  gsize len;

  if (ms10 < 0)  /* a clock that went back: printed as it always was */
    {
      g_snprintf (text, UINT_TEXT_SIZE + 2, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, ms10 / 10, ms10 % 10);
      return text;
    }
  uint_text ((guint64) (ms10 / 10), text);
  len = strlen (text);
  text[len] = '.';
  text[len + 1] = (gchar) ('0' + ms10 % 10);
  text[len + 2] = '\0';
  return text;
}

/* "URL STATUS BYTES bytes cache=CACHE MS ms[ PROBLEM]" into @buffer of
 * @size bytes, or into a new string in *@allocated when it is longer. */
static const gchar *
message_text (gchar *buffer, gsize size, gchar **allocated, const gchar *const parts[], gsize n_parts)
{
  gsize len = 0;
  gchar *out;

  for (gsize i = 0; i < n_parts; i++)
    len += strlen (parts[i]);
  out = len < size ? buffer : (*allocated = g_malloc (len + 1));
  for (gsize i = 0, at = 0; i < n_parts; i++)
    {
      gsize part_len = strlen (parts[i]);

      memcpy (out + at, parts[i], part_len);
      at += part_len;
    }
  out[len] = '\0';
  return out;
}

/* @url as logged: itself, or its redacted copy in *@redacted. */
static const gchar *
logged_url (const gchar *url, gchar **redacted)
{
  const gchar *authority, *at;

  if (url == NULL)
    return "-";
  if (!find_userinfo (url, &authority, &at))
    return url;
  *redacted = braid_proxy_access_log_redact_url (url);
  return *redacted;
}

void
braid_proxy_access_log_write (const BraidProxyAccessLogEntry *entry)
{
  gchar status[UINT_TEXT_SIZE], bytes[UINT_TEXT_SIZE], duration[UINT_TEXT_SIZE + 2];
  gchar message_buffer[MESSAGE_STACK_SIZE];
  g_autofree gchar *redacted = NULL;
  g_autofree gchar *message_allocated = NULL;
  const gchar *url, *cache, *message;

  g_return_if_fail (entry != NULL);

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_MESSAGE, G_LOG_DOMAIN))
    return;
  url = logged_url (entry->url, &redacted);
  cache = entry->cache != NULL ? entry->cache : "bypass";
  uint_text (entry->status, status);
  uint_text (entry->bytes, bytes);
  duration_text (entry->duration_us, duration);
  {
    const gchar *const parts[] = {
      url, " ", status, " ", bytes, " bytes cache=", cache, " ", duration, " ms",
      entry->problem != NULL ? " " : "", entry->problem != NULL ? entry->problem : "",
    };

    message = message_text (message_buffer, sizeof message_buffer, &message_allocated, parts, G_N_ELEMENTS (parts));
  }
  {
    const GLogField fields[] = {
      { "MESSAGE", message, -1 },
      { "PRIORITY", MESSAGE_PRIORITY, -1 },
      { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
      { "MESSAGE_ID", BRAID_PROXY_ACCESS_LOG_MESSAGE_ID, -1 },
      { "URL", url, -1 },
      { "STATUS", status, -1 },
      { "BYTES", bytes, -1 },
      { "CACHE", cache, -1 },
      { "DURATION_MS", duration, -1 },
    };

    g_log_structured_array (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields));
  }
}
