/* braid — the recording relay.
 *
 * Each accepted connection gets a CaptureSession: the client side is paused
 * until the upstream connection is made, then bytes are relayed both ways
 * and recorded with their time since the connection opened.  When either
 * side closes, the other is closed after its pending output, and the
 * fixture is handed over once both are gone.  Back pressure: a side whose
 * peer's output buffer is over a limit stops reading until it drains. */
#include "capture.h"

#include "callback-protocol.h"

#define RELAY_BUFFER_LIMIT (1024 * 1024)

struct _BraidCapture
{
  BraidReactor *reactor;          /* (owned) */
  gchar *upstream;
  BraidCaptureDoneFunc done;
  gpointer done_data;
  GPtrArray *rules;               /* pattern, replacement pairs */
  GPtrArray *headers;             /* key, value pairs */
  GHashTable *sessions;           /* (element-type CaptureSession) set */
  guint next_id;
};

typedef struct _CaptureSession CaptureSession;

/* The user data of each side's BraidCallbackProtocol (owned by it). */
typedef struct
{
  CaptureSession *session;         /* (unowned) (nullable) */
  BraidFixtureDirection direction; /* of the bytes this side receives */
} CaptureSide;

struct _CaptureSession
{
  BraidCapture *capture;          /* (unowned) */
  BraidFixture *fixture;          /* (owned) */
  BraidProtocol *client;          /* (owned): a CaptureSide protocol */
  BraidProtocol *server;          /* (owned) (nullable): until connected */
  GByteArray *early;              /* client bytes before the upstream is up */
  gint64 opened_at;
  gboolean client_lost;
  gboolean server_lost;
  gboolean client_close_recorded;
  gboolean early_eof;             /* the client half-closed before upstream was up */
};

static gdouble
session_time (CaptureSession *s)
{
  return (gdouble) (braid_reactor_now (s->capture->reactor) - s->opened_at) / G_USEC_PER_SEC;
}

static CaptureSide *
side_of (BraidProtocol *protocol)
{
  return braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (protocol));
}

static BraidTransport *
side_transport (BraidProtocol *side)
{
  return side != NULL ? braid_protocol_get_transport (side) : NULL;
}

static void
session_free (CaptureSession *s)
{
  if (s->client != NULL)
    side_of (s->client)->session = NULL;
  if (s->server != NULL)
    side_of (s->server)->session = NULL;
  g_clear_object (&s->client);
  g_clear_object (&s->server);
  g_clear_pointer (&s->fixture, braid_fixture_free);
  g_clear_pointer (&s->early, g_byte_array_unref);
  g_free (s);
}

static void
session_maybe_done (CaptureSession *s)
{
  BraidCapture *capture = s->capture;

  if (!s->client_lost || (s->server != NULL && !s->server_lost))
    return;
  g_hash_table_steal (capture->sessions, s);
  capture->done (g_steal_pointer (&s->fixture), capture->done_data);
  session_free (s);
}

static void
close_side (BraidProtocol *side)
{
  BraidTransport *t = side_transport (side);

  if (t != NULL)
    braid_transport_lose_connection (t);
}

/* ---- relaying ---- */

static void
side_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  CaptureSide *self = user_data;
  CaptureSession *s = self->session;
  BraidProtocol *other;
  BraidTransport *out;

  if (s == NULL)
    return;
  braid_fixture_add_chunk (s->fixture, self->direction, session_time (s), data, len);
  other = protocol == s->client ? s->server : s->client;
  out = side_transport (other);
  if (out == NULL)
    {
      g_byte_array_append (s->early, data, (guint) len);
      return;
    }
  braid_transport_write (out, data, len);
  if (braid_transport_get_write_buffer_size (out) > RELAY_BUFFER_LIMIT)
    braid_transport_pause_reading (braid_protocol_get_transport (protocol));
}

static void
side_output_drained (BraidProtocol *protocol, gpointer user_data)
{
  CaptureSide *self = user_data;
  CaptureSession *s = self->session;
  BraidProtocol *other;
  BraidTransport *t;

  if (s == NULL)
    return;
  other = protocol == s->client ? s->server : s->client;
  t = side_transport (other);
  if (t != NULL && !braid_transport_is_closing (t))
    braid_transport_resume_reading (t);
}

static void
side_connection_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  CaptureSide *self = user_data;
  CaptureSession *s = self->session;

  if (s == NULL)
    return;
  if (protocol == s->client)
    {
      s->client_lost = TRUE;
      if (!s->client_close_recorded)
        braid_fixture_add_close (s->fixture, BRAID_FIXTURE_CLIENT_TO_SERVER, session_time (s));
      s->client_close_recorded = TRUE;
      close_side (s->server);
    }
  else
    {
      s->server_lost = TRUE;
      /* A close we caused by relaying the client's close is not the
       * server's doing: record only closes the server started. */
      if (!s->client_lost)
        braid_fixture_add_close (s->fixture, BRAID_FIXTURE_SERVER_TO_CLIENT, session_time (s));
      /* Nothing more will come: end the session even if the client's
       * closing is still on its way. */
      close_side (s->client);
    }
  session_maybe_done (s);
}

/* The client finished sending (a half-close, as `nc -N` or shutdown(2)
 * do): pass the half-close on and keep relaying the server's answers. */
static gboolean
side_eof_received (BraidProtocol *protocol, gpointer user_data)
{
  CaptureSide *self = user_data;
  CaptureSession *s = self->session;
  BraidTransport *t;

  if (s == NULL || protocol != s->client)
    return FALSE;  /* the server closed: close the client after relaying */
  braid_fixture_add_close (s->fixture, BRAID_FIXTURE_CLIENT_TO_SERVER, session_time (s));
  s->client_close_recorded = TRUE;
  t = side_transport (s->server);
  if (t != NULL)
    braid_transport_lose_write_connection (t);
  else
    s->early_eof = TRUE;
  return TRUE;
}

static const BraidProtocolCallbacks side_callbacks = {
  .eof_received = side_eof_received,
  .data_received = side_data_received,
  .connection_lost = side_connection_lost,
  .output_drained = side_output_drained,
};

/* A side not yet in a session: its events are ignored until it is. */
static BraidProtocol *
side_new (BraidFixtureDirection direction)
{
  CaptureSide *side = g_new0 (CaptureSide, 1);

  side->direction = direction;
  return BRAID_PROTOCOL (braid_callback_protocol_new (&side_callbacks, side, g_free));
}

static BraidProtocol *
build_server_side (GSocketAddress *address, gpointer user_data)
{
  return side_new (BRAID_FIXTURE_SERVER_TO_CLIENT);
}

/* ---- sessions ---- */

static void
on_upstream_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CaptureSession *s = user_data;
  g_autoptr(GError) error = NULL;
  BraidProtocol *server = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);
  BraidTransport *client_transport;

  if (!g_hash_table_contains (s->capture->sessions, s) || s->client_lost)
    {
      /* The client gave up first (the session is still waiting for us). */
      if (server != NULL)
        {
          close_side (server);
          g_object_unref (server);
        }
      if (g_hash_table_contains (s->capture->sessions, s))
        {
          s->server_lost = TRUE;
          session_maybe_done (s);
        }
      return;
    }
  if (server == NULL)
    {
      g_warning ("braid-capture: cannot reach upstream %s: %s", s->capture->upstream, error->message);
      braid_fixture_add_header (s->fixture, "upstream-error", error->message);
      s->server_lost = TRUE;
      close_side (s->client);
      return;
    }
  s->server = server;
  side_of (s->server)->session = s;
  if (s->early->len > 0)
    braid_transport_write (side_transport (s->server), s->early->data, s->early->len);
  g_byte_array_set_size (s->early, 0);
  if (s->early_eof)
    braid_transport_lose_write_connection (side_transport (s->server));
  client_transport = side_transport (s->client);
  (void) client_transport;
}

static BraidProtocol *
build_client_side (GSocketAddress *address, gpointer user_data)
{
  BraidCapture *capture = user_data;
  CaptureSession *s = g_new0 (CaptureSession, 1);
  g_autofree gchar *name = g_strdup_printf ("connection-%u", ++capture->next_id);
  g_autoptr(BraidProtocolFactory) upstream_factory =
    braid_protocol_factory_new (build_server_side, NULL, NULL);

  s->capture = capture;
  s->fixture = braid_fixture_new (name);
  s->early = g_byte_array_new ();
  s->opened_at = braid_reactor_now (capture->reactor);
  s->client = side_new (BRAID_FIXTURE_CLIENT_TO_SERVER);
  side_of (s->client)->session = s;

  braid_fixture_add_header (s->fixture, "recorded-by", "braid-capture " PACKAGE_VERSION);
  braid_fixture_add_header (s->fixture, "upstream", capture->upstream);
  for (guint i = 0; i + 1 < capture->headers->len; i += 2)
    braid_fixture_add_header (s->fixture, g_ptr_array_index (capture->headers, i),
                              g_ptr_array_index (capture->headers, i + 1));
  for (guint i = 0; i + 1 < capture->rules->len; i += 2)
    braid_fixture_add_rule (s->fixture, g_ptr_array_index (capture->rules, i),
                            g_ptr_array_index (capture->rules, i + 1), NULL);
  g_hash_table_add (capture->sessions, s);

  braid_reactor_connect_async (capture->reactor, capture->upstream, upstream_factory,
                               NULL, on_upstream_connected, s);
  return g_object_ref (s->client);
}

BraidCapture *
braid_capture_new (BraidReactor *reactor,
                   const gchar *upstream_endpoint,
                   BraidCaptureDoneFunc done,
                   gpointer user_data)
{
  BraidCapture *capture = g_new0 (BraidCapture, 1);

  capture->reactor = g_object_ref (reactor);
  capture->upstream = g_strdup (upstream_endpoint);
  capture->done = done;
  capture->done_data = user_data;
  capture->rules = g_ptr_array_new_with_free_func (g_free);
  capture->headers = g_ptr_array_new_with_free_func (g_free);
  capture->sessions = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) session_free, NULL);
  return capture;
}

void
braid_capture_free (BraidCapture *capture)
{
  if (capture == NULL)
    return;
  g_hash_table_unref (capture->sessions);
  g_ptr_array_unref (capture->rules);
  g_ptr_array_unref (capture->headers);
  g_free (capture->upstream);
  g_object_unref (capture->reactor);
  g_free (capture);
}

gboolean
braid_capture_add_rule (BraidCapture *capture, const gchar *pattern,
                        const gchar *replacement, GError **error)
{
  g_autoptr(BraidFixture) probe = braid_fixture_new (NULL);

  if (!braid_fixture_add_rule (probe, pattern, replacement, error))
    return FALSE;
  g_ptr_array_add (capture->rules, g_strdup (pattern));
  g_ptr_array_add (capture->rules, g_strdup (replacement));
  return TRUE;
}

void
braid_capture_add_header (BraidCapture *capture, const gchar *key, const gchar *value)
{
  g_ptr_array_add (capture->headers, g_strdup (key));
  g_ptr_array_add (capture->headers, g_strdup (value));
}

gboolean
braid_capture_add_memcached_rules (BraidCapture *capture, GError **error)
{
  /* cas unique values depend on the server's history; stats values and
   * the version string on the server itself. */
  return braid_capture_add_rule (capture, "^(VALUE \\S+ \\d+ \\d+) \\d+\\r$", "\\1 <cas>\\r", error) &&
         braid_capture_add_rule (capture, "^STAT (\\S+) .*\\r$", "STAT \\1 <value>\\r", error) &&
         braid_capture_add_rule (capture, "^VERSION .*\\r$", "VERSION <version>\\r", error);
}

BraidListener *
braid_capture_listen (BraidCapture *capture, const gchar *endpoint, GError **error)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_client_side, capture, NULL);

  return braid_reactor_listen (capture->reactor, endpoint, factory, error);
}

guint
braid_capture_get_n_active (BraidCapture *capture)
{
  return g_hash_table_size (capture->sessions);
}
