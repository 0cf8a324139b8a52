/* braid — seeded simulation (VOPR in small).
 *
 * One seed decides everything: the fault rates, the delivery policy, every
 * client's actions and every fault.  A run has a safety phase (faults on,
 * invariants checked as the run goes) and a liveness phase (faults off:
 * every client must finish its work within a bounded simulated time).
 * Every event goes into a trace; the same seed gives the same trace, byte
 * for byte, and its hash is printed. */
#pragma once

#include "fake-reactor.h"

G_BEGIN_DECLS

typedef struct {
  BraidFakeDelivery delivery;
  gdouble reset_probability;     /* per connection: reset after a random byte count */
  gdouble stall_probability;     /* per connection and step: stall a direction for a while */
  gdouble refuse_probability;    /* per connect: refused */
  guint n_clients;
  gint64 safety_us;              /* simulated length of the safety phase */
  gint64 liveness_us;            /* bound on the liveness phase */
} BraidSimPlan;

typedef struct _BraidSim BraidSim;

typedef struct {
  const gchar *name;
  const gchar *description;
  /* Builds the world: servers, clients.  Returns scenario state. */
  gpointer (*setup) (BraidSim *sim);
  /* Called every simulated millisecond of the safety phase. */
  void (*step) (BraidSim *sim, gpointer state);
  /* Faults are off: start the final work every client must finish. */
  void (*begin_liveness) (BraidSim *sim, gpointer state);
  /* TRUE when the liveness work is done. */
  gboolean (*is_live) (BraidSim *sim, gpointer state);
  /* Final checks (after both phases); report with braid_sim_fail. */
  void (*check) (BraidSim *sim, gpointer state);
  void (*teardown) (BraidSim *sim, gpointer state);
} BraidSimScenario;

/* Known scenarios, NULL-terminated. */
const BraidSimScenario * const *braid_sim_scenarios (void);
const BraidSimScenario *braid_sim_find_scenario (const gchar *name);

BraidSim *braid_sim_new (const BraidSimScenario *scenario, guint32 seed);
void braid_sim_free (BraidSim *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidSim, braid_sim_free)

/* Runs both phases.  Returns FALSE with the failure (and a reproduction
 * command) in @error. */
gboolean braid_sim_run (BraidSim *sim, GError **error);

BraidFakeReactor *braid_sim_get_reactor (BraidSim *sim);
GRand *braid_sim_get_rand (BraidSim *sim);
const BraidSimPlan *braid_sim_get_plan (BraidSim *sim);
gboolean braid_sim_faults_enabled (BraidSim *sim);
guint32 braid_sim_get_seed (BraidSim *sim);

/* The trace: every event, in order. */
void braid_sim_trace (BraidSim *sim, const gchar *format, ...) G_GNUC_PRINTF (2, 3);
const gchar *braid_sim_get_trace (BraidSim *sim);
gchar *braid_sim_get_trace_hash (BraidSim *sim);

/* An invariant was broken: the run fails with this message. */
void braid_sim_fail (BraidSim *sim, const gchar *format, ...) G_GNUC_PRINTF (2, 3);
gboolean braid_sim_failed (BraidSim *sim);

/* Resource bounds, checked by checkers outside the components: @value is
 * what something holds now and @bound what its component declares; the
 * printf-style @format names it (“server connection 3 output”), and is
 * only formatted when the check fails.  The run fails when @value is over
 * the bound (or over the limit below).  Returns FALSE when it is over. */
gboolean braid_sim_check_bound (BraidSim *sim, guint64 value, guint64 bound,
                                const gchar *format, ...) G_GNUC_PRINTF (4, 5);
/* Caps every bound at @limit (0: no cap): a deliberately broken bound,
 * for the simulation's own tests.  The reproduction line names it. */
void braid_sim_set_bound_limit (BraidSim *sim, guint64 limit);
guint64 braid_sim_get_bound_limit (BraidSim *sim);

/* Applies the plan's faults to a new connection's transports (reset after
 * a random count, in either direction). */
void braid_sim_arm_connection (BraidSim *sim, BraidFakeTransport *a, BraidFakeTransport *b);
/* Gives every connection not seen before its faults (a reset after a
 * random byte count, with the plan's probability). */
void braid_sim_arm_new_connections (BraidSim *sim);
/* A coin with probability @p, from the seed. */
gboolean braid_sim_chance (BraidSim *sim, gdouble p);

/* Structured log entries (g_log_structured), as a scenario's checker sees
 * them: the components' own reports, such as the proxy's access log. */
typedef void (*BraidSimLogObserver) (const GLogField *fields, gsize n_fields, gpointer user_data);
/* @sim's scenario observes the log from now on (NULL @func: no longer).
 * One simulation at a time observes; the last to ask does. */
void braid_sim_set_log_observer (BraidSim *sim, BraidSimLogObserver func, gpointer user_data);
/* For the program's log writer (g_log_set_writer_func): hands the entry
 * to the observing simulation, if any.  Writes nothing itself. */
void braid_sim_observe_log (const GLogField *fields, gsize n_fields);

G_END_DECLS
