/* braid — the transport side of a connection, after Twisted's ITransport. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRAID_TYPE_TRANSPORT (braid_transport_get_type ())
G_DECLARE_INTERFACE (BraidTransport, braid_transport, BRAID, TRANSPORT, GObject)

struct _BraidTransportInterface
{
  GTypeInterface g_iface;

  void (*write_bytes) (BraidTransport *self, GBytes *bytes);
  void (*lose_connection) (BraidTransport *self);
  void (*abort_connection) (BraidTransport *self);
  GSocketAddress *(*get_peer_address) (BraidTransport *self);
  GSocketAddress *(*get_host_address) (BraidTransport *self);
  void (*pause_reading) (BraidTransport *self);
  void (*resume_reading) (BraidTransport *self);
  gsize (*get_write_buffer_size) (BraidTransport *self);
  gboolean (*is_closing) (BraidTransport *self);
  void (*lose_write_connection) (BraidTransport *self);
  /* Optional: copies @data into the transport's own buffer.  Without it
   * braid_transport_write() wraps a copy in a GBytes for write_bytes. */
  void (*write) (BraidTransport *self, const void *data, gsize len);
};

/* Copies @data; it will be written in order after everything written before. */
void braid_transport_write (BraidTransport *self, const void *data, gsize len);
/* Zero-copy: keeps a reference on @bytes until written. */
void braid_transport_write_bytes (BraidTransport *self, GBytes *bytes);
/* Vectored write of @n_vectors buffers, copied into one chunk. */
void braid_transport_writev (BraidTransport *self,
                             const GOutputVector *vectors,
                             gsize n_vectors);
void braid_transport_write_string (BraidTransport *self, const gchar *str);
void braid_transport_write_printf (BraidTransport *self,
                                   const gchar *format,
                                   ...) G_GNUC_PRINTF (2, 3);
/* Flushes everything already written, then closes.  Writes after this are
 * dropped.  The protocol sees connection_lost(CONNECTION_DONE). */
void braid_transport_lose_connection (BraidTransport *self);
/* Half-close (Twisted's loseWriteConnection): flushes pending output, then
 * shuts down the sending direction.  Reading goes on; the connection ends
 * when the peer closes too.  Transports without half-close support fall
 * back to lose_connection. */
void braid_transport_lose_write_connection (BraidTransport *self);
/* Closes at once, discarding unsent output; a TCP connection is reset
 * (RST), so the peer sees an error rather than an end of data.  The
 * protocol sees connection_lost(CONNECTION_ABORTED). */
void braid_transport_abort_connection (BraidTransport *self);
/* (transfer none) (nullable) */
GSocketAddress *braid_transport_get_peer_address (BraidTransport *self);
/* (transfer none) (nullable) */
GSocketAddress *braid_transport_get_host_address (BraidTransport *self);
/* Stops delivering data_received until resume; calls nest like a count is
 * NOT kept: pause twice, resume once resumes. */
void braid_transport_pause_reading (BraidTransport *self);
void braid_transport_resume_reading (BraidTransport *self);
/* Bytes written but not yet handed to the peer/kernel. */
gsize braid_transport_get_write_buffer_size (BraidTransport *self);
/* Whether lose/abort_connection was called or the connection is gone. */
gboolean braid_transport_is_closing (BraidTransport *self);

G_END_DECLS
