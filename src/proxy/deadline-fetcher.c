/* braid — BraidDeadlineFetcher: one deadline for a whole fetch.
 *
 * Each fetch has a Deadline, shared by the fetch and the body stream
 * that wraps the inner fetcher's: a reactor timer armed when the fetch
 * starts, and the cancellable handed to the inner fetch and to every
 * body read.  At the deadline the cancellable is cancelled (libsoup gives
 * up the message and its connection) and the operation waiting, if any,
 * fails at once with BRAID_PROXY_ERROR_TIMED_OUT, whether or not the
 * inner one has answered yet: the fake fetcher only looks at its
 * cancellable when its scripted time comes.  An inner operation that
 * answers after that is dropped; a read goes into a buffer of its own,
 * so that a late answer never writes into the caller's. */
#include "deadline-fetcher-private.h"
#include "proxy-error.h"

#include <string.h>

typedef struct {
  gint ref_count;
  BraidReactor *reactor;        /* (owned) */
  gint64 timeout_us;
  guint64 *expired_count;       /* (unowned) (nullable) */
  GCancellable *cancellable;    /* (owned): for the inner fetch and reads */
  GCancellable *caller;         /* (owned) (nullable): the fetch's own */
  gulong caller_handler;
  BraidDelayedCall *timer;      /* (owned) (nullable) */
  gboolean expired;
  GTask *pending;               /* (owned) (nullable): the fetch or read waiting */
} Deadline;

static Deadline *
deadline_ref (Deadline *d)
{
  d->ref_count++;
  return d;
}

static void
deadline_disarm (Deadline *d)
{
  if (d->timer != NULL && braid_delayed_call_is_active (d->timer))
    braid_delayed_call_cancel (d->timer);
  g_clear_pointer (&d->timer, braid_delayed_call_unref);
}

static void
deadline_unref (Deadline *d)
{
  if (--d->ref_count > 0)
    return;
  deadline_disarm (d);
  if (d->caller != NULL)
    g_cancellable_disconnect (d->caller, d->caller_handler);
  g_clear_object (&d->caller);
  g_clear_object (&d->pending);
  g_object_unref (d->cancellable);
  g_object_unref (d->reactor);
  g_free (d);
}

static GError *
timed_out_error (Deadline *d)
{
  return g_error_new (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT, "the fetch took over %.1f s (the fetch timeout)",
                      (gdouble) d->timeout_us / G_USEC_PER_SEC);
}

static void
return_timed_out (Deadline *d, GTask *task)
{
  g_task_return_error (task, timed_out_error (d));
}

static void
on_deadline (gpointer data)
{
  Deadline *d = deadline_ref (data);
  GTask *task;

  d->expired = TRUE;
  if (d->expired_count != NULL)
    (*d->expired_count)++;
  /* Cancelling may answer the inner operation at once: its callback sees
   * expired and fails the fetch as timed out. */
  g_cancellable_cancel (d->cancellable);
  task = g_steal_pointer (&d->pending);
  if (task != NULL)
    {
      return_timed_out (d, task);
      g_object_unref (task);
    }
  deadline_unref (d);
}

static void
on_caller_cancelled (GCancellable *cancellable, gpointer data)
{
  Deadline *d = data;

  g_cancellable_cancel (d->cancellable);
}

static Deadline *
deadline_new (BraidReactor *reactor, gint64 timeout_us, guint64 *expired_count, GCancellable *caller)
{
  Deadline *d = g_new0 (Deadline, 1);

  d->ref_count = 1;
  d->reactor = g_object_ref (reactor);
  d->timeout_us = timeout_us;
  d->expired_count = expired_count;
  d->cancellable = g_cancellable_new ();
  if (caller != NULL)
    {
      d->caller = g_object_ref (caller);
      d->caller_handler = g_cancellable_connect (caller, G_CALLBACK (on_caller_cancelled), d, NULL);
    }
  d->timer = braid_reactor_call_later (reactor, timeout_us, on_deadline, d, NULL);
  return d;
}

/* ---- the body stream ---- */

#define BRAID_TYPE_DEADLINE_STREAM (braid_deadline_stream_get_type ())
G_DECLARE_FINAL_TYPE (BraidDeadlineStream, braid_deadline_stream, BRAID, DEADLINE_STREAM, GInputStream)

struct _BraidDeadlineStream
{
  GInputStream parent_instance;
  GInputStream *base;           /* (owned) */
  Deadline *deadline;           /* (owned) */
};

G_DEFINE_FINAL_TYPE (BraidDeadlineStream, braid_deadline_stream, G_TYPE_INPUT_STREAM)

typedef struct {
  GTask *task;                  /* (owned) */
  Deadline *deadline;           /* (owned) */
  GInputStream *base;           /* (owned) */
  void *caller_buffer;          /* the caller's, valid while task is pending */
  guint8 *buffer;               /* (owned) */
} ReadOp;

static void
read_op_free (ReadOp *op)
{
  g_object_unref (op->task);
  deadline_unref (op->deadline);
  g_object_unref (op->base);
  g_free (op->buffer);
  g_free (op);
}

static gssize
deadline_stream_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  BraidDeadlineStream *self = BRAID_DEADLINE_STREAM (stream);
  gssize n;

  if (self->deadline->expired)
    {
      g_propagate_error (error, timed_out_error (self->deadline));
      return -1;
    }
  n = g_input_stream_read (self->base, buffer, count, cancellable, error);
  if (n == 0)
    deadline_disarm (self->deadline);
  return n;
}

static void
on_base_read (GObject *source, GAsyncResult *result, gpointer data)
{
  ReadOp *op = data;
  Deadline *d = op->deadline;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (d->pending != op->task)
    {
      /* Already failed at the deadline: drop what came. */
      read_op_free (op);
      return;
    }
  g_clear_object (&d->pending);
  if (n < 0 && d->expired)
    return_timed_out (d, op->task);
  else if (n < 0)
    g_task_return_error (op->task, g_steal_pointer (&error));
  else
    {
      if (n > 0)
        memcpy (op->caller_buffer, op->buffer, (gsize) n);
      else
        deadline_disarm (d);  /* the whole body is in: no deadline any more */
      g_task_return_int (op->task, n);
    }
  read_op_free (op);
}

static void
deadline_stream_read_async (GInputStream *stream, void *buffer, gsize count, int priority,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  BraidDeadlineStream *self = BRAID_DEADLINE_STREAM (stream);
  Deadline *d = self->deadline;
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  ReadOp *op;

  g_task_set_source_tag (task, deadline_stream_read_async);
  if (d->expired)
    {
      return_timed_out (d, task);
      g_object_unref (task);
      return;
    }
  g_return_if_fail (d->pending == NULL);
  op = g_new0 (ReadOp, 1);
  op->task = task;
  op->deadline = deadline_ref (d);
  op->base = g_object_ref (self->base);
  op->caller_buffer = buffer;
  op->buffer = g_malloc (MAX (count, 1));
  d->pending = g_object_ref (task);
  g_input_stream_read_async (self->base, op->buffer, count, priority, d->cancellable, on_base_read, op);
}

static gssize
deadline_stream_read_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == deadline_stream_read_async, -1);

  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
deadline_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  BraidDeadlineStream *self = BRAID_DEADLINE_STREAM (stream);

  deadline_disarm (self->deadline);
  /* A read the deadline gave up on may still be pending on the base
   * stream: it closes itself when that read is over and it goes. */
  if (g_input_stream_has_pending (self->base))
    return TRUE;
  return g_input_stream_close (self->base, cancellable, error);
}

/* GInputStream's default close_async would run close_fn in a thread. */
static void
deadline_stream_close_async (GInputStream *stream, int priority, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, deadline_stream_close_async);
  if (deadline_stream_close (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
deadline_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
braid_deadline_stream_finalize (GObject *object)
{
  BraidDeadlineStream *self = BRAID_DEADLINE_STREAM (object);

  g_object_unref (self->base);
  deadline_unref (self->deadline);
  G_OBJECT_CLASS (braid_deadline_stream_parent_class)->finalize (object);
}

static void
braid_deadline_stream_class_init (BraidDeadlineStreamClass *klass)
{
  GInputStreamClass *s = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_deadline_stream_finalize;
  s->read_fn = deadline_stream_read;
  s->read_async = deadline_stream_read_async;
  s->read_finish = deadline_stream_read_finish;
  s->close_fn = deadline_stream_close;
  s->close_async = deadline_stream_close_async;
  s->close_finish = deadline_stream_close_finish;
}

static void
braid_deadline_stream_init (BraidDeadlineStream *self)
{
}

/* ---- the fetcher ---- */

struct _BraidDeadlineFetcher
{
  GObject parent_instance;
  BraidFetcher *inner;          /* (owned) */
  BraidReactor *reactor;        /* (owned) */
  gint64 timeout_us;
  guint64 *expired_count;       /* (unowned) (nullable) */
};

static void braid_deadline_fetcher_iface_init (BraidFetcherInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidDeadlineFetcher, braid_deadline_fetcher, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_FETCHER, braid_deadline_fetcher_iface_init))

typedef struct {
  GTask *task;                  /* (owned) */
  Deadline *deadline;           /* (owned) */
} FetchOp;

/* What the inner fetch answered besides the stream: passed on as is. */
typedef struct {
  guint status;
  GHashTable *headers;          /* (owned) (nullable) */
} Answered;

static void
answered_free (Answered *answered)
{
  g_clear_pointer (&answered->headers, g_hash_table_unref);
  g_free (answered);
}

static void
on_inner_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  FetchOp *op = data;
  Deadline *d = op->deadline;
  g_autoptr(GError) error = NULL;
  guint status = 0;
  g_autoptr(GInputStream) stream = braid_fetcher_fetch_finish (BRAID_FETCHER (source), result, &status, &error);

  if (d->pending == op->task)
    {
      g_clear_object (&d->pending);
      if (stream == NULL && d->expired)
        return_timed_out (d, op->task);
      else if (stream == NULL)
        g_task_return_error (op->task, g_steal_pointer (&error));
      else
        {
          BraidDeadlineStream *wrapped = g_object_new (BRAID_TYPE_DEADLINE_STREAM, NULL);
          Answered *answered = g_new0 (Answered, 1);

          wrapped->base = g_steal_pointer (&stream);
          wrapped->deadline = deadline_ref (d);
          answered->status = status;
          answered->headers = braid_fetcher_dup_response_headers (BRAID_FETCHER (source), result);
          g_task_set_task_data (op->task, answered, (GDestroyNotify) answered_free);
          g_task_return_pointer (op->task, wrapped, g_object_unref);
        }
    }
  /* else: failed at the deadline already; the stream, if any, goes. */
  g_object_unref (op->task);
  deadline_unref (op->deadline);
  g_free (op);
}

static void
deadline_fetch_async (BraidFetcher *fetcher, const gchar *url, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  BraidDeadlineFetcher *self = BRAID_DEADLINE_FETCHER (fetcher);
  FetchOp *op = g_new0 (FetchOp, 1);

  op->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (op->task, deadline_fetch_async);
  op->deadline = deadline_new (self->reactor, self->timeout_us, self->expired_count, cancellable);
  op->deadline->pending = g_object_ref (op->task);
  braid_fetcher_fetch_async (self->inner, url, op->deadline->cancellable, on_inner_fetched, op);
}

static GInputStream *
deadline_fetch_finish (BraidFetcher *fetcher, GAsyncResult *result, guint *status, GError **error)
{
  GInputStream *stream;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == deadline_fetch_async, NULL);

  stream = g_task_propagate_pointer (G_TASK (result), error);
  if (stream != NULL)
    *status = ((Answered *) g_task_get_task_data (G_TASK (result)))->status;
  return stream;
}

static GHashTable *
deadline_dup_response_headers (BraidFetcher *fetcher, GAsyncResult *result)
{
  Answered *answered;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  answered = g_task_get_task_data (G_TASK (result));
  return answered != NULL && answered->headers != NULL ? g_hash_table_ref (answered->headers) : NULL;
}

static void
braid_deadline_fetcher_iface_init (BraidFetcherInterface *iface)
{
  iface->fetch_async = deadline_fetch_async;
  iface->fetch_finish = deadline_fetch_finish;
  iface->dup_response_headers = deadline_dup_response_headers;
}

static void
braid_deadline_fetcher_finalize (GObject *object)
{
  BraidDeadlineFetcher *self = BRAID_DEADLINE_FETCHER (object);

  g_object_unref (self->inner);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_deadline_fetcher_parent_class)->finalize (object);
}

static void
braid_deadline_fetcher_class_init (BraidDeadlineFetcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_deadline_fetcher_finalize;
}

static void
braid_deadline_fetcher_init (BraidDeadlineFetcher *self)
{
}

BraidDeadlineFetcher *
braid_deadline_fetcher_new (BraidFetcher *inner, BraidReactor *reactor, gint64 timeout_us, guint64 *expired_count)
{
  BraidDeadlineFetcher *self;

  g_return_val_if_fail (BRAID_IS_FETCHER (inner), NULL);
  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);
  g_return_val_if_fail (timeout_us > 0, NULL);

  self = g_object_new (BRAID_TYPE_DEADLINE_FETCHER, NULL);
  self->inner = g_object_ref (inner);
  self->reactor = g_object_ref (reactor);
  self->timeout_us = timeout_us;
  self->expired_count = expired_count;
  return self;
}
