/* braid — a protocol for tests: records what happens to it, and can echo. */
#pragma once

#include "reactor.h"

G_BEGIN_DECLS

#define BRAID_TYPE_RECORDING_PROTOCOL (braid_recording_protocol_get_type ())
G_DECLARE_FINAL_TYPE (BraidRecordingProtocol, braid_recording_protocol,
                      BRAID, RECORDING_PROTOCOL, BraidProtocol)

struct _BraidRecordingProtocol
{
  BraidProtocol parent_instance;

  GByteArray *received;     /* every byte received */
  guint n_chunks;           /* data_received calls */
  gsize largest_chunk;
  guint n_made;             /* connection_made calls */
  guint n_drained;          /* output_drained calls */
  GError *lost_reason;      /* (nullable): set by connection_lost */
  gboolean echo;            /* write back whatever arrives */
  gchar *greeting;          /* (nullable): written in connection_made */
  gboolean lose_after_greeting;
  guint n_eof;              /* eof_received calls */
  gboolean keep_open_on_eof;  /* what eof_received answers */
  gboolean pause_on_data;   /* pause reading inside each data_received */
  BraidTransport *made_transport;  /* (weak) (nullable): the transport of connection_made */
};

BraidRecordingProtocol *braid_recording_protocol_new (void);
/* A factory whose protocols echo (when @echo) and are appended (new
 * references) to @built, if non-NULL. */
BraidProtocolFactory *braid_recording_factory_new (gboolean echo, GPtrArray *built);
gboolean braid_recording_protocol_is_lost (BraidRecordingProtocol *self);

G_END_DECLS
