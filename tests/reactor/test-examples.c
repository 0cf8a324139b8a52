/* braid — the tutorial's first two servers: in-process at every split, on
 * both reactors, and as real processes. */
#include "test-support.h"
#include "upper-protocol.h"
#include "print-protocol.h"

#include <string.h>

static const gchar input[] = "Hello, braid!\nmixed Case 123 \xc3\xa9t\xc3\xa9\r\n";

static gchar *
ascii_upper (const gchar *s, gsize len)
{
  gchar *out = g_memdup2 (s, len + 1);

  for (gsize i = 0; i < len; i++)
    out[i] = g_ascii_toupper (out[i]);
  return out;
}

static void
feed_upper (const BraidChunking *chunking, gpointer user_data)
{
  g_autoptr(BraidProtocolFactory) factory = braid_upper_factory_new ();
  g_autoptr(BraidProtocol) p = braid_protocol_factory_build_protocol (factory, NULL);
  g_autoptr(BraidFakeTransport) t = braid_fake_transport_new ();
  g_autoptr(GBytes) written = NULL;
  g_autofree gchar *expected = ascii_upper (input, strlen (input));

  braid_fake_transport_attach (t, p);
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);

      braid_protocol_data_received (p, data, len);
    }
  written = braid_fake_transport_get_written (t);
  braid_assert_bytes_equal_str (expected, written);
}

static void
test_upper_splits (void)
{
  g_test_summary ("The upper-casing echo answers every byte, ASCII upper-cased and UTF-8 intact, at every split");
  braid_test_for_each_chunking ((const guint8 *) input, strlen (input), 50, feed_upper, NULL);
}

static void
append_to_string (const guint8 *data, gsize len, gpointer user_data)
{
  g_string_append_len (user_data, (const gchar *) data, (gssize) len);
}

static void
feed_print (const BraidChunking *chunking, gpointer user_data)
{
  g_autoptr(GString) printed = g_string_new (NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_print_factory_new (append_to_string, printed);
  g_autoptr(BraidProtocol) p = braid_protocol_factory_build_protocol (factory, NULL);
  g_autoptr(BraidFakeTransport) t = braid_fake_transport_new ();
  g_autoptr(GBytes) written = NULL;

  braid_fake_transport_attach (t, p);
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);

      braid_protocol_data_received (p, data, len);
    }
  braid_assert_bytes_equal (input, strlen (input), printed->str, printed->len);
  written = braid_fake_transport_get_written (t);
  g_assert_cmpuint (g_bytes_get_size (written), ==, 0);
}

static void
test_print_splits (void)
{
  g_test_summary ("The printing server prints exactly what arrives, at every split, and answers nothing");
  braid_test_for_each_chunking ((const guint8 *) input, strlen (input), 50, feed_print, NULL);
}

/* End to end through listen/connect on either reactor. */
static void
run_upper_end_to_end (BraidReactor *reactor, gboolean real)
{
  g_autoptr(BraidProtocolFactory) upper = braid_upper_factory_new ();
  g_autoptr(BraidProtocolFactory) recorder = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(BraidRecordingProtocol) client = NULL;
  g_autofree gchar *endpoint = NULL;
  g_autofree gchar *expected = ascii_upper (input, strlen (input));

  listener = braid_reactor_listen (reactor, "tcp:0:interface=127.0.0.1", upper, &error);
  g_assert_no_error (error);
  endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", braid_listener_get_port (listener));
  braid_reactor_connect_async (reactor, endpoint, recorder, NULL, braid_test_store_result, &result);
  if (real)
    braid_test_wait_for_result (NULL, &result, 10000);
  else
    braid_fake_reactor_run_until_idle (BRAID_FAKE_REACTOR (reactor));
  client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (reactor, result, &error));
  g_assert_no_error (error);

  /* One byte per write: the server sees many small chunks. */
  for (gsize i = 0; i < strlen (input); i++)
    braid_transport_write (braid_protocol_get_transport (BRAID_PROTOCOL (client)), input + i, 1);
  if (real)
    while (client->received->len < strlen (input))
      g_main_context_iteration (NULL, TRUE);
  else
    braid_fake_reactor_run_until_idle (BRAID_FAKE_REACTOR (reactor));
  braid_assert_bytes_equal (expected, strlen (expected), client->received->data, client->received->len);

  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (client)));
  if (real)
    while (!braid_recording_protocol_is_lost (client))
      g_main_context_iteration (NULL, TRUE);
  else
    braid_fake_reactor_run_until_idle (BRAID_FAKE_REACTOR (reactor));
  g_assert_true (braid_recording_protocol_is_lost (client));
}

static void
test_upper_fake (void)
{
  g_test_summary ("The upper-casing server end to end on the fake reactor, under every delivery policy");
  for (BraidFakeDelivery d = BRAID_FAKE_DELIVERY_WHOLE; d <= BRAID_FAKE_DELIVERY_RANDOM; d++)
    {
      g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());

      g_test_message ("delivery: %s", braid_fake_delivery_to_string (d));
      braid_fake_reactor_set_delivery (fake, d);
      run_upper_end_to_end (BRAID_REACTOR (fake), FALSE);
    }
}

static void
test_upper_glib (void)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);

  g_test_summary ("The upper-casing server end to end on the real reactor over loopback TCP");
  run_upper_end_to_end (BRAID_REACTOR (reactor), TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* The real programs, as separate processes. */
static GSubprocess *
spawn_example (const gchar *name, guint16 port, GSubprocessFlags flags)
{
  g_autofree gchar *path = braid_test_build_path (name);
  g_autofree gchar *endpoint = g_strdup_printf ("tcp:%u:interface=127.0.0.1", port);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  process = g_subprocess_new (flags, &error, path, "--listen", endpoint, NULL);
  g_assert_no_error (error);
  if (!braid_test_wait_for_port (port, 10000))
    g_error ("%s did not start listening on port %u", name, port);
  return process;
}

static gchar *
talk (guint16 port, const gchar *message, gboolean read_reply)
{
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) reply = g_string_new (NULL);
  GOutputStream *out;
  GInputStream *in;
  gchar buf[256];

  conn = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_output_stream_write_all (out, message, strlen (message), NULL, NULL, &error);
  g_assert_no_error (error);
  while (read_reply && reply->len < strlen (message))
    {
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      g_string_append_len (reply, buf, n);
    }
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

static void
stop_process (GSubprocess *process)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

static void
test_upper_process (void)
{
  guint16 port = braid_test_find_free_port ();
  g_autoptr(GSubprocess) server = spawn_example ("docs/examples/braid-upper-server", port, G_SUBPROCESS_FLAGS_NONE);
  g_autofree gchar *reply = talk (port, "shout this\n", TRUE);

  g_test_summary ("braid-upper-server answers real TCP clients and exits 0 on SIGTERM");
  g_assert_cmpstr (reply, ==, "SHOUT THIS\n");
  stop_process (server);
}

static void
test_print_process (void)
{
  guint16 port = braid_test_find_free_port ();
  g_autoptr(GSubprocess) server = spawn_example ("docs/examples/braid-print-server", port,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree gchar *reply = NULL;
  GInputStream *out;
  gchar buf[64] = { 0 };
  gsize got = 0;
  g_autoptr(GError) error = NULL;

  g_test_summary ("braid-print-server prints what a real TCP client sends");
  reply = talk (port, "print me\n", FALSE);
  out = g_subprocess_get_stdout_pipe (server);
  g_input_stream_read_all (out, buf, strlen ("print me\n"), &got, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (buf, ==, "print me\n");
  stop_process (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/examples/upper/splits", test_upper_splits);
  g_test_add_func ("/examples/print/splits", test_print_splits);
  g_test_add_func ("/examples/upper/fake", test_upper_fake);
  g_test_add_func ("/examples/upper/glib", test_upper_glib);
  g_test_add_func ("/examples/upper/process", test_upper_process);
  g_test_add_func ("/examples/print/process", test_print_process);
  return g_test_run ();
}
