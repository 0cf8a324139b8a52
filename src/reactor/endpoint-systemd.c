/* braid — systemd: endpoints, resolved to the fds systemd passed.
 *
 * sd_listen_fds(3) semantics, with the environment given rather than read,
 * so tests can inject it: LISTEN_PID must name this process, LISTEN_FDS
 * counts fds from 3, LISTEN_FDNAMES names them, colon-separated. */
#include "endpoint.h"
#include "reactor-error.h"

#define SD_LISTEN_FDS_START 3

static gboolean
find_named_index (const BraidEndpoint *endpoint, const gchar *names, guint64 n_fds,
                  gint *index, GError **error)
{
  g_auto(GStrv) split = g_strsplit (names != NULL ? names : "", ":", -1);

  for (guint i = 0; split[i] != NULL && i < n_fds; i++)
    if (g_str_equal (split[i], endpoint->systemd_name))
      {
        *index = (gint) i;
        return TRUE;
      }
  g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
               "Endpoint “%s”: systemd passed no socket named “%s” (LISTEN_FDNAMES=%s)",
               endpoint->description, endpoint->systemd_name, names != NULL ? names : "");
  return FALSE;
}

gboolean
braid_endpoint_find_systemd_fd (const BraidEndpoint *endpoint,
                                const gchar * const *environment,
                                GPid pid,
                                gint *out_fd,
                                GError **error)
{
  const gchar *listen_pid = g_environ_getenv ((gchar **) environment, "LISTEN_PID");
  const gchar *fds = g_environ_getenv ((gchar **) environment, "LISTEN_FDS");
  const gchar *names = g_environ_getenv ((gchar **) environment, "LISTEN_FDNAMES");
  guint64 n_fds = 0;
  gint index;

  g_return_val_if_fail (endpoint != NULL && endpoint->kind == BRAID_ENDPOINT_KIND_SYSTEMD, FALSE);
  g_return_val_if_fail (out_fd != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (listen_pid == NULL || fds == NULL ||
      g_ascii_strtoull (listen_pid, NULL, 10) != (guint64) pid ||
      !g_ascii_string_to_unsigned (fds, 10, 0, 1024, &n_fds, NULL) || n_fds == 0)
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
                   "Endpoint “%s”: no sockets were passed by systemd "
                   "(LISTEN_PID/LISTEN_FDS unset or for another process)",
                   endpoint->description);
      return FALSE;
    }

  index = endpoint->systemd_index;
  if (endpoint->systemd_name != NULL)
    {
      if (!find_named_index (endpoint, names, n_fds, &index, error))
        return FALSE;
    }
  else if (index < 0 || (guint64) index >= n_fds)
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
                   "Endpoint “%s”: systemd passed only %" G_GUINT64_FORMAT " socket(s)",
                   endpoint->description, n_fds);
      return FALSE;
    }
  *out_fd = SD_LISTEN_FDS_START + index;
  return TRUE;
}
