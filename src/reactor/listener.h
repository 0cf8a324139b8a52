/* braid — a listening endpoint, as braid_reactor_listen returns it, after
 * Twisted's IListeningPort. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRAID_TYPE_LISTENER (braid_listener_get_type ())
G_DECLARE_DERIVABLE_TYPE (BraidListener, braid_listener, BRAID, LISTENER, GObject)

/**
 * BraidListener:
 *
 * What braid_reactor_listen() returns: a listening port.  Stops listening
 * when braid_listener_stop() is called or the last reference is dropped.
 * Connections already accepted are not affected.
 */
struct _BraidListenerClass
{
  GObjectClass parent_class;

  void (*stop) (BraidListener *self);
  /* (transfer none) (nullable): the bound address (with the real port when
   * listening on port 0) */
  GSocketAddress *(*get_address) (BraidListener *self);
  guint (*get_n_connections) (BraidListener *self);

  gpointer padding[8];
};

void braid_listener_stop (BraidListener *self);
gboolean braid_listener_is_listening (BraidListener *self);
GSocketAddress *braid_listener_get_address (BraidListener *self);
/* The TCP port bound, or 0 for other kinds. */
guint16 braid_listener_get_port (BraidListener *self);
/* Connections accepted through this listener that are still open. */
guint braid_listener_get_n_connections (BraidListener *self);

/* For implementations: marks the listener stopped (idempotent). */
gboolean braid_listener_mark_stopped (BraidListener *self);

G_END_DECLS
