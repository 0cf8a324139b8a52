/* braid — the table of simulation scenarios. */
#include "sim-scenarios.h"

static const BraidSimScenario * const scenarios[] = {
  &braid_sim_scenario_upper,
  &braid_sim_scenario_memcached,
  &braid_sim_scenario_proxy,
  NULL,
};

const BraidSimScenario * const *
braid_sim_scenarios (void)
{
  return scenarios;
}

const BraidSimScenario *
braid_sim_find_scenario (const gchar *name)
{
  for (const BraidSimScenario * const *s = scenarios; *s != NULL; s++)
    if (g_str_equal ((*s)->name, name))
      return *s;
  return NULL;
}
