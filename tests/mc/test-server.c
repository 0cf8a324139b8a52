/* braid — the braid-memcached protocol on the fake reactor: sessions at
 * every split, bad input, back pressure, limits. */
#include "test-support.h"
#include "mc-server.h"
#include "mc-server-protocol-private.h"
#include "server-conn.h"

#include <string.h>

typedef struct {
  const gchar *input;
  const gchar *output;
  gboolean closes;
  gsize item_size_max;  /* 0: the default */
} Session;

#define K251 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"

static const Session sessions[] = {
  { "set a 1 0 3\r\nabc\r\nget a b\r\ngets a\r\n",
    "STORED\r\nVALUE a 1 3\r\nabc\r\nEND\r\nVALUE a 1 3 1\r\nabc\r\nEND\r\n" },
  { "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr x 1\r\nset s 0 0 1\r\nz\r\nincr s 1\r\n",
    "STORED\r\n15\r\n0\r\nNOT_FOUND\r\nSTORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n" },
  { "add k 0 0 1\r\n1\r\nadd k 0 0 1\r\n2\r\nreplace k 0 0 1\r\n3\r\nappend k 0 0 1\r\n4\r\nprepend k 0 0 1\r\n5\r\nget k\r\n",
    "STORED\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\nVALUE k 0 3\r\n534\r\nEND\r\n" },
  { "set k 0 0 1 noreply\r\nx\r\ndelete k noreply\r\ndelete k\r\nflush_all noreply\r\nflush_all\r\n",
    "NOT_FOUND\r\nOK\r\n" },
  { "set k 0 0 1\r\nx\r\ncas k 0 0 1 1\r\ny\r\ncas k 0 0 1 1\r\nz\r\ntouch k 10\r\ngat 20 k\r\ngats 30 k\r\n",
    "STORED\r\nSTORED\r\nEXISTS\r\nTOUCHED\r\nVALUE k 0 1\r\ny\r\nEND\r\nVALUE k 0 1 2\r\ny\r\nEND\r\n" },
  { "verbosity 1\r\nversion\r\n", "OK\r\nVERSION " BRAID_MC_VERSION_STRING "\r\n" },
  { "bogus\r\nset k 0 0 3\r\nabcd\r\nget k\r\n",
    "ERROR\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n" },
  { "debugtime 10\r\n", "ERROR\r\n" },
  /* what the differential tester found (issue #12), as memcached 1.6.18:
   * noreply silences errors too */
  { "set k 0 0 -1 noreply\r\nv\r\ndelete k 5 noreply\r\nincr k x noreply\r\nset k 0 0 1 noreply\r\nxy\r\n",
    "ERROR\r\nERROR\r\n" },
  /* an empty value is not a number; gat without keys is END */
  { "set e 0 0 0\r\n\r\nincr e 1\r\ngat 10\r\ngats 0\r\n",
    "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nEND\r\nEND\r\n" },
  { "flush_all abc extra\r\nflush_all 0 x\r\ndelete " K251 " 5\r\n",
    "CLIENT_ERROR invalid exptime argument\r\nOK\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n" },
  /* a get with a key too long answers the error alone */
  { "get a " K251 " b\r\n", "CLIENT_ERROR bad command line format\r\n" },
  /* an HTTP request is closed without a word */
  { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", TRUE },
  /* a set refused as too large takes the old value with it; the other
   * storage commands leave it.  Flags other than 0 cost 4 bytes. */
  { "set k 0 0 1\r\nx\r\nreplace k 0 0 100\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\r\nget k\r\n"
    "set k 0 0 100\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\r\nget k\r\n"
    "set k 0 0 97\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456\r\nset k 1 0 97\r\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456\r\nget k\r\n"
    "set k 0 0 96\r\n012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345\r\nappend k 0 0 2\r\nxy\r\n",
    "STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE k 0 1\r\nx\r\nEND\r\n"
    "SERVER_ERROR object too large for cache\r\nEND\r\n"
    "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n"
    "STORED\r\nNOT_STORED\r\n", FALSE, 48 + 2 + 99 + 8 },
  { "set k 0 0 1\r\nx\r\nquit\r\nget k\r\n", "STORED\r\n", TRUE },
  /* admin commands real tools send (issue #12), as memcached 1.6.18
   * answers them.  The fake clock's Unix time starts at 1767225600, so
   * an item set with exptime 100 expires at 1767225700; memcached prints 0 in a
   * cachedump and -1 in a metadump for an item that never expires. */
  { "cache_memlimit 128\r\ncache_memlimit 8\r\ncache_memlimit 7\r\ncache_memlimit 0\r\n"
    "cache_memlimit 1000000000\r\ncache_memlimit 1000000001\r\ncache_memlimit 99999999999\r\n"
    "cache_memlimit x\r\ncache_memlimit 64 noreply\r\ncache_memlimit 1 noreply\r\ncache_memlimit x noreply\r\n"
    "cache_memlimit 64 x\r\n",
    "OK\r\nOK\r\nMEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
    "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\nOK\r\n"
    "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n"
    "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\nERROR\r\nOK\r\n" },
  { "stats sizes\r\nstats sizes x\r\n", "STAT sizes_status disabled\r\nEND\r\nSTAT sizes_status disabled\r\nEND\r\n" },
  { "stats detail dump\r\nstats detail on\r\nstats detail off\r\nstats detail on noreply\r\nstats detail\r\n"
    "stats detail x\r\n",
    "END\r\nOK\r\nOK\r\nOK\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\n"
    "CLIENT_ERROR usage: stats detail on|off|dump\r\n" },
  { "set a 0 0 3\r\nabc\r\nset b 0 100 5\r\nhello\r\nstats cachedump 1 0\r\nstats cachedump 1 1\r\n"
    "stats cachedump 1 4294967296\r\nstats cachedump 2 0\r\nstats cachedump 63 0\r\nstats cachedump 64 0\r\n"
    "stats cachedump 1\r\nstats cachedump x 1\r\nstats cachedump 1 -1\r\nstats cachedump 1 0 2\r\n",
    "STORED\r\nSTORED\r\nITEM b [5 b; 1767225700 s]\r\nITEM a [3 b; 0 s]\r\nEND\r\nITEM b [5 b; 1767225700 s]\r\nEND\r\n"
    "ITEM b [5 b; 1767225700 s]\r\nITEM a [3 b; 0 s]\r\nEND\r\nEND\r\nEND\r\nCLIENT_ERROR Illegal slab id\r\n"
    "CLIENT_ERROR bad command line\r\nCLIENT_ERROR bad command line format\r\n"
    "CLIENT_ERROR bad command line format\r\nITEM b [5 b; 1767225700 s]\r\nITEM a [3 b; 0 s]\r\nEND\r\n" },
  { "set a 0 0 3\r\nabc\r\nset b 0 100 5\r\nhello\r\nset a:b/c~.-_Z 0 0 1\r\nx\r\nget a\r\n"
    "lru_crawler metadump all\r\nlru_crawler metadump 2\r\nlru_crawler metadump 64\r\nlru_crawler metadump x\r\n"
    "lru_crawler metadump all noreply\r\nlru_crawler bogus\r\n",
    "STORED\r\nSTORED\r\nSTORED\r\nVALUE a 0 3\r\nabc\r\nEND\r\n"
    "key=b exp=1767225700 la=1767225600 cas=2 fetch=no cls=1 size=65\nkey=a%3Ab%2Fc~.-_Z exp=-1 la=1767225600 cas=3 fetch=no cls=1 size=70\n"
    "key=a exp=-1 la=1767225600 cas=1 fetch=yes cls=1 size=63\nEND\r\nEND\r\nBADCLASS invalid class id\r\n"
    "BADCLASS invalid class id\r\nERROR\r\nERROR\r\n" },
  { "slabs automove 0\r\nslabs automove 1\r\nslabs automove 2\r\nslabs automove 3\r\nslabs automove\r\n"
    "slabs automove x\r\nslabs automove 1 noreply\r\nslabs bogus\r\n",
    "OK\r\nOK\r\nOK\r\nERROR\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n" },
  { "stats conns\r\n",
    "STAT 1:addr tcp:192.0.2.1:54321\r\nSTAT 1:listen_addr tcp:127.0.0.1:11211\r\nSTAT 1:state conn_parse_cmd\r\n"
    "STAT 1:secs_since_last_cmd 0\r\nEND\r\n" },
  /* memcached without -A */
  { "shutdown\r\nshutdown graceful\r\nshutdown bogus\r\n",
    "ERROR: shutdown not enabled\r\nERROR: shutdown not enabled\r\nERROR: shutdown not enabled\r\n" },
};

typedef struct {
  const Session *session;
} SessionCase;

static void
run_session (const BraidChunking *chunking, gpointer data)
{
  const Session *s = data;
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  g_autoptr(GBytes) written = NULL;

  if (s->item_size_max != 0)
    settings.store.item_size_max = s->item_size_max;
  server = braid_mc_server_new (BRAID_REACTOR (fake), &settings);
  factory = braid_mc_server_create_factory (server);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, BRAID_PROTOCOL (protocol));
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      gsize len;
      const guint8 *bytes = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);

      braid_protocol_data_received (BRAID_PROTOCOL (protocol), bytes, len);
    }
  written = braid_fake_transport_get_written (transport);
  braid_assert_bytes_equal_str (s->output, written);
  g_assert_cmpint (braid_fake_transport_is_disconnecting (transport), ==, s->closes);
  braid_fake_transport_close_from_peer (transport, NULL);
}

static void
test_sessions (void)
{
  g_test_summary ("Every command answers exactly as memcached does, whole, byte by byte, at every split, in random chunks");
  for (gsize i = 0; i < G_N_ELEMENTS (sessions); i++)
    braid_test_for_each_chunking ((const guint8 *) sessions[i].input, strlen (sessions[i].input), 20,
                                  run_session, (gpointer) &sessions[i]);
}

/* memcached writes its replies after each get and whenever it has read
 * all it was sent; a get with a key too long, or a close for bad input,
 * takes back the replies it had not written yet.  So what a client gets
 * depends on how its bytes arrived: all at once, the replies after the
 * last get are lost; a byte at a time, none are. */
static GBytes *
deliver_with (const BraidMcServerSettings *settings, const gchar *input, gsize chunk)
{
  BraidTestServerConn c = { 0 };
  gsize len = strlen (input);
  GBytes *written;

  braid_test_server_conn_open (&c, settings);
  for (gsize i = 0; i < len; i += chunk)
    braid_test_server_conn_send (&c, (const guint8 *) input + i, MIN (chunk, len - i));
  written = braid_fake_transport_get_written (c.transport);
  braid_test_server_conn_close (&c);
  return written;
}

static GBytes *
deliver (const gchar *input, gsize chunk)
{
  return deliver_with (NULL, input, chunk);
}

/* @input answers @expected under @settings, delivered whole and a byte
 * at a time. */
static void
assert_replies_with (const BraidMcServerSettings *settings, const gchar *input, const gchar *expected)
{
  g_autoptr(GBytes) whole = deliver_with (settings, input, G_MAXSIZE);
  g_autoptr(GBytes) bytes = deliver_with (settings, input, 1);

  braid_assert_bytes_equal_str (expected, whole);
  braid_assert_bytes_equal_str (expected, bytes);
}

static void
test_flush_all_disabled (void)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  const gchar *input = "set a 0 0 1\r\nx\r\nflush_all\r\nflush_all noreply\r\nget a\r\nflush_all 10\r\n";
  /* memcached 1.6.18 -F, live */
  const gchar *expected = "STORED\r\nCLIENT_ERROR flush_all not allowed\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
                          "CLIENT_ERROR flush_all not allowed\r\n";

  g_test_summary ("With flush_all disabled (-F), every flush_all is refused with memcached's CLIENT_ERROR, "
                  "silently under noreply, and nothing is flushed");
  settings.flush_enabled = FALSE;
  assert_replies_with (&settings, input, expected);
}

/* cmd_flush after @input, sent under @settings in pieces of @chunk bytes. */
static guint64
flushes_counted_in (const BraidMcServerSettings *settings, const gchar *input, gsize chunk)
{
  BraidTestServerConn c = { 0 };
  BraidMcStats stats;
  gsize len = strlen (input);

  braid_test_server_conn_open (&c, settings);
  for (gsize i = 0; i < len; i += chunk)
    braid_test_server_conn_send (&c, (const guint8 *) input + i, MIN (chunk, len - i));
  braid_mc_store_get_stats (braid_mc_server_get_store (c.server), &stats);
  braid_test_server_conn_close (&c);
  return stats.cmd_flush;
}

/* The same whole and a byte at a time, or 0 when they differ. */
static guint64
flushes_counted (const BraidMcServerSettings *settings, const gchar *input)
{
  guint64 whole = flushes_counted_in (settings, input, G_MAXSIZE);

  return whole == flushes_counted_in (settings, input, 1) ? whole : 0;
}

static void
test_flush_all_refused_counted (void)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;

  g_test_summary ("A flush_all refused (-F, noreply or not, or a bad delay) still counts in cmd_flush, as "
                  "memcached 1.6.18 counts it (live: 3 and 2 below)");
  settings.flush_enabled = FALSE;
  g_assert_cmpuint (flushes_counted (&settings, "flush_all\r\nflush_all noreply\r\nflush_all 10\r\n"), ==, 3);
  g_assert_cmpuint (flushes_counted (NULL, "flush_all abc\r\nflush_all -1\r\n"), ==, 2);
}

static void
test_cas_disabled (void)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  const gchar *input = "set k 0 0 1\r\na\r\ncas k 0 0 1 1\r\nb\r\ncas k 0 0 1 0\r\nb\r\n"
                       "ms k 1 C1\r\nc\r\nms k 1 C0\r\nc\r\nms k 1 c\r\nd\r\nmd k C1\r\nmd k C0\r\nmg k v\r\n"
                       "set k 0 0 1\r\na\r\nma k C0\r\nma k C1\r\ngets k\r\ngats 0 k\r\nmg k c s v t\r\n"
                       "set n 0 0 1\r\n5\r\nma n C1 c\r\nma n C0 c v\r\nmn\r\n";
  /* memcached 1.6.18 -C, live */
  const gchar *expected = "STORED\r\nEXISTS\r\nEXISTS\r\nEX\r\nEX\r\nHD c0\r\nEX\r\nHD\r\nEN\r\n"
                          "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nEX\r\n"
                          "VALUE k 0 1 0\r\na\r\nEND\r\nVALUE k 0 1 0\r\na\r\nEND\r\nVA 1 c0 s1 t-1\r\na\r\n"
                          "STORED\r\nEX\r\nVA 1 c0\r\n6\r\nMN\r\n";

  g_test_summary ("With cas disabled (-C) items show cas 0 everywhere (gets, gats, mg, ms and ma's c); the cas "
                  "command and ms C never match, even 0; md and ma C compare against 0: memcached's answers");
  settings.store.cas_enabled = FALSE;
  assert_replies_with (&settings, input, expected);
}

static void
test_cas_disabled_listing (void)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  const gchar *input = "set a 0 0 1\r\nx\r\nlru_crawler metadump all\r\n";
  /* memcached 1.6.18 -C, live: cas=0, and no cas in the nominal size
   * (48 + 2 + 1 + 2); the la and exp times are the fake clock's */
  const gchar *expected = "STORED\r\nkey=a exp=-1 la=1767225600 cas=0 fetch=no cls=1 size=53\nEND\r\n";

  g_test_summary ("With cas disabled (-C) lru_crawler metadump lists every item with cas=0, as memcached does");
  settings.store.cas_enabled = FALSE;
  assert_replies_with (&settings, input, expected);
}

static void
test_incr_on_minus_zero (void)
{
  const gchar *input = "set n 0 0 2\r\n-0\r\nincr n 1\r\nset m 0 0 2\r\n-1\r\nincr m 1\r\n"
                       "set z 0 0 3\r\n0-1\r\nincr z 1\r\n";
  /* memcached 1.6.18, live */
  const gchar *expected = "STORED\r\n1\r\nSTORED\r\n"
                          "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nSTORED\r\n"
                          "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("A counter of \"-0\" is 0, as strtoull reads it and memcached counts it; \"-1\" and "
                  "\"0-1\" are not numbers");
  written = deliver (input, G_MAXSIZE);
  braid_assert_bytes_equal_str (expected, written);
}

static void
test_meta_arith_counted (void)
{
  const gchar *input = "set n 0 0 1\r\n5\r\nma n\r\nma n MD\r\nma n MD\r\nma x\r\nma x MD\r\nma x MD\r\n"
                       "ma x MD\r\nstats\r\n";
  /* memcached 1.6.18, live: each ma counts as the incr or decr it is */
  const gchar *const counters[] = {
    "STAT incr_misses 1\r\n", "STAT incr_hits 1\r\n", "STAT decr_misses 3\r\n", "STAT decr_hits 2\r\n",
  };
  g_autoptr(GBytes) written = NULL;
  g_autofree gchar *text = NULL;

  g_test_summary ("ma's hits and misses are counted in stats as incr or decr by its mode, as memcached does");
  written = deliver (input, G_MAXSIZE);
  text = g_strndup (g_bytes_get_data (written, NULL), g_bytes_get_size (written));
  for (gsize i = 0; i < G_N_ELEMENTS (counters); i++)
    if (strstr (text, counters[i]) == NULL)
      g_error ("no \u201c%s\u201d in:\n%s", g_strchomp (g_strdup (counters[i])), text);
}

/* Sets k to "old", then to @value_len bytes, then gets it, with -I 4096
 * and cas on or off; returns what the server wrote. */
static GBytes *
text_set_over_old (gboolean cas_enabled, gsize value_len)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autofree gchar *value = g_strnfill (value_len, 'v');
  g_autofree gchar *input = g_strdup_printf ("set k 0 0 3\r\nold\r\nset k 0 0 %" G_GSIZE_FORMAT "\r\n%s\r\n"
                                             "get k\r\n", value_len, value);

  settings.store.item_size_max = 4096;
  settings.store.cas_enabled = cas_enabled;
  return deliver_with (&settings, input, G_MAXSIZE);
}

/* What the server answers when the second set is stored. */
static gchar *
stored_then_got (gsize value_len)
{
  g_autofree gchar *value = g_strnfill (value_len, 'v');

  return g_strdup_printf ("STORED\r\nSTORED\r\nVALUE k 0 %" G_GSIZE_FORMAT "\r\n%s\r\nEND\r\n", value_len, value);
}

static void
test_item_size_follows_cas_setting (void)
{
  /* the longest value an item of key "k" without flags may carry, cas on */
  gsize fits = 4096 - braid_mc_item_size (1, 0, 0, TRUE);
  const gchar *refused = "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n";
  g_autofree gchar *at_limit = stored_then_got (fits);
  g_autofree gchar *lighter = stored_then_got (fits + 8);
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("A text set is weighed against -I with the server's cas setting: with cas on, a value one "
                  "byte over is refused and the old value goes, as memcached does; with -C items are 8 bytes "
                  "lighter, so 8 more bytes fit");
  written = text_set_over_old (TRUE, fits);
  braid_assert_bytes_equal_str (at_limit, written);
  g_clear_pointer (&written, g_bytes_unref);
  written = text_set_over_old (TRUE, fits + 1);
  braid_assert_bytes_equal_str (refused, written);
  g_clear_pointer (&written, g_bytes_unref);
  written = text_set_over_old (FALSE, fits + 8);
  braid_assert_bytes_equal_str (lighter, written);
  g_clear_pointer (&written, g_bytes_unref);
  written = text_set_over_old (FALSE, fits + 9);
  braid_assert_bytes_equal_str (refused, written);
}

static void
test_retrieval_key_at_limit (void)
{
  g_autofree gchar *key = g_strnfill (BRAID_MC_KEY_MAX, 'k');
  g_autofree gchar *too_long = g_strnfill (BRAID_MC_KEY_MAX + 1, 'k');
  g_autofree gchar *input = g_strdup_printf ("set %s 0 0 1\r\na\r\n"
                                             "get %s\r\ngets %s\r\ngat 0 %s\r\ngats 0 %s\r\n"
                                             "get x %s\r\n",
                                             key, key, key, key, key, too_long);
  g_autofree gchar *expected = g_strdup_printf ("STORED\r\n"
                                                "VALUE %s 0 1\r\na\r\nEND\r\n"
                                                "VALUE %s 0 1 1\r\na\r\nEND\r\n"
                                                "VALUE %s 0 1\r\na\r\nEND\r\n"
                                                "VALUE %s 0 1 1\r\na\r\nEND\r\n"
                                                "CLIENT_ERROR bad command line format\r\n",
                                                key, key, key, key);
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("get, gets, gat and gats find a key of exactly 250 bytes; one of 251 in a multi-get is "
                  "a bad command line (memcached 1.6)");
  written = deliver (input, 1);
  braid_assert_bytes_equal_str (expected, written);
}

static void
test_take_back_unwritten (void)
{
  const gchar *get_input = "set a 0 0 1\r\nx\r\nget a\r\nset b 0 0 1\r\ny\r\nget a " K251 "\r\n";
  const gchar *http_input = "set a 0 0 1\r\nx\r\nGET / HTTP/1.1\r\n";
  const gchar *mn_input = "me k\r\nmn\r\nset b 0 0 1\r\ny\r\ngets k " K251 "\r\n";
  g_autoptr(GBytes) mn_whole = deliver (mn_input, G_MAXSIZE);
  g_autoptr(GBytes) get_whole = deliver (get_input, G_MAXSIZE);
  g_autoptr(GBytes) get_bytes = deliver (get_input, 1);
  g_autoptr(GBytes) http_whole = deliver (http_input, G_MAXSIZE);
  g_autoptr(GBytes) http_bytes = deliver (http_input, 1);

  g_test_summary ("A get with a key too long, or a close for bad input, takes back the replies not yet written, "
                  "as memcached does (compared live by braid-difftest)");
  braid_assert_bytes_equal_str ("STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nCLIENT_ERROR bad command line format\r\n", get_whole);
  braid_assert_bytes_equal_str ("STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nSTORED\r\nCLIENT_ERROR bad command line format\r\n",
                                get_bytes);
  braid_assert_bytes_equal_str ("", http_whole);
  /* mn makes memcached write, as a get does (found by braid-difftest) */
  braid_assert_bytes_equal_str ("EN\r\nMN\r\nCLIENT_ERROR bad command line format\r\n", mn_whole);
  braid_assert_bytes_equal_str ("STORED\r\n", http_bytes);
}

static void
test_take_back_after_flush (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_mc_server_create_factory (server);
  g_autoptr(BraidProtocol) protocol = braid_protocol_factory_build_protocol (factory, NULL);
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  const gchar *const reads[] = { "set a 0 0 1\r\nx\r\nget a\r\n", "set b 0 0 1\r\ny\r\nget a " K251 "\r\n" };
  g_autoptr(GBytes) written = NULL;

  g_test_summary ("What was written (at the end of a read) is out of reach: a later take-back drops only the "
                  "replies made since, here the second set's STORED (memcached does the same)");
  braid_fake_transport_attach (transport, BRAID_PROTOCOL (protocol));
  for (gsize i = 0; i < G_N_ELEMENTS (reads); i++)
    braid_protocol_data_received (BRAID_PROTOCOL (protocol), (const guint8 *) reads[i], strlen (reads[i]));
  written = braid_fake_transport_get_written (transport);
  braid_assert_bytes_equal_str ("STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nCLIENT_ERROR bad command line format\r\n",
                                written);
  braid_fake_transport_close_from_peer (transport, NULL);
}

/* ---- over the fake reactor, with several clients ---- */

typedef struct {
  BraidFakeReactor *fake;
  BraidMcServer *server;
  BraidListener *listener;
} World;

/* A world whose server starts @start_us into the fake clock. */
static void
world_open_at (World *w, const BraidMcServerSettings *settings, gint64 start_us)
{
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;

  w->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  braid_fake_reactor_set_delivery (w->fake, BRAID_FAKE_DELIVERY_RANDOM);
  braid_fake_reactor_advance (w->fake, start_us);
  w->server = braid_mc_server_new (BRAID_REACTOR (w->fake), settings);
  factory = braid_mc_server_create_factory (w->server);
  w->listener = braid_reactor_listen (BRAID_REACTOR (w->fake), "tcp:11211", factory, &error);
  g_assert_no_error (error);
}

static void
world_open (World *w, const BraidMcServerSettings *settings)
{
  world_open_at (w, settings, 0);
}

static BraidRecordingProtocol *
world_connect (World *w)
{
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  BraidProtocol *client;

  braid_reactor_connect_async (BRAID_REACTOR (w->fake), "tcp:localhost:11211", factory, NULL,
                               braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (w->fake);
  client = braid_reactor_connect_finish (BRAID_REACTOR (w->fake), result, &error);
  g_assert_no_error (error);
  return BRAID_RECORDING_PROTOCOL (client);
}

static void
send_str (BraidRecordingProtocol *client, const gchar *text)
{
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (client)), text);
}

static void
world_close (World *w)
{
  braid_listener_stop (w->listener);
  g_clear_object (&w->listener);
  braid_fake_reactor_run_until_idle (w->fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (w->fake), ==, 0);
  g_clear_object (&w->server);
  g_clear_object (&w->fake);
}

static void
assert_received (BraidRecordingProtocol *client, const gchar *expected)
{
  braid_assert_bytes_equal (expected, strlen (expected), client->received->data, client->received->len);
  g_byte_array_set_size (client->received, 0);
}

typedef struct {
  const gchar *input;
  const gchar *reply;
  gboolean closes;
} BadCase;

static void
test_bad_input_keeps_serving (void)
{
  g_autofree gchar *long_key = g_strnfill (251, 'k');
  g_autofree gchar *long_get = g_strdup_printf ("get %s\r\n", long_key);
  g_autofree gchar *junk = g_strnfill (5000, 'j');
  const BadCase cases[] = {
    { "bogus\r\n", "ERROR\r\n" },
    { "\x01\x02\xff\x7f\r\n", "ERROR\r\n" },
    { long_get, "CLIENT_ERROR bad command line format\r\n" },
    { "set k 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n" },
    { "set k 0 0 3\r\nabcd\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n" },
    { "set k 0 0 2000000\r\n", "SERVER_ERROR object too large for cache\r\n" },
    { "incr k abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n" },
    { "touch k x\r\n", "CLIENT_ERROR invalid exptime argument\r\n" },
    { "delete k 5\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n" },
    { junk, "", TRUE },
  };
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) good = NULL;

  g_test_summary ("Each malformed or hostile request gets memcached's exact reply, and the server "
                  "goes on serving other clients afterwards");
  world_open (&w, NULL);
  good = world_connect (&w);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(BraidRecordingProtocol) bad = world_connect (&w);

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      send_str (bad, cases[i].input);
      braid_fake_reactor_run_until_idle (w.fake);
      assert_received (bad, cases[i].reply);
      g_assert_cmpint (braid_recording_protocol_is_lost (bad), ==, cases[i].closes);

      send_str (good, "set ok 0 0 2\r\nok\r\nget ok\r\n");
      braid_fake_reactor_run_until_idle (w.fake);
      assert_received (good, "STORED\r\nVALUE ok 0 2\r\nok\r\nEND\r\n");
      if (!cases[i].closes)
        braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (bad)));
      braid_fake_reactor_run_until_idle (w.fake);
    }
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (good)));
  world_close (&w);
}

static void
test_too_large_swallowed (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  gsize big = 2 * 1024 * 1024;
  g_autofree gchar *value = g_strnfill (big, 'x');

  g_test_summary ("An object over -I is refused at once and exactly its <bytes>+2 are skipped, however they arrive");
  world_open (&w, NULL);
  c = world_connect (&w);
  send_str (c, "set big 0 0 2097152\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "SERVER_ERROR object too large for cache\r\n");
  send_str (c, value);
  send_str (c, "\r\nget big\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "END\r\n");
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

#define BIG_VALUE_LEN (100 * 1024)

/* Opens @w with an output limit of 256 KiB (in @settings) and returns a
 * client that has stored "big", a 100 KiB value with @flags (its STORED
 * read): the setting of the tests of slow readers below. */
static BraidRecordingProtocol *
world_open_with_big_value (World *w, BraidMcServerSettings *settings, guint32 flags)
{
  g_autofree gchar *value = g_strnfill (BIG_VALUE_LEN, 'v');
  g_autofree gchar *set = g_strdup_printf ("set big %u 0 %d\r\n%s\r\n", flags, BIG_VALUE_LEN, value);
  BraidRecordingProtocol *c;

  settings->output_limit = 256 * 1024;
  world_open (w, settings);
  c = world_connect (w);
  send_str (c, set);
  braid_fake_reactor_run_until_idle (w->fake);
  assert_received (c, "STORED\r\n");
  return c;
}

static void
test_back_pressure (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  BraidFakeTransport *server_side = NULL;
  GPtrArray *transports;
  gsize expected;

  g_test_summary ("A client that sends requests but does not read is paused once its unsent replies "
                  "pass the limit, not before; when it reads again everything arrives");
  c = world_open_with_big_value (&w, &settings, 0);

  braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  for (guint i = 0; i < 50; i++)
    send_str (c, "get big\r\n");
  braid_fake_reactor_run_until_idle (w.fake);

  transports = braid_fake_reactor_get_transports (w.fake);
  for (guint i = 0; i < transports->len; i++)
    if (braid_fake_transport_get_protocol (g_ptr_array_index (transports, i)) != BRAID_PROTOCOL (c))
      server_side = g_ptr_array_index (transports, i);
  g_assert_nonnull (server_side);
  g_assert_true (braid_fake_transport_get_read_paused (server_side));
  /* Bounded: the limit plus the reply that crossed it; and not paused
   * before the limit was passed. */
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (server_side)), <,
                    settings.output_limit + 2 * 100 * 1024);
  g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (server_side)), >,
                    settings.output_limit);
  g_assert_true (braid_mc_server_is_busy (w.server));

  braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  braid_fake_reactor_run_until_idle (w.fake);
  expected = 50 * (strlen ("VALUE big 0 102400\r\n") + 100 * 1024 + 2 + strlen ("END\r\n"));
  g_assert_cmpuint (c->received->len, ==, expected);
  g_assert_false (braid_fake_transport_get_read_paused (server_side));
  g_assert_false (braid_mc_server_is_busy (w.server));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

/* The server's end of the one connection whose reading is paused. */
static BraidFakeTransport *
paused_server_side (World *w)
{
  GPtrArray *transports = braid_fake_reactor_get_transports (w->fake);
  BraidFakeTransport *found = NULL;

  for (guint i = 0; i < transports->len; i++)
    {
      BraidFakeTransport *t = g_ptr_array_index (transports, i);

      if (BRAID_IS_RECORDING_PROTOCOL (braid_fake_transport_get_protocol (t)) ||
          !braid_fake_transport_get_read_paused (t))
        continue;
      g_assert_null (found);
      found = t;
    }
  g_assert_nonnull (found);
  return found;
}

static void
test_multiget_bounded (void)
{
  static const struct {
    const gchar *name;
    const gchar *prefix;     /* the command, before its keys */
    gboolean pipelined;      /* one command per key instead of one line */
    gboolean with_cas;
  } shapes[] = {
    { "get", "get", FALSE, FALSE },
    { "gets", "gets", FALSE, TRUE },
    { "gat", "gat 0", FALSE, FALSE },
    { "gats", "gats 0", FALSE, TRUE },
    { "pipelined get", "get", TRUE, FALSE },
  };
  const guint n_keys = 300;
  const gsize value_len = BIG_VALUE_LEN;

  g_test_summary ("A client that asks for the same large value hundreds of times in one request (or "
                  "pipelined) and never reads costs the server at most its output limit plus one value: "
                  "the request is answered by reference and paused mid-way; other clients are served; "
                  "when it reads, every value arrives");
  g_test_bug ("11");
  for (gsize i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      World w = { 0 };
      BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
      g_autoptr(BraidRecordingProtocol) c = NULL;
      g_autoptr(BraidRecordingProtocol) other = NULL;
      g_autoptr(GString) request = g_string_new (NULL);
      BraidFakeTransport *server_side;
      gsize header_len, expected;

      g_test_message ("%s", shapes[i].name);
      c = world_open_with_big_value (&w, &settings, 7);
      other = world_connect (&w);

      braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
      for (guint k = 0; k < n_keys; k++)
        {
          if (shapes[i].pipelined)
            g_string_append_printf (request, "%s big\r\n", shapes[i].prefix);
          else
            g_string_append (request, k == 0 ? shapes[i].prefix : "");
          if (!shapes[i].pipelined)
            g_string_append (request, " big");
        }
      if (!shapes[i].pipelined)
        g_string_append (request, "\r\n");
      send_str (c, request->str);
      braid_fake_reactor_run_until_idle (w.fake);

      server_side = paused_server_side (&w);
      g_assert_cmpuint (braid_transport_get_write_buffer_size (BRAID_TRANSPORT (server_side)), <=,
                        settings.output_limit + value_len + 1024);

      send_str (other, "version\r\n");
      braid_fake_reactor_run_until_idle (w.fake);
      assert_received (other, "VERSION " BRAID_MC_VERSION_STRING "\r\n");

      braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
      braid_fake_reactor_run_until_idle (w.fake);
      header_len = strlen ("VALUE big 7 102400\r\n") + (shapes[i].with_cas ? strlen (" 1") : 0);
      expected = n_keys * (header_len + value_len + 2) + (shapes[i].pipelined ? n_keys : 1) * strlen ("END\r\n");
      g_assert_cmpuint (c->received->len, ==, expected);
      g_assert_false (braid_mc_server_is_busy (w.server));
      braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
      braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (other)));
      world_close (&w);
    }
}

static void
test_paused_get_abandoned (void)
{
  World w = { 0 };
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autoptr(GString) request = g_string_new ("get");

  g_test_summary ("A client that asks for a large value hundreds of times, never reads, and goes away leaves "
                  "nothing behind: the paused get is freed with its connection (AddressSanitizer's leak "
                  "check sees it otherwise), and the server is idle");
  c = world_open_with_big_value (&w, &settings, 7);
  braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  for (guint k = 0; k < 300; k++)
    g_string_append (request, " big");
  g_string_append (request, "\r\n");
  send_str (c, request->str);
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_true (braid_mc_server_is_busy (w.server));   /* paused mid-way */
  braid_transport_abort_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_false (braid_mc_server_is_busy (w.server));
  world_close (&w);
}

static void
test_reply_keeps_its_bytes (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) reader = NULL;
  g_autoptr(BraidRecordingProtocol) writer = NULL;
  g_autofree gchar *padded = g_strdup_printf ("5%*s", 599, "");
  g_autofree gchar *set = g_strdup_printf ("set n 0 0 600\r\n%s\r\n", padded);
  g_autofree gchar *expected = g_strdup_printf ("VALUE n 0 600\r\n%s\r\nEND\r\n", padded);

  g_test_summary ("A value on its way to a slow reader is sent by reference and never changes under "
                  "it: an incr meanwhile makes a new item rather than rewriting the one being sent");
  world_open (&w, NULL);
  reader = world_connect (&w);
  writer = world_connect (&w);
  send_str (writer, set);
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (writer, "STORED\r\n");
  g_byte_array_set_size (writer->received, 0);

  braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (reader)));
  send_str (reader, "get n\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  send_str (writer, "incr n 1\r\nget n\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  {
    /* As memcached does when the item is in use: a new item, unpadded. */
    assert_received (writer, "6\r\nVALUE n 0 1\r\n6\r\nEND\r\n");
  }
  braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (reader)));
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (reader, expected);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (reader)));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (writer)));
  world_close (&w);
}

static void
test_teardown_orders (void)
{
  g_test_summary ("Whatever goes first — the server, the reactor or the connection — everything is "
                  "freed: connections share the store but hold neither the server nor the reactor");
  g_test_bug ("11");
  for (guint order = 0; order < 3; order++)
    {
      World w = { 0 };
      g_autoptr(BraidRecordingProtocol) c = NULL;
      GObject *server_weak, *fake_weak, *connection_weak = NULL;
      GPtrArray *transports;

      world_open (&w, NULL);
      c = world_connect (&w);
      send_str (c, "set k 0 0 1\r\nx\r\nget");   /* a command half-received */
      braid_fake_reactor_run_until_idle (w.fake);
      transports = braid_fake_reactor_get_transports (w.fake);
      for (guint i = 0; i < transports->len; i++)
        {
          BraidProtocol *p = braid_fake_transport_get_protocol (g_ptr_array_index (transports, i));

          if (p != NULL && !BRAID_IS_RECORDING_PROTOCOL (p))
            connection_weak = G_OBJECT (p);
        }
      g_assert_nonnull (connection_weak);
      server_weak = G_OBJECT (w.server);
      fake_weak = G_OBJECT (w.fake);
      g_object_add_weak_pointer (server_weak, (gpointer *) &server_weak);
      g_object_add_weak_pointer (fake_weak, (gpointer *) &fake_weak);
      g_object_add_weak_pointer (connection_weak, (gpointer *) &connection_weak);

      braid_listener_stop (w.listener);
      g_clear_object (&w.listener);
      switch (order)
        {
        case 0:   /* the server first, with the connection open */
          g_clear_object (&w.server);
          g_assert_null (server_weak);
          g_clear_object (&c);
          g_clear_object (&w.fake);
          break;
        case 1:   /* the reactor first */
          g_clear_object (&c);
          g_clear_object (&w.fake);
          g_clear_object (&w.server);
          break;
        default:  /* the connection closes first */
          braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
          braid_fake_reactor_run_until_idle (w.fake);
          g_clear_object (&c);
          g_clear_object (&w.server);
          g_clear_object (&w.fake);
          break;
        }
      g_assert_null (server_weak);
      g_assert_null (fake_weak);
      g_assert_null (connection_weak);
    }
}

static void
test_busy_accounting (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) a = NULL;
  g_autoptr(BraidRecordingProtocol) b = NULL;
  BraidMcServerCounters counters;

  g_test_summary ("A connection is busy while a command is half-received, idle once it is answered, "
                  "and counts for nothing once it is gone, whatever state it left in");
  world_open (&w, NULL);
  a = world_connect (&w);
  b = world_connect (&w);
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_false (braid_mc_server_is_busy (w.server));
  send_str (a, "set k 0 0 5\r\nhel");
  send_str (b, "get");
  braid_fake_reactor_run_until_idle (w.fake);
  braid_mc_server_get_counters (w.server, &counters);
  g_assert_cmpuint (counters.busy_connections, ==, 2);
  g_assert_cmpuint (counters.curr_connections, ==, 2);
  send_str (a, "lo\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (a, "STORED\r\n");
  braid_mc_server_get_counters (w.server, &counters);
  g_assert_cmpuint (counters.busy_connections, ==, 1);
  g_assert_true (braid_mc_server_is_busy (w.server));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (b)));
  braid_fake_reactor_run_until_idle (w.fake);
  braid_mc_server_get_counters (w.server, &counters);
  g_assert_cmpuint (counters.busy_connections, ==, 0);
  g_assert_cmpuint (counters.curr_connections, ==, 1);
  g_assert_false (braid_mc_server_is_busy (w.server));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (a)));
  world_close (&w);
}

static void
test_connection_limit (void)
{
  World w = { 0 };
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidRecordingProtocol) a = NULL;
  g_autoptr(BraidRecordingProtocol) b = NULL;
  g_autoptr(BraidRecordingProtocol) c = NULL;

  g_test_summary ("Over -c, a connection gets memcached's “ERROR Too many open connections” and is closed");
  settings.max_connections = 2;
  world_open (&w, &settings);
  a = world_connect (&w);
  b = world_connect (&w);
  c = world_connect (&w);
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "ERROR Too many open connections\r\n");
  g_assert_true (braid_recording_protocol_is_lost (c));
  {
    BraidMcServerCounters counters;

    braid_mc_server_get_counters (w.server, &counters);
    g_assert_cmpuint (counters.rejected_connections, ==, 1);
  }
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (a)));
  braid_fake_reactor_run_until_idle (w.fake);
  g_clear_object (&c);
  c = world_connect (&w);
  send_str (c, "version\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "VERSION " BRAID_MC_VERSION_STRING "\r\n");
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (b)));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

static void
test_debugtime_and_stats (void)
{
  World w = { 0 };
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autofree gchar *stats = NULL;

  g_test_summary ("With debugtime enabled, a client moves the server clock; stats report memcached's names");
  settings.debugtime = TRUE;
  world_open (&w, &settings);
  c = world_connect (&w);
  send_str (c, "set k 0 100 1\r\nx\r\ndebugtime 99\r\nget k\r\ndebugtime 1\r\nget k\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "STORED\r\nOK\r\nVALUE k 0 1\r\nx\r\nEND\r\nOK\r\nEND\r\n");

  send_str (c, "stats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  stats = g_strndup ((const gchar *) c->received->data, c->received->len);
  g_assert_true (g_str_has_prefix (stats, "STAT pid "));
  g_assert_true (g_str_has_suffix (stats, "END\r\n"));
  g_assert_nonnull (strstr (stats, "STAT get_expired 1\r\n"));
  g_assert_nonnull (strstr (stats, "STAT evictions 0\r\n"));
  g_assert_nonnull (strstr (stats, "STAT curr_connections 1\r\n"));
  g_byte_array_set_size (c->received, 0);
  send_str (c, "stats settings\r\nstats bogus\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  g_clear_pointer (&stats, g_free);
  stats = g_strndup ((const gchar *) c->received->data, c->received->len);
  g_assert_nonnull (strstr (stats, "STAT maxbytes 67108864\r\n"));
  g_assert_nonnull (strstr (stats, "STAT item_size_max 1048576\r\n"));
  g_assert_true (g_str_has_suffix (stats, "END\r\nERROR\r\n"));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

/* What "stats" and "stats settings" list on a fresh server: memcached
 * 1.6.18's names in its order (Debian's, asked; its ext_* settings left
 * out, as braid has no extstore), with the values braid reports as
 * constant: memcached's own where they mean the same, 0 or "no" for the
 * slab and LRU machinery braid does not have.  NULL: not constant,
 * checked apart or not at all. */
typedef struct {
  const gchar *name;
  const gchar *value;
} StatLine;

static const StatLine general_stats[] = {
    { "pid", NULL }, { "uptime", NULL }, { "time", NULL }, { "version", BRAID_MC_VERSION_STRING },
    { "libevent", "none (GLib)" }, { "pointer_size", "64" }, { "rusage_user", NULL }, { "rusage_system", NULL },
    { "max_connections", NULL }, { "curr_connections", NULL }, { "total_connections", NULL },
    { "rejected_connections", "0" }, { "connection_structures", NULL }, { "response_obj_oom", "0" },
    { "response_obj_count", "0" }, { "response_obj_bytes", "0" }, { "read_buf_count", "0" },
    { "read_buf_bytes", "0" }, { "read_buf_bytes_free", "0" }, { "read_buf_oom", "0" }, { "reserved_fds", "0" },
    { "cmd_get", "0" }, { "cmd_set", "0" }, { "cmd_flush", "0" }, { "cmd_touch", "0" }, { "cmd_meta", "0" },
    { "get_hits", "0" }, { "get_misses", "0" }, { "get_expired", "0" }, { "get_flushed", "0" },
    { "delete_misses", "0" }, { "delete_hits", "0" }, { "incr_misses", "0" }, { "incr_hits", "0" },
    { "decr_misses", "0" }, { "decr_hits", "0" }, { "cas_misses", "0" }, { "cas_hits", "0" },
    { "cas_badval", "0" }, { "touch_hits", "0" }, { "touch_misses", "0" }, { "store_too_large", "0" },
    { "store_no_memory", "0" }, { "auth_cmds", "0" }, { "auth_errors", "0" }, { "bytes_read", NULL },
    { "bytes_written", NULL }, { "limit_maxbytes", "67108864" }, { "accepting_conns", "1" },
    { "listen_disabled_num", "0" }, { "time_in_listen_disabled_us", "0" }, { "threads", NULL },
    { "conn_yields", "0" }, { "hash_power_level", "16" }, { "hash_bytes", "524288" },
    { "hash_is_expanding", "0" }, { "slab_reassign_rescues", "0" }, { "slab_reassign_chunk_rescues", "0" },
    { "slab_reassign_evictions_nomem", "0" }, { "slab_reassign_inline_reclaim", "0" },
    { "slab_reassign_busy_items", "0" }, { "slab_reassign_busy_deletes", "0" },
    { "slab_reassign_running", "0" }, { "slabs_moved", "0" }, { "lru_crawler_running", "0" },
    { "lru_crawler_starts", "0" }, { "lru_maintainer_juggles", "0" }, { "malloc_fails", "0" },
    { "log_worker_dropped", "0" }, { "log_worker_written", "0" }, { "log_watcher_skipped", "0" },
    { "log_watcher_sent", "0" }, { "log_watchers", "0" }, { "unexpected_napi_ids", "0" },
    { "round_robin_fallback", "0" }, { "bytes", "0" }, { "curr_items", "0" }, { "total_items", "0" },
    { "slab_global_page_pool", "0" }, { "expired_unfetched", "0" }, { "evicted_unfetched", "0" },
    { "evicted_active", "0" }, { "evictions", "0" }, { "reclaimed", "0" }, { "crawler_reclaimed", "0" },
    { "crawler_items_checked", "0" }, { "lrutail_reflocked", "0" }, { "moves_to_cold", "0" },
    { "moves_to_warm", "0" }, { "moves_within_lru", "0" }, { "direct_reclaims", "0" },
    { "lru_bumps_dropped", "0" },
};

static const StatLine settings_stats[] = {
    { "maxbytes", "67108864" }, { "maxconns", "1024" }, { "tcpport", "0" }, { "udpport", "0" },
    { "inter", "NULL" }, { "verbosity", "0" }, { "oldest", "0" }, { "evictions", "on" },
    { "domain_socket", "NULL" }, { "umask", "700" }, { "shutdown_command", "no" }, { "growth_factor", "1.25" },
    { "chunk_size", "48" }, { "num_threads", "4" }, { "num_threads_per_udp", "4" }, { "stat_key_prefix", ":" },
    { "detail_enabled", "no" }, { "reqs_per_event", "20" }, { "cas_enabled", "yes" }, { "tcp_backlog", "1024" },
    { "binding_protocol", "auto-negotiate" }, { "auth_enabled_sasl", "no" }, { "auth_enabled_ascii", "no" },
    { "item_size_max", "1048576" }, { "maxconns_fast", "yes" }, { "hashpower_init", "0" },
    { "slab_reassign", "no" }, { "slab_automove", "0" }, { "slab_automove_ratio", "0.00" },
    { "slab_automove_window", "0" }, { "slab_chunk_max", "1048576" }, { "lru_crawler", "no" },
    { "lru_crawler_sleep", "0" }, { "lru_crawler_tocrawl", "0" }, { "tail_repair_time", "0" },
    { "flush_enabled", "yes" }, { "dump_enabled", "yes" }, { "hash_algorithm", "xxh3" },
    { "lru_maintainer_thread", "no" }, { "lru_segmented", "no" }, { "hot_lru_pct", "0" },
    { "warm_lru_pct", "0" }, { "hot_max_factor", "0.00" }, { "warm_max_factor", "0.00" }, { "temp_lru", "no" },
    { "temporary_ttl", "0" }, { "idle_timeout", "0" }, { "watcher_logbuf_size", "0" },
    { "worker_logbuf_size", "0" }, { "read_buf_mem_limit", "0" }, { "track_sizes", "no" },
    { "inline_ascii_response", "no" }, { "slab_automove_freeratio", "0.000" }, { "ssl_enabled", "no" },
    { "ssl_chain_cert", "(null)" }, { "ssl_key", "(null)" }, { "ssl_verify_mode", "0" },
    { "ssl_keyformat", "1" }, { "ssl_ciphers", "NULL" }, { "ssl_ca_cert", "NULL" },
    { "ssl_wbuf_size", "16384" }, { "ssl_session_cache", "no" }, { "ssl_kernel_tls", "no" },
    { "ssl_min_version", "tlsv1.2" }, { "num_napi_ids", "(null)" }, { "memory_file", "(null)" },
};

/* Compares a reply line by line with @want: the same names in the same
 * order, the values where given, then END and nothing more. */
static void
assert_stat_lines (const gchar *reply, const StatLine *want, gsize n_want)
{
  g_auto(GStrv) lines = g_strsplit (reply, "\r\n", -1);
  gsize n = 0;

  for (; lines[n] != NULL && g_str_has_prefix (lines[n], "STAT "); n++)
    {
      g_auto(GStrv) parts = g_strsplit (lines[n] + 5, " ", 2);

      if (n >= n_want)
        g_error ("line %" G_GSIZE_FORMAT " is not expected: %s", n, lines[n]);
      g_assert_cmpstr (parts[0], ==, want[n].name);
      if (want[n].value != NULL)
        g_assert_cmpstr (parts[1], ==, want[n].value);
    }
  g_assert_cmpuint (n, ==, n_want);
  g_assert_cmpstr (lines[n], ==, "END");
  g_assert_cmpstr (lines[n + 1], ==, "");
  g_assert_null (lines[n + 2]);
}

static gchar *
take_received (BraidRecordingProtocol *c)
{
  gchar *text = g_strndup ((const gchar *) c->received->data, c->received->len);

  g_byte_array_set_size (c->received, 0);
  return text;
}

static void
test_stats_lines (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autofree gchar *general = NULL;
  g_autofree gchar *settings = NULL;

  g_test_summary ("A fresh server's stats and stats settings list memcached 1.6.18's names in its order, "
                  "each once, with the constant values monitoring reads");
  world_open (&w, NULL);
  c = world_connect (&w);
  send_str (c, "stats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  general = take_received (c);
  assert_stat_lines (general, general_stats, G_N_ELEMENTS (general_stats));
  /* what is not constant but known on the fake clock, with one client */
  g_assert_nonnull (strstr (general, "\r\nSTAT uptime 0\r\n"));
  g_assert_nonnull (strstr (general, "\r\nSTAT curr_connections 1\r\n"));
  g_assert_nonnull (strstr (general, "\r\nSTAT total_connections 1\r\n"));
  g_assert_nonnull (strstr (general, "\r\nSTAT connection_structures 1\r\n"));
  g_assert_nonnull (strstr (general, "\r\nSTAT bytes_read 7\r\n"));
  send_str (c, "stats settings\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  settings = take_received (c);
  assert_stat_lines (settings, settings_stats, G_N_ELEMENTS (settings_stats));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

static void
count_shutdown (gpointer data)
{
  (*(guint *) data)++;
}

static void
test_uptime_never_negative (void)
{
  World w = { 0 };
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autofree gchar *stats = NULL;

  g_test_summary ("debugtime moving the clock before the start leaves uptime at 0, not 2^64 - n; "
                  "forward, uptime counts the moved clock");
  settings.debugtime = TRUE;
  world_open (&w, &settings);
  c = world_connect (&w);
  send_str (c, "debugtime -5\r\nstats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  stats = g_strndup ((const gchar *) c->received->data, c->received->len);
  g_assert_nonnull (strstr (stats, "\r\nSTAT uptime 0\r\n"));
  g_byte_array_set_size (c->received, 0);
  g_clear_pointer (&stats, g_free);
  send_str (c, "debugtime 10\r\nstats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  stats = g_strndup ((const gchar *) c->received->data, c->received->len);
  g_assert_nonnull (strstr (stats, "\r\nSTAT uptime 5\r\n"));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

static void
test_uptime_from_start (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *later = NULL;

  g_test_summary ("uptime counts from the server's start, not from the clock's zero");
  world_open_at (&w, NULL, 1000 * G_USEC_PER_SEC);
  c = world_connect (&w);
  send_str (c, "stats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  first = take_received (c);
  g_assert_nonnull (strstr (first, "\r\nSTAT uptime 0\r\n"));
  braid_fake_reactor_advance (w.fake, 7 * G_USEC_PER_SEC);
  send_str (c, "stats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  later = take_received (c);
  g_assert_nonnull (strstr (later, "\r\nSTAT uptime 7\r\n"));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

static void
test_shutdown_enabled (void)
{
  World w = { 0 };
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidRecordingProtocol) c = NULL;
  guint calls = 0;

  g_test_summary ("With -A, “shutdown” and “shutdown graceful” close the connection without a reply and "
                  "call the owner's shutdown function; other modes are refused as memcached refuses them");
  settings.shutdown_func = count_shutdown;
  settings.shutdown_data = &calls;
  world_open (&w, &settings);
  c = world_connect (&w);
  send_str (c, "shutdown bogus\r\nshutdown graceful now\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "CLIENT_ERROR invalid shutdown mode\r\nCLIENT_ERROR invalid shutdown mode\r\n");
  g_assert_cmpuint (calls, ==, 0);
  send_str (c, "shutdown graceful\r\nget k\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "");
  g_assert_true (braid_recording_protocol_is_lost (c));
  g_assert_cmpuint (calls, ==, 1);
  g_clear_object (&c);

  c = world_connect (&w);
  send_str (c, "shutdown\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "");
  g_assert_true (braid_recording_protocol_is_lost (c));
  g_assert_cmpuint (calls, ==, 2);
  world_close (&w);
}

static void
test_cache_memlimit_live (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autofree gchar *value = g_strnfill (100 * 1024, 'v');
  g_autofree gchar *stats = NULL;

  g_test_summary ("cache_memlimit changes the memory limit live: stats report it and the store evicts down to it");
  world_open (&w, NULL);
  c = world_connect (&w);
  for (guint i = 0; i < 200; i++)
    {
      g_autofree gchar *set = g_strdup_printf ("set k%u 0 0 %zu noreply\r\n%s\r\n", i, strlen (value), value);

      send_str (c, set);
    }
  braid_fake_reactor_run_until_idle (w.fake);
  g_assert_cmpuint (braid_mc_store_get_n_items (braid_mc_server_get_store (w.server)), ==, 200);
  send_str (c, "cache_memlimit 8\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "OK\r\n");
  g_assert_cmpuint (braid_mc_server_get_settings (w.server)->store.limit_bytes, ==, 8 << 20);
  g_assert_cmpuint (braid_mc_store_get_settings (braid_mc_server_get_store (w.server))->limit_bytes, ==, 8 << 20);
  /* each item costs more than its 100 KiB value */
  g_assert_cmpuint (braid_mc_store_get_n_items (braid_mc_server_get_store (w.server)), <=, (8 << 20) / (100 * 1024));
  send_str (c, "stats\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  stats = g_strndup ((const gchar *) c->received->data, c->received->len);
  g_assert_nonnull (strstr (stats, "STAT limit_maxbytes 8388608\r\n"));
  g_byte_array_set_size (c->received, 0);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

static void
test_stats_conns (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) a = NULL;
  g_autoptr(BraidRecordingProtocol) b = NULL;
  g_autofree gchar *conns = NULL;

  g_test_summary ("stats conns shows one block per open connection, oldest first, the asking one parsing a "
                  "command and the others reading; a closed connection leaves the list");
  world_open (&w, NULL);
  a = world_connect (&w);
  b = world_connect (&w);
  braid_fake_reactor_advance (w.fake, 5 * G_USEC_PER_SEC);
  send_str (b, "stats conns\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  conns = g_strndup ((const gchar *) b->received->data, b->received->len);
  g_test_message ("%s", conns);
  g_assert_true (g_str_has_prefix (conns, "STAT 1:addr tcp:"));
  g_assert_nonnull (strstr (conns, "STAT 1:state conn_read\r\nSTAT 1:secs_since_last_cmd 5\r\nSTAT 2:addr tcp:"));
  g_assert_nonnull (strstr (conns, "STAT 2:state conn_parse_cmd\r\nSTAT 2:secs_since_last_cmd 0\r\nEND\r\n"));
  g_assert_true (g_str_has_suffix (conns, "END\r\n"));
  g_byte_array_set_size (b->received, 0);

  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (a)));
  braid_fake_reactor_run_until_idle (w.fake);
  send_str (b, "stats conns\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  g_clear_pointer (&conns, g_free);
  conns = g_strndup ((const gchar *) b->received->data, b->received->len);
  g_assert_true (g_str_has_prefix (conns, "STAT 2:addr tcp:"));
  g_assert_null (strstr (conns, "STAT 1:"));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (b)));
  world_close (&w);
}

static void
test_big_then_small_replies (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(GString) input = g_string_new (NULL);
  g_autofree gchar *big = g_strnfill (40000, 'b');
  g_autofree gchar *set = g_strdup_printf ("set big 1 0 40000\r\n%s\r\n", big);
  g_autofree gchar *version = NULL;

  g_test_summary ("Replies over the copy limit (16 KiB) handed to the transport by reference, each "
                  "followed by small ones, all waiting for a reader that does not read: every byte "
                  "arrives, in order");
  world_open (&w, NULL);
  c = world_connect (&w);
  send_str (c, "version\r\n");
  braid_fake_reactor_run_until_idle (w.fake);
  version = g_strndup ((const gchar *) c->received->data, c->received->len);
  g_byte_array_set_size (c->received, 0);
  send_str (c, set);
  braid_fake_reactor_run_until_idle (w.fake);
  assert_received (c, "STORED\r\n");

  braid_transport_pause_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  for (guint i = 0; i < 3; i++)
    {
      g_string_append (input, "get big\r\nversion\r\nget nothing\r\n");
      g_string_append_printf (expected, "VALUE big 1 40000\r\n%s\r\nEND\r\n%sEND\r\n", big, version);
    }
  send_str (c, input->str);
  braid_fake_reactor_run_until_idle (w.fake);
  braid_transport_resume_reading (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  braid_fake_reactor_run_until_idle (w.fake);
  braid_assert_bytes_equal (expected->str, expected->len, c->received->data, c->received->len);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}

/* Sends `stats`; returns bytes_read and bytes_written from its reply, and
 * the reply's own length. */
static void
traffic_stats (BraidRecordingProtocol *c, BraidFakeReactor *fake, guint64 *read, guint64 *written, gsize *reply_len)
{
  g_autofree gchar *text = NULL;
  const gchar *at;

  g_byte_array_set_size (c->received, 0);
  send_str (c, "stats\r\n");
  braid_fake_reactor_run_until_idle (fake);
  text = g_strndup ((const gchar *) c->received->data, c->received->len);
  *reply_len = c->received->len;
  at = strstr (text, "\r\nSTAT bytes_read ");
  g_assert_nonnull (at);
  *read = g_ascii_strtoull (at + strlen ("\r\nSTAT bytes_read "), NULL, 10);
  at = strstr (text, "\r\nSTAT bytes_written ");
  g_assert_nonnull (at);
  *written = g_ascii_strtoull (at + strlen ("\r\nSTAT bytes_written "), NULL, 10);
  g_byte_array_set_size (c->received, 0);
}

static void
test_bytes_counted (void)
{
  World w = { 0 };
  g_autoptr(BraidRecordingProtocol) c = NULL;
  g_autofree gchar *big = g_strnfill (20000, 'x');
  g_autofree gchar *set = g_strdup_printf ("set k 0 0 20000\r\n%s\r\n", big);
  const gchar *small = "get k2\r\nversion\r\n";
  guint64 read0, written0, read1, written1;
  gsize stats_len0, stats_len1, requests, replies;

  g_test_summary ("bytes_read and bytes_written count exactly the bytes of each request and reply, "
                  "small replies and big ones (sent by reference) alike");
  world_open (&w, NULL);
  c = world_connect (&w);
  traffic_stats (c, w.fake, &read0, &written0, &stats_len0);
  /* a stats reply counts what came before it, its own request included */
  g_assert_cmpuint (read0, ==, strlen ("stats\r\n"));
  g_assert_cmpuint (written0, ==, 0);

  send_str (c, set);
  send_str (c, "get k\r\n");
  send_str (c, small);
  braid_fake_reactor_run_until_idle (w.fake);
  requests = strlen (set) + strlen ("get k\r\n") + strlen (small);
  replies = c->received->len;
  g_assert_cmpuint (replies, ==, strlen ("STORED\r\n") + strlen ("VALUE k 0 20000\r\n") + 20000 + 2 +
                    strlen ("END\r\n") + strlen ("END\r\nVERSION 1.6.18-braid-" PACKAGE_VERSION "\r\n"));

  traffic_stats (c, w.fake, &read1, &written1, &stats_len1);
  g_assert_cmpuint (read1, ==, read0 + requests + strlen ("stats\r\n"));
  g_assert_cmpuint (written1, ==, written0 + stats_len0 + replies);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (c)));
  world_close (&w);
}


/* One connection driven directly, its writes given one by one
 * (BraidTestServerConn, tests/support/server-conn.h). */
static void
direct_open (BraidTestServerConn *d)
{
  braid_test_server_conn_open (d, NULL);
}

static void
direct_send (BraidTestServerConn *d, const gchar *text)
{
  braid_protocol_data_received (d->protocol, (const guint8 *) text, strlen (text));
}

/* What the connection wrote since the last call. */
static void
direct_assert_written (BraidTestServerConn *d, const gchar *expected)
{
  g_autoptr(GBytes) written = braid_fake_transport_get_written (d->transport);

  braid_assert_bytes_equal_str (expected, written);
  braid_fake_transport_clear (d->transport);
}


static void
test_many_small_values (void)
{
  const guint n_keys = 40;
  g_autofree gchar *value = g_strnfill (500, 'v');
  g_autoptr(GString) sets = g_string_new (NULL);
  g_autoptr(GString) get = g_string_new ("get");
  g_autoptr(GString) expected = g_string_new (NULL);
  BraidTestServerConn d = { 0 };

  g_test_summary ("A reply of many small values, copied into the output buffer (more than the 16 KiB "
                  "copied at a flush, so the buffer itself goes to the transport), is followed by "
                  "the next replies intact, again and again");
  for (guint i = 0; i < n_keys; i++)
    {
      g_string_append_printf (sets, "set k%02u 0 0 500 noreply\r\n%s\r\n", i, value);
      g_string_append_printf (get, " k%02u", i);
      g_string_append_printf (expected, "VALUE k%02u 0 500\r\n%s\r\n", i, value);
    }
  g_string_append (get, "\r\n");
  g_string_append (expected, "END\r\n");
  g_assert_cmpuint (expected->len, >, 16 * 1024);
  direct_open (&d);
  direct_send (&d, sets->str);
  direct_assert_written (&d, "");
  for (guint round = 0; round < 3; round++)
    {
      g_autofree gchar *one = g_strdup_printf ("VALUE k07 0 500\r\n%s\r\nEND\r\nVERSION %s\r\n", value,
                                               BRAID_MC_VERSION_STRING);

      direct_send (&d, get->str);
      direct_assert_written (&d, expected->str);
      direct_send (&d, "get k07\r\nversion\r\n");
      direct_assert_written (&d, one);
    }
  braid_test_server_conn_close (&d);
}

static gsize
input_held (BraidTestServerConn *d)
{
  return braid_mc_server_protocol_get_input_held (BRAID_MC_SERVER_PROTOCOL (d->protocol));
}

static void
test_input_released (void)
{
  BraidTestServerConn d = { 0 };

  g_test_summary ("A connection holds only the input it has not parsed: each read's parsed bytes are "
                  "released, however many commands come, so its memory stays bounded");
  g_test_bug ("11");
  direct_open (&d);
  for (guint i = 0; i < 100; i++)
    {
      direct_send (&d, "set k 0 0 1\r\nx\r\nget k\r\n");
      g_assert_cmpuint (input_held (&d), ==, 0);
    }
  direct_send (&d, "get k\r\nget");
  g_assert_cmpuint (input_held (&d), ==, strlen ("get"));
  direct_send (&d, " k\r\n");
  g_assert_cmpuint (input_held (&d), ==, 0);
  braid_test_server_conn_close (&d);
}

static void
test_input_held_precondition (void)
{
  BraidCriticalCounter counter;

  g_test_summary ("The input measure refuses what is not a connection");
  braid_test_count_criticals_begin (&counter);
  BRAID_EXPECT_CRITICAL (g_assert_cmpuint (braid_mc_server_protocol_get_input_held (NULL), ==, 0));
  braid_test_count_criticals_end (&counter);
}


static void
test_out_of_memory (void)
{
  const guint n_writes = 100;
  g_autofree gchar *value = g_strnfill (1000, 'm');
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = braid_fake_transport_new ();
  g_autoptr(GBytes) written = NULL;
  guint n_items;

  g_test_summary ("With -M, a set the full store cannot take is refused with memcached's out of memory "
                  "error and the items stored before it stay; noreply silences the error");
  settings.store.evict = FALSE;
  settings.store.item_size_max = 2048;
  settings.store.limit_bytes = 64 * 1024;
  server = braid_mc_server_new (BRAID_REACTOR (fake), &settings);
  factory = braid_mc_server_create_factory (server);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  braid_fake_transport_attach (transport, BRAID_PROTOCOL (protocol));
  for (guint i = 0; i < n_writes; i++)
    g_string_append_printf (input, "set k%03u 0 0 1000\r\n%s\r\n", i, value);
  g_string_append_printf (input, "set late 0 0 1000 noreply\r\n%s\r\nget k000\r\n", value);
  braid_protocol_data_received (protocol, (const guint8 *) input->str, input->len);
  n_items = braid_mc_store_get_n_items (braid_mc_server_get_store (server));
  g_assert_cmpuint (n_items, >, 0);
  g_assert_cmpuint (n_items, <, n_writes);
  for (guint i = 0; i < n_writes; i++)
    g_string_append (expected, i < n_items ? "STORED\r\n" : "SERVER_ERROR out of memory storing object\r\n");
  g_string_append_printf (expected, "VALUE k000 0 1000\r\n%s\r\nEND\r\n", value);
  written = braid_fake_transport_get_written (transport);
  braid_assert_bytes_equal_str (expected->str, written);
  braid_fake_transport_close_from_peer (transport, NULL);
}


static void
test_buffered_measures (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_mc_server_create_factory (server);
  g_autoptr(BraidProtocol) alone = braid_protocol_factory_build_protocol (factory, NULL);
  const gchar *input = "set k 0 0 1\r\nx\r\nget";
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autofree gchar *value = g_strnfill (10000, 'v');
  g_autofree gchar *set = g_strdup_printf ("set big 0 0 10000\r\n%s\r\n", value);
  BraidTestServerConn d = { 0 };
  gsize in = 99, out = 99;
  gboolean retrieving = TRUE;

  g_test_summary ("What a checker reads of a connection: the unparsed input, the replies not yet handed "
                  "to a transport (all of them without one), whether a get is paused; each measure "
                  "only when asked for");
  braid_protocol_data_received (alone, (const guint8 *) input, strlen (input));
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (alone), &in, &out, &retrieving);
  g_assert_cmpuint (in, ==, strlen ("get"));
  g_assert_cmpuint (out, ==, strlen ("STORED\r\n"));
  g_assert_false (retrieving);
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (alone), NULL, NULL, NULL);
  in = out = 99;
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (alone), NULL, &out, NULL);
  g_assert_cmpuint (out, ==, strlen ("STORED\r\n"));
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (alone), &in, NULL, NULL);
  g_assert_cmpuint (in, ==, strlen ("get"));

  /* a get paused at the output limit, then drained */
  settings.output_limit = 16 * 1024;
  braid_test_server_conn_open (&d, &settings);
  braid_fake_transport_set_autoflush (d.transport, FALSE);
  direct_send (&d, set);
  direct_send (&d, "get big big big big big\r\n");
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (d.protocol), &in, &out, &retrieving);
  g_assert_true (retrieving);
  g_assert_cmpuint (in, ==, 0);
  g_assert_cmpuint (out, ==, 0);
  retrieving = FALSE;
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (d.protocol), NULL, NULL, &retrieving);
  g_assert_true (retrieving);
  for (guint i = 0; i < 10; i++)
    braid_fake_transport_flush (d.transport);
  braid_mc_server_protocol_get_buffered (BRAID_MC_SERVER_PROTOCOL (d.protocol), NULL, NULL, &retrieving);
  g_assert_false (retrieving);
  braid_test_server_conn_close (&d);
}


/* The "STAT verbosity" line of "stats settings". */
static gchar *
verbosity_line (BraidTestServerConn *d)
{
  g_autoptr(GBytes) written = NULL;
  g_autofree gchar *text = NULL;
  const gchar *at;

  braid_fake_transport_clear (d->transport);
  direct_send (d, "stats settings\r\n");
  written = braid_fake_transport_get_written (d->transport);
  text = g_strndup (g_bytes_get_data (written, NULL), g_bytes_get_size (written));
  braid_fake_transport_clear (d->transport);
  at = strstr (text, "STAT verbosity ");
  g_assert_nonnull (at);
  return g_strndup (at, strcspn (at, "\r"));
}

static void
test_verbosity_capped (void)
{
  static const struct {
    const gchar *command;
    const gchar *line;
  } steps[] = {
    { "verbosity 5\r\n", "STAT verbosity 2" },
    { "verbosity 1\r\n", "STAT verbosity 1" },
    { "verbosity 2\r\n", "STAT verbosity 2" },
    { "verbosity 3\r\n", "STAT verbosity 2" },
    { "verbosity 0\r\n", "STAT verbosity 0" },
  };
  BraidTestServerConn d = { 0 };

  g_test_summary ("verbosity answers OK and keeps at most memcached's MAX_VERBOSITY_LEVEL, 2, as "
                  "'stats settings' shows (observed from memcached 1.6.18)");
  direct_open (&d);
  for (gsize i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autofree gchar *line = NULL;

      direct_send (&d, steps[i].command);
      direct_assert_written (&d, "OK\r\n");
      line = verbosity_line (&d);
      g_assert_cmpstr (line, ==, steps[i].line);
    }
  braid_test_server_conn_close (&d);
}

static void
test_gat_sets_expiry (void)
{
  BraidTestServerConn d = { 0 };

  g_test_summary ("gat and gats give the item the exptime of the command: it expires when that time "
                  "has passed on the (simulated) clock, not before");
  direct_open (&d);
  direct_send (&d, "set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\ngat 10 a\r\ngats 20 b\r\n");
  direct_assert_written (&d, "STORED\r\nSTORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nVALUE b 0 1 2\r\ny\r\nEND\r\n");
  braid_fake_reactor_advance (d.fake, 9 * G_USEC_PER_SEC);
  direct_send (&d, "get a b\r\n");
  direct_assert_written (&d, "VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\n");
  braid_fake_reactor_advance (d.fake, 2 * G_USEC_PER_SEC);
  direct_send (&d, "get a b\r\n");
  direct_assert_written (&d, "VALUE b 0 1\r\ny\r\nEND\r\n");
  braid_fake_reactor_advance (d.fake, 10 * G_USEC_PER_SEC);
  direct_send (&d, "get a b\r\n");
  direct_assert_written (&d, "END\r\n");
  braid_test_server_conn_close (&d);
}


static void
test_long_key_hides_large_values (void)
{
  g_autofree gchar *value = g_strnfill (600, 'v');
  g_autofree gchar *set = g_strdup_printf ("set big 0 0 600\r\n%s\r\n", value);
  BraidTestServerConn d = { 0 };

  g_test_summary ("A get with a key too long answers the error alone even when a key before it has a "
                  "value large enough to go by reference (observed from memcached 1.6.18)");
  direct_open (&d);
  direct_send (&d, set);
  direct_assert_written (&d, "STORED\r\n");
  direct_send (&d, "get big " K251 "\r\n");
  direct_assert_written (&d, "CLIENT_ERROR bad command line format\r\n");
  direct_send (&d, "gets big big " K251 " big\r\n");
  direct_assert_written (&d, "CLIENT_ERROR bad command line format\r\n");
  braid_test_server_conn_close (&d);
}

static void
test_nothing_runs_after_quit (void)
{
  BraidTestServerConn d = { 0 };
  BraidMcStore *store;

  g_test_summary ("Commands that come after quit in the same read are not executed: the second set "
                  "stores nothing (observed from memcached 1.6.18)");
  direct_open (&d);
  direct_send (&d, "set a 0 0 1\r\nx\r\nquit\r\nset b 0 0 1\r\ny\r\n");
  direct_assert_written (&d, "STORED\r\n");
  g_assert_true (braid_fake_transport_is_disconnecting (d.transport));
  store = braid_mc_server_get_store (d.server);
  g_assert_cmpuint (braid_mc_store_get_n_items (store), ==, 1);   /* a alone */
  braid_test_server_conn_close (&d);
}


static void
test_finalized_connection_uncounted (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (1);
  g_autoptr(BraidMcServer) server = braid_mc_server_new (BRAID_REACTOR (fake), NULL);
  g_autoptr(BraidProtocolFactory) factory = braid_mc_server_create_factory (server);
  BraidProtocol *protocol = braid_protocol_factory_build_protocol (factory, NULL);
  BraidFakeTransport *transport = braid_fake_transport_new ();
  BraidMcServerCounters counters;

  g_test_summary ("A connection freed while still open, a command half-received, leaves the connection "
                  "and busy counters as if it had closed");
  braid_fake_transport_attach (transport, protocol);
  braid_protocol_data_received (protocol, (const guint8 *) "get", 3);
  braid_mc_server_get_counters (server, &counters);
  g_assert_cmpuint (counters.curr_connections, ==, 1);
  g_assert_cmpuint (counters.busy_connections, ==, 1);
  g_object_unref (transport);
  g_object_unref (protocol);
  braid_mc_server_get_counters (server, &counters);
  g_assert_cmpuint (counters.curr_connections, ==, 0);
  g_assert_cmpuint (counters.busy_connections, ==, 0);
  g_assert_false (braid_mc_server_is_busy (server));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/server/sessions", test_sessions);
  g_test_add_func ("/mc/server/bad-input", test_bad_input_keeps_serving);
  g_test_add_func ("/mc/server/take-back-unwritten", test_take_back_unwritten);
  g_test_add_func ("/mc/server/take-back-after-flush", test_take_back_after_flush);
  g_test_add_func ("/mc/server/flush-all-disabled", test_flush_all_disabled);
  g_test_add_func ("/mc/server/flush-all-refused-counted", test_flush_all_refused_counted);
  g_test_add_func ("/mc/server/cas-disabled", test_cas_disabled);
  g_test_add_func ("/mc/server/cas-disabled/listing", test_cas_disabled_listing);
  g_test_add_func ("/mc/server/incr-on-minus-zero", test_incr_on_minus_zero);
  g_test_add_func ("/mc/server/meta-arith-counted", test_meta_arith_counted);
  g_test_add_func ("/mc/server/item-size-follows-cas-setting", test_item_size_follows_cas_setting);
  g_test_add_func ("/mc/server/retrieval-key-at-limit", test_retrieval_key_at_limit);
  g_test_add_func ("/mc/server/too-large-swallowed", test_too_large_swallowed);
  g_test_add_func ("/mc/server/back-pressure", test_back_pressure);
  g_test_add_func ("/mc/server/connection-limit", test_connection_limit);
  g_test_add_func ("/mc/server/busy-accounting", test_busy_accounting);
  g_test_add_func ("/mc/server/hostile/multiget-bounded", test_multiget_bounded);
  g_test_add_func ("/mc/server/hostile/paused-get-abandoned", test_paused_get_abandoned);
  g_test_add_func ("/mc/server/reply-keeps-its-bytes", test_reply_keeps_its_bytes);
  g_test_add_func ("/mc/server/teardown-orders", test_teardown_orders);
  g_test_add_func ("/mc/server/debugtime-and-stats", test_debugtime_and_stats);
  g_test_add_func ("/mc/server/stats/lines", test_stats_lines);
  g_test_add_func ("/mc/server/stats/uptime-from-start", test_uptime_from_start);
  g_test_add_func ("/mc/server/uptime-never-negative", test_uptime_never_negative);
  g_test_add_func ("/mc/server/admin/shutdown-enabled", test_shutdown_enabled);
  g_test_add_func ("/mc/server/admin/cache-memlimit-live", test_cache_memlimit_live);
  g_test_add_func ("/mc/server/admin/stats-conns", test_stats_conns);
  g_test_add_func ("/mc/server/big-then-small-replies", test_big_then_small_replies);
  g_test_add_func ("/mc/server/bytes-counted", test_bytes_counted);
  g_test_add_func ("/mc/server/many-small-values", test_many_small_values);
  g_test_add_func ("/mc/server/input-released", test_input_released);
  g_test_add_func ("/mc/server/input-held-precondition", test_input_held_precondition);
  g_test_add_func ("/mc/server/out-of-memory", test_out_of_memory);
  g_test_add_func ("/mc/server/buffered-measures", test_buffered_measures);
  g_test_add_func ("/mc/server/admin/verbosity-capped", test_verbosity_capped);
  g_test_add_func ("/mc/server/gat-sets-expiry", test_gat_sets_expiry);
  g_test_add_func ("/mc/server/long-key-hides-large-values", test_long_key_hides_large_values);
  g_test_add_func ("/mc/server/nothing-runs-after-quit", test_nothing_runs_after_quit);
  g_test_add_func ("/mc/server/finalized-connection-uncounted", test_finalized_connection_uncounted);
  return g_test_run ();
}
