/* braid — in-process components for replay. */
#include "replay-components.h"
#include "mc-server.h"

typedef struct {
  const gchar *name;
  BraidReplayServerFunc build;
} Component;

/* braid-memcached with memcached's defaults (-m 64 -I 1m -c 1024). */
static BraidProtocolFactory *
build_memcached (BraidReactor *reactor, gpointer data)
{
  g_autoptr(BraidMcServer) server = braid_mc_server_new (reactor, NULL);

  return braid_mc_server_create_factory (server);
}

static const Component components[] = {
  { "memcached", build_memcached },
  { NULL, NULL },
};

BraidReplayServerFunc
braid_replay_component_lookup (const gchar *name, GError **error)
{
  g_autoptr(GString) known = g_string_new (NULL);

  for (const Component *c = components; c->name != NULL; c++)
    {
      if (g_str_equal (c->name, name))
        return c->build;
      g_string_append_printf (known, "%s%s", known->len > 0 ? ", " : "", c->name);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "unknown component “%s” (known: %s)", name, known->len > 0 ? known->str : "none");
  return NULL;
}
