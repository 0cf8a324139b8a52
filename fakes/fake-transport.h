/* braid — in-memory transports, after Twisted's StringTransport and iosim. */
#pragma once

#include "transport.h"
#include "protocol.h"

G_BEGIN_DECLS

typedef enum {
  BRAID_FAKE_DELIVERY_WHOLE,   /* each write arrives as one chunk */
  BRAID_FAKE_DELIVERY_BYTE,    /* one byte at a time */
  BRAID_FAKE_DELIVERY_RANDOM,  /* seeded random chunk sizes */
} BraidFakeDelivery;

const gchar *braid_fake_delivery_to_string (BraidFakeDelivery delivery);

#define BRAID_TYPE_FAKE_TRANSPORT (braid_fake_transport_get_type ())
G_DECLARE_FINAL_TYPE (BraidFakeTransport, braid_fake_transport,
                      BRAID, FAKE_TRANSPORT, GObject)

/* A standalone transport with no peer (StringTransport): what the protocol
 * writes is recorded; the test feeds data with braid_protocol_data_received
 * and ends the connection with braid_fake_transport_close_from_peer(). */
BraidFakeTransport *braid_fake_transport_new (void);
/* Connects @protocol to this transport (runs connection_made). */
void braid_fake_transport_attach (BraidFakeTransport *self,
                                  BraidProtocol *protocol);
/* (transfer none) (nullable) */
BraidProtocol *braid_fake_transport_get_protocol (BraidFakeTransport *self);

/* Every byte written so far (including bytes not yet delivered to a peer). */
GBytes *braid_fake_transport_get_written (BraidFakeTransport *self);
gchar *braid_fake_transport_get_written_string (BraidFakeTransport *self);
void braid_fake_transport_clear (BraidFakeTransport *self);
gboolean braid_fake_transport_is_disconnecting (BraidFakeTransport *self);
gboolean braid_fake_transport_is_aborted (BraidFakeTransport *self);
gboolean braid_fake_transport_is_disconnected (BraidFakeTransport *self);
gboolean braid_fake_transport_get_read_paused (BraidFakeTransport *self);
/* (transfer none) (nullable): the first GBytes written and not yet
 * delivered, as written (to check that a write was not a copy). */
GBytes *braid_fake_transport_peek_pending (BraidFakeTransport *self);
gboolean braid_fake_transport_is_write_shutdown (BraidFakeTransport *self);
/* Pretend the peer closed (or reset, when @error is non-NULL). */
void braid_fake_transport_close_from_peer (BraidFakeTransport *self,
                                           const GError *error);

/* Faults on a connected transport (direction: bytes this side writes). */
/* Stalls delivery of this side's writes until unstalled. */
void braid_fake_transport_set_stalled (BraidFakeTransport *self, gboolean stalled);
/* Resets the connection once this side has delivered @n_bytes. */
void braid_fake_transport_reset_after (BraidFakeTransport *self, gsize n_bytes);
/* Disarms reset_after and unstalls. */
void braid_fake_transport_clear_faults (BraidFakeTransport *self);
/* For standalone transports: pretend the kernel buffer holds @size bytes
 * (get_write_buffer_size reports written-but-unacknowledged bytes). */
void braid_fake_transport_set_autoflush (BraidFakeTransport *self, gboolean autoflush);
/* Flushes pending output of a standalone transport (emits output_drained). */
void braid_fake_transport_flush (BraidFakeTransport *self);

G_END_DECLS
