/* braid — the simulation scenarios. */
#pragma once

#include "sim.h"

extern const BraidSimScenario braid_sim_scenario_upper;
extern const BraidSimScenario braid_sim_scenario_memcached;
extern const BraidSimScenario braid_sim_scenario_proxy;
/* Deliberately broken: not listed, for the simulation's own tests. */
extern const BraidSimScenario braid_sim_scenario_upper_broken;
