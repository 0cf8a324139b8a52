/* braid — one connection to a braid-memcached server on the fake reactor,
 * for tests that feed a server protocol bytes and read what it wrote. */
#pragma once

#include "fake-reactor.h"
#include "fake-transport.h"
#include "mc-server.h"

G_BEGIN_DECLS

typedef struct {
  BraidFakeReactor *fake;
  BraidMcServer *server;
  BraidProtocol *protocol;
  BraidFakeTransport *transport;
} BraidTestServerConn;

/* A server with @settings (NULL: the defaults) and one connection to it. */
void braid_test_server_conn_open (BraidTestServerConn *c, const BraidMcServerSettings *settings);
/* Delivers @len bytes to the server in one read. */
void braid_test_server_conn_send (BraidTestServerConn *c, const guint8 *bytes, gsize len);
/* The peer closes; everything is freed. */
void braid_test_server_conn_close (BraidTestServerConn *c);

G_END_DECLS
