/* braid — fuzz target: the address policy's rule and port parsers
 * (src/proxy/address-policy.c).  Each input line is a rule: "+RULE"
 * allows, "-RULE" denies, "=PORTS" sets the ports (comma-separated);
 * then a few connections are checked.  A refused rule is an
 * INVALID_RULE error, a refused connection a FORBIDDEN one; nothing
 * crashes, asserts or leaks, and the loopback address stays refused
 * unless a rule allowed something. */
#include "address-policy.h"
#include "proxy-error.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, gsize size);

static gboolean
apply_line (BraidAddressPolicy *policy, const gchar *line)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (line[0] == '=')
    {
      g_auto(GStrv) ports = g_strsplit (line + 1, ",", -1);

      ok = braid_address_policy_set_ports (policy, (const gchar * const *) ports, &error);
    }
  else if (line[0] == '-')
    ok = braid_address_policy_deny (policy, line + 1, &error);
  else
    ok = braid_address_policy_allow (policy, line[0] == '+' ? line + 1 : line, &error);
  if (!ok)
    g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_INVALID_RULE);
  else
    g_assert_no_error (error);
  return ok && line[0] != '-' && line[0] != '=';
}

static void
check (BraidAddressPolicy *policy, const gchar *host, const gchar *address, guint16 port, gboolean must_refuse)
{
  g_autoptr(GInetAddress) parsed = g_inet_address_new_from_string (address);
  g_autoptr(GError) error = NULL;

  if (braid_address_policy_check (policy, host, parsed, port, &error))
    {
      g_assert_no_error (error);
      g_assert_false (must_refuse);
      return;
    }
  g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_auto(GStrv) lines = g_strsplit (text, "\n", 64);
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
  gboolean allowed_any = FALSE;

  for (guint i = 0; lines[i] != NULL; i++)
    allowed_any |= apply_line (policy, lines[i]);
  check (policy, NULL, "127.0.0.1", 80, !allowed_any);
  check (policy, "localhost", "::ffff:127.0.0.1", 8080, !allowed_any);
  check (policy, "Example.COM.", "93.184.216.34", 443, FALSE);
  check (policy, NULL, "fe80::1", 1, !allowed_any);
  return 0;
}
