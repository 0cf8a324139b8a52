/* braid — BraidSoupFetcher's connection limits, against a real SoupServer
 * on loopback that holds every request until the fetcher has sent all it
 * is going to send at once.
 *
 * With its defaults the fetcher sends hundreds of fetches to one host at
 * once (a proxy's burst of distinct URLs on one site must not wait in
 * libsoup's queue); with limits set, however the fetcher spreads its
 * fetches, never more than max-conns-per-host reach one host and never
 * more than max-conns in all. */
#include "test-support.h"
#include "soup-fetcher.h"

#include <libsoup/soup.h>

typedef struct {
  SoupServer *server;
  guint16 port;
  GPtrArray *held;        /* SoupServerMessage *, paused */
  guint peak;             /* most requests held at once */
  guint quiet_source;     /* releases the held requests when none arrives for a while */
  guint n_fetches, n_done, n_failed;
  gboolean done;
} Upstream;

static void
release_all (Upstream *u)
{
  for (guint i = 0; i < u->held->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (u->held, i);

      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "held", 4);
      soup_server_message_unpause (msg);
    }
  g_ptr_array_set_size (u->held, 0);
}

static gboolean
on_quiet (gpointer data)
{
  Upstream *u = data;

  u->quiet_source = 0;
  release_all (u);
  return G_SOURCE_REMOVE;
}

/* Holds each request; once no new one has come for 300 ms, the fetcher
 * has sent all it will send at once: they are answered together. */
static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  Upstream *u = data;

  soup_server_message_pause (msg);
  g_ptr_array_add (u->held, g_object_ref (msg));
  u->peak = MAX (u->peak, u->held->len);
  g_clear_handle_id (&u->quiet_source, g_source_remove);
  u->quiet_source = g_timeout_add (300, on_quiet, u);
}

/* On 127.0.0.1, with a backlog for every fetch at once: GSocket's default
 * (10) would drop the SYNs of a burst, and their retransmission a second
 * later would pass for the fetcher holding them back. */
static GSocket *
listening_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_set_listen_backlog (socket, 1024);
  g_assert_true (g_socket_bind (socket, address, TRUE, &error));
  g_assert_true (g_socket_listen (socket, &error));
  return socket;
}

static void
upstream_init (Upstream *u, guint n_fetches)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  GSList *uris;

  u->held = g_ptr_array_new_with_free_func (g_object_unref);
  u->n_fetches = n_fetches;
  u->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (u->server, NULL, handle, u, NULL);
  socket = listening_socket ();
  soup_server_listen_socket (u->server, socket, 0, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (u->server);
  u->port = (guint16) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
upstream_clear (Upstream *u)
{
  g_clear_handle_id (&u->quiet_source, g_source_remove);
  release_all (u);
  g_ptr_array_unref (u->held);
  soup_server_disconnect (u->server);
  g_object_unref (u->server);
}

static void
count_done (Upstream *u, gboolean ok)
{
  u->n_done++;
  if (!ok)
    u->n_failed++;
  u->done = u->n_done == u->n_fetches;
}

static void
on_body (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GBytes) body = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);

  count_done (data, body != NULL && g_bytes_get_size (body) == 4);
  g_object_unref (source);
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  guint status = 0;
  GInputStream *stream = braid_fetcher_fetch_finish (BRAID_FETCHER (source), result, &status, NULL);

  if (stream == NULL)
    {
      count_done (data, FALSE);
      return;
    }
  g_input_stream_read_bytes_async (stream, 64, G_PRIORITY_DEFAULT, NULL, on_body, data);
}

/* Fetches @n_fetches distinct URLs of one host at once; returns the most
 * the upstream held at once. */
static guint
fetch_all_at_once (const BraidSoupFetcherOptions *limits, guint n_fetches)
{
  BraidSoupFetcherOptions options = *limits;
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
  g_autoptr(BraidSoupFetcher) fetcher = NULL;
  Upstream u = { 0 };

  upstream_init (&u, n_fetches);
  g_assert_true (braid_address_policy_allow (policy, "127.0.0.1", NULL));
  options.address_policy = policy;
  fetcher = braid_soup_fetcher_new (&options);
  for (guint i = 0; i < n_fetches; i++)
    {
      g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/held/%u", u.port, i);

      braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), url, NULL, on_fetched, &u);
    }
  braid_test_wait_for_flag (NULL, &u.done, 60000);
  g_assert_cmpuint (u.n_failed, ==, 0);
  upstream_clear (&u);
  return u.peak;
}

/* The defaults let a burst of 300 fetches to one host out at once (the
 * old per-host default, 256, queued the rest for a whole round trip). */
static void
test_defaults_send_a_burst_at_once (void)
{
  BraidSoupFetcherOptions options = BRAID_SOUP_FETCHER_OPTIONS_INIT;

  g_assert_cmpuint (fetch_all_at_once (&options, 300), ==, 300);
}

typedef struct {
  const gchar *name;
  guint max_conns, max_conns_per_host, n_fetches, expected_peak;
} LimitCase;

static const LimitCase limit_cases[] = {
  { "per-host-5", 1024, 5, 40, 5 },
  { "per-host-1", 1024, 1, 6, 1 },
  { "per-host-37", 1024, 37, 120, 37 },
  { "total-5", 5, 1024, 40, 5 },
  { "total-23", 23, 1024, 80, 23 },
};

static void
test_limit_holds (gconstpointer data)
{
  const LimitCase *c = data;
  BraidSoupFetcherOptions options = BRAID_SOUP_FETCHER_OPTIONS_INIT;

  options.max_conns = c->max_conns;
  options.max_conns_per_host = c->max_conns_per_host;
  g_assert_cmpuint (fetch_all_at_once (&options, c->n_fetches), ==, c->expected_peak);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/soup-fetcher/defaults-send-a-burst-at-once", test_defaults_send_a_burst_at_once);
  for (guint i = 0; i < G_N_ELEMENTS (limit_cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/proxy/soup-fetcher/limit/%s", limit_cases[i].name);

      g_test_add_data_func (path, &limit_cases[i], test_limit_holds);
    }
  return g_test_run ();
}
