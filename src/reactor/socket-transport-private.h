/* braid — the real transport over a non-blocking GSocket (private). */
#pragma once

#include "transport.h"
#include "protocol.h"
#include "poller-private.h"

#include <sys/socket.h>

G_BEGIN_DECLS

#define BRAID_TYPE_SOCKET_TRANSPORT (braid_socket_transport_get_type ())
G_DECLARE_FINAL_TYPE (BraidSocketTransport, braid_socket_transport,
                      BRAID, SOCKET_TRANSPORT, GObject)

typedef void (*BraidTransportClosedFunc) (BraidSocketTransport *transport,
                                          gpointer user_data);

/* Takes over @connection (its socket is made non-blocking and registered
 * with @poller, which must outlive the transport's socket: the reactor
 * aborts its transports before it frees its poller).  Nothing happens
 * until braid_socket_transport_start(). */
BraidSocketTransport *braid_socket_transport_new (GSocketConnection *connection,
                                                  GMainContext *context,
                                                  BraidPoller *poller);
/* The same for a socket accept4() gave (non-blocking already), and its
 * peer's address as accept4() gave it (@peer_len 0: unknown), turned
 * into a GSocketAddress only when asked: the transport owns @fd.  No GSocket: an
 * accepted connection costs its accept4 and, unless it is served and
 * closed at once, an epoll_ctl, not a dozen system calls.  Its start
 * reads at once what the peer already sent. */
BraidSocketTransport *braid_socket_transport_new_accepted (gint fd, const struct sockaddr *peer, gsize peer_len,
                                                           GMainContext *context, BraidPoller *poller);
/* Calls connection_made on @protocol and starts reading (an accepted
 * socket is read at once, in this call, after connection_made).  The
 * transport keeps @protocol alive until the connection is lost. */
void braid_socket_transport_start (BraidSocketTransport *self,
                                   BraidProtocol *protocol);
/* @func is called once, after connection_lost was delivered; @destroy
 * (nullable) frees @user_data after that call, when another func
 * replaces it, or with the transport. */
void braid_socket_transport_set_closed_func (BraidSocketTransport *self,
                                             BraidTransportClosedFunc func,
                                             gpointer user_data,
                                             GDestroyNotify destroy);

G_END_DECLS
