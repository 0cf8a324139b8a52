/* braid — simulation scenario "proxy": clients fetch URLs through
 * braid-proxy, whose cache is braid-memcached reached through the braid
 * client pool, over faulty connections, with a fake upstream.
 *
 * Safety: whatever a client receives is a prefix of the URL's true body
 * (never another URL's, never garbage), whether it came from upstream,
 * the shared cache or a shared flight.  A clean close ends a whole body
 * or none (the protocol's error answer): a partial body ends with a
 * reset, never EOF.  A whole body is fresh: asked for within the TTL
 * (plus memcached's one-second clock and a margin) of the last time the
 * proxy stored that URL in its cache, as the cache interface saw it —
 * older than that, it can only have been an expired entry.  Some clients
 * stop reading for up to 1.5 s before they read on; in half the seeds the
 * proxy has no client write deadline (0), and then none may be cut off as
 * too slow.  Each URL answers with cache header fields drawn per seed:
 * none, a max-age, or one that forbids a shared cache to store it
 * (no-store, private, Set-Cookie); such a URL is never stored.  To give
 * entries time to expire, the world sometimes goes quiet for 2.5 to 4
 * simulated seconds, longer than a TTL and the checker's slack.  Liveness: with faults off every client receives
 * one whole body.
 *
 * Broken twins: a relay in front of the proxy that truncates the body of
 * a client asking for a URL another client is still receiving (a single
 * flight dropping its late joiner), and a cache that answers its misses
 * with the last body ever stored (serving expired entries). */
#include "sim-scenarios.h"
#include "callback-protocol.h"
#include "fake-fetcher.h"
#include "mc-cache.h"
#include "proxy.h"
#include "mc-server.h"
#include "sim-cache.h"
#include "sim-relay.h"
#include "access-log-private.h"

#include <string.h>

#define N_URLS 5
#define TTL_S 1
/* memcached's clock ticks in whole seconds, and a store may reach the
 * server a little after the proxy asked for it. */
#define TTL_SLACK_US (1500 * 1000)
/* The chance, per simulated millisecond, that everyone goes quiet for
 * 2.5 to 4 seconds: every cached entry expires meanwhile. */
#define QUIET_PROBABILITY 0.004
/* The chance that a client stops reading at first, and for how long. */
#define STALL_PROBABILITY 0.2
#define MAX_STALL_MS 1500

typedef enum { TWIN_NONE, TWIN_LATE_JOINER_DROPPED, TWIN_EXPIRED_SERVED } Twin;

/* Request lines the proxy must refuse (400, closed without a body): a
 * scheme it does not fetch, no scheme, no host, a NUL byte, a blank in
 * the URL.  None starts with a URL of the scenario. */
static const struct { const gchar *bytes; gsize len; } bad_lines[] = {
  { "ftp://site0.example/page", 24 },
  { "site0.example/page", 18 },
  { "http:///page", 12 },
  { "http://site0.example/\0page", 26 },
  { "http://site0.example/pa ge", 26 },
};
/* The chance that a request is one of those. */
#define BAD_LINE_PROBABILITY 10

typedef struct _State State;

/* One client connection: the user data of its BraidCallbackProtocol. */
typedef struct
{
  State *state;
  guint client_id;
  guint url;
  gint bad;                   /* an index in bad_lines, or -1: a good request for url */
  GByteArray *body;
  gboolean lost;
  gboolean made_without_faults;
  gint64 requested_at;
} SimProxyClient;

struct _State
{
  BraidSim *sim;
  BraidMcServer *server;
  BraidListener *mc_listener;
  BraidMcPool *pool;
  BraidMcCache *cache;
  SimCache *observed;         /* what the proxy uses: the real cache, watched */
  Twin twin;
  SimRelay *relay;            /* (nullable): the late-joiner twin's */
  guint in_progress[N_URLS];  /* that twin: relayed responses under way, by URL */
  BraidFakeFetcher *fetcher;
  BraidProxy *proxy;
  BraidListener *proxy_listener;
  GBytes *bodies[N_URLS];
  gchar *urls[N_URLS];
  const gchar *never_stored[N_URLS];  /* (nullable): the header field that forbids storing the URL */
  gint64 write_timeout_us;    /* the proxy's client write deadline: 0 (none) or its default */
  gint64 fetch_delay_us[N_URLS];  /* the upstream's delay before each URL's answer */
  GRand *pad_rand;            /* (owned): blanks around some request lines, and the bad ones */
  guint64 log_entries;        /* access log entries seen */
  guint64 bad_sent;           /* bad request lines sent */
  guint64 bad_logged;         /* access log entries of refused lines */
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
  if (c->bad >= 0)
    braid_sim_fail (c->state->sim, "client %u: %u bytes answered a bad request line (%d)", c->client_id,
                    c->body->len, c->bad);
  else
    check_prefix (c);
}

/* A clean close after part of a body: the client cannot tell it from a
 * whole one. */
static void
check_whole_or_none (SimProxyClient *c)
{
  gsize len = g_bytes_get_size (c->state->bodies[c->url]);

  if (c->body->len > 0 && c->body->len < len)
    braid_sim_fail (c->state->sim, "client %u: url %u closed cleanly after %u of %" G_GSIZE_FORMAT " bytes "
                    "(a truncated body)", c->client_id, c->url, c->body->len, len);
}

/* A whole body asked for well past the TTL of the last store of its
 * URL came from an expired entry. */
static void
check_fresh (SimProxyClient *c)
{
  State *s = c->state;
  g_autofree gchar *key = braid_cache_key_for_url (s->urls[c->url]);
  gint64 stored = sim_cache_get_last_store (s->observed, key);

  if (stored >= 0 && c->requested_at >= stored + TTL_S * G_USEC_PER_SEC + TTL_SLACK_US)
    braid_sim_fail (s->sim, "client %u: url %u asked for at %.3f s got a body last stored at %.3f s, past its "
                    "%d s TTL (an expired body)", c->client_id, c->url, (gdouble) c->requested_at / G_USEC_PER_SEC,
                    (gdouble) stored / G_USEC_PER_SEC, TTL_S);
}

static void
pc_lost (BraidProtocol *p, const GError *reason, gpointer user_data)
{
  SimProxyClient *c = user_data;
  State *s = c->state;

  if (c->bad >= 0)
    {
      /* refused: a clean close, unless a fault cut it first */
      if (c->made_without_faults && !g_error_matches (reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE))
        braid_sim_fail (s->sim, "client %u: bad request line %d ended with %s, not a clean close", c->client_id, c->bad,
                        reason->message);
      c->lost = TRUE;
      s->busy[c->client_id]--;
      braid_sim_trace (s->sim, "client %u bad line %d: %s", c->client_id, c->bad, reason->message);
      return;
    }
  if (g_error_matches (reason, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE))
    check_whole_or_none (c);
  if (c->body->len == g_bytes_get_size (s->bodies[c->url]) && c->body->len > 0)
    check_fresh (c);
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
  gint bad;
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
  c->bad = p->bad;
  c->made_without_faults = !braid_sim_faults_enabled (p->state->sim);
  return BRAID_PROTOCOL (braid_callback_protocol_new (&pc_callbacks, c, sim_proxy_client_free));
}

static void
read_on (gpointer data)
{
  BraidTransport *t = braid_protocol_get_transport (data);

  if (t != NULL)
    braid_transport_resume_reading (t);
}

/* A client that reads nothing for a while, as a slow or busy one does. */
static void
maybe_stall (State *s, BraidProtocol *c)
{
  gint64 stall_us;

  if (!braid_sim_chance (s->sim, STALL_PROBABILITY))
    return;
  stall_us = g_rand_int_range (braid_sim_get_rand (s->sim), 1, MAX_STALL_MS + 1) * (gint64) 1000;
  braid_transport_pause_reading (braid_protocol_get_transport (c));
  braid_delayed_call_unref (braid_reactor_call_later (BRAID_REACTOR (braid_sim_get_reactor (s->sim)), stall_us,
                                                      read_on, g_object_ref (c), g_object_unref));
}

/* A request line's URL may come with blanks around it, which are not
 * part of it (drawn from a generator of their own). */
static const gchar *
blanks (State *s)
{
  static const gchar *const choices[] = { "", "", "", "", "", " ", "\t", " \t " };

  return choices[g_rand_int_range (s->pad_rand, 0, G_N_ELEMENTS (choices))];
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
  ((SimProxyClient *) braid_callback_protocol_get_user_data (BRAID_CALLBACK_PROTOCOL (c)))->requested_at =
    braid_reactor_now (BRAID_REACTOR (source));
  if (p->bad >= 0)
    {
      BraidTransport *t = braid_protocol_get_transport (c);

      s->bad_sent++;
      braid_transport_write (t, bad_lines[p->bad].bytes, bad_lines[p->bad].len);
      braid_transport_write (t, "\r\n", 2);
    }
  else
    braid_transport_write_printf (braid_protocol_get_transport (c), "%s%s%s\r\n", blanks (s), s->urls[p->url],
                                  blanks (s));
  maybe_stall (s, c);
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
  p->bad = g_rand_int_range (s->pad_rand, 0, BAD_LINE_PROBABILITY) == 0
             ? g_rand_int_range (s->pad_rand, 0, G_N_ELEMENTS (bad_lines)) : -1;
  s->busy[client_id]++;
  braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (s->sim)), "tcp:127.0.0.1:8000",
                               factory, NULL, on_connected, p);
}

/* ---- the late-joiner twin: a relay in front of the proxy ---- */

typedef struct {
  State *state;
  gint url;                 /* -1 until the request line is seen */
  gboolean joiner;          /* asked while another response for the URL was under way */
  gboolean counted;
  gsize forwarded;
} JoinConn;

static gpointer
join_conn_new (SimRelayConn *conn, gpointer filter_data)
{
  JoinConn *jc = g_new0 (JoinConn, 1);

  jc->state = filter_data;
  jc->url = -1;
  return jc;
}

static gint
url_index (State *s, const guint8 *line, gsize len)
{
  while (len > 0 && (*line == ' ' || *line == '\t'))
    {
      line++;
      len--;
    }
  for (guint i = 0; i < N_URLS; i++)
    if (len >= strlen (s->urls[i]) && memcmp (line, s->urls[i], strlen (s->urls[i])) == 0)
      return (gint) i;
  return -1;
}

static gsize
join_from_client (SimRelayConn *conn, const guint8 *data, gsize len)
{
  JoinConn *jc = sim_relay_conn_get_data (conn);
  State *s = jc->state;

  if (jc->url < 0 && !jc->counted)
    {
      if (memchr (data, '\n', len) == NULL)
        return 0;
      jc->url = url_index (s, data, len);
      if (jc->url >= 0)
        {
          jc->joiner = s->in_progress[jc->url] > 0 && g_bytes_get_size (s->bodies[jc->url]) >= 2;
          s->in_progress[jc->url]++;
          jc->counted = TRUE;
          if (jc->joiner)
            braid_sim_trace (s->sim, "twin: a late joiner for url %d will get half its body", jc->url);
        }
    }
  sim_relay_conn_to_server (conn, data, len);
  return len;
}

static gsize
join_from_server (SimRelayConn *conn, const guint8 *data, gsize len)
{
  JoinConn *jc = sim_relay_conn_get_data (conn);
  gsize allowed = len;

  if (jc->joiner)
    {
      gsize half = g_bytes_get_size (jc->state->bodies[jc->url]) / 2;

      allowed = jc->forwarded < half ? MIN (len, half - jc->forwarded) : 0;
    }
  sim_relay_conn_to_client (conn, data, allowed);
  jc->forwarded += allowed;
  return len;
}

static void
join_conn_closed (SimRelayConn *conn)
{
  JoinConn *jc = sim_relay_conn_get_data (conn);

  if (jc->counted)
    jc->state->in_progress[jc->url]--;
  jc->counted = FALSE;
}

static const SimRelayFilter join_filter = {
  .conn_new = join_conn_new,
  .conn_free = g_free,
  .from_client = join_from_client,
  .from_server = join_from_server,
  .conn_closed = join_conn_closed,
};

/* URL @i's cache header fields: none, a max-age that lets it be cached
 * (the proxy's TTL is the ceiling), or one that forbids a shared cache
 * to store it (RFC 9111). */
static void
add_cache_fields (State *s, guint i, GRand *rand)
{
  switch (g_rand_int_range (rand, 0, 5))
    {
    case 0:
      break;
    case 1:
      braid_fake_fetcher_add_header (s->fetcher, s->urls[i], "Cache-Control", "public, max-age=60");
      break;
    case 2:
      braid_fake_fetcher_add_header (s->fetcher, s->urls[i], "Cache-Control", "no-store");
      s->never_stored[i] = "Cache-Control: no-store";
      break;
    case 3:
      braid_fake_fetcher_add_header (s->fetcher, s->urls[i], "Cache-Control", "private, max-age=60");
      s->never_stored[i] = "Cache-Control: private";
      break;
    default:
      braid_fake_fetcher_add_header (s->fetcher, s->urls[i], "Set-Cookie", "session=1");
      s->never_stored[i] = "Set-Cookie";
      break;
    }
}

/* ---- the access log ---- */

static gchar *
log_field (const GLogField *fields, gsize n_fields, const gchar *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, key))
      return fields[i].length < 0 ? g_strdup (fields[i].value)
                                  : g_strndup (fields[i].value, (gsize) fields[i].length);
  return NULL;
}

static gint
logged_url_index (State *s, const gchar *url)
{
  for (guint i = 0; i < N_URLS; i++)
    if (g_strcmp0 (url, s->urls[i]) == 0)
      return (gint) i;
  return -1;
}

/* Each entry of the proxy's access log against what the clients did: the
 * URL as asked (blanks trimmed), never a bad request (the clients' lines
 * are good), no more bytes than its body, and a whole body fetched on a
 * miss took at least the upstream's delay. */
static void
on_access_log (const GLogField *fields, gsize n_fields, gpointer data)
{
  State *s = data;
  g_autofree gchar *id = log_field (fields, n_fields, "MESSAGE_ID");
  g_autofree gchar *url = NULL, *status = NULL, *bytes_text = NULL, *cache = NULL, *duration = NULL;
  guint64 bytes;
  gint i;

  if (g_strcmp0 (id, BRAID_PROXY_ACCESS_LOG_MESSAGE_ID) != 0)
    return;
  s->log_entries++;
  url = log_field (fields, n_fields, "URL");
  status = log_field (fields, n_fields, "STATUS");
  bytes_text = log_field (fields, n_fields, "BYTES");
  cache = log_field (fields, n_fields, "CACHE");
  duration = log_field (fields, n_fields, "DURATION_MS");
  braid_sim_trace (s->sim, "access log: %s %s %s bytes cache=%s %s ms", url, status, bytes_text, cache, duration);
  if (g_strcmp0 (url, "-") == 0)
    return;  /* no line was read */
  i = logged_url_index (s, url);
  if (i < 0)
    {
      /* a refused line: 400, nothing sent, no more of them than were sent */
      if (g_strcmp0 (status, "400") != 0 || g_strcmp0 (bytes_text, "0") != 0 || g_strcmp0 (cache, "bypass") != 0 ||
          ++s->bad_logged > s->bad_sent)
        braid_sim_fail (s->sim, "access log: URL \u201c%s\u201d is none that a client asked for, and not a refused "
                        "line (%s, %s bytes, cache=%s; %" G_GUINT64_FORMAT " refused of %" G_GUINT64_FORMAT " bad "
                        "lines sent)", url, status, bytes_text, cache, s->bad_logged, s->bad_sent);
      return;
    }
  if (g_strcmp0 (status, "400") == 0)
    braid_sim_fail (s->sim, "access log: url %d answered 400 (a bad request), but the clients send only good "
                    "request lines", i);
  bytes = g_ascii_strtoull (bytes_text != NULL ? bytes_text : "", NULL, 10);
  if (bytes > g_bytes_get_size (s->bodies[i]))
    braid_sim_fail (s->sim, "access log: %" G_GUINT64_FORMAT " bytes for url %d, whose body has %" G_GSIZE_FORMAT,
                    bytes, i, g_bytes_get_size (s->bodies[i]));
  if (g_strcmp0 (status, "200") == 0 && g_strcmp0 (cache, "miss") == 0 && bytes == g_bytes_get_size (s->bodies[i]) &&
      g_ascii_strtod (duration != NULL ? duration : "", NULL) * 1000 < (gdouble) s->fetch_delay_us[i] - 100)
    braid_sim_fail (s->sim, "access log: url %d fetched whole in %s ms, under the upstream's delay of %.1f ms", i,
                    duration, (gdouble) s->fetch_delay_us[i] / 1000);
}

/* One entry per request at most: no more entries than connections made. */
static void
check_access_log_count (State *s)
{
  if (s->log_entries > s->connections->len)
    braid_sim_fail (s->sim, "access log: %" G_GUINT64_FORMAT " entries for %u connections", s->log_entries,
                    s->connections->len);
}

static gpointer
px_setup_with (BraidSim *sim, Twin twin)
{
  g_autoptr(GRand) headers_rand = NULL;
  State *s = g_new0 (State, 1);
  BraidReactor *r = BRAID_REACTOR (braid_sim_get_reactor (sim));
  GRand *rand = braid_sim_get_rand (sim);
  g_autoptr(BraidProtocolFactory) mc_factory = NULL;
  g_autoptr(BraidProtocolFactory) proxy_factory = NULL;
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;

  /* a generator of its own, so that the main one draws what it did */
  headers_rand = g_rand_new_with_seed (braid_sim_get_seed (sim) ^ 0x4eade5u);
  s->sim = sim;
  s->pad_rand = g_rand_new_with_seed (braid_sim_get_seed (sim) ^ 0xb1a4cu);
  braid_sim_set_log_observer (sim, on_access_log, s);
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
  s->twin = twin;
  s->observed = sim_cache_new (BRAID_CACHE (s->cache), r, twin == TWIN_EXPIRED_SERVED);
  s->fetcher = braid_fake_fetcher_new (r);
  for (guint i = 0; i < N_URLS; i++)
    {
      gsize size = (gsize) g_rand_int_range (rand, 0, 3000);
      guint8 *data = g_malloc (size + 1);

      for (gsize b = 0; b < size; b++)
        data[b] = (guint8) (i * 31 + b * 7);
      s->bodies[i] = g_bytes_new_take (data, size);
      /* every scheme the proxy takes: http, https, either in capitals */
      s->urls[i] = g_strdup_printf ("%s://site%u.example/page", (const gchar *[]) { "http", "https", "HTTP", "HTTPS" }[i % 4], i);
      s->fetch_delay_us[i] = g_rand_int_range (rand, 1, 300) * 1000;
      braid_fake_fetcher_add (s->fetcher, s->urls[i], 200, s->bodies[i], s->fetch_delay_us[i],
                              (gsize) g_rand_int_range (rand, 100, 1000), g_rand_int_range (rand, 0, 5) * 1000);
      add_cache_fields (s, i, headers_rand);
    }
  settings.cache_timeout_us = 50 * 1000;
  /* On a quarter of the seeds the cache is slow and deaf (sim-cache.h):
   * lookups of up to 120 ms against the 50 ms time box, drawn from
   * another generator of their own. */
  {
    g_autoptr(GRand) slow_rand = g_rand_new_with_seed (braid_sim_get_seed (sim) ^ 0x51e7u);

    if (g_rand_int_range (slow_rand, 0, 4) == 0)
      {
        braid_sim_trace (sim, "the cache is slow and deaf: lookups of up to 120 ms");
        sim_cache_set_slow (s->observed, slow_rand, 120 * 1000, settings.cache_timeout_us);
      }
  }
  settings.ttl_s = TTL_S;
  if (g_rand_boolean (rand))
    settings.client_write_timeout_us = 0;
  s->write_timeout_us = settings.client_write_timeout_us;
  s->proxy = braid_proxy_new (r, BRAID_FETCHER (s->fetcher), BRAID_CACHE (s->observed), &settings);
  proxy_factory = braid_proxy_create_factory (s->proxy);
  if (twin == TWIN_LATE_JOINER_DROPPED)
    {
      s->proxy_listener = braid_reactor_listen (r, "tcp:8001", proxy_factory, NULL);
      s->relay = sim_relay_new (sim, "tcp:8000", "tcp:127.0.0.1:8001", &join_filter, s);
    }
  else
    s->proxy_listener = braid_reactor_listen (r, "tcp:8000", proxy_factory, NULL);
  return s;
}

static gpointer
px_setup (BraidSim *sim)
{
  return px_setup_with (sim, TWIN_NONE);
}

static gpointer
late_joiner_dropped_setup (BraidSim *sim)
{
  return px_setup_with (sim, TWIN_LATE_JOINER_DROPPED);
}

static gpointer
expired_served_setup (BraidSim *sim)
{
  return px_setup_with (sim, TWIN_EXPIRED_SERVED);
}

/* Without a write deadline nobody is too slow, however long it stalls. */
static void
check_nobody_cut_without_deadline (State *s)
{
  guint64 cut = braid_proxy_get_stats (s->proxy)->slow_clients;

  if (s->write_timeout_us == 0 && cut > 0)
    braid_sim_fail (s->sim, "%" G_GUINT64_FORMAT " clients cut off as too slow by a proxy without a client "
                    "write deadline", cut);
}

static void
px_step (BraidSim *sim, gpointer data)
{
  State *s = data;

  check_nobody_cut_without_deadline (s);
  braid_sim_arm_new_connections (sim);
  for (guint i = 0; i < s->n_clients; i++)
    if (s->busy[i] == 0 && braid_sim_chance (sim, 0.05))
      start_request (s, i);
  if (braid_sim_chance (sim, QUIET_PROBABILITY))
    {
      gint64 quiet_us = g_rand_int_range (braid_sim_get_rand (sim), 2500, 4000) * (gint64) 1000;

      braid_sim_trace (sim, "quiet for %.3f s", (gdouble) quiet_us / G_USEC_PER_SEC);
      braid_fake_reactor_advance (braid_sim_get_reactor (sim), quiet_us);
    }
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

/* A response a shared cache must not store was stored. */
static void
check_never_stored (State *s)
{
  for (guint i = 0; i < N_URLS; i++)
    {
      g_autofree gchar *key = NULL;

      if (s->never_stored[i] == NULL)
        continue;
      key = braid_cache_key_for_url (s->urls[i]);
      if (sim_cache_get_last_store (s->observed, key) >= 0)
        braid_sim_fail (s->sim, "url %u was stored in the shared cache although it answered %s", i,
                        s->never_stored[i]);
    }
}

static void
px_check (BraidSim *sim, gpointer data)
{
  check_nobody_cut_without_deadline (data);
  check_never_stored (data);
  check_access_log_count (data);
}

static void
px_teardown (BraidSim *sim, gpointer data)
{
  State *s = data;
  BraidFakeReactor *fake = braid_sim_get_reactor (sim);

  braid_sim_set_log_observer (sim, NULL, NULL);
  sim_relay_stop (s->relay);
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
  sim_relay_free (s->relay);
  g_object_unref (s->observed);
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
  g_rand_free (s->pad_rand);
  g_free (s->live_done);
  g_free (s->busy);
  g_free (s);
}

const BraidSimScenario braid_sim_scenario_proxy = {
  "proxy",
  "clients, braid-proxy, its shared cache in braid-memcached through the client pool, a fake upstream",
  px_setup, px_step, px_begin_liveness, px_is_live, px_check, px_teardown,
};

/* The broken twins: not listed, run by name. */
const BraidSimScenario braid_sim_scenario_proxy_late_joiner_dropped = {
  "proxy-late-joiner-dropped",
  "a proxy whose late joiners get half a body, then a clean close (a self-test)",
  late_joiner_dropped_setup, px_step, px_begin_liveness, px_is_live, px_check, px_teardown,
};

const BraidSimScenario braid_sim_scenario_proxy_expired_served = {
  "proxy-expired-served",
  "a proxy whose cache serves bodies past their TTL (a self-test)",
  expired_served_setup, px_step, px_begin_liveness, px_is_live, px_check, px_teardown,
};
