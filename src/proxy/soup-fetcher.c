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

#include <libsoup/soup.h>

/* Each session holds at most this many connections, up to MAX_SESSIONS:
 * small enough that libsoup's per-message scans stay short. */
#define CONNECTIONS_PER_SESSION 64
#define MAX_SESSIONS 16

struct _BraidSoupFetcher
{
  GObject parent_instance;
  GPtrArray *sessions;           /* (owned) SoupSession *, at least one */
  guint next_session;            /* the one the next fetch goes to */
  BraidAddressPolicy *policy;    /* (owned) */
};

/* One fetch: its message, and why a connection was refused if one was. */
typedef struct {
  SoupMessage *msg;              /* (owned) */
  BraidAddressPolicy *policy;    /* (owned) */
  GError *refusal;               /* (owned) (nullable) */
} Fetch;

static void
fetch_free (Fetch *fetch)
{
  g_signal_handlers_disconnect_by_data (fetch->msg, fetch);
  g_object_unref (fetch->msg);
  braid_address_policy_unref (fetch->policy);
  g_clear_error (&fetch->refusal);
  g_free (fetch);
}

static void braid_soup_fetcher_iface_init (BraidFetcherInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidSoupFetcher, braid_soup_fetcher, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_FETCHER, braid_soup_fetcher_iface_init))

static void
braid_soup_fetcher_finalize (GObject *object)
{
  g_clear_pointer (&BRAID_SOUP_FETCHER (object)->sessions, g_ptr_array_unref);
  g_clear_pointer (&BRAID_SOUP_FETCHER (object)->policy, braid_address_policy_unref);
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

BraidSoupFetcher *
braid_soup_fetcher_new (const BraidSoupFetcherOptions *options)
{
  BraidSoupFetcher *self = g_object_new (BRAID_TYPE_SOUP_FETCHER, NULL);
  BraidSoupFetcherOptions defaults = BRAID_SOUP_FETCHER_OPTIONS_INIT;
  guint max_conns, max_conns_per_host, n;

  if (options == NULL)
    options = &defaults;
  max_conns = MAX (options->max_conns, 1u);
  max_conns_per_host = MAX (options->max_conns_per_host, 1u);
  n = session_count (max_conns, max_conns_per_host);
  self->sessions = g_ptr_array_new_full (n, g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      SoupSession *session = soup_session_new_with_options ("max-conns", share_of (max_conns, n, i),
                                                            "max-conns-per-host", share_of (max_conns_per_host, n, i),
                                                            "timeout", options->timeout_s,
                                                            "user-agent", options->user_agent != NULL
                                                                          ? options->user_agent
                                                                          : "braid-proxy/" PACKAGE_VERSION,
                                                            NULL);

      if (options->use_proxy_resolver)
        soup_session_set_proxy_resolver (session, options->proxy_resolver);
      g_ptr_array_add (self->sessions, session);
    }
  self->policy = options->address_policy != NULL ? braid_address_policy_ref (options->address_policy)
                                                 : braid_address_policy_new ();
  return self;
}

/* Round-robin: a burst to one host spreads evenly, and so do its limits. */
static SoupSession *
next_session (BraidSoupFetcher *self)
{
  SoupSession *session = g_ptr_array_index (self->sessions, self->next_session);

  self->next_session = (self->next_session + 1) % self->sessions->len;
  return session;
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

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  Fetch *fetch = g_task_get_task_data (task);

  if (stream == NULL)
    {
      if (fetch->refusal != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_error_copy (fetch->refusal));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT, "%s", error->message);
      else
        g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "%s", error->message);
      return;
    }
  /* The status stays on the message, in the task's data: finish reads it. */
  g_task_return_pointer (task, stream, g_object_unref);
}

static void
soup_fetch_async (BraidFetcher *fetcher, const gchar *url, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  BraidSoupFetcher *self = BRAID_SOUP_FETCHER (fetcher);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  SoupMessage *msg;
  Fetch *fetch;

  g_task_set_source_tag (task, soup_fetch_async);
  msg = soup_message_new ("GET", url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST, "Not a URL libsoup can fetch: %s", url);
      g_object_unref (task);
      return;
    }
  fetch = g_new0 (Fetch, 1);
  fetch->msg = msg;
  fetch->policy = braid_address_policy_ref (self->policy);
  g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), fetch);
  g_task_set_task_data (task, fetch, (GDestroyNotify) fetch_free);
  soup_session_send_async (next_session (self), msg, G_PRIORITY_DEFAULT, cancellable, on_sent, task);
}

/* @status is never NULL here (braid_fetcher_fetch_finish sees to it). */
static GInputStream *
soup_fetch_finish (BraidFetcher *fetcher, GAsyncResult *result, guint *status, GError **error)
{
  GInputStream *stream;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == soup_fetch_async, NULL);

  stream = g_task_propagate_pointer (G_TASK (result), error);
  if (stream != NULL)
    *status = soup_message_get_status (((Fetch *) g_task_get_task_data (G_TASK (result)))->msg);
  return stream;
}

/* Only the fields the cache policy reads: the table stays small whatever
 * the upstream sends. */
static GHashTable *
soup_dup_response_headers (BraidFetcher *fetcher, GAsyncResult *result)
{
  static const gchar *const names[] = { BRAID_CACHE_POLICY_HEADERS };
  SoupMessageHeaders *headers;
  GHashTable *table;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == soup_fetch_async, NULL);

  headers = soup_message_get_response_headers (((Fetch *) g_task_get_task_data (G_TASK (result)))->msg);
  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      /* soup joins a repeated field's values with ", " */
      const gchar *value = soup_message_headers_get_list (headers, names[i]);

      if (value != NULL)
        g_hash_table_insert (table, g_strdup (names[i]), g_strdup (value));
    }
  return table;
}

static void
braid_soup_fetcher_iface_init (BraidFetcherInterface *iface)
{
  iface->fetch_async = soup_fetch_async;
  iface->fetch_finish = soup_fetch_finish;
  iface->dup_response_headers = soup_dup_response_headers;
}
