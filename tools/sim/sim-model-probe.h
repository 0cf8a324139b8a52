/* braid — the model probe of the memcached scenario: one connection,
 * alone on a braid-memcached of its own, sends batches of text and meta
 * commands over four keys (so they collide all the time) and checks
 * every byte of every reply against a model of the store.
 *
 * The commands: set, add, replace, append, prepend, cas, get, gets, gat,
 * gats, delete, incr, decr, touch, flush_all, noreply variants, and the
 * meta commands mg, ms, md, ma, mn; with lifetimes that end within the
 * run (expiry in simulated time) and numbers at the edges of 64 bits.
 * A batch of one to four requests is pipelined.
 *
 * The model keeps, per key, every state the key may be in (the "worlds"):
 * the server runs a request at some instant between sending it and
 * reading its reply, so an item whose expiry falls in that span may or
 * may not be there, an increment done in place keeps the old length
 * padded with spaces, and so on.  A reply must be one of those the worlds
 * allow; the worlds that allow it are kept.  Cas values are checked too:
 * a cas once seen is the item's until it changes, and a changed item's
 * cas is above every cas seen before.  A lost connection leaves the
 * outcome unknown: the model starts again from what the store holds. */
#pragma once

#include "sim.h"
#include "mc-server.h"

G_BEGIN_DECLS

typedef struct _SimModelProbe SimModelProbe;

/* @server is the probe's own (nobody else uses it), reached at @endpoint. */
SimModelProbe *sim_model_probe_new (BraidSim *sim, BraidMcServer *server, const gchar *endpoint);
/* One simulated millisecond: maybe one batch. */
void sim_model_probe_step (SimModelProbe *probe);
/* Aborts the connection (run the reactor after, then free). */
void sim_model_probe_stop (SimModelProbe *probe);
void sim_model_probe_free (SimModelProbe *probe);
/* Requests answered (for the trace). */
guint sim_model_probe_get_answered (SimModelProbe *probe);

G_END_DECLS
