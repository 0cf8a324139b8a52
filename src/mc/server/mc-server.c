/* braid — braid-memcached's server object: it owns what its connections
 * share and builds one protocol per connection. */
#include "mc-server.h"
#include "mc-server-shared-private.h"
#include "mc-server-protocol-private.h"

struct _BraidMcServer
{
  GObject parent_instance;

  BraidReactor *reactor;            /* (owned) */
  BraidMcServerShared *shared;      /* (owned) */
};

G_DEFINE_FINAL_TYPE (BraidMcServer, braid_mc_server, G_TYPE_OBJECT)

static void
braid_mc_server_finalize (GObject *object)
{
  BraidMcServer *self = BRAID_MC_SERVER (object);

  braid_mc_server_shared_unref (self->shared);
  g_object_unref (self->reactor);
  G_OBJECT_CLASS (braid_mc_server_parent_class)->finalize (object);
}

static void
braid_mc_server_class_init (BraidMcServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_mc_server_finalize;
}

static void
braid_mc_server_init (BraidMcServer *self)
{
}

BraidMcServer *
braid_mc_server_new (BraidReactor *reactor, const BraidMcServerSettings *settings)
{
  BraidMcServer *self;

  g_return_val_if_fail (BRAID_IS_REACTOR (reactor), NULL);

  self = g_object_new (BRAID_TYPE_MC_SERVER, NULL);
  self->reactor = g_object_ref (reactor);
  self->shared = braid_mc_server_shared_new (reactor, settings);
  return self;
}

static BraidProtocol *
build_protocol (GSocketAddress *address, gpointer user_data)
{
  return BRAID_PROTOCOL (braid_mc_server_protocol_new (user_data));
}

BraidProtocolFactory *
braid_mc_server_create_factory (BraidMcServer *self)
{
  BraidProtocolFactory *factory;

  g_return_val_if_fail (BRAID_IS_MC_SERVER (self), NULL);
  factory = braid_protocol_factory_new (build_protocol, braid_mc_server_shared_ref (self->shared),
                                        (GDestroyNotify) braid_mc_server_shared_unref);
  /* the protocol asks its transport for the peer when it starts */
  braid_protocol_factory_set_ignores_address (factory, TRUE);
  return factory;
}

BraidMcStore *
braid_mc_server_get_store (BraidMcServer *self)
{
  g_return_val_if_fail (BRAID_IS_MC_SERVER (self), NULL);
  return self->shared->store;
}

BraidReactor *
braid_mc_server_get_reactor (BraidMcServer *self)
{
  g_return_val_if_fail (BRAID_IS_MC_SERVER (self), NULL);
  return self->reactor;
}

const BraidMcServerSettings *
braid_mc_server_get_settings (BraidMcServer *self)
{
  g_return_val_if_fail (BRAID_IS_MC_SERVER (self), NULL);
  return &self->shared->settings;
}

void
braid_mc_server_set_memory_limit (BraidMcServer *self, gsize limit_bytes)
{
  g_return_if_fail (BRAID_IS_MC_SERVER (self));
  braid_mc_store_set_limit (self->shared->store, limit_bytes);
  braid_mc_server_shared_set_limit (self->shared, limit_bytes);
}

void
braid_mc_server_set_verbosity (BraidMcServer *self, gint verbosity)
{
  g_return_if_fail (BRAID_IS_MC_SERVER (self));
  braid_mc_server_shared_set_verbosity (self->shared, verbosity);
}

void
braid_mc_server_get_counters (BraidMcServer *self, BraidMcServerCounters *counters)
{
  g_return_if_fail (BRAID_IS_MC_SERVER (self));
  g_return_if_fail (counters != NULL);
  braid_mc_server_shared_get_counters (self->shared, counters);
}

gboolean
braid_mc_server_is_busy (BraidMcServer *self)
{
  g_return_val_if_fail (BRAID_IS_MC_SERVER (self), FALSE);
  return braid_mc_server_shared_count_busy (self->shared) > 0;
}
