/* braid — the memcached text protocol command parser (sans-IO).
 *
 * Fed bytes, it yields one command at a time, or the exact reply memcached
 * 1.6 gives to bad input.  Nothing is allocated: keys and data are
 * pointers into the caller's buffer, valid until it changes.  A saved scan
 * offset keeps the search for the end of a line linear however the input
 * is chunked. */
#pragma once

#include "mc-wire.h"

G_BEGIN_DECLS


typedef enum {
  BRAID_MC_COMMAND_NONE,
  BRAID_MC_COMMAND_GET,
  BRAID_MC_COMMAND_GETS,
  BRAID_MC_COMMAND_GAT,
  BRAID_MC_COMMAND_GATS,
  BRAID_MC_COMMAND_SET,
  BRAID_MC_COMMAND_ADD,
  BRAID_MC_COMMAND_REPLACE,
  BRAID_MC_COMMAND_APPEND,
  BRAID_MC_COMMAND_PREPEND,
  BRAID_MC_COMMAND_CAS,
  BRAID_MC_COMMAND_DELETE,
  BRAID_MC_COMMAND_INCR,
  BRAID_MC_COMMAND_DECR,
  BRAID_MC_COMMAND_TOUCH,
  BRAID_MC_COMMAND_FLUSH_ALL,
  BRAID_MC_COMMAND_STATS,
  BRAID_MC_COMMAND_VERSION,
  BRAID_MC_COMMAND_VERBOSITY,
  BRAID_MC_COMMAND_QUIT,
  BRAID_MC_COMMAND_DEBUGTIME,
  BRAID_MC_COMMAND_CACHE_MEMLIMIT,        /* number: megabytes, kept in 32 bits */
  BRAID_MC_COMMAND_SLABS_AUTOMOVE,        /* number: the mode */
  BRAID_MC_COMMAND_LRU_CRAWLER_METADUMP,  /* arg: all, hash, or class ids */
  BRAID_MC_COMMAND_SHUTDOWN,              /* arg: the mode, or NULL */
  /* Not a command: answer @reply, then skip @swallow more bytes (which
   * may not have arrived yet), and close if @close. */
  BRAID_MC_COMMAND_BAD_INPUT,
  /* A meta command (mg, ms, md, ma, mn, me): @line holds it, for the
   * meta parser (mc-meta-parser-private.h) to read again.  An ms has its
   * data block in @value, or, when @swallow is set (too large for -I),
   * the server answers and skips the block unread. */
  BRAID_MC_COMMAND_META,
} BraidMcCommandType;

typedef struct {
  BraidMcCommandType type;
  const guint8 *line;     /* the command line, without "\r\n" */
  gsize line_len;
  const guint8 *key;      /* single-key commands */
  gsize key_len;
  const guint8 *keys;     /* multi-key commands: the rest of the line */
  gsize keys_len;
  guint32 flags;
  gint64 exptime;
  gsize value_len;        /* storage commands: <bytes> */
  const guint8 *value;    /* storage commands: the data block */
  guint64 cas;            /* cas: the unique value */
  guint64 delta;          /* incr/decr */
  gint64 number;          /* flush_all delay, verbosity level, debugtime,
                           * cache_memlimit, slabs automove */
  gboolean has_number;
  gboolean noreply;
  gboolean bad_delay;     /* flush_all: the delay is not a number */
  const guint8 *arg;      /* stats: the rest of the line, or NULL;
                           * lru_crawler metadump, shutdown: one token */
  gsize arg_len;
  /* BRAID_MC_COMMAND_BAD_INPUT */
  const gchar *reply;     /* (nullable): with its "\r\n" */
  gsize swallow;
  gboolean close;         /* close at once: replies not yet written are lost */
  gboolean too_large;     /* a storage command refused: counts store_too_large */
  gboolean forget_key;    /* a refused set: the key's old value goes too */
  /* BRAID_MC_COMMAND_META: whether @value holds an ms data block */
  gboolean has_data_block;
} BraidMcCommand;

typedef struct {
  gsize item_size_max;    /* -I; 0 means 1 MiB */
  gboolean cas_enabled;   /* FALSE with -C: items are 8 bytes smaller */
  gsize scan_offset;      /* private: where the line search resumes */
} BraidMcParser;

#define BRAID_MC_PARSER_INIT { 1024 * 1024, TRUE, 0 }

/* Parses one command from @buf.  Returns the bytes used (the command line
 * and, for storage commands, the data block and its "\r\n"), or 0 when
 * more input is needed.  @eof says no more input will come. */
gsize braid_mc_parse_command (BraidMcParser *parser,
                              const guint8 *buf,
                              gsize len,
                              gboolean eof,
                              BraidMcCommand *cmd);

/* Iterates the keys of a get/gets/gat/gats command: returns FALSE at the
 * end.  @offset starts at 0. */
gboolean braid_mc_command_next_key (const BraidMcCommand *cmd,
                                    gsize *offset,
                                    const guint8 **key,
                                    gsize *key_len);

gboolean braid_mc_command_is_storage (BraidMcCommandType type);
const gchar *braid_mc_command_name (BraidMcCommandType type);

/* The store mode of a storage command (braid_mc_command_is_storage). */
BraidMcStoreMode braid_mc_command_get_store_mode (BraidMcCommandType type);
/* The arithmetic mode of incr or decr. */
BraidMcArithMode braid_mc_command_get_arith_mode (BraidMcCommandType type);

G_END_DECLS
