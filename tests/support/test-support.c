/* braid — helpers shared by every test program. */
#include "test-support.h"
#include <unistd.h>
#include <stdio.h>

#include <signal.h>
#include <sys/prctl.h>
#include <glib/gstdio.h>

#include <string.h>

static GPtrArray *
chunks_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
run_chunking (const gchar *label, GPtrArray *chunks, BraidChunkingFunc func, gpointer user_data)
{
  BraidChunking chunking = { label, chunks };

  g_test_message ("chunking: %s (%u chunks)", label, chunks->len);
  func (&chunking, user_data);
}

void
braid_test_for_each_chunking (const guint8 *input,
                              gsize len,
                              guint n_random,
                              BraidChunkingFunc func,
                              gpointer user_data)
{
  /* Whole. */
  {
    g_autoptr(GPtrArray) chunks = chunks_new ();

    g_ptr_array_add (chunks, g_bytes_new (input, len));
    run_chunking ("whole", chunks, func, user_data);
  }
  /* One byte at a time. */
  {
    g_autoptr(GPtrArray) chunks = chunks_new ();

    for (gsize i = 0; i < len; i++)
      g_ptr_array_add (chunks, g_bytes_new (input + i, 1));
    run_chunking ("bytes", chunks, func, user_data);
  }
  /* Every two-way split. */
  for (gsize split = 1; split < len; split++)
    {
      g_autoptr(GPtrArray) chunks = chunks_new ();
      g_autofree gchar *label = g_strdup_printf ("split@%" G_GSIZE_FORMAT, split);

      g_ptr_array_add (chunks, g_bytes_new (input, split));
      g_ptr_array_add (chunks, g_bytes_new (input + split, len - split));
      run_chunking (label, chunks, func, user_data);
    }
  /* Seeded random chunkings: g_test_rand_int() follows --seed. */
  for (guint r = 0; r < n_random; r++)
    {
      g_autoptr(GPtrArray) chunks = chunks_new ();
      g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) g_test_rand_int ());
      g_autofree gchar *label = g_strdup_printf ("random#%u", r);
      gsize offset = 0;

      while (offset < len)
        {
          gsize max = MIN (len - offset, 64);
          gsize n = (gsize) g_rand_int_range (rand, 1, (gint32) max + 1);

          g_ptr_array_add (chunks, g_bytes_new (input + offset, n));
          offset += n;
        }
      run_chunking (label, chunks, func, user_data);
    }
}

gchar *
braid_test_escape (const guint8 *data, gsize len)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c == '\\')
        g_string_append (out, "\\\\");
      else if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, (gchar) c);
      else
        g_string_append_printf (out, "\\x%02x", c);
    }
  return g_string_free (out, FALSE);
}

void
braid_test_assert_bytes_equal_impl (const char *file, int line,
                                    const char *func, const char *what,
                                    const guint8 *expected, gsize expected_len,
                                    const guint8 *actual, gsize actual_len)
{
  gsize i;
  g_autofree gchar *e = NULL;
  g_autofree gchar *a = NULL;
  g_autofree gchar *message = NULL;

  if (expected_len == actual_len && (expected_len == 0 || memcmp (expected, actual, expected_len) == 0))
    return;
  for (i = 0; i < MIN (expected_len, actual_len) && expected[i] == actual[i]; i++)
    ;
  e = braid_test_escape (expected, expected_len);
  a = braid_test_escape (actual, actual_len);
  message = g_strdup_printf ("%s: expected “%s” (%" G_GSIZE_FORMAT " bytes) but saw “%s” "
                             "(%" G_GSIZE_FORMAT " bytes); first difference at offset %" G_GSIZE_FORMAT,
                             what, e, expected_len, a, actual_len, i);
  g_assertion_message (G_LOG_DOMAIN, file, line, func, message);
}

static gboolean
on_timeout (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

void
braid_test_wait_for_flag (GMainContext *context, const gboolean *flag, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *timeout = g_timeout_source_new (timeout_ms);

  g_source_set_callback (timeout, on_timeout, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!*flag && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  if (!*flag)
    g_error ("timed out after %u ms waiting for a condition", timeout_ms);
}

void
braid_test_store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

void
braid_test_wait_for_result (GMainContext *context, GAsyncResult **result, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *timeout = g_timeout_source_new (timeout_ms);

  g_source_set_callback (timeout, on_timeout, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (*result == NULL && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  if (*result == NULL)
    g_error ("timed out after %u ms waiting for an async result", timeout_ms);
}

guint16
braid_test_find_free_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

gboolean
braid_test_wait_for_port (guint16 port, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();
      g_autoptr(GSocketConnection) connection = NULL;

      connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
      if (connection != NULL)
        {
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          return TRUE;
        }
      g_usleep (10 * 1000);
    }
  return FALSE;
}

gchar *
braid_test_build_path (const gchar *relative)
{
  const gchar *root = g_getenv ("BRAID_BUILD_ROOT");

  g_assert_nonnull (root);
  return g_build_filename (root, relative, NULL);
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Spawns @path -p PORT (a free one, set in *@port) @first_args @extra,
 * silenced and dying with the test, and waits until it accepts. */
static GSubprocess *
spawn_server (const gchar *path, guint16 *port, const gchar *const *first_args, const gchar *const *extra)
{
  g_autofree gchar *port_arg = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  GSubprocess *process;

  *port = braid_test_find_free_port ();
  port_arg = g_strdup_printf ("%u", *port);
  g_ptr_array_add (argv, (gpointer) path);
  g_ptr_array_add (argv, "-p");
  g_ptr_array_add (argv, port_arg);
  for (; first_args != NULL && *first_args != NULL; first_args++)
    g_ptr_array_add (argv, (gpointer) *first_args);
  for (; extra != NULL && *extra != NULL; extra++)
    g_ptr_array_add (argv, (gpointer) *extra);
  g_ptr_array_add (argv, NULL);
  /* A test that aborts must not leave its server behind (holding the
   * test's stdout open would stall meson). */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  if (!braid_test_wait_for_port (*port, 10000))
    g_error ("%s did not start on port %u", path, *port);
  return process;
}

GSubprocess *
braid_test_start_memcached (guint16 *port, const gchar * const *extra)
{
  g_autofree gchar *path = braid_test_build_path ("src/daemon/braid-memcached");
  const gchar *const args[] = { "-l", "127.0.0.1", "--config", "/dev/null", NULL };

  return spawn_server (path, port, args, extra);
}

GSubprocess *
braid_test_start_real_memcached (guint16 *port, const gchar * const *extra)
{
  g_autofree gchar *path = g_find_program_in_path ("memcached");
  /* -u only matters as root, where memcached insists on it */
  const gchar *const args[] = { "-u", "nobody", "-U", "0", "-l", "127.0.0.1", NULL };

  if (path == NULL)
    return NULL;
  return spawn_server (path, port, args, extra);
}

void
braid_test_stop_process (GSubprocess *process)
{
  if (process == NULL)
    return;
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
  g_object_unref (process);
}

gchar *
braid_test_converse (guint16 port, const gchar *request, const gchar *expected_end)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  GString *got = g_string_new (NULL);
  GInputStream *in;

  g_socket_client_set_timeout (client, 10);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), request, strlen (request), NULL,
                             NULL, &error);
  g_assert_no_error (error);
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  while (expected_end == NULL || !g_str_has_suffix (got->str, expected_end))
    {
      gchar buf[4096];
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      if (n == 0)
        break;
      g_string_append_len (got, buf, n);
    }
  return g_string_free (got, FALSE);
}

GPtrArray *
braid_test_servers_start (const gchar *const *braid_extra, const gchar *const *real_extra)
{
  GPtrArray *servers = g_ptr_array_new ();
  BraidTestServer *s = g_new0 (BraidTestServer, 1);

  s->name = "braid-memcached";
  s->process = braid_test_start_memcached (&s->port, braid_extra);
  g_ptr_array_add (servers, s);
  s = g_new0 (BraidTestServer, 1);
  s->name = "memcached";
  s->process = braid_test_start_real_memcached (&s->port, real_extra);
  if (s->process != NULL)
    g_ptr_array_add (servers, s);
  else
    {
      g_test_message ("memcached is not installed: braid-memcached alone is checked");
      g_free (s);
    }
  return servers;
}

void
braid_test_servers_stop (GPtrArray *servers)
{
  for (guint i = 0; i < servers->len; i++)
    {
      BraidTestServer *s = g_ptr_array_index (servers, i);

      braid_test_stop_process (g_steal_pointer (&s->process));
      g_free (s);
    }
  g_ptr_array_unref (servers);
}

gint
braid_test_run_tool (const gchar *const *argv, gchar **out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) run =
    g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (run, NULL, NULL, out, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s: exit %d\n%s", argv[0], g_subprocess_get_exit_status (run), *out);
  return g_subprocess_get_if_exited (run) ? g_subprocess_get_exit_status (run) : -1;
}

BraidTestCertificate *
braid_test_certificate_new (gchar **skip_reason)
{
  g_autofree gchar *openssl = g_find_program_in_path ("openssl");
  g_autoptr(GError) error = NULL;
  g_autofree gchar *out = NULL;
  BraidTestCertificate *cert;
  gint status;

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      *skip_reason = g_strdup ("GIO has no TLS backend (glib-networking is not installed)");
      return NULL;
    }
  if (openssl == NULL)
    {
      *skip_reason = g_strdup ("openssl is not installed");
      return NULL;
    }
  cert = g_new0 (BraidTestCertificate, 1);
  cert->dir = g_dir_make_tmp ("braid-tls-XXXXXX", &error);
  g_assert_no_error (error);
  g_chmod (cert->dir, 0755);
  cert->certificate = g_build_filename (cert->dir, "cert.pem", NULL);
  cert->key = g_build_filename (cert->dir, "key.pem", NULL);
  {
    const gchar *const argv[] = {
      openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout", cert->key, "-out", cert->certificate, NULL
    };

    status = braid_test_run_tool (argv, &out);
  }
  if (status != 0)
    g_error ("openssl req failed (%d): %s", status, out);
  g_chmod (cert->key, 0644);
  g_chmod (cert->certificate, 0644);
  return cert;
}

void
braid_test_certificate_free (BraidTestCertificate *cert)
{
  if (cert == NULL)
    return;
  g_unlink (cert->certificate);
  g_unlink (cert->key);
  g_rmdir (cert->dir);
  g_free (cert->certificate);
  g_free (cert->key);
  g_free (cert->dir);
  g_free (cert);
}

/* ---- counting criticals ---- */

static guint n_criticals;

static void
count_critical (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  n_criticals++;
}

void
braid_test_count_criticals_begin (BraidCriticalCounter *counter)
{
  n_criticals = 0;
  counter->was_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  counter->handlers[0] = g_log_set_handler ("braid", G_LOG_LEVEL_CRITICAL, count_critical, NULL);
  counter->handlers[1] = g_log_set_handler ("braid-testing", G_LOG_LEVEL_CRITICAL, count_critical, NULL);
}

void
braid_test_count_criticals_end (BraidCriticalCounter *counter)
{
  g_log_remove_handler ("braid", counter->handlers[0]);
  g_log_remove_handler ("braid-testing", counter->handlers[1]);
  g_log_set_always_fatal (counter->was_fatal);
}

guint
braid_test_n_criticals (void)
{
  return n_criticals;
}
