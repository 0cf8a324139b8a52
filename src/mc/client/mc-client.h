/* braid — an asynchronous memcached client (GIO style).
 *
 * One persistent connection, pipelined: requests are written as soon as
 * they are made and replies are matched in order.  Each request has a
 * timeout on the reactor clock.  When the connection drops, every request
 * in flight fails with BRAID_MC_ERROR_CONNECTION_LOST and the next
 * request reconnects, after a backoff if connecting failed recently.
 * Cancelling a request returns G_IO_ERROR_CANCELLED at once; its reply is
 * still read and dropped, so the connection never loses its place.
 *
 * Errors: BRAID_MC_ERROR (NOT_FOUND, NOT_STORED, EXISTS,
 * CLIENT_ERROR, SERVER_ERROR, UNKNOWN_COMMAND, TIMED_OUT,
 * CONNECTION_LOST, INVALID_ARGUMENT, PROTOCOL, TOO_LARGE) and
 * G_IO_ERROR_CANCELLED. */
#pragma once

#include "reactor.h"
#include "mc-wire.h"
#include "mc-error.h"

G_BEGIN_DECLS

/* A value read from memcached (refcounted). */
typedef struct {
  gatomicrefcount ref_count;
  gchar *key;      /* (owned) */
  GBytes *data;    /* (owned) */
  guint32 flags;
  guint64 cas;     /* 0 unless fetched with gets/gats */
} BraidMcValue;

BraidMcValue *braid_mc_value_ref (BraidMcValue *value);
void braid_mc_value_unref (BraidMcValue *value);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidMcValue, braid_mc_value_unref)

/* Checks a key the way servers will: 1 to 250 bytes, no spaces or
 * control characters. */

/**
 * BraidMcGetFlags:
 * @BRAID_MC_GET_FLAGS_NONE: a plain get (or gat)
 * @BRAID_MC_GET_FLAGS_WITH_CAS: ask for the cas unique too (gets, gats)
 */
typedef enum {
  BRAID_MC_GET_FLAGS_NONE = 0,
  BRAID_MC_GET_FLAGS_WITH_CAS = 1 << 0,
} BraidMcGetFlags;

#define BRAID_TYPE_MC_CLIENT (braid_mc_client_get_type ())
G_DECLARE_FINAL_TYPE (BraidMcClient, braid_mc_client, BRAID, MC_CLIENT, GObject)

BraidMcClient *braid_mc_client_new (BraidReactor *reactor, const gchar *endpoint);
const gchar *braid_mc_client_get_endpoint (BraidMcClient *self);
/* Per-request timeout (default 1 s); 0 disables. */
void braid_mc_client_set_timeout (BraidMcClient *self, gint64 timeout_us);
/* The largest value the client sends, and the largest it accepts from the
 * server: a VALUE announcing more is a protocol error (default 1 MiB,
 * memcached's -I).  Whatever a server sends, a request buffers at most
 * this per key it asked for. */
void braid_mc_client_set_item_size_max (BraidMcClient *self, gsize size);
/* Requests written but not yet answered. */
guint braid_mc_client_get_n_pending (BraidMcClient *self);
gboolean braid_mc_client_is_connected (BraidMcClient *self);
/* Closes the connection; requests in flight fail with CONNECTION_LOST. */
void braid_mc_client_disconnect (BraidMcClient *self);

/* get / gets: the value (with cas for gets), or NOT_FOUND. */
void braid_mc_client_get_async (BraidMcClient *self, const gchar *key, BraidMcGetFlags flags,
                                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
BraidMcValue *braid_mc_client_get_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

/**
 * BraidMcValueFunc:
 * @value: (transfer full) (nullable): the value, or NULL with @error set
 * @error: (transfer full) (nullable): NOT_FOUND, any error of a get, or
 *   G_IO_ERROR_CANCELLED
 * @user_data: as given
 */
typedef void (*BraidMcValueFunc) (BraidMcValue *value, GError *error, gpointer user_data);

/* A direct get in progress (opaque). */
typedef struct _BraidMcDirectGet BraidMcDirectGet;

/* get, for hot paths: the same request and errors as
 * braid_mc_client_get_async without a GTask.  @func runs exactly once,
 * always from the reactor and never from inside this call or from inside
 * g_cancellable_cancel() (a cancelled get is answered in the reactor's
 * next round).  Its caller keeps @user_data alive until then.
 *
 * Returns: (transfer none) (nullable): the get, for
 * braid_mc_client_cancel_direct(), valid until @func runs; NULL when its
 * answer is already decided (a bad key: it still comes from the reactor). */
BraidMcDirectGet *braid_mc_client_get_direct (BraidMcClient *self, const gchar *key, GCancellable *cancellable,
                                              BraidMcValueFunc func, gpointer user_data);
/* Cancels @get (nullable: nothing to do) as its cancellable would, without
 * one: a hot path's GCancellable, its signal connection and its
 * disconnection cost more than the rest of the get.  @func then runs with
 * G_IO_ERROR_CANCELLED from the reactor, never inside this call; a second
 * cancel does nothing.  @get must not have been answered yet. */
void braid_mc_client_cancel_direct (BraidMcClient *self, BraidMcDirectGet *get);

/* get/gets of many keys: a GHashTable key → BraidMcValue of the hits. */
void braid_mc_client_get_multi_async (BraidMcClient *self, const gchar * const *keys, BraidMcGetFlags flags,
                                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
GHashTable *braid_mc_client_get_multi_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

/* gat / gats: get and touch. */
void braid_mc_client_gat_async (BraidMcClient *self, const gchar *key, gint64 exptime, BraidMcGetFlags flags,
                                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
BraidMcValue *braid_mc_client_gat_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

/* set, add, replace, append, prepend, cas (@mode), with @cas for cas. */
void braid_mc_client_store_async (BraidMcClient *self, BraidMcStoreMode mode, const gchar *key,
                                  GBytes *data, guint32 flags, gint64 exptime, guint64 cas,
                                  GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_client_store_finish (BraidMcClient *self, GAsyncResult *result, GError **error);
void braid_mc_client_set_async (BraidMcClient *self, const gchar *key, GBytes *data, guint32 flags,
                                gint64 exptime, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_client_set_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

void braid_mc_client_delete_async (BraidMcClient *self, const gchar *key, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_client_delete_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

/* incr (@incr TRUE) or decr: the new value. */
void braid_mc_client_arith_async (BraidMcClient *self, const gchar *key, BraidMcArithMode mode, guint64 delta,
                                 GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_client_arith_finish (BraidMcClient *self, GAsyncResult *result, guint64 *value, GError **error);

void braid_mc_client_touch_async (BraidMcClient *self, const gchar *key, gint64 exptime,
                                  GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_client_touch_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

void braid_mc_client_flush_all_async (BraidMcClient *self, gint64 delay, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean braid_mc_client_flush_all_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

/* stats [@arg]: a GHashTable name → value (strings). */
void braid_mc_client_stats_async (BraidMcClient *self, const gchar *arg, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
GHashTable *braid_mc_client_stats_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

void braid_mc_client_version_async (BraidMcClient *self, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gchar *braid_mc_client_version_finish (BraidMcClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
