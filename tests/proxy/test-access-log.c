/* braid — the proxy's access log entry: every structured field and the
 * one-line MESSAGE, as journald and the stderr writer receive them. */
#include "test-support.h"
#include "access-log-private.h"

#include <string.h>

static GHashTable *captured;  /* field name → value of the last entry */
static guint n_captured;

static GLogWriterOutput
capture_fields (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  g_assert_cmpint (level & G_LOG_LEVEL_MASK, ==, G_LOG_LEVEL_MESSAGE);
  g_hash_table_remove_all (captured);
  for (gsize i = 0; i < n_fields; i++)
    {
      gchar *value = fields[i].length < 0 ? g_strdup (fields[i].value)
                                          : g_strndup (fields[i].value, (gsize) fields[i].length);

      g_assert_false (g_hash_table_contains (captured, fields[i].key));  /* each field once */
      g_hash_table_insert (captured, g_strdup (fields[i].key), value);
    }
  n_captured++;
  return G_LOG_WRITER_HANDLED;
}

static const gchar *
field (const gchar *key)
{
  return g_hash_table_lookup (captured, key);
}

static void
test_fields (void)
{
  BraidProxyAccessLogEntry entry = { "http://user:pw@x.example/a?q=1", 200, 1000, "hit", 12345, NULL };

  g_test_summary ("An entry carries PRIORITY and GLIB_DOMAIN as g_log_structured() gives them, its own "
                  "fields, and the one-line MESSAGE, the URL's userinfo redacted everywhere");
  braid_proxy_access_log_write (&entry);
  g_assert_cmpuint (n_captured, ==, 1);
  g_assert_cmpuint (g_hash_table_size (captured), ==, 9);
  g_assert_cmpstr (field ("PRIORITY"), ==, "5");
  g_assert_cmpstr (field ("GLIB_DOMAIN"), ==, "braid");
  g_assert_cmpstr (field ("MESSAGE_ID"), ==, BRAID_PROXY_ACCESS_LOG_MESSAGE_ID);
  g_assert_cmpstr (field ("URL"), ==, "http://***@x.example/a?q=1");
  g_assert_cmpstr (field ("STATUS"), ==, "200");
  g_assert_cmpstr (field ("BYTES"), ==, "1000");
  g_assert_cmpstr (field ("CACHE"), ==, "hit");
  g_assert_cmpstr (field ("DURATION_MS"), ==, "12.3");
  g_assert_cmpstr (field ("MESSAGE"), ==, "http://***@x.example/a?q=1 200 1000 bytes cache=hit 12.3 ms");
}

static void
test_defaults_and_problem (void)
{
  BraidProxyAccessLogEntry entry = { NULL, 408, 0, NULL, 10000000, "no whole request line within 10.0 s" };
  BraidProxyAccessLogEntry huge = { "http://x.example/", 502, G_MAXSIZE, "miss", G_MAXINT64, "x%sx" };

  g_test_summary ("No URL logs \"-\", no cache outcome \"bypass\"; a problem follows the line; the largest "
                  "numbers print whole");
  braid_proxy_access_log_write (&entry);
  g_assert_cmpstr (field ("URL"), ==, "-");
  g_assert_cmpstr (field ("CACHE"), ==, "bypass");
  g_assert_cmpstr (field ("DURATION_MS"), ==, "10000.0");
  g_assert_cmpstr (field ("MESSAGE"), ==, "- 408 0 bytes cache=bypass 10000.0 ms no whole request line within 10.0 s");
  braid_proxy_access_log_write (&huge);
  g_assert_cmpstr (field ("BYTES"), ==, "18446744073709551615");
  g_assert_cmpstr (field ("DURATION_MS"), ==, "9223372036854775.8");
  g_assert_cmpstr (field ("MESSAGE"), ==,
                   "http://x.example/ 502 18446744073709551615 bytes cache=miss 9223372036854775.8 ms x%sx");
}

static void
test_long_url (void)
{
  g_autoptr(GString) url = g_string_new ("http://x.example/");
  g_autofree gchar *expected = NULL;
  BraidProxyAccessLogEntry entry = { NULL, 200, 5, "miss", 100, "cut off" };

  g_test_summary ("A URL longer than any line buffer is logged whole");
  for (guint i = 0; i < 10000; i++)
    g_string_append_c (url, (gchar) ('a' + i % 26));
  entry.url = url->str;
  braid_proxy_access_log_write (&entry);
  expected = g_strdup_printf ("%s 200 5 bytes cache=miss 0.1 ms cut off", url->str);
  g_assert_cmpstr (field ("URL"), ==, url->str);
  g_assert_cmpstr (field ("MESSAGE"), ==, expected);
}

static void
test_redaction (void)
{
  static const struct {
    const gchar *url, *logged;
  } cases[] = {
    { "http://user:pw@x.example/a", "http://***@x.example/a" },
    { "http://user@x.example", "http://***@x.example" },
    { "https://a@b@x.example:8080/p", "https://***@x.example:8080/p" },
    { "user:pw@x.example/a", "***@x.example/a" },
    /* An "@" past the authority is no userinfo. */
    { "http://x.example/a@b", "http://x.example/a@b" },
    { "http://x.example?q=a@b", "http://x.example?q=a@b" },
    { "http://x.example#a@b", "http://x.example#a@b" },
    /* A "://" after the first "/" is in the path. */
    { "/path://user@x.example", "/path://user@x.example" },
    { "x/y://user@x.example", "x/y://user@x.example" },
    { "http://x.example", "http://x.example" },
    { "", "" },
  };

  g_test_summary ("Only an authority's userinfo is redacted, up to its last \"@\"; an \"@\" in the path, "
                  "query or fragment, or after a \"://\" in the path, is left alone");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *redacted = braid_proxy_access_log_redact_url (cases[i].url);
      BraidProxyAccessLogEntry entry = { cases[i].url, 200, 1, "miss", 0, NULL };

      g_assert_cmpstr (redacted, ==, cases[i].logged);
      braid_proxy_access_log_write (&entry);
      g_assert_cmpstr (field ("URL"), ==, cases[i].logged);
    }
}

/* Logs @entry from the same stack depth each time, so that a field left
 * unterminated would show what the longer line before left there. */
static void
write_and_check (const BraidProxyAccessLogEntry *entry, const gchar *duration, const gchar *message)
{
  braid_proxy_access_log_write (entry);
  g_assert_cmpstr (field ("DURATION_MS"), ==, duration);
  g_assert_cmpstr (field ("MESSAGE"), ==, message);
}

static void
test_short_after_long (void)
{
  BraidProxyAccessLogEntry longer = { "http://x.example/a-rather-long-path", 200, 123456789, "miss",
                                      G_GINT64_CONSTANT (123456789012), "a problem after the line" };
  BraidProxyAccessLogEntry shorter = { "http://x/", 0, 0, "hit", 0, NULL };
  BraidProxyAccessLogEntry back = { "http://x/", 200, 5, "hit", -G_USEC_PER_SEC, NULL };

  g_test_summary ("A short entry after a long one is logged whole and no more: every number and the line "
                  "are terminated where they end; a duration below 0 keeps its sign");
  for (guint round = 0; round < 2; round++)
    {
      write_and_check (&longer, "123456789.0",
                       "http://x.example/a-rather-long-path 200 123456789 bytes cache=miss 123456789.0 ms "
                       "a problem after the line");
      write_and_check (&shorter, "0.0", "http://x/ 0 0 bytes cache=hit 0.0 ms");
      write_and_check (&back, "-1000.0", "http://x/ 200 5 bytes cache=hit -1000.0 ms");
    }
  g_assert_cmpstr (field ("STATUS"), ==, "200");
  g_assert_cmpstr (field ("BYTES"), ==, "5");
}

static void
test_line_at_the_stack_size (void)
{
  g_test_summary ("Lines of 1023, 1024 and 1025 bytes, on either side of the stack buffer's size, are "
                  "logged whole");
  for (gsize want = 1023; want <= 1025; want++)
    {
      g_autoptr(GString) url = g_string_new ("http://x.example/");
      const gchar *tail = " 200 5 bytes cache=miss 0.1 ms";
      g_autofree gchar *expected = NULL;
      BraidProxyAccessLogEntry entry = { NULL, 200, 5, "miss", 100, NULL };

      while (url->len + strlen (tail) < want)
        g_string_append_c (url, 'u');
      entry.url = url->str;
      expected = g_strconcat (url->str, tail, NULL);
      g_assert_cmpuint (strlen (expected), ==, want);
      braid_proxy_access_log_write (&entry);
      g_assert_cmpstr (field ("MESSAGE"), ==, expected);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  captured = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_log_set_writer_func (capture_fields, NULL, NULL);
  g_test_add_func ("/proxy/access-log/fields", test_fields);
  g_test_add_func ("/proxy/access-log/defaults-and-problem", test_defaults_and_problem);
  g_test_add_func ("/proxy/access-log/long-url", test_long_url);
  g_test_add_func ("/proxy/access-log/redaction", test_redaction);
  g_test_add_func ("/proxy/access-log/short-after-long", test_short_after_long);
  g_test_add_func ("/proxy/access-log/line-at-the-stack-size", test_line_at_the_stack_size);
  return g_test_run ();
}
