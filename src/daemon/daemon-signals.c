/* braid — a daemon's Unix signals, watched off its main loop: see
 * daemon-signals.h.
 *
 * The sources run in a BraidFetchThread (a thread with a GMainContext of
 * its own, fetch-thread.h) that holds nothing else, and wake it only
 * when a signal comes; they are made and destroyed in that thread.  A signal is handed to the target as an
 * idle source attached there (not g_main_context_invoke(), which would
 * run the call in the signal thread whenever the target's context
 * happens to be free).  What it hands over holds a reference on a small
 * link, never on the watcher: braid_daemon_signals_free() marks the link
 * dead in the target's thread, so a delivery still queued there finds it
 * dead and does nothing. */
#include "daemon-signals.h"
#include "fetch-thread.h"

#include <glib-unix.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_SIGNALS 8

typedef struct {
  gatomicrefcount ref_count;
  BraidDaemonSignalFunc func;
  gpointer user_data;
  gboolean alive;           /* read and written in the target's thread only */
} Link;

struct _BraidDaemonSignals
{
  BraidFetchThread *thread;  /* (owned) */
  GMainContext *target;     /* (owned) */
  Link *link;               /* (owned) */
  GSource *sources[MAX_SIGNALS];  /* (owned): made, used and destroyed in the thread */
  int signals[MAX_SIGNALS];
  gsize n_signals;
};

typedef struct {
  Link *link;               /* (owned) */
  int signum;
  atomic_int attached;      /* the signal thread is done with it */
} Delivery;

static Link *
link_ref (Link *link)
{
  g_atomic_ref_count_inc (&link->ref_count);
  return link;
}

static void
link_unref (Link *link)
{
  if (g_atomic_ref_count_dec (&link->ref_count))
    g_free (link);
}

static gboolean
deliver (gpointer data)
{
  Delivery *delivery = data;

  /* The signal thread may still be returning from g_source_attach(),
   * which allocated for the source what is freed here after this
   * dispatch; the hand-over under the context's lock is one
   * ThreadSanitizer cannot see, this one it can.  A few instructions'
   * wait at most, once per signal. */
  while (!atomic_load_explicit (&delivery->attached, memory_order_acquire))
    g_thread_yield ();
  if (delivery->link->alive)
    delivery->link->func (delivery->signum, delivery->link->user_data);
  return G_SOURCE_REMOVE;
}

static void
delivery_free (gpointer data)
{
  Delivery *delivery = data;

  link_unref (delivery->link);
  g_free (delivery);
}

/* In the signal thread. */
static gboolean
on_signal (gpointer data)
{
  BraidDaemonSignals *self = data;
  GSource *current = g_main_current_source ();

  for (gsize i = 0; i < self->n_signals; i++)
    if (self->sources[i] == current)
      {
        Delivery *delivery = g_new (Delivery, 1);
        GSource *source = g_idle_source_new ();

        delivery->link = link_ref (self->link);
        delivery->signum = self->signals[i];
        atomic_init (&delivery->attached, 0);
        g_source_set_callback (source, deliver, delivery, delivery_free);
        g_source_set_static_name (source, "braid signal delivery");
        g_source_attach (source, self->target);
        g_source_unref (source);  /* the target's reference keeps it, and @delivery */
        atomic_store_explicit (&delivery->attached, 1, memory_order_release);
      }
  return G_SOURCE_CONTINUE;
}

/* In the signal thread, before anything else: its context is the
 * thread's default. */
static void
attach_sources (gpointer data, gpointer unused)
{
  BraidDaemonSignals *self = data;

  for (gsize i = 0; i < self->n_signals; i++)
    {
      self->sources[i] = g_unix_signal_source_new (self->signals[i]);
      g_source_set_callback (self->sources[i], on_signal, self, NULL);
      g_source_set_static_name (self->sources[i], "braid signal");
      g_source_attach (self->sources[i], g_main_context_get_thread_default ());
    }
}

/* In the signal thread, once its loop stopped. */
static void
destroy_sources (gpointer data, gpointer unused)
{
  BraidDaemonSignals *self = data;

  for (gsize i = 0; i < self->n_signals; i++)
    {
      g_source_destroy (self->sources[i]);
      g_clear_pointer (&self->sources[i], g_source_unref);
    }
}

BraidDaemonSignals *
braid_daemon_signals_new (const int *signals, gsize n_signals, GMainContext *target,
                          BraidDaemonSignalFunc func, gpointer user_data)
{
  BraidDaemonSignals *self;

  g_return_val_if_fail (signals != NULL && n_signals > 0 && n_signals <= MAX_SIGNALS, NULL);
  g_return_val_if_fail (target != NULL && func != NULL, NULL);

  self = g_new0 (BraidDaemonSignals, 1);
  self->target = g_main_context_ref (target);
  self->link = g_new0 (Link, 1);
  g_atomic_ref_count_init (&self->link->ref_count);
  self->link->func = func;
  self->link->user_data = user_data;
  self->link->alive = TRUE;
  self->n_signals = n_signals;
  memcpy (self->signals, signals, n_signals * sizeof *signals);
  /* returns once attach_sources has run */
  self->thread = braid_fetch_thread_new ("braid-signals", attach_sources, destroy_sources, self);
  return self;
}

void
braid_daemon_signals_free (BraidDaemonSignals *self)
{
  if (self == NULL)
    return;
  self->link->alive = FALSE;
  braid_fetch_thread_free (self->thread);
  link_unref (self->link);
  g_main_context_unref (self->target);
  g_free (self);
}
