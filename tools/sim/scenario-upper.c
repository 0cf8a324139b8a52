/* braid — simulation scenario "upper": clients talk to the upper-casing
 * echo server through faulty connections.
 *
 * Reference model: on every connection, what the client has received is a
 * prefix of the upper-cased bytes it sent.  Liveness: once faults stop,
 * every client gets one full line echoed back. */
#include "sim-scenarios.h"
#include "upper-protocol.h"
#include "callback-protocol.h"

#include <string.h>

typedef struct _Client Client;

/* One connection of a client: the user data of its BraidCallbackProtocol. */
typedef struct
{
  Client *owner;          /* (unowned) (nullable) */
  gboolean made_without_faults;
  GString *sent_upper;
  GString *received;
} SimLineClient;

struct _Client
{
  BraidSim *sim;
  guint id;
  BraidProtocol *connection;   /* (owned) (nullable): its user data is a SimLineClient */
  gboolean connecting;
  gint64 next_action;
  guint round_trips;           /* complete lines echoed in the liveness phase */
  gsize liveness_mark;         /* received length when liveness started */
};

typedef struct {
  BraidListener *listener;     /* (owned) */
  GPtrArray *clients;          /* (element-type Client) (owned) */
  gboolean live;
} State;

static void
check_prefix (SimLineClient *self)
{
  Client *c = self->owner;

  if (c == NULL)
    return;
  if (self->received->len > self->sent_upper->len ||
      memcmp (self->received->str, self->sent_upper->str, self->received->len) != 0)
    {
      g_autofree gchar *sent = g_strescape (self->sent_upper->str, NULL);
      g_autofree gchar *got = g_strescape (self->received->str, NULL);

      braid_sim_fail (c->sim, "client %u received bytes that are not the upper-cased echo of what it sent "
                      "(expected a prefix of “%s”, got “%s”)", c->id, sent, got);
    }
}

static SimLineClient *
line_client_of (BraidProtocol *protocol)
{
  return braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (protocol));
}

static void
line_client_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  SimLineClient *self = user_data;

  g_string_append_len (self->received, (const gchar *) data, (gssize) len);
  check_prefix (self);
  if (self->owner != NULL)
    braid_sim_trace (self->owner->sim, "client %u received %" G_GSIZE_FORMAT, self->owner->id, len);
}

static void
line_client_connection_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  SimLineClient *self = user_data;
  Client *c = self->owner;

  if (c == NULL)
    return;
  braid_sim_trace (c->sim, "client %u lost connection: %s", c->id, reason->message);
  /* Faults off: nothing should break a connection any more. */
  if (self->made_without_faults && reason->code != BRAID_REACTOR_ERROR_CONNECTION_DONE)
    braid_sim_fail (c->sim, "client %u lost its connection after faults stopped: %s", c->id, reason->message);
  self->owner = NULL;
  g_clear_object (&c->connection);
}

static void
sim_line_client_free (gpointer data)
{
  SimLineClient *self = data;

  g_string_free (self->sent_upper, TRUE);
  g_string_free (self->received, TRUE);
  g_free (self);
}

static const BraidProtocolCallbacks line_client_callbacks = {
  .data_received = line_client_data_received,
  .connection_lost = line_client_connection_lost,
};

static BraidProtocol *
build_line_client (GSocketAddress *address, gpointer user_data)
{
  SimLineClient *self = g_new0 (SimLineClient, 1);

  self->sent_upper = g_string_new (NULL);
  self->received = g_string_new (NULL);
  return BRAID_PROTOCOL (braid_callback_protocol_new (&line_client_callbacks, self, sim_line_client_free));
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  BraidProtocol *protocol = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);
  SimLineClient *line;
  BraidFakeTransport *t;

  c->connecting = FALSE;
  if (protocol == NULL)
    {
      braid_sim_trace (c->sim, "client %u connect failed: %s", c->id, error->message);
      /* Back off, then try again. */
      c->next_action = braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (c->sim))) +
                       g_rand_int_range (braid_sim_get_rand (c->sim), 1, 50) * 1000;
      return;
    }
  c->connection = protocol;
  line = line_client_of (protocol);
  line->owner = c;
  line->made_without_faults = !braid_sim_faults_enabled (c->sim);
  t = BRAID_FAKE_TRANSPORT (braid_protocol_get_transport (protocol));
  braid_sim_arm_connection (c->sim, t, t);
  braid_sim_trace (c->sim, "client %u connected", c->id);
}

static void
client_connect (Client *c)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_line_client, NULL, NULL);

  c->connecting = TRUE;
  braid_sim_trace (c->sim, "client %u connecting", c->id);
  braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (c->sim)), "tcp:127.0.0.1:10000",
                               factory, NULL, on_connected, c);
}

static void
client_send_line (Client *c)
{
  GRand *rand = braid_sim_get_rand (c->sim);
  gsize len = (gsize) g_rand_int_range (rand, 0, 80);
  g_autoptr(GString) line = g_string_new (NULL);
  BraidTransport *t = braid_protocol_get_transport (c->connection);

  for (gsize i = 0; i < len; i++)
    g_string_append_c (line, (gchar) g_rand_int_range (rand, 0x20, 0x7f));
  g_string_append_c (line, '\n');
  /* Written in random pieces: the server must not care. */
  for (gsize off = 0; off < line->len;)
    {
      gsize piece = (gsize) g_rand_int_range (rand, 1, 40);
      gsize n = MIN (line->len - off, piece);

      braid_transport_write (t, line->str + off, n);
      off += n;
    }
  for (gsize i = 0; i < line->len; i++)
    g_string_append_c (line_client_of (c->connection)->sent_upper, g_ascii_toupper (line->str[i]));
  braid_sim_trace (c->sim, "client %u sent %" G_GSIZE_FORMAT, c->id, line->len);
}

static void
client_act (Client *c)
{
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (c->sim));
  GRand *rand = braid_sim_get_rand (c->sim);

  if (braid_reactor_now (r) < c->next_action || c->connecting)
    return;
  c->next_action = braid_reactor_now (r) + g_rand_int_range (rand, 0, 20) * 1000;
  if (c->connection == NULL)
    {
      client_connect (c);
      return;
    }
  if (g_rand_int_range (rand, 0, 10) == 0)
    {
      braid_sim_trace (c->sim, "client %u hangs up", c->id);
      braid_transport_lose_connection (braid_protocol_get_transport (c->connection));
      return;
    }
  client_send_line (c);
}

/* A plain echo server: what a broken upper-casing server would be.  Used
 * by the tests to prove the simulation catches it. */
static void
plain_echo_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  braid_transport_write (braid_protocol_get_transport (protocol), data, len);
}

static const BraidProtocolCallbacks plain_echo_callbacks = {
  .data_received = plain_echo_data_received,
};

/* An upper-casing server that leaks: each connection allocates a 1 KiB
 * receive buffer it never frees.  Its replies are right; only the heap
 * watch (sim-heap.h) can tell. */
#define LEAKED_PER_CONNECTION 1024

/* Where the last forgotten buffer went: so that no compiler drops the
 * allocation as unused. */
static gpointer volatile last_forgotten;

static void
leaky_connection_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  last_forgotten = g_malloc0 (LEAKED_PER_CONNECTION);
}

static void
leaky_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  g_autofree gchar *upper = g_ascii_strup ((const gchar *) data, (gssize) len);

  braid_transport_write (braid_protocol_get_transport (protocol), upper, len);
}

static const BraidProtocolCallbacks leaky_upper_callbacks = {
  .connection_made = leaky_connection_made,
  .data_received = leaky_data_received,
};

static gpointer
setup_with (BraidSim *sim, BraidProtocolFactory *server)
{
  State *s = g_new0 (State, 1);
  g_autoptr(GError) error = NULL;

  s->listener = braid_reactor_listen (BRAID_REACTOR (braid_sim_get_reactor (sim)), "tcp:10000", server, &error);
  g_assert_no_error (error);
  s->clients = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < braid_sim_get_plan (sim)->n_clients; i++)
    {
      Client *c = g_new0 (Client, 1);

      c->sim = sim;
      c->id = i;
      g_ptr_array_add (s->clients, c);
    }
  return s;
}

static gpointer
upper_setup (BraidSim *sim)
{
  g_autoptr(BraidProtocolFactory) upper = braid_upper_factory_new ();

  return setup_with (sim, upper);
}

static gpointer
broken_setup (BraidSim *sim)
{
  g_autoptr(BraidProtocolFactory) echo = braid_callback_protocol_factory_new (&plain_echo_callbacks, NULL, NULL);

  return setup_with (sim, echo);
}

static gpointer
leaky_setup (BraidSim *sim)
{
  g_autoptr(BraidProtocolFactory) leaky = braid_callback_protocol_factory_new (&leaky_upper_callbacks, NULL, NULL);

  return setup_with (sim, leaky);
}

static void
upper_step (BraidSim *sim, gpointer data)
{
  State *s = data;

  for (guint i = 0; i < s->clients->len; i++)
    client_act (g_ptr_array_index (s->clients, i));
}

static void
upper_begin_liveness (BraidSim *sim, gpointer data)
{
  State *s = data;

  /* Each client must get one whole new line back on a healthy connection. */
  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);

      c->next_action = 0;
    }
}

static gboolean
upper_is_live (BraidSim *sim, gpointer data)
{
  State *s = data;
  gboolean all = TRUE;

  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);

      if (c->round_trips > 0)
        continue;
      all = FALSE;
      if (c->connecting)
        continue;
      if (c->connection == NULL)
        {
          client_connect (c);
          continue;
        }
      if (c->liveness_mark == 0)
        {
          client_send_line (c);
          c->liveness_mark = line_client_of (c->connection)->sent_upper->len;
          continue;
        }
      if (line_client_of (c->connection)->received->len >= c->liveness_mark)
        c->round_trips++;
    }
  return all;
}

static void
upper_check (BraidSim *sim, gpointer data)
{
  State *s = data;

  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);
      SimLineClient *line = c->connection != NULL ? line_client_of (c->connection) : NULL;

      if (line != NULL && line->received->len != line->sent_upper->len)
        braid_sim_fail (sim, "client %u: %" G_GSIZE_FORMAT " bytes sent but %" G_GSIZE_FORMAT " echoed at the end",
                        c->id, line->sent_upper->len, line->received->len);
    }
}

static void
upper_teardown (BraidSim *sim, gpointer data)
{
  State *s = data;

  for (guint i = 0; i < s->clients->len; i++)
    {
      Client *c = g_ptr_array_index (s->clients, i);

      if (c->connection != NULL)
        {
          line_client_of (c->connection)->owner = NULL;
          braid_transport_lose_connection (braid_protocol_get_transport (c->connection));
          g_clear_object (&c->connection);
        }
    }
  braid_fake_reactor_run_until_idle (braid_sim_get_reactor (sim));
  braid_listener_stop (s->listener);
  g_object_unref (s->listener);
  g_ptr_array_unref (s->clients);
  g_free (s);
}

const BraidSimScenario braid_sim_scenario_upper = {
  "upper",
  "clients and the upper-casing echo server over faulty connections",
  upper_setup, upper_step, upper_begin_liveness, upper_is_live, upper_check, upper_teardown,
};

const BraidSimScenario braid_sim_scenario_upper_broken = {
  "upper-broken",
  "the same clients against a server that forgets to upper-case (a self-test)",
  broken_setup, upper_step, upper_begin_liveness, upper_is_live, upper_check, upper_teardown,
};

const BraidSimScenario braid_sim_scenario_upper_leaky = {
  "upper-leaky",
  "the same clients against a server that leaks a buffer per connection (a self-test of the heap watch)",
  leaky_setup, upper_step, upper_begin_liveness, upper_is_live, upper_check, upper_teardown,
};
