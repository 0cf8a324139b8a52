/* braid — which upstream addresses the proxy may connect to.
 *
 * Sans-IO: a policy is a list of rules, and checking a connection is a
 * pure function of the rules and of (host, address, port); nothing is
 * resolved or connected here.  The fetchers call
 * braid_address_policy_check() on the resolved address of every
 * connection they are about to open, redirects included, so a host name
 * that resolves to 127.0.0.1 is refused as 127.0.0.1 is.
 *
 * A connection is refused when its port is not allowed, or when its
 * address matches a deny rule (the built-in ranges, or one added with
 * braid_address_policy_deny()) and no allow rule.  An allow rule wins over
 * every deny rule; an allow rule that names a port also wins over the port
 * list, for that port.  IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are
 * checked as the IPv4 address they carry. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BraidAddressPolicy BraidAddressPolicy;

#define BRAID_TYPE_ADDRESS_POLICY (braid_address_policy_get_type ())
GType braid_address_policy_get_type (void);

/* The default policy: deny unspecified (0.0.0.0/8, ::), loopback
 * (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7,
 * fec0::/10), shared (100.64/10), link-local (169.254/16, fe80::/10),
 * multicast (224/4, ff00::/8) and reserved (240/4, with 255.255.255.255);
 * allow the ports 80, 443 and 1024-65535. */
BraidAddressPolicy *braid_address_policy_new (void);
BraidAddressPolicy *braid_address_policy_ref (BraidAddressPolicy *self);
void braid_address_policy_unref (BraidAddressPolicy *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidAddressPolicy, braid_address_policy_unref)

/* Adds a rule.  @rule is an address range "ADDRESS/PREFIX", an address
 * "ADDRESS" or a host name "HOST" (matched against the URL's host, without
 * case), each optionally followed by ":PORT" (IPv6 in brackets:
 * "[::1]:8080").  Without a port the rule holds for every port.  Errors
 * in BRAID_PROXY_ERROR (INVALID_RULE). */
gboolean braid_address_policy_allow (BraidAddressPolicy *self, const gchar *rule, GError **error);
gboolean braid_address_policy_deny (BraidAddressPolicy *self, const gchar *rule, GError **error);

/* Replaces the allowed ports with @ports (nullable), each "PORT" or
 * "LOW-HIGH"; none at all leaves only the ports allow rules name.
 * Errors in BRAID_PROXY_ERROR (INVALID_RULE); @self is unchanged then.
 * Rules and ports are set up before the policy is shared: checking is
 * read-only, adding is not thread-safe. */
gboolean braid_address_policy_set_ports (BraidAddressPolicy *self, const gchar * const *ports, GError **error);

/* Whether a connection to @address port @port, for a URL whose host is
 * @host (nullable), may be opened.  When not, @error is set in
 * BRAID_PROXY_ERROR (FORBIDDEN) with a message that names the address and
 * the rule, and depends on nothing else. */
gboolean braid_address_policy_check (BraidAddressPolicy *self, const gchar *host, GInetAddress *address,
                                     guint16 port, GError **error);

G_END_DECLS
