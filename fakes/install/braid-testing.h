/* braid — what tests of consumers include: #include <braid-testing.h>
 * (pkg-config braid-testing). */
#pragma once

#include <braid/braid-testing.h>
