/* braid — a protocol driven by callbacks, for protocols that only need to
 * react to events and keep their state elsewhere. */
#pragma once

#include <gio/gio.h>
#include "protocol.h"
#include "protocol-factory.h"

G_BEGIN_DECLS

/**
 * BraidProtocolCallbacks:
 * @connection_made: (nullable): the transport is connected
 * @data_received: (nullable): bytes arrived, in arbitrary chunks
 * @connection_lost: (nullable): the connection is gone; @reason is never
 *   %NULL (%BRAID_REACTOR_ERROR_CONNECTION_DONE for a clean close)
 * @output_drained: (nullable): everything written so far has left the
 *   transport's buffer
 * @eof_received: (nullable): the peer shut down its sending side; return
 *   %TRUE to keep the connection open for writing.  When %NULL, the
 *   protocol behaves as #BraidProtocol does by default (it closes).
 *
 * The events of #BraidProtocolClass, as plain functions that get the
 * protocol and the user data given at construction.  Unused callbacks are
 * %NULL: initialise the struct with designated initialisers so that the
 * padding is zero.  The struct is copied: it need not outlive the call that
 * takes it.
 */
typedef struct
{
  void (*connection_made) (BraidProtocol *protocol,
                           BraidTransport *transport,
                           gpointer user_data);
  void (*data_received) (BraidProtocol *protocol,
                         const guint8 *data,
                         gsize len,
                         gpointer user_data);
  void (*connection_lost) (BraidProtocol *protocol,
                           const GError *reason,
                           gpointer user_data);
  void (*output_drained) (BraidProtocol *protocol,
                          gpointer user_data);
  gboolean (*eof_received) (BraidProtocol *protocol,
                            gpointer user_data);

  /*< private >*/
  gpointer padding[6];
} BraidProtocolCallbacks;

#define BRAID_TYPE_CALLBACK_PROTOCOL (braid_callback_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidCallbackProtocol, braid_callback_protocol,
                      BRAID, CALLBACK_PROTOCOL, BraidProtocol)

BraidCallbackProtocol *braid_callback_protocol_new (const BraidProtocolCallbacks *callbacks,
                                                    gpointer user_data,
                                                    GDestroyNotify destroy);
gpointer braid_callback_protocol_get_user_data (BraidCallbackProtocol *self);
void braid_callback_protocol_detach (BraidCallbackProtocol *self);

BraidProtocolFactory *braid_callback_protocol_factory_new (const BraidProtocolCallbacks *callbacks,
                                                           gpointer user_data,
                                                           GDestroyNotify destroy);

G_END_DECLS
