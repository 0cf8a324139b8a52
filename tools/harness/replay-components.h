/* braid — the in-process components braid-replay and the tests can replay
 * fixtures into. */
#pragma once

#include "replay.h"

G_BEGIN_DECLS

/* The builder of the server @name ("memcached", with default settings), or
 * NULL with an error naming the known components. */
BraidReplayServerFunc braid_replay_component_lookup (const gchar *name, GError **error);

G_END_DECLS
