/* braid — braid-proxy as real processes, with real parts on loopback: a
 * SoupServer upstream (fast, slow and redirecting paths) in this process,
 * braid-memcached and Debian's memcached as shared caches, two proxies
 * sharing one cache, braid-timing, graceful SIGTERM; and the address
 * policy through real sockets: loopback refused by default, open or
 * closed port alike, allowed with --allow, redirects checked.  The
 * shared cache once more over TLS: braid-memcached -Z and memcached -Z
 * as tls: servers of --memcached.  Memory bounds through real sockets: a
 * client that never reads is cut off while another gets the whole body,
 * and a body cut off (--max-body, an upstream dying half-way) reaches the
 * client as a reset, never as a clean EOF.
 *
 * The upstream is on 127.0.0.1, which braid-proxy refuses by default:
 * start_proxy() passes --allow for it. */
#include "test-support.h"

#include <signal.h>
#include <sys/prctl.h>

#include <libsoup/soup.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  SoupServer *upstream;
  guint16 upstream_port;
  GHashTable *hits;            /* path → count */
  GPtrArray *processes;        /* GSubprocess, killed in teardown */
  gchar *redirect_target;      /* (nullable): where /to-target redirects */
  GString *proxy_log;          /* stderr of the proxies started with a log */
  GCancellable *log_cancellable;  /* stops reading their stderr in teardown */
} Fixture;

/* For the TLS caches: made once in main(), NULL when TLS is missing. */
static BraidTestCertificate *certificate;
static gchar *tls_skip_reason;

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

/* /trickle: a chunked body of N bytes, one every MS milliseconds.
 *
 * The Trickle belongs to its timeout source.  The message may go first
 * (the proxy resets the connection, and libsoup can drop a paused
 * message without "finished"), so the Trickle holds it by a weak pointer
 * and stops when it is gone; "finished" stops it at once. */
typedef struct {
  SoupServerMessage *msg;       /* (weak) */
  gulong finished_handler;
  guint left;
  guint source;
} Trickle;

static void
trickle_free (gpointer data)
{
  Trickle *t = data;

  if (t->msg != NULL)
    {
      g_signal_handler_disconnect (t->msg, t->finished_handler);
      g_object_remove_weak_pointer (G_OBJECT (t->msg), (gpointer *) &t->msg);
    }
  g_free (t);
}

static gboolean
trickle_tick (gpointer data)
{
  Trickle *t = data;
  SoupMessageBody *body;

  if (t->msg == NULL)
    return G_SOURCE_REMOVE;
  body = soup_server_message_get_response_body (t->msg);
  soup_message_body_append (body, SOUP_MEMORY_STATIC, "x", 1);
  if (--t->left == 0)
    soup_message_body_complete (body);
  soup_server_message_unpause (t->msg);
  return t->left > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
trickle_finished (SoupServerMessage *msg, gpointer data)
{
  Trickle *t = data;

  g_source_remove (t->source);  /* frees t */
}

static void
trickle_start (SoupServerMessage *msg, GHashTable *query)
{
  const gchar *n = query != NULL ? g_hash_table_lookup (query, "n") : NULL;
  const gchar *ms = query != NULL ? g_hash_table_lookup (query, "ms") : NULL;
  Trickle *t = g_new0 (Trickle, 1);

  t->msg = msg;
  g_object_add_weak_pointer (G_OBJECT (msg), (gpointer *) &t->msg);
  t->left = n != NULL ? (guint) atoi (n) : 7;
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg), SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  t->finished_handler = g_signal_connect (msg, "finished", G_CALLBACK (trickle_finished), t);
  soup_server_message_pause (msg);
  t->source = g_timeout_add_full (G_PRIORITY_DEFAULT, ms != NULL ? (guint) atoi (ms) : 1000, trickle_tick, t,
                                  trickle_free);
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
  if (g_str_equal (path, "/to-target") && f->redirect_target != NULL)
    {
      soup_server_message_set_redirect (msg, 302, f->redirect_target);
      return;
    }
  if (g_str_equal (path, "/trickle"))
    {
      trickle_start (msg, query);
      return;
    }
  if (g_str_equal (path, "/big"))
    {
      const gchar *mib = query != NULL ? g_hash_table_lookup (query, "mib") : NULL;
      gsize size = (gsize) (mib != NULL ? atoi (mib) : 1) << 20;
      gchar *body = g_malloc (size);

      for (gsize i = 0; i < size; i++)
        body[i] = (gchar) ('a' + i % 26);
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_TAKE, body, size);
      return;
    }
  if (g_str_equal (path, "/slow"))
    {
      const gchar *ms = query != NULL ? g_hash_table_lookup (query, "ms") : NULL;

      soup_server_message_pause (msg);
      g_timeout_add (ms != NULL ? (guint) atoi (ms) : 300, resume_later, g_object_ref (msg));
      return;
    }
  if (g_str_equal (path, "/no-store"))
    soup_message_headers_append (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  if (g_str_equal (path, "/max-age"))
    soup_message_headers_append (soup_server_message_get_response_headers (msg), "Cache-Control",
                                 "public, max-age=1");
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
  f->proxy_log = g_string_new (NULL);
  f->log_cancellable = g_cancellable_new ();
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
  /* A stderr read still pending must not reach the fixture once freed. */
  g_cancellable_cancel (f->log_cancellable);
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
  g_free (f->redirect_target);
  g_string_free (f->proxy_log, TRUE);
  g_clear_object (&f->log_cancellable);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
die_with_test (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn_with_flags (Fixture *f, guint16 port, const gchar * const *argv, GSubprocessFlags flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  GSubprocess *p;

  /* A test that aborts must not leave its servers behind: they hold the
   * test's output pipes, and meson would wait for its whole timeout. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  p = g_subprocess_launcher_spawnv (launcher, argv, &error);

  g_assert_no_error (error);
  g_ptr_array_add (f->processes, p);
  if (!braid_test_wait_for_port (port, 10000))
    g_error ("%s did not start on port %u", argv[0], port);
  return p;
}

static GSubprocess *
spawn (Fixture *f, guint16 port, const gchar * const *argv)
{
  return spawn_with_flags (f, port, argv, G_SUBPROCESS_FLAGS_STDERR_SILENCE);
}

/* ---- the proxies' stderr (their access log), line by line ---- */

static void
on_log_line (GObject *source, GAsyncResult *result, gpointer data)
{
  Fixture *f = data;
  g_autofree gchar *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                                      NULL);

  /* NULL at the end, on an error, or when teardown cancelled the read:
   * then @f may be gone, so it is not touched. */
  if (line == NULL)
    {
      g_object_unref (source);
      return;
    }
  g_string_append_printf (f->proxy_log, "%s\n", line);
  g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT, f->log_cancellable,
                                       on_log_line, f);
}

static void
collect_log (Fixture *f, GSubprocess *process)
{
  GDataInputStream *lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));

  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, f->log_cancellable, on_log_line, f);
}

/* What the access log says of @url after the URL (transfer full),
 * waiting for the line to come. */
static gchar *
wait_for_log_line (Fixture *f, const gchar *url)
{
  g_autofree gchar *prefix = g_strdup_printf ("%s ", url);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_auto(GStrv) lines = g_strsplit (f->proxy_log->str, "\n", -1);

      for (guint i = 0; lines[i] != NULL; i++)
        {
          const gchar *at = strstr (lines[i], prefix);

          if (at != NULL)
            return g_strdup (at + strlen (prefix));
        }
      g_usleep (5000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  g_error ("no access log line for %s in:\n%s", url, f->proxy_log->str);
}

/* braid-proxy on loopback with @extra arguments (NULL-terminated, nullable);
 * its stderr goes to f->proxy_log when @log. */
static guint16
start_proxy_with (Fixture *f, const gchar * const *extra, gboolean log)
{
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *path = braid_test_build_path ("src/daemon/braid-proxy");
  g_autofree gchar *listen = g_strdup_printf ("tcp:%u:interface=127.0.0.1", port);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  GSubprocess *process;

  g_ptr_array_add (argv, path);
  g_ptr_array_add (argv, (gpointer) "--config");
  g_ptr_array_add (argv, (gpointer) "/dev/null");
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, listen);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  process = spawn_with_flags (f, port, (const gchar * const *) argv->pdata,
                              log ? G_SUBPROCESS_FLAGS_STDERR_PIPE : G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  if (log)
    collect_log (f, process);
  return port;
}

/* braid-proxy allowed to fetch from the upstream on 127.0.0.1. */
static guint16
start_proxy (Fixture *f, const gchar *memcached)
{
  const gchar *extra[] = { "--allow", "127.0.0.1", memcached != NULL ? "--memcached" : NULL, memcached, NULL };

  return start_proxy_with (f, extra, FALSE);
}

/* -Z -o ssl_chain_cert=…,ssl_key=… with the test certificate, or
 * nothing when @tls is FALSE (a NULL-terminated tail of argv). */
typedef struct {
  gchar *option;
  const gchar *args[4];
} TlsArgs;

static void
tls_args_init (TlsArgs *t, gboolean tls)
{
  t->option = tls ? g_strdup_printf ("ssl_chain_cert=%s,ssl_key=%s", certificate->certificate, certificate->key)
                  : NULL;
  t->args[0] = tls ? "-Z" : NULL;
  t->args[1] = tls ? "-o" : NULL;
  t->args[2] = t->option;
  t->args[3] = NULL;
}

static guint16
start_braid_memcached_with (Fixture *f, gboolean tls)
{
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *path = braid_test_build_path ("src/daemon/braid-memcached");
  g_autofree gchar *p = g_strdup_printf ("%u", port);
  TlsArgs t;

  tls_args_init (&t, tls);
  {
    const gchar *argv[] = { path, "-p", p, "-l", "127.0.0.1", "--config", "/dev/null",
                            t.args[0], t.args[1], t.args[2], NULL };

    spawn (f, port, argv);
  }
  g_free (t.option);
  return port;
}

static guint16
start_braid_memcached (Fixture *f)
{
  return start_braid_memcached_with (f, FALSE);
}

static guint16
start_memcached_with (Fixture *f, gboolean tls)
{
  guint16 port = braid_test_find_free_port ();
  g_autofree gchar *path = g_find_program_in_path ("memcached");
  g_autofree gchar *p = g_strdup_printf ("%u", port);
  TlsArgs t;

  if (path == NULL)
    return 0;
  tls_args_init (&t, tls);
  {
    const gchar *argv[] = { path, "-p", p, "-l", "127.0.0.1", "-U", "0", "-u", g_get_user_name (),
                            t.args[0], t.args[1], t.args[2], NULL };

    spawn (f, port, argv);
  }
  g_free (t.option);
  return port;
}

static guint16
start_memcached (Fixture *f)
{
  return start_memcached_with (f, FALSE);
}

/* Asks the proxy on @port for @path of the upstream, iterating the main
 * loop (the upstream lives in it) until the proxy closes. */
typedef struct {
  GByteArray *body;
  gboolean done;
  gboolean failed;   /* the connection ended with an error (a reset), not EOF */
} Fetch;

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Fetch *fetch = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (chunk == NULL || g_bytes_get_size (chunk) == 0)
    {
      fetch->failed = chunk == NULL;
      fetch->done = TRUE;
      return;
    }
  g_byte_array_append (fetch->body, g_bytes_get_data (chunk, NULL), (guint) g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 65536, G_PRIORITY_DEFAULT, NULL, on_read, fetch);
}

static gchar *
fetch_url (Fixture *f, guint16 proxy_port, const gchar *url)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = g_strdup_printf ("%s\n", url);
  Fetch fetch = { g_byte_array_new (), FALSE, FALSE };

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

static gchar *
fetch_through (Fixture *f, guint16 proxy_port, const gchar *path)
{
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u%s", f->upstream_port, path);

  return fetch_url (f, proxy_port, url);
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

/* @cache_timeout: (nullable): --cache-timeout for both proxies.
 * @settle_ms: the longest the first proxy is given to store. */
static void
shared_cache_on (Fixture *f, const gchar *servers, const gchar *cache_timeout, guint settle_ms)
{
  const gchar *extra[] = { "--allow", "127.0.0.1", "--memcached", servers,
                           cache_timeout != NULL ? "--cache-timeout" : NULL, cache_timeout, NULL };
  guint16 first = start_proxy_with (f, extra, FALSE);
  guint16 second = start_proxy_with (f, extra, FALSE);
  g_autofree gchar *a = fetch_through (f, first, "/shared");
  g_autofree gchar *b = NULL;

  g_assert_cmpstr (a, ==, "body of /shared");
  g_assert_cmpuint (hits (f, "/shared"), ==, 1);
  /* The first proxy stores after it answers, over its own connection to
   * the pool (for TLS, after a handshake in a GIO worker thread): wait
   * until its stats say the store is done, @settle_ms at most. */
  for (gint64 deadline = g_get_monotonic_time () + settle_ms * 1000;;)
    {
      g_autofree gchar *stats = fetch_url (f, first, "stats");

      if (strstr (stats, "\r\nSTAT stored 1\r\n") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }
  b = fetch_through (f, second, "/shared");
  g_assert_cmpstr (b, ==, "body of /shared");
  g_assert_cmpuint (hits (f, "/shared"), ==, 1);   /* a hit through the second proxy */
}

static void
shared_cache (Fixture *f, guint16 memcached_port)
{
  g_autofree gchar *servers = g_strdup_printf ("127.0.0.1:%u", memcached_port);

  shared_cache_on (f, servers, NULL, 10000);
}

static void
shared_cache_tls (Fixture *f, guint16 memcached_port)
{
  g_autofree gchar *servers = g_strdup_printf ("tls:127.0.0.1:%u:ca=%s", memcached_port, certificate->certificate);

  /* A proxy's first lookup waits for the TLS handshake too, which can
   * take longer than the default 100 ms on a loaded machine: under ASan,
   * with the machine's two cores busy with other builds, over 3 s once. */
  /* Its store waits for a TLS handshake too, done in a GIO worker
   * thread: under ASan on a busy CI machine that took over a second. */
  shared_cache_on (f, servers, "15000", 20000);
}

static void
test_shared_cache_braid_memcached_tls (Fixture *f, gconstpointer data)
{
  g_test_summary ("Two proxies share braid-memcached -Z through --memcached tls:HOST:PORT:ca=FILE: "
                  "a fetch through the first is a hit through the second");
  if (certificate == NULL)
    {
      g_test_skip (tls_skip_reason);
      return;
    }
  shared_cache_tls (f, start_braid_memcached_with (f, TRUE));
}

static void
test_shared_cache_memcached_tls (Fixture *f, gconstpointer data)
{
  guint16 port;

  g_test_summary ("Two proxies share Debian's memcached -Z through --memcached tls:HOST:PORT:ca=FILE: "
                  "a fetch through the first is a hit through the second");
  if (certificate == NULL)
    {
      g_test_skip (tls_skip_reason);
      return;
    }
  port = start_memcached_with (f, TRUE);
  if (port == 0)
    {
      g_test_skip ("memcached is not installed (apt-get install memcached)");
      return;
    }
  shared_cache_tls (f, port);
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

/* ---- the proxy's deadlines through real sockets ---- */

typedef struct {
  GByteArray *body;
  GError *error;                /* (nullable): how the read ended, if not at EOF */
  gboolean done;
} ReadAll;

static void
on_read_all (GObject *source, GAsyncResult *result, gpointer data)
{
  ReadAll *r = data;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &r->error);

  if (chunk == NULL || g_bytes_get_size (chunk) == 0)
    {
      r->done = TRUE;
      return;
    }
  g_byte_array_append (r->body, g_bytes_get_data (chunk, NULL), (guint) g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 65536, G_PRIORITY_DEFAULT, NULL, on_read_all, r);
}

/* Sends @text to the proxy on @port and reads until it closes; returns
 * how long that took. */
static gint64
send_and_read_all (guint16 port, const gchar *text, ReadAll *r)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  gint64 started;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  started = g_get_monotonic_time ();
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), text, strlen (text), NULL, NULL,
                             &error);
  g_assert_no_error (error);
  r->body = g_byte_array_new ();
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), 65536, G_PRIORITY_DEFAULT,
                                   NULL, on_read_all, r);
  braid_test_wait_for_flag (NULL, &r->done, 20000);
  return g_get_monotonic_time () - started;
}

static void
test_fetch_deadline (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--allow", "127.0.0.1", "--fetch-timeout", "1", NULL };
  guint16 proxy = start_proxy_with (f, extra, FALSE);
  g_autofree gchar *line = g_strdup_printf ("http://127.0.0.1:%u/trickle?n=12&ms=250\n", f->upstream_port);
  ReadAll r = { NULL, NULL, FALSE };
  gint64 took = send_and_read_all (proxy, line, &r);

  g_test_summary ("--fetch-timeout 1 against an upstream sending a byte every 250 ms for 3 s: the proxy gives "
                  "up at 1 s, though no single read took that long, and resets the client's connection "
                  "after the partial body");
  g_test_message ("%u bytes, then %s after %.2f s", r.body->len, r.error != NULL ? r.error->message : "EOF",
                  (gdouble) took / G_USEC_PER_SEC);
  g_assert_nonnull (r.error);
  g_assert_cmpuint (r.body->len, <, 12);
  g_assert_cmpint (took, >=, G_USEC_PER_SEC - 100 * 1000);
  g_assert_cmpint (took, <, 2500 * 1000);
  g_byte_array_unref (r.body);
  g_clear_error (&r.error);
}

static void
test_request_deadline (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--request-timeout", "0.5", NULL };
  guint16 proxy = start_proxy_with (f, extra, FALSE);
  ReadAll r = { NULL, NULL, FALSE };
  gint64 took = send_and_read_all (proxy, "http://127.0.0.1", &r);

  g_test_summary ("--request-timeout 0.5: a client that sends half a URL and no newline is closed without a "
                  "body after half a second");
  g_test_message ("closed after %.2f s", (gdouble) took / G_USEC_PER_SEC);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.body->len, ==, 0);
  g_assert_cmpint (took, >=, 400 * 1000);
  g_assert_cmpint (took, <, 2 * G_USEC_PER_SEC);
  g_byte_array_unref (r.body);
}

/* ---- the address policy through real sockets ---- */

/* A service on 127.0.0.1 that counts the connections it accepts: an
 * internal port the proxy must never reach. */
typedef struct {
  GSocketService *service;
  guint16 port;
  guint accepted;
} InternalService;

static gboolean
on_internal_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer data)
{
  ((InternalService *) data)->accepted++;
  return FALSE;
}

static void
internal_service_start (InternalService *internal)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  internal->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (internal->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  internal->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (internal->service, "incoming", G_CALLBACK (on_internal_incoming), internal);
  g_socket_service_start (internal->service);
}

static void
internal_service_stop (InternalService *internal)
{
  /* Whatever reached it by now has been accepted. */
  for (guint i = 0; i < 20; i++)
    {
      g_usleep (5000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  g_socket_service_stop (internal->service);
  g_socket_listener_close (G_SOCKET_LISTENER (internal->service));
  g_clear_object (&internal->service);
}

static gchar *
loopback_refusal (guint16 port)
{
  return g_strdup_printf ("refused to connect to 127.0.0.1 port %u: loopback address (127.0.0.0/8), "
                          "denied unless allowed (see --allow)", port);
}

/* Fetches @url through @proxy, which must refuse it: no body, quickly
 * (the fetch timeout is 30 s), and the log line ends with @refusal. */
static void
assert_refused (Fixture *f, guint16 proxy, const gchar *url, const gchar *refusal)
{
  gint64 started = g_get_monotonic_time ();
  g_autofree gchar *body = fetch_url (f, proxy, url);
  gint64 took = g_get_monotonic_time () - started;
  g_autofree gchar *logged = wait_for_log_line (f, url);

  g_test_message ("%s: %s (%.1f ms)", url, logged, (gdouble) took / 1000);
  g_assert_cmpstr (body, ==, "");
  g_assert_cmpint (took, <, 2 * G_USEC_PER_SEC);
  g_assert_true (g_str_has_prefix (logged, "403 0 bytes cache="));
  g_assert_true (g_str_has_suffix (logged, refusal));
}

static void
test_loopback_refused_by_default (Fixture *f, gconstpointer data)
{
  InternalService internal = { 0 };
  guint16 closed_port = braid_test_find_free_port ();
  guint16 proxy, allowing;
  g_autofree gchar *open_url = NULL;
  g_autofree gchar *closed_url = NULL;
  g_autofree gchar *upstream_url = NULL;
  g_autofree gchar *open_refusal = NULL;
  g_autofree gchar *closed_refusal = NULL;
  g_autofree gchar *upstream_refusal = NULL;
  g_autofree gchar *body = NULL;
  const gchar *allow[] = { "--allow", "127.0.0.1", NULL };

  g_test_summary ("With default settings braid-proxy refuses 127.0.0.1 before connecting: an open port and a "
                  "closed one give the same error, nothing reaches the open one; --allow 127.0.0.1 permits it");
  internal_service_start (&internal);
  proxy = start_proxy_with (f, NULL, TRUE);
  open_url = g_strdup_printf ("http://127.0.0.1:%u/secret", internal.port);
  closed_url = g_strdup_printf ("http://127.0.0.1:%u/secret", closed_port);
  upstream_url = g_strdup_printf ("http://127.0.0.1:%u/fast", f->upstream_port);
  open_refusal = loopback_refusal (internal.port);
  closed_refusal = loopback_refusal (closed_port);
  upstream_refusal = loopback_refusal (f->upstream_port);
  assert_refused (f, proxy, open_url, open_refusal);
  assert_refused (f, proxy, closed_url, closed_refusal);
  assert_refused (f, proxy, upstream_url, upstream_refusal);
  g_assert_cmpuint (hits (f, "/fast"), ==, 0);

  allowing = start_proxy_with (f, allow, FALSE);
  body = fetch_url (f, allowing, upstream_url);
  g_assert_cmpstr (body, ==, "body of /fast");
  g_assert_cmpuint (hits (f, "/fast"), ==, 1);
  internal_service_stop (&internal);
  g_assert_cmpuint (internal.accepted, ==, 0);
}

static void
test_redirect_to_denied_refused (Fixture *f, gconstpointer data)
{
  InternalService internal = { 0 };
  g_autofree gchar *allow_upstream = g_strdup_printf ("127.0.0.1:%u", f->upstream_port);
  const gchar *extra[] = { "--allow", allow_upstream, NULL };
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/to-target", f->upstream_port);
  g_autofree gchar *refusal = NULL;
  g_autofree gchar *followed = NULL;
  guint16 proxy;

  g_test_summary ("A redirect from an allowed upstream to a denied address is refused before connecting; a "
                  "redirect within the allowed upstream is followed");
  internal_service_start (&internal);
  f->redirect_target = g_strdup_printf ("http://127.0.0.1:%u/secret", internal.port);
  refusal = loopback_refusal (internal.port);
  proxy = start_proxy_with (f, extra, TRUE);
  assert_refused (f, proxy, url, refusal);
  g_assert_cmpuint (hits (f, "/to-target"), ==, 1);
  followed = fetch_through (f, proxy, "/redirect");
  g_assert_cmpstr (followed, ==, "body of /fast");
  internal_service_stop (&internal);
  g_assert_cmpuint (internal.accepted, ==, 0);
}

/* Lets the main context run for about @ms milliseconds. */
static void
run_for (guint ms)
{
  for (guint i = 0; i < ms / 20; i++)
    {
      g_usleep (20000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
}

static void
test_cache_policy (Fixture *f, gconstpointer data)
{
  guint16 proxy = start_proxy (f, NULL);
  g_autofree gchar *stats = NULL;

  g_test_summary ("The origin's Cache-Control is honoured: no-store is fetched every time, max-age=1 is a hit "
                  "within the second and fetched again after it; the stats line counts what was not stored");
  for (guint i = 1; i <= 2; i++)
    {
      g_autofree gchar *body = fetch_through (f, proxy, "/no-store");

      g_assert_cmpstr (body, ==, "body of /no-store");
      g_assert_cmpuint (hits (f, "/no-store"), ==, i);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *body = fetch_through (f, proxy, "/max-age");

      g_assert_cmpstr (body, ==, "body of /max-age");
    }
  g_assert_cmpuint (hits (f, "/max-age"), ==, 1);
  run_for (1600);
  {
    g_autofree gchar *body = fetch_through (f, proxy, "/max-age");

    g_assert_cmpstr (body, ==, "body of /max-age");
  }
  g_assert_cmpuint (hits (f, "/max-age"), ==, 2);
  stats = fetch_url (f, proxy, "stats");
  g_test_message ("%s", stats);
  g_assert_nonnull (strstr (stats, "STAT not_stored 2\r\n"));
  g_assert_nonnull (strstr (stats, "STAT hits 1\r\n"));
  g_assert_true (g_str_has_suffix (stats, "END\r\n"));
}

static void
test_signed_shared_cache (Fixture *f, gconstpointer data)
{
  g_autofree gchar *dir = g_dir_make_tmp ("braid-secret-XXXXXX", NULL);
  g_autofree gchar *ours = g_build_filename (dir, "ours", NULL);
  g_autofree gchar *theirs = g_build_filename (dir, "theirs", NULL);
  g_autofree gchar *servers = NULL;
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *stats = NULL;
  guint16 first, second, other;

  g_test_summary ("--cache-secret-file: a body one proxy stores in memcached is a hit for another with the "
                  "same secret and a counted miss for one with another secret");
  g_assert_nonnull (dir);
  g_assert_true (g_file_set_contents (ours, "a secret the proxies share\n", -1, NULL));
  g_assert_true (g_file_set_contents (theirs, "somebody else's secret key\n", -1, NULL));
  servers = g_strdup_printf ("127.0.0.1:%u", start_braid_memcached (f));
  {
    const gchar *with_ours[] = { "--allow", "127.0.0.1", "--memcached", servers, "--cache-secret-file", ours, NULL };
    const gchar *with_theirs[] = { "--allow", "127.0.0.1", "--memcached", servers, "--cache-secret-file", theirs,
                                   NULL };

    first = start_proxy_with (f, with_ours, FALSE);
    second = start_proxy_with (f, with_ours, FALSE);
    other = start_proxy_with (f, with_theirs, FALSE);
  }
  a = fetch_through (f, first, "/signed");
  g_assert_cmpstr (a, ==, "body of /signed");
  run_for (1000);
  b = fetch_through (f, second, "/signed");
  g_assert_cmpstr (b, ==, "body of /signed");
  g_assert_cmpuint (hits (f, "/signed"), ==, 1);
  c = fetch_through (f, other, "/signed");
  g_assert_cmpstr (c, ==, "body of /signed");
  g_assert_cmpuint (hits (f, "/signed"), ==, 2);
  stats = fetch_url (f, other, "stats");
  g_assert_nonnull (strstr (stats, "STAT mac_rejects 1\r\n"));
  g_unlink (ours);
  g_unlink (theirs);
  g_rmdir (dir);
}

/* ---- memory bounds ---- */

/* A client connection that has sent its line and reads only when told. */
typedef struct {
  GSocketConnection *conn;   /* (owned) */
  Fetch fetch;
} RawClient;

static void
raw_client_send (RawClient *c, guint16 proxy_port, const gchar *url)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = g_strdup_printf ("%s\n", url);

  c->fetch.body = g_byte_array_new ();
  c->conn = g_socket_client_connect_to_host (client, "127.0.0.1", proxy_port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)), line, strlen (line), NULL,
                             NULL, &error);
  g_assert_no_error (error);
}

/* Reads until EOF or an error. */
static void
raw_client_read_all (RawClient *c, guint timeout_ms)
{
  g_input_stream_read_bytes_async (g_io_stream_get_input_stream (G_IO_STREAM (c->conn)), 65536,
                                   G_PRIORITY_DEFAULT, NULL, on_read, &c->fetch);
  braid_test_wait_for_flag (NULL, &c->fetch.done, timeout_ms);
}

static void
raw_client_clear (RawClient *c)
{
  g_clear_object (&c->conn);
  g_clear_pointer (&c->fetch.body, g_byte_array_unref);
}

static gboolean
is_big_body (GByteArray *body, gsize size)
{
  if (body->len != size)
    return FALSE;
  for (gsize i = 0; i < size; i++)
    if (body->data[i] != (guint8) ('a' + i % 26))
      return FALSE;
  return TRUE;
}

static void
test_slow_reader_cut_off (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--allow", "127.0.0.1", "--no-cache", "--max-body", "128",
                           "--client-write-timeout", "1", NULL };
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/big?mib=48", f->upstream_port);
  RawClient stuck = { 0 }, reader = { 0 };
  gint64 started;
  guint16 proxy;

  g_test_summary ("A client that never reads does not hold back another client of the same URL: the reader "
                  "gets the whole 48 MiB body, the stuck client is cut off with a reset");
  proxy = start_proxy_with (f, extra, TRUE);
  raw_client_send (&stuck, proxy, url);
  raw_client_send (&reader, proxy, url);
  started = g_get_monotonic_time ();
  raw_client_read_all (&reader, 30000);
  g_test_message ("the reader got %u bytes in %.1f ms", reader.fetch.body->len,
                  (gdouble) (g_get_monotonic_time () - started) / 1000);
  g_assert_false (reader.fetch.failed);
  g_assert_true (is_big_body (reader.fetch.body, (gsize) 48 << 20));
  raw_client_read_all (&stuck, 30000);
  g_test_message ("the stuck client got %u bytes, then %s", stuck.fetch.body->len,
                  stuck.fetch.failed ? "an error" : "EOF");
  g_assert_true (stuck.fetch.failed);
  g_assert_cmpuint (stuck.fetch.body->len, <, (gsize) 48 << 20);
  while (strstr (f->proxy_log->str, "too slow") == NULL)
    g_main_context_iteration (NULL, TRUE);
  raw_client_clear (&stuck);
  raw_client_clear (&reader);
}

/* An upstream that promises 2 MiB and dies after 1 MiB. */
static gboolean
on_dying_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer data)
{
  g_autoptr(GDataInputStream) in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  const gchar *head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 2097152\r\n\r\n";
  g_autofree gchar *half = g_malloc (1 << 20);

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  for (;;)
    {
      g_autofree gchar *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);

      if (line == NULL || *g_strstrip (line) == '\0')
        break;
    }
  for (gsize i = 0; i < (1 << 20); i++)
    half[i] = (gchar) ('a' + i % 26);
  g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL);
  g_output_stream_write_all (out, half, 1 << 20, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

static void
test_truncation_is_reset (Fixture *f, gconstpointer data)
{
  const gchar *extra[] = { "--allow", "127.0.0.1", "--max-body", "1", NULL };
  g_autoptr(GSocketService) dying = g_socket_service_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *big_url = g_strdup_printf ("http://127.0.0.1:%u/big?mib=2", f->upstream_port);
  g_autofree gchar *dying_url = NULL;
  g_autofree gchar *whole_url = g_strdup_printf ("http://127.0.0.1:%u/fast", f->upstream_port);
  RawClient cut = { 0 }, died = { 0 }, whole = { 0 };
  guint16 proxy;

  g_test_summary ("A body cut off at --max-body, or an upstream that dies half-way, reaches the client as a "
                  "reset, never a clean EOF after a partial body; a whole body ends with a clean EOF");
  g_socket_listener_add_address (G_SOCKET_LISTENER (dying), address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (dying, "incoming", G_CALLBACK (on_dying_incoming), NULL);
  g_socket_service_start (dying);
  dying_url = g_strdup_printf ("http://127.0.0.1:%u/dies",
                               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  proxy = start_proxy_with (f, extra, FALSE);

  raw_client_send (&cut, proxy, big_url);
  raw_client_read_all (&cut, 20000);
  g_test_message ("over --max-body: %u bytes, then %s", cut.fetch.body->len, cut.fetch.failed ? "an error" : "EOF");
  g_assert_true (cut.fetch.failed);
  g_assert_cmpuint (cut.fetch.body->len, <=, 1 << 20);

  raw_client_send (&died, proxy, dying_url);
  raw_client_read_all (&died, 20000);
  g_test_message ("upstream died: %u bytes, then %s", died.fetch.body->len, died.fetch.failed ? "an error" : "EOF");
  g_assert_true (died.fetch.failed);
  g_assert_cmpuint (died.fetch.body->len, <=, 1 << 20);

  raw_client_send (&whole, proxy, whole_url);
  raw_client_read_all (&whole, 20000);
  g_assert_false (whole.fetch.failed);
  g_assert_cmpuint (whole.fetch.body->len, ==, strlen ("body of /fast"));

  g_socket_service_stop (dying);
  g_socket_listener_close (G_SOCKET_LISTENER (dying));
  raw_client_clear (&cut);
  raw_client_clear (&died);
  raw_client_clear (&whole);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  certificate = braid_test_certificate_new (&tls_skip_reason);
  g_test_add ("/proxy/integration/fetch-and-redirect", Fixture, NULL, setup, test_fetch_and_redirect, teardown);
  g_test_add ("/proxy/integration/shared-cache/braid-memcached", Fixture, NULL, setup, test_shared_cache_braid_memcached, teardown);
  g_test_add ("/proxy/integration/shared-cache/memcached", Fixture, NULL, setup, test_shared_cache_memcached, teardown);
  g_test_add ("/proxy/integration/shared-cache/braid-memcached-tls", Fixture, NULL, setup,
              test_shared_cache_braid_memcached_tls, teardown);
  g_test_add ("/proxy/integration/shared-cache/memcached-tls", Fixture, NULL, setup,
              test_shared_cache_memcached_tls, teardown);
  g_test_add ("/proxy/integration/cache-policy", Fixture, NULL, setup, test_cache_policy, teardown);
  g_test_add ("/proxy/integration/shared-cache/signed", Fixture, NULL, setup, test_signed_shared_cache, teardown);
  g_test_add ("/proxy/integration/braid-timing", Fixture, NULL, setup, test_timing_client, teardown);
  g_test_add ("/proxy/integration/graceful-sigterm", Fixture, NULL, setup, test_graceful_sigterm, teardown);
  g_test_add ("/proxy/integration/deadline/fetch", Fixture, NULL, setup, test_fetch_deadline, teardown);
  g_test_add ("/proxy/integration/deadline/request-line", Fixture, NULL, setup, test_request_deadline, teardown);
  g_test_add ("/proxy/integration/safety/loopback-refused-by-default", Fixture, NULL, setup,
              test_loopback_refused_by_default, teardown);
  g_test_add ("/proxy/integration/safety/redirect-to-denied-refused", Fixture, NULL, setup,
              test_redirect_to_denied_refused, teardown);
  g_test_add ("/proxy/integration/bounds/slow-reader-cut-off", Fixture, NULL, setup, test_slow_reader_cut_off,
              teardown);
  g_test_add ("/proxy/integration/bounds/truncation-is-reset", Fixture, NULL, setup, test_truncation_is_reset,
              teardown);
  status = g_test_run ();
  braid_test_certificate_free (certificate);
  g_free (tls_skip_reason);
  return braid_test_exit_after_tls (status);
}
