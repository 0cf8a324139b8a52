/* braid — endpoint strings, in the style of Twisted's strports.
 *
 * "kind:arg:arg:key=value" with `\` escaping a literal `:` or `\`. */
#include "endpoint.h"
#include "reactor-error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Splits on unescaped @sep, removing the escapes.  Returns NULL on a
 * trailing lone backslash. */
static GPtrArray *
split_escaped (const gchar *text, gchar sep)
{
  GPtrArray *parts = g_ptr_array_new_with_free_func (g_free);
  GString *current = g_string_new (NULL);
  const gchar *p;

  for (p = text; *p != '\0'; p++)
    {
      if (*p == '\\')
        {
          if (p[1] == '\0')
            {
              g_string_free (current, TRUE);
              g_ptr_array_unref (parts);
              return NULL;
            }
          g_string_append_c (current, *++p);
        }
      else if (*p == sep)
        {
          g_ptr_array_add (parts, g_string_free (current, FALSE));
          current = g_string_new (NULL);
        }
      else
        g_string_append_c (current, *p);
    }
  g_ptr_array_add (parts, g_string_free (current, FALSE));
  return parts;
}

gchar **
braid_endpoint_split_list (const gchar *list)
{
  g_return_val_if_fail (list != NULL, NULL);

  GPtrArray *out = g_ptr_array_new ();
  GString *current = g_string_new (NULL);
  const gchar *p;

  /* Keep escapes: each element is parsed again by braid_endpoint_parse. */
  for (p = list; *p != '\0'; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        {
          g_string_append_c (current, *p++);
          g_string_append_c (current, *p);
        }
      else if (*p == ',')
        {
          if (current->len > 0)
            g_ptr_array_add (out, g_strdup (current->str));
          g_string_truncate (current, 0);
        }
      else
        g_string_append_c (current, *p);
    }
  if (current->len > 0)
    g_ptr_array_add (out, g_strdup (current->str));
  g_string_free (current, TRUE);
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

static gboolean
set_error (GError **error, const gchar *description, const gchar *problem)
{
  g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT,
               "Invalid endpoint “%s”: %s", description, problem);
  return FALSE;
}

static gboolean
parse_uint (const gchar *text, guint64 max, guint base, guint64 *out)
{
  gchar *end = NULL;
  guint64 value;

  if (text[0] == '\0' || text[0] == '-' || text[0] == '+' || g_ascii_isspace (text[0]))
    return FALSE;
  errno = 0;
  value = g_ascii_strtoull (text, &end, base);
  if (errno != 0 || *end != '\0' || value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

static gboolean
parse_port (const gchar *text, guint16 *port, const gchar *description, GError **error)
{
  guint64 value;

  if (!parse_uint (text, 65535, 10, &value))
    {
      g_autofree gchar *problem = g_strdup_printf ("port “%s” is not a number from 0 to 65535", text);
      return set_error (error, description, problem);
    }
  *port = (guint16) value;
  return TRUE;
}

static gboolean
split_key_value (const gchar *arg, gchar **key, const gchar **value)
{
  const gchar *eq = strchr (arg, '=');

  if (eq == NULL)
    return FALSE;
  *key = g_strndup (arg, (gsize) (eq - arg));
  *value = eq + 1;
  return TRUE;
}

/* Options shared by several kinds. */
static gboolean
apply_option (BraidEndpoint *ep, const gchar *key, const gchar *value,
              const gchar *description, GError **error)
{
  guint64 number;

  gboolean inet = ep->kind == BRAID_ENDPOINT_KIND_TCP || ep->kind == BRAID_ENDPOINT_KIND_TLS;

  if (inet && g_str_equal (key, "port"))
    return parse_port (value, &ep->port, description, error);
  if (inet && ep->role == BRAID_ENDPOINT_ROLE_SERVER &&
      g_str_equal (key, "interface"))
    {
      g_free (ep->host);
      ep->host = g_strdup (value);
      return TRUE;
    }
  if (inet && ep->role == BRAID_ENDPOINT_ROLE_CLIENT &&
      g_str_equal (key, "host"))
    {
      g_free (ep->host);
      ep->host = g_strdup (value);
      return TRUE;
    }
  if (ep->role == BRAID_ENDPOINT_ROLE_SERVER && g_str_equal (key, "backlog") &&
      ep->kind != BRAID_ENDPOINT_KIND_SYSTEMD)
    {
      if (!parse_uint (value, 65535, 10, &number) || number == 0)
        return set_error (error, description, "backlog must be a number from 1 to 65535");
      ep->backlog = (gint) number;
      return TRUE;
    }
  if (ep->kind == BRAID_ENDPOINT_KIND_UNIX && ep->role == BRAID_ENDPOINT_ROLE_SERVER &&
      g_str_equal (key, "mode"))
    {
      if (!parse_uint (value, 0777, 8, &number))
        return set_error (error, description, "mode must be an octal number up to 0777");
      ep->mode = (guint) number;
      return TRUE;
    }
  if (ep->role == BRAID_ENDPOINT_ROLE_CLIENT && g_str_equal (key, "timeout"))
    {
      gchar *end = NULL;
      gdouble t = g_ascii_strtod (value, &end);

      if (end == value || *end != '\0' || !(t >= 0) || t > 86400)
        return set_error (error, description, "timeout must be a number of seconds");
      ep->timeout = t;
      return TRUE;
    }
  if (ep->kind == BRAID_ENDPOINT_KIND_TLS &&
      ((ep->role == BRAID_ENDPOINT_ROLE_SERVER &&
        (g_str_equal (key, "certificate") || g_str_equal (key, "key"))) ||
       (ep->role == BRAID_ENDPOINT_ROLE_CLIENT && g_str_equal (key, "ca"))))
    {
      gchar **field = g_str_equal (key, "certificate") ? &ep->certificate
                      : g_str_equal (key, "key")       ? &ep->key
                                                       : &ep->ca;

      if (value[0] == '\0')
        {
          g_autofree gchar *problem = g_strdup_printf ("empty file name for %s=", key);
          return set_error (error, description, problem);
        }
      g_free (*field);
      *field = g_strdup (value);
      return TRUE;
    }
  if (ep->kind == BRAID_ENDPOINT_KIND_SYSTEMD && g_str_equal (key, "name"))
    {
      if (value[0] == '\0' || strchr (value, ':') != NULL)
        return set_error (error, description, "systemd socket name is empty or has a colon");
      g_free (ep->systemd_name);
      ep->systemd_name = g_strdup (value);
      return TRUE;
    }

  {
    g_autofree gchar *problem = g_strdup_printf ("unknown option “%s”", key);
    return set_error (error, description, problem);
  }
}

static gboolean
parse_tcp (BraidEndpoint *ep, GPtrArray *args, const gchar *description, GError **error)
{
  guint positional = 0;
  gboolean have_port = FALSE;

  for (guint i = 1; i < args->len; i++)
    {
      const gchar *arg = g_ptr_array_index (args, i);
      g_autofree gchar *key = NULL;
      const gchar *value;

      if (split_key_value (arg, &key, &value))
        {
          if (!apply_option (ep, key, value, description, error))
            return FALSE;
          have_port |= g_str_equal (key, "port");
          continue;
        }
      if (ep->role == BRAID_ENDPOINT_ROLE_CLIENT && positional == 0)
        {
          g_free (ep->host);
          ep->host = g_strdup (arg);
        }
      else if ((ep->role == BRAID_ENDPOINT_ROLE_CLIENT && positional == 1) ||
               (ep->role == BRAID_ENDPOINT_ROLE_SERVER && positional == 0))
        {
          if (!parse_port (arg, &ep->port, description, error))
            return FALSE;
          have_port = TRUE;
        }
      else
        return set_error (error, description, "too many positional arguments");
      positional++;
    }

  if (!have_port)
    return set_error (error, description, "no port given");
  if (ep->role == BRAID_ENDPOINT_ROLE_CLIENT)
    {
      if (ep->host == NULL || ep->host[0] == '\0')
        return set_error (error, description,
                          ep->kind == BRAID_ENDPOINT_KIND_TLS ? "no host given (use tls:HOST:PORT)"
                                                              : "no host given (use tcp:HOST:PORT)");
      if (ep->port == 0)
        return set_error (error, description, "port 0 cannot be connected to");
    }
  else if (ep->host != NULL && ep->host[0] == '\0')
    return set_error (error, description, "empty interface");
  else if (ep->kind == BRAID_ENDPOINT_KIND_TLS && ep->certificate == NULL)
    return set_error (error, description, "no certificate given (use tls:PORT:certificate=FILE)");
  return TRUE;
}

static gboolean
parse_unix (BraidEndpoint *ep, GPtrArray *args, const gchar *description, GError **error)
{
  for (guint i = 1; i < args->len; i++)
    {
      const gchar *arg = g_ptr_array_index (args, i);
      g_autofree gchar *key = NULL;
      const gchar *value;

      if (i > 1 && split_key_value (arg, &key, &value))
        {
          if (!apply_option (ep, key, value, description, error))
            return FALSE;
          continue;
        }
      if (i > 1)
        return set_error (error, description, "too many positional arguments");
      ep->path = g_strdup (arg);
    }
  if (ep->path == NULL || ep->path[0] == '\0')
    return set_error (error, description, "no socket path given");
  if (strlen (ep->path) >= 108)
    return set_error (error, description, "socket path is longer than 107 bytes");
  return TRUE;
}

static gboolean
parse_systemd (BraidEndpoint *ep, GPtrArray *args, const gchar *description, GError **error)
{
  guint64 index;

  if (ep->role != BRAID_ENDPOINT_ROLE_SERVER)
    return set_error (error, description, "systemd sockets can only be listened on");
  if (args->len != 2)
    return set_error (error, description, "expected systemd:N or systemd:name=NAME");

  {
    const gchar *arg = g_ptr_array_index (args, 1);
    g_autofree gchar *key = NULL;
    const gchar *value;

    if (split_key_value (arg, &key, &value))
      return apply_option (ep, key, value, description, error);
    if (!parse_uint (arg, 1023, 10, &index))
      return set_error (error, description, "socket index must be a number from 0 to 1023");
    ep->systemd_index = (gint) index;
  }
  return TRUE;
}

static gchar *
escape_value (const gchar *value)
{
  GString *out = g_string_new (NULL);

  for (const gchar *p = value; *p != '\0'; p++)
    {
      if (*p == ':' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static gchar *
describe (const BraidEndpoint *ep)
{
  GString *out = g_string_new (NULL);

  switch (ep->kind)
    {
    case BRAID_ENDPOINT_KIND_TCP:
      {
        g_autofree gchar *host = ep->host != NULL ? escape_value (ep->host) : NULL;

        if (ep->role == BRAID_ENDPOINT_ROLE_CLIENT)
          g_string_append_printf (out, "tcp:%s:%u", host, ep->port);
        else
          {
            g_string_append_printf (out, "tcp:%u", ep->port);
            if (host != NULL)
              g_string_append_printf (out, ":interface=%s", host);
          }
        break;
      }
    case BRAID_ENDPOINT_KIND_TLS:
      {
        g_autofree gchar *host = ep->host != NULL ? escape_value (ep->host) : NULL;

        if (ep->role == BRAID_ENDPOINT_ROLE_CLIENT)
          {
            g_string_append_printf (out, "tls:%s:%u", host, ep->port);
            if (ep->ca != NULL)
              {
                g_autofree gchar *ca = escape_value (ep->ca);

                g_string_append_printf (out, ":ca=%s", ca);
              }
          }
        else
          {
            g_autofree gchar *certificate = escape_value (ep->certificate);

            g_string_append_printf (out, "tls:%u", ep->port);
            if (host != NULL)
              g_string_append_printf (out, ":interface=%s", host);
            g_string_append_printf (out, ":certificate=%s", certificate);
            if (ep->key != NULL)
              {
                g_autofree gchar *key = escape_value (ep->key);

                g_string_append_printf (out, ":key=%s", key);
              }
          }
        break;
      }
    case BRAID_ENDPOINT_KIND_UNIX:
      {
        g_autofree gchar *path = escape_value (ep->path);

        g_string_append_printf (out, "unix:%s", path);
        break;
      }
    case BRAID_ENDPOINT_KIND_SYSTEMD:
      if (ep->systemd_name != NULL)
        g_string_append_printf (out, "systemd:name=%s", ep->systemd_name);
      else
        g_string_append_printf (out, "systemd:%d", ep->systemd_index);
      break;
    default:
      g_assert_not_reached ();
    }
  return g_string_free (out, FALSE);
}

BraidEndpoint *
braid_endpoint_parse (const gchar *description,
                      BraidEndpointRole role,
                      GError **error)
{
  g_autoptr(BraidEndpoint) ep = NULL;
  g_autoptr(GPtrArray) args = NULL;
  const gchar *kind;
  gboolean ok;

  g_return_val_if_fail (description != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_utf8_validate (description, -1, NULL))
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT,
                   "Invalid endpoint: not valid UTF-8");
      return NULL;
    }
  args = split_escaped (description, ':');
  if (args == NULL)
    {
      set_error (error, description, "ends with a lone backslash");
      return NULL;
    }
  if (args->len < 2)
    {
      set_error (error, description, "expected KIND:ARGUMENTS, such as tcp:11211");
      return NULL;
    }

  ep = g_new0 (BraidEndpoint, 1);
  ep->role = role;
  ep->systemd_index = -1;
  ep->backlog = -1;
  kind = g_ptr_array_index (args, 0);
  if (g_str_equal (kind, "tcp"))
    {
      ep->kind = BRAID_ENDPOINT_KIND_TCP;
      ok = parse_tcp (ep, args, description, error);
    }
  else if (g_str_equal (kind, "tls"))
    {
      ep->kind = BRAID_ENDPOINT_KIND_TLS;
      ok = parse_tcp (ep, args, description, error);
    }
  else if (g_str_equal (kind, "unix"))
    {
      ep->kind = BRAID_ENDPOINT_KIND_UNIX;
      ok = parse_unix (ep, args, description, error);
    }
  else if (g_str_equal (kind, "systemd"))
    {
      ep->kind = BRAID_ENDPOINT_KIND_SYSTEMD;
      ok = parse_systemd (ep, args, description, error);
    }
  else
    {
      g_autofree gchar *problem =
        g_strdup_printf ("unknown kind “%s” (expected tcp, tls, unix or systemd)", kind);
      ok = set_error (error, description, problem);
    }
  if (!ok)
    return NULL;

  ep->description = describe (ep);
  return g_steal_pointer (&ep);
}

BraidEndpoint *
braid_endpoint_copy (const BraidEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, NULL);

  BraidEndpoint *copy = g_new0 (BraidEndpoint, 1);

  *copy = *endpoint;
  copy->host = g_strdup (endpoint->host);
  copy->path = g_strdup (endpoint->path);
  copy->systemd_name = g_strdup (endpoint->systemd_name);
  copy->certificate = g_strdup (endpoint->certificate);
  copy->key = g_strdup (endpoint->key);
  copy->ca = g_strdup (endpoint->ca);
  copy->description = g_strdup (endpoint->description);
  return copy;
}

void
braid_endpoint_free (BraidEndpoint *endpoint)
{
  if (endpoint == NULL)
    return;
  g_free (endpoint->host);
  g_free (endpoint->path);
  g_free (endpoint->systemd_name);
  g_free (endpoint->certificate);
  g_free (endpoint->key);
  g_free (endpoint->ca);
  g_free (endpoint->description);
  g_free (endpoint);
}

const gchar *
braid_endpoint_to_string (const BraidEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, NULL);

  return endpoint->description;
}
