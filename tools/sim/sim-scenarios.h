/* braid — the simulation scenarios. */
#pragma once

#include "sim.h"

extern const BraidSimScenario braid_sim_scenario_upper;
/* Deliberately broken: not listed, for the simulation's own tests. */
extern const BraidSimScenario braid_sim_scenario_upper_broken;
