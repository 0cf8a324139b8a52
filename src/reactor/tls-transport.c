/* braid — the TLS transport: a GTlsConnection (glib-networking) whose
 * pollable streams are read and written without blocking from sources on
 * the reactor's context.
 *
 * It keeps the socket transport's contract: writes are queued as GBytes,
 * lose_connection flushes and then closes (sending TLS close_notify),
 * abort closes the socket at once, connection_lost is delivered once and
 * from an idle source, never inside data_received.  TLS has no half-close
 * that GIO exposes, so lose_write_connection is lose_connection.
 *
 * Small queued writes are coalesced into one staging buffer of up to one
 * TLS record, so a reply made of many small writes leaves in one record.
 * The staging buffer also keeps the bytes handed to a write that would
 * block unchanged for the retry, as TLS libraries require. */
#include "tls-transport-private.h"
#include "reactor-error.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#define READ_CHUNK_SIZE (16 * 1024)
/* Reads per dispatch before yielding to other sources. */
#define READS_PER_DISPATCH 16
#define RECORD_SIZE (16 * 1024)
/* A clean close sends close_notify; a peer that never reads it cannot
 * hold the connection longer than this. */
#define CLOSE_TIMEOUT_MS 5000

struct _BraidTlsTransport
{
  GObject parent_instance;

  GTlsConnection *tls;            /* (owned) */
  GSocketConnection *base;        /* (owned) */
  GPollableInputStream *input;    /* (unowned): belongs to @tls */
  GPollableOutputStream *output_stream; /* (unowned): belongs to @tls */
  GMainContext *context;          /* (owned) */
  BraidProtocol *protocol;        /* (owned) (nullable): until connection_lost */
  GSource *read_source;           /* (owned) (nullable) */
  GSource *write_source;          /* (owned) (nullable) */
  GSource *lost_source;           /* (owned) (nullable) */
  GSource *close_timeout;         /* (owned) (nullable) */
  GCancellable *close_cancellable; /* (owned) (nullable): while closing cleanly */
  GQueue output;                  /* (element-type GBytes) (owned): not staged yet */
  GBytes *staged;                 /* (owned) (nullable): being written */
  gsize staged_offset;            /* bytes of @staged already written */
  gsize output_size;              /* unwritten bytes, staged or queued */
  GSocketAddress *peer_address;   /* (owned) (nullable) */
  GSocketAddress *host_address;   /* (owned) (nullable) */
  gboolean paused;
  gboolean closing;               /* lose_connection: flush, then close */
  gboolean closed;                /* no more I/O */
  gboolean half_closed;           /* the peer sent EOF, we still write */
  GError *lost_reason;            /* (owned) (nullable) */
  BraidTlsTransportClosedFunc closed_func;
  gpointer closed_data;
};

static void braid_tls_transport_iface_init (BraidTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidTlsTransport, braid_tls_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_TRANSPORT,
                                                      braid_tls_transport_iface_init))

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
clear_output (BraidTlsTransport *self)
{
  g_queue_clear_full (&self->output, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&self->staged, g_bytes_unref);
  self->staged_offset = 0;
  self->output_size = 0;
}

/* Closes the socket under the TLS session, without close_notify. */
static void
close_base (BraidTlsTransport *self)
{
  g_io_stream_close (G_IO_STREAM (self->base), NULL, NULL);
}

static void
braid_tls_transport_dispose (GObject *object)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (object);

  destroy_source (&self->read_source);
  destroy_source (&self->write_source);
  destroy_source (&self->lost_source);
  destroy_source (&self->close_timeout);
  if (self->close_cancellable != NULL)
    g_cancellable_cancel (self->close_cancellable);
  g_clear_object (&self->close_cancellable);
  clear_output (self);
  g_clear_object (&self->protocol);
  if (self->base != NULL)
    close_base (self);
  G_OBJECT_CLASS (braid_tls_transport_parent_class)->dispose (object);
}

static void
braid_tls_transport_finalize (GObject *object)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (object);

  g_clear_object (&self->tls);
  g_clear_object (&self->base);
  g_clear_object (&self->peer_address);
  g_clear_object (&self->host_address);
  g_clear_error (&self->lost_reason);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (braid_tls_transport_parent_class)->finalize (object);
}

static void
braid_tls_transport_class_init (BraidTlsTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = braid_tls_transport_dispose;
  object_class->finalize = braid_tls_transport_finalize;
}

static void
braid_tls_transport_init (BraidTlsTransport *self)
{
  g_queue_init (&self->output);
}

BraidTlsTransport *
braid_tls_transport_new (GTlsConnection *tls, GSocketConnection *base, GMainContext *context)
{
  BraidTlsTransport *self;
  GSocket *socket;

  g_return_val_if_fail (G_IS_TLS_CONNECTION (tls), NULL);
  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (base), NULL);

  self = g_object_new (BRAID_TYPE_TLS_TRANSPORT, NULL);
  self->tls = g_object_ref (tls);
  self->base = g_object_ref (base);
  self->input = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (G_IO_STREAM (tls)));
  self->output_stream = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (G_IO_STREAM (tls)));
  self->context = context != NULL ? g_main_context_ref (context)
                                  : g_main_context_ref_thread_default ();
  socket = g_socket_connection_get_socket (base);
  self->peer_address = g_socket_get_remote_address (socket, NULL);
  self->host_address = g_socket_get_local_address (socket, NULL);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  return self;
}

void
braid_tls_transport_set_closed_func (BraidTlsTransport *self,
                                     BraidTlsTransportClosedFunc func,
                                     gpointer user_data)
{
  self->closed_func = func;
  self->closed_data = user_data;
}

/* ---- closing ---- */

static gboolean
deliver_connection_lost (gpointer user_data)
{
  BraidTlsTransport *self = user_data;
  g_autoptr(BraidProtocol) protocol = g_steal_pointer (&self->protocol);
  g_autoptr(GError) reason = g_steal_pointer (&self->lost_reason);

  g_object_ref (self);
  g_clear_pointer (&self->lost_source, g_source_unref);
  if (protocol != NULL)
    braid_protocol_connection_lost (protocol, reason);
  if (self->closed_func != NULL)
    self->closed_func (self, self->closed_data);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_connection_lost (BraidTlsTransport *self)
{
  if (self->lost_source != NULL)
    return;
  self->lost_source = g_idle_source_new ();
  g_source_set_priority (self->lost_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->lost_source, deliver_connection_lost,
                         g_object_ref (self), g_object_unref);
  g_source_set_static_name (self->lost_source, "braid tls connection lost");
  g_source_attach (self->lost_source, self->context);
}

/* Stops all I/O and records @reason (taken).  Returns FALSE if the
 * transport was already closed. */
static gboolean
mark_closed (BraidTlsTransport *self, GError *reason)
{
  if (self->closed)
    {
      g_error_free (reason);
      return FALSE;
    }
  self->closed = TRUE;
  self->closing = TRUE;
  destroy_source (&self->read_source);
  destroy_source (&self->write_source);
  clear_output (self);
  self->lost_reason = reason;
  return TRUE;
}

/* Closes the socket now and tells the protocol on the next iteration, so
 * connection_lost never runs inside the protocol's own data_received or
 * write call. */
static void
close_with_reason (BraidTlsTransport *self, GError *reason)
{
  if (!mark_closed (self, reason))
    return;
  close_base (self);
  schedule_connection_lost (self);
}

static void
close_lost (BraidTlsTransport *self, const GError *io_error)
{
  close_with_reason (self, g_error_new (BRAID_REACTOR_ERROR,
                                        BRAID_REACTOR_ERROR_CONNECTION_LOST,
                                        "Connection was lost: %s", io_error->message));
}

static void
on_clean_close_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(BraidTlsTransport) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_debug ("TLS close: %s", error->message);
  destroy_source (&self->close_timeout);
  g_clear_object (&self->close_cancellable);
  close_base (self);
  schedule_connection_lost (self);
}

static gboolean
on_close_timeout (gpointer user_data)
{
  BraidTlsTransport *self = user_data;

  g_clear_pointer (&self->close_timeout, g_source_unref);
  if (self->close_cancellable != NULL)
    g_cancellable_cancel (self->close_cancellable);
  return G_SOURCE_REMOVE;
}

/* Everything was written: send close_notify, close, then report
 * CONNECTION_DONE. */
static void
close_done (BraidTlsTransport *self)
{
  if (!mark_closed (self, g_error_new_literal (BRAID_REACTOR_ERROR,
                                               BRAID_REACTOR_ERROR_CONNECTION_DONE,
                                               "Connection was closed cleanly")))
    return;
  self->close_cancellable = g_cancellable_new ();
  self->close_timeout = g_timeout_source_new (CLOSE_TIMEOUT_MS);
  g_source_set_callback (self->close_timeout, on_close_timeout, self, NULL);
  g_source_set_static_name (self->close_timeout, "braid tls close timeout");
  g_source_attach (self->close_timeout, self->context);
  g_main_context_push_thread_default (self->context);
  g_io_stream_close_async (G_IO_STREAM (self->tls), G_PRIORITY_DEFAULT, self->close_cancellable,
                           on_clean_close_done, g_object_ref (self));
  g_main_context_pop_thread_default (self->context);
}

/* ---- writing ---- */

static gboolean on_writable (GObject *stream, gpointer user_data);

static void
ensure_write_source (BraidTlsTransport *self)
{
  if (self->write_source != NULL || self->closed)
    return;
  self->write_source = g_pollable_output_stream_create_source (self->output_stream, NULL);
  g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_writable), self, NULL);
  g_source_set_static_name (self->write_source, "braid tls write");
  g_source_attach (self->write_source, self->context);
}

/* Moves the next bytes to write into @staged: a large chunk as it is,
 * small ones copied together up to one record. */
static void
stage (BraidTlsTransport *self)
{
  GBytes *head = g_queue_peek_head (&self->output);
  GByteArray *buffer;

  if (g_bytes_get_size (head) >= RECORD_SIZE || self->output.length == 1)
    {
      self->staged = g_queue_pop_head (&self->output);
      self->staged_offset = 0;
      return;
    }
  buffer = g_byte_array_sized_new (RECORD_SIZE);
  while ((head = g_queue_peek_head (&self->output)) != NULL &&
         buffer->len + g_bytes_get_size (head) <= RECORD_SIZE)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);

      g_byte_array_append (buffer, data, (guint) size);
      g_bytes_unref (g_queue_pop_head (&self->output));
    }
  self->staged = g_byte_array_free_to_bytes (buffer);
  self->staged_offset = 0;
}

/* Writes as much as the TLS session takes.  Returns FALSE if the
 * connection was closed by an error. */
static gboolean
flush_output (BraidTlsTransport *self)
{
  while (self->output_size > 0)
    {
      g_autoptr(GError) error = NULL;
      const guint8 *data;
      gsize size;
      gssize written;

      if (self->staged == NULL)
        stage (self);
      data = g_bytes_get_data (self->staged, &size);
      written = g_pollable_output_stream_write_nonblocking (self->output_stream,
                                                            data + self->staged_offset,
                                                            size - self->staged_offset,
                                                            NULL, &error);
      if (written < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return TRUE;
          close_lost (self, error);
          return FALSE;
        }
      self->output_size -= (gsize) written;
      self->staged_offset += (gsize) written;
      if (self->staged_offset == size)
        {
          g_clear_pointer (&self->staged, g_bytes_unref);
          self->staged_offset = 0;
        }
    }
  return TRUE;
}

static gboolean
on_writable (GObject *stream, gpointer user_data)
{
  BraidTlsTransport *self = user_data;
  g_autoptr(BraidTlsTransport) keep = g_object_ref (self);

  if (!flush_output (self))
    return G_SOURCE_REMOVE;  /* close_lost destroyed the source */
  if (self->output_size > 0)
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&self->write_source, g_source_unref);
  if (self->closing)
    close_done (self);
  else if (self->protocol != NULL)
    braid_protocol_output_drained (self->protocol);
  return G_SOURCE_REMOVE;
}

static void
transport_write_bytes (BraidTransport *transport, GBytes *bytes)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (transport);

  if (self->closing || self->closed || g_bytes_get_size (bytes) == 0)
    return;  /* Twisted drops writes after loseConnection too */
  g_queue_push_tail (&self->output, g_bytes_ref (bytes));
  self->output_size += g_bytes_get_size (bytes);
  ensure_write_source (self);
}

static void
transport_lose_connection (BraidTransport *transport)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (transport);

  if (self->closing || self->closed)
    return;
  self->closing = TRUE;
  destroy_source (&self->read_source);
  if (self->output_size == 0)
    close_done (self);
  else
    ensure_write_source (self);
}

static void
transport_abort_connection (BraidTransport *transport)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (transport);
  struct linger reset = { 1, 0 };

  if (self->closed)
    return;
  /* No close_notify, and a reset rather than a FIN (as the socket transport). */
  (void) setsockopt (g_socket_get_fd (g_socket_connection_get_socket (self->base)), SOL_SOCKET, SO_LINGER, &reset,
                     sizeof reset);
  close_with_reason (self, g_error_new_literal (BRAID_REACTOR_ERROR,
                                                BRAID_REACTOR_ERROR_CONNECTION_ABORTED,
                                                "Connection was aborted"));
}

/* ---- reading ---- */

static gboolean on_readable (GObject *stream, gpointer user_data);

static void
start_reading (BraidTlsTransport *self)
{
  if (self->read_source != NULL || self->closed || self->closing ||
      self->paused || self->half_closed)
    return;
  self->read_source = g_pollable_input_stream_create_source (self->input, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_static_name (self->read_source, "braid tls read");
  g_source_attach (self->read_source, self->context);
  /* Decrypted bytes may already wait inside the TLS session (they came
   * with the handshake, or before a pause): look once without polling. */
  g_source_set_ready_time (self->read_source, 0);
}

static void
handle_eof (BraidTlsTransport *self)
{
  destroy_source (&self->read_source);
  if (self->protocol != NULL && braid_protocol_eof_received (self->protocol))
    {
      self->half_closed = TRUE;
      return;
    }
  /* Flush what the protocol already wrote, then close. */
  transport_lose_connection (BRAID_TRANSPORT (self));
}

static gboolean
on_readable (GObject *stream, gpointer user_data)
{
  BraidTlsTransport *self = user_data;
  g_autoptr(BraidTlsTransport) keep = g_object_ref (self);
  guint8 buffer[READ_CHUNK_SIZE];

  g_source_set_ready_time (self->read_source, -1);
  for (guint i = 0; i < READS_PER_DISPATCH; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (self->input, buffer, sizeof buffer,
                                                           NULL, &error);

      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          /* A peer that closes the socket without close_notify has still
           * finished sending: memcached's clients often do. */
          if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF))
            n = 0;
          else
            {
              close_lost (self, error);
              return G_SOURCE_REMOVE;
            }
        }
      if (n == 0)
        {
          g_clear_pointer (&self->read_source, g_source_unref);
          handle_eof (self);
          return G_SOURCE_REMOVE;
        }
      if (self->protocol != NULL)
        braid_protocol_data_received (self->protocol, buffer, (gsize) n);
      /* The protocol may have paused, closed or aborted: its source is gone
       * then, and we must not touch it again. */
      if (self->read_source == NULL)
        return G_SOURCE_REMOVE;
    }
  /* More may be buffered in the session: come back after the others. */
  g_source_set_ready_time (self->read_source, 0);
  return G_SOURCE_CONTINUE;
}

static void
transport_pause_reading (BraidTransport *transport)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (transport);

  self->paused = TRUE;
  destroy_source (&self->read_source);
}

static void
transport_resume_reading (BraidTransport *transport)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (transport);

  self->paused = FALSE;
  start_reading (self);
}

void
braid_tls_transport_start (BraidTlsTransport *self, BraidProtocol *protocol)
{
  g_return_if_fail (self->protocol == NULL);

  self->protocol = g_object_ref (protocol);
  braid_protocol_connection_made (protocol, BRAID_TRANSPORT (self));
  start_reading (self);
}

/* ---- queries ---- */

static GSocketAddress *
transport_get_peer_address (BraidTransport *transport)
{
  return BRAID_TLS_TRANSPORT (transport)->peer_address;
}

static GSocketAddress *
transport_get_host_address (BraidTransport *transport)
{
  return BRAID_TLS_TRANSPORT (transport)->host_address;
}

static gsize
transport_get_write_buffer_size (BraidTransport *transport)
{
  return BRAID_TLS_TRANSPORT (transport)->output_size;
}

static gboolean
transport_is_closing (BraidTransport *transport)
{
  BraidTlsTransport *self = BRAID_TLS_TRANSPORT (transport);

  return self->closing || self->closed;
}

static void
braid_tls_transport_iface_init (BraidTransportInterface *iface)
{
  iface->write_bytes = transport_write_bytes;
  iface->lose_connection = transport_lose_connection;
  iface->abort_connection = transport_abort_connection;
  iface->get_peer_address = transport_get_peer_address;
  iface->get_host_address = transport_get_host_address;
  iface->pause_reading = transport_pause_reading;
  iface->resume_reading = transport_resume_reading;
  iface->get_write_buffer_size = transport_get_write_buffer_size;
  iface->is_closing = transport_is_closing;
  /* lose_write_connection left NULL: TLS half-close is not offered, and
   * braid_transport_lose_write_connection falls back to lose_connection. */
}
