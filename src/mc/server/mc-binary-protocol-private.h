/* braid — memcached's binary protocol on one braid-memcached connection.
 * Private; never installed.
 *
 * A connection whose first byte is 0x80 speaks binary for good (as in
 * memcached); its BraidMcServerProtocol keeps the buffers, the back
 * pressure and the closing, and hands each request here. */
#pragma once

#include "mc-server-shared-private.h"
#include "mc-binary.h"

G_BEGIN_DECLS

/* What a request needs of its connection. */
typedef struct {
  BraidMcServerShared *shared;
  const BraidMcConnectionInfo *info;
  /* Replies collect in *@out; the connection may replace the string when
   * it hands it to the transport, so it is read through the pointer. */
  GString **out;
  /* (nullable): sends a large value by reference, after what *@out
   * holds; NULL (no transport) copies values into *@out instead. */
  void (*send_by_reference) (gpointer data, GBytes *bytes);
  gpointer send_data;
} BraidMcBinaryConnection;

/* What one request asks of the connection after its reply. */
typedef struct {
  gsize swallow;       /* bytes of input to skip (which may not have arrived) */
  gboolean close;      /* close once the replies are sent */
} BraidMcBinaryAfter;

/* Parses and executes one request from @in.  Returns the bytes used, or
 * 0 when more input is needed (nothing done). */
gsize braid_mc_binary_protocol_step (const BraidMcBinaryConnection *conn,
                                     const BraidMcBinaryParser *parser,
                                     const guint8 *in,
                                     gsize len,
                                     BraidMcBinaryAfter *after);

G_END_DECLS
