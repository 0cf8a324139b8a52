/* braid — simulation scenario "memcached": braid client library clients
 * and braid-memcached over faulty connections, checked against a
 * reference model of the store.
 *
 * Safety, as the run goes: a value read for a key is one some client wrote
 * to that key before the read completed, and is not certainly expired; a
 * read of the cas counter is never below a value a cas was acknowledged
 * to store before the read was issued; a request never gets a reply only
 * another kind of request can get (replies out of order); and the LRU
 * probe (sim-lru-probe.h) checks eviction order on a small server of its
 * own.  At the end: a counter advanced only by gets+cas holds at least the number
 * of successful cas (no lost update) and at most that plus the cas whose
 * outcome is unknown; the same for a counter advanced by incr.  Liveness:
 * with faults off every client completes a set and a get of its own key.
 *
 * Hostility (issue #11): beside the polite clients, adversaries drawn per
 * seed — connections that never read while pipelining `get big big …` of
 * the largest values, readers of such gets (checking every reply comes in
 * order, once), half lines never finished, floods of connections up to
 * the server's -c — and a hostile memcached that lies to client-library
 * clients (wrapping lengths, endless values, values for keys never asked,
 * garbage, stalls).  Resource checkers, outside the components, run at
 * every step: each server connection's unsent output and unparsed input,
 * each client's input and each of its requests' values stay under the
 * bounds the components declare; every request of a client is answered
 * once, in order.
 *
 * Broken twins (issue #15) run the same clients and checkers with a relay
 * (sim-relay.h, sim-mc-filter.h) in front of one server: one that answers
 * cas STORED without storing, one whose gets and touches do not bump the
 * LRU (in front of the probe's server), one that swaps replies to
 * pipelined requests; and a faithful relay, the control. */
#include "sim-scenarios.h"
#include "mc-client.h"
#include "mc-client-private.h"
#include "mc-server.h"
#include "mc-server-protocol-private.h"
#include "mc-reply-parser.h"
#include "callback-protocol.h"
#include "sim-mc-filter.h"
#include "sim-lru-probe.h"
#include "sim-model-probe.h"
#include "sim-stats-filter.h"
#include "sim-client-probe.h"

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
  gboolean hostile;         /* talks to the hostile server */
  guint64 next_op;
  GQueue outstanding;       /* (element-type Op): issued, not answered, in order */
} Client;

typedef struct _Actor Actor;

struct _State
{
  BraidSim *sim;
  BraidMcServer *server;
  BraidListener *listener;
  GPtrArray *clients;
  GPtrArray *writes[N_KEYS];  /* (element-type Write) */
  guint64 cas_ok, cas_unknown, incr_ok, incr_unknown;
  /* The highest value a cas was acknowledged to store, and the tick of
   * the acknowledgement: the counter only grows, so every read issued
   * later sees at least that.  Ticks, not the clock, order the two: a
   * read issued in the same simulated microsecond may have gone first. */
  guint64 cas_acked_value;
  guint64 cas_acked_tick;
  guint64 ticks;              /* counts requests issued and cas acknowledged: their order */
  gboolean counters_created;
  gint64 final_cas, final_incr;
  gboolean final_read;
  guint final_pending;

  /* hostility */
  BraidMcServerSettings settings;
  gsize big_size;             /* the largest values: keys big0 .. big3 */
  BraidListener *hostile_listener;
  GPtrArray *hostile_conns;   /* (element-type BraidProtocol) (owned) */
  GPtrArray *hostile_clients; /* (element-type Client) */
  GPtrArray *actors;          /* (element-type Actor) */
  GPtrArray *orphans;         /* (element-type BraidProtocol) (owned): half lines left hanging */
  GPtrArray *answered;        /* (element-type Op): kept to catch a second answer */
  GHashTable *peak_pending;   /* client-side transport → the most it held unsent */
  guint64 outcomes[8];        /* hostile-server client outcomes, by Outcome */

  /* the LRU probe, alone on its own small server */
  BraidMcServer *lru_server;
  BraidListener *lru_listener;
  SimLruProbe *lru_probe;

  /* the model probe, alone on its own server */
  BraidMcServer *model_server;
  BraidListener *model_listener;
  SimModelProbe *model_probe;

  /* the client probe, alone on its own server */
  BraidMcServer *client_probe_server;
  BraidListener *client_probe_listener;
  SimClientProbe *client_probe;

  /* broken twins: a relay in front of one server breaks a promise */
  SimMcFilterConfig twin;
  gboolean relay_wanted;
  SimRelay *relay;            /* (nullable) */
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
  gchar *text;          /* cas: the value to write; hostile gets: the keys asked */
  guint64 seq;          /* per client, in issue order */
  guint64 tick;         /* State.ticks when issued */
  gboolean answered;
} Op;

static Op *
op_new (Client *c, guint key)
{
  Op *op = g_new0 (Op, 1);

  op->c = c;
  op->key = key;
  op->issued = now (c->state);
  op->seq = c->next_op++;
  op->tick = ++c->state->ticks;
  c->in_flight++;
  g_queue_push_tail (&c->outstanding, op);
  return op;
}

/* The request is answered: it must be the oldest unanswered request of
 * its client (one connection, pipelined: replies come in order), and
 * answered only once.  The op is kept until teardown so that a second
 * answer is seen, not a use after free. */
static void
op_free (Op *op)
{
  Client *c = op->c;
  State *s = c->state;

  if (op->answered)
    {
      braid_sim_fail (s->sim, "client %u%s: request %" G_GUINT64_FORMAT " answered twice",
                      c->id, c->hostile ? " (hostile server)" : "", op->seq);
      return;
    }
  op->answered = TRUE;
  if (g_queue_peek_head (&c->outstanding) != op)
    braid_sim_fail (s->sim, "client %u%s: request %" G_GUINT64_FORMAT " answered before request %" G_GUINT64_FORMAT
                    " made earlier", c->id, c->hostile ? " (hostile server)" : "", op->seq,
                    ((Op *) g_queue_peek_head (&c->outstanding))->seq);
  g_queue_remove (&c->outstanding, op);
  c->in_flight--;
  g_clear_pointer (&op->text, g_free);
  g_ptr_array_add (s->answered, op);
}

static gboolean
unknown_outcome (const GError *error)
{
  return error != NULL && error->domain == BRAID_MC_ERROR &&
         (error->code == BRAID_MC_ERROR_CONNECTION_LOST || error->code == BRAID_MC_ERROR_TIMED_OUT);
}

/* Whether a request of kind @what can never get @error from memcached:
 * a reply of another kind of request (NOT_FOUND to a set, EXISTS to a
 * delete), or one the client library cannot match to it at all. */
static gboolean
not_its_reply (const gchar *what, const GError *error)
{
  if (error->domain != BRAID_MC_ERROR)
    return FALSE;
  if (error->code == BRAID_MC_ERROR_PROTOCOL)
    return TRUE;
  if (g_str_equal (what, "set"))
    return error->code == BRAID_MC_ERROR_NOT_FOUND || error->code == BRAID_MC_ERROR_EXISTS ||
           error->code == BRAID_MC_ERROR_NOT_STORED;
  if (g_str_equal (what, "get") || g_str_equal (what, "gets"))
    return error->code == BRAID_MC_ERROR_EXISTS || error->code == BRAID_MC_ERROR_NOT_STORED;
  /* delete, incr, cas */
  return error->code == BRAID_MC_ERROR_NOT_STORED ||
         (error->code == BRAID_MC_ERROR_EXISTS && !g_str_equal (what, "cas"));
}

/* An error no honest server causes.  A reply that cannot be the
 * request's own is named as such: it is how a server that answers
 * pipelined requests out of order shows. */
static void
fail_unexpected (Op *op, const gchar *what, const GError *error)
{
  Client *c = op->c;

  if (not_its_reply (what, error))
    braid_sim_fail (c->state->sim, "client %u: request %" G_GUINT64_FORMAT " (%s) got a reply that is not "
                    "its own: %s", c->id, op->seq, what, error->message);
  else
    braid_sim_fail (c->state->sim, "client %u: %s failed unexpectedly: %s", c->id, what, error->message);
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
    fail_unexpected (op, "set", error);
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
        fail_unexpected (op, "get", error);
    }
  op_free (op);
}

/* The checkers' bounds are only as good as the views they read: a request
 * just issued holds no value yet and waits for exactly its distinct keys.
 * (@before: the client's pending count before the call; a request the
 * client refused at once was never queued.) */
static void
check_new_request_view (State *s, Client *c, guint before, guint expected_keys, const gchar *what)
{
  guint pending = braid_mc_client_get_n_pending (c->client);
  gsize bytes = 0;
  guint n_keys = 0;

  if (pending != before + 1)
    return;
  if (!braid_mc_client_get_request_buffered (c->client, pending - 1, &bytes, &n_keys))
    braid_sim_fail (s->sim, "client %u: the %s just issued is not among its %u pending requests", c->id, what,
                    pending);
  else if (bytes != 0 || n_keys != expected_keys)
    braid_sim_fail (s->sim, "client %u: the %s just issued shows %" G_GSIZE_FORMAT " bytes held and %u keys "
                    "awaited to the checkers, not 0 and %u", c->id, what, bytes, n_keys, expected_keys);
}

static void
do_get (Client *c, guint key)
{
  g_autofree gchar *k = g_strdup_printf ("k%u", key);
  guint before = braid_mc_client_get_n_pending (c->client);

  braid_mc_client_get_async (c->client, k, BRAID_MC_GET_FLAGS_NONE, NULL, on_get, op_new (c, key));
  check_new_request_view (c->state, c, before, 1, "get");
}

static void
on_delete (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr(GError) error = NULL;

  braid_mc_client_delete_finish (BRAID_MC_CLIENT (source), result, &error);
  if (error != NULL && !unknown_outcome (error) && error->code != BRAID_MC_ERROR_NOT_FOUND)
    fail_unexpected (op, "delete", error);
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
    {
      guint64 value = g_ascii_strtoull (op->text, NULL, 10);

      s->cas_ok++;
      if (value > s->cas_acked_value)
        {
          s->cas_acked_value = value;
          s->cas_acked_tick = ++s->ticks;
        }
    }
  else if (unknown_outcome (error))
    s->cas_unknown++;
  else if (error->code != BRAID_MC_ERROR_EXISTS && error->code != BRAID_MC_ERROR_NOT_FOUND)
    fail_unexpected (op, "cas", error);
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
      State *s = op->c->state;
      Op *cas;

      if (s->cas_acked_value > 0 && op->tick > s->cas_acked_tick && g_ascii_strtoull (text, NULL, 10) < s->cas_acked_value)
        braid_sim_fail (s->sim, "cas counter read as %s after a cas was acknowledged storing %" G_GUINT64_FORMAT
                        ": an update was lost", text, s->cas_acked_value);
      cas = op_new (op->c, 0);
      g_autoptr(GBytes) next = NULL;

      cas->text = g_strdup_printf ("%" G_GUINT64_FORMAT, g_ascii_strtoull (text, NULL, 10) + 1);
      next = g_bytes_new (cas->text, strlen (cas->text));
      braid_mc_client_store_async (op->c->client, BRAID_MC_STORE_MODE_CAS, "cas-counter", next, 0, 0, v->cas, NULL, on_cas, cas);
    }
  else if (!unknown_outcome (error) && error->code != BRAID_MC_ERROR_NOT_FOUND)
    fail_unexpected (op, "gets", error);
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
    fail_unexpected (op, "incr", error);
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

/* ---- resource checkers (outside the components) ---- */

#define BIG_KEYS 4
/* What a client-side transport may hold unsent beyond what the scenario
 * saw it hold: requests written from callbacks during one step. */
#define WRITE_SLACK (64 * 1024)

/* braid-memcached's declared bounds for one connection. */
static guint64
server_output_bound (State *s)
{
  /* It pauses once unsent output passes output_limit, even inside a
   * multi-key get: at most one more value and one reply line past it. */
  return s->settings.output_limit + s->settings.store.item_size_max + BRAID_MC_REPLY_LINE_MAX;
}

static guint64
server_command_bound (State *s)
{
  /* The longest command it waits for: a get line (1 MiB) or a storage
   * line and its data block. */
  return MAX (BRAID_MC_MULTIGET_LINE_MAX, s->settings.store.item_size_max + BRAID_MC_LINE_MAX) + 2;
}

static gsize
peak_pending (State *s, BraidFakeTransport *t)
{
  return GPOINTER_TO_SIZE (g_hash_table_lookup (s->peak_pending, t));
}

/* Remembers the most each client-side transport held unsent: a read by
 * the server is at most that (the fake may deliver it all at once). */
static void
note_pending (State *s)
{
  GPtrArray *transports = braid_fake_reactor_get_transports (braid_sim_get_reactor (s->sim));

  for (guint i = 0; i + 1 < transports->len; i += 2)
    {
      BraidFakeTransport *ct = g_ptr_array_index (transports, i);
      gsize pending;

      if (braid_fake_transport_is_disconnected (ct))
        continue;
      pending = braid_transport_get_write_buffer_size (BRAID_TRANSPORT (ct));
      if (pending > peak_pending (s, ct))
        g_hash_table_insert (s->peak_pending, ct, GSIZE_TO_POINTER (pending));
    }
}

static void
check_client_bounds (State *s, Client *c, const gchar *role)
{
  gsize value_max = braid_mc_client_get_value_max (c->client);
  gsize bytes;
  guint n_keys;

  /* After a read is parsed, what is left is one partial reply element. */
  braid_sim_check_bound (s->sim, braid_mc_client_get_input_buffered (c->client),
                         BRAID_MC_REPLY_LINE_MAX + value_max + 2,
                         "%s client %u input (a partial reply)", role, c->id);
  for (guint i = 0; braid_mc_client_get_request_buffered (c->client, i, &bytes, &n_keys); i++)
    {
      guint64 bound = n_keys > 0 ? (guint64) n_keys * (BRAID_MC_KEY_MAX + value_max) : 1024 * 1024;

      if (!braid_sim_check_bound (s->sim, bytes, bound, "%s client %u request %u values (%u keys asked)",
                                  role, c->id, i, n_keys))
        return;
    }
}

/* Every step: each connection and client against its declared bound. */
static void
check_bounds (State *s)
{
  BraidSim *sim = s->sim;
  GPtrArray *transports = braid_fake_reactor_get_transports (braid_sim_get_reactor (sim));
  BraidMcServerCounters counters;
  guint64 out_bound = server_output_bound (s);
  guint64 total = 0;
  guint open = 0;

  braid_mc_server_get_counters (s->server, &counters);
  braid_sim_check_bound (sim, counters.curr_connections, s->settings.max_connections,
                         "server open connections (-c)");
  /* Connections come in pairs: client side, then server side. */
  for (guint i = 1; i < transports->len && !braid_sim_failed (sim); i += 2)
    {
      BraidFakeTransport *st = g_ptr_array_index (transports, i);
      BraidFakeTransport *ct = g_ptr_array_index (transports, i - 1);
      BraidProtocol *p = braid_fake_transport_get_protocol (st);
      gsize in, out, backlog;
      gboolean retrieving;

      if (p == NULL || braid_fake_transport_is_disconnected (st) || !BRAID_IS_MC_SERVER_PROTOCOL (p))
        continue;
      braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (p), &in, &out, &retrieving);
      backlog = out + braid_transport_get_write_buffer_size (BRAID_TRANSPORT (st));
      braid_sim_check_bound (sim, backlog, out_bound,
                             "server connection %u unsent output (transport backlog + output buffer%s)",
                             i / 2, retrieving ? ", get paused part-way" : "");
      braid_sim_check_bound (sim, in, server_command_bound (s) + peak_pending (s, ct) + WRITE_SLACK,
                             "server connection %u unparsed input", i / 2);
      total += backlog + in;
      open++;
    }
  braid_sim_check_bound (sim, total, open * (out_bound + server_command_bound (s) + 256 * 1024 + WRITE_SLACK),
                         "server, all %u connections together", open);
  for (guint i = 0; i < s->clients->len && !braid_sim_failed (sim); i++)
    check_client_bounds (s, g_ptr_array_index (s->clients, i), "polite");
  for (guint i = 0; i < s->hostile_clients->len && !braid_sim_failed (sim); i++)
    check_client_bounds (s, g_ptr_array_index (s->hostile_clients, i), "hostile-server");
}

/* ---- adversarial clients (raw connections) ---- */

typedef enum {
  ACTOR_NON_READER,   /* pipelines `get big big …` of hundreds of keys, never reads */
  ACTOR_BIG_READER,   /* multi-key gets of the largest values, every reply checked */
  ACTOR_HALF_LINE,    /* part of a command, never finished */
  ACTOR_FLOOD,        /* many connections at once, held, then dropped */
  N_ACTOR_KINDS
} ActorKind;

static const gchar * const actor_names[] = { "non-reader", "big-reader", "half-line", "flood" };

/* What a reader expects back for one request, in order. */
typedef struct {
  guint big;          /* bigN */
  guint n_keys;
  guint seen;
} Expected;

typedef struct {
  Actor *actor;       /* (unowned) (nullable): NULL once the actor is gone */
  gboolean lost;
  GByteArray *in;
  BraidMcReplyParser parser;
  GQueue expected;    /* (element-type Expected) */
} RawConn;

struct _Actor
{
  State *state;
  guint id;
  ActorKind kind;
  gdouble rate;             /* chance to act, per step */
  guint budget;             /* actions left (bounds the bytes a run moves) */
  GPtrArray *conns;         /* (element-type BraidProtocol) (owned): user data RawConn */
  guint connecting;
  gint64 hold_until;        /* flood: drop the connections then */
};

static void
raw_conn_free (gpointer data)
{
  RawConn *rc = data;

  g_byte_array_unref (rc->in);
  g_queue_clear_full (&rc->expected, g_free);
  g_free (rc);
}

static RawConn *
raw_conn_of (BraidProtocol *p)
{
  return braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (p));
}

static void
raw_connection_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  RawConn *rc = user_data;

  if (rc->actor != NULL && rc->actor->kind == ACTOR_NON_READER)
    braid_transport_pause_reading (transport);
}

/* A reader checks that replies to its gets come in order, each once:
 * VALUEs only for the key of the oldest unanswered get, as many as it
 * asked (every big key exists), then END. */
static void
reader_check (RawConn *rc)
{
  State *s = rc->actor->state;
  gsize offset = 0;

  while (offset < rc->in->len && !braid_sim_failed (s->sim))
    {
      BraidMcReply reply;
      g_autoptr(GError) error = NULL;
      gsize used = braid_mc_parse_reply (&rc->parser, rc->in->data + offset, rc->in->len - offset, &reply, &error);
      Expected *e = g_queue_peek_head (&rc->expected);

      if (error != NULL)
        {
          braid_sim_fail (s->sim, "big-reader %u: the server sent something that is not a reply: %s",
                          rc->actor->id, error->message);
          return;
        }
      if (used == 0)
        break;
      offset += used;
      if (e == NULL)
        {
          braid_sim_fail (s->sim, "big-reader %u: a %s reply with no get waiting (answered twice?)",
                          rc->actor->id, braid_mc_reply_type_name (reply.type));
          return;
        }
      if (reply.type == BRAID_MC_REPLY_VALUE)
        {
          g_autofree gchar *want = g_strdup_printf ("big%u", e->big);

          if (reply.key_len != strlen (want) || memcmp (reply.key, want, reply.key_len) != 0 || e->seen >= e->n_keys)
            {
              g_autofree gchar *key = g_strndup ((const gchar *) reply.key, reply.key_len);

              braid_sim_fail (s->sim, "big-reader %u: VALUE %s (%u of %u) while waiting for %s: out of order",
                              rc->actor->id, key, e->seen + 1, e->n_keys, want);
              return;
            }
          e->seen++;
        }
      else if (reply.type == BRAID_MC_REPLY_END)
        {
          if (e->seen != e->n_keys)
            braid_sim_fail (s->sim, "big-reader %u: END after %u values of big%u, %u asked",
                            rc->actor->id, e->seen, e->big, e->n_keys);
          g_free (g_queue_pop_head (&rc->expected));
        }
      else
        braid_sim_fail (s->sim, "big-reader %u: %s reply to a get", rc->actor->id,
                        braid_mc_reply_type_name (reply.type));
    }
  g_byte_array_remove_range (rc->in, 0, (guint) offset);
}

static void
raw_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  RawConn *rc = user_data;

  if (rc->actor == NULL || rc->actor->kind != ACTOR_BIG_READER)
    return;  /* others ignore what they get (an error, a refusal) */
  g_byte_array_append (rc->in, data, (guint) len);
  reader_check (rc);
}

static void
raw_connection_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  RawConn *rc = user_data;

  rc->lost = TRUE;
}

static const BraidProtocolCallbacks raw_callbacks = {
  .connection_made = raw_connection_made,
  .data_received = raw_data_received,
  .connection_lost = raw_connection_lost,
};

static BraidProtocol *
build_raw (GSocketAddress *address, gpointer user_data)
{
  RawConn *rc = g_new0 (RawConn, 1);
  BraidMcReplyParser parser = BRAID_MC_REPLY_PARSER_INIT;

  rc->actor = user_data;
  rc->in = g_byte_array_new ();
  rc->parser = parser;
  rc->parser.value_max = rc->actor->state->big_size;
  g_queue_init (&rc->expected);
  return BRAID_PROTOCOL (braid_callback_protocol_new (&raw_callbacks, rc, raw_conn_free));
}

static void
on_raw_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Actor *a = user_data;
  g_autoptr(GError) error = NULL;
  BraidProtocol *p = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);

  a->connecting--;
  if (p == NULL)
    return;
  if (a->state == NULL)
    {
      /* the actor is being torn down */
      raw_conn_of (p)->actor = NULL;
      braid_transport_abort_connection (braid_protocol_get_transport (p));
      g_object_unref (p);
      return;
    }
  g_ptr_array_add (a->conns, p);
}

static void
actor_connect (Actor *a, guint n)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_raw, a, NULL);

  for (guint i = 0; i < n; i++)
    {
      a->connecting++;
      braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (a->state->sim)), "tcp:127.0.0.1:11211",
                                   factory, NULL, on_raw_connected, a);
    }
}

static void
actor_drop_all (Actor *a)
{
  for (guint i = 0; i < a->conns->len; i++)
    {
      BraidProtocol *p = g_ptr_array_index (a->conns, i);
      BraidTransport *t = braid_protocol_get_transport (p);

      raw_conn_of (p)->actor = NULL;
      if (t != NULL && !raw_conn_of (p)->lost)
        braid_transport_abort_connection (t);
    }
  g_ptr_array_set_size (a->conns, 0);
}

/* Lost connections leave the actor's list (outside their callbacks). */
static void
actor_prune (Actor *a)
{
  for (guint i = a->conns->len; i-- > 0;)
    if (raw_conn_of (g_ptr_array_index (a->conns, i))->lost)
      {
        raw_conn_of (g_ptr_array_index (a->conns, i))->actor = NULL;
        g_ptr_array_remove_index (a->conns, i);
      }
}

static GString *
big_get_line (State *s, guint big, guint n_keys)
{
  GString *line = g_string_new ("get");

  for (guint k = 0; k < n_keys; k++)
    g_string_append_printf (line, " big%u", big);
  g_string_append (line, "\r\n");
  (void) s;
  return line;
}

static void
actor_act (Actor *a)
{
  State *s = a->state;
  BraidSim *sim = s->sim;
  GRand *rand = braid_sim_get_rand (sim);
  BraidProtocol *p;
  BraidTransport *t;

  actor_prune (a);
  if (a->kind == ACTOR_FLOOD && a->conns->len > 0 && now (s) >= a->hold_until)
    {
      braid_sim_trace (sim, "flood %u drops %u connections", a->id, a->conns->len);
      actor_drop_all (a);
      return;
    }
  if (a->budget == 0 || a->connecting > 0 || !braid_sim_chance (sim, a->rate))
    return;
  if (a->kind == ACTOR_FLOOD)
    {
      BraidMcServerCounters counters;
      gint room;

      if (a->conns->len > 0)
        return;
      /* Up to the server's -c, leaving room for everyone else. */
      braid_mc_server_get_counters (s->server, &counters);
      room = (gint) s->settings.max_connections - (gint) counters.curr_connections -
             (gint) (s->clients->len + 8 * s->actors->len + 8);
      if (room <= 0)
        return;
      a->budget--;
      a->hold_until = now (s) + g_rand_int_range (rand, 1, 100) * 1000;
      braid_sim_trace (sim, "flood %u opens %d connections", a->id, room);
      actor_connect (a, (guint) room);
      return;
    }
  if (a->conns->len == 0)
    {
      actor_connect (a, 1);
      return;
    }
  p = g_ptr_array_index (a->conns, 0);
  t = braid_protocol_get_transport (p);
  if (t == NULL)
    return;
  switch (a->kind)
    {
    case ACTOR_NON_READER:
      if (g_rand_int_range (rand, 0, 30) == 0)
        {
          braid_sim_trace (sim, "non-reader %u hangs up", a->id);
          actor_drop_all (a);
          a->budget--;
          break;
        }
      /* What it writes the server does not read once paused: keep our own
       * side of the connection bounded too. */
      if (braid_transport_get_write_buffer_size (t) < 128 * 1024)
        {
          g_autoptr(GString) line = big_get_line (s, (guint) g_rand_int_range (rand, 0, BIG_KEYS),
                                                  (guint) g_rand_int_range (rand, 100, 401));

          braid_transport_write (t, line->str, line->len);
          braid_sim_trace (sim, "non-reader %u sends a %" G_GSIZE_FORMAT "-byte get", a->id, line->len);
        }
      break;
    case ACTOR_BIG_READER:
      {
        RawConn *rc = raw_conn_of (p);
        Expected *e;
        g_autoptr(GString) line = NULL;

        if (rc->expected.length >= 2)
          break;
        e = g_new0 (Expected, 1);
        e->big = (guint) g_rand_int_range (rand, 0, BIG_KEYS);
        e->n_keys = (guint) g_rand_int_range (rand, 1, 4);
        g_queue_push_tail (&rc->expected, e);
        line = big_get_line (s, e->big, e->n_keys);
        braid_transport_write (t, line->str, line->len);
        a->budget--;
        braid_sim_trace (sim, "big-reader %u gets big%u ×%u", a->id, e->big, e->n_keys);
      }
      break;
    case ACTOR_HALF_LINE:
      {
        static const gchar * const starts[] = {
          "get k1 k2 big0", "set k1 0 0 100\r\nabc", "gets big1 big2", "incr incr-coun", "delete k",
        };
        g_autoptr(GString) half = g_string_new (starts[g_rand_int_range (rand, 0, G_N_ELEMENTS (starts))]);

        /* Sometimes a line far longer than any command: the server must
         * close, not buffer it. */
        if (g_rand_int_range (rand, 0, 4) == 0)
          for (gint n = g_rand_int_range (rand, 100, 5000); n > 0; n--)
            g_string_append_c (half, 'k');
        braid_transport_write (t, half->str, half->len);
        braid_sim_trace (sim, "half-line %u sends %" G_GSIZE_FORMAT " bytes and stops", a->id, half->len);
        /* Never finished: the next half line goes on a new connection. */
        raw_conn_of (p)->actor = NULL;
        g_ptr_array_add (s->orphans, g_ptr_array_steal_index (a->conns, 0));
        a->budget--;
      }
      break;
    default:
      break;
    }
}

static void
actors_setup (State *s)
{
  GRand *rand = braid_sim_get_rand (s->sim);
  static const gdouble rates[] = { 0.005, 0.02, 0.1 };

  s->actors = g_ptr_array_new ();
  for (guint kind = 0; kind < N_ACTOR_KINDS; kind++)
    {
      guint n = (guint) g_rand_int_range (rand, 0, kind == ACTOR_FLOOD || kind == ACTOR_BIG_READER ? 2 : 3);

      for (guint i = 0; i < n; i++)
        {
          Actor *a = g_new0 (Actor, 1);

          a->state = s;
          a->id = s->actors->len;
          a->kind = kind;
          a->rate = rates[g_rand_int_range (rand, 0, G_N_ELEMENTS (rates))];
          a->budget = kind == ACTOR_BIG_READER ? (guint) g_rand_int_range (rand, 1, 8)
                    : kind == ACTOR_FLOOD ? (guint) g_rand_int_range (rand, 1, 4)
                    : (guint) g_rand_int_range (rand, 3, 12);
          a->conns = g_ptr_array_new_with_free_func (g_object_unref);
          g_ptr_array_add (s->actors, a);
          braid_sim_trace (s->sim, "actor %u: %s, rate %.3f, budget %u", a->id, actor_names[kind], a->rate, a->budget);
        }
    }
}

/* ---- a hostile memcached, for the client library ---- */

typedef enum {
  LIE_END,          /* honest: not found */
  LIE_HONEST,       /* honest: a small value for each key, then END */
  LIE_WRAP,         /* VALUE k 0 18446744073709551614 */
  LIE_HUGE,         /* a VALUE longer than any limit, then bytes forever */
  LIE_REPEAT,       /* the asked key's VALUE, again and again, forever */
  LIE_UNASKED,      /* a VALUE for a key never asked */
  LIE_GARBAGE,      /* not a memcached reply at all */
  LIE_STALL,        /* no answer */
  N_LIES
} Lie;

static const gchar * const lie_names[] = { "end", "honest", "wrap", "huge", "repeat", "unasked", "garbage", "stall" };

typedef struct {
  State *state;
  BraidTransport *transport;   /* (unowned) */
  GByteArray *in;
  Lie streaming;               /* LIE_HUGE or LIE_REPEAT once it streams; else LIE_END */
  gchar *stream_key;
  gboolean lost;
} HostileConn;

static void
hostile_conn_free (gpointer data)
{
  HostileConn *h = data;

  g_byte_array_unref (h->in);
  g_free (h->stream_key);
  g_free (h);
}

static void
hostile_answer (HostileConn *h, const gchar *line)
{
  State *s = h->state;
  GRand *rand = braid_sim_get_rand (s->sim);
  g_auto(GStrv) words = g_strsplit (line, " ", -1);
  const gchar *key = words[0] != NULL && words[1] != NULL ? words[1] : "k";
  Lie lie = (Lie) g_rand_int_range (rand, 0, N_LIES);
  g_autoptr(GString) out = g_string_new (NULL);

  braid_sim_trace (s->sim, "hostile server answers “%s” with %s", line, lie_names[lie]);
  switch (lie)
    {
    case LIE_END:
      g_string_append (out, "END\r\n");
      break;
    case LIE_HONEST:
      for (guint i = 1; words[0] != NULL && words[i] != NULL; i++)
        g_string_append_printf (out, "VALUE %s 0 5\r\nhello\r\n", words[i]);
      g_string_append (out, "END\r\n");
      break;
    case LIE_WRAP:
      g_string_append_printf (out, "VALUE %s 0 18446744073709551614\r\nxx\r\nEND\r\n", key);
      break;
    case LIE_HUGE:
      g_string_append_printf (out, "VALUE %s 0 %s\r\n", key,
                              g_rand_boolean (rand) ? "4000000000" : "2097152");
      h->streaming = LIE_HUGE;
      break;
    case LIE_REPEAT:
      h->streaming = LIE_REPEAT;
      g_free (h->stream_key);
      h->stream_key = g_strdup (key);
      break;
    case LIE_UNASKED:
      g_string_append (out, "VALUE never-asked 0 3\r\nabc\r\nEND\r\n");
      break;
    case LIE_GARBAGE:
      if (g_rand_boolean (rand) || braid_sim_get_plan (s->sim)->delivery == BRAID_FAKE_DELIVERY_BYTE)
        g_string_append (out, "\x01\x02 garbage \xff\r\n");
      else
        for (gint n = 0; n < BRAID_MC_REPLY_LINE_MAX + 100; n++)
          g_string_append_c (out, 'g');  /* a line longer than any reply line */
      break;
    case LIE_STALL:
    default:
      break;
    }
  if (out->len > 0)
    braid_transport_write (h->transport, out->str, out->len);
}

static void
hostile_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  HostileConn *h = user_data;
  guint8 *nl;

  if (h->streaming != LIE_END)
    return;  /* busy lying */
  g_byte_array_append (h->in, data, (guint) len);
  while (h->streaming == LIE_END && (nl = memchr (h->in->data, '\n', h->in->len)) != NULL)
    {
      gsize n = (gsize) (nl - h->in->data) + 1;
      g_autofree gchar *line = g_strndup ((const gchar *) h->in->data, n > 1 && nl[-1] == '\r' ? n - 2 : n - 1);

      g_byte_array_remove_range (h->in, 0, (guint) n);
      hostile_answer (h, line);
    }
}

static void
hostile_connection_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  HostileConn *h = user_data;

  h->transport = transport;
  g_ptr_array_add (h->state->hostile_conns, g_object_ref (protocol));
}

static void
hostile_connection_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  HostileConn *h = user_data;

  h->lost = TRUE;
  h->transport = NULL;
}

static const BraidProtocolCallbacks hostile_callbacks = {
  .connection_made = hostile_connection_made,
  .data_received = hostile_data_received,
  .connection_lost = hostile_connection_lost,
};

static BraidProtocol *
build_hostile (GSocketAddress *address, gpointer user_data)
{
  HostileConn *h = g_new0 (HostileConn, 1);

  h->state = user_data;
  h->in = g_byte_array_new ();
  h->streaming = LIE_END;
  return BRAID_PROTOCOL (braid_callback_protocol_new (&hostile_callbacks, h, hostile_conn_free));
}

/* Endless lies go on every step, as long as the client keeps reading. */
static void
hostile_stream (State *s)
{
  for (guint i = 0; i < s->hostile_conns->len; i++)
    {
      BraidProtocol *p = g_ptr_array_index (s->hostile_conns, i);
      HostileConn *h;
      g_autoptr(GString) out = NULL;

      h = braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (p));
      if (h->lost || h->streaming == LIE_END || h->transport == NULL ||
          braid_transport_get_write_buffer_size (h->transport) > 128 * 1024)
        continue;
      out = g_string_sized_new (64 * 1024);
      while (out->len < 64 * 1024)
        {
          if (h->streaming == LIE_HUGE)
            g_string_append (out, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
          else
            g_string_append_printf (out, "VALUE %s 0 8\r\nabcdefgh\r\n", h->stream_key);
        }
      braid_transport_write (h->transport, out->str, out->len);
    }
}

/* Outcomes of requests to the hostile server. */
typedef enum {
  OUTCOME_VALUE, OUTCOME_NOT_FOUND, OUTCOME_PROTOCOL, OUTCOME_TIMED_OUT, OUTCOME_LOST, N_OUTCOMES
} Outcome;

static void
on_hostile_get (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  State *s = op->c->state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) values = braid_mc_client_get_multi_finish (BRAID_MC_CLIENT (source), result, &error);
  g_auto(GStrv) asked = g_strsplit (op->text, " ", -1);

  if (values != NULL)
    {
      GHashTableIter iter;
      gpointer key;

      s->outcomes[g_hash_table_size (values) > 0 ? OUTCOME_VALUE : OUTCOME_NOT_FOUND]++;
      g_hash_table_iter_init (&iter, values);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_strv_contains ((const gchar * const *) asked, key))
          braid_sim_fail (s->sim, "hostile-server client %u: got a value for “%s”, which it did not ask for",
                          op->c->id, (const gchar *) key);
    }
  else if (error->domain == BRAID_MC_ERROR && error->code == BRAID_MC_ERROR_PROTOCOL)
    s->outcomes[OUTCOME_PROTOCOL]++;
  else if (error->domain == BRAID_MC_ERROR && error->code == BRAID_MC_ERROR_TIMED_OUT)
    s->outcomes[OUTCOME_TIMED_OUT]++;
  else if (error->domain == BRAID_MC_ERROR && error->code == BRAID_MC_ERROR_CONNECTION_LOST)
    s->outcomes[OUTCOME_LOST]++;
  else
    braid_sim_fail (s->sim, "hostile-server client %u: a lying server must give PROTOCOL, TIMED_OUT or "
                    "CONNECTION_LOST, not: %s", op->c->id, error->message);
  braid_sim_trace (s->sim, "hostile-server client %u get %s: %s", op->c->id, op->text,
                   values != NULL ? "ok" : error->message);
  op_free (op);
}

/* How many different keys @keys (NULL-terminated) names. */
static guint
distinct_keys (GPtrArray *keys)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i + 1 < keys->len; i++)
    g_hash_table_add (seen, g_ptr_array_index (keys, i));
  return g_hash_table_size (seen);
}

static void
hostile_client_act (Client *c)
{
  State *s = c->state;
  GRand *rand = braid_sim_get_rand (s->sim);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  Op *op;
  guint before;

  if (c->in_flight >= MAX_IN_FLIGHT || !braid_sim_chance (s->sim, 0.02))
    return;
  for (gint n = g_rand_int_range (rand, 1, 4); n > 0; n--)
    g_ptr_array_add (keys, g_strdup_printf ("h%d", g_rand_int_range (rand, 0, 5)));
  g_ptr_array_add (keys, NULL);
  op = op_new (c, 0);
  op->text = g_strjoinv (" ", (gchar **) keys->pdata);
  before = braid_mc_client_get_n_pending (c->client);
  braid_mc_client_get_multi_async (c->client, (const gchar * const *) keys->pdata, BRAID_MC_GET_FLAGS_NONE,
                                   NULL, on_hostile_get, op);
  check_new_request_view (s, c, before, distinct_keys (keys), "multi-get");
}

static void
hostile_setup (State *s)
{
  BraidSim *sim = s->sim;
  GRand *rand = braid_sim_get_rand (sim);
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (sim));
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_hostile, s, NULL);
  static const gsize value_max[] = { 4096, 64 * 1024, 0 };
  guint n = (guint) g_rand_int_range (rand, 0, 3);

  s->hostile_conns = g_ptr_array_new_with_free_func (g_object_unref);
  s->hostile_clients = g_ptr_array_new ();
  s->hostile_listener = braid_reactor_listen (r, "tcp:11311", factory, NULL);
  for (guint i = 0; i < n; i++)
    {
      Client *c = g_new0 (Client, 1);
      gsize max = value_max[g_rand_int_range (rand, 0, G_N_ELEMENTS (value_max))];

      c->state = s;
      c->id = i;
      c->hostile = TRUE;
      g_queue_init (&c->outstanding);
      c->client = braid_mc_client_new (r, "tcp:127.0.0.1:11311");
      braid_mc_client_set_timeout (c->client, g_rand_int_range (rand, 20, 200) * 1000);
      if (max != 0)
        braid_mc_client_set_item_size_max (c->client, max);
      braid_sim_trace (sim, "hostile-server client %u: value max %" G_GSIZE_FORMAT, i,
                       braid_mc_client_get_value_max (c->client));
      g_ptr_array_add (s->hostile_clients, c);
    }
}

/* The probe's server: the same settings, but room for a few items. */
static void
lru_setup (State *s, const gchar *endpoint, const gchar *probe_endpoint)
{
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (s->sim));
  BraidMcServerSettings settings = s->settings;
  g_autoptr(BraidProtocolFactory) factory = NULL;

  sim_lru_probe_configure (&settings.store);
  s->lru_server = braid_mc_server_new (r, &settings);
  factory = braid_mc_server_create_factory (s->lru_server);
  s->lru_listener = braid_reactor_listen (r, endpoint, factory, NULL);
  s->lru_probe = sim_lru_probe_new (s->sim, s->lru_server, probe_endpoint);
}

/* The model probe's server runs with flush_all disabled (-F) on a quarter
 * of the seeds, and with cas disabled (-C) on another quarter, each drawn
 * from a generator of its own so that the rest of a seed draws what it
 * did before. */
static gboolean
model_flush_enabled (State *s)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (braid_sim_get_seed (s->sim) ^ 0xf1a5u);

  return g_rand_int_range (rand, 0, 4) != 0;
}

static gboolean
model_cas_enabled (State *s)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (braid_sim_get_seed (s->sim) ^ 0xca5eu);

  return g_rand_int_range (rand, 0, 4) != 0;
}

/* On half the seeds the model probe's server has a small -I (1 KiB, the
 * least memcached takes, up to 2 KiB), so that the probe's values reach
 * it, on either side, with and without -C. */
static gsize
model_item_size_max (State *s)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (braid_sim_get_seed (s->sim) ^ 0x512eu);

  if (g_rand_boolean (rand))
    return s->settings.store.item_size_max;
  return 1024 + (gsize) g_rand_int_range (rand, 0, 1025);
}

static void
model_setup (State *s)
{
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (s->sim));
  g_autoptr(BraidProtocolFactory) factory = NULL;
  BraidMcServerSettings settings = s->settings;

  settings.flush_enabled = model_flush_enabled (s);
  if (!settings.flush_enabled)
    braid_sim_trace (s->sim, "model probe's server: flush_all disabled (-F)");
  settings.store.cas_enabled = model_cas_enabled (s);
  if (!settings.store.cas_enabled)
    braid_sim_trace (s->sim, "model probe's server: cas disabled (-C)");
  settings.store.item_size_max = model_item_size_max (s);
  if (settings.store.item_size_max != s->settings.store.item_size_max)
    braid_sim_trace (s->sim, "model probe's server: -I %" G_GSIZE_FORMAT, settings.store.item_size_max);
  s->model_server = braid_mc_server_new (r, &settings);
  factory = braid_mc_server_create_factory (s->model_server);
  /* HIT_UNCOUNTED's relay takes 11215 and forwards to 11216 */
  s->model_listener = braid_reactor_listen (r, s->relay_wanted && s->twin.breakage == SIM_MC_BREAK_HIT_UNCOUNTED
                                                   ? "tcp:11216" : "tcp:11215", factory, NULL);
  s->model_probe = sim_model_probe_new (s->sim, s->model_server, "tcp:127.0.0.1:11215");
}

static void
client_probe_setup (State *s)
{
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (s->sim));
  g_autoptr(BraidProtocolFactory) factory = NULL;

  s->client_probe_server = braid_mc_server_new (r, &s->settings);
  factory = braid_mc_server_create_factory (s->client_probe_server);
  s->client_probe_listener = braid_reactor_listen (r, "tcp:11217", factory, NULL);
  s->client_probe = sim_client_probe_new (s->sim, s->client_probe_server, "tcp:127.0.0.1:11217");
}

/* Where each server listens: a broken twin puts its relay where the
 * clients connect and moves the server it breaks one port up. */
static const gchar *
main_endpoint (State *s)
{
  gboolean relayed = s->twin.breakage == SIM_MC_BREAK_CAS_UNSTORED || s->twin.breakage == SIM_MC_BREAK_REORDER ||
                     s->twin.breakage == SIM_MC_BREAK_NOTHING;

  return s->relay_wanted && relayed ? "tcp:11212" : "tcp:11211";
}

static const gchar *
lru_endpoint (State *s)
{
  return s->relay_wanted && s->twin.breakage == SIM_MC_BREAK_LRU_NO_BUMP ? "tcp:11214" : "tcp:11213";
}

static void
twin_setup (State *s)
{
  if (!s->relay_wanted)
    return;
  if (s->twin.breakage == SIM_MC_BREAK_HIT_UNCOUNTED)
    s->relay = sim_relay_new (s->sim, "tcp:11215", "tcp:127.0.0.1:11216", &sim_stats_filter, NULL);
  else if (s->twin.breakage == SIM_MC_BREAK_LRU_NO_BUMP)
    {
      s->twin.store = braid_mc_server_get_store (s->lru_server);
      s->relay = sim_relay_new (s->sim, "tcp:11213", "tcp:127.0.0.1:11214", &sim_mc_filter, &s->twin);
    }
  else
    {
      s->twin.store = braid_mc_server_get_store (s->server);
      s->relay = sim_relay_new (s->sim, "tcp:11211", "tcp:127.0.0.1:11212", &sim_mc_filter, &s->twin);
    }
}

static gpointer
mc_setup_with (BraidSim *sim, gboolean relay_wanted, SimMcBreakage breakage)
{
  State *s = g_new0 (State, 1);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (sim));
  GRand *rand = braid_sim_get_rand (sim);
  g_autoptr(GBytes) zero = g_bytes_new_static ("0", 1);
  static const gsize output_limits[] = { 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024 };
  static const guint max_connections[] = { 32, 128, 256 };
  static const gsize big_sizes[] = { 16 * 1024, 100 * 1000, 500 * 1000, 1000 * 1000 };

  s->sim = sim;
  s->relay_wanted = relay_wanted;
  s->twin.breakage = breakage;
  for (guint k = 0; k < N_KEYS; k++)
    s->writes[k] = g_ptr_array_new_with_free_func ((GDestroyNotify) write_free);
  s->answered = g_ptr_array_new_with_free_func (g_free);
  s->peak_pending = g_hash_table_new (NULL, NULL);
  s->orphans = g_ptr_array_new_with_free_func (g_object_unref);
  /* The server's bounds and the size of the largest values, per seed. */
  settings.output_limit = output_limits[g_rand_int_range (rand, 0, G_N_ELEMENTS (output_limits))];
  settings.max_connections = max_connections[g_rand_int_range (rand, 0, G_N_ELEMENTS (max_connections))];
  s->big_size = big_sizes[g_rand_int_range (rand, 0, G_N_ELEMENTS (big_sizes))];
  /* Delivered a byte at a time, large values only cost time. */
  if (braid_sim_get_plan (sim)->delivery == BRAID_FAKE_DELIVERY_BYTE)
    s->big_size = MIN (s->big_size, 4096);
  s->settings = settings;
  braid_sim_trace (sim, "server output limit %" G_GSIZE_FORMAT " max connections %u, big values %" G_GSIZE_FORMAT " bytes",
                   settings.output_limit, settings.max_connections, s->big_size);
  s->server = braid_mc_server_new (r, &settings);
  factory = braid_mc_server_create_factory (s->server);
  s->listener = braid_reactor_listen (r, main_endpoint (s), factory, NULL);
  lru_setup (s, lru_endpoint (s), "tcp:127.0.0.1:11213");
  model_setup (s);
  client_probe_setup (s);
  twin_setup (s);
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
  {
    g_autofree guint8 *big = g_malloc (s->big_size);

    memset (big, 'b', s->big_size);
    for (guint k = 0; k < BIG_KEYS; k++)
      {
        g_autofree gchar *key = g_strdup_printf ("big%u", k);

        braid_mc_store_store (braid_mc_server_get_store (s->server), BRAID_MC_STORE_MODE_SET,
                              (const guint8 *) key, strlen (key), 0, 0, big, s->big_size, 0);
      }
  }
  actors_setup (s);
  hostile_setup (s);
  (void) zero;
  (void) ignore_result;
  return s;
}

static gpointer
mc_setup (BraidSim *sim)
{
  return mc_setup_with (sim, FALSE, SIM_MC_BREAK_NOTHING);
}

static gpointer
relayed_setup (BraidSim *sim)
{
  return mc_setup_with (sim, TRUE, SIM_MC_BREAK_NOTHING);
}

static gpointer
cas_unstored_setup (BraidSim *sim)
{
  return mc_setup_with (sim, TRUE, SIM_MC_BREAK_CAS_UNSTORED);
}

static gpointer
lru_unbumped_setup (BraidSim *sim)
{
  return mc_setup_with (sim, TRUE, SIM_MC_BREAK_LRU_NO_BUMP);
}

static gpointer
reordered_setup (BraidSim *sim)
{
  return mc_setup_with (sim, TRUE, SIM_MC_BREAK_REORDER);
}

static gpointer
hit_uncounted_setup (BraidSim *sim)
{
  return mc_setup_with (sim, TRUE, SIM_MC_BREAK_HIT_UNCOUNTED);
}

static void
mc_step (BraidSim *sim, gpointer data)
{
  State *s = data;

  check_bounds (s);
  braid_sim_arm_new_connections (sim);
  for (guint i = 0; i < s->clients->len; i++)
    client_act (g_ptr_array_index (s->clients, i));
  for (guint i = 0; i < s->actors->len; i++)
    actor_act (g_ptr_array_index (s->actors, i));
  for (guint i = 0; i < s->hostile_clients->len; i++)
    hostile_client_act (g_ptr_array_index (s->hostile_clients, i));
  sim_lru_probe_step (s->lru_probe);
  sim_model_probe_step (s->model_probe);
  sim_client_probe_step (s->client_probe);
  hostile_stream (s);
  note_pending (s);
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

  /* The bounds hold in the liveness phase too. */
  check_bounds (s);
  note_pending (s);

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
  /* the client probe's requests, even those of a client dropped, answered */
  if (!sim_client_probe_is_settled (s->client_probe))
    all = FALSE;
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

  braid_sim_trace (sim, "hostile-server requests: %" G_GUINT64_FORMAT " values, %" G_GUINT64_FORMAT " not found, %"
                   G_GUINT64_FORMAT " protocol errors, %" G_GUINT64_FORMAT " timed out, %" G_GUINT64_FORMAT " lost",
                   s->outcomes[OUTCOME_VALUE], s->outcomes[OUTCOME_NOT_FOUND], s->outcomes[OUTCOME_PROTOCOL],
                   s->outcomes[OUTCOME_TIMED_OUT], s->outcomes[OUTCOME_LOST]);
  braid_sim_trace (sim, "lru probe: %u evictions", sim_lru_probe_get_evictions (s->lru_probe));
  braid_sim_trace (sim, "model probe: %u requests answered", sim_model_probe_get_answered (s->model_probe));
  braid_sim_trace (sim, "client probe: %u results checked", sim_client_probe_get_checked (s->client_probe));
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

      /* fails what is still queued (a request's GTask holds its client) */
      braid_mc_client_disconnect (c->client);
      g_object_unref (c->client);
    }
  for (guint i = 0; i < s->hostile_clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->hostile_clients, i);

      braid_mc_client_disconnect (c->client);
      g_object_unref (c->client);
    }
  for (guint i = 0; i < s->actors->len; i++)
    {
      Actor *a = g_ptr_array_index (s->actors, i);

      actor_drop_all (a);
      a->state = NULL;  /* connects still settling abort at once */
    }
  for (guint i = 0; i < s->orphans->len; i++)
    {
      BraidTransport *t = braid_protocol_get_transport (g_ptr_array_index (s->orphans, i));

      if (t != NULL)
        braid_transport_abort_connection (t);
    }
  for (guint i = 0; i < s->hostile_conns->len; i++)
    {
      HostileConn *h = braid_callback_protocol_get_user_data (g_ptr_array_index (s->hostile_conns, i));

      if (h->transport != NULL)
        braid_transport_abort_connection (h->transport);
    }
  sim_lru_probe_stop (s->lru_probe);
  sim_model_probe_stop (s->model_probe);
  sim_client_probe_stop (s->client_probe);
  sim_relay_stop (s->relay);
  /* requests fail as their clients go: let the callbacks run */
  braid_fake_reactor_run_until_idle (fake);
  for (guint i = 0; i < s->clients->len; i++)
    g_free (g_ptr_array_index (s->clients, i));
  g_ptr_array_unref (s->clients);
  for (guint i = 0; i < s->hostile_clients->len; i++)
    g_free (g_ptr_array_index (s->hostile_clients, i));
  g_ptr_array_unref (s->hostile_clients);
  braid_listener_stop (s->listener);
  g_object_unref (s->listener);
  braid_listener_stop (s->hostile_listener);
  g_object_unref (s->hostile_listener);
  braid_fake_reactor_run_until_idle (fake);
  for (guint i = 0; i < s->actors->len; i++)
    {
      Actor *a = g_ptr_array_index (s->actors, i);

      g_ptr_array_unref (a->conns);
      g_free (a);
    }
  g_ptr_array_unref (s->actors);
  g_ptr_array_unref (s->orphans);
  g_ptr_array_unref (s->hostile_conns);
  braid_listener_stop (s->lru_listener);
  g_object_unref (s->lru_listener);
  braid_listener_stop (s->model_listener);
  g_object_unref (s->model_listener);
  braid_fake_reactor_run_until_idle (fake);
  sim_lru_probe_free (s->lru_probe);
  sim_model_probe_free (s->model_probe);
  g_object_unref (s->model_server);
  braid_listener_stop (s->client_probe_listener);
  g_object_unref (s->client_probe_listener);
  braid_fake_reactor_run_until_idle (fake);
  sim_client_probe_free (s->client_probe);
  g_object_unref (s->client_probe_server);
  sim_relay_free (s->relay);
  g_object_unref (s->lru_server);
  g_object_unref (s->server);
  for (guint k = 0; k < N_KEYS; k++)
    g_ptr_array_unref (s->writes[k]);
  g_ptr_array_unref (s->answered);
  g_hash_table_unref (s->peak_pending);
  g_free (s);
}

const BraidSimScenario braid_sim_scenario_memcached = {
  "memcached",
  "braid client library clients and braid-memcached, checked against a model of the store",
  mc_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};

/* The broken twins: the same clients and checkers, a relay in front of a
 * server that breaks one promise.  Not listed; run by name. */
const BraidSimScenario braid_sim_scenario_memcached_relayed = {
  "memcached-relayed",
  "the memcached scenario through a faithful relay: the twins' control (passes)",
  relayed_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};

const BraidSimScenario braid_sim_scenario_memcached_cas_unstored = {
  "memcached-cas-unstored",
  "a server that answers STORED to cas without storing (a self-test)",
  cas_unstored_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};

const BraidSimScenario braid_sim_scenario_memcached_lru_unbumped = {
  "memcached-lru-unbumped",
  "a server whose get and touch do not move the item to the LRU head (a self-test)",
  lru_unbumped_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};

const BraidSimScenario braid_sim_scenario_memcached_reordered = {
  "memcached-reordered",
  "a server that answers pipelined requests out of order (a self-test)",
  reordered_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};

const BraidSimScenario braid_sim_scenario_memcached_hit_uncounted = {
  "memcached-hit-uncounted",
  "a server whose stats count one get hit fewer than it served (a self-test)",
  hit_uncounted_setup, mc_step, mc_begin_liveness, mc_is_live, mc_check, mc_teardown,
};
