/* braid — in-memory transports.
 *
 * Standalone (StringTransport): writes are recorded and the test drives the
 * protocol by hand.  Connected (iosim): two transports are peers and the
 * fake reactor pumps bytes between them under a delivery policy, with
 * faults.  Either way every byte written is recorded for exact assertions. */
#include "fake-transport-private.h"
#include "reactor-error.h"

#include <string.h>

struct _BraidFakeTransport
{
  GObject parent_instance;

  BraidProtocol *protocol;        /* connected: (owned) until connection_lost;
                                     standalone: (unowned) */
  gboolean standalone;
  BraidFakeTransport *peer;       /* (unowned) (nullable) */
  GByteArray *written;            /* (owned): every byte ever written */
  GQueue pending;                 /* (element-type GBytes): not yet delivered */
  gsize pending_offset;
  gsize pending_size;
  gboolean autoflush;             /* standalone: writes leave at once */
  gboolean disconnecting;
  gboolean disconnected;
  gboolean aborted;
  gboolean read_paused;
  gboolean stalled;
  gboolean eof_pending;           /* the peer closed: tell our protocol */
  gboolean half_closed;            /* got EOF, still writing */
  gboolean write_shutdown;         /* lose_write_connection was called */
  gboolean eof_sent;               /* ... and the peer was told */
  gsize reset_after;              /* G_MAXSIZE: never */
  gsize delivered;
  GError *lost_reason;            /* (owned) (nullable): connection_lost to deliver */
  gboolean lost_delivered;
  GSocketAddress *host_address;   /* (owned) */
  GSocketAddress *peer_address;   /* (owned) */
  BraidFakeClosedFunc closed_func;
  gpointer closed_data;
};

static void braid_fake_transport_iface_init (BraidTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidFakeTransport, braid_fake_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_TRANSPORT,
                                                      braid_fake_transport_iface_init))

const gchar *
braid_fake_delivery_to_string (BraidFakeDelivery delivery)
{
  switch (delivery)
    {
    case BRAID_FAKE_DELIVERY_WHOLE:
      return "whole";
    case BRAID_FAKE_DELIVERY_BYTE:
      return "byte";
    case BRAID_FAKE_DELIVERY_RANDOM:
      return "random";
    default:
      return "unknown";
    }
}

static void
clear_pending (BraidFakeTransport *self)
{
  g_queue_clear_full (&self->pending, (GDestroyNotify) g_bytes_unref);
  self->pending_offset = 0;
  self->pending_size = 0;
}

static void
braid_fake_transport_dispose (GObject *object)
{
  BraidFakeTransport *self = BRAID_FAKE_TRANSPORT (object);

  if (self->standalone)
    self->protocol = NULL;
  else
    g_clear_object (&self->protocol);
  if (self->peer != NULL && self->peer->peer == self)
    self->peer->peer = NULL;
  self->peer = NULL;
  clear_pending (self);
  G_OBJECT_CLASS (braid_fake_transport_parent_class)->dispose (object);
}

static void
braid_fake_transport_finalize (GObject *object)
{
  BraidFakeTransport *self = BRAID_FAKE_TRANSPORT (object);

  g_byte_array_unref (self->written);
  g_clear_error (&self->lost_reason);
  g_clear_object (&self->host_address);
  g_clear_object (&self->peer_address);
  G_OBJECT_CLASS (braid_fake_transport_parent_class)->finalize (object);
}

static void
braid_fake_transport_class_init (BraidFakeTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = braid_fake_transport_dispose;
  object_class->finalize = braid_fake_transport_finalize;
}

static void
braid_fake_transport_init (BraidFakeTransport *self)
{
  self->written = g_byte_array_new ();
  g_queue_init (&self->pending);
  self->reset_after = G_MAXSIZE;
}

static GSocketAddress *
make_address (const gchar *ip, guint16 port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);

  return g_inet_socket_address_new (inet, port);
}

BraidFakeTransport *
braid_fake_transport_new (void)
{
  BraidFakeTransport *self = g_object_new (BRAID_TYPE_FAKE_TRANSPORT, NULL);

  self->standalone = TRUE;
  self->autoflush = TRUE;
  /* Fixed addresses, so tests and logs are reproducible. */
  self->host_address = make_address ("127.0.0.1", 11211);
  self->peer_address = make_address ("192.0.2.1", 54321);
  return self;
}

BraidFakeTransport *
braid_fake_transport_new_connected (GSocketAddress *host_address,
                                    GSocketAddress *peer_address)
{
  BraidFakeTransport *self = g_object_new (BRAID_TYPE_FAKE_TRANSPORT, NULL);

  self->host_address = g_object_ref (host_address);
  self->peer_address = g_object_ref (peer_address);
  return self;
}

void
braid_fake_transport_set_peer (BraidFakeTransport *self, BraidFakeTransport *peer)
{
  self->peer = peer;
}

void
braid_fake_transport_set_closed_func (BraidFakeTransport *self,
                                      BraidFakeClosedFunc func,
                                      gpointer user_data)
{
  self->closed_func = func;
  self->closed_data = user_data;
}

void
braid_fake_transport_attach (BraidFakeTransport *self, BraidProtocol *protocol)
{
  g_return_if_fail (BRAID_IS_FAKE_TRANSPORT (self));
  g_return_if_fail (self->protocol == NULL);

  if (self->standalone)
    self->protocol = protocol;  /* the test owns the protocol */
  else
    self->protocol = g_object_ref (protocol);
  braid_protocol_connection_made (protocol, BRAID_TRANSPORT (self));
}

BraidProtocol *
braid_fake_transport_get_protocol (BraidFakeTransport *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_TRANSPORT (self), NULL);
  return self->protocol;
}

/* ---- recorded output ---- */

GBytes *
braid_fake_transport_get_written (BraidFakeTransport *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_TRANSPORT (self), NULL);
  return g_bytes_new (self->written->data, self->written->len);
}

gchar *
braid_fake_transport_get_written_string (BraidFakeTransport *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_TRANSPORT (self), NULL);
  return g_strndup ((const gchar *) self->written->data, self->written->len);
}

void
braid_fake_transport_clear (BraidFakeTransport *self)
{
  g_return_if_fail (BRAID_IS_FAKE_TRANSPORT (self));
  g_byte_array_set_size (self->written, 0);
}

gboolean
braid_fake_transport_is_disconnecting (BraidFakeTransport *self)
{
  return self->disconnecting;
}

gboolean
braid_fake_transport_is_aborted (BraidFakeTransport *self)
{
  return self->aborted;
}

gboolean
braid_fake_transport_is_disconnected (BraidFakeTransport *self)
{
  return self->disconnected;
}

gboolean
braid_fake_transport_get_read_paused (BraidFakeTransport *self)
{
  return self->read_paused;
}

GBytes *
braid_fake_transport_peek_pending (BraidFakeTransport *self)
{
  g_return_val_if_fail (BRAID_IS_FAKE_TRANSPORT (self), NULL);
  return g_queue_peek_head (&self->pending);
}

void
braid_fake_transport_set_stalled (BraidFakeTransport *self, gboolean stalled)
{
  self->stalled = stalled;
}

void
braid_fake_transport_reset_after (BraidFakeTransport *self, gsize n_bytes)
{
  self->reset_after = self->delivered + n_bytes;
}

void
braid_fake_transport_clear_faults (BraidFakeTransport *self)
{
  self->reset_after = G_MAXSIZE;
  self->stalled = FALSE;
}

void
braid_fake_transport_set_autoflush (BraidFakeTransport *self, gboolean autoflush)
{
  self->autoflush = autoflush;
}

static void
notify_drained (BraidFakeTransport *self)
{
  if (self->protocol != NULL && !self->disconnecting && !self->disconnected)
    braid_protocol_output_drained (self->protocol);
}

void
braid_fake_transport_flush (BraidFakeTransport *self)
{
  gboolean had_pending = self->pending_size > 0;

  clear_pending (self);
  if (had_pending)
    notify_drained (self);
}

/* ---- closing ---- */

static void
set_lost (BraidFakeTransport *self, gint code, const gchar *message)
{
  if (self->lost_reason != NULL || self->lost_delivered)
    return;
  self->disconnected = TRUE;
  clear_pending (self);
  self->lost_reason = g_error_new_literal (BRAID_REACTOR_ERROR, code, message);
}

static gboolean
deliver_lost (BraidFakeTransport *self)
{
  g_autoptr(GError) reason = g_steal_pointer (&self->lost_reason);
  BraidProtocol *protocol;

  if (reason == NULL)
    return FALSE;
  self->lost_delivered = TRUE;
  protocol = self->standalone ? (self->protocol != NULL ? g_object_ref (self->protocol) : NULL)
                              : g_steal_pointer (&self->protocol);
  if (self->standalone)
    self->protocol = NULL;
  if (protocol != NULL)
    braid_protocol_connection_lost (protocol, reason);
  g_clear_object (&protocol);
  if (self->closed_func != NULL)
    self->closed_func (self, self->closed_data);
  return TRUE;
}

void
braid_fake_transport_close_from_peer (BraidFakeTransport *self, const GError *error)
{
  g_return_if_fail (BRAID_IS_FAKE_TRANSPORT (self));

  if (self->disconnected)
    return;
  if (error != NULL)
    set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_LOST, error->message);
  else if (self->protocol != NULL && braid_protocol_eof_received (self->protocol))
    {
      self->half_closed = TRUE;
      return;
    }
  else
    set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_DONE, "Connection was closed cleanly");
  if (self->standalone)
    deliver_lost (self);
}

/* ---- the transport interface ---- */

static void
transport_write_bytes (BraidTransport *transport, GBytes *bytes)
{
  BraidFakeTransport *self = BRAID_FAKE_TRANSPORT (transport);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if (self->disconnecting || self->disconnected || self->write_shutdown)
    return;
  g_byte_array_append (self->written, data, (guint) size);
  if (self->standalone && self->autoflush)
    return;
  g_queue_push_tail (&self->pending, g_bytes_ref (bytes));
  self->pending_size += size;
}

static void
transport_lose_connection (BraidTransport *transport)
{
  BraidFakeTransport *self = BRAID_FAKE_TRANSPORT (transport);

  /* Standalone: only recorded, as StringTransport does; the test decides
   * when connection_lost happens. */
  self->disconnecting = TRUE;
}

static void
transport_lose_write_connection (BraidTransport *transport)
{
  BRAID_FAKE_TRANSPORT (transport)->write_shutdown = TRUE;
}

gboolean
braid_fake_transport_is_write_shutdown (BraidFakeTransport *self)
{
  return self->write_shutdown;
}

static void
transport_abort_connection (BraidTransport *transport)
{
  BraidFakeTransport *self = BRAID_FAKE_TRANSPORT (transport);

  if (self->disconnected)
    return;
  self->aborted = TRUE;
  self->disconnecting = TRUE;
  set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_ABORTED, "Connection was aborted");
  if (self->peer != NULL && !self->peer->disconnected)
    set_lost (self->peer, BRAID_REACTOR_ERROR_CONNECTION_LOST,
              "Connection was lost: Connection reset by peer");
}

static GSocketAddress *
transport_get_peer_address (BraidTransport *transport)
{
  return BRAID_FAKE_TRANSPORT (transport)->peer_address;
}

static GSocketAddress *
transport_get_host_address (BraidTransport *transport)
{
  return BRAID_FAKE_TRANSPORT (transport)->host_address;
}

static void
transport_pause_reading (BraidTransport *transport)
{
  BRAID_FAKE_TRANSPORT (transport)->read_paused = TRUE;
}

static void
transport_resume_reading (BraidTransport *transport)
{
  BRAID_FAKE_TRANSPORT (transport)->read_paused = FALSE;
}

static gsize
transport_get_write_buffer_size (BraidTransport *transport)
{
  return BRAID_FAKE_TRANSPORT (transport)->pending_size;
}

static gboolean
transport_is_closing (BraidTransport *transport)
{
  BraidFakeTransport *self = BRAID_FAKE_TRANSPORT (transport);

  return self->disconnecting || self->disconnected;
}

static void
braid_fake_transport_iface_init (BraidTransportInterface *iface)
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
  iface->lose_write_connection = transport_lose_write_connection;
}

/* ---- pumping (connected transports) ---- */

/* Takes up to @n bytes off the pending queue into one new GBytes. */
static GBytes *
take_pending (BraidFakeTransport *self, gsize n)
{
  GByteArray *out = g_byte_array_sized_new ((guint) n);

  while (out->len < n)
    {
      GBytes *head = g_queue_peek_head (&self->pending);
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);
      gsize take = MIN (size - self->pending_offset, n - out->len);

      g_byte_array_append (out, data + self->pending_offset, (guint) take);
      self->pending_offset += take;
      if (self->pending_offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&self->pending));
          self->pending_offset = 0;
        }
    }
  self->pending_size -= n;
  return g_byte_array_free_to_bytes (out);
}

static gsize
choose_chunk_size (BraidFakeTransport *self, BraidFakeDelivery delivery, GRand *rand)
{
  GBytes *head = g_queue_peek_head (&self->pending);

  switch (delivery)
    {
    case BRAID_FAKE_DELIVERY_BYTE:
      return 1;
    case BRAID_FAKE_DELIVERY_RANDOM:
      /* Mostly small chunks, sometimes everything: both kinds of split
       * find bugs. */
      if (g_rand_int_range (rand, 0, 4) == 0)
        return self->pending_size;
      return (gsize) g_rand_int_range (rand, 1, (gint32) MIN (self->pending_size, 32) + 1);
    case BRAID_FAKE_DELIVERY_WHOLE:
    default:
      return g_bytes_get_size (head) - self->pending_offset;
    }
}

static void
reset_both (BraidFakeTransport *self)
{
  set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_LOST,
            "Connection was lost: Connection reset by peer (injected fault)");
  if (self->peer != NULL)
    set_lost (self->peer, BRAID_REACTOR_ERROR_CONNECTION_LOST,
              "Connection was lost: Connection reset by peer (injected fault)");
}

/* One delivery step of our output into the peer.  Returns whether bytes
 * moved. */
static gboolean
deliver_step (BraidFakeTransport *self, BraidFakeDelivery delivery, GRand *rand)
{
  BraidFakeTransport *peer = self->peer;
  gboolean moved = FALSE;

  while (self->pending_size > 0 && !self->stalled && !self->disconnected &&
         peer != NULL && !peer->read_paused && !peer->disconnected)
    {
      /* Not MIN (f (), x): the macro would draw from the GRand twice. */
      gsize wanted = choose_chunk_size (self, delivery, rand);
      gsize n = MIN (wanted, self->pending_size);
      g_autoptr(GBytes) chunk = NULL;

      if (self->delivered + n > self->reset_after)
        n = self->reset_after - self->delivered;
      if (n == 0)
        {
          reset_both (self);
          return TRUE;
        }
      chunk = take_pending (self, n);
      self->delivered += n;
      moved = TRUE;
      /* A peer that is closing no longer reads: the bytes are lost, as
       * they would be in the kernel buffer of a closed socket. */
      if (peer->protocol != NULL && !peer->disconnecting)
        braid_protocol_data_received (peer->protocol, g_bytes_get_data (chunk, NULL), n);
      if (self->pending_size == 0)
        notify_drained (self);
      if (delivery != BRAID_FAKE_DELIVERY_WHOLE)
        break;
      peer = self->peer;
    }
  if (self->reset_after != G_MAXSIZE && self->delivered >= self->reset_after &&
      !self->disconnected)
    {
      reset_both (self);
      moved = TRUE;
    }
  return moved;
}

gboolean
braid_fake_transport_pump (BraidFakeTransport *self,
                           BraidFakeDelivery delivery,
                           GRand *rand)
{
  g_autoptr(BraidFakeTransport) keep = g_object_ref (self);
  gboolean moved = FALSE;

  if (deliver_lost (self))
    return TRUE;
  if (self->disconnected)
    return FALSE;

  if (self->eof_pending)
    {
      self->eof_pending = FALSE;
      moved = TRUE;
      if (self->eof_sent)
        {
          /* Both directions are finished. */
          set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_DONE, "Connection was closed cleanly");
          return TRUE;
        }
      if (self->write_shutdown ||
          (self->protocol != NULL && braid_protocol_eof_received (self->protocol)))
        self->half_closed = TRUE;
      else
        self->disconnecting = TRUE;
    }

  if ((self->peer == NULL || self->peer->disconnected) && self->pending_size > 0)
    {
      /* The peer is gone: nobody will read this. */
      clear_pending (self);
      moved = TRUE;
    }
  else
    moved |= deliver_step (self, delivery, rand);

  if (self->write_shutdown && !self->eof_sent && self->pending_size == 0 && !self->disconnected)
    {
      self->eof_sent = TRUE;
      moved = TRUE;
      if (self->peer != NULL && !self->peer->disconnected)
        self->peer->eof_pending = TRUE;
      if (self->half_closed)
        set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_DONE, "Connection was closed cleanly");
    }

  if (self->disconnecting && self->pending_size == 0 && !self->disconnected)
    {
      set_lost (self, BRAID_REACTOR_ERROR_CONNECTION_DONE, "Connection was closed cleanly");
      if (self->peer != NULL && !self->peer->disconnected && !self->peer->half_closed)
        self->peer->eof_pending = TRUE;
      else if (self->peer != NULL && self->peer->half_closed)
        self->peer->disconnecting = TRUE;
      moved = TRUE;
    }
  return moved;
}
