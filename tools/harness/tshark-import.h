/* braid — importing fixtures from tshark's "Follow TCP Stream" output. */
#pragma once

#include "fixture.h"

G_BEGIN_DECLS

/* Reads `tshark -q -z follow,tcp,raw,N` output; node 0 is the client.
 * Fails with %BRAID_FIXTURE_ERROR_PARSE. */
BraidFixture *braid_fixture_from_tshark_follow (const gchar *text, const gchar *name,
                                                GError **error);

G_END_DECLS
