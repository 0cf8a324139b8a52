/* braid — what the fake reactor needs from fake transports (private). */
#pragma once

#include "fake-transport.h"

G_BEGIN_DECLS

/* A transport that is one end of an in-memory connection. */
BraidFakeTransport *braid_fake_transport_new_connected (GSocketAddress *host_address,
                                                        GSocketAddress *peer_address);
void braid_fake_transport_set_peer (BraidFakeTransport *self, BraidFakeTransport *peer);
/* Moves one delivery step of this side's output to the peer and delivers
 * pending closes.  Returns whether anything happened. */
gboolean braid_fake_transport_pump (BraidFakeTransport *self,
                                    BraidFakeDelivery delivery,
                                    GRand *rand);
typedef void (*BraidFakeClosedFunc) (BraidFakeTransport *transport, gpointer user_data);
void braid_fake_transport_set_closed_func (BraidFakeTransport *self,
                                           BraidFakeClosedFunc func,
                                           gpointer user_data);

G_END_DECLS
