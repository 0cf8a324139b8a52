/* braid — the "stats" command's replies.  Private; never installed. */
#pragma once

#include "mc-server-shared-private.h"

G_BEGIN_DECLS

/* Appends the reply to "stats [@arg]" to @out; FALSE for an unknown
 * sub-command (nothing appended). */
gboolean braid_mc_stats_write (BraidMcServerShared *shared, const gchar *arg, GString *out);

G_END_DECLS
