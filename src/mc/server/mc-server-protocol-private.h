/* braid — one braid-memcached connection: parser, store and transport. */
#pragma once

#include "mc-server.h"

G_BEGIN_DECLS

#define BRAID_TYPE_MC_SERVER_PROTOCOL (braid_mc_server_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcServerProtocol, braid_mc_server_protocol,
                      BRAID, MC_SERVER_PROTOCOL, BraidProtocol)

BraidMcServerProtocol *braid_mc_server_protocol_new (BraidMcServer *server);
/* Whether a command is half-received or output is still pending. */
gboolean braid_mc_server_protocol_is_busy (BraidMcServerProtocol *self);

G_END_DECLS
