/* braid — delayed calls and the timer queue shared by both reactors.
 *
 * Pending calls live in a GSequence ordered by (time, sequence number), so
 * calls due at the same instant run in the order they were scheduled and
 * insert, cancel and reset are O(log n). */
#include "delayed-call-private.h"

typedef enum {
  CALL_PENDING,
  CALL_CALLED,
  CALL_CANCELLED,
} CallState;

struct _BraidDelayedCall
{
  gatomicrefcount ref_count;
  BraidTimerQueue *queue;  /* (unowned) (nullable): NULL once stale */
  GSequenceIter *iter;     /* (nullable): position while pending */
  gint64 time;
  guint64 sequence;
  CallState state;
  BraidCallFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
};

struct _BraidTimerQueue
{
  GSequence *calls;  /* (element-type BraidDelayedCall) (owned refs) */
  guint64 next_sequence;
  BraidClockFunc now_func;
  gpointer clock_data;
  BraidCallFunc changed_func;
  gpointer changed_data;
};

static gint
compare_calls (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const BraidDelayedCall *ca = a;
  const BraidDelayedCall *cb = b;

  if (ca->time != cb->time)
    return ca->time < cb->time ? -1 : 1;
  if (ca->sequence != cb->sequence)
    return ca->sequence < cb->sequence ? -1 : 1;
  return 0;
}

static void
notify_changed (BraidTimerQueue *queue)
{
  if (queue != NULL && queue->changed_func != NULL)
    queue->changed_func (queue->changed_data);
}

BraidDelayedCall *
braid_delayed_call_ref (BraidDelayedCall *call)
{
  g_return_val_if_fail (call != NULL, NULL);
  g_atomic_ref_count_inc (&call->ref_count);
  return call;
}

static void
release_user_data (BraidDelayedCall *call)
{
  GDestroyNotify destroy = g_steal_pointer (&call->destroy);
  gpointer data = g_steal_pointer (&call->user_data);

  call->func = NULL;
  if (destroy != NULL)
    destroy (data);
}

void
braid_delayed_call_unref (BraidDelayedCall *call)
{
  g_return_if_fail (call != NULL);
  if (!g_atomic_ref_count_dec (&call->ref_count))
    return;
  release_user_data (call);
  g_free (call);
}

static void
insert_call (BraidTimerQueue *queue, BraidDelayedCall *call)
{
  call->sequence = queue->next_sequence++;
  call->iter = g_sequence_insert_sorted (queue->calls, call, compare_calls, NULL);
}

static gboolean
check_pending (BraidDelayedCall *call, const gchar *what)
{
  if (call->state == CALL_CALLED)
    {
      /* g_log, not g_critical: under G_LOG_USE_STRUCTURED only g_log()
       * honours g_test_expect_message(), and tests expect this one. */
      g_log (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "braid_delayed_call_%s: the call already ran", what);
      return FALSE;
    }
  if (call->state == CALL_CANCELLED)
    {
      g_log (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "braid_delayed_call_%s: the call was already cancelled", what);
      return FALSE;
    }
  return TRUE;
}

/* Takes the call out of its queue; the queue's reference moves to the
 * caller. */
static BraidDelayedCall *
detach_call (BraidDelayedCall *call)
{
  GSequenceIter *iter = g_steal_pointer (&call->iter);

  g_sequence_remove (iter);  /* no free func: the reference is returned */
  return call;
}

void
braid_delayed_call_cancel (BraidDelayedCall *call)
{
  BraidTimerQueue *queue;

  g_return_if_fail (call != NULL);
  if (!check_pending (call, "cancel"))
    return;

  queue = g_steal_pointer (&call->queue);
  call->state = CALL_CANCELLED;
  detach_call (call);
  /* Twisted drops the callable at once: so do we. */
  release_user_data (call);
  braid_delayed_call_unref (call);
  notify_changed (queue);
}

static void
move_call (BraidDelayedCall *call, gint64 new_time)
{
  BraidTimerQueue *queue = call->queue;

  detach_call (call);
  call->time = new_time;
  insert_call (queue, call);
  notify_changed (queue);
}

void
braid_delayed_call_reset (BraidDelayedCall *call, gint64 delay_us)
{
  g_return_if_fail (call != NULL);
  if (!check_pending (call, "reset"))
    return;
  move_call (call, call->queue->now_func (call->queue->clock_data) + MAX (delay_us, 0));
}

void
braid_delayed_call_delay (BraidDelayedCall *call, gint64 extra_us)
{
  g_return_if_fail (call != NULL);
  if (!check_pending (call, "delay"))
    return;
  move_call (call, call->time + extra_us);
}

gboolean
braid_delayed_call_is_active (BraidDelayedCall *call)
{
  g_return_val_if_fail (call != NULL, FALSE);
  return call->state == CALL_PENDING;
}

gboolean
braid_delayed_call_was_called (BraidDelayedCall *call)
{
  g_return_val_if_fail (call != NULL, FALSE);
  return call->state == CALL_CALLED;
}

gboolean
braid_delayed_call_was_cancelled (BraidDelayedCall *call)
{
  g_return_val_if_fail (call != NULL, FALSE);
  return call->state == CALL_CANCELLED;
}

gint64
braid_delayed_call_get_time (BraidDelayedCall *call)
{
  g_return_val_if_fail (call != NULL, 0);
  return call->time;
}

BraidTimerQueue *
braid_timer_queue_new (BraidClockFunc now_func, gpointer clock_data)
{
  BraidTimerQueue *queue = g_new0 (BraidTimerQueue, 1);

  queue->calls = g_sequence_new (NULL);
  queue->now_func = now_func;
  queue->clock_data = clock_data;
  return queue;
}

void
braid_timer_queue_free (BraidTimerQueue *queue)
{
  if (queue == NULL)
    return;
  /* Pending calls never run: release them as if cancelled, quietly. */
  while (!g_sequence_is_empty (queue->calls))
    {
      BraidDelayedCall *call = g_sequence_get (g_sequence_get_begin_iter (queue->calls));

      detach_call (call);
      call->queue = NULL;
      call->state = CALL_CANCELLED;
      release_user_data (call);
      braid_delayed_call_unref (call);
    }
  g_sequence_free (queue->calls);
  g_free (queue);
}

BraidDelayedCall *
braid_timer_queue_add (BraidTimerQueue *queue,
                       gint64 delay_us,
                       BraidCallFunc func,
                       gpointer user_data,
                       GDestroyNotify destroy)
{
  BraidDelayedCall *call;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  call = g_new0 (BraidDelayedCall, 1);
  g_atomic_ref_count_init (&call->ref_count);
  call->queue = queue;
  call->time = queue->now_func (queue->clock_data) + MAX (delay_us, 0);
  call->state = CALL_PENDING;
  call->func = func;
  call->user_data = user_data;
  call->destroy = destroy;
  insert_call (queue, call);  /* the queue's reference */
  notify_changed (queue);
  return braid_delayed_call_ref (call);
}

gint64
braid_timer_queue_next_time (BraidTimerQueue *queue)
{
  BraidDelayedCall *first;

  if (g_sequence_is_empty (queue->calls))
    return -1;
  first = g_sequence_get (g_sequence_get_begin_iter (queue->calls));
  return first->time;
}

gboolean
braid_timer_queue_run_one_due (BraidTimerQueue *queue, gint64 now)
{
  BraidDelayedCall *call;

  if (g_sequence_is_empty (queue->calls))
    return FALSE;
  call = g_sequence_get (g_sequence_get_begin_iter (queue->calls));
  if (call->time > now)
    return FALSE;

  detach_call (call);
  call->queue = NULL;
  /* Marked called before it runs, as Twisted does: a callback that tries
   * to cancel its own handle gets the stale-handle critical. */
  call->state = CALL_CALLED;
  call->func (call->user_data);
  release_user_data (call);
  braid_delayed_call_unref (call);
  return TRUE;
}

guint
braid_timer_queue_run_due (BraidTimerQueue *queue, gint64 now)
{
  guint n = 0;

  while (braid_timer_queue_run_one_due (queue, now))
    n++;
  if (n > 0)
    notify_changed (queue);
  return n;
}

guint
braid_timer_queue_get_length (BraidTimerQueue *queue)
{
  return (guint) g_sequence_get_length (queue->calls);
}

GPtrArray *
braid_timer_queue_get_pending (BraidTimerQueue *queue)
{
  GPtrArray *pending = g_ptr_array_new_with_free_func ((GDestroyNotify) braid_delayed_call_unref);
  GSequenceIter *iter;

  for (iter = g_sequence_get_begin_iter (queue->calls);
       !g_sequence_iter_is_end (iter);
       iter = g_sequence_iter_next (iter))
    g_ptr_array_add (pending, braid_delayed_call_ref (g_sequence_get (iter)));
  return pending;
}

void
braid_timer_queue_set_changed_func (BraidTimerQueue *queue,
                                    BraidCallFunc func,
                                    gpointer user_data)
{
  queue->changed_func = func;
  queue->changed_data = user_data;
}
