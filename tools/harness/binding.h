/* braid — binding server-issued tokens (cas uniques) during a replay.
 *
 * A recorded conversation carries the cas uniques the recording server
 * issued ("VALUE k f n 17", a meta "c17" flag, a binary response's CAS
 * field) and sends them back ("cas k f e n 17", meta "C17"/"E17", a binary
 * request's CAS field).  A live server in another state issues other
 * values.  The binder pairs the i-th token of the recorded replies with the
 * i-th token of the live replies (T -> L), rewrites later client bytes that
 * carry T at a token position to L, and rewrites L back to T at the token
 * positions of the live replies, so the comparison sees the recorded value.
 *
 * The scanners know the memcached text, meta and binary protocols well
 * enough to skip data blocks: a token inside a value is never rewritten.
 * The client side is scanned once, over the whole recorded client stream;
 * the server side is scanned as it arrives. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gsize offset;   /* into the scanned stream */
  gsize length;
} BraidTokenSpan;

typedef struct _BraidBinder BraidBinder;

/* @client and @server: the recorded streams (all chunks of one direction).
 * @binding FALSE: the binder only cuts the live replies into units (lines
 * and data blocks; binary packets) and rewrites nothing. */
BraidBinder *braid_binder_new (GBytes *client, GBytes *server, gboolean binding);
void braid_binder_free (BraidBinder *binder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidBinder, braid_binder_free)

/* Appends the recorded client bytes [@start, @end) to @out, each bound
 * token replaced by its live value.  Calls must cover the stream in order;
 * a token that starts before @end is sent whole (its rest is skipped by the
 * next call), so a token split across chunks is rewritten as one. */
void braid_binder_rewrite_client (BraidBinder *binder, gsize start, gsize end, GByteArray *out);

/* Feeds live server bytes; complete units are appended to @out, with live
 * tokens paired to recorded ones and rewritten to the recorded values.  A
 * partial line is held until its end (or @eof).  FALSE with a message in
 * *@problem (owned) when the binding is not one-to-one (two recorded values
 * for one live value, or the reverse). */
gboolean braid_binder_take_reply (BraidBinder *binder, const guint8 *data, gsize len, gboolean eof,
                                  GByteArray *out, gchar **problem);

/* Units (lines, data blocks, binary packets) emitted so far by
 * braid_binder_take_reply(), and the end of each in the emitted stream. */
guint braid_binder_get_live_units (BraidBinder *binder);
gsize braid_binder_get_live_unit_end (BraidBinder *binder, guint index);
/* Units of the recorded server stream that end at or before @offset. */
guint braid_binder_count_recorded_units (BraidBinder *binder, gsize offset);

/* The scanners, exposed for tests: token spans in a client stream, and in
 * a server stream (with the unit ends when @unit_ends is not NULL). */
GArray *braid_binding_scan_client (const guint8 *data, gsize len);
GArray *braid_binding_scan_server (const guint8 *data, gsize len, gboolean binary, GArray *unit_ends);

G_END_DECLS
