/* braid — fuzz target: the memcached server protocol on the fake reactor,
 * fed in chunks the input chooses.
 *
 * Input: byte 0 is the number of split points (0–7, modulo 8), the next
 * that many bytes are chunk lengths (0 means "the rest"); everything after
 * them is the client's byte stream.  The stream is delivered once whole
 * and once in those chunks, and the server must answer both the same,
 * byte for byte: a parser's partial states may not leak into its answers.
 * Built as a plain test by driver.c; with -fsanitize=fuzzer it is a
 * libFuzzer target. */
#include "mc-server.h"
#include "fake-reactor.h"
#include "fake-transport.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

#define MAX_SPLITS 8

/* Runs a server connection over @stream delivered in @n_chunks chunks of
 * @chunks lengths (the last takes the rest); returns what it wrote. */
static GBytes *
serve (const guint8 *stream, gsize size, const gsize *chunks, guint n_chunks)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  gsize offset = 0;

  settings.store.limit_bytes = 64 * 1024;
  settings.store.item_size_max = 4096;
  settings.debugtime = TRUE;
  /* memcached's take-back of unwritten replies depends on the reads by
   * design (test-server checks it); without it, a split may change nothing */
  settings.take_back_unwritten = FALSE;
  server = braid_mc_server_new (BRAID_REACTOR (fake), &settings);
  factory = braid_mc_server_create_factory (server);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, BRAID_PROTOCOL (protocol));
  for (guint i = 0; i <= n_chunks && offset < size; i++)
    {
      gsize n = i < n_chunks && chunks[i] > 0 ? MIN (chunks[i], size - offset) : size - offset;

      /* a closing connection reads nothing more */
      if (braid_fake_transport_is_disconnecting (transport))
        break;
      braid_protocol_data_received (BRAID_PROTOCOL (protocol), stream + offset, n);
      braid_fake_reactor_run_until_idle (fake);
      offset += n;
    }
  if (!braid_fake_transport_is_disconnecting (transport))
    braid_fake_transport_close_from_peer (transport, NULL);
  braid_fake_reactor_run_until_idle (fake);
  return braid_fake_transport_get_written (transport);
}

/* "STAT rusage_*" and the like measure the process, and bytes_read and
 * bytes_written count what had gone through the socket when "stats" ran,
 * which depends on the reads as it does in memcached. */
static gchar *
without_process_stats (GBytes *bytes)
{
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);
  g_autofree gchar *text = g_strndup (data != NULL ? data : "", len);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "STAT rusage_") || g_str_has_prefix (lines[i], "STAT pid ") ||
          g_str_has_prefix (lines[i], "STAT time ") || g_str_has_prefix (lines[i], "STAT uptime ") ||
          g_str_has_prefix (lines[i], "STAT bytes_read ") || g_str_has_prefix (lines[i], "STAT bytes_written "))
        continue;
      g_string_append (out, lines[i]);
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  gsize chunks[MAX_SPLITS];
  guint n_chunks;
  const guint8 *stream;
  gsize stream_len;
  g_autoptr(GBytes) whole = NULL;
  g_autoptr(GBytes) split = NULL;

  if (size == 0)
    return 0;
  n_chunks = data[0] % MAX_SPLITS;
  if (size < 1 + n_chunks)
    return 0;
  for (guint i = 0; i < n_chunks; i++)
    chunks[i] = data[1 + i];
  stream = data + 1 + n_chunks;
  stream_len = size - 1 - n_chunks;

  whole = serve (stream, stream_len, NULL, 0);
  split = serve (stream, stream_len, chunks, n_chunks);
  if (!g_bytes_equal (whole, split))
    {
      g_autofree gchar *a = without_process_stats (whole);
      g_autofree gchar *b = without_process_stats (split);

      if (strcmp (a, b) != 0)
        g_error ("the server answered differently when the same bytes came in %u chunks:\n"
                 "whole: %s\nsplit: %s", n_chunks + 1, a, b);
    }
  return 0;
}
