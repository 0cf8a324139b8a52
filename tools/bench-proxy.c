/* bench-proxy — braid-proxy against a bare epoll loop, same load, same
 * machine, same run.  A benchmark, not a test: it prints numbers.
 *
 *   bench-proxy --proxy PATH [--memcached PATH] [--seconds S] [--rounds N] [--slices N]
 *               [--fetches N] [--delay-ms MS] [--concurrency N] [--quick]
 *               [--client-threads N] [--proxy-arg ARG]… [--json FILE]
 *
 * Everything runs on loopback, on free ports, started here:
 *
 *   - an upstream HTTP/1.1 server (a thread of this process, keep-alive)
 *     answering a 1,000-byte body at once, or after --delay-ms on /slow/…;
 *   - the reference: a bare single-threaded epoll loop that accepts, reads
 *     a line, writes the same 1,000 bytes from memory and closes (a forked
 *     process of its own, or with --bare-in-thread a thread of this one):
 *     what the line protocol costs at the least;
 *   - braid-proxy with its memory cache, and braid-proxy with --memcached
 *     on a Debian memcached started here, both with default settings but
 *     --allow 127.0.0.1 (the upstream is on loopback, denied by default).
 *
 * Then, --rounds times, each for --seconds per target in --slices turns
 * alternating between the targets: --concurrency one-shot connections (URL
 * line in, body out) kept busy against the bare loop and each proxy, for a
 * URL already cached (requests per second, and the ratio to the bare loop
 * of the same round); the resident memory each proxy
 * gains for 1,000 connections that send nothing; and --fetches connections
 * at once, each for a different /slow URL, against the memory-cache proxy
 * (and, as the floor, against the upstream directly): wall time until the
 * last body, and failures. */
#define _GNU_SOURCE
#include <glib.h>
#include <glib/gstdio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY_SIZE 1000
#define IDLE_CONNECTIONS 1000

static gchar *proxy_path = NULL, *memcached_path = NULL, *json_path = NULL;
static gchar **proxy_args = NULL;
static gint seconds = 3, rounds = 3, n_fetches = 1000, delay_ms = 1000, concurrency = 32, client_threads = 2;
static gint slices = 6;
static gboolean quick = FALSE, bare_in_thread = FALSE;

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

/* ---- sockets ---- */

static int
listen_on_free_port (guint16 *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;

  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 4096) < 0)
    g_error ("bench-proxy: cannot listen on loopback: %s", g_strerror (errno));
  getsockname (fd, (struct sockaddr *) &addr, &len);
  *port = ntohs (addr.sin_port);
  return fd;
}

/* A port nothing listens on now, for a child process to listen on. */
static guint16
free_port (void)
{
  guint16 port;
  int fd = listen_on_free_port (&port);

  close (fd);
  return port;
}

static gboolean
wait_for_port (guint16 port, gint64 timeout_us)
{
  gint64 deadline = now_us () + timeout_us;

  while (now_us () < deadline)
    {
      struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port),
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
      int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      gboolean ok = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;

      close (fd);
      if (ok)
        return TRUE;
      g_usleep (20 * 1000);
    }
  return FALSE;
}

/* CPU time (user + system) in seconds from a /proc/…/stat file. */
static double
cpu_seconds_of (const gchar *path)
{
  g_autofree gchar *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const gchar *after_name;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || (after_name = strrchr (stat, ')')) == NULL)
    return -1;
  /* after "pid (comm)": state is field 3, utime 14, stime 15 */
  fields = g_strsplit (after_name + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return -1;
  return (double) (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10))
         / (double) sysconf (_SC_CLK_TCK);
}

/* …of process @pid */
static double
cpu_seconds (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);

  return cpu_seconds_of (path);
}

/* ---- the servers: the bare line loop and the upstream, one thread each ---- */

typedef enum { SERVE_LINE, SERVE_HTTP } ServeMode;

typedef struct {
  ServeMode mode;
  int listen_fd, stop_fd, epoll_fd;
  guint16 port;
  gint64 delay_us;            /* HTTP: /slow/… answers after this long */
  GString *line_reply;        /* the body */
  GString *http_keep_alive;   /* a whole response, kept open after */
  GString *http_close;        /* a whole response, closed after */
  GQueue waiting;             /* Conn *, in the order their answers are due */
  gpointer last_slow;         /* when the latest /slow request arrived, µs as a pointer: atomic */
  gpointer last_answer;       /* when the latest /slow answer was written, likewise */
  gint tid;                   /* the thread's, for its CPU time */
  GThread *thread;
} Server;

typedef struct {
  int fd;
  gchar in[4096];
  gsize in_len;
  const gchar *out;           /* (unowned): one of the server's replies */
  gsize out_len, out_off;
  gboolean close_after, waiting;
  gint64 due;
} Conn;

static void
conn_close (Server *server, Conn *conn)
{
  if (conn->waiting)
    g_queue_remove (&server->waiting, conn);
  close (conn->fd);
  g_free (conn);
}

static void
conn_watch (Server *server, Conn *conn, guint32 events)
{
  struct epoll_event ev = { .events = events, .data.ptr = conn };

  epoll_ctl (server->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static void serve_buffered (Server *server, Conn *conn);

/* Writes what is left of the reply; closes, or reads the next request. */
static void
conn_flush (Server *server, Conn *conn)
{
  while (conn->out_off < conn->out_len)
    {
      gssize n = write (conn->fd, conn->out + conn->out_off, conn->out_len - conn->out_off);

      if (n < 0 && errno == EAGAIN)
        {
          conn_watch (server, conn, EPOLLOUT);
          return;
        }
      if (n < 0)
        {
          conn_close (server, conn);
          return;
        }
      conn->out_off += (gsize) n;
    }
  conn->out = NULL;
  if (conn->close_after)
    {
      conn_close (server, conn);
      return;
    }
  conn_watch (server, conn, EPOLLIN);
  serve_buffered (server, conn);
}

static void
conn_reply (Server *server, Conn *conn, const GString *reply)
{
  conn->out = reply->str;
  conn->out_len = reply->len;
  conn->out_off = 0;
  conn_flush (server, conn);
}

/* Answers the request in conn->in if it is whole. */
static void
serve_buffered (Server *server, Conn *conn)
{
  const gchar *end;
  gsize used;

  if (conn->out != NULL || conn->waiting)
    return;
  if (server->mode == SERVE_LINE)
    {
      if (memchr (conn->in, '\n', conn->in_len) == NULL)
        return;
      conn->close_after = TRUE;
      conn_reply (server, conn, server->line_reply);
      return;
    }
  conn->in[conn->in_len] = '\0';
  end = strstr (conn->in, "\r\n\r\n");
  if (end == NULL)
    return;
  used = (gsize) (end + 4 - conn->in);
  conn->close_after = strcasestr (conn->in, "\nConnection: close") != NULL;
  if (g_str_has_prefix (conn->in, "GET /slow"))
    {
      conn->waiting = TRUE;
      g_atomic_pointer_set (&server->last_slow, GSIZE_TO_POINTER (now_us ()));
      conn->due = now_us () + server->delay_us;
      g_queue_push_tail (&server->waiting, conn);
    }
  memmove (conn->in, conn->in + used, conn->in_len - used);
  conn->in_len -= used;
  if (!conn->waiting)
    conn_reply (server, conn, conn->close_after ? server->http_close : server->http_keep_alive);
}

static void
conn_read (Server *server, Conn *conn)
{
  gssize n = read (conn->fd, conn->in + conn->in_len, sizeof conn->in - 1 - conn->in_len);

  if (n < 0 && errno == EAGAIN)
    return;
  if (n <= 0)
    {
      conn_close (server, conn);
      return;
    }
  conn->in_len += (gsize) n;
  serve_buffered (server, conn);
  if (conn->in_len == sizeof conn->in - 1)    /* a request this long is not ours */
    conn_close (server, conn);
}

static void
accept_all (Server *server)
{
  for (;;)
    {
      int fd = accept4 (server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      struct epoll_event ev = { .events = EPOLLIN };
      Conn *conn;

      if (fd < 0)
        return;
      conn = g_new0 (Conn, 1);
      conn->fd = fd;
      ev.data.ptr = conn;
      epoll_ctl (server->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Answers the delayed requests that are due; returns ms to the next one. */
static int
answer_due (Server *server)
{
  while (!g_queue_is_empty (&server->waiting))
    {
      Conn *conn = g_queue_peek_head (&server->waiting);
      gint64 left = conn->due - now_us ();

      if (left > 0)
        return (int) ((left + 999) / 1000);
      g_queue_pop_head (&server->waiting);
      conn->waiting = FALSE;
      conn_reply (server, conn, conn->close_after ? server->http_close : server->http_keep_alive);
      g_atomic_pointer_set (&server->last_answer, GSIZE_TO_POINTER (now_us ()));
    }
  return -1;
}

static gpointer
server_thread (gpointer data)
{
  Server *server = data;
  struct epoll_event events[256];

  g_atomic_int_set (&server->tid, (gint) gettid ());
  for (;;)
    {
      int timeout = answer_due (server);
      int n = epoll_wait (server->epoll_fd, events, G_N_ELEMENTS (events), timeout);

      for (int i = 0; i < n; i++)
        {
          gpointer ptr = events[i].data.ptr;

          if (ptr == &server->stop_fd)
            return NULL;
          if (ptr == &server->listen_fd)
            accept_all (server);
          else if (((Conn *) ptr)->out != NULL)
            conn_flush (server, ptr);
          else
            conn_read (server, ptr);
        }
    }
}

static GString *
make_body (void)
{
  GString *body = g_string_sized_new (BODY_SIZE);

  for (gsize i = 0; i < BODY_SIZE - 1; i++)
    g_string_append_c (body, (gchar) ('a' + i % 26));
  g_string_append_c (body, '\n');
  return body;
}

static GString *
make_http_reply (const GString *body, const gchar *connection)
{
  GString *reply = g_string_new (NULL);

  g_string_printf (reply, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Cache-Control: max-age=3600\r\nConnection: %s\r\n\r\n", body->len, connection);
  g_string_append_len (reply, body->str, (gssize) body->len);
  return reply;
}

static Server *
server_new (ServeMode mode, gint64 delay_us)
{
  Server *server = g_new0 (Server, 1);
  struct epoll_event ev = { .events = EPOLLIN };

  server->mode = mode;
  server->delay_us = delay_us;
  server->line_reply = make_body ();
  server->http_keep_alive = make_http_reply (server->line_reply, "keep-alive");
  server->http_close = make_http_reply (server->line_reply, "close");
  g_queue_init (&server->waiting);
  server->listen_fd = listen_on_free_port (&server->port);
  server->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  server->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  ev.data.ptr = &server->listen_fd;
  epoll_ctl (server->epoll_fd, EPOLL_CTL_ADD, server->listen_fd, &ev);
  ev.data.ptr = &server->stop_fd;
  epoll_ctl (server->epoll_fd, EPOLL_CTL_ADD, server->stop_fd, &ev);
  return server;
}

static Server *
server_start (ServeMode mode, gint64 delay_us)
{
  Server *server = server_new (mode, delay_us);

  server->thread = g_thread_new (mode == SERVE_LINE ? "bare-loop" : "upstream", server_thread, server);
  return server;
}

/* The bare loop in a process of its own, forked before any thread
 * exists: a server in another process than the clients, like the
 * proxies, so that switching to it costs what switching to them does
 * (threads of one process switch more cheaply on a busy machine). */
static GPid
bare_loop_fork (guint16 *port)
{
  Server *server = server_new (SERVE_LINE, 0);
  GPid pid = fork ();

  if (pid < 0)
    g_error ("bench-proxy: fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      server_thread (server);
      _exit (0);
    }
  *port = server->port;
  close (server->listen_fd);
  close (server->stop_fd);
  close (server->epoll_fd);
  g_string_free (server->line_reply, TRUE);
  g_string_free (server->http_keep_alive, TRUE);
  g_string_free (server->http_close, TRUE);
  g_free (server);
  return pid;
}

/* Connections still open are left to the process's exit. */
static void
server_stop (Server *server)
{
  guint64 one = 1;

  if (write (server->stop_fd, &one, sizeof one) != sizeof one)
    g_error ("bench-proxy: cannot stop a server thread");
  g_thread_join (server->thread);
  close (server->listen_fd);
  close (server->stop_fd);
  close (server->epoll_fd);
  g_string_free (server->line_reply, TRUE);
  g_string_free (server->http_keep_alive, TRUE);
  g_string_free (server->http_close, TRUE);
  g_free (server);
}

/* ---- the client: one-shot connections, request in, body out ---- */

typedef struct {
  int fd;
  gchar *request;             /* (owned) */
  gsize request_len, got;
  gchar head[16];             /* the first bytes of the answer */
} Shot;

typedef struct {
  int epoll_fd;
  guint16 port;
  gsize expect;               /* bytes of a whole answer; 0: any answer starting "HTTP/1.1 200" */
  guint64 ok, failed;
  gint64 last_done;
  GArray *done_times;         /* (nullable): gint64, when each shot ended */
} Shooter;

static gboolean
shot_succeeded (const Shooter *shooter, const Shot *shot)
{
  if (shooter->expect != 0)
    return shot->got == shooter->expect;
  return shot->got >= BODY_SIZE && g_str_has_prefix (shot->head, "HTTP/1.1 200");
}

static void
shot_send (Shot *shot)
{
  /* a few dozen bytes: loopback takes them in one write */
  if (write (shot->fd, shot->request, shot->request_len) != (gssize) shot->request_len)
    g_warning ("bench-proxy: short request write");
}

/* Starts one connection for @request (taken); FALSE if it cannot start. */
static gboolean
shot_start (Shooter *shooter, gchar *request)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (shooter->port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  struct epoll_event ev;
  Shot *shot = g_new0 (Shot, 1);

  shot->request = request;
  shot->request_len = strlen (request);
  shot->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (shot->fd < 0)
    g_error ("bench-proxy: socket: %s", g_strerror (errno));
  ev.data.ptr = shot;
  if (connect (shot->fd, (struct sockaddr *) &addr, sizeof addr) == 0)
    {
      shot_send (shot);
      ev.events = EPOLLIN;
    }
  else if (errno == EINPROGRESS)
    ev.events = EPOLLOUT;
  else
    {
      shooter->failed++;
      close (shot->fd);
      g_free (shot->request);
      g_free (shot);
      return FALSE;
    }
  epoll_ctl (shooter->epoll_fd, EPOLL_CTL_ADD, shot->fd, &ev);
  return TRUE;
}

/* Handles one event; TRUE when the shot is over (counted and freed). */
static gboolean
shot_event (Shooter *shooter, Shot *shot, guint32 events, gchar *scratch, gsize scratch_len)
{
  if (events & EPOLLOUT)
    {
      int err = 0;
      socklen_t len = sizeof err;
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = shot };

      getsockopt (shot->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0)
        {
          shot_send (shot);
          epoll_ctl (shooter->epoll_fd, EPOLL_CTL_MOD, shot->fd, &ev);
          return FALSE;
        }
      shooter->failed++;
    }
  else
    {
      gssize n = read (shot->fd, scratch, scratch_len);

      if (n < 0 && errno == EAGAIN)
        return FALSE;
      if (n > 0)
        {
          if (shot->got < sizeof shot->head - 1)
            memcpy (shot->head + shot->got, scratch, MIN ((gsize) n, sizeof shot->head - 1 - shot->got));
          shot->got += (gsize) n;
          return FALSE;
        }
      if (n == 0 && shot_succeeded (shooter, shot))
        shooter->ok++;
      else
        shooter->failed++;
    }
  shooter->last_done = now_us ();
  if (shooter->done_times != NULL)
    g_array_append_val (shooter->done_times, shooter->last_done);
  close (shot->fd);
  g_free (shot->request);
  g_free (shot);
  return TRUE;
}

typedef gchar *(*RequestFunc) (guint i, gpointer data);

/* Keeps @width connections busy, each asking request_func (i) for the
 * i-th request, until @n_total have started or @until (monotonic µs,
 * 0: none) has passed, then waits for the rest until @give_up.  Returns
 * the time the first started. */
static gint64
shoot (Shooter *shooter, guint width, guint64 n_total, gint64 until, gint64 give_up,
       RequestFunc request_func, gpointer data)
{
  gint64 start = now_us ();
  gsize scratch_len = 64 * 1024;
  g_autofree gchar *scratch = g_malloc (scratch_len);
  struct epoll_event events[256];
  guint64 started = 0;
  guint open = 0;

  shooter->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  shooter->last_done = start;
  for (;;)
    {
      gint64 now = now_us ();
      gboolean more = started < n_total && (until == 0 || now < until);
      int n;

      while (more && open < width && started < n_total)
        {
          if (shot_start (shooter, request_func ((guint) started, data)))
            open++;
          started++;
        }
      if (open == 0 || now > give_up)
        break;
      n = epoll_wait (shooter->epoll_fd, events, G_N_ELEMENTS (events), 100);
      for (int i = 0; i < n; i++)
        if (shot_event (shooter, events[i].data.ptr, events[i].events, scratch, scratch_len))
          open--;
    }
  shooter->failed += open;   /* given up on: their fds go with the process */
  close (shooter->epoll_fd);
  return start;
}

static gchar *
same_line (guint i, gpointer data)
{
  return g_strdup (data);
}

typedef struct {
  double rate;                /* whole answers per second */
  double seconds;             /* how long they took */
  guint64 ok, failed;
} LoadResult;

typedef struct {
  Shooter shooter;
  guint width;
  gint64 until, start;
  const gchar *line;
  GThread *thread;
} LoadThread;

static gpointer
load_thread (gpointer data)
{
  LoadThread *load = data;

  load->start = shoot (&load->shooter, load->width, G_MAXUINT64, load->until,
                       load->until + 30 * G_USEC_PER_SEC, same_line, (gpointer) load->line);
  return NULL;
}

/* --concurrency one-shot connections for @secs, each sending @line, from
 * --client-threads threads: connecting over loopback costs the client
 * more than accepting costs the server (the handshake runs in connect's
 * context), so one client thread is slower than a bare server. */
static LoadResult
line_load (guint16 port, const gchar *line, double secs)
{
  gint64 until = now_us () + (gint64) (secs * G_USEC_PER_SEC);
  LoadThread loads[16] = { { { 0 } } };
  guint n_threads = (guint) CLAMP (client_threads, 1, (gint) G_N_ELEMENTS (loads));
  gint64 first = G_MAXINT64, last = 0;
  LoadResult result = { 0 };

  for (guint i = 0; i < n_threads; i++)
    {
      loads[i].shooter.port = port;
      loads[i].shooter.expect = BODY_SIZE;
      loads[i].width = MAX ((guint) concurrency / n_threads, 1u);
      loads[i].until = until;
      loads[i].line = line;
      loads[i].thread = g_thread_new ("load", load_thread, &loads[i]);
    }
  for (guint i = 0; i < n_threads; i++)
    {
      g_thread_join (loads[i].thread);
      result.ok += loads[i].shooter.ok;
      result.failed += loads[i].shooter.failed;
      first = MIN (first, loads[i].start);
      last = MAX (last, loads[i].shooter.last_done);
    }
  result.seconds = (double) (last - first) / G_USEC_PER_SEC;
  result.rate = (double) result.ok / result.seconds;
  return result;
}

typedef struct {
  guint16 upstream_port;
  guint run;
  gboolean http;              /* ask the upstream itself */
} FanOut;

static gchar *
slow_request (guint i, gpointer data)
{
  FanOut *fan = data;

  if (fan->http)
    return g_strdup_printf ("GET /slow/%u-%u HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
                            fan->run, i, fan->upstream_port);
  return g_strdup_printf ("http://127.0.0.1:%u/slow/%u-%u\n", fan->upstream_port, fan->run, i);
}

typedef struct {
  double wall_s, median_s;    /* until the last answer, and the middle one */
  double last_arrival_s;      /* until the upstream had the last request */
  double last_answer_s;       /* until it had answered the last one */
  double cpu_s;               /* CPU time the proxy used meanwhile */
  guint64 ok, failed;
} FanOutResult;

static gint
compare_times (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* How many answers ended in each tenth of a second after @start. */
static void
print_histogram (GArray *times, gint64 start)
{
  guint counts[100] = { 0 };

  for (guint i = 0; i < times->len; i++)
    counts[MIN ((g_array_index (times, gint64, i) - start) / 100000, 99)]++;
  for (guint i = 0; i < 100; i++)
    if (counts[i] > 0)
      g_print ("  %.1f-%.1f s: %u\n", i / 10.0, (i + 1) / 10.0, counts[i]);
}

/* --fetches connections at once, each for its own /slow URL, through the
 * proxy on @port (or straight to the upstream when @port is its port). */
static FanOutResult
fan_out (guint16 port, Server *upstream, guint run, GPid proxy_pid)
{
  double cpu_before = proxy_pid != 0 ? cpu_seconds (proxy_pid) : 0;
  guint16 upstream_port = upstream->port;
  FanOut fan = { upstream_port, run, port == upstream_port };
  Shooter shooter = { .port = port, .expect = fan.http ? 0 : BODY_SIZE };
  g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 start;
  FanOutResult result;

  shooter.done_times = times;
  start = shoot (&shooter, (guint) n_fetches, (guint64) n_fetches, 0, now_us () + 120 * G_USEC_PER_SEC,
                 slow_request, &fan);
  g_array_sort (times, compare_times);
  if (g_getenv ("BENCH_PROXY_HISTOGRAM") != NULL)
    print_histogram (times, start);
  result.wall_s = (double) (shooter.last_done - start) / G_USEC_PER_SEC;
  result.median_s = times->len > 0 ? (double) (g_array_index (times, gint64, times->len / 2) - start) / G_USEC_PER_SEC
                                   : 0;
  result.ok = shooter.ok;
  result.failed = shooter.failed;
  result.cpu_s = proxy_pid != 0 ? cpu_seconds (proxy_pid) - cpu_before : 0;
  result.last_answer_s = (double) (GPOINTER_TO_SIZE (g_atomic_pointer_get (&upstream->last_answer)) - start)
                         / G_USEC_PER_SEC;
  result.last_arrival_s = (double) (GPOINTER_TO_SIZE (g_atomic_pointer_get (&upstream->last_slow)) - start)
                          / G_USEC_PER_SEC;
  return result;
}

/* ---- child processes ---- */

typedef struct {
  GPid pid;
  guint16 port;
  const gchar *name;
} Child;

static Child
child_start (const gchar *name, const gchar *const *argv, guint16 port, const gchar *log_path)
{
  g_autoptr(GError) error = NULL;
  int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  Child child = { 0, port, name };

  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                         NULL, NULL, -1, log_fd, log_fd, NULL, NULL, 0, &child.pid,
                                         NULL, NULL, NULL, &error))
    g_error ("bench-proxy: cannot start %s: %s", argv[0], error->message);
  close (log_fd);
  if (!wait_for_port (port, 10 * G_USEC_PER_SEC))
    g_error ("bench-proxy: %s did not listen on port %u (see %s)", name, port, log_path);
  return child;
}

static void
child_stop (Child *child)
{
  kill (child->pid, SIGTERM);
  waitpid (child->pid, NULL, 0);
  g_spawn_close_pid (child->pid);
}

static gint64
rss_kib (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents (path, &status, NULL, NULL) || (line = strstr (status, "VmRSS:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("VmRSS:"), NULL, 10);
}

/* What @child's resident memory grows by, in bytes per connection, for
 * IDLE_CONNECTIONS connections that send nothing. */
static double
idle_bytes_per_connection (const Child *child)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (child->port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fds[IDLE_CONNECTIONS];
  gint64 before = rss_kib (child->pid), after;

  for (guint i = 0; i < IDLE_CONNECTIONS; i++)
    {
      fds[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect (fds[i], (struct sockaddr *) &addr, sizeof addr) < 0)
        g_error ("bench-proxy: idle connection %u: %s", i, g_strerror (errno));
    }
  g_usleep (500 * 1000);   /* all accepted */
  after = rss_kib (child->pid);
  for (guint i = 0; i < IDLE_CONNECTIONS; i++)
    close (fds[i]);
  g_usleep (200 * 1000);
  return (double) (after - before) * 1024 / IDLE_CONNECTIONS;
}

/* ---- the run ---- */

static void
raise_fd_limit (void)
{
  struct rlimit lim;

  getrlimit (RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit (RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < (rlim_t) n_fetches * 2 + 64)
    g_error ("bench-proxy: %d connections need %d file descriptors; the limit is %lu",
             n_fetches, n_fetches * 2 + 64, (unsigned long) lim.rlim_cur);
}

static Child
start_proxy (const gchar *name, const gchar *memcached, const gchar *dir)
{
  guint16 port = free_port ();
  g_autofree gchar *listen = g_strdup_printf ("tcp:%u:interface=127.0.0.1", port);
  g_autofree gchar *log = g_strdup_printf ("%s/%s.log", dir, name);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const gchar *fixed[] = { proxy_path, "--config", "/dev/null", "--listen", listen, "--allow", "127.0.0.1" };

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, (gpointer) fixed[i]);
  if (memcached != NULL)
    {
      g_ptr_array_add (argv, "--memcached");
      g_ptr_array_add (argv, (gpointer) memcached);
    }
  for (guint i = 0; proxy_args != NULL && proxy_args[i] != NULL; i++)
    g_ptr_array_add (argv, proxy_args[i]);
  g_ptr_array_add (argv, NULL);
  return child_start (name, (const gchar *const *) argv->pdata, port, log);
}

/* On a proxy that has served nothing yet, so that the heap it grows for
 * the connections is not memory an earlier load freed. */
static double
idle_on_fresh_proxy (const gchar *name, const gchar *memcached, const gchar *dir)
{
  Child proxy = start_proxy (name, memcached, dir);
  double bytes = idle_bytes_per_connection (&proxy);

  child_stop (&proxy);
  return bytes;
}

static gchar *
stats_summary (double *values, guint n)
{
  double min = values[0], max = values[0], sum = 0;

  for (guint i = 0; i < n; i++)
    {
      min = MIN (min, values[i]);
      max = MAX (max, values[i]);
      sum += values[i];
    }
  return g_strdup_printf ("%.2f (%.2f-%.2f)", sum / n, min, max);
}

enum { BARE, MEMORY, MEMCACHED, N_TARGETS };
static const gchar *const target_names[N_TARGETS] = { "bare epoll loop", "braid-proxy, memory cache",
                                                     "braid-proxy, memcached cache" };

/* One round: --seconds of load on each target, in --slices turns that
 * alternate between the targets, so that whatever else the machine does
 * meanwhile weighs on all three alike. */
/* Server CPU seconds per request, per target and round. */
static double cpu_us[N_TARGETS][16];

static void
measure_round (const guint16 *ports, const gchar *const *cpu_paths, const gchar *line, double rates[][16],
               double ratios[][16], guint r)
{
  guint64 ok[N_TARGETS] = { 0 }, failed = 0;
  double secs[N_TARGETS] = { 0 }, cpu[N_TARGETS] = { 0 };
  guint n = (guint) MAX (slices, 1);

  for (guint slice = 0; slice < n && seconds > 0; slice++)
    for (guint t = 0; t < N_TARGETS; t++)
      {
        double cpu_before = cpu_seconds_of (cpu_paths[t]);
        LoadResult load = line_load (ports[t], line, (double) seconds / n);

        cpu[t] += cpu_seconds_of (cpu_paths[t]) - cpu_before;
        ok[t] += load.ok;
        secs[t] += load.seconds;
        failed += load.failed;
      }
  for (guint t = 0; t < N_TARGETS; t++)
    {
      rates[t][r] = secs[t] > 0 ? (double) ok[t] / secs[t] : 0;
      cpu_us[t][r] = ok[t] > 0 ? cpu[t] * G_USEC_PER_SEC / (double) ok[t] : 0;
      ratios[t][r] = rates[BARE][r] > 0 ? rates[t][r] / rates[BARE][r] : 0;
    }
  if (failed > 0)
    g_print ("round %u: %" G_GUINT64_FORMAT " requests failed\n", r + 1, failed);
}

static GOptionEntry entries[] = {
  { "proxy", 0, 0, G_OPTION_ARG_FILENAME, &proxy_path, "braid-proxy to run", "PATH" },
  { "proxy-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &proxy_args, "Pass ARG to every braid-proxy (repeatable)", "ARG" },
  { "memcached", 0, 0, G_OPTION_ARG_FILENAME, &memcached_path, "memcached to run (default: memcached)", "PATH" },
  { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Seconds of load per server and round (3; 0: no load, the fetches only)", "S" },
  { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Rounds (3)", "N" },
  { "slices", 0, 0, G_OPTION_ARG_INT, &slices, "Turns per round, alternating between the targets (6)", "N" },
  { "concurrency", 0, 0, G_OPTION_ARG_INT, &concurrency, "One-shot connections at once in the load (32)", "N" },
  { "client-threads", 0, 0, G_OPTION_ARG_INT, &client_threads, "Threads sharing the load's connections (2)", "N" },
  { "fetches", 0, 0, G_OPTION_ARG_INT, &n_fetches, "Concurrent slow fetches (1000)", "N" },
  { "delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "The upstream's delay on /slow (1000)", "MS" },
  { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "One round of one second", NULL },
  { "bare-in-thread", 0, 0, G_OPTION_ARG_NONE, &bare_in_thread,
    "Run the bare loop as a thread of the bench, not as a process of its own", NULL },
  { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Also write the results to FILE as JSON", "FILE" },
  { NULL }
};

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— braid-proxy against a bare epoll loop");
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autoptr(GString) json = g_string_new ("{\n  \"rounds\": [\n");
  double rates[N_TARGETS][16] = { { 0 } }, ratios[N_TARGETS][16] = { { 0 } }, fan_wall[16], direct_wall[16];
  guint64 fan_failed[16], direct_failed[16];
  double idle[2] = { 0 };
  guint16 mc_port;
  g_autofree gchar *mc_port_str = NULL, *mc_endpoint = NULL, *mc_log = NULL;
  Server *upstream, *bare = NULL;
  GPid bare_pid = 0;
  guint16 bare_port = 0;
  Child mc, memory_proxy, mc_proxy;
  g_autofree gchar *url_line = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-proxy: %s\n", error->message);
      return 2;
    }
  if (proxy_path == NULL)
    {
      g_printerr ("bench-proxy: --proxy PATH is needed\n");
      return 2;
    }
  if (quick)
    {
      seconds = 1;
      rounds = 1;
      slices = 2;
    }
  rounds = CLAMP (rounds, 1, 16);
  signal (SIGPIPE, SIG_IGN);
  raise_fd_limit ();
  dir = g_dir_make_tmp ("bench-proxy-XXXXXX", &error);
  g_assert_no_error (error);

  if (bare_in_thread)
    bare = server_start (SERVE_LINE, 0);
  else
    bare_pid = bare_loop_fork (&bare_port);
  upstream = server_start (SERVE_HTTP, (gint64) delay_ms * 1000);
  mc_port = free_port ();
  mc_port_str = g_strdup_printf ("%u", mc_port);
  mc_endpoint = g_strdup_printf ("127.0.0.1:%u", mc_port);
  mc_log = g_build_filename (dir, "memcached.log", NULL);
  {
    const gchar *mc_argv[] = { memcached_path != NULL ? memcached_path : "memcached", "-u", g_get_user_name (),
                               "-p", mc_port_str, "-l", "127.0.0.1", "-U", "0", "-m", "64", NULL };
    mc = child_start ("memcached", mc_argv, mc_port, mc_log);
  }
  memory_proxy = start_proxy ("proxy-memory", NULL, dir);
  mc_proxy = start_proxy ("proxy-memcached", mc_endpoint, dir);
  g_print ("bench-proxy: %d round(s) of %d s, %d connections at once from %d threads, %d-byte body; logs in %s\n",
           rounds, seconds, concurrency, client_threads, BODY_SIZE, dir);

  /* One request each warms the proxies' caches: the load is all hits. */
  url_line = g_strdup_printf ("http://127.0.0.1:%u/body\n", upstream->port);
  line_load (memory_proxy.port, url_line, 0.2);
  line_load (mc_proxy.port, url_line, 0.2);

  for (gint r = 0; r < rounds; r++)
    {
      const guint16 ports[N_TARGETS] = { bare != NULL ? bare->port : bare_port, memory_proxy.port, mc_proxy.port };
      g_autofree gchar *bare_stat = bare != NULL
                                    ? g_strdup_printf ("/proc/self/task/%d/stat", g_atomic_int_get (&bare->tid))
                                    : g_strdup_printf ("/proc/%d/stat", bare_pid);
      g_autofree gchar *memory_stat = g_strdup_printf ("/proc/%d/stat", memory_proxy.pid);
      g_autofree gchar *mc_stat = g_strdup_printf ("/proc/%d/stat", mc_proxy.pid);
      const gchar *cpu_paths[N_TARGETS] = { bare_stat, memory_stat, mc_stat };
      FanOutResult fan, direct;

      measure_round (ports, (const gchar *const *) cpu_paths, url_line, rates, ratios, (guint) r);
      for (guint t = 0; t < N_TARGETS && seconds > 0; t++)
        g_print ("round %d: %-30s %9.0f req/s  %.2fx bare  server CPU %.1f us/request\n", r + 1,
                 target_names[t], rates[t][r], ratios[t][r], cpu_us[t][r]);
      fan = fan_out (memory_proxy.port, upstream, (guint) r, memory_proxy.pid);
      direct = fan_out (upstream->port, upstream, (guint) r + 1000, 0);
      fan_wall[r] = fan.wall_s;
      fan_failed[r] = fan.failed;
      direct_wall[r] = direct.wall_s;
      direct_failed[r] = direct.failed;
      /* --fetches 0 measures hits only: no fetch, no times to show */
      if (n_fetches > 0)
        g_print ("round %d: %d fetches of %d ms at once: braid-proxy %.2f s (median %.2f s, last request upstream "
                 "at %.2f s, answered at %.2f s, proxy CPU %.2f s, %" G_GUINT64_FORMAT " failed), upstream directly %.2f s (median %.2f s, %"
                 G_GUINT64_FORMAT " failed)\n",
                 r + 1, n_fetches, delay_ms, fan.wall_s, fan.median_s, fan.last_arrival_s, fan.last_answer_s, fan.cpu_s, fan.failed,
                 direct.wall_s, direct.median_s, direct.failed);
      g_string_append_printf (json, "    {\"bare\": %.0f, \"memory\": %.0f, \"memcached\": %.0f, "
                              "\"memory_ratio\": %.3f, \"memcached_ratio\": %.3f, \"cpu_us\": [%.1f, %.1f, %.1f], \"fanout_s\": %.3f, "
                              "\"fanout_failed\": %" G_GUINT64_FORMAT ", \"fanout_cpu_s\": %.3f, \"direct_s\": %.3f, "
                              "\"direct_failed\": %" G_GUINT64_FORMAT "}%s\n",
                              rates[BARE][r], rates[MEMORY][r], rates[MEMCACHED][r], ratios[MEMORY][r],
                              ratios[MEMCACHED][r], cpu_us[BARE][r], cpu_us[MEMORY][r], cpu_us[MEMCACHED][r], fan.wall_s, fan.failed, fan.cpu_s, direct.wall_s, direct.failed,
                              r + 1 < rounds ? "," : "");
    }
  idle[0] = idle_on_fresh_proxy ("proxy-memory-idle", NULL, dir);
  idle[1] = idle_on_fresh_proxy ("proxy-memcached-idle", mc_endpoint, dir);

  g_print ("\n%-32s %-28s %s\n", "summary, mean (min-max)", "req/s", "x bare, same round");
  for (guint t = 0; t < N_TARGETS; t++)
    {
      g_autofree gchar *rate = stats_summary (rates[t], (guint) rounds);
      g_autofree gchar *ratio = stats_summary (ratios[t], (guint) rounds);

      g_autofree gchar *cpu = stats_summary (cpu_us[t], (guint) rounds);

      g_print ("%-32s %-28s %-18s server CPU %s us/request\n", target_names[t], rate, ratio, cpu);
    }
  {
    g_autofree gchar *wall = stats_summary (fan_wall, (guint) rounds);
    g_autofree gchar *direct = stats_summary (direct_wall, (guint) rounds);
    guint64 failed = 0, direct_fail = 0;

    for (gint r = 0; r < rounds; r++)
      {
        failed += fan_failed[r];
        direct_fail += direct_failed[r];
      }
    g_print ("%d x %d ms fetches, braid-proxy  %s s, %" G_GUINT64_FORMAT " failed in all\n",
             n_fetches, delay_ms, wall, failed);
    g_print ("%d x %d ms fetches, upstream     %s s, %" G_GUINT64_FORMAT " failed in all\n",
             n_fetches, delay_ms, direct, direct_fail);
  }
  g_print ("idle connection, RSS per connection: memory cache %.0f bytes, memcached cache %.0f bytes\n",
           idle[0], idle[1]);
  g_string_append_printf (json, "  ],\n  \"idle_bytes_per_connection\": {\"memory\": %.0f, \"memcached\": %.0f}\n}\n",
                          idle[0], idle[1]);
  if (json_path != NULL && !g_file_set_contents (json_path, json->str, (gssize) json->len, &error))
    g_printerr ("bench-proxy: %s\n", error->message);

  child_stop (&mc_proxy);
  child_stop (&memory_proxy);
  child_stop (&mc);
  if (bare != NULL)
    server_stop (bare);
  else
    {
      kill (bare_pid, SIGTERM);
      waitpid (bare_pid, NULL, 0);
    }
  server_stop (upstream);
  return 0;
}
