/* braid — memcached's binary protocol: packets (sans-IO). */
#include "mc-binary.h"

#include <string.h>

guint32
braid_mc_binary_read_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

guint64
braid_mc_binary_read_u64 (const guint8 *p)
{
  return ((guint64) braid_mc_binary_read_u32 (p) << 32) | braid_mc_binary_read_u32 (p + 4);
}

void
braid_mc_binary_write_u32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

void
braid_mc_binary_write_u64 (guint8 *p, guint64 v)
{
  braid_mc_binary_write_u32 (p, (guint32) (v >> 32));
  braid_mc_binary_write_u32 (p + 4, (guint32) v);
}

static guint16
read_u16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static void
write_u16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

void
braid_mc_binary_header_decode (const guint8 *buf, BraidMcBinaryHeader *header)
{
  g_return_if_fail (buf != NULL);
  g_return_if_fail (header != NULL);

  header->magic = buf[0];
  header->opcode = buf[1];
  header->key_len = read_u16 (buf + 2);
  header->extras_len = buf[4];
  header->data_type = buf[5];
  header->vbucket_or_status = read_u16 (buf + 6);
  header->body_len = braid_mc_binary_read_u32 (buf + 8);
  header->opaque = braid_mc_binary_read_u32 (buf + 12);
  header->cas = braid_mc_binary_read_u64 (buf + 16);
}

void
braid_mc_binary_header_encode (const BraidMcBinaryHeader *header, guint8 *buf)
{
  g_return_if_fail (header != NULL);
  g_return_if_fail (buf != NULL);

  buf[0] = header->magic;
  buf[1] = header->opcode;
  write_u16 (buf + 2, header->key_len);
  buf[4] = header->extras_len;
  buf[5] = header->data_type;
  write_u16 (buf + 6, header->vbucket_or_status);
  braid_mc_binary_write_u32 (buf + 8, header->body_len);
  braid_mc_binary_write_u32 (buf + 12, header->opaque);
  braid_mc_binary_write_u64 (buf + 16, header->cas);
}

/* ---- opcodes ---- */

gboolean
braid_mc_binary_opcode_is_quiet (guint8 opcode)
{
  return braid_mc_binary_opcode_loud (opcode) != opcode;
}

guint8
braid_mc_binary_opcode_loud (guint8 opcode)
{
  switch (opcode)
    {
    case BRAID_MC_BINARY_OPCODE_GETQ: return BRAID_MC_BINARY_OPCODE_GET;
    case BRAID_MC_BINARY_OPCODE_GETKQ: return BRAID_MC_BINARY_OPCODE_GETK;
    case BRAID_MC_BINARY_OPCODE_SETQ: return BRAID_MC_BINARY_OPCODE_SET;
    case BRAID_MC_BINARY_OPCODE_ADDQ: return BRAID_MC_BINARY_OPCODE_ADD;
    case BRAID_MC_BINARY_OPCODE_REPLACEQ: return BRAID_MC_BINARY_OPCODE_REPLACE;
    case BRAID_MC_BINARY_OPCODE_DELETEQ: return BRAID_MC_BINARY_OPCODE_DELETE;
    case BRAID_MC_BINARY_OPCODE_INCREMENTQ: return BRAID_MC_BINARY_OPCODE_INCREMENT;
    case BRAID_MC_BINARY_OPCODE_DECREMENTQ: return BRAID_MC_BINARY_OPCODE_DECREMENT;
    case BRAID_MC_BINARY_OPCODE_QUITQ: return BRAID_MC_BINARY_OPCODE_QUIT;
    case BRAID_MC_BINARY_OPCODE_FLUSHQ: return BRAID_MC_BINARY_OPCODE_FLUSH;
    case BRAID_MC_BINARY_OPCODE_APPENDQ: return BRAID_MC_BINARY_OPCODE_APPEND;
    case BRAID_MC_BINARY_OPCODE_PREPENDQ: return BRAID_MC_BINARY_OPCODE_PREPEND;
    case BRAID_MC_BINARY_OPCODE_GATQ: return BRAID_MC_BINARY_OPCODE_GAT;
    case BRAID_MC_BINARY_OPCODE_GATKQ: return BRAID_MC_BINARY_OPCODE_GATK;
    default: return opcode;
    }
}

gboolean
braid_mc_binary_opcode_stores (guint8 opcode)
{
  switch (opcode)
    {
    case BRAID_MC_BINARY_OPCODE_SET:
    case BRAID_MC_BINARY_OPCODE_ADD:
    case BRAID_MC_BINARY_OPCODE_REPLACE:
    case BRAID_MC_BINARY_OPCODE_APPEND:
    case BRAID_MC_BINARY_OPCODE_PREPEND:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Whether the lengths fit what memcached 1.6's dispatch_bin_command
 * accepts for @h's opcode.  Unknown opcodes take any shape. */
static gboolean
shape_is_valid (const BraidMcBinaryHeader *h)
{
  guint ext = h->extras_len, key = h->key_len;
  guint32 body = h->body_len;
  gboolean empty = ext == 0 && key == 0 && body == 0;

  switch (braid_mc_binary_opcode_loud (h->opcode))
    {
    case BRAID_MC_BINARY_OPCODE_VERSION:
    case BRAID_MC_BINARY_OPCODE_NOOP:
    case BRAID_MC_BINARY_OPCODE_QUIT:
    case BRAID_MC_BINARY_OPCODE_SASL_LIST_MECHS:
      return empty;
    case BRAID_MC_BINARY_OPCODE_FLUSH:
      return key == 0 && body == ext && (ext == 0 || ext == 4);
    case BRAID_MC_BINARY_OPCODE_SET:
    case BRAID_MC_BINARY_OPCODE_ADD:
    case BRAID_MC_BINARY_OPCODE_REPLACE:
      return ext == 8 && key != 0 && body >= key + 8;
    case BRAID_MC_BINARY_OPCODE_GET:
    case BRAID_MC_BINARY_OPCODE_GETK:
    case BRAID_MC_BINARY_OPCODE_DELETE:
      return ext == 0 && key > 0 && body == key;
    case BRAID_MC_BINARY_OPCODE_INCREMENT:
    case BRAID_MC_BINARY_OPCODE_DECREMENT:
      return ext == 20 && key > 0 && body == key + ext;
    case BRAID_MC_BINARY_OPCODE_APPEND:
    case BRAID_MC_BINARY_OPCODE_PREPEND:
    case BRAID_MC_BINARY_OPCODE_SASL_AUTH:
    case BRAID_MC_BINARY_OPCODE_SASL_STEP:
      return ext == 0 && key > 0;
    case BRAID_MC_BINARY_OPCODE_STAT:
      return ext == 0;
    case BRAID_MC_BINARY_OPCODE_TOUCH:
    case BRAID_MC_BINARY_OPCODE_GAT:
    case BRAID_MC_BINARY_OPCODE_GATK:
      return ext == 4 && key > 0;
    default:
      return TRUE;
    }
}

/* The problem with a request whose header, extras and key are here, in
 * the order memcached looks for them. */
static BraidMcBinaryProblem
check_request (const BraidMcBinaryParser *parser, const BraidMcBinaryHeader *h, const guint8 *extras,
               gsize value_len)
{
  /* set/add/replace carry the flags first in their extras; they cost
   * the item 4 bytes unless 0 */
  guint32 flags = 0;

  if (h->extras_len >= 4)
    {
      memcpy (&flags, extras, 4);
      flags = GUINT32_FROM_BE (flags);
    }
  gsize item_size_max = parser->item_size_max != 0 ? parser->item_size_max : 1024 * 1024;

  if ((gsize) h->key_len + h->extras_len > h->body_len)
    return BRAID_MC_BINARY_PROBLEM_BODY_TOO_SHORT;
  if (h->key_len > BRAID_MC_KEY_MAX)
    return BRAID_MC_BINARY_PROBLEM_KEY_TOO_LONG;
  if (!shape_is_valid (h))
    return BRAID_MC_BINARY_PROBLEM_BAD_SHAPE;
  /* The same rule as the text protocol's: what the item would weigh. */
  if (braid_mc_binary_opcode_stores (braid_mc_binary_opcode_loud (h->opcode)) &&
      braid_mc_item_size (h->key_len, flags, value_len, parser->cas_enabled) > item_size_max)
    return BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE;
  return BRAID_MC_BINARY_PROBLEM_NONE;
}

gsize
braid_mc_binary_parse_request (const BraidMcBinaryParser *parser,
                               const guint8 *buf,
                               gsize len,
                               BraidMcBinaryRequest *request)
{
  BraidMcBinaryHeader *h;
  gsize head_len;

  g_return_val_if_fail (parser != NULL, 0);
  g_return_val_if_fail (buf != NULL || len == 0, 0);
  g_return_val_if_fail (request != NULL, 0);

  if (len < BRAID_MC_BINARY_HEADER_LEN)
    return 0;
  memset (request, 0, sizeof *request);
  h = &request->header;
  braid_mc_binary_header_decode (buf, h);
  if (h->magic != BRAID_MC_BINARY_MAGIC_REQUEST)
    {
      request->problem = BRAID_MC_BINARY_PROBLEM_BAD_MAGIC;
      return BRAID_MC_BINARY_HEADER_LEN;
    }
  /* At most 24 + 255 + 65535 bytes are waited for before any check. */
  head_len = BRAID_MC_BINARY_HEADER_LEN + h->extras_len + h->key_len;
  if (len < head_len)
    return 0;
  request->extras = buf + BRAID_MC_BINARY_HEADER_LEN;
  request->key = request->extras + h->extras_len;
  request->value_len = h->body_len >= head_len - BRAID_MC_BINARY_HEADER_LEN
                         ? h->body_len - (head_len - BRAID_MC_BINARY_HEADER_LEN) : 0;
  request->problem = check_request (parser, h, request->extras, request->value_len);
  if (request->problem != BRAID_MC_BINARY_PROBLEM_NONE ||
      !braid_mc_binary_opcode_stores (braid_mc_binary_opcode_loud (h->opcode)))
    return head_len;
  /* A value to store, and known to fit -I: only now is it waited for. */
  if (len - head_len < request->value_len)
    return 0;
  request->value = buf + head_len;
  return head_len + request->value_len;
}

/* ---- responses ---- */

void
braid_mc_binary_append_response (GString *out,
                                 const BraidMcBinaryHeader *request,
                                 BraidMcBinaryStatus status,
                                 guint64 cas,
                                 const guint8 *extras, gsize extras_len,
                                 const guint8 *key, gsize key_len,
                                 const guint8 *value, gsize value_len)
{
  BraidMcBinaryHeader h = { 0 };
  guint8 bytes[BRAID_MC_BINARY_HEADER_LEN];

  g_return_if_fail (out != NULL);
  g_return_if_fail (request != NULL);
  g_return_if_fail (extras_len <= G_MAXUINT8);
  g_return_if_fail (key_len <= G_MAXUINT16);
  g_return_if_fail (extras_len + key_len + value_len <= G_MAXUINT32);

  h.magic = BRAID_MC_BINARY_MAGIC_RESPONSE;
  /* memcached answers with the opcode as sent, quiet or not. */
  h.opcode = request->opcode;
  h.key_len = (guint16) key_len;
  h.extras_len = (guint8) extras_len;
  h.vbucket_or_status = (guint16) status;
  h.body_len = (guint32) (extras_len + key_len + value_len);
  h.opaque = request->opaque;
  h.cas = cas;
  braid_mc_binary_header_encode (&h, bytes);
  g_string_append_len (out, (const gchar *) bytes, sizeof bytes);
  if (extras_len > 0)
    g_string_append_len (out, (const gchar *) extras, (gssize) extras_len);
  if (key_len > 0)
    g_string_append_len (out, (const gchar *) key, (gssize) key_len);
  if (value != NULL && value_len > 0)
    g_string_append_len (out, (const gchar *) value, (gssize) value_len);
}

const gchar *
braid_mc_binary_status_message (BraidMcBinaryStatus status)
{
  switch (status)
    {
    case BRAID_MC_BINARY_STATUS_ENOMEM: return "Out of memory";
    case BRAID_MC_BINARY_STATUS_UNKNOWN_COMMAND: return "Unknown command";
    case BRAID_MC_BINARY_STATUS_KEY_ENOENT: return "Not found";
    case BRAID_MC_BINARY_STATUS_EINVAL: return "Invalid arguments";
    case BRAID_MC_BINARY_STATUS_KEY_EEXISTS: return "Data exists for key.";
    case BRAID_MC_BINARY_STATUS_E2BIG: return "Too large.";
    case BRAID_MC_BINARY_STATUS_DELTA_BADVAL: return "Non-numeric server-side value for incr or decr";
    case BRAID_MC_BINARY_STATUS_NOT_STORED: return "Not stored.";
    case BRAID_MC_BINARY_STATUS_AUTH_ERROR: return "Auth failure.";
    case BRAID_MC_BINARY_STATUS_NO_ERROR:
    case BRAID_MC_BINARY_STATUS_AUTH_CONTINUE:
    default:
      return "";
    }
}

void
braid_mc_binary_append_error (GString *out, const BraidMcBinaryHeader *request, BraidMcBinaryStatus status)
{
  const gchar *message = braid_mc_binary_status_message (status);

  braid_mc_binary_append_response (out, request, status, 0, NULL, 0, NULL, 0,
                                   (const guint8 *) message, strlen (message));
}
