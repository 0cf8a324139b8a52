/* braid — whether, and how long, a shared cache may keep a response
 * (RFC 9111, the rules for a shared cache keyed by URL alone).
 *
 * Sans-IO: a pure function of the status, the response's cache-relevant
 * header fields and the proxy's TTL ceiling; no clock is read (freshness
 * from Expires is counted from the response's own Date). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The response header fields the policy reads (lower case): a fetcher
 * hands at least these over (fetcher.h). */
#define BRAID_CACHE_POLICY_HEADERS "cache-control", "pragma", "expires", "date", "age", "set-cookie", "vary"

/* Decides whether a response with @status and @headers ((nullable): field
 * name in lower case → value, repeated fields joined with ", ") may be
 * stored in the proxy's shared cache, and for how long.
 *
 * @ttl_ceiling_s is --ttl: the longest anything is kept, and the lifetime
 * of a response that states none; 0 for no ceiling.
 *
 * Returns TRUE and sets @ttl_s to the seconds to keep it (at most 30
 * days, which memcached would read as a date; 0 only when
 * @ttl_ceiling_s is 0 and the response states no lifetime: until
 * evicted), or FALSE and sets @why_not ((out) (optional)) to a static
 * string saying why not. */
gboolean braid_cache_policy_decide (guint status, GHashTable *headers, gint64 ttl_ceiling_s,
                                    gint64 *ttl_s, const gchar **why_not);

/* The seconds since the epoch of an HTTP-date (IMF-fixdate, RFC 850 or
 * asctime form, RFC 9110 section 5.6.7), or -1 if @text is none. */
gint64 braid_cache_policy_parse_http_date (const gchar *text);

G_END_DECLS
