/* braid — braid-memcached on several reactor threads: many client threads
 * run mixed commands on overlapping keys through real sockets, and the
 * memcached invariants hold across the server's threads (every incr
 * counted once, no lost cas update, cas numbers unique, the connection
 * counters summed over threads).  Run under ThreadSanitizer by
 * `tools/braid-dev tsan`. */
#include "test-support.h"
#include "glib-reactor.h"
#include "reactor-pool.h"
#include "mc-server.h"

#include <stdlib.h>
#include <string.h>

#define SERVER_THREADS 3
#define CLIENT_THREADS 6
#define ROUNDS 300

typedef struct {
  BraidGlibReactor *reactor;    /* the acceptor's, on its own thread */
  GMainContext *context;
  BraidReactorPool *pool;
  BraidMcServer *server;
  BraidListener *listener;
  GThread *thread;
  guint16 port;
  gint stop;
} Fixture;

static gpointer
run_acceptor (gpointer data)
{
  Fixture *f = data;

  g_main_context_push_thread_default (f->context);
  while (!g_atomic_int_get (&f->stop))
    g_main_context_iteration (f->context, TRUE);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static gboolean
wake (gpointer data)
{
  return G_SOURCE_REMOVE;
}

static void
fixture_start (Fixture *f, guint server_threads)
{
  BraidMcServerSettings settings = BRAID_MC_SERVER_SETTINGS_INIT;
  g_autoptr(BraidProtocolFactory) factory = NULL;
  g_autoptr(GError) error = NULL;

  f->context = g_main_context_new ();
  f->reactor = braid_glib_reactor_new (f->context);
  settings.threads = server_threads;
  settings.max_connections = 4096;
  settings.store.n_shards = 16;
  f->server = braid_mc_server_new (BRAID_REACTOR (f->reactor), &settings);
  factory = braid_mc_server_create_factory (f->server);
  f->pool = braid_reactor_pool_new (server_threads, "test-mc");
  f->listener = braid_reactor_listen (BRAID_REACTOR (f->reactor), "tcp:0:interface=127.0.0.1", factory, &error);
  g_assert_no_error (error);
  braid_glib_listener_distribute (f->listener, f->pool);
  f->port = braid_listener_get_port (f->listener);
  f->thread = g_thread_new ("test-acceptor", run_acceptor, f);
}

static void
fixture_stop (Fixture *f)
{
  g_atomic_int_set (&f->stop, 1);
  g_main_context_invoke (f->context, wake, NULL);
  g_thread_join (f->thread);
  braid_listener_stop (f->listener);
  g_clear_object (&f->listener);
  braid_reactor_pool_free (f->pool);
  g_clear_object (&f->server);
  g_clear_object (&f->reactor);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_unref (f->context);
}

/* ---- a blocking text-protocol client ---- */

typedef struct {
  GSocket *socket;
  GString *in;
} Client;

static void
client_open (Client *c, guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);

  c->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (c->socket, 20);
  g_socket_connect (c->socket, address, NULL, &error);
  g_assert_no_error (error);
  c->in = g_string_new (NULL);
}

static void
client_close (Client *c)
{
  g_socket_close (c->socket, NULL);
  g_object_unref (c->socket);
  g_string_free (c->in, TRUE);
}

static void
client_send (Client *c, const gchar *request)
{
  gsize len = strlen (request);

  for (gsize sent = 0; sent < len;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (c->socket, request + sent, len - sent, NULL, &error);

      g_assert_no_error (error);
      sent += (gsize) n;
    }
}

/* Reads until the reply buffer ends with @end; returns it (transfer full). */
static gchar *
client_read_until (Client *c, const gchar *end)
{
  gchar buffer[4096];

  while (!g_str_has_suffix (c->in->str, end))
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (c->socket, buffer, sizeof buffer, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      g_string_append_len (c->in, buffer, n);
    }
  {
    gchar *reply = g_strdup (c->in->str);

    g_string_truncate (c->in, 0);
    return reply;
  }
}

/* One line reply (STORED, a number, …), without "\r\n". */
static gchar *
client_line (Client *c, const gchar *request)
{
  g_autofree gchar *reply = NULL;

  client_send (c, request);
  reply = client_read_until (c, "\r\n");
  reply[strlen (reply) - 2] = '\0';
  return g_steal_pointer (&reply);
}

/* gets KEY: the value and cas, FALSE on a miss. */
static gboolean
client_gets (Client *c, const gchar *key, guint64 *value, guint64 *cas)
{
  g_autofree gchar *request = g_strdup_printf ("gets %s\r\n", key);
  g_autofree gchar *reply = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) head = NULL;

  client_send (c, request);
  reply = client_read_until (c, "END\r\n");
  if (g_str_equal (reply, "END\r\n"))
    return FALSE;
  lines = g_strsplit (reply, "\r\n", -1);
  head = g_strsplit (lines[0], " ", -1);
  g_assert_cmpstr (head[0], ==, "VALUE");
  g_assert_cmpuint (g_strv_length (head), ==, 5);
  *cas = g_ascii_strtoull (head[4], NULL, 10);
  *value = g_ascii_strtoull (lines[1], NULL, 10);
  return TRUE;
}

/* ---- the load ---- */

typedef struct {
  guint16 port;
  guint index;
  guint cas_retries;
} Worker;

static void
store_counter (Client *c, const gchar *key, guint64 value)
{
  g_autofree gchar *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  g_autofree gchar *request = g_strdup_printf ("set %s 0 0 %zu\r\n%s\r\n", key, strlen (digits), digits);
  g_autofree gchar *reply = client_line (c, request);

  g_assert_cmpstr (reply, ==, "STORED");
}

/* A read-modify-write guarded by cas: +1, retried until no one else wrote
 * in between. */
static void
cas_increment (Client *c, Worker *w)
{
  for (;;)
    {
      guint64 value, cas;
      g_autofree gchar *digits = NULL;
      g_autofree gchar *request = NULL;
      g_autofree gchar *reply = NULL;

      g_assert_true (client_gets (c, "cas-counter", &value, &cas));
      digits = g_strdup_printf ("%" G_GUINT64_FORMAT, value + 1);
      request = g_strdup_printf ("cas cas-counter 0 0 %zu %" G_GUINT64_FORMAT "\r\n%s\r\n", strlen (digits), cas, digits);
      reply = client_line (c, request);
      if (g_str_equal (reply, "STORED"))
        return;
      g_assert_cmpstr (reply, ==, "EXISTS");
      w->cas_retries++;
    }
}

static void
mixed_command (Client *c, GRand *rand)
{
  g_autofree gchar *key = g_strdup_printf ("shared-%u", g_rand_int_range (rand, 0, 20));
  g_autofree gchar *request = NULL;
  g_autofree gchar *reply = NULL;

  switch (g_rand_int_range (rand, 0, 5))
    {
    case 0:
      request = g_strdup_printf ("set %s 0 0 5\r\nvalue\r\n", key);
      reply = client_line (c, request);
      g_assert_cmpstr (reply, ==, "STORED");
      break;
    case 1:
      request = g_strdup_printf ("get %s\r\n", key);
      client_send (c, request);
      reply = client_read_until (c, "END\r\n");
      g_assert_true (g_str_equal (reply, "END\r\n") || g_str_has_prefix (reply, "VALUE "));
      break;
    case 2:
      request = g_strdup_printf ("delete %s\r\n", key);
      reply = client_line (c, request);
      g_assert_true (g_str_equal (reply, "DELETED") || g_str_equal (reply, "NOT_FOUND"));
      break;
    case 3:
      request = g_strdup_printf ("append %s 0 0 1\r\nx\r\n", key);
      reply = client_line (c, request);
      g_assert_true (g_str_equal (reply, "STORED") || g_str_equal (reply, "NOT_STORED"));
      break;
    default:
      request = g_strdup_printf ("mg %s v t\r\n", key);
      client_send (c, request);
      reply = client_read_until (c, "\r\n");
      if (g_str_has_prefix (reply, "VA "))
        {
          /* the value line may have come with the header, or not */
          if (strstr (reply, "\r\n")[2] == '\0')
            {
              g_free (reply);
              reply = client_read_until (c, "\r\n");
            }
        }
      else
        g_assert_cmpstr (reply, ==, "EN\r\n");
      break;
    }
}

static gpointer
run_worker (gpointer data)
{
  Worker *w = data;
  Client c;
  g_autoptr(GRand) rand = g_rand_new_with_seed (w->index);

  client_open (&c, w->port);
  for (guint i = 0; i < ROUNDS; i++)
    {
      g_autofree gchar *incr = client_line (&c, "incr counter 1\r\n");

      g_assert_cmpuint (g_ascii_strtoull (incr, NULL, 10), >, 0);
      cas_increment (&c, w);
      mixed_command (&c, rand);
    }
  client_close (&c);
  return NULL;
}

static GHashTable *
read_stats (guint16 port)
{
  Client c;
  g_autofree gchar *reply = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  client_open (&c, port);
  client_send (&c, "stats\r\n");
  reply = client_read_until (&c, "END\r\n");
  client_close (&c);
  lines = g_strsplit (reply, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (lines[i], " ", 3);

      if (g_strv_length (parts) == 3)
        g_hash_table_insert (stats, g_strdup (parts[1]), g_strdup (parts[2]));
    }
  return stats;
}

static guint64
stat (GHashTable *stats, const gchar *name)
{
  const gchar *value = g_hash_table_lookup (stats, name);

  g_assert_nonnull (value);
  return g_ascii_strtoull (value, NULL, 10);
}

/* A worker's close reaches its server thread a little after the worker
 * returns: reads stats until only @expected connections are open, for a
 * few seconds at most (real threads and sockets: no simulated clock to
 * run).  @n_reads: how many stats connections that took. */
static GHashTable *
read_stats_settled (guint16 port, guint64 expected, guint *n_reads)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  for (*n_reads = 1;; (*n_reads)++)
    {
      GHashTable *stats = read_stats (port);

      if (stat (stats, "curr_connections") == expected || g_get_monotonic_time () > deadline)
        return stats;
      g_hash_table_unref (stats);
      g_usleep (1000);
    }
}

static void
test_invariants_across_threads (void)
{
  Fixture f = { 0 };
  Worker workers[CLIENT_THREADS];
  GThread *threads[CLIENT_THREADS];
  Client c;
  guint64 value, cas;
  guint retries = 0, n_reads;
  g_autoptr(GHashTable) stats = NULL;

  g_test_summary ("Six client threads on a three-thread server: incr counts every increment once, a "
                  "cas-guarded read-modify-write loses no update, and stats sums the threads' counters");
  g_test_bug ("13");
  fixture_start (&f, SERVER_THREADS);
  client_open (&c, f.port);
  store_counter (&c, "counter", 0);
  store_counter (&c, "cas-counter", 0);

  for (guint i = 0; i < CLIENT_THREADS; i++)
    {
      workers[i] = (Worker) { .port = f.port, .index = i };
      threads[i] = g_thread_new ("test-client", run_worker, &workers[i]);
    }
  for (guint i = 0; i < CLIENT_THREADS; i++)
    {
      g_thread_join (threads[i]);
      retries += workers[i].cas_retries;
    }

  g_assert_true (client_gets (&c, "counter", &value, &cas));
  g_assert_cmpuint (value, ==, CLIENT_THREADS * ROUNDS);
  g_assert_true (client_gets (&c, "cas-counter", &value, &cas));
  g_assert_cmpuint (value, ==, CLIENT_THREADS * ROUNDS);
  g_test_message ("%u cas retries: the threads did contend", retries);

  /* this client and the one reading stats */
  stats = read_stats_settled (f.port, 2, &n_reads);
  g_assert_cmpuint (stat (stats, "threads"), ==, SERVER_THREADS);
  g_assert_cmpuint (stat (stats, "curr_connections"), ==, 2);
  g_assert_cmpuint (stat (stats, "total_connections"), ==, CLIENT_THREADS + 1 + n_reads);
  g_assert_cmpuint (stat (stats, "incr_hits"), ==, CLIENT_THREADS * ROUNDS);
  g_assert_cmpuint (stat (stats, "cas_hits"), ==, CLIENT_THREADS * ROUNDS);
  g_assert_cmpuint (stat (stats, "cas_badval"), ==, retries);
  g_assert_cmpuint (stat (stats, "bytes_read"), >, CLIENT_THREADS * ROUNDS * 30);
  client_close (&c);
  fixture_stop (&f);
}

static void
test_connections_spread_over_threads (void)
{
  Fixture f = { 0 };
  Client clients[SERVER_THREADS * 4];
  g_autoptr(GHashTable) stats = NULL;

  g_test_summary ("Connections handed to the reactor threads are served there, and "
                  "closing them all leaves no connection counted");
  fixture_start (&f, SERVER_THREADS);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autofree gchar *version = NULL;

      client_open (&clients[i], f.port);
      version = client_line (&clients[i], "version\r\n");
      g_assert_true (g_str_has_prefix (version, "VERSION 1.6.18"));
    }
  stats = read_stats (f.port);
  g_assert_cmpuint (stat (stats, "curr_connections"), ==, G_N_ELEMENTS (clients) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    client_close (&clients[i]);
  for (gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       braid_listener_get_n_connections (f.listener) > 0 && g_get_monotonic_time () < deadline;)
    g_usleep (1000);
  g_assert_cmpuint (braid_listener_get_n_connections (f.listener), ==, 0);
  g_clear_pointer (&stats, g_hash_table_unref);
  stats = read_stats (f.port);
  g_assert_cmpuint (stat (stats, "curr_connections"), ==, 1);
  fixture_stop (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("issue #");
  g_test_add_func ("/mc/server/threads/invariants", test_invariants_across_threads);
  g_test_add_func ("/mc/server/threads/connections-spread", test_connections_spread_over_threads);
  return g_test_run ();
}
