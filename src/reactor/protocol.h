/* braid — protocols and protocol factories, after Twisted's IProtocol. */
#pragma once

#include <gio/gio.h>
#include "transport.h"

G_BEGIN_DECLS

#define BRAID_TYPE_PROTOCOL (braid_protocol_get_type ())
G_DECLARE_DERIVABLE_TYPE (BraidProtocol, braid_protocol, BRAID, PROTOCOL, GObject)

/**
 * BraidProtocolClass:
 * @connection_made: the transport is connected; the base class stores it
 *   before chaining to the subclass (subclasses need not chain up)
 * @data_received: bytes arrived, in arbitrary chunks
 * @connection_lost: the connection is gone; @reason is never %NULL:
 *   %BRAID_REACTOR_ERROR_CONNECTION_DONE for a clean close
 * @output_drained: everything written so far has left the transport's
 *   buffer (use it to resume reading after back pressure)
 * @eof_received: the peer shut down its sending side (a half-close).
 *   Return %TRUE to keep the connection open for writing (then call
 *   lose_connection when done); the default, %FALSE, flushes pending output
 *   and closes, as Twisted does for protocols that are not half-closeable.
 *
 * Each connection gets its own protocol instance.  Shared state comes from
 * the factory that built it, never from globals.
 */
struct _BraidProtocolClass
{
  GObjectClass parent_class;

  void (*connection_made) (BraidProtocol *self, BraidTransport *transport);
  void (*data_received) (BraidProtocol *self, const guint8 *data, gsize len);
  void (*connection_lost) (BraidProtocol *self, const GError *reason);
  void (*output_drained) (BraidProtocol *self);
  gboolean (*eof_received) (BraidProtocol *self);

  gpointer padding[7];
};

/* Called by transports (and tests) to drive a protocol. */
void braid_protocol_connection_made (BraidProtocol *self,
                                     BraidTransport *transport);
void braid_protocol_data_received (BraidProtocol *self,
                                   const guint8 *data,
                                   gsize len);
void braid_protocol_connection_lost (BraidProtocol *self,
                                     const GError *reason);
void braid_protocol_output_drained (BraidProtocol *self);
gboolean braid_protocol_eof_received (BraidProtocol *self);

/* (transfer none) (nullable): NULL before connection_made */
BraidTransport *braid_protocol_get_transport (BraidProtocol *self);
gboolean braid_protocol_is_connected (BraidProtocol *self);

G_END_DECLS
