/* braid — a daemon's process limits and user. */
#include "daemon-limits.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

gboolean
braid_daemon_ensure_fd_limit (guint64 n_needed, const gchar *why, GError **error)
{
  struct rlimit limit;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "getrlimit (RLIMIT_NOFILE): %s",
                   g_strerror (errno));
      return FALSE;
    }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= n_needed)
    return TRUE;
  if (limit.rlim_cur == RLIM_INFINITY)
    return TRUE;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < n_needed)
    limit.rlim_max = n_needed;  /* only root may do this */
  limit.rlim_cur = n_needed;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      struct rlimit now;

      getrlimit (RLIMIT_NOFILE, &now);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "%s needs %" G_GUINT64_FORMAT " file descriptors but the limit is %" G_GUINT64_FORMAT
                   " (hard %" G_GUINT64_FORMAT "): raise LimitNOFILE= (or ulimit -n), or lower the limit",
                   why, n_needed, (guint64) now.rlim_cur, (guint64) now.rlim_max);
      return FALSE;
    }
  g_debug ("raised RLIMIT_NOFILE to %" G_GUINT64_FORMAT " for %s", n_needed, why);
  return TRUE;
}

void
braid_daemon_reserve_fd_table (guint64 n_fds)
{
  struct rlimit limit;
  int any, highest;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < n_fds)
    n_fds = limit.rlim_cur;
  if (n_fds < 2 || n_fds > G_MAXINT)
    return;
  any = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (any < 0)
    return;
  /* the lowest free descriptor from n_fds - 1 on: the table's last slot */
  highest = fcntl (any, F_DUPFD_CLOEXEC, (int) (n_fds - 1));
  if (highest < 0)
    g_debug ("could not grow the file table to %" G_GUINT64_FORMAT ": %s", n_fds, g_strerror (errno));
  else
    close (highest);
  close (any);
}

gboolean
braid_daemon_drop_privileges (const gchar *user, GError **error)
{
  struct passwd *pw;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (geteuid () != 0)
    {
      if (user != NULL)
        g_info ("-u %s ignored: not running as root", user);
      return TRUE;
    }
  if (user == NULL)
    {
      g_warning ("running as root: pass -u USER (memcached refuses to run as root without it)");
      return TRUE;
    }
  errno = 0;
  pw = getpwnam (user);
  if (pw == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "-u %s: no such user", user);
      return FALSE;
    }
  if (pw->pw_uid == 0)
    return TRUE;  /* -u root: stay, as asked */
  if (initgroups (pw->pw_name, pw->pw_gid) != 0 || setgid (pw->pw_gid) != 0 || setuid (pw->pw_uid) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "-u %s: cannot become that user: %s",
                   user, g_strerror (errno));
      return FALSE;
    }
  if (setuid (0) == 0 || geteuid () == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "-u %s: root could be regained after the switch", user);
      return FALSE;
    }
  g_info ("running as %s (uid %u)", pw->pw_name, (guint) pw->pw_uid);
  return TRUE;
}
