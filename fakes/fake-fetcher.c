/* braid — the scripted fetcher.  Bodies come through BraidFakeBodyStream,
 * whose chunks become readable at set times on the reactor clock, so
 * transfer time and back pressure can be tested in simulated time. */
#include "fake-fetcher.h"
#include "proxy-error.h"

#include <string.h>

/* ---- a body stream paced by the reactor ---- */

#define BRAID_TYPE_FAKE_BODY_STREAM (braid_fake_body_stream_get_type ())
G_DECLARE_FINAL_TYPE (BraidFakeBodyStream, braid_fake_body_stream, BRAID, FAKE_BODY_STREAM, GInputStream)

struct _BraidFakeBodyStream
{
  GInputStream parent_instance;
  BraidReactor *reactor;    /* (owned) */
  GBytes *body;             /* (owned) */
  gsize offset;
  gsize chunk_size;         /* 0: everything at once */
  gint64 interval_us;
  gint64 next_at;           /* when the next chunk is readable */
  guint *active;            /* the fetcher's counter */
  gsize fail_after;         /* with fail_error: bytes read before it */
  GError *fail_error;       /* (owned) (nullable): the connection dies */
};

G_DEFINE_FINAL_TYPE (BraidFakeBodyStream, braid_fake_body_stream, G_TYPE_INPUT_STREAM)

static gssize
body_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  BraidFakeBodyStream *self = BRAID_FAKE_BODY_STREAM (stream);
  gsize size;
  const guint8 *data = g_bytes_get_data (self->body, &size);
  gsize n = MIN (count, size - self->offset);

  if (self->chunk_size > 0)
    n = MIN (n, self->chunk_size);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  if (self->fail_error != NULL && self->offset >= self->fail_after)
    {
      g_propagate_error (error, g_error_copy (self->fail_error));
      return -1;
    }
  if (self->fail_error != NULL)
    n = MIN (n, self->fail_after - self->offset);
  if (n > 0)
    memcpy (buffer, data + self->offset, n);
  self->offset += n;
  self->next_at = braid_reactor_now (self->reactor) + self->interval_us;
  return (gssize) n;
}

typedef struct {
  GTask *task;
  void *buffer;
  gsize count;
} PendingRead;

static void
finish_read (gpointer data)
{
  PendingRead *p = data;
  BraidFakeBodyStream *self = g_task_get_source_object (p->task);
  GError *error = NULL;
  gssize n = body_read (G_INPUT_STREAM (self), p->buffer, p->count, g_task_get_cancellable (p->task), &error);

  if (n < 0)
    g_task_return_error (p->task, error);
  else
    g_task_return_int (p->task, n);
  g_object_unref (p->task);
  g_free (p);
}

static void
body_read_async (GInputStream *stream, void *buffer, gsize count, int priority,
                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  BraidFakeBodyStream *self = BRAID_FAKE_BODY_STREAM (stream);
  PendingRead *p = g_new0 (PendingRead, 1);
  gint64 wait = self->next_at - braid_reactor_now (self->reactor);

  p->task = g_task_new (stream, cancellable, callback, user_data);
  g_task_set_source_tag (p->task, body_read_async);
  p->buffer = buffer;
  p->count = count;
  /* The next chunk is readable at next_at: until then, the read waits on
   * the reactor's clock. */
  braid_delayed_call_unref (braid_reactor_call_later (self->reactor, MAX (wait, 0), finish_read, p, NULL));
}

static gssize
body_read_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == body_read_async, -1);

  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
body_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static void
braid_fake_body_stream_finalize (GObject *object)
{
  BraidFakeBodyStream *self = BRAID_FAKE_BODY_STREAM (object);

  (*self->active)--;
  g_clear_error (&self->fail_error);
  g_bytes_unref (self->body);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_fake_body_stream_parent_class)->finalize (object);
}

static void
braid_fake_body_stream_class_init (BraidFakeBodyStreamClass *klass)
{
  GInputStreamClass *s = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_fake_body_stream_finalize;
  s->read_fn = body_read;
  s->read_async = body_read_async;
  s->read_finish = body_read_finish;
  s->close_fn = body_close;
}

static void
braid_fake_body_stream_init (BraidFakeBodyStream *self)
{
}

/* ---- the fetcher ---- */

typedef struct {
  guint status;
  GBytes *body;             /* (nullable) */
  GError *error;            /* (nullable) */
  gchar *location;          /* (nullable): a redirect */
  gint64 delay_us;
  gsize chunk_size;
  gint64 interval_us;
  guint fetches;
  GHashTable *headers;      /* (owned) (nullable): lower-case name → value */
  gsize fail_after;
  GError *fail_error;       /* (nullable): the body dies after fail_after bytes */
} Script;

/* What a successful fetch's task carries. */
typedef struct {
  guint status;
  GHashTable *headers;      /* (owned) (nullable) */
} Answer;

static void
answer_free (Answer *a)
{
  g_clear_pointer (&a->headers, g_hash_table_unref);
  g_free (a);
}

static GHashTable *
headers_copy (GHashTable *headers)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer name, value;

  g_hash_table_iter_init (&iter, headers);
  while (g_hash_table_iter_next (&iter, &name, &value))
    g_hash_table_insert (copy, g_strdup (name), g_strdup (value));
  return copy;
}

struct _BraidFakeFetcher
{
  GObject parent_instance;
  BraidReactor *reactor;    /* (owned) */
  GHashTable *scripts;      /* url → Script */
  GHashTable *hosts;        /* host → address string */
  BraidAddressPolicy *policy;  /* (owned) */
  guint active;
  guint cancelled;          /* fetches answered cancelled */
};

static void braid_fake_fetcher_iface_init (BraidFetcherInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidFakeFetcher, braid_fake_fetcher, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_FETCHER, braid_fake_fetcher_iface_init))

static void
script_free (Script *s)
{
  g_clear_pointer (&s->body, g_bytes_unref);
  g_clear_error (&s->error);
  g_clear_error (&s->fail_error);
  g_free (s->location);
  g_clear_pointer (&s->headers, g_hash_table_unref);
  g_free (s);
}

static void
braid_fake_fetcher_finalize (GObject *object)
{
  BraidFakeFetcher *self = BRAID_FAKE_FETCHER (object);

  g_hash_table_unref (self->scripts);
  g_hash_table_unref (self->hosts);
  braid_address_policy_unref (self->policy);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_fake_fetcher_parent_class)->finalize (object);
}

static void
braid_fake_fetcher_class_init (BraidFakeFetcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_fake_fetcher_finalize;
}

static void
braid_fake_fetcher_init (BraidFakeFetcher *self)
{
  self->scripts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) script_free);
  self->hosts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->policy = braid_address_policy_new ();
}

BraidFakeFetcher *
braid_fake_fetcher_new (BraidReactor *reactor)
{
  BraidFakeFetcher *self;

  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);

  self = g_object_new (BRAID_TYPE_FAKE_FETCHER, NULL);
  self->reactor = g_object_ref (reactor);
  return self;
}

void
braid_fake_fetcher_add (BraidFakeFetcher *self, const gchar *url, guint status, GBytes *body,
                        gint64 delay_us, gsize chunk_size, gint64 chunk_interval_us)
{
  Script *s;

  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (url != NULL);
  g_return_if_fail (body != NULL);
  g_return_if_fail (delay_us >= 0 && chunk_interval_us >= 0);

  s = g_new0 (Script, 1);
  s->status = status;
  s->body = g_bytes_ref (body);
  s->delay_us = delay_us;
  s->chunk_size = chunk_size;
  s->interval_us = chunk_interval_us;
  g_hash_table_replace (self->scripts, g_strdup (url), s);
}

void
braid_fake_fetcher_add_header (BraidFakeFetcher *self, const gchar *url, const gchar *name, const gchar *value)
{
  Script *s;
  g_autofree gchar *lower = NULL;
  const gchar *before;

  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (url != NULL && name != NULL && value != NULL);
  s = g_hash_table_lookup (self->scripts, url);
  g_return_if_fail (s != NULL && s->body != NULL);

  if (s->headers == NULL)
    s->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lower = g_ascii_strdown (name, -1);
  before = g_hash_table_lookup (s->headers, lower);
  g_hash_table_replace (s->headers, g_strdup (lower),
                        before != NULL ? g_strconcat (before, ", ", value, NULL) : g_strdup (value));
}

void
braid_fake_fetcher_add_error (BraidFakeFetcher *self, const gchar *url, const GError *error, gint64 delay_us)
{
  Script *s;

  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (url != NULL);
  g_return_if_fail (error != NULL);
  g_return_if_fail (delay_us >= 0);

  s = g_new0 (Script, 1);
  s->error = g_error_copy (error);
  s->delay_us = delay_us;
  g_hash_table_replace (self->scripts, g_strdup (url), s);
}

void
braid_fake_fetcher_add_redirect (BraidFakeFetcher *self, const gchar *url, const gchar *location, gint64 delay_us)
{
  Script *s;

  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (url != NULL && location != NULL);
  g_return_if_fail (delay_us >= 0);

  s = g_new0 (Script, 1);
  s->status = 302;
  s->location = g_strdup (location);
  s->delay_us = delay_us;
  g_hash_table_replace (self->scripts, g_strdup (url), s);
}

void
braid_fake_fetcher_set_fail_after (BraidFakeFetcher *self, const gchar *url, gsize n_bytes, const GError *error)
{
  Script *s;

  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (url != NULL && error != NULL);
  s = g_hash_table_lookup (self->scripts, url);
  g_return_if_fail (s != NULL && s->body != NULL);

  g_clear_error (&s->fail_error);
  s->fail_error = g_error_copy (error);
  s->fail_after = n_bytes;
}

void
braid_fake_fetcher_set_host_address (BraidFakeFetcher *self, const gchar *host, const gchar *address)
{
  g_autoptr(GInetAddress) parsed = NULL;

  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (host != NULL && address != NULL);
  parsed = g_inet_address_new_from_string (address);
  g_return_if_fail (parsed != NULL);

  g_hash_table_replace (self->hosts, g_ascii_strdown (host, -1), g_strdup (address));
}

void
braid_fake_fetcher_set_address_policy (BraidFakeFetcher *self, BraidAddressPolicy *policy)
{
  g_return_if_fail (BRAID_IS_FAKE_FETCHER (self));
  g_return_if_fail (policy != NULL);

  braid_address_policy_ref (policy);
  braid_address_policy_unref (self->policy);
  self->policy = policy;
}

guint
braid_fake_fetcher_get_n_fetches (BraidFakeFetcher *self, const gchar *url)
{
  Script *s;

  g_return_val_if_fail (BRAID_IS_FAKE_FETCHER (self), 0);
  g_return_val_if_fail (url != NULL, 0);

  s = g_hash_table_lookup (self->scripts, url);
  return s != NULL ? s->fetches : 0;
}

guint
braid_fake_fetcher_get_n_active (BraidFakeFetcher *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_FETCHER (self), 0);

  return self->active;
}

guint
braid_fake_fetcher_get_n_cancelled (BraidFakeFetcher *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_FETCHER (self), 0);

  return self->cancelled;
}

typedef struct {
  GTask *task;
  BraidFakeFetcher *fetcher;
  gchar *url;               /* this hop's */
  GError *refusal;          /* (nullable): the policy refused this hop */
} Fetch;

static void fetch_hop (Fetch *f);

static void
fetch_free (Fetch *f)
{
  g_object_unref (f->task);
  g_object_unref (f->fetcher);
  g_clear_error (&f->refusal);
  g_free (f->url);
  g_free (f);
}

/* The address @host "resolves" to (transfer full). */
static GInetAddress *
resolve (BraidFakeFetcher *self, const gchar *host)
{
  g_autofree gchar *name = g_ascii_strdown (host, -1);
  const gchar *address = g_hash_table_lookup (self->hosts, name);
  GInetAddress *literal = g_inet_address_new_from_string (host);

  if (address != NULL)
    {
      g_clear_object (&literal);
      return g_inet_address_new_from_string (address);
    }
  return literal != NULL ? literal : g_inet_address_new_from_string ("192.0.2.1");
}

/* What the real fetcher does where the connection's address is known. */
static gboolean
check_connection (BraidFakeFetcher *self, const gchar *url, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GInetAddress) address = NULL;
  gint port;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return TRUE;  /* answered as an unknown URL */
  address = resolve (self, g_uri_get_host (uri));
  port = g_uri_get_port (uri);
  if (port < 0)
    port = g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
  return braid_address_policy_check (self->policy, g_uri_get_host (uri), address, (guint16) port, error);
}

static void
answer (gpointer data)
{
  Fetch *f = data;
  Script *s = g_hash_table_lookup (f->fetcher->scripts, f->url);

  if (g_task_return_error_if_cancelled (f->task))
    f->fetcher->cancelled++;
  else if (f->refusal != NULL)
    g_task_return_error (f->task, g_steal_pointer (&f->refusal));
  else if (s == NULL)
    g_task_return_new_error (f->task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM,
                             "No route to %s (the fake fetcher has no script for it)", f->url);
  else if (s->error != NULL)
    g_task_return_error (f->task, g_error_copy (s->error));
  else if (s->location != NULL)
    {
      g_free (f->url);
      f->url = g_strdup (s->location);
      fetch_hop (f);
      return;
    }
  else
    {
      BraidFakeBodyStream *stream = g_object_new (BRAID_TYPE_FAKE_BODY_STREAM, NULL);

      stream->reactor = g_object_ref (f->fetcher->reactor);
      stream->body = g_bytes_ref (s->body);
      stream->chunk_size = s->chunk_size;
      stream->interval_us = s->interval_us;
      stream->next_at = braid_reactor_now (f->fetcher->reactor);
      stream->active = &f->fetcher->active;
      stream->fail_after = s->fail_after;
      stream->fail_error = s->fail_error != NULL ? g_error_copy (s->fail_error) : NULL;
      f->fetcher->active++;
      Answer *a = g_new0 (Answer, 1);

      /* The status and headers travel with the task, not on the stream. */
      a->status = s->status;
      a->headers = s->headers != NULL ? headers_copy (s->headers) : NULL;
      g_task_set_task_data (f->task, a, (GDestroyNotify) answer_free);
      g_task_return_pointer (f->task, stream, g_object_unref);
    }
  fetch_free (f);
}

/* One connection: checked first; a refused one answers at once. */
static void
fetch_hop (Fetch *f)
{
  Script *s = g_hash_table_lookup (f->fetcher->scripts, f->url);
  gint64 delay = 0;

  if (check_connection (f->fetcher, f->url, &f->refusal))
    {
      if (s != NULL)
        s->fetches++;
      delay = s != NULL ? s->delay_us : 0;
    }
  braid_delayed_call_unref (braid_reactor_call_later (f->fetcher->reactor, delay, answer, f, NULL));
}

static void
fake_fetch_async (BraidFetcher *fetcher, const gchar *url, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  BraidFakeFetcher *self = BRAID_FAKE_FETCHER (fetcher);
  Fetch *f = g_new0 (Fetch, 1);

  f->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (f->task, fake_fetch_async);
  f->fetcher = g_object_ref (self);
  f->url = g_strdup (url);
  fetch_hop (f);
}

/* @status is never NULL here (braid_fetcher_fetch_finish sees to it). */
static GInputStream *
fake_fetch_finish (BraidFetcher *fetcher, GAsyncResult *result, guint *status, GError **error)
{
  GInputStream *stream;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == fake_fetch_async, NULL);

  stream = g_task_propagate_pointer (G_TASK (result), error);
  if (stream != NULL)
    *status = ((Answer *) g_task_get_task_data (G_TASK (result)))->status;
  return stream;
}

static GHashTable *
fake_dup_response_headers (BraidFetcher *fetcher, GAsyncResult *result)
{
  Answer *a;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == fake_fetch_async, NULL);

  a = g_task_get_task_data (G_TASK (result));
  return a != NULL && a->headers != NULL ? g_hash_table_ref (a->headers) : NULL;
}

static void
braid_fake_fetcher_iface_init (BraidFetcherInterface *iface)
{
  iface->fetch_async = fake_fetch_async;
  iface->fetch_finish = fake_fetch_finish;
  iface->dup_response_headers = fake_dup_response_headers;
}
