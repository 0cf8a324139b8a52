/* braid — one braid-memcached connection: parser, store and transport.
 * Private: BraidMcServer builds these through its factory. */
#pragma once

#include "mc-server-shared-private.h"

G_BEGIN_DECLS

#define BRAID_TYPE_MC_SERVER_PROTOCOL (braid_mc_server_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcServerProtocol, braid_mc_server_protocol,
                      BRAID, MC_SERVER_PROTOCOL, BraidProtocol)

/* A connection of the server whose connections share @shared (a new
 * reference is kept). */
BraidMcServerProtocol *braid_mc_server_protocol_new (BraidMcServerShared *shared);

/* Read-only, for checkers outside the server (braid-sim): bytes received
 * and not yet consumed (@input), replies built and not yet handed to the
 * transport (@output), and whether a get is paused part-way. */
void braid_mc_server_protocol_get_buffered (BraidMcServerProtocol *self,
                                            gsize *input,
                                            gsize *output,
                                            gboolean *retrieving);

/* Read-only, for tests: the bytes the input buffer holds, parsed or not.
 * Parsed bytes are released after each read, so between reads this is
 * what @input of braid_mc_server_protocol_get_buffered() says. */
gsize braid_mc_server_protocol_get_input_held (BraidMcServerProtocol *self);

G_END_DECLS
