/* braid — the shared cache's policy as a table (status + header fields +
 * --ttl → store for N seconds, or not and why), HTTP-dates, and signed
 * cache entries (HMAC-SHA256). */
#include "test-support.h"
#include "cache-policy.h"
#include "cache-mac.h"

#include <string.h>

typedef struct {
  guint status;
  const gchar *headers;  /* (nullable): "name: value" lines separated by "\n" */
  gint64 ceiling;        /* --ttl */
  gboolean store;
  gint64 ttl;            /* when stored */
  const gchar *why;      /* (nullable): a part of why not */
} Case;

#define DATE "date: Sun, 06 Nov 1994 08:49:37 GMT"

static const Case cases[] = {
  /* No header fields: --ttl, as before there was a policy. */
  { 200, NULL, 300, TRUE, 300, NULL },
  { 204, "", 300, TRUE, 300, NULL },
  { 200, NULL, 0, TRUE, 0, NULL },
  /* Only 2xx. */
  { 301, NULL, 300, FALSE, 0, "2xx" },
  { 404, "cache-control: max-age=60", 300, FALSE, 0, "2xx" },
  { 500, NULL, 300, FALSE, 0, "2xx" },
  { 199, NULL, 300, FALSE, 0, "2xx" },
  /* Not storable. */
  { 200, "cache-control: no-store", 300, FALSE, 0, "no-store" },
  { 200, "cache-control: No-Store", 300, FALSE, 0, "no-store" },
  { 200, "cache-control: max-age=60, no-store", 300, FALSE, 0, "no-store" },
  { 200, "cache-control: private", 300, FALSE, 0, "private" },
  { 200, "cache-control: private=\"set-cookie\", max-age=60", 300, FALSE, 0, "private" },
  { 200, "cache-control: no-cache", 300, FALSE, 0, "no-cache" },
  { 200, "cache-control: no-cache=\"x-a, x-b\", max-age=60", 300, FALSE, 0, "no-cache" },
  { 200, "cache-control: no-store, private\nset-cookie: id=1", 300, FALSE, 0, "no-store" },
  { 200, "set-cookie: id=1", 300, FALSE, 0, "Set-Cookie" },
  { 200, "set-cookie: id=1\ncache-control: public, max-age=60", 300, FALSE, 0, "Set-Cookie" },
  { 200, "vary: accept-encoding", 300, FALSE, 0, "Vary" },
  { 200, "vary: *", 300, FALSE, 0, "Vary" },
  { 200, "vary: ", 300, TRUE, 300, NULL },
  { 200, "pragma: no-cache", 300, FALSE, 0, "Pragma" },
  /* Pragma is read only without Cache-Control. */
  { 200, "pragma: no-cache\ncache-control: max-age=60", 300, TRUE, 60, NULL },
  /* Quoted strings hide commas and directive names. */
  { 200, "cache-control: community=\"no-store, private\", max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: x-ext, max-age=60", 300, TRUE, 60, NULL },
  /* Lifetimes: s-maxage wins, then max-age, then Expires - Date; --ttl caps. */
  { 200, "cache-control: max-age=2", 300, TRUE, 2, NULL },
  { 200, "cache-control: public, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-age=\"60\"", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-age=3600", 300, TRUE, 300, NULL },
  { 200, "cache-control: max-age=3600", 0, TRUE, 3600, NULL },
  { 200, "cache-control: max-age=99999999999", 0, TRUE, 2592000, NULL },
  { 200, "cache-control: max-age=2592001", 0, TRUE, 2592000, NULL },
  { 200, "cache-control: max-age=10, s-maxage=20", 300, TRUE, 20, NULL },
  { 200, "cache-control: s-maxage=5, max-age=100", 300, TRUE, 5, NULL },
  { 200, "cache-control: s-maxage=0, max-age=100", 300, FALSE, 0, "s-maxage=0" },
  { 200, "cache-control: max-age=0", 300, FALSE, 0, "max-age=0" },
  { 200, "cache-control: max-age=0", 0, FALSE, 0, "max-age=0" },
  { 200, "cache-control: max-age=abc", 300, FALSE, 0, "invalid max-age" },
  { 200, "cache-control: max-age", 300, FALSE, 0, "invalid max-age" },
  { 200, "cache-control: max-age=-1", 300, FALSE, 0, "invalid max-age" },
  { 200, "cache-control: max-age=10, max-age=100", 300, TRUE, 10, NULL },
  { 200, "cache-control: must-revalidate, max-age=10", 300, TRUE, 10, NULL },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:50:37 GMT", 300, TRUE, 60, NULL },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 09:49:37 GMT", 300, TRUE, 300, NULL },
  { 200, DATE "\nexpires: Sunday, 06-Nov-94 08:50:37 GMT", 300, TRUE, 60, NULL },
  { 200, DATE "\nexpires: Sun Nov  6 08:50:37 1994", 300, TRUE, 60, NULL },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:49:37 GMT", 300, FALSE, 0, "Expires not after Date" },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:00:00 GMT", 300, FALSE, 0, "Expires not after Date" },
  { 200, DATE "\nexpires: 0", 300, FALSE, 0, "invalid Expires" },
  { 200, "expires: Sun, 06 Nov 1994 08:50:37 GMT", 300, FALSE, 0, "without a valid Date" },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:50:37 GMT\ncache-control: max-age=5", 300, TRUE, 5, NULL },
  /* Age counts against the lifetime. */
  { 200, "cache-control: max-age=60\nage: 20", 300, TRUE, 40, NULL },
  { 200, "cache-control: max-age=60\nage: 60", 300, FALSE, 0, "Age" },
  { 200, "cache-control: max-age=60\nage: junk", 300, TRUE, 60, NULL },
  { 200, "age: 1000", 300, TRUE, 300, NULL },
  { 200, "cache-control: max-age=60\nage: 59", 300, TRUE, 1, NULL },
  { 200, "cache-control: max-age=60\nage: 0", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-age=60\nage: 99999999999", 300, FALSE, 0, "Age" },
  /* A lifetime already 0 is refused for what it states, whatever the Age. */
  { 200, "cache-control: max-age=0\nage: 5", 300, FALSE, 0, "max-age=0" },
  { 200, "cache-control: s-maxage=0\nage: 5", 300, FALSE, 0, "s-maxage=0" },
  /* The edges of 2xx. */
  { 299, NULL, 300, TRUE, 300, NULL },
  { 300, NULL, 300, FALSE, 0, "2xx" },
  { 200, "cache-control: max-age=60", 300, TRUE, 60, NULL },
  /* A directive is named by its whole name, in any case: a longer or
   * shorter name is another (unknown) directive. */
  { 200, "cache-control: no-stores, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: no-stor, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: privately, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: no-caches, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-ages=5, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: s-maxages=5, max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: Max-Age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: S-MAXAGE=7, max-age=60", 300, TRUE, 7, NULL },
  { 200, "cache-control: PRIVATE", 300, FALSE, 0, "private" },
  { 200, "cache-control: No-Cache", 300, FALSE, 0, "no-cache" },
  /* s-maxage: the first one counts; without a valid value it is stale. */
  { 200, "cache-control: s-maxage=5, s-maxage=100", 300, TRUE, 5, NULL },
  { 200, "cache-control: s-maxage", 300, FALSE, 0, "invalid s-maxage" },
  { 200, "cache-control: s-maxage=x, max-age=60", 300, FALSE, 0, "invalid s-maxage" },
  { 200, "cache-control: max-age=, s-maxage=9", 300, TRUE, 9, NULL },
  { 200, "cache-control: max-age=", 300, FALSE, 0, "invalid max-age" },
  { 200, "cache-control: max-age=\"\"", 300, FALSE, 0, "invalid max-age" },
  { 200, "cache-control: max-age=6x0", 300, FALSE, 0, "invalid max-age" },
  /* Spaces and tabs around names, "=" and values; what follows a value
   * up to the next comma is skipped. */
  { 200, "cache-control: max-age = 60", 300, TRUE, 60, NULL },
  { 200, "cache-control: \t max-age=\t60\t, x", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-age=60 junk=1, no-store", 300, FALSE, 0, "no-store" },
  { 200, "cache-control: max-age=60 no-store", 300, TRUE, 60, NULL },
  { 200, "cache-control: ,, ,max-age=60,,", 300, TRUE, 60, NULL },
  { 200, "cache-control: x=\"a, b\" , no-store", 300, FALSE, 0, "no-store" },
  { 200, "cache-control: x=\"a, \\\"no-store\", max-age=60", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-age=\"6\\0\"", 300, TRUE, 60, NULL },
  { 200, "cache-control: max-age=\"60", 300, TRUE, 60, NULL },
  /* A backslash that ends the field escapes nothing: it is kept. */
  { 200, "cache-control: max-age=\"60\\", 300, FALSE, 0, "invalid max-age" },
  { 200, "cache-control: max-age=\"60\"x, no-store", 300, FALSE, 0, "no-store" },
  /* Vary made of separators only is none. */
  { 200, "vary: ,\t, ", 300, TRUE, 300, NULL },
  { 200, "vary: , x", 300, FALSE, 0, "Vary" },
  /* Pragma's other directives say nothing. */
  { 200, "pragma: x, no-cache", 300, FALSE, 0, "Pragma" },
  { 200, "pragma: foo", 300, TRUE, 300, NULL },
  { 200, "pragma: max-age=5, no-store, private", 300, TRUE, 300, NULL },
  /* The ceiling and the 30-day cap at their edges. */
  { 200, "cache-control: max-age=300", 300, TRUE, 300, NULL },
  { 200, "cache-control: max-age=301", 300, TRUE, 300, NULL },
  { 200, "cache-control: max-age=60", 1, TRUE, 1, NULL },
  { 200, "cache-control: max-age=2592000", 0, TRUE, 2592000, NULL },
  { 200, "cache-control: max-age=2591999", 0, TRUE, 2591999, NULL },
  { 200, "cache-control: max-age=2591999", 2592001, TRUE, 2591999, NULL },
  { 200, "cache-control: max-age=2592001", 2592001, TRUE, 2592000, NULL },
  { 200, NULL, 1, TRUE, 1, NULL },
  /* Expires one second after Date; dates that are not. */
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:49:38 GMT", 300, TRUE, 1, NULL },
  { 200, "date: junk\nexpires: Sun, 06 Nov 1994 08:50:37 GMT", 300, FALSE, 0, "without a valid Date" },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:50:37 GMT\nage: 59", 300, TRUE, 1, NULL },
  { 200, DATE "\nexpires: Sun, 06 Nov 1994 08:50:37 GMT\ncache-control: s-maxage=7", 300, TRUE, 7, NULL },
};

static GHashTable *
headers_of (const gchar *text)
{
  GHashTable *headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *colon = strchr (lines[i], ':');

      if (colon == NULL)
        continue;
      g_hash_table_insert (headers, g_strndup (lines[i], (gsize) (colon - lines[i])), g_strdup (colon + 2));
    }
  return headers;
}

static void
test_table (void)
{
  g_test_summary ("Each status and header combination is stored for the expected seconds, or not for the "
                  "expected reason");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autoptr(GHashTable) headers = c->headers != NULL ? headers_of (c->headers) : NULL;
      const gchar *why = NULL;
      gint64 ttl = -1;
      gboolean store;

      g_test_message ("%u [%s] ttl %" G_GINT64_FORMAT, c->status, c->headers != NULL ? c->headers : "(none)",
                      c->ceiling);
      store = braid_cache_policy_decide (c->status, headers, c->ceiling, &ttl, &why);
      g_assert_cmpint (store, ==, c->store);
      if (store)
        {
          g_assert_null (why);
          g_assert_cmpint (ttl, ==, c->ttl);
        }
      else
        {
          g_assert_nonnull (why);
          g_assert_nonnull (strstr (why, c->why));
        }
    }
}

static void
test_http_dates (void)
{
  const struct {
    const gchar *text;
    gint64 unix_s;
  } dates[] = {
    { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
    { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
    { "Sun Nov  6 08:49:37 1994", 784111777 },
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { " Sun, 06 Nov 1994 08:49:37 GMT ", 784111777 },
    { "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
    { "Sun, 06 Foo 1994 08:49:37 GMT", -1 },
    { "Sun, 32 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 25:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49:37 GMT junk", -1 },
    { "0", -1 },
    { "-1", -1 },
    { "", -1 },
    /* RFC 850's two-digit years: 70 and later are 19xx, before are 20xx. */
    { "Thursday, 01-Jan-70 00:00:00 GMT", 0 },
    { "Tuesday, 01-Jan-69 00:00:00 GMT", 3124224000 },
    /* A leap second is read as the second before it; 61 is none. */
    { "Sun, 06 Nov 1994 08:49:60 GMT", 784111799 },
    { "Sun, 06 Nov 1994 08:49:61 GMT", -1 },
    { "Sat, 31 Dec 1994 23:59:59 GMT", 788918399 },
    { "Sat Dec 31 23:59:59 1994", 788918399 },
    { "\tSun, 06 Nov 1994 08:49:37 GMT\t", 784111777 },
    { "Sun, 06 Nov 1994 08:49:37 gmt", -1 },
    { "Sun, 06 Nov 1994 08:49:37", -1 },
    { "Sun, 06 Nov 1994 08:49:37 GMTX", -1 },
    { "Sun, 06 Dez 1994 08:49:37 GMT", -1 },
  };

  g_test_summary ("HTTP-dates in their three forms; anything else is none");
  for (guint i = 0; i < G_N_ELEMENTS (dates); i++)
    {
      g_test_message ("“%s”", dates[i].text);
      g_assert_cmpint (braid_cache_policy_parse_http_date (dates[i].text), ==, dates[i].unix_s);
    }
}

static void
test_decide_without_why (void)
{
  g_autoptr(GHashTable) private_ = headers_of ("cache-control: private");
  g_autoptr(GHashTable) max_age = headers_of ("cache-control: max-age=60");
  gint64 ttl = -1;

  g_test_summary ("The reason is optional: without it the decision and the seconds are the same");
  g_assert_false (braid_cache_policy_decide (200, private_, 300, &ttl, NULL));
  g_assert_cmpint (ttl, ==, 0);
  g_assert_true (braid_cache_policy_decide (200, max_age, 300, &ttl, NULL));
  g_assert_cmpint (ttl, ==, 60);
}

static void
test_decide_preconditions (void)
{
  BraidCriticalCounter counter;
  const gchar *why = "unset";
  gint64 ttl = -1;

  g_test_summary ("A decision needs somewhere to put the seconds and a ceiling of 0 or more: a critical and "
                  "FALSE; a ceiling of 0 is no ceiling");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_policy_decide (200, NULL, 300, NULL, &why)));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_cache_policy_decide (200, NULL, -1, &ttl, &why)));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (braid_cache_policy_parse_http_date (NULL), ==, -1));
  BRAID_EXPECT_NO_CRITICAL (g_assert_true (braid_cache_policy_decide (200, NULL, 0, &ttl, &why)));
  g_assert_cmpint (ttl, ==, 0);
  g_assert_null (why);
  braid_test_count_criticals_end (&counter);
}

static void
test_mac (void)
{
  g_autoptr(GBytes) secret = g_bytes_new_static ("0123456789abcdef", 16);
  g_autoptr(GBytes) other = g_bytes_new_static ("0123456789abcdeF", 16);
  g_autoptr(GBytes) body = g_bytes_new_static ("a body", 6);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) entry = braid_cache_mac_seal (secret, "braid-proxy:k", body);
  g_autoptr(GBytes) opened = braid_cache_mac_open (secret, "braid-proxy:k", entry);
  g_autoptr(GBytes) sealed_empty = braid_cache_mac_seal (secret, "braid-proxy:k", empty);
  g_autoptr(GBytes) opened_empty = braid_cache_mac_open (secret, "braid-proxy:k", sealed_empty);
  gsize len;
  const guint8 *data = g_bytes_get_data (entry, &len);

  g_test_summary ("An entry is a 32-byte HMAC-SHA256 then the body; it opens only with the same secret and key, "
                  "whole and unmodified");
  g_assert_cmpuint (len, ==, BRAID_CACHE_MAC_SIZE + 6);
  g_assert_cmpmem (data + BRAID_CACHE_MAC_SIZE, 6, "a body", 6);
  g_assert_nonnull (opened);
  g_assert_true (g_bytes_equal (opened, body));
  g_assert_nonnull (opened_empty);
  g_assert_cmpuint (g_bytes_get_size (opened_empty), ==, 0);
  g_assert_null (braid_cache_mac_open (other, "braid-proxy:k", entry));
  g_assert_null (braid_cache_mac_open (secret, "braid-proxy:j", entry));
  /* The body alone, a truncated entry, a flipped bit. */
  g_assert_null (braid_cache_mac_open (secret, "braid-proxy:k", body));
  {
    g_autoptr(GBytes) truncated = g_bytes_new_from_bytes (entry, 0, len - 1);
    g_autoptr(GBytes) short_entry = g_bytes_new_from_bytes (entry, 0, BRAID_CACHE_MAC_SIZE - 1);
    g_autofree guint8 *flipped = g_memdup2 (data, len);
    g_autoptr(GBytes) tampered = NULL;

    flipped[len - 1] ^= 1;
    tampered = g_bytes_new (flipped, len);
    g_assert_null (braid_cache_mac_open (secret, "braid-proxy:k", truncated));
    g_assert_null (braid_cache_mac_open (secret, "braid-proxy:k", short_entry));
    g_assert_null (braid_cache_mac_open (secret, "braid-proxy:k", tampered));
  }
}

static void
test_mac_known_answer (void)
{
  g_autoptr(GBytes) secret = g_bytes_new_static ("secret", 6);
  g_autoptr(GBytes) body = g_bytes_new_static ("body", 4);
  g_autoptr(GBytes) one = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) entry = braid_cache_mac_seal (secret, "k", body);
  g_autoptr(GBytes) sealed_one = braid_cache_mac_seal (secret, "k", one);
  g_autoptr(GBytes) opened_one = braid_cache_mac_open (secret, "k", sealed_one);
  g_autofree gchar *hex = NULL;
  /* python3: hmac.new(b"secret", b"k\x00body", hashlib.sha256).hexdigest() */
  const gchar *expected = "73e77e51990a9651ca5a6e4f617dce39d6f5a67cc6b61954c20e9b5b09df114d";
  GString *h = g_string_new (NULL);
  const guint8 *data = g_bytes_get_data (entry, NULL);

  g_test_summary ("The MAC is HMAC-SHA256 (secret, key NUL body), as another implementation computes it; "
                  "a one-byte body survives sealing");
  for (gsize i = 0; i < BRAID_CACHE_MAC_SIZE; i++)
    g_string_append_printf (h, "%02x", data[i]);
  hex = g_string_free (h, FALSE);
  g_assert_cmpstr (hex, ==, expected);
  g_assert_nonnull (opened_one);
  g_assert_true (g_bytes_equal (opened_one, one));
}

static void
test_mac_every_byte (void)
{
  g_autoptr(GBytes) secret = g_bytes_new_static ("s", 1);
  g_autoptr(GBytes) body = g_bytes_new_static ("a body", 6);
  g_autoptr(GBytes) entry = braid_cache_mac_seal (secret, "k", body);
  g_autoptr(GBytes) opened = braid_cache_mac_open (secret, "k", entry);
  gsize len;
  const guint8 *data = g_bytes_get_data (entry, &len);

  g_test_summary ("A one-byte secret seals and opens; an entry with any one bit of any byte changed, in the "
                  "MAC or in the body, is refused");
  g_assert_nonnull (opened);
  g_assert_true (g_bytes_equal (opened, body));
  for (gsize i = 0; i < len; i++)
    for (guint bit = 0; bit < 8; bit++)
      {
        g_autofree guint8 *altered = g_memdup2 (data, len);
        g_autoptr(GBytes) tampered = NULL;

        altered[i] ^= (guint8) (1u << bit);
        tampered = g_bytes_new (altered, len);
        if (braid_cache_mac_open (secret, "k", tampered) != NULL)
          g_error ("byte %" G_GSIZE_FORMAT " bit %u altered, yet the entry opened", i, bit);
      }
}

static void
test_mac_key_and_body_apart (void)
{
  g_autoptr(GBytes) secret = g_bytes_new_static ("secret", 6);
  g_autoptr(GBytes) bc = g_bytes_new_static ("bc", 2);
  g_autoptr(GBytes) c = g_bytes_new_static ("c", 1);
  g_autoptr(GBytes) sealed_a_bc = braid_cache_mac_seal (secret, "a", bc);
  g_autoptr(GBytes) sealed_ab_c = braid_cache_mac_seal (secret, "ab", c);
  g_autoptr(GBytes) moved = NULL;

  g_test_summary ("The key and the body are kept apart in the MAC: key \"a\" with body \"bc\" and key \"ab\" "
                  "with body \"c\" do not share a MAC, so an entry cannot be passed off under another key");
  g_assert_false (memcmp (g_bytes_get_data (sealed_a_bc, NULL), g_bytes_get_data (sealed_ab_c, NULL),
                          BRAID_CACHE_MAC_SIZE) == 0);
  /* The MAC of ("a", "bc") followed by the body "c": what ("ab", "c") would need. */
  {
    guint8 forged[BRAID_CACHE_MAC_SIZE + 1];

    memcpy (forged, g_bytes_get_data (sealed_a_bc, NULL), BRAID_CACHE_MAC_SIZE);
    forged[BRAID_CACHE_MAC_SIZE] = 'c';
    moved = g_bytes_new (forged, sizeof forged);
  }
  g_assert_null (braid_cache_mac_open (secret, "ab", moved));
}

static void
test_mac_preconditions (void)
{
  BraidCriticalCounter counter;
  g_autoptr(GBytes) secret = g_bytes_new_static ("s", 1);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) body = g_bytes_new_static ("b", 1);

  g_test_summary ("Sealing and opening need a non-empty secret, a key and bytes: a critical and NULL");
  braid_test_count_criticals_begin (&counter);
  g_assert_null (braid_cache_mac_seal (NULL, "k", body));
  g_assert_null (braid_cache_mac_seal (empty, "k", body));
  g_assert_null (braid_cache_mac_seal (secret, NULL, body));
  g_assert_null (braid_cache_mac_seal (secret, "k", NULL));
  g_assert_null (braid_cache_mac_open (NULL, "k", body));
  g_assert_null (braid_cache_mac_open (empty, "k", body));
  g_assert_null (braid_cache_mac_open (secret, NULL, body));
  g_assert_null (braid_cache_mac_open (secret, "k", NULL));
  g_assert_cmpuint (braid_test_n_criticals (), ==, 8);
  braid_test_count_criticals_end (&counter);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/cache-policy/table", test_table);
  g_test_add_func ("/proxy/cache-policy/http-dates", test_http_dates);
  g_test_add_func ("/proxy/cache-policy/decide-without-why", test_decide_without_why);
  g_test_add_func ("/proxy/cache-policy/decide-preconditions", test_decide_preconditions);
  g_test_add_func ("/proxy/cache-policy/mac", test_mac);
  g_test_add_func ("/proxy/cache-policy/mac-known-answer", test_mac_known_answer);
  g_test_add_func ("/proxy/cache-policy/mac-every-byte", test_mac_every_byte);
  g_test_add_func ("/proxy/cache-policy/mac-key-and-body-apart", test_mac_key_and_body_apart);
  g_test_add_func ("/proxy/cache-policy/mac-preconditions", test_mac_preconditions);
  return g_test_run ();
}
