/* braid — a flight: one upstream fetch fanned out to every client on it.
 *
 * The body is ONE list of GBytes chunks, as they came from the stream,
 * shared by every client: each chunk is written to every client's
 * transport as the same GBytes, and a client that joins late gets the
 * chunks held so far, so joining costs references, not copies.  A
 * client's place in the body is what it was given minus its transport's
 * backlog.
 *
 * Memory is bounded as follows.  A flight whose body may be cached keeps
 * every chunk, up to keep_limit (the cache's item size) and while the
 * proxy's max_buffered allows; past either it stops keeping.  A flight
 * that keeps nothing drops each chunk as soon as every client has sent it,
 * and takes no new clients once its first chunk is gone (the proxy starts
 * a new flight for them).  Upstream is read while the least backlogged
 * client is within client_buffer_limit (no client means read on, to
 * cache), so the fastest client sets the pace; on a flight that keeps
 * nothing, a client more than client_buffer_limit behind the fastest is
 * cut off, so that one slow reader never stalls the others nor makes the
 * flight hold more than about twice the limit.  When the last client
 * leaves a flight that keeps nothing, the fetch is cancelled. */
#include "proxy-flight-private.h"
#include "proxy-error.h"

#include <string.h>

typedef struct {
  const BraidProxyFlightClientFuncs *funcs;
  gpointer client;
  GDestroyNotify client_destroy;   /* (nullable) */
  gboolean detached;               /* left or cut off: gets nothing more */
} Client;

struct _BraidProxyFlight
{
  BraidFetcher *fetcher;            /* (owned) */
  gchar *url;                       /* (owned) */
  BraidProxyFlightLimits limits;
  BraidProxyFlightDoneFunc done;
  gpointer done_data;
  GArray *clients;                  /* (element-type Client) */
  GQueue chunks;                    /* (element-type GBytes) (owned): held, oldest first */
  gsize first_offset;               /* body offset of the first chunk held */
  gsize held;                       /* sum of the held chunks' sizes */
  gsize size;                       /* bytes of body received */
  gboolean keeping;                 /* every chunk is kept (for the cache) */
  guint status;
  GHashTable *headers;              /* (owned) (nullable): for the cache policy */
  GInputStream *stream;             /* (owned) (nullable) */
  GCancellable *cancellable;        /* (owned) */
  gboolean pending;                 /* a fetch or read is under way: it frees an ended flight */
  gboolean waiting;                 /* for a client to drain */
  gboolean finished;
};

static void flight_read_next (BraidProxyFlight *self);

static void
client_clear (Client *c)
{
  if (c->client_destroy != NULL)
    c->client_destroy (c->client);
}

static void
held_add (BraidProxyFlight *self, GBytes *chunk)
{
  gsize len = g_bytes_get_size (chunk);

  g_queue_push_tail (&self->chunks, g_bytes_ref (chunk));
  self->held += len;
  if (self->limits.stats != NULL)
    self->limits.stats->buffered += len;
}

static void
held_drop_first (BraidProxyFlight *self)
{
  GBytes *chunk = g_queue_pop_head (&self->chunks);
  gsize len = g_bytes_get_size (chunk);

  self->first_offset += len;
  self->held -= len;
  if (self->limits.stats != NULL)
    self->limits.stats->buffered -= len;
  g_bytes_unref (chunk);
}

static void
flight_free (BraidProxyFlight *self)
{
  while (!g_queue_is_empty (&self->chunks))
    held_drop_first (self);
  g_array_unref (self->clients);
  g_clear_object (&self->stream);
  g_clear_pointer (&self->headers, g_hash_table_unref);
  g_object_unref (self->cancellable);
  g_object_unref (self->fetcher);
  g_free (self->url);
  g_free (self);
}

/* The flight is over: the owner hears of it first (so that nobody joins
 * it any more), then every client on it ends, then it is freed (by the
 * fetch or read under way, if any, once it returns). */
static void
flight_end (BraidProxyFlight *self, BraidProxyFlightResult result, guint status, const gchar *problem)
{
  self->finished = TRUE;
  if (self->pending)
    g_cancellable_cancel (self->cancellable);
  self->done (self, result, self->done_data);
  /* A client's finish() may end its connection, but it cannot add or
   * remove clients: the array stays put while we walk it. */
  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (!c->detached)
        {
          c->detached = TRUE;
          c->funcs->finish (c->client, status, problem);
        }
    }
  /* The clients' transports keep what they still have to send. */
  while (!g_queue_is_empty (&self->chunks))
    held_drop_first (self);
  if (!self->pending)
    flight_free (self);
}

/* The least backlog of the clients on the flight; G_MAXSIZE with none. */
static gsize
min_backlog (BraidProxyFlight *self)
{
  gsize min = G_MAXSIZE;

  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (!c->detached)
        min = MIN (min, c->funcs->get_backlog (c->client));
    }
  return min;
}

/* After chunks arrive or clients drain or leave: cuts off the laggards
 * and drops the chunks every client has sent, when the flight keeps
 * nothing; cancels it when it has no client left.  Returns whether the
 * flight ended (it may be freed). */
static gboolean
flight_settle (BraidProxyFlight *self)
{
  gsize min, max = 0;

  if (self->finished || self->keeping)
    return FALSE;
  min = min_backlog (self);
  if (min == G_MAXSIZE)
    {
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_ABANDONED, self->status, "every client left");
      return TRUE;
    }
  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);
      gsize backlog;

      if (c->detached)
        continue;
      backlog = c->funcs->get_backlog (c->client);
      if (backlog - min > self->limits.client_buffer_limit)
        {
          g_autofree gchar *why = g_strdup_printf ("too slow: over %" G_GSIZE_FORMAT
                                                   " bytes behind the other clients",
                                                   self->limits.client_buffer_limit);

          c->detached = TRUE;
          if (self->limits.stats != NULL)
            self->limits.stats->slow_clients++;
          c->funcs->finish (c->client, self->status, why);
          continue;
        }
      max = MAX (max, backlog);
    }
  /* Every client has sent all but its last @max bytes. */
  while (!g_queue_is_empty (&self->chunks) &&
         self->first_offset + g_bytes_get_size (g_queue_peek_head (&self->chunks)) + max <= self->size)
    held_drop_first (self);
  return FALSE;
}

static void
on_chunk (GObject *source, GAsyncResult *result, gpointer data)
{
  BraidProxyFlight *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  gsize len;

  self->pending = FALSE;
  if (self->finished)
    {
      flight_free (self);
      return;
    }
  if (chunk == NULL)
    {
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR, 502, error->message);
      return;
    }
  len = g_bytes_get_size (chunk);
  if (len == 0)
    {
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_COMPLETE, self->status, NULL);
      return;
    }
  if (self->size + len > self->limits.max_body)
    {
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_TOO_LARGE, self->status, "body over the size limit: cut off");
      return;
    }
  if (self->keeping &&
      (self->size + len > self->limits.keep_limit ||
       (self->limits.max_buffered > 0 && self->limits.stats != NULL &&
        self->limits.stats->buffered + len > self->limits.max_buffered)))
    self->keeping = FALSE;  /* will not be cached: from now on, hold only what clients need */
  held_add (self, chunk);
  self->size += len;
  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (!c->detached)
        c->funcs->write (c->client, chunk);
    }
  if (flight_settle (self))
    return;
  flight_read_next (self);
}

static void
flight_read_next (BraidProxyFlight *self)
{
  gsize min;

  if (self->pending || self->finished || self->stream == NULL)
    return;
  min = min_backlog (self);
  if (min != G_MAXSIZE && min > self->limits.client_buffer_limit)
    {
      /* Back pressure from the fastest client: braid_proxy_flight_client_drained() wakes us. */
      self->waiting = TRUE;
      return;
    }
  self->waiting = FALSE;
  self->pending = TRUE;
  g_input_stream_read_bytes_async (self->stream, self->limits.read_chunk, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_chunk, self);
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  BraidProxyFlight *self = data;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  self->pending = FALSE;
  self->stream = braid_fetcher_fetch_finish (BRAID_FETCHER (source), result, &status, &error);
  if (self->finished)
    {
      flight_free (self);
      return;
    }
  if (self->stream == NULL && g_error_matches (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN))
    {
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_REFUSED, 403, error->message);
      return;
    }
  if (self->stream == NULL)
    {
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR,
                  g_error_matches (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT) ? 504 : 502,
                  error->message);
      return;
    }
  self->status = status;
  self->headers = braid_fetcher_dup_response_headers (BRAID_FETCHER (source), result);
  if (status < 200 || status >= 300)
    self->keeping = FALSE;  /* only 2xx bodies are cached */
  if (flight_settle (self))
    return;
  flight_read_next (self);
}

BraidProxyFlight *
braid_proxy_flight_start (BraidFetcher *fetcher, const gchar *url, const BraidProxyFlightLimits *limits,
                          BraidProxyFlightDoneFunc done, gpointer user_data)
{
  BraidProxyFlight *self;

  g_return_val_if_fail (BRAID_IS_FETCHER (fetcher), NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (limits != NULL && limits->read_chunk > 0, NULL);
  g_return_val_if_fail (done != NULL, NULL);

  self = g_new0 (BraidProxyFlight, 1);
  self->fetcher = g_object_ref (fetcher);
  self->url = g_strdup (url);
  self->limits = *limits;
  self->done = done;
  self->done_data = user_data;
  self->clients = g_array_new (FALSE, FALSE, sizeof (Client));
  g_array_set_clear_func (self->clients, (GDestroyNotify) client_clear);
  g_queue_init (&self->chunks);
  self->keeping = limits->keep_limit > 0;
  self->cancellable = g_cancellable_new ();
  self->pending = TRUE;
  braid_fetcher_fetch_async (fetcher, url, self->cancellable, on_fetched, self);
  return self;
}

void
braid_proxy_flight_add_client (BraidProxyFlight *self, const BraidProxyFlightClientFuncs *funcs,
                               gpointer client, GDestroyNotify client_destroy)
{
  Client c = { funcs, client, client_destroy, FALSE };

  g_return_if_fail (self != NULL);
  g_return_if_fail (!self->finished);
  g_return_if_fail (funcs != NULL && funcs->write != NULL && funcs->get_backlog != NULL && funcs->finish != NULL);

  g_return_if_fail (self->first_offset == 0);

  g_array_append_val (self->clients, c);
  /* A late joiner gets what has arrived so far: the same GBytes. */
  for (GList *l = self->chunks.head; l != NULL; l = l->next)
    funcs->write (client, l->data);
}

gboolean
braid_proxy_flight_is_joinable (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return !self->finished && self->first_offset == 0;
}

void
braid_proxy_flight_remove_client (BraidProxyFlight *self, gpointer client)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (c->client == client)
        c->detached = TRUE;
    }
  /* If it was the last client, the flight may end; if the flight was
   * waiting on this client, it need wait no more. */
  braid_proxy_flight_client_drained (self);
}

void
braid_proxy_flight_client_drained (BraidProxyFlight *self)
{
  g_return_if_fail (self != NULL);

  if (self->finished || flight_settle (self))
    return;
  if (self->waiting)
    flight_read_next (self);
}

const gchar *
braid_proxy_flight_get_url (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->url;
}

guint
braid_proxy_flight_get_status (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->status;
}

GHashTable *
braid_proxy_flight_get_response_headers (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->headers;
}

gsize
braid_proxy_flight_get_size (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->size;
}

gsize
braid_proxy_flight_get_held (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->held;
}

gboolean
braid_proxy_flight_has_whole_body (BraidProxyFlight *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->first_offset == 0 && self->held == self->size;
}

GBytes *
braid_proxy_flight_dup_body (BraidProxyFlight *self)
{
  guint8 *body;
  gsize offset = 0;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (braid_proxy_flight_has_whole_body (self), NULL);

  if (g_queue_is_empty (&self->chunks))
    return g_bytes_new (NULL, 0);
  if (self->chunks.length == 1)
    return g_bytes_ref (g_queue_peek_head (&self->chunks));
  body = g_malloc (self->size);
  for (GList *l = self->chunks.head; l != NULL; l = l->next)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (l->data, &len);

      memcpy (body + offset, data, len);
      offset += len;
    }
  return g_bytes_new_take (body, self->size);
}
