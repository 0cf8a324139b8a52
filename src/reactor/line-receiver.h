/* braid — a line/raw receiver, after twisted.protocols.basic.LineReceiver.
 *
 * A sans-IO helper a protocol embeds: feed it bytes in any chunking and it
 * calls back with whole lines (without the delimiter) or, in raw mode, with
 * exactly the number of bytes asked for.  Callbacks may switch modes or stop
 * the receiver; bytes after the switch point are kept and handed to the new
 * mode, never lost. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BraidLineReceiver BraidLineReceiver;

typedef struct {
  /* A complete line, without its delimiter. */
  void (*line_received) (gpointer user_data, const gchar *line, gsize len);
  /* Raw-mode bytes; @remaining is how many raw bytes are still to come
   * after this chunk (0 when the raw block is complete: the receiver is
   * then back in line mode unless the callback changed it). */
  void (*raw_received) (gpointer user_data, const guint8 *data, gsize len,
                        gsize remaining);
  /* A line grew beyond the limit.  The receiver stops itself; nothing of
   * the line is buffered past the limit. */
  void (*line_too_long) (gpointer user_data, gsize length_seen);
} BraidLineReceiverCallbacks;

/* @delimiter is "\n" or "\r\n".  Lines always end at "\n"; a "\r\n"
 * receiver also strips the "\r" before it, so a bare "\n" still ends a
 * line there (as memcached accepts).  A line longer than @max_line_length
 * bytes without its delimiter calls line_too_long. */
BraidLineReceiver *braid_line_receiver_new (const gchar *delimiter,
                                            gsize max_line_length,
                                            const BraidLineReceiverCallbacks *callbacks,
                                            gpointer user_data);
void braid_line_receiver_free (BraidLineReceiver *self);

void braid_line_receiver_feed (BraidLineReceiver *self,
                               const guint8 *data,
                               gsize len);
/* Switch to raw mode for exactly @n_bytes, then back to line mode. */
void braid_line_receiver_set_raw_mode (BraidLineReceiver *self, gsize n_bytes);
/* Raw mode until switched back, with no byte count. */
void braid_line_receiver_set_raw_mode_unbounded (BraidLineReceiver *self);
void braid_line_receiver_set_line_mode (BraidLineReceiver *self);
/* Stops delivering for good (the connection is going away): bytes fed
 * afterwards are discarded. */
void braid_line_receiver_stop (BraidLineReceiver *self);
gboolean braid_line_receiver_is_stopped (BraidLineReceiver *self);
/* Bytes buffered but not yet delivered (a partial line). */
gsize braid_line_receiver_get_buffered (BraidLineReceiver *self);
/* Take the buffered bytes (the partial line). */
GBytes *braid_line_receiver_steal_buffer (BraidLineReceiver *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidLineReceiver, braid_line_receiver_free)

G_END_DECLS
