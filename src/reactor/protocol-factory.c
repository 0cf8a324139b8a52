/* braid — protocol factories. */
#include "protocol-factory.h"

typedef struct
{
  BraidBuildProtocolFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
  GType type;
  gboolean ignores_address;
} BraidProtocolFactoryPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (BraidProtocolFactory, braid_protocol_factory, G_TYPE_OBJECT)

static void
braid_protocol_factory_finalize (GObject *object)
{
  BraidProtocolFactoryPrivate *priv =
    braid_protocol_factory_get_instance_private (BRAID_PROTOCOL_FACTORY (object));

  if (priv->destroy != NULL)
    priv->destroy (priv->user_data);
  G_OBJECT_CLASS (braid_protocol_factory_parent_class)->finalize (object);
}

static BraidProtocol *
default_build_protocol (BraidProtocolFactory *self, GSocketAddress *address)
{
  BraidProtocolFactoryPrivate *priv = braid_protocol_factory_get_instance_private (self);

  if (priv->func != NULL)
    return priv->func (address, priv->user_data);
  if (priv->type != G_TYPE_INVALID)
    return g_object_new (priv->type, NULL);
  return NULL;
}

static void
braid_protocol_factory_class_init (BraidProtocolFactoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_protocol_factory_finalize;
  klass->build_protocol = default_build_protocol;
}

static void
braid_protocol_factory_init (BraidProtocolFactory *self)
{
}

BraidProtocolFactory *
braid_protocol_factory_new (BraidBuildProtocolFunc func,
                            gpointer user_data,
                            GDestroyNotify destroy)
{
  BraidProtocolFactory *self = g_object_new (BRAID_TYPE_PROTOCOL_FACTORY, NULL);
  BraidProtocolFactoryPrivate *priv = braid_protocol_factory_get_instance_private (self);

  priv->func = func;
  priv->user_data = user_data;
  priv->destroy = destroy;
  return self;
}

BraidProtocolFactory *
braid_protocol_factory_new_for_type (GType type)
{
  BraidProtocolFactory *self;
  BraidProtocolFactoryPrivate *priv;

  g_return_val_if_fail (g_type_is_a (type, BRAID_TYPE_PROTOCOL), NULL);
  self = g_object_new (BRAID_TYPE_PROTOCOL_FACTORY, NULL);
  priv = braid_protocol_factory_get_instance_private (self);
  priv->type = type;
  priv->ignores_address = TRUE;
  return self;
}

BraidProtocol *
braid_protocol_factory_build_protocol (BraidProtocolFactory *self,
                                       GSocketAddress *address)
{
  g_return_val_if_fail (BRAID_IS_PROTOCOL_FACTORY (self), NULL);
  return BRAID_PROTOCOL_FACTORY_GET_CLASS (self)->build_protocol (self, address);
}

void
braid_protocol_factory_set_ignores_address (BraidProtocolFactory *self, gboolean ignores)
{
  g_return_if_fail (BRAID_IS_PROTOCOL_FACTORY (self));
  ((BraidProtocolFactoryPrivate *) braid_protocol_factory_get_instance_private (self))->ignores_address = !!ignores;
}

gboolean
braid_protocol_factory_get_ignores_address (BraidProtocolFactory *self)
{
  g_return_val_if_fail (BRAID_IS_PROTOCOL_FACTORY (self), FALSE);
  return ((BraidProtocolFactoryPrivate *) braid_protocol_factory_get_instance_private (self))->ignores_address;
}
