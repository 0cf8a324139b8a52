/* braid — the meta protocol (mg, ms, md, ma, mn, me) on the fake reactor:
 * a session per flag and mode, whole, byte by byte, at every split and in
 * random chunks; the time-dependent ones (ttl, recache, invalidation,
 * vivify, last access) in simulated time.
 *
 * Every expected reply below was observed from Debian's memcached 1.6.18,
 * each session on a freshly started server (so cas values count from 1,
 * as on a fresh braid store). */
#include "test-support.h"
#include "mc-server.h"
#include "server-conn.h"
#include "meta-sessions.h"

#include <string.h>

static void
conn_assert_written (BraidTestServerConn *c, const gchar *expected)
{
  g_autoptr(GBytes) written = braid_fake_transport_get_written (c->transport);

  braid_assert_bytes_equal_str (expected, written);
}

static void
run_session (const BraidChunking *chunking, gpointer data)
{
  const Session *s = data;
  BraidTestServerConn c = { 0 };

  braid_test_server_conn_open (&c, NULL);
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      gsize len;
      const guint8 *bytes = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);

      braid_test_server_conn_send (&c, bytes, len);
    }
  conn_assert_written (&c, s->output);
  g_assert_false (braid_fake_transport_is_disconnecting (c.transport));
  braid_test_server_conn_close (&c);
}

static void
test_session (gconstpointer data)
{
  const Session *s = data;

  g_test_summary ("A meta session answers as memcached 1.6.18 does, whole, byte by byte, at every "
                  "split and in random chunks");
  braid_test_for_each_chunking ((const guint8 *) s->input, strlen (s->input), 20, run_session, (gpointer) s);
}

/* ---- simulated time ---- */

typedef struct {
  const gchar *input;
  const gchar *output;
  gint seconds;       /* to let pass after this step */
} TimedStep;

typedef struct {
  const gchar *name;
  TimedStep steps[4];
} TimedScenario;

static const TimedScenario timed[] = {
/* Observed from a fresh memcached 1.6.18 per scenario, sleeping the
 * seconds given (a little over) between the steps. */
  { "ttl-counts-down", {
      { "ms k 1 T10\r\nx\r\nmg k t v\r\n", "HD\r\nVA 1 t10\r\nx\r\n", 3 },
      { "mg k t\r\nme k\r\n", "HD t7\r\nME k exp=-7 la=3 cas=1 fetch=yes cls=1 size=61\r\n", 8 },
      { "mg k t\r\nme k\r\n", "EN\r\nEN\r\n", 0 },
    } },
  { "recache-wins-near-expiry", {
      { "ms k 1 T10\r\nx\r\nmg k R5 t\r\n", "HD\r\nHD t10\r\n", 6 },
      { "mg k R5 t\r\nmg k R5 t\r\n", "HD t4 W\r\nHD t4 Z\r\n", 0 },
    } },
  { "invalidate-with-ttl-expires", {
      { "ms k 1\r\nx\r\nmd k I T5\r\nmg k t\r\n", "HD\r\nHD\r\nHD t5 X W\r\n", 6 },
      { "mg k\r\n", "EN\r\n", 0 },
    } },
  { "vivified-win-expires", {
      { "mg k N3 t\r\nmg k N3 t\r\n", "HD t3 W\r\nHD t3 Z\r\n", 4 },
      { "mg k N3 t\r\n", "HD t3 W\r\n", 0 },
    } },
  { "last-access", {
      { "ms k 1\r\nx\r\n", "HD\r\n", 2 },
      { "mg k l h\r\nmg k l h\r\nme k\r\n", "HD l2 h0\r\nHD l2 h1\r\nME k exp=-1 la=2 cas=1 fetch=yes cls=1 size=61\r\n", 0 },
    } },
  { "touch-extends", {
      { "ms k 1 T3\r\nx\r\n", "HD\r\n", 2 },
      { "mg k T10 t\r\n", "HD t10\r\n", 4 },
      { "mg k t\r\nma k T-1\r\n", "HD t6\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n", 0 },
      { "mg k\r\n", "HD\r\n", 0 },
    } },
};

static void
run_timed (const TimedScenario *t, gboolean byte_at_a_time)
{
  BraidTestServerConn c = { 0 };
  g_autoptr(GString) expected = g_string_new (NULL);

  braid_test_server_conn_open (&c, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (t->steps) && t->steps[i].input != NULL; i++)
    {
      const TimedStep *step = &t->steps[i];
      gsize len = strlen (step->input);

      if (byte_at_a_time)
        for (gsize j = 0; j < len; j++)
          braid_test_server_conn_send (&c, (const guint8 *) step->input + j, 1);
      else
        braid_test_server_conn_send (&c, (const guint8 *) step->input, len);
      g_string_append (expected, step->output);
      conn_assert_written (&c, expected->str);
      braid_fake_reactor_advance (c.fake, (gint64) step->seconds * G_USEC_PER_SEC);
    }
  braid_test_server_conn_close (&c);
}

static void
test_timed (gconstpointer data)
{
  const TimedScenario *t = data;

  g_test_summary ("ttl, recache, invalidation and vivify tokens follow memcached 1.6.18 as the "
                  "(simulated) clock moves");
  run_timed (t, FALSE);
  run_timed (t, TRUE);
}

/* ---- beyond the session tables ---- */

/* @input, cut in two at each of @splits, answers @expected on a server
 * with -I 1 KiB; @check (nullable) then looks at the server. */
static void
assert_split_under_small_limit (const gchar *input, const gchar *expected, const gsize *splits, gsize n_splits,
                                void (*check) (BraidMcServer *server))
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  gsize len = strlen (input);

  settings.store.item_size_max = 1024;
  for (gsize i = 0; i < n_splits; i++)
    {
      BraidTestServerConn c = { 0 };

      braid_test_server_conn_open (&c, &settings);
      braid_test_server_conn_send (&c, (const guint8 *) input, splits[i]);
      braid_test_server_conn_send (&c, (const guint8 *) input + splits[i], len - splits[i]);
      conn_assert_written (&c, expected);
      if (check != NULL)
        check (c.server);
      braid_test_server_conn_close (&c);
    }
}

static void
assert_two_too_large (BraidMcServer *server)
{
  BraidMcStats stats;

  /* ms a and ms c; ms b's mode is refused first */
  braid_mc_store_get_stats (braid_mc_server_get_store (server), &stats);
  g_assert_cmpuint (stats.store_too_large, ==, 2);
}

/* Observed from memcached 1.6.18 with 2000000-byte values under its
 * 1 MiB -I; here the limit is 1 KiB, so the same replies come for
 * 2000-byte values. */
static void
test_too_large (void)
{
  g_autofree gchar *big = g_strnfill (2000, 'y');
  g_autofree gchar *input = g_strdup_printf ("ms a 1\r\nx\r\nms a 2000 T5\r\n%s\r\nmg a\r\nms b 2000 MX\r\n%s\r\n"
                                             "ms c 2000 q\r\n%s\r\nmn\r\n", big, big, big);
  const gchar *expected = "HD\r\nSERVER_ERROR object too large for cache\r\nEN\r\n"
                          "CLIENT_ERROR invalid mode for ms M token\r\nSERVER_ERROR object too large for cache\r\nMN\r\n";
  gsize len = strlen (input);
  const gsize splits[] = { 0, 1, 9, 17, 30, 1000, len / 2, len - 3, len - 1 };

  g_test_summary ("An ms too large for -I is refused at once, drops the item it would replace, counts "
                  "in store_too_large, and its data is skipped unread however it arrives; q does not silence it");
  assert_split_under_small_limit (input, expected, splits, G_N_ELEMENTS (splits), assert_two_too_large);
}

/* Observed from memcached 1.6.18 (-I 1m): after "set a 0 0 900000",
 * "ms a 200000 MA" answers NS, with q too, and a keeps its 900000 bytes;
 * the classic append answers NOT_STORED the same way.  Only the request's
 * own data is checked against -I before it is read. */
static void
test_join_too_large (void)
{
  g_autofree gchar *half = g_strnfill (600, 'h');
  g_autofree gchar *input = g_strdup_printf ("ms a 600\r\n%s\r\nms a 600 MA\r\n%s\r\nms a 600 MP q\r\n%s\r\n"
                                             "mg a s\r\nms a 1 MA\r\nz\r\nmg a s\r\n", half, half, half);
  const gchar *expected = "HD\r\nNS\r\nNS\r\nHD s600\r\nHD\r\nHD s601\r\n";
  gsize len = strlen (input);
  const gsize splits[] = { 0, 1, 620, 630, len / 2, len - 1 };

  g_test_summary ("An ms append or prepend whose joined value is too large for -I answers NS (q does not "
                  "silence it) and keeps the item, as memcached 1.6.18 does; within the limit it joins");
  assert_split_under_small_limit (input, expected, splits, G_N_ELEMENTS (splits), NULL);
}

/* A value over the copy threshold goes out by reference to the item: its
 * bytes must be the value, in order with the reply lines around it.
 * Observed: memcached 1.6.18 answers "HD\r\nVA 1000 s1000\r\n<value>\r\n". */
static void
test_large_value_by_reference (void)
{
  g_autofree gchar *value = g_strnfill (1000, 'v');
  g_autofree gchar *input = g_strdup_printf ("ms big 1000\r\n%s\r\nmg big s v\r\nmn\r\n", value);
  g_autofree gchar *expected = g_strdup_printf ("HD\r\nVA 1000 s1000\r\n%s\r\nMN\r\n", value);
  BraidTestServerConn c = { 0 };

  g_test_summary ("mg v sends a large value by reference, in order with the lines around it");
  braid_test_server_conn_open (&c, NULL);
  braid_test_server_conn_send (&c, (const guint8 *) input, strlen (input));
  conn_assert_written (&c, expected);
  braid_test_server_conn_close (&c);
}

/* memcached 1.6.18 counts meta commands as these deltas of "stats" show
 * (observed with a script that diffs stats around each command). */
static void
test_counters (void)
{
  BraidTestServerConn c = { 0 };
  BraidMcStats stats;
  const gchar *input = "ms s1 1\r\na\r\nms s1 1 C999\r\na\r\nms nok 1 C1\r\na\r\nms s1 1 ME\r\na\r\n"
                       "mg s1\r\nmg nok\r\nmg s1 T30\r\nmg nok T30\r\nmg viv N30\r\nme s1\r\n"
                       "md viv\r\nmd nok\r\nmd s1 C5\r\nms n 1\r\n1\r\nmd n I\r\n"
                       "ma n\r\nma nok\r\nma nok MD\r\nma n MD\r\nma nok4 N0\r\nma n C1\r\nma nok5 MI\r\n";

  g_test_summary ("Meta commands move memcached's counters as memcached 1.6.18 does");
  braid_test_server_conn_open (&c, NULL);
  braid_test_server_conn_send (&c, (const guint8 *) input, strlen (input));
  braid_mc_store_get_stats (braid_mc_server_get_store (c.server), &stats);
  g_assert_cmpuint (stats.cmd_set, ==, 5);
  g_assert_cmpuint (stats.cas_badval, ==, 1);
  g_assert_cmpuint (stats.cas_misses, ==, 1);
  g_assert_cmpuint (stats.cmd_get, ==, 4);      /* s1, nok, nok T30, viv N30 */
  g_assert_cmpuint (stats.get_hits, ==, 2);     /* s1, viv */
  g_assert_cmpuint (stats.get_misses, ==, 2);
  g_assert_cmpuint (stats.cmd_touch, ==, 1);
  g_assert_cmpuint (stats.touch_hits, ==, 1);
  g_assert_cmpuint (stats.cmd_meta, ==, 1);
  g_assert_cmpuint (stats.delete_hits, ==, 1);
  g_assert_cmpuint (stats.delete_misses, ==, 2);  /* a miss, a cas mismatch */
  g_assert_cmpuint (stats.incr_hits, ==, 1);
  g_assert_cmpuint (stats.incr_misses, ==, 2);   /* nok, nok5: more than the decr misses */
  g_assert_cmpuint (stats.decr_hits, ==, 1);
  g_assert_cmpuint (stats.decr_misses, ==, 1);
  braid_test_server_conn_close (&c);
}

/* Observed: memcached 1.6.18 closes, without a word, a connection that
 * sends 3000 bytes of "mg kkk…" (or "ms k 1 OOO…") with no newline; the
 * multi-key allowance of get and gets does not extend to mg. */
static void
test_long_line_closes (void)
{
  const gchar *prefixes[] = { "mg ", "ms k 1 " };

  g_test_summary ("A meta line longer than memcached's limit closes the connection without a reply");
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autofree gchar *fill = g_strnfill (3000, i == 0 ? 'k' : 'O');
      g_autofree gchar *input = g_strconcat (prefixes[i], fill, NULL);
      BraidTestServerConn c = { 0 };

      braid_test_server_conn_open (&c, NULL);
      braid_test_server_conn_send (&c, (const guint8 *) input, strlen (input));
      conn_assert_written (&c, "");
      g_assert_true (braid_fake_transport_is_disconnecting (c.transport));
      braid_test_server_conn_close (&c);
    }
}


/* With -M a full store refuses a write instead of evicting.  memcached
 * 1.6.18's process_mset_command answers an allocation that fails for
 * memory (not for size) with "SERVER_ERROR out of memory storing
 * object", q or not; braid keeps the items already stored
 * (docs/memcached.md, "Limits"). */
static void
test_out_of_memory (void)
{
  const gchar *refusal = "SERVER_ERROR out of memory storing object\r\n";
  const guint n_writes = 100;
  g_autofree gchar *value = g_strnfill (1000, 'm');
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  BraidTestServerConn c = { 0 };
  guint n_items, n_refused;

  g_test_summary ("With -M, an ms the full store cannot take is refused with memcached's out of memory "
                  "error, even when quiet, and the items stored before it stay");
  settings.store.evict = FALSE;
  settings.store.item_size_max = 2048;
  settings.store.limit_bytes = 64 * 1024;
  for (guint i = 0; i < n_writes; i++)
    g_string_append_printf (input, "ms k%03u 1000 q\r\n%s\r\n", i, value);
  g_string_append (input, "mg k000 s\r\nmn\r\n");
  braid_test_server_conn_open (&c, &settings);
  braid_test_server_conn_send (&c, (const guint8 *) input->str, input->len);
  n_items = braid_mc_store_get_n_items (braid_mc_server_get_store (c.server));
  g_assert_cmpuint (n_items, >, 0);
  g_assert_cmpuint (n_items, <, n_writes);
  n_refused = n_writes - n_items;
  for (guint i = 0; i < n_refused; i++)
    g_string_append (expected, refusal);
  g_string_append (expected, "HD s1000\r\nMN\r\n");
  conn_assert_written (&c, expected->str);
  braid_test_server_conn_close (&c);
}

/* memcached 1.6.18's process_marithmetic_command answers an N that
 * cannot make its counter with "SERVER_ERROR Out of memory allocating
 * new item" (capital O, unlike ms's). */
static void
test_out_of_memory_vivify (void)
{
  g_autofree gchar *value = g_strnfill (1000, 'm');
  g_autoptr(GString) input = g_string_new (NULL);
  const gchar *ask = "ma counter N0 J13 v\r\nmg counter v\r\nmn\r\n";
  g_autofree gchar *before = NULL;
  g_autofree gchar *expected = NULL;
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  BraidTestServerConn c = { 0 };

  g_test_summary ("With -M and the store full, an ma whose N would make the counter is refused with "
                  "memcached's error, and nothing is made");
  settings.store.evict = FALSE;
  settings.store.item_size_max = 2048;
  settings.store.limit_bytes = 64 * 1024;
  for (guint i = 0; i < 100; i++)
    g_string_append_printf (input, "ms k%03u 1000 q\r\n%s\r\n", i, value);
  g_string_append (input, "mn\r\n");
  braid_test_server_conn_open (&c, &settings);
  braid_test_server_conn_send (&c, (const guint8 *) input->str, input->len);
  before = braid_fake_transport_get_written_string (c.transport);
  g_assert_true (g_str_has_suffix (before, "MN\r\n"));
  g_assert_nonnull (strstr (before, "SERVER_ERROR out of memory storing object\r\n"));  /* full indeed */
  braid_test_server_conn_send (&c, (const guint8 *) ask, strlen (ask));
  expected = g_strconcat (before, "SERVER_ERROR Out of memory allocating new item\r\nEN\r\nMN\r\n", NULL);
  conn_assert_written (&c, expected);
  braid_test_server_conn_close (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (meta_sessions); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/mc/meta/session/%s", meta_sessions[i].name);

      g_test_add_data_func (path, &meta_sessions[i], test_session);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (timed); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/mc/meta/time/%s", timed[i].name);

      g_test_add_data_func (path, &timed[i], test_timed);
    }
  g_test_add_func ("/mc/meta/too-large", test_too_large);
  g_test_add_func ("/mc/meta/join-too-large", test_join_too_large);
  g_test_add_func ("/mc/meta/out-of-memory-vivify", test_out_of_memory_vivify);
  g_test_add_func ("/mc/meta/large-value-by-reference", test_large_value_by_reference);
  g_test_add_func ("/mc/meta/counters", test_counters);
  g_test_add_func ("/mc/meta/long-line-closes", test_long_line_closes);
  g_test_add_func ("/mc/meta/out-of-memory", test_out_of_memory);
  return g_test_run ();
}
