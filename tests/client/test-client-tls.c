/* braid — the client library over TLS: the same requests to
 * braid-memcached -Z and Debian's memcached -Z (built with TLS), which
 * must answer them identically. */
#include "test-support.h"
#include "mc-client.h"
#include "mc-pool.h"

#include <string.h>

#define WAIT(r) braid_test_wait_for_result (NULL, &(r), 10000)

static BraidTestCertificate *certificate;
static gchar *skip_reason;

static GPtrArray *
start_servers (void)
{
  g_autofree gchar *option = g_strdup_printf ("ssl_chain_cert=%s,ssl_key=%s", certificate->certificate,
                                              certificate->key);
  const gchar *const extra[] = { "-Z", "-o", option, NULL };

  return braid_test_servers_start (extra, extra);
}

static gchar *
client_endpoint (guint16 port)
{
  return g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", port, certificate->certificate);
}

/* Sends a memcached request in the clear to the TLS port on @port and
 * reads until the server hangs up (a reset included); what came back. */
static gchar *
speak_plain_text (guint16 port)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  GString *got = g_string_new (NULL);

  g_socket_client_set_timeout (socket_client, 10);
  conn = g_socket_client_connect_to_host (socket_client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), "get a\r\n", 7, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  for (;;)
    {
      gchar buf[4096];
      gssize n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL,
                                      NULL);

      if (n <= 0)
        break;
      g_string_append_len (got, buf, n);
    }
  return g_string_free (got, FALSE);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* One session of requests; what each answered, one line each. */
static gchar *
session (BraidMcClient *client, guint64 *handshake_errors)
{
  GString *log = g_string_new (NULL);
  g_autoptr(GBytes) alpha = g_bytes_new_static ("alpha", 5);
  g_autoptr(GBytes) n41 = g_bytes_new_static ("41", 2);
  gsize big_size = 512 * 1024;
  g_autofree guint8 *big_data = g_malloc (big_size);
  g_autoptr(GBytes) big = NULL;
  g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL, r7 = NULL,
                          r8 = NULL, r9 = NULL, r10 = NULL, r11 = NULL, r12 = NULL;
  const gchar *const keys[] = { "a", "n", "missing", "big", NULL };
  g_autoptr(GError) error = NULL;
  guint64 value = 0;

  for (gsize i = 0; i < big_size; i++)
    big_data[i] = (guint8) (i * 31 + 7);
  big = g_bytes_new (big_data, big_size);

  /* One request at a time: memcached 1.6.18 -Z stalls on a request
   * that arrives in the same TLS read as the end of the one before it
   * (it waits for the socket instead of draining OpenSSL's buffer), so
   * pipelining would test that bug rather than braid. */
  braid_mc_client_set_async (client, "a", alpha, 7, 0, NULL, braid_test_store_result, &r1);
  WAIT (r1);
  braid_mc_client_set_async (client, "n", n41, 0, 0, NULL, braid_test_store_result, &r2);
  WAIT (r2);
  braid_mc_client_arith_async (client, "n", BRAID_MC_ARITH_MODE_INCR, 1, NULL, braid_test_store_result, &r3);
  WAIT (r3);
  braid_mc_client_set_async (client, "big", big, 3, 0, NULL, braid_test_store_result, &r4);
  WAIT (r4);
  braid_mc_client_get_async (client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r5);
  WAIT (r5);
  braid_mc_client_get_multi_async (client, keys, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r6);
  WAIT (r6);
  braid_mc_client_delete_async (client, "a", NULL, braid_test_store_result, &r7);
  WAIT (r7);
  braid_mc_client_delete_async (client, "a", NULL, braid_test_store_result, &r8);
  WAIT (r8);
  braid_mc_client_get_async (client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result, &r9);
  WAIT (r9);
  braid_mc_client_arith_async (client, "a", BRAID_MC_ARITH_MODE_DECR, 1, NULL, braid_test_store_result, &r10);
  WAIT (r10);
  braid_mc_client_stats_async (client, "settings", NULL, braid_test_store_result, &r11);
  WAIT (r11);
  braid_mc_client_stats_async (client, NULL, NULL, braid_test_store_result, &r12);
  WAIT (r12);

  g_string_append_printf (log, "set a: %d\n", braid_mc_client_set_finish (client, r1, NULL));
  g_string_append_printf (log, "set n: %d\n", braid_mc_client_set_finish (client, r2, NULL));
  {
    gboolean ok = braid_mc_client_arith_finish (client, r3, &value, NULL);

    g_string_append_printf (log, "incr n: %d %" G_GUINT64_FORMAT "\n", ok, value);
  }
  g_string_append_printf (log, "set big: %d\n", braid_mc_client_set_finish (client, r4, NULL));
  {
    g_autoptr(BraidMcValue) got = braid_mc_client_get_finish (client, r5, &error);

    g_assert_no_error (error);
    g_string_append_printf (log, "get a: %.*s flags %u\n", (int) g_bytes_get_size (got->data),
                            (const gchar *) g_bytes_get_data (got->data, NULL), got->flags);
  }
  {
    g_autoptr(GHashTable) hits = braid_mc_client_get_multi_finish (client, r6, &error);
    g_autoptr(GPtrArray) names = g_ptr_array_new ();
    GHashTableIter iter;
    gpointer name;

    g_assert_no_error (error);
    g_hash_table_iter_init (&iter, hits);
    while (g_hash_table_iter_next (&iter, &name, NULL))
      g_ptr_array_add (names, name);
    g_ptr_array_sort (names, compare_strings);
    g_string_append (log, "get a n missing big:");
    for (guint i = 0; i < names->len; i++)
      {
        BraidMcValue *v = g_hash_table_lookup (hits, g_ptr_array_index (names, i));

        if (g_bytes_get_size (v->data) > 64)
          g_string_append_printf (log, " %s=(%" G_GSIZE_FORMAT " bytes, %s)", (const gchar *) g_ptr_array_index (names, i),
                                  g_bytes_get_size (v->data), g_bytes_equal (v->data, big) ? "intact" : "CORRUPT");
        else
          g_string_append_printf (log, " %s=%.*s", (const gchar *) g_ptr_array_index (names, i),
                                  (int) g_bytes_get_size (v->data), (const gchar *) g_bytes_get_data (v->data, NULL));
      }
    g_string_append_c (log, '\n');
  }
  g_string_append_printf (log, "delete a: %d\n", braid_mc_client_delete_finish (client, r7, NULL));
  g_string_append_printf (log, "delete a again: %d ", braid_mc_client_delete_finish (client, r8, &error));
  g_string_append_printf (log, "%s\n", error != NULL && g_error_matches (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND)
                                         ? "NOT_FOUND" : "?");
  g_clear_error (&error);
  {
    g_autoptr(BraidMcValue) got = braid_mc_client_get_finish (client, r9, &error);

    g_string_append_printf (log, "get a: %s\n", got == NULL && g_error_matches (error, BRAID_MC_ERROR,
                                                                                BRAID_MC_ERROR_NOT_FOUND)
                                                  ? "NOT_FOUND" : "?");
    g_clear_error (&error);
  }
  g_string_append_printf (log, "decr a: %d\n", braid_mc_client_arith_finish (client, r10, &value, NULL));
  {
    g_autoptr(GHashTable) settings = braid_mc_client_stats_finish (client, r11, &error);

    g_assert_no_error (error);
    g_string_append_printf (log, "ssl_enabled %s\n", (const gchar *) g_hash_table_lookup (settings, "ssl_enabled"));
  }
  {
    g_autoptr(GHashTable) stats = braid_mc_client_stats_finish (client, r12, &error);
    const gchar *errors;

    g_assert_no_error (error);
    /* The plain-text client, and the test's readiness probe (connect,
     * close) too: at least one. */
    errors = g_hash_table_lookup (stats, "ssl_handshake_errors");
    g_string_append_printf (log, "ssl_handshake_errors %s\n", errors == NULL ? "absent" : "present");
    *handshake_errors = errors != NULL ? g_ascii_strtoull (errors, NULL, 10) : 0;
  }
  return g_string_free (log, FALSE);
}

static void
test_session (void)
{
  g_autoptr(GPtrArray) answers = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *servers;
  const gchar *expected =
    "set a: 1\n"
    "set n: 1\n"
    "incr n: 1 42\n"
    "set big: 1\n"
    "get a: alpha flags 7\n"
    "get a n missing big: a=alpha big=(524288 bytes, intact) n=42\n"
    "delete a: 1\n"
    "delete a again: 0 NOT_FOUND\n"
    "get a: NOT_FOUND\n"
    "decr a: 0\n"
    "ssl_enabled yes\n"
    "ssl_handshake_errors present\n";

  g_test_summary ("set/get/incr/delete, a multi-get and a 512 KiB value over TLS: braid-memcached -Z and "
                  "memcached -Z answer alike, and braid-memcached counts a plain-text client as a failed handshake");
  if (certificate == NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  servers = start_servers ();
  for (guint i = 0; i < servers->len; i++)
    {
      BraidTestServer *s = g_ptr_array_index (servers, i);
      g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
      g_autofree gchar *endpoint = client_endpoint (s->port);
      g_autoptr(BraidMcClient) client = braid_mc_client_new (BRAID_REACTOR (reactor), endpoint);
      gchar *answer;

      g_autofree gchar *plain = NULL;

      /* A plain-text client first: the server hangs up on it and counts
       * one failed handshake. */
      plain = speak_plain_text (s->port);
      g_assert_null (strstr (plain, "END"));
      braid_mc_client_set_timeout (client, 5 * G_USEC_PER_SEC);
      guint64 handshake_errors = 0;

      answer = session (client, &handshake_errors);
      g_test_message ("%s:\n%s(ssl_handshake_errors %" G_GUINT64_FORMAT ")", s->name, answer, handshake_errors);
      /* braid counts the plain-text client every time; memcached 1.6.18
       * does not always (CI saw 0 on a loaded machine, here it is 1),
       * so only braid's count is checked. */
      if (strstr (s->name, "braid") != NULL)
        g_assert_cmpuint (handshake_errors, >=, 1);
      g_ptr_array_add (answers, answer);
      g_clear_object (&client);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  braid_test_servers_stop (servers);
  for (guint i = 0; i < answers->len; i++)
    g_assert_cmpstr (g_ptr_array_index (answers, i), ==, expected);
}

static void
test_pool (void)
{
  g_autoptr(GString) spec = g_string_new (NULL);
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidMcPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *servers;

  g_test_summary ("A pool of tls: servers (both braid-memcached -Z and memcached -Z) stores and fetches "
                  "keys on the server ketama picks by HOST:PORT");
  if (certificate == NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  servers = start_servers ();
  for (guint i = 0; i < servers->len; i++)
    {
      g_autofree gchar *endpoint = client_endpoint (((BraidTestServer *) g_ptr_array_index (servers, i))->port);

      g_string_append_printf (spec, "%s%s", i > 0 ? "," : "", endpoint);
    }
  reactor = braid_glib_reactor_new (NULL);
  pool = braid_mc_pool_new (BRAID_REACTOR (reactor), spec->str, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_mc_pool_get_n_servers (pool), ==, servers->len);
  for (guint i = 0; i < servers->len; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("127.0.0.1:%u", ((BraidTestServer *) g_ptr_array_index (servers, i))->port);

      g_assert_cmpstr (braid_mc_pool_get_server_name (pool, i), ==, name);
    }
  braid_mc_pool_set_timeout (pool, 5 * G_USEC_PER_SEC);
  for (guint k = 0; k < 20; k++)
    {
      g_autofree gchar *key = g_strdup_printf ("key-%u", k);
      g_autoptr(GBytes) v = g_bytes_new (key, strlen (key));
      g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL;
      g_autoptr(BraidMcValue) got = NULL;

      braid_mc_pool_set_async (pool, key, v, 0, 0, NULL, braid_test_store_result, &r1);
      braid_mc_pool_get_async (pool, key, NULL, braid_test_store_result, &r2);
      WAIT (r2);
      g_assert_true (braid_mc_pool_set_finish (pool, r1, &error));
      g_assert_no_error (error);
      got = braid_mc_pool_get_finish (pool, r2, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (got->data, v));
    }
  g_clear_object (&pool);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  braid_test_servers_stop (servers);
}

static void
test_pipelined_braid (void)
{
  g_autofree gchar *option = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autoptr(BraidMcClient) client = NULL;
  g_autofree gchar *endpoint = NULL;
  GSubprocess *process;
  guint16 port;
  g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) gets = g_ptr_array_new_with_free_func (g_object_unref);
  const guint n = 50;

  g_test_summary ("braid-memcached -Z answers pipelined requests whose TLS records end mid-request (where "
                  "memcached 1.6.18 -Z stalls): 50 sets of 20 000 bytes and their gets, all sent at once");
  if (certificate == NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  option = g_strdup_printf ("ssl_chain_cert=%s,ssl_key=%s", certificate->certificate, certificate->key);
  {
    const gchar *const extra[] = { "-Z", "-o", option, NULL };

    process = braid_test_start_memcached (&port, extra);
  }
  reactor = braid_glib_reactor_new (NULL);
  endpoint = client_endpoint (port);
  client = braid_mc_client_new (BRAID_REACTOR (reactor), endpoint);
  braid_mc_client_set_timeout (client, 5 * G_USEC_PER_SEC);
  g_ptr_array_set_size (sets, n);
  g_ptr_array_set_size (gets, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree gchar *key = g_strdup_printf ("p%u", i);
      g_autofree guint8 *data = g_malloc (20000);
      g_autoptr(GBytes) value = NULL;

      memset (data, 'a' + (int) (i % 26), 20000);
      value = g_bytes_new_take (g_steal_pointer (&data), 20000);
      braid_mc_client_set_async (client, key, value, i, 0, NULL, braid_test_store_result, &sets->pdata[i]);
      braid_mc_client_get_async (client, key, BRAID_MC_GET_FLAGS_NONE, NULL, braid_test_store_result,
                                 &gets->pdata[i]);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidMcValue) got = NULL;
      GAsyncResult **get = (GAsyncResult **) &gets->pdata[i];

      braid_test_wait_for_result (NULL, get, 10000);
      g_assert_true (braid_mc_client_set_finish (client, sets->pdata[i], &error));
      got = braid_mc_client_get_finish (client, *get, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (got->flags, ==, i);
      g_assert_cmpuint (g_bytes_get_size (got->data), ==, 20000);
      g_assert_cmpint (((const guint8 *) g_bytes_get_data (got->data, NULL))[19999], ==, 'a' + (int) (i % 26));
    }
  g_clear_object (&client);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  braid_test_stop_process (process);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  certificate = braid_test_certificate_new (&skip_reason);
  g_test_add_func ("/client/tls/session", test_session);
  g_test_add_func ("/client/tls/pool", test_pool);
  g_test_add_func ("/client/tls/pipelined-braid", test_pipelined_braid);
  status = g_test_run ();
  braid_test_certificate_free (certificate);
  g_free (skip_reason);
  return braid_test_exit_after_tls (status);
}
