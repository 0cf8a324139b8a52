/* braid — TLS for the GLib reactor: a transport over a GTlsConnection's
 * pollable streams, and the tls: listener and connect (private). */
#pragma once

#include "transport.h"
#include "protocol.h"
#include "protocol-factory.h"
#include "listener.h"
#include "endpoint.h"

G_BEGIN_DECLS

#define BRAID_TYPE_TLS_TRANSPORT (braid_tls_transport_get_type ())
G_DECLARE_FINAL_TYPE (BraidTlsTransport, braid_tls_transport,
                      BRAID, TLS_TRANSPORT, GObject)

typedef void (*BraidTlsTransportClosedFunc) (BraidTlsTransport *transport,
                                             gpointer user_data);

/* Takes over @tls, whose handshake has completed; @base is the TCP
 * connection under it.  Nothing happens until _start(). */
BraidTlsTransport *braid_tls_transport_new (GTlsConnection *tls,
                                            GSocketConnection *base,
                                            GMainContext *context);
/* Calls connection_made on @protocol and starts reading.  The transport
 * keeps @protocol alive until the connection is lost. */
void braid_tls_transport_start (BraidTlsTransport *self, BraidProtocol *protocol);
/* Called once, after connection_lost was delivered. */
void braid_tls_transport_set_closed_func (BraidTlsTransport *self,
                                          BraidTlsTransportClosedFunc func,
                                          gpointer user_data);

/* The hooks glib-reactor.c calls for BRAID_ENDPOINT_KIND_TLS
 * (tls-endpoint.c), with the reactor object and its context.  Errors as
 * for braid_reactor_listen() and braid_reactor_connect_async(); the
 * task's source object is @reactor, so the reactor's connect_finish
 * finishes it.  The connections are aborted when @reactor is disposed. */
BraidListener *braid_tls_listen (GObject *reactor,
                                 GMainContext *context,
                                 const BraidEndpoint *endpoint,
                                 BraidProtocolFactory *factory,
                                 GError **error);
void braid_tls_connect_async (GObject *reactor,
                              GMainContext *context,
                              const BraidEndpoint *endpoint,
                              BraidProtocolFactory *factory,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);

/* Server-side handshakes that failed or timed out on @reactor's tls:
 * listeners so far (0 for a reactor that never listened with TLS). */
guint64 braid_tls_get_n_handshake_failures (GObject *reactor);

/* How long a server-side handshake may take before the connection is
 * dropped (and a client-side one, unless the endpoint has timeout=). */
#define BRAID_TLS_HANDSHAKE_TIMEOUT_MS 10000
/* Process-wide override of that limit, for tests; 0 restores it. */
void braid_tls_set_handshake_timeout (guint timeout_ms);

G_END_DECLS
