/* braid — reading a stream that lives in another thread: see
 * thread-input-stream.h.
 *
 * Each read hops to the base stream's thread, which reads into the
 * caller's buffer (the caller does not touch it until the read is over),
 * then returns through a GTask made in the caller's context, which
 * dispatches the callback there.  A cancellation in the caller's thread
 * hops over too: the base read is cancelled in its own thread, with a
 * cancellable of that thread's, so that nothing of libsoup's runs in
 * the caller's thread. */
#include "thread-input-stream.h"

struct _BraidThreadInputStream
{
  GInputStream parent_instance;
  GInputStream *base;          /* (owned) (nullable): touched in thread only; NULL once closed */
  BraidFetchThread *thread;    /* (unowned): owner keeps it */
  GObject *owner;              /* (owned) */
};

G_DEFINE_FINAL_TYPE (BraidThreadInputStream, braid_thread_input_stream, G_TYPE_INPUT_STREAM)

/* A synchronous read's caller, waiting. */
typedef struct {
  GMutex lock;
  GCond cond;
  gint done;     /* atomic */
  gssize n;
  GError *error;
} Waiter;

/* One read: made in the caller's thread, then the base stream's. */
typedef struct {
  GTask *task;                 /* (owned) (nullable): an async read's, until returned */
  Waiter *waiter;              /* (nullable): a sync read's */
  GInputStream *base;          /* (owned) */
  void *buffer;
  gsize count;
  int priority;
  BraidThreadCancellable *cancellable;  /* (owned) */
} Read;

/* In the thread. */
static void
read_free (Read *read)
{
  g_object_unref (read->base);
  braid_thread_cancellable_free (read->cancellable);
  g_free (read);
}

static void
wake_waiter (Waiter *waiter, gssize n, GError *error)
{
  g_mutex_lock (&waiter->lock);
  waiter->n = n;
  waiter->error = error;
  g_atomic_int_set (&waiter->done, TRUE);  /* atomic: seen by ThreadSanitizer, unlike GMutex */
  g_cond_signal (&waiter->cond);
  g_mutex_unlock (&waiter->lock);
}

/* In the thread. */
static void
on_base_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Read *read = data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  GTask *task = g_steal_pointer (&read->task);
  Waiter *waiter = read->waiter;

  read_free (read);
  if (waiter != NULL)
    {
      wake_waiter (waiter, n, error);
      return;
    }
  braid_fetch_thread_hand_over_task (task);
  if (n < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, n);
  /* the last reference (and the stream's, and its owner's) in the
   * caller's context, not here */
  braid_fetch_thread_release_task (task);
}

static gboolean
start_in_thread (gpointer data)
{
  Read *read = data;

  g_input_stream_read_async (read->base, read->buffer, read->count, read->priority,
                             braid_thread_cancellable_get (read->cancellable), on_base_read, read);
  return G_SOURCE_REMOVE;
}

static Read *
read_new (BraidThreadInputStream *self, void *buffer, gsize count, int priority, GCancellable *cancellable)
{
  Read *read = g_new0 (Read, 1);

  read->base = g_object_ref (self->base);
  read->buffer = buffer;
  read->count = count;
  read->priority = priority;
  read->cancellable = braid_thread_cancellable_new (self->thread, cancellable);
  return read;
}

static void
thread_stream_read_async (GInputStream *stream, void *buffer, gsize count, int priority,
                          GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  BraidThreadInputStream *self = BRAID_THREAD_INPUT_STREAM (stream);
  Read *read = read_new (self, buffer, count, priority, cancellable);

  read->task = g_task_new (stream, cancellable, callback, user_data);
  g_task_set_source_tag (read->task, thread_stream_read_async);
  braid_fetch_thread_invoke (self->thread, start_in_thread, read, NULL);
}

/* Blocks until the thread has read: not from the thread itself. */
static gssize
thread_stream_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  BraidThreadInputStream *self = BRAID_THREAD_INPUT_STREAM (stream);
  Waiter waiter = { 0, };
  Read *read;

  g_return_val_if_fail (!braid_fetch_thread_is_current (self->thread), -1);

  read = read_new (self, buffer, count, G_PRIORITY_DEFAULT, cancellable);
  read->waiter = &waiter;
  g_mutex_init (&waiter.lock);
  g_cond_init (&waiter.cond);
  braid_fetch_thread_invoke (self->thread, start_in_thread, read, NULL);
  g_mutex_lock (&waiter.lock);
  while (!g_atomic_int_get (&waiter.done))
    g_cond_wait (&waiter.cond, &waiter.lock);
  g_mutex_unlock (&waiter.lock);
  g_mutex_clear (&waiter.lock);
  g_cond_clear (&waiter.cond);
  if (waiter.n < 0)
    g_propagate_error (error, waiter.error);
  return waiter.n;
}

static gssize
thread_stream_read_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == thread_stream_read_async, -1);

  braid_fetch_thread_take_over_task (G_TASK (result));
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
unref_in_thread (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

/* Hands the base stream back to its thread, whose last unref closes it
 * (a pending read there holds its own reference). */
static void
release_base (BraidThreadInputStream *self)
{
  if (self->base != NULL)
    braid_fetch_thread_invoke (self->thread, unref_in_thread, g_steal_pointer (&self->base), NULL);
}

static gboolean
thread_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  release_base (BRAID_THREAD_INPUT_STREAM (stream));
  return TRUE;
}

/* GInputStream's default close_async would run close_fn in a thread. */
static void
thread_stream_close_async (GInputStream *stream, int priority, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, thread_stream_close_async);
  release_base (BRAID_THREAD_INPUT_STREAM (stream));
  g_task_return_boolean (task, TRUE);
}

static gboolean
thread_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
braid_thread_input_stream_finalize (GObject *object)
{
  BraidThreadInputStream *self = BRAID_THREAD_INPUT_STREAM (object);

  release_base (self);
  g_object_unref (self->owner);
  G_OBJECT_CLASS (braid_thread_input_stream_parent_class)->finalize (object);
}

static void
braid_thread_input_stream_class_init (BraidThreadInputStreamClass *klass)
{
  GInputStreamClass *s = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_thread_input_stream_finalize;
  s->read_fn = thread_stream_read;
  s->read_async = thread_stream_read_async;
  s->read_finish = thread_stream_read_finish;
  s->close_fn = thread_stream_close;
  s->close_async = thread_stream_close_async;
  s->close_finish = thread_stream_close_finish;
}

static void
braid_thread_input_stream_init (BraidThreadInputStream *self)
{
}

GInputStream *
braid_thread_input_stream_new (GInputStream *base, BraidFetchThread *thread, GObject *owner)
{
  BraidThreadInputStream *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (base), NULL);
  g_return_val_if_fail (thread != NULL && G_IS_OBJECT (owner), NULL);

  self = g_object_new (BRAID_TYPE_THREAD_INPUT_STREAM, NULL);
  self->base = base;
  self->thread = thread;
  self->owner = g_object_ref (owner);
  return G_INPUT_STREAM (self);
}
