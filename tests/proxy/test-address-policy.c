/* braid — the address policy as a table: every built-in range at its
 * edges, IPv4-mapped forms, ports, allow over deny, host names, bad rules. */
#include "test-support.h"
#include "address-policy.h"
#include "proxy-error.h"

#include <string.h>

typedef struct {
  const gchar *allow;   /* (nullable): rules separated by spaces */
  const gchar *deny;    /* (nullable) */
  const gchar *ports;   /* (nullable): replaces the default ports */
  const gchar *host;    /* (nullable): the URL's host */
  const gchar *address;
  guint16 port;
  gboolean allowed;
  const gchar *why;     /* (nullable): a part of the refusal's message */
} Case;

static const Case cases[] = {
  /* Public addresses pass, on the default ports. */
  { NULL, NULL, NULL, NULL, "93.184.216.34", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "93.184.216.34", 443, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "93.184.216.34", 8080, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "2606:2800:220:1::248", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "192.0.2.1", 80, TRUE, NULL },
  /* Every built-in range, with its first and last address and the
   * addresses just outside. */
  { NULL, NULL, NULL, NULL, "0.0.0.0", 80, FALSE, "unspecified address (0.0.0.0/8)" },
  { NULL, NULL, NULL, NULL, "0.255.255.255", 80, FALSE, "unspecified" },
  { NULL, NULL, NULL, NULL, "1.0.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "127.0.0.1", 80, FALSE, "loopback address (127.0.0.0/8)" },
  { NULL, NULL, NULL, NULL, "127.255.255.255", 80, FALSE, "loopback" },
  { NULL, NULL, NULL, NULL, "126.255.255.255", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "128.0.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "10.0.0.0", 80, FALSE, "private address (10.0.0.0/8)" },
  { NULL, NULL, NULL, NULL, "10.255.255.255", 80, FALSE, "private" },
  { NULL, NULL, NULL, NULL, "11.0.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "172.16.0.0", 80, FALSE, "private address (172.16.0.0/12)" },
  { NULL, NULL, NULL, NULL, "172.31.255.255", 80, FALSE, "private" },
  { NULL, NULL, NULL, NULL, "172.15.255.255", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "172.32.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "192.168.0.1", 80, FALSE, "private address (192.168.0.0/16)" },
  { NULL, NULL, NULL, NULL, "192.168.255.255", 80, FALSE, "private" },
  { NULL, NULL, NULL, NULL, "192.169.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "100.64.0.0", 80, FALSE, "shared" },
  { NULL, NULL, NULL, NULL, "100.127.255.255", 80, FALSE, "shared" },
  { NULL, NULL, NULL, NULL, "100.128.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "169.254.169.254", 80, FALSE, "link-local address (169.254.0.0/16)" },
  { NULL, NULL, NULL, NULL, "169.254.0.0", 80, FALSE, "link-local" },
  { NULL, NULL, NULL, NULL, "169.255.0.0", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "224.0.0.1", 80, FALSE, "multicast address (224.0.0.0/4)" },
  { NULL, NULL, NULL, NULL, "239.255.255.255", 80, FALSE, "multicast" },
  { NULL, NULL, NULL, NULL, "223.255.255.255", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "240.0.0.1", 80, FALSE, "reserved" },
  { NULL, NULL, NULL, NULL, "255.255.255.255", 80, FALSE, "reserved" },
  { NULL, NULL, NULL, NULL, "::", 80, FALSE, "unspecified address (::/128)" },
  { NULL, NULL, NULL, NULL, "::1", 80, FALSE, "loopback address (::1/128)" },
  { NULL, NULL, NULL, NULL, "::2", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "fe80::1", 80, FALSE, "link-local address (fe80::/10)" },
  { NULL, NULL, NULL, NULL, "febf:ffff::1", 80, FALSE, "link-local" },
  { NULL, NULL, NULL, NULL, "fec0::1", 80, FALSE, "site-local" },
  { NULL, NULL, NULL, NULL, "fc00::1", 80, FALSE, "private address (fc00::/7)" },
  { NULL, NULL, NULL, NULL, "fdff:ffff::1", 80, FALSE, "private" },
  { NULL, NULL, NULL, NULL, "fbff:ffff::1", 80, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "ff02::1", 80, FALSE, "multicast address (ff00::/8)" },
  /* IPv4-mapped IPv6 addresses are checked as the IPv4 address. */
  { NULL, NULL, NULL, NULL, "::ffff:127.0.0.1", 80, FALSE, "refused to connect to 127.0.0.1 port 80: loopback" },
  { NULL, NULL, NULL, NULL, "::ffff:10.1.2.3", 80, FALSE, "private" },
  { NULL, NULL, NULL, NULL, "::ffff:169.254.169.254", 80, FALSE, "link-local" },
  { NULL, NULL, NULL, NULL, "::ffff:0.0.0.0", 80, FALSE, "unspecified" },
  { NULL, NULL, NULL, NULL, "::ffff:224.0.0.1", 80, FALSE, "multicast" },
  { NULL, NULL, NULL, NULL, "::ffff:192.168.1.1", 80, FALSE, "private" },
  { NULL, NULL, NULL, NULL, "::ffff:93.184.216.34", 80, TRUE, NULL },
  { "127.0.0.1", NULL, NULL, NULL, "::ffff:127.0.0.1", 80, TRUE, NULL },
  { "::ffff:127.0.0.1", NULL, NULL, NULL, "127.0.0.1", 80, TRUE, NULL },
  { "::ffff:10.0.0.0/104", NULL, NULL, NULL, "10.9.9.9", 80, TRUE, NULL },
  { NULL, "::ffff:93.184.216.0/120", NULL, NULL, "93.184.216.34", 80, FALSE, "denied by the rule" },
  /* Ports: 80, 443 and 1024-65535 by default. */
  { NULL, NULL, NULL, NULL, "93.184.216.34", 25, FALSE, "the port is not allowed" },
  { NULL, NULL, NULL, NULL, "93.184.216.34", 22, FALSE, "port 22" },
  { NULL, NULL, NULL, NULL, "93.184.216.34", 1023, FALSE, "not allowed" },
  { NULL, NULL, NULL, NULL, "93.184.216.34", 1024, TRUE, NULL },
  { NULL, NULL, NULL, NULL, "93.184.216.34", 65535, TRUE, NULL },
  { NULL, NULL, "8000-8999 443", NULL, "93.184.216.34", 80, FALSE, "port" },
  { NULL, NULL, "8000-8999 443", NULL, "93.184.216.34", 8500, TRUE, NULL },
  { NULL, NULL, "8000-8999 443", NULL, "93.184.216.34", 9000, FALSE, "port" },
  { NULL, NULL, "8000-8999 443", NULL, "93.184.216.34", 443, TRUE, NULL },
  { NULL, NULL, "", NULL, "93.184.216.34", 443, FALSE, "port" },
  /* An allow rule wins over the built-in ranges and over --deny. */
  { "127.0.0.1", NULL, NULL, NULL, "127.0.0.1", 8080, TRUE, NULL },
  { "127.0.0.1", NULL, NULL, NULL, "127.0.0.2", 8080, FALSE, "loopback" },
  { "127.0.0.0/8", NULL, NULL, NULL, "127.9.9.9", 8080, TRUE, NULL },
  { "10.0.0.0/8", "10.1.0.0/16", NULL, NULL, "10.1.2.3", 80, TRUE, NULL },
  { "::1", NULL, NULL, NULL, "::1", 8080, TRUE, NULL },
  { "fc00::/7", NULL, NULL, NULL, "fd12::1", 80, TRUE, NULL },
  /* ... but not over the port list, unless it names the port. */
  { "127.0.0.1", NULL, NULL, NULL, "127.0.0.1", 22, FALSE, "port" },
  { "127.0.0.1:22", NULL, NULL, NULL, "127.0.0.1", 22, TRUE, NULL },
  { "127.0.0.1:8080", NULL, NULL, NULL, "127.0.0.1", 8081, FALSE, "loopback" },
  { "[::1]:8080", NULL, NULL, NULL, "::1", 8080, TRUE, NULL },
  { "[::1]:8080", NULL, NULL, NULL, "::1", 8081, FALSE, "loopback" },
  { "[fc00::/7]:8080", NULL, NULL, NULL, "fd00::5", 8080, TRUE, NULL },
  { "93.184.216.34:25", NULL, NULL, NULL, "93.184.216.34", 25, TRUE, NULL },
  /* Deny rules of one's own, with or without a port. */
  { NULL, "93.184.216.0/24", NULL, NULL, "93.184.216.34", 80, FALSE, "denied by the rule 93.184.216.0/24" },
  { NULL, "93.184.216.34:8080", NULL, NULL, "93.184.216.34", 8080, FALSE, "denied" },
  { NULL, "93.184.216.34:8080", NULL, NULL, "93.184.216.34", 80, TRUE, NULL },
  { NULL, "0.0.0.0/0 ::/0", NULL, NULL, "8.8.8.8", 443, FALSE, "denied by the rule 0.0.0.0/0" },
  { "8.8.8.8", "0.0.0.0/0 ::/0", NULL, NULL, "8.8.8.8", 443, TRUE, NULL },
  { NULL, "0.0.0.0/0 ::/0", NULL, NULL, "2001:db8::1", 443, FALSE, "::/0" },
  /* Host names: matched against the URL's host, without case and trailing dot. */
  { "internal.example", NULL, NULL, "internal.example", "10.0.0.5", 80, TRUE, NULL },
  { "internal.example", NULL, NULL, "INTERNAL.Example.", "10.0.0.5", 80, TRUE, NULL },
  { "internal.example", NULL, NULL, "other.example", "10.0.0.5", 80, FALSE,
    "refused to connect to other.example (10.0.0.5) port 80: private" },
  { "internal.example", NULL, NULL, NULL, "10.0.0.5", 80, FALSE, "private" },
  { "internal.example:8443", NULL, NULL, "internal.example", "10.0.0.5", 8443, TRUE, NULL },
  { "internal.example:8443", NULL, NULL, "internal.example", "10.0.0.5", 443, FALSE, "private" },
  { NULL, "evil.example", NULL, "evil.example", "93.184.216.34", 80, FALSE, "denied by the rule evil.example" },
  { NULL, "evil.example", NULL, "good.example", "93.184.216.34", 80, TRUE, NULL },
  /* A trailing dot is dropped from a name of two characters too ("a." is
   * "a"); a lone "." is not a name. */
  { "a.", NULL, NULL, "A", "10.0.0.5", 80, TRUE, NULL },
  { "a", NULL, NULL, "a.", "10.0.0.5", 80, TRUE, NULL },
  { "a", NULL, NULL, ".", "10.0.0.5", 80, FALSE, "refused to connect to . (10.0.0.5)" },
  /* Prefix lengths at their ends: /32 and /128 are one address, /0 all of
   * a family and none of the other. */
  { "127.0.0.1/32", NULL, NULL, NULL, "127.0.0.1", 80, TRUE, NULL },
  { "127.0.0.1/32", NULL, NULL, NULL, "127.0.0.0", 80, FALSE, "loopback" },
  { "127.0.0.0/31", NULL, NULL, NULL, "127.0.0.1", 80, TRUE, NULL },
  { "127.0.0.0/31", NULL, NULL, NULL, "127.0.0.2", 80, FALSE, "loopback" },
  { "::1/128", NULL, NULL, NULL, "::1", 80, TRUE, NULL },
  { "::1/128", NULL, NULL, NULL, "::", 80, FALSE, "unspecified" },
  { "0.0.0.0/0", NULL, NULL, NULL, "255.255.255.255", 80, TRUE, NULL },
  { "0.0.0.0/0", NULL, NULL, NULL, "::1", 80, FALSE, "loopback" },
  { "::/0", NULL, NULL, NULL, "ff02::1", 80, TRUE, NULL },
  { "::/0", NULL, NULL, NULL, "127.0.0.1", 80, FALSE, "loopback" },
  /* A mapped rule of /96 is IPv4's /0; one shorter stays an IPv6 rule,
   * which no (unmapped) IPv4 address matches. */
  { NULL, "::ffff:0.0.0.0/96", NULL, NULL, "93.184.216.34", 80, FALSE, "denied by the rule ::ffff:0.0.0.0/96" },
  { NULL, "::ffff:0.0.0.0/96", NULL, NULL, "2606:2800:220:1::248", 80, TRUE, NULL },
  { NULL, "::/95", NULL, NULL, "93.184.216.34", 80, TRUE, NULL },
  { NULL, "::/95", NULL, NULL, "::ffff:93.184.216.34", 80, TRUE, NULL },
  { NULL, "::/95", NULL, NULL, "::2", 80, FALSE, "denied by the rule ::/95" },
  { NULL, "::ffff:93.184.216.34/128", NULL, NULL, "93.184.216.34", 80, FALSE, "denied" },
  { NULL, "::ffff:93.184.216.34/128", NULL, NULL, "93.184.216.35", 80, TRUE, NULL },
  /* Brackets without a port, and around an IPv4 address. */
  { "[::1]", NULL, NULL, NULL, "::1", 8080, TRUE, NULL },
  { "[127.0.0.1]:8080", NULL, NULL, NULL, "127.0.0.1", 8080, TRUE, NULL },
  { "[127.0.0.1]:8080", NULL, NULL, NULL, "127.0.0.1", 8081, FALSE, "loopback" },
  { "[internal.example]:8080", NULL, NULL, "internal.example", "10.0.0.5", 8080, TRUE, NULL },
  /* The port list at its ends; the first and the last range count. */
  { NULL, NULL, "1-65535", NULL, "93.184.216.34", 1, TRUE, NULL },
  { NULL, NULL, "1", NULL, "93.184.216.34", 2, FALSE, "port 2" },
  { NULL, NULL, "65535", NULL, "93.184.216.34", 65535, TRUE, NULL },
  { NULL, NULL, "65535", NULL, "93.184.216.34", 65534, FALSE, "not allowed" },
  { NULL, NULL, "7 8-9 10", NULL, "93.184.216.34", 7, TRUE, NULL },
  { NULL, NULL, "7 8-9 10", NULL, "93.184.216.34", 10, TRUE, NULL },
  { NULL, NULL, "7 8-9 10", NULL, "93.184.216.34", 11, FALSE, "port" },
  { NULL, NULL, "8-8", NULL, "93.184.216.34", 8, TRUE, NULL },
  /* A rule for every port allows the address, and a later rule naming the
   * port still lifts the port list. */
  { "127.0.0.1 127.0.0.1:22", NULL, NULL, NULL, "127.0.0.1", 22, TRUE, NULL },
  /* The first matching deny rule is named. */
  { NULL, "93.184.216.0/24 93.184.216.34", NULL, NULL, "93.184.216.34", 80, FALSE, "rule 93.184.216.0/24" },
  { NULL, "93.184.216.35 93.184.216.34", NULL, NULL, "93.184.216.34", 80, FALSE, "rule 93.184.216.34" },
  /* A host that resolves to a denied address is refused as the address is. */
  { NULL, NULL, NULL, "localtest.me", "127.0.0.1", 80, FALSE, "localtest.me (127.0.0.1)" },
  { NULL, NULL, NULL, "2130706433", "127.0.0.1", 80, FALSE, "loopback" },
};

static gboolean
add_rules (BraidAddressPolicy *policy, const gchar *rules, gboolean allow, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (rules != NULL ? rules : "", " ", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (*parts[i] == '\0')
        continue;
      if (!(allow ? braid_address_policy_allow (policy, parts[i], error)
                  : braid_address_policy_deny (policy, parts[i], error)))
        return FALSE;
    }
  return TRUE;
}

static void
test_table (void)
{
  g_test_summary ("Each row: rules, a connection (host, address, port), and whether it is allowed and why not");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (c->address);
      g_autoptr(GError) error = NULL;
      gboolean allowed;

      g_test_message ("row %" G_GSIZE_FORMAT ": allow “%s” deny “%s” ports “%s”: %s %s port %u", i,
                      c->allow ? c->allow : "", c->deny ? c->deny : "", c->ports ? c->ports : "(default)",
                      c->host ? c->host : "-", c->address, c->port);
      g_assert_nonnull (address);
      g_assert_true (add_rules (policy, c->allow, TRUE, &error));
      g_assert_true (add_rules (policy, c->deny, FALSE, &error));
      if (c->ports != NULL)
        {
          g_auto(GStrv) ports = g_strsplit (c->ports, " ", -1);
          g_auto(GStrv) none = g_new0 (gchar *, 1);

          g_assert_true (braid_address_policy_set_ports (policy, (const gchar * const *) (*c->ports ? ports : none),
                                                         &error));
        }
      g_assert_no_error (error);
      allowed = braid_address_policy_check (policy, c->host, address, c->port, &error);
      if (c->allowed)
        {
          g_assert_no_error (error);
          g_assert_true (allowed);
          continue;
        }
      g_assert_false (allowed);
      g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN);
      g_test_message ("  %s", error->message);
      if (strstr (error->message, c->why) == NULL)
        g_error ("row %" G_GSIZE_FORMAT ": expected “%s” in the refusal but saw “%s”", i, c->why, error->message);
    }
}

static void
test_bad_rules (void)
{
  static const gchar *bad[] = {
    "", "10.0.0.1/8", "10.0.0.0/33", "fc00::/129", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http",
    "[::1", "[::1]8080", "[::1]:", "host name", "-host", ".host", "a/b", "10.0.0.0/8:x", "ho$t",
  };
  static const gchar *bad_ports[] = { "0", "65536", "2000-1000", "http", "80-", "-80", "" };

  g_test_summary ("Rules and port ranges that mean nothing are refused with BRAID_PROXY_ERROR_INVALID_RULE");
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
      g_autoptr(GError) error = NULL;

      g_test_message ("rule “%s”", bad[i]);
      g_assert_false (braid_address_policy_allow (policy, bad[i], &error));
      g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_INVALID_RULE);
      g_clear_error (&error);
      g_assert_false (braid_address_policy_deny (policy, bad[i], &error));
      g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_INVALID_RULE);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_ports); i++)
    {
      g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string ("93.184.216.34");
      const gchar *ports[] = { "8080", bad_ports[i], NULL };

      g_test_message ("ports “%s”", bad_ports[i]);
      g_assert_false (braid_address_policy_set_ports (policy, ports, &error));
      g_assert_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_INVALID_RULE);
      /* The policy is unchanged: port 80 is still allowed. */
      g_assert_true (braid_address_policy_check (policy, NULL, address, 80, NULL));
    }
}

static void
test_message_depends_on_address_only (void)
{
  g_autoptr(BraidAddressPolicy) policy = braid_address_policy_new ();
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr(GError) first = NULL;
  g_autoptr(GError) second = NULL;

  g_test_summary ("Two refusals of one address and port read the same: nothing about the target leaks");
  g_assert_false (braid_address_policy_check (policy, "127.0.0.1", address, 8080, &first));
  g_assert_false (braid_address_policy_check (policy, "127.0.0.1", address, 8080, &second));
  g_assert_cmpstr (first->message, ==, second->message);
  g_assert_cmpstr (first->message, ==,
                   "refused to connect to 127.0.0.1 port 8080: loopback address (127.0.0.0/8), "
                   "denied unless allowed (see --allow)");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/address-policy/table", test_table);
  g_test_add_func ("/proxy/address-policy/bad-rules", test_bad_rules);
  g_test_add_func ("/proxy/address-policy/message", test_message_depends_on_address_only);
  return g_test_run ();
}
