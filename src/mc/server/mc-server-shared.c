/* braid — the state one braid-memcached's connections share. */
#include "mc-server-shared-private.h"

BraidMcServerShared *
braid_mc_server_shared_new (BraidReactor *reactor, const BraidMcServerSettings *settings)
{
  BraidMcServerShared *shared = g_new0 (BraidMcServerShared, 1);
  BraidMcServerSettings defaults = BRAID_MC_SERVER_SETTINGS_INIT;

  g_atomic_ref_count_init (&shared->ref_count);
  shared->settings = settings != NULL ? *settings : defaults;
  shared->settings.ssl_chain_cert = g_strdup (shared->settings.ssl_chain_cert);
  shared->settings.ssl_key = g_strdup (shared->settings.ssl_key);
  shared->store = braid_mc_store_new (reactor, &shared->settings.store);
  shared->counters.started_us = braid_reactor_now (reactor);
  return shared;
}

BraidMcServerShared *
braid_mc_server_shared_ref (BraidMcServerShared *shared)
{
  g_return_val_if_fail (shared != NULL, NULL);
  g_atomic_ref_count_inc (&shared->ref_count);
  return shared;
}

void
braid_mc_server_shared_unref (BraidMcServerShared *shared)
{
  g_return_if_fail (shared != NULL);
  if (!g_atomic_ref_count_dec (&shared->ref_count))
    return;
  braid_mc_store_free (shared->store);
  g_free ((gchar *) shared->settings.ssl_chain_cert);
  g_free ((gchar *) shared->settings.ssl_key);
  g_free (shared);
}
