/* braid-proxy — the caching URL proxy.
 *
 * Settings, fetcher, cache and proxy are built in proxy-daemon.c; the
 * daemon plumbing (daemon.c) listens, runs, drains on SIGTERM and re-reads
 * the settings on SIGHUP. */
#include "proxy-daemon.h"

int
main (int argc, char **argv)
{
  return braid_daemon_main (&braid_proxy_service, argc, argv);
}
