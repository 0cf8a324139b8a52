/* braid — the line/raw receiver, at every split. */
#include "test-support.h"

#include <string.h>

/* A tiny protocol over the receiver: "RAW n" switches to raw mode for n
 * bytes; "STOP" stops it; other lines are recorded. */
typedef struct {
  BraidLineReceiver *lr;
  GString *log;
  gsize too_long_at;
  GString *raw;
} Recorder;

static void
on_line (gpointer data, const gchar *line, gsize len)
{
  Recorder *r = data;
  guint64 n;

  g_assert_cmpuint (strlen (line), ==, len);  /* lines are NUL-terminated */
  g_string_append_printf (r->log, "L[%s]", line);
  if (g_str_has_prefix (line, "RAW ") && g_ascii_string_to_unsigned (line + 4, 10, 0, 1000, &n, NULL))
    braid_line_receiver_set_raw_mode (r->lr, (gsize) n);
  else if (g_str_equal (line, "STOP"))
    braid_line_receiver_stop (r->lr);
}

static void
on_raw (gpointer data, const guint8 *bytes, gsize len, gsize remaining)
{
  Recorder *r = data;

  /* Raw chunks are joined: their sizes depend on the chunking. */
  g_string_append_len (r->raw, (const gchar *) bytes, (gssize) len);
  if (remaining == 0)
    {
      g_string_append_printf (r->log, "R<%s>|", r->raw->str);
      g_string_truncate (r->raw, 0);
    }
}

static void
on_too_long (gpointer data, gsize seen)
{
  Recorder *r = data;

  r->too_long_at = seen;
  g_string_append (r->log, "TOO-LONG");
}

static const BraidLineReceiverCallbacks callbacks = { on_line, on_raw, on_too_long };

typedef struct {
  const gchar *delimiter;
  gsize max;
  const gchar *expected;
} Expect;

static void
feed_chunking (const BraidChunking *chunking, gpointer user_data)
{
  const Expect *e = user_data;
  Recorder r = { NULL, g_string_new (NULL), 0, g_string_new (NULL) };

  r.lr = braid_line_receiver_new (e->delimiter, e->max, &callbacks, &r);
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);

      braid_line_receiver_feed (r.lr, data, len);
    }
  if (!g_str_equal (r.log->str, e->expected))
    g_error ("chunking %s: expected “%s” but saw “%s”", chunking->label, e->expected, r.log->str);
  braid_line_receiver_free (r.lr);
  g_string_free (r.log, TRUE);
  g_string_free (r.raw, TRUE);
}

static void
check (const gchar *delimiter, gsize max, const gchar *input, const gchar *expected)
{
  Expect e = { delimiter, max, expected };

  braid_test_for_each_chunking ((const guint8 *) input, strlen (input), 20, feed_chunking, &e);
}

static void
test_lines (void)
{
  g_test_summary ("Lines come out whole however the input is split; a partial last line waits");
  check ("\n", 100, "one\ntwo\n\nthree", "L[one]L[two]L[]");
  check ("\r\n", 100, "get a\r\nget b\r\n", "L[get a]L[get b]");
  /* A CRLF receiver takes a bare \n too, and keeps a lone \r inside. */
  check ("\r\n", 100, "a\nb\rc\r\n", "L[a]L[b\rc]");
  /* An empty CRLF line is empty; a "\n" receiver keeps the \r. */
  check ("\r\n", 100, "\r\n\r\nx\r\n", "L[]L[]L[x]");
  check ("\n", 100, "\r\n", "L[\r]");
}

static void
test_raw_switch (void)
{
  g_test_summary ("Switching to raw mode mid-chunk hands the following bytes to raw mode, none lost");
  check ("\n", 100, "RAW 5\nhello\nafter\n", "L[RAW 5]R<hello>|L[]L[after]");
  check ("\n", 100, "RAW 3\nab\nRAW 0\nx\n", "L[RAW 3]R<ab\n>|L[RAW 0]L[x]");
  check ("\r\n", 100, "RAW 4\r\n\r\n\r\nz\r\n", "L[RAW 4]R<\r\n\r\n>|L[z]");
}

static void
test_too_long (void)
{
  g_test_summary ("An over-long line is reported once and never buffered beyond the limit");
  check ("\n", 8, "12345678\n123456789\nnext\n", "L[12345678]TOO-LONG");
  check ("\n", 8, "1234567890123", "TOO-LONG");
  check ("\r\n", 4, "abcd\r\nabcde\r\n", "L[abcd]TOO-LONG");
}

static void
test_stop (void)
{
  g_test_summary ("After stop, nothing more is delivered");
  check ("\n", 100, "a\nSTOP\nb\nc\n", "L[a]L[STOP]");
}

static void
test_bounded_memory (void)
{
  Recorder r = { NULL, g_string_new (NULL), 0, g_string_new (NULL) };
  guint8 chunk[1024];

  g_test_summary ("A peer that never sends a newline costs at most the line limit");
  memset (chunk, 'x', sizeof chunk);
  r.lr = braid_line_receiver_new ("\n", 2048, &callbacks, &r);
  for (guint i = 0; i < 100; i++)
    {
      braid_line_receiver_feed (r.lr, chunk, sizeof chunk);
      g_assert_cmpuint (braid_line_receiver_get_buffered (r.lr), <=, 2048 + sizeof chunk);
    }
  g_assert_true (braid_line_receiver_is_stopped (r.lr));
  g_assert_cmpuint (r.too_long_at, >=, 2048);
  braid_line_receiver_free (r.lr);
  g_string_free (r.log, TRUE);
  g_string_free (r.raw, TRUE);
}

static void
test_preconditions (void)
{
  g_test_summary ("A zero line limit is refused; free takes NULL; the mode setters refuse NULL");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*max_line_length > 0*");
  g_assert_null (braid_line_receiver_new ("\n", 0, &callbacks, NULL));
  g_test_assert_expected_messages ();

  braid_line_receiver_free (NULL);

  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*self != NULL*");
  braid_line_receiver_set_raw_mode_unbounded (NULL);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*self != NULL*");
  braid_line_receiver_set_line_mode (NULL);
  g_test_assert_expected_messages ();
}

static void
feed_string (BraidLineReceiver *lr, const gchar *s)
{
  braid_line_receiver_feed (lr, (const guint8 *) s, strlen (s));
}

static void
test_unbounded_raw (void)
{
  Recorder r = { NULL, g_string_new (NULL), 0, g_string_new (NULL) };

  g_test_summary ("Unbounded raw mode hands out everything, buffered bytes first, until line mode is set again");
  r.lr = braid_line_receiver_new ("\n", 100, &callbacks, &r);
  feed_string (r.lr, "a\nb\nc");
  g_assert_cmpstr (r.log->str, ==, "L[a]L[b]");
  /* the partial line "c" is now raw data, and so is all that follows */
  braid_line_receiver_set_raw_mode_unbounded (r.lr);
  feed_string (r.lr, "\nd\n");
  g_assert_cmpstr (r.log->str, ==, "L[a]L[b]R<c\nd\n>|");
  g_assert_cmpuint (braid_line_receiver_get_buffered (r.lr), ==, 0);

  braid_line_receiver_set_line_mode (r.lr);
  feed_string (r.lr, "e\nf");
  g_assert_cmpstr (r.log->str, ==, "L[a]L[b]R<c\nd\n>|L[e]");
  g_assert_cmpuint (braid_line_receiver_get_buffered (r.lr), ==, 1);
  braid_line_receiver_free (r.lr);
  g_string_free (r.log, TRUE);
  g_string_free (r.raw, TRUE);
}

static void
test_steal_buffer (void)
{
  Recorder r = { NULL, g_string_new (NULL), 0, g_string_new (NULL) };
  g_autoptr(GBytes) stolen = NULL;

  g_test_summary ("Stealing the partial line empties the buffer; a shorter line fed next is still found");
  r.lr = braid_line_receiver_new ("\n", 100, &callbacks, &r);
  feed_string (r.lr, "x\nabcdef");
  stolen = braid_line_receiver_steal_buffer (r.lr);
  g_assert_cmpmem (g_bytes_get_data (stolen, NULL), g_bytes_get_size (stolen), "abcdef", 6);
  g_assert_cmpuint (braid_line_receiver_get_buffered (r.lr), ==, 0);
  /* the scan for '\n' starts again at the new bytes' start */
  feed_string (r.lr, "y\n");
  g_assert_cmpstr (r.log->str, ==, "L[x]L[y]");
  braid_line_receiver_free (r.lr);
  g_string_free (r.log, TRUE);
  g_string_free (r.raw, TRUE);
}

static void
test_stopped_buffers_nothing (void)
{
  Recorder r = { NULL, g_string_new (NULL), 0, g_string_new (NULL) };

  g_test_summary ("Bytes fed after stop are dropped, not buffered");
  r.lr = braid_line_receiver_new ("\n", 100, &callbacks, &r);
  feed_string (r.lr, "STOP\nabc");
  g_assert_true (braid_line_receiver_is_stopped (r.lr));
  g_assert_cmpuint (braid_line_receiver_get_buffered (r.lr), ==, 0);
  feed_string (r.lr, "def\n");
  g_assert_cmpuint (braid_line_receiver_get_buffered (r.lr), ==, 0);
  g_assert_cmpstr (r.log->str, ==, "L[STOP]");
  braid_line_receiver_free (r.lr);
  g_string_free (r.log, TRUE);
  g_string_free (r.raw, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/line-receiver/lines", test_lines);
  g_test_add_func ("/line-receiver/raw-switch", test_raw_switch);
  g_test_add_func ("/line-receiver/too-long", test_too_long);
  g_test_add_func ("/line-receiver/stop", test_stop);
  g_test_add_func ("/line-receiver/bounded-memory", test_bounded_memory);
  g_test_add_func ("/line-receiver/preconditions", test_preconditions);
  g_test_add_func ("/line-receiver/unbounded-raw", test_unbounded_raw);
  g_test_add_func ("/line-receiver/steal-buffer", test_steal_buffer);
  g_test_add_func ("/line-receiver/stopped-buffers-nothing", test_stopped_buffers_nothing);
  return g_test_run ();
}
