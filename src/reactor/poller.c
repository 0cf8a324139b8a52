/* braid — the real reactor's readiness poller: one GSource, one epoll
 * instance, the timer queue and the deferred flushes.  See
 * poller-private.h for why. */
#include "poller-private.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Events taken from the kernel per dispatch; more wait for the next
 * iteration, which comes at once (the epoll fd stays readable). */
#define MAX_EVENTS 256

typedef struct {
  GSource source;
  BraidPoller *poller;
} PollerSource;

typedef struct {
  BraidPollerFlushFunc func;
  gpointer user_data;
  GDestroyNotify unref;
} Deferred;

struct _BraidPoller
{
  PollerSource *source;     /* (owned) */
  gpointer epoll_tag;
  gint epoll_fd;
  BraidTimerQueue *timers;  /* (unowned) */
  GQueue deferred;          /* (element-type Deferred) (owned) */
  GPtrArray *removed;       /* watches removed during a dispatch, freed at its end */
  guint dispatching;        /* depth: a callback may run a nested loop */
};

struct _BraidPollerWatch
{
  BraidPoller *poller;
  gint fd;
  GIOCondition events;
  gboolean registered;      /* in the epoll set */
  gboolean removed;
  BraidPollerFunc func;
  gpointer user_data;
};

/* ---- the GSource ---- */

static gboolean
timers_due (BraidPoller *self, gint64 now)
{
  gint64 next = braid_timer_queue_next_time (self->timers);

  return next >= 0 && next <= now;
}

static gboolean
poller_prepare (GSource *source, gint *timeout)
{
  BraidPoller *self = ((PollerSource *) source)->poller;
  gint64 next = braid_timer_queue_next_time (self->timers);
  gint64 now;

  if (self->deferred.length > 0)
    {
      *timeout = 0;
      return TRUE;
    }
  if (next < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  now = g_get_monotonic_time ();
  if (next <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  /* Round up: waking a millisecond early would only poll again. */
  *timeout = (gint) MIN ((next - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
poller_check (GSource *source)
{
  BraidPoller *self = ((PollerSource *) source)->poller;

  return (g_source_query_unix_fd (source, self->epoll_tag) & G_IO_IN) != 0 ||
         self->deferred.length > 0 ||
         timers_due (self, g_get_monotonic_time ());
}

static GIOCondition
condition_from_epoll (guint32 events)
{
  return ((events & EPOLLIN) ? G_IO_IN : 0) | ((events & EPOLLOUT) ? G_IO_OUT : 0) |
         ((events & EPOLLHUP) ? G_IO_HUP : 0) | ((events & EPOLLERR) ? G_IO_ERR : 0);
}

static void
dispatch_ready (BraidPoller *self)
{
  struct epoll_event events[MAX_EVENTS];
  gint n;

  do
    n = epoll_wait (self->epoll_fd, events, MAX_EVENTS, 0);
  while (n < 0 && errno == EINTR);
  for (gint i = 0; i < n; i++)
    {
      BraidPollerWatch *watch = events[i].data.ptr;

      /* An earlier callback of this batch may have removed it. */
      if (!watch->removed)
        watch->func (watch->user_data, condition_from_epoll (events[i].events));
    }
}

/* Runs what was deferred before this point; what those calls defer in
 * turn waits for the next iteration, so a protocol that writes from
 * output_drained cannot keep the loop here. */
static void
run_deferred (BraidPoller *self)
{
  guint n = self->deferred.length;

  for (guint i = 0; i < n; i++)
    {
      Deferred *deferred = g_queue_pop_head (&self->deferred);

      deferred->func (deferred->user_data);
      if (deferred->unref != NULL)
        deferred->unref (deferred->user_data);
      g_free (deferred);
    }
}

static gboolean
poller_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  BraidPoller *self = ((PollerSource *) source)->poller;

  self->dispatching++;
  if (g_source_query_unix_fd (source, self->epoll_tag) & G_IO_IN)
    dispatch_ready (self);
  braid_timer_queue_run_due (self->timers, g_get_monotonic_time ());
  run_deferred (self);
  if (--self->dispatching == 0)
    g_ptr_array_set_size (self->removed, 0);
  return G_SOURCE_CONTINUE;
}

void
braid_poller_run_deferred (BraidPoller *self)
{
  self->dispatching++;
  run_deferred (self);
  if (--self->dispatching == 0)
    g_ptr_array_set_size (self->removed, 0);
}

static GSourceFuncs poller_source_funcs = {
  poller_prepare, poller_check, poller_dispatch, NULL, NULL, NULL,
};

/* ---- the poller ---- */

BraidPoller *
braid_poller_new (GMainContext *context, BraidTimerQueue *timers)
{
  BraidPoller *self = g_new0 (BraidPoller, 1);

  self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epoll_fd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  self->timers = timers;
  self->removed = g_ptr_array_new_with_free_func (g_free);
  /* self->deferred: g_new0 made it an empty queue */
  self->source = (PollerSource *) g_source_new (&poller_source_funcs, sizeof (PollerSource));
  self->source->poller = self;
  g_source_set_static_name (&self->source->source, "braid poller");
  /* Without this GLib "blocks" the source around each dispatch, removing
   * and re-adding its fd, and each of the two signals the context's
   * eventfd: two write(2)s per iteration for nothing.  The dispatch is
   * reentrant (see dispatching). */
  g_source_set_can_recurse (&self->source->source, TRUE);
  self->epoll_tag = g_source_add_unix_fd (&self->source->source, self->epoll_fd, G_IO_IN);
  g_source_attach (&self->source->source, context);
  return self;
}

void
braid_poller_free (BraidPoller *self)
{
  Deferred *deferred;

  g_source_destroy (&self->source->source);
  g_source_unref (&self->source->source);
  while ((deferred = g_queue_pop_head (&self->deferred)) != NULL)
    {
      if (deferred->unref != NULL)
        deferred->unref (deferred->user_data);
      g_free (deferred);
    }
  g_ptr_array_unref (self->removed);
  close (self->epoll_fd);
  g_free (self);
}

BraidPollerWatch *
braid_poller_watch_fd (BraidPoller *poller, gint fd, GIOCondition events,
                       BraidPollerFunc func, gpointer user_data)
{
  BraidPollerWatch *watch = g_new0 (BraidPollerWatch, 1);

  watch->poller = poller;
  watch->fd = fd;
  watch->func = func;
  watch->user_data = user_data;
  braid_poller_watch_set_events (watch, events);
  return watch;
}

/* Interest 0 takes the fd out of the set: epoll reports HUP and ERR even
 * when not asked, and a paused reader must not be told of them in a loop. */
void
braid_poller_watch_set_events (BraidPollerWatch *watch, GIOCondition events)
{
  struct epoll_event event = { 0 };
  gint op;

  events &= G_IO_IN | G_IO_OUT;
  if (watch->removed || (events == watch->events && watch->registered == (events != 0)))
    return;
  watch->events = events;
  event.events = ((events & G_IO_IN) ? EPOLLIN : 0) | ((events & G_IO_OUT) ? EPOLLOUT : 0);
  event.data.ptr = watch;
  if (events == 0)
    op = EPOLL_CTL_DEL;
  else
    op = watch->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl (watch->poller->epoll_fd, op, watch->fd, &event) < 0)
    g_warning ("epoll_ctl on fd %d: %s", watch->fd, g_strerror (errno));
  watch->registered = events != 0;
}

GIOCondition
braid_poller_watch_get_events (BraidPollerWatch *watch)
{
  return watch->events;
}

void
braid_poller_watch_remove (BraidPollerWatch *watch)
{
  BraidPoller *poller = watch->poller;

  if (watch->registered)
    epoll_ctl (poller->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
  watch->registered = FALSE;
  watch->removed = TRUE;
  if (poller->dispatching > 0)
    g_ptr_array_add (poller->removed, watch);
  else
    g_free (watch);
}

void
braid_poller_defer (BraidPoller *poller, BraidPollerFlushFunc func, gpointer user_data,
                    gpointer (*ref) (gpointer), GDestroyNotify unref)
{
  Deferred *deferred = g_new (Deferred, 1);

  deferred->func = func;
  deferred->user_data = ref != NULL ? ref (user_data) : user_data;
  deferred->unref = unref;
  g_queue_push_tail (&poller->deferred, deferred);
}

guint
braid_poller_get_n_removed_held (BraidPoller *poller)
{
  return poller->removed->len;
}
