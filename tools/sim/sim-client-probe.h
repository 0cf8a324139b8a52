/* braid — the client probe of the memcached scenario: one braid client
 * library client, alone on a braid-memcached of its own, pipelines
 * batches of every request the library has (set, add, replace, append,
 * prepend, cas, get, gets, get_multi, gat, delete, incr, decr, touch,
 * flush_all, version, the direct get) over four keys, and checks each result against the
 * store as it was when the batch was sent.
 *
 * A batch touches each key once at most, except that reads may share a
 * key; flush_all goes alone.  So the store a request meets is the one the
 * probe read, with the store's peek, as it sent the batch: the result is
 * known exactly, and so is what a write leaves behind.  Lifetimes are 0
 * (never) or negative (dead at once), so no expiry falls in between.  A
 * lost connection leaves the outcomes of the batch unknown: not checked;
 * so does a cancellation (a batch may share a cancellable, cancelled as
 * it is sent, a little later, or once answered, when nothing must be
 * listening to it any more).  Now and then the client is dropped with a
 * batch in flight, waiting for its connection or its reconnect: every
 * request must still be answered once, and its connection closed. */
#pragma once

#include "sim.h"
#include "mc-server.h"

G_BEGIN_DECLS

typedef struct _SimClientProbe SimClientProbe;

/* @server is the probe's own (nobody else uses it), reached at @endpoint. */
SimClientProbe *sim_client_probe_new (BraidSim *sim, BraidMcServer *server, const gchar *endpoint);
/* One simulated millisecond: maybe one batch. */
void sim_client_probe_step (SimClientProbe *probe);
/* Disconnects the client (run the reactor after, then free). */
void sim_client_probe_stop (SimClientProbe *probe);
void sim_client_probe_free (SimClientProbe *probe);
/* Every request answered, none pending in the client, no dropped
 * client's connection left: the liveness phase waits for it. */
gboolean sim_client_probe_is_settled (SimClientProbe *probe);
/* Results checked (for the trace). */
guint sim_client_probe_get_checked (SimClientProbe *probe);

G_END_DECLS
