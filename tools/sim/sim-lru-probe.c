/* braid — the LRU probe of the memcached scenario (see sim-lru-probe.h). */
#include "sim-lru-probe.h"
#include "callback-protocol.h"
#include "mc-reply-parser.h"
#include "mc-store-private.h"

#include <string.h>

#define N_LRU_KEYS 12
/* About eight of the probe's values fit: every few sets evict. */
#define LRU_LIMIT_BYTES (6 * 1024)
#define LRU_ITEM_SIZE_MAX 2048
#define LRU_VALUE_MIN 200
#define LRU_VALUE_MAX 900
#define LRU_ACT_PROBABILITY 0.3

typedef enum { PROBE_SET, PROBE_GET, PROBE_TOUCH, PROBE_DELETE } ProbeOp;

static const gchar * const probe_op_names[] = { "set", "get", "touch", "delete" };

struct _SimLruProbe
{
  BraidSim *sim;
  BraidMcServer *server;        /* (owned) */
  gchar *endpoint;
  BraidProtocol *conn;          /* (owned) (nullable) */
  gboolean connecting;
  guint seq;
  /* the request waiting for its reply */
  gboolean pending;
  ProbeOp op;
  guint key;
  gchar *value;                 /* set: what it writes */
  gboolean hit;                 /* get: a VALUE came */
  GByteArray *in;
  BraidMcReplyParser parser;
  /* the model: keys by last use, most recent first, and their values */
  GQueue order;                 /* (element-type guint, as pointers) */
  gchar *values[N_LRU_KEYS];    /* (nullable): NULL when not in the model */
  guint evictions;
};

void
sim_lru_probe_configure (BraidMcStoreSettings *store_settings)
{
  store_settings->limit_bytes = LRU_LIMIT_BYTES;
  store_settings->item_size_max = LRU_ITEM_SIZE_MAX;
  store_settings->evict = TRUE;
  store_settings->n_shards = 1;  /* one LRU, as the model has */
}

static gchar *
key_name (guint key)
{
  return g_strdup_printf ("l%u", key);
}

static BraidMcStore *
probe_store (SimLruProbe *probe)
{
  return braid_mc_server_get_store (probe->server);
}

static gboolean
stored (SimLruProbe *probe, guint key)
{
  g_autofree gchar *name = key_name (key);

  return braid_mc_store_peek (probe_store (probe), (const guint8 *) name, strlen (name)) != NULL;
}

/* ---- the model ---- */

static void
model_forget (SimLruProbe *probe, guint key)
{
  g_queue_remove (&probe->order, GUINT_TO_POINTER (key));
  g_clear_pointer (&probe->values[key], g_free);
}

static void
model_use (SimLruProbe *probe, guint key)
{
  g_queue_remove (&probe->order, GUINT_TO_POINTER (key));
  g_queue_push_head (&probe->order, GUINT_TO_POINTER (key));
}

/* The keys still stored must be a front part of the model's order.
 * Those gone were evicted: the model forgets them. */
static void
check_eviction_order (SimLruProbe *probe)
{
  gint first_gone = -1;

  for (GList *l = probe->order.head; l != NULL; l = l->next)
    {
      guint key = GPOINTER_TO_UINT (l->data);

      if (!stored (probe, key))
        {
          if (first_gone < 0)
            first_gone = (gint) key;
          continue;
        }
      if (first_gone >= 0)
        {
          braid_sim_fail (probe->sim, "lru: l%d was evicted while l%u, used less recently, stayed "
                          "(LRU order broken: the wrong item was evicted)", first_gone, key);
          return;
        }
    }
  for (guint key = 0; key < N_LRU_KEYS; key++)
    {
      if (probe->values[key] == NULL && stored (probe, key))
        {
          braid_sim_fail (probe->sim, "lru: l%u is stored, but the model saw it go", key);
          return;
        }
      if (probe->values[key] != NULL && !stored (probe, key))
        {
          braid_sim_trace (probe->sim, "lru: l%u evicted", key);
          probe->evictions++;
          model_forget (probe, key);
        }
    }
}

/* The outcome of a request is unknown (its connection broke): the model
 * starts again from what the store holds, in its order. */
static gboolean
resync_one (const BraidMcItemInfo *info, gpointer user_data)
{
  SimLruProbe *probe = user_data;
  guint key = (guint) g_ascii_strtoull ((const gchar *) info->key + 1, NULL, 10);

  g_queue_push_tail (&probe->order, GUINT_TO_POINTER (key));
  return TRUE;
}

static void
model_resync (SimLruProbe *probe)
{
  g_queue_clear (&probe->order);
  braid_mc_store_foreach (probe_store (probe), BRAID_MC_STORE_ORDER_MOST_RECENT_FIRST, resync_one, probe);
  for (guint key = 0; key < N_LRU_KEYS; key++)
    {
      g_autofree gchar *name = key_name (key);
      BraidMcItem *item = braid_mc_store_peek (probe_store (probe), (const guint8 *) name, strlen (name));
      gsize len;

      g_clear_pointer (&probe->values[key], g_free);
      if (item != NULL)
        {
          const gchar *value = (const gchar *) braid_mc_item_get_value (item, &len);

          probe->values[key] = g_strndup (value, len);
        }
    }
  braid_sim_trace (probe->sim, "lru: outcome unknown, model resynced (%u keys)", probe->order.length);
}

/* ---- replies ---- */

static void
check_value (SimLruProbe *probe, const BraidMcReply *reply)
{
  const gchar *want = probe->values[probe->key];

  if (want == NULL)
    braid_sim_fail (probe->sim, "lru: get l%u found a value, but the model saw it go", probe->key);
  else if (reply->value_len != strlen (want) || memcmp (reply->value, want, reply->value_len) != 0)
    braid_sim_fail (probe->sim, "lru: get l%u did not return the value last stored", probe->key);
}

/* Applies one whole reply to the model; FALSE when it was not the
 * reply the request asks for. */
static gboolean
apply_reply (SimLruProbe *probe, BraidMcReplyType type)
{
  switch (probe->op)
    {
    case PROBE_SET:
      if (type != BRAID_MC_REPLY_STORED)
        return FALSE;
      g_free (probe->values[probe->key]);
      probe->values[probe->key] = g_steal_pointer (&probe->value);
      model_use (probe, probe->key);
      return TRUE;
    case PROBE_GET:
      if (type != BRAID_MC_REPLY_END)
        return FALSE;
      if (probe->hit)
        model_use (probe, probe->key);
      else
        model_forget (probe, probe->key);
      return TRUE;
    case PROBE_TOUCH:
      if (type == BRAID_MC_REPLY_TOUCHED)
        model_use (probe, probe->key);
      else if (type == BRAID_MC_REPLY_NOT_FOUND)
        model_forget (probe, probe->key);
      else
        return FALSE;
      return TRUE;
    case PROBE_DELETE:
    default:
      if (type != BRAID_MC_REPLY_DELETED && type != BRAID_MC_REPLY_NOT_FOUND)
        return FALSE;
      model_forget (probe, probe->key);
      return TRUE;
    }
}

/* One reply element; TRUE when the request's reply is whole. */
static gboolean
take_element (SimLruProbe *probe, const BraidMcReply *reply)
{
  if (probe->op == PROBE_GET && reply->type == BRAID_MC_REPLY_VALUE)
    {
      check_value (probe, reply);
      probe->hit = TRUE;
      return FALSE;
    }
  if (!apply_reply (probe, reply->type))
    braid_sim_fail (probe->sim, "lru: %s l%u got a %s reply", probe_op_names[probe->op], probe->key,
                    braid_mc_reply_type_name (reply->type));
  return TRUE;
}

static void
probe_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  SimLruProbe *probe = user_data;
  gsize offset = 0;

  g_byte_array_append (probe->in, data, (guint) len);
  while (probe->pending && !braid_sim_failed (probe->sim))
    {
      BraidMcReply reply;
      g_autoptr(GError) error = NULL;
      gsize used = braid_mc_parse_reply (&probe->parser, probe->in->data + offset, probe->in->len - offset,
                                         &reply, &error);

      if (error != NULL)
        {
          braid_sim_fail (probe->sim, "lru: the server sent something that is not a reply: %s", error->message);
          break;
        }
      if (used == 0)
        break;
      offset += used;
      if (!take_element (probe, &reply))
        continue;
      probe->pending = FALSE;
      braid_sim_trace (probe->sim, "lru: %s l%u: %s", probe_op_names[probe->op], probe->key,
                       braid_mc_reply_type_name (reply.type));
      check_eviction_order (probe);
    }
  g_byte_array_remove_range (probe->in, 0, (guint) offset);
}

static void
probe_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  SimLruProbe *probe = user_data;

  braid_sim_trace (probe->sim, "lru: connection lost: %s", reason->message);
  if (probe->pending)
    model_resync (probe);
  probe->pending = FALSE;
  g_byte_array_set_size (probe->in, 0);
  g_clear_object (&probe->conn);
}

static const BraidProtocolCallbacks probe_callbacks = {
  .data_received = probe_data,
  .connection_lost = probe_lost,
};

/* ---- requests ---- */

static BraidProtocol *
build_probe_conn (GSocketAddress *address, gpointer user_data)
{
  return BRAID_PROTOCOL (braid_callback_protocol_new (&probe_callbacks, user_data, NULL));
}

static void
on_probe_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SimLruProbe *probe = user_data;
  g_autoptr(GError) error = NULL;
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;

  probe->connecting = FALSE;
  probe->conn = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);
  probe->parser = parser;
  if (probe->conn == NULL)
    braid_sim_trace (probe->sim, "lru: connect failed: %s", error->message);
}

static gchar *
new_value (SimLruProbe *probe, guint key)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  gsize len = (gsize) g_rand_int_range (rand, LRU_VALUE_MIN, LRU_VALUE_MAX);
  GString *value = g_string_new (NULL);

  g_string_printf (value, "l%u-%u-", key, ++probe->seq);
  while (value->len < len)
    g_string_append_c (value, (gchar) ('a' + value->len % 26));
  return g_string_free (value, FALSE);
}

static void
send_request (SimLruProbe *probe)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  gint dice = g_rand_int_range (rand, 0, 20);
  g_autofree gchar *name = NULL;
  g_autoptr(GString) line = g_string_new (NULL);

  probe->key = (guint) g_rand_int_range (rand, 0, N_LRU_KEYS);
  probe->op = dice < 9 ? PROBE_SET : dice < 16 ? PROBE_GET : dice < 19 ? PROBE_TOUCH : PROBE_DELETE;
  probe->hit = FALSE;
  probe->pending = TRUE;
  name = key_name (probe->key);
  switch (probe->op)
    {
    case PROBE_SET:
      g_free (probe->value);
      probe->value = new_value (probe, probe->key);
      g_string_printf (line, "set %s 0 0 %" G_GSIZE_FORMAT "\r\n%s\r\n", name, strlen (probe->value), probe->value);
      break;
    case PROBE_GET:
      g_string_printf (line, "get %s\r\n", name);
      break;
    case PROBE_TOUCH:
      g_string_printf (line, "touch %s 0\r\n", name);
      break;
    case PROBE_DELETE:
    default:
      g_string_printf (line, "delete %s\r\n", name);
      break;
    }
  braid_transport_write (braid_protocol_get_transport (probe->conn), line->str, line->len);
}

void
sim_lru_probe_step (SimLruProbe *probe)
{
  BraidTransport *t;

  if (probe->connecting || probe->pending || !braid_sim_chance (probe->sim, LRU_ACT_PROBABILITY))
    return;
  if (probe->conn == NULL)
    {
      g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_probe_conn, probe, NULL);

      probe->connecting = TRUE;
      braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)), probe->endpoint,
                                   factory, NULL, on_probe_connected, probe);
      return;
    }
  t = braid_protocol_get_transport (probe->conn);
  if (t != NULL && !braid_transport_is_closing (t))
    send_request (probe);
}

SimLruProbe *
sim_lru_probe_new (BraidSim *sim, BraidMcServer *server, const gchar *endpoint)
{
  SimLruProbe *probe = g_new0 (SimLruProbe, 1);

  probe->sim = sim;
  probe->server = g_object_ref (server);
  probe->endpoint = g_strdup (endpoint);
  probe->in = g_byte_array_new ();
  g_queue_init (&probe->order);
  return probe;
}

void
sim_lru_probe_stop (SimLruProbe *probe)
{
  if (probe->conn != NULL)
    {
      braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (probe->conn));
      if (braid_protocol_get_transport (probe->conn) != NULL)
        braid_transport_abort_connection (braid_protocol_get_transport (probe->conn));
      g_clear_object (&probe->conn);
    }
}

void
sim_lru_probe_free (SimLruProbe *probe)
{
  if (probe == NULL)
    return;
  sim_lru_probe_stop (probe);
  for (guint key = 0; key < N_LRU_KEYS; key++)
    g_free (probe->values[key]);
  g_queue_clear (&probe->order);
  g_byte_array_unref (probe->in);
  g_free (probe->value);
  g_free (probe->endpoint);
  g_object_unref (probe->server);
  g_free (probe);
}

guint
sim_lru_probe_get_evictions (SimLruProbe *probe)
{
  return probe->evictions;
}
