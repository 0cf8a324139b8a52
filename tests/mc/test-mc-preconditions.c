/* braid — the memcached server's and binary codec's preconditions: NULL
 * and foreign objects, and responses whose lengths do not fit the binary
 * header's fields, are refused with a critical and nothing written. */
#include "test-support.h"
#include "mc-binary.h"
#include "mc-server.h"

static void
test_server (void)
{
  BraidCriticalCounter counter;
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  BraidMcServer *not_server = (BraidMcServer *) other;
  BraidMcServerCounters counters;
  gint verbosity = braid_mc_server_get_settings (server)->verbosity;

  g_test_summary ("Server functions refuse what is not a server, and a missing counters struct");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_server_new (NULL, NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_server_create_factory (not_server)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_server_get_store (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_server_get_reactor (NULL)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_mc_server_get_settings (not_server)));
  BRAID_EXPECT_CRITICAL (braid_mc_server_set_memory_limit (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_mc_server_set_verbosity (NULL, 1));
  BRAID_EXPECT_CRITICAL (braid_mc_server_get_counters (NULL, &counters));
  BRAID_EXPECT_CRITICAL (braid_mc_server_get_counters (server, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_false (braid_mc_server_is_busy (NULL)));
  g_assert_cmpint (braid_mc_server_get_settings (server)->verbosity, ==, verbosity);
  braid_test_count_criticals_end (&counter);
}

static void
test_binary (void)
{
  BraidCriticalCounter counter;
  BraidMcBinaryParser parser = BRAID_MC_BINARY_PARSER_INIT;
  BraidMcBinaryHeader header = { 0 };
  BraidMcBinaryRequest request;
  g_autoptr(GString) out = g_string_new (NULL);
  guint8 buf[24] = { 0 };
  g_autofree guint8 *big = g_malloc0 (G_MAXUINT16 + 1);

  g_test_summary ("The binary codec refuses missing buffers and responses whose extras or key do "
                  "not fit their header fields, writing nothing; an empty buffer is no request");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (braid_mc_binary_header_decode (NULL, &header));
  BRAID_EXPECT_CRITICAL (braid_mc_binary_header_decode (buf, NULL));
  BRAID_EXPECT_CRITICAL (braid_mc_binary_header_encode (NULL, buf));
  BRAID_EXPECT_CRITICAL (braid_mc_binary_header_encode (&header, NULL));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_binary_parse_request (NULL, buf, sizeof buf, &request), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_binary_parse_request (&parser, NULL, 1, &request), ==, 0));
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_binary_parse_request (&parser, buf, sizeof buf, NULL), ==, 0));
  /* (NULL, 0) is an empty buffer: not enough for a header, no critical */
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, NULL, 0, &request), ==, 0);
  g_assert_cmpuint (braid_test_n_criticals (), ==, 7);

  BRAID_EXPECT_CRITICAL (braid_mc_binary_append_response (NULL, &header, 0, 0, NULL, 0, NULL, 0, NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_binary_append_response (out, NULL, 0, 0, NULL, 0, NULL, 0, NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_binary_append_response (out, &header, 0, 0, big, G_MAXUINT8 + 1, NULL, 0, NULL, 0));
  BRAID_EXPECT_CRITICAL (braid_mc_binary_append_response (out, &header, 0, 0, NULL, 0, big, G_MAXUINT16 + 1, NULL, 0));
  g_assert_cmpuint (out->len, ==, 0);
  /* the largest that fit */
  braid_mc_binary_append_response (out, &header, 0, 0, big, G_MAXUINT8, big, G_MAXUINT16, NULL, 0);
  g_assert_cmpuint (out->len, ==, 24 + G_MAXUINT8 + G_MAXUINT16);
  g_assert_cmpuint (braid_test_n_criticals (), ==, 11);
  braid_test_count_criticals_end (&counter);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/preconditions/server", test_server);
  g_test_add_func ("/mc/preconditions/binary", test_binary);
  return g_test_run ();
}
