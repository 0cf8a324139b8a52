/* braid — a thread with a GMainContext of its own: see fetch-thread.h. */
#include "fetch-thread.h"
#include "tsan-private.h"

struct _BraidFetchThread
{
  GThread *thread;
  GMainContext *context;   /* (owned) */
  GMainLoop *loop;         /* (owned) */
  GFunc setup, teardown;
  gpointer data;
  GMutex lock;
  GCond started_cond;
  gint started;   /* atomic */
};

/* Iterates @context until nothing is ready: what callbacks left queued. */
static void
drain (GMainContext *context)
{
  while (g_main_context_iteration (context, FALSE))
    ;
}

static gpointer
thread_main (gpointer data)
{
  BraidFetchThread *self = data;

  g_main_context_push_thread_default (self->context);
  if (self->setup != NULL)
    self->setup (self->data, NULL);
  g_mutex_lock (&self->lock);
  /* atomic, so that ThreadSanitizer sees the hand-over of what setup
   * made (GMutex is a futex of GLib's, which it does not see) */
  g_atomic_int_set (&self->started, TRUE);
  g_cond_signal (&self->started_cond);
  g_mutex_unlock (&self->lock);

  g_main_loop_run (self->loop);
  drain (self->context);
  if (self->teardown != NULL)
    self->teardown (self->data, NULL);
  /* what the teardown's unrefs left: closes, cancellations */
  drain (self->context);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

BraidFetchThread *
braid_fetch_thread_new (const gchar *name, GFunc setup, GFunc teardown, gpointer data)
{
  BraidFetchThread *self = g_new0 (BraidFetchThread, 1);

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->setup = setup;
  self->teardown = teardown;
  self->data = data;
  g_mutex_init (&self->lock);
  g_cond_init (&self->started_cond);
  self->thread = g_thread_new (name, thread_main, self);
  g_mutex_lock (&self->lock);
  while (!g_atomic_int_get (&self->started))
    g_cond_wait (&self->started_cond, &self->lock);
  g_mutex_unlock (&self->lock);
  return self;
}

/* One call handed to the thread. */
typedef struct {
  GSourceFunc func;
  gpointer data;
  GDestroyNotify notify;
} Invocation;

static gboolean
run_invocation (gpointer data)
{
  Invocation *invocation = data;

  BRAID_TSAN_ACQUIRE (invocation);  /* handed over under the context's lock */
  invocation->func (invocation->data);
  return G_SOURCE_REMOVE;
}

static void
invocation_free (gpointer data)
{
  Invocation *invocation = data;

  if (invocation->notify != NULL)
    invocation->notify (invocation->data);
  g_free (invocation);
}

void
braid_fetch_thread_invoke (BraidFetchThread *self, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
  GSource *source = g_idle_source_new ();
  Invocation *invocation = g_new (Invocation, 1);

  invocation->func = func;
  invocation->data = data;
  invocation->notify = notify;
  BRAID_TSAN_RELEASE (invocation);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, run_invocation, invocation, invocation_free);
  g_source_set_static_name (source, "braid-fetch-thread-invoke");
  g_source_attach (source, self->context);
  g_source_unref (source);
}

gboolean
braid_fetch_thread_is_current (BraidFetchThread *self)
{
  return g_thread_self () == self->thread;
}

static gboolean
do_nothing (gpointer data)
{
  return G_SOURCE_REMOVE;
}

void
braid_fetch_thread_release_task (GTask *task)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, do_nothing, task, g_object_unref);
  g_source_set_static_name (source, "braid-fetch-thread-release-task");
  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

void
braid_fetch_thread_hand_over_task (GTask *task)
{
  BRAID_TSAN_RELEASE (task);
}

void
braid_fetch_thread_take_over_task (GTask *task)
{
  BRAID_TSAN_ACQUIRE (task);
}

/* ---- cancellables that follow the caller's ---- */

struct _BraidThreadCancellable
{
  gatomicrefcount ref_count;
  BraidFetchThread *thread;
  GCancellable *caller;        /* (owned) (nullable) */
  gulong caller_id;
  GCancellable *follower;      /* (owned) */
};

static BraidThreadCancellable *
thread_cancellable_ref (BraidThreadCancellable *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

static void
thread_cancellable_unref (BraidThreadCancellable *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_clear_object (&self->caller);
  g_object_unref (self->follower);
  g_free (self);
}

static gboolean
cancel_in_thread (gpointer data)
{
  BraidThreadCancellable *self = data;

  g_cancellable_cancel (self->follower);
  return G_SOURCE_REMOVE;
}

/* In whichever thread cancelled the caller's cancellable. */
static void
on_caller_cancelled (GCancellable *caller, gpointer data)
{
  BraidThreadCancellable *self = data;

  braid_fetch_thread_invoke (self->thread, cancel_in_thread, thread_cancellable_ref (self),
                             (GDestroyNotify) thread_cancellable_unref);
}

BraidThreadCancellable *
braid_thread_cancellable_new (BraidFetchThread *thread, GCancellable *caller)
{
  BraidThreadCancellable *self = g_new0 (BraidThreadCancellable, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->thread = thread;
  self->follower = g_cancellable_new ();
  if (caller != NULL)
    {
      self->caller = g_object_ref (caller);
      /* runs at once if @caller is cancelled already: the follower is
       * then cancelled before anything invoked after this call runs */
      self->caller_id = g_cancellable_connect (caller, G_CALLBACK (on_caller_cancelled), self, NULL);
    }
  return self;
}

GCancellable *
braid_thread_cancellable_get (BraidThreadCancellable *self)
{
  return self->follower;
}

void
braid_thread_cancellable_free (BraidThreadCancellable *self)
{
  /* waits for a handler running in another thread: after it, none runs */
  if (self->caller != NULL)
    g_cancellable_disconnect (self->caller, self->caller_id);
  thread_cancellable_unref (self);
}

/* ---- stopping ---- */

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
braid_fetch_thread_free (BraidFetchThread *self)
{
  if (self == NULL)
    return;
  g_return_if_fail (!braid_fetch_thread_is_current (self));

  /* after everything invoked so far: same priority, later */
  braid_fetch_thread_invoke (self, quit_loop, g_main_loop_ref (self->loop), (GDestroyNotify) g_main_loop_unref);
  g_thread_join (self->thread);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->started_cond);
  g_free (self);
}
