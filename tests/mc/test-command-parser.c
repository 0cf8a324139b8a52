/* braid — the memcached command parser, at every split. */
#include "test-support.h"
#include "mc-command-parser.h"

#include <string.h>

/* Feeds @chunks into a growing buffer the way the server does, and
 * renders every parsed command as text, so that one expected string
 * describes the parse whatever the chunking. */
static gchar *
parse_all (const BraidChunking *chunking, gsize item_size_max)
{
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  GString *out = g_string_new (NULL);
  gsize offset = 0, swallow = 0;

  parser.item_size_max = item_size_max;
  for (guint i = 0; i < chunking->chunks->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (chunking->chunks, i), &len);
      BraidMcCommand cmd;
      gsize used;

      g_byte_array_append (buf, data, (guint) len);
      for (;;)
        {
          if (swallow > 0)
            {
              gsize n = MIN (swallow, buf->len - offset);

              swallow -= n;
              offset += n;
              if (swallow > 0)
                break;
            }
          used = braid_mc_parse_command (&parser, buf->data + offset, buf->len - offset, FALSE, &cmd);
          if (used == 0)
            break;
          offset += used;
          g_string_append_printf (out, "[%s", braid_mc_command_name (cmd.type));
          if (cmd.type == BRAID_MC_COMMAND_BAD_INPUT)
            {
              g_autofree gchar *r = cmd.reply != NULL ? g_strescape (cmd.reply, NULL) : g_strdup ("-");

              g_string_append_printf (out, " %s swallow=%" G_GSIZE_FORMAT "%s%s", r, cmd.swallow, cmd.close ? " close" : "",
                                      cmd.forget_key ? " forget" : "");
              swallow = cmd.swallow;
            }
          if (cmd.type == BRAID_MC_COMMAND_META)
            {
              /* an ms block too large for -I is skipped like a refused set */
              if (cmd.has_data_block)
                g_string_append_printf (out, " value=%.*s", (int) cmd.value_len, cmd.value);
              if (cmd.swallow > 0)
                g_string_append_printf (out, " swallow=%" G_GSIZE_FORMAT, cmd.swallow);
              swallow = cmd.swallow;
            }
          if (cmd.key != NULL && cmd.type != BRAID_MC_COMMAND_BAD_INPUT)
            g_string_append_printf (out, " key=%.*s", (int) cmd.key_len, cmd.key);
          if (cmd.keys != NULL && cmd.type != BRAID_MC_COMMAND_BAD_INPUT)
            {
              gsize k = 0;
              const guint8 *key;
              gsize key_len;

              while (braid_mc_command_next_key (&cmd, &k, &key, &key_len))
                g_string_append_printf (out, " k=%.*s", (int) key_len, key);
            }
          if (braid_mc_command_is_storage (cmd.type))
            g_string_append_printf (out, " flags=%u exp=%" G_GINT64_FORMAT " value=%.*s",
                                    cmd.flags, cmd.exptime, (int) cmd.value_len, cmd.value);
          if (cmd.type == BRAID_MC_COMMAND_CAS)
            g_string_append_printf (out, " cas=%" G_GUINT64_FORMAT, cmd.cas);
          if (cmd.type == BRAID_MC_COMMAND_INCR || cmd.type == BRAID_MC_COMMAND_DECR)
            g_string_append_printf (out, " delta=%" G_GUINT64_FORMAT, cmd.delta);
          if (cmd.type == BRAID_MC_COMMAND_TOUCH || cmd.type == BRAID_MC_COMMAND_GAT || cmd.type == BRAID_MC_COMMAND_GATS)
            g_string_append_printf (out, " exp=%" G_GINT64_FORMAT, cmd.exptime);
          if (cmd.has_number)
            g_string_append_printf (out, " n=%" G_GINT64_FORMAT, cmd.number);
          if (cmd.arg != NULL)
            g_string_append_printf (out, " arg=%.*s", (int) cmd.arg_len, cmd.arg);
          if (cmd.bad_delay)
            g_string_append (out, " bad-delay");
          if (cmd.noreply)
            g_string_append (out, " noreply");
          g_string_append (out, "]");
          if (cmd.close)
            return g_string_free (out, FALSE);
        }
    }
  if (offset < buf->len)
    g_string_append_printf (out, "+%" G_GSIZE_FORMAT, buf->len - offset);
  return g_string_free (out, FALSE);
}

typedef struct {
  const gchar *input;
  const gchar *expected;
  gsize item_size_max;
  gsize input_len;        /* 0: strlen (input); set for inputs with NULs */
} Case;

static void
check_chunking (const BraidChunking *chunking, gpointer data)
{
  const Case *c = data;
  g_autofree gchar *got = parse_all (chunking, c->item_size_max != 0 ? c->item_size_max : 1024 * 1024);

  if (!g_str_equal (got, c->expected))
    g_error ("input “%s”, chunking %s: expected %s but saw %s", g_strescape (c->input, NULL),
             chunking->label, c->expected, got);
}

static void
run_cases (const Case *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    braid_test_for_each_chunking ((const guint8 *) cases[i].input,
                                  cases[i].input_len != 0 ? cases[i].input_len : strlen (cases[i].input), 20,
                                  check_chunking, (gpointer) &cases[i]);
}

static const Case commands[] = {
  { "get a\r\n", "[get k=a]" },
  { "get a bb  ccc\r\n", "[get k=a k=bb k=ccc]" },
  { "gets a b\n", "[gets k=a k=b]" },
  { "gat 10 a b\r\n", "[gat k=a k=b exp=10]" },
  { "gats -1 a\r\n", "[gats k=a exp=-1]" },
  { "set k 5 0 3\r\nabc\r\n", "[set key=k flags=5 exp=0 value=abc]" },
  { "set k 0 0 0\r\n\r\n", "[set key=k flags=0 exp=0 value=]" },
  { "set k 0 0 4 noreply\r\na\r\nb\r\n", "[set key=k flags=0 exp=0 value=a\r\nb noreply]" },
  { "add k 4294967295 2592000 1\r\nx\r\n", "[add key=k flags=4294967295 exp=2592000 value=x]" },
  { "replace k 0 -1 1\r\nx\r\n", "[replace key=k flags=0 exp=-1 value=x]" },
  { "append k 0 0 1\r\nx\r\nprepend k 0 0 1\r\ny\r\n",
    "[append key=k flags=0 exp=0 value=x][prepend key=k flags=0 exp=0 value=y]" },
  { "cas k 1 2 1 99\r\nx\r\n", "[cas key=k flags=1 exp=2 value=x cas=99]" },
  { "cas k 1 2 1 18446744073709551615 noreply\r\nx\r\n",
    "[cas key=k flags=1 exp=2 value=x cas=18446744073709551615 noreply]" },
  { "delete k\r\ndelete k noreply\r\ndelete k 0\r\ndelete k 0 noreply\r\n",
    "[delete key=k][delete key=k noreply][delete key=k][delete key=k noreply]" },
  { "incr k 18446744073709551615\r\ndecr k 1 noreply\r\n",
    "[incr key=k delta=18446744073709551615][decr key=k delta=1 noreply]" },
  { "touch k 100\r\n", "[touch key=k exp=100]" },
  { "flush_all\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 0 noreply\r\n",
    "[flush_all][flush_all n=10][flush_all noreply][flush_all n=0 noreply]" },
  /* any token but a last noreply is the delay; a bad one is answered by
   * the server, after it counts the command and checks -F */
  { "flush_all 0 x\r\nflush_all abc\r\nflush_all abc extra\r\nflush_all noreply 5\r\n",
    "[flush_all n=0][flush_all bad-delay][flush_all bad-delay][flush_all bad-delay]" },
  /* gat/gats without keys: END; bget is get */
  { "gat 10\r\ngats 0\r\nbget a\r\n", "[gat exp=10][gats exp=0][get k=a]" },
  /* numbers as strtoull/strtol read them: "-0" is 0, white space after */
  { "set k -0 0 1\r\nx\r\nincr k 5\t\r\n", "[set key=k flags=0 exp=0 value=x][incr key=k delta=5]" },
  { "stats\r\nstats settings\r\nstats items\r\n", "[stats][stats arg=settings][stats arg=items]" },
  { "version\r\nverbosity 1\r\nverbosity 2 noreply\r\nquit\r\n",
    "[version][verbosity n=1][verbosity n=2 noreply][quit]" },
  { "debugtime 60\r\n", "[debugtime n=60]" },
  /* admin commands real tools send (issue #12) */
  { "cache_memlimit 128\r\ncache_memlimit 64 noreply\r\ncache_memlimit 64 x\r\n",
    "[cache_memlimit n=128][cache_memlimit n=64 noreply][cache_memlimit n=64]" },
  /* safe_strtoul keeps 32 bits: 99999999999 is 1215752191 */
  { "cache_memlimit 99999999999\r\ncache_memlimit +5\r\n", "[cache_memlimit n=1215752191][cache_memlimit n=5]" },
  { "slabs automove 0\r\nslabs automove 2 noreply\r\nslabs automove 3\r\n",
    "[slabs-automove n=0][slabs-automove n=2 noreply][slabs-automove n=3]" },
  { "lru_crawler metadump all\r\nlru_crawler metadump 1,2\r\n", "[metadump arg=all][metadump arg=1,2]" },
  { "shutdown\r\nshutdown graceful\r\nshutdown graceful now\r\n",
    "[shutdown][shutdown arg=graceful][shutdown arg=graceful now]" },
  { "stats cachedump 1 0\r\nstats detail dump\r\nstats sizes\r\nstats conns\r\n",
    "[stats arg=cachedump 1 0][stats arg=detail dump][stats arg=sizes][stats arg=conns]" },
  /* memcached 1.6's numbers: flags modulo 2^32, exptimes and lengths
   * read as 64-bit and kept in 32 bits, so they wrap */
  { "set k 4294967296 0 1\r\nx\r\n", "[set key=k flags=0 exp=0 value=x]" },
  { "set k 4294967301 2147483648 1\r\nx\r\n", "[set key=k flags=5 exp=-2147483648 value=x]" },
  { "set k 0 4294967296 1\r\nx\r\n", "[set key=k flags=0 exp=0 value=x]" },
  { "set k 0 -2147483649 1\r\nx\r\n", "[set key=k flags=0 exp=2147483647 value=x]" },
  { "set k 0 0 4294967297\r\nx\r\n", "[set key=k flags=0 exp=0 value=x]" },
  { "touch k 4294967296\r\n", "[touch key=k exp=0]" },
  { "gat 2147483648 k\r\n", "[gat k=k exp=-2147483648]" },
  { "flush_all 2147483648\r\n", "[flush_all n=-2147483648]" },
  /* a NUL ends the line as memcached reads it; the rest is consumed */
  { "get a\0b\r\n", "[get k=a]", 0, 9 },
  /* a tab is not a separator: it is part of the key */
  { "get a\tb\r\n", "[get k=a\tb]" },
  /* a partial command waits */
  { "get a\r\nget b", "[get k=a]+5" },
  { "set k 0 0 10\r\nabc", "+17" },
  /* a tab is not a separator in a storage line either, but ends a number */
  { "set k 0 0 1\t\r\nx\r\n", "[set key=k flags=0 exp=0 value=x]" },
  /* 64-bit exptimes at their limits, kept in 32 bits */
  { "set k 0 9223372036854775807 1\r\nx\r\n", "[set key=k flags=0 exp=-1 value=x]" },
  { "set k 0 -9223372036854775808 1\r\nx\r\n", "[set key=k flags=0 exp=0 value=x]" },
  { "touch k -2147483648\r\ntouch k 2147483647\r\n", "[touch key=k exp=-2147483648][touch key=k exp=2147483647]" },
  { "touch k 100 noreply\r\n", "[touch key=k exp=100 noreply]" },
  /* debugtime reads a 32-bit signed number, with one sign at most */
  { "debugtime -60\r\ndebugtime +60\r\ndebugtime -0\r\n", "[debugtime n=-60][debugtime n=60][debugtime n=0]" },
  { "debugtime 2147483647\r\ndebugtime -2147483648\r\n", "[debugtime n=2147483647][debugtime n=-2147483648]" },
  /* the NUL that ends the line must not be read as part of the number */
  { "debugtime -60\0\r\n", "[debugtime n=-60]", 0, 16 },
  /* slabs automove ratio R: accepted, changes nothing */
  { "slabs automove ratio 0.8\r\nslabs automove ratio 1 noreply\r\n",
    "[slabs-automove n=0][slabs-automove n=0 noreply]" },
  /* ms carries its data block, which must end in \r\n as a set's does */
  { "ms k 3\r\nabc\r\nmn\r\n", "[meta value=abc][meta]" },
};

static const Case bad[] = {
  { "bogus\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "GET k\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "\r\n\n", "[bad-input ERROR\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
  { "get\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "set k 0 0\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "set k abc 0 1\r\nx\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
  { "set k 0 0 -1\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "set k -1 0 1\r\nx\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
  { "set k 18446744073709551616 0 1\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "set k 0 0 2147483648\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "set k 0 9223372036854775808 1\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "set a\0b 0 0 1\r\nx\r\n", "[bad-input ERROR\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]", 0, 18 },
  { "verbosity abc\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "verbosity abc noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "cache_memlimit\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "cache_memlimit x\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "cache_memlimit -1\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "cache_memlimit 18446744073709551616\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "cache_memlimit x noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "cache_memlimit 64 noreply x\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "cache_memlimit 64 x\r\n", "[cache_memlimit n=64]" },
  { "slabs automove\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "slabs bogus 1\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "slabs automove x\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "slabs automove x noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "lru_crawler metadump\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "lru_crawler metadump all noreply\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "lru_crawler bogus x\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "set k 0 0 3\r\nabcd\r\n", "[bad-input CLIENT_ERROR bad data chunk\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
  { "set k 0 0 100\r\n", "+15", 100 + 48 + 1 + 1 + 2 + 8 },
  { "set k 0 0 101\r\nget k\r\n", "[bad-input SERVER_ERROR object too large for cache\\r\\n swallow=103 forget]", 100 + 48 + 1 + 1 + 2 + 8 },
  /* flags other than 0 cost memcached 4 bytes of the item */
  { "add k 1 0 100\r\nget k\r\n", "[bad-input SERVER_ERROR object too large for cache\\r\\n swallow=102]", 100 + 48 + 1 + 1 + 2 + 8 },
  { "add k 1 0 96\r\n", "+14", 100 + 48 + 1 + 1 + 2 + 8 },
  /* noreply, wherever it is the last token, silences errors too */
  { "set k 0 0 -1 noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "set k 0 0 noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "cas k 0 0 1 noreply\r\nx\r\n", "[bad-input - swallow=0 noreply][bad-input ERROR\\r\\n swallow=0]" },
  { "set k 0 0 1 noreply\r\nxy\r\n", "[bad-input - swallow=0 noreply][bad-input ERROR\\r\\n swallow=0]" },
  { "incr k noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "decr k -1 noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "touch k x noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "delete k 5 noreply\r\n", "[bad-input - swallow=0 noreply]" },
  { "replace k 0 0 101 noreply\r\n", "[bad-input - swallow=103 noreply]", 100 + 48 + 1 + 1 + 2 + 8 },
  /* a one-byte command, and an HTTP request line: closed without a word */
  { "x\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "GET / HTTP/1.1\r\nHost: x\r\n", "[bad-input - swallow=0 close]" },
  { "delete k 0 noreply x\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  { "incr k -1\r\n", "[bad-input CLIENT_ERROR invalid numeric delta argument\\r\\n swallow=0]" },
  { "incr k 18446744073709551616\r\n", "[bad-input CLIENT_ERROR invalid numeric delta argument\\r\\n swallow=0]" },
  { "touch k abc\r\n", "[bad-input CLIENT_ERROR invalid exptime argument\\r\\n swallow=0]" },
  { "delete k 1\r\n", "[bad-input CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\\r\\n swallow=0]" },
  { "verbosity\r\n", "[bad-input ERROR\\r\\n swallow=0]" },
  /* the largest length a storage line takes is INT_MAX - 2, as in
   * memcached (merely too large for the cache); one more is malformed */
  { "set k 0 0 2147483644\r\n", "[bad-input SERVER_ERROR object too large for cache\\r\\n swallow=2147483646 forget]" },
  { "set k 0 0 2147483645\r\n", "[bad-input SERVER_ERROR object too large for cache\\r\\n swallow=2147483647 forget]" },
  { "set k 0 0 2147483646\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "set k 0 0 2147483647\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  /* exptimes past 64 bits, cas past 64 bits */
  { "set k 0 9223372036854775808 1\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "set k 0 -9223372036854775809 1\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  { "cas k 0 0 1 18446744073709551616\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
  /* a tab does not split "k\t0": the line is a token short */
  { "set k\t0 0 1\r\nx\r\n", "[bad-input ERROR\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
  /* debugtime past 32 bits, and with two signs */
  { "debugtime 2147483648\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0 n=0]" },
  { "debugtime -2147483649\r\n", "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0 n=0]" },
  { "debugtime -+5\r\ndebugtime +-5\r\ndebugtime ++5\r\ndebugtime -\r\n",
    "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0 n=0]"
    "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0 n=0]"
    "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0 n=0]"
    "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0 n=0]" },
  /* slabs automove ratio without a number, or with something else */
  { "slabs automove ratio\r\n", "[bad-input ERROR\\r\\n swallow=0 n=0]" },
  { "slabs automove ratio x\r\n", "[bad-input ERROR\\r\\n swallow=0 n=0]" },
  /* a data block must end in exactly "\r\n" */
  { "set k 0 0 3\r\nabc\rX", "[bad-input CLIENT_ERROR bad data chunk\\r\\n swallow=0]" },
  { "set k 0 0 3\r\nabcX\n", "[bad-input CLIENT_ERROR bad data chunk\\r\\n swallow=0]" },
  { "set k 0 0 3\r\nabc\n\r", "[bad-input CLIENT_ERROR bad data chunk\\r\\n swallow=0]" },
  /* an ms too large for -I is skipped unread; one byte less is stored */
  { "ms k 100\r\n", "+10", 100 + 48 + 1 + 1 + 2 + 8 },
  { "ms k 101\r\nmn\r\n", "[meta swallow=103]", 100 + 48 + 1 + 1 + 2 + 8 },
};

static void
test_commands (void)
{
  g_test_summary ("Every command parses the same whole, byte by byte, at every split and in random chunks");
  run_cases (commands, G_N_ELEMENTS (commands));
}

static void
test_bad_input (void)
{
  g_test_summary ("Malformed commands get memcached's exact replies; too-large data is skipped, bad chunks are not");
  run_cases (bad, G_N_ELEMENTS (bad));
}

static void
test_key_limits (void)
{
  g_autofree gchar *k250 = g_strnfill (250, 'k');
  g_autofree gchar *k251 = g_strnfill (251, 'k');
  g_autofree gchar *ok = g_strdup_printf ("get %s\r\n", k250);
  g_autofree gchar *long_get = g_strdup_printf ("get a %s\r\n", k251);
  g_autofree gchar *long_set = g_strdup_printf ("set %s 0 0 1\r\nx\r\n", k251);
  g_autofree gchar *ok_expected = g_strdup_printf ("[get k=%s]", k250);
  g_autofree gchar *long_get_expected = g_strdup_printf ("[get k=a k=%s]", k251);
  g_autofree gchar *long_delete = g_strdup_printf ("delete %s 5\r\n", k251);
  Case cases[] = {
    { ok, ok_expected },
    /* the server answers it: memcached looks the keys before it up */
    { long_get, long_get_expected },
    { long_set, "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
    /* delete checks its arguments before the key */
    { long_delete, "[bad-input CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\\r\\n swallow=0]" },
  };

  g_test_summary ("Keys may be 250 bytes; longer ones are refused, and the data of a refused set is read as a command");
  run_cases (cases, G_N_ELEMENTS (cases));
}

static void
test_line_limits (void)
{
  g_autofree gchar *junk = g_strnfill (BRAID_MC_LINE_MAX + 1, 'g');
  g_autofree gchar *keys = NULL;
  g_autoptr(GString) multiget = g_string_new ("get");
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  BraidMcCommand cmd;
  gsize used;

  g_test_summary ("A line without a newline past 2048 bytes closes the connection; a long multi-get is fine");
  used = braid_mc_parse_command (&parser, (const guint8 *) junk, strlen (junk), FALSE, &cmd);
  g_assert_cmpuint (used, ==, strlen (junk));
  g_assert_cmpint (cmd.type, ==, BRAID_MC_COMMAND_BAD_INPUT);
  g_assert_true (cmd.close);

  {
    /* A whole line with its '\n', but one memcached's 16 KiB read buffer
     * never holds: closed too.  One byte shorter is read as a command. */
    g_autoptr(GString) line = g_string_new ("touch k 0 ");

    while (line->len < BRAID_MC_READ_BUFFER - 1)
      g_string_append_c (line, 'x');
    g_string_append_c (line, '\n');
    used = braid_mc_parse_command (&parser, (const guint8 *) line->str, line->len, FALSE, &cmd);
    g_assert_cmpuint (used, ==, line->len);
    g_assert_false (cmd.close);
    g_string_insert_c (line, 0, ' ');
    used = braid_mc_parse_command (&parser, (const guint8 *) line->str, line->len, FALSE, &cmd);
    g_assert_cmpuint (used, ==, line->len);
    g_assert_true (cmd.close);
  }

  for (guint i = 0; i < 1000; i++)
    g_string_append_printf (multiget, " key%u", i);
  g_string_append (multiget, "\r\n");
  {
    gsize n_keys = 0, offset = 0, klen;
    const guint8 *key;

    parser.scan_offset = 0;
    /* fed in pieces: the line only completes at the end */
    for (gsize cut = 100; cut < multiget->len; cut += 1000)
      g_assert_cmpuint (braid_mc_parse_command (&parser, (const guint8 *) multiget->str, cut, FALSE, &cmd), ==, 0);
    used = braid_mc_parse_command (&parser, (const guint8 *) multiget->str, multiget->len, FALSE, &cmd);
    g_assert_cmpuint (used, ==, multiget->len);
    while (braid_mc_command_next_key (&cmd, &offset, &key, &klen))
      n_keys++;
    g_assert_cmpuint (n_keys, ==, 1000);
  }
}

/* Every command that takes one key, with a key of exactly 250 and 251
 * bytes: the first is taken, the second refused (and a refused storage
 * line leaves its data block to be read as a command). */
static void
test_key_limits_every_command (void)
{
  static const gchar *storage[] = { "set", "add", "replace", "append", "prepend", "cas" };
  /* the command, what follows the key, and how the parse shows after it */
  static const struct { const gchar *name, *args, *shown; } others[] = {
    { "touch", " 0\r\n", " exp=0" },
    { "incr", " 1\r\n", " delta=1" },
    { "decr", " 1\r\n", " delta=1" },
    { "delete", "\r\n", "" },
  };
  g_autofree gchar *k250 = g_strnfill (BRAID_MC_KEY_MAX, 'k');
  g_autofree gchar *k251 = g_strnfill (BRAID_MC_KEY_MAX + 1, 'k');

  g_test_summary ("A key of exactly 250 bytes is taken and one of 251 refused, in every single-key command");
  for (gsize i = 0; i < G_N_ELEMENTS (storage); i++)
    {
      gboolean cas = g_str_equal (storage[i], "cas");
      g_autofree gchar *ok = g_strdup_printf ("%s %s 0 0 1%s\r\nx\r\n", storage[i], k250, cas ? " 7" : "");
      g_autofree gchar *ok_expected = g_strdup_printf ("[%s key=%s flags=0 exp=0 value=x%s]", storage[i], k250,
                                                       cas ? " cas=7" : "");
      g_autofree gchar *long_key = g_strdup_printf ("%s %s 0 0 1%s\r\nx\r\n", storage[i], k251, cas ? " 7" : "");
      Case cases[] = {
        { ok, ok_expected },
        { long_key, "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0][bad-input ERROR\\r\\n swallow=0]" },
      };

      g_test_message ("%s", storage[i]);
      run_cases (cases, G_N_ELEMENTS (cases));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (others); i++)
    {
      g_autofree gchar *ok = g_strconcat (others[i].name, " ", k250, others[i].args, NULL);
      g_autofree gchar *ok_expected = g_strconcat ("[", others[i].name, " key=", k250, others[i].shown, "]", NULL);
      g_autofree gchar *long_key = g_strconcat (others[i].name, " ", k251, others[i].args, NULL);
      Case cases[] = {
        { ok, ok_expected },
        { long_key, "[bad-input CLIENT_ERROR bad command line format\\r\\n swallow=0]" },
      };

      g_test_message ("%s", others[i].name);
      run_cases (cases, G_N_ELEMENTS (cases));
    }
}

/* Feeds @input, without a newline, to a fresh parser: 0 while the line
 * may still grow, or the whole input and a silent close past its limit. */
static gboolean
closes_without_newline (const GString *input)
{
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  BraidMcCommand cmd;
  gsize used = braid_mc_parse_command (&parser, (const guint8 *) input->str, input->len, FALSE, &cmd);

  if (used == 0)
    return FALSE;
  g_assert_cmpuint (used, ==, input->len);
  g_assert_cmpint (cmd.type, ==, BRAID_MC_COMMAND_BAD_INPUT);
  g_assert_true (cmd.close);
  g_assert_null (cmd.reply);
  g_assert_cmpuint (cmd.swallow, ==, 0);
  return TRUE;
}

static GString *
line_of (guint leading_spaces, const gchar *start, gsize total_len)
{
  GString *line = g_string_new (NULL);

  for (guint i = 0; i < leading_spaces; i++)
    g_string_append_c (line, ' ');
  g_string_append (line, start);
  while (line->len < total_len)
    g_string_append (line, line->len % 2 == 0 ? "k" : " ");
  g_string_truncate (line, total_len);
  return line;
}

static void
test_line_limit_edges (void)
{
  g_autoptr(GString) line = NULL;

  g_test_summary ("A line without a newline may hold exactly 2048 bytes, a multi-get 1 MiB after at most 100 spaces");
  line = line_of (0, "touch ", BRAID_MC_LINE_MAX);
  g_assert_false (closes_without_newline (line));
  g_string_append_c (line, 'k');
  g_assert_true (closes_without_newline (line));

  /* a multi-get may grow past 2048 bytes, after up to 100 spaces */
  g_string_free (line, TRUE);
  line = line_of (100, "get ", BRAID_MC_LINE_MAX + 1);
  g_assert_false (closes_without_newline (line));
  g_string_free (line, TRUE);
  line = line_of (101, "get ", BRAID_MC_LINE_MAX + 1);
  g_assert_true (closes_without_newline (line));
  g_string_free (line, TRUE);
  line = line_of (0, "gets ", BRAID_MC_LINE_MAX + 1);
  g_assert_false (closes_without_newline (line));
  /* "getx" and "gets" without its space are not get and gets */
  g_string_free (line, TRUE);
  line = line_of (0, "getx", BRAID_MC_LINE_MAX + 1);
  g_assert_true (closes_without_newline (line));
  g_string_free (line, TRUE);
  line = line_of (0, "getsx", BRAID_MC_LINE_MAX + 1);
  g_assert_true (closes_without_newline (line));

  /* and up to exactly 1 MiB */
  g_string_free (line, TRUE);
  line = line_of (0, "get ", BRAID_MC_MULTIGET_LINE_MAX);
  g_assert_false (closes_without_newline (line));
  g_string_append_c (line, 'k');
  g_assert_true (closes_without_newline (line));
}

/* The largest value a one-byte key with flags 0 can carry in @item_size_max. */
static gsize
largest_value (gsize item_size_max)
{
  gsize v = item_size_max;

  while (braid_mc_item_size (1, 0, v, TRUE) > item_size_max)
    v--;
  return v;
}

static void
test_default_item_size (void)
{
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  gsize v = largest_value (1024 * 1024);
  g_autofree gchar *fits = g_strdup_printf ("set k 0 0 %" G_GSIZE_FORMAT "\r\n", v);
  g_autofree gchar *too_large = g_strdup_printf ("set k 0 0 %" G_GSIZE_FORMAT "\r\n", v + 1);
  BraidMcCommand cmd;

  g_test_summary ("A parser whose item_size_max is 0 takes memcached's default, 1 MiB, to the byte");
  parser.item_size_max = 0;
  /* the line is whole, the data block not yet here: wait for it */
  g_assert_cmpuint (braid_mc_parse_command (&parser, (const guint8 *) fits, strlen (fits), FALSE, &cmd), ==, 0);
  g_assert_cmpuint (parser.item_size_max, ==, 1024 * 1024);

  parser.item_size_max = 0;
  g_assert_cmpuint (braid_mc_parse_command (&parser, (const guint8 *) too_large, strlen (too_large), FALSE, &cmd), ==,
                    strlen (too_large));
  g_assert_cmpint (cmd.type, ==, BRAID_MC_COMMAND_BAD_INPUT);
  g_assert_true (cmd.too_large);
  g_assert_cmpuint (cmd.swallow, ==, v + 1 + 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mc/parser/commands", test_commands);
  g_test_add_func ("/mc/parser/bad-input", test_bad_input);
  g_test_add_func ("/mc/parser/key-limits", test_key_limits);
  g_test_add_func ("/mc/parser/line-limits", test_line_limits);
  g_test_add_func ("/mc/parser/key-limits/every-command", test_key_limits_every_command);
  g_test_add_func ("/mc/parser/line-limits/edges", test_line_limit_edges);
  g_test_add_func ("/mc/parser/default-item-size", test_default_item_size);
  return g_test_run ();
}
