/* braid — BraidProxyRequest: the proxy's protocol on one connection.
 *
 * Read one line, look the URL up in the cache (time-boxed), then write
 * the cached body or join the URL's flight (BraidProxyFlight), which
 * writes the body as it arrives and finishes the request.  The request is
 * a flight's client through BraidProxyFlightClientFuncs, so the flight
 * never reaches into it.
 *
 * A request that fails after it was accepted (upstream error, refused
 * target, body cut off, client too slow, proxy over capacity) is aborted
 * (RST) rather than closed, so that a client never takes a partial body,
 * or none, for a whole one.  Every write arms a progress deadline: a
 * client whose backlog has not shrunk for client_write_timeout_us is cut
 * off, on a flight or after (a cache hit, a flight's last bytes). */
#include "proxy-request-private.h"
#include "access-log-private.h"
#include "cache-mac.h"
#include "line-receiver.h"

#include <string.h>

typedef enum {
  REQUEST_STATE_READING,
  REQUEST_STATE_LOOKUP,
  REQUEST_STATE_SERVING,   /* on a flight or writing a cached body */
  REQUEST_STATE_DONE,
} RequestState;

struct _BraidProxyRequest
{
  BraidProtocol parent_instance;
  const BraidProxyRequestHost *host;  /* (unowned): lives as long as host->owner */
  GObject *owner;                     /* (owned): keeps host alive */
  BraidLineReceiver *lines;           /* (owned) */
  gsize max_line;
  RequestState state;
  gchar *url;                         /* (owned) (nullable) */
  gchar *key;                         /* (owned) (nullable) */
  const gchar *cache_outcome;         /* hit, miss, shared, bypass */
  guint status;
  gsize bytes;
  gint64 started_us;
  BraidDelayedCall *lookup_timer;     /* (owned) (nullable) */
  BraidCacheLookup *lookup;           /* (unowned) (nullable): the cache's, until it answers or is cancelled */
  BraidProxyFlight *flight;           /* (unowned) (nullable): set while on one */
  BraidDelayedCall *write_timer;      /* (owned) (nullable): the progress deadline */
  gsize write_mark;                   /* bytes sent when write_timer was armed */
  gboolean counted;                   /* in host->stats->in_flight */
  gboolean connected;                 /* in host->stats->connections */
  BraidDelayedCall *line_timer;       /* (owned) (nullable): the request line's deadline */
  gboolean paused_for_lookup;         /* reading paused while the cache is asked */
};

G_DEFINE_FINAL_TYPE (BraidProxyRequest, braid_proxy_request, BRAID_TYPE_PROTOCOL)

static BraidTransport *
request_transport (BraidProxyRequest *self)
{
  return braid_protocol_get_transport (BRAID_PROTOCOL (self));
}

/* The line is in, or the request is over: no deadline, and no longer
 * among the requests a graceful stop closes. */
static void
stop_reading (BraidProxyRequest *self)
{
  if (self->line_timer != NULL && braid_delayed_call_is_active (self->line_timer))
    braid_delayed_call_cancel (self->line_timer);
  g_clear_pointer (&self->line_timer, braid_delayed_call_unref);
  if (self->host->reading != NULL)
    g_hash_table_remove (self->host->reading, self);
}

/* Ends the request and logs it; returns FALSE if it had ended already. */
static gboolean
request_end (BraidProxyRequest *self, const gchar *problem)
{
  BraidProxyAccessLogEntry entry = { 0, };

  if (self->state == REQUEST_STATE_DONE)
    return FALSE;
  stop_reading (self);
  self->state = REQUEST_STATE_DONE;
  self->flight = NULL;
  if (self->counted)
    self->host->stats->in_flight--;
  self->counted = FALSE;
  entry.url = self->url;
  entry.status = self->status;
  entry.bytes = self->bytes;
  entry.cache = self->cache_outcome;
  entry.duration_us = braid_reactor_now (self->host->reactor) - self->started_us;
  entry.problem = problem;
  braid_proxy_access_log_write (&entry);
  return TRUE;
}

/* Ends the request with a clean close, after what was written. */
static void
request_finish (BraidProxyRequest *self, const gchar *problem)
{
  BraidTransport *t = request_transport (self);

  if (request_end (self, problem) && t != NULL)
    braid_transport_lose_connection (t);
}

/* Ends the request with a reset: the client sees an error, never EOF. */
static void
request_fail (BraidProxyRequest *self, const gchar *problem)
{
  BraidTransport *t = request_transport (self);

  if (request_end (self, problem) && t != NULL)
    braid_transport_abort_connection (t);
}

static void arm_write_deadline (BraidProxyRequest *self);

static gsize
request_sent (BraidProxyRequest *self, BraidTransport *t)
{
  return self->bytes - braid_transport_get_write_buffer_size (t);
}

/* A client that leaves its flight before the end (cut off, or gone) is
 * logged with the upstream's status as far as it got, not 0: the flight
 * tells its clients only when it finishes. */
static void
take_flight_status (BraidProxyRequest *self)
{
  if (self->flight != NULL && self->status == 0)
    self->status = braid_proxy_flight_get_status (self->flight);
}

static void
on_write_deadline (gpointer data)
{
  BraidProxyRequest *self = data;
  BraidTransport *t = request_transport (self);
  BraidProxyFlight *flight = self->flight;
  g_autofree gchar *why = NULL;

  g_clear_pointer (&self->write_timer, braid_delayed_call_unref);  /* the timer queue holds its own */
  if (t == NULL || braid_transport_get_write_buffer_size (t) == 0)
    return;
  if (request_sent (self, t) > self->write_mark)
    {
      arm_write_deadline (self);  /* progress: a new deadline */
      return;
    }
  self->host->stats->slow_clients++;
  why = g_strdup_printf ("too slow: nothing read for %" G_GINT64_FORMAT " ms",
                         self->host->settings->client_write_timeout_us / 1000);
  if (self->state != REQUEST_STATE_DONE)
    {
      take_flight_status (self);
      request_fail (self, why);
      if (flight != NULL)
        braid_proxy_flight_remove_client (flight, self);
    }
  else
    braid_transport_abort_connection (t);  /* finished, still flushing: a partial body */
}

static void
arm_write_deadline (BraidProxyRequest *self)
{
  BraidTransport *t = request_transport (self);
  gint64 timeout_us = self->host->settings->client_write_timeout_us;

  if (t == NULL || self->write_timer != NULL || timeout_us <= 0 || braid_transport_get_write_buffer_size (t) == 0)
    return;
  self->write_mark = request_sent (self, t);
  self->write_timer = braid_reactor_call_later (self->host->reactor, timeout_us, on_write_deadline, self, NULL);
}

static void
cancel_write_deadline (BraidProxyRequest *self)
{
  if (self->write_timer != NULL && braid_delayed_call_is_active (self->write_timer))
    braid_delayed_call_cancel (self->write_timer);
  g_clear_pointer (&self->write_timer, braid_delayed_call_unref);
}

/* Zero-copy: the transport keeps a reference on @bytes until sent. */
static void
request_write_bytes (BraidProxyRequest *self, GBytes *bytes)
{
  BraidTransport *t = request_transport (self);
  gsize len = g_bytes_get_size (bytes);

  if (t == NULL || self->state == REQUEST_STATE_DONE || len == 0)
    return;
  braid_transport_write_bytes (t, bytes);
  self->bytes += len;
  self->host->stats->bytes += len;
  arm_write_deadline (self);
}

/* ---- as a flight's client ---- */

static void
client_write (gpointer client, GBytes *chunk)
{
  request_write_bytes (client, chunk);
}

static gsize
client_get_backlog (gpointer client)
{
  BraidProxyRequest *self = client;
  BraidTransport *t = request_transport (self);

  if (self->state == REQUEST_STATE_DONE || t == NULL)
    return 0;
  return braid_transport_get_write_buffer_size (t);
}

static void
client_finish (gpointer client, guint status, const gchar *problem)
{
  BraidProxyRequest *self = client;

  self->status = status;
  /* The flight failed (upstream error, deadline, size limit): reset, since
   * part of the body may have gone out already. */
  if (problem == NULL)
    request_finish (self, NULL);
  else
    request_fail (self, problem);
}

static const BraidProxyFlightClientFuncs flight_client_funcs = {
  client_write,
  client_get_backlog,
  client_finish,
};

/* While the cache is asked (time-boxed, so briefly) the client's socket
 * is not read: the request line is whole and nothing else is expected,
 * so a real socket need not be watched at all, which saves the epoll_ctl
 * that would add it and the one that would remove it on every hit.  A
 * client that leaves meanwhile is noticed when its answer is written. */
static void
pause_for_lookup (BraidProxyRequest *self)
{
  BraidTransport *t = request_transport (self);

  if (t == NULL)
    return;
  braid_transport_pause_reading (t);
  self->paused_for_lookup = TRUE;
}

/* A fetch can take long: read again, to see the client leave. */
static void
resume_after_lookup (BraidProxyRequest *self)
{
  BraidTransport *t = request_transport (self);

  if (!self->paused_for_lookup || t == NULL)
    return;
  self->paused_for_lookup = FALSE;
  braid_transport_resume_reading (t);
}

static void
fetch_for (BraidProxyRequest *self, const gchar *outcome)
{
  BraidProxyStats *stats = self->host->stats;
  gboolean shared = FALSE;
  g_autoptr(GError) error = NULL;
  BraidProxyFlight *flight = self->host->get_flight (self->owner, self->url, &shared, &error);

  resume_after_lookup (self);
  if (flight == NULL)
    {
      self->cache_outcome = outcome;
      self->status = 503;
      request_fail (self, error->message);
      return;
    }
  if (shared)
    {
      self->cache_outcome = "shared";
      stats->shared++;
    }
  else
    {
      self->cache_outcome = outcome;
      if (g_str_equal (outcome, "miss"))
        stats->misses++;
      else
        stats->bypass++;
    }
  self->flight = flight;
  self->state = REQUEST_STATE_SERVING;
  braid_proxy_flight_add_client (flight, &flight_client_funcs, g_object_ref (self), g_object_unref);
}

/* ---- the cache lookup, time-boxed ---- */

static void serve_looked_up (BraidProxyRequest *self, GBytes *body);

/* Cancels the cache lookup still in progress: the cache answers it soon
 * (on_lookup, which holds a reference on the request) and lets go.  A
 * handle rather than a GCancellable per lookup: with its signal
 * connection, that cost a memcached hit 4,000 instructions. */
static void
cancel_lookup (BraidProxyRequest *self)
{
  braid_cache_lookup_direct_cancel (self->host->cache, g_steal_pointer (&self->lookup));
}

static void
on_lookup_timeout (gpointer data)
{
  BraidProxyRequest *self = data;
  g_autofree gchar *shown = braid_proxy_access_log_redact_url (self->url);

  if (self->state != REQUEST_STATE_LOOKUP)
    return;
  /* Tell the cache we no longer wait: it lets go of the request. */
  cancel_lookup (self);
  g_debug ("cache lookup for %s took over %" G_GINT64_FORMAT " ms: fetching", shown,
           self->host->settings->cache_timeout_us / 1000);
  fetch_for (self, "bypass");
}

static void
on_lookup (GBytes *body_taken, GError *error_taken, gpointer data)
{
  g_autoptr(BraidProxyRequest) self = data;
  g_autoptr(GError) error = error_taken;
  g_autoptr(GBytes) body = body_taken;

  self->lookup = NULL;  /* answered: no longer to cancel */
  if (self->state != REQUEST_STATE_LOOKUP)
    return;  /* the time box ran out, or the client left */
  if (self->lookup_timer != NULL && braid_delayed_call_is_active (self->lookup_timer))
    braid_delayed_call_cancel (self->lookup_timer);
  g_clear_pointer (&self->lookup_timer, braid_delayed_call_unref);
  if (error != NULL)
    {
      g_autofree gchar *shown = braid_proxy_access_log_redact_url (self->url);

      g_debug ("cache lookup for %s failed: %s; fetching", shown, error->message);
      fetch_for (self, "bypass");
      return;
    }
  serve_looked_up (self, g_steal_pointer (&body));
}

/* What the cache answered, @body (taken) or NULL for a miss: a hit is
 * written at once, a miss (or an entry whose MAC fails) fetched. */
static void
serve_looked_up (BraidProxyRequest *self, GBytes *body)
{
  if (body != NULL && self->host->settings->cache_secret != NULL)
    {
      GBytes *opened = braid_cache_mac_open (self->host->settings->cache_secret, self->key, body);

      if (opened == NULL)
        {
          g_autofree gchar *shown = braid_proxy_access_log_redact_url (self->url);

          /* Not stored by a proxy with our secret: a miss. */
          self->host->stats->mac_rejects++;
          g_debug ("cache entry for %s refused: its MAC is missing or wrong", shown);
        }
      g_bytes_unref (body);
      body = opened;
    }
  if (body == NULL)
    {
      fetch_for (self, "miss");
      return;
    }
  self->cache_outcome = "hit";
  self->host->stats->hits++;
  self->state = REQUEST_STATE_SERVING;
  self->status = 200;
  request_write_bytes (self, body);  /* the cached GBytes itself */
  g_bytes_unref (body);
  request_finish (self, NULL);
}

/* ---- the request line ---- */

static gboolean
valid_url (const gchar *line, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  const gchar *scheme;

  if (!g_utf8_validate (line, -1, NULL) || strchr (line, ' ') != NULL)
    {
      g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST, "not a single URL");
      return FALSE;
    }
  uri = g_uri_parse (line, G_URI_FLAGS_NONE, error);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST,
                   "only http and https URLs with a host are fetched");
      return FALSE;
    }
  return TRUE;
}

/* A fragment ("#section") is separated from a URI before it is
 * dereferenced and never reaches a server (RFC 3986, section 3.5):
 * dropping it before fetching and keying the cache makes "#a" and "#b"
 * one flight and one cache entry.  The first "#" of a URL always starts
 * its fragment. */
static void
strip_fragment (gchar *url)
{
  gchar *hash = strchr (url, '#');

  if (hash != NULL)
    *hash = '\0';
}

/* The key of @url if it was a request's URL a moment ago: the key memo
 * holds only URLs that passed valid_url (with their fragment stripped,
 * so a URL with one is checked again), so a hot URL is neither parsed
 * nor hashed again. */
static gchar *
key_of_known_url (const BraidProxyRequestHost *host, const gchar *url)
{
  if (host->key_memo == NULL || strchr (url, '#') != NULL)
    return NULL;
  return braid_cache_key_memo_lookup (host->key_memo, url);
}

static void
bad_request (BraidProxyRequest *self, const gchar *why)
{
  self->host->stats->bad_requests++;
  self->status = 400;
  self->cache_outcome = "bypass";
  request_finish (self, why);
}

static void
on_line (gpointer data, const gchar *line, gsize len)
{
  BraidProxyRequest *self = data;
  const BraidProxyRequestHost *host = self->host;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *trimmed = g_strstrip (g_strndup (line, len));
  g_autoptr(GBytes) body = NULL;

  braid_line_receiver_stop (self->lines);  /* one request per connection */
  stop_reading (self);
  self->url = g_strdup (trimmed);
  if (strlen (trimmed) != len && memchr (line, '\0', len) != NULL)
    {
      bad_request (self, "NUL byte in the request line");
      return;
    }
  if (g_str_equal (trimmed, "stats"))
    {
      gchar *text = braid_proxy_stats_format (host->stats);
      gsize text_len = strlen (text);
      g_autoptr(GBytes) reply = g_bytes_new_take (text, text_len);

      /* Not a URL (those start with http: or https:): the counters. */
      self->status = 200;
      self->cache_outcome = "bypass";
      self->state = REQUEST_STATE_SERVING;
      request_write_bytes (self, reply);
      request_finish (self, NULL);
      return;
    }
  self->key = key_of_known_url (host, trimmed);
  if (self->key == NULL)
    {
      if (!valid_url (trimmed, &error))
        {
          bad_request (self, error->message);
          return;
        }
      strip_fragment (self->url);
      self->key = host->key_memo != NULL ? braid_cache_key_memo_get (host->key_memo, self->url)
                                         : braid_cache_key_for_url (self->url);
    }
  if (host->cache == NULL)
    {
      fetch_for (self, "bypass");
      return;
    }
  self->state = REQUEST_STATE_LOOKUP;
  if (braid_cache_try_lookup_now (host->cache, self->key, &body))
    {
      serve_looked_up (self, g_steal_pointer (&body));
      return;
    }
  self->lookup_timer = braid_reactor_call_later (host->reactor, host->settings->cache_timeout_us,
                                                 on_lookup_timeout, self, NULL);
  pause_for_lookup (self);
  self->lookup = braid_cache_lookup_direct (host->cache, self->key, NULL, on_lookup, g_object_ref (self));
}

static void
on_line_too_long (gpointer data, gsize seen)
{
  BraidProxyRequest *self = data;
  g_autofree gchar *why = g_strdup_printf ("request line over %" G_GSIZE_FORMAT " bytes", self->max_line);

  bad_request (self, why);
}

static const BraidLineReceiverCallbacks line_callbacks = { on_line, NULL, on_line_too_long };

static void
on_line_timeout (gpointer data)
{
  BraidProxyRequest *self = data;
  g_autofree gchar *why = NULL;

  if (self->state != REQUEST_STATE_READING)
    return;
  why = g_strdup_printf ("no whole request line within %.1f s",
                         (gdouble) self->host->settings->request_timeout_us / G_USEC_PER_SEC);
  self->host->stats->request_timeouts++;
  self->status = 408;
  self->cache_outcome = "bypass";
  request_finish (self, why);
}

void
braid_proxy_request_close_idle (BraidProxyRequest *self)
{
  g_return_if_fail (BRAID_IS_PROXY_REQUEST (self));

  if (self->state != REQUEST_STATE_READING)
    return;
  self->status = 503;
  self->cache_outcome = "bypass";
  request_finish (self, "the proxy is stopping: no request line yet");
}

/* ---- the protocol ---- */

static void
braid_proxy_request_connection_made (BraidProtocol *protocol, BraidTransport *transport)
{
  BraidProxyRequest *self = BRAID_PROXY_REQUEST (protocol);
  const BraidProxySettings *settings = self->host->settings;
  BraidProxyStats *stats = self->host->stats;

  if (settings->max_connections > 0 && stats->connections >= settings->max_connections)
    {
      /* Over the limit: the protocol's error answer, a close without a
       * body, before reading anything.  Not a request: no log entry. */
      stats->rejected_connections++;
      self->state = REQUEST_STATE_DONE;
      braid_transport_lose_connection (transport);
      return;
    }
  stats->connections++;
  self->connected = TRUE;
  self->started_us = braid_reactor_now (self->host->reactor);
  stats->requests++;
  stats->in_flight++;
  self->counted = TRUE;
  if (self->host->reading != NULL)
    g_hash_table_add (self->host->reading, self);
  if (settings->request_timeout_us > 0)
    self->line_timer = braid_reactor_call_later (self->host->reactor, settings->request_timeout_us,
                                                 on_line_timeout, self, NULL);
}

static void
braid_proxy_request_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidProxyRequest *self = BRAID_PROXY_REQUEST (protocol);

  if (self->state == REQUEST_STATE_READING)
    braid_line_receiver_feed (self->lines, data, len);
}

static gboolean
braid_proxy_request_eof_received (BraidProtocol *protocol)
{
  BraidProxyRequest *self = BRAID_PROXY_REQUEST (protocol);

  /* "echo URL | nc -N" half-closes after the line: keep writing. */
  if (self->state == REQUEST_STATE_READING)
    {
      bad_request (self, "the client closed before sending a whole line");
      return FALSE;
    }
  return self->state != REQUEST_STATE_DONE;
}

static void
braid_proxy_request_output_drained (BraidProtocol *protocol)
{
  BraidProxyRequest *self = BRAID_PROXY_REQUEST (protocol);

  if (self->flight != NULL)
    braid_proxy_flight_client_drained (self->flight);
}

static void
braid_proxy_request_connection_lost (BraidProtocol *protocol, const GError *reason)
{
  BraidProxyRequest *self = BRAID_PROXY_REQUEST (protocol);

  if (self->connected)
    self->host->stats->connections--;
  self->connected = FALSE;
  if (self->state == REQUEST_STATE_LOOKUP)
    cancel_lookup (self);
  cancel_write_deadline (self);

  if (self->state != REQUEST_STATE_DONE)
    {
      BraidProxyFlight *flight = self->flight;

      take_flight_status (self);
      request_finish (self, "the client went away");
      /* The flight goes on without it (the body may still be cached). */
      if (flight != NULL)
        {
          self->host->stats->clients_detached++;
          braid_proxy_flight_remove_client (flight, self);
        }
    }
}

static void
braid_proxy_request_finalize (GObject *object)
{
  BraidProxyRequest *self = BRAID_PROXY_REQUEST (object);

  if (self->lookup_timer != NULL && braid_delayed_call_is_active (self->lookup_timer))
    braid_delayed_call_cancel (self->lookup_timer);
  g_clear_pointer (&self->lookup_timer, braid_delayed_call_unref);
  cancel_write_deadline (self);
  stop_reading (self);
  if (self->counted)
    self->host->stats->in_flight--;
  if (self->connected)
    self->host->stats->connections--;
  braid_line_receiver_free (self->lines);
  g_free (self->url);
  g_free (self->key);
  g_object_unref (self->owner);
  G_OBJECT_CLASS (braid_proxy_request_parent_class)->finalize (object);
}

static void
braid_proxy_request_class_init (BraidProxyRequestClass *klass)
{
  BraidProtocolClass *protocol_class = BRAID_PROTOCOL_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_proxy_request_finalize;
  protocol_class->connection_made = braid_proxy_request_connection_made;
  protocol_class->data_received = braid_proxy_request_data_received;
  protocol_class->eof_received = braid_proxy_request_eof_received;
  protocol_class->output_drained = braid_proxy_request_output_drained;
  protocol_class->connection_lost = braid_proxy_request_connection_lost;
}

static void
braid_proxy_request_init (BraidProxyRequest *self)
{
  self->state = REQUEST_STATE_READING;
}

BraidProxyRequest *
braid_proxy_request_new (const BraidProxyRequestHost *host)
{
  BraidProxyRequest *self;

  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (G_IS_OBJECT (host->owner), NULL);
  g_return_val_if_fail (BRAID_IS_REACTOR (host->reactor), NULL);
  g_return_val_if_fail (host->settings != NULL && host->stats != NULL && host->get_flight != NULL, NULL);

  self = g_object_new (BRAID_TYPE_PROXY_REQUEST, NULL);
  self->host = host;
  self->owner = g_object_ref (host->owner);
  self->max_line = host->settings->max_line;
  self->lines = braid_line_receiver_new ("\r\n", self->max_line, &line_callbacks, self);
  return self;
}
