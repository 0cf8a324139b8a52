/* braid example — prints what clients send on standard output.
 *
 *   braid-print-server --listen tcp:10000 &
 *   echo hello | nc -q1 localhost 10000      # the server prints hello
 */
#include "example-main.h"
#include "print-protocol.h"

#include <stdio.h>

static void
print_to_stdout (const guint8 *data, gsize len, gpointer user_data)
{
  fwrite (data, 1, len, stdout);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  g_autoptr(BraidProtocolFactory) factory = braid_print_factory_new (print_to_stdout, NULL);

  return braid_example_run (argc, argv, "Prints what clients send.", factory);
}
