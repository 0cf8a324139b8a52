/* braid example — the tutorial's first server: prints whatever clients
 * send.  Where it prints is injected, so tests can read it back. */
#pragma once

#include <braid.h>

G_BEGIN_DECLS

#define BRAID_TYPE_PRINT_PROTOCOL (braid_print_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidPrintProtocol, braid_print_protocol, BRAID, PRINT_PROTOCOL, BraidProtocol)

typedef void (*BraidPrintFunc) (const guint8 *data, gsize len, gpointer user_data);

/* Every connection's bytes go to @print; the factory does not own
 * @user_data. */
BraidProtocolFactory *braid_print_factory_new (BraidPrintFunc print, gpointer user_data);

G_END_DECLS
