/* braid — the model probe of the memcached scenario (see sim-model-probe.h). */
#include "sim-model-probe.h"
#include "sim-counters.h"
#include "callback-protocol.h"
#include "mc-store-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N_MODEL_KEYS 4
#define MAX_BATCH 4
#define MAX_GET_KEYS 3
/* More possible states than this and the model starts again from the
 * store: the reads that would tell them apart are not coming. */
#define MAX_WORLDS 32
#define ACT_PROBABILITY 0.3

/* In a reply's template, where an unknown cas or ttl goes. */
#define CAS_MARK '\001'
#define TTL_MARK '\002'

/* ---- the model: the states a key may be in ---- */

typedef struct {
  gboolean present;
  gchar *value;         /* present: the bytes (never a NUL) */
  guint32 flags;
  gint64 exp_lo, exp_hi; /* the item expires at an instant in [lo, hi]; 0: never */
  guint64 cas;          /* 0: not known yet */
  guint64 cas_floor;    /* when not known: it is above this */
  gint64 used_hi;       /* the latest a request may have touched it (flush_all) */
} World;

static World *
world_absent (gint64 used_hi)
{
  World *w = g_new0 (World, 1);

  w->used_hi = used_hi;
  return w;
}

static World *
world_copy (const World *w)
{
  World *c = g_memdup2 (w, sizeof *w);

  c->value = g_strdup (w->value);
  return c;
}

static void
world_free (World *w)
{
  g_free (w->value);
  g_free (w);
}

static gboolean
world_equal (const World *a, const World *b)
{
  if (a->present != b->present)
    return FALSE;
  if (!a->present)
    return TRUE;
  return g_str_equal (a->value, b->value) && a->flags == b->flags && a->exp_lo == b->exp_lo &&
         a->exp_hi == b->exp_hi && a->cas == b->cas && a->cas_floor == b->cas_floor && a->used_hi == b->used_hi;
}

/* Adds @w (owned) unless an equal world is there. */
static void
worlds_add (GPtrArray *worlds, World *w)
{
  for (guint i = 0; i < worlds->len; i++)
    if (world_equal (g_ptr_array_index (worlds, i), w))
      {
        world_free (w);
        return;
      }
  g_ptr_array_add (worlds, w);
}

/* ---- requests ---- */

typedef enum {
  CMD_SET, CMD_ADD, CMD_REPLACE, CMD_APPEND, CMD_PREPEND, CMD_CAS,
  CMD_GET, CMD_GETS, CMD_GAT, CMD_GATS, CMD_DELETE, CMD_INCR, CMD_DECR, CMD_TOUCH,
  CMD_FLUSH, CMD_MN, CMD_MG, CMD_MS, CMD_MD, CMD_MA, CMD_STATS, CMD_LIST,
} Cmd;

static const gchar * const cmd_names[] = {
  "set", "add", "replace", "append", "prepend", "cas", "get", "gets", "gat", "gats", "delete",
  "incr", "decr", "touch", "flush_all", "mn", "mg", "ms", "md", "ma", "stats", "listing",
};

typedef struct {
  Cmd cmd;
  guint keys[N_MODEL_KEYS];    /* flush_all: all of them */
  guint n_keys;
  gchar *value;
  guint32 flags;
  gint64 ttl;           /* exptime, gat's, T, ma's N */
  gboolean has_ttl;     /* meta: T (ms, mg) or N (ma) given */
  guint64 number;       /* incr/decr and ma's delta; the cas compared */
  guint64 initial;      /* ma's J */
  gboolean quiet;       /* noreply, or a meta q */
  gboolean long_opaque; /* ma: an opaque over 32 bytes */
  gboolean compare_cas; /* ms, md: C */
  gboolean cas_disabled; /* the server runs with -C: every cas is 0 */
  gchar mode;           /* ms: S E A P R; ma: I D; listing: m (metadump) c (cachedump) */
  gchar mg_flags[8];    /* mg: the flags in the order sent (v f s t c k T) */
  GString *line;        /* what is sent */
  GString *literal;     /* (nullable): the whole reply, known byte for byte (a burst of mn) */
} Req;

static void
req_free (Req *req)
{
  g_free (req->value);
  g_string_free (req->line, TRUE);
  if (req->literal != NULL)
    g_string_free (req->literal, TRUE);
  g_free (req);
}

/* ---- what a request may get back ---- */

/* One reply a world allows, and the key's state after it. */
typedef struct {
  GString *tmpl;        /* the bytes, with CAS_MARK and TTL_MARK where unknown numbers go */
  World *next;          /* (owned) */
} Alt;

typedef struct {
  guint key;
  GPtrArray *alts;      /* (element-type Alt) */
} Slot;

/* A request's reply: head, then one of each slot's alternatives, then tail. */
typedef struct {
  GString *head;
  GPtrArray *slots;     /* (element-type Slot) */
  GString *tail;
} Expect;

static void
alt_free (Alt *a)
{
  g_string_free (a->tmpl, TRUE);
  if (a->next != NULL)
    world_free (a->next);
  g_free (a);
}

static void
slot_free (Slot *s)
{
  g_ptr_array_unref (s->alts);
  g_free (s);
}

static void
expect_free (Expect *e)
{
  g_string_free (e->head, TRUE);
  g_ptr_array_unref (e->slots);
  g_string_free (e->tail, TRUE);
  g_free (e);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Expect, expect_free)

struct _SimModelProbe
{
  BraidSim *sim;
  BraidMcServer *server;        /* (owned) */
  gchar *endpoint;
  BraidProtocol *conn;          /* (owned) (nullable) */
  gboolean connecting;
  GQueue batch;                 /* (element-type Req): sent, not yet answered */
  gint64 sent_at;               /* when the batch was sent */
  GByteArray *in;
  GPtrArray *worlds[N_MODEL_KEYS];  /* (element-type World) */
  guint64 max_cas_seen;
  gboolean cas_disabled;        /* the server runs with -C */
  gsize item_size_max;          /* the server's -I */
  guint seq;
  guint answered;
  /* what the replies say memcached's outcome counters must read */
  SimCounters counters;
  /* what went each way, over every connection: stats must agree */
  guint64 bytes_sent, bytes_received, bytes_answered;
  guint64 stats_received_before, stats_answered_before;
};

static gint64
now (SimModelProbe *probe)
{
  return braid_reactor_now (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)));
}

/* The last key is exactly as long as a key may be (250 bytes): every
 * command then meets the length limit's edge, which a check off by one
 * would refuse. */
static gchar *
key_name (guint key)
{
  GString *name = g_string_new (NULL);

  g_string_printf (name, "m%u", key);
  if (key == N_MODEL_KEYS - 1)
    while (name->len < BRAID_MC_KEY_MAX)
      g_string_append_c (name, 'k');
  return g_string_free (name, FALSE);
}

/* What -I limits, as memcached 1.6 counts it on a 64-bit machine: its
 * 48-byte item header, the key and its NUL, the flags when not 0, the
 * value and its CRLF, and the cas unless -C.  Written out here rather
 * than taken from the server's code, so that a slip there shows. */
static gsize
item_size (const SimModelProbe *probe, guint key, guint32 flags, gsize value_len)
{
  g_autofree gchar *name = key_name (key);

  return 48 + strlen (name) + 1 + (flags != 0 ? 4 : 0) + value_len + 2 + (probe->cas_disabled ? 0 : 8);
}

/* The request's own data is too large: refused before it is read. */
static gboolean
data_too_large (const SimModelProbe *probe, const Req *req, guint key)
{
  return item_size (probe, key, req->flags, strlen (req->value)) > probe->item_size_max;
}

/* An append or prepend of @req to @w would make an item too large. */
static gboolean
join_too_large (const SimModelProbe *probe, const Req *req, guint key, const World *w)
{
  return item_size (probe, key, w->flags, strlen (w->value) + strlen (req->value)) > probe->item_size_max;
}

#define TOO_LARGE_REPLY "SERVER_ERROR object too large for cache\r\n"

/* The instants [lo, hi] an item written between @t0 and @t1 with @ttl
 * expires at; FALSE when it is dead at once (a negative ttl). */
static gboolean
expiry_window (gint64 ttl, gint64 t0, gint64 t1, gint64 *lo, gint64 *hi)
{
  if (ttl < 0)
    return FALSE;
  *lo = ttl == 0 ? 0 : t0 + ttl * G_USEC_PER_SEC;
  *hi = ttl == 0 ? 0 : t1 + ttl * G_USEC_PER_SEC;
  return TRUE;
}

/* A key just written: its cas is new, so above every cas seen so far. */
static World *
written (SimModelProbe *probe, const gchar *value, guint32 flags, gint64 exp_lo, gint64 exp_hi, gint64 t1)
{
  World *w = world_absent (t1);

  w->present = TRUE;
  w->value = g_strdup (value);
  w->flags = flags;
  w->exp_lo = exp_lo;
  w->exp_hi = exp_hi;
  w->cas_floor = probe->max_cas_seen;
  return w;
}

static World *
written_ttl (SimModelProbe *probe, const gchar *value, guint32 flags, gint64 ttl, gint64 t0, gint64 t1)
{
  gint64 lo, hi;

  if (!expiry_window (ttl, t0, t1, &lo, &hi))
    return world_absent (t1);
  return written (probe, value, flags, lo, hi, t1);
}

static World *
used (const World *w, gint64 t1)
{
  World *c = world_copy (w);

  c->used_hi = t1;
  return c;
}

/* @w with a new lifetime (touch, gat, mg T); the cas stays. */
static World *
retimed (const World *w, gint64 ttl, gint64 t0, gint64 t1)
{
  World *c = used (w, t1);

  if (!expiry_window (ttl, t0, t1, &c->exp_lo, &c->exp_hi))
    {
      world_free (c);
      return world_absent (t1);
    }
  return c;
}

/* The states of @key when a request sent at @t0 runs, at or before @t1:
 * an item whose expiry falls in between may be there or not. */
static GPtrArray *
worlds_at (SimModelProbe *probe, guint key, gint64 t0, gint64 t1)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) world_free);
  GPtrArray *worlds = probe->worlds[key];

  for (guint i = 0; i < worlds->len; i++)
    {
      const World *w = g_ptr_array_index (worlds, i);

      if (!w->present || w->exp_hi == 0 || w->exp_lo > t1)
        worlds_add (out, world_copy (w));
      else if (w->exp_hi <= t0)
        worlds_add (out, world_absent (w->used_hi));
      else
        {
          worlds_add (out, world_copy (w));
          worlds_add (out, world_absent (w->used_hi));
        }
    }
  return out;
}

static void
add_alt (Slot *slot, const gchar *tmpl, World *next)
{
  Alt *a = g_new0 (Alt, 1);

  a->tmpl = g_string_new (tmpl);
  a->next = next;
  g_ptr_array_add (slot->alts, a);
}

/* Whether a cas compare of @cas may succeed on @w: its cas is that, or
 * unknown and that may be it.  Under -C (memcached 1.6.18) items have cas
 * 0: the cas command and ms C never match, md C matches 0 only. */
static gboolean
cas_may_match (const Req *req, const World *w, guint64 cas)
{
  if (req->cas_disabled)
    return req->cmd == CMD_MD && cas == 0;
  return w->cas != 0 ? w->cas == cas : cas > w->cas_floor;
}

static gboolean
cas_may_differ (const Req *req, const World *w, guint64 cas)
{
  if (req->cas_disabled)
    return !cas_may_match (req, w, cas);
  return w->cas == 0 || w->cas != cas;
}

/* ---- numbers ---- */

/* What the store counts on: digits (at most 2^64 - 1), then nothing or
 * a space; with a minus sign, what strtoull makes of it (the digits
 * negated, modulo 2^64) unless that is negative as a signed number, so
 * "-0" is 0 and "-1" is not a number (memcached's safe_strtoull).  FALSE
 * for anything else. */
static gboolean
parse_number (const gchar *value, guint64 *out)
{
  gboolean minus = value[0] == '-';
  const gchar *start = minus ? value + 1 : value;
  gsize digits = strspn (start, "0123456789");
  g_autofree gchar *text = NULL;
  guint64 v;

  if (digits == 0 || (start[digits] != '\0' && start[digits] != ' '))
    return FALSE;
  text = g_strndup (start, digits);
  errno = 0;
  v = g_ascii_strtoull (text, NULL, 10);
  if (errno == ERANGE)
    return FALSE;
  if (minus)
    {
      v = (guint64) 0 - v;
      if ((gint64) v < 0)
        return FALSE;
    }
  *out = v;
  return TRUE;
}

static guint64
arith (gboolean incr, guint64 value, guint64 delta)
{
  if (incr)
    return value + delta;   /* wraps at 2^64, as memcached */
  return delta > value ? 0 : value - delta;
}

/* The states after an increment of @w to @digits: rewritten in place it
 * keeps its length, padded with spaces; a new item holds the digits.  The
 * server does the first only when nothing else holds the item, which a
 * client cannot know. */
static void
add_arith_alts (SimModelProbe *probe, Slot *slot, const gchar *tmpl, const World *w, const gchar *digits, gint64 t1)
{
  gsize n = strlen (digits), old = strlen (w->value);
  World *grown = written (probe, digits, w->flags, w->exp_lo, w->exp_hi, t1);

  add_alt (slot, tmpl, grown);
  if (n < old)
    {
      g_autofree gchar *padded = g_strdup_printf ("%s%*s", digits, (gint) (old - n), "");

      add_alt (slot, tmpl, written (probe, padded, w->flags, w->exp_lo, w->exp_hi, t1));
    }
}

/* ---- the replies each command allows, per world ---- */

static const gchar *
quiet_or (const Req *req, const gchar *reply)
{
  return req->quiet ? "" : reply;
}

static void
expect_store (SimModelProbe *probe, const Req *req, guint key, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  /* Refused before the data is read (noreply silences it); a set takes
   * the old value with it (observed from memcached 1.6.18). */
  if (data_too_large (probe, req, key))
    {
      add_alt (slot, quiet_or (req, TOO_LARGE_REPLY), req->cmd == CMD_SET ? world_absent (t1) : used (w, t1));
      return;
    }
  switch (req->cmd)
    {
    case CMD_SET:
      add_alt (slot, quiet_or (req, "STORED\r\n"), written_ttl (probe, req->value, req->flags, req->ttl, t0, t1));
      break;
    case CMD_ADD:
      if (w->present)
        add_alt (slot, quiet_or (req, "NOT_STORED\r\n"), used (w, t1));
      else
        add_alt (slot, quiet_or (req, "STORED\r\n"), written_ttl (probe, req->value, req->flags, req->ttl, t0, t1));
      break;
    case CMD_REPLACE:
      if (w->present)
        add_alt (slot, quiet_or (req, "STORED\r\n"), written_ttl (probe, req->value, req->flags, req->ttl, t0, t1));
      else
        add_alt (slot, quiet_or (req, "NOT_STORED\r\n"), used (w, t1));
      break;
    case CMD_APPEND:
    case CMD_PREPEND:
      if (w->present && join_too_large (probe, req, key, w))
        add_alt (slot, quiet_or (req, "NOT_STORED\r\n"), used (w, t1));
      else if (w->present)
        {
          g_autofree gchar *joined = req->cmd == CMD_APPEND ? g_strconcat (w->value, req->value, NULL)
                                                            : g_strconcat (req->value, w->value, NULL);

          add_alt (slot, quiet_or (req, "STORED\r\n"), written (probe, joined, w->flags, w->exp_lo, w->exp_hi, t1));
        }
      else
        add_alt (slot, quiet_or (req, "NOT_STORED\r\n"), used (w, t1));
      break;
    case CMD_CAS:
    default:
      if (!w->present)
        {
          add_alt (slot, "NOT_FOUND\r\n", used (w, t1));
          break;
        }
      if (cas_may_match (req, w, req->number))
        add_alt (slot, "STORED\r\n", written_ttl (probe, req->value, req->flags, req->ttl, t0, t1));
      if (cas_may_differ (req, w, req->number))
        add_alt (slot, "EXISTS\r\n", used (w, t1));
      break;
    }
}

static void
append_cas (GString *out, const Req *req, const World *w)
{
  if (req->cas_disabled)
    g_string_append_c (out, '0');
  else if (w->cas != 0)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT, w->cas);
  else
    g_string_append_c (out, CAS_MARK);
}

static void
append_ttl (GString *out, const World *w)
{
  if (w->exp_hi == 0)
    g_string_append (out, "-1");
  else
    g_string_append_c (out, TTL_MARK);
}

static void
expect_retrieval (const Req *req, guint key, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  g_autofree gchar *name = key_name (key);
  g_autoptr(GString) t = g_string_new (NULL);
  gboolean touch = req->cmd == CMD_GAT || req->cmd == CMD_GATS;

  if (!w->present)
    {
      add_alt (slot, "", used (w, t1));
      return;
    }
  g_string_printf (t, "VALUE %s %u %" G_GSIZE_FORMAT, name, w->flags, strlen (w->value));
  if (req->cmd == CMD_GETS || req->cmd == CMD_GATS)
    {
      g_string_append_c (t, ' ');
      append_cas (t, req, w);
    }
  g_string_append_printf (t, "\r\n%s\r\n", w->value);
  add_alt (slot, t->str, touch ? retimed (w, req->ttl, t0, t1) : used (w, t1));
}

static void
expect_classic (SimModelProbe *probe, const Req *req, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  guint64 value;

  switch (req->cmd)
    {
    case CMD_DELETE:
      if (w->present)
        add_alt (slot, quiet_or (req, "DELETED\r\n"), world_absent (t1));
      else
        add_alt (slot, quiet_or (req, "NOT_FOUND\r\n"), used (w, t1));
      break;
    case CMD_TOUCH:
      if (w->present)
        add_alt (slot, quiet_or (req, "TOUCHED\r\n"), retimed (w, req->ttl, t0, t1));
      else
        add_alt (slot, quiet_or (req, "NOT_FOUND\r\n"), used (w, t1));
      break;
    case CMD_INCR:
    case CMD_DECR:
    default:
      if (!w->present)
        add_alt (slot, "NOT_FOUND\r\n", used (w, t1));
      else if (!parse_number (w->value, &value))
        add_alt (slot, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", used (w, t1));
      else
        {
          g_autofree gchar *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, arith (req->cmd == CMD_INCR, value, req->number));
          g_autofree gchar *reply = g_strdup_printf ("%s\r\n", digits);

          add_arith_alts (probe, slot, reply, w, digits, t1);
        }
      break;
    }
}

/* mg: a miss is EN (nothing with q); a hit HD or VA, its flags in the
 * order sent (T first changes what a later t prints), then the value. */
static void
expect_mg (const Req *req, guint key, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  g_autofree gchar *name = key_name (key);
  g_autoptr(GString) t = g_string_new (NULL);
  World *next;
  gboolean with_value = strchr (req->mg_flags, 'v') != NULL;

  if (!w->present)
    {
      if (req->quiet)
        add_alt (slot, "", used (w, t1));
      else
        {
          g_string_printf (t, "EN%s%s\r\n", strchr (req->mg_flags, 'k') ? " k" : "", strchr (req->mg_flags, 'k') ? name : "");
          add_alt (slot, t->str, used (w, t1));
        }
      return;
    }
  next = used (w, t1);
  if (with_value)
    g_string_printf (t, "VA %" G_GSIZE_FORMAT, strlen (w->value));
  else
    g_string_assign (t, "HD");
  for (const gchar *f = req->mg_flags; *f != '\0'; f++)
    switch (*f)
      {
      case 'T':
        {
          World *touched = retimed (next, req->ttl, t0, t1);

          world_free (next);
          next = touched;
        }
        break;
      case 's':
        g_string_append_printf (t, " s%" G_GSIZE_FORMAT, strlen (w->value));
        break;
      case 't':
        g_string_append (t, " t");
        append_ttl (t, next);
        break;
      case 'c':
        g_string_append (t, " c");
        append_cas (t, req, w);
        break;
      case 'f':
        g_string_append_printf (t, " f%u", w->flags);
        break;
      case 'k':
        g_string_append_printf (t, " k%s", name);
        break;
      default:
        break;
      }
  g_string_append (t, "\r\n");
  if (with_value)
    g_string_append_printf (t, "%s\r\n", w->value);
  add_alt (slot, t->str, next);
}

/* ms: the classic store commands' outcomes, in meta's codes. */
static void
expect_ms (SimModelProbe *probe, const Req *req, guint key, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  gint64 ttl = req->has_ttl ? req->ttl : 0;

  /* Refused before the data is read, q or not, in every mode; the key
   * goes (observed from memcached 1.6.18) */
  if (data_too_large (probe, req, key))
    {
      add_alt (slot, TOO_LARGE_REPLY, world_absent (t1));
      return;
    }
  switch (req->mode)
    {
    case 'E':
      if (w->present)
        add_alt (slot, "NS\r\n", used (w, t1));
      else
        add_alt (slot, quiet_or (req, "HD\r\n"), written_ttl (probe, req->value, req->flags, ttl, t0, t1));
      break;
    case 'R':
      if (w->present)
        add_alt (slot, quiet_or (req, "HD\r\n"), written_ttl (probe, req->value, req->flags, ttl, t0, t1));
      else
        add_alt (slot, "NS\r\n", used (w, t1));
      break;
    case 'A':
    case 'P':
      if (w->present && join_too_large (probe, req, key, w))
        add_alt (slot, "NS\r\n", used (w, t1));
      else if (w->present)
        {
          g_autofree gchar *joined = req->mode == 'A' ? g_strconcat (w->value, req->value, NULL)
                                                      : g_strconcat (req->value, w->value, NULL);

          add_alt (slot, quiet_or (req, "HD\r\n"), written (probe, joined, w->flags, w->exp_lo, w->exp_hi, t1));
        }
      else
        add_alt (slot, "NS\r\n", used (w, t1));
      break;
    case 'S':
    default:
      if (!req->compare_cas)
        add_alt (slot, quiet_or (req, "HD\r\n"), written_ttl (probe, req->value, req->flags, ttl, t0, t1));
      else if (!w->present)
        add_alt (slot, "NF\r\n", used (w, t1));
      else
        {
          if (cas_may_match (req, w, req->number))
            add_alt (slot, quiet_or (req, "HD\r\n"), written_ttl (probe, req->value, req->flags, ttl, t0, t1));
          if (cas_may_differ (req, w, req->number))
            add_alt (slot, "EX\r\n", used (w, t1));
        }
      break;
    }
}

static void
expect_md (const Req *req, Slot *slot, const World *w, gint64 t1)
{
  if (!w->present)
    {
      add_alt (slot, "NF\r\n", used (w, t1));
      return;
    }
  if (!req->compare_cas || cas_may_match (req, w, req->number))
    add_alt (slot, quiet_or (req, "HD\r\n"), world_absent (t1));
  if (req->compare_cas && cas_may_differ (req, w, req->number))
    add_alt (slot, "EX\r\n", used (w, t1));
}

static gchar *
ma_success (const Req *req, const gchar *digits, gboolean created)
{
  if (req->quiet && !created)
    return g_strdup ("");
  if (req->mg_flags[0] == 'v')
    return g_strdup_printf ("VA %" G_GSIZE_FORMAT "\r\n%s\r\n", strlen (digits), digits);
  return g_strdup ("HD\r\n");
}

/* memcached notices an opaque over 32 bytes as it writes ma's reply: the
 * arithmetic (or the miss) has happened, and the error replaces the
 * reply, q or not; an error the command hit first stands. */
static const gchar *
ma_reply (const Req *req, const gchar *reply)
{
  return req->long_opaque ? "CLIENT_ERROR opaque token too long\r\n" : reply;
}

/* ma: NF on a miss, unless N makes the counter (at J, the delta not
 * applied); a success is HD or the value (v), q hides it unless made. */
static void
expect_ma (SimModelProbe *probe, const Req *req, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  guint64 value;

  if (!w->present && !req->has_ttl)
    add_alt (slot, ma_reply (req, "NF\r\n"), used (w, t1));
  else if (!w->present)
    {
      g_autofree gchar *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, req->initial);
      g_autofree gchar *reply = ma_success (req, digits, TRUE);

      add_alt (slot, ma_reply (req, reply), written_ttl (probe, digits, 0, req->ttl, t0, t1));
    }
  else if (!parse_number (w->value, &value))
    add_alt (slot, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", used (w, t1));
  else
    {
      g_autofree gchar *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, arith (req->mode == 'I', value, req->number));
      g_autofree gchar *reply = ma_success (req, digits, FALSE);

      add_arith_alts (probe, slot, ma_reply (req, reply), w, digits, t1);
    }
}

static void
expect_flush (SimModelProbe *probe, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  /* -F: refused, and nothing changes */
  if (!braid_mc_server_get_settings (probe->server)->flush_enabled)
    {
      add_alt (slot, "", world_copy (w));
      return;
    }
  /* flush_all drops what was last used before the instant it runs; an
   * item used in that same microsecond stays */
  if (w->present && w->used_hi >= t0)
    add_alt (slot, "", used (w, t1));
  add_alt (slot, "", world_absent (t1));
}

static void
expect_one (SimModelProbe *probe, const Req *req, guint key, Slot *slot, const World *w, gint64 t0, gint64 t1)
{
  switch (req->cmd)
    {
    case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND: case CMD_CAS:
      expect_store (probe, req, key, slot, w, t0, t1);
      break;
    case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS:
      expect_retrieval (req, key, slot, w, t0, t1);
      break;
    case CMD_FLUSH:
      expect_flush (probe, slot, w, t0, t1);
      break;
    case CMD_MG:
      expect_mg (req, key, slot, w, t0, t1);
      break;
    case CMD_MS:
      expect_ms (probe, req, key, slot, w, t0, t1);
      break;
    case CMD_MD:
      expect_md (req, slot, w, t1);
      break;
    case CMD_MA:
      expect_ma (probe, req, slot, w, t0, t1);
      break;
    default:
      expect_classic (probe, req, slot, w, t0, t1);
      break;
    }
}

static const gchar *
flush_reply (SimModelProbe *probe)
{
  return braid_mc_server_get_settings (probe->server)->flush_enabled ? "OK\r\n"
                                                                     : "CLIENT_ERROR flush_all not allowed\r\n";
}

/* Everything @req may get back, if the server runs it between @t0 and @t1. */
static Expect *
expect_new (SimModelProbe *probe, const Req *req, gint64 t0, gint64 t1)
{
  Expect *e = g_new0 (Expect, 1);
  gboolean retrieval = req->cmd == CMD_GET || req->cmd == CMD_GETS || req->cmd == CMD_GAT || req->cmd == CMD_GATS;

  e->head = g_string_new (req->cmd == CMD_FLUSH ? flush_reply (probe) : req->cmd == CMD_MN ? "MN\r\n" : "");
  e->tail = g_string_new (retrieval ? "END\r\n" : "");
  /* a quiet request is sent with mn after it: its reply ends there */
  if (req->quiet)
    g_string_append (e->tail, "MN\r\n");
  e->slots = g_ptr_array_new_with_free_func ((GDestroyNotify) slot_free);
  for (guint k = 0; k < req->n_keys; k++)
    {
      Slot *slot = g_new0 (Slot, 1);
      g_autoptr(GPtrArray) worlds = worlds_at (probe, req->keys[k], t0, t1);

      slot->key = req->keys[k];
      slot->alts = g_ptr_array_new_with_free_func ((GDestroyNotify) alt_free);
      for (guint i = 0; i < worlds->len; i++)
        expect_one (probe, req, req->keys[k], slot, g_ptr_array_index (worlds, i), t0, t1);
      g_ptr_array_add (e->slots, slot);
    }
  return e;
}

/* ---- matching a reply ---- */

/* The template as a regular expression: its bytes literally, an unknown
 * cas as digits (captured when @capture), an unknown ttl as a number. */
static void
append_regex (GString *re, const GString *tmpl, gboolean capture)
{
  const gchar *p = tmpl->str, *end = tmpl->str + tmpl->len;

  while (p < end)
    {
      const gchar *mark = p;

      while (mark < end && *mark != CAS_MARK && *mark != TTL_MARK)
        mark++;
      if (mark > p)
        {
          g_autofree gchar *lit = g_regex_escape_string (p, (gint) (mark - p));

          g_string_append (re, lit);
        }
      if (mark < end)
        g_string_append (re, *mark == TTL_MARK ? "-?[0-9]+" : capture ? "([0-9]+)" : "[0-9]+");
      p = mark + 1;
    }
}

static GRegex *
expect_regex (const Expect *e)
{
  g_autoptr(GString) re = g_string_new (NULL);
  g_autoptr(GString) lit = NULL;

  append_regex (re, e->head, FALSE);
  for (guint i = 0; i < e->slots->len; i++)
    {
      const Slot *slot = g_ptr_array_index (e->slots, i);

      g_string_append (re, "(");
      for (guint j = 0; j < slot->alts->len; j++)
        {
          g_string_append (re, j > 0 ? "|" : "(?:");
          append_regex (re, ((Alt *) g_ptr_array_index (slot->alts, j))->tmpl, FALSE);
        }
      /* no alternative: nothing may come */
      g_string_append (re, slot->alts->len > 0 ? "))" : "(?!))");
    }
  append_regex (re, e->tail, FALSE);
  return g_regex_new (re->str, G_REGEX_ANCHORED | G_REGEX_RAW | G_REGEX_DOTALL, 0, NULL);
}

/* Whether @text is exactly what @a allows; its cas, if unknown, in *@cas. */
static gboolean
alt_matches (const Alt *a, const gchar *text, gsize len, guint64 *cas)
{
  g_autoptr(GString) re = g_string_new (NULL);
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) info = NULL;
  gint start, end;

  append_regex (re, a->tmpl, TRUE);
  regex = g_regex_new (re->str, G_REGEX_ANCHORED | G_REGEX_RAW | G_REGEX_DOTALL, 0, NULL);
  *cas = 0;
  if (!g_regex_match_full (regex, text, (gssize) len, 0, 0, &info, NULL))
    return FALSE;
  if (!g_match_info_fetch_pos (info, 0, &start, &end) || (gsize) end != len)
    return FALSE;
  if (g_match_info_get_match_count (info) > 1)
    {
      g_autofree gchar *digits = g_match_info_fetch (info, 1);

      *cas = g_ascii_strtoull (digits, NULL, 10);
    }
  return TRUE;
}

static gchar *
printable (const guint8 *data, gsize len)
{
  g_autofree gchar *raw = g_strndup ((const gchar *) data, MIN (len, 200));

  return g_strescape (raw, NULL);
}

/* The worlds the slot's reply @text allows become the key's.  A cas seen
 * must be above the floor of a world that did not know it. */
static void
settle_slot (SimModelProbe *probe, const Req *req, const Slot *slot, const gchar *text, gsize len)
{
  GPtrArray *next = g_ptr_array_new_with_free_func ((GDestroyNotify) world_free);
  guint64 seen_max = 0;

  for (guint j = 0; j < slot->alts->len; j++)
    {
      const Alt *a = g_ptr_array_index (slot->alts, j);
      guint64 cas;
      World *w;

      if (!alt_matches (a, text, len, &cas))
        continue;
      if (cas != 0 && cas <= a->next->cas_floor)
        continue;
      w = world_copy (a->next);
      if (cas != 0)
        w->cas = cas;
      seen_max = MAX (seen_max, MAX (cas, w->cas));
      worlds_add (next, w);
    }
  if (next->len == 0)
    {
      g_autofree gchar *shown = printable ((const guint8 *) text, len);

      braid_sim_fail (probe->sim, "model: %s key %u: a cas that is not above every cas seen before it "
                      "changed, or not the one it had (%s)", cmd_names[req->cmd], slot->key, shown);
      g_ptr_array_unref (next);
      return;
    }
  probe->max_cas_seen = MAX (probe->max_cas_seen, seen_max);
  g_ptr_array_unref (probe->worlds[slot->key]);
  probe->worlds[slot->key] = next;
}

/* ---- resync: the outcome is unknown, the model starts from the store ---- */

static void
resync_key (SimModelProbe *probe, guint key)
{
  g_autofree gchar *name = key_name (key);
  BraidMcStore *store = braid_mc_server_get_store (probe->server);
  BraidMcItem *item = braid_mc_store_peek (store, (const guint8 *) name, strlen (name));
  gint64 t = now (probe);
  World *w = world_absent (t);

  if (item != NULL)
    {
      gsize len;
      const gchar *value = (const gchar *) braid_mc_item_get_value (item, &len);
      gint64 ttl = braid_mc_store_get_ttl (store, item);

      w->present = TRUE;
      w->value = g_strndup (value, len);
      w->flags = braid_mc_item_get_flags (item);
      w->cas = braid_mc_item_get_cas (item);
      probe->max_cas_seen = MAX (probe->max_cas_seen, w->cas);
      /* the ttl is in whole seconds: the expiry is within a second of it */
      if (ttl >= 0)
        {
          w->exp_lo = t + (ttl - 1) * G_USEC_PER_SEC;
          w->exp_hi = t + (ttl + 1) * G_USEC_PER_SEC;
        }
    }
  g_ptr_array_set_size (probe->worlds[key], 0);
  g_ptr_array_add (probe->worlds[key], w);
}

static void
model_resync (SimModelProbe *probe, const gchar *why)
{
  for (guint key = 0; key < N_MODEL_KEYS; key++)
    resync_key (probe, key);
  braid_sim_trace (probe->sim, "model: %s, model resynced", why);
}

/* ---- the reply stream ---- */

/* Matches the oldest request's reply at @data and settles its keys.
 * Returns the bytes it took (0 for a quiet one), -1 when more must come
 * (or on a failure). */
static gssize
take_literal (SimModelProbe *probe, const Req *req, const guint8 *data, gsize len)
{
  gsize n = MIN (len, req->literal->len);

  if (memcmp (data, req->literal->str, n) != 0)
    {
      g_autofree gchar *shown = printable (data, len);

      braid_sim_fail (probe->sim, "model: a burst of %" G_GSIZE_FORMAT " mn got “%s”", req->literal->len / 4, shown);
      return -1;
    }
  return n < req->literal->len ? -1 : (gssize) n;
}

/* What @req counts as in memcached's outcome counters. */
static SimCounted
counted_as (const Req *req)
{
  switch (req->cmd)
    {
    case CMD_GET: case CMD_GETS: return SIM_COUNTED_GET;
    case CMD_GAT: case CMD_GATS: return SIM_COUNTED_GAT;
    case CMD_TOUCH: return SIM_COUNTED_TOUCH;
    case CMD_DELETE: return SIM_COUNTED_DELETE;
    case CMD_INCR: return SIM_COUNTED_INCR;
    case CMD_DECR: return SIM_COUNTED_DECR;
    case CMD_CAS: return SIM_COUNTED_CAS;
    case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND: return SIM_COUNTED_STORE;
    case CMD_MG: return strchr (req->mg_flags, 'T') != NULL ? SIM_COUNTED_MG_TOUCH : SIM_COUNTED_MG;
    case CMD_MS: return req->compare_cas ? SIM_COUNTED_MS_CAS : SIM_COUNTED_MS;
    case CMD_MD: return SIM_COUNTED_MD;
    case CMD_MA: return req->mode == 'I' ? SIM_COUNTED_MA_INCR : SIM_COUNTED_MA_DECR;
    case CMD_FLUSH: return SIM_COUNTED_FLUSH;
    default: return SIM_COUNTED_NONE;
    }
}

/* What an answered request counts.  Unknown: a quiet one (its nominal
 * reply is not sent), and an ma that may make its counter (N: a creation
 * counts nothing, and its reply looks like a hit's) or whose reply an
 * error replaced. */
static void
note_counted (SimModelProbe *probe, const Req *req, const guint8 *reply, gsize len)
{
  SimCounted kind = counted_as (req);

  if (len == 0 || req->quiet || (req->cmd == CMD_MA && (req->has_ttl || req->long_opaque)))
    sim_counters_note_unknown (&probe->counters, kind, req->n_keys);
  else
    sim_counters_note_reply (&probe->counters, kind, req->n_keys, reply, len);
}

static void
check_counters (SimModelProbe *probe, gchar **lines)
{
  g_autofree gchar *why = NULL;

  if (!sim_counters_check (&probe->counters, lines, &why))
    braid_sim_fail (probe->sim, "model: %s", why);
}

/* stats, sent alone: the server read at least every request answered so
 * far and this one, at most what was sent; it wrote, and counted, at
 * least every byte received before. */
static gssize
take_stats (SimModelProbe *probe, const guint8 *data, gsize len)
{
  const gchar *end = g_strstr_len ((const gchar *) data, (gssize) len, "END\r\n");
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint64 read, written;

  if (end == NULL)
    return -1;
  text = g_strndup ((const gchar *) data, (gsize) (end - (const gchar *) data));
  lines = g_strsplit (text, "\r\n", -1);
  for (gchar **l = lines; *l != NULL; l++)
    if (**l != '\0' && !g_str_has_prefix (*l, "STAT "))
      {
        braid_sim_fail (probe->sim, "model: stats sent a line that is not a STAT: %s", *l);
        return -1;
      }
  if (!sim_stats_value (lines, "bytes_read", &read) || !sim_stats_value (lines, "bytes_written", &written))
    braid_sim_fail (probe->sim, "model: stats without bytes_read or bytes_written");
  else if (read < probe->stats_answered_before + strlen ("stats\r\n") || read > probe->bytes_sent)
    braid_sim_fail (probe->sim, "model: stats bytes_read %" G_GUINT64_FORMAT ", but %" G_GUINT64_FORMAT
                    " bytes of requests were answered and %" G_GUINT64_FORMAT " sent", read,
                    probe->stats_answered_before + strlen ("stats\r\n"), probe->bytes_sent);
  else if (written < probe->stats_received_before)
    braid_sim_fail (probe->sim, "model: stats bytes_written %" G_GUINT64_FORMAT ", but %" G_GUINT64_FORMAT
                    " bytes were received before", written, probe->stats_received_before);
  else
    check_counters (probe, lines);
  return end + 5 - (const gchar *) data;
}


/* ---- listings: lru_crawler metadump, stats cachedump ---- */

/* The model key @name stands for, or N_MODEL_KEYS. */
static guint
key_of_name (const gchar *name)
{
  for (guint key = 0; key < N_MODEL_KEYS; key++)
    {
      g_autofree gchar *k = key_name (key);

      if (g_str_equal (k, name))
        return key;
    }
  return N_MODEL_KEYS;
}

/* Whether some state of @key at the listing's instant holds an item of
 * @size: the nominal item size (metadump), or the value's length
 * (cachedump); and for a metadump, of @cas (0 under -C, as memcached
 * lists it). */
static gboolean
may_be_listed (SimModelProbe *probe, guint key, gboolean nominal, guint64 size, guint64 cas, gint64 t0, gint64 t1)
{
  g_autoptr(GPtrArray) worlds = worlds_at (probe, key, t0, t1);

  for (guint i = 0; i < worlds->len; i++)
    {
      const World *w = g_ptr_array_index (worlds, i);

      if (!w->present || size != (nominal ? item_size (probe, key, w->flags, strlen (w->value)) : strlen (w->value)))
        continue;
      if (!nominal || (probe->cas_disabled ? cas == 0 : w->cas != 0 ? cas == w->cas : cas > w->cas_floor))
        return TRUE;
    }
  return FALSE;
}

static gboolean
may_be_missing (SimModelProbe *probe, guint key, gint64 t0, gint64 t1)
{
  g_autoptr(GPtrArray) worlds = worlds_at (probe, key, t0, t1);

  for (guint i = 0; i < worlds->len; i++)
    if (!((const World *) g_ptr_array_index (worlds, i))->present)
      return TRUE;
  return FALSE;
}

/* One line of a listing: the key and the size it shows, or FALSE. */
static gboolean
parse_listing_line (const Req *req, const gchar *line, gchar **key, guint64 *size, guint64 *cas)
{
  g_auto(GStrv) fields = NULL;

  if (req->mode == 'c')
    {
      /* ITEM <key> [<bytes> b; <exptime> s] */
      fields = g_strsplit (line, " ", -1);
      if (g_strv_length (fields) != 6 || !g_str_equal (fields[0], "ITEM") || fields[2][0] != '[' ||
          !g_str_equal (fields[3], "b;"))
        return FALSE;
      *key = g_strdup (fields[1]);
      *size = g_ascii_strtoull (fields[2] + 1, NULL, 10);
      return TRUE;
    }
  /* key=<key> exp=… la=… cas=… fetch=… cls=… size=<nominal> */
  fields = g_strsplit (line, " ", -1);
  if (g_strv_length (fields) != 7 || !g_str_has_prefix (fields[0], "key=") || !g_str_has_prefix (fields[3], "cas=") ||
      !g_str_has_prefix (fields[6], "size="))
    return FALSE;
  *key = g_strdup (fields[0] + 4);
  *cas = g_ascii_strtoull (fields[3] + 4, NULL, 10);
  *size = g_ascii_strtoull (fields[6] + 5, NULL, 10);
  return TRUE;
}

/* Every item alive when the listing ran, once, with its size; nothing
 * else (an expired or flushed item stays in the store until something
 * reaches it: a listing must not show it). */
static gssize
take_listing (SimModelProbe *probe, const Req *req, const guint8 *data, gsize len)
{
  const gchar *end = g_strstr_len ((const gchar *) data, (gssize) len, "END\r\n");
  const gchar *sep = req->mode == 'c' ? "\r\n" : "\n";
  gint64 t0 = probe->sent_at, t1 = now (probe);
  gboolean listed[N_MODEL_KEYS] = { FALSE };
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (end == NULL)
    return -1;
  text = g_strndup ((const gchar *) data, (gsize) (end - (const gchar *) data));
  lines = g_strsplit (text, sep, -1);
  for (gchar **l = lines; *l != NULL; l++)
    {
      g_autofree gchar *name = NULL;
      guint64 size, cas = 0;
      guint key;

      if (**l == '\0')
        continue;
      if (!parse_listing_line (req, *l, &name, &size, &cas))
        {
          braid_sim_fail (probe->sim, "model: %s: a line out of shape: %s", req->line->str, *l);
          return -1;
        }
      key = key_of_name (name);
      if (key == N_MODEL_KEYS || listed[key] || !may_be_listed (probe, key, req->mode == 'm', size, cas, t0, t1))
        {
          braid_sim_fail (probe->sim, "model: %s listed “%s”, which no state of the store has (twice, unknown, "
                          "dead, or of another size or cas)", req->mode == 'm' ? "metadump" : "cachedump", *l);
          return -1;
        }
      listed[key] = TRUE;
    }
  for (guint key = 0; key < N_MODEL_KEYS; key++)
    if (!listed[key] && !may_be_missing (probe, key, t0, t1))
      {
        braid_sim_fail (probe->sim, "model: %s left out key %u, which is alive in every state",
                        req->mode == 'm' ? "metadump" : "cachedump", key);
        return -1;
      }
  return end + 5 - (const gchar *) data;
}

static gssize
take_reply (SimModelProbe *probe, const Req *req, const guint8 *data, gsize len)
{
  g_autoptr(Expect) e = NULL;
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) info = NULL;
  gint start, end;

  if (req->literal != NULL)
    return take_literal (probe, req, data, len);
  if (req->cmd == CMD_STATS)
    return take_stats (probe, data, len);
  if (req->cmd == CMD_LIST)
    return take_listing (probe, req, data, len);
  e = expect_new (probe, req, probe->sent_at, now (probe));
  regex = expect_regex (e);
  if (regex == NULL)
    {
      braid_sim_fail (probe->sim, "model: %s: no pattern for its replies", cmd_names[req->cmd]);
      return -1;
    }
  if (!g_regex_match_full (regex, (const gchar *) data, (gssize) len, 0, G_REGEX_MATCH_PARTIAL_HARD, &info, NULL))
    {
      if (!g_match_info_is_partial_match (info))
        {
          g_autofree gchar *shown = printable (data, len);
          g_autofree gchar *sent = printable ((const guint8 *) req->line->str, req->line->len);
          const gchar *pattern = g_regex_get_pattern (regex);
          g_autofree gchar *pattern_shown = printable ((const guint8 *) pattern, strlen (pattern));

          /* each shown to 200 bytes: a value near -I would fill the screen */
          braid_sim_fail (probe->sim, "model: “%s” got “%s”, which no state of the store allows (%s)",
                          sent, shown, pattern_shown);
        }
      return -1;
    }
  g_match_info_fetch_pos (info, 0, &start, &end);
  for (guint i = 0; i < e->slots->len; i++)
    {
      gint s, t;

      g_match_info_fetch_pos (info, (gint) i + 1, &s, &t);
      settle_slot (probe, req, g_ptr_array_index (e->slots, i), (const gchar *) data + s, (gsize) (t - s));
    }
  return end;
}

static void
check_worlds (SimModelProbe *probe)
{
  for (guint key = 0; key < N_MODEL_KEYS; key++)
    if (probe->worlds[key]->len > MAX_WORLDS)
      {
        model_resync (probe, "too many possible states");
        return;
      }
}

/* The bytes of @req that its reply proves the server read: all of them,
 * but for data refused as too large, which is answered when its command
 * line is parsed and may be lost with the connection before it is read. */
static gsize
answered_len (const Req *req, const guint8 *reply, gsize len)
{
  const gchar *eol;

  if (len < strlen (TOO_LARGE_REPLY) || memcmp (reply, TOO_LARGE_REPLY, strlen (TOO_LARGE_REPLY)) != 0)
    return req->line->len;
  eol = strstr (req->line->str, "\r\n");
  return (gsize) (eol + 2 - req->line->str);
}

static void
probe_data (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  SimModelProbe *probe = user_data;
  gsize offset = 0;

  g_byte_array_append (probe->in, data, (guint) len);
  probe->bytes_received += len;
  while (!g_queue_is_empty (&probe->batch) && !braid_sim_failed (probe->sim))
    {
      Req *req = g_queue_peek_head (&probe->batch);
      gssize used;

      if (offset == probe->in->len)
        break;      /* every reply has a byte at least (a quiet one, mn's) */
      used = take_reply (probe, req, probe->in->data + offset, probe->in->len - offset);
      if (used < 0)
        break;
      {
        g_autofree gchar *sent = printable ((const guint8 *) req->line->str, req->line->len);
        /* stats' reply has the pid, the clock, the CPU time: not for a
         * trace that must be the same every run */
        g_autofree gchar *got = req->cmd == CMD_STATS ? g_strdup ("(checked)")
                                                      : printable (probe->in->data + offset, (gsize) used);

        braid_sim_trace (probe->sim, "model: %s -> %s", sent, got);
      }
      note_counted (probe, req, probe->in->data + offset, (gsize) used);
      probe->bytes_answered += answered_len (req, probe->in->data + offset, (gsize) used);
      offset += (gsize) used;
      probe->answered++;
      req_free (g_queue_pop_head (&probe->batch));
      check_worlds (probe);
    }
  g_byte_array_remove_range (probe->in, 0, (guint) offset);
}

static void
probe_lost (BraidProtocol *protocol, const GError *reason, gpointer user_data)
{
  SimModelProbe *probe = user_data;

  braid_sim_trace (probe->sim, "model: connection lost: %s", reason->message);
  for (GList *l = probe->batch.head; l != NULL; l = l->next)
    note_counted (probe, l->data, NULL, 0);
  if (!g_queue_is_empty (&probe->batch))
    model_resync (probe, "outcome unknown");
  g_queue_clear_full (&probe->batch, (GDestroyNotify) req_free);
  g_byte_array_set_size (probe->in, 0);
  g_clear_object (&probe->conn);
}

static const BraidProtocolCallbacks probe_callbacks = {
  .data_received = probe_data,
  .connection_lost = probe_lost,
};

/* ---- drawing requests ---- */

static const gchar * const numbers[] = {
  "0", "1", "9", "10", "99", "100", "12345", "4294967295", "4294967296",
  "18446744073709551614", "18446744073709551615", "18446744073709551616",
  "007", "5 ", "x1", "", "-0", "-1",
};

static const guint64 deltas[] = { 0, 1, 2, 9, 10, 1000, 4294967296ULL, G_MAXUINT64 };

static gint64
draw_ttl (GRand *rand)
{
  static const gint64 ttls[] = { 0, 0, 0, 1, 1, 2, 3, -1 };

  return ttls[g_rand_int_range (rand, 0, G_N_ELEMENTS (ttls))];
}

/* A value whose item is within a few bytes of -I, either side: the
 * request's own item, or (@base_len, an append's or prepend's) the
 * joined one.  Each side of the edge and the cas's 8 bytes. */
static gchar *
draw_edge_value (SimModelProbe *probe, guint key, guint32 flags, gsize base_len)
{
  static const gint offsets[] = { -9, -8, -1, 0, 0, 1, 1, 2, 8, 9 };
  GRand *rand = braid_sim_get_rand (probe->sim);
  gssize len = (gssize) probe->item_size_max - (gssize) item_size (probe, key, flags, base_len) +
               offsets[g_rand_int_range (rand, 0, G_N_ELEMENTS (offsets))];
  GString *v = g_string_new (NULL);

  g_string_printf (v, "b%u", ++probe->seq);
  while ((gssize) v->len < len)
    g_string_append_c (v, 'x');
  return g_string_free (v, FALSE);
}

/* The length of the value some state of @key holds, or 0. */
static gsize
some_value_len (SimModelProbe *probe, guint key, guint32 *flags)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  GPtrArray *worlds = probe->worlds[key];
  const World *w = g_ptr_array_index (worlds, g_rand_int_range (rand, 0, (gint32) worlds->len));

  *flags = w->present ? w->flags : 0;
  return w->present ? strlen (w->value) : 0;
}

static gchar *
draw_value (SimModelProbe *probe, const Req *req, guint32 flags)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  gboolean joins = req->cmd == CMD_APPEND || req->cmd == CMD_PREPEND || req->mode == 'A' || req->mode == 'P';

  /* near -I when the server's is small enough to reach */
  if (probe->item_size_max <= 4096 && g_rand_int_range (rand, 0, 5) == 0)
    {
      guint32 old_flags = flags;
      gsize base = joins && g_rand_boolean (rand) ? some_value_len (probe, req->keys[0], &old_flags) : 0;

      return draw_edge_value (probe, req->keys[0], base != 0 ? old_flags : flags, base);
    }
  if (g_rand_boolean (rand))
    return g_strdup (numbers[g_rand_int_range (rand, 0, G_N_ELEMENTS (numbers))]);
  return g_strdup_printf ("v%u", ++probe->seq);
}

/* A cas worth comparing: the one a world of the key knows, or a guess. */
static guint64
draw_cas (SimModelProbe *probe, guint key)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  GPtrArray *worlds = probe->worlds[key];
  const World *w = g_ptr_array_index (worlds, g_rand_int_range (rand, 0, (gint32) worlds->len));

  if (w->cas != 0 && g_rand_int_range (rand, 0, 4) != 0)
    return w->cas;
  return probe->max_cas_seen + (guint64) g_rand_int_range (rand, 0, 3);
}

static void
draw_keys (GRand *rand, Req *req, guint n)
{
  guint first = (guint) g_rand_int_range (rand, 0, N_MODEL_KEYS);

  /* distinct keys: a key twice in one get would see itself change */
  req->n_keys = n;
  for (guint i = 0; i < n; i++)
    req->keys[i] = (first + i) % N_MODEL_KEYS;
}

static void
line_store (Req *req, const gchar *name)
{
  g_string_printf (req->line, "%s %s %u %" G_GINT64_FORMAT " %" G_GSIZE_FORMAT, cmd_names[req->cmd], name,
                   req->flags, req->ttl, strlen (req->value));
  if (req->cmd == CMD_CAS)
    g_string_append_printf (req->line, " %" G_GUINT64_FORMAT, req->number);
  g_string_append_printf (req->line, "%s\r\n%s\r\n", req->quiet ? " noreply" : "", req->value);
}

static void
line_retrieval (Req *req)
{
  g_string_assign (req->line, cmd_names[req->cmd]);
  if (req->cmd == CMD_GAT || req->cmd == CMD_GATS)
    g_string_append_printf (req->line, " %" G_GINT64_FORMAT, req->ttl);
  for (guint i = 0; i < req->n_keys; i++)
    {
      g_autofree gchar *name = key_name (req->keys[i]);

      g_string_append_printf (req->line, " %s", name);
    }
  g_string_append (req->line, "\r\n");
}

static void
draw_classic (SimModelProbe *probe, Req *req, const gchar *name)
{
  GRand *rand = braid_sim_get_rand (probe->sim);

  switch (req->cmd)
    {
    case CMD_SET: case CMD_ADD: case CMD_REPLACE: case CMD_APPEND: case CMD_PREPEND: case CMD_CAS:
      req->flags = (guint32) g_rand_int_range (rand, 0, 3) * 7;
      req->value = draw_value (probe, req, req->flags);
      req->ttl = draw_ttl (rand);
      req->quiet = req->cmd != CMD_CAS && g_rand_int_range (rand, 0, 5) == 0;
      if (req->cmd == CMD_CAS)
        req->number = draw_cas (probe, req->keys[0]);
      line_store (req, name);
      break;
    case CMD_GET: case CMD_GETS: case CMD_GAT: case CMD_GATS:
      draw_keys (rand, req, (guint) g_rand_int_range (rand, 1, MAX_GET_KEYS + 1));
      req->ttl = draw_ttl (rand);
      line_retrieval (req);
      break;
    case CMD_DELETE:
    case CMD_TOUCH:
      req->ttl = draw_ttl (rand);
      req->quiet = g_rand_int_range (rand, 0, 5) == 0;
      if (req->cmd == CMD_DELETE)
        g_string_printf (req->line, "delete %s%s\r\n", name, req->quiet ? " noreply" : "");
      else
        g_string_printf (req->line, "touch %s %" G_GINT64_FORMAT "%s\r\n", name, req->ttl, req->quiet ? " noreply" : "");
      break;
    case CMD_INCR:
    case CMD_DECR:
      req->number = deltas[g_rand_int_range (rand, 0, G_N_ELEMENTS (deltas))];
      g_string_printf (req->line, "%s %s %" G_GUINT64_FORMAT "\r\n", cmd_names[req->cmd], name, req->number);
      break;
    case CMD_FLUSH:
      req->n_keys = N_MODEL_KEYS;
      for (guint i = 0; i < N_MODEL_KEYS; i++)
        req->keys[i] = i;
      g_string_assign (req->line, "flush_all\r\n");
      break;
    case CMD_MN:
    default:
      req->n_keys = 0;
      g_string_assign (req->line, "mn\r\n");
      break;
    }
}

static void
draw_mg (GRand *rand, Req *req, const gchar *name)
{
  static const gchar letters[] = "vfstckT";
  guint n = 0;

  for (guint i = 0; i < sizeof letters - 1; i++)
    if (g_rand_boolean (rand))
      req->mg_flags[n++] = letters[i];
  /* the flags in a random order: T before or after t */
  for (guint i = n; i > 1; i--)
    {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
      gchar c = req->mg_flags[i - 1];

      req->mg_flags[i - 1] = req->mg_flags[j];
      req->mg_flags[j] = c;
    }
  req->ttl = draw_ttl (rand);
  if (req->ttl < 0)
    req->ttl = 2;
  req->quiet = g_rand_int_range (rand, 0, 4) == 0;
  g_string_printf (req->line, "mg %s", name);
  for (guint i = 0; i < n; i++)
    if (req->mg_flags[i] == 'T')
      g_string_append_printf (req->line, " T%" G_GINT64_FORMAT, req->ttl);
    else
      g_string_append_printf (req->line, " %c", req->mg_flags[i]);
  g_string_append (req->line, req->quiet ? " q\r\n" : "\r\n");
}

static void
draw_ms (SimModelProbe *probe, Req *req, const gchar *name)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  static const gchar modes[] = "SSEAPR";

  req->mode = modes[g_rand_int_range (rand, 0, sizeof modes - 1)];
  req->has_ttl = g_rand_boolean (rand);
  req->ttl = draw_ttl (rand);
  req->flags = req->mode == 'A' || req->mode == 'P' ? 0 : (guint32) g_rand_int_range (rand, 0, 3) * 5;
  req->value = draw_value (probe, req, req->flags);
  req->compare_cas = req->mode == 'S' && g_rand_boolean (rand);
  if (req->compare_cas)
    req->number = draw_cas (probe, req->keys[0]);
  req->quiet = g_rand_int_range (rand, 0, 4) == 0;
  g_string_printf (req->line, "ms %s %" G_GSIZE_FORMAT " M%c", name, strlen (req->value), req->mode);
  if (req->has_ttl)
    g_string_append_printf (req->line, " T%" G_GINT64_FORMAT, req->ttl);
  if (req->flags != 0)
    g_string_append_printf (req->line, " F%u", req->flags);
  if (req->compare_cas)
    g_string_append_printf (req->line, " C%" G_GUINT64_FORMAT, req->number);
  g_string_append_printf (req->line, "%s\r\n%s\r\n", req->quiet ? " q" : "", req->value);
}

static void
draw_md_ma (SimModelProbe *probe, Req *req, const gchar *name)
{
  GRand *rand = braid_sim_get_rand (probe->sim);

  req->quiet = g_rand_int_range (rand, 0, 4) == 0;
  if (req->cmd == CMD_MD)
    {
      req->compare_cas = g_rand_boolean (rand);
      if (req->compare_cas)
        req->number = draw_cas (probe, req->keys[0]);
      g_string_printf (req->line, "md %s", name);
      if (req->compare_cas)
        g_string_append_printf (req->line, " C%" G_GUINT64_FORMAT, req->number);
      g_string_append (req->line, req->quiet ? " q\r\n" : "\r\n");
      return;
    }
  req->mode = g_rand_boolean (rand) ? 'I' : 'D';
  req->number = g_rand_int_range (rand, 0, 3) == 0 ? 1 : deltas[g_rand_int_range (rand, 0, G_N_ELEMENTS (deltas))];
  req->has_ttl = g_rand_boolean (rand);   /* N: make it on a miss */
  req->ttl = draw_ttl (rand);
  if (req->ttl < 0)
    req->ttl = 0;
  req->initial = deltas[g_rand_int_range (rand, 0, G_N_ELEMENTS (deltas))];
  req->mg_flags[0] = g_rand_boolean (rand) ? 'v' : '\0';
  g_string_printf (req->line, "ma %s M%c", name, req->mode);
  if (req->number != 1)
    g_string_append_printf (req->line, " D%" G_GUINT64_FORMAT, req->number);
  if (req->has_ttl)
    g_string_append_printf (req->line, " N%" G_GINT64_FORMAT " J%" G_GUINT64_FORMAT, req->ttl, req->initial);
  if (req->mg_flags[0] == 'v')
    g_string_append (req->line, " v");
  req->long_opaque = g_rand_int_range (rand, 0, 8) == 0;
  if (req->long_opaque)
    g_string_append (req->line, " Oopaque-longer-than-the-32-bytes-allowed");
  g_string_append (req->line, req->quiet ? " q\r\n" : "\r\n");
}

static Req *
draw_request (SimModelProbe *probe)
{
  /* weights: stores and reads most, flush_all rarely */
  static const Cmd deck[] = {
    CMD_SET, CMD_SET, CMD_SET, CMD_ADD, CMD_REPLACE, CMD_APPEND, CMD_PREPEND, CMD_CAS, CMD_CAS,
    CMD_GET, CMD_GET, CMD_GETS, CMD_GETS, CMD_GAT, CMD_GATS, CMD_DELETE, CMD_INCR, CMD_INCR, CMD_DECR,
    CMD_TOUCH, CMD_MG, CMD_MG, CMD_MG, CMD_MS, CMD_MS, CMD_MD, CMD_MA, CMD_MA, CMD_FLUSH, CMD_MN,
  };
  GRand *rand = braid_sim_get_rand (probe->sim);
  Req *req = g_new0 (Req, 1);
  g_autofree gchar *name = NULL;

  req->cmd = deck[g_rand_int_range (rand, 0, G_N_ELEMENTS (deck))];
  req->cas_disabled = probe->cas_disabled;
  if (req->cmd == CMD_FLUSH && g_rand_int_range (rand, 0, 3) != 0)
    req->cmd = CMD_GET;
  req->line = g_string_new (NULL);
  draw_keys (rand, req, 1);
  name = key_name (req->keys[0]);
  switch (req->cmd)
    {
    case CMD_MG:
      draw_mg (rand, req, name);
      break;
    case CMD_MS:
      draw_ms (probe, req, name);
      break;
    case CMD_MD:
    case CMD_MA:
      draw_md_ma (probe, req, name);
      break;
    default:
      draw_classic (probe, req, name);
      break;
    }
  /* mn's reply shows where a quiet request's (maybe empty) reply ends */
  if (req->quiet)
    g_string_append (req->line, "mn\r\n");
  return req;
}

/* Thousands of mn in one write: the replies of one read overflow the
 * server's copied output (16 KiB) and go out as a buffer of their own. */
static Req *
burst_request (SimModelProbe *probe)
{
  Req *req = g_new0 (Req, 1);
  guint n = (guint) g_rand_int_range (braid_sim_get_rand (probe->sim), 3000, 6000);

  req->cmd = CMD_MN;
  req->line = g_string_new (NULL);
  req->literal = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      g_string_append (req->line, "mn\r\n");
      g_string_append (req->literal, "MN\r\n");
    }
  return req;
}

static Req *
stats_request (SimModelProbe *probe)
{
  Req *req = g_new0 (Req, 1);

  req->cmd = CMD_STATS;
  req->line = g_string_new ("stats\r\n");
  probe->stats_received_before = probe->bytes_received;
  probe->stats_answered_before = probe->bytes_answered;
  return req;
}

/* Every item's key and size, in one of the two listings memcached has. */
static Req *
listing_request (SimModelProbe *probe)
{
  Req *req = g_new0 (Req, 1);

  req->cmd = CMD_LIST;
  req->mode = g_rand_boolean (braid_sim_get_rand (probe->sim)) ? 'm' : 'c';
  req->line = g_string_new (req->mode == 'm' ? "lru_crawler metadump all\r\n" : "stats cachedump 1 0\r\n");
  return req;
}

/* One to four requests, pipelined; now and then stats or a listing alone, or a burst
 * (not a byte at a time: that would only be slow). */
static void
send_batch (SimModelProbe *probe)
{
  GRand *rand = braid_sim_get_rand (probe->sim);
  guint n = (guint) g_rand_int_range (rand, 1, MAX_BATCH + 1);
  gint dice = g_rand_int_range (rand, 0, 100);
  g_autoptr(GString) bytes = g_string_new (NULL);

  if (dice < 4)
    g_queue_push_tail (&probe->batch, stats_request (probe));
  else if (dice >= 96)
    g_queue_push_tail (&probe->batch, listing_request (probe));
  else if (dice < 6 && braid_sim_get_plan (probe->sim)->delivery != BRAID_FAKE_DELIVERY_BYTE)
    g_queue_push_tail (&probe->batch, burst_request (probe));
  else
    for (guint i = 0; i < n; i++)
      g_queue_push_tail (&probe->batch, draw_request (probe));
  for (GList *l = probe->batch.head; l != NULL; l = l->next)
    g_string_append_len (bytes, ((Req *) l->data)->line->str, (gssize) ((Req *) l->data)->line->len);
  probe->sent_at = now (probe);
  braid_sim_trace (probe->sim, "model: sends %u requests (%" G_GSIZE_FORMAT " bytes)", probe->batch.length, bytes->len);
  probe->bytes_sent += bytes->len;
  braid_transport_write (braid_protocol_get_transport (probe->conn), bytes->str, bytes->len);
}

/* ---- the connection ---- */

static BraidProtocol *
build_probe_conn (GSocketAddress *address, gpointer user_data)
{
  return BRAID_PROTOCOL (braid_callback_protocol_new (&probe_callbacks, user_data, NULL));
}

static void
on_probe_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SimModelProbe *probe = user_data;
  g_autoptr(GError) error = NULL;

  probe->connecting = FALSE;
  probe->conn = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);
  if (probe->conn == NULL)
    braid_sim_trace (probe->sim, "model: connect failed: %s", error->message);
}

void
sim_model_probe_step (SimModelProbe *probe)
{
  BraidTransport *t;

  if (probe->connecting || !g_queue_is_empty (&probe->batch) || !braid_sim_chance (probe->sim, ACT_PROBABILITY))
    return;
  if (probe->conn == NULL)
    {
      g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_probe_conn, probe, NULL);

      probe->connecting = TRUE;
      braid_reactor_connect_async (BRAID_REACTOR (braid_sim_get_reactor (probe->sim)), probe->endpoint,
                                   factory, NULL, on_probe_connected, probe);
      return;
    }
  t = braid_protocol_get_transport (probe->conn);
  if (t != NULL && !braid_transport_is_closing (t))
    send_batch (probe);
}

SimModelProbe *
sim_model_probe_new (BraidSim *sim, BraidMcServer *server, const gchar *endpoint)
{
  SimModelProbe *probe = g_new0 (SimModelProbe, 1);

  probe->sim = sim;
  probe->server = g_object_ref (server);
  probe->cas_disabled = !braid_mc_store_get_settings (braid_mc_server_get_store (server))->cas_enabled;
  probe->item_size_max = braid_mc_store_get_settings (braid_mc_server_get_store (server))->item_size_max;
  probe->endpoint = g_strdup (endpoint);
  probe->in = g_byte_array_new ();
  g_queue_init (&probe->batch);
  for (guint key = 0; key < N_MODEL_KEYS; key++)
    {
      probe->worlds[key] = g_ptr_array_new_with_free_func ((GDestroyNotify) world_free);
      g_ptr_array_add (probe->worlds[key], world_absent (0));
    }
  return probe;
}

void
sim_model_probe_stop (SimModelProbe *probe)
{
  if (probe->conn != NULL)
    {
      braid_callback_protocol_detach (BRAID_CALLBACK_PROTOCOL (probe->conn));
      if (braid_protocol_get_transport (probe->conn) != NULL)
        braid_transport_abort_connection (braid_protocol_get_transport (probe->conn));
      g_clear_object (&probe->conn);
    }
}

void
sim_model_probe_free (SimModelProbe *probe)
{
  if (probe == NULL)
    return;
  sim_model_probe_stop (probe);
  g_queue_clear_full (&probe->batch, (GDestroyNotify) req_free);
  for (guint key = 0; key < N_MODEL_KEYS; key++)
    g_ptr_array_unref (probe->worlds[key]);
  g_byte_array_unref (probe->in);
  g_free (probe->endpoint);
  g_object_unref (probe->server);
  g_free (probe);
}

guint
sim_model_probe_get_answered (SimModelProbe *probe)
{
  return probe->answered;
}
