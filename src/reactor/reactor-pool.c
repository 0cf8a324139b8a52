/* braid — reactor threads: each a BraidGlibReactor on a GMainContext of
 * its own, started together and stopped together. */
#include "reactor-pool.h"
#include "glib-reactor-private.h"
#include "tsan-private.h"

typedef struct {
  GThread *thread;
  GMainContext *context;        /* (owned) */
  BraidGlibReactor *reactor;    /* (owned): created and disposed in @thread */
} Worker;

struct _BraidReactorPool
{
  guint n_workers;
  Worker *workers;
  GMutex lock;
  GCond started;
  guint n_started;
  guint next;               /* the thread the next handed-off connection goes to */
};

typedef struct {
  BraidReactorPool *pool;
  Worker *worker;
} WorkerStart;

static gpointer
worker_main (gpointer data)
{
  WorkerStart *start = data;
  BraidReactorPool *pool = start->pool;
  Worker *worker = start->worker;

  g_free (start);
  g_main_context_push_thread_default (worker->context);
  worker->reactor = braid_glib_reactor_new (worker->context);
  braid_mutex_lock (&pool->lock);
  pool->n_started++;
  g_cond_broadcast (&pool->started);
  braid_mutex_unlock (&pool->lock);

  braid_reactor_run (BRAID_REACTOR (worker->reactor));

  /* Abort what is left here, in this thread, and let the protocols hear
   * of it before the thread ends. */
  g_object_run_dispose (G_OBJECT (worker->reactor));
  while (g_main_context_iteration (worker->context, FALSE))
    ;
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

BraidReactorPool *
braid_reactor_pool_new (guint n_threads, const gchar *name)
{
  BraidReactorPool *pool = g_new0 (BraidReactorPool, 1);

  pool->n_workers = MAX (n_threads, 1);
  pool->workers = g_new0 (Worker, pool->n_workers);
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->started);
  for (guint i = 0; i < pool->n_workers; i++)
    {
      WorkerStart *start = g_new (WorkerStart, 1);
      g_autofree gchar *thread_name = g_strdup_printf ("%s-%u", name != NULL ? name : "braid", i + 1);

      start->pool = pool;
      start->worker = &pool->workers[i];
      pool->workers[i].context = g_main_context_new ();
      pool->workers[i].thread = g_thread_new (thread_name, worker_main, start);
    }
  braid_mutex_lock (&pool->lock);
  while (pool->n_started < pool->n_workers)
    {
      BRAID_TSAN_RELEASE (&pool->lock);
      g_cond_wait (&pool->started, &pool->lock);
      BRAID_TSAN_ACQUIRE (&pool->lock);
    }
  braid_mutex_unlock (&pool->lock);
  return pool;
}

static gboolean
stop_in_thread (gpointer data)
{
  BRAID_TSAN_ACQUIRE (data);  /* handed over by g_main_context_invoke */
  braid_reactor_stop (BRAID_REACTOR (data));
  return G_SOURCE_REMOVE;
}

void
braid_reactor_pool_free (BraidReactorPool *pool)
{
  if (pool == NULL)
    return;
  for (guint i = 0; i < pool->n_workers; i++)
    {
      BRAID_TSAN_RELEASE (pool->workers[i].reactor);
      g_main_context_invoke (pool->workers[i].context, stop_in_thread, pool->workers[i].reactor);
    }
  for (guint i = 0; i < pool->n_workers; i++)
    {
      g_thread_join (pool->workers[i].thread);
      g_clear_object (&pool->workers[i].reactor);
      g_main_context_unref (pool->workers[i].context);
    }
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->started);
  g_free (pool->workers);
  g_free (pool);
}

guint
braid_reactor_pool_get_size (BraidReactorPool *pool)
{
  return pool->n_workers;
}

BraidGlibReactor *
braid_reactor_pool_get_reactor (BraidReactorPool *pool, guint index)
{
  g_return_val_if_fail (index < pool->n_workers, NULL);
  return pool->workers[index].reactor;
}

/* Round robin, on the listener's thread (one listener thread per pool). */
static BraidGlibReactor *
next_reactor (gpointer data)
{
  BraidReactorPool *pool = data;

  return pool->workers[pool->next++ % pool->n_workers].reactor;
}

gboolean
braid_glib_listener_distribute (BraidListener *listener, BraidReactorPool *pool)
{
  return braid_glib_listener_set_target_func (listener, next_reactor, pool);
}
