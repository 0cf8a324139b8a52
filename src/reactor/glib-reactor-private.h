/* braid — the GLib reactor, what its tests look at.  Private; never
 * installed. */
#pragma once

#include "glib-reactor.h"

G_BEGIN_DECLS

/* How many times @listener (one of a BraidGlibReactor's) stopped accepting
 * for a moment because the process was out of file descriptors. */
guint64 braid_glib_listener_get_n_accept_pauses (BraidListener *listener);

/* From now on @listener serves each accepted connection on the reactor
 * @func returns (called on the listener's thread), handing it over
 * through that reactor's context.  How braid_glib_listener_distribute()
 * (reactor-pool.c) is built.  FALSE for a listener that cannot (tls:). */
typedef BraidGlibReactor *(*BraidGlibListenerTargetFunc) (gpointer data);
gboolean braid_glib_listener_set_target_func (BraidListener *listener, BraidGlibListenerTargetFunc func, gpointer data);

G_END_DECLS
