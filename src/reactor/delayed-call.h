/* braid — delayed calls, after Twisted's IDelayedCall. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*BraidCallFunc) (gpointer user_data);

/**
 * BraidDelayedCall:
 *
 * A handle on a call scheduled with braid_reactor_call_later().  The handle
 * is reference counted; the reactor holds its own reference until the call
 * has run or was cancelled, so dropping yours never cancels the call.
 *
 * Once the call has run or was cancelled, the handle is *stale*: cancel,
 * reset and delay on it are programming errors (a g_critical), exactly as
 * Twisted raises AlreadyCalled / AlreadyCancelled.
 */
typedef struct _BraidDelayedCall BraidDelayedCall;

BraidDelayedCall *braid_delayed_call_ref (BraidDelayedCall *call);
void braid_delayed_call_unref (BraidDelayedCall *call);

void braid_delayed_call_cancel (BraidDelayedCall *call);
void braid_delayed_call_reset (BraidDelayedCall *call, gint64 delay_us);
void braid_delayed_call_delay (BraidDelayedCall *call, gint64 extra_us);
gboolean braid_delayed_call_is_active (BraidDelayedCall *call);
gboolean braid_delayed_call_was_called (BraidDelayedCall *call);
gboolean braid_delayed_call_was_cancelled (BraidDelayedCall *call);
gint64 braid_delayed_call_get_time (BraidDelayedCall *call);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidDelayedCall, braid_delayed_call_unref)

/**
 * BraidTimerQueue:
 *
 * The ordered set of pending delayed calls that both reactors share: calls
 * run in (time, scheduling sequence) order.  A reactor owns one queue and
 * asks it to run whatever is due at its notion of "now".  The queue reads the
 * clock through @now_func so that reset() and delay() are relative to the
 * owning reactor's clock.
 */
G_END_DECLS
