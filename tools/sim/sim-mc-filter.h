/* braid — a memcached text-protocol filter for the relay (sim-relay.h):
 * it frames requests and replies, and breaks one promise of the server,
 * for the broken twins of the memcached scenario. */
#pragma once

#include "sim-relay.h"
#include "mc-store.h"

G_BEGIN_DECLS

typedef enum {
  SIM_MC_BREAK_NOTHING,       /* a faithful relay: the twins' control */
  SIM_MC_BREAK_CAS_UNSTORED,  /* answers STORED to cas, stores nothing */
  SIM_MC_BREAK_LRU_NO_BUMP,   /* get and touch leave the item where it is in the LRU */
  SIM_MC_BREAK_REORDER,       /* answers two pipelined requests in swapped order */
  SIM_MC_BREAK_HIT_UNCOUNTED, /* the model probe's server: stats show one get hit fewer (sim-stats-filter.h) */
} SimMcBreakage;

typedef struct {
  SimMcBreakage breakage;
  BraidMcStore *store;        /* (unowned): the server's, for LRU_NO_BUMP */
} SimMcFilterConfig;

/* Its filter data is a SimMcFilterConfig that outlives the relay. */
extern const SimRelayFilter sim_mc_filter;

G_END_DECLS
