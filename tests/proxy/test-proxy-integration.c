/* braid — braid-proxy as real processes, with real parts on loopback: a
 * SoupServer upstream (fast, slow and redirecting paths) in this process,
 * braid-memcached and Debian's memcached as shared caches, two proxies
 * sharing one cache, braid-timing, graceful SIGTERM. */
#include "test-support.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  SoupServer *upstream;
  guint16 upstream_port;
  GHashTable *hits;            /* path → count */
  GPtrArray *processes;        /* GSubprocess, killed in teardown */
} Fixture;

static gboolean
resume_later (gpointer data)
{
  SoupServerMessage *msg = data;

  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, "slow body", 9);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
  return G_SOURCE_REMOVE;
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  Fixture *f = data;
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (f->hits, path)) + 1;

  g_hash_table_replace (f->hits, g_strdup (path), GUINT_TO_POINTER (count));
  if (g_str_equal (path, "/redirect"))
    {
      soup_server_message_set_redirect (msg, 302, "/fast");
      return;
    }
  if (g_str_equal (path, "/slow"))
    {
      const gchar *ms = query != NULL ? g_hash_table_lookup (query, "ms") : NULL;

      soup_server_message_pause (msg);
      g_timeout_add (ms != NULL ? (guint) atoi (ms) : 300, resume_later, g_object_ref (msg));
      return;
    }
  {
    g_autofree gchar *body = g_strdup_printf ("body of %s", path);

    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, body, strlen (body));
  }
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  f->hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  f->processes = g_ptr_array_new_with_free_func (g_object_unref);
  f->upstream = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->upstream, NULL, handle, f, NULL);
  soup_server_listen_local (f->upstream, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->upstream);
  f->upstream_port = (guint16) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->processes->len; i++)
    {
      GSubprocess *p = g_ptr_array_index (f->processes, i);

      g_subprocess_send_signal (p, SIGKILL);
      g_subprocess_wait (p, NULL, NULL);
    }
  g_ptr_array_unref (f->processes);
  /* Let the server see its clients' connections close before it goes. */
  for (guint i = 0; i < 20; i++)
    {
      g_usleep (5000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  soup_server_disconnect (f->upstream);
  g_clear_object (&f->upstream);
  g_hash_table_unref (f->hits);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static GSubprocess *
spawn (Fixture *f, guint16 port, const gchar * const *argv)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);

  g_assert_no_error (error);
  g_ptr_array_add (f->processes, p);
  if (!braid_test_wait_for_port (port, 10000))
    g_error ("%s did not start on port %u", argv[0], port);
  return p;
}

static guint16
start_proxy (Fixture *f, const gchar *memcached)
{
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *path = braid_test_build_path ("src/daemon/braid-proxy");
  g_autofree gchar *listen = g_strdup_printf ("tcp:%u:interface=127.0.0.1", port);
  const gchar *argv[] = { path, "--config", "/dev/null", "--listen", listen,
                          memcached != NULL ? "--memcached" : NULL, memcached, NULL };

  spawn (f, port, argv);
  return port;
}

static guint16
start_braid_memcached (Fixture *f)
{
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *path = braid_test_build_path ("src/daemon/braid-memcached");
  g_autofree gchar *p = g_strdup_printf ("%u", port);
  const gchar *argv[] = { path, "-p", p, "-l", "127.0.0.1", "--config", "/dev/null", NULL };

  spawn (f, port, argv);
  return port;
}

static guint16
start_memcached (Fixture *f)
{
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *path = g_find_program_in_path ("memcached");
  g_autofree gchar *p = g_strdup_printf ("%u", port);
  const gchar *argv[] = { path, "-p", p, "-l", "127.0.0.1", "-U", "0", "-u", g_get_user_name (), NULL };

  if (path == NULL)
    return 0;
  spawn (f, port, argv);
  return port;
}

/* Asks the proxy on @port for @path of the upstream, iterating the main
 * loop (the upstream lives in it) until the proxy closes. */
typedef struct {
  GByteArray *body;
  gboolean done;
} Fetch;

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Fetch *fetch = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (chunk == NULL || g_bytes_get_size (chunk) == 0)
    {
      fetch->done = TRUE;
      return;
    }
  g_byte_array_append (fetch->body, g_bytes_get_data (chunk, NULL), (guint) g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 65536, G_PRIORITY_DEFAULT, NULL, on_read, fetch);
}

static gchar *
fetch_through (Fixture *f, guint16 proxy_port, const gchar *path)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = g_strdup_printf ("http://127.0.0.1:%u%s\n", f->upstream_port, path);
  Fetch fetch = { g_byte_array_new (), FALSE };

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", proxy_port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), line, strlen (line), NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), 65536, G_PRIORITY_DEFAULT,
                                   NULL, on_read, &fetch);
  braid_test_wait_for_flag (NULL, &fetch.done, 20000);
  g_byte_array_append (fetch.body, (const guint8 *) "", 1);
  return (gchar *) g_byte_array_free (fetch.body, FALSE);
}

static guint
hits (Fixture *f, const gchar *path)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (f->hits, path));
}

static void
test_fetch_and_redirect (Fixture *f, gconstpointer data)
{
  guint16 proxy = start_proxy (f, NULL);
  g_autofree gchar *a = fetch_through (f, proxy, "/fast");
  g_autofree gchar *b = fetch_through (f, proxy, "/redirect");
  g_autofree gchar *c = fetch_through (f, proxy, "/fast");

  g_test_summary ("Bodies come through from a real HTTP server; redirects are followed; the memory cache serves repeats");
  g_assert_cmpstr (a, ==, "body of /fast");
  g_assert_cmpstr (b, ==, "body of /fast");
  g_assert_cmpstr (c, ==, "body of /fast");
  g_assert_cmpuint (hits (f, "/redirect"), ==, 1);
  g_assert_cmpuint (hits (f, "/fast"), ==, 2);  /* once direct, once through the redirect; then cached */
}

static void
shared_cache (Fixture *f, guint16 memcached_port)
{
  g_autofree gchar *servers = g_strdup_printf ("127.0.0.1:%u", memcached_port);
  guint16 first = start_proxy (f, servers);
  guint16 second = start_proxy (f, servers);
  g_autofree gchar *a = fetch_through (f, first, "/shared");
  g_autofree gchar *b = NULL;

  g_assert_cmpstr (a, ==, "body of /shared");
  g_assert_cmpuint (hits (f, "/shared"), ==, 1);
  /* the first proxy stores after it answers: give it a moment */
  for (guint i = 0; i < 50; i++)
    {
      g_usleep (20000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  b = fetch_through (f, second, "/shared");
  g_assert_cmpstr (b, ==, "body of /shared");
  g_assert_cmpuint (hits (f, "/shared"), ==, 1);   /* a hit through the second proxy */
}

static void
test_shared_cache_braid_memcached (Fixture *f, gconstpointer data)
{
  g_test_summary ("Two proxies share braid-memcached as their cache: a fetch through the first is a hit through the second");
  shared_cache (f, start_braid_memcached (f));
}

static void
test_shared_cache_memcached (Fixture *f, gconstpointer data)
{
  guint16 port;

  g_test_summary ("Two proxies share Debian's memcached as their cache: a fetch through the first is a hit through the second");
  port = start_memcached (f);
  if (port == 0)
    {
      g_test_skip ("memcached is not installed (apt-get install memcached)");
      return;
    }
  shared_cache (f, port);
}

static void
test_timing_client (Fixture *f, gconstpointer data)
{
  guint16 proxy = start_proxy (f, NULL);
  g_autofree gchar *timing = braid_test_build_path ("tools/braid-timing");
  g_autofree gchar *endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", proxy);
  g_autofree gchar *u1 = g_strdup_printf ("http://127.0.0.1:%u/slow?ms=200", f->upstream_port);
  g_autofree gchar *u2 = g_strdup_printf ("http://127.0.0.1:%u/slow?ms=400", f->upstream_port);
  g_autofree gchar *u3 = g_strdup_printf ("http://127.0.0.1:%u/fast", f->upstream_port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, timing, "--proxy", endpoint,
                                                 u1, u2, u3, NULL);
  g_autoptr(GAsyncResult) done = NULL;
  g_autoptr(GBytes) stdout_bytes = NULL;
  g_autoptr(GByteArray) text = g_byte_array_new ();

  g_test_summary ("braid-timing requests every URL at once through the proxy and prints the tutorial's table");
  g_assert_no_error (error);
  /* the upstream lives in this main loop: keep it turning meanwhile */
  g_subprocess_communicate_async (run, NULL, NULL, braid_test_store_result, &done);
  braid_test_wait_for_result (NULL, &done, 20000);
  g_subprocess_communicate_finish (run, done, &stdout_bytes, NULL, &error);
  g_assert_no_error (error);
  g_byte_array_append (text, g_bytes_get_data (stdout_bytes, NULL), (guint) g_bytes_get_size (stdout_bytes));
  g_byte_array_append (text, (const guint8 *) "", 1);
  g_test_message ("%s", (const gchar *) text->data);
  g_assert_cmpint (g_subprocess_get_exit_status (run), ==, 0);
  g_assert_nonnull (strstr ((const gchar *) text->data, "server time"));
  g_assert_nonnull (strstr ((const gchar *) text->data, "all at once"));
}

static void
test_graceful_sigterm (Fixture *f, gconstpointer data)
{
  guint16 proxy = start_proxy (f, NULL);
  GSubprocess *process = g_ptr_array_index (f->processes, f->processes->len - 1);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = g_strdup_printf ("http://127.0.0.1:%u/slow?ms=500\n", f->upstream_port);
  Fetch fetch = { g_byte_array_new (), FALSE };

  g_test_summary ("SIGTERM: a request in flight completes, then braid-proxy exits 0");
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", proxy, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), line, strlen (line), NULL, NULL, &error);
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), 65536, G_PRIORITY_DEFAULT,
                                   NULL, on_read, &fetch);
  for (guint i = 0; i < 20; i++)
    {
      g_usleep (5000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  g_subprocess_send_signal (process, SIGTERM);
  braid_test_wait_for_flag (NULL, &fetch.done, 20000);
  g_assert_cmpuint (fetch.body->len, ==, 9);
  g_byte_array_unref (fetch.body);
  g_subprocess_wait (process, NULL, &error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/proxy/integration/fetch-and-redirect", Fixture, NULL, setup, test_fetch_and_redirect, teardown);
  g_test_add ("/proxy/integration/shared-cache/braid-memcached", Fixture, NULL, setup, test_shared_cache_braid_memcached, teardown);
  g_test_add ("/proxy/integration/shared-cache/memcached", Fixture, NULL, setup, test_shared_cache_memcached, teardown);
  g_test_add ("/proxy/integration/braid-timing", Fixture, NULL, setup, test_timing_client, teardown);
  g_test_add ("/proxy/integration/graceful-sigterm", Fixture, NULL, setup, test_graceful_sigterm, teardown);
  return g_test_run ();
}
