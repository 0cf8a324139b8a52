/* braid — the "stats" command's replies.  Private; never installed. */
#pragma once

#include "mc-server-shared-private.h"

G_BEGIN_DECLS

/* Appends the reply to "stats [@arg]" to @out; FALSE for an unknown
 * sub-command (nothing appended).  @asking: (nullable): the connection
 * that asks ("stats conns" shows it as the one parsing a command). */
gboolean braid_mc_stats_write (BraidMcServerShared *shared,
                               const BraidMcConnectionInfo *asking,
                               const gchar *arg,
                               GString *out);

/* Appends the reply to "lru_crawler metadump @classes" ("all", "hash" or
 * comma-separated class ids) to @out. */
void braid_mc_stats_write_metadump (BraidMcServerShared *shared, const gchar *classes, GString *out);

G_END_DECLS
