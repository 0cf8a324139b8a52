/* braid examples — the shared main(): parse --listen, run the reactor. */
#pragma once

#include <braid.h>

int braid_example_run (int argc, char **argv,
                       const gchar *summary,
                       BraidProtocolFactory *factory);
