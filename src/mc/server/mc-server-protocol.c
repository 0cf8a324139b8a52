/* braid — one braid-memcached connection.
 *
 * Input is buffered and parsed command by command; replies collect in an
 * output buffer that goes to the transport as GBytes.  Values are sent by
 * reference to their (immutable, reference-counted) items, never copied,
 * except small ones that cost less to copy than to reference.
 *
 * Memory per connection is bounded whatever the client asks for and
 * however slowly it reads: once the unsent output (the transport's backlog
 * plus the output buffer) passes the server's output limit, the connection
 * stops reading and stops executing — in the middle of a multi-key get if
 * need be, remembering which key is next — until the output has drained.
 * So the input waiting is at most one read, the output at most the limit
 * plus one value, and the keys of a paused get at most one command line.
 *
 * A connection whose first byte is 0x80 speaks memcached's binary
 * protocol (mc-binary-protocol.c) instead, with the same buffers and
 * bounds: a binary request answers at most one value, so the check after
 * each request pauses it as it pauses a get. */
#include "mc-server-protocol-private.h"
#include "mc-binary-protocol-private.h"
#include "mc-command-parser.h"
#include "mc-meta-commands-private.h"
#include "mc-stats-private.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>

/* Output up to this size is copied to the transport at a flush; bigger
 * output is handed over as it is. */
#define COPY_OUTPUT_MAX (16 * 1024)

/* Values up to this size are copied into the output buffer: for them a
 * reference costs more than the bytes. */
#define COPY_VALUE_MAX 512

/* A get/gets/gat/gats: its keys and the next one to answer.  It runs at
 * once on the keys in the input buffer; only a get paused mid-way (the
 * output is over the limit) copies the keys it has left, because the
 * input buffer may move before it resumes. */
typedef struct {
  const guint8 *keys;
  gsize keys_len;
  GBytes *owned_keys;         /* (owned) (nullable): @keys, once paused */
  gsize offset;
  gint64 exptime;
  gboolean with_cas;
  gboolean touch;
  /* A key is too long: memcached still looks up (and counts, and
   * touches) the keys before it, then takes back every reply not yet
   * written and answers only the error.  Known from the start, so that
   * no value goes out by reference first. */
  gboolean doomed;
} Retrieval;

static void
retrieval_free (Retrieval *r)
{
  g_clear_pointer (&r->owned_keys, g_bytes_unref);
  g_free (r);
}

/* A paused retrieval, with a copy of the keys it has left. */
static Retrieval *
retrieval_keep (const Retrieval *running)
{
  Retrieval *r = g_memdup2 (running, sizeof *running);

  r->owned_keys = g_bytes_new (running->keys + running->offset, running->keys_len - running->offset);
  r->keys = g_bytes_get_data (r->owned_keys, &r->keys_len);
  r->offset = 0;
  return r;
}

struct _BraidMcServerProtocol
{
  BraidProtocol parent_instance;

  BraidMcServerShared *shared; /* (owned) */
  /* (unowned) (nullable): BraidProtocol holds it from connection_made to
   * the end of connection_lost.  Kept here because the base class's
   * type-checked getter was measurable at several calls per command. */
  BraidTransport *transport;
  GByteArray *in;             /* received, not yet parsed */
  gsize in_offset;            /* parsed up to here */
  BraidMcParser parser;
  BraidMcBinaryParser binary_parser;
  gboolean protocol_known;    /* the first byte has been seen */
  gboolean binary;            /* ... and it was 0x80 */
  gsize swallow;              /* bytes still to discard (object too large) */
  GString *out;               /* replies not yet written */
  /* The part of @out that memcached would have written already: it
   * writes after each get, so what a later failure takes back (a get with
   * a key too long, a close for bad input) is only what came after. */
  gsize out_kept;
  gboolean paused;
  gboolean closing;
  gboolean counted;           /* in curr_connections, info listed */
  gboolean busy;              /* counted in busy_connections */
  BraidMcConnectionInfo info; /* what "stats conns" shows */
  Retrieval *retrieval;       /* (owned) (nullable): a get paused mid-way */
};

G_DEFINE_FINAL_TYPE (BraidMcServerProtocol, braid_mc_server_protocol, BRAID_TYPE_PROTOCOL)

static BraidTransport *
transport_of (BraidMcServerProtocol *self)
{
  return self->transport;
}

/* g_string_append_len() without its generic insert path when the bytes
 * fit: several appends make every reply. */
static inline void
out_append (GString *out, const void *data, gsize len)
{
  if (out->len + len < out->allocated_len)
    {
      memcpy (out->str + out->len, data, len);
      out->len += len;
      out->str[out->len] = '\0';
    }
  else
    g_string_append_len (out, data, (gssize) len);
}

#define out_append_literal(out, text) out_append ((out), (text), sizeof (text) - 1)

static void
flush_out (BraidMcServerProtocol *self)
{
  BraidTransport *t = transport_of (self);

  if (self->out->len == 0 || t == NULL)
    return;
  braid_mc_server_shared_add_written (self->shared, self->out->len);
  self->out_kept = 0;
  /* Small output is copied (the socket transport appends it to a buffer
   * of its own) and this buffer is reused: no allocation per reply. */
  if (self->out->len <= COPY_OUTPUT_MAX)
    {
      braid_transport_write (t, self->out->str, self->out->len);
      g_string_truncate (self->out, 0);
      return;
    }
  /* Big output: the buffer itself goes to the transport; a new one takes
   * its place. */
  {
    g_autoptr(GBytes) bytes = g_string_free_to_bytes (self->out);

    self->out = g_string_sized_new (1024);
    braid_transport_write_bytes (t, bytes);
  }
}

/* memcached's conn_release_items: replies not yet written are dropped. */
static void
take_back_unwritten (BraidMcServerProtocol *self)
{
  if (self->shared->settings.take_back_unwritten)
    g_string_truncate (self->out, self->out_kept);
}

static void
reply (BraidMcServerProtocol *self, const BraidMcCommand *cmd, const gchar *text)
{
  if (!cmd->noreply)
    out_append (self->out, text, strlen (text));
}

/* ---- commands ---- */

/* Unsent output: the transport's backlog and what is still buffered here. */
static gsize
backlog (BraidMcServerProtocol *self)
{
  BraidTransport *t = transport_of (self);

  return self->out->len + (t != NULL ? braid_transport_get_write_buffer_size (t) : 0);
}

static gboolean
over_output_limit (BraidMcServerProtocol *self)
{
  return transport_of (self) != NULL && backlog (self) > self->shared->settings.output_limit;
}

/* An item's value and "\r\n", after the line that announced it. */
static void
append_data_block (BraidMcServerProtocol *self, BraidMcItem *item)
{
  gsize vlen;
  const guint8 *value = braid_mc_item_get_value (item, &vlen);

  /* Without a transport (a protocol driven directly) there is nothing to
   * hand a reference to: the bytes wait in the output buffer. */
  if (vlen <= COPY_VALUE_MAX || transport_of (self) == NULL)
    {
      out_append (self->out, value, vlen);
      out_append_literal (self->out, "\r\n");
      return;
    }
  flush_out (self);
  {
    g_autoptr(GBytes) block = braid_mc_item_ref_data_block (item);

    braid_mc_server_shared_add_written (self->shared, g_bytes_get_size (block));
    braid_transport_write_bytes (transport_of (self), block);
  }
}

/* Writes " N" in decimal at @p, without printf (every get hit writes two
 * or three); returns the end. */
static gchar *
put_space_number (gchar *p, guint64 n)
{
  gchar digits[20];
  gsize i = sizeof digits;

  do
    digits[--i] = (gchar) ('0' + n % 10);
  while ((n /= 10) > 0);
  *p++ = ' ';
  memcpy (p, digits + i, sizeof digits - i);
  return p + (sizeof digits - i);
}

/* @item is held by a reference, its key's lock released: its key, flags
 * and value do not change any more, but its cas may, so the caller read
 * @cas under the lock. */
static void
append_value (BraidMcServerProtocol *self, BraidMcItem *item, gboolean with_cas, guint64 cas)
{
  gsize klen, vlen;
  const guint8 *key = braid_mc_item_get_key (item, &klen);

  /* "VALUE <key> <flags> <bytes>[ <cas>]\r\n", built here and appended
   * once.  The parsers keep keys to BRAID_MC_KEY_MAX; a longer one (the
   * store does not refuse it) takes the heap. */
  gchar on_stack[sizeof "VALUE " - 1 + BRAID_MC_KEY_MAX + 3 * 21 + 2];
  g_autofree gchar *on_heap = klen > BRAID_MC_KEY_MAX ? g_malloc (sizeof on_stack + klen) : NULL;
  gchar *line = on_heap != NULL ? on_heap : on_stack;
  gchar *p = line;

  braid_mc_item_get_value (item, &vlen);
  memcpy (p, "VALUE ", 6);
  p += 6;
  memcpy (p, key, klen);
  p += klen;
  p = put_space_number (p, braid_mc_item_get_flags (item));
  p = put_space_number (p, vlen);
  if (with_cas)
    p = put_space_number (p, cas);
  *p++ = '\r';
  *p++ = '\n';
  out_append (self->out, line, (gsize) (p - line));
  append_data_block (self, item);
}

/* Answers the keys of @r until they are done (TRUE, "END" or the error
 * written) or the output passes the limit (FALSE: resume when it has
 * drained). */
static gboolean
run_retrieval (BraidMcServerProtocol *self, Retrieval *r)
{
  BraidMcStore *store = self->shared->store;
  BraidMcCommand view = { 0 };
  const guint8 *key;
  gsize key_len;

  view.keys = r->keys;
  view.keys_len = r->keys_len;
  while (braid_mc_command_next_key (&view, &r->offset, &key, &key_len))
    {
      g_autoptr(BraidMcItem) item = NULL;
      guint64 cas = 0;

      if (key_len > BRAID_MC_KEY_MAX)
        {
          take_back_unwritten (self);
          g_string_append (self->out, "CLIENT_ERROR bad command line format\r\n");
          return TRUE;
        }
      /* One key's lock at a time, and none while writing: the reply
       * holds its own reference to the item. */
      braid_mc_store_lock_key (store, key, key_len);
      item = r->touch ? braid_mc_store_gat (store, key, key_len, r->exptime)
                      : braid_mc_store_get (store, key, key_len);
      if (item != NULL)
        {
          braid_mc_item_ref (item);
          cas = braid_mc_store_item_cas (store, item);
        }
      braid_mc_store_unlock_key (store, key, key_len);

      if (item != NULL && !r->doomed)
        append_value (self, item, r->with_cas, cas);
      if (over_output_limit (self))
        return FALSE;
    }
  out_append_literal (self->out, "END\r\n");
  self->out_kept = self->out->len;
  return TRUE;
}

/* Resumes the paused retrieval; TRUE when it is over. */
static gboolean
continue_retrieval (BraidMcServerProtocol *self)
{
  if (!run_retrieval (self, self->retrieval))
    return FALSE;
  g_clear_pointer (&self->retrieval, retrieval_free);
  return TRUE;
}

static gboolean
has_long_key (const BraidMcCommand *cmd)
{
  gsize offset = 0;
  const guint8 *key;
  gsize key_len;

  while (braid_mc_command_next_key (cmd, &offset, &key, &key_len))
    if (key_len > BRAID_MC_KEY_MAX)
      return TRUE;
  return FALSE;
}

static void
start_retrieval (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  Retrieval r = { 0 };

  g_assert (self->retrieval == NULL);
  r.keys = cmd->keys;
  r.keys_len = cmd->keys_len;
  r.exptime = cmd->exptime;
  r.with_cas = cmd->type == BRAID_MC_COMMAND_GETS || cmd->type == BRAID_MC_COMMAND_GATS;
  r.touch = cmd->type == BRAID_MC_COMMAND_GAT || cmd->type == BRAID_MC_COMMAND_GATS;
  r.doomed = has_long_key (cmd);
  if (!run_retrieval (self, &r))
    self->retrieval = retrieval_keep (&r);
}

static void
do_storage (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  BraidMcStoreResult r = braid_mc_store_store (self->shared->store, braid_mc_command_get_store_mode (cmd->type),
                                          cmd->key, cmd->key_len, cmd->flags, cmd->exptime,
                                          cmd->value, cmd->value_len, cmd->cas);

  switch (r)
    {
    case BRAID_MC_STORE_RESULT_STORED:
      reply (self, cmd, "STORED\r\n");
      break;
    case BRAID_MC_STORE_RESULT_NOT_STORED:
      reply (self, cmd, "NOT_STORED\r\n");
      break;
    case BRAID_MC_STORE_RESULT_EXISTS:
      reply (self, cmd, "EXISTS\r\n");
      break;
    case BRAID_MC_STORE_RESULT_NOT_FOUND:
      reply (self, cmd, "NOT_FOUND\r\n");
      break;
    case BRAID_MC_STORE_RESULT_TOO_LARGE:
      reply (self, cmd, "SERVER_ERROR object too large for cache\r\n");
      break;
    case BRAID_MC_STORE_RESULT_NO_MEMORY:
    default:
      reply (self, cmd, "SERVER_ERROR out of memory storing object\r\n");
      break;
    }
}

static void
do_arith (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  guint64 value = 0;
  BraidMcStoreResult r = braid_mc_store_arith (self->shared->store, cmd->key, cmd->key_len,
                                          braid_mc_command_get_arith_mode (cmd->type), cmd->delta, &value);

  switch (r)
    {
    case BRAID_MC_STORE_RESULT_STORED:
      if (!cmd->noreply)
        g_string_append_printf (self->out, "%" G_GUINT64_FORMAT "\r\n", value);
      break;
    case BRAID_MC_STORE_RESULT_NOT_FOUND:
      reply (self, cmd, "NOT_FOUND\r\n");
      break;
    case BRAID_MC_STORE_RESULT_NON_NUMERIC:
      reply (self, cmd, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      break;
    default:
      reply (self, cmd, "SERVER_ERROR out of memory\r\n");
      break;
    }
}

static void
do_meta (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  BraidMcMetaOutcome outcome;

  braid_mc_meta_execute (self->shared, cmd, self->out, &outcome);
  self->swallow = outcome.swallow;
  if (outcome.value != NULL)
    {
      append_data_block (self, outcome.value);
      braid_mc_item_unref (outcome.value);
    }
  /* mn makes memcached write at once, as a get does: nothing before it
   * can be taken back */
  if (outcome.flushes)
    self->out_kept = self->out->len;
}

static void
do_stats (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  g_autofree gchar *arg = cmd->arg != NULL ? g_strndup ((const gchar *) cmd->arg, cmd->arg_len) : NULL;

  if (arg != NULL)
    g_strstrip (arg);
  if (!braid_mc_stats_write (self->shared, &self->info, arg != NULL && *arg != '\0' ? arg : NULL, self->out))
    g_string_append (self->out, "ERROR\r\n");
}

/* memcached's limits: at least 8 MiB, and a number that looks like bytes
 * rather than megabytes is refused. */
static void
do_cache_memlimit (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  if (cmd->number < 8)
    {
      reply (self, cmd, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
      return;
    }
  if (cmd->number > 1000000000)
    {
      reply (self, cmd, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n");
      return;
    }
  braid_mc_store_set_limit (self->shared->store, (gsize) cmd->number << 20);
  self->shared->settings.store.limit_bytes = (gsize) cmd->number << 20;
  reply (self, cmd, "OK\r\n");
}

/* shutdown [graceful]: with -A, no reply; the connection closes and the
 * server's owner stops it.  Returns FALSE when the connection is to close. */
static gboolean
do_shutdown (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  const BraidMcServerSettings *settings = &self->shared->settings;

  if (settings->shutdown_func == NULL)
    {
      g_string_append (self->out, "ERROR: shutdown not enabled\r\n");
      return TRUE;
    }
  if (cmd->arg != NULL && !(cmd->arg_len == 8 && memcmp (cmd->arg, "graceful", 8) == 0))
    {
      g_string_append (self->out, "CLIENT_ERROR invalid shutdown mode\r\n");
      return TRUE;
    }
  g_debug ("shutdown requested by a client");
  settings->shutdown_func (settings->shutdown_data);
  return FALSE;
}

/* Executes one command; returns FALSE when the connection is to close.
 *
 * The store may be shared with other reactor threads.  A command whose
 * store work is one call (set, delete, incr, touch…) is atomic as it is:
 * the store takes the key's lock for the call.  A get holds each key's
 * lock while it looks the item up and reads its cas, one key at a time,
 * and writes the value after releasing it, holding a reference; the meta
 * commands lock their key in braid_mc_meta_execute.  Stats, flush_all and
 * cache_memlimit run under no key lock, as the store requires. */
static gboolean
execute (BraidMcServerProtocol *self, const BraidMcCommand *cmd)
{
  BraidMcStore *store = self->shared->store;
  const BraidMcServerSettings *settings = &self->shared->settings;

  braid_mc_connection_info_touch (&self->info, braid_mc_store_now (store));
  switch (cmd->type)
    {
    case BRAID_MC_COMMAND_GET:
    case BRAID_MC_COMMAND_GETS:
    case BRAID_MC_COMMAND_GAT:
    case BRAID_MC_COMMAND_GATS:
      start_retrieval (self, cmd);
      break;
    case BRAID_MC_COMMAND_SET:
    case BRAID_MC_COMMAND_ADD:
    case BRAID_MC_COMMAND_REPLACE:
    case BRAID_MC_COMMAND_APPEND:
    case BRAID_MC_COMMAND_PREPEND:
    case BRAID_MC_COMMAND_CAS:
      do_storage (self, cmd);
      break;
    case BRAID_MC_COMMAND_DELETE:
      reply (self, cmd, braid_mc_store_delete (store, cmd->key, cmd->key_len) == BRAID_MC_STORE_RESULT_DELETED
                          ? "DELETED\r\n" : "NOT_FOUND\r\n");
      break;
    case BRAID_MC_COMMAND_INCR:
    case BRAID_MC_COMMAND_DECR:
      do_arith (self, cmd);
      break;
    case BRAID_MC_COMMAND_TOUCH:
      reply (self, cmd, braid_mc_store_touch (store, cmd->key, cmd->key_len, cmd->exptime) == BRAID_MC_STORE_RESULT_TOUCHED
                          ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
      break;
    case BRAID_MC_COMMAND_FLUSH_ALL:
      if (!settings->flush_enabled || cmd->bad_delay)
        {
          braid_mc_store_count_refused_flush (store);
          reply (self, cmd, !settings->flush_enabled ? "CLIENT_ERROR flush_all not allowed\r\n"
                                                     : "CLIENT_ERROR invalid exptime argument\r\n");
          break;
        }
      braid_mc_store_flush (store, cmd->has_number ? cmd->number : 0);
      reply (self, cmd, "OK\r\n");
      break;
    case BRAID_MC_COMMAND_STATS:
      do_stats (self, cmd);
      break;
    case BRAID_MC_COMMAND_VERSION:
      g_string_append (self->out, "VERSION " BRAID_MC_VERSION_STRING "\r\n");
      break;
    case BRAID_MC_COMMAND_VERBOSITY:
      /* memcached's MAX_VERBOSITY_LEVEL */
      braid_mc_server_shared_set_verbosity (self->shared, (gint) MIN (cmd->number, 2));
      reply (self, cmd, "OK\r\n");
      break;
    case BRAID_MC_COMMAND_DEBUGTIME:
      if (!settings->debugtime)
        {
          g_string_append (self->out, "ERROR\r\n");
          break;
        }
      braid_mc_store_add_time (store, cmd->number);
      g_string_append (self->out, "OK\r\n");
      break;
    case BRAID_MC_COMMAND_CACHE_MEMLIMIT:
      do_cache_memlimit (self, cmd);
      break;
    case BRAID_MC_COMMAND_SLABS_AUTOMOVE:
      /* braid has no slab classes to move pages between: 0, 1 and 2 are
       * accepted as memcached accepts them, and change nothing. */
      reply (self, cmd, cmd->number >= 0 && cmd->number <= 2 ? "OK\r\n" : "ERROR\r\n");
      break;
    case BRAID_MC_COMMAND_LRU_CRAWLER_METADUMP:
      {
        g_autofree gchar *classes = g_strndup ((const gchar *) cmd->arg, cmd->arg_len);

        braid_mc_stats_write_metadump (self->shared, classes, self->out);
      }
      break;
    case BRAID_MC_COMMAND_SHUTDOWN:
      return do_shutdown (self, cmd);
    case BRAID_MC_COMMAND_QUIT:
      return FALSE;
    case BRAID_MC_COMMAND_META:
      do_meta (self, cmd);
      break;
    case BRAID_MC_COMMAND_BAD_INPUT:
      if (cmd->close)
        {
          /* memcached closes at once: what it had not written is lost. */
          g_debug ("closing a connection: a command line longer than %d bytes, or HTTP", BRAID_MC_LINE_MAX);
          take_back_unwritten (self);
          return FALSE;
        }
      if (cmd->too_large)
        braid_mc_store_refuse_too_large (store, cmd->key, cmd->key_len, cmd->forget_key);
      if (cmd->reply != NULL)
        g_string_append (self->out, cmd->reply);
      self->swallow = cmd->swallow;
      break;
    case BRAID_MC_COMMAND_NONE:
    default:
      g_assert_not_reached ();
    }
  return TRUE;
}

/* ---- accounting ---- */

/* Whether a command is half-received or replies are not yet sent: a
 * graceful stop waits for every connection to be idle. */
static gboolean
compute_busy (BraidMcServerProtocol *self)
{
  BraidTransport *t = transport_of (self);

  return self->in->len > self->in_offset || self->swallow > 0 || self->retrieval != NULL ||
         (t != NULL && braid_transport_get_write_buffer_size (t) > 0);
}

static void
update_busy (BraidMcServerProtocol *self)
{
  gboolean busy = compute_busy (self);

  if (busy == self->busy)
    return;
  self->busy = busy;
  braid_mc_server_shared_set_busy (self->shared, busy);
}

/* The connection is gone: it counts no more. */
static void
leave_counters (BraidMcServerProtocol *self)
{
  if (self->counted)
    braid_mc_server_shared_close_connection (self->shared, &self->info);
  self->counted = FALSE;
  if (self->busy)
    braid_mc_server_shared_set_busy (self->shared, FALSE);
  self->busy = FALSE;
}

/* ---- input ---- */

static void
compact_input (BraidMcServerProtocol *self)
{
  if (self->in_offset == 0)
    return;
  /* Usually all of it was parsed: nothing to move. */
  if (self->in_offset == self->in->len)
    self->in->len = 0;  /* no terminator nor clear function: just the length */
  else
    g_byte_array_remove_range (self->in, 0, (guint) self->in_offset);
  self->in_offset = 0;
}

static void
close_connection (BraidMcServerProtocol *self)
{
  BraidTransport *t = transport_of (self);

  self->closing = TRUE;
  flush_out (self);
  update_busy (self);
  if (t != NULL)
    braid_transport_lose_connection (t);
}

static void
pause_for_output (BraidMcServerProtocol *self)
{
  self->paused = TRUE;
  flush_out (self);
  braid_transport_pause_reading (transport_of (self));
}

static void
send_by_reference (gpointer data, GBytes *bytes)
{
  BraidMcServerProtocol *self = data;

  flush_out (self);
  braid_mc_server_shared_add_written (self->shared, g_bytes_get_size (bytes));
  braid_transport_write_bytes (transport_of (self), bytes);
}

/* Runs the next binary request; FALSE when more input is needed. */
static gboolean
binary_step (BraidMcServerProtocol *self, gsize available)
{
  BraidMcBinaryConnection conn = {
    self->shared, &self->info, &self->out,
    transport_of (self) != NULL ? send_by_reference : NULL, self,
  };
  BraidMcBinaryAfter after;
  gsize used;

  braid_mc_connection_info_touch (&self->info, braid_mc_store_now (self->shared->store));
  used = braid_mc_binary_protocol_step (&conn, &self->binary_parser, self->in->data + self->in_offset, available,
                                        &after);
  if (used == 0)
    return FALSE;
  self->in_offset += used;
  self->swallow = after.swallow;
  if (after.close)
    close_connection (self);
  return TRUE;
}

/* Runs the next command, or the rest of a paused get.  FALSE when there
 * is nothing more to do now (more input needed, or output must drain). */
static gboolean
step (BraidMcServerProtocol *self)
{
  gsize available = self->in->len - self->in_offset;
  BraidMcCommand cmd;
  gsize used;

  if (self->retrieval != NULL)
    return continue_retrieval (self);
  if (self->swallow > 0)
    {
      gsize n = MIN (self->swallow, available);

      self->swallow -= n;
      self->in_offset += n;
      return self->swallow == 0;
    }
  /* As memcached: the first byte decides, for the whole connection. */
  if (!self->protocol_known && available > 0)
    {
      self->protocol_known = TRUE;
      self->binary = self->in->data[self->in_offset] == BRAID_MC_BINARY_MAGIC_REQUEST;
    }
  if (self->binary)
    return binary_step (self, available);
  used = braid_mc_parse_command (&self->parser, self->in->data + self->in_offset, available, FALSE, &cmd);
  if (used == 0)
    return FALSE;
  self->in_offset += used;
  if (!execute (self, &cmd))
    close_connection (self);
  return TRUE;
}

static void
process_input (BraidMcServerProtocol *self)
{
  while (!self->closing && !self->paused)
    {
      gboolean progressed = step (self);

      /* Replies go out in batches; a reader that falls behind is paused. */
      if (self->out->len >= 64 * 1024)
        flush_out (self);
      if (!self->closing && over_output_limit (self))
        pause_for_output (self);
      else if (!progressed)
        break;
    }
  if (self->closing)
    return;
  flush_out (self);
  compact_input (self);
  update_busy (self);
}

static void
server_protocol_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidMcServerProtocol *self = BRAID_MC_SERVER_PROTOCOL (protocol);

  if (self->closing)
    return;
  braid_mc_server_shared_add_read (self->shared, len);
  /* What is swallowed need not be buffered first. */
  if (self->swallow > 0 && self->in->len == self->in_offset)
    {
      gsize n = MIN (self->swallow, len);

      self->swallow -= n;
      data += n;
      len -= n;
    }
  g_byte_array_append (self->in, data, (guint) len);
  process_input (self);
}

static void
server_protocol_output_drained (BraidProtocol *protocol)
{
  BraidMcServerProtocol *self = BRAID_MC_SERVER_PROTOCOL (protocol);
  BraidTransport *t = transport_of (self);

  update_busy (self);
  if (!self->paused || self->closing || t == NULL)
    return;
  self->paused = FALSE;
  braid_transport_resume_reading (t);
  process_input (self);
}

/* An address as memcached's "stats conns" prints it. */
static void
format_address (GSocketAddress *address, gchar *buf, gsize size)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      GInetAddress *ip = g_inet_socket_address_get_address (inet);
      g_autofree gchar *text = g_inet_address_to_string (ip);
      guint port = g_inet_socket_address_get_port (inet);

      if (g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV6)
        g_snprintf (buf, size, "tcp6:[%s]:%u", text, port);
      else
        g_snprintf (buf, size, "tcp:%s:%u", text, port);
    }
  else if (G_IS_UNIX_SOCKET_ADDRESS (address))
    g_snprintf (buf, size, "unix:%s", g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
  else
    g_snprintf (buf, size, "unknown");
}

static void
server_protocol_connection_made (BraidProtocol *protocol, BraidTransport *transport)
{
  BraidMcServerProtocol *self = BRAID_MC_SERVER_PROTOCOL (protocol);

  self->transport = transport;
  format_address (braid_transport_get_peer_address (transport), self->info.addr, sizeof self->info.addr);
  format_address (braid_transport_get_host_address (transport), self->info.listen_addr,
                  sizeof self->info.listen_addr);
  self->info.last_cmd_us = braid_mc_store_now (self->shared->store);
  if (!braid_mc_server_shared_open_connection (self->shared, &self->info))
    {
      /* memcached's answer when it is over -c. */
      braid_transport_write_string (transport, "ERROR Too many open connections\r\n");
      self->closing = TRUE;
      braid_transport_lose_connection (transport);
      return;
    }
  self->counted = TRUE;
}

static void
server_protocol_connection_lost (BraidProtocol *protocol, const GError *reason)
{
  BraidMcServerProtocol *self = BRAID_MC_SERVER_PROTOCOL (protocol);

  self->closing = TRUE;
  leave_counters (self);
  self->transport = NULL;
}


static void
braid_mc_server_protocol_finalize (GObject *object)
{
  BraidMcServerProtocol *self = BRAID_MC_SERVER_PROTOCOL (object);

  if (self->shared != NULL)
    leave_counters (self);
  g_clear_pointer (&self->retrieval, retrieval_free);
  g_byte_array_unref (self->in);
  g_string_free (self->out, TRUE);
  g_clear_pointer (&self->shared, braid_mc_server_shared_unref);
  G_OBJECT_CLASS (braid_mc_server_protocol_parent_class)->finalize (object);
}

static void
braid_mc_server_protocol_class_init (BraidMcServerProtocolClass *klass)
{
  BraidProtocolClass *protocol_class = BRAID_PROTOCOL_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = braid_mc_server_protocol_finalize;
  protocol_class->connection_made = server_protocol_connection_made;
  protocol_class->data_received = server_protocol_data_received;
  protocol_class->connection_lost = server_protocol_connection_lost;
  protocol_class->output_drained = server_protocol_output_drained;
}

static void
braid_mc_server_protocol_init (BraidMcServerProtocol *self)
{
  BraidMcParser parser = BRAID_MC_PARSER_INIT;

  self->in = g_byte_array_new ();
  self->out = g_string_new (NULL);
  self->parser = parser;
}

BraidMcServerProtocol *
braid_mc_server_protocol_new (BraidMcServerShared *shared)
{
  BraidMcServerProtocol *self;
  const BraidMcStoreSettings *store;

  g_return_val_if_fail (shared != NULL, NULL);

  self = g_object_new (BRAID_TYPE_MC_SERVER_PROTOCOL, NULL);
  store = &shared->settings.store;
  self->shared = braid_mc_server_shared_ref (shared);
  self->parser.item_size_max = store->item_size_max;
  self->parser.cas_enabled = store->cas_enabled;
  self->binary_parser.item_size_max = store->item_size_max;
  self->binary_parser.cas_enabled = store->cas_enabled;
  return self;
}

void
braid_mc_server_protocol_get_buffered (BraidMcServerProtocol *self,
                                       gsize *input,
                                       gsize *output,
                                       gboolean *retrieving)
{
  g_return_if_fail (BRAID_IS_MC_SERVER_PROTOCOL (self));
  if (input != NULL)
    *input = self->in->len - self->in_offset;
  if (output != NULL)
    *output = self->out->len;
  if (retrieving != NULL)
    *retrieving = self->retrieval != NULL;
}

gsize
braid_mc_server_protocol_get_input_held (BraidMcServerProtocol *self)
{
  g_return_val_if_fail (BRAID_IS_MC_SERVER_PROTOCOL (self), 0);
  return self->in->len;
}
