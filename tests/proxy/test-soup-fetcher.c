/* braid — BraidSoupFetcher's connection limits, against a real SoupServer
 * on loopback that holds every request until the fetcher has sent all it
 * is going to send at once.
 *
 * With its defaults the fetcher sends hundreds of fetches to one host at
 * once (a proxy's burst of distinct URLs on one site must not wait in
 * libsoup's queue); with limits set, however the fetcher spreads its
 * fetches, never more than max-conns-per-host reach one host and never
 * more than max-conns in all.
 *
 * What a fetch answers and how it fails is checked twice: with the
 * sessions in threads of their own (the default) and in the caller's
 * context (threads 0, paths under in-loop/).  Then what the threads add:
 * cancellation hopping over, bodies read from the caller's thread, a body
 * that outlives its fetcher. */
#include "test-support.h"
#include "soup-fetcher.h"
#include "proxy-error.h"

#include <string.h>

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
  { "total-0-means-1", 0, 1024, 6, 1 },
  { "per-host-0-means-1", 1024, 0, 6, 1 },
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

/* ---- what a fetch answers, and how it fails ---- */

/* An upstream answering /page with a body and the header fields the cache
 * policy reads (one of them repeated) plus one it does not, /missing with
 * 404, holding /hang for ever, and sending /trickle's first chunk only.
 * Counts the requests it saw. */
typedef struct {
  SoupServer *server;
  guint16 port;
  guint n_requests;
  GPtrArray *hung;
} Origin;

static void
origin_handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  Origin *o = data;
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  o->n_requests++;
  if (g_str_equal (path, "/hang"))
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (o->hung, g_object_ref (msg));
      return;
    }
  if (g_str_equal (path, "/missing"))
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }
  if (g_str_equal (path, "/trickle"))
    {
      /* a first chunk, then nothing: the body never ends */
      soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC, "first", 5);
      g_ptr_array_add (o->hung, g_object_ref (msg));
      return;
    }
  soup_message_headers_append (h, "Cache-Control", "max-age=60");
  soup_message_headers_append (h, "Cache-Control", "public");
  soup_message_headers_append (h, "Vary", "Accept");
  soup_message_headers_append (h, "X-Other", "not for the policy");
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "the body", 8);
}

static void
origin_init (Origin *o)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = listening_socket ();
  GSList *uris;

  o->n_requests = 0;
  o->hung = g_ptr_array_new_with_free_func (g_object_unref);
  o->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (o->server, NULL, origin_handle, o, NULL);
  soup_server_listen_socket (o->server, socket, 0, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (o->server);
  o->port = (guint16) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
origin_clear (Origin *o)
{
  for (guint i = 0; i < o->hung->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (o->hung, i);

      soup_server_message_set_status (msg, 500, NULL);
      soup_server_message_unpause (msg);
    }
  g_ptr_array_unref (o->hung);
  soup_server_disconnect (o->server);
  g_object_unref (o->server);
}

/* A test's data: the fetcher's threads, 0 or the default. */
static const guint in_threads = 4;
static const guint in_loop = 0;

static BraidSoupFetcher *
fetcher_allowing_loopback (guint timeout_s, gconstpointer threads)
{
  BraidSoupFetcherOptions options = BRAID_SOUP_FETCHER_OPTIONS_INIT;
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();

  g_assert_cmpuint (options.threads, ==, in_threads);
  g_assert_true (braid_address_policy_allow (policy, "127.0.0.1", NULL));
  options.address_policy = policy;
  options.timeout_s = timeout_s;
  options.threads = *(const guint *) threads;
  options.use_proxy_resolver = TRUE;   /* no proxy */
  return braid_soup_fetcher_new (&options);
}

/* Fetches @url to the end of its headers: the stream, or NULL and *error. */
static GInputStream *
fetch_url (BraidSoupFetcher *fetcher, const gchar *url, GCancellable *cancellable, guint *status,
           GHashTable **headers, GError **error)
{
  g_autoptr(GAsyncResult) r = NULL;
  GInputStream *stream;

  braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), url, cancellable, braid_test_store_result, &r);
  braid_test_wait_for_result (NULL, &r, 20000);
  stream = braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), r, status, error);
  if (headers != NULL)
    *headers = stream != NULL ? braid_fetcher_dup_response_headers (BRAID_FETCHER (fetcher), r) : NULL;
  return stream;
}

static void
test_answers (gconstpointer data)
{
  Origin o;
  g_autoptr(BraidSoupFetcher) fetcher = fetcher_allowing_loopback (5, data);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GInputStream) missing = NULL;
  g_autoptr(GHashTable) headers = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *missing_url = NULL;
  guint status = 0;

  g_test_summary ("A fetch gives the status, the body, and exactly the header fields the cache "
                  "policy reads, names in lower case, a repeated field joined with \", \"");
  origin_init (&o);
  url = g_strdup_printf ("http://127.0.0.1:%u/page", o.port);
  stream = fetch_url (fetcher, url, NULL, &status, &headers, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  body = g_input_stream_read_bytes (stream, 100, NULL, &error);
  g_assert_no_error (error);
  braid_assert_bytes_equal_str ("the body", body);
  g_assert_nonnull (headers);
  g_assert_cmpstr (g_hash_table_lookup (headers, "cache-control"), ==, "max-age=60, public");
  g_assert_cmpstr (g_hash_table_lookup (headers, "vary"), ==, "Accept");
  g_assert_null (g_hash_table_lookup (headers, "x-other"));
  g_assert_null (g_hash_table_lookup (headers, "content-type"));
  g_assert_nonnull (g_hash_table_lookup (headers, "date"));   /* SoupServer's own */
  g_assert_cmpuint (g_hash_table_size (headers), ==, 3);

  missing_url = g_strdup_printf ("http://127.0.0.1:%u/missing", o.port);
  missing = fetch_url (fetcher, missing_url, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (missing);
  g_assert_cmpuint (status, ==, 404);
  g_clear_object (&stream);
  g_clear_object (&missing);
  origin_clear (&o);
}

static void
test_refused_by_policy (gconstpointer data)
{
  BraidSoupFetcherOptions options = BRAID_SOUP_FETCHER_OPTIONS_INIT;
  Origin o;
  g_autoptr(BraidSoupFetcher) fetcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *url = NULL;
  guint status = 7;

  g_test_summary ("With the default policy a loopback upstream is refused before any request "
                  "reaches it: FORBIDDEN with the policy's reason, status 0");
  options.threads = *(const guint *) data;
  fetcher = braid_soup_fetcher_new (&options);
  origin_init (&o);
  url = g_strdup_printf ("http://127.0.0.1:%u/page", o.port);
  g_assert_null (fetch_url (fetcher, url, NULL, &status, NULL, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_cmpuint (status, ==, 0);
  g_assert_cmpuint (o.n_requests, ==, 0);
  origin_clear (&o);
}

static void
test_failures (gconstpointer data)
{
  Origin o;
  g_autoptr(BraidSoupFetcher) fetcher = fetcher_allowing_loopback (1, data);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *closed = NULL;
  g_autofree gchar *hang = NULL;
  guint16 free_port = braid_test_find_free_port ();
  guint status = 0;

  g_test_summary ("How fetches fail: not a URL (BAD_REQUEST), a closed port (UPSTREAM), no answer "
                  "within the timeout (TIMED_OUT), the caller's cancel (CANCELLED)");
  origin_init (&o);
  g_assert_null (fetch_url (fetcher, "no scheme here", NULL, &status, NULL, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "Not a URL libsoup can fetch: no scheme here");
  g_clear_error (&error);

  closed = g_strdup_printf ("http://127.0.0.1:%u/", free_port);
  g_assert_null (fetch_url (fetcher, closed, NULL, &status, NULL, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM);
  g_clear_error (&error);

  hang = g_strdup_printf ("http://127.0.0.1:%u/hang", o.port);
  g_assert_null (fetch_url (fetcher, hang, NULL, &status, NULL, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  g_assert_null (fetch_url (fetcher, hang, cancellable, &status, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (status, ==, 0);
  origin_clear (&o);
}

/* ---- what the threads add ---- */

typedef struct {
  gboolean done;
  gssize n;
  GError *error;
  GThread *thread;     /* where the callback ran */
} ReadResult;

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  ReadResult *r = data;

  r->n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &r->error);
  r->thread = g_thread_self ();
  r->done = TRUE;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default context for @ms of real time. */
static void
wait_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, set_flag, &done);
  braid_test_wait_for_flag (NULL, &done, ms + 10000);
}

/* Iterates the default context until @o has seen a request. */
static void
wait_for_request (Origin *o)
{
  for (guint i = 0; i < 1000 && o->n_requests == 0; i++)
    wait_ms (10);
  g_assert_cmpuint (o->n_requests, >, 0);
}

static void
test_threads_cancel_fetch (void)
{
  Origin o;
  g_autoptr(BraidSoupFetcher) fetcher = fetcher_allowing_loopback (30, &in_threads);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *hang = NULL;
  guint status = 7;

  g_test_summary ("A fetch under way in a fetcher thread, cancelled from the caller's thread, ends at once "
                  "with CANCELLED, delivered in the caller's context");
  origin_init (&o);
  hang = g_strdup_printf ("http://127.0.0.1:%u/hang", o.port);
  braid_fetcher_fetch_async (BRAID_FETCHER (fetcher), hang, cancellable, braid_test_store_result, &r);
  wait_for_request (&o);
  g_assert_null (r);
  g_cancellable_cancel (cancellable);
  braid_test_wait_for_result (NULL, &r, 10000);
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), r, &status, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (status, ==, 0);
  origin_clear (&o);
}

static void
test_threads_cancel_read (void)
{
  Origin o;
  g_autoptr(BraidSoupFetcher) fetcher = fetcher_allowing_loopback (30, &in_threads);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *trickle = NULL;
  ReadResult first = { 0, }, second = { 0, };
  gchar buffer[64];
  guint status = 0;

  g_test_summary ("A body read from the caller's thread: each read completes in the caller's context; a read "
                  "waiting for bytes that never come ends with CANCELLED when the caller cancels");
  origin_init (&o);
  trickle = g_strdup_printf ("http://127.0.0.1:%u/trickle", o.port);
  stream = fetch_url (fetcher, trickle, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_input_stream_read_async (stream, buffer, sizeof buffer, G_PRIORITY_DEFAULT, cancellable, on_read, &first);
  braid_test_wait_for_flag (NULL, &first.done, 10000);
  g_assert_no_error (first.error);
  g_assert_cmpint (first.n, ==, 5);
  g_assert_true (first.thread == g_thread_self ());
  braid_assert_bytes_equal ("first", 5, buffer, (gsize) first.n);

  g_input_stream_read_async (stream, buffer, sizeof buffer, G_PRIORITY_DEFAULT, cancellable, on_read, &second);
  wait_ms (100);
  g_assert_false (second.done);
  g_cancellable_cancel (cancellable);
  braid_test_wait_for_flag (NULL, &second.done, 10000);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (second.thread == g_thread_self ());
  g_clear_error (&second.error);
  g_clear_object (&stream);
  origin_clear (&o);
}

static void
test_threads_body_outlives_fetcher (void)
{
  Origin o;
  BraidSoupFetcher *fetcher = fetcher_allowing_loopback (30, &in_threads);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *url = NULL;
  guint status = 0;

  g_test_summary ("A body stream keeps its fetcher (and the threads) alive: the caller may drop the fetcher "
                  "first and read on; the last of them stops the threads");
  origin_init (&o);
  url = g_strdup_printf ("http://127.0.0.1:%u/page", o.port);
  stream = fetch_url (fetcher, url, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_object_add_weak_pointer (G_OBJECT (fetcher), (gpointer *) &fetcher);
  g_object_unref (fetcher);
  g_assert_nonnull (fetcher);
  body = g_input_stream_read_bytes (stream, 100, NULL, &error);
  g_assert_no_error (error);
  braid_assert_bytes_equal_str ("the body", body);
  g_clear_object (&stream);
  /* the fetch's task and the last read's, released in this context by an
   * idle that their thread attaches after returning them */
  for (guint i = 0; i < 1000 && fetcher != NULL; i++)
    wait_ms (10);
  g_assert_null (fetcher);
  origin_clear (&o);
}

static void
test_refuses_foreign_result (void)
{
  g_autoptr(BraidSoupFetcher) fetcher = braid_soup_fetcher_new (NULL);
  g_autoptr(GTask) task = g_task_new (fetcher, NULL, NULL, NULL);   /* the fetcher's, not a fetch's */
  g_autoptr(GError) error = NULL;
  guint status = 7;

  g_test_summary ("The fetcher refuses to finish a result of its own that no fetch made: a critical, NULL, "
                  "status 0, no error");
  g_task_return_pointer (task, NULL, NULL);
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*source_tag*");
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (fetcher), G_ASYNC_RESULT (task), &status, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/soup-fetcher/defaults-send-a-burst-at-once", test_defaults_send_a_burst_at_once);
  g_test_add_data_func ("/proxy/soup-fetcher/answers", &in_threads, test_answers);
  g_test_add_data_func ("/proxy/soup-fetcher/refused-by-policy", &in_threads, test_refused_by_policy);
  g_test_add_data_func ("/proxy/soup-fetcher/failures", &in_threads, test_failures);
  g_test_add_data_func ("/proxy/soup-fetcher/in-loop/answers", &in_loop, test_answers);
  g_test_add_data_func ("/proxy/soup-fetcher/in-loop/refused-by-policy", &in_loop, test_refused_by_policy);
  g_test_add_data_func ("/proxy/soup-fetcher/in-loop/failures", &in_loop, test_failures);
  g_test_add_func ("/proxy/soup-fetcher/threads/cancel-fetch", test_threads_cancel_fetch);
  g_test_add_func ("/proxy/soup-fetcher/threads/cancel-read", test_threads_cancel_read);
  g_test_add_func ("/proxy/soup-fetcher/threads/body-outlives-fetcher", test_threads_body_outlives_fetcher);
  g_test_add_func ("/proxy/soup-fetcher/refuses-foreign-result", test_refuses_foreign_result);
  for (guint i = 0; i < G_N_ELEMENTS (limit_cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/proxy/soup-fetcher/limit/%s", limit_cases[i].name);

      g_test_add_data_func (path, &limit_cases[i], test_limit_holds);
    }
  return g_test_run ();
}
