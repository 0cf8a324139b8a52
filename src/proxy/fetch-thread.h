/* braid — a thread that runs a GMainContext of its own, for work that
 * must stay off the reactor's loop (libsoup's sessions: see
 * soup-fetcher.c). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BraidFetchThread BraidFetchThread;

/* Starts a thread named @name running a loop on a new GMainContext,
 * which is the thread's default.  @setup runs in the thread before
 * anything else and @teardown after the loop stopped, each with @data;
 * braid_fetch_thread_new() returns once @setup has run. */
BraidFetchThread *braid_fetch_thread_new (const gchar *name, GFunc setup, GFunc teardown, gpointer data);

/* Runs @func (@data) in the thread, once, at default priority, in the
 * order of the calls; @notify frees @data after.  From any thread. */
void braid_fetch_thread_invoke (BraidFetchThread *self, GSourceFunc func, gpointer data, GDestroyNotify notify);

/* TRUE in the thread itself. */
gboolean braid_fetch_thread_is_current (BraidFetchThread *self);

/* Drops the caller's reference to @task (transfer full), which a thread
 * has just returned (g_task_return_*()), in the task's own context: the
 * task's last reference, and with it its source object's, then goes
 * there, never in the thread, whatever order the two threads run in. */
void braid_fetch_thread_release_task (GTask *task);
/* GTask hands a result over under GLib's locks, which ThreadSanitizer
 * does not see (elsewhere these do nothing): the thread calls
 * hand_over just before g_task_return_*(), the task's finish function
 * take_over, and what the thread wrote before is then visible. */
void braid_fetch_thread_hand_over_task (GTask *task);
void braid_fetch_thread_take_over_task (GTask *task);

/* A cancellable of the thread's that follows @caller (nullable: none to
 * follow): when @caller is cancelled, from whichever thread, the
 * follower is cancelled in the thread, so that handlers connected to it
 * (libsoup's, GIO's) run there only.  Made in any thread; done with
 * braid_thread_cancellable_free() in the thread once the operation is
 * over, which stops following. */
typedef struct _BraidThreadCancellable BraidThreadCancellable;
BraidThreadCancellable *braid_thread_cancellable_new (BraidFetchThread *thread, GCancellable *caller);
GCancellable *braid_thread_cancellable_get (BraidThreadCancellable *self);
void braid_thread_cancellable_free (BraidThreadCancellable *self);

/* Runs what was invoked before, stops the loop, runs what those left
 * behind, then @teardown, and joins the thread.  Not from the thread
 * itself. */
void braid_fetch_thread_free (BraidFetchThread *self);

G_END_DECLS
