/* braid — the meta protocol side by side with memcached 1.6.18: every
 * session of meta-sessions.h goes to a fresh braid-memcached and a fresh
 * memcached, and the replies must be the same bytes.  Both servers start
 * fresh for each session, so their cas values count from 1 alike and
 * need no normalising.  Skipped where memcached is not installed. */
#include "test-support.h"
#include "meta-sessions.h"

#include <signal.h>
#include <string.h>

#define END_REQUEST "mg braid-session-end k\r\n"
#define END_REPLY "EN kbraid-session-end\r\n"




typedef struct {
  GSubprocess *braid, *memcached;    /* (owned) */
  guint16 braid_port, memcached_port;
} Pair;

static gboolean
pair_start (Pair *p)
{
  p->memcached = braid_test_start_real_memcached (&p->memcached_port, NULL);
  if (p->memcached == NULL)
    {
      g_test_skip ("memcached is not installed");
      return FALSE;
    }
  p->braid = braid_test_start_memcached (&p->braid_port, NULL);
  return TRUE;
}

static void
pair_stop (Pair *p)
{
  g_clear_pointer (&p->braid, braid_test_stop_process);
  g_clear_pointer (&p->memcached, braid_test_stop_process);
}

static void
test_session (gconstpointer data)
{
  const Session *s = data;
  /* A miss on a key no session uses ends every session: its reply, unlike
   * MN (some sessions send mn), says the replies before it are all in. */
  g_autofree gchar *request = g_strconcat (s->input, END_REQUEST, NULL);
  g_autofree gchar *recorded = g_strconcat (s->output, END_REPLY, NULL);
  g_autofree gchar *from_memcached = NULL;
  g_autofree gchar *from_braid = NULL;
  Pair p = { 0 };

  g_test_summary ("A meta session gets the same bytes from braid-memcached as from memcached 1.6.18");
  if (!pair_start (&p))
    return;
  from_memcached = braid_test_converse (p.memcached_port, request, END_REPLY);
  from_braid = braid_test_converse (p.braid_port, request, END_REPLY);
  braid_assert_bytes_equal (from_memcached, strlen (from_memcached), (const guint8 *) from_braid, strlen (from_braid));
  /* and the table test-meta checks braid against is still what memcached says */
  g_assert_cmpstr (from_memcached, ==, recorded);
  pair_stop (&p);
}

/* The counters a "stats" reply shows after the same meta commands. */
static void
test_counters (void)
{
  static const gchar *const names[] = {
    "cmd_get", "cmd_set", "cmd_touch", "cmd_meta", "get_hits", "get_misses", "delete_misses", "delete_hits",
    "incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval",
    "touch_hits", "touch_misses", "curr_items", "total_items",
  };
  const gchar *input = "ms s1 1\r\na\r\nms s1 1 C999\r\na\r\nms nok 1 C1\r\na\r\nms s1 1 ME\r\na\r\n"
                       "mg s1\r\nmg nok\r\nmg s1 T30\r\nmg nok T30\r\nmg viv N30\r\nme s1\r\n"
                       "md viv\r\nmd nok\r\nmd s1 C5\r\nms n 1\r\n1\r\nmd n I\r\n"
                       "ma n\r\nma nok\r\nma nok MD\r\nma n MD\r\nma nok4 N0\r\nma n C1\r\nmn\r\n";
  Pair p = { 0 };

  g_test_summary ("Meta commands move the same stats counters in braid-memcached as in memcached 1.6.18");
  if (!pair_start (&p))
    return;
  g_free (braid_test_converse (p.memcached_port, input, "MN\r\n"));
  g_free (braid_test_converse (p.braid_port, input, "MN\r\n"));
  {
    g_autofree gchar *mc_stats = braid_test_converse (p.memcached_port, "stats\r\n", "END\r\n");
    g_autofree gchar *braid_stats = braid_test_converse (p.braid_port, "stats\r\n", "END\r\n");

    for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree gchar *needle = g_strdup_printf ("\r\nSTAT %s ", names[i]);
        const gchar *a = strstr (mc_stats, needle);
        const gchar *b = strstr (braid_stats, needle);

        g_assert_nonnull (a);
        g_assert_nonnull (b);
        g_assert_cmpint (strtol (a + strlen (needle), NULL, 10), ==, strtol (b + strlen (needle), NULL, 10));
      }
  }
  pair_stop (&p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (meta_sessions); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/mc/meta-integration/session/%s", meta_sessions[i].name);

      g_test_add_data_func (path, &meta_sessions[i], test_session);
    }
  g_test_add_func ("/mc/meta-integration/counters", test_counters);
  return g_test_run ();
}
