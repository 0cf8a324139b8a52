/* braid — memcached 1.6's meta commands (mg, ms, md, ma, mn, me): one
 * command line parsed into its key and flags, or the exact error memcached
 * 1.6.18 answers.  Sans-IO: nothing is allocated, the flags point into the
 * line, a base64 key is decoded into the command itself.  Private; never
 * installed. */
#pragma once

#include "mc-wire.h"

G_BEGIN_DECLS

typedef enum {
  BRAID_MC_META_GET,      /* mg */
  BRAID_MC_META_SET,      /* ms: a data block follows the line */
  BRAID_MC_META_DELETE,   /* md */
  BRAID_MC_META_ARITH,    /* ma */
  BRAID_MC_META_NOOP,     /* mn */
  BRAID_MC_META_DEBUG,    /* me */
} BraidMcMetaType;

/* memcached counts the command, the key and an end marker among its 20
 * tokens: at most 17 flags follow a key (16 after ms's length). */
#define BRAID_MC_META_MAX_TOKENS 20
#define BRAID_MC_META_MAX_FLAGS (BRAID_MC_META_MAX_TOKENS - 3)
/* O<opaque>, the 'O' included. */
#define BRAID_MC_META_OPAQUE_MAX 32

typedef struct {
  const guint8 *token;    /* the whole flag token, its letter first */
  gsize len;
} BraidMcMetaFlag;

typedef struct {
  BraidMcMetaType type;
  const guint8 *key;      /* the key; decoded into key_buf with b */
  gsize key_len;
  gboolean key_binary;    /* b: the key was sent in base64 */
  BraidMcMetaFlag flags[BRAID_MC_META_MAX_FLAGS];
  guint n_flags;          /* in the order sent: replies follow it */
  guint64 letters[2];     /* which flag letters were sent (ASCII bit set) */
  gsize value_len;        /* ms: <datalen> */
  gint64 ttl;             /* T */
  gint64 vivify_ttl;      /* N */
  gint64 recache_ttl;     /* R */
  guint32 client_flags;   /* F */
  guint64 cas;            /* C */
  guint64 delta;          /* D; 1 by default */
  guint64 initial;        /* J */
  gchar mode;             /* M; 0 when not sent */
  /* mg, ma: an opaque over 32 bytes.  memcached finds it only as it
   * writes the reply, after the command has acted (fetched, vivified,
   * touched, counted): the reply is then that error alone. */
  gboolean opaque_too_long;
  guint8 key_buf[BRAID_MC_KEY_MAX];
} BraidMcMetaCommand;

/* Whether @line (without "\r\n") is a meta command memcached dispatches as
 * one: its first token is "m" and one more letter.  (An unknown one, "mx",
 * is still "ERROR".) */
gboolean braid_mc_meta_is_command (const guint8 *line, gsize len);

/* Parses a meta command line (without "\r\n").  Returns TRUE with @cmd
 * filled; or FALSE with *@reply, memcached's answer with its "\r\n", and
 * *@swallow, the bytes after the line to skip unread (an ms that fails
 * once its length is known loses its data block: <datalen> + 2 bytes). */
gboolean braid_mc_meta_parse (const guint8 *line,
                              gsize len,
                              BraidMcMetaCommand *cmd,
                              const gchar **reply,
                              gsize *swallow);

/* Whether flag @letter was sent. */
gboolean braid_mc_meta_has_flag (const BraidMcMetaCommand *cmd, gchar letter);

G_END_DECLS
