/* braid — the real reactor's readiness poller (private).
 *
 * One GSource per reactor owns an epoll instance.  GMainContext polls only
 * that epoll fd, so an iteration costs what is ready, not how many sockets
 * are open: each socket is registered once and its interest is changed
 * with epoll_ctl, which never wakes the loop.  The same source runs the
 * reactor's timers (its prepare() computes the poll timeout from the timer
 * queue, so scheduling a timer from the loop's thread needs no wakeup) and
 * the transports' deferred flushes (writes queued during one iteration
 * leave together at its end, one sendmsg per socket). */
#pragma once

#include <glib.h>
#include "delayed-call-private.h"

G_BEGIN_DECLS

typedef struct _BraidPoller BraidPoller;
typedef struct _BraidPollerWatch BraidPollerWatch;

/* What a watch is told: any of G_IO_IN, G_IO_OUT, G_IO_HUP, G_IO_ERR. */
typedef void (*BraidPollerFunc) (gpointer user_data, GIOCondition ready);
/* Called at the end of the iteration in which it was queued. */
typedef void (*BraidPollerFlushFunc) (gpointer user_data);

/* Attaches a new poller to @context; @timers are run when due.  The
 * poller does not own @timers. */
BraidPoller *braid_poller_new (GMainContext *context, BraidTimerQueue *timers);
/* Detaches it: no callback runs afterwards.  Watches must be removed
 * first (or are leaked). */
void braid_poller_free (BraidPoller *poller);

/* Registers @fd with the interest @events (G_IO_IN and/or G_IO_OUT; 0
 * keeps the fd out of the epoll set until braid_poller_watch_set_events). */
BraidPollerWatch *braid_poller_watch_fd (BraidPoller *poller, gint fd, GIOCondition events,
                                         BraidPollerFunc func, gpointer user_data);
void braid_poller_watch_set_events (BraidPollerWatch *watch, GIOCondition events);
GIOCondition braid_poller_watch_get_events (BraidPollerWatch *watch);
/* Unregisters (before the fd is closed); safe inside any callback, also
 * for a watch whose event is still pending in the current batch. */
void braid_poller_watch_remove (BraidPollerWatch *watch);

/* Queues @func (@user_data, which the poller refs with @ref and drops
 * with @unref) to run once at the end of the current iteration, or of the
 * next one when called outside the poller's dispatch. */
void braid_poller_defer (BraidPoller *poller, BraidPollerFlushFunc func, gpointer user_data,
                         gpointer (*ref) (gpointer), GDestroyNotify unref);

/* Runs what was deferred so far now, as the end of the poller's own
 * dispatch does: for another GSource of the same context at the end of
 * its dispatch. */
void braid_poller_run_deferred (BraidPoller *poller);

/* For tests: the removed watches held until the dispatch that removed
 * them ends (none outside a dispatch). */
guint braid_poller_get_n_removed_held (BraidPoller *poller);

G_END_DECLS
