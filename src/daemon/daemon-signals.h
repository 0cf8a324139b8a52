/* braid — a daemon's Unix signals, watched off its main loop.
 *
 * GLib's Unix signal sources are prepared and checked at every iteration
 * of the context they are attached to, like every source.  Three of them
 * (SIGTERM, SIGINT, SIGHUP) on the reactor's context cost braid-memcached
 * about 1,000 instructions per iteration, a sixth of a get's when each
 * iteration serves one request (callgrind, docs/performance.md).  Here
 * they live in a thread of their own, with a context of its own, and
 * each signal that arrives is handed to @target's thread: the reactor's
 * context carries nothing for them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BraidDaemonSignals BraidDaemonSignals;

/* Called in the thread that runs @target, once per signal delivered. */
typedef void (*BraidDaemonSignalFunc) (int signum, gpointer user_data);

/* Starts watching @signals (@n_signals of them, each one that
 * g_unix_signal_source_new() accepts); @func runs in @target's thread. */
BraidDaemonSignals *braid_daemon_signals_new (const int *signals, gsize n_signals, GMainContext *target,
                                              BraidDaemonSignalFunc func, gpointer user_data);
/* Stops watching, in @target's thread: once it returns, @func is not
 * called again, not even for a signal already on its way. */
void braid_daemon_signals_free (BraidDaemonSignals *self);

G_END_DECLS
