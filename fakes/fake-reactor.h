/* braid — the fake reactor: simulated time, in-memory connections, faults.
 *
 * Nothing here touches a socket or the real clock.  Time moves only when a
 * test calls advance(); bytes move only when the test pumps (advance and
 * run_until_idle pump for you).  All randomness comes from one GRand seeded
 * at construction. */
#pragma once

#include "reactor.h"
#include "fake-transport.h"

G_BEGIN_DECLS

#define BRAID_TYPE_FAKE_REACTOR (braid_fake_reactor_get_type ())
G_DECLARE_FINAL_TYPE (BraidFakeReactor, braid_fake_reactor,
                      BRAID, FAKE_REACTOR, GObject)

BraidFakeReactor *braid_fake_reactor_new (guint32 seed);
GRand *braid_fake_reactor_get_rand (BraidFakeReactor *self);

/* Clock.  Monotonic time starts at 0; wall time at 2026-01-01T00:00:00Z
 * unless set. */
void braid_fake_reactor_set_real_time (BraidFakeReactor *self, gint64 unix_us);
/* Moves time forward by @us, running each due call at its own time (calls
 * scheduled while advancing run too if due) and pumping I/O to idle
 * between calls, like Twisted's Clock.advance plus iosim. */
void braid_fake_reactor_advance (BraidFakeReactor *self, gint64 us);
/* advance() by each step in turn (@steps terminated by a negative value). */
void braid_fake_reactor_pump_steps (BraidFakeReactor *self, const gint64 *steps);
/* Runs zero-delay calls, moves bytes, delivers closes, and drains the
 * thread-default GMainContext until nothing happens.  Does not move time. */
void braid_fake_reactor_run_until_idle (BraidFakeReactor *self);
/* run_until_idle() gives up with a critical after this many busy pumps
 * (default 10 000 000): something rescheduling itself at zero delay would
 * otherwise never let it return.  Tests of the guard set a small one. */
void braid_fake_reactor_set_idle_step_limit (BraidFakeReactor *self, guint limit);
guint braid_fake_reactor_get_idle_step_limit (BraidFakeReactor *self);
/* Moves time to each pending call in turn until there is none left, at most
 * @max_us into the future.  Returns TRUE if the queue emptied. */
gboolean braid_fake_reactor_run_all_timers (BraidFakeReactor *self, gint64 max_us);
/* braid_reactor_run() on the fake: run_until_idle(), then time jumps to
 * each next pending call, until braid_reactor_stop() or nothing is pending
 * (never sleeping). */

/* One step: zero-delay calls + one delivery round.  Returns whether
 * anything moved. */
gboolean braid_fake_reactor_pump (BraidFakeReactor *self);
/* (transfer container): new references to pending delayed calls. */
GPtrArray *braid_fake_reactor_get_pending_calls (BraidFakeReactor *self);
guint braid_fake_reactor_get_n_pending_calls (BraidFakeReactor *self);

/* Connections. */
void braid_fake_reactor_set_delivery (BraidFakeReactor *self,
                                      BraidFakeDelivery delivery);
BraidFakeDelivery braid_fake_reactor_get_delivery (BraidFakeReactor *self);

/* Connects two protocols directly, already greeted (connection_made has run
 * on both).  Either out-parameter may be NULL. */
void braid_fake_connect_pair (BraidFakeReactor *self,
                              BraidProtocol *client,
                              BraidProtocol *server,
                              BraidFakeTransport **client_transport,
                              BraidFakeTransport **server_transport);

/* Listen/connect records (MemoryReactor).  Listeners are keyed by their
 * normalised endpoint string; a `tcp:0` listener gets a fake port.
 * `tls:` endpoints are simulated as plain TCP: a tls: client reaches a
 * tls: listener on its port (tcp: and tls: share the port space but do
 * not reach each other), no certificate file is read, no handshake takes
 * place and the bytes move in the clear. */
guint braid_fake_reactor_get_n_listeners (BraidFakeReactor *self);
/* Connect attempts not yet settled. */
guint braid_fake_reactor_get_n_pending_connects (BraidFakeReactor *self);
const gchar *braid_fake_reactor_get_pending_connect_endpoint (BraidFakeReactor *self,
                                                              guint index);
/* Settle pending connect @index: to the listener on its endpoint (or fail
 * with CONNECTION_REFUSED if there is none). */
void braid_fake_reactor_complete_connect (BraidFakeReactor *self, guint index);
void braid_fake_reactor_fail_connect (BraidFakeReactor *self,
                                      guint index,
                                      const GError *error);
/* When TRUE (the default), pending connects are settled automatically while
 * pumping. */
void braid_fake_reactor_set_auto_connect (BraidFakeReactor *self,
                                          gboolean auto_connect);

/* Faults. */
void braid_fake_reactor_set_refuse_connections (BraidFakeReactor *self,
                                                gboolean refuse);
void braid_fake_reactor_set_listen_error (BraidFakeReactor *self,
                                          const GError *error);
/* Closes the listener on @endpoint as if the port vanished. */
void braid_fake_reactor_drop_listener (BraidFakeReactor *self,
                                       const gchar *endpoint);
/* Every connection made while pumping (client side first, then server
 * side), for tests that need the transports of connections they did not
 * make themselves.  (transfer none) */
GPtrArray *braid_fake_reactor_get_transports (BraidFakeReactor *self);

G_END_DECLS
