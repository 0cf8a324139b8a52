/* braid — what a daemon asks of its process: enough file descriptors for
 * its connection limit, and the user it runs as. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* File descriptors a daemon needs beyond one per connection: stdio, the
 * main loop's eventfds, listeners, the journal socket (memcached sets its
 * limit to -c exactly; a few more keep accept from meeting EMFILE first).
 */
#define BRAID_DAEMON_FD_HEADROOM 16

/* Raises RLIMIT_NOFILE (the soft limit, and the hard one when permitted)
 * to at least @n_needed, as memcached does for -c.  Fails with a message
 * that names the limit and what needs it when it cannot: better to refuse
 * at start than to hit EMFILE under load. */
gboolean braid_daemon_ensure_fd_limit (guint64 n_needed, const gchar *why, GError **error);

/* Grows this process's file table now to hold @n_fds descriptors (no
 * more than RLIMIT_NOFILE allows), leaving none open.  Linux grows the
 * table by doubling as descriptors are opened, and in a process with
 * threads each growth waits for an RCU grace period: tens of milliseconds
 * in which the accepting thread is blocked, enough for a storm of connects
 * to a freshly started server to overflow the listen backlog and leave its
 * clients waiting for SYN retransmissions (1 s, then 3 s).  The table never
 * shrinks, so growing it once at start settles it.  Failure only costs
 * that wait later, so it is logged, not reported. */
void braid_daemon_reserve_fd_table (guint64 n_fds);

/* After binding: as root, becomes @user (initgroups, setgid, setuid) and
 * checks that root cannot be regained; not as root, @user is ignored (as
 * memcached does, and as under systemd's DynamicUser=).  @user NULL as root
 * only warns.  Errors: an unknown user, or a failed switch. */
gboolean braid_daemon_drop_privileges (const gchar *user, GError **error);

G_END_DECLS
