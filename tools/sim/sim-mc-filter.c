/* braid — the memcached filter of the broken twins (see sim-mc-filter.h).
 *
 * Each request forwarded gets a place in a queue; the server's reply
 * elements fill the oldest open place (one line, or VALUEs up to END for
 * the retrieval commands), and complete places go to the client from the
 * head, in order — unless the breakage says otherwise.  Requests the
 * breakage answers itself wait until every reply before them has come
 * back (a barrier), so that they see the store as the server would. */
#include "sim-mc-filter.h"
#include "mc-command-parser.h"
#include "mc-reply-parser.h"
#include "mc-store-private.h"

#include <string.h>

/* The largest VALUE the relay frames whole: the scenario's values are at
 * most 1 MB. */
#define FILTER_VALUE_MAX (2 * 1024 * 1024)
/* REORDER: the chance that a complete reply waits for the next one, to
 * be sent after it. */
#define REORDER_PROBABILITY 0.5

typedef struct {
  gboolean multi;      /* VALUEs up to END */
  gboolean complete;
  gboolean decided;    /* REORDER: whether it waits was decided */
  gboolean held;       /* REORDER: it goes after the next reply */
  GByteArray *bytes;
} Reply;

typedef struct {
  SimRelayConn *conn;
  const SimMcFilterConfig *config;
  BraidMcParser parser;
  BraidMcReplyParser reply_parser;
  GQueue replies;      /* (element-type Reply): oldest first */
  /* Input the filter cannot frame (bad input, meta commands): from then
   * on bytes pass through untouched, once the queue is empty. */
  gboolean passthrough;
} FilterConn;

static void
reply_free (gpointer data)
{
  Reply *r = data;

  g_byte_array_unref (r->bytes);
  g_free (r);
}

static gpointer
filter_conn_new (SimRelayConn *conn, gpointer filter_data)
{
  FilterConn *fc = g_new0 (FilterConn, 1);
  BraidMcParser parser = BRAID_MC_PARSER_INIT;
  BraidMcReplyParser reply_parser = BRAID_MC_REPLY_PARSER_INIT;

  fc->conn = conn;
  fc->config = filter_data;
  fc->parser = parser;
  fc->reply_parser = reply_parser;
  fc->reply_parser.value_max = FILTER_VALUE_MAX;
  g_queue_init (&fc->replies);
  return fc;
}

static void
filter_conn_free (gpointer data)
{
  FilterConn *fc = data;

  g_queue_clear_full (&fc->replies, reply_free);
  g_free (fc);
}

/* ---- replies going to the client ---- */

static void
send_reply (FilterConn *fc, Reply *r)
{
  sim_relay_conn_to_client (fc->conn, r->bytes->data, r->bytes->len);
  reply_free (r);
}

/* REORDER: a complete reply with a pipelined request behind it may wait
 * for that request's reply and go after it. */
static gboolean
holds_for_next (FilterConn *fc, Reply *head)
{
  BraidSim *sim = sim_relay_conn_get_sim (fc->conn);

  if (fc->config->breakage != SIM_MC_BREAK_REORDER)
    return FALSE;
  if (!head->decided)
    {
      head->decided = TRUE;
      head->held = g_queue_get_length (&fc->replies) >= 2 && braid_sim_chance (sim, REORDER_PROBABILITY);
      if (head->held)
        braid_sim_trace (sim, "twin: a reply waits to be sent after the next one");
    }
  return head->held;
}

static void
flush_replies (FilterConn *fc)
{
  Reply *head;

  while ((head = g_queue_peek_head (&fc->replies)) != NULL && head->complete)
    {
      Reply *next = g_queue_peek_nth (&fc->replies, 1);

      if (holds_for_next (fc, head))
        {
          if (next == NULL || !next->complete)
            return;
          g_queue_pop_nth (&fc->replies, 1);
          send_reply (fc, next);
        }
      send_reply (fc, g_queue_pop_head (&fc->replies));
    }
}

static Reply *
push_reply (FilterConn *fc, gboolean multi)
{
  Reply *r = g_new0 (Reply, 1);

  r->multi = multi;
  r->bytes = g_byte_array_new ();
  g_queue_push_tail (&fc->replies, r);
  return r;
}

static Reply *
oldest_open_reply (FilterConn *fc)
{
  for (GList *l = fc->replies.head; l != NULL; l = l->next)
    if (!((Reply *) l->data)->complete)
      return l->data;
  return NULL;
}

static gboolean
ends_reply (const Reply *r, BraidMcReplyType type)
{
  if (!r->multi)
    return TRUE;
  return type == BRAID_MC_REPLY_END || type == BRAID_MC_REPLY_ERROR ||
         type == BRAID_MC_REPLY_CLIENT_ERROR || type == BRAID_MC_REPLY_SERVER_ERROR;
}

/* Gives up framing: what was framed goes out, the rest passes through. */
static void
give_up_framing (FilterConn *fc)
{
  fc->passthrough = TRUE;
  for (GList *l = fc->replies.head; l != NULL; l = l->next)
    {
      Reply *r = l->data;

      r->complete = TRUE;
      r->decided = TRUE;
      r->held = FALSE;
    }
  flush_replies (fc);
}

static gsize
filter_from_server (SimRelayConn *conn, const guint8 *data, gsize len)
{
  FilterConn *fc = sim_relay_conn_get_data (conn);
  Reply *r = oldest_open_reply (fc);
  BraidMcReply reply;
  g_autoptr(GError) error = NULL;
  gsize used;

  if (r == NULL)
    {
      /* Nothing asked: bytes after bad input, or an error on closing. */
      sim_relay_conn_to_client (conn, data, len);
      return len;
    }
  used = braid_mc_parse_reply (&fc->reply_parser, data, len, &reply, &error);
  if (error != NULL)
    {
      give_up_framing (fc);
      sim_relay_conn_to_client (conn, data, len);
      return len;
    }
  if (used == 0)
    return 0;
  g_byte_array_append (r->bytes, data, (guint) used);
  if (ends_reply (r, reply.type))
    r->complete = TRUE;
  flush_replies (fc);
  return used;
}

/* ---- requests from the client ---- */

static gboolean
is_retrieval (BraidMcCommandType type)
{
  return type == BRAID_MC_COMMAND_GET || type == BRAID_MC_COMMAND_GETS ||
         type == BRAID_MC_COMMAND_GAT || type == BRAID_MC_COMMAND_GATS;
}

/* Whether the breakage answers @cmd itself instead of the server. */
static gboolean
answers_itself (FilterConn *fc, const BraidMcCommand *cmd)
{
  switch (fc->config->breakage)
    {
    case SIM_MC_BREAK_CAS_UNSTORED:
      return cmd->type == BRAID_MC_COMMAND_CAS && !cmd->noreply;
    case SIM_MC_BREAK_LRU_NO_BUMP:
      return (cmd->type == BRAID_MC_COMMAND_GET || cmd->type == BRAID_MC_COMMAND_GETS ||
              cmd->type == BRAID_MC_COMMAND_TOUCH) && !cmd->noreply;
    case SIM_MC_BREAK_NOTHING:
    case SIM_MC_BREAK_REORDER:
    default:
      return FALSE;
    }
}

/* A get that finds items without bumping them in the LRU: what a store
 * that lost its LRU bump would answer. */
static void
append_unbumped_get (FilterConn *fc, const BraidMcCommand *cmd, GByteArray *out)
{
  BraidMcStore *store = fc->config->store;
  const guint8 *key;
  gsize key_len;
  gsize offset = 0;

  while (braid_mc_command_next_key (cmd, &offset, &key, &key_len))
    {
      BraidMcItem *item;

      braid_mc_store_lock_key (store, key, key_len);
      item = braid_mc_store_peek (store, key, key_len);
      if (item != NULL)
        {
          gsize value_len;
          const guint8 *value = braid_mc_item_get_value (item, &value_len);
          g_autofree gchar *header = NULL;

          if (cmd->type == BRAID_MC_COMMAND_GETS)
            header = g_strdup_printf (" %u %" G_GSIZE_FORMAT " %" G_GUINT64_FORMAT "\r\n",
                                      braid_mc_item_get_flags (item), value_len, braid_mc_item_get_cas (item));
          else
            header = g_strdup_printf (" %u %" G_GSIZE_FORMAT "\r\n", braid_mc_item_get_flags (item), value_len);
          g_byte_array_append (out, (const guint8 *) "VALUE ", 6);
          g_byte_array_append (out, key, (guint) key_len);
          g_byte_array_append (out, (const guint8 *) header, (guint) strlen (header));
          g_byte_array_append (out, value, (guint) value_len);
          g_byte_array_append (out, (const guint8 *) "\r\n", 2);
        }
      braid_mc_store_unlock_key (store, key, key_len);
    }
  g_byte_array_append (out, (const guint8 *) "END\r\n", 5);
}

static const gchar *
unbumped_touch (FilterConn *fc, const BraidMcCommand *cmd)
{
  BraidMcStore *store = fc->config->store;
  BraidMcItem *item;
  const gchar *answer = "NOT_FOUND\r\n";

  braid_mc_store_lock_key (store, cmd->key, cmd->key_len);
  item = braid_mc_store_peek (store, cmd->key, cmd->key_len);
  if (item != NULL)
    {
      braid_mc_store_set_expiry (store, item, cmd->exptime);
      answer = "TOUCHED\r\n";
    }
  braid_mc_store_unlock_key (store, cmd->key, cmd->key_len);
  return answer;
}

static void
answer_broken (FilterConn *fc, const BraidMcCommand *cmd)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  BraidSim *sim = sim_relay_conn_get_sim (fc->conn);

  if (cmd->type == BRAID_MC_COMMAND_CAS)
    {
      braid_sim_trace (sim, "twin: cas answered STORED, nothing stored");
      g_byte_array_append (out, (const guint8 *) "STORED\r\n", 8);
    }
  else if (cmd->type == BRAID_MC_COMMAND_TOUCH)
    {
      const gchar *answer = unbumped_touch (fc, cmd);

      g_byte_array_append (out, (const guint8 *) answer, (guint) strlen (answer));
    }
  else
    append_unbumped_get (fc, cmd, out);
  sim_relay_conn_to_client (fc->conn, out->data, out->len);
}

static gboolean
expects_reply (const BraidMcCommand *cmd)
{
  return !cmd->noreply && cmd->type != BRAID_MC_COMMAND_QUIT;
}

static gsize
filter_from_client (SimRelayConn *conn, const guint8 *data, gsize len)
{
  FilterConn *fc = sim_relay_conn_get_data (conn);
  BraidMcParser saved = fc->parser;
  BraidMcCommand cmd;
  gsize used;

  if (fc->passthrough)
    {
      sim_relay_conn_to_server (conn, data, len);
      return len;
    }
  used = braid_mc_parse_command (&fc->parser, data, len, FALSE, &cmd);
  if (used == 0)
    return 0;
  if (cmd.type == BRAID_MC_COMMAND_BAD_INPUT || cmd.type == BRAID_MC_COMMAND_META ||
      cmd.type == BRAID_MC_COMMAND_STATS)
    {
      /* Not framed here: the server answers it as it will. */
      fc->passthrough = TRUE;
      sim_relay_conn_to_server (conn, data, len);
      return len;
    }
  if (answers_itself (fc, &cmd))
    {
      if (!g_queue_is_empty (&fc->replies))
        {
          fc->parser = saved;  /* the barrier: parsed again once the replies are in */
          return 0;
        }
      answer_broken (fc, &cmd);
      return used;
    }
  if (expects_reply (&cmd))
    push_reply (fc, is_retrieval (cmd.type));
  sim_relay_conn_to_server (conn, data, used);
  return used;
}

const SimRelayFilter sim_mc_filter = {
  .conn_new = filter_conn_new,
  .conn_free = filter_conn_free,
  .from_client = filter_from_client,
  .from_server = filter_from_server,
};
