/* braid — the reactor interface: clock, delayed calls, listen, connect.
 * (The listener that listen returns is in listener.h.) */
#pragma once

#include <gio/gio.h>
#include "delayed-call.h"
#include "endpoint.h"
#include "listener.h"
#include "protocol.h"
#include "protocol-factory.h"
#include "reactor-error.h"
#include "transport.h"

G_BEGIN_DECLS

#define BRAID_TYPE_REACTOR (braid_reactor_get_type ())
G_DECLARE_INTERFACE (BraidReactor, braid_reactor, BRAID, REACTOR, GObject)

struct _BraidReactorInterface
{
  GTypeInterface g_iface;

  gint64 (*now) (BraidReactor *self);
  gint64 (*real_time) (BraidReactor *self);
  BraidDelayedCall *(*call_later) (BraidReactor *self,
                                   gint64 delay_us,
                                   BraidCallFunc func,
                                   gpointer user_data,
                                   GDestroyNotify destroy);
  BraidListener *(*listen) (BraidReactor *self,
                            const BraidEndpoint *endpoint,
                            BraidProtocolFactory *factory,
                            GError **error);
  void (*connect_async) (BraidReactor *self,
                         const BraidEndpoint *endpoint,
                         BraidProtocolFactory *factory,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data);
  BraidProtocol *(*connect_finish) (BraidReactor *self,
                                    GAsyncResult *result,
                                    GError **error);
  void (*run) (BraidReactor *self);
  void (*stop) (BraidReactor *self);
};

/* Monotonic time in microseconds. */
gint64 braid_reactor_now (BraidReactor *self);
/* Wall-clock time in microseconds since the Unix epoch. */
gint64 braid_reactor_real_time (BraidReactor *self);
/* Wall-clock time in whole seconds since the Unix epoch. */
gint64 braid_reactor_real_seconds (BraidReactor *self);

/* (transfer full): schedules @func in @delay_us (negative means 0). */
BraidDelayedCall *braid_reactor_call_later (BraidReactor *self,
                                            gint64 delay_us,
                                            BraidCallFunc func,
                                            gpointer user_data,
                                            GDestroyNotify destroy);
/* Runs @func as soon as possible, after the current callback returns. */
void braid_reactor_call_soon (BraidReactor *self,
                              BraidCallFunc func,
                              gpointer user_data,
                              GDestroyNotify destroy);

/* (transfer full): errors in BRAID_REACTOR_ERROR (INVALID_ENDPOINT,
 * LISTEN_FAILED, NOT_SUPPORTED). */
BraidListener *braid_reactor_listen (BraidReactor *self,
                                     const gchar *endpoint,
                                     BraidProtocolFactory *factory,
                                     GError **error);
BraidListener *braid_reactor_listen_endpoint (BraidReactor *self,
                                              const BraidEndpoint *endpoint,
                                              BraidProtocolFactory *factory,
                                              GError **error);

void braid_reactor_connect_async (BraidReactor *self,
                                  const gchar *endpoint,
                                  BraidProtocolFactory *factory,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
void braid_reactor_connect_endpoint_async (BraidReactor *self,
                                           const BraidEndpoint *endpoint,
                                           BraidProtocolFactory *factory,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
/* (transfer full): the connected protocol (connection_made already ran).
 * Errors in BRAID_REACTOR_ERROR (INVALID_ENDPOINT, CONNECTION_REFUSED,
 * TIMED_OUT) or G_IO_ERROR_CANCELLED. */
BraidProtocol *braid_reactor_connect_finish (BraidReactor *self,
                                             GAsyncResult *result,
                                             GError **error);
/* The _finish of braid_reactor_connect_endpoint_async (the same as
 * braid_reactor_connect_finish, which accepts both). */
BraidProtocol *braid_reactor_connect_endpoint_finish (BraidReactor *self,
                                                      GAsyncResult *result,
                                                      GError **error);

/* Runs the reactor until braid_reactor_stop() (called from a callback, or
 * before run, in which case run returns at once).  The GLib reactor runs a
 * GMainLoop on its own context; the fake reactor runs what is due and moves
 * simulated time to the next pending call, never sleeping, and also
 * returns when nothing is pending at all (nothing could ever stop it). */
void braid_reactor_run (BraidReactor *self);
/* Makes braid_reactor_run() return once the current callback is done. */
void braid_reactor_stop (BraidReactor *self);

G_END_DECLS
