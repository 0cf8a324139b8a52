/* braid-memcached — a memcached-compatible cache server.
 *
 * Settings (memcached-daemon.c) come from defaults, then the configuration
 * file, then the command line; the daemon plumbing (daemon.c) listens,
 * runs, drains on SIGTERM and re-reads both sources on SIGHUP. */
#include "memcached-daemon.h"

int
main (int argc, char **argv)
{
  return braid_daemon_main (&braid_memcached_service, argc, argv);
}
