/* braid example — the upper-casing echo server.
 *
 *   braid-upper-server --listen tcp:10000 &
 *   echo hello | nc -q1 localhost 10000      # prints HELLO
 */
#include "example-main.h"
#include "upper-protocol.h"

int
main (int argc, char **argv)
{
  g_autoptr(BraidProtocolFactory) factory = braid_upper_factory_new ();

  return braid_example_run (argc, argv, "Echoes what clients send, upper-cased.", factory);
}
