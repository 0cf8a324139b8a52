/* braid — the daemons' life cycle in-process on the fake reactor, in
 * simulated time: start, graceful stop with a request in flight, the grace
 * period, reload, and configuration errors.  Signals are driven through
 * braid_daemon_handle_signal(), the path the real signal handlers take. */
#include "test-support.h"
#include "daemon.h"
#include "memcached-daemon.h"
#include "proxy-daemon.h"
#include "fake-fetcher.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

typedef struct {
  BraidFakeReactor *fake;
  BraidReactor *reactor;
  gchar *dir;
  gchar *conf;
  BraidDaemon *daemon;
  BraidRecordingProtocol *client;
  GSocket *notify;         /* what systemd would listen on (NOTIFY_SOCKET) */
  gchar *notify_path;
} Fixture;

/* sd_notify() sends to $NOTIFY_SOCKET, so in-process daemons can be
 * watched as systemd would watch them. */
static void
listen_for_notifications (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  f->notify_path = g_build_filename (f->dir, "notify", NULL);
  address = g_unix_socket_address_new (f->notify_path);
  f->notify = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_socket_bind (f->notify, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (f->notify, FALSE);
  g_setenv ("NOTIFY_SOCKET", f->notify_path, TRUE);
}

/* Every datagram received since the last call, each followed by "|". */
static gchar *
read_notifications (Fixture *f)
{
  GString *all = g_string_new (NULL);
  gchar buf[1024];
  gssize n;

  while ((n = g_socket_receive (f->notify, buf, sizeof buf - 1, NULL, NULL)) > 0)
    {
      buf[n] = '\0';
      g_string_append_printf (all, "%s|", buf);
    }
  return g_string_free (all, FALSE);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->fake = braid_fake_reactor_new ((guint32) g_test_rand_int ());
  f->reactor = BRAID_REACTOR (f->fake);
  f->dir = g_dir_make_tmp ("braid-daemon-fake-XXXXXX", NULL);
  f->conf = g_build_filename (f->dir, "daemon.conf", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  g_clear_pointer (&f->daemon, braid_daemon_free);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_cmpuint (braid_fake_reactor_get_n_pending_calls (f->fake), ==, 0);
  g_clear_object (&f->fake);
  if (f->notify != NULL)
    {
      g_unsetenv ("NOTIFY_SOCKET");
      g_clear_object (&f->notify);
      g_unlink (f->notify_path);
      g_free (f->notify_path);
    }
  g_unlink (f->conf);
  g_rmdir (f->dir);
  g_free (f->conf);
  g_free (f->dir);
}

static void
write_conf (Fixture *f, const gchar *text)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (f->conf, text, -1, &error);
  g_assert_no_error (error);
}

/* Starts braid-memcached with @conf_text and the extra arguments. */
static void
start_memcached (Fixture *f, const gchar *conf_text, const gchar *grace)
{
  gchar *argv[] = { "braid-memcached", "--config", f->conf, "-p", "0", "--grace-period", (gchar *) grace, NULL };
  g_autoptr(GError) error = NULL;

  write_conf (f, conf_text);
  f->daemon = braid_daemon_new_for_service (&braid_memcached_service, f->reactor, argv, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->daemon);
}

/* A client connected to the daemon's first listener. */
static void
connect_client (Fixture *f)
{
  g_autofree gchar *endpoint = g_strdup_printf ("tcp:127.0.0.1:%u",
                                                braid_listener_get_port (braid_daemon_get_listener (f->daemon, 0)));
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  braid_reactor_connect_async (f->reactor, endpoint, factory, NULL, braid_test_store_result, &result);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_nonnull (result);
  f->client = BRAID_RECORDING_PROTOCOL (braid_reactor_connect_finish (f->reactor, result, &error));
  g_assert_no_error (error);
}

static void
send (Fixture *f, const gchar *text)
{
  braid_transport_write_string (braid_protocol_get_transport (BRAID_PROTOCOL (f->client)), text);
}

static void
sigterm (gpointer data)
{
  braid_daemon_handle_signal (((Fixture *) data)->daemon, SIGTERM);
}

static void
finish_request (gpointer data)
{
  send (data, "cde\r\n");
}

static void
test_start (Fixture *f, gconstpointer data)
{
  const BraidMcServerSettings *s;

  g_test_summary ("The daemon starts on the fake reactor from its settings: listening, the file's memory "
                  "limit, and a stop with nothing in flight ends the run at once");
  start_memcached (f, "[Cache]\nMemoryMiB = 32\n", "10");
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (f->fake), ==, 1);
  g_assert_true (braid_listener_is_listening (braid_daemon_get_listener (f->daemon, 0)));
  s = braid_mc_server_get_settings (braid_daemon_get_service (f->daemon));
  g_assert_cmpuint (s->store.limit_bytes, ==, 32 << 20);
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, 5 * G_USEC_PER_SEC, sigterm, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_cmpint (braid_reactor_now (f->reactor), ==, 5 * G_USEC_PER_SEC);
  g_assert_false (braid_listener_is_listening (braid_daemon_get_listener (f->daemon, 0)));
}

static void
test_drain (Fixture *f, gconstpointer data)
{
  gint64 stopped_at = 100 * 1000, finished_at = 400 * 1000;

  g_test_summary ("SIGTERM with a request in flight: the daemon stops listening, waits for the request to "
                  "finish (well within the grace period), answers it, then exits");
  start_memcached (f, "", "10");
  connect_client (f);
  send (f, "set k 0 0 5\r\nab");
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, stopped_at, sigterm, f, NULL));
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, finished_at, finish_request, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_test_message ("exited at %" G_GINT64_FORMAT " µs", braid_reactor_now (f->reactor));
  g_assert_cmpint (braid_reactor_now (f->reactor), >=, finished_at);
  g_assert_cmpint (braid_reactor_now (f->reactor), <=, finished_at + 100 * 1000);
  g_assert_cmpmem (f->client->received->data, f->client->received->len, "STORED\r\n", 8);
  g_assert_false (braid_listener_is_listening (braid_daemon_get_listener (f->daemon, 0)));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (f->client)));
}

static void
test_grace_period (Fixture *f, gconstpointer data)
{
  g_test_summary ("A request that outlasts --grace-period does not keep the daemon alive: it exits when the "
                  "grace period is over, in simulated time");
  start_memcached (f, "", "2.5");
  connect_client (f);
  send (f, "set k 0 0 5\r\nab");
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, G_USEC_PER_SEC, sigterm, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_cmpint (braid_reactor_now (f->reactor), >=, 3500 * 1000);
  g_assert_cmpint (braid_reactor_now (f->reactor), <=, 3600 * 1000);
  g_assert_cmpuint (f->client->received->len, ==, 0);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (f->client)));
}

static void
test_reload (Fixture *f, gconstpointer data)
{
  BraidMcServer *server;
  GLogLevelFlags old_fatal;

  g_test_summary ("SIGHUP re-reads the file and the command line: a new memory limit applies; a broken file "
                  "keeps the running settings");
  start_memcached (f, "[Cache]\nMemoryMiB = 32\n", "10");
  server = braid_daemon_get_service (f->daemon);
  write_conf (f, "[Cache]\nMemoryMiB = 128\n[Logging]\nVerbosity = 1\n");
  braid_daemon_handle_signal (f->daemon, SIGHUP);
  g_assert_cmpuint (braid_mc_server_get_settings (server)->store.limit_bytes, ==, 128 << 20);
  g_assert_cmpint (((const BraidMemcachedSettings *) braid_daemon_get_settings (f->daemon))->memory_mib, ==, 128);

  write_conf (f, "[Cache]\nMemoryMiB = 64\nMemoryMiB = 16\n");
  /* The failure is logged as a warning (structured logging: not caught
   * by g_test_expect_message() on GLib 2.74), so make warnings non-fatal
   * for this call. */
  old_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_false (braid_daemon_reload (f->daemon));
  g_log_set_always_fatal (old_fatal);
  g_assert_cmpuint (braid_mc_server_get_settings (server)->store.limit_bytes, ==, 128 << 20);
}

static void
test_config_error (Fixture *f, gconstpointer data)
{
  gchar *argv[] = { "braid-memcached", "--config", f->conf, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) listen_error = g_error_new_literal (BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
                                                        "address in use");
  g_autofree gchar *expected = g_strdup_printf ("%s:2: [Cache] MaxItemSize = 0: must be from 1024", f->conf);

  g_test_summary ("A configuration error stops the daemon before it listens (exit 3, FILE:LINE); a listen "
                  "failure is exit 4");
  write_conf (f, "[Cache]\nMaxItemSize = 0\n");
  g_assert_null (braid_daemon_new_for_service (&braid_memcached_service, f->reactor, argv, &error));
  g_assert_cmpint (braid_daemon_exit_code (error), ==, BRAID_EXIT_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (f->fake), ==, 0);
  g_clear_error (&error);

  write_conf (f, "");
  braid_fake_reactor_set_listen_error (f->fake, listen_error);
  g_assert_null (braid_daemon_new_for_service (&braid_memcached_service, f->reactor, argv, &error));
  g_assert_cmpint (braid_daemon_exit_code (error), ==, BRAID_EXIT_LISTEN);
}

static void
test_notifications (Fixture *f, gconstpointer data)
{
  g_autofree gchar *started = NULL;
  g_autofree gchar *reloaded = NULL;
  g_autofree gchar *reloaded_again = NULL;
  g_autofree gchar *stopped = NULL;

  g_test_summary ("What systemd hears from braid-memcached: the endpoint and the cache once listening; "
                  "RELOADING=1, READY=1 and what changed on SIGHUP; READY=1 on run; STOPPING=1 on SIGTERM");
  listen_for_notifications (f);
  start_memcached (f, "[Cache]\nMemoryMiB = 32\n", "10");
  started = read_notifications (f);
  g_assert_cmpstr (started, ==, "STATUS=Serving on tcp:0:backlog=1024, 32 MiB, items up to 1048576 bytes|");

  write_conf (f, "[Cache]\nMemoryMiB = 128\n[Logging]\nVerbosity = 1\n");
  braid_daemon_handle_signal (f->daemon, SIGHUP);
  reloaded = read_notifications (f);
  g_assert_cmpstr (reloaded, ==, "RELOADING=1|READY=1|STATUS=Reloaded: memory limit 128 MiB (was 32), verbosity 1 "
                   "(was 0); listeners and other settings need a restart|");
  write_conf (f, "[Cache]\nMemoryMiB = 16\n");
  g_assert_true (braid_daemon_reload (f->daemon));
  reloaded_again = read_notifications (f);
  g_assert_nonnull (strstr (reloaded_again, "memory limit 16 MiB (was 128), verbosity 0 (was 1);"));

  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, G_USEC_PER_SEC, sigterm, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  stopped = read_notifications (f);
  g_assert_cmpstr (stopped, ==, "READY=1|STOPPING=1\nSTATUS=Stopping: finishing requests in flight|");
}

static void
test_stop_once (Fixture *f, gconstpointer data)
{
  g_autofree gchar *stopped = NULL;

  g_test_summary ("A second SIGTERM (or SIGINT) while draining changes nothing: STOPPING=1 is said once and the "
                  "grace period still counts from the first");
  listen_for_notifications (f);
  start_memcached (f, "", "2");
  connect_client (f);
  send (f, "set k 0 0 5\r\nab");
  g_free (read_notifications (f));
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, G_USEC_PER_SEC, sigterm, f, NULL));
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, 2 * G_USEC_PER_SEC, sigterm, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_cmpint (braid_reactor_now (f->reactor), >=, 3 * G_USEC_PER_SEC);
  g_assert_cmpint (braid_reactor_now (f->reactor), <=, 3 * G_USEC_PER_SEC + 100 * 1000);
  stopped = read_notifications (f);
  g_assert_cmpstr (stopped, ==, "READY=1|STOPPING=1\nSTATUS=Stopping: finishing requests in flight|");
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (f->client)));
}

static void
test_sigint (Fixture *f, gconstpointer data)
{
  g_test_summary ("SIGINT stops the daemon as SIGTERM does");
  start_memcached (f, "", "10");
  braid_daemon_handle_signal (f->daemon, SIGINT);
  g_assert_false (braid_listener_is_listening (braid_daemon_get_listener (f->daemon, 0)));
}

static void
test_free_stops_listening (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidListener) listener = NULL;

  g_test_summary ("Freeing a daemon that was never stopped closes its listeners");
  start_memcached (f, "", "10");
  listener = g_object_ref (braid_daemon_get_listener (f->daemon, 0));
  g_assert_null (braid_daemon_get_listener (f->daemon, 1));
  g_assert_true (braid_listener_is_listening (listener));
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_assert_false (braid_listener_is_listening (listener));
}

static void
test_reload_without_func (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidDaemon) daemon = braid_daemon_new ("bare", f->reactor);
  g_autofree gchar *notes = NULL;

  g_test_summary ("A daemon without a reload function takes SIGHUP as a success, and tells systemd nothing");
  listen_for_notifications (f);
  g_assert_true (braid_daemon_reload (daemon));
  notes = read_notifications (f);
  g_assert_cmpstr (notes, ==, "");
}

static void
test_busy_listeners (Fixture *f, gconstpointer data)
{
  g_autoptr(BraidDaemon) daemon = braid_daemon_new ("bare", f->reactor);
  g_autoptr(BraidProtocolFactory) factory = braid_protocol_factory_new_for_type (BRAID_TYPE_RECORDING_PROTOCOL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidListener) listener = braid_reactor_listen (f->reactor, "tcp:0", factory, &error);
  g_autoptr(BraidRecordingProtocol) idle = NULL;

  g_test_summary ("Without a busy function, a daemon is busy while a listener has a connection open, and "
                  "waits the grace period for it");
  g_assert_no_error (error);
  braid_daemon_add_listener (daemon, listener);
  braid_daemon_set_grace_period (daemon, 3 * G_USEC_PER_SEC);
  f->daemon = g_steal_pointer (&daemon);
  connect_client (f);
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, G_USEC_PER_SEC, sigterm, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_cmpint (braid_reactor_now (f->reactor), >=, 4 * G_USEC_PER_SEC);
  g_assert_cmpint (braid_reactor_now (f->reactor), <=, 4 * G_USEC_PER_SEC + 100 * 1000);
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (f->client)));
}

static void
test_verbosity (Fixture *f, gconstpointer data)
{
  g_autofree gchar *saved = g_strdup (g_getenv ("G_MESSAGES_DEBUG"));
  gboolean debug_enabled = g_log_get_debug_enabled ();

  g_test_summary ("-v shows info and debug messages (G_MESSAGES_DEBUG=all) unless the user chose which; -vv "
                  "turns on debug logging; without -v nothing changes");
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_log_set_debug_enabled (FALSE);
  braid_daemon_set_verbosity (0);
  g_assert_null (g_getenv ("G_MESSAGES_DEBUG"));
  g_assert_false (g_log_get_debug_enabled ());
  braid_daemon_set_verbosity (1);
  g_assert_cmpstr (g_getenv ("G_MESSAGES_DEBUG"), ==, "all");
  g_assert_false (g_log_get_debug_enabled ());
  g_setenv ("G_MESSAGES_DEBUG", "braid-memcached", TRUE);
  braid_daemon_set_verbosity (2);
  g_assert_cmpstr (g_getenv ("G_MESSAGES_DEBUG"), ==, "braid-memcached");
  g_assert_true (g_log_get_debug_enabled ());

  g_log_set_debug_enabled (debug_enabled);
  if (saved != NULL)
    g_setenv ("G_MESSAGES_DEBUG", saved, TRUE);
  else
    g_unsetenv ("G_MESSAGES_DEBUG");
}

static void
test_memcached_threads (Fixture *f, gconstpointer data)
{
  gchar *argv[] = { "braid-memcached", "--config", f->conf, "-p", "0", "-t", "3", NULL };
  g_autoptr(GError) error = NULL;
  const BraidMcServerSettings *s;

  g_test_summary ("-t reaches the server (and the service's thread count); on the fake reactor every "
                  "connection is served on it, without a pool of threads");
  write_conf (f, "");
  f->daemon = braid_daemon_new_for_service (&braid_memcached_service, f->reactor, argv, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_memcached_service.get_threads (braid_daemon_get_settings (f->daemon)), ==, 3);
  s = braid_mc_server_get_settings (braid_daemon_get_service (f->daemon));
  g_assert_cmpuint (s->threads, ==, 3);
  connect_client (f);
  send (f, "version\r\n");
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_true (g_str_has_prefix ((const gchar *) f->client->received->data, "VERSION "));
  braid_transport_lose_connection (braid_protocol_get_transport (BRAID_PROTOCOL (f->client)));
}

/* braid-proxy with a scripted upstream instead of libsoup. */
static BraidFakeFetcher *proxy_fetcher;

static gpointer
proxy_with_fake_fetcher (BraidReactor *reactor, gconstpointer settings, GError **error)
{
  return braid_proxy_service_new (reactor, settings, BRAID_FETCHER (proxy_fetcher), error);
}

static gboolean idle_closed_at_sigterm;

/* Just after SIGTERM: the client without a whole line is gone already. */
static void
check_idle_closed (gpointer data)
{
  idle_closed_at_sigterm = braid_recording_protocol_is_lost (data);
}

/* braid-proxy with the fake fetcher, its STATUS line read back. */
static gchar *
start_proxy (Fixture *f, const BraidDaemonService *service, const gchar *const *extra)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, "braid-proxy");
  g_ptr_array_add (argv, "--config");
  g_ptr_array_add (argv, f->conf);
  g_ptr_array_add (argv, "--listen");
  g_ptr_array_add (argv, "tcp:0");
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  f->daemon = braid_daemon_new_for_service (service, f->reactor, (gchar **) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->daemon);
  return read_notifications (f);
}

/* The body braid-proxy answers @url with, from a new connection. */
static GByteArray *
proxy_get (Fixture *f, const gchar *url)
{
  g_autofree gchar *line = g_strdup_printf ("%s\n", url);
  GByteArray *body;

  connect_client (f);
  send (f, line);
  braid_fake_reactor_advance (f->fake, 1000);
  braid_fake_reactor_run_until_idle (f->fake);
  g_assert_true (braid_recording_protocol_is_lost (f->client));
  body = g_byte_array_ref (f->client->received);
  g_clear_object (&f->client);
  return body;
}

static void
test_proxy_settings (Fixture *f, gconstpointer data)
{
  BraidDaemonService service = braid_proxy_service;
  const gchar *extra[] = { "--ttl", "60", "--cache-timeout", "250", "--max-body", "2", "--max-flights", "7",
                           "--max-buffered", "3", "--client-write-timeout", "9", "--fetch-timeout", "0", NULL };
  const BraidProxySettings *s;

  g_test_summary ("braid-proxy's options reach the proxy: TTL, cache timeout, body and buffer limits, flights, "
                  "the client write timeout; --fetch-timeout 0 is no overall deadline");
  proxy_fetcher = braid_fake_fetcher_new (f->reactor);
  service.service_new = proxy_with_fake_fetcher;
  write_conf (f, "");
  listen_for_notifications (f);
  g_free (start_proxy (f, &service, extra));
  s = braid_proxy_get_settings (braid_proxy_service_get_proxy (braid_daemon_get_service (f->daemon)));
  g_assert_cmpint (s->ttl_s, ==, 60);
  g_assert_cmpint (s->cache_timeout_us, ==, 250 * 1000);
  g_assert_cmpuint (s->max_body, ==, 2 << 20);
  g_assert_cmpuint (s->max_flights, ==, 7);
  g_assert_cmpuint (s->max_buffered, ==, 3 << 20);
  g_assert_cmpint (s->client_write_timeout_us, ==, 9 * G_USEC_PER_SEC);
  g_assert_cmpint (s->fetch_timeout_us, ==, 0);
  g_assert_cmpint (s->request_timeout_us, ==, 10 * G_USEC_PER_SEC);
  g_assert_null (s->cache_secret);
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_clear_object (&proxy_fetcher);
}

static void
test_proxy_cache_kinds (Fixture *f, gconstpointer data)
{
  BraidDaemonService service = braid_proxy_service;
  g_autofree gchar *secret_path = g_build_filename (f->dir, "secret", NULL);
  const gchar *memory[] = { NULL };
  const gchar *none[] = { "--no-cache", NULL };
  const gchar *shared[] = { "--memcached", "tcp:127.0.0.1:11211, 127.0.0.1:11212", "--cache-secret-file",
                            secret_path, "--allow", "10.0.0.0/8", "--allow", "up.example", NULL };
  g_autofree gchar *memory_status = NULL;
  g_autofree gchar *none_status = NULL;
  g_autofree gchar *shared_status = NULL;
  g_autofree gchar *reloaded = NULL;

  g_test_summary ("braid-proxy's cache: in memory by default, none with --no-cache, a memcached pool with "
                  "--memcached (signed with --cache-secret-file); the STATUS line says which, and SIGHUP says "
                  "the memory size is not in use with memcached");
  proxy_fetcher = braid_fake_fetcher_new (f->reactor);
  service.service_new = proxy_with_fake_fetcher;
  write_conf (f, "");
  g_assert_true (g_file_set_contents (secret_path, "sixteen bytes ok\n", -1, NULL));
  listen_for_notifications (f);

  memory_status = start_proxy (f, &service, memory);
  g_assert_cmpstr (memory_status, ==, "STATUS=Serving on tcp:0, cache: memory; upstream allow rules: none|");
  g_clear_pointer (&f->daemon, braid_daemon_free);
  none_status = start_proxy (f, &service, none);
  g_assert_cmpstr (none_status, ==, "STATUS=Serving on tcp:0, cache: none; upstream allow rules: none|");
  g_clear_pointer (&f->daemon, braid_daemon_free);
  shared_status = start_proxy (f, &service, shared);
  g_assert_cmpstr (shared_status, ==, "STATUS=Serving on tcp:0, cache: memcached tcp:127.0.0.1:11211, "
                   "127.0.0.1:11212, signed; upstream allow rules: 10.0.0.0/8,up.example|");
  g_assert_true (braid_daemon_reload (f->daemon));
  reloaded = read_notifications (f);
  g_assert_cmpstr (reloaded, ==, "RELOADING=1|READY=1|STATUS=Reloaded: verbosity 0, TTL 300 s, cache timeout "
                   "100 ms, memory cache 64 MiB (not in use)|");
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_clear_object (&proxy_fetcher);
  g_unlink (secret_path);
}

static void
test_proxy_bad_memcached (Fixture *f, gconstpointer data)
{
  const gchar *lists[][2] = {
    { "x,127.0.0.1:1", "“x” is not HOST:PORT" },
    { "127.0.0.1:1,tls:nowhere", "“tls:nowhere” is not tls:HOST:PORT" },
  };

  g_test_summary ("--memcached: every entry must be HOST:PORT (or tcp:, tls:); a bad one is a usage error "
                  "naming it, before anything listens");
  write_conf (f, "");
  for (gsize i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      gchar *argv[] = { "braid-proxy", "--config", f->conf, "--listen", "tcp:0", "--memcached",
                        (gchar *) lists[i][0], NULL };
      g_autoptr(GError) error = NULL;

      g_test_message ("--memcached %s", lists[i][0]);
      g_assert_null (braid_daemon_new_for_service (&braid_proxy_service, f->reactor, argv, &error));
      g_assert_cmpint (braid_daemon_exit_code (error), ==, BRAID_EXIT_USAGE);
      if (strstr (error->message, lists[i][1]) == NULL)
        g_error ("expected “%s” in “%s”", lists[i][1], error->message);
    }
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (f->fake), ==, 0);
}

static void
test_proxy_reload_memory_cache (Fixture *f, gconstpointer data)
{
  BraidDaemonService service = braid_proxy_service;
  const gchar *extra[] = { NULL };
  g_autoptr(GBytes) big = NULL;
  g_autofree gchar *reloaded = NULL;
  const BraidProxySettings *s;
  gsize size = 2 << 20;

  g_test_summary ("SIGHUP applies braid-proxy's TTL, cache timeout and memory cache size live: a cache shrunk "
                  "below a cached body drops it");
  big = g_bytes_new_take (g_malloc0 (size), size);
  proxy_fetcher = braid_fake_fetcher_new (f->reactor);
  braid_fake_fetcher_add (proxy_fetcher, "http://up/big", 200, big, 0, 0, 0);
  service.service_new = proxy_with_fake_fetcher;
  /* In the file, not on the command line, which a reload reads again. */
  write_conf (f, "[Cache]\nMemoryMiB = 8\n");
  listen_for_notifications (f);
  g_free (start_proxy (f, &service, extra));
  g_byte_array_unref (proxy_get (f, "http://up/big"));
  g_byte_array_unref (proxy_get (f, "http://up/big"));
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (proxy_fetcher, "http://up/big"), ==, 1);

  write_conf (f, "[Cache]\nMemoryMiB = 1\nTTLSeconds = 60\nTimeoutMilliseconds = 250\n");
  g_assert_true (braid_daemon_reload (f->daemon));
  reloaded = read_notifications (f);
  g_assert_cmpstr (reloaded, ==, "RELOADING=1|READY=1|STATUS=Reloaded: verbosity 0, TTL 60 s, cache timeout 250 ms, "
                   "memory cache 1 MiB|");
  s = braid_proxy_get_settings (braid_proxy_service_get_proxy (braid_daemon_get_service (f->daemon)));
  g_assert_cmpint (s->ttl_s, ==, 60);
  g_assert_cmpint (s->cache_timeout_us, ==, 250 * 1000);
  {
    g_autoptr(GByteArray) body = proxy_get (f, "http://up/big");

    g_assert_cmpuint (body->len, ==, size);
  }
  g_assert_cmpuint (braid_fake_fetcher_get_n_fetches (proxy_fetcher, "http://up/big"), ==, 2);
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_clear_object (&proxy_fetcher);
}

static void
test_proxy_drain (Fixture *f, gconstpointer data)
{
  BraidDaemonService service = braid_proxy_service;
  gchar *argv[] = { "braid-proxy", "--config", f->conf, "--listen", "tcp:0", "--no-cache", NULL };
  g_autoptr(GBytes) body = g_bytes_new_static ("hello", 5);
  g_autoptr(GError) error = NULL;

  g_test_summary ("braid-proxy built around a fake fetcher: SIGTERM while an upstream fetch is in flight waits "
                  "for the body, then exits");
  proxy_fetcher = braid_fake_fetcher_new (f->reactor);
  braid_fake_fetcher_add (proxy_fetcher, "http://up/x", 200, body, 2 * G_USEC_PER_SEC, 0, 0);
  service.service_new = proxy_with_fake_fetcher;
  write_conf (f, "");
  f->daemon = braid_daemon_new_for_service (&service, f->reactor, argv, &error);
  g_assert_no_error (error);
  connect_client (f);
  send (f, "http://up/x\n");
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, 100 * 1000, sigterm, f, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_cmpint (braid_reactor_now (f->reactor), >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (braid_reactor_now (f->reactor), <=, 2 * G_USEC_PER_SEC + 100 * 1000);
  g_assert_cmpmem (f->client->received->data, f->client->received->len, "hello", 5);
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_clear_object (&proxy_fetcher);
}

static void
test_proxy_cache_secret (Fixture *f, gconstpointer data)
{
  BraidDaemonService service = braid_proxy_service;
  g_autofree gchar *secret_path = g_build_filename (f->dir, "secret", NULL);
  gchar *argv[] = { "braid-proxy", "--config", f->conf, "--listen", "tcp:0", "--cache-secret-file", secret_path,
                    NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) secret = NULL;

  g_test_summary ("--cache-secret-file: the file's contents without the trailing newline, at least 16 bytes; a "
                  "short or missing file stops braid-proxy before it listens");
  proxy_fetcher = braid_fake_fetcher_new (f->reactor);
  service.service_new = proxy_with_fake_fetcher;
  write_conf (f, "");

  f->daemon = braid_daemon_new_for_service (&service, f->reactor, argv, &error);
  g_assert_null (f->daemon);
  g_assert_nonnull (strstr (error->message, "--cache-secret-file"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (secret_path, "too short\n", -1, NULL));
  g_assert_null (braid_proxy_daemon_read_cache_secret (secret_path, &error));
  g_assert_nonnull (strstr (error->message, "at least 16 bytes"));
  g_clear_error (&error);
  f->daemon = braid_daemon_new_for_service (&service, f->reactor, argv, &error);
  g_assert_null (f->daemon);
  g_assert_nonnull (strstr (error->message, "at least 16 bytes"));
  g_assert_cmpuint (braid_fake_reactor_get_n_listeners (f->fake), ==, 0);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (secret_path, "sixteen bytes ok\r\n", -1, NULL));
  secret = braid_proxy_daemon_read_cache_secret (secret_path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (secret, NULL), g_bytes_get_size (secret), "sixteen bytes ok", 16);
  f->daemon = braid_daemon_new_for_service (&service, f->reactor, argv, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->daemon);
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_clear_object (&proxy_fetcher);
  g_unlink (secret_path);
}

static void
test_proxy_drain_idle (Fixture *f, gconstpointer data)
{
  BraidDaemonService service = braid_proxy_service;
  gchar *argv[] = { "braid-proxy", "--config", f->conf, "--listen", "tcp:0", "--no-cache", "-c", "50",
                    "--request-timeout", "30", "--fetch-timeout", "20", NULL };
  g_autoptr(GBytes) body = g_bytes_new_static ("hello", 5);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidRecordingProtocol) idle = NULL;
  const BraidProxySettings *settings;
  const BraidProxyStats *stats;

  g_test_summary ("braid-proxy on SIGTERM closes a client that sent half a line at once (it does not hold off "
                  "the drain), and exits once the client mid-fetch has its body; -c, --request-timeout and "
                  "--fetch-timeout reach the proxy");
  proxy_fetcher = braid_fake_fetcher_new (f->reactor);
  braid_fake_fetcher_add (proxy_fetcher, "http://up/x", 200, body, 2 * G_USEC_PER_SEC, 0, 0);
  service.service_new = proxy_with_fake_fetcher;
  write_conf (f, "");
  f->daemon = braid_daemon_new_for_service (&service, f->reactor, argv, &error);
  g_assert_no_error (error);
  /* The file descriptor check counts clients and upstream connections. */
  g_assert_cmpuint (braid_proxy_service.get_max_connections (braid_daemon_get_settings (f->daemon)), ==, 50 + 1024);
  settings = braid_proxy_get_settings (braid_proxy_service_get_proxy (braid_daemon_get_service (f->daemon)));
  stats = braid_proxy_get_stats (braid_proxy_service_get_proxy (braid_daemon_get_service (f->daemon)));
  g_assert_cmpuint (settings->max_connections, ==, 50);
  g_assert_cmpint (settings->request_timeout_us, ==, 30 * G_USEC_PER_SEC);
  g_assert_cmpint (settings->fetch_timeout_us, ==, 20 * G_USEC_PER_SEC);

  connect_client (f);
  send (f, "http://up/");
  idle = g_steal_pointer (&f->client);
  connect_client (f);
  send (f, "http://up/x\n");
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, 100 * 1000, sigterm, f, NULL));
  braid_delayed_call_unref (braid_reactor_call_later (f->reactor, 100 * 1000 + 1, check_idle_closed, idle, NULL));
  g_assert_cmpint (braid_daemon_run (f->daemon), ==, BRAID_EXIT_OK);
  g_assert_true (idle_closed_at_sigterm);
  g_assert_cmpuint (idle->received->len, ==, 0);
  g_assert_cmpint (braid_reactor_now (f->reactor), >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (braid_reactor_now (f->reactor), <=, 2 * G_USEC_PER_SEC + 100 * 1000);
  g_assert_cmpmem (f->client->received->data, f->client->received->len, "hello", 5);
  g_assert_cmpuint (stats->request_timeouts, ==, 0);
  g_clear_pointer (&f->daemon, braid_daemon_free);
  g_clear_object (&proxy_fetcher);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Tests that turn debug output on (-v, a reload) leave GLib's own debug
   * messages (setenv after threads started) on: stdout carries TAP. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_add ("/daemon/fake/start", Fixture, NULL, setup, test_start, teardown);
  g_test_add ("/daemon/fake/drain", Fixture, NULL, setup, test_drain, teardown);
  g_test_add ("/daemon/fake/grace-period", Fixture, NULL, setup, test_grace_period, teardown);
  g_test_add ("/daemon/fake/reload", Fixture, NULL, setup, test_reload, teardown);
  g_test_add ("/daemon/fake/config-error", Fixture, NULL, setup, test_config_error, teardown);
  g_test_add ("/daemon/fake/proxy-drain", Fixture, NULL, setup, test_proxy_drain, teardown);
  g_test_add ("/daemon/fake/proxy-cache-secret", Fixture, NULL, setup, test_proxy_cache_secret, teardown);
  g_test_add ("/daemon/fake/proxy-drain-idle", Fixture, NULL, setup, test_proxy_drain_idle, teardown);
  g_test_add ("/daemon/fake/notifications", Fixture, NULL, setup, test_notifications, teardown);
  g_test_add ("/daemon/fake/stop-once", Fixture, NULL, setup, test_stop_once, teardown);
  g_test_add ("/daemon/fake/sigint", Fixture, NULL, setup, test_sigint, teardown);
  g_test_add ("/daemon/fake/free-stops-listening", Fixture, NULL, setup, test_free_stops_listening, teardown);
  g_test_add ("/daemon/fake/reload-without-func", Fixture, NULL, setup, test_reload_without_func, teardown);
  g_test_add ("/daemon/fake/busy-listeners", Fixture, NULL, setup, test_busy_listeners, teardown);
  g_test_add ("/daemon/fake/verbosity", Fixture, NULL, setup, test_verbosity, teardown);
  g_test_add ("/daemon/fake/memcached-threads", Fixture, NULL, setup, test_memcached_threads, teardown);
  g_test_add ("/daemon/fake/proxy-settings", Fixture, NULL, setup, test_proxy_settings, teardown);
  g_test_add ("/daemon/fake/proxy-cache-kinds", Fixture, NULL, setup, test_proxy_cache_kinds, teardown);
  g_test_add ("/daemon/fake/proxy-bad-memcached", Fixture, NULL, setup, test_proxy_bad_memcached, teardown);
  g_test_add ("/daemon/fake/proxy-reload-memory-cache", Fixture, NULL, setup, test_proxy_reload_memory_cache,
              teardown);
  return g_test_run ();
}
