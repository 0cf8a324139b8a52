/* braid — a relay filter (sim-relay.h) whose server under-counts: every
 * `STAT get_hits N` line the server sends reaches the client as N - 1
 * (when N > 0), as a store that forgot to count one hit would report.
 * For the broken twin of the model probe's counter check. */
#pragma once

#include "sim-relay.h"

G_BEGIN_DECLS

/* No filter data. */
extern const SimRelayFilter sim_stats_filter;

G_END_DECLS
