/* braid — the memcached client's reply parser (sans-IO, allocation-free).
 *
 * Fed bytes, it yields one reply element at a time: a status line, a VALUE
 * with its data block, a STAT line, a number, END.  Pointers go into the
 * caller's buffer.  0 means "need more"; bytes that cannot be memcached
 * replies are a BRAID_MC_ERROR_PROTOCOL error. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BRAID_MC_REPLY_STORED,
  BRAID_MC_REPLY_NOT_STORED,
  BRAID_MC_REPLY_EXISTS,
  BRAID_MC_REPLY_NOT_FOUND,
  BRAID_MC_REPLY_DELETED,
  BRAID_MC_REPLY_TOUCHED,
  BRAID_MC_REPLY_OK,
  BRAID_MC_REPLY_RESET,
  BRAID_MC_REPLY_END,
  BRAID_MC_REPLY_VALUE,
  BRAID_MC_REPLY_NUMBER,
  BRAID_MC_REPLY_STAT,
  BRAID_MC_REPLY_VERSION,
  BRAID_MC_REPLY_ERROR,
  BRAID_MC_REPLY_CLIENT_ERROR,
  BRAID_MC_REPLY_SERVER_ERROR,
} BraidMcReplyType;

typedef struct {
  BraidMcReplyType type;
  const guint8 *key;       /* VALUE: the key; STAT: the name */
  gsize key_len;
  guint32 flags;
  gboolean has_cas;
  guint64 cas;
  const guint8 *value;     /* VALUE: data; STAT, VERSION, *ERROR: the text */
  gsize value_len;
  guint64 number;          /* NUMBER */
} BraidMcReply;

typedef struct {
  gsize value_max;         /* a VALUE announcing more bytes is an error; 0: 1 MiB */
  gsize scan_offset;       /* private */
} BraidMcReplyParser;

/* memcached's default item size limit (-I 1m): the largest value a client
 * accepts unless told otherwise. */
#define BRAID_MC_REPLY_VALUE_MAX_DEFAULT (1024 * 1024)
#define BRAID_MC_REPLY_PARSER_INIT { BRAID_MC_REPLY_VALUE_MAX_DEFAULT, 0 }
/* A reply line longer than this without "\r\n" is a protocol error. */
#define BRAID_MC_REPLY_LINE_MAX 8192

/* Parses one reply element from @buf: returns the bytes it used, or 0
 * when more input is needed, or 0 with @error set (BRAID_MC_ERROR_PROTOCOL,
 * the message naming what was wrong) for bytes that are not a memcached
 * reply: a line over BRAID_MC_REPLY_LINE_MAX, a line not ended by
 * "\r\n", a VALUE with an empty key or bad numbers or a length over
 * @parser's value_max, a data block not followed by "\r\n", an unknown
 * reply.  Lengths are checked before any arithmetic, so no length wraps. */
gsize braid_mc_parse_reply (BraidMcReplyParser *parser,
                            const guint8 *buf,
                            gsize len,
                            BraidMcReply *reply,
                            GError **error);

const gchar *braid_mc_reply_type_name (BraidMcReplyType type);

G_END_DECLS
