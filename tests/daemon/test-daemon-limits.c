/* braid — a daemon's file-descriptor limit and user switch.  Each case runs
 * in a subprocess of its own (g_test_trap_subprocess), since both change
 * the process for good. */
#include "test-support.h"
#include "daemon-limits.h"

#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- failures the kernel will not produce on demand ----
 *
 * daemon-limits.c is linked into this program from a static library, so
 * these definitions stand in for libc's (a link seam): each forwards to
 * libc's own unless a test asked for the failure.  With
 * _FILE_OFFSET_BITS=64, <sys/resource.h> sends getrlimit to getrlimit64. */

static gboolean getrlimit_fails;      /* getrlimit fails with EINVAL */
static gboolean root_comes_back;      /* setuid (0) "succeeds" after a switch */
static gboolean resource_capable;     /* setrlimit as with CAP_SYS_RESOURCE: recorded, not made */
static struct rlimit asked;           /* what the last such setrlimit asked for */
static struct rlimit now_limit;       /* and what getrlimit then reports */

int setrlimit64 (int resource, const struct rlimit *limit);

int
setrlimit64 (int resource, const struct rlimit *limit)
{
  static int (*real) (int, const struct rlimit *);

  if (resource_capable)
    {
      asked = *limit;
      now_limit = *limit;
      return 0;
    }
  if (real == NULL)
    real = (int (*) (int, const struct rlimit *)) dlsym (RTLD_NEXT, "setrlimit64");
  return real (resource, limit);
}

int getrlimit64 (int resource, struct rlimit *limit);

int
getrlimit64 (int resource, struct rlimit *limit)
{
  static int (*real) (int, struct rlimit *);

  if (getrlimit_fails)
    {
      errno = EINVAL;
      return -1;
    }
  if (resource_capable)
    {
      *limit = now_limit;
      return 0;
    }
  if (real == NULL)
    real = (int (*) (int, struct rlimit *)) dlsym (RTLD_NEXT, "getrlimit64");
  return real (resource, limit);
}

int
setuid (uid_t uid)
{
  static int (*real) (uid_t);

  if (root_comes_back && uid == 0)
    return 0;
  if (real == NULL)
    real = (int (*) (uid_t)) dlsym (RTLD_NEXT, "setuid");
  return real (uid);
}

static struct rlimit
current_limit (void)
{
  struct rlimit l;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &l), ==, 0);
  return l;
}

static void
set_soft_limit (rlim_t soft)
{
  struct rlimit l = current_limit ();

  l.rlim_cur = soft;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &l), ==, 0);
}

/* Whether this process may raise its hard limit to @n: tried in a child,
 * so that this one's limit stays.  Root in a container may not. */
static gboolean
may_raise_hard_limit (rlim_t n)
{
  pid_t child = fork ();
  gint status;

  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      struct rlimit l = { n, n };
      _exit (setrlimit (RLIMIT_NOFILE, &l) == 0 ? 0 : 1);
    }
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static void
test_fd_limit_within (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      set_soft_limit (100);
      /* enough already, up to and including the limit itself: unchanged */
      g_assert_true (braid_daemon_ensure_fd_limit (50, "test", &error));
      g_assert_true (braid_daemon_ensure_fd_limit (100, "test", &error));
      g_assert_no_error (error);
      g_assert_cmpuint (current_limit ().rlim_cur, ==, 100);
      /* one more: raised to exactly what is asked */
      g_assert_true (braid_daemon_ensure_fd_limit (101, "test", &error));
      g_assert_no_error (error);
      g_assert_cmpuint (current_limit ().rlim_cur, ==, 101);
      return;
    }
  g_test_summary ("A soft limit that suffices is left alone; one short is raised to exactly the need");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_fd_limit_beyond_hard (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      struct rlimit l = current_limit ();
      guint64 want;
      gboolean ok;

      if (l.rlim_max == RLIM_INFINITY)
        {
          /* nothing is beyond it: any need is met */
          g_assert_true (braid_daemon_ensure_fd_limit (G_MAXINT, "test", &error));
          return;
        }
      /* below what the kernel allows (fs.nr_open), above the hard limit */
      l.rlim_cur = l.rlim_max = MIN (l.rlim_max, 4096);
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &l), ==, 0);
      want = l.rlim_max + 10;
      ok = braid_daemon_ensure_fd_limit (want, "a test of 4,106", &error);
      if (may_raise_hard_limit (want))
        {
          /* root (CAP_SYS_RESOURCE) raises the hard limit too */
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (current_limit ().rlim_cur, ==, want);
          g_assert_cmpuint (current_limit ().rlim_max, ==, want);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
          g_assert_nonnull (strstr (error->message, "a test of 4,106 needs"));
          g_assert_nonnull (strstr (error->message, "LimitNOFILE="));
          g_assert_cmpuint (current_limit ().rlim_cur, ==, l.rlim_cur);
        }
      return;
    }
  g_test_summary ("Beyond the hard limit: a process allowed to raises both; any other gets an error that names "
                  "the need and LimitNOFILE=, and keeps the limit it had");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_drop_to_nobody (void)
{
  struct passwd *nobody = getpwnam ("nobody");

  if (nobody == NULL)
    {
      g_test_skip ("no user “nobody” on this system");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      uid_t uid_before = getuid ();

      g_assert_true (braid_daemon_drop_privileges ("nobody", &error));
      g_assert_no_error (error);
      if (uid_before == 0)
        {
          g_assert_cmpuint (getuid (), ==, nobody->pw_uid);
          g_assert_cmpuint (geteuid (), ==, nobody->pw_uid);
          g_assert_cmpuint (getgid (), ==, nobody->pw_gid);
          g_assert_cmpint (setuid (0), !=, 0);
          /* no longer root: another -u is ignored, and said so */
          g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
          g_assert_true (braid_daemon_drop_privileges ("root", &error));
          g_assert_no_error (error);
          g_assert_cmpuint (getuid (), ==, nobody->pw_uid);
        }
      else
        g_assert_cmpuint (getuid (), ==, uid_before);  /* ignored, not root */
      return;
    }
  g_test_summary ("-u nobody: as root, the process becomes nobody (user and group) for good, and a "
                  "later -u is ignored with a message; otherwise nothing changes");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  if (getuid () == 0)
    g_test_trap_assert_stdout ("*-u root ignored: not running as root*");
}

static void
test_drop_refusals (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      if (geteuid () != 0)
        {
          /* not root: whatever the name, ignored */
          g_assert_true (braid_daemon_drop_privileges ("no-such-user-braid", &error));
          g_assert_no_error (error);
          return;
        }
      g_assert_false (braid_daemon_drop_privileges ("no-such-user-braid", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_assert_cmpstr (error->message, ==, "-u no-such-user-braid: no such user");
      g_clear_error (&error);
      /* -u root stays root, as asked */
      g_assert_true (braid_daemon_drop_privileges ("root", &error));
      g_assert_no_error (error);
      g_assert_cmpuint (geteuid (), ==, 0);
      /* none given: a warning, and still root */
      g_log_set_always_fatal (G_LOG_FATAL_MASK);  /* the parent reads the warning */
      g_assert_true (braid_daemon_drop_privileges (NULL, &error));
      g_assert_cmpuint (geteuid (), ==, 0);
      return;
    }
  g_test_summary ("As root: an unknown user is an error, -u root stays, no -u warns");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  if (geteuid () == 0)
    g_test_trap_assert_stderr ("*running as root: pass -u USER*");
}

static void
test_getrlimit_fails (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      getrlimit_fails = TRUE;
      g_assert_false (braid_daemon_ensure_fd_limit (50, "test", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, "getrlimit (RLIMIT_NOFILE): Invalid argument");
      return;
    }
  g_test_summary ("A getrlimit that fails is an error naming the call and the system's reason");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_drop_to_uid_one (void)
{
  struct passwd *pw = getpwuid (1);

  if (geteuid () != 0 || pw == NULL)
    {
      g_test_skip ("needs root and a user with uid 1 (Debian's “daemon”)");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (braid_daemon_drop_privileges (pw->pw_name, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (geteuid (), ==, 1);
      return;
    }
  g_test_summary ("A switch to uid 1 (next to root's 0) succeeds: only uid 0 counts as root regained");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_hard_limit_raised_when_allowed (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      const struct rlimit start = { 100, 200 };

      resource_capable = TRUE;
      now_limit = start;
      /* within the hard limit: only the soft one moves */
      g_assert_true (braid_daemon_ensure_fd_limit (200, "test", &error));
      g_assert_cmpuint (asked.rlim_cur, ==, 200);
      g_assert_cmpuint (asked.rlim_max, ==, 200);
      now_limit = start;
      g_assert_true (braid_daemon_ensure_fd_limit (150, "test", &error));
      g_assert_cmpuint (asked.rlim_cur, ==, 150);
      g_assert_cmpuint (asked.rlim_max, ==, 200);
      /* beyond it: both, to exactly the need (what only CAP_SYS_RESOURCE allows) */
      now_limit = start;
      g_assert_true (braid_daemon_ensure_fd_limit (201, "test", &error));
      g_assert_cmpuint (asked.rlim_cur, ==, 201);
      g_assert_cmpuint (asked.rlim_max, ==, 201);
      /* an unlimited hard limit stays so */
      now_limit.rlim_cur = 100;
      now_limit.rlim_max = RLIM_INFINITY;
      g_assert_true (braid_daemon_ensure_fd_limit (5000, "test", &error));
      g_assert_cmpuint (asked.rlim_cur, ==, 5000);
      g_assert_true (asked.rlim_max == RLIM_INFINITY);
      g_assert_no_error (error);
      return;
    }
  g_test_summary ("With the right to raise it (as CAP_SYS_RESOURCE gives), a hard limit short of the need is "
                  "raised to exactly the need, one that suffices or is unlimited is kept");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_root_comes_back (void)
{
  if (geteuid () != 0 || getpwnam ("nobody") == NULL)
    {
      g_test_skip ("needs root and a user “nobody”");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      root_comes_back = TRUE;
      g_assert_false (braid_daemon_drop_privileges ("nobody", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
      g_assert_cmpstr (error->message, ==, "-u nobody: root could be regained after the switch");
      return;
    }
  g_test_summary ("A switch after which setuid (0) still succeeds is refused: the daemon would not have "
                  "given up root");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The kernel's file table of this process: how many descriptors it holds
 * room for now (FDSize in /proc/self/status), and how many are open. */
static guint64
fd_table_size (void)
{
  g_autofree gchar *text = NULL;
  const gchar *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &text, NULL, NULL));
  line = strstr (text, "\nFDSize:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nFDSize:"), NULL, 10);
}

static guint
n_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_fd_table_reserved (void)
{
  if (g_test_subprocess ())
    {
      guint open_before;

      set_soft_limit (5000);
      g_assert_cmpuint (fd_table_size (), <, 3000);
      open_before = n_open_fds ();
      braid_daemon_reserve_fd_table (3000);
      g_assert_cmpuint (fd_table_size (), >=, 3000);
      /* room made, nothing left open */
      g_assert_cmpuint (n_open_fds (), ==, open_before);
      /* never beyond the limit: room for what may be opened, no more */
      braid_daemon_reserve_fd_table (100000);
      g_assert_cmpuint (fd_table_size (), >=, 5000);
      g_assert_cmpuint (fd_table_size (), <, 100000);
      g_assert_cmpuint (n_open_fds (), ==, open_before);
      return;
    }
  g_test_summary ("The file table is grown to the need (within the limit) before any thread runs: each later "
                  "growth of a threaded process's table waits for an RCU grace period, during which a "
                  "connect storm overflows the listen backlog");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/daemon/limits/fd-limit-within", test_fd_limit_within);
  g_test_add_func ("/daemon/limits/fd-limit-beyond-hard", test_fd_limit_beyond_hard);
  g_test_add_func ("/daemon/limits/fd-table-reserved", test_fd_table_reserved);
  g_test_add_func ("/daemon/limits/drop-to-nobody", test_drop_to_nobody);
  g_test_add_func ("/daemon/limits/drop-refusals", test_drop_refusals);
  g_test_add_func ("/daemon/limits/getrlimit-fails", test_getrlimit_fails);
  g_test_add_func ("/daemon/limits/root-comes-back", test_root_comes_back);
  g_test_add_func ("/daemon/limits/drop-to-uid-one", test_drop_to_uid_one);
  g_test_add_func ("/daemon/limits/hard-limit-raised-when-allowed", test_hard_limit_raised_when_allowed);
  return g_test_run ();
}
