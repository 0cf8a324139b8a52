/* braid — the fetch deadline on its own: a scripted fetcher under it, the
 * fake reactor's clock, and the body read the three ways GInputStream
 * allows (async, sync, and after the deadline). */
#include "test-support.h"
#include "fake-fetcher.h"
#include "deadline-fetcher-private.h"
#include "proxy-error.h"

#include <string.h>

#define URL "http://example.com/a"
#define SECOND G_USEC_PER_SEC

typedef struct {
  BraidFakeReactor *fake;
  BraidFakeFetcher *inner;
  BraidDeadlineFetcher *fetcher;
  guint64 expired;
} Fixture;

static void
fixture_init (Fixture *f, gint64 timeout_us)
{
  f->fake = braid_fake_reactor_new (1);
  f->inner = braid_fake_fetcher_new (BRAID_REACTOR (f->fake));
  f->expired = 0;
  f->fetcher = braid_deadline_fetcher_new (BRAID_FETCHER (f->inner), BRAID_REACTOR (f->fake), timeout_us,
                                           &f->expired);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_object (&f->fetcher);
  braid_fake_reactor_run_until_idle (f->fake);
  g_clear_object (&f->inner);
  braid_fake_reactor_run_until_idle (f->fake);
  g_clear_object (&f->fake);
}

static GBytes *
body_of (gsize n)
{
  gchar *data = g_malloc (n);

  for (gsize i = 0; i < n; i++)
    data[i] = (gchar) ('a' + i % 26);
  return g_bytes_new_take (data, n);
}

/* Starts a fetch and runs the clock until it is answered; returns the
 * stream, or NULL with *error. */
static GInputStream *
fetch (Fixture *f, GCancellable *cancellable, guint *status, GHashTable **headers, GError **error)
{
  g_autoptr(GAsyncResult) r = NULL;
  GInputStream *stream;

  braid_fetcher_fetch_async (BRAID_FETCHER (f->fetcher), URL, cancellable, braid_test_store_result, &r);
  while (r == NULL)
    braid_fake_reactor_advance (f->fake, SECOND / 10);
  stream = braid_fetcher_fetch_finish (BRAID_FETCHER (f->fetcher), r, status, error);
  if (headers != NULL)
    *headers = braid_fetcher_dup_response_headers (BRAID_FETCHER (f->fetcher), r);
  return stream;
}

/* One async read of up to @count bytes, the clock run @step at a time
 * until it completes. */
static gssize
read_async (Fixture *f, GInputStream *stream, guint8 *buffer, gsize count, GError **error)
{
  g_autoptr(GAsyncResult) r = NULL;

  g_input_stream_read_async (stream, buffer, count, G_PRIORITY_DEFAULT, NULL, braid_test_store_result, &r);
  braid_fake_reactor_run_until_idle (f->fake);
  while (r == NULL)
    braid_fake_reactor_advance (f->fake, SECOND / 10);
  return g_input_stream_read_finish (stream, r, error);
}

static void
test_in_time (void)
{
  Fixture f;
  g_autoptr(GBytes) body = body_of (1000);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GHashTable) headers = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) got = g_byte_array_new ();
  guint8 buffer[300];
  guint status = 0;
  gssize n;

  g_test_summary ("A fetch over in time passes its status, headers and whole body through, then "
                  "leaves no timer behind and never counts as expired");
  fixture_init (&f, 5 * SECOND);
  braid_fake_fetcher_add (f.inner, URL, 203, body, SECOND, 250, SECOND / 2);
  braid_fake_fetcher_add_header (f.inner, URL, "Cache-Control", "max-age=60");
  stream = fetch (&f, NULL, &status, &headers, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 203);
  g_assert_nonnull (headers);
  g_assert_cmpstr (g_hash_table_lookup (headers, "cache-control"), ==, "max-age=60");
  while ((n = read_async (&f, stream, buffer, sizeof buffer, &error)) > 0)
    g_byte_array_append (got, buffer, (guint) n);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  braid_assert_bytes_equal (g_bytes_get_data (body, NULL), g_bytes_get_size (body), got->data, got->len);
  g_assert_true (g_input_stream_close (stream, NULL, &error));
  g_assert_no_error (error);
  braid_fake_reactor_advance (f.fake, 10 * SECOND);
  g_assert_cmpuint (f.expired, ==, 0);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (f.fake), ==, 0);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_headers_late (void)
{
  Fixture f;
  g_autoptr(GBytes) body = body_of (10);
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stream = NULL;
  guint status = 99;

  g_test_summary ("No answer by the deadline: the fetch fails exactly then with TIMED_OUT, counted "
                  "once, and the inner fetch is cancelled");
  fixture_init (&f, 2 * SECOND);
  braid_fake_fetcher_add (f.inner, URL, 200, body, 5 * SECOND, 0, 0);
  braid_fetcher_fetch_async (BRAID_FETCHER (f.fetcher), URL, NULL, braid_test_store_result, &r);
  braid_fake_reactor_advance (f.fake, 2 * SECOND - 1);
  g_assert_null (r);
  g_assert_cmpuint (f.expired, ==, 0);
  braid_fake_reactor_advance (f.fake, 1);
  g_assert_nonnull (r);
  stream = braid_fetcher_fetch_finish (BRAID_FETCHER (f.fetcher), r, &status, &error);
  g_assert_null (stream);
  g_assert_cmpuint (status, ==, 0);
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, "the fetch took over 2.0 s (the fetch timeout)");
  g_assert_cmpuint (f.expired, ==, 1);
  braid_fake_reactor_advance (f.fake, 10 * SECOND);
  g_assert_cmpuint (f.expired, ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (f.inner), ==, 0);
  /* the inner fetch was cancelled at the deadline: when its answer was
   * due, it ended cancelled instead of handing over a body nobody reads */
  g_assert_cmpuint (braid_fake_fetcher_get_n_cancelled (f.inner), ==, 1);
  g_clear_object (&stream);  /* the fake's streams must not outlive it */
  fixture_clear (&f);
}

static void
test_body_late (void)
{
  Fixture f;
  g_autoptr(GBytes) body = body_of (100);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buffer[10];
  gssize n;
  guint status = 0;

  g_test_summary ("A body still coming at the deadline: the pending read fails then, and every read "
                  "after it, async or sync, fails at once with the same error");
  fixture_init (&f, 3 * SECOND);
  /* headers at 1 s, then 10 bytes a second: 10 s for the body */
  braid_fake_fetcher_add (f.inner, URL, 200, body, SECOND, 10, SECOND);
  stream = fetch (&f, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  /* the sync read works before the deadline */
  n = g_input_stream_read (stream, buffer, sizeof buffer, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 0);
  while ((n = read_async (&f, stream, buffer, sizeof buffer, &error)) > 0)
    ;
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT);
  g_assert_cmpint (braid_reactor_now (BRAID_REACTOR (f.fake)), ==, 3 * SECOND);
  g_clear_error (&error);
  g_assert_cmpuint (f.expired, ==, 1);

  n = read_async (&f, stream, buffer, sizeof buffer, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT);
  g_clear_error (&error);
  n = g_input_stream_read (stream, buffer, sizeof buffer, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, "the fetch took over 3.0 s (the fetch timeout)");
  g_clear_error (&error);
  g_assert_cmpuint (f.expired, ==, 1);
  g_clear_object (&stream);  /* the fake's streams must not outlive it */
  fixture_clear (&f);
}

static void
test_sync_read_to_end (void)
{
  Fixture f;
  g_autoptr(GBytes) body = body_of (64);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buffer[128];
  gsize total = 0;
  gssize n;
  guint status = 0;

  g_test_summary ("A body read to its end with sync reads disarms the deadline too");
  fixture_init (&f, 2 * SECOND);
  braid_fake_fetcher_add (f.inner, URL, 200, body, 0, 0, 0);
  stream = fetch (&f, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  while ((n = g_input_stream_read (stream, buffer + total, sizeof buffer - total, NULL, &error)) > 0)
    total += (gsize) n;
  g_assert_no_error (error);
  g_assert_cmpuint (total, ==, 64);
  g_assert_cmpmem (buffer, 64, g_bytes_get_data (body, NULL), 64);
  braid_fake_reactor_advance (f.fake, 5 * SECOND);
  g_assert_cmpuint (f.expired, ==, 0);
  g_clear_object (&stream);  /* the fake's streams must not outlive it */
  fixture_clear (&f);
}

static void
test_close_async (void)
{
  Fixture f;
  g_autoptr(GBytes) body = body_of (64);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_test_summary ("close_async closes at once, in the reactor's thread, and disarms the deadline");
  fixture_init (&f, 2 * SECOND);
  braid_fake_fetcher_add (f.inner, URL, 200, body, 0, 0, 0);
  stream = fetch (&f, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, braid_test_store_result, &r);
  braid_fake_reactor_run_until_idle (f.fake);
  g_assert_nonnull (r);
  g_assert_true (g_input_stream_close_finish (stream, r, &error));
  g_assert_no_error (error);
  g_assert_true (g_input_stream_is_closed (stream));
  braid_fake_reactor_advance (f.fake, 5 * SECOND);
  g_assert_cmpuint (f.expired, ==, 0);
  g_clear_object (&stream);  /* the fake's streams must not outlive it */
  g_clear_object (&r);       /* it holds the stream too */
  fixture_clear (&f);
}

static void
test_caller_cancels (void)
{
  Fixture f;
  g_autoptr(GBytes) body = body_of (10);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) r = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_test_summary ("The caller's cancellable cancels the fetch: CANCELLED, not a timeout, not counted");
  fixture_init (&f, 2 * SECOND);
  braid_fake_fetcher_add (f.inner, URL, 200, body, SECOND, 0, 0);
  braid_fetcher_fetch_async (BRAID_FETCHER (f.fetcher), URL, cancellable, braid_test_store_result, &r);
  braid_fake_reactor_advance (f.fake, SECOND / 2);
  g_cancellable_cancel (cancellable);
  while (r == NULL)
    braid_fake_reactor_advance (f.fake, SECOND / 10);
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (f.fetcher), r, &status, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  braid_fake_reactor_advance (f.fake, 5 * SECOND);
  g_assert_cmpuint (f.expired, ==, 0);
  fixture_clear (&f);
}

static void
test_inner_error (void)
{
  Fixture f;
  g_autoptr(GError) upstream = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "refused");
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_test_summary ("An inner failure before the deadline is passed on as it is");
  fixture_init (&f, 2 * SECOND);
  braid_fake_fetcher_add_error (f.inner, URL, upstream, SECOND);
  g_assert_null (fetch (&f, NULL, &status, NULL, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM);
  g_assert_cmpstr (error->message, ==, "refused");
  braid_fake_reactor_advance (f.fake, 5 * SECOND);
  g_assert_cmpuint (f.expired, ==, 0);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/deadline/in-time", test_in_time);
  g_test_add_func ("/proxy/deadline/headers-late", test_headers_late);
  g_test_add_func ("/proxy/deadline/body-late", test_body_late);
  g_test_add_func ("/proxy/deadline/sync-read-to-end", test_sync_read_to_end);
  g_test_add_func ("/proxy/deadline/close-async", test_close_async);
  g_test_add_func ("/proxy/deadline/caller-cancels", test_caller_cancels);
  g_test_add_func ("/proxy/deadline/inner-error", test_inner_error);
  return g_test_run ();
}
