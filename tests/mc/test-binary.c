/* braid — memcached's binary protocol: the packet parser, and whole
 * sessions on the fake reactor (whole, byte by byte, at every split, in
 * random chunks) whose expected bytes are what memcached 1.6.18 answered
 * (tests/mc/test-binary-sessions.h, recorded by
 * fixtures/binary/record-sessions.py). */
#include "test-support.h"
#include "mc-binary.h"
#include "mc-server.h"
#include "server-conn.h"
#include "mc-server-protocol-private.h"

#include <string.h>

typedef struct {
  const gchar *name;
  const guint8 *input;      /* the whole input, or its part before @repeat */
  gsize input_len;
  gsize repeat;             /* that many 'x' bytes after @input (a large value) */
  const guint8 *tail;       /* (nullable): what follows them */
  gsize tail_len;
  const guint8 *output;
  gsize output_len;
  gboolean closes;
  gboolean flush_disabled;  /* memcached -F */
  gboolean cas_disabled;    /* memcached -C */
} BinarySession;

#include "test-binary-sessions.h"

/* ---- building requests (for the tests that are not recorded) ---- */

static void
append_request (GByteArray *out, guint8 opcode, const gchar *key, const guint8 *extras, gsize extras_len,
                const gchar *value, guint32 opaque)
{
  BraidMcBinaryHeader h = { 0 };
  guint8 bytes[BRAID_MC_BINARY_HEADER_LEN];
  gsize key_len = key != NULL ? strlen (key) : 0;
  gsize value_len = value != NULL ? strlen (value) : 0;

  h.magic = BRAID_MC_BINARY_MAGIC_REQUEST;
  h.opcode = opcode;
  h.key_len = (guint16) key_len;
  h.extras_len = (guint8) extras_len;
  h.body_len = (guint32) (extras_len + key_len + value_len);
  h.opaque = opaque;
  braid_mc_binary_header_encode (&h, bytes);
  g_byte_array_append (out, bytes, sizeof bytes);
  g_byte_array_append (out, extras, (guint) extras_len);
  g_byte_array_append (out, (const guint8 *) key, (guint) key_len);
  g_byte_array_append (out, (const guint8 *) value, (guint) value_len);
}

/* A response as memcached builds it. */
static void
append_expected (GString *out, guint8 opcode, BraidMcBinaryStatus status, guint32 opaque, const gchar *value)
{
  BraidMcBinaryHeader request = { 0 };

  request.opcode = opcode;
  request.opaque = opaque;
  braid_mc_binary_append_response (out, &request, status, 0, NULL, 0, NULL, 0, (const guint8 *) value,
                                   value != NULL ? strlen (value) : 0);
}

/* ---- the parser ---- */

static void
test_parser_needs_whole_head (void)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  BraidMcBinaryParser parser = BRAID_MC_BINARY_PARSER_INIT;
  guint8 extras[8] = { 0, 0, 0, 5, 0, 0, 0, 0 };
  BraidMcBinaryRequest r;

  g_test_summary ("A request is parsed only once its header, extras, key (and a stored value) are all there; "
                  "every shorter prefix needs more");
  append_request (in, BRAID_MC_BINARY_OPCODE_SET, "key", extras, sizeof extras, "value", 7);
  for (gsize n = 0; n < in->len; n++)
    g_assert_cmpuint (braid_mc_binary_parse_request (&parser, in->data, n, &r), ==, 0);
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, in->data, in->len, &r), ==, in->len);
  g_assert_cmpint (r.problem, ==, BRAID_MC_BINARY_PROBLEM_NONE);
  g_assert_cmpuint (r.header.opcode, ==, BRAID_MC_BINARY_OPCODE_SET);
  g_assert_cmpuint (r.header.opaque, ==, 7);
  g_assert_cmpuint (braid_mc_binary_read_u32 (r.extras), ==, 5);
  g_assert_cmpmem (r.key, r.header.key_len, "key", 3);
  g_assert_cmpmem (r.value, r.value_len, "value", 5);
}

static void
test_parser_bounds (void)
{
  BraidMcBinaryParser parser = BRAID_MC_BINARY_PARSER_INIT;
  BraidMcBinaryHeader h = { 0 };
  guint8 packet[BRAID_MC_BINARY_HEADER_LEN + 8 + 1] = { 0 };
  BraidMcBinaryRequest r;

  g_test_summary ("A stored value over the item size limit is never waited for: the request is parsed "
                  "after its key, flagged too large, and its value left to be skipped; a body shorter "
                  "than key and extras, a long key and a bad magic are flagged too");
  h.magic = BRAID_MC_BINARY_MAGIC_REQUEST;
  h.opcode = BRAID_MC_BINARY_OPCODE_SET;
  h.key_len = 1;
  h.extras_len = 8;
  h.body_len = G_MAXUINT32;
  braid_mc_binary_header_encode (&h, packet);
  packet[sizeof packet - 1] = 'k';
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, packet, sizeof packet, &r), ==, sizeof packet);
  g_assert_cmpint (r.problem, ==, BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE);
  g_assert_cmpuint (r.value_len, ==, G_MAXUINT32 - 9);
  g_assert_null (r.value);

  h.body_len = 3;
  braid_mc_binary_header_encode (&h, packet);
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, packet, sizeof packet, &r), ==, sizeof packet);
  g_assert_cmpint (r.problem, ==, BRAID_MC_BINARY_PROBLEM_BODY_TOO_SHORT);

  packet[0] = BRAID_MC_BINARY_MAGIC_RESPONSE;
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, packet, sizeof packet, &r), ==,
                    BRAID_MC_BINARY_HEADER_LEN);
  g_assert_cmpint (r.problem, ==, BRAID_MC_BINARY_PROBLEM_BAD_MAGIC);

  h.opcode = BRAID_MC_BINARY_OPCODE_GET;
  h.extras_len = 0;
  h.key_len = 251;
  h.body_len = 251;
  {
    g_autofree guint8 *get = g_malloc0 (BRAID_MC_BINARY_HEADER_LEN + 251);

    braid_mc_binary_header_encode (&h, get);
    g_assert_cmpuint (braid_mc_binary_parse_request (&parser, get, BRAID_MC_BINARY_HEADER_LEN + 250, &r), ==, 0);
    g_assert_cmpuint (braid_mc_binary_parse_request (&parser, get, BRAID_MC_BINARY_HEADER_LEN + 251, &r), ==,
                      BRAID_MC_BINARY_HEADER_LEN + 251);
    g_assert_cmpint (r.problem, ==, BRAID_MC_BINARY_PROBLEM_KEY_TOO_LONG);
  }
}

static void
test_header_round_trip (void)
{
  BraidMcBinaryHeader h = { 0x81, 0x23, 0x1234, 0x56, 0x00, 0x0081, 0x89abcdef, 0xfedcba98,
                            G_GUINT64_CONSTANT (0x0102030405060708) };
  BraidMcBinaryHeader back;
  guint8 bytes[BRAID_MC_BINARY_HEADER_LEN];
  static const guint8 expected[BRAID_MC_BINARY_HEADER_LEN] = {
    0x81, 0x23, 0x12, 0x34, 0x56, 0x00, 0x00, 0x81, 0x89, 0xab, 0xcd, 0xef,
    0xfe, 0xdc, 0xba, 0x98, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
  };

  g_test_summary ("Headers are big-endian on the wire, as protocol_binary.h lays them out");
  braid_mc_binary_header_encode (&h, bytes);
  g_assert_cmpmem (bytes, sizeof bytes, expected, sizeof expected);
  braid_mc_binary_header_decode (bytes, &back);
  g_assert_cmpmem (&back, sizeof back, &h, sizeof h);
}

/* ---- the codec at its edges (issue 15, fifth round) ---- */

static void
test_header_every_field (void)
{
  BraidMcBinaryHeader h = { 0x80, 0xfe, 0xffff, 0xff, 0x7e, 0xfffe, 0xffffffff, 0x01020304,
                            G_MAXUINT64 - 1 };
  BraidMcBinaryHeader back;
  guint8 bytes[BRAID_MC_BINARY_HEADER_LEN];
  static const guint8 expected[BRAID_MC_BINARY_HEADER_LEN] = {
    0x80, 0xfe, 0xff, 0xff, 0xff, 0x7e, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff,
    0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
  };

  g_test_summary ("Every byte of the header is written, the data type included, over a buffer that held "
                  "something else, and every field at its limit reads back");
  memset (bytes, 0xa5, sizeof bytes);
  braid_mc_binary_header_encode (&h, bytes);
  g_assert_cmpmem (bytes, sizeof bytes, expected, sizeof expected);
  memset (&back, 0, sizeof back);
  braid_mc_binary_header_decode (bytes, &back);
  g_assert_cmpmem (&back, sizeof back, &h, sizeof h);
}

static void
test_opcodes_quiet_and_loud (void)
{
  static const guint8 pairs[][2] = {
    { BRAID_MC_BINARY_OPCODE_GETQ, BRAID_MC_BINARY_OPCODE_GET },
    { BRAID_MC_BINARY_OPCODE_GETKQ, BRAID_MC_BINARY_OPCODE_GETK },
    { BRAID_MC_BINARY_OPCODE_SETQ, BRAID_MC_BINARY_OPCODE_SET },
    { BRAID_MC_BINARY_OPCODE_ADDQ, BRAID_MC_BINARY_OPCODE_ADD },
    { BRAID_MC_BINARY_OPCODE_REPLACEQ, BRAID_MC_BINARY_OPCODE_REPLACE },
    { BRAID_MC_BINARY_OPCODE_DELETEQ, BRAID_MC_BINARY_OPCODE_DELETE },
    { BRAID_MC_BINARY_OPCODE_INCREMENTQ, BRAID_MC_BINARY_OPCODE_INCREMENT },
    { BRAID_MC_BINARY_OPCODE_DECREMENTQ, BRAID_MC_BINARY_OPCODE_DECREMENT },
    { BRAID_MC_BINARY_OPCODE_QUITQ, BRAID_MC_BINARY_OPCODE_QUIT },
    { BRAID_MC_BINARY_OPCODE_FLUSHQ, BRAID_MC_BINARY_OPCODE_FLUSH },
    { BRAID_MC_BINARY_OPCODE_APPENDQ, BRAID_MC_BINARY_OPCODE_APPEND },
    { BRAID_MC_BINARY_OPCODE_PREPENDQ, BRAID_MC_BINARY_OPCODE_PREPEND },
    { BRAID_MC_BINARY_OPCODE_GATQ, BRAID_MC_BINARY_OPCODE_GAT },
    { BRAID_MC_BINARY_OPCODE_GATKQ, BRAID_MC_BINARY_OPCODE_GATK },
  };
  guint n_quiet = 0;

  g_test_summary ("Each of the 14 quiet opcodes has its loud twin (protocol_binary.h); every other opcode "
                  "is its own loud form");
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_assert_cmphex (braid_mc_binary_opcode_loud (pairs[i][0]), ==, pairs[i][1]);
      g_assert_true (braid_mc_binary_opcode_is_quiet (pairs[i][0]));
      g_assert_false (braid_mc_binary_opcode_is_quiet (pairs[i][1]));
    }
  for (guint op = 0; op <= 0xff; op++)
    n_quiet += braid_mc_binary_opcode_is_quiet ((guint8) op);
  g_assert_cmpuint (n_quiet, ==, G_N_ELEMENTS (pairs));
}

typedef struct {
  guint8 opcode;
  guint8 extras_len;
  guint16 key_len;
  guint32 body_len;
  gboolean valid;
} Shape;

/* The problem the parser finds in a request of @shape whose body (zeros,
 * a key of 'k') is all there. */
static BraidMcBinaryProblem
problem_of_shape (const Shape *shape)
{
  BraidMcBinaryParser parser = BRAID_MC_BINARY_PARSER_INIT;
  BraidMcBinaryHeader h = { 0 };
  gsize len = BRAID_MC_BINARY_HEADER_LEN + shape->body_len;
  g_autofree guint8 *packet = g_malloc0 (len);
  BraidMcBinaryRequest r;

  h.magic = BRAID_MC_BINARY_MAGIC_REQUEST;
  h.opcode = shape->opcode;
  h.extras_len = shape->extras_len;
  h.key_len = shape->key_len;
  h.body_len = shape->body_len;
  braid_mc_binary_header_encode (&h, packet);
  memset (packet + BRAID_MC_BINARY_HEADER_LEN + shape->extras_len, 'k', shape->key_len);
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, packet, len, &r), >, 0);
  return r.problem;
}

static void
test_parser_shapes (void)
{
  static const Shape shapes[] = {
    { BRAID_MC_BINARY_OPCODE_NOOP, 0, 0, 0, TRUE },
    { BRAID_MC_BINARY_OPCODE_NOOP, 0, 0, 1, FALSE },
    { BRAID_MC_BINARY_OPCODE_VERSION, 0, 1, 1, FALSE },
    { BRAID_MC_BINARY_OPCODE_QUITQ, 4, 0, 4, FALSE },
    { BRAID_MC_BINARY_OPCODE_FLUSH, 0, 0, 0, TRUE },
    { BRAID_MC_BINARY_OPCODE_FLUSHQ, 4, 0, 4, TRUE },
    { BRAID_MC_BINARY_OPCODE_FLUSH, 4, 0, 5, FALSE },
    { BRAID_MC_BINARY_OPCODE_FLUSH, 0, 0, 3, FALSE },
    { BRAID_MC_BINARY_OPCODE_FLUSH, 0, 1, 1, FALSE },
    { BRAID_MC_BINARY_OPCODE_FLUSH, 8, 0, 8, FALSE },
    { BRAID_MC_BINARY_OPCODE_SET, 8, 1, 9, TRUE },
    { BRAID_MC_BINARY_OPCODE_ADDQ, 8, 1, 12, TRUE },
    { BRAID_MC_BINARY_OPCODE_SET, 7, 1, 8, FALSE },
    { BRAID_MC_BINARY_OPCODE_REPLACE, 9, 1, 10, FALSE },
    { BRAID_MC_BINARY_OPCODE_SET, 8, 0, 8, FALSE },
    { BRAID_MC_BINARY_OPCODE_SET, 0, 1, 1, FALSE },
    { BRAID_MC_BINARY_OPCODE_GET, 0, 1, 1, TRUE },
    { BRAID_MC_BINARY_OPCODE_GETKQ, 0, 3, 3, TRUE },
    { BRAID_MC_BINARY_OPCODE_GET, 0, 250, 250, TRUE },   /* the longest key */
    { BRAID_MC_BINARY_OPCODE_SET, 8, 250, 259, TRUE },
    { BRAID_MC_BINARY_OPCODE_GET, 0, 1, 2, FALSE },
    { BRAID_MC_BINARY_OPCODE_DELETE, 4, 1, 5, FALSE },
    { BRAID_MC_BINARY_OPCODE_GETQ, 0, 0, 0, FALSE },
    { BRAID_MC_BINARY_OPCODE_INCREMENT, 20, 1, 21, TRUE },
    { BRAID_MC_BINARY_OPCODE_DECREMENTQ, 20, 2, 22, TRUE },
    { BRAID_MC_BINARY_OPCODE_INCREMENT, 19, 1, 20, FALSE },
    { BRAID_MC_BINARY_OPCODE_DECREMENT, 21, 1, 22, FALSE },
    { BRAID_MC_BINARY_OPCODE_INCREMENT, 20, 1, 22, FALSE },
    { BRAID_MC_BINARY_OPCODE_INCREMENT, 20, 0, 20, FALSE },
    { BRAID_MC_BINARY_OPCODE_APPEND, 0, 1, 5, TRUE },
    { BRAID_MC_BINARY_OPCODE_PREPENDQ, 0, 1, 1, TRUE },
    { BRAID_MC_BINARY_OPCODE_APPEND, 8, 1, 9, FALSE },
    { BRAID_MC_BINARY_OPCODE_STAT, 0, 0, 0, TRUE },
    { BRAID_MC_BINARY_OPCODE_STAT, 0, 5, 5, TRUE },
    { BRAID_MC_BINARY_OPCODE_STAT, 4, 0, 4, FALSE },
    { BRAID_MC_BINARY_OPCODE_TOUCH, 4, 1, 5, TRUE },
    { BRAID_MC_BINARY_OPCODE_GATQ, 4, 1, 5, TRUE },
    { BRAID_MC_BINARY_OPCODE_GATKQ, 4, 2, 6, TRUE },
    { BRAID_MC_BINARY_OPCODE_TOUCH, 0, 1, 1, FALSE },
    { BRAID_MC_BINARY_OPCODE_GAT, 8, 1, 9, FALSE },
    { BRAID_MC_BINARY_OPCODE_GAT, 4, 0, 4, FALSE },
    { 0x7f, 3, 2, 9, TRUE },
  };

  g_test_summary ("Each opcode's extras, key and body lengths are accepted exactly as memcached 1.6's "
                  "dispatch_bin_command accepts them, quiet opcodes as their loud twins");
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      const Shape *s = &shapes[i];

      g_test_message ("opcode 0x%02x extras %u key %u body %u", s->opcode, s->extras_len, s->key_len, s->body_len);
      g_assert_cmpint (problem_of_shape (s), ==,
                       s->valid ? BRAID_MC_BINARY_PROBLEM_NONE : BRAID_MC_BINARY_PROBLEM_BAD_SHAPE);
    }
}

/* The problem with a store request of @opcode for key "k", @flags and a
 * value of @value_len bytes, under @parser. */
static BraidMcBinaryProblem
problem_of_store (const BraidMcBinaryParser *parser, guint8 opcode, guint32 flags, gsize value_len)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autofree gchar *value = g_strnfill (value_len, 'v');
  guint8 extras[8] = { 0 };
  gsize extras_len = braid_mc_binary_opcode_loud (opcode) == BRAID_MC_BINARY_OPCODE_SET ? 8 : 0;
  BraidMcBinaryRequest r;

  braid_mc_binary_write_u32 (extras, flags);
  append_request (in, opcode, "k", extras, extras_len, value, 1);
  g_assert_cmpuint (braid_mc_binary_parse_request (parser, in->data, in->len, &r), >, 0);
  return r.problem;
}

static void
test_parser_item_size_limit (void)
{
  BraidMcBinaryParser parser = { 4096, TRUE };
  BraidMcBinaryParser no_cas = { 4096, FALSE };
  BraidMcBinaryParser unset = { 0, TRUE };
  /* the longest value an item of key "k" without flags may carry */
  gsize fits = 4096 - braid_mc_item_size (1, 0, 0, TRUE);

  g_test_summary ("A stored value is too large exactly when the item (key, flags if not 0, value, cas) "
                  "would weigh more than -I; flags come from a set's extras only; 0 means 1 MiB");
  g_assert_cmpuint (braid_mc_item_size (1, 0, fits, TRUE), ==, 4096);
  g_assert_cmpint (problem_of_store (&parser, BRAID_MC_BINARY_OPCODE_SET, 0, fits), ==, BRAID_MC_BINARY_PROBLEM_NONE);
  g_assert_cmpint (problem_of_store (&parser, BRAID_MC_BINARY_OPCODE_SET, 0, fits + 1), ==,
                   BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE);
  /* non-zero flags cost 4 bytes */
  g_assert_cmpint (problem_of_store (&parser, BRAID_MC_BINARY_OPCODE_SET, 0x01000000, fits), ==,
                   BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE);
  g_assert_cmpint (problem_of_store (&parser, BRAID_MC_BINARY_OPCODE_SETQ, 1, fits - 4), ==,
                   BRAID_MC_BINARY_PROBLEM_NONE);
  /* append has no extras, hence no flags */
  g_assert_cmpint (problem_of_store (&parser, BRAID_MC_BINARY_OPCODE_APPEND, 0, fits), ==, BRAID_MC_BINARY_PROBLEM_NONE);
  g_assert_cmpint (problem_of_store (&parser, BRAID_MC_BINARY_OPCODE_PREPENDQ, 0, fits + 1), ==,
                   BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE);
  /* without cas, items are 8 bytes lighter */
  g_assert_cmpint (problem_of_store (&no_cas, BRAID_MC_BINARY_OPCODE_SET, 0, fits + 8), ==,
                   BRAID_MC_BINARY_PROBLEM_NONE);
  g_assert_cmpint (problem_of_store (&no_cas, BRAID_MC_BINARY_OPCODE_SET, 0, fits + 9), ==,
                   BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE);
  /* -I unset: 1 MiB */
  g_assert_cmpint (problem_of_store (&unset, BRAID_MC_BINARY_OPCODE_SET, 0, 5000), ==, BRAID_MC_BINARY_PROBLEM_NONE);
  g_assert_cmpint (problem_of_store (&unset, BRAID_MC_BINARY_OPCODE_SET, 0, 1024 * 1024), ==,
                   BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE);
}

static void
test_response_layout (void)
{
  g_autoptr(GString) out = g_string_new (NULL);
  BraidMcBinaryHeader request = { 0 };
  BraidMcBinaryHeader h;
  static const guint8 extras[4] = { 0xde, 0xad, 0xbe, 0xef };

  g_test_summary ("A response carries the request's opcode (quiet as sent) and opaque, the status, the cas, "
                  "and extras, key and value in that order, counted in the body length");
  request.opcode = BRAID_MC_BINARY_OPCODE_GATKQ;
  request.opaque = 0xcafef00d;
  braid_mc_binary_append_response (out, &request, BRAID_MC_BINARY_STATUS_KEY_EEXISTS,
                                   G_GUINT64_CONSTANT (0x1122334455667788), extras, sizeof extras,
                                   (const guint8 *) "key", 3, (const guint8 *) "value", 5);
  g_assert_cmpuint (out->len, ==, BRAID_MC_BINARY_HEADER_LEN + 4 + 3 + 5);
  braid_mc_binary_header_decode ((const guint8 *) out->str, &h);
  g_assert_cmphex (h.magic, ==, BRAID_MC_BINARY_MAGIC_RESPONSE);
  g_assert_cmphex (h.opcode, ==, BRAID_MC_BINARY_OPCODE_GATKQ);
  g_assert_cmpuint (h.extras_len, ==, 4);
  g_assert_cmpuint (h.key_len, ==, 3);
  g_assert_cmpuint (h.body_len, ==, 12);
  g_assert_cmpuint (h.vbucket_or_status, ==, BRAID_MC_BINARY_STATUS_KEY_EEXISTS);
  g_assert_cmphex (h.opaque, ==, 0xcafef00d);
  g_assert_cmphex (h.cas, ==, G_GUINT64_CONSTANT (0x1122334455667788));
  g_assert_cmpmem (out->str + BRAID_MC_BINARY_HEADER_LEN, 12, "\xde\xad\xbe\xefkeyvalue", 12);
}

/* ---- sessions ---- */

static void
run_session (const BraidChunking *chunking, gpointer data)
{
  const BinarySession *s = data;
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  BraidTestServerConn c;
  g_autoptr(GBytes) written = NULL;
  gsize len;
  const guint8 *bytes;

  settings.flush_enabled = !s->flush_disabled;
  settings.store.cas_enabled = !s->cas_disabled;
  braid_test_server_conn_open (&c, &settings);
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      bytes = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);
      braid_test_server_conn_send (&c, bytes, len);
    }
  written = braid_fake_transport_get_written (c.transport);
  bytes = g_bytes_get_data (written, &len);
  braid_assert_bytes_equal (s->output, s->output_len, bytes, len);
  g_assert_cmpint (braid_fake_transport_is_disconnecting (c.transport), ==, s->closes);
  braid_test_server_conn_close (&c);
}

static GByteArray *
session_input (const BinarySession *s)
{
  GByteArray *in = g_byte_array_sized_new ((guint) (s->input_len + s->repeat + s->tail_len));

  g_byte_array_append (in, s->input, (guint) s->input_len);
  if (s->repeat > 0)
    {
      g_byte_array_set_size (in, (guint) (s->input_len + s->repeat));
      memset (in->data + s->input_len, 'x', s->repeat);
      g_byte_array_append (in, s->tail, (guint) s->tail_len);
    }
  return in;
}

static void
run_split (const BinarySession *s, const GByteArray *in, const gchar *label, const gsize *cuts, guint n_cuts)
{
  BraidChunking chunking = { label, g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  gsize start = 0;

  for (guint i = 0; i <= n_cuts; i++)
    {
      gsize end = i < n_cuts ? cuts[i] : in->len;

      g_ptr_array_add (chunking.chunks, g_bytes_new (in->data + start, end - start));
      start = end;
    }
  run_session (&chunking, (gpointer) s);
  g_ptr_array_unref (chunking.chunks);
}

/* A session with a large value: whole, split at every offset of the
 * requests around the value and in it at its edges, and in random
 * chunks (every split of a megabyte would be a million runs). */
static void
run_large_session (const BinarySession *s)
{
  g_autoptr(GByteArray) in = session_input (s);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());

  run_split (s, in, "whole", NULL, 0);
  for (gsize cut = 1; cut < in->len; cut++)
    {
      if (cut > s->input_len + 2 && cut < s->input_len + s->repeat - 2)
        cut = s->input_len + s->repeat - 2;
      run_split (s, in, "split", &cut, 1);
    }
  for (guint r = 0; r < 10; r++)
    {
      gsize cuts[64];
      guint n = 0;

      for (gsize at = (gsize) g_rand_int_range (rand, 1, 70000); at < in->len && n < G_N_ELEMENTS (cuts);
           at += (gsize) g_rand_int_range (rand, 1, 70000))
        cuts[n++] = at;
      run_split (s, in, "random", cuts, n);
    }
}

static void
test_sessions (void)
{
  g_test_summary ("Every opcode, quiet variant and error answers the bytes memcached 1.6.18 answered, "
                  "whole, byte by byte, at every split and in random chunks");
  for (gsize i = 0; i < G_N_ELEMENTS (binary_sessions); i++)
    {
      const BinarySession *s = &binary_sessions[i];

      g_test_message ("session %" G_GSIZE_FORMAT ": %s", i, s->name);
      if (s->repeat > 0)
        run_large_session (s);
      else
        braid_test_for_each_chunking (s->input, s->input_len, 20, run_session, (gpointer) s);
    }
}

/* Runs @in through a fresh server connection and returns what it wrote. */
static GBytes *
converse (const guint8 *in, gsize len, gboolean *closed)
{
  BraidTestServerConn c;
  GBytes *written;

  braid_test_server_conn_open (&c, NULL);
  braid_test_server_conn_send (&c, in, len);
  written = braid_fake_transport_get_written (c.transport);
  if (closed != NULL)
    *closed = braid_fake_transport_is_disconnecting (c.transport);
  braid_test_server_conn_close (&c);
  return written;
}

static void
test_version (void)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("VERSION answers the version the text protocol answers (memcached's, then braid's)");
  append_request (in, BRAID_MC_BINARY_OPCODE_VERSION, NULL, NULL, 0, NULL, 9);
  append_expected (expected, BRAID_MC_BINARY_OPCODE_VERSION, BRAID_MC_BINARY_STATUS_NO_ERROR, 9,
                   BRAID_MC_VERSION_STRING);
  written = converse (in->data, in->len, NULL);
  braid_assert_bytes_equal (expected->str, expected->len, g_bytes_get_data (written, NULL),
                            g_bytes_get_size (written));
}

static void
test_unknown_with_body_is_framed (void)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GBytes) written = NULL;
  guint8 level[4] = { 0, 0, 0, 1 };
  gboolean closed;

  g_test_summary ("An unknown opcode (VERBOSITY included) with extras or a key is answered at once and its "
                  "body skipped by its length, so the next request is served.  memcached 1.6.18 skips "
                  "body-length bytes counted from after the key instead, so it holds the answer and eats "
                  "the next request's header: braid follows the protocol's framing here, deliberately "
                  "(docs/memcached.md)");
  append_request (in, BRAID_MC_BINARY_OPCODE_VERBOSITY, NULL, level, sizeof level, NULL, 1);
  append_request (in, 0x40, "key", level, sizeof level, "value", 2);
  append_request (in, BRAID_MC_BINARY_OPCODE_NOOP, NULL, NULL, 0, NULL, 3);
  append_expected (expected, BRAID_MC_BINARY_OPCODE_VERBOSITY, BRAID_MC_BINARY_STATUS_UNKNOWN_COMMAND, 1,
                   "Unknown command");
  append_expected (expected, 0x40, BRAID_MC_BINARY_STATUS_UNKNOWN_COMMAND, 2, "Unknown command");
  append_expected (expected, BRAID_MC_BINARY_OPCODE_NOOP, BRAID_MC_BINARY_STATUS_NO_ERROR, 3, NULL);
  written = converse (in->data, in->len, &closed);
  braid_assert_bytes_equal (expected->str, expected->len, g_bytes_get_data (written, NULL),
                            g_bytes_get_size (written));
  g_assert_false (closed);
}

/* The packets of a STAT reply: name → value; the terminator ends it. */
static GHashTable *
read_stats (GBytes *written, guint32 opaque)
{
  GHashTable *stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gsize len, offset = 0;
  const guint8 *data = g_bytes_get_data (written, &len);

  while (offset + BRAID_MC_BINARY_HEADER_LEN <= len)
    {
      BraidMcBinaryHeader h;

      braid_mc_binary_header_decode (data + offset, &h);
      g_assert_cmpuint (h.magic, ==, BRAID_MC_BINARY_MAGIC_RESPONSE);
      g_assert_cmpuint (h.opcode, ==, BRAID_MC_BINARY_OPCODE_STAT);
      g_assert_cmpuint (h.opaque, ==, opaque);
      g_assert_cmpuint (offset + BRAID_MC_BINARY_HEADER_LEN + h.body_len, <=, len);
      offset += BRAID_MC_BINARY_HEADER_LEN;
      if (h.key_len == 0)
        {
          g_assert_cmpuint (h.body_len, ==, 0);
          g_assert_cmpuint (offset, ==, len);
          return stats;
        }
      g_hash_table_insert (stats, g_strndup ((const gchar *) data + offset, h.key_len),
                           g_strndup ((const gchar *) data + offset + h.key_len, h.body_len - h.key_len));
      offset += h.body_len;
    }
  g_assert_not_reached ();
}

static void
test_stats_general (void)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GBytes) written = NULL;
  g_autoptr(GHashTable) stats = NULL;
  gsize head;

  g_test_summary ("STAT without a key answers the text 'stats' names and values, one packet each, ending "
                  "with an empty one; binary commands count as the text ones do");
  append_request (in, BRAID_MC_BINARY_OPCODE_GETQ, "missing", NULL, 0, NULL, 1);
  head = in->len;
  append_request (in, BRAID_MC_BINARY_OPCODE_STAT, NULL, NULL, 0, NULL, 2);
  written = converse (in->data, in->len, NULL);
  stats = read_stats (written, 2);
  g_assert_cmpuint (head, >, 0);
  g_assert_cmpstr (g_hash_table_lookup (stats, "version"), ==, BRAID_MC_VERSION_STRING);
  g_assert_cmpstr (g_hash_table_lookup (stats, "libevent"), ==, "none (GLib)");
  g_assert_cmpstr (g_hash_table_lookup (stats, "cmd_get"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (stats, "get_misses"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (stats, "curr_items"), ==, "0");
  g_assert_nonnull (g_hash_table_lookup (stats, "pid"));
}

static void
test_stats_settings (void)
{
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GBytes) written = NULL;
  g_autoptr(GHashTable) stats = NULL;

  g_test_summary ("STAT settings answers the text 'stats settings'");
  append_request (in, BRAID_MC_BINARY_OPCODE_STAT, "settings", NULL, 0, NULL, 5);
  written = converse (in->data, in->len, NULL);
  stats = read_stats (written, 5);
  g_assert_cmpstr (g_hash_table_lookup (stats, "item_size_max"), ==, "1048576");
  g_assert_cmpstr (g_hash_table_lookup (stats, "cas_enabled"), ==, "yes");
}

static void
test_stats_unknown_group (void)
{
  /* memcached 1.6.18's answers, asked over a socket: "Not found" for each,
   * with the request's opaque. */
  static const gchar *const groups[] = { "bogus", "conns", "cachedump 1 0", "itemsx", "items " };
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GBytes) written = NULL;
  gboolean closed;

  g_test_summary ("STAT for a group binary memcached does not know (text-only groups such as conns and "
                  "cachedump, or a known name with more after it) answers 'Not found', and the connection "
                  "goes on");
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    {
      append_request (in, BRAID_MC_BINARY_OPCODE_STAT, groups[i], NULL, 0, NULL, 20 + i);
      append_expected (expected, BRAID_MC_BINARY_OPCODE_STAT, BRAID_MC_BINARY_STATUS_KEY_ENOENT, 20 + i,
                       "Not found");
    }
  append_request (in, BRAID_MC_BINARY_OPCODE_NOOP, NULL, NULL, 0, NULL, 30);
  append_expected (expected, BRAID_MC_BINARY_OPCODE_NOOP, BRAID_MC_BINARY_STATUS_NO_ERROR, 30, NULL);
  written = converse (in->data, in->len, &closed);
  braid_assert_bytes_equal (expected->str, expected->len, g_bytes_get_data (written, NULL),
                            g_bytes_get_size (written));
  g_assert_false (closed);
}

static void
test_text_stays_text (void)
{
  /* memcached 1.6.18 answers "VERSION 1.6.18\r\nEND\r\n" to this. */
  static const gchar text[] = "version\r\nget \200k\r\n";
  g_autoptr(GBytes) written = NULL;
  static const gchar expected[] = "VERSION " BRAID_MC_VERSION_STRING "\r\nEND\r\n";

  g_test_summary ("Only a connection's first byte decides: on a text connection a later 0x80 byte is "
                  "text (here, in a key)");
  written = converse ((const guint8 *) text, sizeof text - 1, NULL);
  braid_assert_bytes_equal (expected, sizeof expected - 1, g_bytes_get_data (written, NULL),
                            g_bytes_get_size (written));
}


static void
test_first_byte_alone_decides (void)
{
  /* Observed from memcached 1.6.18, the three writes apart:
   * "ERROR\r\nERROR\r\nVERSION 1.6.18\r\n". */
  static const gchar *const writes[] = { "\n", "\200version\r\n", "version\r\n" };
  static const gchar expected[] = "ERROR\r\nERROR\r\nVERSION " BRAID_MC_VERSION_STRING "\r\n";
  BraidTestServerConn c;
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("A first read of one byte decides the protocol even when that byte is a whole command "
                  "(an empty line): a 0x80 that comes next is text");
  braid_test_server_conn_open (&c, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (writes); i++)
    braid_test_server_conn_send (&c, (const guint8 *) writes[i], strlen (writes[i]));
  written = braid_fake_transport_get_written (c.transport);
  braid_assert_bytes_equal (expected, sizeof expected - 1, g_bytes_get_data (written, NULL),
                            g_bytes_get_size (written));
  braid_test_server_conn_close (&c);
}


static void
test_large_value_without_transport (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_mc_server_create_factory (server);
  g_autoptr(BraidProtocol) protocol = braid_protocol_factory_build_protocol (factory, NULL);
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autofree gchar *value = g_strnfill (1000, 'v');
  guint8 extras[8] = { 0 };
  gsize input, output;
  gboolean retrieving;

  g_test_summary ("Driven without a transport, a binary GET of a value large enough to go by reference "
                  "copies it into the output instead: every byte waits there");
  append_request (in, BRAID_MC_BINARY_OPCODE_SETQ, "big", extras, sizeof extras, value, 1);
  append_request (in, BRAID_MC_BINARY_OPCODE_GET, "big", NULL, 0, NULL, 2);
  braid_protocol_data_received (protocol, in->data, in->len);
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (protocol), &input, &output, &retrieving);
  g_assert_cmpuint (input, ==, 0);
  g_assert_cmpuint (output, ==, BRAID_MC_BINARY_HEADER_LEN + 4 + 1000);
  g_assert_false (retrieving);
}

/* ---- the item size limit, as the server applies it ---- */

/* The statuses of the responses in @written, in order. */
static GArray *
response_statuses (GBytes *written)
{
  GArray *statuses = g_array_new (FALSE, FALSE, sizeof (guint16));
  gsize len;
  const guint8 *p = g_bytes_get_data (written, &len);

  while (len >= BRAID_MC_BINARY_HEADER_LEN)
    {
      BraidMcBinaryHeader h;

      braid_mc_binary_header_decode (p, &h);
      g_assert_cmpuint (len, >=, BRAID_MC_BINARY_HEADER_LEN + h.body_len);
      g_array_append_val (statuses, h.vbucket_or_status);
      p += BRAID_MC_BINARY_HEADER_LEN + h.body_len;
      len -= BRAID_MC_BINARY_HEADER_LEN + h.body_len;
    }
  g_assert_cmpuint (len, ==, 0);
  return statuses;
}

/* Sets "k" to a small value, then to @value_len bytes, then gets it, on a
 * server with -I 4096 and cas on or off; returns the three statuses. */
static GArray *
set_over_small_value (gboolean cas_enabled, gsize value_len)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  BraidTestServerConn c;
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GBytes) written = NULL;
  g_autofree gchar *value = g_strnfill (value_len, 'v');
  guint8 extras[8] = { 0 };

  settings.store.item_size_max = 4096;
  settings.store.cas_enabled = cas_enabled;
  braid_test_server_conn_open (&c, &settings);
  append_request (in, BRAID_MC_BINARY_OPCODE_SET, "k", extras, sizeof extras, "old", 1);
  append_request (in, BRAID_MC_BINARY_OPCODE_SET, "k", extras, sizeof extras, value, 2);
  append_request (in, BRAID_MC_BINARY_OPCODE_GET, "k", NULL, 0, NULL, 3);
  braid_test_server_conn_send (&c, in->data, in->len);
  written = braid_fake_transport_get_written (c.transport);
  braid_test_server_conn_close (&c);
  return response_statuses (written);
}

static void
assert_statuses (GArray *statuses, guint16 set, guint16 get)
{
  g_assert_cmpuint (statuses->len, ==, 3);
  g_assert_cmpuint (g_array_index (statuses, guint16, 0), ==, BRAID_MC_BINARY_STATUS_NO_ERROR);
  g_assert_cmpuint (g_array_index (statuses, guint16, 1), ==, set);
  g_assert_cmpuint (g_array_index (statuses, guint16, 2), ==, get);
  g_array_unref (statuses);
}

static void
test_item_size_follows_cas_setting (void)
{
  /* the longest value an item of key "k" without flags may carry, cas on */
  gsize fits = 4096 - braid_mc_item_size (1, 0, 0, TRUE);

  g_test_summary ("A binary set is weighed against -I with the server's cas setting: with cas on, a value "
                  "one byte over is refused before it is read, and the old value goes, as memcached does; "
                  "with cas off (-C) items are 8 bytes lighter, so 8 more bytes fit");
  assert_statuses (set_over_small_value (TRUE, fits), BRAID_MC_BINARY_STATUS_NO_ERROR,
                   BRAID_MC_BINARY_STATUS_NO_ERROR);
  assert_statuses (set_over_small_value (TRUE, fits + 1), BRAID_MC_BINARY_STATUS_E2BIG,
                   BRAID_MC_BINARY_STATUS_KEY_ENOENT);
  assert_statuses (set_over_small_value (FALSE, fits + 8), BRAID_MC_BINARY_STATUS_NO_ERROR,
                   BRAID_MC_BINARY_STATUS_NO_ERROR);
  assert_statuses (set_over_small_value (FALSE, fits + 9), BRAID_MC_BINARY_STATUS_E2BIG,
                   BRAID_MC_BINARY_STATUS_KEY_ENOENT);
}

/* ---- back pressure ---- */

static void
test_back_pressure (void)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  BraidTestServerConn c;
  BraidFakeTransport *transport;
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autofree gchar *value = g_strnfill (100 * 1024, 'v');
  guint8 extras[8] = { 0 };
  const guint n_gets = 50;
  gsize reply_len = BRAID_MC_BINARY_HEADER_LEN + 4 + 100 * 1024;

  g_test_summary ("A binary client that asks for a large value many times and does not read is paused once "
                  "its unsent replies pass the output limit, values going by reference; when it reads "
                  "again every reply arrives");
  settings.output_limit = 256 * 1024;
  braid_test_server_conn_open (&c, &settings);
  transport = c.transport;
  braid_fake_transport_set_autoflush (transport, FALSE);

  append_request (in, BRAID_MC_BINARY_OPCODE_SETQ, "big", extras, sizeof extras, value, 1);
  for (guint i = 0; i < n_gets; i++)
    append_request (in, BRAID_MC_BINARY_OPCODE_GET, "big", NULL, 0, NULL, 2 + i);
  braid_test_server_conn_send (&c, in->data, in->len);

  g_assert_true (braid_fake_transport_get_read_paused (transport));
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (transport)), <=,
                    settings.output_limit + reply_len);
  g_assert_true (braid_mc_server_is_busy (c.server));

  /* The client reads: each drain lets the connection go on. */
  for (guint i = 0; i < 2 * n_gets && braid_fake_transport_get_read_paused (transport); i++)
    braid_fake_transport_flush (transport);
  braid_fake_transport_flush (transport);
  {
    g_autoptr(GBytes) written = braid_fake_transport_get_written (transport);

    g_assert_cmpuint (g_bytes_get_size (written), ==, n_gets * reply_len);
  }
  g_assert_false (braid_fake_transport_get_read_paused (transport));
  g_assert_false (braid_mc_server_is_busy (c.server));
  braid_test_server_conn_close (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/binary/parser/needs-whole-head", test_parser_needs_whole_head);
  g_test_add_func ("/mc/binary/parser/bounds", test_parser_bounds);
  g_test_add_func ("/mc/binary/parser/header-round-trip", test_header_round_trip);
  g_test_add_func ("/mc/binary/parser/header-every-field", test_header_every_field);
  g_test_add_func ("/mc/binary/parser/shapes", test_parser_shapes);
  g_test_add_func ("/mc/binary/parser/item-size-limit", test_parser_item_size_limit);
  g_test_add_func ("/mc/binary/opcodes/quiet-and-loud", test_opcodes_quiet_and_loud);
  g_test_add_func ("/mc/binary/response-layout", test_response_layout);
  g_test_add_func ("/mc/binary/sessions", test_sessions);
  g_test_add_func ("/mc/binary/version", test_version);
  g_test_add_func ("/mc/binary/unknown-with-body-is-framed", test_unknown_with_body_is_framed);
  g_test_add_func ("/mc/binary/stats/general", test_stats_general);
  g_test_add_func ("/mc/binary/stats/settings", test_stats_settings);
  g_test_add_func ("/mc/binary/stats/unknown-group", test_stats_unknown_group);
  g_test_add_func ("/mc/binary/text-stays-text", test_text_stays_text);
  g_test_add_func ("/mc/binary/first-byte-alone-decides", test_first_byte_alone_decides);
  g_test_add_func ("/mc/binary/large-value-without-transport", test_large_value_without_transport);
  g_test_add_func ("/mc/binary/back-pressure", test_back_pressure);
  g_test_add_func ("/mc/binary/item-size-follows-cas-setting", test_item_size_follows_cas_setting);
  return g_test_run ();
}
