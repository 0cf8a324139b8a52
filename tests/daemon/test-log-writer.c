/* braid — the daemons' log writer: its own formatting of plain message
 * lines (the access log) must be GLib's, byte for byte. */
#include "test-support.h"
#include "log-writer.h"

#include <string.h>
#include <time.h>

/* What g_log_writer_format_fields() makes of a message line, without
 * colour, with a newline after it. */
static gchar *
glib_line (const gchar *domain, const gchar *message)
{
  const GLogField fields[] = {
    { "GLIB_DOMAIN", domain, -1 },
    { "MESSAGE", message, -1 },
  };
  g_autofree gchar *text = g_log_writer_format_fields (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields), FALSE);

  return g_strconcat (text, "\n", NULL);
}

/* "HH:MM:SS.mmm" of @time_us in local time, as GLib prints it. */
static gchar *
local_stamp (gint64 time_us)
{
  time_t secs = (time_t) (time_us / G_USEC_PER_SEC);
  struct tm tm;
  gchar hms[16];

  localtime_r (&secs, &tm);
  strftime (hms, sizeof hms, "%H:%M:%S", &tm);
  return g_strdup_printf ("%s.%03d", hms, (gint) ((time_us / 1000) % 1000));
}

/* Replaces the time stamp after "DOMAIN-Message: " with "T", so that two
 * lines formatted a few milliseconds apart compare. */
static gchar *
without_stamp (const gchar *line, const gchar *domain)
{
  g_autofree gchar *head = g_strdup_printf ("%s-Message: ", domain);
  const gchar *stamp_end;

  g_assert_true (g_str_has_prefix (line, head));
  stamp_end = strstr (line + strlen (head), ": ");
  g_assert_nonnull (stamp_end);
  return g_strdup_printf ("%sT%s", head, stamp_end);
}

static void
test_plain_lines_as_glib (void)
{
  const gchar *messages[] = {
    "http://127.0.0.1:8080/a 200 1000 bytes cache=hit 0.1 ms",
    "http://x.example/%41?q=1#f 502 0 bytes cache=miss 12.3 ms upstream said: no",
    "",
    "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
  };

  g_test_summary ("A printable-ASCII message line is formatted as GLib formats it");
  for (gsize i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      gchar buffer[512];
      gint64 now = g_get_real_time ();
      gsize len = braid_log_format_message_line (buffer, sizeof buffer, "braid-proxy", messages[i], now);
      g_autofree gchar *expected = glib_line ("braid-proxy", messages[i]);
      g_autofree gchar *ours = NULL;
      g_autofree gchar *theirs = NULL;
      g_autofree gchar *stamp = local_stamp (now);
      g_autofree gchar *stamped = g_strdup_printf ("braid-proxy-Message: %s: ", stamp);

      g_test_message ("message %" G_GSIZE_FORMAT ": %s", i, messages[i]);
      g_assert_cmpuint (len, >, 0);
      g_assert_cmpuint (len, ==, strlen (buffer));
      ours = without_stamp (buffer, "braid-proxy");
      theirs = without_stamp (expected, "braid-proxy");
      g_assert_cmpstr (ours, ==, theirs);
      g_assert_true (g_str_has_prefix (buffer, stamped));
    }
}

static void
test_time_stamp_follows_the_clock (void)
{
  /* 2026-01-02 03:04:05.678 UTC, then a second and a day later, then back:
   * the cached seconds must never show a stale time. */
  const gint64 base = G_GINT64_CONSTANT (1767323045678000);
  const gint64 times[] = { base, base + 1000, base + G_USEC_PER_SEC, base + G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC, base,
                           base + 999 };

  g_test_summary ("Each line carries its own local time to the millisecond");
  for (gsize i = 0; i < G_N_ELEMENTS (times); i++)
    {
      gchar buffer[128];
      g_autofree gchar *stamp = local_stamp (times[i]);
      g_autofree gchar *expected = g_strdup_printf ("d-Message: %s: m\n", stamp);

      g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, "d", "m", times[i]), ==,
                        strlen (expected));
      g_assert_cmpstr (buffer, ==, expected);
    }
}

static void
test_other_lines_left_to_glib (void)
{
  gchar buffer[64];
  gchar small[24];
  gint64 now = g_get_real_time ();

  g_test_summary ("Lines GLib escapes, converts or prefixes, and lines over the buffer, are not formatted");
  g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, "d", "a\033[31mred", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, "d", "tab\there", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, "d", "two\nlines", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, "d", "caf\xc3\xa9", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, "d", "del\x7f", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, sizeof buffer, NULL, "no domain", now), ==, 0);
  /* "d-Message: HH:MM:SS.mmm: " is 25 bytes: nothing fits in 24 */
  g_assert_cmpuint (braid_log_format_message_line (small, sizeof small, "d", "", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, 27, "d", "x", now), ==, 0);
  g_assert_cmpuint (braid_log_format_message_line (buffer, 28, "d", "x", now), ==, 27);
}

int
main (int argc, char **argv)
{
  /* A fixed zone with a non-zero offset, so a UTC stamp would show. */
  g_setenv ("TZ", "EST5", TRUE);
  tzset ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/daemon/log-writer/plain-lines-as-glib", test_plain_lines_as_glib);
  g_test_add_func ("/daemon/log-writer/time-stamp-follows-the-clock", test_time_stamp_follows_the_clock);
  g_test_add_func ("/daemon/log-writer/other-lines-left-to-glib", test_other_lines_left_to_glib);
  return g_test_run ();
}
