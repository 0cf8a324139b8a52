/* braid — the table of simulation scenarios. */
#include "sim-scenarios.h"

static const BraidSimScenario * const scenarios[] = {
  &braid_sim_scenario_upper,
  &braid_sim_scenario_memcached,
  &braid_sim_scenario_proxy,
  NULL,
};

/* Deliberately broken twins: not run with the others, but found by name
 * so that their reproduction lines work. */
static const BraidSimScenario * const twins[] = {
  &braid_sim_scenario_upper_broken,
  &braid_sim_scenario_upper_leaky,
  &braid_sim_scenario_memcached_relayed,
  &braid_sim_scenario_memcached_cas_unstored,
  &braid_sim_scenario_memcached_lru_unbumped,
  &braid_sim_scenario_memcached_reordered,
  &braid_sim_scenario_memcached_hit_uncounted,
  &braid_sim_scenario_proxy_late_joiner_dropped,
  &braid_sim_scenario_proxy_expired_served,
  NULL,
};

const BraidSimScenario * const *
braid_sim_scenarios (void)
{
  return scenarios;
}

const BraidSimScenario * const *
braid_sim_broken_twins (void)
{
  return twins;
}

const BraidSimScenario *
braid_sim_find_scenario (const gchar *name)
{
  for (const BraidSimScenario * const *s = scenarios; *s != NULL; s++)
    if (g_str_equal ((*s)->name, name))
      return *s;
  for (const BraidSimScenario * const *s = twins; *s != NULL; s++)
    if (g_str_equal ((*s)->name, name))
      return *s;
  return NULL;
}
