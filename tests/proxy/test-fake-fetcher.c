/* braid — the scripted fetcher on its own: when its answers and body
 * chunks become due on the fake clock, what its body streams hand back,
 * and what they let go of. */
#include "test-support.h"
#include "fake-fetcher.h"
#include "proxy-error.h"

#include <string.h>

#define URL "http://example.com/a"

typedef struct {
  BraidFakeReactor *fake;
  BraidFakeFetcher *fetcher;
} Fixture;

static void
fixture_init (Fixture *f)
{
  f->fake = braid_fake_reactor_new (1);
  f->fetcher = braid_fake_fetcher_new (BRAID_REACTOR (f->fake));
}

/* Every body stream is gone by now, so the fetcher and the reactor must
 * be released by everything they lent themselves to. */
static void
fixture_clear (Fixture *f)
{
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (f->fetcher), ==, 0);
  g_assert_finalize_object (f->fetcher);
  g_assert_finalize_object (f->fake);
}

static void
start_fetch (Fixture *f, const gchar *url, GAsyncResult **result)
{
  braid_fetcher_fetch_async (BRAID_FETCHER (f->fetcher), url, NULL, braid_test_store_result, result);
}

/* The body stream of an answered fetch (the result is released). */
static GInputStream *
finish_fetch (Fixture *f, GAsyncResult **result, guint expected_status)
{
  g_autoptr(GError) error = NULL;
  guint status = 0;
  GInputStream *stream;

  g_assert_nonnull (*result);
  stream = braid_fetcher_fetch_finish (BRAID_FETCHER (f->fetcher), *result, &status, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stream);
  g_assert_cmpuint (status, ==, expected_status);
  g_clear_object (result);
  return stream;
}

static GInputStream *
fetch_now (Fixture *f, const gchar *url)
{
  g_autoptr(GAsyncResult) result = NULL;

  start_fetch (f, url, &result);
  braid_fake_reactor_run_until_idle (f->fake);
  return finish_fetch (f, &result, 200);
}

static void
start_read (GInputStream *stream, guint8 *buffer, gsize size, GAsyncResult **result)
{
  g_input_stream_read_async (stream, buffer, size, G_PRIORITY_DEFAULT, NULL, braid_test_store_result, result);
}

static gssize
finish_read (GInputStream *stream, GAsyncResult **result)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  g_assert_nonnull (*result);
  n = g_input_stream_read_finish (stream, *result, &error);
  g_assert_no_error (error);
  g_clear_object (result);
  return n;
}

static void
test_one_byte_chunks (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GInputStream) stream = NULL;
  guint8 buffer[16];

  g_test_summary ("Chunks of one byte: the answer is due at its delay to the microsecond, the first "
                  "byte at once, each next one a chunk interval after the read before it, then EOF");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 5000, 1, 1000);
  start_fetch (&f, URL, &result);
  braid_fake_reactor_advance (f.fake, 4999);
  g_assert_null (result);
  braid_fake_reactor_advance (f.fake, 1);
  stream = finish_fetch (&f, &result, 200);

  start_read (stream, buffer, sizeof buffer, &result);
  braid_fake_reactor_run_until_idle (f.fake);
  g_assert_cmpint (finish_read (stream, &result), ==, 1);
  g_assert_cmpint (buffer[0], ==, 'a');

  for (const gchar *expected = "bc"; *expected != '\0'; expected++)
    {
      start_read (stream, buffer, sizeof buffer, &result);
      braid_fake_reactor_advance (f.fake, 999);
      g_assert_null (result);
      braid_fake_reactor_advance (f.fake, 1);
      g_assert_cmpint (finish_read (stream, &result), ==, 1);
      g_assert_cmpint (buffer[0], ==, *expected);
    }
  start_read (stream, buffer, sizeof buffer, &result);
  braid_fake_reactor_advance (f.fake, 1000);
  g_assert_cmpint (finish_read (stream, &result), ==, 0);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_read_finish_checks_the_stream (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GInputStream) first = NULL;
  g_autoptr(GInputStream) second = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buffer[16];

  g_test_summary ("A body stream refuses to finish a read another stream started, with a critical "
                  "and -1; the stream that started it still finishes it");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 0, 0, 0);
  first = fetch_now (&f, URL);
  second = fetch_now (&f, URL);
  start_read (first, buffer, sizeof buffer, &result);
  braid_fake_reactor_run_until_idle (f.fake);
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*g_task_is_valid*");
  g_assert_cmpint (g_input_stream_read_finish (second, result, &error), ==, -1);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpint (finish_read (first, &result), ==, 3);
  g_clear_object (&first);
  g_clear_object (&second);
  fixture_clear (&f);
}

static void
note_destroyed (gpointer data)
{
  (*(guint *) data)++;
}

static void
test_stream_lets_go (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  GInputStream *stream;
  guint destroyed = 0;

  g_test_summary ("A body stream, once released, is finalised in full (its object data freed), gives "
                  "back its place among the active fetches and its hold on the reactor");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 0, 0, 0);
  stream = fetch_now (&f, URL);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (f.fetcher), ==, 1);
  g_object_set_data_full (G_OBJECT (stream), "braid-test-note", &destroyed, note_destroyed);
  g_object_unref (stream);
  g_assert_cmpuint (destroyed, ==, 1);
  fixture_clear (&f);
}

static void
test_fail_after (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abcdef", 6);
  g_autoptr(GError) died = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "reset");
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GInputStream) at_once = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buffer[16];

  g_test_summary ("A body set to fail after n bytes hands over exactly n, however much was asked "
                  "for, then the error; set to fail after 0, it fails on the first read");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 0, 0, 0);
  braid_fake_fetcher_set_fail_after (f.fetcher, URL, 2, died);
  stream = fetch_now (&f, URL);
  start_read (stream, buffer, sizeof buffer, &result);
  braid_fake_reactor_run_until_idle (f.fake);
  g_assert_cmpint (finish_read (stream, &result), ==, 2);
  g_assert_cmpmem (buffer, 2, "ab", 2);
  start_read (stream, buffer, sizeof buffer, &result);
  braid_fake_reactor_run_until_idle (f.fake);
  g_assert_cmpint (g_input_stream_read_finish (stream, result, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);
  g_clear_object (&result);

  braid_fake_fetcher_set_fail_after (f.fetcher, URL, 0, died);
  at_once = fetch_now (&f, URL);
  g_assert_cmpint (g_input_stream_read (at_once, buffer, sizeof buffer, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_object (&stream);
  g_clear_object (&at_once);
  fixture_clear (&f);
}

static void
test_redirect_delays_add_up (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GInputStream) stream = NULL;

  g_test_summary ("A redirect's delay and its target's add up, to the microsecond; each hop counts "
                  "as one fetch of its own URL");
  fixture_init (&f);
  braid_fake_fetcher_add_redirect (f.fetcher, URL, "http://example.com/b", 1000);
  braid_fake_fetcher_add (f.fetcher, "http://example.com/b", 203, body, 2000, 0, 0);
  start_fetch (&f, URL, &result);
  braid_fake_reactor_advance (f.fake, 2999);
  g_assert_null (result);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (f.fetcher, URL), ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (f.fetcher, "http://example.com/b"), ==, 1);
  braid_fake_reactor_advance (f.fake, 1);
  stream = finish_fetch (&f, &result, 203);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_cancelled_before_due (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_test_summary ("A fetch cancelled before its answer is due ends cancelled when it falls due, "
                  "is counted as cancelled, and opens no body");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 1000, 0, 0);
  braid_fetcher_fetch_async (BRAID_FETCHER (f.fetcher), URL, cancellable, braid_test_store_result, &result);
  g_cancellable_cancel (cancellable);
  braid_fake_reactor_advance (f.fake, 999);
  g_assert_null (result);
  g_assert_cmpuint (braid_fake_fetcher_get_n_cancelled (f.fetcher), ==, 0);
  braid_fake_reactor_advance (f.fake, 1);
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (f.fetcher), result, &status, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (braid_fake_fetcher_get_n_cancelled (f.fetcher), ==, 1);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (f.fetcher), ==, 0);
  g_clear_object (&result);
  fixture_clear (&f);
}

static void
test_headers_join (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) with = NULL;
  g_autoptr(GAsyncResult) without = NULL;
  g_autoptr(GHashTable) headers = NULL;
  g_autoptr(GInputStream) stream = NULL;

  g_test_summary ("Header fields are named in lower case and a repeated one is joined with \", \"; "
                  "an answer set no field has no table");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 0, 0, 0);
  braid_fake_fetcher_add (f.fetcher, "http://example.com/b", 200, body, 0, 0, 0);
  braid_fake_fetcher_add_header (f.fetcher, URL, "Vary", "Accept");
  braid_fake_fetcher_add_header (f.fetcher, URL, "VARY", "Origin");
  start_fetch (&f, URL, &with);
  start_fetch (&f, "http://example.com/b", &without);
  braid_fake_reactor_run_until_idle (f.fake);
  headers = braid_fetcher_dup_response_headers (BRAID_FETCHER (f.fetcher), with);
  g_assert_nonnull (headers);
  g_assert_cmpuint (g_hash_table_size (headers), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (headers, "vary"), ==, "Accept, Origin");
  g_assert_null (braid_fetcher_dup_response_headers (BRAID_FETCHER (f.fetcher), without));
  stream = finish_fetch (&f, &with, 200);
  g_clear_object (&stream);
  stream = finish_fetch (&f, &without, 200);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_refused_at_once (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_test_summary ("A connection the address policy refuses (a host that resolves to loopback) fails "
                  "at once, without the script's delay, and is not counted as a fetch");
  fixture_init (&f);
  braid_fake_fetcher_set_host_address (f.fetcher, "Internal.Example", "127.0.0.1");
  braid_fake_fetcher_add (f.fetcher, "http://internal.example/", 200, body, 5000, 0, 0);
  start_fetch (&f, "http://internal.example/", &result);
  braid_fake_reactor_run_until_idle (f.fake);
  g_assert_nonnull (result);
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (f.fetcher), result, &status, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (f.fetcher, "http://internal.example/"), ==, 0);
  g_clear_object (&result);
  fixture_clear (&f);
}

static void
test_redirect_at_once (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GInputStream) stream = NULL;

  g_test_summary ("A redirect may be scripted with no delay: it is followed at once");
  fixture_init (&f);
  braid_fake_fetcher_add_redirect (f.fetcher, URL, "http://example.com/b", 0);
  braid_fake_fetcher_add (f.fetcher, "http://example.com/b", 200, body, 0, 0, 0);
  start_fetch (&f, URL, &result);
  braid_fake_reactor_run_until_idle (f.fake);
  stream = finish_fetch (&f, &result, 200);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (f.fetcher, URL), ==, 1);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_add_header_refuses_other_objects (void)
{
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);

  g_test_summary ("add_header() checks that it was given a fake fetcher before it looks at its "
                  "scripts");
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*BRAID_IS_FAKE_FETCHER (self)*");
  braid_fake_fetcher_add_header ((BraidFakeFetcher *) other, URL, "Vary", "Accept");
  g_test_assert_expected_messages ();
}

static void
test_fail_after_small_reads (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abcdef", 6);
  g_autoptr(GError) died = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "reset");
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buffer[2];

  g_test_summary ("Read two bytes at a time, a body set to fail after 5 hands over 2, 2, then the "
                  "1 left before the failure point, then the error");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 0, 0, 0);
  braid_fake_fetcher_set_fail_after (f.fetcher, URL, 5, died);
  stream = fetch_now (&f, URL);
  g_assert_cmpint (g_input_stream_read (stream, buffer, sizeof buffer, NULL, NULL), ==, 2);
  g_assert_cmpint (g_input_stream_read (stream, buffer, sizeof buffer, NULL, NULL), ==, 2);
  g_assert_cmpmem (buffer, 2, "cd", 2);
  g_assert_cmpint (g_input_stream_read (stream, buffer, sizeof buffer, NULL, NULL), ==, 1);
  g_assert_cmpint (buffer[0], ==, 'e');
  g_assert_cmpint (g_input_stream_read (stream, buffer, sizeof buffer, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_error_after_delay (void)
{
  Fixture f;
  g_autoptr(GError) refused = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "refused");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_test_summary ("A scripted error is answered at its delay, to the microsecond, and counts as a fetch");
  fixture_init (&f);
  braid_fake_fetcher_add_error (f.fetcher, URL, refused, 1000);
  start_fetch (&f, URL, &result);
  braid_fake_reactor_advance (f.fake, 999);
  g_assert_null (result);
  braid_fake_reactor_advance (f.fake, 1);
  g_assert_null (braid_fetcher_fetch_finish (BRAID_FETCHER (f.fetcher), result, &status, &error));
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM);
  g_assert_cmpstr (error->message, ==, "refused");
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (f.fetcher, URL), ==, 1);
  g_clear_object (&result);
  fixture_clear (&f);
}

static void
test_script_for_a_non_url (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GInputStream) stream = NULL;

  g_test_summary ("A script may be keyed by a string that is no URL: no connection is checked, and it "
                  "answers at its delay and counts as a fetch like any other");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, "no url at all", 200, body, 1000, 0, 0);
  start_fetch (&f, "no url at all", &result);
  braid_fake_reactor_advance (f.fake, 999);
  g_assert_null (result);
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (f.fetcher, "no url at all"), ==, 1);
  braid_fake_reactor_advance (f.fake, 1);
  stream = finish_fetch (&f, &result, 200);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_add_header_refuses_missing_parts (void)
{
  Fixture f;
  g_autoptr(GBytes) body = g_bytes_new_static ("abc", 3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GInputStream) stream = NULL;

  g_test_summary ("add_header() on a scripted URL refuses a missing name or value, with its own "
                  "check, and adds nothing");
  fixture_init (&f);
  braid_fake_fetcher_add (f.fetcher, URL, 200, body, 0, 0, 0);
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*value != NULL*");
  braid_fake_fetcher_add_header (f.fetcher, URL, NULL, "Accept");
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*value != NULL*");
  braid_fake_fetcher_add_header (f.fetcher, URL, "Vary", NULL);
  g_test_assert_expected_messages ();
  start_fetch (&f, URL, &result);
  braid_fake_reactor_run_until_idle (f.fake);
  g_assert_null (braid_fetcher_dup_response_headers (BRAID_FETCHER (f.fetcher), result));
  stream = finish_fetch (&f, &result, 200);
  g_clear_object (&stream);
  fixture_clear (&f);
}

static void
test_set_address_policy_refuses_other_objects (void)
{
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();

  g_test_summary ("set_address_policy() checks that it was given a fake fetcher before it touches "
                  "the policy it would replace");
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*BRAID_IS_FAKE_FETCHER (self)*");
  braid_fake_fetcher_set_address_policy ((BraidFakeFetcher *) other, policy);
  g_test_assert_expected_messages ();
}

static void
test_set_host_address_refuses_missing_parts (void)
{
  Fixture f;

  g_test_summary ("set_host_address() refuses a missing host or address with its own check, "
                  "before it parses anything");
  fixture_init (&f);
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*host != NULL && address != NULL*");
  braid_fake_fetcher_set_host_address (f.fetcher, "h", NULL);
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid-testing", G_LOG_LEVEL_CRITICAL, "*host != NULL && address != NULL*");
  braid_fake_fetcher_set_host_address (f.fetcher, NULL, "192.0.2.9");
  g_test_assert_expected_messages ();
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fake-fetcher/body/one-byte-chunks", test_one_byte_chunks);
  g_test_add_func ("/fake-fetcher/body/read-finish-checks-the-stream", test_read_finish_checks_the_stream);
  g_test_add_func ("/fake-fetcher/body/stream-lets-go", test_stream_lets_go);
  g_test_add_func ("/fake-fetcher/body/fail-after", test_fail_after);
  g_test_add_func ("/fake-fetcher/answer/redirect-delays-add-up", test_redirect_delays_add_up);
  g_test_add_func ("/fake-fetcher/answer/cancelled-before-due", test_cancelled_before_due);
  g_test_add_func ("/fake-fetcher/answer/headers-join", test_headers_join);
  g_test_add_func ("/fake-fetcher/answer/refused-at-once", test_refused_at_once);
  g_test_add_func ("/fake-fetcher/answer/redirect-at-once", test_redirect_at_once);
  g_test_add_func ("/fake-fetcher/preconditions/add-header-refuses-other-objects",
                   test_add_header_refuses_other_objects);
  g_test_add_func ("/fake-fetcher/body/fail-after-small-reads", test_fail_after_small_reads);
  g_test_add_func ("/fake-fetcher/answer/error-after-delay", test_error_after_delay);
  g_test_add_func ("/fake-fetcher/answer/script-for-a-non-url", test_script_for_a_non_url);
  g_test_add_func ("/fake-fetcher/preconditions/add-header-refuses-missing-parts",
                   test_add_header_refuses_missing_parts);
  g_test_add_func ("/fake-fetcher/preconditions/set-address-policy-refuses-other-objects",
                   test_set_address_policy_refuses_other_objects);
  g_test_add_func ("/fake-fetcher/preconditions/set-host-address-refuses-missing-parts",
                   test_set_host_address_refuses_missing_parts);
  return g_test_run ();
}
