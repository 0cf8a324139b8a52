/* braid — the fake reactor.
 *
 * Time is a number the test moves.  Delayed calls share the timer queue of
 * the real reactor.  Connections are pairs of in-memory transports that
 * pump() moves bytes between under a delivery policy.  Everything runs from
 * plain calls (never inside a GSource dispatch), and the thread-default
 * GMainContext is drained after each step so GTask callbacks run at
 * deterministic points. */
#include "fake-reactor.h"
#include "fake-transport-private.h"
#include "delayed-call-private.h"

#define FAKE_EPOCH_US (G_GINT64_CONSTANT (1767225600) * G_USEC_PER_SEC) /* 2026-01-01 */
#define DEFAULT_IDLE_STEP_LIMIT 10000000
#define FIRST_FAKE_PORT 20000
#define FIRST_CLIENT_PORT 40000

struct _BraidFakeReactor
{
  GObject parent_instance;

  GRand *rand;                  /* (owned) */
  gint64 now;                   /* monotonic µs */
  gint64 real_offset;           /* wall clock = real_offset + now */
  BraidTimerQueue *timers;      /* (owned) */
  GMainContext *context;        /* (owned) */
  BraidFakeDelivery delivery;
  GPtrArray *transports;        /* (element-type BraidFakeTransport) (owned): live ones */
  GPtrArray *all_transports;    /* (element-type BraidFakeTransport) (owned): every one */
  GPtrArray *listeners;         /* (element-type BraidFakeListener) (unowned) */
  GPtrArray *pending_connects;  /* (element-type PendingConnect) (owned) */
  gboolean auto_connect;
  gboolean refuse_connections;
  GError *listen_error;         /* (owned) (nullable) */
  guint16 next_port;
  guint16 next_client_port;
  gboolean running;
  gboolean stop_requested;
  guint idle_step_limit;        /* busy pumps before run_until_idle gives up */
};

static void braid_fake_reactor_iface_init (BraidReactorInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidFakeReactor, braid_fake_reactor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_REACTOR,
                                                      braid_fake_reactor_iface_init))

/* ---- fake listeners ---- */

#define BRAID_TYPE_FAKE_LISTENER (braid_fake_listener_get_type ())
G_DECLARE_FINAL_TYPE (BraidFakeListener, braid_fake_listener, BRAID, FAKE_LISTENER, BraidListener)

struct _BraidFakeListener
{
  BraidListener parent_instance;

  BraidFakeReactor *reactor;      /* (unowned) (nullable): cleared on stop */
  BraidEndpoint *endpoint;        /* (owned) */
  BraidProtocolFactory *factory;  /* (owned) */
  GSocketAddress *address;        /* (owned) */
  guint n_connections;
};

G_DEFINE_FINAL_TYPE (BraidFakeListener, braid_fake_listener, BRAID_TYPE_LISTENER)

static void
fake_listener_stop (BraidListener *listener)
{
  BraidFakeListener *self = BRAID_FAKE_LISTENER (listener);

  if (self->reactor != NULL)
    g_ptr_array_remove (self->reactor->listeners, self);
  self->reactor = NULL;
}

static GSocketAddress *
fake_listener_get_address (BraidListener *listener)
{
  return BRAID_FAKE_LISTENER (listener)->address;
}

static guint
fake_listener_get_n_connections (BraidListener *listener)
{
  return BRAID_FAKE_LISTENER (listener)->n_connections;
}

static void
braid_fake_listener_dispose (GObject *object)
{
  BraidFakeListener *self = BRAID_FAKE_LISTENER (object);

  braid_listener_stop (BRAID_LISTENER (self));
  g_clear_object (&self->factory);
  G_OBJECT_CLASS (braid_fake_listener_parent_class)->dispose (object);
}

static void
braid_fake_listener_finalize (GObject *object)
{
  BraidFakeListener *self = BRAID_FAKE_LISTENER (object);

  braid_endpoint_free (self->endpoint);
  g_clear_object (&self->address);
  G_OBJECT_CLASS (braid_fake_listener_parent_class)->finalize (object);
}

static void
braid_fake_listener_class_init (BraidFakeListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  BraidListenerClass *listener_class = BRAID_LISTENER_CLASS (klass);

  object_class->dispose = braid_fake_listener_dispose;
  object_class->finalize = braid_fake_listener_finalize;
  listener_class->stop = fake_listener_stop;
  listener_class->get_address = fake_listener_get_address;
  listener_class->get_n_connections = fake_listener_get_n_connections;
}

static void
braid_fake_listener_init (BraidFakeListener *self)
{
}

/* ---- pending connects ---- */

typedef struct {
  BraidEndpoint *endpoint;        /* (owned) */
  BraidProtocolFactory *factory;  /* (owned) */
  GTask *task;                    /* (owned) */
} PendingConnect;

static void
pending_connect_free (PendingConnect *pc)
{
  braid_endpoint_free (pc->endpoint);
  g_object_unref (pc->factory);
  g_clear_object (&pc->task);
  g_free (pc);
}

/* ---- GObject ---- */

static gint64
clock_now (gpointer data)
{
  return BRAID_FAKE_REACTOR (data)->now;
}

static void
braid_fake_reactor_dispose (GObject *object)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (object);

  g_clear_pointer (&self->timers, braid_timer_queue_free);
  g_clear_pointer (&self->pending_connects, g_ptr_array_unref);
  if (self->listeners != NULL)
    {
      for (guint i = 0; i < self->listeners->len; i++)
        BRAID_FAKE_LISTENER (g_ptr_array_index (self->listeners, i))->reactor = NULL;
      g_clear_pointer (&self->listeners, g_ptr_array_unref);
    }
  if (self->all_transports != NULL)
    {
      /* Drop the transports' hold on their protocols; protocols still
       * referenced by the test keep their transport alive by themselves. */
      for (guint i = 0; i < self->all_transports->len; i++)
        {
          BraidFakeTransport *t = g_ptr_array_index (self->all_transports, i);

          braid_fake_transport_set_closed_func (t, NULL, NULL);
          g_object_run_dispose (G_OBJECT (t));
        }
    }
  g_clear_pointer (&self->transports, g_ptr_array_unref);
  g_clear_pointer (&self->all_transports, g_ptr_array_unref);
  G_OBJECT_CLASS (braid_fake_reactor_parent_class)->dispose (object);
}

static void
braid_fake_reactor_finalize (GObject *object)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (object);

  g_rand_free (self->rand);
  g_clear_error (&self->listen_error);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (braid_fake_reactor_parent_class)->finalize (object);
}

static void
braid_fake_reactor_class_init (BraidFakeReactorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = braid_fake_reactor_dispose;
  object_class->finalize = braid_fake_reactor_finalize;
}

static void
braid_fake_reactor_init (BraidFakeReactor *self)
{
  self->timers = braid_timer_queue_new (clock_now, self);
  self->context = g_main_context_ref_thread_default ();
  self->transports = g_ptr_array_new_with_free_func (g_object_unref);
  self->all_transports = g_ptr_array_new_with_free_func (g_object_unref);
  self->listeners = g_ptr_array_new ();
  self->pending_connects = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_connect_free);
  self->auto_connect = TRUE;
  self->idle_step_limit = DEFAULT_IDLE_STEP_LIMIT;
  self->real_offset = FAKE_EPOCH_US;
  self->next_port = FIRST_FAKE_PORT;
  self->next_client_port = FIRST_CLIENT_PORT;
}

BraidFakeReactor *
braid_fake_reactor_new (guint32 seed)
{
  BraidFakeReactor *self = g_object_new (BRAID_TYPE_FAKE_REACTOR, NULL);

  self->rand = g_rand_new_with_seed (seed);
  return self;
}

GRand *
braid_fake_reactor_get_rand (BraidFakeReactor *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_REACTOR (self), NULL);
  return self->rand;
}

/* ---- clock ---- */

static gint64
reactor_now (BraidReactor *reactor)
{
  return BRAID_FAKE_REACTOR (reactor)->now;
}

static gint64
reactor_real_time (BraidReactor *reactor)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (reactor);

  return self->real_offset + self->now;
}

void
braid_fake_reactor_set_real_time (BraidFakeReactor *self, gint64 unix_us)
{
  g_return_if_fail (BRAID_IS_FAKE_REACTOR (self));
  self->real_offset = unix_us - self->now;
}

static BraidDelayedCall *
reactor_call_later (BraidReactor *reactor,
                    gint64 delay_us,
                    BraidCallFunc func,
                    gpointer user_data,
                    GDestroyNotify destroy)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (reactor);

  return braid_timer_queue_add (self->timers, delay_us, func, user_data, destroy);
}

GPtrArray *
braid_fake_reactor_get_pending_calls (BraidFakeReactor *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_REACTOR (self), NULL);
  return braid_timer_queue_get_pending (self->timers);
}

guint
braid_fake_reactor_get_n_pending_calls (BraidFakeReactor *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_REACTOR (self), 0);
  return braid_timer_queue_get_length (self->timers);
}

/* ---- connections ---- */

void
braid_fake_reactor_set_delivery (BraidFakeReactor *self, BraidFakeDelivery delivery)
{
  g_return_if_fail (BRAID_IS_FAKE_REACTOR (self));
  self->delivery = delivery;
}

BraidFakeDelivery
braid_fake_reactor_get_delivery (BraidFakeReactor *self)
{
  return self->delivery;
}

static GSocketAddress *
loopback_address (guint16 port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

  return g_inet_socket_address_new (inet, port);
}

static void
free_weak_ref (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
on_fake_transport_closed (BraidFakeTransport *transport, gpointer user_data)
{
  BraidFakeReactor *self = user_data;
  GWeakRef *ref = g_object_get_data (G_OBJECT (transport), "braid-fake-listener");
  g_autoptr(BraidFakeListener) listener = ref != NULL ? g_weak_ref_get (ref) : NULL;

  /* The listener may be long gone: connections outlive their listener. */
  if (listener != NULL && listener->n_connections > 0)
    listener->n_connections--;
  g_ptr_array_remove (self->transports, transport);
}

/* Makes a transport pair and greets both protocols, client first. */
static void
connect_protocols (BraidFakeReactor *self,
                   BraidProtocol *client,
                   BraidProtocol *server,
                   guint16 server_port,
                   BraidFakeTransport **client_out,
                   BraidFakeTransport **server_out)
{
  g_autoptr(GSocketAddress) server_address = loopback_address (server_port);
  g_autoptr(GSocketAddress) client_address = loopback_address (self->next_client_port++);
  BraidFakeTransport *ct = braid_fake_transport_new_connected (client_address, server_address);
  BraidFakeTransport *st = braid_fake_transport_new_connected (server_address, client_address);

  braid_fake_transport_set_peer (ct, st);
  braid_fake_transport_set_peer (st, ct);
  braid_fake_transport_set_closed_func (ct, on_fake_transport_closed, self);
  braid_fake_transport_set_closed_func (st, on_fake_transport_closed, self);
  g_ptr_array_add (self->transports, g_object_ref (ct));
  g_ptr_array_add (self->transports, g_object_ref (st));
  g_ptr_array_add (self->all_transports, ct);
  g_ptr_array_add (self->all_transports, st);
  braid_fake_transport_attach (st, server);
  braid_fake_transport_attach (ct, client);
  if (client_out != NULL)
    *client_out = ct;
  if (server_out != NULL)
    *server_out = st;
}

void
braid_fake_connect_pair (BraidFakeReactor *self,
                         BraidProtocol *client,
                         BraidProtocol *server,
                         BraidFakeTransport **client_transport,
                         BraidFakeTransport **server_transport)
{
  g_return_if_fail (BRAID_IS_FAKE_REACTOR (self));
  g_return_if_fail (BRAID_IS_PROTOCOL (client));
  g_return_if_fail (BRAID_IS_PROTOCOL (server));
  connect_protocols (self, client, server, self->next_port++, client_transport, server_transport);
}

GPtrArray *
braid_fake_reactor_get_transports (BraidFakeReactor *self)
{
  return self->all_transports;
}

/* ---- listening ---- */

static gboolean
endpoint_matches (const BraidEndpoint *server, GSocketAddress *address,
                  const BraidEndpoint *client)
{
  if (server->kind == BRAID_ENDPOINT_KIND_UNIX || client->kind == BRAID_ENDPOINT_KIND_UNIX)
    return server->kind == client->kind && g_strcmp0 (server->path, client->path) == 0;
  /* TCP: the port decides; any host name reaches the one fake machine.
   * TLS is simulated as TCP that only meets TLS: no handshake, no
   * certificates, the bytes move in the clear. */
  return (client->kind == BRAID_ENDPOINT_KIND_TCP || client->kind == BRAID_ENDPOINT_KIND_TLS) &&
         client->kind == server->kind &&
         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)) == client->port;
}

static BraidFakeListener *
find_listener (BraidFakeReactor *self, const BraidEndpoint *client)
{
  for (guint i = 0; i < self->listeners->len; i++)
    {
      BraidFakeListener *l = g_ptr_array_index (self->listeners, i);

      if (endpoint_matches (l->endpoint, l->address, client))
        return l;
    }
  return NULL;
}

static BraidListener *
reactor_listen (BraidReactor *reactor,
                const BraidEndpoint *endpoint,
                BraidProtocolFactory *factory,
                GError **error)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (reactor);
  BraidFakeListener *listener;
  guint16 port = 0;

  if (self->listen_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->listen_error));
      return NULL;
    }
  if (endpoint->kind == BRAID_ENDPOINT_KIND_TCP || endpoint->kind == BRAID_ENDPOINT_KIND_TLS)
    {
      port = endpoint->port != 0 ? endpoint->port : self->next_port++;
      for (guint i = 0; i < self->listeners->len; i++)
        {
          BraidFakeListener *l = g_ptr_array_index (self->listeners, i);

          if ((l->endpoint->kind == BRAID_ENDPOINT_KIND_TCP ||
               l->endpoint->kind == BRAID_ENDPOINT_KIND_TLS) &&
              g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (l->address)) == port)
            {
              g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
                           "Cannot listen on “%s”: Address already in use",
                           endpoint->description);
              return NULL;
            }
        }
    }

  listener = g_object_new (BRAID_TYPE_FAKE_LISTENER, NULL);
  listener->reactor = self;
  listener->endpoint = braid_endpoint_copy (endpoint);
  listener->factory = g_object_ref (factory);
  listener->address = loopback_address (port);
  g_ptr_array_add (self->listeners, listener);
  return BRAID_LISTENER (listener);
}

guint
braid_fake_reactor_get_n_listeners (BraidFakeReactor *self)
{
  return self->listeners->len;
}

void
braid_fake_reactor_set_listen_error (BraidFakeReactor *self, const GError *error)
{
  g_clear_error (&self->listen_error);
  if (error != NULL)
    self->listen_error = g_error_copy (error);
}

void
braid_fake_reactor_drop_listener (BraidFakeReactor *self, const gchar *endpoint)
{
  g_autoptr(BraidEndpoint) parsed = braid_endpoint_parse (endpoint, BRAID_ENDPOINT_ROLE_SERVER, NULL);

  g_return_if_fail (parsed != NULL);
  for (guint i = 0; i < self->listeners->len; i++)
    {
      BraidFakeListener *l = g_ptr_array_index (self->listeners, i);

      if (g_str_equal (braid_endpoint_to_string (l->endpoint), braid_endpoint_to_string (parsed)))
        {
          braid_listener_stop (BRAID_LISTENER (l));
          return;
        }
    }
}

/* ---- connecting ---- */

static void
reactor_connect_async (BraidReactor *reactor,
                       const BraidEndpoint *endpoint,
                       BraidProtocolFactory *factory,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (reactor);
  PendingConnect *pc = g_new0 (PendingConnect, 1);

  pc->endpoint = braid_endpoint_copy (endpoint);
  pc->factory = g_object_ref (factory);
  pc->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (pc->task, reactor_connect_async);
  g_ptr_array_add (self->pending_connects, pc);
}

static BraidProtocol *
reactor_connect_finish (BraidReactor *reactor, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, reactor), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
braid_fake_reactor_get_n_pending_connects (BraidFakeReactor *self)
{
  return self->pending_connects->len;
}

const gchar *
braid_fake_reactor_get_pending_connect_endpoint (BraidFakeReactor *self, guint index)
{
  PendingConnect *pc;

  g_return_val_if_fail (index < self->pending_connects->len, NULL);
  pc = g_ptr_array_index (self->pending_connects, index);
  return braid_endpoint_to_string (pc->endpoint);
}

static PendingConnect *
steal_pending_connect (BraidFakeReactor *self, guint index)
{
  return g_ptr_array_steal_index (self->pending_connects, index);
}

void
braid_fake_reactor_fail_connect (BraidFakeReactor *self, guint index, const GError *error)
{
  PendingConnect *pc;

  g_return_if_fail (index < self->pending_connects->len);
  pc = steal_pending_connect (self, index);
  g_task_return_error (pc->task, g_error_copy (error));
  pending_connect_free (pc);
}

static void
refuse (BraidFakeReactor *self, guint index, const gchar *why)
{
  PendingConnect *pc = g_ptr_array_index (self->pending_connects, index);
  g_autoptr(GError) error = g_error_new (BRAID_REACTOR_ERROR,
                                         BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                                         "Cannot connect to “%s”: %s",
                                         braid_endpoint_to_string (pc->endpoint), why);

  braid_fake_reactor_fail_connect (self, index, error);
}

void
braid_fake_reactor_complete_connect (BraidFakeReactor *self, guint index)
{
  PendingConnect *pc;
  BraidFakeListener *listener;
  g_autoptr(BraidProtocol) server = NULL;
  g_autoptr(BraidProtocol) client = NULL;
  g_autoptr(GSocketAddress) client_address = NULL;
  BraidFakeTransport *server_transport = NULL;
  guint16 port;

  g_return_if_fail (index < self->pending_connects->len);
  pc = g_ptr_array_index (self->pending_connects, index);

  if (g_task_return_error_if_cancelled (pc->task))
    {
      pending_connect_free (steal_pending_connect (self, index));
      return;
    }
  if (self->refuse_connections)
    {
      refuse (self, index, "Connection refused (injected fault)");
      return;
    }
  listener = find_listener (self, pc->endpoint);
  if (listener == NULL)
    {
      refuse (self, index, "Connection refused");
      return;
    }

  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (listener->address));
  client_address = loopback_address (self->next_client_port);
  server = braid_protocol_factory_build_protocol (listener->factory, client_address);
  if (server == NULL)
    {
      refuse (self, index, "Connection closed by the server at once");
      return;
    }
  client = braid_protocol_factory_build_protocol (pc->factory, listener->address);
  if (client == NULL)
    {
      refuse (self, index, "The protocol factory refused the connection");
      return;
    }

  pc = steal_pending_connect (self, index);
  connect_protocols (self, client, server, port, NULL, &server_transport);
  {
    GWeakRef *ref = g_new0 (GWeakRef, 1);

    g_weak_ref_init (ref, listener);
    g_object_set_data_full (G_OBJECT (server_transport), "braid-fake-listener", ref, free_weak_ref);
  }
  listener->n_connections++;
  g_task_return_pointer (pc->task, g_steal_pointer (&client), g_object_unref);
  pending_connect_free (pc);
}

void
braid_fake_reactor_set_auto_connect (BraidFakeReactor *self, gboolean auto_connect)
{
  self->auto_connect = auto_connect;
}

void
braid_fake_reactor_set_refuse_connections (BraidFakeReactor *self, gboolean refuse_all)
{
  self->refuse_connections = refuse_all;
}

/* ---- running ---- */

static gboolean
drain_main_context (BraidFakeReactor *self)
{
  gboolean ran = FALSE;

  while (g_main_context_iteration (self->context, FALSE))
    ran = TRUE;
  return ran;
}

gboolean
braid_fake_reactor_pump (BraidFakeReactor *self)
{
  gboolean moved = FALSE;

  g_return_val_if_fail (BRAID_IS_FAKE_REACTOR (self), FALSE);
  g_object_ref (self);

  moved |= braid_timer_queue_run_due (self->timers, self->now) > 0;

  if (self->auto_connect)
    while (self->pending_connects->len > 0)
      {
        braid_fake_reactor_complete_connect (self, 0);
        moved = TRUE;
      }

  /* Iterate over a snapshot: pumping may open or close connections. */
  {
    g_autoptr(GPtrArray) snapshot = g_ptr_array_copy (self->transports,
                                                      (GCopyFunc) (void (*) (void)) g_object_ref,
                                                      NULL);

    g_ptr_array_set_free_func (snapshot, g_object_unref);
    for (guint i = 0; i < snapshot->len; i++)
      moved |= braid_fake_transport_pump (g_ptr_array_index (snapshot, i),
                                          self->delivery, self->rand);
  }

  moved |= drain_main_context (self);
  g_object_unref (self);
  return moved;
}

void
braid_fake_reactor_run_until_idle (BraidFakeReactor *self)
{
  g_return_if_fail (BRAID_IS_FAKE_REACTOR (self));

  for (guint steps = 0; braid_fake_reactor_pump (self); steps++)
    if (steps >= self->idle_step_limit)
      {
        g_critical ("braid_fake_reactor_run_until_idle: still busy after %u steps "
                    "(a livelock: something reschedules itself at zero delay)",
                    self->idle_step_limit);
        return;
      }
}

void
braid_fake_reactor_set_idle_step_limit (BraidFakeReactor *self, guint limit)
{
  g_return_if_fail (BRAID_IS_FAKE_REACTOR (self));
  self->idle_step_limit = limit;
}

guint
braid_fake_reactor_get_idle_step_limit (BraidFakeReactor *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_REACTOR (self), 0);
  return self->idle_step_limit;
}

void
braid_fake_reactor_advance (BraidFakeReactor *self, gint64 us)
{
  gint64 target;

  g_return_if_fail (BRAID_IS_FAKE_REACTOR (self));
  g_return_if_fail (us >= 0);

  target = self->now + us;
  braid_fake_reactor_run_until_idle (self);
  for (;;)
    {
      gint64 next = braid_timer_queue_next_time (self->timers);

      if (next < 0 || next > target)
        break;
      self->now = MAX (self->now, next);
      braid_fake_reactor_run_until_idle (self);
    }
  self->now = target;
  braid_fake_reactor_run_until_idle (self);
}

void
braid_fake_reactor_pump_steps (BraidFakeReactor *self, const gint64 *steps)
{
  for (; *steps >= 0; steps++)
    braid_fake_reactor_advance (self, *steps);
}

gboolean
braid_fake_reactor_run_all_timers (BraidFakeReactor *self, gint64 max_us)
{
  gint64 limit = self->now + max_us;

  braid_fake_reactor_run_until_idle (self);
  for (;;)
    {
      gint64 next = braid_timer_queue_next_time (self->timers);

      if (next < 0)
        return TRUE;
      if (next > limit)
        return FALSE;
      braid_fake_reactor_advance (self, MAX (0, next - self->now));
    }
}

/* braid_reactor_run(): run_until_idle, then simulated time jumps to the
 * next pending call, until stopped or nothing is pending. */
static void
reactor_run (BraidReactor *reactor)
{
  BraidFakeReactor *self = BRAID_FAKE_REACTOR (reactor);

  g_return_if_fail (!self->running);
  if (self->stop_requested)
    {
      self->stop_requested = FALSE;
      return;
    }
  self->running = TRUE;
  g_object_ref (self);
  braid_fake_reactor_run_until_idle (self);
  while (!self->stop_requested)
    {
      gint64 next = braid_timer_queue_next_time (self->timers);

      if (next < 0)
        break;
      braid_fake_reactor_advance (self, MAX (0, next - self->now));
    }
  self->stop_requested = FALSE;
  self->running = FALSE;
  g_object_unref (self);
}

static void
reactor_stop (BraidReactor *reactor)
{
  BRAID_FAKE_REACTOR (reactor)->stop_requested = TRUE;
}

static void
braid_fake_reactor_iface_init (BraidReactorInterface *iface)
{
  iface->run = reactor_run;
  iface->stop = reactor_stop;
  iface->now = reactor_now;
  iface->real_time = reactor_real_time;
  iface->call_later = reactor_call_later;
  iface->listen = reactor_listen;
  iface->connect_async = reactor_connect_async;
  iface->connect_finish = reactor_connect_finish;
}
