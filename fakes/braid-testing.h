/* braid — the testing umbrella header: #include <braid-testing.h>
 * (pkg-config braid-testing). */
#pragma once

#include "braid.h"
#include "fake-reactor.h"
#include "fake-transport.h"
#include "fake-fetcher.h"
