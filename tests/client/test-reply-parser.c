/* braid — the client's reply parser, at every split. */
#include "test-support.h"
#include "mc-reply-parser.h"
#include "mc-error.h"
#include "mc-wire.h"

#include <string.h>

static gchar *
render (const BraidChunking *chunking, gboolean *failed)
{
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  GString *out = g_string_new (NULL);
  gsize offset = 0;

  *failed = FALSE;
  for (guint i = 0; i < chunking->chunks->len && !*failed; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);

      g_byte_array_append (buf, data, (guint) len);
      for (;;)
        {
          BraidMcReply r;
          g_autoptr(GError) error = NULL;
          gsize used = braid_mc_parse_reply (&parser, buf->data + offset, buf->len - offset, &r, &error);

          if (error != NULL)
            {
              g_assert_true (g_error_matches (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL));
              g_string_append (out, "<protocol error>");
              *failed = TRUE;
              break;
            }
          if (used == 0)
            break;
          offset += used;
          g_string_append_printf (out, "[%s", braid_mc_reply_type_name (r.type));
          if (r.key != NULL)
            g_string_append_printf (out, " %.*s", (int) r.key_len, r.key);
          if (r.type == BRAID_MC_REPLY_VALUE)
            {
              g_string_append_printf (out, " f=%u", r.flags);
              if (r.has_cas)
                g_string_append_printf (out, " cas=%" G_GUINT64_FORMAT, r.cas);
              g_string_append_printf (out, "=%.*s", (int) r.value_len, r.value);
            }
          else if (r.value != NULL)
            g_string_append_printf (out, " %.*s", (int) r.value_len, r.value);
          if (r.type == BRAID_MC_REPLY_NUMBER)
            g_string_append_printf (out, " %" G_GUINT64_FORMAT, r.number);
          g_string_append (out, "]");
        }
    }
  return g_string_free (out, FALSE);
}

typedef struct {
  const gchar *input;
  const gchar *expected;
} Case;

static void
check (const BraidChunking *chunking, gpointer data)
{
  const Case *c = data;
  gboolean failed;
  g_autofree gchar *got = render (chunking, &failed);

  if (!g_str_equal (got, c->expected))
    g_error ("chunking %s: expected %s but saw %s", chunking->label, c->expected, got);
}

static const Case cases[] = {
  { "STORED\r\nNOT_STORED\r\nEXISTS\r\nNOT_FOUND\r\nDELETED\r\nTOUCHED\r\nOK\r\nEND\r\n",
    "[STORED][NOT_STORED][EXISTS][NOT_FOUND][DELETED][TOUCHED][OK][END]" },
  { "VALUE k 5 3\r\nabc\r\nEND\r\n", "[VALUE k f=5=abc][END]" },
  { "VALUE key 0 4 77\r\na\r\nb\r\nEND\r\n", "[VALUE key f=0 cas=77=a\r\nb][END]" },
  { "VALUE e 0 0\r\n\r\nEND\r\n", "[VALUE e f=0=][END]" },
  { "42\r\n0                   \r\n", "[NUMBER 42][NUMBER 0]" },
  { "STAT pid 12\r\nSTAT version 1.6.18\r\nEND\r\n", "[STAT pid 12][STAT version 1.6.18][END]" },
  { "VERSION 1.6.18\r\n", "[VERSION 1.6.18]" },
  { "ERROR\r\nCLIENT_ERROR bad data chunk\r\nSERVER_ERROR out of memory\r\n",
    "[ERROR][CLIENT_ERROR bad data chunk][SERVER_ERROR out of memory]" },
  { "ERROR Too many open connections\r\n", "[ERROR Too many open connections]" },
  /* malformed */
  { "HELLO\r\n", "<protocol error>" },
  { "STORED\n", "<protocol error>" },
  { "VALUE k x 3\r\nabc\r\n", "<protocol error>" },
  { "VALUE k 0 3\r\nabcd\r\n", "<protocol error>" },
  { "12a\r\n", "<protocol error>" },
  { "99999999999999999999\r\n", "<protocol error>" },
  /* hostile lengths and keys: errors at the VALUE line, nothing awaited */
  { "VALUE k 0 18446744073709551614\r\n\r\nEND\r\n", "<protocol error>" },
  { "VALUE k 0 18446744073709551615\r\n", "<protocol error>" },
  { "VALUE k 0 1048577\r\n", "<protocol error>" },
  { "VALUE k 0 18446744073709551616\r\n", "<protocol error>" },
  { "VALUE  0 1\r\nx\r\nEND\r\n", "<protocol error>" },
  { "VALUE k 4294967296 1\r\nx\r\n", "<protocol error>" },
  { "VALUE k 4294967295 1 18446744073709551615\r\nx\r\n", "[VALUE k f=4294967295 cas=18446744073709551615=x]" },
  { "VALUE k 0 1 18446744073709551616\r\nx\r\n", "<protocol error>" },
  { "VALUE k 0 x\r\nabc\r\n", "<protocol error>" },
  { "VALUE k 0 3 x\r\nabc\r\n", "<protocol error>" },
  { "VALUE k 0 3 1 extra\r\nabc\r\n", "<protocol error>" },
  { "VALUE k 0\r\n", "<protocol error>" },
  { "VALUE k\t0 3\r\nabc\r\n", "<protocol error>" },
  /* a data block that ends the input, the empty one too */
  { "VALUE e 0 0\r\n\r\n", "[VALUE e f=0=]" },
  { "VALUE k 7 2\r\nab\r\n", "[VALUE k f=7=ab]" },
  { "VALUE k 0 2\r\nab\rx", "<protocol error>" },
  { "VALUE k 0 2\r\nabx\n", "<protocol error>" },
  { "18446744073709551615\r\n", "[NUMBER 18446744073709551615]" },
  { "18446744073709551616\r\n", "<protocol error>" },
  { "STAT\r\n", "<protocol error>" },
  { "STAT curr_items\r\n", "[STAT curr_items ]" },
  { "\r\n", "<protocol error>" },
  { "\n", "<protocol error>" },
  { "STORED \r\n", "<protocol error>" },
};

static void
test_replies (void)
{
  g_test_summary ("Every reply type parses the same whole, byte by byte, at every split and in random chunks; "
                  "malformed replies are protocol errors");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    braid_test_for_each_chunking ((const guint8 *) cases[i].input, strlen (cases[i].input), 20, check,
                                  (gpointer) &cases[i]);
}

static void
test_line_limit (void)
{
  g_autofree gchar *junk = g_strnfill (BRAID_MC_REPLY_LINE_MAX + 1, 'x');
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  BraidMcReply r;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A reply line without an end is not buffered without bound");
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) junk, strlen (junk), &r, &error), ==, 0);
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
}

static void
test_value_limit (void)
{
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  g_autofree gchar *at_limit = g_strdup_printf ("VALUE k 0 %d\r\n", BRAID_MC_REPLY_VALUE_MAX_DEFAULT);
  g_autofree gchar *over = g_strdup_printf ("VALUE k 0 %d\r\n", BRAID_MC_REPLY_VALUE_MAX_DEFAULT + 1);
  BraidMcReply r;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A VALUE of exactly the limit waits for its data; one byte more is an error at once, "
                  "naming the length and the limit");
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) at_limit, strlen (at_limit), &r, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) over, strlen (over), &r, &error), ==, 0);
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "VALUE of 1048577 bytes, over the 1048576-byte limit"));
  g_clear_error (&error);
  parser.value_max = 3;
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) "VALUE k 0 3\r\nabc\r\n", 18, &r, &error), ==, 18);
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) "VALUE k 0 4\r\n", 13, &r, &error), ==, 0);
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
}

/* The error names the fault: several lines below are errors both ways,
 * and only the message tells which check refused them. */
static void
assert_error_names (const gchar *input, const gchar *fault)
{
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  BraidMcReply r;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) input, strlen (input), &r, &error), ==, 0);
  g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
  if (strstr (error->message, fault) == NULL)
    g_error ("%s: expected an error naming “%s”, got “%s”", input, fault, error->message);
}

static void
test_error_messages (void)
{
  g_test_summary ("Each malformed reply is refused by the check that names its fault");
  assert_error_names ("HELLO\r\n", "unknown reply");
  assert_error_names ("   \r\n", "unknown reply");
  assert_error_names ("\r\n", "unknown reply");
  assert_error_names ("12a\r\n", "bad number");
  assert_error_names ("99999999999999999999\r\n", "number out of range");
  assert_error_names ("STORED\n", "line not ended by");
  assert_error_names ("\n", "line not ended by");
  assert_error_names ("VALUE k\r\n", "bad VALUE line");
  assert_error_names ("VALUE k 0 x\r\n", "VALUE length not a number");
  assert_error_names ("VALUE k 0 3 x\r\n", "VALUE cas not a 64-bit number");
  assert_error_names ("VALUE k 4294967296 1\r\n", "VALUE flags not a 32-bit number");
  assert_error_names ("VALUE k 0 2\r\nabcd\r\n", "VALUE data not followed by");
}

/* Keys of exactly BRAID_MC_KEY_MAX bytes are memcached's longest. */
static void
test_key_limit (void)
{
  for (gsize key_len = BRAID_MC_KEY_MAX - 1; key_len <= BRAID_MC_KEY_MAX + 1; key_len++)
    {
      g_autofree gchar *key = g_strnfill (key_len, 'k');
      g_autofree gchar *input = g_strdup_printf ("VALUE %s 0 1\r\nx\r\n", key);
      BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
      BraidMcReply r;
      g_autoptr(GError) error = NULL;
      gsize used = braid_mc_parse_reply (&parser, (const guint8 *) input, strlen (input), &r, &error);

      if (key_len <= BRAID_MC_KEY_MAX)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (used, ==, strlen (input));
          g_assert_cmpuint (r.key_len, ==, key_len);
        }
      else
        {
          g_assert_cmpuint (used, ==, 0);
          g_assert_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL);
          g_assert_nonnull (strstr (error->message, "VALUE key longer than 250 bytes"));
        }
    }
}

/* The line limit counts the bytes waiting without a newline: exactly
 * BRAID_MC_REPLY_LINE_MAX of them still wait. */
static void
test_line_limit_boundary (void)
{
  g_autofree gchar *junk = g_strnfill (BRAID_MC_REPLY_LINE_MAX, 'x');
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  BraidMcReply r;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A reply line of exactly the limit without its end still waits for more");
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) junk, strlen (junk), &r, &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_refuses_null (void)
{
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  BraidMcReply r;

  g_test_summary ("A NULL parser, buffer or reply is a programming error: a critical, and nothing parsed");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*parser != NULL*");
  g_assert_cmpuint (braid_mc_parse_reply (NULL, (const guint8 *) "END\r\n", 5, &r, NULL), ==, 0);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*buf != NULL*");
  g_assert_cmpuint (braid_mc_parse_reply (&parser, NULL, 5, &r, NULL), ==, 0);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*reply != NULL*");
  g_assert_cmpuint (braid_mc_parse_reply (&parser, (const guint8 *) "END\r\n", 5, NULL, NULL), ==, 0);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (braid_mc_parse_reply (&parser, NULL, 0, &r, NULL), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/reply-parser/replies", test_replies);
  g_test_add_func ("/client/reply-parser/line-limit", test_line_limit);
  g_test_add_func ("/client/reply-parser/value-limit", test_value_limit);
  g_test_add_func ("/client/reply-parser/error-messages", test_error_messages);
  g_test_add_func ("/client/reply-parser/key-limit", test_key_limit);
  g_test_add_func ("/client/reply-parser/line-limit-boundary", test_line_limit_boundary);
  g_test_add_func ("/client/reply-parser/refuses-null", test_refuses_null);
  return g_test_run ();
}
