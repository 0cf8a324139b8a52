/* braid — what memcached's outcome counters in `stats` must read, from
 * the replies a client saw.
 *
 * Each answered request moves counters that its reply names: a `get` of
 * three keys answered with one VALUE is three `cmd_get`, one `get_hits`
 * and two `get_misses`; `EXISTS` to a `cas` is a `cmd_set` and a
 * `cas_badval`.  A request whose reply was not seen (quiet, or lost with
 * its connection) may have moved any counter its kind can move.  So each
 * counter read from `stats` must lie between what was seen and that plus
 * what may have been: a store that counts a hit as a miss, counts a gat
 * as a get, or forgets `cmd_set` for a refused append fails the check.
 *
 * The rules are memcached 1.6.18's (proto_text.c, memcached.c), written
 * out here from the protocol rather than taken from braid's store, so
 * that a slip there shows. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SIM_STAT_CMD_GET, SIM_STAT_GET_HITS, SIM_STAT_GET_MISSES,
  SIM_STAT_CMD_TOUCH, SIM_STAT_TOUCH_HITS, SIM_STAT_TOUCH_MISSES,
  SIM_STAT_CMD_SET, SIM_STAT_CAS_HITS, SIM_STAT_CAS_BADVAL, SIM_STAT_CAS_MISSES,
  SIM_STAT_DELETE_HITS, SIM_STAT_DELETE_MISSES,
  SIM_STAT_INCR_HITS, SIM_STAT_INCR_MISSES, SIM_STAT_DECR_HITS, SIM_STAT_DECR_MISSES,
  SIM_STAT_CMD_FLUSH, SIM_STAT_STORE_TOO_LARGE,
  SIM_N_STATS
} SimStat;

/* What a request counts as, which decides how its reply is read. */
typedef enum {
  SIM_COUNTED_NONE,
  SIM_COUNTED_GET,        /* get, gets: per key */
  SIM_COUNTED_GAT,        /* gat, gats: per key, touches only */
  SIM_COUNTED_TOUCH,
  SIM_COUNTED_DELETE,
  SIM_COUNTED_INCR,
  SIM_COUNTED_DECR,
  SIM_COUNTED_CAS,
  SIM_COUNTED_STORE,      /* set, add, replace, append, prepend */
  SIM_COUNTED_MG,
  SIM_COUNTED_MG_TOUCH,   /* mg with T: a hit is a touch, a miss a get */
  SIM_COUNTED_MS,
  SIM_COUNTED_MS_CAS,     /* ms in set mode with C: the cas command's counters */
  SIM_COUNTED_MD,
  SIM_COUNTED_MA_INCR,
  SIM_COUNTED_MA_DECR,
  SIM_COUNTED_FLUSH,
} SimCounted;

typedef struct {
  guint64 seen[SIM_N_STATS];    /* counted by the replies seen */
  guint64 maybe[SIM_N_STATS];   /* may have been counted by requests whose reply was not seen */
} SimCounters;

const gchar *sim_stat_name (SimStat stat);

/* @reply (@len bytes, the request's whole reply, without a quiet
 * request's trailing mn): adds what it counts, for @n_keys keys. */
void sim_counters_note_reply (SimCounters *counters, SimCounted kind, guint n_keys, const guint8 *reply,
                              gsize len);

/* A request of @kind whose outcome is not known. */
void sim_counters_note_unknown (SimCounters *counters, SimCounted kind, guint n_keys);

/* The number of `STAT @name N` among @lines; FALSE when there is none. */
gboolean sim_stats_value (gchar **lines, const gchar *name, guint64 *value);

/* Each counter of @lines (a stats reply split into lines) between what
 * was seen and what may have been.  FALSE with @why set when not (or
 * when a counter is missing). */
gboolean sim_counters_check (const SimCounters *counters, gchar **lines, gchar **why);

G_END_DECLS
