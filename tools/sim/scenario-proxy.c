/* braid — simulation scenario "proxy": clients fetch URLs through
 * braid-proxy, whose cache is braid-memcached reached through the braid
 * client pool, over faulty connections, with a fake upstream.
 *
 * Safety: whatever a client receives is a prefix of the URL's true body
 * (never another URL's, never garbage), whether it came from upstream,
 * the shared cache or a shared flight.  Liveness: with faults off every
 * client receives one whole body. */
#include "sim-scenarios.h"
#include "callback-protocol.h"
#include "fake-fetcher.h"
#include "mc-cache.h"
#include "proxy.h"
#include "mc-server.h"

#include <string.h>

#define N_URLS 5

typedef struct _State State;

/* One client connection: the user data of its BraidCallbackProtocol. */
typedef struct
{
  State *state;
  guint client_id;
  guint url;
  GByteArray *body;
  gboolean lost;
  gboolean made_without_faults;
} SimProxyClient;

struct _State
{
  BraidSim *sim;
  BraidMcServer *server;
  BraidListener *mc_listener;
  BraidMcPool *pool;
  BraidMcCache *cache;
  BraidFakeFetcher *fetcher;
  BraidProxy *proxy;
  BraidListener *proxy_listener;
  GBytes *bodies[N_URLS];
  gchar *urls[N_URLS];
  GPtrArray *connections;     /* BraidProtocol (owned) */
  guint n_clients;
  gboolean *live_done;
  guint *busy;
};

static void
check_prefix (SimProxyClient *c)
{
  gsize len;
  const guint8 *truth = g_bytes_get_data (c->state->bodies[c->url], &len);

  if (c->body->len > len || memcmp (c->body->data, truth, c->body->len) != 0)
    braid_sim_fail (c->state->sim, "client %u got bytes for url %u that are not its body (%u bytes so far)",
                    c->client_id, c->url, c->body->len);
}

static void
pc_data (BraidProtocol *p, const guint8 *data, gsize len, gpointer user_data)
{
  SimProxyClient *c = user_data;

  g_byte_array_append (c->body, data, (guint) len);
  check_prefix (c);
}

static void
pc_lost (BraidProtocol *p, const GError *reason, gpointer user_data)
{
  SimProxyClient *c = user_data;
  State *s = c->state;

  c->lost = TRUE;
  s->busy[c->client_id]--;
  braid_sim_trace (s->sim, "client %u url %u: %u bytes, %s", c->client_id, c->url, c->body->len, reason->message);
  if (c->made_without_faults && c->body->len == g_bytes_get_size (s->bodies[c->url]))
    s->live_done[c->client_id] = TRUE;
}

static void
sim_proxy_client_free (gpointer data)
{
  SimProxyClient *c = data;

  g_byte_array_unref (c->body);
  g_free (c);
}

static const BraidProtocolCallbacks pc_callbacks = {
  .data_received = pc_data,
  .connection_lost = pc_lost,
};

typedef struct {
  State *state;
  guint client_id;
  guint url;
} Pending;

static BraidProtocol *
build (GSocketAddress *a, gpointer data)
{
  Pending *p = data;
  SimProxyClient *c = g_new0 (SimProxyClient, 1);

  c->body = g_byte_array_new ();
  c->state = p->state;
  c->client_id = p->client_id;
  c->url = p->url;
  c->made_without_faults = !braid_sim_faults_enabled (p->state->sim);
  return BRAID_PROTOCOL (braid_callback_protocol_new (&pc_callbacks, c, sim_proxy_client_free));
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Pending *p = data;
  State *s = p->state;
  g_autoptr(GError) error = NULL;
  BraidProtocol *c = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);

  if (c == NULL)
    {
      s->busy[p->client_id]--;
      g_free (p);
      return;
    }
  g_ptr_array_add (s->connections, c);
  braid_transport_write_printf (braid_protocol_get_transport (c), "%s\r\n", s->urls[p->url]);
  g_free (p);
}

static void
start_request (State *s, guint client_id)
{
  Pending *p = g_new0 (Pending, 1);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build, p, NULL);

  p->state = s;
  p->client_id = client_id;
  p->url = (guint) g_rand_int_range (braid_sim_get_rand (s->sim), 0, N_URLS);
  s->busy[client_id]++;
  braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (s->sim)), "tcp:127.0.0.1:8000",
                               factory, NULL, on_connected, p);
}

static gpointer
px_setup (BraidSim *sim)
{
  State *s = g_new0 (State, 1);
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (sim));
  GRand *rand = braid_sim_get_rand (sim);
  g_autoptr(BraidProtocolFactory) mc_factory = NULL;
  g_autoptr(BraidProtocolFactory) proxy_factory = NULL;
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;

  s->sim = sim;
  s->n_clients = braid_sim_get_plan (sim)->n_clients;
  s->live_done = g_new0 (gboolean, s->n_clients);
  s->busy = g_new0 (guint, s->n_clients);
  s->connections = g_ptr_array_new_with_free_func (g_object_unref);
  s->server = braid_mc_server_new (r, NULL);
  mc_factory = braid_mc_server_create_factory (s->server);
  s->mc_listener = braid_reactor_listen (r, "tcp:11211", mc_factory, NULL);
  s->pool = braid_mc_pool_new (r, "127.0.0.1:11211", NULL);
  braid_mc_pool_set_timeout (s->pool, 200 * 1000);
  s->cache = braid_mc_cache_new (s->pool, 1024 * 1024);
  s->fetcher = braid_fake_fetcher_new (r);
  for (guint i = 0; i < N_URLS; i++)
    {
      gsize size = (gsize) g_rand_int_range (rand, 0, 3000);
      guint8 *data = g_malloc (size + 1);

      for (gsize b = 0; b < size; b++)
        data[b] = (guint8) (i * 31 + b * 7);
      s->bodies[i] = g_bytes_new_take (data, size);
      s->urls[i] = g_strdup_printf ("http://site%u.example/page", i);
      braid_fake_fetcher_add (s->fetcher, s->urls[i], 200, s->bodies[i], g_rand_int_range (rand, 1, 300) * 1000,
                              (gsize) g_rand_int_range (rand, 100, 1000), g_rand_int_range (rand, 0, 5) * 1000);
    }
  settings.cache_timeout_us = 50 * 1000;
  settings.ttl_s = 1;
  s->proxy = braid_proxy_new (r, BRAID_FETCHER (s->fetcher), BRAID_CACHE (s->cache), &settings);
  proxy_factory = braid_proxy_create_factory (s->proxy);
  s->proxy_listener = braid_reactor_listen (r, "tcp:8000", proxy_factory, NULL);
  return s;
}

static void
px_step (BraidSim *sim, gpointer data)
{
  State *s = data;

  braid_sim_arm_new_connections (sim);
  for (guint i = 0; i < s->n_clients; i++)
    if (s->busy[i] == 0 && braid_sim_chance (sim, 0.05))
      start_request (s, i);
}

static void
px_begin_liveness (BraidSim *sim, gpointer data)
{
}

static gboolean
px_is_live (BraidSim *sim, gpointer data)
{
  State *s = data;
  gboolean all = TRUE;

  for (guint i = 0; i < s->n_clients; i++)
    {
      if (s->live_done[i])
        continue;
      all = FALSE;
      if (s->busy[i] == 0)
        start_request (s, i);
    }
  return all;
}

static void
px_check (BraidSim *sim, gpointer data)
{
}

static void
px_teardown (BraidSim *sim, gpointer data)
{
  State *s = data;
  BraidFakeReactor *fake = braid_sim_get_reactor (sim);

  braid_listener_stop (s->proxy_listener);
  g_object_unref (s->proxy_listener);
  for (guint i = 0; i < s->connections->len; i++)
    {
      BraidTransport *t = braid_protocol_get_transport (g_ptr_array_index (s->connections, i));

      if (t != NULL)
        braid_transport_abort_connection (t);
    }
  /* let flights and cache operations finish, on simulated time */
  braid_fake_reactor_run_all_timers (fake, 600 * G_USEC_PER_SEC);
  g_ptr_array_unref (s->connections);
  g_object_unref (s->proxy);
  g_object_unref (s->cache);
  g_object_unref (s->pool);
  braid_fake_reactor_run_all_timers (fake, 600 * G_USEC_PER_SEC);
  braid_listener_stop (s->mc_listener);
  g_object_unref (s->mc_listener);
  braid_fake_reactor_run_all_timers (fake, 600 * G_USEC_PER_SEC);
  g_object_unref (s->server);
  g_object_unref (s->fetcher);
  for (guint i = 0; i < N_URLS; i++)
    {
      g_bytes_unref (s->bodies[i]);
      g_free (s->urls[i]);
    }
  g_free (s->live_done);
  g_free (s->busy);
  g_free (s);
}

const BraidSimScenario braid_sim_scenario_proxy = {
  "proxy",
  "clients, braid-proxy, its shared cache in braid-memcached through the client pool, a fake upstream",
  px_setup, px_step, px_begin_liveness, px_is_live, px_check, px_teardown,
};

const BraidSimScenario braid_sim_scenario_proxy_late_joiner_dropped = {
  "proxy-late-joiner-dropped",
  "PLACEHOLDER",
  px_setup, px_step, px_begin_liveness, px_is_live, px_check, px_teardown,
};

const BraidSimScenario braid_sim_scenario_proxy_expired_served = {
  "proxy-expired-served",
  "PLACEHOLDER",
  px_setup, px_step, px_begin_liveness, px_is_live, px_check, px_teardown,
};
