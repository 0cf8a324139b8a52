/* braid — the umbrella header: #include <braid.h> (pkg-config braid). */
#pragma once

#include "reactor-error.h"
#include "delayed-call.h"
#include "endpoint.h"
#include "transport.h"
#include "protocol.h"
#include "reactor.h"
#include "line-receiver.h"
#include "glib-reactor.h"
#include "memcache-error.h"
