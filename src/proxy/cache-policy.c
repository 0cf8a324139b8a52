/* braid — the shared cache's storage rules (RFC 9111, sections 3, 4.2 and
 * 5.2.2), for a cache that keys by URL alone and cannot revalidate:
 *
 * - only 2xx responses are stored (the proxy's rule before there was a
 *   policy; the caller also refuses truncated bodies);
 * - not stored: Cache-Control no-store, private (with or without field
 *   names) or no-cache (with or without field names: it would need
 *   revalidation, which the proxy does not do); Pragma: no-cache when
 *   there is no Cache-Control; any Set-Cookie; any Vary (a cache keyed by
 *   URL alone cannot tell the variants apart, Vary: * included);
 * - the lifetime is s-maxage, else max-age, else Expires − Date, else the
 *   ceiling (--ttl, heuristic freshness); minus Age; at most the ceiling
 *   and at most 30 days;
 *   a response already stale (lifetime ≤ 0, an invalid max-age or Expires,
 *   an Expires without a Date to count from) is not stored;
 * - public changes nothing here: a 2xx response is storable without it,
 *   and the proxy never sends Authorization.
 *
 * When a directive appears twice, the first occurrence is used (RFC 9111
 * section 4.2.1). */
#include "cache-policy.h"

#include <stdio.h>
#include <string.h>

/* RFC 9111 section 1.2.2: delta-seconds too large are 2^31. */
#define DELTA_SECONDS_MAX G_GINT64_CONSTANT (2147483648)

/* The longest a body is kept whatever the ceiling: memcached reads an
 * expiry time over 30 days as a date. */
#define TTL_MAX G_GINT64_CONSTANT (2592000)

#define ABSENT (-1)
#define INVALID (-2)

typedef struct {
  gboolean no_store;
  gboolean no_cache;
  gboolean private_;
  gint64 max_age;    /* ABSENT, INVALID or seconds */
  gint64 s_maxage;   /* ABSENT, INVALID or seconds */
} Directives;

/* delta-seconds = 1*DIGIT; INVALID otherwise. */
static gint64
parse_delta_seconds (const gchar *text, gsize len)
{
  gint64 value = 0;

  if (len == 0)
    return INVALID;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return INVALID;
      value = MIN (value * 10 + (text[i] - '0'), DELTA_SECONDS_MAX);
    }
  return value;
}

static gboolean
is_name (const gchar *name, gsize len, const gchar *expected)
{
  return strlen (expected) == len && g_ascii_strncasecmp (name, expected, len) == 0;
}

/* One directive: @name (not NUL-terminated) and its @value ((nullable):
 * unquoted). */
static void
directive (Directives *d, const gchar *name, gsize name_len, const gchar *value, gsize value_len)
{
  if (is_name (name, name_len, "no-store"))
    d->no_store = TRUE;
  else if (is_name (name, name_len, "no-cache"))
    d->no_cache = TRUE;
  else if (is_name (name, name_len, "private"))
    d->private_ = TRUE;
  else if (is_name (name, name_len, "max-age") && d->max_age == ABSENT)
    d->max_age = value != NULL ? parse_delta_seconds (value, value_len) : INVALID;
  else if (is_name (name, name_len, "s-maxage") && d->s_maxage == ABSENT)
    d->s_maxage = value != NULL ? parse_delta_seconds (value, value_len) : INVALID;
}

/* Cache-Control = #cache-directive; cache-directive = token [ "=" ( token
 * / quoted-string ) ].  Tolerant: what is not a directive is skipped up
 * to the next comma outside quotes. */
static void
parse_directives (const gchar *text, Directives *d)
{
  const gchar *p = text;

  while (*p != '\0')
    {
      const gchar *name, *value = NULL;
      gsize name_len, value_len = 0;
      g_autofree gchar *unquoted = NULL;

      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
      if (*p == '\0')
        break;
      name = p;
      while (*p != '\0' && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
        p++;
      name_len = (gsize) (p - name);
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '=')
        {
          p++;
          while (*p == ' ' || *p == '\t')
            p++;
          if (*p == '"')
            {
              GString *s = g_string_new (NULL);

              for (p++; *p != '\0' && *p != '"'; p++)
                {
                  if (*p == '\\' && p[1] != '\0')
                    p++;
                  g_string_append_c (s, *p);
                }
              if (*p == '"')
                p++;
              value_len = s->len;
              unquoted = g_string_free (s, FALSE);
              value = unquoted;
            }
          else
            {
              value = p;
              while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
              value_len = (gsize) (p - value);
            }
        }
      directive (d, name, name_len, value, value_len);
      /* Skip whatever is left of this element. */
      while (*p != '\0' && *p != ',')
        p++;
    }
}

static const gchar *
header (GHashTable *headers, const gchar *name)
{
  return headers != NULL ? g_hash_table_lookup (headers, name) : NULL;
}

static gboolean
is_blank (const gchar *text)
{
  for (; *text != '\0'; text++)
    if (*text != ' ' && *text != '\t' && *text != ',')
      return FALSE;
  return TRUE;
}

static gint
month_number (const gchar *name)
{
  static const gchar *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

  for (gint i = 0; i < 12; i++)
    if (strcmp (name, months[i]) == 0)
      return i + 1;
  return 0;
}

gint64
braid_cache_policy_parse_http_date (const gchar *text)
{
  gchar month[4] = "", zone[4] = "";
  gint day, year, hour, minute, second, used = -1;
  g_autoptr(GDateTime) when = NULL;

  g_return_val_if_fail (text != NULL, -1);

  while (*text == ' ' || *text == '\t')
    text++;
  /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
  if (sscanf (text, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", &day, month, &year, &hour, &minute,
              &second, zone, &used) == 7 && used > 0)
    ;
  /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
  else if (sscanf (text, "%*9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d %3[A-Z]%n", &day, month, &year, &hour,
                   &minute, &second, zone, &used) == 7 && used > 0)
    year += year < 70 ? 2000 : 1900;
  /* asctime: Sun Nov  6 08:49:37 1994 */
  else if (sscanf (text, "%*3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", month, &day, &hour, &minute, &second,
                   &year, &used) == 6 && used > 0)
    strcpy (zone, "GMT");
  else
    return -1;
  for (text += used; *text == ' ' || *text == '\t'; text++)
    ;
  if (*text != '\0' || strcmp (zone, "GMT") != 0 || month_number (month) == 0 || second > 60)
    return -1;
  when = g_date_time_new_utc (year, month_number (month), day, hour, minute, MIN (second, 59));
  return when != NULL ? g_date_time_to_unix (when) : -1;
}

/* The freshness lifetime the response states (RFC 9111 section 4.2.1),
 * ABSENT if none, or ≤ 0 (stale) when what it states is invalid. */
static gint64
stated_lifetime (const Directives *d, GHashTable *headers, const gchar **why)
{
  const gchar *expires = header (headers, "expires");
  const gchar *date_text = header (headers, "date");
  gint64 expires_s, date_s;

  /* s-maxage wins for a shared cache (section 5.2.2.10). */
  if (d->s_maxage != ABSENT)
    {
      *why = d->s_maxage == INVALID ? "invalid s-maxage" : "s-maxage=0";
      return MAX (d->s_maxage, 0);
    }
  if (d->max_age != ABSENT)
    {
      *why = d->max_age == INVALID ? "invalid max-age" : "max-age=0";
      return MAX (d->max_age, 0);
    }
  if (expires == NULL)
    return ABSENT;
  expires_s = braid_cache_policy_parse_http_date (expires);
  if (expires_s < 0)
    {
      *why = "invalid Expires (already expired)";
      return 0;
    }
  date_s = date_text != NULL ? braid_cache_policy_parse_http_date (date_text) : -1;
  if (date_s < 0)
    {
      /* Without the origin's Date the proxy would need a wall clock. */
      *why = "Expires without a valid Date";
      return 0;
    }
  *why = "Expires not after Date";
  return MAX (expires_s - date_s, 0);
}

gboolean
braid_cache_policy_decide (guint status, GHashTable *headers, gint64 ttl_ceiling_s, gint64 *ttl_s,
                           const gchar **why_not)
{
  Directives d = { FALSE, FALSE, FALSE, ABSENT, ABSENT };
  const gchar *cache_control = header (headers, "cache-control");
  const gchar *pragma = header (headers, "pragma");
  const gchar *vary = header (headers, "vary");
  const gchar *age_text = header (headers, "age");
  const gchar *why = NULL;
  const gchar *ignored;
  gint64 lifetime;

  g_return_val_if_fail (ttl_s != NULL, FALSE);
  g_return_val_if_fail (ttl_ceiling_s >= 0, FALSE);

  if (why_not == NULL)
    why_not = &ignored;
  *why_not = NULL;
  *ttl_s = 0;
  if (status < 200 || status > 299)
    {
      *why_not = "not a 2xx status";
      return FALSE;
    }
  if (cache_control != NULL)
    parse_directives (cache_control, &d);
  else if (pragma != NULL)
    {
      Directives p = { FALSE, FALSE, FALSE, ABSENT, ABSENT };

      parse_directives (pragma, &p);
      if (p.no_cache)
        {
          *why_not = "Pragma: no-cache";
          return FALSE;
        }
    }
  if (d.no_store)
    *why_not = "Cache-Control: no-store";
  else if (d.private_)
    *why_not = "Cache-Control: private";
  else if (d.no_cache)
    *why_not = "Cache-Control: no-cache (no revalidation)";
  else if (header (headers, "set-cookie") != NULL)
    *why_not = "Set-Cookie";
  else if (vary != NULL && !is_blank (vary))
    *why_not = "Vary";
  if (*why_not != NULL)
    return FALSE;

  lifetime = stated_lifetime (&d, headers, &why);
  if (lifetime == ABSENT)
    {
      /* Heuristic freshness: --ttl, as before there was a policy. */
      *ttl_s = ttl_ceiling_s;
      return TRUE;
    }
  if (lifetime > 0 && age_text != NULL)
    {
      gint64 age = parse_delta_seconds (age_text, strlen (age_text));

      if (age > 0)
        lifetime -= age;
      if (lifetime <= 0)
        why = "Age not below the lifetime";
    }
  if (lifetime <= 0)
    {
      *why_not = why;
      return FALSE;
    }
  if (ttl_ceiling_s > 0)
    lifetime = MIN (lifetime, ttl_ceiling_s);
  lifetime = MIN (lifetime, TTL_MAX);
  *ttl_s = lifetime;
  return TRUE;
}
