/* braid — fuzz target: the client's reply parser, and the client reading
 * those bytes as replies to pipelined requests. */
#include "mc-reply-parser.h"
#include "mc-client.h"
#include "fake-reactor.h"

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

static void
fuzz_parser (const guint8 *data, gsize size)
{
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;
  gsize offset = 0;

  while (offset < size)
    {
      BraidMcReply reply;
      GError *error = NULL;
      gsize used = braid_mc_parse_reply (&parser, data + offset, size - offset, &reply, &error);

      if (error != NULL)
        {
          g_error_free (error);
          break;
        }
      if (used == 0)
        break;
      g_assert (used <= size - offset);
      if (reply.value != NULL)
        g_assert (reply.value + reply.value_len <= data + size);
      offset += used;
    }
}

static void
ignore (GObject *source, GAsyncResult *result, gpointer data)
{
}

static void
fuzz_client (const guint8 *data, gsize size)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_PROTOCOL);
  g_autoptr(BraidListener) listener = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:11211", factory, NULL);
  g_autoptr(BraidMcClient) client = braid_mc_client_new (BRAID_REACTOR (fake), "tcp:127.0.0.1:11211");
  const gchar *keys[] = { "a", "b", NULL };
  GPtrArray *transports;

  braid_mc_client_get_async (client, "a", BRAID_MC_GET_FLAGS_WITH_CAS, NULL, ignore, NULL);
  braid_mc_client_get_multi_async (client, keys, BRAID_MC_GET_FLAGS_NONE, NULL, ignore, NULL);
  braid_mc_client_stats_async (client, NULL, NULL, ignore, NULL);
  braid_mc_client_arith_async (client, "n", BRAID_MC_ARITH_MODE_INCR, 1, NULL, ignore, NULL);
  braid_fake_reactor_run_until_idle (fake);
  transports = braid_fake_reactor_get_transports (fake);
  for (guint i = 0; i < transports->len; i++)
    {
      BraidFakeTransport *t = g_ptr_array_index (transports, i);

      /* the server's side: whatever the fuzzer says, as replies */
      if (braid_fake_transport_get_protocol (t) != NULL &&
          G_OBJECT_TYPE (braid_fake_transport_get_protocol (t)) == BRAID_TYPE_PROTOCOL)
        braid_transport_write (BRAID_TRANSPORT (t), data, size);
    }
  braid_fake_reactor_run_until_idle (fake);
  g_clear_object (&client);
  braid_listener_stop (listener);
  braid_fake_reactor_advance (fake, 10 * G_USEC_PER_SEC);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  fuzz_parser (data, size);
  fuzz_client (data, size);
  return 0;
}
