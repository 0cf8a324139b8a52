/* braid — the simulation runner. */
#include "sim.h"

#include <stdarg.h>

#define STEP_US 1000

struct _BraidSim
{
  const BraidSimScenario *scenario;
  guint32 seed;
  BraidFakeReactor *reactor;   /* (owned) */
  GRand *rand;                 /* (unowned): the reactor's */
  BraidSimPlan plan;
  gboolean faults;
  GString *trace;
  GString *failure;            /* (nullable) */
  GPtrArray *stalled;          /* (element-type BraidFakeTransport) (owned) */
  GHashTable *armed;           /* transports already given their faults */
  guint64 bound_limit;         /* 0: bounds as declared */
  guint64 bound_checks;
  BraidSimLogObserver log_observer;  /* (nullable) */
  gpointer log_observer_data;
};

/* The simulation whose scenario observes the log (the log writer is the
 * process's, so there is one). */
static BraidSim *log_observing;

/* Fault rates are themselves drawn from the seed, so that across seeds the
 * simulation explores calm and stormy worlds alike. */
static void
draw_plan (BraidSim *sim)
{
  static const gdouble reset_rates[] = { 0, 0, 0.05, 0.2, 0.5 };
  static const gdouble stall_rates[] = { 0, 0.001, 0.01 };
  static const gdouble refuse_rates[] = { 0, 0, 0.1, 0.3 };

  sim->plan.delivery = (BraidFakeDelivery) g_rand_int_range (sim->rand, 0, 3);
  sim->plan.reset_probability = reset_rates[g_rand_int_range (sim->rand, 0, G_N_ELEMENTS (reset_rates))];
  sim->plan.stall_probability = stall_rates[g_rand_int_range (sim->rand, 0, G_N_ELEMENTS (stall_rates))];
  sim->plan.refuse_probability = refuse_rates[g_rand_int_range (sim->rand, 0, G_N_ELEMENTS (refuse_rates))];
  sim->plan.n_clients = (guint) g_rand_int_range (sim->rand, 1, 9);
  sim->plan.safety_us = g_rand_int_range (sim->rand, 200, 2000) * (gint64) 1000;
  sim->plan.liveness_us = 60 * G_USEC_PER_SEC;
}

/* Where the simulated clock starts: at 0 on most seeds, at its first few
 * microseconds on some (where "now - 1" is 0, the store's "never"), far
 * from 0 on others (a server started long after boot).  Drawn from a
 * generator of its own, so that the rest of a seed draws what it did. */
static gint64
draw_clock_start (guint32 seed)
{
  static const gint64 starts[] = { 0, 0, 0, 0, 1, 2, 3, 1000 * G_USEC_PER_SEC };
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed ^ 0xc10cu);

  return starts[g_rand_int_range (rand, 0, G_N_ELEMENTS (starts))];
}

BraidSim *
braid_sim_new (const BraidSimScenario *scenario, guint32 seed)
{
  BraidSim *sim = g_new0 (BraidSim, 1);

  sim->scenario = scenario;
  sim->seed = seed;
  sim->reactor = braid_fake_reactor_new (seed);
  sim->rand = braid_fake_reactor_get_rand (sim->reactor);
  sim->trace = g_string_new (NULL);
  sim->stalled = g_ptr_array_new_with_free_func (g_object_unref);
  sim->armed = g_hash_table_new (NULL, NULL);
  draw_plan (sim);
  braid_fake_reactor_set_delivery (sim->reactor, sim->plan.delivery);
  braid_fake_reactor_advance (sim->reactor, draw_clock_start (seed));
  braid_sim_trace (sim, "seed %u scenario %s delivery %s reset %.2f stall %.3f refuse %.2f clients %u safety %" G_GINT64_FORMAT "ms"
                   " clock from %" G_GINT64_FORMAT " us",
                   seed, scenario->name, braid_fake_delivery_to_string (sim->plan.delivery),
                   sim->plan.reset_probability, sim->plan.stall_probability,
                   sim->plan.refuse_probability, sim->plan.n_clients, sim->plan.safety_us / 1000,
                   braid_reactor_now (BRAID_REACTOR (sim->reactor)));
  return sim;
}

void
braid_sim_free (BraidSim *sim)
{
  if (sim == NULL)
    return;
  if (log_observing == sim)
    log_observing = NULL;
  g_ptr_array_unref (sim->stalled);
  g_hash_table_unref (sim->armed);
  g_object_unref (sim->reactor);
  g_string_free (sim->trace, TRUE);
  if (sim->failure != NULL)
    g_string_free (sim->failure, TRUE);
  g_free (sim);
}

void
braid_sim_set_log_observer (BraidSim *sim, BraidSimLogObserver func, gpointer user_data)
{
  sim->log_observer = func;
  sim->log_observer_data = user_data;
  if (func != NULL)
    log_observing = sim;
  else if (log_observing == sim)
    log_observing = NULL;
}

void
braid_sim_observe_log (const GLogField *fields, gsize n_fields)
{
  if (log_observing != NULL && log_observing->log_observer != NULL)
    log_observing->log_observer (fields, n_fields, log_observing->log_observer_data);
}

BraidFakeReactor *
braid_sim_get_reactor (BraidSim *sim)
{
  return sim->reactor;
}

GRand *
braid_sim_get_rand (BraidSim *sim)
{
  return sim->rand;
}

const BraidSimPlan *
braid_sim_get_plan (BraidSim *sim)
{
  return &sim->plan;
}

gboolean
braid_sim_faults_enabled (BraidSim *sim)
{
  return sim->faults;
}

guint32
braid_sim_get_seed (BraidSim *sim)
{
  return sim->seed;
}

gboolean
braid_sim_chance (BraidSim *sim, gdouble p)
{
  return p > 0 && g_rand_double (sim->rand) < p;
}

void
braid_sim_trace (BraidSim *sim, const gchar *format, ...)
{
  va_list args;
  gsize start = sim->trace->len;

  g_string_append_printf (sim->trace, "%" G_GINT64_FORMAT " ",
                          braid_reactor_now (BRAID_REACTOR (sim->reactor)));
  va_start (args, format);
  g_string_append_vprintf (sim->trace, format, args);
  va_end (args);
  g_string_append_c (sim->trace, '\n');
  /* For debugging: the trace as it happens, between other output. */
  if (g_getenv ("BRAID_SIM_ECHO_TRACE") != NULL)
    g_printerr ("%s", sim->trace->str + start);
}

const gchar *
braid_sim_get_trace (BraidSim *sim)
{
  return sim->trace->str;
}

gchar *
braid_sim_get_trace_hash (BraidSim *sim)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, sim->trace->str, (gssize) sim->trace->len);
}

void
braid_sim_fail (BraidSim *sim, const gchar *format, ...)
{
  va_list args;

  if (sim->failure != NULL)
    return;  /* the first failure is the interesting one */
  sim->failure = g_string_new (NULL);
  va_start (args, format);
  g_string_append_vprintf (sim->failure, format, args);
  va_end (args);
  braid_sim_trace (sim, "FAIL %s", sim->failure->str);
}

gboolean
braid_sim_failed (BraidSim *sim)
{
  return sim->failure != NULL;
}

void
braid_sim_arm_connection (BraidSim *sim, BraidFakeTransport *a, BraidFakeTransport *b)
{
  if (!sim->faults)
    return;
  if (braid_sim_chance (sim, sim->plan.reset_probability))
    {
      BraidFakeTransport *side = g_rand_boolean (sim->rand) ? a : b;
      gsize after = (gsize) g_rand_int_range (sim->rand, 0, 4096);

      braid_fake_transport_reset_after (side, after);
      braid_sim_trace (sim, "fault reset-after %" G_GSIZE_FORMAT " on %s side", after, side == a ? "first" : "second");
    }
}

/* Stalls are short: a stalled direction is released a few simulated
 * milliseconds later, so they delay but never deadlock. */
static void
maybe_stall (BraidSim *sim)
{
  GPtrArray *transports = braid_fake_reactor_get_transports (sim->reactor);

  for (guint i = 0; i < sim->stalled->len; i++)
    braid_fake_transport_set_stalled (g_ptr_array_index (sim->stalled, i), FALSE);
  g_ptr_array_set_size (sim->stalled, 0);
  if (!sim->faults || transports->len == 0 || !braid_sim_chance (sim, sim->plan.stall_probability * transports->len))
    return;
  {
    guint index = (guint) g_rand_int_range (sim->rand, 0, (gint32) transports->len);
    BraidFakeTransport *t = g_ptr_array_index (transports, index);

    if (braid_fake_transport_is_disconnected (t))
      return;
    braid_fake_transport_set_stalled (t, TRUE);
    g_ptr_array_add (sim->stalled, g_object_ref (t));
    braid_sim_trace (sim, "fault stall transport %u", index);
  }
}

void
braid_sim_arm_new_connections (BraidSim *sim)
{
  GPtrArray *transports = braid_fake_reactor_get_transports (sim->reactor);

  for (guint i = 0; i < transports->len; i++)
    {
      BraidFakeTransport *t = g_ptr_array_index (transports, i);

      if (g_hash_table_contains (sim->armed, t))
        continue;
      g_hash_table_add (sim->armed, t);
      if (sim->faults && braid_sim_chance (sim, sim->plan.reset_probability))
        {
          gsize after = (gsize) g_rand_int_range (sim->rand, 0, 2048);

          braid_fake_transport_reset_after (t, after);
          braid_sim_trace (sim, "fault reset-after %" G_GSIZE_FORMAT " on transport %u", after, i);
        }
    }
}

void
braid_sim_set_bound_limit (BraidSim *sim, guint64 limit)
{
  sim->bound_limit = limit;
  braid_sim_trace (sim, "bound limit %" G_GUINT64_FORMAT, limit);
}

guint64
braid_sim_get_bound_limit (BraidSim *sim)
{
  return sim->bound_limit;
}

gboolean
braid_sim_check_bound (BraidSim *sim, guint64 value, guint64 bound, const gchar *format, ...)
{
  guint64 limit = sim->bound_limit != 0 ? MIN (bound, sim->bound_limit) : bound;
  g_autofree gchar *what = NULL;
  va_list args;

  sim->bound_checks++;
  if (value <= limit)
    return TRUE;
  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  braid_sim_fail (sim, "bound: %s holds %" G_GUINT64_FORMAT " bytes, over its bound of %" G_GUINT64_FORMAT "%s",
                  what, value, limit, limit != bound ? " (capped by --bound-limit)" : "");
  return FALSE;
}

static gchar *
reproduction (BraidSim *sim)
{
  if (sim->bound_limit != 0)
    return g_strdup_printf ("braid-sim --scenario %s --seed %u --bound-limit %" G_GUINT64_FORMAT,
                            sim->scenario->name, sim->seed, sim->bound_limit);
  return g_strdup_printf ("braid-sim --scenario %s --seed %u", sim->scenario->name, sim->seed);
}

gboolean
braid_sim_run (BraidSim *sim, GError **error)
{
  gpointer state;
  gint64 deadline;
  BraidReactor *r = BRAID_REACTOR (sim->reactor);

  sim->faults = TRUE;
  state = sim->scenario->setup (sim);

  /* Safety: faults on, the scenario acts every millisecond. */
  deadline = braid_reactor_now (r) + sim->plan.safety_us;
  while (braid_reactor_now (r) < deadline && !braid_sim_failed (sim))
    {
      braid_fake_reactor_set_refuse_connections (sim->reactor,
                                                 braid_sim_chance (sim, sim->plan.refuse_probability));
      maybe_stall (sim);
      sim->scenario->step (sim, state);
      braid_fake_reactor_advance (sim->reactor, STEP_US);
    }

  /* Liveness: faults off; every client must finish in bounded time. */
  sim->faults = FALSE;
  maybe_stall (sim);
  {
    GPtrArray *transports = braid_fake_reactor_get_transports (sim->reactor);

    for (guint i = 0; i < transports->len; i++)
      braid_fake_transport_clear_faults (g_ptr_array_index (transports, i));
  }
  braid_fake_reactor_set_refuse_connections (sim->reactor, FALSE);
  braid_sim_trace (sim, "liveness phase");
  if (!braid_sim_failed (sim))
    sim->scenario->begin_liveness (sim, state);
  deadline = braid_reactor_now (r) + sim->plan.liveness_us;
  while (!braid_sim_failed (sim) && !sim->scenario->is_live (sim, state))
    {
      if (braid_reactor_now (r) >= deadline)
        {
          braid_sim_fail (sim, "liveness: the work did not finish within %.0f simulated seconds after faults stopped",
                          (gdouble) sim->plan.liveness_us / G_USEC_PER_SEC);
          break;
        }
      braid_fake_reactor_advance (sim->reactor, STEP_US);
    }
  if (!braid_sim_failed (sim))
    sim->scenario->check (sim, state);
  sim->scenario->teardown (sim, state);
  braid_fake_reactor_run_until_idle (sim->reactor);
  if (sim->bound_checks > 0)
    braid_sim_trace (sim, "%" G_GUINT64_FORMAT " bound checks", sim->bound_checks);

  if (braid_sim_failed (sim))
    {
      g_autofree gchar *repro = reproduction (sim);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "seed %u (%s): %s\nreproduce with: %s",
                   sim->seed, sim->scenario->name, sim->failure->str, repro);
      return FALSE;
    }
  return TRUE;
}
