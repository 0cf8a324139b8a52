/* braid — what memcached's outcome counters must read (see sim-counters.h). */
#include "sim-counters.h"

#include <stdlib.h>
#include <string.h>

static const gchar *const stat_names[SIM_N_STATS] = {
  "cmd_get", "get_hits", "get_misses",
  "cmd_touch", "touch_hits", "touch_misses",
  "cmd_set", "cas_hits", "cas_badval", "cas_misses",
  "delete_hits", "delete_misses",
  "incr_hits", "incr_misses", "decr_hits", "decr_misses",
  "cmd_flush", "store_too_large",
};

const gchar *
sim_stat_name (SimStat stat)
{
  g_return_val_if_fail (stat < SIM_N_STATS, NULL);
  return stat_names[stat];
}

static gboolean
starts_with (const guint8 *reply, gsize len, const gchar *word)
{
  gsize n = strlen (word);

  return len >= n && memcmp (reply, word, n) == 0;
}

/* The VALUE entries of a get's reply before its END, or -1 when the
 * reply is not a retrieval's (an error: nothing counted). */
static gint
count_values (const guint8 *reply, gsize len)
{
  gsize at = 0;
  gint values = 0;

  while (starts_with (reply + at, len - at, "VALUE "))
    {
      const guint8 *eol = memchr (reply + at, '\n', len - at);
      g_autofree gchar *header = NULL;
      g_auto(GStrv) fields = NULL;
      guint64 bytes;

      if (eol == NULL)
        return -1;
      header = g_strndup ((const gchar *) reply + at, (gsize) (eol - 1 - (reply + at)));
      fields = g_strsplit (header, " ", -1);
      if (g_strv_length (fields) < 4 || !g_ascii_string_to_unsigned (fields[3], 10, 0, G_MAXUINT32, &bytes, NULL))
        return -1;
      at = (gsize) (eol + 1 - reply) + bytes + 2;
      if (at > len)
        return -1;
      values++;
    }
  return starts_with (reply + at, len - at, "END\r\n") ? values : -1;
}

static void
add (guint64 *to, SimStat a, SimStat b, guint64 n)
{
  to[a] += n;
  to[b] += n;
}

/* get, gets, gat and gats: @n_keys commands, @hits of them hits. */
static void
note_retrieval (guint64 *to, gboolean touch, guint n_keys, guint hits)
{
  SimStat cmd = touch ? SIM_STAT_CMD_TOUCH : SIM_STAT_CMD_GET;

  to[cmd] += n_keys;
  to[touch ? SIM_STAT_TOUCH_HITS : SIM_STAT_GET_HITS] += hits;
  to[touch ? SIM_STAT_TOUCH_MISSES : SIM_STAT_GET_MISSES] += n_keys - hits;
}

/* A reply that counts one of @hit (its first word is one of @hit_words)
 * or @miss (@miss_words), each with @cmd (SIM_N_STATS: none). */
static void
note_one (guint64 *to, const guint8 *reply, gsize len, SimStat cmd, const gchar *const *hit_words, SimStat hit,
          const gchar *const *miss_words, SimStat miss)
{
  for (guint i = 0; hit_words[i] != NULL; i++)
    if (starts_with (reply, len, hit_words[i]))
      {
        if (cmd != SIM_N_STATS)
          to[cmd]++;
        to[hit]++;
        return;
      }
  for (guint i = 0; miss_words[i] != NULL; i++)
    if (starts_with (reply, len, miss_words[i]))
      {
        if (cmd != SIM_N_STATS)
          to[cmd]++;
        to[miss]++;
        return;
      }
}

static const gchar *const no_words[] = { NULL };

/* The cas command's outcomes (its cmd_set is note_store's). */
static void
note_cas (guint64 *to, const guint8 *reply, gsize len, const gchar *hit, const gchar *badval, const gchar *miss)
{
  if (starts_with (reply, len, hit))
    to[SIM_STAT_CAS_HITS]++;
  else if (starts_with (reply, len, badval))
    to[SIM_STAT_CAS_BADVAL]++;
  else if (starts_with (reply, len, miss))
    to[SIM_STAT_CAS_MISSES]++;
}

/* A store that reached the store counts cmd_set, whatever it answered;
 * one refused before its data was read (too large, an error) does not. */
static void
note_store (guint64 *to, const guint8 *reply, gsize len, gboolean meta)
{
  static const gchar *const classic[] = { "STORED\r\n", "NOT_STORED\r\n", "EXISTS\r\n", "NOT_FOUND\r\n", NULL };
  static const gchar *const meta_codes[] = { "HD", "NS", "EX", "NF", NULL };

  if (starts_with (reply, len, "SERVER_ERROR object too large for cache\r\n"))
    to[SIM_STAT_STORE_TOO_LARGE]++;
  for (const gchar *const *w = meta ? meta_codes : classic; *w != NULL; w++)
    if (starts_with (reply, len, *w))
      {
        to[SIM_STAT_CMD_SET]++;
        return;
      }
}

void
sim_counters_note_reply (SimCounters *counters, SimCounted kind, guint n_keys, const guint8 *reply, gsize len)
{
  static const gchar *const meta_hit[] = { "VA ", "HD", NULL };
  static const gchar *const meta_miss[] = { "EN", NULL };
  static const gchar *const digits[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", NULL };
  static const gchar *const not_found[] = { "NOT_FOUND\r\n", NULL };
  static const gchar *const nf[] = { "NF", NULL };
  guint64 *to = counters->seen;
  gint values;

  switch (kind)
    {
    case SIM_COUNTED_GET:
    case SIM_COUNTED_GAT:
      values = count_values (reply, len);
      if (values >= 0)
        note_retrieval (to, kind == SIM_COUNTED_GAT, n_keys, (guint) values);
      break;
    case SIM_COUNTED_TOUCH:
      note_one (to, reply, len, SIM_STAT_CMD_TOUCH, (const gchar *const[]) { "TOUCHED\r\n", NULL },
                SIM_STAT_TOUCH_HITS, not_found, SIM_STAT_TOUCH_MISSES);
      break;
    case SIM_COUNTED_DELETE:
      note_one (to, reply, len, SIM_N_STATS, (const gchar *const[]) { "DELETED\r\n", NULL }, SIM_STAT_DELETE_HITS,
                not_found, SIM_STAT_DELETE_MISSES);
      break;
    case SIM_COUNTED_INCR:
    case SIM_COUNTED_DECR:
      note_one (to, reply, len, SIM_N_STATS, digits, kind == SIM_COUNTED_INCR ? SIM_STAT_INCR_HITS : SIM_STAT_DECR_HITS,
                not_found, kind == SIM_COUNTED_INCR ? SIM_STAT_INCR_MISSES : SIM_STAT_DECR_MISSES);
      break;
    case SIM_COUNTED_CAS:
      note_cas (to, reply, len, "STORED\r\n", "EXISTS\r\n", "NOT_FOUND\r\n");
      note_store (to, reply, len, FALSE);
      break;
    case SIM_COUNTED_STORE:
    case SIM_COUNTED_MS:
      note_store (to, reply, len, kind == SIM_COUNTED_MS);
      break;
    case SIM_COUNTED_MS_CAS:
      note_cas (to, reply, len, "HD", "EX", "NF");
      note_store (to, reply, len, TRUE);
      break;
    case SIM_COUNTED_MG:
      note_one (to, reply, len, SIM_STAT_CMD_GET, meta_hit, SIM_STAT_GET_HITS, meta_miss, SIM_STAT_GET_MISSES);
      break;
    case SIM_COUNTED_MG_TOUCH:
      /* memcached sets the ttl, and counts a touch, only on a hit: a miss
       * is a get's */
      if (starts_with (reply, len, "EN"))
        add (to, SIM_STAT_CMD_GET, SIM_STAT_GET_MISSES, 1);
      else
        note_one (to, reply, len, SIM_STAT_CMD_TOUCH, meta_hit, SIM_STAT_TOUCH_HITS, no_words, SIM_STAT_TOUCH_HITS);
      break;
    case SIM_COUNTED_MD:
      note_one (to, reply, len, SIM_N_STATS, (const gchar *const[]) { "HD", NULL }, SIM_STAT_DELETE_HITS,
                (const gchar *const[]) { "NF", "EX", NULL }, SIM_STAT_DELETE_MISSES);
      break;
    case SIM_COUNTED_MA_INCR:
    case SIM_COUNTED_MA_DECR:
      note_one (to, reply, len, SIM_N_STATS, meta_hit,
                kind == SIM_COUNTED_MA_INCR ? SIM_STAT_INCR_HITS : SIM_STAT_DECR_HITS, nf,
                kind == SIM_COUNTED_MA_INCR ? SIM_STAT_INCR_MISSES : SIM_STAT_DECR_MISSES);
      break;
    case SIM_COUNTED_FLUSH:
      /* memcached counts every flush_all, -F's refused ones too */
      note_one (to, reply, len, SIM_N_STATS,
                (const gchar *const[]) { "OK\r\n", "CLIENT_ERROR flush_all not allowed\r\n", NULL },
                SIM_STAT_CMD_FLUSH, no_words, SIM_STAT_CMD_FLUSH);
      break;
    case SIM_COUNTED_NONE:
    default:
      break;
    }
}

void
sim_counters_note_unknown (SimCounters *counters, SimCounted kind, guint n_keys)
{
  guint64 *to = counters->maybe;

  switch (kind)
    {
    case SIM_COUNTED_GET:
      note_retrieval (to, FALSE, n_keys, n_keys);
      to[SIM_STAT_GET_MISSES] += n_keys;
      break;
    case SIM_COUNTED_GAT:
    case SIM_COUNTED_TOUCH:
      note_retrieval (to, TRUE, n_keys, n_keys);
      to[SIM_STAT_TOUCH_MISSES] += n_keys;
      break;
    case SIM_COUNTED_DELETE:
    case SIM_COUNTED_MD:
      add (to, SIM_STAT_DELETE_HITS, SIM_STAT_DELETE_MISSES, 1);
      break;
    case SIM_COUNTED_INCR:
    case SIM_COUNTED_MA_INCR:
      add (to, SIM_STAT_INCR_HITS, SIM_STAT_INCR_MISSES, 1);
      break;
    case SIM_COUNTED_DECR:
    case SIM_COUNTED_MA_DECR:
      add (to, SIM_STAT_DECR_HITS, SIM_STAT_DECR_MISSES, 1);
      break;
    case SIM_COUNTED_CAS:
    case SIM_COUNTED_MS_CAS:
      add (to, SIM_STAT_CAS_HITS, SIM_STAT_CAS_BADVAL, 1);
      to[SIM_STAT_CAS_MISSES]++;
      add (to, SIM_STAT_CMD_SET, SIM_STAT_STORE_TOO_LARGE, 1);
      break;
    case SIM_COUNTED_STORE:
    case SIM_COUNTED_MS:
      add (to, SIM_STAT_CMD_SET, SIM_STAT_STORE_TOO_LARGE, 1);
      break;
    case SIM_COUNTED_MG:
      note_retrieval (to, FALSE, 1, 1);
      to[SIM_STAT_GET_MISSES]++;
      break;
    case SIM_COUNTED_MG_TOUCH:
      add (to, SIM_STAT_CMD_GET, SIM_STAT_GET_MISSES, 1);
      add (to, SIM_STAT_CMD_TOUCH, SIM_STAT_TOUCH_HITS, 1);
      break;
    case SIM_COUNTED_FLUSH:
      to[SIM_STAT_CMD_FLUSH]++;
      break;
    case SIM_COUNTED_NONE:
    default:
      break;
    }
}

gboolean
sim_stats_value (gchar **lines, const gchar *name, guint64 *value)
{
  gsize len = strlen (name);

  for (gchar **l = lines; *l != NULL; l++)
    if (g_str_has_prefix (*l, "STAT ") && strncmp (*l + 5, name, len) == 0 && (*l)[5 + len] == ' ')
      return g_ascii_string_to_unsigned (*l + 6 + len, 10, 0, G_MAXUINT64, value, NULL);
  return FALSE;
}

gboolean
sim_counters_check (const SimCounters *counters, gchar **lines, gchar **why)
{
  for (guint i = 0; i < SIM_N_STATS; i++)
    {
      guint64 v;

      if (!sim_stats_value (lines, stat_names[i], &v))
        {
          *why = g_strdup_printf ("stats has no %s", stat_names[i]);
          return FALSE;
        }
      if (v < counters->seen[i] || v > counters->seen[i] + counters->maybe[i])
        {
          *why = g_strdup_printf ("stats %s %" G_GUINT64_FORMAT ", but the replies seen counted %" G_GUINT64_FORMAT
                                  " and those not seen may have counted %" G_GUINT64_FORMAT " more",
                                  stat_names[i], v, counters->seen[i], counters->maybe[i]);
          return FALSE;
        }
    }
  return TRUE;
}
