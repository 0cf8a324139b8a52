/* braid — fetching with libsoup 3.
 *
 * libsoup queues requests beyond max-conns-per-host (2 by default) and
 * max-conns (10): left alone it would serialise a proxy's concurrent
 * fetches to one host, so both come from the options.  Redirects are
 * followed by libsoup itself.
 *
 * The fetches are shared round-robin among several SoupSessions, each
 * with an even share of both limits (so the totals stay exactly the
 * options'): libsoup 3's bookkeeping is linear in a session's connections
 * and queue for every message it schedules (it scans every connection to
 * the host, and every queued message, each time one changes state), so a
 * thousand fetches in one session cost about a million such steps,
 * seconds of CPU; sixteen sessions of about 63 each, a sixteenth of that
 * in all (measured: 6-7 s down to well under one, docs/performance.md).
 *
 * The sessions run in threads of their own (options.threads, each with
 * its own GMainContext: BraidFetchThread), a share of the sessions each.
 * A GMainContext's every iteration prepares, checks and polls every one
 * of its sources, and libsoup gives each connection its own: with a
 * thousand connections open in the reactor's context, each of the
 * thousands of events they make cost a thousand source visits there.
 * Split among threads, each context carries a fraction of the sources
 * and of the events, off the reactor's loop.  A fetch hops to its
 * session's thread and its result back (GTask returns in the caller's
 * context); the body is a BraidThreadInputStream, whose reads do the
 * same.  Nothing of libsoup's runs in the caller's thread, cancellation
 * included (BraidThreadCancellable).  With no threads (0) the sessions
 * run in the caller's context, as before.
 *
 * Every connection is checked against the address policy where its
 * address is known and nothing has been sent: SoupMessage::network-event
 * with G_SOCKET_CLIENT_CONNECTING, emitted for each address GSocketClient
 * tries, for the first request and for every redirect that opens a new
 * connection.  A refused connection's socket is closed there, before
 * GSocketClient calls connect(2): cancelling the message alone would not
 * do, since g_socket_connect() does not look at its cancellable before
 * connecting, so a SYN would still reach the internal port.  The fetch
 * then fails with the policy's error, whatever the socket layer said, so
 * an open and a closed internal port look alike. */
#include "soup-fetcher.h"
#include "proxy-error.h"
#include "cache-policy.h"
#include "fetch-thread.h"
#include "thread-input-stream.h"

#include <libsoup/soup.h>

/* Each session holds at most this many connections, up to MAX_SESSIONS:
 * small enough that libsoup's per-message scans stay short. */
#define CONNECTIONS_PER_SESSION 64
#define MAX_SESSIONS 16

struct _BraidSoupFetcher
{
  GObject parent_instance;
  GPtrArray *sessions;           /* (owned) SoupSession *, at least one; session i lives in thread i % n */
  GPtrArray *threads;            /* (owned) BraidFetchThread *; empty: the sessions live in the caller's context */
  guint next_session;            /* the one the next fetch goes to */
  BraidAddressPolicy *policy;    /* (owned) */
};

/* One fetch.  Everything of libsoup's in it (the message, the session's
 * cancellable) is released in the session's thread when the fetch
 * returns; what the caller reads after (status, header fields) is copied
 * out there first. */
typedef struct {
  BraidSoupFetcher *fetcher;     /* (unowned): the task's source object */
  SoupSession *session;          /* (unowned) */
  BraidFetchThread *thread;      /* (unowned) (nullable): NULL in the caller's context */
  SoupMessage *msg;              /* (owned) (nullable): until the fetch returns */
  BraidThreadCancellable *cancellable;  /* (owned) (nullable): with a thread, until the fetch returns */
  BraidAddressPolicy *policy;    /* (owned) */
  GError *refusal;               /* (owned) (nullable) */
  guint status;
  GHashTable *headers;           /* (owned) (nullable): the fields the cache policy reads */
} Fetch;

/* In the session's thread (or the caller's context without threads). */
static void
fetch_release_message (Fetch *fetch)
{
  if (fetch->msg != NULL)
    g_signal_handlers_disconnect_by_data (fetch->msg, fetch);
  g_clear_object (&fetch->msg);
  g_clear_pointer (&fetch->cancellable, braid_thread_cancellable_free);
}

static void
fetch_free (Fetch *fetch)
{
  fetch_release_message (fetch);
  braid_address_policy_unref (fetch->policy);
  g_clear_error (&fetch->refusal);
  g_clear_pointer (&fetch->headers, g_hash_table_unref);
  g_free (fetch);
}

static void braid_soup_fetcher_iface_init (BraidFetcherInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidSoupFetcher, braid_soup_fetcher, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_FETCHER, braid_soup_fetcher_iface_init))

static void
braid_soup_fetcher_finalize (GObject *object)
{
  BraidSoupFetcher *self = BRAID_SOUP_FETCHER (object);

  /* each thread drops its own sessions as it stops (teardown_thread) */
  g_clear_pointer (&self->threads, g_ptr_array_unref);
  g_clear_pointer (&self->sessions, g_ptr_array_unref);
  g_clear_pointer (&self->policy, braid_address_policy_unref);
  G_OBJECT_CLASS (braid_soup_fetcher_parent_class)->finalize (object);
}

static void
braid_soup_fetcher_class_init (BraidSoupFetcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_soup_fetcher_finalize;
}

static void
braid_soup_fetcher_init (BraidSoupFetcher *self)
{
}

/* How many sessions share @max_conns connections, @max_conns_per_host to
 * one host: no more than either limit, so that each session has at least
 * one connection of each. */
static guint
session_count (guint max_conns, guint max_conns_per_host)
{
  guint n = CLAMP (max_conns / CONNECTIONS_PER_SESSION, 1u, MAX_SESSIONS);

  return MIN (n, MIN (max_conns, max_conns_per_host));
}

/* Session @i's share of @total split among @n: the shares add up to
 * @total exactly. */
static guint
share_of (guint total, guint n, guint i)
{
  return total / n + (i < total % n ? 1 : 0);
}

static SoupSession *
session_new (const BraidSoupFetcherOptions *options, guint max_conns, guint max_conns_per_host)
{
  SoupSession *session = soup_session_new_with_options ("max-conns", max_conns,
                                                        "max-conns-per-host", max_conns_per_host,
                                                        "timeout", options->timeout_s,
                                                        "user-agent", options->user_agent != NULL
                                                                      ? options->user_agent
                                                                      : "braid-proxy/" PACKAGE_VERSION,
                                                        NULL);

  if (options->use_proxy_resolver)
    soup_session_set_proxy_resolver (session, options->proxy_resolver);
  return session;
}

/* Makes the sessions of thread @index (those whose index is @index modulo
 * the number of threads) in the calling thread, so that they use its
 * context; with no threads, every session, in the caller's. */
static void
make_sessions (BraidSoupFetcher *self, const BraidSoupFetcherOptions *options, guint index, guint n_threads)
{
  guint n = self->sessions->len;
  guint max_conns = MAX (options->max_conns, 1u);
  guint max_conns_per_host = MAX (options->max_conns_per_host, 1u);

  for (guint i = index; i < n; i += MAX (n_threads, 1u))
    g_ptr_array_index (self->sessions, i) = session_new (options, share_of (max_conns, n, i),
                                                         share_of (max_conns_per_host, n, i));
}

typedef struct {
  BraidSoupFetcher *fetcher;
  const BraidSoupFetcherOptions *options;  /* (unowned): read by setup only, while new() waits */
  guint index, n_threads;
} ThreadShare;

static void
setup_thread (gpointer data, gpointer unused)
{
  ThreadShare *share = data;

  make_sessions (share->fetcher, share->options, share->index, share->n_threads);
  share->options = NULL;
}

/* The thread's sessions go in the thread, with what they still hold. */
static void
teardown_thread (gpointer data, gpointer unused)
{
  ThreadShare *share = data;
  GPtrArray *sessions = share->fetcher->sessions;

  for (guint i = share->index; i < sessions->len; i += share->n_threads)
    g_clear_object (&g_ptr_array_index (sessions, i));
  g_free (share);
}

BraidSoupFetcher *
braid_soup_fetcher_new (const BraidSoupFetcherOptions *options)
{
  BraidSoupFetcher *self = g_object_new (BRAID_TYPE_SOUP_FETCHER, NULL);
  BraidSoupFetcherOptions defaults = BRAID_SOUP_FETCHER_OPTIONS_INIT;
  guint n, n_threads;

  if (options == NULL)
    options = &defaults;
  n = session_count (MAX (options->max_conns, 1u), MAX (options->max_conns_per_host, 1u));
  n_threads = MIN (options->threads, n);
  /* the sessions are unreffed where they live: by their threads */
  self->sessions = g_ptr_array_new_full (n, n_threads == 0 ? g_object_unref : NULL);
  g_ptr_array_set_size (self->sessions, n);
  self->threads = g_ptr_array_new_full (n_threads, (GDestroyNotify) braid_fetch_thread_free);
  if (n_threads == 0)
    make_sessions (self, options, 0, 0);
  for (guint t = 0; t < n_threads; t++)
    {
      ThreadShare *share = g_new0 (ThreadShare, 1);

      share->fetcher = self;
      share->options = options;
      share->index = t;
      share->n_threads = n_threads;
      g_ptr_array_add (self->threads, braid_fetch_thread_new ("braid-fetch", setup_thread, teardown_thread, share));
    }
  self->policy = options->address_policy != NULL ? braid_address_policy_ref (options->address_policy)
                                                 : braid_address_policy_new ();
  return self;
}

/* Round-robin: a burst to one host spreads evenly, and so do its limits;
 * returns the session's index. */
static guint
next_session (BraidSoupFetcher *self)
{
  guint i = self->next_session;

  self->next_session = (self->next_session + 1) % self->sessions->len;
  return i;
}

/* Checks the address @connection is about to connect to; on a refusal,
 * closes its socket so that connect(2) is never called, and notes why. */
static void
check_connection (Fetch *fetch, GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  GUri *uri = soup_message_get_uri (fetch->msg);
  g_autoptr(GError) error = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    g_set_error (&error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN,
                 "refused to connect to %s: its address is not known", g_uri_get_host (uri));
  else
    braid_address_policy_check (fetch->policy, g_uri_get_host (uri),
                                g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)),
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)), &error);
  if (error == NULL)
    return;
  g_debug ("%s", error->message);
  g_socket_close (g_socket_connection_get_socket (connection), NULL);
  /* GSocketClient may go on to the host's next address, checked in turn;
   * the first refusal is what the fetch reports if none is allowed. */
  if (fetch->refusal == NULL)
    fetch->refusal = g_steal_pointer (&error);
}

/* GSocketClient documents @connection at CONNECTING as a GSocketConnection
 * not yet connected, whose remote address is already set (GLib 2.40). */
static void
on_network_event (SoupMessage *msg, GSocketClientEvent event, GIOStream *connection, gpointer data)
{
  if (event == G_SOCKET_CLIENT_CONNECTING && G_IS_SOCKET_CONNECTION (connection))
    check_connection (data, G_SOCKET_CONNECTION (connection));
}

/* Only the fields the cache policy reads: the table stays small whatever
 * the upstream sends. */
static GHashTable *
policy_headers (SoupMessage *msg)
{
  static const gchar *const names[] = { BRAID_CACHE_POLICY_HEADERS };
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      /* soup joins a repeated field's values with ", " */
      const gchar *value = soup_message_headers_get_list (headers, names[i]);

      if (value != NULL)
        g_hash_table_insert (table, g_strdup (names[i]), g_strdup (value));
    }
  return table;
}

/* In the session's thread (or the caller's context without threads). */
static void
return_fetch (GTask *task, GInputStream *stream, GError *error)
{
  Fetch *fetch = g_task_get_task_data (task);

  braid_fetch_thread_hand_over_task (task);
  if (stream == NULL)
    {
      if (fetch->refusal != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_error_copy (fetch->refusal));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_error_copy (error));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT, "%s", error->message);
      else
        g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "%s", error->message);
      return;
    }
  if (fetch->thread != NULL)
    stream = braid_thread_input_stream_new (stream, fetch->thread, G_OBJECT (fetch->fetcher));
  g_task_return_pointer (task, stream, g_object_unref);
}

/* In the session's thread (or the caller's context without threads). */
static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  g_autoptr(GError) error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  Fetch *fetch = g_task_get_task_data (task);

  if (stream != NULL)
    {
      fetch->status = soup_message_get_status (fetch->msg);
      fetch->headers = policy_headers (fetch->msg);
    }
  fetch_release_message (fetch);
  return_fetch (task, stream, error);
  if (fetch->thread != NULL)
    braid_fetch_thread_release_task (task);  /* the last reference in the caller's context */
  else
    g_object_unref (task);
}

static gboolean
send_in_thread (gpointer data)
{
  GTask *task = data;
  Fetch *fetch = g_task_get_task_data (task);

  soup_session_send_async (fetch->session, fetch->msg, G_PRIORITY_DEFAULT,
                           braid_thread_cancellable_get (fetch->cancellable), on_sent, task);
  return G_SOURCE_REMOVE;
}

static void
soup_fetch_async (BraidFetcher *fetcher, const gchar *url, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  BraidSoupFetcher *self = BRAID_SOUP_FETCHER (fetcher);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  SoupMessage *msg;
  Fetch *fetch;
  guint i;

  g_task_set_source_tag (task, soup_fetch_async);
  msg = soup_message_new ("GET", url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST, "Not a URL libsoup can fetch: %s", url);
      g_object_unref (task);
      return;
    }
  i = next_session (self);
  fetch = g_new0 (Fetch, 1);
  fetch->fetcher = self;
  fetch->session = g_ptr_array_index (self->sessions, i);
  fetch->msg = msg;
  fetch->policy = braid_address_policy_ref (self->policy);
  g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), fetch);
  g_task_set_task_data (task, fetch, (GDestroyNotify) fetch_free);
  if (self->threads->len == 0)
    {
      soup_session_send_async (fetch->session, msg, G_PRIORITY_DEFAULT, cancellable, on_sent, task);
      return;
    }
  fetch->thread = g_ptr_array_index (self->threads, i % self->threads->len);
  fetch->cancellable = braid_thread_cancellable_new (fetch->thread, cancellable);
  braid_fetch_thread_invoke (fetch->thread, send_in_thread, task, NULL);
}

/* @status is never NULL here (braid_fetcher_fetch_finish sees to it). */
static GInputStream *
soup_fetch_finish (BraidFetcher *fetcher, GAsyncResult *result, guint *status, GError **error)
{
  GInputStream *stream;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == soup_fetch_async, NULL);

  braid_fetch_thread_take_over_task (G_TASK (result));
  stream = g_task_propagate_pointer (G_TASK (result), error);
  if (stream != NULL)
    *status = ((Fetch *) g_task_get_task_data (G_TASK (result)))->status;
  return stream;
}

/* The fields copied out when the fetch returned. */
static GHashTable *
soup_dup_response_headers (BraidFetcher *fetcher, GAsyncResult *result)
{
  Fetch *fetch;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == soup_fetch_async, NULL);

  braid_fetch_thread_take_over_task (G_TASK (result));
  fetch = g_task_get_task_data (G_TASK (result));
  return fetch->headers != NULL ? g_hash_table_ref (fetch->headers)
                                : g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
braid_soup_fetcher_iface_init (BraidFetcherInterface *iface)
{
  iface->fetch_async = soup_fetch_async;
  iface->fetch_finish = soup_fetch_finish;
  iface->dup_response_headers = soup_dup_response_headers;
}
