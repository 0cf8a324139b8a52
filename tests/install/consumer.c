/* A program outside the braid tree, built against the installed libbraid
 * and libbraid-testing with pkg-config, as another GLib project would. */
#include <braid.h>
#include <braid-testing.h>

int
main (void)
{
  g_autoptr(BraidFakeReactor) fake = braid_fake_reactor_new (42);
  g_autoptr(BraidGlibReactor) real = braid_glib_reactor_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidEndpoint) endpoint = braid_endpoint_parse ("tcp:11211:interface=127.0.0.1",
                                                            BRAID_ENDPOINT_ROLE_SERVER, &error);

  if (endpoint == NULL)
    return 1;
  braid_fake_reactor_advance (fake, G_USEC_PER_SEC);
  g_print ("fake now %" G_GINT64_FORMAT " µs; real reactor %s; endpoint %s\n",
           braid_reactor_now (BRAID_REACTOR (fake)),
           BRAID_IS_REACTOR (real) ? "ok" : "missing",
           braid_endpoint_to_string (endpoint));
  return braid_reactor_now (BRAID_REACTOR (fake)) == G_USEC_PER_SEC ? 0 : 1;
}
