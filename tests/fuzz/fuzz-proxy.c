/* braid — fuzz target: the caching proxy's request path (src/proxy) with
 * the fake fetcher and a memory cache on the fake reactor.
 *
 * Input: byte 0 is the chunk length the client's bytes arrive in (1–31,
 * or all at once for 0), byte 1 how far the clock moves between chunks;
 * the rest is what the client sends ("URL\n" lines, normally).  Whatever
 * it sends, once it hangs up and the timers run out the proxy is idle,
 * no fetch is left active and no timer is left pending. */
#include "proxy.h"
#include "memory-cache.h"
#include "fake-fetcher.h"
#include "fake-reactor.h"
#include "fake-transport.h"
#include "proxy-error.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

static void
add_upstreams (BraidFakeFetcher *fetcher)
{
  g_autoptr(GBytes) small = g_bytes_new_static ("hello\n", 6);
  g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (20000), 20000);
  g_autoptr(GError) down = g_error_new_literal (BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "down");

  braid_fake_fetcher_add (fetcher, "http://a.example/", 200, small, 1000, 0, 0);
  braid_fake_fetcher_add (fetcher, "http://a.example/slow", 200, small, 3 * G_USEC_PER_SEC, 0, 0);
  braid_fake_fetcher_add (fetcher, "http://b.example/big", 200, big, 1000, 4096, 1000);
  braid_fake_fetcher_add (fetcher, "http://c.example/404", 404, small, 500, 0, 0);
  braid_fake_fetcher_add_error (fetcher, "http://down.example/", down, 2000);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  g_autoptr(BraidFakeReactor) fake = NULL;
  g_autoptr(BraidFakeFetcher) fetcher = NULL;
  g_autoptr(BraidMemoryCache) cache = NULL;
  g_autoptr(BraidProxy) proxy = NULL;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  g_autoptr(BraidFakeTransport) transport = NULL;
  BraidProxySettings settings = BRAID_PROXY_SETTINGS_INIT;
  gsize chunk, offset = 2;
  gint64 step;

  if (size < 2)
    return 0;
  chunk = data[0] % 32;
  step = (gint64) data[1] * 1000;  /* 0 to 255 ms */
  fake = braid_fake_reactor_new (1);
  fetcher = braid_fake_fetcher_new (BRAID_REACTOR (fake));
  add_upstreams (fetcher);
  cache = braid_memory_cache_new (BRAID_REACTOR (fake), 64 * 1024, 8 * 1024);
  settings.max_line = 512;
  settings.max_body = 16 * 1024;
  settings.client_buffer_limit = 8 * 1024;
  settings.read_chunk = 4096;
  proxy = braid_proxy_new (BRAID_REACTOR (fake), BRAID_FETCHER (fetcher), BRAID_CACHE (cache), &settings);
  factory = braid_proxy_create_factory (proxy);
  protocol = braid_protocol_factory_build_protocol (factory, NULL);
  transport = braid_fake_transport_new ();
  braid_fake_transport_attach (transport, protocol);

  while (offset < size && !braid_fake_transport_is_disconnecting (transport))
    {
      gsize n = chunk == 0 ? size - offset : MIN (chunk, size - offset);

      braid_protocol_data_received (protocol, data + offset, n);
      braid_fake_reactor_run_until_idle (fake);
      if (step > 0)
        braid_fake_reactor_advance (fake, step);
      offset += n;
    }
  if (!braid_fake_transport_is_disconnecting (transport))
    braid_fake_transport_close_from_peer (transport, NULL);
  braid_fake_reactor_run_until_idle (fake);
  braid_fake_reactor_run_all_timers (fake, (gint64) 3600 * G_USEC_PER_SEC);
  if (braid_proxy_is_busy (proxy))
    g_error ("the proxy is still busy after its client hung up and an hour passed");
  g_assert_cmpuint (braid_fake_fetcher_get_n_active (fetcher), ==, 0);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (fake), ==, 0);
  g_clear_object (&proxy);
  g_clear_object (&cache);
  g_clear_object (&fetcher);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
