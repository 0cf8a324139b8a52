/* braid — a protocol for tests that records what happens to it. */
#include "recording-protocol.h"

G_DEFINE_FINAL_TYPE (BraidRecordingProtocol, braid_recording_protocol, BRAID_TYPE_PROTOCOL)

static void
recording_connection_made (BraidProtocol *protocol, BraidTransport *transport)
{
  BraidRecordingProtocol *self = BRAID_RECORDING_PROTOCOL (protocol);

  self->n_made++;
  /* Weak: a test can check the transport is freed even after the
   * protocol let go of it, which a lost connection makes it do at once. */
  self->made_transport = transport;
  g_object_add_weak_pointer (G_OBJECT (transport), (gpointer *) &self->made_transport);
  if (self->greeting != NULL)
    braid_transport_write_string (transport, self->greeting);
  if (self->lose_after_greeting)
    braid_transport_lose_connection (transport);
}

static void
recording_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidRecordingProtocol *self = BRAID_RECORDING_PROTOCOL (protocol);

  g_byte_array_append (self->received, data, (guint) len);
  self->n_chunks++;
  self->largest_chunk = MAX (self->largest_chunk, len);
  if (self->echo)
    braid_transport_write (braid_protocol_get_transport (protocol), data, len);
  if (self->pause_on_data)
    braid_transport_pause_reading (braid_protocol_get_transport (protocol));
}

static gboolean
recording_eof_received (BraidProtocol *protocol)
{
  BraidRecordingProtocol *self = BRAID_RECORDING_PROTOCOL (protocol);

  self->n_eof++;
  return self->keep_open_on_eof;
}

static void
recording_connection_lost (BraidProtocol *protocol, const GError *reason)
{
  BraidRecordingProtocol *self = BRAID_RECORDING_PROTOCOL (protocol);

  g_assert_null (self->lost_reason);
  self->lost_reason = g_error_copy (reason);
}

static void
recording_output_drained (BraidProtocol *protocol)
{
  BRAID_RECORDING_PROTOCOL (protocol)->n_drained++;
}

static void
braid_recording_protocol_finalize (GObject *object)
{
  BraidRecordingProtocol *self = BRAID_RECORDING_PROTOCOL (object);

  if (self->made_transport != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->made_transport), (gpointer *) &self->made_transport);
  g_byte_array_unref (self->received);
  g_clear_error (&self->lost_reason);
  g_free (self->greeting);
  G_OBJECT_CLASS (braid_recording_protocol_parent_class)->finalize (object);
}

static void
braid_recording_protocol_class_init (BraidRecordingProtocolClass *klass)
{
  BraidProtocolClass *protocol_class = BRAID_PROTOCOL_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_recording_protocol_finalize;
  protocol_class->connection_made = recording_connection_made;
  protocol_class->data_received = recording_data_received;
  protocol_class->connection_lost = recording_connection_lost;
  protocol_class->output_drained = recording_output_drained;
  protocol_class->eof_received = recording_eof_received;
}

static void
braid_recording_protocol_init (BraidRecordingProtocol *self)
{
  self->received = g_byte_array_new ();
}

BraidRecordingProtocol *
braid_recording_protocol_new (void)
{
  return g_object_new (BRAID_TYPE_RECORDING_PROTOCOL, NULL);
}

gboolean
braid_recording_protocol_is_lost (BraidRecordingProtocol *self)
{
  return self->lost_reason != NULL;
}

typedef struct {
  gboolean echo;
  GPtrArray *built;  /* (owned) (nullable) */
} FactoryData;

static void
factory_data_free (gpointer data)
{
  FactoryData *fd = data;

  g_clear_pointer (&fd->built, g_ptr_array_unref);
  g_free (fd);
}

static BraidProtocol *
build_recording (GSocketAddress *address, gpointer user_data)
{
  FactoryData *fd = user_data;
  BraidRecordingProtocol *p = braid_recording_protocol_new ();

  p->echo = fd->echo;
  if (fd->built != NULL)
    g_ptr_array_add (fd->built, g_object_ref (p));
  return BRAID_PROTOCOL (p);
}

BraidProtocolFactory *
braid_recording_factory_new (gboolean echo, GPtrArray *built)
{
  FactoryData *fd = g_new0 (FactoryData, 1);

  fd->echo = echo;
  fd->built = built != NULL ? g_ptr_array_ref (built) : NULL;
  return braid_protocol_factory_new (build_recording, fd, factory_data_free);
}
