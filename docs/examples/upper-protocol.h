/* braid example — the tutorial's second server: echoes what it is sent,
 * upper-cased. */
#pragma once

#include <braid.h>

G_BEGIN_DECLS

#define BRAID_TYPE_UPPER_PROTOCOL (braid_upper_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidUpperProtocol, braid_upper_protocol, BRAID, UPPER_PROTOCOL, BraidProtocol)

BraidProtocolFactory *braid_upper_factory_new (void);

G_END_DECLS
