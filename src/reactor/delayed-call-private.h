/* braid — delayed calls, private part: the timer queue behind both reactors.
 *
 * Private to the reactor implementations (libbraid's and the fake in
 * libbraid-testing); never installed.  The queue and BraidDelayedCall are
 * one mechanism — a call moves itself within its queue when reset or
 * cancelled — so both live in delayed-call.c rather than in two files that
 * call each other. */
#pragma once

#include "delayed-call.h"

G_BEGIN_DECLS

typedef struct _BraidTimerQueue BraidTimerQueue;
typedef gint64 (*BraidClockFunc) (gpointer clock_data);

BraidTimerQueue *braid_timer_queue_new (BraidClockFunc now_func,
                                        gpointer clock_data);
void braid_timer_queue_free (BraidTimerQueue *queue);

/* Schedules @func at now + @delay_us.  Returns a new reference. */
BraidDelayedCall *braid_timer_queue_add (BraidTimerQueue *queue,
                                         gint64 delay_us,
                                         BraidCallFunc func,
                                         gpointer user_data,
                                         GDestroyNotify destroy);

/* The earliest pending time, or -1 when the queue is empty. */
gint64 braid_timer_queue_next_time (BraidTimerQueue *queue);
/* Runs every call due at or before @now that was queued before the run
 * began: a call added or moved while it runs waits for the next run, even
 * when due (a zero-delay call that reschedules itself must not starve the
 * reactor's I/O).  Returns how many calls ran. */
guint braid_timer_queue_run_due (BraidTimerQueue *queue, gint64 now);
/* Runs at most one due call; returns whether it ran one. */
gboolean braid_timer_queue_run_one_due (BraidTimerQueue *queue, gint64 now);
guint braid_timer_queue_get_length (BraidTimerQueue *queue);
/* How many pending calls wait in the sorted sequence rather than in a
 * lane (see delayed-call.c): the cost model, for tests. */
guint braid_timer_queue_get_n_sorted (BraidTimerQueue *queue);
/* A new array of new references to the pending calls, in run order. */
GPtrArray *braid_timer_queue_get_pending (BraidTimerQueue *queue);
/* Called whenever the earliest time may have changed. */
void braid_timer_queue_set_changed_func (BraidTimerQueue *queue,
                                         BraidCallFunc func,
                                         gpointer user_data);

G_END_DECLS
