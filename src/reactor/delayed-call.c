/* braid — delayed calls and the timer queue shared by both reactors.
 *
 * Pending calls run in (time, sequence number) order, so calls due at the
 * same instant run in the order they were scheduled.
 *
 * Most calls are time-outs armed with one of a few fixed delays (a
 * request's deadline, a client's reply timeout) and cancelled long before
 * they are due, one or more per request.  A call scheduled with the same
 * delay as the one before it on a monotonic clock is due no earlier than
 * that one, so such calls need no sorting: each of a few "lanes" holds the
 * calls of one delay in a doubly linked FIFO, where adding and cancelling
 * are O(1).  The earliest call is the earliest of the lanes' heads and of
 * a GSequence that holds every other call (a delay no lane holds, a call
 * moved by reset or delay, a clock that went back), where insert and
 * cancel are O(log n). */
#include "delayed-call-private.h"

typedef enum {
  CALL_PENDING,
  CALL_CALLED,
  CALL_CANCELLED,
} CallState;

typedef struct _Lane Lane;

struct _BraidDelayedCall
{
  gatomicrefcount ref_count;
  BraidTimerQueue *queue;  /* (unowned) (nullable): NULL once stale */
  GSequenceIter *iter;     /* (nullable): position in the queue's sequence */
  Lane *lane;              /* (nullable): or the lane it waits in */
  BraidDelayedCall *prev, *next;  /* neighbours in the lane */
  gint64 time;
  guint64 sequence;
  CallState state;
  BraidCallFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
};

/* The calls scheduled with one delay, in the order they are due. */
struct _Lane
{
  gint64 delay;
  BraidDelayedCall *head, *tail;  /* (owned refs) */
  guint length;
};

/* More lanes make finding the earliest call dearer; a process uses a
 * handful of fixed time-outs. */
#define N_LANES 8

struct _BraidTimerQueue
{
  GSequence *calls;  /* (element-type BraidDelayedCall) (owned refs): calls in no lane */
  Lane lanes[N_LANES];
  guint n_in_lanes;
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

static gint
compare_call_pointers (gconstpointer a, gconstpointer b)
{
  return compare_calls (*(BraidDelayedCall * const *) a, *(BraidDelayedCall * const *) b, NULL);
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

/* The lane for calls scheduled with @delay: the one that holds them, or
 * an empty one, which then takes that delay; NULL when all are taken. */
static Lane *
lane_for_delay (BraidTimerQueue *queue, gint64 delay)
{
  Lane *empty = NULL;

  for (guint i = 0; i < N_LANES; i++)
    {
      Lane *lane = &queue->lanes[i];

      if (lane->length > 0 && lane->delay == delay)
        return lane;
      if (lane->length == 0 && empty == NULL)
        empty = lane;
    }
  if (empty != NULL)
    empty->delay = delay;
  return empty;
}

static void
append_to_lane (BraidTimerQueue *queue, Lane *lane, BraidDelayedCall *call)
{
  call->lane = lane;
  call->prev = lane->tail;
  call->next = NULL;
  if (lane->tail != NULL)
    lane->tail->next = call;
  else
    lane->head = call;
  lane->tail = call;
  lane->length++;
  queue->n_in_lanes++;
}

/* Queues @call, scheduled @delay from now (-1: moved, not scheduled). */
static void
insert_call (BraidTimerQueue *queue, BraidDelayedCall *call, gint64 delay)
{
  Lane *lane = delay >= 0 ? lane_for_delay (queue, delay) : NULL;

  call->sequence = queue->next_sequence++;
  /* A lane stays sorted only while the clock does not go back. */
  if (lane != NULL && (lane->tail == NULL || lane->tail->time <= call->time))
    append_to_lane (queue, lane, call);
  else
    call->iter = g_sequence_insert_sorted (queue->calls, call, compare_calls, NULL);
}

/* The call that runs next, or NULL. */
static BraidDelayedCall *
first_call (BraidTimerQueue *queue)
{
  BraidDelayedCall *first = NULL;

  if (!g_sequence_is_empty (queue->calls))
    first = g_sequence_get (g_sequence_get_begin_iter (queue->calls));
  if (queue->n_in_lanes == 0)
    return first;
  for (guint i = 0; i < N_LANES; i++)
    {
      BraidDelayedCall *head = queue->lanes[i].head;

      if (head != NULL && (first == NULL || compare_calls (head, first, NULL) < 0))
        first = head;
    }
  return first;
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
detach_call (BraidTimerQueue *queue, BraidDelayedCall *call)
{
  Lane *lane = g_steal_pointer (&call->lane);

  if (lane == NULL)
    {
      g_sequence_remove (g_steal_pointer (&call->iter));  /* no free func: the reference is returned */
      return call;
    }
  if (call->prev != NULL)
    call->prev->next = call->next;
  else
    lane->head = call->next;
  if (call->next != NULL)
    call->next->prev = call->prev;
  else
    lane->tail = call->prev;
  call->prev = call->next = NULL;
  lane->length--;
  queue->n_in_lanes--;
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
  detach_call (queue, call);
  /* Twisted drops the callable at once: so do we. */
  release_user_data (call);
  braid_delayed_call_unref (call);
  notify_changed (queue);
}

/* @delay: as for insert_call */
static void
move_call (BraidDelayedCall *call, gint64 new_time, gint64 delay)
{
  BraidTimerQueue *queue = call->queue;

  detach_call (queue, call);
  call->time = new_time;
  insert_call (queue, call, delay);
  notify_changed (queue);
}

void
braid_delayed_call_reset (BraidDelayedCall *call, gint64 delay_us)
{
  g_return_if_fail (call != NULL);
  if (!check_pending (call, "reset"))
    return;
  delay_us = MAX (delay_us, 0);
  move_call (call, call->queue->now_func (call->queue->clock_data) + delay_us, delay_us);
}

void
braid_delayed_call_delay (BraidDelayedCall *call, gint64 extra_us)
{
  g_return_if_fail (call != NULL);
  if (!check_pending (call, "delay"))
    return;
  move_call (call, call->time + extra_us, -1);
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
  BraidDelayedCall *call;

  while ((call = first_call (queue)) != NULL)
    {
      detach_call (queue, call);
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
  insert_call (queue, call, MAX (delay_us, 0));  /* the queue's reference */
  notify_changed (queue);
  return braid_delayed_call_ref (call);
}

gint64
braid_timer_queue_next_time (BraidTimerQueue *queue)
{
  BraidDelayedCall *first = first_call (queue);

  return first != NULL ? first->time : -1;
}

/* Runs the first call if it is due at @now and was queued (added or
 * last moved) before sequence number @queued_before. */
static gboolean
run_first_if_due (BraidTimerQueue *queue, gint64 now, guint64 queued_before)
{
  BraidDelayedCall *call = first_call (queue);

  if (call == NULL || call->time > now || call->sequence >= queued_before)
    return FALSE;

  detach_call (queue, call);
  call->queue = NULL;
  /* Marked called before it runs, as Twisted does: a callback that tries
   * to cancel its own handle gets the stale-handle critical. */
  call->state = CALL_CALLED;
  call->func (call->user_data);
  release_user_data (call);
  braid_delayed_call_unref (call);
  return TRUE;
}

gboolean
braid_timer_queue_run_one_due (BraidTimerQueue *queue, gint64 now)
{
  return run_first_if_due (queue, now, G_MAXUINT64);
}

guint
braid_timer_queue_run_due (BraidTimerQueue *queue, gint64 now)
{
  /* Only the calls queued before the run began, as Twisted's
   * runUntilCurrent: a call added or moved by one that runs waits for the
   * next run, so a call that reschedules itself at zero delay lets the
   * reactor poll its I/O in between.  On a clock that does not go back a
   * newcomer sorts after every call due now, so stopping at the first one
   * keeps the (time, sequence) order. */
  guint64 queued_before = queue->next_sequence;
  guint n = 0;

  while (run_first_if_due (queue, now, queued_before))
    n++;
  if (n > 0)
    notify_changed (queue);
  return n;
}

guint
braid_timer_queue_get_length (BraidTimerQueue *queue)
{
  return (guint) g_sequence_get_length (queue->calls) + queue->n_in_lanes;
}

guint
braid_timer_queue_get_n_sorted (BraidTimerQueue *queue)
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
  for (guint i = 0; i < N_LANES; i++)
    for (BraidDelayedCall *call = queue->lanes[i].head; call != NULL; call = call->next)
      g_ptr_array_add (pending, braid_delayed_call_ref (call));
  g_ptr_array_sort (pending, compare_call_pointers);
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
