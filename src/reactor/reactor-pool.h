/* braid — reactor threads: N GLib reactors, each running its own
 * GMainContext in a thread of its own.
 *
 * The thread layer is thin on purpose: a listener on the main reactor
 * hands each accepted connection to one of the pool's reactors
 * (braid_glib_listener_distribute()), and from then on the connection
 * lives on that thread alone.  What the protocols of different threads
 * share (a memcached store) must be thread-safe itself; the reactors are
 * not, and are only ever touched from their own thread.  The fake reactor
 * has no threads: tests stay deterministic. */
#pragma once

#include "glib-reactor.h"

G_BEGIN_DECLS

typedef struct _BraidReactorPool BraidReactorPool;

/* Starts @n_threads threads (at least 1), each running a new
 * BraidGlibReactor on a new GMainContext; returns once all run.
 * @name names the threads ("NAME-1" …) for top, gdb and perf. */
BraidReactorPool *braid_reactor_pool_new (guint n_threads, const gchar *name);
/* Stops every reactor, aborts the connections left on it (their
 * protocols hear connection_lost in their own thread) and joins the
 * threads. */
void braid_reactor_pool_free (BraidReactorPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidReactorPool, braid_reactor_pool_free)

guint braid_reactor_pool_get_size (BraidReactorPool *pool);
/* (transfer none): the reactor of thread @index; only its own thread may
 * call it, except for braid_glib_reactor_get_context(). */
BraidGlibReactor *braid_reactor_pool_get_reactor (BraidReactorPool *pool, guint index);

/* From now on @listener (a BraidGlibReactor's) hands each accepted
 * connection to the pool's reactors in turn, instead of serving it on
 * its own reactor.  The pool must outlive the listener's connections:
 * free the pool before what the protocols use.  Returns FALSE, and
 * changes nothing, for a listener that cannot hand connections over
 * (tls:, whose handshake runs on the listener's reactor). */
gboolean braid_glib_listener_distribute (BraidListener *listener, BraidReactorPool *pool);

G_END_DECLS
