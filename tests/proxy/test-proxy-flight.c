/* braid — a flight on its own: the fake fetcher under it, scripted clients
 * whose backlog the test sets, and the fake reactor's clock.  What the
 * proxy tests see only through sockets is checked here to the byte and
 * the call: late joiners, clients leaving, laggards cut off at exactly
 * client_buffer_limit, back pressure, keeping for the cache at its
 * limits, every way a flight ends, and what it releases. */
#include "test-support.h"
#include "fake-fetcher.h"
#include "proxy-flight-private.h"
#include "proxy-error.h"

#include <string.h>

#define URL "http://up.example/a"
#define MS ((gint64) 1000)

/* ---- a scripted client ---- */

typedef struct {
  GByteArray *received;
  GPtrArray *chunks;       /* (element-type GBytes): as written, to see sharing */
  gsize backlog;           /* what get_backlog() answers */
  gboolean finished;
  guint status;
  gchar *problem;          /* (nullable) */
  guint n_destroyed;
} TestClient;

static void
test_client_init (TestClient *c)
{
  memset (c, 0, sizeof *c);
  c->received = g_byte_array_new ();
  c->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
test_client_clear (TestClient *c)
{
  g_byte_array_unref (c->received);
  g_ptr_array_unref (c->chunks);
  g_free (c->problem);
}

static void
client_write (gpointer client, GBytes *chunk)
{
  TestClient *c = client;
  gsize len;
  const guint8 *data = g_bytes_get_data (chunk, &len);

  g_assert_false (c->finished);
  g_byte_array_append (c->received, data, (guint) len);
  g_ptr_array_add (c->chunks, g_bytes_ref (chunk));
}

static gsize
client_get_backlog (gpointer client)
{
  return ((TestClient *) client)->backlog;
}

static void
client_finish (gpointer client, guint status, const gchar *problem)
{
  TestClient *c = client;

  g_assert_false (c->finished);
  c->finished = TRUE;
  c->status = status;
  c->problem = g_strdup (problem);
}

static void
client_destroyed (gpointer client)
{
  ((TestClient *) client)->n_destroyed++;
}

static const BraidProxyFlightClientFuncs client_funcs = { client_write, client_get_backlog, client_finish };

/* ---- the world: a fake reactor, a fake fetcher, the owner's view ---- */

typedef struct {
  BraidFakeReactor *fake;
  BraidFakeFetcher *fetcher;
  BraidProxyStats stats;
  BraidProxyFlightLimits limits;
  BraidProxyFlight *flight;     /* (nullable): until done */
  guint n_done;
  BraidProxyFlightResult result;
  /* Read in the done callback, as the proxy does. */
  gchar *url_at_done;
  guint status_at_done;
  gsize size_at_done;
  gsize held_at_done;
  gboolean whole_at_done;
  gboolean joinable_at_done;
  GBytes *body_at_done;         /* (nullable): when whole */
  gchar *header_at_done;        /* (nullable): cache-control */
  TestClient *join_at_done;     /* (nullable): added in the callback */
} World;

static void
world_open (World *w)
{
  memset (w, 0, sizeof *w);
  w->fake = braid_fake_reactor_new (1);
  w->fetcher = braid_fake_fetcher_new (BRAID_REACTOR (w->fake));
  w->limits.max_body = 1024;
  w->limits.read_chunk = 4096;
  w->limits.client_buffer_limit = 10;
  w->limits.keep_limit = 0;
  w->limits.max_buffered = 0;
  w->limits.stats = &w->stats;
}

/* Every flight is over: no timer, no fetch, no byte held, and nothing
 * but the test holds the fetcher. */
static void
world_close (World *w)
{
  gpointer fetcher = w->fetcher;

  braid_fake_reactor_run_all_timers (w->fake, 3600 * (gint64) G_USEC_PER_SEC);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w->fake), ==, 0);
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (w->fetcher), ==, 0);
  g_assert_cmpuint (w->stats.buffered, ==, 0);
  g_object_add_weak_pointer (G_OBJECT (w->fetcher), &fetcher);
  g_clear_object (&w->fetcher);
  g_assert_null (fetcher);
  g_clear_object (&w->fake);
  g_free (w->url_at_done);
  g_free (w->header_at_done);
  g_clear_pointer (&w->body_at_done, g_bytes_unref);
}

static void
on_done (BraidProxyFlight *flight, BraidProxyFlightResult result, gpointer data)
{
  World *w = data;
  GHashTable *headers = braid_proxy_flight_get_response_headers (flight);

  g_assert_true (flight == w->flight);
  w->n_done++;
  w->result = result;
  w->url_at_done = g_strdup (braid_proxy_flight_get_url (flight));
  w->status_at_done = braid_proxy_flight_get_status (flight);
  w->size_at_done = braid_proxy_flight_get_size (flight);
  w->held_at_done = braid_proxy_flight_get_held (flight);
  w->whole_at_done = braid_proxy_flight_has_whole_body (flight);
  w->joinable_at_done = braid_proxy_flight_is_joinable (flight);
  if (w->whole_at_done)
    w->body_at_done = braid_proxy_flight_dup_body (flight);
  if (headers != NULL)
    w->header_at_done = g_strdup (g_hash_table_lookup (headers, "cache-control"));
  if (w->join_at_done != NULL)
    {
      BraidCriticalCounter counter;

      /* Nobody may join a flight that is over: a critical, and nothing
       * written to the client. */
      braid_test_count_criticals_begin (&counter);
      BRAID_EXPECT_CRITICAL (braid_proxy_flight_add_client (flight, &client_funcs, w->join_at_done,
                                                            client_destroyed));
      braid_test_count_criticals_end (&counter);
    }
  w->flight = NULL;
}

static void
world_start (World *w)
{
  w->flight = braid_proxy_flight_start (BRAID_FETCHER (w->fetcher), URL, &w->limits, on_done, w);
  g_assert_nonnull (w->flight);
}

static void
world_join (World *w, TestClient *c)
{
  g_assert_true (braid_proxy_flight_is_joinable (w->flight));
  braid_proxy_flight_add_client (w->flight, &client_funcs, c, client_destroyed);
}

static GBytes *
body_of (gsize n)
{
  gchar *data = g_malloc (n);

  for (gsize i = 0; i < n; i++)
    data[i] = (gchar) ('a' + i % 26);
  return g_bytes_new_take (data, n);
}

static void
assert_received (TestClient *c, GBytes *body, gsize n)
{
  braid_assert_bytes_equal (g_bytes_get_data (body, NULL), n, c->received->data, c->received->len);
}

/* ---- tests ---- */

static void
test_whole_body_kept (void)
{
  World w;
  TestClient first, late;
  g_autoptr(GBytes) body = body_of (6);

  g_test_summary ("A flight that keeps its body: a late joiner first gets the very chunks already held, then "
                  "each new one; at the end the owner reads the URL, status, headers and the whole body "
                  "(three chunks joined), every client finishes cleanly and is released once, and the flight "
                  "lets go of its fetcher");
  world_open (&w);
  test_client_init (&first);
  test_client_init (&late);
  w.limits.keep_limit = 100;
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, 5 * MS, 2, MS);
  braid_fake_fetcher_add_header (w.fetcher, URL, "Cache-Control", "max-age=60");
  world_start (&w);
  world_join (&w, &first);
  g_assert_null (braid_proxy_flight_get_response_headers (w.flight));
  g_assert_cmpuint (braid_proxy_flight_get_status (w.flight), ==, 0);

  braid_fake_reactor_advance (w.fake, 5 * MS);
  g_assert_cmpuint (braid_proxy_flight_get_status (w.flight), ==, 200);
  braid_fake_reactor_advance (w.fake, MS);
  g_assert_cmpuint (first.received->len, ==, 4);
  g_assert_cmpuint (braid_proxy_flight_get_held (w.flight), ==, 4);
  g_assert_cmpuint (w.stats.buffered, ==, 4);
  world_join (&w, &late);
  g_assert_cmpuint (late.chunks->len, ==, 2);
  g_assert_true (g_ptr_array_index (late.chunks, 0) == g_ptr_array_index (first.chunks, 0));
  g_assert_true (g_ptr_array_index (late.chunks, 1) == g_ptr_array_index (first.chunks, 1));

  braid_fake_reactor_advance (w.fake, 10 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_COMPLETE);
  g_assert_cmpstr (w.url_at_done, ==, URL);
  g_assert_cmpuint (w.status_at_done, ==, 200);
  g_assert_cmpuint (w.size_at_done, ==, 6);
  g_assert_cmpuint (w.held_at_done, ==, 6);
  g_assert_true (w.whole_at_done);
  g_assert_false (w.joinable_at_done);
  braid_assert_bytes_equal_str ("abcdef", w.body_at_done);
  g_assert_cmpstr (w.header_at_done, ==, "max-age=60");
  assert_received (&first, body, 6);
  assert_received (&late, body, 6);
  g_assert_true (g_ptr_array_index (late.chunks, 2) == g_ptr_array_index (first.chunks, 2));
  g_assert_true (first.finished && late.finished);
  g_assert_cmpuint (first.status, ==, 200);
  g_assert_null (first.problem);
  g_assert_null (late.problem);
  g_assert_cmpuint (first.n_destroyed, ==, 1);
  g_assert_cmpuint (late.n_destroyed, ==, 1);
  g_assert_cmpuint (w.stats.buffered, ==, 0);
  world_close (&w);
  test_client_clear (&first);
  test_client_clear (&late);
}

static void
test_one_chunk_body_is_the_chunk (void)
{
  World w;
  TestClient c;
  g_autoptr(GBytes) body = body_of (5);

  g_test_summary ("A body that came in one chunk is that chunk itself, not a copy; an empty body is empty");
  world_open (&w);
  test_client_init (&c);
  w.limits.keep_limit = 100;
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 0, 0);
  world_start (&w);
  world_join (&w, &c);
  braid_fake_reactor_advance (w.fake, 2 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_true (w.body_at_done == g_ptr_array_index (c.chunks, 0));
  world_close (&w);
  test_client_clear (&c);

  world_open (&w);
  test_client_init (&c);
  w.limits.keep_limit = 100;
  {
    g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);

    braid_fake_fetcher_add (w.fetcher, URL, 200, empty, MS, 0, 0);
  }
  world_start (&w);
  world_join (&w, &c);
  braid_fake_reactor_advance (w.fake, 2 * MS);
  g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_COMPLETE);
  g_assert_true (w.whole_at_done);
  g_assert_cmpuint (g_bytes_get_size (w.body_at_done), ==, 0);
  g_assert_cmpuint (c.received->len, ==, 0);
  g_assert_true (c.finished);
  world_close (&w);
  test_client_clear (&c);
}

/* Runs a keeping flight over a @n-byte body in @chunk-byte pieces, one
 * client that never lags; returns whether it kept the whole body. */
static gboolean
kept_whole (gsize n, gsize chunk, gsize keep_limit, gsize max_buffered, gsize buffered_elsewhere)
{
  World w;
  TestClient c;
  g_autoptr(GBytes) body = body_of (n);
  gboolean whole;

  world_open (&w);
  test_client_init (&c);
  w.limits.keep_limit = keep_limit;
  w.limits.max_buffered = max_buffered;
  w.stats.buffered = buffered_elsewhere;
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, chunk, MS);
  world_start (&w);
  world_join (&w, &c);
  braid_fake_reactor_advance (w.fake, (gint64) (n + 2) * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_COMPLETE);
  assert_received (&c, body, n);
  g_assert_cmpuint (w.size_at_done, ==, n);
  whole = w.whole_at_done;
  if (whole)
    g_assert_cmpuint (w.held_at_done, ==, n);
  else
    g_assert_cmpuint (w.held_at_done, <, n);
  w.stats.buffered -= buffered_elsewhere;
  world_close (&w);
  test_client_clear (&c);
  return whole;
}

static void
test_keep_limits (void)
{
  g_test_summary ("A flight keeps its body up to keep_limit exactly, and while the bytes held across flights "
                  "stay within max_buffered exactly (0: no limit); past either it drops what was sent");
  g_assert_true (kept_whole (8, 2, 8, 0, 0));
  g_assert_false (kept_whole (8, 2, 7, 0, 0));
  /* the smallest limit that keeps anything */
  g_assert_true (kept_whole (1, 1, 1, 0, 0));
  g_assert_false (kept_whole (8, 2, 0, 0, 0));
  g_assert_true (kept_whole (8, 2, 100, 0, 1000000));
  g_assert_true (kept_whole (8, 2, 100, 108, 100));
  g_assert_false (kept_whole (8, 2, 100, 107, 100));
  g_assert_false (kept_whole (8, 2, 100, 1, 0));
}

static void
test_not_2xx_not_kept (void)
{
  const guint statuses[] = { 199, 200, 299, 300, 404 };

  g_test_summary ("Only a 2xx body is kept for the cache: 199, 300 and 404 bodies are dropped once sent; the "
                  "status reaches every client");
  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    {
      World w;
      TestClient c;
      g_autoptr(GBytes) body = body_of (4);
      gboolean two_xx = statuses[i] >= 200 && statuses[i] < 300;

      g_test_message ("status %u", statuses[i]);
      world_open (&w);
      test_client_init (&c);
      w.limits.keep_limit = 100;
      braid_fake_fetcher_add (w.fetcher, URL, statuses[i], body, MS, 2, MS);
      world_start (&w);
      world_join (&w, &c);
      braid_fake_reactor_advance (w.fake, 10 * MS);
      g_assert_cmpuint (w.n_done, ==, 1);
      g_assert_cmpuint (w.status_at_done, ==, statuses[i]);
      g_assert_cmpint (w.whole_at_done, ==, two_xx);
      g_assert_cmpuint (w.held_at_done, ==, two_xx ? 4 : 0);
      g_assert_cmpuint (c.status, ==, statuses[i]);
      g_assert_null (c.problem);
      assert_received (&c, body, 4);
      world_close (&w);
      test_client_clear (&c);
    }
}

static void
test_streams_without_keeping (void)
{
  World w;
  TestClient a, b, late;
  g_autoptr(GBytes) body = body_of (8);

  g_test_summary ("A flight that keeps nothing holds only what its most backlogged client has not sent, and "
                  "takes no new client once it dropped its first chunk, nor gives its body to anyone");
  world_open (&w);
  test_client_init (&a);
  test_client_init (&b);
  test_client_init (&late);
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
  world_start (&w);
  world_join (&w, &a);
  world_join (&w, &b);
  b.backlog = 3;   /* b has not sent its last 3 bytes: the last two chunks */
  braid_fake_reactor_advance (w.fake, 2 * MS);
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 4);
  g_assert_cmpuint (braid_proxy_flight_get_held (w.flight), ==, 4);
  g_assert_true (braid_proxy_flight_is_joinable (w.flight));
  braid_fake_reactor_advance (w.fake, MS);
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 6);
  g_assert_cmpuint (braid_proxy_flight_get_held (w.flight), ==, 4);
  g_assert_cmpuint (w.stats.buffered, ==, 4);
  g_assert_false (braid_proxy_flight_is_joinable (w.flight));
  g_assert_false (braid_proxy_flight_has_whole_body (w.flight));
  {
    BraidCriticalCounter counter;

    /* its first chunk dropped: no body to have, and no joining it (a
     * late joiner would start in the middle), a critical each */
    braid_test_count_criticals_begin (&counter);
    BRAID_EXPECT_CRITICAL (g_assert_null (braid_proxy_flight_dup_body (w.flight)));
    BRAID_EXPECT_CRITICAL (braid_proxy_flight_add_client (w.flight, &client_funcs, &late, client_destroyed));
    braid_test_count_criticals_end (&counter);
    g_assert_cmpuint (late.received->len, ==, 0);
  }
  b.backlog = 0;
  braid_proxy_flight_client_drained (w.flight);
  g_assert_cmpuint (braid_proxy_flight_get_held (w.flight), ==, 0);
  braid_fake_reactor_advance (w.fake, 5 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  assert_received (&a, body, 8);
  assert_received (&b, body, 8);
  g_assert_cmpuint (late.received->len, ==, 0);
  world_close (&w);
  test_client_clear (&a);
  test_client_clear (&b);
  test_client_clear (&late);
}

/* Three clients on a flight that keeps nothing, over a 6-byte body in
 * 2-byte chunks: after the first chunk, the first client's backlog
 * becomes @first_backlog, the second's @second_backlog, the third's 0
 * unless it left (@third_left).  Returns which of the first two were cut
 * off when the second chunk came (bit 0, bit 1). */
static guint
cut_off (gsize first_backlog, gsize second_backlog, gboolean third_left)
{
  World w;
  TestClient c[3];
  g_autoptr(GBytes) body = body_of (6);
  guint cut = 0;

  world_open (&w);
  for (guint i = 0; i < 3; i++)
    test_client_init (&c[i]);
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
  world_start (&w);
  for (guint i = 0; i < 3; i++)
    world_join (&w, &c[i]);
  braid_fake_reactor_advance (w.fake, MS);
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 2);
  if (third_left)
    braid_proxy_flight_remove_client (w.flight, &c[2]);
  c[0].backlog = first_backlog;
  c[1].backlog = second_backlog;
  braid_fake_reactor_advance (w.fake, MS);
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 4);
  for (guint i = 0; i < 2; i++)
    if (c[i].finished)
      {
        g_assert_cmpstr (c[i].problem, ==, "too slow: over 10 bytes behind the other clients");
        g_assert_cmpuint (c[i].status, ==, 200);
        cut |= 1u << i;
      }
  g_assert_cmpuint (w.stats.slow_clients, ==, (cut & 1) + ((cut >> 1) & 1));

  c[0].backlog = c[1].backlog = 0;
  braid_proxy_flight_client_drained (w.flight);
  braid_fake_reactor_advance (w.fake, 5 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  for (guint i = 0; i < 2; i++)
    {
      /* A client cut off gets nothing after the chunk that found it behind. */
      assert_received (&c[i], body, (cut & (1u << i)) ? 4 : 6);
      if (!(cut & (1u << i)))
        g_assert_null (c[i].problem);
    }
  assert_received (&c[2], body, third_left ? 2 : 6);
  g_assert_cmpint (c[2].finished, !=, third_left);
  world_close (&w);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (c[i].n_destroyed, ==, 1);
      test_client_clear (&c[i]);
    }
  return cut;
}

static void
test_laggards_cut_off (void)
{
  g_test_summary ("On a flight that keeps nothing, a client more than client_buffer_limit (10) behind the "
                  "least backlogged one is cut off (finished with a problem, counted), at 11 bytes behind "
                  "but not 10; a client that left no longer counts as the least backlogged");
  g_assert_cmpuint (cut_off (10, 0, FALSE), ==, 0);
  g_assert_cmpuint (cut_off (11, 0, FALSE), ==, 1);
  g_assert_cmpuint (cut_off (0, 11, FALSE), ==, 2);
  /* With the idle third gone, the least backlog is the second's (5). */
  g_assert_cmpuint (cut_off (15, 5, TRUE), ==, 0);
  g_assert_cmpuint (cut_off (16, 5, TRUE), ==, 1);
  g_assert_cmpuint (cut_off (16, 5, FALSE), ==, 1);
}

static void
test_back_pressure (void)
{
  World w;
  TestClient slow, fast;
  g_autoptr(GBytes) body = body_of (6);

  g_test_summary ("Upstream is read while the least backlogged client is within client_buffer_limit (10): "
                  "at 10 it reads on, at 11 it waits, and a drained client wakes it; a keeping flight cuts "
                  "nobody off");
  world_open (&w);
  test_client_init (&slow);
  test_client_init (&fast);
  w.limits.keep_limit = 100;
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
  world_start (&w);
  world_join (&w, &slow);
  world_join (&w, &fast);
  slow.backlog = 500;
  fast.backlog = 10;
  braid_fake_reactor_advance (w.fake, 2 * MS);
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 4);
  fast.backlog = 11;
  braid_fake_reactor_advance (w.fake, 10 * MS);
  /* The read under way when the backlog grew still lands; then it waits. */
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 6);
  g_assert_cmpuint (w.n_done, ==, 0);
  g_assert_false (slow.finished);
  fast.backlog = 0;
  braid_proxy_flight_client_drained (w.flight);
  braid_fake_reactor_advance (w.fake, 10 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_null (slow.problem);
  assert_received (&slow, body, 6);
  g_assert_cmpuint (w.stats.slow_clients, ==, 0);
  world_close (&w);
  test_client_clear (&slow);
  test_client_clear (&fast);
}

static void
test_client_leaves (void)
{
  World w;
  TestClient stays, leaves;
  g_autoptr(GBytes) body = body_of (6);

  g_test_summary ("A client that leaves a shared flight gets nothing more, not even finish(), and no longer "
                  "holds it back; the others get the whole body; the one that left is released once");
  world_open (&w);
  test_client_init (&stays);
  test_client_init (&leaves);
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
  world_start (&w);
  world_join (&w, &stays);
  world_join (&w, &leaves);
  braid_fake_reactor_advance (w.fake, MS);
  leaves.backlog = 1000;
  stays.backlog = 1000;
  braid_fake_reactor_advance (w.fake, 5 * MS);
  /* Both behind: the flight waits on the least backlogged one. */
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 4);
  stays.backlog = 0;
  braid_proxy_flight_remove_client (w.flight, &leaves);
  braid_fake_reactor_advance (w.fake, 5 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_COMPLETE);
  assert_received (&stays, body, 6);
  g_assert_null (stays.problem);
  g_assert_cmpuint (leaves.received->len, ==, 4);
  g_assert_false (leaves.finished);
  g_assert_cmpuint (w.stats.slow_clients, ==, 0);
  world_close (&w);
  g_assert_cmpuint (leaves.n_destroyed, ==, 1);
  test_client_clear (&stays);
  test_client_clear (&leaves);
}

static void
test_abandoned_while_waiting (void)
{
  World w;
  TestClient c;
  g_autoptr(GBytes) body = body_of (6);

  g_test_summary ("A flight that keeps nothing and waits for its only client to read ends at once when that "
                  "client leaves, with no read pending: it is freed, and nothing touches it after");
  world_open (&w);
  test_client_init (&c);
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
  world_start (&w);
  world_join (&w, &c);
  c.backlog = 100;   /* over the client buffer limit: the flight waits */
  braid_fake_reactor_advance (w.fake, 3 * MS);
  /* answered at 1 ms, and waiting since, before its first read */
  g_assert_cmpuint (w.stats.buffered, ==, 0);
  g_assert_cmpuint (braid_proxy_flight_get_size (w.flight), ==, 0);
  g_assert_cmpuint (braid_proxy_flight_get_status (w.flight), ==, 200);
  g_assert_cmpuint (w.n_done, ==, 0);
  braid_proxy_flight_remove_client (w.flight, &c);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_ABANDONED);
  g_assert_false (c.finished);
  world_close (&w);
  g_assert_cmpuint (c.n_destroyed, ==, 1);
  test_client_clear (&c);
}

static void
test_abandoned (void)
{
  g_test_summary ("When its last client leaves, before or after the answer, a flight that keeps nothing ends "
                  "at once (abandoned) and its fetch is cancelled; one that keeps its body goes on to the end "
                  "for the cache");
  for (guint keep = 0; keep < 2; keep++)
    for (guint answered = 0; answered < 2; answered++)
      {
        World w;
        TestClient c;
        g_autoptr(GBytes) body = body_of (6);

        g_test_message ("keeping %u, answered %u", keep, answered);
        world_open (&w);
        test_client_init (&c);
        w.limits.keep_limit = keep ? 100 : 0;
        braid_fake_fetcher_add (w.fetcher, URL, 200, body, 2 * MS, 2, MS);
        world_start (&w);
        world_join (&w, &c);
        braid_fake_reactor_advance (w.fake, answered ? 3 * MS : MS);
        braid_proxy_flight_remove_client (w.flight, &c);
        if (keep)
          {
            /* Its body will be cached: it goes on without clients. */
            g_assert_cmpuint (w.n_done, ==, 0);
            braid_fake_reactor_advance (w.fake, 10 * MS);
            g_assert_cmpuint (w.n_done, ==, 1);
            g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_COMPLETE);
            braid_assert_bytes_equal_str ("abcdef", w.body_at_done);
            g_assert_cmpuint (braid_fake_fetcher_get_n_cancelled (w.fetcher), ==, 0);
          }
        else
          {
            /* Ended before remove_client returned, the fetch cancelled. */
            g_assert_cmpuint (w.n_done, ==, 1);
            g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_ABANDONED);
            braid_fake_reactor_advance (w.fake, 10 * MS);
            /* Before the answer, the fetch itself ends cancelled. */
            if (!answered)
              g_assert_cmpuint (braid_fake_fetcher_get_n_cancelled (w.fetcher), ==, 1);
          }
        g_assert_false (c.finished);
        world_close (&w);
        g_assert_cmpuint (c.n_destroyed, ==, 1);
        test_client_clear (&c);
      }
}

static void
test_no_join_after_the_end (void)
{
  World w;
  TestClient c, joiner;
  g_autoptr(GBytes) body = body_of (4);

  g_test_summary ("While the owner hears of the end, the flight is no longer joinable and refuses a client "
                  "with a critical, writing nothing to it and never releasing it");
  world_open (&w);
  test_client_init (&c);
  test_client_init (&joiner);
  w.limits.keep_limit = 100;
  w.join_at_done = &joiner;
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 0, 0);
  world_start (&w);
  world_join (&w, &c);
  braid_fake_reactor_advance (w.fake, 2 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_false (w.joinable_at_done);
  g_assert_cmpuint (joiner.received->len, ==, 0);
  g_assert_false (joiner.finished);
  g_assert_cmpuint (joiner.n_destroyed, ==, 0);
  world_close (&w);
  test_client_clear (&c);
  test_client_clear (&joiner);
}

typedef struct {
  const gchar *name;
  gint code;              /* BraidProxyError, or -1 for G_IO_ERROR_FAILED */
  gboolean mid_body;      /* the body breaks after 2 bytes */
  BraidProxyFlightResult result;
  guint status;
} FailureCase;

static void
test_failures (void)
{
  const FailureCase cases[] = {
    { "refused", BRAID_PROXY_ERROR_FORBIDDEN, FALSE, BRAID_PROXY_FLIGHT_RESULT_REFUSED, 403 },
    { "timed out", BRAID_PROXY_ERROR_TIMED_OUT, FALSE, BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR, 504 },
    { "upstream", BRAID_PROXY_ERROR_UPSTREAM, FALSE, BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR, 502 },
    { "other domain", -1, FALSE, BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR, 502 },
    { "broken body", BRAID_PROXY_ERROR_UPSTREAM, TRUE, BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR, 502 },
  };

  g_test_summary ("A refused target ends every client with 403, a fetch deadline with 504, any other failure "
                  "(before or during the body) with 502, each with the error's message as the problem");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const FailureCase *fc = &cases[i];
      World w;
      TestClient a, b;
      g_autoptr(GBytes) body = body_of (6);
      g_autoptr(GError) error = fc->code >= 0 ? g_error_new (BRAID_PROXY_ERROR, fc->code, "boom %u", i)
                                              : g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "boom %u", i);
      g_autofree gchar *expected = g_strdup_printf ("boom %u", i);

      g_test_message ("%s", fc->name);
      world_open (&w);
      test_client_init (&a);
      test_client_init (&b);
      w.limits.keep_limit = 100;
      if (fc->mid_body)
        {
          braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
          braid_fake_fetcher_set_fail_after (w.fetcher, URL, 2, error);
        }
      else
        braid_fake_fetcher_add_error (w.fetcher, URL, error, MS);
      world_start (&w);
      world_join (&w, &a);
      world_join (&w, &b);
      braid_fake_reactor_advance (w.fake, 10 * MS);
      g_assert_cmpuint (w.n_done, ==, 1);
      g_assert_cmpint (w.result, ==, fc->result);
      for (guint j = 0; j < 2; j++)
        {
          TestClient *c = j == 0 ? &a : &b;

          g_assert_true (c->finished);
          g_assert_cmpuint (c->status, ==, fc->status);
          g_assert_cmpstr (c->problem, ==, expected);
          g_assert_cmpuint (c->received->len, ==, fc->mid_body ? 2 : 0);
        }
      world_close (&w);
      test_client_clear (&a);
      test_client_clear (&b);
    }
}

static void
test_too_large (void)
{
  for (gsize max_body = 7; max_body <= 8; max_body++)
    {
      World w;
      TestClient c;
      g_autoptr(GBytes) body = body_of (8);
      gboolean fits = max_body >= 8;

      g_test_message ("max_body %" G_GSIZE_FORMAT, max_body);
      world_open (&w);
      test_client_init (&c);
      w.limits.max_body = max_body;
      w.limits.keep_limit = 100;
      braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 2, MS);
      world_start (&w);
      world_join (&w, &c);
      braid_fake_reactor_advance (w.fake, 20 * MS);
      g_assert_cmpuint (w.n_done, ==, 1);
      g_assert_cmpint (w.result, ==, fits ? BRAID_PROXY_FLIGHT_RESULT_COMPLETE : BRAID_PROXY_FLIGHT_RESULT_TOO_LARGE);
      g_assert_cmpuint (c.received->len, ==, fits ? 8 : 6);
      g_assert_cmpuint (c.status, ==, 200);
      if (fits)
        g_assert_null (c.problem);
      else
        g_assert_nonnull (strstr (c.problem, "size limit"));
      world_close (&w);
      test_client_clear (&c);
    }
}

static void
test_byte_at_a_time (void)
{
  World w;
  TestClient c;
  g_autoptr(GBytes) body = body_of (7);

  g_test_summary ("The smallest read chunk, one byte, is accepted: the flight reads the body a byte at a time "
                  "and its client gets all of it, in order");
  world_open (&w);
  test_client_init (&c);
  w.limits.read_chunk = 1;
  w.limits.keep_limit = 100;
  braid_fake_fetcher_add (w.fetcher, URL, 200, body, MS, 7, 0);
  world_start (&w);
  world_join (&w, &c);
  braid_fake_reactor_advance (w.fake, 10 * MS);
  g_assert_cmpuint (w.n_done, ==, 1);
  g_assert_cmpint (w.result, ==, BRAID_PROXY_FLIGHT_RESULT_COMPLETE);
  assert_received (&c, body, 7);
  g_assert_cmpuint (c.chunks->len, ==, 7);
  braid_assert_bytes_equal (g_bytes_get_data (body, NULL), 7, g_bytes_get_data (w.body_at_done, NULL),
                            g_bytes_get_size (w.body_at_done));
  test_client_clear (&c);
  world_close (&w);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/flight/whole-body-kept", test_whole_body_kept);
  g_test_add_func ("/proxy/flight/byte-at-a-time", test_byte_at_a_time);
  g_test_add_func ("/proxy/flight/one-chunk-body", test_one_chunk_body_is_the_chunk);
  g_test_add_func ("/proxy/flight/keep-limits", test_keep_limits);
  g_test_add_func ("/proxy/flight/not-2xx-not-kept", test_not_2xx_not_kept);
  g_test_add_func ("/proxy/flight/streams-without-keeping", test_streams_without_keeping);
  g_test_add_func ("/proxy/flight/abandoned-while-waiting", test_abandoned_while_waiting);
  g_test_add_func ("/proxy/flight/laggards-cut-off", test_laggards_cut_off);
  g_test_add_func ("/proxy/flight/back-pressure", test_back_pressure);
  g_test_add_func ("/proxy/flight/client-leaves", test_client_leaves);
  g_test_add_func ("/proxy/flight/abandoned", test_abandoned);
  g_test_add_func ("/proxy/flight/no-join-after-the-end", test_no_join_after_the_end);
  g_test_add_func ("/proxy/flight/failures", test_failures);
  g_test_add_func ("/proxy/flight/too-large", test_too_large);
  return g_test_run ();
}
