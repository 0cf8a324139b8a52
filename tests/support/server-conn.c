/* braid — one connection to a braid-memcached server on the fake reactor. */
#include "server-conn.h"

void
braid_test_server_conn_open (BraidTestServerConn *c, const BraidMcServerSettings *settings)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;

  c->fake = braid_fake_reactor_new (1);
  c->server = braid_mc_server_new (BRAID_REACTOR (c->fake), settings);
  factory = braid_mc_server_create_factory (c->server);
  c->protocol = braid_protocol_factory_build_protocol (factory, NULL);
  c->transport = braid_fake_transport_new ();
  braid_fake_transport_attach (c->transport, c->protocol);
}

void
braid_test_server_conn_send (BraidTestServerConn *c, const guint8 *bytes, gsize len)
{
  braid_protocol_data_received (c->protocol, bytes, len);
}

void
braid_test_server_conn_close (BraidTestServerConn *c)
{
  braid_fake_transport_close_from_peer (c->transport, NULL);
  g_clear_object (&c->transport);
  g_clear_object (&c->protocol);
  g_clear_object (&c->server);
  g_clear_object (&c->fake);
}
