/* braid — the LRU probe of the memcached scenario: one client, alone on a
 * braid-memcached with a memory limit of a few items, sets, gets,
 * touches and deletes its keys one request at a time, and checks the
 * evictions against a model of the LRU order.
 *
 * The model orders the keys by last use, as the probe's requests and the
 * server's replies say (a stored set, a hit, a touch move a key to the
 * front; a miss or a delete removes it).  Under memory pressure the
 * server evicts from the back only, so after every reply the keys still
 * stored must be a front part of the model's order: a key stored behind
 * one evicted means the wrong item was evicted.  Presence is read with
 * the store's peek, which neither counts nor moves anything. */
#pragma once

#include "sim.h"
#include "mc-server.h"

G_BEGIN_DECLS

typedef struct _SimLruProbe SimLruProbe;

/* The memory limit the probe's server needs: pass its store settings in. */
void sim_lru_probe_configure (BraidMcStoreSettings *store_settings);
/* @server is the probe's own (nobody else uses it), reached at
 * @endpoint (possibly through a relay). */
SimLruProbe *sim_lru_probe_new (BraidSim *sim, BraidMcServer *server, const gchar *endpoint);
/* One simulated millisecond: maybe one request. */
void sim_lru_probe_step (SimLruProbe *probe);
/* Aborts the connection (run the reactor after, then free). */
void sim_lru_probe_stop (SimLruProbe *probe);
void sim_lru_probe_free (SimLruProbe *probe);
/* Evictions seen (for the trace). */
guint sim_lru_probe_get_evictions (SimLruProbe *probe);

G_END_DECLS
