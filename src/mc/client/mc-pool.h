/* braid — a pool of memcached servers with libmemcached-compatible ketama
 * distribution and dead-server ejection.
 *
 * Keys go to servers exactly as libmemcached (KETAMA_WEIGHTED), pylibmc
 * and other ketama clients send them, so braid and libmemcached programs
 * can share one fleet.  A server whose requests fail (connection lost,
 * timeout) @failure_limit times in a row is taken out for @retry_us; its
 * keys go to the others meanwhile, as libmemcached's auto-eject does. */
#pragma once

#include "mc-client.h"

G_BEGIN_DECLS

#define BRAID_TYPE_MC_POOL (braid_mc_pool_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcPool, braid_mc_pool, BRAID, MC_POOL, GObject)

/* @servers: "HOST:PORT,HOST:PORT" (libmemcached's --servers; PORT defaults
 * to 11211), where each server may also be a client endpoint such as
 * "tcp:HOST:PORT" or "tls:HOST:PORT:ca=FILE" (a `,` or `:` in a value is
 * escaped with `\`).  Keys are distributed by HOST:PORT alone, whatever
 * the kind.  Errors: BRAID_MC_ERROR_INVALID_ARGUMENT. */
BraidMcPool *braid_mc_pool_new (BraidReactor *reactor, const gchar *servers, GError **error);

guint braid_mc_pool_get_n_servers (BraidMcPool *self);
/* "HOST:PORT" of server @index. */
const gchar *braid_mc_pool_get_server_name (BraidMcPool *self, guint index);
BraidMcClient *braid_mc_pool_get_client (BraidMcPool *self, guint index);
/* Where @key lives by the ketama continuum of all servers (dead or not). */
guint braid_mc_pool_locate (BraidMcPool *self, const gchar *key);
/* The live server for @key (transfer none), or NULL with NO_SERVERS. */
BraidMcClient *braid_mc_pool_client_for_key (BraidMcPool *self, const gchar *key, GError **error);

void braid_mc_pool_set_timeout (BraidMcPool *self, gint64 timeout_us);
void braid_mc_pool_set_ejection (BraidMcPool *self, guint failure_limit, gint64 retry_us);
gboolean braid_mc_pool_is_server_alive (BraidMcPool *self, guint index);

/* get / set / delete through the right server, with failure accounting. */
void braid_mc_pool_get_async (BraidMcPool *self, const gchar *key, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
BraidMcValue *braid_mc_pool_get_finish (BraidMcPool *self, GAsyncResult *result, GError **error);
/* get without a GTask, as braid_mc_client_get_direct: @func runs once,
 * from the reactor, never from inside this call.  Returns: (transfer none)
 * (nullable): the get, to cancel, valid until @func runs; NULL when its
 * answer is already decided (a bad key, no server left). */
typedef struct _BraidMcPoolDirectGet BraidMcPoolDirectGet;
BraidMcPoolDirectGet *braid_mc_pool_get_direct (BraidMcPool *self, const gchar *key, GCancellable *cancellable,
                                                BraidMcValueFunc func, gpointer user_data);
/* As braid_mc_client_cancel_direct(), for a get of the pool. */
void braid_mc_pool_cancel_direct (BraidMcPool *self, BraidMcPoolDirectGet *get);
void braid_mc_pool_set_async (BraidMcPool *self, const gchar *key, GBytes *data, guint32 flags,
                              gint64 exptime, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_pool_set_finish (BraidMcPool *self, GAsyncResult *result, GError **error);
void braid_mc_pool_delete_async (BraidMcPool *self, const gchar *key, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_pool_delete_finish (BraidMcPool *self, GAsyncResult *result, GError **error);

G_END_DECLS
