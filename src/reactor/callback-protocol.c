/* braid — a protocol driven by callbacks. */
#include "callback-protocol.h"

#include <string.h>

/* What the protocols built by one callback factory share: the callbacks
 * and the user data, which lives as long as the factory or any protocol
 * it built. */
typedef struct
{
  BraidProtocolCallbacks callbacks;
  gpointer user_data;
  GDestroyNotify destroy;
} SharedCallbacks;

struct _BraidCallbackProtocol
{
  BraidProtocol parent_instance;

  BraidProtocolCallbacks callbacks;
  gpointer user_data;           /* (nullable) */
  GDestroyNotify destroy;       /* (nullable): for user_data */
  SharedCallbacks *shared;      /* (owned) (nullable): set when built by a factory */
};

G_DEFINE_FINAL_TYPE (BraidCallbackProtocol, braid_callback_protocol, BRAID_TYPE_PROTOCOL)

static void
shared_callbacks_clear (gpointer data)
{
  SharedCallbacks *shared = data;

  if (shared->destroy != NULL)
    shared->destroy (shared->user_data);
}

static void
shared_callbacks_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, shared_callbacks_clear);
}

static void
callback_connection_made (BraidProtocol *protocol, BraidTransport *transport)
{
  BraidCallbackProtocol *self = BRAID_CALLBACK_PROTOCOL (protocol);

  if (self->callbacks.connection_made != NULL)
    self->callbacks.connection_made (protocol, transport, self->user_data);
}

static void
callback_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidCallbackProtocol *self = BRAID_CALLBACK_PROTOCOL (protocol);

  if (self->callbacks.data_received != NULL)
    self->callbacks.data_received (protocol, data, len, self->user_data);
}

static void
callback_connection_lost (BraidProtocol *protocol, const GError *reason)
{
  BraidCallbackProtocol *self = BRAID_CALLBACK_PROTOCOL (protocol);

  if (self->callbacks.connection_lost != NULL)
    self->callbacks.connection_lost (protocol, reason, self->user_data);
}

static void
callback_output_drained (BraidProtocol *protocol)
{
  BraidCallbackProtocol *self = BRAID_CALLBACK_PROTOCOL (protocol);

  if (self->callbacks.output_drained != NULL)
    self->callbacks.output_drained (protocol, self->user_data);
}

static gboolean
callback_eof_received (BraidProtocol *protocol)
{
  BraidCallbackProtocol *self = BRAID_CALLBACK_PROTOCOL (protocol);

  if (self->callbacks.eof_received != NULL)
    return self->callbacks.eof_received (protocol, self->user_data);
  return FALSE;
}

static void
braid_callback_protocol_finalize (GObject *object)
{
  braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (object));
  G_OBJECT_CLASS (braid_callback_protocol_parent_class)->finalize (object);
}

static void
braid_callback_protocol_class_init (BraidCallbackProtocolClass *klass)
{
  BraidProtocolClass *protocol_class = BRAID_PROTOCOL_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_callback_protocol_finalize;
  protocol_class->connection_made = callback_connection_made;
  protocol_class->data_received = callback_data_received;
  protocol_class->connection_lost = callback_connection_lost;
  protocol_class->output_drained = callback_output_drained;
  protocol_class->eof_received = callback_eof_received;
}

static void
braid_callback_protocol_init (BraidCallbackProtocol *self)
{
}

/**
 * braid_callback_protocol_new:
 * @callbacks: the functions to call on the protocol's events; copied
 * @user_data: (nullable): data passed to each of @callbacks
 * @destroy: (nullable): frees @user_data when the protocol is finalised or
 *   detached
 *
 * Creates a protocol that calls @callbacks instead of being subclassed:
 * for protocols whose state lives in a struct of the caller's.  The
 * transport is still available through braid_protocol_get_transport().
 *
 * Returns: (transfer full): a new #BraidCallbackProtocol
 */
BraidCallbackProtocol *
braid_callback_protocol_new (const BraidProtocolCallbacks *callbacks,
                             gpointer user_data,
                             GDestroyNotify destroy)
{
  BraidCallbackProtocol *self;

  g_return_val_if_fail (callbacks != NULL, NULL);

  self = g_object_new (BRAID_TYPE_CALLBACK_PROTOCOL, NULL);
  self->callbacks = *callbacks;
  self->user_data = user_data;
  self->destroy = destroy;
  return self;
}

/**
 * braid_callback_protocol_get_user_data:
 * @self: a #BraidCallbackProtocol
 *
 * Returns: (transfer none) (nullable): the user data given at
 *   construction, or %NULL once detached
 */
gpointer
braid_callback_protocol_get_user_data (BraidCallbackProtocol *self)
{
  g_return_val_if_fail (BRAID_IS_CALLBACK_PROTOCOL (self), NULL);
  return self->user_data;
}

/**
 * braid_callback_protocol_detach:
 * @self: a #BraidCallbackProtocol
 *
 * Stops calling the callbacks: later events are ignored (and
 * eof_received answers %FALSE), and the user data is released at once
 * rather than when the last reference to the protocol goes, which may be
 * held by its transport for a while.  Call it when the state the
 * callbacks use goes away before the connection does.  Detaching twice is
 * harmless.
 */
void
braid_callback_protocol_detach (BraidCallbackProtocol *self)
{
  GDestroyNotify destroy;
  gpointer user_data;

  g_return_if_fail (BRAID_IS_CALLBACK_PROTOCOL (self));

  destroy = g_steal_pointer (&self->destroy);
  user_data = g_steal_pointer (&self->user_data);
  memset (&self->callbacks, 0, sizeof self->callbacks);
  if (destroy != NULL)
    destroy (user_data);
  g_clear_pointer (&self->shared, shared_callbacks_release);
}

static BraidProtocol *
build_callback_protocol (GSocketAddress *address, gpointer data)
{
  SharedCallbacks *shared = data;
  BraidCallbackProtocol *self =
    braid_callback_protocol_new (&shared->callbacks, shared->user_data, NULL);

  self->shared = g_atomic_rc_box_acquire (shared);
  return BRAID_PROTOCOL (self);
}

/**
 * braid_callback_protocol_factory_new:
 * @callbacks: the functions to call on each protocol's events; copied
 * @user_data: (nullable): data passed to each of @callbacks, shared by
 *   every protocol the factory builds
 * @destroy: (nullable): frees @user_data once the factory and every
 *   protocol it built are gone
 *
 * Creates a factory whose protocols are #BraidCallbackProtocol instances
 * sharing @callbacks and @user_data.  Callbacks tell connections apart by
 * their @protocol argument.  For per-connection state, build each
 * protocol with braid_callback_protocol_new() from a
 * braid_protocol_factory_new() function instead.
 *
 * Returns: (transfer full): a new #BraidProtocolFactory
 */
BraidProtocolFactory *
braid_callback_protocol_factory_new (const BraidProtocolCallbacks *callbacks,
                                     gpointer user_data,
                                     GDestroyNotify destroy)
{
  SharedCallbacks *shared;

  g_return_val_if_fail (callbacks != NULL, NULL);

  shared = g_atomic_rc_box_new0 (SharedCallbacks);
  shared->callbacks = *callbacks;
  shared->user_data = user_data;
  shared->destroy = destroy;
  return braid_protocol_factory_new (build_callback_protocol, shared, shared_callbacks_release);
}
