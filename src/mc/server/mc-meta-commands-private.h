/* braid — executing memcached 1.6's meta commands (mg, ms, md, ma, mn,
 * me) against the shared store.  Private; never installed. */
#pragma once

#include "mc-command-parser.h"
#include "mc-server-shared-private.h"

G_BEGIN_DECLS

typedef struct {
  gsize swallow;          /* bytes after the command to skip unread */
  BraidMcItem *value;     /* (owned) (nullable): its data block follows the
                           * reply line (mg v) */
  gboolean flushes;       /* mn: memcached writes everything so far now */
} BraidMcMetaOutcome;

/* Runs @cmd (a BRAID_MC_COMMAND_META) and appends its reply line to @out;
 * what must follow, a value or bytes to skip, is in @outcome. */
void braid_mc_meta_execute (BraidMcServerShared *shared,
                            const BraidMcCommand *cmd,
                            GString *out,
                            BraidMcMetaOutcome *outcome);

G_END_DECLS
