/* braid — BraidDeadlineFetcher: an overall deadline for every fetch of
 * another BraidFetcher, headers and body together.  Private: not
 * installed.
 *
 * A per-read timeout (libsoup's SoupSession:timeout) lets an upstream
 * that sends one byte a second hold a fetch for ever; this one counts
 * from the start of the fetch, on the reactor's clock (so it runs in
 * simulated time on the fake reactor, around the fake fetcher). */
#pragma once

#include "reactor.h"
#include "fetcher.h"

G_BEGIN_DECLS

#define BRAID_TYPE_DEADLINE_FETCHER (braid_deadline_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (BraidDeadlineFetcher, braid_deadline_fetcher, BRAID, DEADLINE_FETCHER, GObject)

/* Each fetch through the new fetcher must be over (the body read to its
 * end) within @timeout_us (> 0) of its start.  At the deadline the
 * fetch's cancellable for @inner is cancelled, and a fetch or read still
 * waiting fails at once with BRAID_PROXY_ERROR_TIMED_OUT, as does every
 * read after it; @expired_count ((nullable), owned by the caller, who
 * keeps it alive as long as the fetcher and its streams) is incremented.
 * The fetch's own cancellable (the one given to fetch_async) cancels the
 * fetch and its body reads; a read's cancellable is only checked when
 * the read completes. */
BraidDeadlineFetcher *braid_deadline_fetcher_new (BraidFetcher *inner, BraidReactor *reactor, gint64 timeout_us,
                                                  guint64 *expired_count);

G_END_DECLS
