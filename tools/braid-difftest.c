/* braid-difftest — differential tester for the memcached text protocol.
 *
 * Generates seeded sessions of 20–40 classic text-protocol commands,
 * sends the same bytes to a reference server (Debian's memcached) and a
 * target (braid-memcached), each session on a fresh connection after a
 * flush_all, and compares the replies after normalising what legitimately
 * differs: cas uniques (compared by identity within a session: each
 * server's uniques are numbered #1, #2, … in order of first appearance),
 * stats values and version strings.
 *
 *   braid-difftest --reference HOST:PORT --target HOST:PORT
 *                  [--seed N] [--sessions K] [--shrink] [--verbose]
 *
 * Session i uses seed N+i, so `--seed N+i --sessions 1` replays it alone.
 * Replies are delimited with a fence: after each write the tool sends
 * `version\r\n` and reads until that server's own version line (learned on
 * connect), so no timing is involved unless a server hangs or closes.
 * Exit status: 0 no divergence, 1 divergence, 2 usage or connect error. */
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DT_FENCE "version\r\n"
#define DT_ERROR (g_quark_from_static_string ("braid-difftest-error"))
#define DT_FENCE_TIMEOUT_MS 3000
#define DT_TERMINAL_TIMEOUT_MS 1000

/* ------------------------------------------------------------------ */
/* Commands, steps, sessions */

/* One command.  Storage commands (verb != NULL) keep their parts, so the
 * shrinker can simplify them and the cas unique can be a reference to a
 * unique the server returned earlier; others are raw bytes. */
typedef struct
{
  gchar *label;       /* group label: "verb/shape" */
  /* raw */
  GBytes *raw;        /* (nullable) */
  /* storage */
  gchar *verb, *key, *flags, *exptime;
  gsize key_len;      /* keys may hold a NUL */
  gchar *count;       /* (nullable): NULL means the value's length */
  GBytes *value;
  gchar *cas;         /* (nullable): literal unique */
  gint cas_ref;       /* >= 1: the #n unique this server returned, or -1 */
  gboolean noreply;
  gchar *extra;       /* (nullable): an extra argument */
  const gchar *eol;
  gboolean terminal;  /* the session's last write: no fence, wait for close */
  gboolean binary;    /* a binary request: a cas reference goes in its header */
  guint n_version;    /* `version` commands inside (each adds a fence-like line) */
} DtCommand;

static void
dt_command_free (DtCommand *c)
{
  g_free (c->label);
  g_clear_pointer (&c->raw, g_bytes_unref);
  g_free (c->verb);
  g_free (c->key);
  g_free (c->flags);
  g_free (c->exptime);
  g_free (c->count);
  g_clear_pointer (&c->value, g_bytes_unref);
  g_free (c->cas);
  g_free (c->extra);
  g_free (c);
}

static DtCommand *
dt_command_copy (const DtCommand *c)
{
  DtCommand *n = g_new0 (DtCommand, 1);

  *n = *c;
  n->label = g_strdup (c->label);
  n->raw = c->raw ? g_bytes_ref (c->raw) : NULL;
  n->verb = g_strdup (c->verb);
  n->key = g_memdup2 (c->key, c->key_len + 1);
  n->flags = g_strdup (c->flags);
  n->exptime = g_strdup (c->exptime);
  n->count = g_strdup (c->count);
  n->value = c->value ? g_bytes_ref (c->value) : NULL;
  n->cas = g_strdup (c->cas);
  n->extra = g_strdup (c->extra);
  return n;
}

/* A session: steps, each one write of one or more commands.  Every
 * command is owned by @pool; steps point into it. */
typedef struct
{
  guint32 seed;
  gboolean meta;     /* generate meta commands too */
  gboolean binary;   /* a binary-protocol session */
  GPtrArray *pool;   /* (element-type DtCommand) (owned) */
  GPtrArray *steps;  /* (element-type GPtrArray<DtCommand>) (owned) */
} DtSession;

static void
dt_session_free (DtSession *s)
{
  g_ptr_array_unref (s->steps);
  g_ptr_array_unref (s->pool);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DtSession, dt_session_free)

static DtSession *
dt_session_new (guint32 seed, GPtrArray *pool)
{
  DtSession *s = g_new0 (DtSession, 1);

  s->seed = seed;
  s->pool = pool ? g_ptr_array_ref (pool) : g_ptr_array_new_with_free_func ((GDestroyNotify) dt_command_free);
  s->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  return s;
}

static GPtrArray *
dt_step_new (void)
{
  return g_ptr_array_new ();
}

/* A shallow copy: the same commands, new step arrays. */
static DtSession *
dt_session_copy (const DtSession *s)
{
  DtSession *n = dt_session_new (s->seed, s->pool);

  n->meta = s->meta;
  n->binary = s->binary;
  for (guint i = 0; i < s->steps->len; i++)
    {
      GPtrArray *step = g_ptr_array_index (s->steps, i);
      GPtrArray *copy = dt_step_new ();

      for (guint j = 0; j < step->len; j++)
        g_ptr_array_add (copy, g_ptr_array_index (step, j));
      g_ptr_array_add (n->steps, copy);
    }
  return n;
}

static guint
dt_session_n_commands (const DtSession *s)
{
  guint n = 0;

  for (guint i = 0; i < s->steps->len; i++)
    n += ((GPtrArray *) g_ptr_array_index (s->steps, i))->len;
  return n;
}

/* ------------------------------------------------------------------ */
/* The grammar */

#define PICK(rand, array) ((array)[g_rand_int_range ((rand), 0, G_N_ELEMENTS (array))])

static gboolean
chance (GRand *rand, gdouble p)
{
  return g_rand_double (rand) < p;
}

static DtCommand *
raw_command (DtSession *s, const gchar *label, const void *data, gsize len)
{
  DtCommand *c = g_new0 (DtCommand, 1);

  c->label = g_strdup (label);
  c->raw = g_bytes_new (data, len);
  c->cas_ref = -1;
  g_ptr_array_add (s->pool, c);
  return c;
}

static DtCommand *
raw_commandf (DtSession *s, const gchar *label, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static DtCommand *
raw_commandf (DtSession *s, const gchar *label, const gchar *format, ...)
{
  va_list ap;
  g_autofree gchar *text = NULL;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  return raw_command (s, label, text, strlen (text));
}

typedef struct
{
  GString *key;
  const gchar *shape;  /* NULL for an ordinary key */
} DtKey;

/* Mostly a handful of short keys, so commands meet each other's items;
 * sometimes an edge key.  Keys never contain spaces or newlines, except
 * where the shape says so. */
static const gchar *
gen_key (GRand *rand, GString *out)
{
  static const gchar *plain[] = { "k0", "k1", "k2", "k3", "k4", "a" };

  g_string_truncate (out, 0);
  if (!chance (rand, 0.12))
    {
      g_string_append (out, PICK (rand, plain));
      return NULL;
    }
  switch (g_rand_int_range (rand, 0, 7))
    {
    case 0:
      for (guint i = 0; i < 250; i++)
        g_string_append_c (out, 'K');
      return "key250";
    case 1:
      for (guint i = 0; i < 251; i++)
        g_string_append_c (out, 'K');
      return "key251";
    case 2:
      g_string_append (out, "k\001x");
      return "ctl-key";
    case 3:
      g_string_append_len (out, "k\0x", 3);
      return "nul-key";
    case 4:
      g_string_append (out, "k\177\303\251");
      return "high-key";
    case 5:
      g_string_append (out, "k\tx");
      return "tab-key";
    default:
      g_string_append (out, "k");
      return "key1";
    }
}

static const gchar *flags_values[] = {
  "0", "0", "0", "1", "42", "4294967295", "4294967296", "-1", "2147483648", "abc",
};
static const gchar *exptime_values[] = {
  "0", "0", "0", "0", "-1", "2147483648", "4294967296", "2592000", "2591999",
  "2592001", "2000000000", "abc",
};

/* Value bytes; never contain "VERSION" (the fence). */
static GBytes *
gen_value (GRand *rand, gsize item_size, const gchar **shape)
{
  static const gchar *small[] = {
    "v", "hello", "0", "1", "123", "18446744073709551615", "18446744073709551614",
    " 12", "12abc", "-1", "", "a b\r\nc", "99999999999999999999",
  };
  gsize sizes[] = {
    item_size - 100, item_size - 64, item_size - 56, item_size - 50, item_size - 48,
    item_size - 40, item_size, item_size + 1, 1024 * 1024 + 1,
  };

  *shape = NULL;
  if (chance (rand, 0.08))
    {
      gsize n = sizes[g_rand_int_range (rand, 0, G_N_ELEMENTS (sizes))];
      gchar *data = g_malloc (n);

      memset (data, 'x', n);
      *shape = "big";
      return g_bytes_new_take (data, n);
    }
  {
    const gchar *v = PICK (rand, small);
    return g_bytes_new (v, strlen (v));
  }
}

static const gchar *
gen_eol (GRand *rand)
{
  return chance (rand, 0.1) ? "\n" : "\r\n";
}

static gchar *
join_label (const gchar *verb, const gchar *shape)
{
  return g_strdup_printf ("%s/%s", verb, shape ? shape : "plain");
}

static DtCommand *
gen_storage (DtSession *s, GRand *rand, gsize item_size, guint n_cas_seen)
{
  static const gchar *verbs[] = { "set", "set", "set", "add", "replace", "append", "prepend", "cas", "cas" };
  g_autoptr(GString) key = g_string_new (NULL);
  DtCommand *c = g_new0 (DtCommand, 1);
  const gchar *shape = NULL, *vshape = NULL;

  c->verb = g_strdup (PICK (rand, verbs));
  shape = gen_key (rand, key);
  c->key = g_memdup2 (key->str, key->len + 1);
  c->key_len = key->len;
  c->flags = g_strdup (chance (rand, 0.85) ? "0" : PICK (rand, flags_values));
  c->exptime = g_strdup (chance (rand, 0.8) ? "0" : PICK (rand, exptime_values));
  if (!g_str_equal (c->flags, "0"))
    shape = shape ? shape : "flags";
  if (!g_str_equal (c->exptime, "0"))
    shape = shape ? shape : "exptime";
  c->value = gen_value (rand, item_size, &vshape);
  if (vshape != NULL)
    shape = shape ? shape : vshape;
  c->cas_ref = -1;
  if (chance (rand, 0.08))
    {
      static const gchar *counts[] = { "+1", "-1", "abc", "neg", "huge" };
      const gchar *k = PICK (rand, counts);
      gsize len = g_bytes_get_size (c->value);

      if (g_str_equal (k, "+1"))
        c->count = g_strdup_printf ("%" G_GSIZE_FORMAT, len + 1);
      else if (g_str_equal (k, "-1") && len > 0)
        c->count = g_strdup_printf ("%" G_GSIZE_FORMAT, len - 1);
      else if (g_str_equal (k, "neg"))
        c->count = g_strdup ("-1");
      else if (g_str_equal (k, "huge"))
        c->count = g_strdup ("4294967296");
      else
        c->count = g_strdup ("abc");
      shape = "count-mismatch";
    }
  if (g_str_equal (c->verb, "cas"))
    {
      guint r = g_rand_int_range (rand, 0, 10);

      if (r < 6 && n_cas_seen > 0)
        c->cas_ref = g_rand_int_range (rand, 1, n_cas_seen + 1);
      else if (r < 6)
        c->cas_ref = 1;
      else if (r == 6)
        c->cas = g_strdup ("0"), shape = shape ? shape : "cas-zero";
      else if (r == 7)
        c->cas = g_strdup ("18446744073709551615"), shape = shape ? shape : "cas-huge";
      else if (r == 8)
        c->cas = g_strdup ("18446744073709551616"), shape = shape ? shape : "cas-overflow";
      else
        shape = shape ? shape : "cas-missing";
    }
  c->noreply = chance (rand, 0.15);
  if (chance (rand, 0.04))
    {
      c->extra = g_strdup ("extra");
      shape = shape ? shape : "extra-arg";
    }
  c->eol = gen_eol (rand);
  if (c->noreply && shape == NULL)
    shape = "noreply";
  if (g_str_equal (c->eol, "\n") && shape == NULL)
    shape = "bare-lf";
  c->label = join_label (c->verb, shape);
  g_ptr_array_add (s->pool, c);
  return c;
}

static DtCommand *
gen_retrieval (DtSession *s, GRand *rand)
{
  static const gchar *verbs[] = { "get", "get", "gets", "gets", "gat", "gats" };
  const gchar *verb = PICK (rand, verbs);
  g_autoptr(GString) line = g_string_new (verb);
  g_autoptr(GString) key = g_string_new (NULL);
  const gchar *shape = NULL;
  guint n = g_rand_int_range (rand, 1, 4);
  g_autofree gchar *label = NULL;

  if (verb[0] == 'g' && verb[1] == 'a')
    {
      const gchar *e = chance (rand, 0.7) ? "0" : PICK (rand, exptime_values);
      g_string_append_printf (line, " %s", e);
      if (!g_str_equal (e, "0"))
        shape = "exptime";
    }
  if (chance (rand, 0.03))
    {
      n = 0;
      shape = "no-key";
    }
  if (chance (rand, 0.03))
    {
      /* a multiget whose line is longer than 2048 bytes */
      for (guint i = 0; i < 10; i++)
        {
          g_string_append_c (line, ' ');
          for (guint j = 0; j < 240; j++)
            g_string_append_c (line, 'A' + (gchar) i);
        }
      shape = "long-multiget";
    }
  for (guint i = 0; i < n; i++)
    {
      const gchar *kshape = gen_key (rand, key);

      g_string_append_c (line, ' ');
      g_string_append_len (line, key->str, key->len);
      if (kshape != NULL && shape == NULL)
        shape = kshape;
    }
  if (chance (rand, 0.03))
    {
      g_string_append (line, "  ");
      shape = shape ? shape : "trailing-spaces";
    }
  g_string_append (line, gen_eol (rand));
  label = join_label (verb, shape);
  return raw_command (s, label, line->str, line->len);
}

static DtCommand *
gen_other (DtSession *s, GRand *rand)
{
  g_autoptr(GString) key = g_string_new (NULL);
  const gchar *kshape = gen_key (rand, key);
  g_autofree gchar *k = g_strndup (key->str, key->len);
  g_autoptr(GString) line = g_string_new (NULL);
  const gchar *eol = gen_eol (rand);
  g_autofree gchar *label = NULL;
  const gchar *verb, *shape = kshape;
  gboolean noreply = chance (rand, 0.15);
  DtCommand *c;

  switch (g_rand_int_range (rand, 0, 7))
    {
    case 0:
    case 1:
      {
        static const gchar *deltas[] = {
          "1", "1", "5", "0", "18446744073709551615", "18446744073709551616", "-1", "abc",
          " 5", "5abc", "",
        };
        const gchar *d = PICK (rand, deltas);

        verb = chance (rand, 0.5) ? "incr" : "decr";
        g_string_append_printf (line, "%s ", verb);
        g_string_append_len (line, key->str, key->len);
        if (*d != '\0')
          g_string_append_printf (line, " %s", d);
        if (!g_str_equal (d, "1") && !g_str_equal (d, "5") && shape == NULL)
          shape = *d == '\0' ? "missing-arg" : "delta";
        break;
      }
    case 2:
    case 3:
      verb = "delete";
      g_string_append (line, "delete ");
      g_string_append_len (line, key->str, key->len);
      if (chance (rand, 0.1))
        {
          const gchar *arg = chance (rand, 0.5) ? "0" : "5";

          g_string_append_printf (line, " %s", arg);
          shape = shape ? shape : (arg[0] == '0' ? "time-0" : "time-5");
        }
      break;
    case 4:
      {
        const gchar *e = chance (rand, 0.5) ? "0" : PICK (rand, exptime_values);

        verb = "touch";
        g_string_append (line, "touch ");
        g_string_append_len (line, key->str, key->len);
        if (chance (rand, 0.05))
          shape = shape ? shape : "missing-arg";
        else
          {
            g_string_append_printf (line, " %s", e);
            if (!g_str_equal (e, "0") && shape == NULL)
              shape = "exptime";
          }
        break;
      }
    case 5:
      {
        /* No delay: memcached's delayed flush_all moves oldest_live into
         * the future, which makes items an earlier flush_all invalidated
         * (and not yet reclaimed) visible again, so the reference's state
         * would depend on earlier sessions and on the clock. */
        static const gchar *args[] = { "", "", " 0", " -1", " abc" };
        const gchar *a = PICK (rand, args);

        verb = "flush_all";
        g_string_append_printf (line, "flush_all%s", a);
        shape = *a == '\0' ? NULL : a + 1;
        break;
      }
    default:
      {
        static const gchar *args[] = { " 0", " 1", "", " abc" };
        const gchar *a = PICK (rand, args);

        verb = "verbosity";
        g_string_append_printf (line, "verbosity%s", a);
        shape = *a == '\0' ? "missing-arg" : NULL;
        break;
      }
    }
  if (noreply)
    {
      g_string_append (line, " noreply");
      shape = shape ? shape : "noreply";
    }
  if (chance (rand, 0.03))
    {
      g_string_append (line, " extra");
      shape = shape ? shape : "extra-arg";
    }
  if (g_str_equal (eol, "\n") && shape == NULL)
    shape = "bare-lf";
  g_string_append (line, eol);
  label = join_label (verb, shape);
  c = raw_command (s, label, line->str, line->len);
  return c;
}


/* ---- the binary protocol ---- */

/* The fence of a binary session: a NOOP with an opaque no generated
 * request uses. */
#define DT_BINARY_FENCE_OPAQUE 0xfeedfaceu
#define DT_BINARY_HEADER 24

enum {
  BIN_GET = 0x00, BIN_SET = 0x01, BIN_ADD = 0x02, BIN_REPLACE = 0x03, BIN_DELETE = 0x04, BIN_INCR = 0x05,
  BIN_DECR = 0x06, BIN_QUIT = 0x07, BIN_FLUSH = 0x08, BIN_GETQ = 0x09, BIN_NOOP = 0x0a, BIN_VERSION = 0x0b,
  BIN_GETK = 0x0c, BIN_GETKQ = 0x0d, BIN_APPEND = 0x0e, BIN_PREPEND = 0x0f, BIN_STAT = 0x10, BIN_SETQ = 0x11,
  BIN_ADDQ = 0x12, BIN_REPLACEQ = 0x13, BIN_DELETEQ = 0x14, BIN_INCRQ = 0x15, BIN_DECRQ = 0x16, BIN_QUITQ = 0x17,
  BIN_FLUSHQ = 0x18, BIN_APPENDQ = 0x19, BIN_PREPENDQ = 0x1a, BIN_TOUCH = 0x1c, BIN_GAT = 0x1d, BIN_GATQ = 0x1e,
  BIN_SASL_LIST = 0x20, BIN_GATK = 0x23, BIN_GATKQ = 0x24,
};

static void
put_be16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static void
put_be32 (guint8 *p, guint32 v)
{
  for (int i = 3; i >= 0; i--, v >>= 8)
    p[i] = (guint8) v;
}

static void
put_be64 (guint8 *p, guint64 v)
{
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (guint8) v;
}

static guint32
get_be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint64
get_be64 (const guint8 *p)
{
  return (guint64) get_be32 (p) << 32 | get_be32 (p + 4);
}

/* A request packet: header, extras, key, value. */
static GByteArray *
binary_request (guint8 magic, guint8 opcode, guint32 opaque, guint64 cas,
                const guint8 *extras, gsize extras_len, const void *key, gsize key_len,
                const void *value, gsize value_len)
{
  GByteArray *p = g_byte_array_sized_new ((guint) (DT_BINARY_HEADER + extras_len + key_len + value_len));
  guint8 h[DT_BINARY_HEADER] = { 0 };

  h[0] = magic;
  h[1] = opcode;
  put_be16 (h + 2, (guint16) key_len);
  h[4] = (guint8) extras_len;
  put_be32 (h + 8, (guint32) (extras_len + key_len + value_len));
  put_be32 (h + 12, opaque);
  put_be64 (h + 16, cas);
  g_byte_array_append (p, h, sizeof h);
  if (extras_len > 0)
    g_byte_array_append (p, extras, (guint) extras_len);
  if (key_len > 0)
    g_byte_array_append (p, key, (guint) key_len);
  if (value_len > 0)
    g_byte_array_append (p, value, (guint) value_len);
  return p;
}

static GByteArray *
binary_fence (void)
{
  return binary_request (0x80, BIN_NOOP, DT_BINARY_FENCE_OPAQUE, 0, NULL, 0, NULL, 0, NULL, 0);
}

static const guint32 bin_flags_values[] = { 0, 0, 0, 1, 42, 0xffffffffu };
static const guint32 bin_exptime_values[] = { 0, 0, 0, 0xffffffffu, 2592000, 2591999, 2592001, 2000000000, 0x80000000u };

static DtCommand *
gen_binary (DtSession *s, GRand *rand, gsize item_size, guint n_cas_seen, gboolean *terminal)
{
  g_autoptr(GString) key = g_string_new (NULL);
  g_autoptr(GByteArray) packet = NULL;
  g_autofree gchar *label = NULL;
  const gchar *kshape = gen_key (rand, key);
  const gchar *name, *shape = kshape;
  guint32 opaque = g_rand_int_range (rand, 0, 1000);
  guint8 extras[20] = { 0 };
  gint cas_ref = -1;
  guint64 cas = 0;
  DtCommand *c;
  guint r = g_rand_int_range (rand, 0, 100);

  *terminal = FALSE;
  /* a cas: none, one this server returned, or a wrong one */
  if (chance (rand, 0.2))
    {
      if (n_cas_seen > 0 && chance (rand, 0.7))
        cas_ref = g_rand_int_range (rand, 1, n_cas_seen + 1);
      else
        cas = chance (rand, 0.5) ? 1 : G_MAXUINT64;
    }
  if (r < 25)
    {
      static const guint8 ops[] = { BIN_GET, BIN_GET, BIN_GETQ, BIN_GETK, BIN_GETKQ };
      static const gchar *names[] = { "get", "get", "getq", "getk", "getkq" };
      guint i = g_rand_int_range (rand, 0, G_N_ELEMENTS (ops));

      name = names[i];
      cas = 0, cas_ref = -1;
      packet = binary_request (0x80, ops[i], opaque, 0, NULL, 0, key->str, key->len, NULL, 0);
    }
  else if (r < 55)
    {
      static const guint8 ops[] = { BIN_SET, BIN_SET, BIN_ADD, BIN_REPLACE, BIN_SETQ, BIN_ADDQ, BIN_REPLACEQ,
                                    BIN_APPEND, BIN_PREPEND, BIN_APPENDQ, BIN_PREPENDQ };
      static const gchar *names[] = { "set", "set", "add", "replace", "setq", "addq", "replaceq",
                                      "append", "prepend", "appendq", "prependq" };
      guint i = g_rand_int_range (rand, 0, G_N_ELEMENTS (ops));
      gboolean has_extras = ops[i] != BIN_APPEND && ops[i] != BIN_PREPEND && ops[i] != BIN_APPENDQ && ops[i] != BIN_PREPENDQ;
      const gchar *vshape = NULL;
      g_autoptr(GBytes) value = gen_value (rand, item_size, &vshape);
      guint32 flags = chance (rand, 0.8) ? 0 : bin_flags_values[g_rand_int_range (rand, 0, G_N_ELEMENTS (bin_flags_values))];
      guint32 exptime = chance (rand, 0.8) ? 0 : bin_exptime_values[g_rand_int_range (rand, 0, G_N_ELEMENTS (bin_exptime_values))];

      name = names[i];
      put_be32 (extras, flags);
      put_be32 (extras + 4, exptime);
      shape = shape ? shape : (vshape ? vshape : (flags ? "flags" : (exptime ? "exptime" : NULL)));
      packet = binary_request (0x80, ops[i], opaque, cas, extras, has_extras ? 8 : 0, key->str, key->len,
                               g_bytes_get_data (value, NULL), g_bytes_get_size (value));
    }
  else if (r < 63)
    {
      name = chance (rand, 0.7) ? "delete" : "deleteq";
      packet = binary_request (0x80, name[6] ? BIN_DELETEQ : BIN_DELETE, opaque, cas, NULL, 0, key->str, key->len, NULL, 0);
    }
  else if (r < 75)
    {
      static const guint64 deltas[] = { 1, 5, 0, G_MAXUINT64 };
      static const guint64 initials[] = { 0, 13, G_MAXUINT64 };
      static const guint8 ops[] = { BIN_INCR, BIN_DECR, BIN_INCRQ, BIN_DECRQ };
      static const gchar *names[] = { "incr", "decr", "incrq", "decrq" };
      guint i = g_rand_int_range (rand, 0, G_N_ELEMENTS (ops));
      guint32 exptime = chance (rand, 0.3) ? 0xffffffffu : 0;

      name = names[i];
      put_be64 (extras, deltas[g_rand_int_range (rand, 0, G_N_ELEMENTS (deltas))]);
      put_be64 (extras + 8, initials[g_rand_int_range (rand, 0, G_N_ELEMENTS (initials))]);
      put_be32 (extras + 16, exptime);
      shape = shape ? shape : (exptime ? "no-create" : NULL);
      packet = binary_request (0x80, ops[i], opaque, cas, extras, 20, key->str, key->len, NULL, 0);
    }
  else if (r < 83)
    {
      static const guint8 ops[] = { BIN_TOUCH, BIN_GAT, BIN_GATQ, BIN_GATK, BIN_GATKQ };
      static const gchar *names[] = { "touch", "gat", "gatq", "gatk", "gatkq" };
      guint i = g_rand_int_range (rand, 0, G_N_ELEMENTS (ops));

      name = names[i];
      cas = 0, cas_ref = -1;
      put_be32 (extras, bin_exptime_values[g_rand_int_range (rand, 0, G_N_ELEMENTS (bin_exptime_values))]);
      packet = binary_request (0x80, ops[i], opaque, 0, extras, 4, key->str, key->len, NULL, 0);
    }
  else
    {
      cas = 0, cas_ref = -1;
      shape = NULL;
      switch (g_rand_int_range (rand, 0, 12))
        {
        case 0:
          name = "noop";
          packet = binary_request (0x80, BIN_NOOP, opaque, 0, NULL, 0, NULL, 0, NULL, 0);
          break;
        case 1:
          name = "version";
          packet = binary_request (0x80, BIN_VERSION, opaque, 0, NULL, 0, NULL, 0, NULL, 0);
          break;
        case 2:
          {
            static const gchar *keys[] = { "", "settings", "reset", "detail dump", "bogus" };
            const gchar *k = PICK (rand, keys);

            name = "stat";
            shape = *k ? k : NULL;
            packet = binary_request (0x80, BIN_STAT, opaque, 0, NULL, 0, k, strlen (k), NULL, 0);
          }
          break;
        case 3:
          name = chance (rand, 0.5) ? "flush" : "flushq";
          packet = binary_request (0x80, name[5] ? BIN_FLUSHQ : BIN_FLUSH, opaque, 0, extras, chance (rand, 0.5) ? 4 : 0,
                                   NULL, 0, NULL, 0);
          break;
        case 4:
          name = "sasl-list-mechs";
          packet = binary_request (0x80, BIN_SASL_LIST, opaque, 0, NULL, 0, NULL, 0, NULL, 0);
          break;
        case 5:
          name = "unknown";
          packet = binary_request (0x80, 0x50, opaque, 0, NULL, 0, NULL, 0, NULL, 0);
          break;
        case 6:
          name = "get";
          shape = "with-extras";
          *terminal = TRUE;
          packet = binary_request (0x80, BIN_GET, opaque, 0, extras, 4, "k0", 2, NULL, 0);
          break;
        case 7:
          name = "set";
          shape = "no-extras";
          *terminal = TRUE;
          packet = binary_request (0x80, BIN_SET, opaque, 0, NULL, 0, "k0", 2, "v", 1);
          break;
        case 8:
          name = "request";
          shape = "bad-magic";
          *terminal = TRUE;
          packet = binary_request (0x81, BIN_GET, opaque, 0, NULL, 0, "k0", 2, NULL, 0);
          break;
        case 9:
          name = "quit";
          *terminal = TRUE;
          packet = binary_request (0x80, chance (rand, 0.5) ? BIN_QUIT : BIN_QUITQ, opaque, 0, NULL, 0, NULL, 0, NULL, 0);
          break;
        case 10:
          {
            /* key and extras longer than the body */
            name = "request";
            shape = "short-body";
            *terminal = TRUE;
            packet = binary_request (0x80, BIN_GET, opaque, 0, NULL, 0, "k0", 2, NULL, 0);
            put_be32 (packet->data + 8, 1);
          }
          break;
        default:
          name = "incr";
          shape = "no-extras";
          *terminal = TRUE;
          packet = binary_request (0x80, BIN_INCR, opaque, 0, NULL, 0, "k0", 2, NULL, 0);
          break;
        }
    }
  label = g_strdup_printf ("bin-%s/%s", name, shape ? shape : (cas_ref > 0 || cas ? "cas" : "plain"));
  c = raw_command (s, label, packet->data, packet->len);
  c->cas_ref = cas_ref;
  c->binary = TRUE;
  return c;
}


/* ---- meta commands ---- */

/* Where a meta command's raw bytes say CAS_MARK, each server gets the
 * cas unique it returned as #cas_ref (or "1" if it returned none). */
#define CAS_MARK "@CAS@"

static const gchar *
pick_meta_flags (GRand *rand, const gchar *const *flags, gsize n_flags, GString *line, guint max)
{
  guint k = g_rand_int_range (rand, 0, max + 1);
  const gchar *shape = NULL;

  for (guint i = 0; i < k; i++)
    {
      const gchar *f = flags[g_rand_int_range (rand, 0, (gint32) n_flags)];

      g_string_append_printf (line, " %s", f);
      if (shape == NULL && f[0] != 'q' && f[0] != 'v' && f[0] != 'k')
        shape = f[0] == 'M' ? "mode" : (f[0] == 'C' || f[0] == 'E' ? "cas" : (g_ascii_isupper (f[0]) ? "token" : NULL));
    }
  if (chance (rand, 0.04))
    {
      static const gchar *bad[] = { "zz", "O01234567890123456789012345678901234567890", "T", "Nx", "!", "q q q q q q q q q q q q q q q q q q q q q q q q q" };

      g_string_append_printf (line, " %s", PICK (rand, bad));
      shape = "bad-flag";
    }
  return shape;
}

static DtCommand *
gen_meta (DtSession *s, GRand *rand, gsize item_size, guint n_cas_seen)
{
  static const gchar *mg_flags[] = {
    "v", "v", "f", "t", "c", "k", "s", "O123", "q", "h", "l", "N30", "R30", "T30", "E77", "T0", "N0",
  };
  static const gchar *ms_flags[] = {
    "c", "k", "O9", "q", "T0", "T60", "F5", "F4294967296", "I", "MS", "ME", "MA", "MP", "MR", "Ms", "MX",
    "C" CAS_MARK, "C" CAS_MARK, "C1", "E99", "b",
  };
  static const gchar *md_flags[] = { "q", "I", "T30", "k", "O5", "C" CAS_MARK, "C1", "x" };
  static const gchar *ma_flags[] = {
    "N0", "N30", "J13", "J18446744073709551615", "D5", "D18446744073709551615", "Dabc", "T0", "MI", "MD",
    "M+", "M-", "MX", "q", "v", "t", "c", "k", "O5", "C" CAS_MARK,
  };
  g_autoptr(GString) key = g_string_new (NULL);
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree gchar *label = NULL;
  const gchar *kshape = gen_key (rand, key);
  const gchar *verb, *shape = NULL;
  DtCommand *c;

  if (chance (rand, 0.05))
    {
      /* a key in base64 ("k0") */
      g_string_assign (key, "azA=");
      kshape = NULL;
      g_string_append (line, "mg azA= b v k");
      verb = "mg";
      shape = "base64";
    }
  else
    switch (g_rand_int_range (rand, 0, 10))
      {
      case 0:
      case 1:
      case 2:
        verb = "mg";
        g_string_append (line, "mg ");
        g_string_append_len (line, key->str, key->len);
        shape = pick_meta_flags (rand, mg_flags, G_N_ELEMENTS (mg_flags), line, 5);
        break;
      case 3:
      case 4:
      case 5:
        {
          const gchar *vshape = NULL;
          g_autoptr(GBytes) value = gen_value (rand, item_size, &vshape);
          gsize vlen = g_bytes_get_size (value);
          const gchar *count_shape = NULL;
          g_autofree gchar *count = NULL;

          verb = "ms";
          if (chance (rand, 0.06))
            {
              static const gchar *counts[] = { "abc", "-1", "+1", "4294967296" };
              const gchar *k = PICK (rand, counts);

              count = g_str_equal (k, "+1") ? g_strdup_printf ("%" G_GSIZE_FORMAT, vlen + 1) : g_strdup (k);
              count_shape = "count-mismatch";
            }
          else
            count = g_strdup_printf ("%" G_GSIZE_FORMAT, vlen);
          g_string_append (line, "ms ");
          g_string_append_len (line, key->str, key->len);
          g_string_append_printf (line, " %s", count);
          shape = pick_meta_flags (rand, ms_flags, G_N_ELEMENTS (ms_flags), line, 4);
          shape = count_shape ? count_shape : (vshape ? vshape : shape);
          g_string_append (line, "\r\n");
          g_string_append_len (line, g_bytes_get_data (value, NULL), vlen);
        }
        break;
      case 6:
        verb = "md";
        g_string_append (line, "md ");
        g_string_append_len (line, key->str, key->len);
        shape = pick_meta_flags (rand, md_flags, G_N_ELEMENTS (md_flags), line, 3);
        break;
      case 7:
      case 8:
        verb = "ma";
        g_string_append (line, "ma ");
        g_string_append_len (line, key->str, key->len);
        shape = pick_meta_flags (rand, ma_flags, G_N_ELEMENTS (ma_flags), line, 4);
        break;
      default:
        if (chance (rand, 0.5))
          {
            verb = "mn";
            g_string_append (line, "mn");
          }
        else
          {
            verb = "me";
            g_string_append (line, "me ");
            g_string_append_len (line, key->str, key->len);
          }
        break;
      }
  g_string_append (line, gen_eol (rand));
  label = join_label (verb, kshape ? kshape : shape);
  c = raw_command (s, label, line->str, line->len);
  if (strstr (line->str, CAS_MARK) != NULL)
    c->cas_ref = n_cas_seen > 0 ? g_rand_int_range (rand, 1, n_cas_seen + 1) : 1;
  return c;
}

static DtCommand *
gen_odd (DtSession *s, GRand *rand, gboolean *terminal)
{
  *terminal = FALSE;
  switch (g_rand_int_range (rand, 0, 13))
    {
    case 12:
      {
        /* admin commands real tools send, and legacy forms old clients
         * send; cache_memlimit keeps both servers at their -m 64 */
        static const gchar *lines[] = {
          "cache_memlimit 64\r\n", "cache_memlimit 4\r\n", "cache_memlimit abc\r\n", "stats detail dump\r\n",
          "slabs automove 1\r\n", "slabs automove 9\r\n", "shutdown\r\n", "bget k0\r\n", "delete k0 0\r\n",
          "verbosity 1 noreply\r\n", "misbehave\r\n", "stats cachedump 1\r\n", "stats cachedump 99 1\r\n",
        };
        const gchar *line = PICK (rand, lines);
        g_autofree gchar *label = g_strdup_printf ("admin/%.*s", (int) strcspn (line, " \r"), line);

        return raw_command (s, label, line, strlen (line));
      }
    case 0:
      return raw_commandf (s, "unknown/word", "foo bar\r\n");
    case 1:
      return raw_commandf (s, "unknown/http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    case 2:
      return raw_commandf (s, "unknown/empty-line", "\r\n");
    case 3:
      return raw_commandf (s, "unknown/spaces", "   \r\n");
    case 4:
      {
        static const gchar *subs[] = { "", "", " settings", " items", " slabs", " sizes", " conns", " reset", " foo", " detail on", " detail off" };
        const gchar *sub = PICK (rand, subs);
        g_autofree gchar *label = g_strdup_printf ("stats/%s", *sub ? sub + 1 : "general");

        return raw_commandf (s, label, "stats%s\r\n", sub);
      }
    case 5:
      {
        DtCommand *c = raw_commandf (s, "version/plain", "version\r\n");

        c->n_version = 1;
        return c;
      }
    case 6:
      {
        /* a line longer than 2048 bytes, with its newline */
        g_autoptr(GString) line = g_string_new ("set ");

        for (guint i = 0; i < 2100; i++)
          g_string_append_c (line, 'L');
        g_string_append (line, " 0 0 1\r\nv\r\n");
        return raw_command (s, "set/long-line", line->str, line->len);
      }
    case 7:
      return raw_commandf (s, "unknown/nul", "%s", "get k0");  /* completed below */
    case 8:
      {
        /* a line longer than 2048 bytes without a newline: both close */
        g_autoptr(GString) line = g_string_new (chance (rand, 0.5) ? "set " : "");

        for (guint i = 0; i < 3000; i++)
          g_string_append_c (line, 'L');
        *terminal = TRUE;
        return raw_command (s, "unknown/long-line-no-eol", line->str, line->len);
      }
    case 9:
      *terminal = TRUE;
      return raw_commandf (s, "quit/plain", "quit\r\n");
    case 10:
      return raw_commandf (s, "unknown/uppercase", "GET k0\r\n");
    default:
      return raw_commandf (s, "unknown/missing-args", "%s\r\n",
                           g_rand_boolean (rand) ? "set k0 0 0" : (g_rand_boolean (rand) ? "incr k0" : "cas k0 0 0 1\r\nv"));
    }
}

static DtSession *
dt_session_generate (guint32 seed, gsize item_size, gboolean meta, gboolean binary)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  DtSession *s = dt_session_new (seed, NULL);

  s->meta = meta;
  s->binary = binary;
  guint n = g_rand_int_range (rand, 20, 41);
  guint emitted = 0, n_gets = 0;

  while (emitted < n)
    {
      GPtrArray *step = dt_step_new ();
      guint k = chance (rand, 0.2) ? g_rand_int_range (rand, 2, 5) : 1;
      gboolean done = FALSE;

      for (guint i = 0; i < k && emitted < n && !done; i++)
        {
          guint r = g_rand_int_range (rand, 0, 100);
          gboolean terminal = FALSE;
          DtCommand *c;

          if (s->binary)
            {
              c = gen_binary (s, rand, item_size, n_gets, &terminal);
              n_gets++;
            }
          else if (s->meta && r < 40)
            {
              c = gen_meta (s, rand, item_size, n_gets);
              /* a meta command can return cas uniques (c flag) */
              n_gets++;
            }
          else if (r < 35)
            c = gen_storage (s, rand, item_size, n_gets);
          else if (r < 65)
            {
              c = gen_retrieval (s, rand);
              if (g_str_has_prefix (c->label, "gets") || g_str_has_prefix (c->label, "gats"))
                n_gets++;
            }
          else if (r < 90)
            c = gen_other (s, rand);
          else
            {
              c = gen_odd (s, rand, &terminal);
              if (g_str_equal (c->label, "unknown/nul"))
                {
                  /* a NUL in the middle of a command line */
                  g_bytes_unref (c->raw);
                  c->raw = g_bytes_new ("get k0\0 k1\r\n", 12);
                }
              if (c->n_version > 0 && (step->len > 0 || k > 1))
                {
                  /* `version` goes alone, so fences count simply */
                  g_free (c->label);
                  g_bytes_unref (c->raw);
                  c->label = g_strdup ("unknown/word");
                  c->raw = g_bytes_new ("foo bar\r\n", 9);
                  c->n_version = 0;
                }
            }
          if (terminal)
            {
              /* only as the last write of the session, alone */
              if (step->len > 0)
                {
                  g_ptr_array_add (s->steps, step);
                  step = dt_step_new ();
                }
              c->terminal = TRUE;
              g_ptr_array_add (step, c);
              emitted++;
              done = TRUE;
              n = emitted;
              break;
            }
          g_ptr_array_add (step, c);
          emitted++;
          /* A write ends after a command larger than memcached's 16 KiB
           * read buffer: where the kernel splits such a write decides
           * which replies memcached has written when a later command in
           * it takes back the unwritten ones (a get with a long key, a
           * close), so memcached itself answers it differently run to
           * run. */
          if ((c->raw != NULL ? g_bytes_get_size (c->raw) : 0) + (c->value != NULL ? g_bytes_get_size (c->value) : 0) > 16384)
            break;
        }
      g_ptr_array_add (s->steps, step);
      if (done)
        break;
    }
  return s;
}

/* ------------------------------------------------------------------ */
/* Per-server connection */

typedef enum
{
  DT_END_FENCE,
  DT_END_CLOSED,
  DT_END_TIMEOUT,
} DtEnd;

typedef struct
{
  const gchar *name;
  gchar *host, *port;
  int fd;
  GByteArray *fence;     /* this server's version line, with \r\n */
  GHashTable *cas_seq;   /* raw unique (owned) -> seq */
  GPtrArray *cas_raw;    /* seq-1 -> raw unique */
  gboolean binary;       /* this session speaks the binary protocol */
} DtServer;

static gboolean
dt_server_parse (DtServer *server, const gchar *name, const gchar *spec, GError **error)
{
  const gchar *colon = strrchr (spec, ':');

  server->name = name;
  if (colon == NULL || colon == spec || colon[1] == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--%s: expected HOST:PORT, got “%s”", name, spec);
      return FALSE;
    }
  server->host = g_strndup (spec, colon - spec);
  server->port = g_strdup (colon + 1);
  server->fd = -1;
  server->fence = g_byte_array_new ();
  server->cas_seq = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->cas_raw = g_ptr_array_new ();
  return TRUE;
}

static void
dt_server_disconnect (DtServer *server)
{
  if (server->fd >= 0)
    close (server->fd);
  server->fd = -1;
}

static void
dt_server_clear (DtServer *server)
{
  dt_server_disconnect (server);
  g_free (server->host);
  g_free (server->port);
  g_clear_pointer (&server->fence, g_byte_array_unref);
  g_clear_pointer (&server->cas_seq, g_hash_table_unref);
  g_clear_pointer (&server->cas_raw, g_ptr_array_unref);
}

static gboolean
line_complete (GByteArray *reply, gsize from, gsize *end)
{
  for (gsize i = from; i < reply->len; i++)
    if (reply->data[i] == '\n')
      {
        *end = i + 1;
        return TRUE;
      }
  return FALSE;
}

/* Counts this server's fence lines at line starts of @reply, skipping
 * VALUE data blocks. */
static guint count_binary_fences (GByteArray *reply);

static guint
count_fences (DtServer *server, GByteArray *reply)
{
  gsize pos = 0, end;
  guint n = 0;

  if (server->binary)
    return count_binary_fences (reply);
  while (line_complete (reply, pos, &end))
    {
      gsize len = end - pos;

      if (server->fence->len == 0 ? len > 8 && memcmp (reply->data + pos, "VERSION ", 8) == 0
          : len == server->fence->len && memcmp (reply->data + pos, server->fence->data, len) == 0)
        n++;
      else if (len > 6 && memcmp (reply->data + pos, "VALUE ", 6) == 0)
        {
          g_autofree gchar *line = g_strndup ((const gchar *) reply->data + pos, len);
          g_auto(GStrv) tokens = g_strsplit (g_strstrip (line), " ", -1);
          guint n_tokens = g_strv_length (tokens);

          if (n_tokens >= 4)
            {
              guint64 bytes = g_ascii_strtoull (tokens[3], NULL, 10);

              if (end + bytes + 2 > reply->len)
                return n;  /* data block incomplete */
              end += bytes + 2;
            }
        }
      pos = end;
    }
  return n;
}

/* Writes @data and reads until @n_fences fence lines arrived, the server
 * closed, or @timeout_ms passed without completion. */
static DtEnd
dt_server_exchange (DtServer *server, const guint8 *data, gsize len, guint n_fences,
                    gint timeout_ms, GByteArray *reply)
{
  gsize written = 0;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (server->fd < 0)
    return DT_END_CLOSED;
  for (;;)
    {
      struct pollfd pfd = { .fd = server->fd, .events = POLLIN | (written < len ? POLLOUT : 0) };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      int r;

      if (left <= 0)
        return DT_END_TIMEOUT;
      r = poll (&pfd, 1, (int) MIN (left, 1000));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return DT_END_CLOSED;
      if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        {
          guint8 buf[65536];
          ssize_t n = recv (server->fd, buf, sizeof buf, 0);

          if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
            {
              dt_server_disconnect (server);
              return DT_END_CLOSED;
            }
          if (n > 0)
            {
              g_byte_array_append (reply, buf, n);
              if (n_fences > 0 && count_fences (server, reply) >= n_fences)
                return DT_END_FENCE;
            }
        }
      if (written < len && (pfd.revents & POLLOUT))
        {
          ssize_t n = send (server->fd, data + written, len - written, MSG_NOSIGNAL);

          if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
              /* keep reading what it said before it went away */
              written = len;
              continue;
            }
          if (n > 0)
            written += n;
        }
    }
}

static gboolean
dt_server_connect (DtServer *server, GError **error)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  struct addrinfo *res = NULL;
  int rc, fd = -1, one = 1;
  g_autoptr(GByteArray) reply = g_byte_array_new ();
  gsize end;

  dt_server_disconnect (server);
  rc = getaddrinfo (server->host, server->port, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, DT_ERROR, 0, "%s %s:%s: %s", server->name, server->host, server->port, gai_strerror (rc));
      return FALSE;
    }
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
    {
      fd = socket (ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (fd >= 0 && connect (fd, ai->ai_addr, ai->ai_addrlen) == 0)
        break;
      if (fd >= 0)
        close (fd);
      fd = -1;
    }
  freeaddrinfo (res);
  if (fd < 0)
    {
      g_set_error (error, DT_ERROR, 0, "%s %s:%s: %s", server->name, server->host, server->port, g_strerror (errno));
      return FALSE;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
  server->fd = fd;

  g_hash_table_remove_all (server->cas_seq);
  g_ptr_array_set_size (server->cas_raw, 0);
  if (server->binary)
    {
      /* FLUSH, then the fence (a NOOP): the first byte makes the
       * connection a binary one */
      g_autoptr(GByteArray) prologue = binary_request (0x80, BIN_FLUSH, 0, 0, NULL, 0, NULL, 0, NULL, 0);
      g_autoptr(GByteArray) fence = binary_fence ();

      g_byte_array_append (prologue, fence->data, fence->len);
      if (dt_server_exchange (server, prologue->data, prologue->len, 1, DT_FENCE_TIMEOUT_MS, reply) != DT_END_FENCE)
        {
          dt_server_disconnect (server);
          g_set_error (error, DT_ERROR, 0, "%s: no reply to a binary FLUSH and NOOP", server->name);
          return FALSE;
        }
      return TRUE;
    }
  /* flush_all, then learn the fence: this server's version line (an
   * empty fence matches any VERSION line) */
  g_byte_array_set_size (server->fence, 0);
  if (dt_server_exchange (server, (const guint8 *) "flush_all\r\n" DT_FENCE, 20, 1,
                          DT_FENCE_TIMEOUT_MS, reply) != DT_END_FENCE)
    {
      dt_server_disconnect (server);
      g_set_error (error, DT_ERROR, 0, "%s: no reply to flush_all and version", server->name);
      return FALSE;
    }
  for (gsize pos = 0; line_complete (reply, pos, &end); pos = end)
    if (end - pos > 8 && memcmp (reply->data + pos, "VERSION ", 8) == 0)
      g_byte_array_append (server->fence, reply->data + pos, end - pos);
  g_hash_table_remove_all (server->cas_seq);
  g_ptr_array_set_size (server->cas_raw, 0);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Rendering, normalising, comparing */

static void
render_command (const DtCommand *c, DtServer *server, GByteArray *out)
{
  g_autoptr(GString) line = NULL;
  gsize vlen;
  const guint8 *value;
  guint64 count;
  gchar *endp = NULL;

  if (c->binary && c->cas_ref > 0)
    {
      /* the cas field of the header: this server's #n unique */
      const gchar *unique = server && (guint) c->cas_ref <= server->cas_raw->len
        ? g_ptr_array_index (server->cas_raw, c->cas_ref - 1) : NULL;
      guint offset = out->len;

      g_byte_array_append (out, g_bytes_get_data (c->raw, NULL), g_bytes_get_size (c->raw));
      put_be64 (out->data + offset + 16, unique != NULL ? g_ascii_strtoull (unique, NULL, 10) : 1);
      return;
    }
  if (c->raw != NULL && c->cas_ref > 0)
    {
      gsize len;
      const gchar *raw = g_bytes_get_data (c->raw, &len);
      const gchar *end = raw + len;
      const gchar *mark;
      const gchar *unique = server && (guint) c->cas_ref <= server->cas_raw->len
        ? g_ptr_array_index (server->cas_raw, c->cas_ref - 1) : NULL;
      g_autofree gchar *placeholder = g_strdup_printf ("<cas#%d>", c->cas_ref);
      const gchar *text = unique != NULL ? unique : (server != NULL ? "1" : placeholder);

      while ((mark = g_strstr_len (raw, end - raw, CAS_MARK)) != NULL)
        {
          g_byte_array_append (out, (const guint8 *) raw, (guint) (mark - raw));
          g_byte_array_append (out, (const guint8 *) text, (guint) strlen (text));
          raw = mark + strlen (CAS_MARK);
        }
      g_byte_array_append (out, (const guint8 *) raw, (guint) (end - raw));
      return;
    }
  if (c->raw != NULL)
    {
      g_byte_array_append (out, g_bytes_get_data (c->raw, NULL), g_bytes_get_size (c->raw));
      return;
    }
  value = g_bytes_get_data (c->value, &vlen);
  line = g_string_new (c->verb);
  g_string_append_c (line, ' ');
  g_string_append_len (line, c->key, c->key_len);
  g_string_append_printf (line, " %s %s ", c->flags, c->exptime);
  if (c->count != NULL)
    g_string_append (line, c->count);
  else
    g_string_append_printf (line, "%" G_GSIZE_FORMAT, vlen);
  if (c->cas_ref > 0)
    {
      const gchar *raw = server && (guint) c->cas_ref <= server->cas_raw->len
        ? g_ptr_array_index (server->cas_raw, c->cas_ref - 1) : NULL;

      if (raw != NULL)
        g_string_append_printf (line, " %s", raw);
      else if (server != NULL)
        g_string_append (line, " 1");  /* a unique not seen: the same bytes to both */
      else
        g_string_append_printf (line, " <cas#%d>", c->cas_ref);
    }
  else if (c->cas != NULL)
    g_string_append_printf (line, " %s", c->cas);
  if (c->noreply)
    g_string_append (line, " noreply");
  if (c->extra != NULL)
    g_string_append_printf (line, " %s", c->extra);
  g_string_append (line, c->eol);
  g_byte_array_append (out, (const guint8 *) line->str, line->len);

  /* the data block: always count+2 bytes when the count is a number, so
   * that a count that disagrees gives "bad data chunk" rather than a
   * stream out of step; otherwise the value as is */
  count = g_ascii_strtoull (c->count ? c->count : "x", &endp, 10);
  if (c->count == NULL || c->count[0] == '-' || endp == c->count || *endp != '\0' || count > (guint64) vlen + 16)
    {
      g_byte_array_append (out, value, vlen);
      g_byte_array_append (out, (const guint8 *) "\r\n", 2);
    }
  else
    {
      gsize start = out->len;

      g_byte_array_append (out, value, vlen);
      g_byte_array_append (out, (const guint8 *) "\r\n", 2);
      g_byte_array_set_size (out, start + count + 2);
      for (gsize i = start + vlen + 2; i < out->len; i++)
        out->data[i] = 'Z';
    }
}

static void
append_escaped (GString *out, const guint8 *data, gsize len, gsize max)
{
  gsize shown = 0;

  for (gsize i = 0; i < len; )
    {
      gsize run = 1;

      while (i + run < len && data[i + run] == data[i])
        run++;
      if (run >= 16)
        {
          g_string_append_printf (out, "%c{×%" G_GSIZE_FORMAT "}", g_ascii_isprint (data[i]) ? data[i] : '?', run);
          i += run;
          shown += 8;
          continue;
        }
      if (shown >= max)
        {
          g_string_append_printf (out, "…(+%" G_GSIZE_FORMAT " bytes)", len - i);
          return;
        }
      switch (data[i])
        {
        case '\r': g_string_append (out, "\\r"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\\': g_string_append (out, "\\\\"); break;
        default:
          if (data[i] >= 0x20 && data[i] < 0x7f)
            g_string_append_c (out, data[i]);
          else
            g_string_append_printf (out, "\\x%02x", data[i]);
        }
      i++;
      shown++;
    }
}

/* Settings that memcached prints only when built with extstore (ext_*)
 * or TLS (ssl_*): Debian's build has both, braid prints ssl_* only, and
 * a plain memcached build prints neither. */
static gboolean
is_build_option_stat (const guint8 *name, gsize len)
{
  return (len > 4 && memcmp (name, "ext_", 4) == 0) || (len > 4 && memcmp (name, "ssl_", 4) == 0);
}

/* The number this server's cas unique @raw gets, in order of first
 * appearance. */
static guint
cas_sequence (DtServer *server, const gchar *raw)
{
  gpointer seq;

  if (!g_hash_table_lookup_extended (server->cas_seq, raw, NULL, &seq))
    {
      gchar *copy = g_strdup (raw);

      g_ptr_array_add (server->cas_raw, copy);
      seq = GUINT_TO_POINTER (server->cas_raw->len);
      g_hash_table_insert (server->cas_seq, copy, seq);
    }
  return GPOINTER_TO_UINT (seq);
}

/* A meta reply line ("HD c5 t30", "VA 2 c5", "ME k exp=-1 la=0 cas=5 …"):
 * cas uniques by identity; TTLs and last-access times, which move with
 * each server's clock, blanked; the slab class and item size of "me",
 * which describe memcached's allocator, blanked.  Returns the data
 * block's length for "VA", else -1. */
static gint64
normalise_meta_line (DtServer *server, const gchar *line, GString *out)
{
  g_auto(GStrv) tokens = g_strsplit (line, " ", -1);
  gboolean is_me = g_str_equal (tokens[0], "ME");
  gint64 data_len = g_str_equal (tokens[0], "VA") && tokens[1] != NULL ? g_ascii_strtoll (tokens[1], NULL, 10) : -1;

  for (guint i = 0; tokens[i] != NULL; i++)
    {
      const gchar *t = tokens[i];

      if (i > 0)
        g_string_append_c (out, ' ');
      if (is_me && i >= 2 && g_str_has_prefix (t, "cas="))
        g_string_append_printf (out, "cas=#%u", cas_sequence (server, t + 4));
      else if (is_me && i >= 2 && (g_str_has_prefix (t, "exp=") || g_str_has_prefix (t, "la=") ||
                                   g_str_has_prefix (t, "cls=") || g_str_has_prefix (t, "size=")))
        g_string_append_printf (out, "%.*s=*", (int) (strchr (t, '=') - t), t);
      else if (!is_me && i >= 1 && t[0] == 'c' && g_ascii_isdigit (t[1]))
        g_string_append_printf (out, "c#%u", cas_sequence (server, t + 1));
      else if (!is_me && i >= 1 && (t[0] == 't' || t[0] == 'l') && g_ascii_isdigit (t[1]))
        g_string_append_printf (out, "%c*", t[0]);
      else
        g_string_append (out, t);
    }
  return data_len;
}

static gboolean
is_meta_reply (const guint8 *p, gsize len)
{
  static const gchar *codes[] = { "HD", "VA", "EN", "NS", "EX", "NF", "ME" };

  if (len < 2)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    if (memcmp (p, codes[i], 2) == 0 && (len == 2 || p[2] == ' ' || p[2] == '\r' || p[2] == '\n'))
      return TRUE;
  return FALSE;
}

/* Counts binary fence replies among the whole packets of @reply. */
static guint
count_binary_fences (GByteArray *reply)
{
  gsize pos = 0;
  guint n = 0;

  while (pos + DT_BINARY_HEADER <= reply->len)
    {
      const guint8 *h = reply->data + pos;
      gsize total = DT_BINARY_HEADER + get_be32 (h + 8);

      if (pos + total > reply->len)
        break;
      if (h[1] == BIN_NOOP && get_be32 (h + 12) == DT_BINARY_FENCE_OPAQUE)
        n++;
      pos += total;
    }
  return n;
}

static gchar *
escape_bytes (const guint8 *p, gsize len)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
      g_string_append_c (s, (gchar) p[i]);
    else
      g_string_append_printf (s, "\\x%02x", p[i]);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* One line per response packet: opcode, status, opaque, cas by identity,
 * extras, key and value (a STAT value and the VERSION string blanked,
 * per-class and build-option STAT packets dropped); the fence dropped; a
 * partial packet shown by its length. */
static void
normalise_binary (DtServer *server, GByteArray *reply, GByteArray *out)
{
  gsize pos = 0;

  while (pos + DT_BINARY_HEADER <= reply->len)
    {
      const guint8 *h = reply->data + pos;
      guint16 key_len = (guint16) (h[2] << 8 | h[3]);
      guint8 extras_len = h[4];
      guint32 body = get_be32 (h + 8);
      guint64 cas = get_be64 (h + 16);
      const guint8 *extras = h + DT_BINARY_HEADER, *key = extras + extras_len, *value = key + key_len;
      gsize value_len = body >= (guint32) extras_len + key_len ? body - extras_len - key_len : 0;
      g_autofree gchar *ex = NULL, *k = NULL, *v = NULL, *line = NULL;
      g_autofree gchar *cas_text = NULL;

      if (pos + DT_BINARY_HEADER + body > reply->len)
        break;
      pos += DT_BINARY_HEADER + body;
      if (h[1] == BIN_NOOP && get_be32 (h + 12) == DT_BINARY_FENCE_OPAQUE)
        continue;
      k = escape_bytes (key, key_len);
      if (h[1] == BIN_STAT && key_len > 0 &&
          (memchr (key, ':', key_len) != NULL || is_build_option_stat (key, key_len)))
        continue;
      ex = escape_bytes (extras, extras_len);
      v = (h[1] == BIN_STAT || h[1] == BIN_VERSION) && value_len > 0 ? g_strdup ("*") : escape_bytes (value, value_len);
      if (cas == 0)
        cas_text = g_strdup ("0");
      else
        {
          g_autofree gchar *raw = g_strdup_printf ("%" G_GUINT64_FORMAT, cas);

          cas_text = g_strdup_printf ("#%u", cas_sequence (server, raw));
        }
      line = g_strdup_printf ("[%02x %02x status=%04x opaque=%u cas=%s extras=%s key=%s value=%s]\n", h[0], h[1],
                              (guint) (h[6] << 8 | h[7]), get_be32 (h + 12), cas_text, ex, k, v);
      g_byte_array_append (out, (const guint8 *) line, (guint) strlen (line));
    }
  if (pos < reply->len)
    {
      g_autofree gchar *partial = g_strdup_printf ("<%" G_GSIZE_FORMAT " bytes of a packet>", reply->len - pos);

      g_byte_array_append (out, (const guint8 *) partial, (guint) strlen (partial));
    }
}

/* Normalises one step's reply: drops the trailing fence, numbers cas
 * uniques by first appearance, blanks stats values and version strings,
 * and records how the read ended. */
static void
normalise (DtServer *server, GByteArray *reply, DtEnd end, GByteArray *out)
{
  gsize pos = 0, stop = reply->len, lend;

  if (server->binary)
    {
      normalise_binary (server, reply, out);
      if (end == DT_END_CLOSED)
        g_byte_array_append (out, (const guint8 *) "<closed>", 8);
      else if (end == DT_END_TIMEOUT)
        g_byte_array_append (out, (const guint8 *) "<no reply>", 10);
      return;
    }
  if (end == DT_END_FENCE && reply->len >= server->fence->len
      && memcmp (reply->data + reply->len - server->fence->len, server->fence->data, server->fence->len) == 0)
    stop = reply->len - server->fence->len;
  while (pos < stop)
    {
      gsize len;

      if (!line_complete (reply, pos, &lend) || lend > stop)
        lend = stop;
      len = lend - pos;
      if (len > 6 && memcmp (reply->data + pos, "VALUE ", 6) == 0)
        {
          g_autofree gchar *line = g_strndup ((const gchar *) reply->data + pos, len);
          g_auto(GStrv) tokens = NULL;
          gchar *nl = strpbrk (line, "\r\n");
          guint n;

          if (nl != NULL)
            *nl = '\0';
          tokens = g_strsplit (line, " ", -1);
          n = g_strv_length (tokens);
          if (n == 5)
            {
              gpointer seq;

              if (!g_hash_table_lookup_extended (server->cas_seq, tokens[4], NULL, &seq))
                {
                  gchar *raw = g_strdup (tokens[4]);

                  g_ptr_array_add (server->cas_raw, raw);
                  seq = GUINT_TO_POINTER (server->cas_raw->len);
                  g_hash_table_insert (server->cas_seq, raw, seq);
                }
              g_free (tokens[4]);
              tokens[4] = g_strdup_printf ("#%u", GPOINTER_TO_UINT (seq));
            }
          {
            g_autofree gchar *joined = g_strjoinv (" ", tokens);

            g_byte_array_append (out, (const guint8 *) joined, strlen (joined));
            g_byte_array_append (out, reply->data + pos + strlen (line), len - strlen (line));
          }
          if (n >= 4)
            {
              guint64 bytes = g_ascii_strtoull (tokens[3], NULL, 10);
              gsize dend = MIN ((guint64) stop, lend + bytes + 2);

              g_byte_array_append (out, reply->data + lend, dend - lend);
              lend = dend;
            }
        }
      else if (len > 5 && memcmp (reply->data + pos, "STAT ", 5) == 0)
        {
          const guint8 *sp = memchr (reply->data + pos + 5, ' ', len - 5);
          gsize name_end = sp ? (gsize) (sp - reply->data) : lend;

          /* per-class and per-connection lines ("STAT 1:chunk_size",
           * "STAT items:1:number", "STAT 12:addr") depend on the server's
           * history, not on the session: dropped */
          if (memchr (reply->data + pos + 5, ':', name_end - pos - 5) != NULL || is_build_option_stat (reply->data + pos + 5, name_end - pos - 5))
            {
              pos = lend;
              continue;
            }
          g_byte_array_append (out, reply->data + pos, name_end - pos);
          g_byte_array_append (out, (const guint8 *) " *\r\n", 4);
        }
      else if (is_meta_reply (reply->data + pos, len))
        {
          g_autofree gchar *line = g_strndup ((const gchar *) reply->data + pos, len);
          gchar *eol = strpbrk (line, "\r\n");
          g_autoptr(GString) norm = g_string_new (NULL);
          gint64 data_len;

          if (eol != NULL)
            *eol = '\0';
          data_len = normalise_meta_line (server, line, norm);
          g_byte_array_append (out, (const guint8 *) norm->str, norm->len);
          g_byte_array_append (out, reply->data + pos + strlen (line), len - strlen (line));
          if (data_len >= 0)
            {
              gsize dend = MIN ((guint64) stop, lend + (guint64) data_len + 2);

              g_byte_array_append (out, reply->data + lend, dend - lend);
              lend = dend;
            }
        }
      else if (len > 8 && memcmp (reply->data + pos, "VERSION ", 8) == 0)
        g_byte_array_append (out, (const guint8 *) "VERSION *\r\n", 11);
      else
        g_byte_array_append (out, reply->data + pos, len);
      pos = lend;
    }
  if (end == DT_END_CLOSED)
    g_byte_array_append (out, (const guint8 *) "<closed>", 8);
  else if (end == DT_END_TIMEOUT)
    g_byte_array_append (out, (const guint8 *) "<no reply>", 10);
}

/* The normalised replies of one server to one session. */
typedef struct
{
  GPtrArray *replies;  /* (element-type GByteArray) */
} DtRun;

static void
dt_run_clear (DtRun *run)
{
  g_clear_pointer (&run->replies, g_ptr_array_unref);
}

typedef struct
{
  DtServer reference, target;
  gsize item_size;
  guint runs;
} Dt;

static void
run_on (Dt *dt, DtServer *server, const DtSession *s, DtRun *run)
{
  g_autoptr(GError) error = NULL;

  run->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  server->binary = s->binary;
  if (!dt_server_connect (server, &error))
    {
      g_printerr ("braid-difftest: %s\n", error->message);
      exit (2);
    }
  for (guint i = 0; i < s->steps->len; i++)
    {
      GPtrArray *step = g_ptr_array_index (s->steps, i);
      g_autoptr(GByteArray) bytes = g_byte_array_new ();
      g_autoptr(GByteArray) reply = g_byte_array_new ();
      GByteArray *norm = g_byte_array_new ();
      gboolean terminal = FALSE;
      guint n_fences = 1;
      DtEnd end;

      for (guint j = 0; j < step->len; j++)
        {
          DtCommand *c = g_ptr_array_index (step, j);

          render_command (c, server, bytes);
          terminal |= c->terminal;
          n_fences += c->n_version;
        }
      if (terminal)
        {
          n_fences = 0;
          end = dt_server_exchange (server, bytes->data, bytes->len, 0, DT_TERMINAL_TIMEOUT_MS, reply);
          if (end == DT_END_TIMEOUT)
            {
              /* still open after the bounded wait: say so */
              normalise (server, reply, DT_END_FENCE, norm);
              g_byte_array_append (norm, (const guint8 *) "<open>", 6);
              g_ptr_array_add (run->replies, norm);
              break;
            }
        }
      else
        {
          if (server->binary)
            {
              g_autoptr(GByteArray) fence = binary_fence ();

              g_byte_array_append (bytes, fence->data, fence->len);
            }
          else
            g_byte_array_append (bytes, (const guint8 *) DT_FENCE, strlen (DT_FENCE));
          end = dt_server_exchange (server, bytes->data, bytes->len, n_fences, DT_FENCE_TIMEOUT_MS, reply);
        }
      normalise (server, reply, end, norm);
      g_ptr_array_add (run->replies, norm);
      if (end != DT_END_FENCE)
        break;
    }
  dt_server_disconnect (server);
  dt->runs++;
}

/* Runs @s on both servers; returns the first divergent step or -1. */
static gint
run_session (Dt *dt, const DtSession *s, DtRun *ref, DtRun *tgt)
{
  guint n;

  run_on (dt, &dt->reference, s, ref);
  run_on (dt, &dt->target, s, tgt);
  n = MAX (ref->replies->len, tgt->replies->len);
  for (guint i = 0; i < n; i++)
    {
      GByteArray *a = i < ref->replies->len ? g_ptr_array_index (ref->replies, i) : NULL;
      GByteArray *b = i < tgt->replies->len ? g_ptr_array_index (tgt->replies, i) : NULL;

      if (a == NULL || b == NULL || a->len != b->len || (a->len > 0 && memcmp (a->data, b->data, a->len) != 0))
        return (gint) i;
    }
  return -1;
}

static gchar *
step_label (const DtSession *s, guint i)
{
  GPtrArray *step = g_ptr_array_index (s->steps, i);
  g_autoptr(GString) label = g_string_new (NULL);

  for (guint j = 0; j < step->len; j++)
    {
      DtCommand *c = g_ptr_array_index (step, j);

      if (j > 0)
        g_string_append (label, " + ");
      g_string_append (label, c->label);
    }
  return g_string_free (g_steal_pointer (&label), FALSE);
}

/* The group label of @s's divergence, or NULL if it does not diverge. */
static gchar *
divergence_group (Dt *dt, const DtSession *s)
{
  DtRun ref = { 0 }, tgt = { 0 };
  gint at = run_session (dt, s, &ref, &tgt);
  gchar *label = at >= 0 && (guint) at < s->steps->len ? step_label (s, at) : NULL;

  dt_run_clear (&ref);
  dt_run_clear (&tgt);
  return label;
}

/* ------------------------------------------------------------------ */
/* Shrinking (delta debugging) */

static gboolean
still_diverges (Dt *dt, const DtSession *s, const gchar *group)
{
  g_autofree gchar *label = NULL;

  if (s->steps->len == 0)
    return FALSE;
  label = divergence_group (dt, s);
  return label != NULL && g_str_equal (label, group);
}

/* ddmin over the steps: drop chunks, then single steps. */
static DtSession *
shrink_steps (Dt *dt, DtSession *s, const gchar *group)
{
  guint n = 2;

  while (s->steps->len >= 2)
    {
      guint len = s->steps->len, chunk = (len + n - 1) / n;
      gboolean reduced = FALSE;

      for (guint start = 0; start < len; start += chunk)
        {
          DtSession *candidate = dt_session_copy (s);

          g_ptr_array_remove_range (candidate->steps, start, MIN (chunk, len - start));
          if (still_diverges (dt, candidate, group))
            {
              dt_session_free (s);
              s = candidate;
              n = MAX (n - 1, 2);
              reduced = TRUE;
              break;
            }
          dt_session_free (candidate);
        }
      if (!reduced)
        {
          if (n >= len)
            break;
          n = MIN (n * 2, len);
        }
    }
  return s;
}

/* Replaces @s's step @i's command @j with @c in a copy. */
static DtSession *
with_command (DtSession *s, guint i, guint j, DtCommand *c)
{
  DtSession *candidate = dt_session_copy (s);
  GPtrArray *step = g_ptr_array_index (candidate->steps, i);

  step->pdata[j] = c;
  return candidate;
}

static DtSession *
try_candidate (Dt *dt, DtSession *s, DtSession *candidate, const gchar *group, gboolean *changed)
{
  if (still_diverges (dt, candidate, group))
    {
      dt_session_free (s);
      *changed = TRUE;
      return candidate;
    }
  dt_session_free (candidate);
  return s;
}

static DtSession *
shrink (Dt *dt, DtSession *s, const gchar *group)
{
  gboolean changed = TRUE;

  for (guint round = 0; changed && round < 4; round++)
    {
      changed = FALSE;
      s = shrink_steps (dt, s, group);

      /* unpipeline: one command per write, then drop single commands */
      for (guint i = 0; i < s->steps->len; i++)
        {
          GPtrArray *step = g_ptr_array_index (s->steps, i);

          if (step->len > 1)
            {
              DtSession *candidate = dt_session_copy (s);
              GPtrArray *old = g_ptr_array_steal_index (candidate->steps, i);

              for (guint j = 0; j < old->len; j++)
                {
                  GPtrArray *single = dt_step_new ();

                  g_ptr_array_add (single, g_ptr_array_index (old, j));
                  g_ptr_array_insert (candidate->steps, i + j, single);
                }
              g_ptr_array_unref (old);
              s = try_candidate (dt, s, candidate, group, &changed);
            }
        }
      for (guint i = 0; i < s->steps->len; i++)
        {
          GPtrArray *step = g_ptr_array_index (s->steps, i);

          for (guint j = 0; step->len > 1 && j < step->len; j++)
            {
              DtSession *candidate = dt_session_copy (s);
              gboolean was = changed;

              g_ptr_array_remove_index ((GPtrArray *) g_ptr_array_index (candidate->steps, i), j);
              changed = FALSE;
              s = try_candidate (dt, s, candidate, group, &changed);
              step = g_ptr_array_index (s->steps, i);
              if (changed)
                j--;
              changed |= was;
            }
        }

      /* simplify storage commands' values */
      for (guint i = 0; i < s->steps->len; i++)
        {
          GPtrArray *step = g_ptr_array_index (s->steps, i);

          for (guint j = 0; j < step->len; j++)
            {
              DtCommand *c = g_ptr_array_index (step, j);

              if (c->verb == NULL)
                continue;
              for (guint k = 0; k < 5; k++)
                {
                  DtCommand *n;

                  c = g_ptr_array_index ((GPtrArray *) g_ptr_array_index (s->steps, i), j);
                  n = dt_command_copy (c);
                  if (k == 0 && g_bytes_get_size (c->value) > 1)
                    {
                      g_bytes_unref (n->value);
                      n->value = g_bytes_new ("v", 1);
                    }
                  else if (k == 1 && !g_str_equal (c->flags, "0"))
                    g_free (n->flags), n->flags = g_strdup ("0");
                  else if (k == 2 && !g_str_equal (c->exptime, "0"))
                    g_free (n->exptime), n->exptime = g_strdup ("0");
                  else if (k == 3 && c->noreply)
                    n->noreply = FALSE;
                  else if (k == 4 && c->extra != NULL)
                    g_clear_pointer (&n->extra, g_free);
                  else
                    {
                      dt_command_free (n);
                      continue;
                    }
                  g_ptr_array_add (s->pool, n);
                  s = try_candidate (dt, s, with_command (s, i, j, n), group, &changed);
                }
            }
        }
    }
  return s;
}

/* ------------------------------------------------------------------ */
/* Reporting */

static void
print_session (Dt *dt, const DtSession *s)
{
  DtRun ref = { 0 }, tgt = { 0 };
  gint at = run_session (dt, s, &ref, &tgt);

  for (guint i = 0; i < s->steps->len; i++)
    {
      GPtrArray *step = g_ptr_array_index (s->steps, i);
      g_autoptr(GByteArray) bytes = g_byte_array_new ();
      g_autoptr(GString) line = g_string_new (NULL);

      for (guint j = 0; j < step->len; j++)
        render_command (g_ptr_array_index (step, j), NULL, bytes);
      append_escaped (line, bytes->data, bytes->len, 400);
      g_print ("  %2u > %s\n", i + 1, line->str);
      for (guint w = 0; w < 2; w++)
        {
          DtRun *run = w == 0 ? &ref : &tgt;
          g_autoptr(GString) text = g_string_new (NULL);

          if (i < run->replies->len)
            {
              GByteArray *r = g_ptr_array_index (run->replies, i);

              append_escaped (text, r->data, r->len, 400);
            }
          else
            g_string_append (text, "(not sent: closed before)");
          g_print ("       %s %s\n", w == 0 ? "reference:" : "target:   ", text->str);
        }
      if ((gint) i == at)
        g_print ("       ^^^ differs\n");
    }
  dt_run_clear (&ref);
  dt_run_clear (&tgt);
}

typedef struct
{
  guint count;
  guint32 first_seed;
} DtGroup;

int
main (int argc, char **argv)
{
  g_autofree gchar *reference = NULL, *target = NULL;
  gint64 seed = 1;
  gint sessions = 100, item_size = 64 * 1024;
  gboolean do_shrink = FALSE, verbose = FALSE, with_meta = FALSE, with_binary = FALSE;
  GOptionEntry entries[] = {
    { "reference", 0, 0, G_OPTION_ARG_STRING, &reference, "The reference server (memcached)", "HOST:PORT" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &target, "The server under test (braid-memcached)", "HOST:PORT" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "First session's seed (default 1); session i uses seed+i", "N" },
    { "sessions", 0, 0, G_OPTION_ARG_INT, &sessions, "Number of sessions (default 100)", "K" },
    { "item-size", 0, 0, G_OPTION_ARG_INT, &item_size, "Both servers' -I in bytes (default 65536)", "BYTES" },
    { "binary", 0, 0, G_OPTION_ARG_NONE, &with_binary, "Binary-protocol sessions (every opcode memcached 1.6 answers)", NULL },
    { "meta", 0, 0, G_OPTION_ARG_NONE, &with_meta, "Sessions include meta commands (mg, ms, md, ma, mn, me)", NULL },
    { "shrink", 0, 0, G_OPTION_ARG_NONE, &do_shrink, "Shrink each new divergence group to a minimal session", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print every divergent session in full", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- differential tester for the memcached text protocol");
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GList *names = NULL;
  Dt dt = { 0 };
  guint divergent = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)
      || (reference == NULL || target == NULL
          ? (g_set_error_literal (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--reference and --target are required"), TRUE)
          : FALSE)
      || sessions < 0 || seed < 0 || seed > G_MAXUINT32 || item_size < 1024
      || !dt_server_parse (&dt.reference, "reference", reference, &error)
      || !dt_server_parse (&dt.target, "target", target, &error))
    {
      g_printerr ("braid-difftest: %s\n", error ? error->message : "bad --sessions, --seed or --item-size");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  dt.item_size = item_size;

  for (gint i = 0; i < sessions; i++)
    {
      guint32 session_seed = (guint32) (seed + i);
      g_autoptr(DtSession) s = dt_session_generate (session_seed, dt.item_size, with_meta, with_binary);
      DtRun ref = { 0 }, tgt = { 0 };
      gint at = run_session (&dt, s, &ref, &tgt);
      g_autofree gchar *group = NULL;
      DtGroup *g;

      dt_run_clear (&ref);
      dt_run_clear (&tgt);
      if (at < 0)
        continue;
      divergent++;
      group = step_label (s, at);
      g_print ("session %d (--seed %u --sessions 1): %u commands, diverges at write %d [%s]\n",
               i, session_seed, dt_session_n_commands (s), at + 1, group);
      if (verbose)
        print_session (&dt, s);
      if (do_shrink)
        {
          DtSession *small = shrink (&dt, dt_session_copy (s), group);
          g_autofree gchar *small_group = divergence_group (&dt, small);

          if (small_group != NULL && !g_str_equal (small_group, group))
            {
              g_free (group);
              group = g_steal_pointer (&small_group);
            }
          if (!g_hash_table_contains (groups, group) || verbose)
            {
              g_print (" minimal session (%u commands; cas uniques shown as #n in order of first appearance, stats values as *):\n",
                       dt_session_n_commands (small));
              print_session (&dt, small);
            }
          dt_session_free (small);
        }
      g = g_hash_table_lookup (groups, group);
      if (g == NULL)
        {
          g = g_new0 (DtGroup, 1);
          g->first_seed = session_seed;
          g_hash_table_insert (groups, g_strdup (group), g);
        }
      g->count++;
    }

  g_print ("%d sessions, %u divergent\n", sessions, divergent);
  /* sorted, never in hash-table order */
  names = g_list_sort (g_hash_table_get_keys (groups), (GCompareFunc) strcmp);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const gchar *name = l->data;
      DtGroup *g = g_hash_table_lookup (groups, name);

      g_print ("divergence [%s]: %u session%s, first --seed %u\n", name, g->count, g->count == 1 ? "" : "s", g->first_seed);
    }
  g_list_free (names);
  dt_server_clear (&dt.reference);
  dt_server_clear (&dt.target);
  return divergent == 0 ? 0 : 1;
}
