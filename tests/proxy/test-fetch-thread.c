/* braid — BraidFetchThread and BraidThreadInputStream on their own, with
 * plain GIO streams in the thread instead of libsoup: where each piece of
 * work runs, in which order, and where the last references go. */
#include "test-support.h"
#include "fetch-thread.h"
#include "thread-input-stream.h"

#include <string.h>

#define DEADLINE_MS 10000

/* Iterates the default context until *@where is NULL: what a thread
 * releases here (braid_fetch_thread_release_task) comes as an idle that
 * the thread attaches after it returned the task, so possibly after the
 * task's callback ran. */
static void
wait_until_null (gpointer *where)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (*where != NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

/* ---- the thread ---- */

typedef struct {
  GThread *setup_thread;
  GThread *teardown_thread;
  gboolean setup_saw_current;
  gboolean teardown_saw_current;
  BraidFetchThread *thread;    /* set once braid_fetch_thread_new returned */
  GArray *order;               /* (element-type guint): invocations, as they ran */
  guint n_notified;
  GThread *invoked_in;
} Log;

static void
log_setup (gpointer data, gpointer unused)
{
  Log *log = data;

  log->setup_thread = g_thread_self ();
}

static void
log_teardown (gpointer data, gpointer unused)
{
  Log *log = data;

  log->teardown_thread = g_thread_self ();
  log->teardown_saw_current = braid_fetch_thread_is_current (log->thread);
}

typedef struct {
  Log *log;
  guint n;
} Step;

static gboolean
run_step (gpointer data)
{
  Step *step = data;

  g_array_append_val (step->log->order, step->n);
  step->log->invoked_in = g_thread_self ();
  return G_SOURCE_CONTINUE;   /* ignored: an invocation runs once */
}

static void
step_free (gpointer data)
{
  Step *step = data;

  step->log->n_notified++;
  g_free (step);
}

static void
test_thread_runs_in_order (void)
{
  Log log = { 0, };

  g_test_summary ("setup runs in the thread before new() returns, every invocation runs there once, in the "
                  "order of the calls, and its notify after; free() runs what was invoked, then teardown "
                  "in the thread, and joins");
  log.order = g_array_new (FALSE, FALSE, sizeof (guint));
  log.thread = braid_fetch_thread_new ("test-fetch", log_setup, log_teardown, &log);
  g_assert_nonnull (log.setup_thread);
  g_assert_true (log.setup_thread != g_thread_self ());
  g_assert_false (braid_fetch_thread_is_current (log.thread));
  for (guint i = 0; i < 100; i++)
    {
      Step *step = g_new (Step, 1);

      step->log = &log;
      step->n = i;
      braid_fetch_thread_invoke (log.thread, run_step, step, step_free);
    }
  braid_fetch_thread_free (log.thread);
  g_assert_cmpuint (log.order->len, ==, 100);
  for (guint i = 0; i < 100; i++)
    g_assert_cmpuint (g_array_index (log.order, guint, i), ==, i);
  g_assert_cmpuint (log.n_notified, ==, 100);
  g_assert_true (log.invoked_in == log.setup_thread);
  g_assert_true (log.teardown_thread == log.setup_thread);
  g_assert_true (log.teardown_saw_current);
  g_array_unref (log.order);
}

/* ---- tasks returned from the thread ---- */

typedef struct {
  GTask *task;
  gint value;
} Return;

static gboolean
return_in_thread (gpointer data)
{
  Return *r = data;

  braid_fetch_thread_hand_over_task (r->task);
  g_task_return_int (r->task, r->value);
  braid_fetch_thread_release_task (g_steal_pointer (&r->task));
  return G_SOURCE_REMOVE;
}

typedef struct {
  gboolean done;
  gssize value;
  GThread *callback_thread;
} Returned;

static void
on_returned (GObject *source, GAsyncResult *result, gpointer data)
{
  Returned *r = data;

  braid_fetch_thread_take_over_task (G_TASK (result));
  r->value = g_task_propagate_int (G_TASK (result), NULL);
  r->callback_thread = g_thread_self ();
  r->done = TRUE;
}

static void
test_thread_release_task (void)
{
  BraidFetchThread *thread = braid_fetch_thread_new ("test-fetch", NULL, NULL, NULL);
  g_autoptr(GObject) source = g_object_new (G_TYPE_OBJECT, NULL);
  Returned returned = { 0, };
  Return r = { 0, };
  GTask *task;

  g_test_summary ("A task made here and returned in the thread runs its callback here; once released, its "
                  "last reference goes here too, with its source object's");
  task = g_task_new (source, NULL, on_returned, &returned);
  g_object_add_weak_pointer (G_OBJECT (task), (gpointer *) &task);
  r.task = task;
  r.value = 42;
  braid_fetch_thread_invoke (thread, return_in_thread, &r, NULL);
  braid_test_wait_for_flag (NULL, &returned.done, DEADLINE_MS);
  g_assert_cmpint (returned.value, ==, 42);
  g_assert_true (returned.callback_thread == g_thread_self ());
  /* the release is an idle of this context's */
  wait_until_null ((gpointer *) &task);
  braid_fetch_thread_free (thread);
}

/* ---- cancellables that follow ---- */

typedef struct {
  BraidThreadCancellable *follower;
  GThread *cancelled_in;
  gint n_cancelled;             /* atomic */
} Follow;

static void
on_follower_cancelled (GCancellable *cancellable, gpointer data)
{
  Follow *f = data;

  f->cancelled_in = g_thread_self ();
  g_atomic_int_inc (&f->n_cancelled);
}

static gboolean
connect_in_thread (gpointer data)
{
  Follow *f = data;

  g_cancellable_connect (braid_thread_cancellable_get (f->follower), G_CALLBACK (on_follower_cancelled), f, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
free_in_thread (gpointer data)
{
  Follow *f = data;

  braid_thread_cancellable_free (g_steal_pointer (&f->follower));
  return G_SOURCE_REMOVE;
}

static gboolean
set_flag (gpointer data)
{
  g_atomic_int_set ((gint *) data, TRUE);
  return G_SOURCE_REMOVE;
}

/* Waits until everything invoked in @thread before now has run. */
static void
sync_with (BraidFetchThread *thread)
{
  gint done = FALSE;

  braid_fetch_thread_invoke (thread, set_flag, &done, NULL);
  while (!g_atomic_int_get (&done))
    g_usleep (1000);
}

static void
test_cancellable_follows (void)
{
  BraidFetchThread *thread = braid_fetch_thread_new ("test-fetch", NULL, NULL, NULL);
  g_autoptr(GCancellable) caller = g_cancellable_new ();
  g_autoptr(GCancellable) early = g_cancellable_new ();
  Follow f = { 0, }, after = { 0, };

  g_test_summary ("The follower of a cancellable is cancelled when the caller's is, in the thread, not in the "
                  "caller's; one made from a cancellable already cancelled is cancelled before anything "
                  "invoked after it; once freed it follows no more");
  f.follower = braid_thread_cancellable_new (thread, caller);
  braid_fetch_thread_invoke (thread, connect_in_thread, &f, NULL);
  sync_with (thread);
  g_cancellable_cancel (caller);
  sync_with (thread);
  g_assert_cmpint (g_atomic_int_get (&f.n_cancelled), ==, 1);
  g_assert_true (f.cancelled_in != g_thread_self ());
  braid_fetch_thread_invoke (thread, free_in_thread, &f, NULL);
  sync_with (thread);

  g_cancellable_cancel (early);
  after.follower = braid_thread_cancellable_new (thread, early);
  braid_fetch_thread_invoke (thread, connect_in_thread, &after, NULL);
  sync_with (thread);
  /* connected to a follower cancelled already: the handler ran at once */
  g_assert_cmpint (g_atomic_int_get (&after.n_cancelled), ==, 1);
  braid_fetch_thread_invoke (thread, free_in_thread, &after, NULL);
  sync_with (thread);

  {
    g_autoptr(GCancellable) later = g_cancellable_new ();
    Follow gone = { 0, };

    gone.follower = braid_thread_cancellable_new (thread, later);
    braid_fetch_thread_invoke (thread, connect_in_thread, &gone, NULL);
    braid_fetch_thread_invoke (thread, free_in_thread, &gone, NULL);
    sync_with (thread);
    g_cancellable_cancel (later);
    sync_with (thread);
    g_assert_cmpint (g_atomic_int_get (&gone.n_cancelled), ==, 0);
  }
  braid_fetch_thread_free (thread);
}

/* ---- a stream read from another thread ---- */

typedef struct {
  GInputStream *base;          /* made in the thread */
  GInputStream *stream;
  GThread *base_freed_in;
  GObject *owner;
  BraidFetchThread *thread;
} Body;

static void
on_base_finalized (gpointer data, GObject *where_the_object_was)
{
  ((Body *) data)->base_freed_in = g_thread_self ();
}

static gboolean
make_stream_in_thread (gpointer data)
{
  Body *b = data;

  b->base = g_memory_input_stream_new_from_data ("the body", 8, NULL);
  g_object_weak_ref (G_OBJECT (b->base), on_base_finalized, b);
  b->stream = braid_thread_input_stream_new (b->base, b->thread, b->owner);
  return G_SOURCE_REMOVE;
}

typedef struct {
  gboolean done;
  gssize n;
  GError *error;
} ReadResult;

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  ReadResult *r = data;

  r->n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &r->error);
  r->done = TRUE;
}

static void
test_stream_reads (void)
{
  g_autoptr(GObject) owner = g_object_new (G_TYPE_OBJECT, NULL);
  Body b = { 0, };
  ReadResult first = { 0, }, last = { 0, };
  g_autoptr(GError) error = NULL;
  gchar buffer[16];
  gssize n;

  g_test_summary ("A stream made in the thread is read from here, asynchronously (the callback here) and "
                  "synchronously; closing it hands the base stream back to the thread, which frees it");
  b.thread = braid_fetch_thread_new ("test-fetch", NULL, NULL, NULL);
  b.owner = owner;
  braid_fetch_thread_invoke (b.thread, make_stream_in_thread, &b, NULL);
  sync_with (b.thread);
  g_assert_nonnull (b.stream);

  g_input_stream_read_async (b.stream, buffer, 4, G_PRIORITY_DEFAULT, NULL, on_read, &first);
  braid_test_wait_for_flag (NULL, &first.done, DEADLINE_MS);
  g_assert_no_error (first.error);
  g_assert_cmpint (first.n, ==, 4);
  braid_assert_bytes_equal ("the ", 4, buffer, 4);

  n = g_input_stream_read (b.stream, buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 4);
  braid_assert_bytes_equal ("body", 4, buffer, 4);

  g_input_stream_read_async (b.stream, buffer, sizeof buffer, G_PRIORITY_DEFAULT, NULL, on_read, &last);
  braid_test_wait_for_flag (NULL, &last.done, DEADLINE_MS);
  g_assert_no_error (last.error);
  g_assert_cmpint (last.n, ==, 0);

  g_assert_true (g_input_stream_close (b.stream, NULL, &error));
  g_assert_no_error (error);
  sync_with (b.thread);
  g_assert_nonnull (b.base_freed_in);
  g_assert_true (b.base_freed_in != g_thread_self ());
  g_object_add_weak_pointer (G_OBJECT (b.stream), (gpointer *) &b.stream);
  g_object_unref (b.stream);
  wait_until_null ((gpointer *) &b.stream);
  braid_fetch_thread_free (b.thread);
}

static void
test_stream_cancelled_read (void)
{
  g_autoptr(GObject) owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Body b = { 0, };
  ReadResult r = { 0, };
  gchar buffer[16];

  g_test_summary ("A read asked with a cancellable already cancelled ends with CANCELLED, here");
  b.thread = braid_fetch_thread_new ("test-fetch", NULL, NULL, NULL);
  b.owner = owner;
  braid_fetch_thread_invoke (b.thread, make_stream_in_thread, &b, NULL);
  sync_with (b.thread);
  g_cancellable_cancel (cancellable);
  g_input_stream_read_async (b.stream, buffer, sizeof buffer, G_PRIORITY_DEFAULT, cancellable, on_read, &r);
  braid_test_wait_for_flag (NULL, &r.done, DEADLINE_MS);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (r.n, ==, -1);
  g_clear_error (&r.error);
  /* never closed: finalizing hands the base back all the same (the read's
   * task, released in this context, holds the stream until then) */
  g_object_add_weak_pointer (G_OBJECT (b.stream), (gpointer *) &b.stream);
  g_object_unref (b.stream);
  wait_until_null ((gpointer *) &b.stream);
  sync_with (b.thread);
  g_assert_nonnull (b.base_freed_in);
  braid_fetch_thread_free (b.thread);
}

static void
test_stream_preconditions (void)
{
  g_autoptr(GObject) owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GObject) stranger = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GTask) foreign = NULL;
  g_autoptr(GTask) untagged = NULL;
  Body b = { 0, };
  BraidCriticalCounter counter;

  g_test_summary ("read_finish refuses a result that is not the stream's, or not one of its reads: a "
                  "critical and -1; a stream needs a base, a thread and an owner");
  b.thread = braid_fetch_thread_new ("test-fetch", NULL, NULL, NULL);
  b.owner = owner;
  braid_fetch_thread_invoke (b.thread, make_stream_in_thread, &b, NULL);
  sync_with (b.thread);
  foreign = g_task_new (stranger, NULL, NULL, NULL);
  g_task_return_int (foreign, 3);
  untagged = g_task_new (b.stream, NULL, NULL, NULL);
  g_task_set_source_tag (untagged, test_stream_preconditions);
  g_task_return_int (untagged, 3);

  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (G_INPUT_STREAM_GET_CLASS (b.stream)->read_finish (
                                            b.stream, G_ASYNC_RESULT (foreign), NULL), ==, -1));
  BRAID_EXPECT_CRITICAL (g_assert_cmpint (G_INPUT_STREAM_GET_CLASS (b.stream)->read_finish (
                                            b.stream, G_ASYNC_RESULT (untagged), NULL), ==, -1));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_thread_input_stream_new (NULL, b.thread, owner)));
  BRAID_EXPECT_CRITICAL (g_assert_null (braid_thread_input_stream_new (b.stream, NULL, owner)));
  braid_test_count_criticals_end (&counter);
  g_clear_object (&b.stream);
  braid_fetch_thread_free (b.thread);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/fetch-thread/runs-in-order", test_thread_runs_in_order);
  g_test_add_func ("/proxy/fetch-thread/release-task", test_thread_release_task);
  g_test_add_func ("/proxy/fetch-thread/cancellable-follows", test_cancellable_follows);
  g_test_add_func ("/proxy/thread-input-stream/reads", test_stream_reads);
  g_test_add_func ("/proxy/thread-input-stream/cancelled-read", test_stream_cancelled_read);
  g_test_add_func ("/proxy/thread-input-stream/preconditions", test_stream_preconditions);
  return g_test_run ();
}
