/* braid — what consumers include: #include <braid.h> (pkg-config braid).
 * The headers themselves live in <braid/…>. */
#pragma once

#include <braid/braid.h>
