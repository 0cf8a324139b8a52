/* braid — the listening-port base class. */
#include "listener.h"

typedef struct
{
  gboolean stopped;
} BraidListenerPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (BraidListener, braid_listener, G_TYPE_OBJECT)

static void
braid_listener_dispose (GObject *object)
{
  braid_listener_stop (BRAID_LISTENER (object));
  G_OBJECT_CLASS (braid_listener_parent_class)->dispose (object);
}

static void
braid_listener_class_init (BraidListenerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = braid_listener_dispose;
}

static void
braid_listener_init (BraidListener *self)
{
}

void
braid_listener_stop (BraidListener *self)
{
  BraidListenerClass *klass;

  g_return_if_fail (BRAID_IS_LISTENER (self));
  if (!braid_listener_is_listening (self))
    return;
  klass = BRAID_LISTENER_GET_CLASS (self);
  if (klass->stop != NULL)
    klass->stop (self);
  braid_listener_mark_stopped (self);
}

gboolean
braid_listener_mark_stopped (BraidListener *self)
{
  BraidListenerPrivate *priv = braid_listener_get_instance_private (self);
  gboolean was_listening = !priv->stopped;

  priv->stopped = TRUE;
  return was_listening;
}

gboolean
braid_listener_is_listening (BraidListener *self)
{
  BraidListenerPrivate *priv;

  g_return_val_if_fail (BRAID_IS_LISTENER (self), FALSE);
  priv = braid_listener_get_instance_private (self);
  return !priv->stopped;
}

GSocketAddress *
braid_listener_get_address (BraidListener *self)
{
  BraidListenerClass *klass;

  g_return_val_if_fail (BRAID_IS_LISTENER (self), NULL);
  klass = BRAID_LISTENER_GET_CLASS (self);
  return klass->get_address != NULL ? klass->get_address (self) : NULL;
}

guint16
braid_listener_get_port (BraidListener *self)
{
  GSocketAddress *address = braid_listener_get_address (self);

  if (address != NULL && G_IS_INET_SOCKET_ADDRESS (address))
    return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  return 0;
}

guint
braid_listener_get_n_connections (BraidListener *self)
{
  BraidListenerClass *klass;

  g_return_val_if_fail (BRAID_IS_LISTENER (self), 0);
  klass = BRAID_LISTENER_GET_CLASS (self);
  return klass->get_n_connections != NULL ? klass->get_n_connections (self) : 0;
}
