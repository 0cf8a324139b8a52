/* braid — the asynchronous memcached client. */
#include "mc-client.h"
#include "mc-client-private.h"
#include "mc-reply-parser.h"

#include <string.h>

#define DEFAULT_TIMEOUT_US G_USEC_PER_SEC
#define BACKOFF_FIRST_US (50 * 1000)
#define BACKOFF_MAX_US (5 * G_USEC_PER_SEC)

typedef enum {
  REQ_LINE,     /* one status line answers it */
  REQ_VALUES,   /* VALUE* END */
  REQ_STATS,    /* STAT* END */
} RequestShape;

typedef enum {
  RESULT_BOOLEAN,
  RESULT_VALUE,     /* one BraidMcValue or NOT_FOUND */
  RESULT_VALUES,    /* GHashTable */
  RESULT_NUMBER,
  RESULT_STATS,
  RESULT_VERSION,
} ResultKind;

typedef struct {
  BraidMcClient *client;           /* (unowned) */
  GTask *task;                     /* (owned) (nullable): NULL once answered */
  /* or, for braid_mc_client_get_direct (RESULT_VALUE only): */
  BraidMcValueFunc value_func;     /* (nullable): NULL once answered */
  gpointer value_data;
  GCancellable *cancellable;       /* (owned) (nullable) */
  RequestShape shape;
  ResultKind kind;
  GHashTable *values;              /* (owned) (nullable) */
  GHashTable *awaited;             /* (owned) (nullable): VALUE keys still allowed → count */
  /* RESULT_VALUE, the common get of one key, needs no tables: */
  gchar *key;                      /* (owned) (nullable): the one key asked for */
  gsize key_len;
  BraidMcValue *value;             /* (owned) (nullable): its VALUE, once read */
  gsize buffered;                  /* bytes of values or stats collected so far */
  BraidDelayedCall *timer;         /* (owned) (nullable) */
  gulong cancel_id;
  gboolean written;
  gboolean cancel_requested;       /* a direct get's cancel is on its way */
} Request;

typedef enum {
  STATE_DISCONNECTED,
  STATE_CONNECTING,
  STATE_CONNECTED,
} State;

struct _BraidMcClient
{
  GObject parent_instance;

  BraidReactor *reactor;           /* (owned) */
  gchar *endpoint;
  gint64 timeout_us;
  gsize item_size_max;
  State state;
  BraidProtocol *connection;       /* (owned) (nullable) */
  GQueue requests;                 /* (element-type Request): written or waiting, in order */
  GByteArray *unsent;              /* requests made while connecting */
  GByteArray *in;
  BraidMcReplyParser parser;
  gint64 backoff_us;
  gint64 next_connect_at;
  BraidDelayedCall *connect_timer; /* (owned) (nullable) */
  GCancellable *connect_cancellable; /* (owned) (nullable) */
};

G_DEFINE_FINAL_TYPE (BraidMcClient, braid_mc_client, G_TYPE_OBJECT)

/* ---- values ---- */

BraidMcValue *
braid_mc_value_ref (BraidMcValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);

  g_atomic_ref_count_inc (&value->ref_count);
  return value;
}

void
braid_mc_value_unref (BraidMcValue *value)
{
  g_return_if_fail (value != NULL);

  if (!g_atomic_ref_count_dec (&value->ref_count))
    return;
  g_free (value->key);
  g_bytes_unref (value->data);
  g_free (value);
}

static BraidMcValue *
value_new (const BraidMcReply *reply)
{
  BraidMcValue *v = g_new0 (BraidMcValue, 1);

  g_atomic_ref_count_init (&v->ref_count);
  v->key = g_strndup ((const gchar *) reply->key, reply->key_len);
  v->data = g_bytes_new (reply->value, reply->value_len);
  v->flags = reply->flags;
  v->cas = reply->has_cas ? reply->cas : 0;
  return v;
}

/* ---- requests ---- */

static void
request_free (Request *req)
{
  if (req->timer != NULL && braid_delayed_call_is_active (req->timer))
    braid_delayed_call_cancel (req->timer);
  g_clear_pointer (&req->timer, braid_delayed_call_unref);
  g_clear_pointer (&req->values, g_hash_table_unref);
  g_clear_pointer (&req->awaited, g_hash_table_unref);
  g_free (req->key);
  g_clear_pointer (&req->value, braid_mc_value_unref);
  if (req->cancel_id != 0)
    g_cancellable_disconnect (req->cancellable, req->cancel_id);
  g_clear_object (&req->cancellable);
  g_clear_object (&req->task);
  g_free (req);
}

/* Stops what may still answer the caller: the cancellable's handler and
 * the timer (the time-out, or a cancellation on its way). */
static void
stop_answering (Request *req)
{
  if (req->cancel_id != 0)
    {
      g_cancellable_disconnect (req->cancellable, req->cancel_id);
      req->cancel_id = 0;
    }
  if (req->timer != NULL && braid_delayed_call_is_active (req->timer))
    braid_delayed_call_cancel (req->timer);
  g_clear_pointer (&req->timer, braid_delayed_call_unref);
}

/* Answers a direct get (once): takes @value and @error.  Once its cancel
 * is on its way the answer is CANCELLED, whatever ends it first (a reply,
 * a lost connection), as a GTask's cancelled cancellable wins. */
static void
answer_direct (Request *req, BraidMcValue *value, GError *error)
{
  BraidMcValueFunc func = g_steal_pointer (&req->value_func);

  stop_answering (req);
  if (req->cancel_requested && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_pointer (&value, braid_mc_value_unref);
      g_clear_error (&error);
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
    }
  if (func != NULL)
    func (value, error, req->value_data);
  else
    {
      g_clear_pointer (&value, braid_mc_value_unref);
      g_clear_error (&error);
    }
}

/* Answers the caller (once); the request itself stays queued until its
 * reply has been read. */
static GTask *
take_task (Request *req)
{
  GTask *task = g_steal_pointer (&req->task);

  if (task != NULL)
    stop_answering (req);
  return task;
}

static void
fail_request (Request *req, GError *error)
{
  g_autoptr(GTask) task = NULL;

  if (req->value_func != NULL)
    {
      answer_direct (req, NULL, error);
      return;
    }
  task = take_task (req);
  if (task != NULL)
    g_task_return_error (task, error);
  else
    g_error_free (error);
}

static void close_connection (BraidMcClient *self, gboolean abort);

static void
on_timeout (gpointer data)
{
  Request *req = data;
  g_autoptr(BraidMcClient) self = g_object_ref (req->client);
  gboolean written = req->written;  /* the answer may free @req (a caller that disconnects) */

  fail_request (req, g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_TIMED_OUT,
                                  "No reply from %s within %.3f s", self->endpoint,
                                  (gdouble) self->timeout_us / G_USEC_PER_SEC));
  /* A server that does not answer one request will not answer those
   * behind it: start afresh. */
  if (written)
    close_connection (self, TRUE);
}

static void
on_cancel_due (gpointer data)
{
  Request *req = data;

  g_clear_pointer (&req->timer, braid_delayed_call_unref);
  fail_request (req, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
}

/* A direct caller is never called back from inside its own cancel: the
 * answer comes from the reactor, at once, in place of the time-out. */
static void
cancel_direct_soon (Request *req)
{
  if (req->cancel_requested)
    return;
  req->cancel_requested = TRUE;
  if (req->timer != NULL && braid_delayed_call_is_active (req->timer))
    braid_delayed_call_cancel (req->timer);
  g_clear_pointer (&req->timer, braid_delayed_call_unref);
  req->timer = braid_reactor_call_later (req->client->reactor, 0, on_cancel_due, req, NULL);
}

static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  Request *req = data;

  if (req->value_func != NULL)
    {
      req->cancel_id = 0;  /* disconnecting inside the handler would deadlock */
      cancel_direct_soon (req);
      return;
    }

  /* Disconnecting from inside this handler would deadlock: forget the id
   * instead.  GTask delivers the result from an idle, never from inside
   * g_cancellable_cancel().  The request stays queued to consume its
   * reply, so the connection keeps its place. */
  req->cancel_id = 0;
  fail_request (req, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
}

/* ---- the connection ---- */

#define BRAID_TYPE_MC_CLIENT_PROTOCOL (braid_mc_client_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcClientProtocol, braid_mc_client_protocol, BRAID, MC_CLIENT_PROTOCOL, BraidProtocol)

struct _BraidMcClientProtocol
{
  BraidProtocol parent_instance;
  BraidMcClient *client;   /* (unowned) (nullable) */
};

G_DEFINE_FINAL_TYPE (BraidMcClientProtocol, braid_mc_client_protocol, BRAID_TYPE_PROTOCOL)

static void client_data_received (BraidMcClient *self, const guint8 *data, gsize len);
static void client_connection_lost (BraidMcClient *self, const GError *reason);

static void
mc_protocol_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidMcClientProtocol *p = BRAID_MC_CLIENT_PROTOCOL (protocol);

  if (p->client != NULL)
    client_data_received (p->client, data, len);
}

static void
mc_protocol_connection_lost (BraidProtocol *protocol, const GError *reason)
{
  BraidMcClientProtocol *p = BRAID_MC_CLIENT_PROTOCOL (protocol);

  if (p->client != NULL)
    client_connection_lost (p->client, reason);
}

static void
braid_mc_client_protocol_class_init (BraidMcClientProtocolClass *klass)
{
  BRAID_PROTOCOL_CLASS (klass)->data_received = mc_protocol_data_received;
  BRAID_PROTOCOL_CLASS (klass)->connection_lost = mc_protocol_connection_lost;
}

static void
braid_mc_client_protocol_init (BraidMcClientProtocol *self)
{
}

static void
fail_all (BraidMcClient *self, const gchar *why)
{
  Request *req;

  while ((req = g_queue_pop_head (&self->requests)) != NULL)
    {
      fail_request (req, g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_CONNECTION_LOST,
                                      "Connection to %s lost: %s", self->endpoint, why));
      request_free (req);
    }
  g_byte_array_set_size (self->unsent, 0);
  g_byte_array_set_size (self->in, 0);
  self->parser.scan_offset = 0;
}

static void
detach_connection (BraidMcClient *self)
{
  if (self->connection != NULL)
    BRAID_MC_CLIENT_PROTOCOL (self->connection)->client = NULL;
  g_clear_object (&self->connection);
  self->state = STATE_DISCONNECTED;
}

static void
close_connection (BraidMcClient *self, gboolean abort)
{
  g_autoptr(BraidProtocol) connection = self->connection != NULL ? g_object_ref (self->connection) : NULL;
  BraidTransport *t = connection != NULL ? braid_protocol_get_transport (connection) : NULL;

  detach_connection (self);
  fail_all (self, abort ? "the client gave up on it" : "closed by the client");
  if (t != NULL)
    {
      if (abort)
        braid_transport_abort_connection (t);
      else
        braid_transport_lose_connection (t);
    }
}

void
braid_mc_client_disconnect (BraidMcClient *self)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  close_connection (self, FALSE);
}

static void
client_connection_lost (BraidMcClient *self, const GError *reason)
{
  detach_connection (self);
  fail_all (self, reason->message);
}

static void start_connect (BraidMcClient *self);

static void
on_connect_timer (gpointer data)
{
  BraidMcClient *self = data;

  g_clear_pointer (&self->connect_timer, braid_delayed_call_unref);
  start_connect (self);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(BraidMcClient) self = data;
  g_autoptr(GError) error = NULL;
  BraidProtocol *protocol = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);

  g_clear_object (&self->connect_cancellable);
  if (protocol == NULL)
    {
      self->state = STATE_DISCONNECTED;
      self->next_connect_at = braid_reactor_now (self->reactor) + self->backoff_us;
      self->backoff_us = MIN (self->backoff_us * 2, BACKOFF_MAX_US);
      fail_all (self, error->message);
      return;
    }
  self->connection = protocol;
  BRAID_MC_CLIENT_PROTOCOL (protocol)->client = self;
  self->state = STATE_CONNECTED;
  self->backoff_us = BACKOFF_FIRST_US;
  self->next_connect_at = 0;
  for (GList *l = self->requests.head; l != NULL; l = l->next)
    ((Request *) l->data)->written = TRUE;
  if (self->unsent->len > 0)
    braid_transport_write (braid_protocol_get_transport (protocol), self->unsent->data, self->unsent->len);
  g_byte_array_set_size (self->unsent, 0);
}

static void
start_connect (BraidMcClient *self)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_MC_CLIENT_PROTOCOL);
  gint64 now = braid_reactor_now (self->reactor);

  if (self->state != STATE_DISCONNECTED || self->connect_timer != NULL)
    return;
  if (now < self->next_connect_at)
    {
      /* Failed recently: wait out the backoff. */
      self->connect_timer = braid_reactor_call_later (self->reactor, self->next_connect_at - now,
                                                      on_connect_timer, self, NULL);
      return;
    }
  self->state = STATE_CONNECTING;
  self->connect_cancellable = g_cancellable_new ();
  braid_reactor_connect_async (self->reactor, self->endpoint, factory, self->connect_cancellable,
                               on_connected, g_object_ref (self));
}

/* ---- replies ---- */

static GError *
error_from_reply (BraidMcClient *self, const BraidMcReply *reply)
{
  g_autofree gchar *text = g_strndup ((const gchar *) reply->value, reply->value_len);

  switch (reply->type)
    {
    case BRAID_MC_REPLY_NOT_FOUND:
      return g_error_new_literal (BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND, "Not found");
    case BRAID_MC_REPLY_NOT_STORED:
      return g_error_new_literal (BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_STORED, "Not stored");
    case BRAID_MC_REPLY_EXISTS:
      return g_error_new_literal (BRAID_MC_ERROR, BRAID_MC_ERROR_EXISTS,
                                  "The item was modified since it was read (EXISTS)");
    case BRAID_MC_REPLY_CLIENT_ERROR:
      return g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_CLIENT_ERROR, "CLIENT_ERROR %s", text);
    case BRAID_MC_REPLY_SERVER_ERROR:
      return g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_SERVER_ERROR, "SERVER_ERROR %s", text);
    case BRAID_MC_REPLY_ERROR:
      return g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_UNKNOWN_COMMAND,
                          "%s answered ERROR (unknown command)", self->endpoint);
    default:
      return g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL,
                          "Unexpected reply %s", braid_mc_reply_type_name (reply->type));
    }
}

static void
complete_line (BraidMcClient *self, Request *req, const BraidMcReply *reply)
{
  g_autoptr(GTask) task = take_task (req);

  if (task == NULL)
    return;  /* timed out or cancelled: the reply is dropped */
  switch (req->kind)
    {
    case RESULT_BOOLEAN:
      if (reply->type == BRAID_MC_REPLY_STORED || reply->type == BRAID_MC_REPLY_DELETED ||
          reply->type == BRAID_MC_REPLY_TOUCHED || reply->type == BRAID_MC_REPLY_OK)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error_from_reply (self, reply));
      break;
    case RESULT_NUMBER:
      if (reply->type == BRAID_MC_REPLY_NUMBER)
        {
          guint64 *n = g_new (guint64, 1);

          *n = reply->number;
          g_task_return_pointer (task, n, g_free);
        }
      else
        g_task_return_error (task, error_from_reply (self, reply));
      break;
    case RESULT_VERSION:
      if (reply->type == BRAID_MC_REPLY_VERSION)
        g_task_return_pointer (task, g_strndup ((const gchar *) reply->value, reply->value_len), g_free);
      else
        g_task_return_error (task, error_from_reply (self, reply));
      break;
    default:
      g_task_return_error (task, error_from_reply (self, reply));
      break;
    }
}

static void
complete_values (Request *req)
{
  g_autoptr(GTask) task = NULL;

  if (req->value_func != NULL)
    {
      BraidMcValue *value = g_steal_pointer (&req->value);

      answer_direct (req, value, value != NULL ? NULL
                                               : g_error_new_literal (BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND,
                                                                      "Not found"));
      return;
    }
  task = take_task (req);
  if (task == NULL)
    return;
  if (req->kind == RESULT_VALUES || req->kind == RESULT_STATS)
    {
      g_task_return_pointer (task, g_steal_pointer (&req->values), (GDestroyNotify) g_hash_table_unref);
      return;
    }
  if (req->value != NULL)
    g_task_return_pointer (task, g_steal_pointer (&req->value), (GDestroyNotify) braid_mc_value_unref);
  else
    g_task_return_new_error (task, BRAID_MC_ERROR, BRAID_MC_ERROR_NOT_FOUND, "Not found");
}

static gboolean
unexpected (GError **error, const BraidMcReply *reply, const gchar *why)
{
  g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL, "Unexpected %s reply: %s",
               braid_mc_reply_type_name (reply->type), why);
  return FALSE;
}

/* A VALUE may only answer a key the request asked for, as many times as
 * it asked: so a request's values are bounded by its keys. */
static gboolean
not_asked_for (const BraidMcReply *reply, GError **error)
{
  g_autofree gchar *key = g_strndup ((const gchar *) reply->key, reply->key_len);
  g_autofree gchar *shown = g_strescape (key, NULL);
  g_autofree gchar *why = g_strdup_printf ("a value for “%s”, a key the request did not ask for", shown);

  return unexpected (error, reply, why);
}

/* The get of one key: one VALUE for that key, at most. */
static gboolean
accept_single_value (Request *req, const BraidMcReply *reply, GError **error)
{
  if (req->value != NULL || reply->key_len != req->key_len || memcmp (reply->key, req->key, req->key_len) != 0)
    return not_asked_for (reply, error);
  req->value = value_new (reply);
  return TRUE;
}

static gboolean
accept_value (BraidMcClient *self, Request *req, const BraidMcReply *reply, GError **error)
{
  g_autofree gchar *key = NULL;
  gpointer left;

  if (req->kind == RESULT_VALUE)
    return accept_single_value (req, reply, error);
  key = g_strndup ((const gchar *) reply->key, reply->key_len);
  if (!g_hash_table_lookup_extended (req->awaited, key, NULL, &left) || GPOINTER_TO_UINT (left) == 0)
    return not_asked_for (reply, error);
  g_hash_table_insert (req->awaited, g_strdup (key), GUINT_TO_POINTER (GPOINTER_TO_UINT (left) - 1));
  g_hash_table_replace (req->values, g_steal_pointer (&key), value_new (reply));
  return TRUE;
}

/* Stats are text a server makes up: bounded by this per request. */
#define STATS_MAX_BYTES (1024 * 1024)

static gboolean
accept_stat (Request *req, const BraidMcReply *reply, GError **error)
{
  req->buffered += reply->key_len + reply->value_len;
  if (req->buffered > STATS_MAX_BYTES)
    return unexpected (error, reply, "more than 1 MiB of stats for one request");
  g_hash_table_replace (req->values, g_strndup ((const gchar *) reply->key, reply->key_len),
                        g_strndup ((const gchar *) reply->value, reply->value_len));
  return TRUE;
}

/* Feeds one reply element to the oldest request; returns FALSE with
 * @error set (BRAID_MC_ERROR_PROTOCOL) when it answers nothing asked. */
static gboolean
dispatch (BraidMcClient *self, const BraidMcReply *reply, GError **error)
{
  Request *req = g_queue_peek_head (&self->requests);
  gboolean done = FALSE;
  Request *finished;

  if (req == NULL)
    return unexpected (error, reply, "no request was waiting");
  switch (reply->type)
    {
    case BRAID_MC_REPLY_VALUE:
      if (req->shape != REQ_VALUES)
        return unexpected (error, reply, "the request was not a get");
      if (!accept_value (self, req, reply, error))
        return FALSE;
      break;
    case BRAID_MC_REPLY_STAT:
      if (req->shape != REQ_STATS)
        return unexpected (error, reply, "the request was not stats");
      if (!accept_stat (req, reply, error))
        return FALSE;
      break;
    case BRAID_MC_REPLY_END:
      if (req->shape == REQ_LINE)
        return unexpected (error, reply, "the request expects one status line");
      done = TRUE;
      break;
    case BRAID_MC_REPLY_ERROR:
    case BRAID_MC_REPLY_CLIENT_ERROR:
    case BRAID_MC_REPLY_SERVER_ERROR:
      done = TRUE;
      break;
    default:
      if (req->shape != REQ_LINE)
        return unexpected (error, reply, "the request expects values and END");
      done = TRUE;
      break;
    }
  if (!done)
    return TRUE;
  /* Out of the queue before its caller hears: a caller may disconnect,
   * which fails (and frees) every request still queued. */
  finished = g_queue_pop_head (&self->requests);
  if (reply->type == BRAID_MC_REPLY_END)
    complete_values (finished);
  else if (reply->type == BRAID_MC_REPLY_ERROR || reply->type == BRAID_MC_REPLY_CLIENT_ERROR ||
           reply->type == BRAID_MC_REPLY_SERVER_ERROR)
    fail_request (finished, error_from_reply (self, reply));
  else
    complete_line (self, finished, reply);
  request_free (finished);
  return TRUE;
}

/* The server sent something that is not an answer to what was asked:
 * the request it was answering learns exactly what, the others that the
 * connection was dropped, and nothing after it is trusted. */
static void
fail_on_protocol_error (BraidMcClient *self, const GError *error)
{
  Request *head = g_queue_pop_head (&self->requests);

  g_message ("memcached client: %s from %s; closing the connection", error->message, self->endpoint);
  if (head != NULL)
    {
      fail_request (head, g_error_new (BRAID_MC_ERROR, BRAID_MC_ERROR_PROTOCOL, "%s from %s",
                                       error->message, self->endpoint));
      request_free (head);
    }
  close_connection (self, TRUE);
}

static void
client_data_received (BraidMcClient *self, const guint8 *data, gsize len)
{
  gsize offset = 0;
  g_autoptr(BraidMcClient) keep = g_object_ref (self);

  g_byte_array_append (self->in, data, (guint) len);
  while (self->state == STATE_CONNECTED && offset < self->in->len)
    {
      BraidMcReply reply;
      g_autoptr(GError) error = NULL;
      gsize used = braid_mc_parse_reply (&self->parser, self->in->data + offset, self->in->len - offset,
                                         &reply, &error);

      if (error != NULL || (used > 0 && !dispatch (self, &reply, &error)))
        {
          fail_on_protocol_error (self, error);
          return;
        }
      if (used == 0)
        break;
      offset += used;
    }
  if (offset > 0 && offset <= self->in->len)
    g_byte_array_remove_range (self->in, 0, (guint) offset);
}

/* ---- sending ---- */

/* @task: (nullable): NULL for a direct get, whose caller the request
 * holds in value_func */
static Request *
request_new_full (BraidMcClient *self, GTask *task, GCancellable *cancellable, BraidMcValueFunc value_func,
                  gpointer value_data, RequestShape shape, ResultKind kind)
{
  Request *req = g_new0 (Request, 1);

  req->client = self;
  req->value_func = value_func;
  req->value_data = value_data;
  req->task = task != NULL ? g_object_ref (task) : NULL;
  req->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  req->shape = shape;
  req->kind = kind;
  if (shape == REQ_VALUES && kind != RESULT_VALUE)
    {
      req->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) braid_mc_value_unref);
      req->awaited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
  else if (shape == REQ_STATS)
    req->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (self->timeout_us > 0)
    req->timer = braid_reactor_call_later (self->reactor, self->timeout_us, on_timeout, req, NULL);
  if (cancellable != NULL)
    req->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), req, NULL);
  return req;
}

static Request *
request_new (BraidMcClient *self, GTask *task, RequestShape shape, ResultKind kind)
{
  return request_new_full (self, task, g_task_get_cancellable (task), NULL, NULL, shape, kind);
}

/* Queues @req and writes @line (and @data + "\r\n" when non-NULL). */
static void
send_request (BraidMcClient *self, Request *req, const gchar *line, GBytes *data)
{
  gsize dlen = 0;
  const guint8 *d = data != NULL ? g_bytes_get_data (data, &dlen) : NULL;

  g_queue_push_tail (&self->requests, req);
  if (self->state == STATE_CONNECTED)
    {
      BraidTransport *t = braid_protocol_get_transport (self->connection);

      req->written = TRUE;
      if (data == NULL)
        braid_transport_write_string (t, line);
      else
        {
          GOutputVector v[] = { { line, strlen (line) }, { d, dlen }, { "\r\n", 2 } };

          braid_transport_writev (t, v, G_N_ELEMENTS (v));
        }
      return;
    }
  g_byte_array_append (self->unsent, (const guint8 *) line, (guint) strlen (line));
  if (data != NULL)
    {
      g_byte_array_append (self->unsent, d, (guint) dlen);
      g_byte_array_append (self->unsent, (const guint8 *) "\r\n", 2);
    }
  start_connect (self);
}

static GTask *
new_task (BraidMcClient *self, gpointer tag, GCancellable *cancellable,
          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  return task;
}

static gboolean
check_keys (GTask *task, const gchar * const *keys)
{
  GError *error = NULL;

  if (keys == NULL || keys[0] == NULL)
    {
      g_task_return_new_error (task, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT, "No keys");
      return FALSE;
    }
  for (; *keys != NULL; keys++)
    if (!braid_mc_validate_key (*keys, &error))
      {
        g_task_return_error (task, error);
        return FALSE;
      }
  return TRUE;
}

/* Writes "VERB [EXPTIME] KEY…" for @req, a request for values, and
 * records the keys it may be answered with. */
/* The line of a retrieval of one key, into @line (which holds a verb, an
 * exptime, a key of up to BRAID_MC_KEY_MAX bytes and the separators):
 * the common get, without a GString per request. */
#define ONE_KEY_LINE_SIZE (BRAID_MC_KEY_MAX + 64)

static const gchar *
one_key_line (gchar line[ONE_KEY_LINE_SIZE], const gchar *verb, const gchar *exptime, const gchar *key,
              gsize key_len)
{
  gsize verb_len = strlen (verb);
  gsize exptime_len = exptime != NULL ? strlen (exptime) : 0;
  gchar *p = line;

  g_assert (verb_len + exptime_len + key_len + 5 <= ONE_KEY_LINE_SIZE);
  memcpy (p, verb, verb_len);
  p += verb_len;
  if (exptime != NULL)
    {
      *p++ = ' ';
      memcpy (p, exptime, exptime_len);
      p += exptime_len;
    }
  *p++ = ' ';
  memcpy (p, key, key_len);
  p += key_len;
  memcpy (p, "\r\n", 3);  /* and the NUL */
  return line;
}

static void
send_values_request (BraidMcClient *self, Request *req, const gchar *verb, const gchar *exptime,
                     const gchar * const *keys)
{
  g_autoptr(GString) line = NULL;

  if (req->kind == RESULT_VALUE)
    {
      gchar one[ONE_KEY_LINE_SIZE];

      req->key_len = strlen (keys[0]);
      req->key = g_strndup (keys[0], req->key_len);
      send_request (self, req, one_key_line (one, verb, exptime, req->key, req->key_len), NULL);
      return;
    }
  line = g_string_new (verb);

  if (exptime != NULL)
    {
      g_string_append_c (line, ' ');
      g_string_append (line, exptime);
    }
  for (; *keys != NULL; keys++)
    {
      g_string_append_c (line, ' ');
      g_string_append (line, *keys);
      if (req->awaited != NULL)
        g_hash_table_insert (req->awaited, g_strdup (*keys),
                             GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (req->awaited, *keys)) + 1));
    }
  g_string_append (line, "\r\n");
  send_request (self, req, line->str, NULL);
}

static void
send_retrieval (BraidMcClient *self, GTask *task, const gchar *verb, const gchar *exptime,
                const gchar * const *keys, ResultKind kind)
{
  if (check_keys (task, keys))
    send_values_request (self, request_new (self, task, REQ_VALUES, kind), verb, exptime, keys);
}

typedef struct {
  BraidMcValueFunc func;
  gpointer user_data;
  GError *error;             /* (owned) (nullable): taken when delivered */
} LateError;

static void
deliver_late_error (gpointer data)
{
  LateError *late = data;

  late->func (NULL, g_steal_pointer (&late->error), late->user_data);
}

static void
late_error_free (gpointer data)
{
  LateError *late = data;

  g_clear_error (&late->error);
  g_free (late);
}

void
braid_mc_answer_later (BraidReactor *reactor, BraidMcValueFunc func, gpointer user_data, GError *error)
{
  LateError *late = g_new0 (LateError, 1);

  late->func = func;
  late->user_data = user_data;
  late->error = error;
  braid_delayed_call_unref (braid_reactor_call_later (reactor, 0, deliver_late_error, late, late_error_free));
}

BraidMcDirectGet *
braid_mc_client_get_direct (BraidMcClient *self, const gchar *key, GCancellable *cancellable,
                            BraidMcValueFunc func, gpointer user_data)
{
  const gchar *keys[] = { key, NULL };
  GError *error = NULL;
  Request *req;

  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (!braid_mc_validate_key (key, &error))
    {
      braid_mc_answer_later (self->reactor, func, user_data, error);
      return NULL;
    }
  req = request_new_full (self, NULL, cancellable, func, user_data, REQ_VALUES, RESULT_VALUE);
  send_values_request (self, req, "get", NULL, keys);
  return (BraidMcDirectGet *) req;
}

void
braid_mc_client_cancel_direct (BraidMcClient *self, BraidMcDirectGet *get)
{
  Request *req = (Request *) get;

  g_return_if_fail (BRAID_IS_MC_CLIENT (self));
  if (req == NULL)
    return;
  g_return_if_fail (req->client == self && req->value_func != NULL);
  if (req->cancel_id != 0)
    {
      g_cancellable_disconnect (req->cancellable, req->cancel_id);
      req->cancel_id = 0;
    }
  cancel_direct_soon (req);
}

void
braid_mc_client_get_async (BraidMcClient *self, const gchar *key, BraidMcGetFlags flags,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autoptr(GTask) task = new_task (self, braid_mc_client_get_async, cancellable, callback, user_data);
  const gchar *keys[] = { key, NULL };

  send_retrieval (self, task, (flags & BRAID_MC_GET_FLAGS_WITH_CAS) ? "gets" : "get", NULL, keys, RESULT_VALUE);
}

BraidMcValue *
braid_mc_client_get_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
braid_mc_client_get_multi_async (BraidMcClient *self, const gchar * const *keys, BraidMcGetFlags flags,
                                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autoptr(GTask) task = new_task (self, braid_mc_client_get_multi_async, cancellable, callback, user_data);

  send_retrieval (self, task, (flags & BRAID_MC_GET_FLAGS_WITH_CAS) ? "gets" : "get", NULL, keys, RESULT_VALUES);
}

GHashTable *
braid_mc_client_get_multi_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
braid_mc_client_gat_async (BraidMcClient *self, const gchar *key, gint64 exptime, BraidMcGetFlags flags,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autoptr(GTask) task = new_task (self, braid_mc_client_gat_async, cancellable, callback, user_data);
  g_autofree gchar *exp = g_strdup_printf ("%" G_GINT64_FORMAT, exptime);
  const gchar *keys[] = { key, NULL };

  send_retrieval (self, task, (flags & BRAID_MC_GET_FLAGS_WITH_CAS) ? "gats" : "gat", exp, keys, RESULT_VALUE);
}

BraidMcValue *
braid_mc_client_gat_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
braid_mc_client_store_async (BraidMcClient *self, BraidMcStoreMode mode, const gchar *key,
                             GBytes *data, guint32 flags, gint64 exptime, guint64 cas,
                             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));
  /* checked before the task exists: a task dropped unreturned is an error of its own */
  g_return_if_fail ((guint) mode <= BRAID_MC_STORE_MODE_CAS);

  g_autoptr(GTask) task = new_task (self, braid_mc_client_store_async, cancellable, callback, user_data);
  const gchar *keys[] = { key, NULL };
  g_autofree gchar *line = NULL;
  gsize size;

  if (!check_keys (task, keys))
    return;
  size = g_bytes_get_size (data);
  if (braid_mc_item_size (strlen (key), flags, size, TRUE) > self->item_size_max)
    {
      g_task_return_new_error (task, BRAID_MC_ERROR, BRAID_MC_ERROR_TOO_LARGE,
                               "A %" G_GSIZE_FORMAT "-byte value is over the %" G_GSIZE_FORMAT "-byte item limit",
                               size, self->item_size_max);
      return;
    }
  if (mode == BRAID_MC_STORE_MODE_CAS)
    line = g_strdup_printf ("cas %s %u %" G_GINT64_FORMAT " %" G_GSIZE_FORMAT " %" G_GUINT64_FORMAT "\r\n",
                            key, flags, exptime, size, cas);
  else
    line = g_strdup_printf ("%s %s %u %" G_GINT64_FORMAT " %" G_GSIZE_FORMAT "\r\n",
                            braid_mc_store_mode_name (mode), key, flags, exptime, size);
  send_request (self, request_new (self, task, REQ_LINE, RESULT_BOOLEAN), line, data);
}

gboolean
braid_mc_client_store_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Completes @data (a GTask) with the boolean result of a store. */
static void
forward_boolean (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (braid_mc_client_store_finish (BRAID_MC_CLIENT (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
braid_mc_client_set_async (BraidMcClient *self, const gchar *key, GBytes *data, guint32 flags,
                           gint64 exptime, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autoptr(GTask) task = new_task (self, braid_mc_client_set_async, cancellable, callback, user_data);

  braid_mc_client_store_async (self, BRAID_MC_STORE_MODE_SET, key, data, flags, exptime, 0, cancellable,
                               forward_boolean, g_steal_pointer (&task));
}

gboolean
braid_mc_client_set_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == braid_mc_client_set_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
send_simple (BraidMcClient *self, gpointer tag, const gchar *key, const gchar *line, ResultKind kind,
             RequestShape shape, GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = new_task (self, tag, cancellable, callback, user_data);
  const gchar *keys[] = { key, NULL };

  if (key != NULL && !check_keys (task, keys))
    return;
  send_request (self, request_new (self, task, shape, kind), line, NULL);
}

void
braid_mc_client_delete_async (BraidMcClient *self, const gchar *key, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autofree gchar *line = g_strdup_printf ("delete %s\r\n", key);

  send_simple (self, braid_mc_client_delete_async, key, line, RESULT_BOOLEAN, REQ_LINE, cancellable, callback, user_data);
}

gboolean
braid_mc_client_delete_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
braid_mc_client_arith_async (BraidMcClient *self, const gchar *key, BraidMcArithMode mode, guint64 delta,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autofree gchar *line = g_strdup_printf ("%s %s %" G_GUINT64_FORMAT "\r\n", braid_mc_arith_mode_name (mode), key, delta);

  send_simple (self, braid_mc_client_arith_async, key, line, RESULT_NUMBER, REQ_LINE, cancellable, callback, user_data);
}

gboolean
braid_mc_client_arith_finish (BraidMcClient *self, GAsyncResult *result, guint64 *value, GError **error)
{
  g_autofree guint64 *n = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  n = g_task_propagate_pointer (G_TASK (result), error);
  if (n == NULL)
    return FALSE;
  if (value != NULL)
    *value = *n;
  return TRUE;
}

void
braid_mc_client_touch_async (BraidMcClient *self, const gchar *key, gint64 exptime,
                             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autofree gchar *line = g_strdup_printf ("touch %s %" G_GINT64_FORMAT "\r\n", key, exptime);

  send_simple (self, braid_mc_client_touch_async, key, line, RESULT_BOOLEAN, REQ_LINE, cancellable, callback, user_data);
}

gboolean
braid_mc_client_touch_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
braid_mc_client_flush_all_async (BraidMcClient *self, gint64 delay, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autofree gchar *line = delay > 0 ? g_strdup_printf ("flush_all %" G_GINT64_FORMAT "\r\n", delay)
                                     : g_strdup ("flush_all\r\n");

  send_simple (self, braid_mc_client_flush_all_async, NULL, line, RESULT_BOOLEAN, REQ_LINE, cancellable, callback, user_data);
}

gboolean
braid_mc_client_flush_all_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
braid_mc_client_stats_async (BraidMcClient *self, const gchar *arg, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  g_autofree gchar *line = arg != NULL ? g_strdup_printf ("stats %s\r\n", arg) : g_strdup ("stats\r\n");

  if (arg != NULL && strpbrk (arg, "\r\n") != NULL)
    {
      g_autoptr(GTask) task = new_task (self, braid_mc_client_stats_async, cancellable, callback, user_data);

      g_task_return_new_error (task, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT,
                               "A stats argument may not contain line breaks");
      return;
    }
  send_simple (self, braid_mc_client_stats_async, NULL, line, RESULT_STATS, REQ_STATS, cancellable, callback, user_data);
}

GHashTable *
braid_mc_client_stats_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
braid_mc_client_version_async (BraidMcClient *self, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  send_simple (self, braid_mc_client_version_async, NULL, "version\r\n", RESULT_VERSION, REQ_LINE,
               cancellable, callback, user_data);
}

gchar *
braid_mc_client_version_finish (BraidMcClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- object ---- */

static void
braid_mc_client_dispose (GObject *object)
{
  BraidMcClient *self = BRAID_MC_CLIENT (object);

  if (self->connect_timer != NULL && braid_delayed_call_is_active (self->connect_timer))
    braid_delayed_call_cancel (self->connect_timer);
  g_clear_pointer (&self->connect_timer, braid_delayed_call_unref);
  if (self->connection != NULL || self->requests.length > 0)
    close_connection (self, FALSE);
  G_OBJECT_CLASS (braid_mc_client_parent_class)->dispose (object);
}

static void
braid_mc_client_finalize (GObject *object)
{
  BraidMcClient *self = BRAID_MC_CLIENT (object);

  g_byte_array_unref (self->unsent);
  g_byte_array_unref (self->in);
  g_free (self->endpoint);
  g_clear_object (&self->connect_cancellable);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_mc_client_parent_class)->finalize (object);
}

static void
braid_mc_client_class_init (BraidMcClientClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = braid_mc_client_dispose;
  G_OBJECT_CLASS (klass)->finalize = braid_mc_client_finalize;
}

static void
braid_mc_client_init (BraidMcClient *self)
{
  g_queue_init (&self->requests);
  self->unsent = g_byte_array_new ();
  self->in = g_byte_array_new ();
  self->timeout_us = DEFAULT_TIMEOUT_US;
  self->item_size_max = BRAID_MC_REPLY_VALUE_MAX_DEFAULT;
  self->parser.value_max = BRAID_MC_REPLY_VALUE_MAX_DEFAULT;
  self->backoff_us = BACKOFF_FIRST_US;
}

BraidMcClient *
braid_mc_client_new (BraidReactor *reactor, const gchar *endpoint)
{
  g_return_val_if_fail (BRAID_IS_REACTOR (reactor) && endpoint != NULL, NULL);

  BraidMcClient *self = g_object_new (BRAID_TYPE_MC_CLIENT, NULL);

  self->reactor = g_object_ref (reactor);
  self->endpoint = g_strdup (endpoint);
  return self;
}

const gchar *
braid_mc_client_get_endpoint (BraidMcClient *self)
{
  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), NULL);

  return self->endpoint;
}

void
braid_mc_client_set_timeout (BraidMcClient *self, gint64 timeout_us)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));

  self->timeout_us = timeout_us;
}

void
braid_mc_client_set_item_size_max (BraidMcClient *self, gsize size)
{
  g_return_if_fail (BRAID_IS_MC_CLIENT (self));
  g_return_if_fail (size > 0);
  self->item_size_max = size;
  /* What it will not send, it will not accept either. */
  self->parser.value_max = size;
}

guint
braid_mc_client_get_n_pending (BraidMcClient *self)
{
  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), 0);

  return self->requests.length;
}

gboolean
braid_mc_client_is_connected (BraidMcClient *self)
{
  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), FALSE);

  return self->state == STATE_CONNECTED;
}

/* ---- read-only views for checkers (mc-client-private.h) ---- */

gsize
braid_mc_client_get_input_buffered (BraidMcClient *self)
{
  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), 0);
  return self->in->len;
}

gsize
braid_mc_client_get_value_max (BraidMcClient *self)
{
  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), 0);
  return self->parser.value_max != 0 ? self->parser.value_max : BRAID_MC_REPLY_VALUE_MAX_DEFAULT;
}

gboolean
braid_mc_client_get_request_buffered (BraidMcClient *self, guint index, gsize *bytes, guint *n_keys)
{
  Request *req;
  gsize held = 0;
  guint keys = 0;

  g_return_val_if_fail (BRAID_IS_MC_CLIENT (self), FALSE);
  req = g_queue_peek_nth (&self->requests, index);
  if (req == NULL)
    return FALSE;
  if (req->shape == REQ_VALUES && req->values != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, req->values);
      while (g_hash_table_iter_next (&iter, &key, &value))
        held += strlen (key) + g_bytes_get_size (((BraidMcValue *) value)->data);
      keys = g_hash_table_size (req->awaited);
    }
  else if (req->shape == REQ_VALUES && req->key != NULL)
    {
      held = req->value != NULL ? req->key_len + g_bytes_get_size (req->value->data) : 0;
      keys = 1;
    }
  else if (req->shape == REQ_STATS)
    held = req->buffered;
  if (bytes != NULL)
    *bytes = held;
  if (n_keys != NULL)
    *n_keys = keys;
  return TRUE;
}
