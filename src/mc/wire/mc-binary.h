/* braid — memcached's binary protocol: packets (sans-IO).
 *
 * Every packet is a 24-byte header (big-endian fields) followed by a body
 * of extras, key and value, in that order.  The request parser frames
 * requests as memcached 1.6 does: it needs the header, the extras and the
 * key before it says anything, and the value only for the commands that
 * store one (the others either have none, or have their remaining body
 * skipped or read as the next request by the server).  Nothing is
 * allocated and no length from the wire is trusted before it is checked:
 * a value is only waited for once it is known to fit the item size limit.
 *
 * Reference: memcached's protocol_binary.h and proto_bin.c. */
#pragma once

#include "mc-wire.h"

G_BEGIN_DECLS

#define BRAID_MC_BINARY_HEADER_LEN 24

/**
 * BraidMcBinaryMagic:
 * @BRAID_MC_BINARY_MAGIC_REQUEST: a request; as a connection's first
 *   byte it makes the whole connection binary
 * @BRAID_MC_BINARY_MAGIC_RESPONSE: a response
 */
typedef enum {
  BRAID_MC_BINARY_MAGIC_REQUEST = 0x80,
  BRAID_MC_BINARY_MAGIC_RESPONSE = 0x81,
} BraidMcBinaryMagic;

/**
 * BraidMcBinaryOpcode:
 *
 * The opcodes of memcached's protocol_binary.h.  The ones whose name ends
 * in Q are "quiet": they answer only what the client cannot infer.
 */
typedef enum {
  BRAID_MC_BINARY_OPCODE_GET = 0x00,
  BRAID_MC_BINARY_OPCODE_SET = 0x01,
  BRAID_MC_BINARY_OPCODE_ADD = 0x02,
  BRAID_MC_BINARY_OPCODE_REPLACE = 0x03,
  BRAID_MC_BINARY_OPCODE_DELETE = 0x04,
  BRAID_MC_BINARY_OPCODE_INCREMENT = 0x05,
  BRAID_MC_BINARY_OPCODE_DECREMENT = 0x06,
  BRAID_MC_BINARY_OPCODE_QUIT = 0x07,
  BRAID_MC_BINARY_OPCODE_FLUSH = 0x08,
  BRAID_MC_BINARY_OPCODE_GETQ = 0x09,
  BRAID_MC_BINARY_OPCODE_NOOP = 0x0a,
  BRAID_MC_BINARY_OPCODE_VERSION = 0x0b,
  BRAID_MC_BINARY_OPCODE_GETK = 0x0c,
  BRAID_MC_BINARY_OPCODE_GETKQ = 0x0d,
  BRAID_MC_BINARY_OPCODE_APPEND = 0x0e,
  BRAID_MC_BINARY_OPCODE_PREPEND = 0x0f,
  BRAID_MC_BINARY_OPCODE_STAT = 0x10,
  BRAID_MC_BINARY_OPCODE_SETQ = 0x11,
  BRAID_MC_BINARY_OPCODE_ADDQ = 0x12,
  BRAID_MC_BINARY_OPCODE_REPLACEQ = 0x13,
  BRAID_MC_BINARY_OPCODE_DELETEQ = 0x14,
  BRAID_MC_BINARY_OPCODE_INCREMENTQ = 0x15,
  BRAID_MC_BINARY_OPCODE_DECREMENTQ = 0x16,
  BRAID_MC_BINARY_OPCODE_QUITQ = 0x17,
  BRAID_MC_BINARY_OPCODE_FLUSHQ = 0x18,
  BRAID_MC_BINARY_OPCODE_APPENDQ = 0x19,
  BRAID_MC_BINARY_OPCODE_PREPENDQ = 0x1a,
  BRAID_MC_BINARY_OPCODE_VERBOSITY = 0x1b,
  BRAID_MC_BINARY_OPCODE_TOUCH = 0x1c,
  BRAID_MC_BINARY_OPCODE_GAT = 0x1d,
  BRAID_MC_BINARY_OPCODE_GATQ = 0x1e,
  BRAID_MC_BINARY_OPCODE_SASL_LIST_MECHS = 0x20,
  BRAID_MC_BINARY_OPCODE_SASL_AUTH = 0x21,
  BRAID_MC_BINARY_OPCODE_SASL_STEP = 0x22,
  BRAID_MC_BINARY_OPCODE_GATK = 0x23,
  BRAID_MC_BINARY_OPCODE_GATKQ = 0x24,
} BraidMcBinaryOpcode;

/**
 * BraidMcBinaryStatus:
 *
 * The response statuses memcached 1.6 sends.
 */
typedef enum {
  BRAID_MC_BINARY_STATUS_NO_ERROR = 0x00,
  BRAID_MC_BINARY_STATUS_KEY_ENOENT = 0x01,
  BRAID_MC_BINARY_STATUS_KEY_EEXISTS = 0x02,
  BRAID_MC_BINARY_STATUS_E2BIG = 0x03,
  BRAID_MC_BINARY_STATUS_EINVAL = 0x04,
  BRAID_MC_BINARY_STATUS_NOT_STORED = 0x05,
  BRAID_MC_BINARY_STATUS_DELTA_BADVAL = 0x06,
  BRAID_MC_BINARY_STATUS_AUTH_ERROR = 0x20,
  BRAID_MC_BINARY_STATUS_AUTH_CONTINUE = 0x21,
  BRAID_MC_BINARY_STATUS_UNKNOWN_COMMAND = 0x81,
  BRAID_MC_BINARY_STATUS_ENOMEM = 0x82,
} BraidMcBinaryStatus;

/* The 24-byte header, in host order.  @vbucket_or_status is the vbucket
 * id in a request and the status in a response. */
typedef struct {
  guint8 magic;
  guint8 opcode;
  guint16 key_len;
  guint8 extras_len;
  guint8 data_type;
  guint16 vbucket_or_status;
  guint32 body_len;
  guint32 opaque;
  guint64 cas;
} BraidMcBinaryHeader;

/**
 * BraidMcBinaryProblem:
 * @BRAID_MC_BINARY_PROBLEM_NONE: a well-formed request
 * @BRAID_MC_BINARY_PROBLEM_BAD_MAGIC: not a request: memcached closes
 *   without an answer
 * @BRAID_MC_BINARY_PROBLEM_BODY_TOO_SHORT: key and extras longer than the
 *   body: answered "unknown command", then closed
 * @BRAID_MC_BINARY_PROBLEM_KEY_TOO_LONG: a key over 250 bytes: answered
 *   "invalid arguments", then closed
 * @BRAID_MC_BINARY_PROBLEM_BAD_SHAPE: extras, key or body lengths that the
 *   opcode does not take: answered "invalid arguments", then closed
 * @BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE: a value over the item size
 *   limit: answered "too large", and the value (not part of the bytes
 *   used) skipped
 *
 * What is wrong with a request, each with memcached's answer.
 */
typedef enum {
  BRAID_MC_BINARY_PROBLEM_NONE,
  BRAID_MC_BINARY_PROBLEM_BAD_MAGIC,
  BRAID_MC_BINARY_PROBLEM_BODY_TOO_SHORT,
  BRAID_MC_BINARY_PROBLEM_KEY_TOO_LONG,
  BRAID_MC_BINARY_PROBLEM_BAD_SHAPE,
  BRAID_MC_BINARY_PROBLEM_VALUE_TOO_LARGE,
} BraidMcBinaryProblem;

typedef struct {
  BraidMcBinaryHeader header;
  BraidMcBinaryProblem problem;
  const guint8 *extras;   /* header.extras_len bytes */
  const guint8 *key;      /* header.key_len bytes */
  /* The body after extras and key.  @value points at it (inside the
   * bytes used) for the commands that store a value; otherwise it is
   * NULL and @value_len bytes that follow the bytes used are the rest of
   * the body, which may not have arrived. */
  const guint8 *value;
  gsize value_len;
} BraidMcBinaryRequest;

typedef struct {
  gsize item_size_max;    /* -I; 0 means 1 MiB */
  gboolean cas_enabled;   /* FALSE with -C: items are 8 bytes smaller */
} BraidMcBinaryParser;

#define BRAID_MC_BINARY_PARSER_INIT { 1024 * 1024, TRUE }

/* Parses one request from @buf.  Returns the bytes used, or 0 when more
 * input is needed.  The bytes used are the header, extras and key, plus
 * the value for the commands that store one (unless it is too large).
 * Check @request->problem before anything else. */
gsize braid_mc_binary_parse_request (const BraidMcBinaryParser *parser,
                                     const guint8 *buf,
                                     gsize len,
                                     BraidMcBinaryRequest *request);

/* Decodes a header from @buf (24 bytes) and encodes one into @buf. */
void braid_mc_binary_header_decode (const guint8 *buf, BraidMcBinaryHeader *header);
void braid_mc_binary_header_encode (const BraidMcBinaryHeader *header, guint8 *buf);

/* Appends a response to @out: a header for @request's opcode and opaque
 * with @status and @cas, then @extras, @key and @value.  @value_len may
 * exceed what @value holds (@value NULL): the caller sends the value
 * after, by other means. */
void braid_mc_binary_append_response (GString *out,
                                      const BraidMcBinaryHeader *request,
                                      BraidMcBinaryStatus status,
                                      guint64 cas,
                                      const guint8 *extras, gsize extras_len,
                                      const guint8 *key, gsize key_len,
                                      const guint8 *value, gsize value_len);

/* memcached's text for an error status ("Not found", …). */
const gchar *braid_mc_binary_status_message (BraidMcBinaryStatus status);

/* Appends the error response for @status: its message as the body. */
void braid_mc_binary_append_error (GString *out, const BraidMcBinaryHeader *request, BraidMcBinaryStatus status);

/* Whether @opcode is a quiet variant, and the opcode it is a variant of
 * (itself for the others). */
gboolean braid_mc_binary_opcode_is_quiet (guint8 opcode);
guint8 braid_mc_binary_opcode_loud (guint8 opcode);

/* Whether @opcode (loud) carries a value to store: set, add, replace,
 * append, prepend. */
gboolean braid_mc_binary_opcode_stores (guint8 opcode);

/* Helpers for big-endian fields of extras and values. */
guint32 braid_mc_binary_read_u32 (const guint8 *p);
guint64 braid_mc_binary_read_u64 (const guint8 *p);
void braid_mc_binary_write_u32 (guint8 *p, guint32 v);
void braid_mc_binary_write_u64 (guint8 *p, guint64 v);

G_END_DECLS
