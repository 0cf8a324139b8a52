/* braid — the protocol base class. */
#include "protocol.h"

typedef struct
{
  BraidTransport *transport;  /* (owned) (nullable) */
  gboolean connected;
} BraidProtocolPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (BraidProtocol, braid_protocol, G_TYPE_OBJECT)

/* Whether @self is a protocol.  The subclass check of GType runs on every
 * byte delivery and every drained output, so the last class found to be a
 * protocol on this thread is remembered (classes of static types live as
 * long as the process). */
static _Thread_local gconstpointer known_protocol_class __attribute__ ((tls_model ("initial-exec")));

static inline gboolean
is_protocol (BraidProtocol *self)
{
  if (self == NULL)
    return FALSE;
  if (((GTypeInstance *) self)->g_class == known_protocol_class)
    return TRUE;
  if (!BRAID_IS_PROTOCOL (self))
    return FALSE;
  known_protocol_class = ((GTypeInstance *) self)->g_class;
  return TRUE;
}

static void
braid_protocol_dispose (GObject *object)
{
  BraidProtocolPrivate *priv = braid_protocol_get_instance_private (BRAID_PROTOCOL (object));

  g_clear_object (&priv->transport);
  G_OBJECT_CLASS (braid_protocol_parent_class)->dispose (object);
}

static void
braid_protocol_class_init (BraidProtocolClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = braid_protocol_dispose;
}

static void
braid_protocol_init (BraidProtocol *self)
{
}

void
braid_protocol_connection_made (BraidProtocol *self, BraidTransport *transport)
{
  BraidProtocolPrivate *priv;
  BraidProtocolClass *klass;

  g_return_if_fail (is_protocol (self));
  g_return_if_fail (BRAID_IS_TRANSPORT (transport));

  priv = braid_protocol_get_instance_private (self);
  g_return_if_fail (priv->transport == NULL);
  priv->transport = g_object_ref (transport);
  priv->connected = TRUE;
  klass = BRAID_PROTOCOL_GET_CLASS (self);
  if (klass->connection_made != NULL)
    klass->connection_made (self, transport);
}

void
braid_protocol_data_received (BraidProtocol *self, const guint8 *data, gsize len)
{
  BraidProtocolClass *klass;

  g_return_if_fail (is_protocol (self));
  if (len == 0)
    return;
  klass = BRAID_PROTOCOL_GET_CLASS (self);
  if (klass->data_received != NULL)
    klass->data_received (self, data, len);
}

void
braid_protocol_connection_lost (BraidProtocol *self, const GError *reason)
{
  BraidProtocolPrivate *priv;
  BraidProtocolClass *klass;

  g_return_if_fail (is_protocol (self));
  g_return_if_fail (reason != NULL);

  priv = braid_protocol_get_instance_private (self);
  if (!priv->connected)
    return;
  priv->connected = FALSE;
  g_object_ref (self);
  klass = BRAID_PROTOCOL_GET_CLASS (self);
  if (klass->connection_lost != NULL)
    klass->connection_lost (self, reason);
  /* Break the protocol → transport → protocol cycle. */
  g_clear_object (&priv->transport);
  g_object_unref (self);
}

void
braid_protocol_output_drained (BraidProtocol *self)
{
  BraidProtocolClass *klass;

  g_return_if_fail (is_protocol (self));
  klass = BRAID_PROTOCOL_GET_CLASS (self);
  if (klass->output_drained != NULL)
    klass->output_drained (self);
}

gboolean
braid_protocol_eof_received (BraidProtocol *self)
{
  BraidProtocolClass *klass;

  g_return_val_if_fail (is_protocol (self), FALSE);
  klass = BRAID_PROTOCOL_GET_CLASS (self);
  return klass->eof_received != NULL ? klass->eof_received (self) : FALSE;
}

BraidTransport *
braid_protocol_get_transport (BraidProtocol *self)
{
  BraidProtocolPrivate *priv;

  g_return_val_if_fail (is_protocol (self), NULL);
  priv = braid_protocol_get_instance_private (self);
  return priv->transport;
}

gboolean
braid_protocol_is_connected (BraidProtocol *self)
{
  BraidProtocolPrivate *priv;

  g_return_val_if_fail (is_protocol (self), FALSE);
  priv = braid_protocol_get_instance_private (self);
  return priv->connected;
}

/* ---- factories ---- */
