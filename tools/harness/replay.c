/* braid — the replay engine.
 *
 * The fixture is cut into turns: what the client sent, then what the server
 * answered before the client spoke again.  Each turn's client bytes are
 * written, then the engine waits until the server's bytes, normalised by the
 * fixture's %replace rules, start with the expected ones.  Bytes beyond them
 * (the server answered faster than the recording) carry over to the next
 * turn, so replies may be split anywhere. */
#include "replay.h"

#include "binding.h"
#include "callback-protocol.h"
#include "glib-reactor.h"
#include <string.h>

G_DEFINE_QUARK (braid-replay-error-quark, braid_replay_error)

typedef struct {
  GByteArray *client;     /* what the client sends */
  gboolean client_close;
  GByteArray *server;     /* what the server should answer */
  gboolean server_close;
  gdouble send_time;      /* -1: no timestamp */
  guint line;             /* fixture line of the turn's first chunk */
  guint server_line;      /* fixture line of the first expected reply chunk */
  gsize client_start;     /* the turn's client bytes in the client stream */
  gsize client_end;
  gsize server_end;       /* end of its server bytes in the server stream */
} Turn;

struct _BraidReplay
{
  BraidReactor *reactor;        /* (owned) */
  BraidFixture *fixture;        /* (unowned) */
  BraidReplayOptions options;
  GArray *turns;                /* (element-type Turn) */
  guint turn;                   /* current */
  gboolean waiting;             /* for the current turn's reply */
  GByteArray *actual;           /* server bytes not yet matched */
  gboolean server_closed;
  BraidProtocol *protocol;      /* (owned) (nullable) */
  BraidDelayedCall *timer;      /* (owned) (nullable) */
  gint64 started_at;
  gboolean done;
  GError *error;                /* (owned) (nullable) */
  BraidBinder *binder;          /* (owned) */
  BraidFixture *capture;        /* (owned) (nullable): record mode */
  gsize actual_base;            /* binder output offset of actual[0] */
  gboolean capture_closed;      /* the close is recorded */
};

/* ---- the client protocol ---- */

static void replay_data (BraidReplay *self, const guint8 *data, gsize len);
static void replay_lost (BraidReplay *self, const GError *reason);

/* Events reach the replay only once on_connected has taken the protocol,
 * and stop when the replay detaches it. */
static void
replay_protocol_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  BraidReplay *self = user_data;

  if (self->protocol == protocol)
    replay_data (self, data, len);
}

static void
replay_protocol_connection_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  BraidReplay *self = user_data;

  if (self->protocol == protocol)
    replay_lost (self, reason);
}

static const BraidProtocolCallbacks replay_protocol_callbacks = {
  .data_received = replay_protocol_data_received,
  .connection_lost = replay_protocol_connection_lost,
};

/* ---- turns ---- */

static void
turn_clear (gpointer data)
{
  Turn *turn = data;

  g_byte_array_unref (turn->client);
  g_byte_array_unref (turn->server);
}

static Turn *
append_turn (GArray *turns, const BraidFixtureChunk *first)
{
  Turn turn = { g_byte_array_new (), FALSE, g_byte_array_new (), FALSE,
                first->has_time ? first->time : -1, first->line, 0, 0, 0, 0 };

  g_array_append_val (turns, turn);
  return &g_array_index (turns, Turn, turns->len - 1);
}

static GArray *
cut_turns (BraidFixture *fixture)
{
  GArray *turns = g_array_new (FALSE, TRUE, sizeof (Turn));
  Turn *current = NULL;
  gsize client_offset = 0, server_offset = 0;

  g_array_set_clear_func (turns, turn_clear);
  for (guint i = 0; i < fixture->chunks->len; i++)
    {
      const BraidFixtureChunk *chunk = g_ptr_array_index (fixture->chunks, i);
      gsize len = 0;
      const guint8 *data = chunk->data != NULL ? g_bytes_get_data (chunk->data, &len) : NULL;

      if (chunk->direction == BRAID_FIXTURE_CLIENT_TO_SERVER)
        {
          /* A client chunk after server bytes starts a new turn. */
          if (current == NULL || current->server->len > 0 || current->server_close)
            {
              current = append_turn (turns, chunk);
              current->client_start = current->client_end = client_offset;
              current->server_end = server_offset;
            }
          if (chunk->is_close)
            current->client_close = TRUE;
          else
            g_byte_array_append (current->client, data, (guint) len);
          client_offset += len;
          current->client_end = client_offset;
        }
      else
        {
          if (current == NULL)
            {
              current = append_turn (turns, chunk);  /* a server greeting */
              current->client_start = current->client_end = client_offset;
            }
          if (current->server_line == 0)
            current->server_line = chunk->line;
          if (chunk->is_close)
            current->server_close = TRUE;
          else
            g_byte_array_append (current->server, data, (guint) len);
          server_offset += len;
          current->server_end = server_offset;
        }
    }
  return turns;
}

/* ---- reporting ---- */

static gchar *
quote_bytes (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return braid_fixture_quote (data, len);
}

static void
append_quoted_line (GString *report, guint number, const gchar *mark, GBytes *line)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (line, &len);
  g_autofree gchar *q = braid_fixture_quote (data, len);

  g_string_append_printf (report, "  line %u %s %s\n", number, mark, q);
}

/* The lines of @bytes, '\n' excluded, NUL bytes and all; no empty piece
 * after a final line end. */
static GPtrArray *
split_lines (GBytes *bytes)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  gsize len, start = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  for (gsize i = 0; i < len; i++)
    if (data[i] == '\n')
      {
        g_ptr_array_add (lines, g_bytes_new (data + start, i - start));
        start = i + 1;
      }
  if (start < len)
    g_ptr_array_add (lines, g_bytes_new (data + start, len - start));
  return lines;
}

/* Line-by-line comparison of the normalised streams: the lines that differ,
 * with up to two equal lines of context around them. */
static void
append_line_diff (GString *report, GBytes *expected, GBytes *actual)
{
  g_autoptr(GPtrArray) el = split_lines (expected);
  g_autoptr(GPtrArray) al = split_lines (actual);
  guint ne = el->len, na = al->len;
  guint n = MAX (ne, na);
  g_autofree gboolean *differs = g_new0 (gboolean, n + 1);
  guint shown = 0;
  gboolean gap = FALSE, printed = FALSE;

  for (guint i = 0; i < n; i++)
    differs[i] = i >= ne || i >= na || !g_bytes_equal (g_ptr_array_index (el, i), g_ptr_array_index (al, i));
  g_string_append (report, "diff (- expected, + actual):\n");
  for (guint i = 0; i < n && shown < 20; i++)
    {
      gboolean near = FALSE;

      for (guint j = i >= 2 ? i - 2 : 0; j <= i + 2 && j < n; j++)
        near = near || differs[j];
      if (!near)
        {
          gap = TRUE;
          continue;
        }
      if (gap && printed)
        g_string_append (report, "  ...\n");
      gap = FALSE;
      printed = TRUE;
      if (!differs[i])
        {
          append_quoted_line (report, i + 1, " ", g_ptr_array_index (el, i));
          continue;
        }
      if (i < ne)
        append_quoted_line (report, i + 1, "-", g_ptr_array_index (el, i));
      if (i < na)
        append_quoted_line (report, i + 1, "+", g_ptr_array_index (al, i));
      shown++;
    }
}

static void
finish (BraidReplay *self, GError *error)
{
  if (self->done)
    {
      g_clear_error (&error);
      return;
    }
  self->done = TRUE;
  self->error = error;
  if (self->timer != NULL && braid_delayed_call_is_active (self->timer))
    braid_delayed_call_cancel (self->timer);
  g_clear_pointer (&self->timer, braid_delayed_call_unref);
  if (self->protocol != NULL)
    {
      BraidTransport *transport = braid_protocol_get_transport (self->protocol);

      braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (self->protocol));
      if (transport != NULL)
        braid_transport_lose_connection (transport);
    }
}

static void
mismatch (BraidReplay *self, const gchar *what)
{
  Turn *turn = &g_array_index (self->turns, Turn, self->turn);
  g_autoptr(GBytes) expected = braid_fixture_normalize (self->fixture, turn->server->data, turn->server->len);
  g_autoptr(GBytes) actual = braid_fixture_normalize (self->fixture, self->actual->data, self->actual->len);
  g_autofree gchar *eq = quote_bytes (expected);
  g_autofree gchar *aq = quote_bytes (actual);
  GString *report = g_string_new (NULL);

  guint line = turn->server_line != 0 ? turn->server_line : turn->line;
  g_autofree gchar *where = line != 0 ? g_strdup_printf ("fixture line %u, ", line) : g_strdup ("");

  g_string_append_printf (report,
                          "%s: turn %u of %u (%sserver->client): %s\n",
                          self->fixture->name, self->turn + 1, self->turns->len,
                          where, what);
  if (turn->client->len > 0)
    {
      /* The exchange: what the client had just sent (as recorded). */
      gsize shown = MIN (turn->client->len, 200);
      g_autofree gchar *sq = braid_fixture_quote (turn->client->data, shown);

      g_string_append_printf (report, "  after    %s%s\n", sq, shown < turn->client->len ? "…" : "");
    }
  g_string_append_printf (report,
                          "  expected %s%s\n"
                          "  got      %s instead\n",
                          eq, turn->server_close ? " and a close" : "",
                          aq);
  append_line_diff (report, expected, actual);
  finish (self, g_error_new_literal (BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_MISMATCH, report->str));
  g_string_free (report, TRUE);
}

/* ---- the state machine ---- */

static void start_turn (BraidReplay *self);

static void capture_reply (BraidReplay *self, gsize used, gboolean close);
static void schedule (BraidReplay *self, gint64 delay, BraidCallFunc func);
static void next_turn_soon (gpointer data);

static void
on_reply_timeout (gpointer data)
{
  BraidReplay *self = data;

  if (self->capture != NULL)
    {
      /* Record mode: the server said less than the recording; take what
       * it said. */
      capture_reply (self, self->actual->len, self->server_closed);
      self->waiting = FALSE;
      schedule (self, 0, next_turn_soon);
      return;
    }
  mismatch (self, "the reply did not match in time");
}

static void
next_turn_soon (gpointer data)
{
  BraidReplay *self = data;

  if (self->done)
    return;
  self->turn++;
  start_turn (self);
}

static void
schedule (BraidReplay *self, gint64 delay, BraidCallFunc func)
{
  if (self->timer != NULL && braid_delayed_call_is_active (self->timer))
    braid_delayed_call_cancel (self->timer);
  g_clear_pointer (&self->timer, braid_delayed_call_unref);
  self->timer = braid_reactor_call_later (self->reactor, delay, func, self, NULL);
}

static gboolean
prefix_normalises_to (BraidReplay *self, gsize end, const guint8 *edata, gsize elen)
{
  g_autoptr(GBytes) norm = braid_fixture_normalize (self->fixture, self->actual->data, end);
  gsize nlen;
  const guint8 *ndata = g_bytes_get_data (norm, &nlen);

  return nlen == elen && (elen == 0 || memcmp (ndata, edata, elen) == 0);
}

/* Length of a prefix of @actual whose normalised form equals
 * @expected_norm; 0 if none.  Tried: the recorded length (right whenever
 * the rules keep lengths, and for byte streams cut mid-line), then every
 * line end (rules may change lengths, but they work on lines), then all. */
static gsize
matching_prefix (BraidReplay *self, gsize expected_raw_len, GBytes *expected_norm)
{
  gsize len = self->actual->len;
  const guint8 *data = self->actual->data;
  gsize elen;
  const guint8 *edata = g_bytes_get_data (expected_norm, &elen);

  if (expected_raw_len <= len && prefix_normalises_to (self, expected_raw_len, edata, elen))
    return expected_raw_len;
  for (gsize end = 1; end <= len; end++)
    {
      if (end < len && data[end - 1] != '\n')
        continue;
      if (end > expected_raw_len + 1024)
        break;  /* far past it: no point in looking further */
      if (prefix_normalises_to (self, end, edata, elen))
        return end;
    }
  return 0;
}

/* Record mode: the server's bytes [0, @used) of actual are this turn's
 * reply. */
/* Record mode: captured chunks keep the original fixture's line numbers,
 * so that reports point into the file the user knows. */
static void
capture_set_line (BraidReplay *self, guint line)
{
  BraidFixtureChunk *chunk = g_ptr_array_index (self->capture->chunks, self->capture->chunks->len - 1);

  chunk->line = line;
}

static void
capture_reply (BraidReplay *self, gsize used, gboolean close)
{
  if (used > 0)
    {
      braid_fixture_add_chunk (self->capture, BRAID_FIXTURE_SERVER_TO_CLIENT, -1, self->actual->data, used);
      if (self->turns->len > 0)
        {
          Turn *turn = &g_array_index (self->turns, Turn, MIN (self->turn, self->turns->len - 1));

          capture_set_line (self, turn->server_line != 0 ? turn->server_line : turn->line);
        }
    }
  if (close && !self->capture_closed)
    braid_fixture_add_close (self->capture, BRAID_FIXTURE_SERVER_TO_CLIENT, -1);
  self->capture_closed = self->capture_closed || close;
  g_byte_array_remove_range (self->actual, 0, (guint) used);
  self->actual_base += used;
}

/* Record mode: the turn is over once the server has sent as many units
 * (lines, data blocks, packets) as the recording had by the turn's end. */
static void
check_turn_capture (BraidReplay *self, Turn *turn)
{
  guint need = braid_binder_count_recorded_units (self->binder, turn->server_end);
  gsize used = 0;

  if (braid_binder_get_live_units (self->binder) < need)
    return;
  if (need > 0)
    {
      gsize end = braid_binder_get_live_unit_end (self->binder, need - 1);

      used = end > self->actual_base ? MIN (end - self->actual_base, self->actual->len) : 0;
    }
  if (turn->server_close && !self->server_closed)
    return;
  capture_reply (self, used, turn->server_close);
  self->waiting = FALSE;
  schedule (self, 0, next_turn_soon);
}

static void
check_turn (BraidReplay *self)
{
  Turn *turn;
  g_autoptr(GBytes) expected = NULL;
  gsize used;

  if (self->done || !self->waiting)
    return;
  turn = &g_array_index (self->turns, Turn, self->turn);
  if (self->capture != NULL)
    {
      check_turn_capture (self, turn);
      return;
    }
  expected = braid_fixture_normalize (self->fixture, turn->server->data, turn->server->len);
  used = g_bytes_get_size (expected) == 0 ? 0 : matching_prefix (self, turn->server->len, expected);
  if (g_bytes_get_size (expected) > 0 && used == 0)
    return;  /* not yet */
  if (turn->server_close && !self->server_closed)
    return;  /* the bytes matched; the close has yet to come */
  g_byte_array_remove_range (self->actual, 0, (guint) used);
  self->waiting = FALSE;
  schedule (self, 0, next_turn_soon);
}

static void
send_turn (gpointer data)
{
  BraidReplay *self = data;
  Turn *turn = &g_array_index (self->turns, Turn, self->turn);
  BraidTransport *transport = self->protocol != NULL ? braid_protocol_get_transport (self->protocol) : NULL;

  if (self->done)
    return;
  if (turn->client->len > 0)
    {
      g_autoptr(GByteArray) bytes = g_byte_array_new ();

      if (transport == NULL || braid_transport_is_closing (transport))
        {
          if (self->capture != NULL)
            {
              finish (self, NULL);  /* record mode: the recording ends here */
              return;
            }
          mismatch (self, "the connection closed before the client had sent everything");
          return;
        }
      if (self->capture != NULL)
        {
          braid_fixture_add_chunk (self->capture, BRAID_FIXTURE_CLIENT_TO_SERVER, turn->send_time,
                                   turn->client->data, turn->client->len);
          capture_set_line (self, turn->line);
        }
      braid_binder_rewrite_client (self->binder, turn->client_start, turn->client_end, bytes);
      if (bytes->len > 0)
        braid_transport_write (transport, bytes->data, bytes->len);
    }
  if (turn->client_close && self->capture != NULL)
    braid_fixture_add_close (self->capture, BRAID_FIXTURE_CLIENT_TO_SERVER, turn->send_time);
  if (turn->client_close && transport != NULL)
    braid_transport_lose_write_connection (transport);  /* a half-close: replies still come */
  self->waiting = TRUE;
  schedule (self, self->options.reply_timeout_us, on_reply_timeout);
  check_turn (self);
}

static void
start_turn (BraidReplay *self)
{
  Turn *turn;
  gint64 elapsed, due;

  if (self->turn >= self->turns->len)
    {
      if (self->capture != NULL)
        {
          capture_reply (self, self->actual->len, FALSE);
          finish (self, NULL);
          return;
        }
      if (self->actual->len > 0)
        {
          /* Compare against an empty expectation to produce the report. */
          self->turn = self->turns->len - 1;
          g_byte_array_set_size (g_array_index (self->turns, Turn, self->turn).server, 0);
          mismatch (self, "the server sent more than was recorded");
          return;
        }
      finish (self, NULL);
      return;
    }
  turn = &g_array_index (self->turns, Turn, self->turn);
  elapsed = braid_reactor_now (self->reactor) - self->started_at;
  due = turn->send_time >= 0 && self->options.honour_timestamps
          ? (gint64) (turn->send_time * G_USEC_PER_SEC) : 0;
  schedule (self, MAX (0, due - elapsed), send_turn);
}

static void
take_reply (BraidReplay *self, const guint8 *data, gsize len, gboolean eof)
{
  g_autofree gchar *problem = NULL;

  if (self->done)
    return;
  if (!braid_binder_take_reply (self->binder, data, len, eof, self->actual, &problem))
    {
      g_autofree gchar *what = g_strdup_printf ("the cas binding broke: %s", problem);

      mismatch (self, what);
    }
}

static void
replay_data (BraidReplay *self, const guint8 *data, gsize len)
{
  take_reply (self, data, len, FALSE);
  check_turn (self);
}

static void
replay_lost (BraidReplay *self, const GError *reason)
{
  Turn *turn;

  self->server_closed = TRUE;
  g_clear_object (&self->protocol);
  take_reply (self, NULL, 0, TRUE);
  if (self->done)
    return;
  if (self->turn >= self->turns->len)
    return;
  turn = &g_array_index (self->turns, Turn, self->turn);
  if (self->capture != NULL)
    {
      if (self->waiting)
        check_turn (self);
      if (!self->capture_closed)
        {
          /* The server closed where the recording did not: record that. */
          capture_reply (self, self->actual->len, TRUE);
          finish (self, NULL);
        }
      return;
    }
  if (self->waiting)
    {
      check_turn (self);
      if (!self->waiting)
        return;
      mismatch (self, turn->server_close ? "the connection closed before the reply matched"
                                         : "the server closed the connection");
      return;
    }
  /* Closed between turns: fine only if the fixture says so later. */
  for (guint i = self->turn; i < self->turns->len; i++)
    if (g_array_index (self->turns, Turn, i).server_close)
      return;
  mismatch (self, "the server closed the connection");
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BraidReplay *self = user_data;
  g_autoptr(GError) error = NULL;
  BraidProtocol *protocol = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);

  if (protocol == NULL)
    {
      finish (self, g_error_new (BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_CONNECT,
                                 "%s: %s", self->fixture->name, error->message));
      return;
    }
  self->protocol = protocol;
  self->started_at = braid_reactor_now (self->reactor);
  self->turn = 0;
  start_turn (self);
}

gboolean
braid_replay_binds (BraidFixture *fixture, const BraidReplayOptions *options)
{
  BraidReplayBind bind = options != NULL ? options->bind : BRAID_REPLAY_BIND_FIXTURE;

  if (bind == BRAID_REPLAY_BIND_FIXTURE)
    return fixture->bind != BRAID_FIXTURE_BIND_NONE;
  return bind == BRAID_REPLAY_BIND_CAS;
}

static BraidReplay *
replay_start (BraidReactor *reactor,
              BraidFixture *fixture,
              const gchar *endpoint,
              const BraidReplayOptions *options,
              BraidFixture *capture)
{
  BraidReplay *self = g_new0 (BraidReplay, 1);
  BraidReplayOptions defaults = BRAID_REPLAY_OPTIONS_INIT;
  g_autoptr(BraidProtocolFactory) factory =
    braid_callback_protocol_factory_new (&replay_protocol_callbacks, self, NULL);
  g_autoptr(GBytes) client = braid_fixture_get_stream (fixture, BRAID_FIXTURE_CLIENT_TO_SERVER);
  g_autoptr(GBytes) server = braid_fixture_get_stream (fixture, BRAID_FIXTURE_SERVER_TO_CLIENT);

  self->reactor = g_object_ref (reactor);
  self->fixture = fixture;
  self->options = options != NULL ? *options : defaults;
  self->turns = cut_turns (fixture);
  self->actual = g_byte_array_new ();
  self->binder = braid_binder_new (client, server, braid_replay_binds (fixture, &self->options));
  self->capture = capture;
  braid_reactor_connect_async (reactor, endpoint, factory, NULL, on_connected, self);
  return self;
}

BraidReplay *
braid_replay_start (BraidReactor *reactor,
                    BraidFixture *fixture,
                    const gchar *endpoint,
                    const BraidReplayOptions *options)
{
  return replay_start (reactor, fixture, endpoint, options, NULL);
}

gboolean
braid_replay_is_done (BraidReplay *self)
{
  return self->done;
}

gboolean
braid_replay_get_result (BraidReplay *self, GError **error)
{
  g_return_val_if_fail (self->done, FALSE);
  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return FALSE;
    }
  return TRUE;
}

void
braid_replay_free (BraidReplay *self)
{
  if (self == NULL)
    return;
  if (!self->done)
    finish (self, g_error_new_literal (BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_STUCK, "abandoned"));
  if (self->protocol != NULL)
    braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (self->protocol));
  g_clear_object (&self->protocol);
  g_clear_error (&self->error);
  g_array_unref (self->turns);
  g_byte_array_unref (self->actual);
  braid_binder_free (self->binder);
  if (self->capture != NULL)
    braid_fixture_free (self->capture);
  g_object_unref (self->reactor);
  g_free (self);
}

/* ---- drivers ---- */

gboolean
braid_replay_run_in_process (BraidFixture *fixture,
                             BraidReplayServerFunc server_func,
                             gpointer server_data,
                             BraidFakeDelivery delivery,
                             guint32 seed,
                             GError **error)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (seed);
  g_autoptr(BraidProtocolFactory) server_factory = server_func (BRAID_REACTOR (fake), server_data);
  g_autoptr(BraidListener) listener = NULL;
  g_autoptr(BraidReplay) replay = NULL;
  gboolean ok;

  braid_fake_reactor_set_delivery (fake, delivery);
  listener = braid_reactor_listen (BRAID_REACTOR (fake), "tcp:11211", server_factory, error);
  if (listener == NULL)
    return FALSE;
  replay = braid_replay_start (BRAID_REACTOR (fake), fixture, "tcp:127.0.0.1:11211", NULL);
  /* Simulated time: jump to each timer (a timestamped send, or a reply
   * timeout) as soon as everything else is idle. */
  while (!braid_replay_is_done (replay))
    {
      g_autoptr(GPtrArray) pending = NULL;

      braid_fake_reactor_run_until_idle (fake);
      if (braid_replay_is_done (replay))
        break;
      pending = braid_fake_reactor_get_pending_calls (fake);
      if (pending->len == 0)
        {
          g_set_error (error, BRAID_REPLAY_ERROR, BRAID_REPLAY_ERROR_STUCK,
                       "%s: replay stuck with nothing left to run", fixture->name);
          return FALSE;
        }
      braid_fake_reactor_advance (fake, MAX (0, braid_delayed_call_get_time (g_ptr_array_index (pending, 0)) -
                                                braid_reactor_now (BRAID_REACTOR (fake))));
    }
  ok = braid_replay_get_result (replay, error);
  braid_listener_stop (listener);
  braid_fake_reactor_run_until_idle (fake);
  return ok;
}

gboolean
braid_replay_run_live (BraidFixture *fixture,
                       const gchar *endpoint,
                       const BraidReplayOptions *options,
                       GError **error)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  g_autoptr(BraidReplay) replay = braid_replay_start (BRAID_REACTOR (reactor), fixture, endpoint, options);
  gboolean ok;

  while (!braid_replay_is_done (replay))
    g_main_context_iteration (braid_glib_reactor_get_context (reactor), TRUE);
  ok = braid_replay_get_result (replay, error);
  g_clear_pointer (&replay, braid_replay_free);
  /* Let the close go out. */
  while (g_main_context_iteration (braid_glib_reactor_get_context (reactor), FALSE))
    ;
  return ok;
}

static BraidFixture *
new_capture (BraidFixture *fixture, const gchar *endpoint)
{
  g_autofree gchar *name = g_strdup_printf ("%s as answered by %s", fixture->name, endpoint);
  BraidFixture *capture = braid_fixture_new (name);

  capture->bind = fixture->bind;
  for (guint i = 0; i < fixture->headers->len; i++)
    {
      const gchar *header = g_ptr_array_index (fixture->headers, i);
      const gchar *space = strchr (header, ' ');
      g_autofree gchar *key = g_strndup (header, space != NULL ? (gsize) (space - header) : strlen (header));

      if (g_str_equal (key, "server"))
        continue;
      braid_fixture_add_header (capture, key, space != NULL ? space + 1 : "");
    }
  braid_fixture_add_header (capture, "server", endpoint);
  for (guint i = 0; i < fixture->rules->len; i++)
    {
      BraidFixtureRule *rule = g_ptr_array_index (fixture->rules, i);

      g_assert (braid_fixture_add_rule (capture, rule->pattern, rule->replacement, NULL));
    }
  return capture;
}

BraidFixture *
braid_replay_record_live (BraidFixture *fixture,
                          const gchar *endpoint,
                          const BraidReplayOptions *options,
                          GError **error)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  BraidReplay *replay = replay_start (BRAID_REACTOR (reactor), fixture, endpoint, options,
                                      new_capture (fixture, endpoint));
  BraidFixture *capture = NULL;

  while (!braid_replay_is_done (replay))
    g_main_context_iteration (braid_glib_reactor_get_context (reactor), TRUE);
  if (braid_replay_get_result (replay, error))
    capture = g_steal_pointer (&replay->capture);
  braid_replay_free (replay);
  while (g_main_context_iteration (braid_glib_reactor_get_context (reactor), FALSE))
    ;
  return capture;
}

gboolean
braid_replay_compare_live (BraidFixture *fixture,
                           const gchar *endpoint_a,
                           const gchar *endpoint_b,
                           const BraidReplayOptions *options,
                           GError **error)
{
  g_autoptr(BraidFixture) from_a = braid_replay_record_live (fixture, endpoint_a, options, error);
  g_autofree gchar *name = NULL;

  if (from_a == NULL)
    return FALSE;
  name = g_strdup_printf ("%s (expected: the replies of A %s; got: the replies of B %s)",
                          fixture->name, endpoint_a, endpoint_b);
  g_free (from_a->name);
  from_a->name = g_steal_pointer (&name);
  return braid_replay_run_live (from_a, endpoint_b, options, error);
}
