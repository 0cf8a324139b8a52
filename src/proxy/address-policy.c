/* braid — the address policy: rules, and the check of one connection.
 *
 * Rules are kept in the order given; the built-in deny ranges come after
 * the user's deny rules, so a refusal names the user's rule when both
 * match. */
#include "address-policy.h"
#include "proxy-error.h"

#include <string.h>

typedef struct {
  GInetAddressMask *mask;  /* (owned) (nullable): an address rule */
  gchar *host;             /* (owned) (nullable): a host-name rule, lower case, no trailing dot */
  guint16 port;            /* 0: every port */
  gchar *text;             /* (owned): as written, for messages */
  const gchar *kind;       /* (nullable): "loopback", … for a built-in range */
} Rule;

typedef struct {
  guint16 low, high;
} PortRange;

struct _BraidAddressPolicy
{
  gatomicrefcount ref_count;
  GArray *allow;           /* (element-type Rule) */
  GArray *deny;            /* (element-type Rule): the user's rules */
  GArray *builtin;         /* (element-type Rule): the default ranges */
  GArray *ports;           /* (element-type PortRange) */
};

G_DEFINE_BOXED_TYPE (BraidAddressPolicy, braid_address_policy, braid_address_policy_ref, braid_address_policy_unref)

/* What is refused unless allowed.  0.0.0.0/8 is in because Linux
 * connects 0.0.0.0 to the local host; 100.64/10 because cloud metadata
 * services live there too (Alibaba's 100.100.100.200). */
static const struct {
  const gchar *range;
  const gchar *kind;
} builtin_ranges[] = {
  { "0.0.0.0/8", "unspecified" },
  { "127.0.0.0/8", "loopback" },
  { "10.0.0.0/8", "private" },
  { "172.16.0.0/12", "private" },
  { "192.168.0.0/16", "private" },
  { "100.64.0.0/10", "shared (carrier-grade NAT)" },
  { "169.254.0.0/16", "link-local" },
  { "224.0.0.0/4", "multicast" },
  { "240.0.0.0/4", "reserved" },
  { "::/128", "unspecified" },
  { "::1/128", "loopback" },
  { "fc00::/7", "private" },
  { "fec0::/10", "private (site-local)" },
  { "fe80::/10", "link-local" },
  { "ff00::/8", "multicast" },
};

static const PortRange default_ports[] = { { 80, 80 }, { 443, 443 }, { 1024, 65535 } };

static void
rule_clear (Rule *rule)
{
  g_clear_object (&rule->mask);
  g_clear_pointer (&rule->host, g_free);
  g_clear_pointer (&rule->text, g_free);
}

static gboolean
invalid (GError **error, const gchar *rule, const gchar *why)
{
  g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_INVALID_RULE, "“%s”: %s", rule, why);
  return FALSE;
}

/* ---- addresses ---- */

/* ::ffff:a.b.c.d → a.b.c.d (transfer full); any other address itself. */
static GInetAddress *
unmap_ipv4 (GInetAddress *address)
{
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const guint8 *bytes = g_inet_address_to_bytes (address);

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
      memcmp (bytes, mapped_prefix, sizeof mapped_prefix) == 0)
    return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  return g_object_ref (address);
}

/* A rule written for mapped addresses (::ffff:10.0.0.0/104) is the IPv4
 * rule it means, since checked addresses are unmapped first. */
static GInetAddressMask *
unmap_mask (GInetAddressMask *mask)
{
  g_autoptr(GInetAddress) plain = unmap_ipv4 (g_inet_address_mask_get_address (mask));
  guint length = g_inet_address_mask_get_length (mask);

  if (g_inet_address_get_family (plain) == g_inet_address_mask_get_family (mask) || length < 96)
    return g_object_ref (mask);
  return g_inet_address_mask_new (plain, length - 96, NULL);
}

/* "ADDRESS/PREFIX" or "ADDRESS"; NULL without an error when @target is
 * not an address at all (a host name). */
static GInetAddressMask *
parse_mask (const gchar *target, GError **error)
{
  const gchar *slash = strchr (target, '/');
  g_autofree gchar *text = slash != NULL ? g_strndup (target, (gsize) (slash - target)) : g_strdup (target);
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);
  g_autoptr(GInetAddressMask) mask = NULL;
  guint bits;
  guint64 length;

  if (address == NULL)
    return NULL;
  bits = (guint) g_inet_address_get_native_size (address) * 8;
  length = bits;
  /* GInetAddressMask warns rather than fails on a length out of range. */
  if (slash != NULL && !g_ascii_string_to_unsigned (slash + 1, 10, 0, bits, &length, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "the prefix must be from 0 to %u", bits);
      return NULL;
    }
  mask = g_inet_address_mask_new (address, (guint) length, error);
  return mask != NULL ? unmap_mask (mask) : NULL;
}

/* ---- rule text ---- */

static gboolean
parse_port (const gchar *text, guint16 *port)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &value, NULL))
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

/* "TARGET", "TARGET:PORT" or "[TARGET]:PORT" → TARGET and PORT (0: none).
 * A bare IPv6 address has several colons and no port. */
static gboolean
split_port (const gchar *rule, gchar **target, guint16 *port, GError **error)
{
  const gchar *colon = strrchr (rule, ':');
  const gchar *rest;

  *port = 0;
  if (rule[0] == '[')
    {
      const gchar *close = strchr (rule, ']');

      if (close == NULL)
        return invalid (error, rule, "no “]” after “[”");
      rest = close + 1;
      if (*rest != '\0' && (*rest != ':' || !parse_port (rest + 1, port)))
        return invalid (error, rule, "expected “:PORT” (1 to 65535) after “]”");
      *target = g_strndup (rule + 1, (gsize) (close - rule - 1));
      return TRUE;
    }
  if (colon == NULL || strchr (rule, ':') != colon)
    {
      *target = g_strdup (rule);
      return TRUE;
    }
  if (!parse_port (colon + 1, port))
    return invalid (error, rule, "the port must be from 1 to 65535");
  *target = g_strndup (rule, (gsize) (colon - rule));
  return TRUE;
}

/* Lower case, without the trailing dot of a fully qualified name. */
static gchar *
normalize_host (const gchar *host)
{
  gchar *out = g_ascii_strdown (host, -1);
  gsize len = strlen (out);

  if (len > 1 && out[len - 1] == '.')
    out[len - 1] = '\0';
  return out;
}

static gboolean
valid_host_name (const gchar *name)
{
  if (*name == '\0' || *name == '.' || *name == '-')
    return FALSE;
  for (const gchar *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
parse_rule (const gchar *text, Rule *rule, GError **error)
{
  g_autofree gchar *target = NULL;
  g_autoptr(GError) mask_error = NULL;

  memset (rule, 0, sizeof *rule);
  if (text == NULL || *text == '\0')
    return invalid (error, "", "empty rule");
  if (!split_port (text, &target, &rule->port, error))
    return FALSE;
  rule->mask = parse_mask (target, &mask_error);
  if (mask_error != NULL)
    return invalid (error, text, mask_error->message);
  if (rule->mask == NULL)
    {
      if (!valid_host_name (target))
        return invalid (error, text, "not an address, ADDRESS/PREFIX or host name");
      rule->host = normalize_host (target);
    }
  rule->text = g_strdup (text);
  return TRUE;
}

static gboolean
rule_matches (const Rule *rule, const gchar *host, GInetAddress *address, guint16 port)
{
  if (rule->port != 0 && rule->port != port)
    return FALSE;
  if (rule->mask != NULL)
    return g_inet_address_mask_matches (rule->mask, address);
  return host != NULL && g_str_equal (rule->host, host);
}

/* ---- the policy ---- */

static GArray *
rule_array_new (void)
{
  GArray *rules = g_array_new (FALSE, TRUE, sizeof (Rule));

  g_array_set_clear_func (rules, (GDestroyNotify) rule_clear);
  return rules;
}

BraidAddressPolicy *
braid_address_policy_new (void)
{
  BraidAddressPolicy *self = g_new0 (BraidAddressPolicy, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->allow = rule_array_new ();
  self->deny = rule_array_new ();
  self->builtin = rule_array_new ();
  self->ports = g_array_new (FALSE, FALSE, sizeof (PortRange));
  g_array_append_vals (self->ports, default_ports, G_N_ELEMENTS (default_ports));
  for (gsize i = 0; i < G_N_ELEMENTS (builtin_ranges); i++)
    {
      Rule rule;

      if (!parse_rule (builtin_ranges[i].range, &rule, NULL))
        g_assert_not_reached ();
      rule.kind = builtin_ranges[i].kind;
      g_array_append_val (self->builtin, rule);
    }
  return self;
}

BraidAddressPolicy *
braid_address_policy_ref (BraidAddressPolicy *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
braid_address_policy_unref (BraidAddressPolicy *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_array_unref (self->allow);
  g_array_unref (self->deny);
  g_array_unref (self->builtin);
  g_array_unref (self->ports);
  g_free (self);
}

static gboolean
add_rule (GArray *rules, const gchar *text, GError **error)
{
  Rule rule;

  if (!parse_rule (text, &rule, error))
    return FALSE;
  g_array_append_val (rules, rule);
  return TRUE;
}

gboolean
braid_address_policy_allow (BraidAddressPolicy *self, const gchar *rule, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return add_rule (self->allow, rule, error);
}

gboolean
braid_address_policy_deny (BraidAddressPolicy *self, const gchar *rule, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return add_rule (self->deny, rule, error);
}

static gboolean
parse_port_range (const gchar *text, PortRange *range)
{
  const gchar *dash = strchr (text, '-');
  g_autofree gchar *low = dash != NULL ? g_strndup (text, (gsize) (dash - text)) : g_strdup (text);

  if (!parse_port (low, &range->low))
    return FALSE;
  if (dash == NULL)
    range->high = range->low;
  else if (!parse_port (dash + 1, &range->high))
    return FALSE;
  return range->low <= range->high;
}

gboolean
braid_address_policy_set_ports (BraidAddressPolicy *self, const gchar * const *ports, GError **error)
{
  g_autoptr(GArray) ranges = g_array_new (FALSE, FALSE, sizeof (PortRange));

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; ports != NULL && ports[i] != NULL; i++)
    {
      PortRange range;

      if (!parse_port_range (ports[i], &range))
        return invalid (error, ports[i], "expected PORT or LOW-HIGH, ports from 1 to 65535");
      g_array_append_val (ranges, range);
    }
  g_array_unref (self->ports);
  self->ports = g_steal_pointer (&ranges);
  return TRUE;
}

static gboolean
port_allowed (BraidAddressPolicy *self, guint16 port)
{
  for (guint i = 0; i < self->ports->len; i++)
    {
      const PortRange *range = &g_array_index (self->ports, PortRange, i);

      if (port >= range->low && port <= range->high)
        return TRUE;
    }
  return FALSE;
}

static const Rule *
first_match (GArray *rules, const gchar *host, GInetAddress *address, guint16 port)
{
  for (guint i = 0; i < rules->len; i++)
    if (rule_matches (&g_array_index (rules, Rule, i), host, address, port))
      return &g_array_index (rules, Rule, i);
  return NULL;
}

/* Which allow rules match: one naming @port wins over the port list, one
 * for every port only over the deny rules. */
typedef enum {
  ALLOWED_NOT,
  ALLOWED_ADDRESS,
  ALLOWED_ADDRESS_AND_PORT,
} Allowed;

static Allowed
find_allowed (BraidAddressPolicy *self, const gchar *host, GInetAddress *address, guint16 port)
{
  Allowed allowed = ALLOWED_NOT;

  for (guint i = 0; i < self->allow->len; i++)
    {
      const Rule *rule = &g_array_index (self->allow, Rule, i);

      if (!rule_matches (rule, host, address, port))
        continue;
      if (rule->port != 0)
        return ALLOWED_ADDRESS_AND_PORT;
      allowed = ALLOWED_ADDRESS;
    }
  return allowed;
}

static gboolean
refuse (GError **error, const gchar *host, const gchar *address, guint16 port, const gchar *why)
{
  if (host != NULL && !g_str_equal (host, address))
    g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN,
                 "refused to connect to %s (%s) port %u: %s", host, address, port, why);
  else
    g_set_error (error, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_FORBIDDEN,
                 "refused to connect to %s port %u: %s", address, port, why);
  return FALSE;
}

gboolean
braid_address_policy_check (BraidAddressPolicy *self, const gchar *host, GInetAddress *address, guint16 port,
                            GError **error)
{
  g_autoptr(GInetAddress) plain = NULL;
  g_autofree gchar *name = NULL;
  g_autofree gchar *shown = NULL;
  g_autofree gchar *why = NULL;
  const Rule *denied;
  Allowed allowed;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  plain = unmap_ipv4 (address);
  name = host != NULL ? normalize_host (host) : NULL;
  allowed = find_allowed (self, name, plain, port);
  if (allowed == ALLOWED_ADDRESS_AND_PORT)
    return TRUE;
  shown = g_inet_address_to_string (plain);
  if (!port_allowed (self, port))
    return refuse (error, name, shown, port, "the port is not allowed (see --allow-port)");
  if (allowed == ALLOWED_ADDRESS)
    return TRUE;
  denied = first_match (self->deny, name, plain, port);
  if (denied != NULL)
    why = g_strdup_printf ("denied by the rule %s", denied->text);
  else if ((denied = first_match (self->builtin, name, plain, port)) != NULL)
    why = g_strdup_printf ("%s address (%s), denied unless allowed (see --allow)", denied->kind, denied->text);
  else
    return TRUE;
  return refuse (error, name, shown, port, why);
}
