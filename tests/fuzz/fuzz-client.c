/* braid — fuzz target: BraidMcClient against a fuzzed server on the fake
 * reactor.
 *
 * Input: byte 0 picks which requests the client pipelines (one bit each),
 * byte 1 the reply chunk length (1–16, or all at once for 0) and byte 2
 * how far the clock moves between chunks; the rest is what the "server"
 * answers.  Whatever it says, every request completes exactly once, with a
 * value or an error, once the server hangs up and the timeouts pass. */
#include "mc-client.h"
#include "fake-reactor.h"
#include "fake-transport.h"

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

typedef enum {
  OP_GET, OP_GETS, OP_GET_MULTI, OP_GAT, OP_SET, OP_CAS, OP_ARITH, OP_STATS,
  OP_DELETE, OP_TOUCH, OP_FLUSH, OP_VERSION, N_OPS
} Op;

typedef struct {
  guint issued;
  guint completed[N_OPS];
} Counts;

typedef struct {
  Op op;
  Counts *counts;
} Call;

static void
done (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;
  BraidMcClient *client = BRAID_MC_CLIENT (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) value = NULL;
  g_autoptr(GHashTable) table = NULL;

  switch (call->op)
    {
    case OP_GET:
    case OP_GETS:
      value = braid_mc_client_get_finish (client, result, &error);
      break;
    case OP_GAT:
      value = braid_mc_client_gat_finish (client, result, &error);
      break;
    case OP_GET_MULTI:
      table = braid_mc_client_get_multi_finish (client, result, &error);
      break;
    case OP_STATS:
      table = braid_mc_client_stats_finish (client, result, &error);
      break;
    case OP_SET:
    case OP_CAS:
      braid_mc_client_store_finish (client, result, &error);
      break;
    case OP_ARITH:
      {
        guint64 n;

        braid_mc_client_arith_finish (client, result, &n, &error);
        break;
      }
    case OP_DELETE:
      braid_mc_client_delete_finish (client, result, &error);
      break;
    case OP_TOUCH:
      braid_mc_client_touch_finish (client, result, &error);
      break;
    case OP_FLUSH:
      braid_mc_client_flush_all_finish (client, result, &error);
      break;
    case OP_VERSION:
      g_free (braid_mc_client_version_finish (client, result, &error));
      break;
    case N_OPS:
    default:
      g_assert_not_reached ();
    }
  /* a value or an error, never both, never neither (but NOT_FOUND) */
  if (value != NULL || table != NULL)
    g_assert_null (error);
  call->counts->completed[call->op]++;
  g_free (call);
}

static gpointer
call_new (Counts *counts, Op op)
{
  Call *call = g_new0 (Call, 1);

  call->op = op;
  call->counts = counts;
  counts->issued++;
  return call;
}

static void
issue (BraidMcClient *client, Counts *counts, guint mask)
{
  const gchar *keys[] = { "a", "b", "a", NULL };
  g_autoptr(GBytes) value = g_bytes_new_static ("hello", 5);

  if (mask & (1 << 0))
    braid_mc_client_get_async (client, "a", BRAID_MC_GET_FLAGS_NONE, NULL, done, call_new (counts, OP_GET));
  if (mask & (1 << 1))
    braid_mc_client_get_async (client, "k", BRAID_MC_GET_FLAGS_WITH_CAS, NULL, done, call_new (counts, OP_GETS));
  if (mask & (1 << 2))
    braid_mc_client_get_multi_async (client, keys, BRAID_MC_GET_FLAGS_NONE, NULL, done,
                                     call_new (counts, OP_GET_MULTI));
  if (mask & (1 << 3))
    braid_mc_client_gat_async (client, "a", 10, BRAID_MC_GET_FLAGS_WITH_CAS, NULL, done, call_new (counts, OP_GAT));
  if (mask & (1 << 4))
    {
      braid_mc_client_store_async (client, BRAID_MC_STORE_MODE_SET, "a", value, 1, 0, 0, NULL, done,
                                   call_new (counts, OP_SET));
      braid_mc_client_store_async (client, BRAID_MC_STORE_MODE_CAS, "b", value, 0, 0, 42, NULL, done,
                                   call_new (counts, OP_CAS));
    }
  if (mask & (1 << 5))
    braid_mc_client_arith_async (client, "n", BRAID_MC_ARITH_MODE_INCR, 1, NULL, done, call_new (counts, OP_ARITH));
  if (mask & (1 << 6))
    braid_mc_client_stats_async (client, NULL, NULL, done, call_new (counts, OP_STATS));
  if (mask & (1 << 7))
    {
      braid_mc_client_delete_async (client, "a", NULL, done, call_new (counts, OP_DELETE));
      braid_mc_client_touch_async (client, "a", 5, NULL, done, call_new (counts, OP_TOUCH));
      braid_mc_client_flush_all_async (client, 0, NULL, done, call_new (counts, OP_FLUSH));
      braid_mc_client_version_async (client, NULL, done, call_new (counts, OP_VERSION));
    }
}

/* The server's side of the first connection. */
static BraidFakeTransport *
server_side (BraidFakeReactor *fake)
{
  GPtrArray *transports = braid_fake_reactor_get_transports (fake);

  for (guint i = 0; i < transports->len; i++)
    {
      BraidFakeTransport *t = g_ptr_array_index (transports, i);
      BraidProtocol *p = braid_fake_transport_get_protocol (t);

      if (p != NULL && G_OBJECT_TYPE (p) == BRAID_TYPE_PROTOCOL)
        return t;
    }
  return NULL;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_PROTOCOL);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidMcClient) client = NULL;
  Counts counts = { 0, };
  guint completed = 0;
  gsize chunk, offset = 3;
  gint64 step;
  BraidFakeTransport *server;

  if (size < 3)
    return 0;
  chunk = data[1] % 17;
  step = (gint64) data[2] * 10 * 1000;  /* 0 to 2.55 s */
  listener = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:11211", factory, NULL);
  client = braid_mc_client_new (BRAID_REACTOR (fake), "tcp:127.0.0.1:11211");
  braid_mc_client_set_item_size_max (client, 1024);
  issue (client, &counts, data[0] != 0 ? data[0] : 0xff);
  braid_fake_reactor_run_until_idle (fake);

  server = server_side (fake);
  g_assert_nonnull (server);
  g_object_ref (server);
  while (offset < size && !braid_fake_transport_is_disconnecting (server))
    {
      gsize n = chunk == 0 ? size - offset : MIN (chunk, size - offset);

      braid_transport_write (BRAID_TRANSPORT (server), data + offset, n);
      braid_fake_reactor_run_until_idle (fake);
      if (step > 0)
        braid_fake_reactor_advance (fake, step);
      offset += n;
    }
  if (!braid_fake_transport_is_disconnecting (server))
    braid_transport_lose_connection (BRAID_TRANSPORT (server));
  braid_fake_reactor_run_until_idle (fake);
  braid_fake_reactor_advance (fake, 10 * G_USEC_PER_SEC);
  braid_fake_reactor_run_until_idle (fake);

  for (guint i = 0; i < N_OPS; i++)
    completed += counts.completed[i];
  if (completed != counts.issued)
    g_error ("%u requests issued but %u completed after the server hung up and 10 s passed",
             counts.issued, completed);

  g_object_unref (server);
  g_clear_object (&client);
  braid_listener_stop (listener);
  braid_fake_reactor_advance (fake, 10 * G_USEC_PER_SEC);
  return 0;
}
