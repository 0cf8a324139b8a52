/* braid — braid-timing's results as an SVG chart: one horizontal bar per
 * URL, as long as its client time, with the server time (until the first
 * body byte) drawn inside it, and the batch's totals underneath.  Plain
 * GString output, no drawing library; kept apart from braid-timing.c so a
 * test can render known figures. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One fetch as braid-timing measured it; times are since the batch began. */
typedef struct
{
  const gchar *url;
  gboolean failed;       /* no connection, or the proxy closed without a body */
  gint64 first_byte_us;  /* meaningful unless failed */
  gint64 finished_us;    /* meaningful unless failed */
  gsize bytes;
} BraidTimingResult;

/* Returns a complete SVG document (UTF-8, free with g_free). @title is
 * shown at the top, escaped like every URL. */
gchar *braid_timing_svg_render (const BraidTimingResult *results,
                                guint n_results,
                                const gchar *title);

G_END_DECLS
