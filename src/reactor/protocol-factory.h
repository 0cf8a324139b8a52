/* braid — protocol factories, after Twisted's Factory: one protocol per
 * connection, with the shared state it needs given to the factory. */
#pragma once

#include <gio/gio.h>
#include "protocol.h"

G_BEGIN_DECLS

#define BRAID_TYPE_PROTOCOL_FACTORY (braid_protocol_factory_get_type ())
G_DECLARE_DERIVABLE_TYPE (BraidProtocolFactory, braid_protocol_factory,
                          BRAID, PROTOCOL_FACTORY, GObject)

struct _BraidProtocolFactoryClass
{
  GObjectClass parent_class;

  /* Returns a new protocol for a connection from/to @address, or NULL to
   * refuse it (the transport is then closed at once).  @address may be
   * NULL when the factory ignores addresses (below). */
  BraidProtocol *(*build_protocol) (BraidProtocolFactory *self,
                                    GSocketAddress *address);

  gpointer padding[8];
};

typedef BraidProtocol *(*BraidBuildProtocolFunc) (GSocketAddress *address,
                                                  gpointer user_data);

BraidProtocolFactory *braid_protocol_factory_new (BraidBuildProtocolFunc func,
                                                  gpointer user_data,
                                                  GDestroyNotify destroy);
/* A factory that builds g_object_new (@type, NULL). */
BraidProtocolFactory *braid_protocol_factory_new_for_type (GType type);
/* (transfer full) (nullable) */
BraidProtocol *braid_protocol_factory_build_protocol (BraidProtocolFactory *self,
                                                      GSocketAddress *address);

/* Declares that @self's build_protocol never reads its address, so that a
 * reactor may pass NULL instead of building a GSocketAddress for every
 * connection (a protocol that wants its peer asks its transport, which
 * builds it then).  For a one-shot connection such as a proxy's cache hit
 * the address is a tenth of the work.  Factories made by
 * braid_protocol_factory_new_for_type() ignore addresses from the start. */
void braid_protocol_factory_set_ignores_address (BraidProtocolFactory *self, gboolean ignores);
gboolean braid_protocol_factory_get_ignores_address (BraidProtocolFactory *self);

G_END_DECLS
