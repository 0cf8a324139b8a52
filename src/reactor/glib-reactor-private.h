/* braid — the GLib reactor, what its tests look at.  Private; never
 * installed. */
#pragma once

#include "glib-reactor.h"

G_BEGIN_DECLS

/* How many times @listener (one of a BraidGlibReactor's) stopped accepting
 * for a moment because the process was out of file descriptors. */
guint64 braid_glib_listener_get_n_accept_pauses (BraidListener *listener);

G_END_DECLS
