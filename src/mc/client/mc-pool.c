/* braid — memcached server pools. */
#include "mc-pool.h"
#include "mc-client-private.h"
#include "mc-ketama.h"

#include <string.h>

#define DEFAULT_FAILURE_LIMIT 2
#define DEFAULT_RETRY_US (10 * G_USEC_PER_SEC)

typedef struct {
  gchar *host;
  guint16 port;
  gchar *name;              /* HOST:PORT */
  BraidMcClient *client;    /* (owned) */
  guint failures;
  gint64 dead_until;        /* 0: alive */
} Server;

struct _BraidMcPool
{
  GObject parent_instance;

  BraidReactor *reactor;    /* (owned) */
  GArray *servers;          /* (element-type Server) */
  BraidKetama *all;         /* (owned): every server */
  BraidKetama *live;        /* (owned) (nullable): live ones, when some are dead */
  GArray *live_index;       /* live continuum index → server index */
  guint failure_limit;
  gint64 retry_us;
};

G_DEFINE_FINAL_TYPE (BraidMcPool, braid_mc_pool, G_TYPE_OBJECT)

static void
server_clear (gpointer data)
{
  Server *s = data;

  g_free (s->host);
  g_free (s->name);
  g_clear_object (&s->client);
}

static void
braid_mc_pool_finalize (GObject *object)
{
  BraidMcPool *self = BRAID_MC_POOL (object);

  g_array_unref (self->servers);
  braid_ketama_free (self->all);
  braid_ketama_free (self->live);
  g_array_unref (self->live_index);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_mc_pool_parent_class)->finalize (object);
}

static void
braid_mc_pool_class_init (BraidMcPoolClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_mc_pool_finalize;
}

static void
braid_mc_pool_init (BraidMcPool *self)
{
  self->servers = g_array_new (FALSE, TRUE, sizeof (Server));
  g_array_set_clear_func (self->servers, server_clear);
  self->live_index = g_array_new (FALSE, FALSE, sizeof (guint));
  self->failure_limit = DEFAULT_FAILURE_LIMIT;
  self->retry_us = DEFAULT_RETRY_US;
}

static Server *
server_at (BraidMcPool *self, guint i)
{
  return &g_array_index (self->servers, Server, i);
}

static BraidKetama *
build_continuum (BraidMcPool *self, gboolean live_only, GArray *index_out)
{
  g_autofree BraidKetamaServer *list = g_new0 (BraidKetamaServer, self->servers->len);
  guint n = 0;
  gint64 now = braid_reactor_now (self->reactor);

  if (index_out != NULL)
    g_array_set_size (index_out, 0);
  for (guint i = 0; i < self->servers->len; i++)
    {
      Server *s = server_at (self, i);

      if (live_only && s->dead_until > now)
        continue;
      list[n].host = s->host;
      list[n].port = s->port;
      list[n].weight = 1;
      n++;
      if (index_out != NULL)
        g_array_append_val (index_out, i);
    }
  return n > 0 ? braid_ketama_new (list, n) : NULL;
}

/* "HOST[:PORT]", or an endpoint "tcp:HOST:PORT…" / "tls:HOST:PORT…":
 * the host and port, and the endpoint to connect to in *@endpoint. */
static gboolean
parse_server (const gchar *spec, gchar **host, guint16 *port, gchar **endpoint, gchar **why)
{
  g_autofree gchar *s = g_strstrip (g_strdup (spec));
  gchar *colon;
  guint64 p = 11211;

  if (*s == '\0')
    return FALSE;
  if (g_str_has_prefix (s, "tcp:") || g_str_has_prefix (s, "tls:"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (s, BRAID_ENDPOINT_ROLE_CLIENT, &error);

      if (ep == NULL)
        {
          *why = g_strdup (error->message);
          return FALSE;
        }
      *host = g_strdup (ep->host);
      *port = ep->port;
      *endpoint = g_steal_pointer (&s);
      return TRUE;
    }
  colon = strrchr (s, ':');
  if (colon != NULL)
    {
      *colon = '\0';
      if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &p, NULL) || *s == '\0')
        return FALSE;
    }
  *host = g_strdup (s);
  *port = (guint16) p;
  *endpoint = g_strdup_printf ("tcp:%s:%u", *host, *port);
  return TRUE;
}

BraidMcPool *
braid_mc_pool_new (BraidReactor *reactor, const gchar *servers, GError **error)
{
  g_return_val_if_fail (BRAID_IS_REACTOR (reactor) && servers != NULL, NULL);

  g_autoptr(BraidMcPool) self = g_object_new (BRAID_TYPE_MC_POOL, NULL);
  g_auto(GStrv) specs = braid_endpoint_split_list (servers);

  self->reactor = g_object_ref (reactor);
  for (guint i = 0; specs[i] != NULL; i++)
    {
      Server s = { 0 };
      g_autofree gchar *endpoint = NULL;
      g_autofree gchar *why = NULL;

      if (*g_strstrip (specs[i]) == '\0')
        continue;
      if (!parse_server (specs[i], &s.host, &s.port, &endpoint, &why))
        {
          g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT,
                       "“%s” is not a memcached server (expected HOST:PORT, tcp:HOST:PORT or tls:HOST:PORT)%s%s",
                       specs[i], why != NULL ? ": " : "", why != NULL ? why : "");
          return NULL;
        }
      s.name = g_strdup_printf ("%s:%u", s.host, s.port);
      s.client = braid_mc_client_new (reactor, endpoint);
      g_array_append_val (self->servers, s);
    }
  if (self->servers->len == 0)
    {
      g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_INVALID_ARGUMENT,
                   "No memcached servers given (expected HOST:PORT[,HOST:PORT...])");
      return NULL;
    }
  self->all = build_continuum (self, FALSE, NULL);
  return g_steal_pointer (&self);
}

guint
braid_mc_pool_get_n_servers (BraidMcPool *self)
{
  g_return_val_if_fail (BRAID_IS_MC_POOL (self), 0);

  return self->servers->len;
}

const gchar *
braid_mc_pool_get_server_name (BraidMcPool *self, guint index)
{
  g_return_val_if_fail (index < self->servers->len, NULL);
  return server_at (self, index)->name;
}

BraidMcClient *
braid_mc_pool_get_client (BraidMcPool *self, guint index)
{
  g_return_val_if_fail (index < self->servers->len, NULL);
  return server_at (self, index)->client;
}

guint
braid_mc_pool_locate (BraidMcPool *self, const gchar *key)
{
  g_return_val_if_fail (BRAID_IS_MC_POOL (self) && key != NULL, 0);

  return braid_ketama_lookup (self->all, key, strlen (key));
}

void
braid_mc_pool_set_timeout (BraidMcPool *self, gint64 timeout_us)
{
  g_return_if_fail (BRAID_IS_MC_POOL (self));

  for (guint i = 0; i < self->servers->len; i++)
    braid_mc_client_set_timeout (server_at (self, i)->client, timeout_us);
}

void
braid_mc_pool_set_ejection (BraidMcPool *self, guint failure_limit, gint64 retry_us)
{
  g_return_if_fail (BRAID_IS_MC_POOL (self));

  self->failure_limit = MAX (failure_limit, 1u);
  self->retry_us = retry_us;
}

gboolean
braid_mc_pool_is_server_alive (BraidMcPool *self, guint index)
{
  g_return_val_if_fail (BRAID_IS_MC_POOL (self), FALSE);

  return server_at (self, index)->dead_until <= braid_reactor_now (self->reactor);
}

BraidMcClient *
braid_mc_pool_client_for_key (BraidMcPool *self, const gchar *key, GError **error)
{
  g_return_val_if_fail (BRAID_IS_MC_POOL (self), NULL);

  guint index = braid_mc_pool_locate (self, key);

  if (braid_mc_pool_is_server_alive (self, index))
    return server_at (self, index)->client;
  /* Its server is out: the live servers' continuum decides, as if the
   * dead one had been removed. */
  g_clear_pointer (&self->live, braid_ketama_free);
  self->live = build_continuum (self, TRUE, self->live_index);
  if (self->live == NULL)
    {
      g_set_error (error, BRAID_MC_ERROR, BRAID_MC_ERROR_NO_SERVERS,
                   "All %u memcached servers are out after failures", self->servers->len);
      return NULL;
    }
  index = g_array_index (self->live_index, guint, braid_ketama_lookup (self->live, key, strlen (key)));
  return server_at (self, index)->client;
}

static Server *
server_for_client (BraidMcPool *self, BraidMcClient *client)
{
  for (guint i = 0; i < self->servers->len; i++)
    if (server_at (self, i)->client == client)
      return server_at (self, i);
  return NULL;
}

/* Counts failures that say the server is unreachable, not answers such as
 * NOT_FOUND. */
static void
account (BraidMcPool *self, BraidMcClient *client, const GError *error)
{
  Server *s = server_for_client (self, client);

  if (s == NULL)
    return;
  /* A server that drops connections, does not answer or answers garbage
   * is failing; any memcached answer (even NOT_FOUND) proves it alive. */
  if (error == NULL || (error->domain == BRAID_MC_ERROR &&
                        error->code != BRAID_MC_ERROR_CONNECTION_LOST &&
                        error->code != BRAID_MC_ERROR_TIMED_OUT &&
                        error->code != BRAID_MC_ERROR_PROTOCOL))
    {
      s->failures = 0;
      return;
    }
  if (error->domain != BRAID_MC_ERROR)
    return;  /* cancelled: says nothing about the server */
  if (++s->failures >= self->failure_limit)
    {
      s->dead_until = braid_reactor_now (self->reactor) + self->retry_us;
      s->failures = 0;
      g_message ("memcached server %s is out for %.0f s after repeated failures: %s",
                 s->name, (gdouble) self->retry_us / G_USEC_PER_SEC, error->message);
    }
}

typedef struct {
  BraidMcPool *pool;       /* (owned) */
  BraidMcClient *client;   /* (owned) */
} Call;

static void
call_free (Call *call)
{
  g_object_unref (call->pool);
  g_object_unref (call->client);
  g_free (call);
}

static GTask *
start_call (BraidMcPool *self, const gchar *key, gpointer tag, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer user_data, BraidMcClient **client)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;
  Call *call;

  g_task_set_source_tag (task, tag);
  if (!braid_mc_validate_key (key, &error) ||
      (*client = braid_mc_pool_client_for_key (self, key, &error)) == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return NULL;
    }
  call = g_new0 (Call, 1);
  call->pool = g_object_ref (self);
  call->client = g_object_ref (*client);
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  return task;
}

static void
on_get_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;
  BraidMcValue *value = braid_mc_client_get_finish (BRAID_MC_CLIENT (source), result, &error);

  account (call->pool, call->client, error);
  if (value == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) braid_mc_value_unref);
}

void
braid_mc_pool_get_async (BraidMcPool *self, const gchar *key, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_POOL (self));

  BraidMcClient *client = NULL;
  GTask *task = start_call (self, key, braid_mc_pool_get_async, cancellable, callback, user_data, &client);

  if (task != NULL)
    braid_mc_client_get_async (client, key, BRAID_MC_GET_FLAGS_NONE, cancellable, on_get_done, task);
}

BraidMcValue *
braid_mc_pool_get_finish (BraidMcPool *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

struct _BraidMcPoolDirectGet {
  BraidMcPool *pool;       /* (owned) */
  BraidMcClient *client;   /* (owned) */
  BraidMcDirectGet *get;   /* (unowned): the client's, until answered */
  BraidMcValueFunc func;
  gpointer user_data;
};
typedef struct _BraidMcPoolDirectGet DirectGet;

static void
on_direct_get_done (BraidMcValue *value, GError *error, gpointer data)
{
  DirectGet *get = data;

  account (get->pool, get->client, error);
  get->func (value, error, get->user_data);
  g_object_unref (get->pool);
  g_object_unref (get->client);
  g_free (get);
}

BraidMcPoolDirectGet *
braid_mc_pool_get_direct (BraidMcPool *self, const gchar *key, GCancellable *cancellable,
                          BraidMcValueFunc func, gpointer user_data)
{
  GError *error = NULL;
  BraidMcClient *client = NULL;
  DirectGet *get;

  g_return_val_if_fail (BRAID_IS_MC_POOL (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (!braid_mc_validate_key (key, &error) || (client = braid_mc_pool_client_for_key (self, key, &error)) == NULL)
    {
      braid_mc_answer_later (self->reactor, func, user_data, error);
      return NULL;
    }
  get = g_new (DirectGet, 1);
  get->pool = g_object_ref (self);
  get->client = g_object_ref (client);
  get->func = func;
  get->user_data = user_data;
  /* the key is valid: the client answers it, never at once */
  get->get = braid_mc_client_get_direct (client, key, cancellable, on_direct_get_done, get);
  return get;
}

void
braid_mc_pool_cancel_direct (BraidMcPool *self, BraidMcPoolDirectGet *get)
{
  g_return_if_fail (BRAID_IS_MC_POOL (self));
  if (get == NULL)
    return;
  g_return_if_fail (get->pool == self);
  braid_mc_client_cancel_direct (get->client, get->get);
}

static void
complete_boolean_call (GTask *task, gboolean ok, GError *error)
{
  Call *call = g_task_get_task_data (task);

  account (call->pool, call->client, error);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_set_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  gboolean ok = braid_mc_client_set_finish (BRAID_MC_CLIENT (source), result, &error);

  complete_boolean_call (task, ok, error);
}

static void
on_delete_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  gboolean ok = braid_mc_client_delete_finish (BRAID_MC_CLIENT (source), result, &error);

  complete_boolean_call (task, ok, error);
}

void
braid_mc_pool_set_async (BraidMcPool *self, const gchar *key, GBytes *data, guint32 flags,
                         gint64 exptime, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_POOL (self));

  BraidMcClient *client = NULL;
  GTask *task = start_call (self, key, braid_mc_pool_set_async, cancellable, callback, user_data, &client);

  if (task != NULL)
    braid_mc_client_set_async (client, key, data, flags, exptime, cancellable, on_set_done, task);
}

gboolean
braid_mc_pool_set_finish (BraidMcPool *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
braid_mc_pool_delete_async (BraidMcPool *self, const gchar *key, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BRAID_IS_MC_POOL (self));

  BraidMcClient *client = NULL;
  GTask *task = start_call (self, key, braid_mc_pool_delete_async, cancellable, callback, user_data, &client);

  if (task != NULL)
    braid_mc_client_delete_async (client, key, cancellable, on_delete_done, task);
}

gboolean
braid_mc_pool_delete_finish (BraidMcPool *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
