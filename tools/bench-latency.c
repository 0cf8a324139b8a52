/* bench-latency — the latency load of tools/braid-bench, in C.
 *
 *   bench-latency --port P [--connections 32] [--threads 2] [--seconds 8]
 *                 [--rate R] [--keys 10000] [--value-size 100] [--seed 1]
 *
 * Stores --keys items of --value-size bytes (pipelined noreply sets), then
 * runs 90 % `get KEY` / 10 % `set KEY 0 0 N` requests over --connections
 * connections (TCP_NODELAY), spread over --threads threads, each with its
 * own epoll loop and its own connections, for --seconds:
 *
 *   --rate R  paced, an open loop: R requests a second in all leave on a
 *             fixed schedule whatever the server's pace (pipelined behind a
 *             late answer), and a request's latency runs from its
 *             scheduled send time to the last byte of its reply, so a
 *             stall is charged to every request scheduled behind it;
 *   no --rate saturated, a closed loop: one request in flight per
 *             connection, the next sent when the reply is whole.
 *
 * Prints one JSON object: requests, errors (sets not answered STORED, and
 * requests unanswered 2 s after the end), ops_per_s, p50/p90/p99/p999_us.
 *
 * Python's generator, used before, added tens of microseconds of its own
 * per request and jitter of the same size as the servers' difference;
 * here the generator's own share is a few microseconds. */
#define _GNU_SOURCE
#include <glib.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static gint port = 0, n_connections = 32, n_threads = 2, n_keys = 10000, value_size = 100;
static gdouble seconds = 8, rate = 0;
static gint64 seed = 1;

#define DRAIN_NS (2 * G_GINT64_CONSTANT (1000000000))

typedef struct
{
  gint64 scheduled_ns;  /* paced: the schedule; saturated: the send time */
  gboolean is_set;
} Pending;

typedef struct
{
  gint fd;
  GArray *pending;      /* of Pending, oldest first from @head */
  guint head;
  GByteArray *input;
} Conn;

typedef struct
{
  guint index;
  guint n_conns;
  gdouble rate;         /* this thread's share; 0 = saturated */
  GRand *rand;
  Conn *conns;
  GArray *latencies_ns; /* of gint64 */
  guint64 errors;
  gchar *value;
} Worker;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die (const gchar *what)
{
  fprintf (stderr, "bench-latency: %s: %s\n", what, g_strerror (errno));
  exit (2);
}

static gint
connect_loopback (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((guint16) port) };
  gint fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gint one = 1;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    die ("connect");
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void
send_all (gint fd, const gchar *data, gsize len)
{
  while (len > 0)
    {
      gssize n = send (fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("send");
      data += n;
      len -= (gsize) n;
    }
}

static gchar *
key_name (guint i)
{
  return g_strdup_printf ("lat:%028u", i);   /* 32 bytes, as memcaslap's keys */
}

/* Stores every key with noreply sets, then waits for a `version` reply so
 * that all of them are in before the clock starts. */
static void
preload_keys (void)
{
  GString *batch = g_string_new (NULL);
  gchar *value = g_strnfill ((gsize) value_size, 'x');
  gint fd = connect_loopback ();
  gchar buf[256];
  gsize got = 0;

  for (gint i = 0; i < n_keys; i++)
    {
      g_autofree gchar *key = key_name ((guint) i);
      g_string_append_printf (batch, "set %s 0 0 %d noreply\r\n%s\r\n", key, value_size, value);
    }
  g_string_append (batch, "version\r\n");
  send_all (fd, batch->str, batch->len);
  while (got < 2 || memcmp (buf + got - 2, "\r\n", 2) != 0)
    {
      gssize n = recv (fd, buf + got, sizeof buf - got, 0);
      if (n <= 0)
        die ("preload reply");
      got += (gsize) n;
      if (got == sizeof buf)
        got = 0;
    }
  close (fd);
  g_free (value);
  g_string_free (batch, TRUE);
}

static void
send_request (Worker *w, Conn *c, gint64 scheduled_ns)
{
  g_autofree gchar *key = key_name ((guint) g_rand_int_range (w->rand, 0, n_keys));
  Pending p = { scheduled_ns, g_rand_double (w->rand) < 0.1 };
  gchar line[512];
  gint n;

  if (p.is_set)
    n = g_snprintf (line, sizeof line, "set %s 0 0 %d\r\n%s\r\n", key, value_size, w->value);
  else
    n = g_snprintf (line, sizeof line, "get %s\r\n", key);
  g_array_append_val (c->pending, p);
  send_all (c->fd, line, (gsize) n);   /* small: the socket buffer takes it */
}

/* Length of the whole reply at the front of @buf for @p, or 0 if it is not
 * all there yet; -1 if the bytes are not a reply to it.  *refused is set
 * for a set not answered STORED. */
static gssize
reply_length (const Pending *p, const guint8 *buf, gsize len, gboolean *refused)
{
  const guint8 *eol = memchr (buf, '\n', len);
  gsize line_len;

  *refused = FALSE;
  if (eol == NULL)
    return 0;
  line_len = (gsize) (eol - buf) + 1;
  if (p->is_set)
    {
      *refused = !(line_len == 8 && memcmp (buf, "STORED\r\n", 8) == 0);
      return (gssize) line_len;
    }
  if (line_len == 5 && memcmp (buf, "END\r\n", 5) == 0)
    return 5;
  if (line_len > 6 && memcmp (buf, "VALUE ", 6) == 0)
    {
      g_autofree gchar *line = g_strndup ((const gchar *) buf, line_len - 2);
      g_auto (GStrv) fields = g_strsplit (line, " ", 0);
      gsize total;

      if (g_strv_length (fields) < 4)
        return -1;
      total = line_len + g_ascii_strtoull (fields[3], NULL, 10) + 2 + 5;
      return len >= total ? (gssize) total : 0;
    }
  return -1;
}

/* Takes every whole reply off the front of @c's input; returns how many. */
static guint
complete_replies (Worker *w, Conn *c, gint64 done_ns)
{
  guint n_done = 0;
  gsize used = 0;

  while (c->head < c->pending->len)
    {
      const Pending *p = &g_array_index (c->pending, Pending, c->head);
      gboolean refused;
      gssize n = reply_length (p, c->input->data + used, c->input->len - used, &refused);
      gint64 latency;

      if (n < 0)
        {
          fprintf (stderr, "bench-latency: unexpected reply %.40s\n", (const gchar *) c->input->data + used);
          exit (2);
        }
      if (n == 0)
        break;
      used += (gsize) n;
      latency = done_ns - p->scheduled_ns;
      g_array_append_val (w->latencies_ns, latency);
      w->errors += refused;
      c->head++;
      n_done++;
    }
  g_byte_array_remove_range (c->input, 0, (guint) used);
  if (c->head == c->pending->len)
    {
      g_array_set_size (c->pending, 0);
      c->head = 0;
    }
  return n_done;
}

static guint
read_conn (Worker *w, Conn *c)
{
  guint8 buf[65536];
  gssize n = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    {
      fprintf (stderr, "bench-latency: the server closed a connection\n");
      exit (2);
    }
  g_byte_array_append (c->input, buf, (guint) n);
  return complete_replies (w, c, now_ns ());
}

static guint
outstanding (Worker *w)
{
  guint n = 0;

  for (guint i = 0; i < w->n_conns; i++)
    n += w->conns[i].pending->len - w->conns[i].head;
  return n;
}

static void
arm_timer (gint tfd, gint64 at_ns)
{
  struct itimerspec its = { .it_value = { at_ns / 1000000000, at_ns % 1000000000 } };

  if (timerfd_settime (tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
    die ("timerfd_settime");
}

static gpointer
run_worker (gpointer data)
{
  Worker *w = data;
  struct epoll_event events[64];
  gint ep = epoll_create1 (EPOLL_CLOEXEC);
  gint tfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
  gint64 start = now_ns (), stop = start + (gint64) (seconds * 1e9);
  gint64 interval = w->rate > 0 ? (gint64) (1e9 / w->rate) : 0;
  /* threads start their schedules staggered, as if one schedule were dealt out */
  gint64 next_send = start + interval * w->index / MAX (n_threads, 1);
  guint sent = 0;

  if (ep < 0 || tfd < 0 || epoll_ctl (ep, EPOLL_CTL_ADD, tfd, &tev) < 0)
    die ("epoll");
  for (guint i = 0; i < w->n_conns; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->conns[i] };
      if (epoll_ctl (ep, EPOLL_CTL_ADD, w->conns[i].fd, &ev) < 0)
        die ("epoll_ctl");
      if (interval == 0)
        send_request (w, &w->conns[i], now_ns ());
    }
  if (interval > 0)
    arm_timer (tfd, next_send);

  for (;;)
    {
      gint64 now = now_ns ();
      gint n;

      if (interval > 0)
        {
          while (next_send <= now && next_send < stop)
            {
              send_request (w, &w->conns[sent++ % w->n_conns], next_send);
              next_send += interval;
            }
          if (next_send >= stop && (outstanding (w) == 0 || now >= stop + DRAIN_NS))
            break;
          arm_timer (tfd, next_send < stop ? next_send : stop + DRAIN_NS);
        }
      else if (now >= stop)
        break;

      n = epoll_wait (ep, events, G_N_ELEMENTS (events), interval > 0 ? -1 : 100);
      if (n < 0 && errno != EINTR)
        die ("epoll_wait");
      for (gint i = 0; i < n; i++)
        {
          Conn *c = events[i].data.ptr;
          guint64 expirations;

          if (c == NULL)
            {
              if (read (tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                die ("timerfd read");
              continue;
            }
          if (read_conn (w, c) > 0 && interval == 0 && now_ns () < stop)
            send_request (w, c, now_ns ());
        }
    }
  if (interval > 0)
    w->errors += outstanding (w);
  close (tfd);
  close (ep);
  return NULL;
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static gdouble
percentile_us (GArray *sorted, gdouble p)
{
  guint i = MIN (sorted->len - 1, (guint) (p / 100.0 * sorted->len));

  return g_array_index (sorted, gint64, i) / 1000.0;
}

static void
worker_init (Worker *w, guint index, guint n_conns)
{
  w->index = index;
  w->n_conns = n_conns;
  w->rate = rate / n_threads;
  w->rand = g_rand_new_with_seed ((guint32) (seed * 1000 + index));
  w->conns = g_new0 (Conn, n_conns);
  w->latencies_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  w->value = g_strnfill ((gsize) value_size, 'x');
  for (guint i = 0; i < n_conns; i++)
    {
      w->conns[i].fd = connect_loopback ();
      w->conns[i].pending = g_array_new (FALSE, FALSE, sizeof (Pending));
      w->conns[i].input = g_byte_array_new ();
    }
}

static void
worker_clear (Worker *w)
{
  for (guint i = 0; i < w->n_conns; i++)
    {
      close (w->conns[i].fd);
      g_array_free (w->conns[i].pending, TRUE);
      g_byte_array_free (w->conns[i].input, TRUE);
    }
  g_free (w->conns);
  g_array_free (w->latencies_ns, TRUE);
  g_rand_free (w->rand);
  g_free (w->value);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "the server's loopback port", "P" },
    { "connections", 0, 0, G_OPTION_ARG_INT, &n_connections, "connections in all (32)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &n_threads, "generator threads (2)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "length of the load (8)", "S" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate, "paced: requests a second in all (default: saturated)", "R" },
    { "keys", 0, 0, G_OPTION_ARG_INT, &n_keys, "keys stored and drawn from (10000)", "N" },
    { "value-size", 0, 0, G_OPTION_ARG_INT, &value_size, "bytes per value (100)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the key and command draws (1)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- latency load for braid-bench");
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  Worker *workers;
  GThread **threads;
  guint64 errors = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "bench-latency: %s\n", error->message);
      return 2;
    }
  if (port <= 0 || n_threads < 1 || n_connections < n_threads || n_keys < 1 || value_size < 1 || seconds <= 0)
    {
      fprintf (stderr, "bench-latency: needs --port, and --connections >= --threads >= 1\n");
      return 2;
    }

  preload_keys ();
  workers = g_new0 (Worker, n_threads);
  threads = g_new0 (GThread *, n_threads);
  for (gint i = 0; i < n_threads; i++)
    {
      guint first = (guint) (n_connections * i / n_threads);
      guint last = (guint) (n_connections * (i + 1) / n_threads);
      worker_init (&workers[i], (guint) i, last - first);
    }
  for (gint i = 0; i < n_threads; i++)
    threads[i] = g_thread_new ("load", run_worker, &workers[i]);
  for (gint i = 0; i < n_threads; i++)
    {
      g_thread_join (threads[i]);
      g_array_append_vals (all, workers[i].latencies_ns->data, workers[i].latencies_ns->len);
      errors += workers[i].errors;
      worker_clear (&workers[i]);
    }
  g_free (threads);
  g_free (workers);
  if (all->len == 0)
    {
      fprintf (stderr, "bench-latency: no reply at all\n");
      return 2;
    }
  g_array_sort (all, compare_gint64);
  printf ("{\"requests\": %u, \"errors\": %" G_GUINT64_FORMAT ", \"ops_per_s\": %.1f, "
          "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f}\n",
          all->len, errors, all->len / seconds, percentile_us (all, 50), percentile_us (all, 90),
          percentile_us (all, 99), percentile_us (all, 99.9));
  return 0;
}
