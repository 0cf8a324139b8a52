/* braid — the memcached server's and binary codec's preconditions: NULL
 * and foreign objects, and responses whose lengths do not fit the binary
 * header's fields, are refused with a critical and nothing written. */
#include "test-support.h"
#include "mc-binary.h"
#include "mc-server.h"

static guint n_criticals;

static void
count_critical (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  n_criticals++;
}

#define EXPECT_CRITICAL(expr)                             \
  G_STMT_START {                                          \
    guint before_ = n_criticals;                          \
    expr;                                                 \
    g_assert_cmpuint (n_criticals, ==, before_ + 1);      \
  } G_STMT_END

static void
test_server (void)
{
  GLogLevelFlags was_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  guint handler = g_log_set_handler ("braid", G_LOG_LEVEL_CRITICAL, count_critical, NULL);
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  BraidMcServer *not_server = (BraidMcServer *) other;
  BraidMcServerCounters counters;
  gint verbosity = braid_mc_server_get_settings (server)->verbosity;

  g_test_summary ("Server functions refuse what is not a server, and a missing counters struct");
  n_criticals = 0;
  EXPECT_CRITICAL (g_assert_null (braid_mc_server_new (NULL, NULL)));
  EXPECT_CRITICAL (g_assert_null (braid_mc_server_create_factory (not_server)));
  EXPECT_CRITICAL (g_assert_null (braid_mc_server_get_store (NULL)));
  EXPECT_CRITICAL (g_assert_null (braid_mc_server_get_reactor (NULL)));
  EXPECT_CRITICAL (g_assert_null (braid_mc_server_get_settings (not_server)));
  EXPECT_CRITICAL (braid_mc_server_set_memory_limit (NULL, 1));
  EXPECT_CRITICAL (braid_mc_server_set_verbosity (NULL, 1));
  EXPECT_CRITICAL (braid_mc_server_get_counters (NULL, &counters));
  EXPECT_CRITICAL (braid_mc_server_get_counters (server, NULL));
  EXPECT_CRITICAL (g_assert_false (braid_mc_server_is_busy (NULL)));
  g_assert_cmpint (braid_mc_server_get_settings (server)->verbosity, ==, verbosity);
  g_log_remove_handler ("braid", handler);
  g_log_set_always_fatal (was_fatal);
}

static void
test_binary (void)
{
  GLogLevelFlags was_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  guint handler = g_log_set_handler ("braid", G_LOG_LEVEL_CRITICAL, count_critical, NULL);
  BraidMcBinaryParser parser = BRAID_MC_BINARY_PARSER_INIT;
  BraidMcBinaryHeader header = { 0 };
  BraidMcBinaryRequest request;
  g_autoptr(GString) out = g_string_new (NULL);
  guint8 buf[24] = { 0 };
  g_autofree guint8 *big = g_malloc0 (G_MAXUINT16 + 1);

  g_test_summary ("The binary codec refuses missing buffers and responses whose extras or key do "
                  "not fit their header fields, writing nothing; an empty buffer is no request");
  n_criticals = 0;
  EXPECT_CRITICAL (braid_mc_binary_header_decode (NULL, &header));
  EXPECT_CRITICAL (braid_mc_binary_header_decode (buf, NULL));
  EXPECT_CRITICAL (braid_mc_binary_header_encode (NULL, buf));
  EXPECT_CRITICAL (braid_mc_binary_header_encode (&header, NULL));
  EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_binary_parse_request (NULL, buf, sizeof buf, &request), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_binary_parse_request (&parser, NULL, 1, &request), ==, 0));
  EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_binary_parse_request (&parser, buf, sizeof buf, NULL), ==, 0));
  /* (NULL, 0) is an empty buffer: not enough for a header, no critical */
  g_assert_cmpuint (braid_mc_binary_parse_request (&parser, NULL, 0, &request), ==, 0);
  g_assert_cmpuint (n_criticals, ==, 7);

  EXPECT_CRITICAL (braid_mc_binary_append_response (NULL, &header, 0, 0, NULL, 0, NULL, 0, NULL, 0));
  EXPECT_CRITICAL (braid_mc_binary_append_response (out, NULL, 0, 0, NULL, 0, NULL, 0, NULL, 0));
  EXPECT_CRITICAL (braid_mc_binary_append_response (out, &header, 0, 0, big, G_MAXUINT8 + 1, NULL, 0, NULL, 0));
  EXPECT_CRITICAL (braid_mc_binary_append_response (out, &header, 0, 0, NULL, 0, big, G_MAXUINT16 + 1, NULL, 0));
  g_assert_cmpuint (out->len, ==, 0);
  /* the largest that fit */
  braid_mc_binary_append_response (out, &header, 0, 0, big, G_MAXUINT8, big, G_MAXUINT16, NULL, 0);
  g_assert_cmpuint (out->len, ==, 24 + G_MAXUINT8 + G_MAXUINT16);
  g_assert_cmpuint (n_criticals, ==, 11);
  g_log_remove_handler ("braid", handler);
  g_log_set_always_fatal (was_fatal);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/preconditions/server", test_server);
  g_test_add_func ("/mc/preconditions/binary", test_binary);
  return g_test_run ();
}
