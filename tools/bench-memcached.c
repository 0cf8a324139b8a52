/* bench-memcached — braid-memcached against Debian's memcached, same load,
 * same machine, same run.  A benchmark, not a test: it prints numbers.
 *
 *   bench-memcached [--seconds S] [--connections N] [--depth D]
 *                   [--items N] [--value-size BYTES]
 *
 * For each server: start it on a free loopback port (-m 1024), load
 * --items items and read its resident memory before and after (memory per
 * item), then run a pipelined get load and a pipelined set load for
 * --seconds each (operations per second).  Ratios are braid / memcached. */
#include "callback-protocol.h"
#include "glib-reactor.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static gint seconds = 3, n_connections = 4, depth = 32, n_items = 100000, value_size = 100;

/* ---- the load protocol: keeps @depth requests in flight ---- */

typedef struct
{
  gboolean gets;           /* get load, else set load */
  guint next_key;
  gsize reply_len;         /* every reply has this length */
  gsize pending_bytes;     /* received, not yet a whole reply */
  guint64 *done;           /* shared counter */
  gboolean *stop;
  gchar *value;
} LoadClient;

static void
load_client_free (gpointer data)
{
  LoadClient *self = data;

  g_free (self->value);
  g_free (self);
}

static void
send_one (LoadClient *self, BraidTransport *t)
{
  guint key = self->next_key++ % (guint) n_items;

  if (self->gets)
    braid_transport_write_printf (t, "get key:%08u\r\n", key);
  else
    braid_transport_write_printf (t, "set key:%08u 0 0 %d\r\n%s\r\n", key, value_size, self->value);
}

static void
load_connection_made (BraidProtocol *protocol, BraidTransport *transport, gpointer user_data)
{
  LoadClient *self = user_data;

  for (gint i = 0; i < depth; i++)
    send_one (self, transport);
}

static void
load_data_received (BraidProtocol *protocol, const guint8 *data, gsize len, gpointer user_data)
{
  LoadClient *self = user_data;

  self->pending_bytes += len;
  while (self->pending_bytes >= self->reply_len)
    {
      self->pending_bytes -= self->reply_len;
      (*self->done)++;
      if (!*self->stop)
        send_one (self, braid_protocol_get_transport (protocol));
    }
}

static const BraidProtocolCallbacks load_callbacks = {
  .connection_made = load_connection_made,
  .data_received = load_data_received,
};

typedef struct {
  gboolean gets;
  guint64 done;
  gboolean stop;
  guint index;
} LoadSpec;

static BraidProtocol *
build_load (GSocketAddress *address, gpointer data)
{
  LoadSpec *spec = data;
  LoadClient *c = g_new0 (LoadClient, 1);

  c->gets = spec->gets;
  c->done = &spec->done;
  c->stop = &spec->stop;
  c->next_key = spec->index++ * 7919;
  c->value = g_strnfill ((gsize) value_size, 'v');
  /* "STORED\r\n", or "VALUE key:00000000 0 N\r\n" + N + "\r\nEND\r\n" */
  c->reply_len = spec->gets ? strlen ("VALUE key:00000000 0 \r\n") + (gsize) g_snprintf (NULL, 0, "%d", value_size) +
                               (gsize) value_size + 2 + 5
                            : 8;
  return BRAID_PROTOCOL (braid_callback_protocol_new (&load_callbacks, c, load_client_free));
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gdouble
run_load (guint16 port, gboolean gets, gdouble duration)
{
  g_autoptr(BraidGlibReactor) reactor = braid_glib_reactor_new (NULL);
  LoadSpec spec = { gets, 0, FALSE, 0 };
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new (build_load, &spec, NULL);
  g_autofree gchar *endpoint = g_strdup_printf ("tcp:127.0.0.1:%u", port);
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean over = FALSE;
  gint64 start;
  guint64 at_start;

  for (gint i = 0; i < n_connections; i++)
    {
      g_autoptr(GAsyncResult) result = NULL;

      braid_reactor_connect_async (BRAID_REACTOR (reactor), endpoint, factory, NULL,
                                   (GAsyncReadyCallback) (void (*) (void)) NULL, NULL);
      (void) result;
    }
  /* warm up half a second, then measure */
  g_timeout_add (500, on_timeout, &over);
  while (!over)
    g_main_context_iteration (NULL, TRUE);
  over = FALSE;
  at_start = spec.done;
  start = g_get_monotonic_time ();
  g_timeout_add ((guint) (duration * 1000), on_timeout, &over);
  while (!over)
    g_main_context_iteration (NULL, TRUE);
  spec.stop = TRUE;
  {
    gdouble elapsed = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
    guint64 ops = spec.done - at_start;

    /* let in-flight replies drain before the connections go */
    g_timeout_add (200, on_timeout, &over);
    over = FALSE;
    while (!over)
      g_main_context_iteration (NULL, TRUE);
    return (gdouble) ops / elapsed;
  }
}

/* ---- servers ---- */

static glong
rss_kib (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree gchar *text = NULL;
  const gchar *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return -1;
  return strtol (line + 6, NULL, 10);
}

static gboolean
wait_port (guint16 port)
{
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GSocketClient) c = g_socket_client_new ();
      g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (c, "127.0.0.1", port, NULL, NULL);

      if (conn != NULL)
        return TRUE;
      g_usleep (20000);
    }
  return FALSE;
}

static guint16
free_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) a = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_socket_bind (s, a, TRUE, NULL);
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

typedef struct {
  const gchar *name;
  gdouble get_ops, set_ops, bytes_per_item;
} Result;

static gboolean
measure (const gchar *name, const gchar *program, Result *r)
{
  guint16 port = free_port ();
  g_autofree gchar *port_s = g_strdup_printf ("%u", port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) server = NULL;
  GPid pid;
  glong before, after;
  gboolean is_braid = strstr (program, "braid") != NULL;

  server = is_braid ? g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, program, "-p", port_s,
                                        "-l", "127.0.0.1", "-m", "1024", "--config", "/dev/null", NULL)
                    : g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, program, "-p", port_s,
                                        "-l", "127.0.0.1", "-m", "1024", "-U", "0", "-u", g_get_user_name (), NULL);
  if (server == NULL || !wait_port (port))
    {
      g_printerr ("bench-memcached: could not start %s: %s\n", program, error != NULL ? error->message : "no port");
      return FALSE;
    }
  pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (server), NULL, 10);
  r->name = name;
  before = rss_kib (pid);
  /* fill: one pass of sets over every key */
  {
    gint saved = seconds;

    r->set_ops = run_load (port, FALSE, MAX (1.0, (gdouble) n_items / 50000.0));
    seconds = saved;
  }
  after = rss_kib (pid);
  r->bytes_per_item = (gdouble) (after - before) * 1024.0 / n_items;
  r->get_ops = run_load (port, TRUE, seconds);
  r->set_ops = run_load (port, FALSE, seconds);
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *braid = NULL;
  g_autofree gchar *memcached = g_find_program_in_path ("memcached");
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Seconds per measurement (default 3)", "S" },
    { "connections", 'c', 0, G_OPTION_ARG_INT, &n_connections, "Connections (default 4)", "N" },
    { "depth", 'd', 0, G_OPTION_ARG_INT, &depth, "Requests in flight per connection (default 32)", "D" },
    { "items", 'n', 0, G_OPTION_ARG_INT, &n_items, "Items in the key space (default 100000)", "N" },
    { "value-size", 'v', 0, G_OPTION_ARG_INT, &value_size, "Value bytes (default 100)", "BYTES" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— braid-memcached vs memcached, same load");
  g_autoptr(GError) error = NULL;
  Result b = { 0 }, m = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-memcached: %s\n", error->message);
      return 2;
    }
  {
    g_autofree gchar *dir = g_path_get_dirname (argv[0]);

    braid = g_build_filename (dir, "..", "src", "daemon", "braid-memcached", NULL);
  }
  if (memcached == NULL)
    {
      g_printerr ("bench-memcached: memcached is not installed\n");
      return 1;
    }
  if (!measure ("braid-memcached", braid, &b) || !measure ("memcached", memcached, &m))
    return 1;
  g_print ("%d connections x %d in flight, %d items of %d bytes, %d s per measurement\n\n",
           n_connections, depth, n_items, value_size, seconds);
  g_print ("%-16s %14s %14s %16s\n", "server", "get ops/s", "set ops/s", "bytes/item (RSS)");
  g_print ("%-16s %14.0f %14.0f %16.1f\n", b.name, b.get_ops, b.set_ops, b.bytes_per_item);
  g_print ("%-16s %14.0f %14.0f %16.1f\n", m.name, m.get_ops, m.set_ops, m.bytes_per_item);
  g_print ("%-16s %14.2f %14.2f %16.2f\n", "ratio braid/mc", b.get_ops / m.get_ops, b.set_ops / m.set_ops,
           m.bytes_per_item > 0 ? b.bytes_per_item / m.bytes_per_item : 0.0);
  return 0;
}
