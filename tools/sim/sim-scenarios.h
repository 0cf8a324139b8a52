/* braid — the simulation scenarios. */
#pragma once

#include "sim.h"

extern const BraidSimScenario braid_sim_scenario_upper;
extern const BraidSimScenario braid_sim_scenario_memcached;
extern const BraidSimScenario braid_sim_scenario_proxy;
/* Deliberately broken: not listed, for the simulation's own tests. */
extern const BraidSimScenario braid_sim_scenario_upper_broken;
extern const BraidSimScenario braid_sim_scenario_upper_leaky;
extern const BraidSimScenario braid_sim_scenario_memcached_relayed;
extern const BraidSimScenario braid_sim_scenario_memcached_cas_unstored;
extern const BraidSimScenario braid_sim_scenario_memcached_lru_unbumped;
extern const BraidSimScenario braid_sim_scenario_memcached_reordered;
extern const BraidSimScenario braid_sim_scenario_memcached_hit_uncounted;
extern const BraidSimScenario braid_sim_scenario_proxy_late_joiner_dropped;
extern const BraidSimScenario braid_sim_scenario_proxy_expired_served;

/* The broken twins (and the relayed control), NULL-terminated: found by
 * braid_sim_find_scenario, never run with the scenarios. */
const BraidSimScenario * const *braid_sim_broken_twins (void);
