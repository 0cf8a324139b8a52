/* braid — a GInputStream read from one thread whose source lives in
 * another (a body from a libsoup session running in a BraidFetchThread). */
#pragma once

#include <gio/gio.h>
#include "fetch-thread.h"

G_BEGIN_DECLS

#define BRAID_TYPE_THREAD_INPUT_STREAM (braid_thread_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (BraidThreadInputStream, braid_thread_input_stream, BRAID, THREAD_INPUT_STREAM, GInputStream)

/* Wraps @base (transfer full), which only @thread may touch.  Its async
 * reads run there and complete in the reader's thread-default context;
 * closing it releases @base in @thread.  @owner (a reference is kept)
 * keeps @thread alive: the object that frees it.  Called in @thread.
 * A synchronous read blocks until @thread has read (never call one from
 * @thread itself). */
GInputStream *braid_thread_input_stream_new (GInputStream *base, BraidFetchThread *thread, GObject *owner);

G_END_DECLS
