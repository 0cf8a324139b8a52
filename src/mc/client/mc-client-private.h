/* braid — read-only views of a memcached client's buffers, for checkers
 * outside the client (braid-sim), and what the pool shares with the
 * client.  Private: not installed. */
#pragma once

#include "mc-client.h"

G_BEGIN_DECLS

/* Bytes received and not yet parsed (a partial reply element). */
gsize braid_mc_client_get_input_buffered (BraidMcClient *self);
/* The largest VALUE the client accepts (braid_mc_client_set_item_size_max). */
gsize braid_mc_client_get_value_max (BraidMcClient *self);
/* The @index'th request not yet answered (0: the oldest): the bytes of
 * values or stats it has collected (keys and data) and how many keys it
 * asked for, each counted once (0 for requests that are not gets).  FALSE past the last. */
gboolean braid_mc_client_get_request_buffered (BraidMcClient *self,
                                               guint index,
                                               gsize *bytes,
                                               guint *n_keys);

/* Calls @func (NULL, @error, @user_data) from @reactor at once, never
 * from inside this call: how a direct get fails before it is sent. */
void braid_mc_answer_later (BraidReactor *reactor,
                            BraidMcValueFunc func,
                            gpointer user_data,
                            GError *error);

G_END_DECLS
