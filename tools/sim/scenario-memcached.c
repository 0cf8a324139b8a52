/* braid — simulation scenario "memcached": braid client library clients
 * and braid-memcached over faulty connections, checked against a
 * reference model of the store.
 *
 * Safety, as the run goes: a value read for a key is one some client wrote
 * to that key before the read completed, and is not certainly expired.
 * At the end: a counter advanced only by gets+cas holds at least the number
 * of successful cas (no lost update) and at most that plus the cas whose
 * outcome is unknown; the same for a counter advanced by incr.  Liveness:
 * with faults off every client completes a set and a get of its own key. */
#include "sim-scenarios.h"
#include "mc-client.h"
#include "mc-server.h"

#include <stdlib.h>
#include <string.h>

#define N_KEYS 6
#define MAX_IN_FLIGHT 4

typedef struct {
  gchar *value;
  gint64 issued, acked;     /* acked -1: outcome unknown */
  gint64 exptime_s;         /* 0 never */
} Write;

typedef struct _State State;

typedef struct {
  State *state;
  guint id;
  BraidMcClient *client;
  guint seq;
  guint in_flight;
  gboolean live_done;
  gboolean live_started;
} Client;

struct _State
{
  BraidSim *sim;
  BraidMcServer *server;
  BraidListener *listener;
  GPtrArray *clients;
  GPtrArray *writes[N_KEYS];  /* (element-type Write) */
  guint64 cas_ok, cas_unknown, incr_ok, incr_unknown;
  gboolean counters_created;
  gint64 final_cas, final_incr;
  gboolean final_read;
  guint final_pending;
};

static gint64
now (State *s)
{
  return braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (s->sim)));
}

static void
write_free (Write *w)
{
  g_free (w->value);
  g_free (w);
}

/* ---- operations ---- */

typedef struct {
  Client *c;
  guint key;
  Write *write;         /* for sets */
  gint64 issued;
  gchar *text;          /* cas: the value to write */
} Op;

static Op *
op_new (Client *c, guint key)
{
  Op *op = g_new0 (Op, 1);

  op->c = c;
  op->key = key;
  op->issued = now (c->state);
  c->in_flight++;
  return op;
}

static void
op_free (Op *op)
{
  op->c->in_flight--;
  g_free (op->text);
  g_free (op);
}

static gboolean
unknown_outcome (const GError *error)
{
  return error != NULL && error->domain == BRAID_MC_ERROR &&
         (error->code == BRAID_MC_ERROR_CONNECTION_LOST || error->code == BRAID_MC_ERROR_TIMED_OUT);
}

static void
on_set (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;

  if (braid_mc_client_set_finish (BRAID_MC_CLIENT (source), result, &error))
    op->write->acked = now (op->c->state);
  braid_sim_trace (op->c->state->sim, "client %u set k%u=%s: %s", op->c->id, op->key, op->write->value,
                   error != NULL ? error->message : "STORED");
  if (error != NULL && !unknown_outcome (error))
    braid_sim_fail (op->c->state->sim, "client %u: set failed unexpectedly: %s", op->c->id, error->message);
  op_free (op);
}

static void
do_set (Client *c, guint key, gint64 exptime)
{
  State *s = c->state;
  Op *op = op_new (c, key);
  g_autofree gchar *k = g_strdup_printf ("k%u", key);
  g_autoptr(GBytes) bytes = NULL;

  op->write = g_new0 (Write, 1);
  op->write->value = g_strdup_printf ("c%u-%u", c->id, ++c->seq);
  op->write->issued = op->issued;
  op->write->acked = -1;
  op->write->exptime_s = exptime;
  g_ptr_array_add (s->writes[key], op->write);
  bytes = g_bytes_new (op->write->value, strlen (op->write->value));
  braid_mc_client_set_async (c->client, k, bytes, 0, exptime, NULL, on_set, op);
}

/* A value read must have been written to that key, and not be certainly
 * expired: expired for sure when the read began after the write was
 * acknowledged plus its lifetime. */
static void
check_read (State *s, guint key, const gchar *value, gint64 read_issued, gint64 read_done)
{
  GPtrArray *writes = s->writes[key];

  for (guint i = 0; i < writes->len; i++)
    {
      Write *w = g_ptr_array_index (writes, i);

      if (!g_str_equal (w->value, value))
        continue;
      if (w->issued > read_done)
        braid_sim_fail (s->sim, "k%u: read %s before it was written", key, value);
      if (w->exptime_s > 0 && w->acked >= 0 && read_issued >= w->acked + w->exptime_s * G_USEC_PER_SEC + G_USEC_PER_SEC)
        braid_sim_fail (s->sim, "k%u: read %s after it expired (stored by %.3f s, %" G_GINT64_FORMAT " s lifetime, read at %.3f s)",
                        key, value, (gdouble) w->acked / 1e6, w->exptime_s, (gdouble) read_issued / 1e6);
      return;
    }
  braid_sim_fail (s->sim, "k%u: read “%s”, which nobody wrote", key, value);
}

static void
on_get (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  State *s = op->c->state;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = braid_mc_client_get_finish (BRAID_MC_CLIENT (source), result, &error);

  if (v != NULL)
    {
      g_autofree gchar *text = g_strndup (g_bytes_get_data (v->data, NULL), g_bytes_get_size (v->data));

      braid_sim_trace (s->sim, "client %u get k%u = %s", op->c->id, op->key, text);
      check_read (s, op->key, text, op->issued, now (s));
      if (op->c->live_started && !op->c->live_done && op->key == op->c->id % N_KEYS)
        op->c->live_done = TRUE;
    }
  else
    {
      braid_sim_trace (s->sim, "client %u get k%u: %s", op->c->id, op->key, error->message);
      if (!unknown_outcome (error) && error->code != BRAID_MC_ERROR_NOT_FOUND)
        braid_sim_fail (s->sim, "client %u: get failed unexpectedly: %s", op->c->id, error->message);
    }
  op_free (op);
}

static void
do_get (Client *c, guint key)
{
  g_autofree gchar *k = g_strdup_printf ("k%u", key);

  braid_mc_client_get_async (c->client, k, BRAID_MC_GET_FLAGS_NONE, NULL, on_get, op_new (c, key));
}

static void
on_delete (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;

  braid_mc_client_delete_finish (BRAID_MC_CLIENT (source), result, &error);
  if (error != NULL && !unknown_outcome (error) && error->code != BRAID_MC_ERROR_NOT_FOUND)
    braid_sim_fail (op->c->state->sim, "client %u: delete failed unexpectedly: %s", op->c->id, error->message);
  op_free (op);
}

/* ---- counters ---- */

static void
on_cas (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  State *s = op->c->state;
  g_autoptr(GError) error = NULL;

  if (braid_mc_client_store_finish (BRAID_MC_CLIENT (source), result, &error))
    s->cas_ok++;
  else if (unknown_outcome (error))
    s->cas_unknown++;
  else if (error->code != BRAID_MC_ERROR_EXISTS && error->code != BRAID_MC_ERROR_NOT_FOUND)
    braid_sim_fail (s->sim, "client %u: cas failed unexpectedly: %s", op->c->id, error->message);
  braid_sim_trace (s->sim, "client %u cas to %s: %s", op->c->id, op->text, error != NULL ? error->message : "STORED");
  op_free (op);
}

static void
on_gets_counter (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = braid_mc_client_get_finish (BRAID_MC_CLIENT (source), result, &error);

  if (v != NULL)
    {
      g_autofree gchar *text = g_strndup (g_bytes_get_data (v->data, NULL), g_bytes_get_size (v->data));
      Op *cas = op_new (op->c, 0);
      g_autoptr(GBytes) next = NULL;

      cas->text = g_strdup_printf ("%" G_GUINT64_FORMAT, g_ascii_strtoull (text, NULL, 10) + 1);
      next = g_bytes_new (cas->text, strlen (cas->text));
      braid_mc_client_store_async (op->c->client, BRAID_MC_STORE_MODE_CAS, "cas-counter", next, 0, 0, v->cas, NULL, on_cas, cas);
    }
  op_free (op);
}

static void
on_incr (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  State *s = op->c->state;
  g_autoptr(GError) error = NULL;
  guint64 value;

  if (braid_mc_client_arith_finish (BRAID_MC_CLIENT (source), result, &value, &error))
    s->incr_ok++;
  else if (unknown_outcome (error))
    s->incr_unknown++;
  else if (error->code != BRAID_MC_ERROR_NOT_FOUND)
    braid_sim_fail (s->sim, "client %u: incr failed unexpectedly: %s", op->c->id, error->message);
  op_free (op);
}

/* ---- the client loop ---- */

static void
client_act (Client *c)
{
  GRand *rand = braid_sim_get_rand (c->state->sim);
  guint key = (guint) g_rand_int_range (rand, 0, N_KEYS);
  g_autofree gchar *k = g_strdup_printf ("k%u", key);

  if (c->in_flight >= MAX_IN_FLIGHT || !braid_sim_chance (c->state->sim, 0.2))
    return;
  switch (g_rand_int_range (rand, 0, 7))
    {
    case 0:
    case 1:
      do_set (c, key, g_rand_int_range (rand, 0, 3) == 0 ? g_rand_int_range (rand, 1, 3) : 0);
      break;
    case 2:
    case 3:
      do_get (c, key);
      break;
    case 4:
      braid_mc_client_delete_async (c->client, k, NULL, on_delete, op_new (c, key));
      break;
    case 5:
      braid_mc_client_get_async (c->client, "cas-counter", BRAID_MC_GET_FLAGS_WITH_CAS, NULL, on_gets_counter, op_new (c, 0));
      break;
    default:
      braid_mc_client_arith_async (c->client, "incr-counter", BRAID_MC_ARITH_MODE_INCR, 1, NULL, on_incr, op_new (c, 0));
      break;
    }
}

static void
ignore_result (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  braid_mc_client_store_finish (BRAID_MC_CLIENT (source), result, &error);
}

static gpointer
mc_setup (BraidSim *sim)
{
  State *s = g_new0 (State, 1);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (sim));
  g_autoptr(GBytes) zero = g_bytes_new_static ("0", 1);

  s->sim = sim;
  for (guint k = 0; k < N_KEYS; k++)
    s->writes[k] = g_ptr_array_new_with_free_func ((GDestroyNotify) write_free);
  s->server = braid_mc_server_new (r, &settings);
  factory = braid_mc_server_create_factory (s->server);
  s->listener = braid_reactor_listen (r, "tcp:11211", factory, NULL);
  s->clients = g_ptr_array_new ();
  for (guint i = 0; i < braid_sim_get_plan (sim)->n_clients; i++)
    {
      Client *c = g_new0 (Client, 1);

      c->state = s;
      c->id = i;
      c->client = braid_mc_client_new (r, "tcp:127.0.0.1:11211");
      braid_mc_client_set_timeout (c->client, 300 * 1000);
      g_ptr_array_add (s->clients, c);
    }
  /* The counters exist from the start (set by the harness, not a client:
   * store directly, no faults involved). */
  braid_mc_store_store (braid_mc_server_get_store (s->server), BRAID_MC_STORE_MODE_SET,
                        (const guint8 *) "cas-counter", 11, 0, 0, (const guint8 *) "0", 1, 0);
  braid_mc_store_store (braid_mc_server_get_store (s->server), BRAID_MC_STORE_MODE_SET,
                        (const guint8 *) "incr-counter", 12, 0, 0, (const guint8 *) "0", 1, 0);
  (void) zero;
  (void) ignore_result;
  return s;
}

static void
mc_step (BraidSim *sim, gpointer data)
{
  State *s = data;

  braid_sim_arm_new_connections (sim);
  for (guint i = 0; i < s->clients->len; i++)
    client_act (g_ptr_array_index (s->clients, i));
}

static void
mc_begin_liveness (BraidSim *sim, gpointer data)
{
  State *s = data;

  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);

      c->live_started = TRUE;
    }
}

static void
on_final (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  State *s = op->c->state;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidMcValue) v = braid_mc_client_get_finish (BRAID_MC_CLIENT (source), result, &error);

  if (v != NULL)
    {
      g_autofree gchar *text = g_strndup (g_bytes_get_data (v->data, NULL), g_bytes_get_size (v->data));
      gint64 n = (gint64) g_ascii_strtoull (text, NULL, 10);

      if (op->key == 0)
        s->final_cas = n;
      else
        s->final_incr = n;
    }
  s->final_pending--;
  op_free (op);
}

static gboolean
mc_is_live (BraidSim *sim, gpointer data)
{
  State *s = data;
  gboolean all = TRUE;

  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);

      if (c->live_done)
        continue;
      all = FALSE;
      if (c->in_flight == 0)
        {
          /* its own key: set then get, until a get returns a value */
          do_set (c, c->id % N_KEYS, 0);
          do_get (c, c->id % N_KEYS);
        }
    }
  if (!all)
    return FALSE;
  if (!s->final_read)
    {
      Client *c = g_ptr_array_index (s->clients, 0);
      guint busy = 0;

      for (guint i = 0; i < s->clients->len; i++)
        busy += ((Client *) g_ptr_array_index (s->clients, i))->in_flight;
      if (busy > 0)
        return FALSE;
      s->final_read = TRUE;
      s->final_cas = s->final_incr = -1;
      s->final_pending = 2;
      braid_mc_client_get_async (c->client, "cas-counter", BRAID_MC_GET_FLAGS_NONE, NULL, on_final, op_new (c, 0));
      braid_mc_client_get_async (c->client, "incr-counter", BRAID_MC_GET_FLAGS_NONE, NULL, on_final, op_new (c, 1));
    }
  return s->final_pending == 0;
}

static void
mc_check (BraidSim *sim, gpointer data)
{
  State *s = data;

  braid_sim_trace (sim, "cas counter %" G_GINT64_FORMAT " (ok %" G_GUINT64_FORMAT ", unknown %" G_GUINT64_FORMAT "), "
                   "incr counter %" G_GINT64_FORMAT " (ok %" G_GUINT64_FORMAT ", unknown %" G_GUINT64_FORMAT ")",
                   s->final_cas, s->cas_ok, s->cas_unknown, s->final_incr, s->incr_ok, s->incr_unknown);
  if (s->final_cas < (gint64) s->cas_ok || s->final_cas > (gint64) (s->cas_ok + s->cas_unknown))
    braid_sim_fail (sim, "cas counter is %" G_GINT64_FORMAT " after %" G_GUINT64_FORMAT " successful cas "
                    "(+%" G_GUINT64_FORMAT " unknown): an update was lost or invented",
                    s->final_cas, s->cas_ok, s->cas_unknown);
  if (s->final_incr < (gint64) s->incr_ok || s->final_incr > (gint64) (s->incr_ok + s->incr_unknown))
    braid_sim_fail (sim, "incr counter is %" G_GINT64_FORMAT " after %" G_GUINT64_FORMAT " successful incr "
                    "(+%" G_GUINT64_FORMAT " unknown)", s->final_incr, s->incr_ok, s->incr_unknown);
}

static void
mc_teardown (BraidSim *sim, gpointer data)
{
  State *s = data;
  BraidFakeReactor *fake = braid_sim_get_reactor (sim);

  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);

      g_object_unref (c->client);
    }
  /* requests fail as their clients go: let the callbacks run */
  braid_fake_reactor_run_until_idle (fake);
  for (guint i = 0; i < s->clients->len; i++)
    g_free (g_ptr_array_index (s->clients, i));
  g_ptr_array_unref (s->clients);
  braid_listener_stop (s->listener);
  g_object_unref (s->listener);
  braid_fake_reactor_run_until_idle (fake);
  g_object_unref (s->server);
  for (guint k = 0; k < N_KEYS; k++)
    g_ptr_array_unref (s->writes[k]);
  g_free (s);
}

const BraidSimScenario braid_sim_scenario_memcached = {
  "memcached",
  "braid client library clients and braid-memcached, checked against a model of the store",
  mc_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};
