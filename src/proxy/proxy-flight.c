/* braid — a flight: one upstream fetch fanned out to every client on it.
 *
 * The body is kept as a list of GBytes chunks, as they came from the
 * stream: each chunk is written to every client as the same GBytes, and a
 * client that joins late gets the chunks so far, so joining costs
 * references, not copies.  The next chunk is read only when no client's
 * backlog is over the limit, so a slow client slows its flight rather
 * than filling the proxy's memory. */
#include "proxy-flight-private.h"
#include "proxy-error.h"

#include <string.h>

typedef struct {
  const BraidProxyFlightClientFuncs *funcs;
  gpointer client;
  GDestroyNotify client_destroy;   /* (nullable) */
  gboolean detached;               /* left: gets nothing more */
} Client;

struct _BraidProxyFlight
{
  BraidFetcher *fetcher;            /* (owned) */
  gchar *url;                       /* (owned) */
  BraidProxyFlightLimits limits;
  BraidProxyFlightDoneFunc done;
  gpointer done_data;
  GArray *clients;                  /* (element-type Client) */
  GPtrArray *chunks;                /* (element-type GBytes) (owned) */
  gsize size;                       /* sum of the chunks' sizes */
  guint status;
  GHashTable *headers;              /* (owned) (nullable): for the cache policy */
  GInputStream *stream;             /* (owned) (nullable) */
  GCancellable *cancellable;        /* (owned) */
  gboolean reading;
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
flight_free (BraidProxyFlight *self)
{
  g_array_unref (self->clients);
  g_ptr_array_unref (self->chunks);
  g_clear_object (&self->stream);
  g_clear_pointer (&self->headers, g_hash_table_unref);
  g_object_unref (self->cancellable);
  g_object_unref (self->fetcher);
  g_free (self->url);
  g_free (self);
}

/* The flight is over: the owner hears of it first (so that nobody joins
 * it any more), then every client on it ends, then it is freed. */
static void
flight_end (BraidProxyFlight *self, BraidProxyFlightResult result, guint status, const gchar *problem)
{
  self->finished = TRUE;
  self->done (self, result, self->done_data);
  /* A client's finish() may end its connection, but it cannot add or
   * remove clients: the array stays put while we walk it. */
  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (!c->detached)
        c->funcs->finish (c->client, status, problem);
    }
  flight_free (self);
}

static gboolean
any_client_full (BraidProxyFlight *self)
{
  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (!c->detached && c->funcs->get_backlog (c->client) > self->limits.client_buffer_limit)
        return TRUE;
    }
  return FALSE;
}

static void
on_chunk (GObject *source, GAsyncResult *result, gpointer data)
{
  BraidProxyFlight *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  gsize len;

  self->reading = FALSE;
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
      g_cancellable_cancel (self->cancellable);
      flight_end (self, BRAID_PROXY_FLIGHT_RESULT_TOO_LARGE, self->status, "body over the size limit: cut off");
      return;
    }
  g_ptr_array_add (self->chunks, g_bytes_ref (chunk));
  self->size += len;
  for (guint i = 0; i < self->clients->len; i++)
    {
      Client *c = &g_array_index (self->clients, Client, i);

      if (!c->detached)
        c->funcs->write (c->client, chunk);
    }
  flight_read_next (self);
}

static void
flight_read_next (BraidProxyFlight *self)
{
  if (self->reading || self->finished || self->stream == NULL)
    return;
  if (any_client_full (self))
    {
      /* Back pressure: braid_proxy_flight_client_drained() wakes us. */
      self->waiting = TRUE;
      return;
    }
  self->waiting = FALSE;
  self->reading = TRUE;
  g_input_stream_read_bytes_async (self->stream, self->limits.read_chunk, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_chunk, self);
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  BraidProxyFlight *self = data;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  self->stream = braid_fetcher_fetch_finish (BRAID_FETCHER (source), result, &status, &error);
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
  self->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->cancellable = g_cancellable_new ();
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

  g_array_append_val (self->clients, c);
  /* A late joiner gets what has arrived so far. */
  for (guint i = 0; i < self->chunks->len; i++)
    funcs->write (client, g_ptr_array_index (self->chunks, i));
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
  /* If the flight was waiting on this client, it need wait no more. */
  braid_proxy_flight_client_drained (self);
}

void
braid_proxy_flight_client_drained (BraidProxyFlight *self)
{
  g_return_if_fail (self != NULL);

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

GBytes *
braid_proxy_flight_dup_body (BraidProxyFlight *self)
{
  guint8 *body;
  gsize offset = 0;

  g_return_val_if_fail (self != NULL, NULL);

  if (self->chunks->len == 0)
    return g_bytes_new (NULL, 0);
  if (self->chunks->len == 1)
    return g_bytes_ref (g_ptr_array_index (self->chunks, 0));
  body = g_malloc (self->size);
  for (guint i = 0; i < self->chunks->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (self->chunks, i), &len);

      memcpy (body + offset, data, len);
      offset += len;
    }
  return g_bytes_new_take (body, self->size);
}
