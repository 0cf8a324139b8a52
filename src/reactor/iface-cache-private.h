/* braid — remembering an instance's interface table per thread.
 *
 * GType's interface check and lookup (g_type_check_instance_is_a(),
 * g_type_interface_peek()) cost more than the socket transport's work for
 * a small reply, and the wrappers of an interface run several per
 * command.  Each wrapper file keeps the last class it saw on this thread
 * and that class's table; classes of static types live as long as the
 * process, so a class pointer seen once stays valid. */
#pragma once

#include <glib-object.h>

typedef struct
{
  gconstpointer klass;
  gpointer iface;
} BraidIfaceCache;

/* @instance's table of @iface_type, or NULL when it is NULL or does not
 * implement it. */
static inline gpointer
braid_iface_cache_peek (BraidIfaceCache *cache, gpointer instance, GType iface_type)
{
  gconstpointer klass;

  if (instance == NULL)
    return NULL;
  klass = ((GTypeInstance *) instance)->g_class;
  if (klass != cache->klass)
    {
      if (!G_TYPE_CHECK_INSTANCE_TYPE (instance, iface_type))
        return NULL;
      cache->iface = g_type_interface_peek ((gpointer) klass, iface_type);
      cache->klass = klass;
    }
  return cache->iface;
}

/* A per-thread cache, without a __tls_get_addr call per use. */
#define BRAID_IFACE_CACHE_DEFINE(name) \
  static _Thread_local BraidIfaceCache name __attribute__ ((tls_model ("initial-exec")))
