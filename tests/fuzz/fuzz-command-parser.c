/* braid — fuzz target: the memcached command parser and the whole server
 * protocol behind it.  Built as a plain test by driver.c; with
 * -fsanitize=fuzzer it is a libFuzzer target. */
#include "mc-command-parser.h"
#include "mc-server.h"
#include "fake-reactor.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

static void
fuzz_parser (const guint8 *data, gsize size)
{
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  gsize offset = 0, swallow = 0;

  parser.item_size_max = 4096;
  while (offset < size)
    {
      BraidMcCommand cmd;
      gsize used;

      if (swallow > 0)
        {
          gsize n = MIN (swallow, size - offset);

          swallow -= n;
          offset += n;
          continue;
        }
      used = braid_mc_parse_command (&parser, data + offset, size - offset, FALSE, &cmd);
      if (used == 0)
        break;
      g_assert (used <= size - offset);
      if (braid_mc_command_is_storage (cmd.type))
        g_assert (cmd.value + cmd.value_len + 2 <= data + size);
      if (cmd.type == BRAID_MC_COMMAND_BAD_INPUT)
        swallow = cmd.swallow;
      offset += used;
    }
}

/* The same bytes through a server connection, split in two at a point
 * chosen by the input itself. */
static void
fuzz_server (const guint8 *data, gsize size)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  gsize split = size > 0 ? data[0] % (size + 1) : 0;

  settings.store.limit_bytes = 64 * 1024;
  settings.store.item_size_max = 4096;
  settings.debugtime = TRUE;
  server = braid_mc_server_new (BRAID_REACTOR (fake), &settings);
  factory = braid_mc_server_create_factory (server);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, BRAID_PROTOCOL (protocol));
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
