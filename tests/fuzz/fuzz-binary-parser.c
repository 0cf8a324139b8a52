/* braid — fuzz target: the binary protocol's request parser and a binary
 * server connection behind it.  Built as a plain test by driver.c; with
 * -fsanitize=fuzzer it is a libFuzzer target. */
#include "mc-binary.h"
#include "mc-server.h"
#include "fake-reactor.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

/* Parses requests back to back, skipping what the server would skip,
 * and checks that nothing points outside the input. */
static void
fuzz_parser (const guint8 *data, gsize size)
{
  BraidMcBinaryParser parser = BRAID_MC_BINARY_PARSER_INIT;
  gsize offset = 0;

  parser.item_size_max = 4096;
  while (offset < size)
    {
      BraidMcBinaryRequest r;
      gsize used = braid_mc_binary_parse_request (&parser, data + offset, size - offset, &r);

      if (used == 0)
        break;
      g_assert (used <= size - offset);
      g_assert (used >= BRAID_MC_BINARY_HEADER_LEN);
      if (r.problem == BRAID_MC_BINARY_PROBLEM_BAD_MAGIC)
        break;
      g_assert (r.key + r.header.key_len <= data + offset + used);
      if (r.value != NULL)
        {
          g_assert (r.value + r.value_len == data + offset + used);
          g_assert (r.value_len <= parser.item_size_max);
        }
      offset += used;
      if (r.value == NULL)
        offset += MIN (r.value_len, size - offset);
    }
}

/* The same bytes, behind a first byte that makes the connection binary,
 * through a server connection split in two at a point the input picks. */
static void
fuzz_server (const guint8 *data, gsize size)
{
  static const guint8 binary = BRAID_MC_BINARY_MAGIC_REQUEST;
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  gsize split = size > 0 ? data[0] % (size + 1) : 0;

  settings.store.limit_bytes = 64 * 1024;
  settings.store.item_size_max = 4096;
  server = braid_mc_server_new (BRAID_REACTOR (fake), &settings);
  factory = braid_mc_server_create_factory (server);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, BRAID_PROTOCOL (protocol));
  if (size == 0 || data[0] != binary)
    braid_protocol_data_received (BRAID_PROTOCOL (protocol), &binary, 1);
  braid_protocol_data_received (BRAID_PROTOCOL (protocol), data, split);
  braid_protocol_data_received (BRAID_PROTOCOL (protocol), data + split, size - split);
  braid_fake_transport_close_from_peer (transport, NULL);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  fuzz_parser (data, size);
  fuzz_server (data, size);
  return 0;
}
