/* braid — the client probe of the memcached scenario (see sim-client-probe.h). */
#include "sim-client-probe.h"
#include "mc-client.h"
#include "mc-store-private.h"

#include <errno.h>
#include <string.h>

#define N_PROBE_KEYS 4
#define MAX_BATCH 4
#define ACT_PROBABILITY 0.3
/* How often a batch starts on a client made anew, the old one dropped. */
#define DROP_PROBABILITY 0.05
/* How often a client is dropped just after a batch was sent, its
 * requests in flight or waiting for a connection. */
#define DROP_BUSY_PROBABILITY 0.03
#define DROP_WAITING_PROBABILITY 0.3
/* How often the client is told to disconnect before a batch. */
#define DISCONNECT_PROBABILITY 0.05
/* How often a batch shares a cancellable, and how long a dropped
 * client's connection may take to close. */
#define CANCEL_PROBABILITY 0.15
#define DRAIN_LIMIT_US (5 * G_USEC_PER_SEC)
/* How often a direct get is cancelled with braid_mc_client_cancel_direct,
 * and how much later at most. */
#define DIRECT_CANCEL_PROBABILITY 0.2
#define DIRECT_CANCEL_LATER_US 3000
/* The client's request timeout: armed, never reached. */
#define CLIENT_TIMEOUT_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

typedef enum {
  OP_SET, OP_ADD, OP_REPLACE, OP_APPEND, OP_PREPEND, OP_CAS, OP_DELETE, OP_INCR, OP_DECR, OP_TOUCH,
  OP_GET, OP_GETS, OP_GAT, OP_GET_MULTI, OP_VERSION, OP_GET_DIRECT, OP_FLUSH,
} OpKind;

static const gchar * const op_names[] = {
  "set", "add", "replace", "append", "prepend", "cas", "delete", "incr", "decr", "touch",
  "get", "gets", "gat", "get_multi", "version", "get (direct)", "flush_all",
};

/* A key as the store held it when the batch was sent. */
typedef struct {
  gboolean present;
  GBytes *value;
  guint32 flags;
  guint64 cas;
} Snapshot;

typedef struct {
  SimClientProbe *probe;
  OpKind kind;
  guint keys[N_PROBE_KEYS];
  guint n_keys;
  Snapshot before[N_PROBE_KEYS];
  GBytes *data;         /* stores: what is written */
  guint32 flags;
  gint64 exptime;
  guint64 number;       /* cas compared; delta */
  /* a direct get, while it waits for its answer */
  BraidMcDirectGet *direct;
  BraidMcClient *direct_client;  /* (unowned): its client, alive while the get waits */
  gint64 cancel_at;     /* cancel_direct it then (0: not) */
  gboolean cancelled;   /* cancel_direct was called: the answer must be CANCELLED */
} Op;

struct _SimClientProbe
{
  BraidSim *sim;
  BraidMcServer *server;  /* (owned) */
  BraidMcClient *client;  /* (owned) */
  gchar *endpoint;
  guint in_flight;
  guint seq;
  guint checked;
  GCancellable *cancellable;  /* (owned) (nullable): the batch's, cancelled at some point */
  GPtrArray *dropped;         /* (element-type GWeakRef): clients let go of, alive while requests hold them */
  gint64 draining_since;      /* a busy client was dropped: its connection must close (-1: not) */
  GPtrArray *directs;         /* (element-type Op) (unowned): direct gets not answered yet */
};

static gchar *
key_name (guint key)
{
  return g_strdup_printf ("c%u", key);
}

static void
snapshot_take (SimClientProbe *probe, guint key, Snapshot *s)
{
  g_autofree gchar *name = key_name (key);
  BraidMcItem *item = braid_mc_store_peek (braid_mc_server_get_store (probe->server), (const guint8 *) name,
                                           strlen (name));

  s->present = item != NULL;
  if (item != NULL)
    {
      gsize len;
      const guint8 *value = braid_mc_item_get_value (item, &len);

      s->value = g_bytes_new (value, len);
      s->flags = braid_mc_item_get_flags (item);
      s->cas = braid_mc_item_get_cas (item);
    }
}

static void
op_free (Op *op)
{
  for (guint i = 0; i < op->n_keys; i++)
    g_clear_pointer (&op->before[i].value, g_bytes_unref);
  g_clear_pointer (&op->data, g_bytes_unref);
  if (op->probe->in_flight == 0)
    braid_sim_fail (op->probe->sim, "client probe: %s answered twice", op_names[op->kind]);
  else
    op->probe->in_flight--;
  g_free (op);
}

/* ---- checks ---- */

static gboolean
unknown_outcome (const GError *error)
{
  /* a cancelled request may still have run: its reply is read and dropped */
  return (error != NULL && error->domain == BRAID_MC_ERROR &&
          (error->code == BRAID_MC_ERROR_CONNECTION_LOST || error->code == BRAID_MC_ERROR_TIMED_OUT)) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
fail_op (Op *op, const gchar *what, const GError *error)
{
  g_autofree gchar *name = key_name (op->keys[0]);

  braid_sim_fail (op->probe->sim, "client probe: %s %s: %s (got %s)", op_names[op->kind], name, what,
                  error != NULL ? error->message : "success");
}

/* The result must be success, or the error @code (-1: success only). */
static void
expect_result (Op *op, const GError *error, gint code)
{
  if (code < 0 && error != NULL)
    fail_op (op, "should have succeeded", error);
  else if (code >= 0 && (error == NULL || error->domain != BRAID_MC_ERROR || error->code != code))
    fail_op (op, code == BRAID_MC_ERROR_NOT_FOUND ? "should have been NOT_FOUND"
             : code == BRAID_MC_ERROR_EXISTS ? "should have been EXISTS"
             : code == BRAID_MC_ERROR_NOT_STORED ? "should have been NOT_STORED" : "should have failed", error);
}

static void
check_value (Op *op, guint i, const BraidMcValue *v, gboolean with_cas)
{
  const Snapshot *s = &op->before[i];
  g_autofree gchar *name = key_name (op->keys[i]);

  if (!s->present)
    braid_sim_fail (op->probe->sim, "client probe: %s %s: a value for a key the store did not hold",
                    op_names[op->kind], name);
  else if (!g_bytes_equal (v->data, s->value) || v->flags != s->flags || g_strcmp0 (v->key, name) != 0)
    braid_sim_fail (op->probe->sim, "client probe: %s %s: not the value, flags or key the store held",
                    op_names[op->kind], name);
  else if (with_cas && v->cas != s->cas)
    braid_sim_fail (op->probe->sim, "client probe: %s %s: cas %" G_GUINT64_FORMAT ", the store's is %"
                    G_GUINT64_FORMAT, op_names[op->kind], name, v->cas, s->cas);
}

/* After a write that succeeded, the store holds what it should. */
static void
check_after (Op *op, const gchar *value, gsize len, guint32 flags)
{
  Snapshot now = { 0 };

  snapshot_take (op->probe, op->keys[0], &now);
  if (value == NULL ? now.present
                    : !now.present || g_bytes_get_size (now.value) != len ||
                      memcmp (g_bytes_get_data (now.value, NULL), value, len) != 0 || now.flags != flags)
    fail_op (op, "the store does not hold what the write should leave", NULL);
  g_clear_pointer (&now.value, g_bytes_unref);
}

static gboolean
parse_counter (GBytes *value, guint64 *out)
{
  gsize len;
  const gchar *data = g_bytes_get_data (value, &len);
  g_autofree gchar *text = g_strndup (data, len);
  gsize digits = strspn (text, "0123456789");

  if (digits == 0 || (text[digits] != '\0' && text[digits] != ' '))
    return FALSE;
  text[digits] = '\0';
  errno = 0;
  *out = g_ascii_strtoull (text, NULL, 10);
  return errno != ERANGE;
}

static void
check_store (Op *op, const GError *error)
{
  const Snapshot *s = &op->before[0];
  gsize len;
  const gchar *data = g_bytes_get_data (op->data, &len);
  g_autofree gchar *joined = NULL;

  switch (op->kind)
    {
    case OP_ADD:
      expect_result (op, error, s->present ? BRAID_MC_ERROR_NOT_STORED : -1);
      break;
    case OP_REPLACE:
    case OP_APPEND:
    case OP_PREPEND:
      expect_result (op, error, s->present ? -1 : BRAID_MC_ERROR_NOT_STORED);
      break;
    case OP_CAS:
      expect_result (op, error, !s->present ? BRAID_MC_ERROR_NOT_FOUND : s->cas == op->number ? -1 : BRAID_MC_ERROR_EXISTS);
      break;
    case OP_SET:
    default:
      expect_result (op, error, -1);
      break;
    }
  if (error != NULL || braid_sim_failed (op->probe->sim))
    return;
  if (op->kind == OP_APPEND || op->kind == OP_PREPEND)
    {
      gsize old_len;
      const gchar *old = g_bytes_get_data (s->value, &old_len);

      joined = op->kind == OP_APPEND ? g_strdup_printf ("%.*s%.*s", (gint) old_len, old, (gint) len, data)
                                     : g_strdup_printf ("%.*s%.*s", (gint) len, data, (gint) old_len, old);
      check_after (op, joined, old_len + len, s->flags);
    }
  else
    check_after (op, op->exptime < 0 ? NULL : data, len, op->flags);
}

static void
on_store (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;

  braid_mc_client_store_finish (BRAID_MC_CLIENT (source), result, &error);
  if (!unknown_outcome (error))
    {
      check_store (op, error);
      op->probe->checked++;
    }
  op_free (op);
}

static void
on_delete_or_touch (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;

  if (op->kind == OP_DELETE)
    braid_mc_client_delete_finish (BRAID_MC_CLIENT (source), result, &error);
  else
    braid_mc_client_touch_finish (BRAID_MC_CLIENT (source), result, &error);
  if (!unknown_outcome (error))
    {
      expect_result (op, error, op->before[0].present ? -1 : BRAID_MC_ERROR_NOT_FOUND);
      if (error == NULL && op->kind == OP_DELETE)
        check_after (op, NULL, 0, 0);
      op->probe->checked++;
    }
  op_free (op);
}

static void
on_arith (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  const Snapshot *s = &op->before[0];
  g_autoptr(GError) error = NULL;
  guint64 value = 0, old;
  gboolean ok = braid_mc_client_arith_finish (BRAID_MC_CLIENT (source), result, &value, &error);

  if (!unknown_outcome (error))
    {
      op->probe->checked++;
      if (!s->present)
        expect_result (op, error, BRAID_MC_ERROR_NOT_FOUND);
      else if (!parse_counter (s->value, &old))
        expect_result (op, error, BRAID_MC_ERROR_CLIENT_ERROR);
      else
        {
          guint64 want = op->kind == OP_INCR ? old + op->number : op->number > old ? 0 : old - op->number;

          if (!ok || value != want)
            braid_sim_fail (op->probe->sim, "client probe: %s of %" G_GUINT64_FORMAT " by %" G_GUINT64_FORMAT
                            ": got %" G_GUINT64_FORMAT " (%s), not %" G_GUINT64_FORMAT, op_names[op->kind], old,
                            op->number, value, error != NULL ? error->message : "ok", want);
        }
    }
  op_free (op);
}

static void
on_get (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = op->kind == OP_GAT ? braid_mc_client_gat_finish (BRAID_MC_CLIENT (source), result, &error)
                                                 : braid_mc_client_get_finish (BRAID_MC_CLIENT (source), result, &error);

  if (!unknown_outcome (error))
    {
      op->probe->checked++;
      if (v != NULL)
        check_value (op, 0, v, op->kind == OP_GETS);
      else
        expect_result (op, error, op->before[0].present ? -1 : BRAID_MC_ERROR_NOT_FOUND);
    }
  op_free (op);
}

/* A direct get holds no reference to its client (no GTask): a client
 * dropped with one waiting must still answer it. */
static void
on_direct (BraidMcValue *value, GError *error, gpointer data)
{
  Op *op = data;
  g_autoptr(BraidMcValue) v = value;
  g_autoptr(GError) e = error;

  g_ptr_array_remove_fast (op->probe->directs, op);
  if (op->cancelled && !g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    fail_op (op, "cancel_direct was called before the answer, which must then be CANCELLED", e);
  else if (!unknown_outcome (e))
    {
      op->probe->checked++;
      if (v != NULL)
        check_value (op, 0, v, FALSE);
      else
        expect_result (op, e, op->before[0].present ? -1 : BRAID_MC_ERROR_NOT_FOUND);
    }
  op_free (op);
}

static void
on_get_multi (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) values = braid_mc_client_get_multi_finish (BRAID_MC_CLIENT (source), result, &error);

  if (!unknown_outcome (error))
    {
      guint present = 0;

      op->probe->checked++;
      if (values == NULL)
        {
          fail_op (op, "should have succeeded", error);
          op_free (op);
          return;
        }
      for (guint i = 0; i < op->n_keys; i++)
        {
          g_autofree gchar *name = key_name (op->keys[i]);
          BraidMcValue *v = g_hash_table_lookup (values, name);

          present += op->before[i].present;
          if (v != NULL)
            check_value (op, i, v, TRUE);
          else if (op->before[i].present)
            braid_sim_fail (op->probe->sim, "client probe: get_multi: no value for %s, which the store held", name);
        }
      if (g_hash_table_size (values) != present)
        braid_sim_fail (op->probe->sim, "client probe: get_multi: %u values for %u keys held",
                        g_hash_table_size (values), present);
    }
  op_free (op);
}

static void
on_other (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;

  if (op->kind == OP_VERSION)
    {
      g_autofree gchar *version = braid_mc_client_version_finish (BRAID_MC_CLIENT (source), result, &error);

      if (!unknown_outcome (error) && (version == NULL || *version == '\0'))
        fail_op (op, "no version", error);
    }
  else
    {
      braid_mc_client_flush_all_finish (BRAID_MC_CLIENT (source), result, &error);
      if (!unknown_outcome (error))
        {
          expect_result (op, error, -1);
          for (guint k = 0; k < N_PROBE_KEYS && error == NULL; k++)
            {
              op->keys[0] = k;
              check_after (op, NULL, 0, 0);
            }
        }
    }
  op_free (op);
}

/* ---- drawing and sending ---- */

static const gchar * const numbers[] = { "0", "1", "41", "18446744073709551615", "99999999999999999999", "7 " };

static GBytes *
draw_data (SimClientProbe *probe)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  g_autofree gchar *text = g_rand_boolean (rand) ? g_strdup (numbers[g_rand_int_range (rand, 0, G_N_ELEMENTS (numbers))])
                                                 : g_strdup_printf ("w%u", ++probe->seq);

  return g_bytes_new (text, strlen (text));
}

static void
cancel_direct (Op *op)
{
  braid_sim_trace (op->probe->sim, "client probe: get (direct) c%u cancelled%s", op->keys[0],
                   op->cancelled ? " again" : "");
  op->cancelled = TRUE;
  braid_mc_client_cancel_direct (op->direct_client, op->direct);
}

/* A direct get, now and then cancelled with cancel_direct (no cancellable):
 * at once (and now and then twice), or a little later if still waiting. */
static void
send_direct (SimClientProbe *probe, Op *op, const gchar *name)
{
  GRand *rand = braid_sim_get_rand (probe->sim);

  op->direct = braid_mc_client_get_direct (probe->client, name, probe->cancellable, on_direct, op);
  if (op->direct == NULL)
    return;   /* decided already: answered from the reactor */
  op->direct_client = probe->client;
  g_ptr_array_add (probe->directs, op);
  if (!braid_sim_chance (probe->sim, DIRECT_CANCEL_PROBABILITY))
    return;
  if (g_rand_boolean (rand))
    {
      cancel_direct (op);
      if (g_rand_boolean (rand))
        cancel_direct (op);   /* does nothing */
      return;
    }
  op->cancel_at = braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (probe->sim))) +
                  g_rand_int_range (rand, 1, DIRECT_CANCEL_LATER_US);
}

/* The direct gets whose cancel is due and that still wait. */
static void
cancel_due_directs (SimClientProbe *probe)
{
  gint64 now = braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)));

  for (guint i = 0; i < probe->directs->len; i++)
    {
      Op *op = g_ptr_array_index (probe->directs, i);

      if (op->cancel_at != 0 && op->cancel_at <= now && !op->cancelled)
        cancel_direct (op);
    }
}

static void
send_op (SimClientProbe *probe, Op *op)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  g_autofree gchar *name = key_name (op->keys[0]);
  static const BraidMcStoreMode modes[] = {
    BRAID_MC_STORE_MODE_SET, BRAID_MC_STORE_MODE_ADD, BRAID_MC_STORE_MODE_REPLACE,
    BRAID_MC_STORE_MODE_APPEND, BRAID_MC_STORE_MODE_PREPEND, BRAID_MC_STORE_MODE_CAS,
  };

  for (guint i = 0; i < op->n_keys; i++)
    snapshot_take (probe, op->keys[i], &op->before[i]);
  probe->in_flight++;
  switch (op->kind)
    {
    case OP_SET: case OP_ADD: case OP_REPLACE: case OP_APPEND: case OP_PREPEND: case OP_CAS:
      op->data = draw_data (probe);
      op->flags = (guint32) g_rand_int_range (rand, 0, 3);
      op->exptime = op->kind == OP_APPEND || op->kind == OP_PREPEND || g_rand_int_range (rand, 0, 6) != 0 ? 0 : -1;
      op->number = op->before[0].present && g_rand_int_range (rand, 0, 3) != 0 ? op->before[0].cas
                                                                               : (guint64) g_rand_int_range (rand, 1, 100);
      if (op->kind == OP_SET)
        braid_mc_client_set_async (probe->client, name, op->data, op->flags, op->exptime, probe->cancellable, on_store, op);
      else
        braid_mc_client_store_async (probe->client, modes[op->kind], name, op->data, op->flags, op->exptime,
                                     op->number, probe->cancellable, on_store, op);
      break;
    case OP_DELETE:
      braid_mc_client_delete_async (probe->client, name, probe->cancellable, on_delete_or_touch, op);
      break;
    case OP_TOUCH:
      braid_mc_client_touch_async (probe->client, name, 0, probe->cancellable, on_delete_or_touch, op);
      break;
    case OP_INCR:
    case OP_DECR:
      op->number = (guint64) g_rand_int_range (rand, 0, 3) == 0 ? G_MAXUINT64 : (guint64) g_rand_int_range (rand, 0, 50);
      braid_mc_client_arith_async (probe->client, name, op->kind == OP_INCR ? BRAID_MC_ARITH_MODE_INCR : BRAID_MC_ARITH_MODE_DECR,
                                   op->number, probe->cancellable, on_arith, op);
      break;
    case OP_GET:
    case OP_GETS:
      braid_mc_client_get_async (probe->client, name, op->kind == OP_GETS ? BRAID_MC_GET_FLAGS_WITH_CAS : BRAID_MC_GET_FLAGS_NONE,
                                 probe->cancellable, on_get, op);
      break;
    case OP_GAT:
      braid_mc_client_gat_async (probe->client, name, 0, BRAID_MC_GET_FLAGS_NONE, probe->cancellable, on_get, op);
      break;
    case OP_GET_MULTI:
      {
        g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);

        for (guint i = 0; i < op->n_keys; i++)
          g_ptr_array_add (keys, key_name (op->keys[i]));
        g_ptr_array_add (keys, NULL);
        braid_mc_client_get_multi_async (probe->client, (const gchar * const *) keys->pdata, BRAID_MC_GET_FLAGS_WITH_CAS,
                                         probe->cancellable, on_get_multi, op);
      }
      break;
    case OP_GET_DIRECT:
      send_direct (probe, op, name);
      break;
    case OP_VERSION:
      braid_mc_client_version_async (probe->client, probe->cancellable, on_other, op);
      break;
    case OP_FLUSH:
    default:
      braid_mc_client_flush_all_async (probe->client, 0, probe->cancellable, on_other, op);
      break;
    }
}

static void
cancel_now (gpointer data)
{
  g_cancellable_cancel (data);
}

/* Now and then a batch shares a cancellable, cancelled at once, a little
 * later, or only after every request was answered (a caller's cancellable
 * that outlives its requests must find nothing listening). */
static void
maybe_cancel_batch (SimClientProbe *probe)
{
  GRand *rand = braid_sim_get_rand (probe->sim);

  g_clear_object (&probe->cancellable);
  if (!braid_sim_chance (probe->sim, CANCEL_PROBABILITY))
    return;
  probe->cancellable = g_cancellable_new ();
  switch (g_rand_int_range (rand, 0, 3))
    {
    case 0:
      braid_sim_trace (probe->sim, "client probe: the batch is cancelled as it is sent");
      braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)), 0,
                                                          cancel_now, g_object_ref (probe->cancellable),
                                                          g_object_unref));
      break;
    case 1:
      braid_sim_trace (probe->sim, "client probe: the batch is cancelled a little later");
      braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)),
                                                          g_rand_int_range (rand, 1, 3000),
                                                          cancel_now, g_object_ref (probe->cancellable),
                                                          g_object_unref));
      break;
    default:
      braid_sim_trace (probe->sim, "client probe: the batch's cancellable is cancelled once it is answered");
      break;
    }
}

static gboolean
is_read (OpKind kind)
{
  return kind == OP_GET || kind == OP_GETS || kind == OP_GAT || kind == OP_GET_MULTI || kind == OP_VERSION ||
         kind == OP_GET_DIRECT;
}

/* A batch: each key written by one request at most, and read by none
 * other then; flush_all alone. */
static void
send_batch (SimClientProbe *probe)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  guint n = (guint) g_rand_int_range (rand, 1, MAX_BATCH + 1);
  gboolean read_key[N_PROBE_KEYS] = { FALSE }, written_key[N_PROBE_KEYS] = { FALSE };

  maybe_cancel_batch (probe);
  for (guint i = 0; i < n; i++)
    {
      Op *op = g_new0 (Op, 1);
      gboolean clash = FALSE;

      op->probe = probe;
      op->kind = (OpKind) g_rand_int_range (rand, 0, OP_FLUSH + 1);
      if (op->kind == OP_FLUSH && (i > 0 || n > 1 || g_rand_int_range (rand, 0, 4) != 0))
        op->kind = OP_GET;
      op->n_keys = op->kind == OP_GET_MULTI ? (guint) g_rand_int_range (rand, 2, N_PROBE_KEYS + 1) : 1;
      {
        guint first = (guint) g_rand_int_range (rand, 0, N_PROBE_KEYS);

        for (guint k = 0; k < op->n_keys; k++)
          op->keys[k] = (first + k) % N_PROBE_KEYS;
      }
      for (guint k = 0; k < op->n_keys; k++)
        clash |= written_key[op->keys[k]] || (!is_read (op->kind) && read_key[op->keys[k]]);
      if (clash)
        {
          g_free (op);
          continue;
        }
      for (guint k = 0; k < op->n_keys; k++)
        {
          if (is_read (op->kind))
            read_key[op->keys[k]] = TRUE;
          else
            written_key[op->keys[k]] = TRUE;
        }
      braid_sim_trace (probe->sim, "client probe: %s c%u", op_names[op->kind], op->keys[0]);
      send_op (probe, op);
    }
}

static BraidMcClient *
new_client (SimClientProbe *probe)
{
  BraidMcClient *client = braid_mc_client_new (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)),
                                               probe->endpoint);

  /* a timeout far beyond any run (a request timed out may still run
   * later, which would make the store the next batch reads a guess), yet
   * armed and stopped for every request, as a user's would be */
  braid_mc_client_set_timeout (client, CLIENT_TIMEOUT_US);
  return client;
}

/* The probe's server serves this probe alone, one client at a time: with
 * nothing in flight it holds at most that client's connection.  More means
 * a client dropped by its user left its connection open. */
static void
check_one_connection (SimClientProbe *probe)
{
  BraidMcServerCounters counters;

  braid_mc_server_get_counters (probe->server, &counters);
  if (counters.curr_connections > 1)
    braid_sim_fail (probe->sim, "client probe: the server holds %u connections from one client at a time: "
                    "a client dropped while connected did not close its connection",
                    counters.curr_connections);
}

static void
weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

/* Lets go of the client, as its user would, and makes a new one.  The old
 * one lives on while its requests hold it; a run cut short by a failure
 * must still be able to end them (sim_client_probe_stop). */
static void
replace_client (SimClientProbe *probe)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  g_weak_ref_init (ref, probe->client);
  g_ptr_array_add (probe->dropped, ref);
  g_object_unref (probe->client);
  probe->client = new_client (probe);
}

/* A client dropped with requests in flight answers each (the probe's
 * in_flight comes back to 0) and closes its connection, soon. */
static gboolean
drained (SimClientProbe *probe)
{
  BraidMcServerCounters counters;
  gint64 now = braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)));

  if (probe->draining_since < 0)
    return TRUE;
  braid_mc_server_get_counters (probe->server, &counters);
  if (counters.curr_connections <= 1)
    {
      probe->draining_since = -1;
      return TRUE;
    }
  if (now - probe->draining_since > DRAIN_LIMIT_US)
    braid_sim_fail (probe->sim, "client probe: a client dropped with requests in flight left its connection "
                    "open for %.1f s", (gdouble) (now - probe->draining_since) / G_USEC_PER_SEC);
  return FALSE;
}

void
sim_client_probe_step (SimClientProbe *probe)
{
  gboolean connected;

  cancel_due_directs (probe);
  /* a cancelled request is answered at once, and its reply read later:
   * the store is what the next batch expects once nothing is pending */
  if (probe->in_flight > 0 || braid_mc_client_get_n_pending (probe->client) > 0 || !drained (probe))
    return;
  if (probe->cancellable != NULL && !g_cancellable_is_cancelled (probe->cancellable))
    g_cancellable_cancel (probe->cancellable);
  check_one_connection (probe);
  if (!braid_sim_chance (probe->sim, ACT_PROBABILITY))
    return;
  if (braid_sim_chance (probe->sim, DROP_PROBABILITY))
    {
      /* As a user of the library would: the last reference goes, idle but
       * connected, and the next batch runs on a new client. */
      braid_sim_trace (probe->sim, "client probe: client dropped, a new one made");
      replace_client (probe);
    }
  if (braid_sim_chance (probe->sim, DISCONNECT_PROBABILITY))
    {
      /* as a user may: the next batch waits out the reconnect backoff */
      braid_sim_trace (probe->sim, "client probe: disconnects");
      braid_mc_client_disconnect (probe->client);
    }
  connected = braid_mc_client_is_connected (probe->client);
  send_batch (probe);
  /* most often when the batch waits for a connection or a reconnect */
  if (!connected && braid_sim_chance (probe->sim, DROP_WAITING_PROBABILITY))
    {
      /* while connecting: the batch fails, the client waits out a backoff */
      braid_sim_trace (probe->sim, "client probe: disconnects while connecting");
      braid_mc_client_disconnect (probe->client);
    }
  else if (braid_sim_chance (probe->sim, connected ? DROP_BUSY_PROBABILITY : DROP_WAITING_PROBABILITY))
    {
      braid_sim_trace (probe->sim, "client probe: client dropped with %u requests in flight", probe->in_flight);
      replace_client (probe);
      probe->draining_since = braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)));
    }
}

SimClientProbe *
sim_client_probe_new (BraidSim *sim, BraidMcServer *server, const gchar *endpoint)
{
  SimClientProbe *probe = g_new0 (SimClientProbe, 1);

  probe->sim = sim;
  probe->server = g_object_ref (server);
  probe->endpoint = g_strdup (endpoint);
  probe->client = new_client (probe);
  probe->dropped = g_ptr_array_new_with_free_func ((GDestroyNotify) weak_ref_free);
  probe->draining_since = -1;
  probe->directs = g_ptr_array_new ();
  return probe;
}

void
sim_client_probe_stop (SimClientProbe *probe)
{
  braid_mc_client_disconnect (probe->client);
  for (guint i = 0; i < probe->dropped->len; i++)
    {
      g_autoptr(BraidMcClient) old = g_weak_ref_get (g_ptr_array_index (probe->dropped, i));

      if (old != NULL)
        braid_mc_client_disconnect (old);
    }
}

void
sim_client_probe_free (SimClientProbe *probe)
{
  if (probe == NULL)
    return;
  g_object_unref (probe->client);
  g_clear_object (&probe->cancellable);
  g_ptr_array_unref (probe->dropped);
  g_ptr_array_unref (probe->directs);
  g_object_unref (probe->server);
  g_free (probe->endpoint);
  g_free (probe);
}

gboolean
sim_client_probe_is_settled (SimClientProbe *probe)
{
  return probe->in_flight == 0 && braid_mc_client_get_n_pending (probe->client) == 0 && drained (probe);
}

guint
sim_client_probe_get_checked (SimClientProbe *probe)
{
  return probe->checked;
}
