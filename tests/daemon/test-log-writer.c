/* braid — the daemons' log writer: its own formatting of plain message
 * lines (the access log) must be GLib's, byte for byte. */
#include "test-support.h"
#include "log-writer.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* ---- batching: stderr on a SOCK_SEQPACKET socket, where each write(2)
 * arrives as one record ---- */

typedef struct {
  gint reader;
  guint lines;
} Batch;

/* The next record on @fd, or NULL if none is waiting. */
static gchar *
next_record (gint fd)
{
  gchar buffer[4096];
  gssize n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);

  if (n < 0)
    {
      g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
      return NULL;
    }
  return g_strndup (buffer, (gsize) n);
}

static void
log_line (const gchar *message)
{
  const GLogField fields[] = {
    { "GLIB_DOMAIN", "braid-proxy", -1 },
    { "MESSAGE", message, -1 },
  };

  braid_daemon_log_writer (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields), NULL);
}

static gboolean
write_lines_in_one_dispatch (gpointer data)
{
  Batch *batch = data;

  log_line ("GET one");
  log_line ("GET two");
  log_line ("GET three");
  batch->lines = 3;
  /* nothing has left yet: the lines wait for the end of the iteration */
  g_assert_null (next_record (batch->reader));
  return G_SOURCE_REMOVE;
}

static gpointer
log_from_another_thread (gpointer data)
{
  log_line ("from a worker");
  return NULL;
}

typedef struct {
  gint reader;
  guint dispatches;
} Busy;

/* At a priority above the default's, ready again after its first
 * dispatch: each dispatch writes one line. */
static gboolean
write_a_line_twice (gpointer data)
{
  Busy *busy = data;
  g_autofree gchar *line = g_strdup_printf ("busy %u", ++busy->dispatches);

  log_line (line);
  return busy->dispatches < 2 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* While a source of higher priority than the default's is ready, GLib
 * prepares no source of lower priority: the lines of one iteration must
 * leave at the next one anyway. */
static void
flush_before_busy_sources (GMainContext *context, gint reader)
{
  Busy busy = { reader, 0 };
  g_autoptr(GSource) source = g_idle_source_new ();
  g_autofree gchar *first = NULL;
  g_autofree gchar *second = NULL;

  g_source_set_priority (source, (G_PRIORITY_HIGH + G_PRIORITY_DEFAULT) / 2);
  g_source_set_callback (source, write_a_line_twice, &busy, NULL);
  g_source_attach (source, context);
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (busy.dispatches, ==, 1);
  g_assert_null (next_record (reader));
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (busy.dispatches, ==, 2);
  first = next_record (reader);
  g_assert_nonnull (first);
  g_assert_true (g_str_has_suffix (first, ": busy 1\n"));
  g_assert_null (next_record (reader));
  /* nothing left to dispatch: the flush source itself is never ready */
  g_assert_false (g_main_context_iteration (context, FALSE));
  second = next_record (reader);
  g_assert_nonnull (second);
  g_assert_true (g_str_has_suffix (second, ": busy 2\n"));
  g_assert_false (g_main_context_pending (context));
}

static void
batch_in_subprocess (void)
{
  gint pair[2];
  Batch batch = { 0 };
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) idle = g_idle_source_new ();
  g_autofree gchar *record = NULL;
  g_autofree gchar *second = NULL;
  g_autofree gchar *unbatched = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET, 0, pair), ==, 0);
  g_assert_cmpint (dup2 (pair[1], STDERR_FILENO), ==, STDERR_FILENO);
  batch.reader = pair[0];
  braid_daemon_log_batch_in (context);
  /* the flush source only prepares: it never wakes the loop up */
  g_assert_false (g_main_context_pending (context));
  g_assert_false (g_main_context_iteration (context, FALSE));

  /* outside the context's thread: at once, one line one write */
  log_line ("before the loop");
  unbatched = next_record (batch.reader);
  g_assert_nonnull (unbatched);
  g_assert_true (g_str_has_suffix (unbatched, ": before the loop\n"));
  g_assert_null (next_record (batch.reader));

  g_source_set_callback (idle, write_lines_in_one_dispatch, &batch, NULL);
  g_source_attach (idle, context);
  g_main_context_push_thread_default (context);
  g_assert_true (g_main_context_acquire (context));
  g_main_context_iteration (context, FALSE);   /* dispatches the idle */
  g_assert_cmpuint (batch.lines, ==, 3);
  g_main_context_iteration (context, FALSE);   /* prepares: the lines leave */
  record = next_record (batch.reader);
  g_assert_nonnull (record);
  g_assert_nonnull (strstr (record, ": GET one\nbraid-proxy-Message: "));
  g_assert_nonnull (strstr (record, ": GET two\nbraid-proxy-Message: "));
  g_assert_true (g_str_has_suffix (record, ": GET three\n"));
  g_assert_null (next_record (batch.reader));
  flush_before_busy_sources (context, batch.reader);

  /* a thread that does not own the context writes at once */
  g_thread_join (g_thread_new ("worker", log_from_another_thread, NULL));
  second = next_record (batch.reader);
  g_assert_nonnull (second);
  g_assert_true (g_str_has_suffix (second, ": from a worker\n"));

  /* one batching context a process: naming a second is a mistake */
  g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*batch_context == NULL*");
  braid_daemon_log_batch_in (context);
  g_test_assert_expected_messages ();
  g_main_context_release (context);
  g_main_context_pop_thread_default (context);
}

static void
test_lines_of_an_iteration_in_one_write (void)
{
  g_test_summary ("With batching on, the plain lines the context's thread writes during one dispatch leave "
                  "together, in order, in one write when the context next prepares; lines written outside "
                  "the loop or from another thread leave at once");
  if (g_test_subprocess ())
    {
      batch_in_subprocess ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* stderr on a SOCK_SEQPACKET socket; (transfer none) the reading end. */
static gint
stderr_to_socket (void)
{
  gint pair[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET, 0, pair), ==, 0);
  g_assert_cmpint (dup2 (pair[1], STDERR_FILENO), ==, STDERR_FILENO);
  return pair[0];
}

static void
test_prefixed_messages_left_to_glib (void)
{
  g_test_summary ("With G_MESSAGES_PREFIXED, message lines go through GLib, which adds “(prgname:pid): ”");
  if (g_test_subprocess ())
    {
      gint reader = stderr_to_socket ();
      g_autofree gchar *prefix = g_strdup_printf ("(%s:%lu): braid-proxy-Message: ", g_get_prgname (),
                                                  (gulong) getpid ());
      g_autofree gchar *record = NULL;

      /* through g_log(), as the daemons log */
      g_log_set_writer_func (braid_daemon_log_writer, NULL, NULL);
      g_log ("braid-proxy", G_LOG_LEVEL_MESSAGE, "prefixed");
      record = next_record (reader);
      g_assert_nonnull (record);
      /* stderr is the socket: say what was seen on stdout */
      if (!g_str_has_prefix (record, prefix))
        g_print ("expected a line starting with “%s”, saw “%s”\n", prefix, record);
      g_assert_true (g_str_has_prefix (record, prefix));
      g_assert_true (g_str_has_suffix (record, ": prefixed\n"));
      return;
    }
  /* GLib reads it once, early: the child has it from its start */
  g_setenv ("G_MESSAGES_PREFIXED", "message", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("G_MESSAGES_PREFIXED");
  g_test_trap_assert_passed ();
}

static void
test_warnings_left_to_glib (void)
{
  g_test_summary ("Warnings go through GLib's writer, to stderr, even with batching on");
  if (g_test_subprocess ())
    {
      gint reader = stderr_to_socket ();
      g_autoptr(GMainContext) context = g_main_context_new ();
      const GLogField fields[] = {
        { "GLIB_DOMAIN", "braid-proxy", -1 },
        { "MESSAGE", "disk on fire", -1 },
      };
      g_autofree gchar *record = NULL;

      /* not fatal here, as outside tests */
      g_log_set_always_fatal (0);
      braid_daemon_log_batch_in (context);
      g_assert_true (g_main_context_acquire (context));
      g_assert_cmpint (braid_daemon_log_writer (G_LOG_LEVEL_WARNING, fields, G_N_ELEMENTS (fields), NULL), ==,
                       G_LOG_WRITER_HANDLED);
      record = next_record (reader);
      g_assert_nonnull (record);
      g_assert_nonnull (strstr (record, "braid-proxy-WARNING **: "));
      g_assert_true (g_str_has_suffix (record, ": disk on fire\n"));
      g_main_context_release (context);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("");
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
  g_test_add_func ("/daemon/log-writer/lines-of-an-iteration-in-one-write", test_lines_of_an_iteration_in_one_write);
  g_test_add_func ("/daemon/log-writer/prefixed-messages-left-to-glib", test_prefixed_messages_left_to_glib);
  g_test_add_func ("/daemon/log-writer/warnings-left-to-glib", test_warnings_left_to_glib);
  return g_test_run ();
}
