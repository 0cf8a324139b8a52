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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fake-fetcher/body/one-byte-chunks", test_one_byte_chunks);
  g_test_add_func ("/fake-fetcher/body/read-finish-checks-the-stream", test_read_finish_checks_the_stream);
  g_test_add_func ("/fake-fetcher/body/stream-lets-go", test_stream_lets_go);
  return g_test_run ();
}
