/* braid — the reactor interface: thin wrappers that parse endpoints and
 * dispatch to the implementation. */
#include "reactor.h"
#include "iface-cache-private.h"

G_DEFINE_INTERFACE (BraidReactor, braid_reactor, G_TYPE_OBJECT)

static void
braid_reactor_default_init (BraidReactorInterface *iface)
{
}

BRAID_IFACE_CACHE_DEFINE (reactor_cache);

/* The interface table of @self, NULL if it is not a reactor
 * (iface-cache-private.h: no GType lookup per call). */
static inline BraidReactorInterface *
reactor_iface (BraidReactor *self)
{
  return braid_iface_cache_peek (&reactor_cache, self, BRAID_TYPE_REACTOR);
}

gint64
braid_reactor_now (BraidReactor *self)
{
  BraidReactorInterface *iface = reactor_iface (self);

  g_return_val_if_fail (iface != NULL, 0);
  return iface->now (self);
}

gint64
braid_reactor_real_time (BraidReactor *self)
{
  BraidReactorInterface *iface = reactor_iface (self);

  g_return_val_if_fail (iface != NULL, 0);
  return iface->real_time (self);
}

gint64
braid_reactor_real_seconds (BraidReactor *self)
{
  g_return_val_if_fail (BRAID_IS_REACTOR (self), 0);

  return braid_reactor_real_time (self) / G_USEC_PER_SEC;
}

BraidDelayedCall *
braid_reactor_call_later (BraidReactor *self,
                          gint64 delay_us,
                          BraidCallFunc func,
                          gpointer user_data,
                          GDestroyNotify destroy)
{
  BraidReactorInterface *iface = reactor_iface (self);

  g_return_val_if_fail (iface != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  return iface->call_later (self, MAX (delay_us, 0), func, user_data, destroy);
}

void
braid_reactor_call_soon (BraidReactor *self,
                         BraidCallFunc func,
                         gpointer user_data,
                         GDestroyNotify destroy)
{
  g_return_if_fail (BRAID_IS_REACTOR (self));

  g_autoptr(BraidDelayedCall) call =
    braid_reactor_call_later (self, 0, func, user_data, destroy);
}

BraidListener *
braid_reactor_listen_endpoint (BraidReactor *self,
                               const BraidEndpoint *endpoint,
                               BraidProtocolFactory *factory,
                               GError **error)
{
  g_return_val_if_fail (BRAID_IS_REACTOR (self), NULL);
  g_return_val_if_fail (endpoint != NULL, NULL);
  g_return_val_if_fail (BRAID_IS_PROTOCOL_FACTORY (factory), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (endpoint->role != BRAID_ENDPOINT_ROLE_SERVER)
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT,
                   "Endpoint “%s” is a client endpoint", endpoint->description);
      return NULL;
    }
  return BRAID_REACTOR_GET_IFACE (self)->listen (self, endpoint, factory, error);
}

BraidListener *
braid_reactor_listen (BraidReactor *self,
                      const gchar *endpoint,
                      BraidProtocolFactory *factory,
                      GError **error)
{
  g_autoptr(BraidEndpoint) parsed = NULL;

  g_return_val_if_fail (endpoint != NULL, NULL);
  parsed = braid_endpoint_parse (endpoint, BRAID_ENDPOINT_ROLE_SERVER, error);
  if (parsed == NULL)
    return NULL;
  return braid_reactor_listen_endpoint (self, parsed, factory, error);
}

void
braid_reactor_connect_endpoint_async (BraidReactor *self,
                                      const BraidEndpoint *endpoint,
                                      BraidProtocolFactory *factory,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_return_if_fail (BRAID_IS_REACTOR (self));
  g_return_if_fail (endpoint != NULL && endpoint->role == BRAID_ENDPOINT_ROLE_CLIENT);
  g_return_if_fail (BRAID_IS_PROTOCOL_FACTORY (factory));
  BRAID_REACTOR_GET_IFACE (self)->connect_async (self, endpoint, factory,
                                                 cancellable, callback, user_data);
}

void
braid_reactor_connect_async (BraidReactor *self,
                             const gchar *endpoint,
                             BraidProtocolFactory *factory,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr(BraidEndpoint) parsed = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (BRAID_IS_REACTOR (self));
  g_return_if_fail (endpoint != NULL);

  parsed = braid_endpoint_parse (endpoint, BRAID_ENDPOINT_ROLE_CLIENT, &error);
  if (parsed == NULL)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, braid_reactor_connect_async);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  braid_reactor_connect_endpoint_async (self, parsed, factory, cancellable,
                                        callback, user_data);
}

BraidProtocol *
braid_reactor_connect_finish (BraidReactor *self,
                              GAsyncResult *result,
                              GError **error)
{
  g_return_val_if_fail (BRAID_IS_REACTOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_async_result_is_tagged (result, braid_reactor_connect_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return BRAID_REACTOR_GET_IFACE (self)->connect_finish (self, result, error);
}

BraidProtocol *
braid_reactor_connect_endpoint_finish (BraidReactor *self,
                                       GAsyncResult *result,
                                       GError **error)
{
  return braid_reactor_connect_finish (self, result, error);
}

void
braid_reactor_run (BraidReactor *self)
{
  g_return_if_fail (BRAID_IS_REACTOR (self));
  BRAID_REACTOR_GET_IFACE (self)->run (self);
}

void
braid_reactor_stop (BraidReactor *self)
{
  g_return_if_fail (BRAID_IS_REACTOR (self));
  BRAID_REACTOR_GET_IFACE (self)->stop (self);
}
