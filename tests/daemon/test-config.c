/* braid — daemon settings: one table, two sources (file and command line),
 * one range check; strict configuration files. */
#include "test-support.h"
#include "daemon.h"
#include "memcached-daemon.h"
#include "proxy-daemon.h"

#include <glib/gstdio.h>
#include <string.h>

static gchar *tmp_dir;

/* Writes @text to a file in the test directory; (transfer full) path. */
static gchar *
write_config (const gchar *text)
{
  gchar *path = g_build_filename (tmp_dir, "bad.conf", NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_message (const GError *error, const gchar *part)
{
  if (strstr (error->message, part) == NULL)
    g_error ("expected an error containing “%s” but saw “%s”", part, error->message);
}

static void
test_defaults_file_command_line (void)
{
  g_autofree gchar *conf = write_config ("[Server]\nPort = 1234\nMaxConnections=10\n[Cache]\nMemoryMiB = 128\n"
                                         "MaxItemSize = 512k\nEvictions = no\n[Logging]\nVerbosity = 2\n");
  gchar *argv[] = { "braid-memcached", "--config", conf, "-m", "256", "-v", "--listen", "tcp:1", "--listen",
                    "unix:/x", NULL };
  g_autoptr(GError) error = NULL;
  BraidMemcachedSettings *s;

  g_test_summary ("Defaults, then the file, then the command line, which wins (-v counts from 0 again, "
                  "--listen repeats)");
  s = braid_settings_read (&braid_memcached_settings_table, argv, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->port, ==, 1234);
  g_assert_cmpint (s->max_connections, ==, 10);
  g_assert_cmpint (s->memory_mib, ==, 256);
  g_assert_cmpint (s->item_size, ==, 512 * 1024);
  g_assert_false (s->evictions);
  g_assert_true (s->cas);
  /* -t's default is one thread per core */
  g_assert_cmpint (s->threads, ==, 0);
  g_assert_cmpuint (braid_memcached_threads (s), ==, MAX (g_get_num_processors (), 1));
  g_assert_cmpint (s->common.verbosity, ==, 1);
  g_assert_cmpfloat (s->common.grace_s, ==, 10.0);
  g_assert_cmpuint (g_strv_length (s->common.listen), ==, 2);
  g_assert_cmpstr (s->common.listen[1], ==, "unix:/x");
  braid_settings_free (&braid_memcached_settings_table, s);
  g_unlink (conf);
}

static void
test_backlog_and_threads (void)
{
  gchar *argv[] = { "braid-memcached", "--config", "/dev/null", "-b", "77", "-l", "127.0.0.1", "-t", "3", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) endpoints = NULL;
  BraidMcServerSettings server;
  BraidMemcachedSettings *s;

  g_test_summary ("-b sets the backlog of the -p/-l sockets and what stats settings reports; -t N gives "
                  "N threads and a store of 16 shards");
  s = braid_settings_read (&braid_memcached_settings_table, argv, &error);
  g_assert_no_error (error);
  endpoints = braid_memcached_endpoints (s);
  g_assert_cmpstr (endpoints[0], ==, "tcp:11211:interface=127.0.0.1:backlog=77");
  braid_memcached_server_settings (s, &server);
  g_assert_cmpuint (server.tcp_backlog, ==, 77);
  g_assert_cmpuint (server.threads, ==, 3);
  g_assert_cmpuint (server.store.n_shards, ==, 16);
  braid_settings_free (&braid_memcached_settings_table, s);
}

static void
test_tls_settings (void)
{
  g_autofree gchar *conf = write_config ("[TLS]\nEnabled = yes\nCertificateChain = /etc/file.pem\n"
                                         "Key = /etc/file-key.pem\n");
  gchar *argv[] = { "braid-memcached", "--config", conf, "-p", "11311", "-l", "127.0.0.1,::1", NULL };
  gchar *argv_o[] = { "braid-memcached", "--config", "/dev/null", "-Z", "-o", "ssl_chain_cert=/c\\:1.pem",
                      "-o", "ssl_key=/k.pem", "--listen", "tcp:7:backlog=5", "--listen", "unix:/s", NULL };
  gchar *argv_plain[] = { "braid-memcached", "--config", "/dev/null", "-o", "ssl_chain_cert=/c.pem", NULL };
  g_autoptr(GError) error = NULL;
  BraidMemcachedSettings *s;
  BraidMcServerSettings server;
  g_auto(GStrv) endpoints = NULL;

  g_test_summary ("-Z (or [TLS] Enabled) with a certificate turns the tcp: listeners into tls: ones; -o wins "
                  "over the file; unix: stays; the server reports it for stats settings");
  s = braid_settings_read (&braid_memcached_settings_table, argv, &error);
  g_assert_no_error (error);
  g_assert_true (s->ssl);
  endpoints = braid_memcached_endpoints (s);
  g_assert_cmpuint (g_strv_length (endpoints), ==, 2);
  g_assert_cmpstr (endpoints[0], ==, "tls:11311:interface=127.0.0.1:backlog=1024:certificate=/etc/file.pem:key=/etc/file-key.pem");
  g_assert_cmpstr (endpoints[1], ==, "tls:11311:interface=\\:\\:1:backlog=1024:certificate=/etc/file.pem:key=/etc/file-key.pem");
  for (guint i = 0; endpoints[i] != NULL; i++)
    {
      g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (endpoints[i], BRAID_ENDPOINT_ROLE_SERVER, &error);

      g_assert_no_error (error);
      g_assert_cmpint (ep->kind, ==, BRAID_ENDPOINT_KIND_TLS);
    }
  braid_memcached_server_settings (s, &server);
  g_assert_true (server.ssl_enabled);
  g_assert_cmpstr (server.ssl_chain_cert, ==, "/etc/file.pem");
  g_assert_cmpstr (server.ssl_key, ==, "/etc/file-key.pem");
  braid_settings_free (&braid_memcached_settings_table, s);
  g_clear_pointer (&endpoints, g_strfreev);

  s = braid_settings_read (&braid_memcached_settings_table, argv_o, &error);
  g_assert_no_error (error);
  endpoints = braid_memcached_endpoints (s);
  g_assert_cmpuint (g_strv_length (endpoints), ==, 2);
  g_assert_cmpstr (endpoints[0], ==, "tls:7:backlog=5:certificate=/c\\\\\\:1.pem:key=/k.pem");
  g_assert_cmpstr (endpoints[1], ==, "unix:/s");
  {
    g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (endpoints[0], BRAID_ENDPOINT_ROLE_SERVER, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (ep->certificate, ==, "/c\\:1.pem");
    g_assert_cmpint (ep->backlog, ==, 5);
  }
  braid_settings_free (&braid_memcached_settings_table, s);
  g_clear_pointer (&endpoints, g_strfreev);

  /* Without -Z the certificate is remembered but nothing listens with TLS. */
  s = braid_settings_read (&braid_memcached_settings_table, argv_plain, &error);
  g_assert_no_error (error);
  endpoints = braid_memcached_endpoints (s);
  /* -b's default, 1024, as the backlog of the -p/-l socket */
  g_assert_cmpstr (endpoints[0], ==, "tcp:11211:backlog=1024");
  braid_memcached_server_settings (s, &server);
  g_assert_false (server.ssl_enabled);
  braid_settings_free (&braid_memcached_settings_table, s);
  g_unlink (conf);
}

static void
test_verbose_counts (void)
{
  gchar *mc[] = { "braid-memcached", "--config", "/dev/null", "-vv", NULL };
  gchar *px[] = { "braid-proxy", "--config", "/dev/null", "-v", "-v", NULL };
  g_autoptr(GError) error = NULL;
  BraidDaemonCommonSettings *a, *b;

  g_test_summary ("-vv and -v -v mean the same in both daemons");
  g_test_bug ("10");
  a = braid_settings_read (&braid_memcached_settings_table, mc, &error);
  g_assert_no_error (error);
  b = braid_settings_read (&braid_proxy_settings_table, px, &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->verbosity, ==, 2);
  g_assert_cmpint (b->verbosity, ==, 2);
  braid_settings_free (&braid_memcached_settings_table, a);
  braid_settings_free (&braid_proxy_settings_table, b);
}

static gboolean
policy_allows (BraidAddressPolicy *policy, const gchar *address, guint16 port)
{
  g_autoptr(GInetAddress) parsed = g_inet_address_new_from_string (address);

  return braid_address_policy_check (policy, NULL, parsed, port, NULL);
}

/* A burst of distinct URLs on one host goes out at once: the per-host
 * limit is the total's, and both match --max-flights, which bounds the
 * fetches in the air. */
static void
test_proxy_upstream_limits_default (void)
{
  gchar *defaults[] = { "braid-proxy", "--config", "/dev/null", NULL };
  g_autoptr(GError) error = NULL;
  BraidProxyDaemonSettings *s = braid_settings_read (&braid_proxy_settings_table, defaults, &error);

  g_assert_no_error (error);
  g_assert_cmpint (s->max_conns_per_host, ==, 1024);
  g_assert_cmpint (s->max_conns, ==, 1024);
  g_assert_cmpint (s->max_flights, ==, 1024);
  g_assert_cmpint (s->fetch_threads, ==, 4);
  braid_settings_free (&braid_proxy_settings_table, s);
}

static gchar *
proxy_for (GProxyResolver *resolver, const gchar *uri)
{
  g_auto(GStrv) proxies = g_proxy_resolver_lookup (resolver, uri, NULL, NULL);

  g_assert_nonnull (proxies);
  return g_strdup (proxies[0]);
}

/* Upstream proxies come from the environment, read once: no desktop
 * proxy service is asked per connection (a thread hop each), and with no
 * proxy variable there is no resolver at all. */
static void
test_proxy_upstream_proxy_from_environment (void)
{
  const gchar *none[] = { "PATH=/usr/bin", "HTTP_PROXY=http://ignored:1/", NULL };
  const gchar *some[] = { "http_proxy=http://proxy.example:3128", "HTTPS_PROXY=http://secure.example:3129",
                          "no_proxy=internal.example,10.0.0.0/8", NULL };
  g_autoptr(GProxyResolver) resolver = braid_proxy_daemon_proxy_resolver_new (none);
  g_autofree gchar *http = NULL;
  g_autofree gchar *https = NULL;
  g_autofree gchar *internal = NULL;

  /* HTTP_PROXY is a request header's name under CGI: never read (httpoxy) */
  g_assert_null (resolver);
  resolver = braid_proxy_daemon_proxy_resolver_new (some);
  g_assert_nonnull (resolver);
  http = proxy_for (resolver, "http://www.example.com/");
  https = proxy_for (resolver, "https://www.example.com/");
  internal = proxy_for (resolver, "http://internal.example/");
  g_assert_cmpstr (http, ==, "http://proxy.example:3128");
  g_assert_cmpstr (https, ==, "http://secure.example:3129");
  g_assert_cmpstr (internal, ==, "direct://");
}

static void
test_proxy_address_policy (void)
{
  g_autofree gchar *conf = g_build_filename (g_get_tmp_dir (), "braid-test-policy.conf", NULL);
  g_autofree gchar *config_arg = g_strdup_printf ("--config=%s", conf);
  gchar *defaults[] = { "braid-proxy", "--config", "/dev/null", NULL };
  gchar *args[] = { "braid-proxy", config_arg, "--allow", "127.0.0.1", "--allow-port",
                    "8000-8999", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidAddressPolicy) policy = NULL;
  BraidProxyDaemonSettings *s;

  g_test_summary ("--allow, --deny and --allow-port (or [Upstream] Allow, Deny, AllowPorts) build the fetcher's "
                  "address policy; without them it is the safe default, and the proxy listens on loopback");
  g_assert_cmpstr (BRAID_PROXY_DAEMON_DEFAULT_LISTEN, ==, "tcp:8000:interface=127.0.0.1");
  s = braid_settings_read (&braid_proxy_settings_table, defaults, &error);
  g_assert_no_error (error);
  policy = braid_proxy_daemon_address_policy_new (s);
  g_assert_false (policy_allows (policy, "127.0.0.1", 8080));
  g_assert_false (policy_allows (policy, "169.254.169.254", 80));
  g_assert_false (policy_allows (policy, "93.184.216.34", 25));
  g_assert_true (policy_allows (policy, "93.184.216.34", 80));
  g_clear_pointer (&policy, braid_address_policy_unref);
  braid_settings_free (&braid_proxy_settings_table, s);

  g_assert_true (g_file_set_contents (conf, "[Upstream]\nAllow = 10.0.0.0/8\nDeny = evil.example, 93.184.216.0/24\n", -1, NULL));
  s = braid_settings_read (&braid_proxy_settings_table, args, &error);
  g_assert_no_error (error);
  /* The command line replaces the file's Allow list; Deny stays from the file. */
  g_assert_cmpuint (g_strv_length (s->allow), ==, 1);
  g_assert_cmpuint (g_strv_length (s->deny), ==, 2);
  policy = braid_proxy_daemon_address_policy_new (s);
  g_assert_true (policy_allows (policy, "127.0.0.1", 8080));
  g_assert_false (policy_allows (policy, "127.0.0.1", 80));           /* not in --allow-port */
  g_assert_false (policy_allows (policy, "10.1.1.1", 8080));          /* the file's Allow was replaced */
  g_assert_false (policy_allows (policy, "93.184.216.34", 8080));     /* the file's Deny */
  g_assert_true (policy_allows (policy, "93.184.217.1", 8080));
  {
    g_autoptr(GInetAddress) public = g_inet_address_new_from_string ("8.8.8.8");

    g_assert_false (braid_address_policy_check (policy, "EVIL.example", public, 8080, NULL));  /* the file's Deny */
    g_assert_true (braid_address_policy_check (policy, "good.example", public, 8080, NULL));
  }
  braid_settings_free (&braid_proxy_settings_table, s);
  g_unlink (conf);
}

/* A whole-number setting of braid-memcached after its command line. */
typedef struct {
  const gchar *args[4];
  gsize offset;   /* of a gint64 in BraidMemcachedSettings */
  gint64 value;
} GoodArgs;

#define MC_FIELD(f) G_STRUCT_OFFSET (BraidMemcachedSettings, f)

static const GoodArgs good_args[] = {
  { { "-p", "0" }, MC_FIELD (port), 0 },
  { { "-p", "65535" }, MC_FIELD (port), 65535 },
  { { "--port=00080" }, MC_FIELD (port), 80 },
  { { "-m", "1" }, MC_FIELD (memory_mib), 1 },
  { { "-m", "1048576" }, MC_FIELD (memory_mib), 1048576 },
  { { "-c", "1" }, MC_FIELD (max_connections), 1 },
  { { "-c", "1000000" }, MC_FIELD (max_connections), 1000000 },
  { { "-t", "0" }, MC_FIELD (threads), 0 },
  { { "-t", "256" }, MC_FIELD (threads), 256 },
  { { "-b", "1" }, MC_FIELD (backlog), 1 },
  { { "-b", "65535" }, MC_FIELD (backlog), 65535 },
  { { "-U", "0" }, MC_FIELD (udp_port), 0 },
  { { "--udp-port=-0" }, MC_FIELD (udp_port), 0 },
  { { "-I", "1024" }, MC_FIELD (item_size), 1024 },
  { { "-I", "1k" }, MC_FIELD (item_size), 1024 },
  { { "-I", "512K" }, MC_FIELD (item_size), 512 * 1024 },
  { { "-I", "2m" }, MC_FIELD (item_size), 2 * 1024 * 1024 },
  { { "-I", "1024M" }, MC_FIELD (item_size), 1024 * 1024 * 1024 },
  { { "-I", "1073741824" }, MC_FIELD (item_size), 1024 * 1024 * 1024 },
  { { "-vvv" }, MC_FIELD (common.verbosity), 3 },
  { { "-v", "--verbose", "-v" }, MC_FIELD (common.verbosity), 3 },
};

static void
test_limits_accepted (void)
{
  g_test_summary ("Every whole-number option takes the ends of its range, and sizes take k, K, m and M");
  for (gsize i = 0; i < G_N_ELEMENTS (good_args); i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autoptr(GError) error = NULL;
      BraidMemcachedSettings *s;

      g_ptr_array_add (argv, "braid-memcached");
      g_ptr_array_add (argv, "--config");
      g_ptr_array_add (argv, "/dev/null");
      for (guint a = 0; good_args[i].args[a] != NULL; a++)
        g_ptr_array_add (argv, (gpointer) good_args[i].args[a]);
      g_ptr_array_add (argv, NULL);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s %s", i, good_args[i].args[0],
                      good_args[i].args[1] != NULL ? good_args[i].args[1] : "");
      s = braid_settings_read (&braid_memcached_settings_table, (gchar **) argv->pdata, &error);
      g_assert_no_error (error);
      g_assert_cmpint (G_STRUCT_MEMBER (gint64, s, good_args[i].offset), ==, good_args[i].value);
      braid_settings_free (&braid_memcached_settings_table, s);
    }
}

static void
test_grace_period_ends (void)
{
  const gchar *values[] = { "0", "3600", "0.25", "3599.5" };
  const gdouble expected[] = { 0.0, 3600.0, 0.25, 3599.5 };

  g_test_summary ("--grace-period takes 0 and 3600, the ends of its range, and fractions");
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      gchar *argv[] = { "braid-proxy", "--config", "/dev/null", "--grace-period", (gchar *) values[i], NULL };
      g_autoptr(GError) error = NULL;
      BraidProxyDaemonSettings *s = braid_settings_read (&braid_proxy_settings_table, argv, &error);

      g_assert_no_error (error);
      g_assert_cmpfloat (s->common.grace_s, ==, expected[i]);
      braid_settings_free (&braid_proxy_settings_table, s);
    }
}

static void
test_booleans_and_flags (void)
{
  g_autofree gchar *yes = write_config ("[Cache]\nEvictions = YES\n[Server]\nEnableShutdown = True\n"
                                        "EnableDebugTime = 1\n[TLS]\nEnabled = yes\n");
  g_autofree gchar *no = g_build_filename (tmp_dir, "no.conf", NULL);
  gchar *argv_yes[] = { "braid-memcached", "--config", yes, "-o", "ssl_chain_cert=/c.pem", NULL };
  gchar *argv_no[] = { "braid-memcached", "--config", no, NULL };
  gchar *argv_flags[] = { "braid-memcached", "--config", no, "-A", "-M", "-C", "-F", "--enable-debugtime", "-V",
                          NULL };
  g_autoptr(GError) error = NULL;
  BraidMemcachedSettings *s;

  g_test_summary ("Booleans are true/yes/1 and false/no/0 in any case; a flag without argument sets its value");
  g_assert_true (g_file_set_contents (no, "[Cache]\nEvictions = No\n[Server]\nEnableShutdown = FALSE\n"
                                      "EnableDebugTime = 0\n", -1, NULL));
  s = braid_settings_read (&braid_memcached_settings_table, argv_yes, &error);
  g_assert_no_error (error);
  g_assert_true (s->evictions);
  g_assert_true (s->shutdown);
  g_assert_true (s->debugtime);
  g_assert_true (s->ssl);
  braid_settings_free (&braid_memcached_settings_table, s);

  s = braid_settings_read (&braid_memcached_settings_table, argv_no, &error);
  g_assert_no_error (error);
  g_assert_false (s->evictions);
  g_assert_false (s->shutdown);
  g_assert_false (s->debugtime);
  g_assert_true (s->cas);
  g_assert_true (s->flush);
  g_assert_false (s->common.version);
  braid_settings_free (&braid_memcached_settings_table, s);

  s = braid_settings_read (&braid_memcached_settings_table, argv_flags, &error);
  g_assert_no_error (error);
  g_assert_true (s->shutdown);
  g_assert_false (s->evictions);
  g_assert_false (s->cas);
  g_assert_false (s->flush);
  g_assert_true (s->debugtime);
  g_assert_true (s->common.version);
  braid_settings_free (&braid_memcached_settings_table, s);
  g_unlink (yes);
  g_unlink (no);
}

static void
test_file_list_replaces_default (void)
{
  g_autofree gchar *conf = write_config ("[Upstream]\nAllowPorts = 8080; ;9000-9100,\n");
  g_autofree gchar *config_arg = g_strdup_printf ("--config=%s", conf);
  gchar *from_file[] = { "braid-proxy", config_arg, NULL };
  gchar *from_flags[] = { "braid-proxy", config_arg, "--allow-port", "81", "--allow-port", "82", NULL };
  g_autoptr(GError) error = NULL;
  BraidProxyDaemonSettings *s;

  g_test_summary ("A list in the file replaces the default list (items split at , and ;, empty ones "
                  "skipped); the flag replaces the file's list, then repeats");
  s = braid_settings_read (&braid_proxy_settings_table, from_file, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (s->allow_ports), ==, 2);
  g_assert_cmpstr (s->allow_ports[0], ==, "8080");
  g_assert_cmpstr (s->allow_ports[1], ==, "9000-9100");
  braid_settings_free (&braid_proxy_settings_table, s);

  s = braid_settings_read (&braid_proxy_settings_table, from_flags, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (s->allow_ports), ==, 2);
  g_assert_cmpstr (s->allow_ports[0], ==, "81");
  g_assert_cmpstr (s->allow_ports[1], ==, "82");
  braid_settings_free (&braid_proxy_settings_table, s);
  g_unlink (conf);
}

static void
test_file_verbosity_then_flags (void)
{
  g_autofree gchar *conf = write_config ("[Logging]\nVerbosity = 3\n");
  gchar *file_only[] = { "braid-memcached", "--config", conf, NULL };
  gchar *with_flag[] = { "braid-memcached", "--config", conf, "-v", NULL };
  g_autoptr(GError) error = NULL;
  BraidMemcachedSettings *s;

  g_test_summary ("[Logging] Verbosity may be 3; one -v on the command line counts from 0 again");
  s = braid_settings_read (&braid_memcached_settings_table, file_only, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->common.verbosity, ==, 3);
  braid_settings_free (&braid_memcached_settings_table, s);
  s = braid_settings_read (&braid_memcached_settings_table, with_flag, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->common.verbosity, ==, 1);
  braid_settings_free (&braid_memcached_settings_table, s);
  g_unlink (conf);
}

typedef struct {
  const BraidSettingsTable *table;
  const gchar *args[4];
  const gchar *message;
} BadArgs;

static const BadArgs bad_args[] = {
  { &braid_memcached_settings_table, { "-m", "17592186044416" }, "--memory-limit (-m) 17592186044416: must be from 1 to 1048576" },
  { &braid_memcached_settings_table, { "-m", "0" }, "--memory-limit (-m) 0: must be from 1 to 1048576" },
  { &braid_memcached_settings_table, { "-c", "4294967296" }, "--conn-limit (-c) 4294967296: must be from 1 to 1000000" },
  { &braid_memcached_settings_table, { "-p", "65536" }, "--port (-p) 65536: must be from 0 to 65535" },
  { &braid_memcached_settings_table, { "-I", "0" }, "--max-item-size (-I) 0: must be from 1024 to 1073741824 bytes" },
  { &braid_memcached_settings_table, { "-I", "2g" }, "--max-item-size (-I) 2g: not a size" },
  { &braid_memcached_settings_table, { "-I", "1023" }, "--max-item-size (-I) 1023: must be from 1024 to 1073741824 bytes" },
  { &braid_memcached_settings_table, { "-I", "1073741825" }, "--max-item-size (-I) 1073741825: must be from 1024" },
  { &braid_memcached_settings_table, { "-I", "1025m" }, "--max-item-size (-I) 1025m: must be from 1024" },
  { &braid_memcached_settings_table, { "-I", "1kb" }, "--max-item-size (-I) 1kb: not a size" },
  { &braid_memcached_settings_table, { "-I", "k" }, "--max-item-size (-I) k: not a size" },
  { &braid_memcached_settings_table, { "-I", "-1k" }, "--max-item-size (-I) -1k: not a size" },
  /* G_MAXINT64 / 1024 kibibytes still fit in 64 bits (then fail the range); one more does not */
  { &braid_memcached_settings_table, { "-I", "9007199254740991k" }, "--max-item-size (-I) 9007199254740991k: must be from 1024" },
  { &braid_memcached_settings_table, { "-I", "9007199254740992k" }, "--max-item-size (-I) 9007199254740992k: not a size" },
  { &braid_memcached_settings_table, { "-I", "8796093022207m" }, "--max-item-size (-I) 8796093022207m: must be from 1024" },
  { &braid_memcached_settings_table, { "-I", "8796093022208m" }, "--max-item-size (-I) 8796093022208m: not a size" },
  { &braid_memcached_settings_table, { "-I", "9223372036854775808" }, "--max-item-size (-I) 9223372036854775808: not a size" },
  { &braid_memcached_settings_table, { "--port=-1" }, "--port (-p) -1: must be from 0 to 65535" },
  { &braid_memcached_settings_table, { "--port=1x" }, "--port (-p) 1x: not a whole number" },
  { &braid_memcached_settings_table, { "--port=" }, "--port (-p) : not a whole number" },
  { &braid_memcached_settings_table, { "--port=-" }, "--port (-p) -: not a whole number" },
  { &braid_memcached_settings_table, { "--port=--1" }, "--port (-p) --1: not a whole number" },
  { &braid_memcached_settings_table, { "--port= 1" }, "--port (-p)  1: not a whole number" },
  { &braid_memcached_settings_table, { "--port=0x10" }, "--port (-p) 0x10: not a whole number" },
  { &braid_memcached_settings_table, { "--port=9223372036854775808" }, "--port (-p) 9223372036854775808: not a whole number" },
  { &braid_memcached_settings_table, { "--memory-limit=1048577" }, "--memory-limit (-m) 1048577: must be from 1 to 1048576" },
  { &braid_memcached_settings_table, { "-c", "0" }, "--conn-limit (-c) 0: must be from 1 to 1000000" },
  { &braid_memcached_settings_table, { "-c", "1000001" }, "--conn-limit (-c) 1000001: must be from 1 to 1000000" },
  { &braid_memcached_settings_table, { "-t", "257" }, "--threads (-t) 257: must be from 0 to 256" },
  { &braid_memcached_settings_table, { "--threads=-1" }, "--threads (-t) -1: must be from 0 to 256" },
  { &braid_memcached_settings_table, { "-b", "0" }, "--listen-backlog (-b) 0: must be from 1 to 65535" },
  { &braid_memcached_settings_table, { "-b", "65536" }, "--listen-backlog (-b) 65536: must be from 1 to 65535" },
  { &braid_memcached_settings_table, { "-U", "1" }, "--udp-port (-U) 1: must be from 0 to 0" },
  { &braid_memcached_settings_table, { "--grace-period", "3600.5" }, "--grace-period 3600.5: expected a number from 0 to 3600" },
  { &braid_memcached_settings_table, { "--grace-period", "" }, "--grace-period : expected a number from 0 to 3600" },
  { &braid_memcached_settings_table, { "--grace-period", "1s" }, "--grace-period 1s: expected a number from 0 to 3600" },
  { &braid_memcached_settings_table, { "--grace-period", "-1" }, "--grace-period -1: expected a number from 0 to 3600" },
  { &braid_memcached_settings_table, { "--grace-period", "nan" }, "--grace-period nan: expected a number from 0 to 3600" },
  { &braid_memcached_settings_table, { "-U", "11211" }, "--udp-port (-U) 11211: must be from 0 to 0" },
  { &braid_memcached_settings_table, { "-t", "lots" }, "--threads (-t) lots: not a whole number" },
  { &braid_memcached_settings_table, { "-vvvv" }, "--verbose (-v) given too often: must be from 0 to 3" },
  { &braid_memcached_settings_table, { "--listen", "tcp:nope" }, "--listen tcp:nope: " },
  { &braid_memcached_settings_table, { "extra" }, "Unexpected argument “extra”" },
  { &braid_memcached_settings_table, { "-Z" }, "-Z/--enable-ssl needs a certificate: -o ssl_chain_cert=FILE" },
  { &braid_memcached_settings_table, { "-Z", "-o", "ssl_key=k.pem" }, "-Z/--enable-ssl needs a certificate" },
  { &braid_memcached_settings_table, { "-o", "modern" }, "--extended (-o) modern: “modern” is not a suboption" },
  { &braid_memcached_settings_table, { "-o", "ssl_chain_cert=c,slab_chunk_max=1" }, "“slab_chunk_max=1” is not a suboption" },
  { &braid_memcached_settings_table, { "-o", "ssl_key=" }, "“ssl_key=” has no value" },
  { &braid_memcached_settings_table, { "--listen", "tls:1" }, "no certificate given" },
  { &braid_memcached_settings_table, { "-Zo", "ssl_chain_cert=c", "--listen=systemd:0" },
    "-Z/--enable-ssl cannot wrap “systemd:0” in TLS" },
  { &braid_proxy_settings_table, { "--max-body", "0" }, "--max-body 0: must be from 1 to 1048576" },
  { &braid_proxy_settings_table, { "--max-body", "17592186044416" }, "--max-body 17592186044416: must be from 1 to 1048576" },
  { &braid_proxy_settings_table, { "--ttl", "2592001" }, "--ttl 2592001: must be from 1 to 2592000" },
  { &braid_proxy_settings_table, { "--max-flights", "0" }, "--max-flights 0: must be from 1 to 1000000" },
  { &braid_proxy_settings_table, { "--client-write-timeout", "0" }, "--client-write-timeout 0: must be from 1 to 3600" },
  { &braid_proxy_settings_table, { "--grace-period", "3601" }, "--grace-period 3601: expected a number from 0 to 3600" },
  { &braid_proxy_settings_table, { "--max-conns-per-host", "0" }, "--max-conns-per-host 0: must be from 1 to 100000" },
  { &braid_proxy_settings_table, { "--fetch-threads", "65" }, "--fetch-threads 65: must be from 0 to 64" },
  { &braid_proxy_settings_table, { "-m", "host-without-port" }, "--memcached (-m) host-without-port: “host-without-port” is not HOST:PORT" },
  { &braid_proxy_settings_table, { "-m", "tls:host" }, "“tls:host” is not tls:HOST:PORT" },
  { &braid_proxy_settings_table, { "-m", "tls:h:1:certificate=c" }, "unknown option “certificate”" },
  { &braid_proxy_settings_table, { "-l", "udp:1" }, "--listen (-l) udp:1: " },
  { &braid_proxy_settings_table, { "--allow", "10.0.0.1/8" }, "--allow 10.0.0.1/8: “10.0.0.1/8”: " },
  { &braid_proxy_settings_table, { "--deny", "host name" }, "--deny host name: “host name”: not an address" },
  { &braid_proxy_settings_table, { "--allow", "127.0.0.1:0" }, "--allow 127.0.0.1:0: “127.0.0.1:0”: the port must be from 1 to 65535" },
  { &braid_proxy_settings_table, { "--allow-port", "2000-1000" }, "--allow-port 2000-1000: “2000-1000”: expected PORT or LOW-HIGH" },
};

static void
test_bad_command_line (void)
{
  g_test_summary ("Every command-line value goes through the table's range check: exit 2 and a message naming "
                  "the option and its range");
  g_test_bug ("11");
  for (gsize i = 0; i < G_N_ELEMENTS (bad_args); i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autoptr(GError) error = NULL;

      g_ptr_array_add (argv, (gpointer) bad_args[i].table->name);
      g_ptr_array_add (argv, "--config");
      g_ptr_array_add (argv, "/dev/null");
      for (guint a = 0; bad_args[i].args[a] != NULL; a++)
        g_ptr_array_add (argv, (gpointer) bad_args[i].args[a]);
      g_ptr_array_add (argv, NULL);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s %s", i, bad_args[i].table->name, bad_args[i].args[0]);
      g_assert_null (braid_settings_read (bad_args[i].table, (gchar **) argv->pdata, &error));
      g_assert_nonnull (error);
      g_assert_cmpint (braid_daemon_exit_code (error), ==, BRAID_EXIT_USAGE);
      assert_message (error, bad_args[i].message);
    }
}

typedef struct {
  const BraidSettingsTable *table;
  const gchar *text;
  const gchar *message;  /* after "DIR/bad.conf" */
} BadFile;

static const BadFile bad_files[] = {
  { &braid_memcached_settings_table, "[Server]\nPort tcp:1\n", ":2: expected “key = value”" },
  { &braid_memcached_settings_table, "Port = 1\n", ":1: key outside of any [Group]" },
  { &braid_memcached_settings_table, "[Server\n", ":1: a group header" },
  { &braid_memcached_settings_table, "[]]\n", ":1: a group header must look like [Name]" },
  { &braid_memcached_settings_table, "[Server]\n\n[Nope]\nA=1\n", ":3: unknown group [Nope]" },
  { &braid_memcached_settings_table, "[Server]\nPort=1\nPrt = 2\n", ":3: unknown key “Prt” in [Server]" },
  { &braid_memcached_settings_table, "[Server]\nPort = 1\nPort = 2\n", ":3: key “Port” in [Server] already set at line 2" },
  { &braid_memcached_settings_table, "[Server]\nPort = 1\n[Cache]\n[Server]\n", ":4: group [Server] already appeared at line 1" },
  { &braid_memcached_settings_table, "[Server]\nPort[de] = 1\n", ":2: localised keys such as “Port[de]” are not supported" },
  { &braid_memcached_settings_table, "[Server]\nPort = \xff\n", ":2: not valid UTF-8" },
  { &braid_memcached_settings_table, "[Cache]\n\nMemoryMiB = lots\n", ":3: [Cache] MemoryMiB = lots: not a whole number" },
  { &braid_memcached_settings_table, "[Cache]\nMemoryMiB = 17592186044416\n", ":2: [Cache] MemoryMiB = 17592186044416: must be from 1 to 1048576" },
  { &braid_memcached_settings_table, "[Cache]\nMaxItemSize = 0\n", ":2: [Cache] MaxItemSize = 0: must be from 1024 to 1073741824 bytes" },
  { &braid_memcached_settings_table, "[Cache]\nEvictions = maybe\n", ":2: [Cache] Evictions = maybe: expected true or false" },
  { &braid_memcached_settings_table, "[Server]\nListen = tcp:1, bogus:2\n", ":2: [Server] Listen = tcp:1, bogus:2: " },
  { &braid_memcached_settings_table, "[Logging]\nVerbosity = 4\n", ":2: [Logging] Verbosity = 4: must be from 0 to 3" },
  { &braid_proxy_settings_table, "[Cache]\nTTLSeconds = 0\n", ":2: [Cache] TTLSeconds = 0: must be from 1 to 2592000" },
  { &braid_proxy_settings_table, "[Nope]\n", ":1: unknown group [Nope]" },
  { &braid_proxy_settings_table, "[Cache]\nMemcached = nohost\n", ":2: [Cache] Memcached = nohost: “nohost” is not HOST:PORT" },
  { &braid_proxy_settings_table, "[Upstream]\nMaxBodyMiB = 0\n", ":2: [Upstream] MaxBodyMiB = 0: must be from 1 to 1048576" },
  { &braid_proxy_settings_table, "[Upstream]\nMaxBufferedMiB = 0\n", ":2: [Upstream] MaxBufferedMiB = 0: must be from 1 to 1048576" },
  { &braid_proxy_settings_table, "[Upstream]\nAllow = 127.0.0.1, fc00::/129\n", ":2: [Upstream] Allow = 127.0.0.1, fc00::/129: “fc00::/129”: the prefix must be from 0 to 128" },
  { &braid_proxy_settings_table, "[Upstream]\nAllowPorts = 80, 0\n", ":2: [Upstream] AllowPorts = 80, 0: “0”: expected PORT or LOW-HIGH" },
  { &braid_proxy_settings_table, "[Server]\nGracePeriodSeconds = inf\n", ":2: [Server] GracePeriodSeconds = inf: expected a number" },
};

static void
test_bad_config_file (void)
{
  g_test_summary ("Every configuration error is exit 3 with FILE:LINE: syntax, duplicates, localised keys, "
                  "unknown names, bad values and ranges");
  g_test_bug ("11");
  for (gsize i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      g_autofree gchar *conf = write_config (bad_files[i].text);
      g_autofree gchar *expected = g_strconcat (conf, bad_files[i].message, NULL);
      gchar *argv[] = { (gchar *) bad_files[i].table->name, "--config", conf, NULL };
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, bad_files[i].message);
      g_assert_null (braid_settings_read (bad_files[i].table, argv, &error));
      g_assert_nonnull (error);
      g_assert_error (error, BRAID_CONFIG_ERROR, error->code);
      g_assert_cmpint (braid_daemon_exit_code (error), ==, BRAID_EXIT_CONFIG);
      assert_message (error, expected);
      g_unlink (conf);
    }
}

static void
test_bom_and_comments (void)
{
  g_autofree gchar *conf = write_config ("\xEF\xBB\xBF# braid\n[Server]\r\nPort = 99\r\n\n  # indented\n");
  gchar *argv[] = { "braid-memcached", "--config", conf, NULL };
  g_autoptr(GError) error = NULL;
  BraidMemcachedSettings *s;

  g_test_summary ("A UTF-8 byte-order mark at the start is skipped; CRLF line ends and comments are fine");
  s = braid_settings_read (&braid_memcached_settings_table, argv, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->port, ==, 99);
  braid_settings_free (&braid_memcached_settings_table, s);
  g_unlink (conf);
}

static void
assert_entry (BraidConfigFile *file, guint index, const gchar *group, const gchar *key, const gchar *value,
              guint line)
{
  const BraidConfigEntry *e = braid_config_file_get_entry (file, index);

  g_assert_nonnull (e);
  g_assert_cmpstr (e->group, ==, group);
  g_assert_cmpstr (e->key, ==, key);
  g_assert_cmpstr (e->value, ==, value);
  g_assert_cmpuint (e->line, ==, line);
}

static void
test_parse_entries (void)
{
  g_autoptr(BraidConfigFile) file = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A file is a list of groups and keys in order, with their lines; values are trimmed and may "
                  "hold = and be empty; the caller may ignore the error");
  file = braid_config_file_parse ("# c\n[Server]\n  Port=  1 \nListen = unix:/a=b\n\n[Cache-2 x]\nMax_Item-1 =\n",
                                  "t.conf", NULL);
  g_assert_nonnull (file);
  g_assert_cmpstr (braid_config_file_get_name (file), ==, "t.conf");
  g_assert_cmpuint (braid_config_file_get_n_entries (file), ==, 5);
  assert_entry (file, 0, "Server", NULL, NULL, 2);
  assert_entry (file, 1, "Server", "Port", "1", 3);
  assert_entry (file, 2, "Server", "Listen", "unix:/a=b", 4);
  assert_entry (file, 3, "Cache-2 x", NULL, NULL, 6);
  assert_entry (file, 4, "Cache-2 x", "Max_Item-1", "", 7);
  g_clear_pointer (&file, braid_config_file_free);

  /* a bad file without an error to fill */
  g_assert_null (braid_config_file_parse ("[Server]\nPort\n", "t.conf", NULL));
  /* the shortest group header */
  file = braid_config_file_parse ("[A]\n", "t.conf", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (braid_config_file_get_n_entries (file), ==, 1);
  assert_entry (file, 0, "A", NULL, NULL, 1);
}

typedef struct {
  const gchar *text;
  const gchar *message;
} BadSyntax;

static const BadSyntax bad_syntax[] = {
  { "[]\n", "t.conf:1: a group header must look like [Name]" },
  { "[A]x\n", "t.conf:1: a group header must look like [Name]" },
  { "[A\tB]\n", "t.conf:1: a group header must look like [Name], without brackets or control characters" },
  { "[A[B]\n", "t.conf:1: a group header must look like [Name], without brackets" },
  { "[A]\n= 1\n", "t.conf:2: expected “key = value”" },
  { "[A]\nKey.x = 1\n", "t.conf:2: “Key.x” is not a key name" },
  { "[A]\nK y = 1\n", "t.conf:2: “K y” is not a key name" },
  { "[A]\n\n\nK = 1\n[B]\nK = 2\nK=3\n", "t.conf:7: key “K” in [B] already set at line 6" },
  { "[A]\n[B]\n[C]\n[B]\n", "t.conf:4: group [B] already appeared at line 2" },
};

static void
test_parse_errors (void)
{
  g_test_summary ("Syntax errors name the file and line: group headers, key names, duplicates anywhere in the "
                  "file");
  for (gsize i = 0; i < G_N_ELEMENTS (bad_syntax); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, bad_syntax[i].message);
      g_assert_null (braid_config_file_parse (bad_syntax[i].text, "t.conf", &error));
      g_assert_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX);
      assert_message (error, bad_syntax[i].message);
      g_assert_true (g_str_has_prefix (error->message, "t.conf:"));
    }
}

static void
test_load_errors (void)
{
  g_autofree gchar *missing = g_build_filename (tmp_dir, "missing.conf", NULL);
  g_autofree gchar *with_nul = g_build_filename (tmp_dir, "nul.conf", NULL);
  g_autofree gchar *nul_message = g_strdup_printf ("%s: contains a NUL byte", with_nul);
  gchar *argv[] = { "braid-memcached", "--config", missing, NULL };
  g_autoptr(GError) error = NULL;

  g_test_summary ("A configuration file that cannot be read, or holds a NUL byte, is a configuration error "
                  "(exit 3) naming it");
  g_assert_null (braid_config_file_load (missing, &error));
  g_assert_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_IO);
  assert_message (error, missing);
  g_clear_error (&error);
  g_assert_null (braid_settings_read (&braid_memcached_settings_table, argv, &error));
  g_assert_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_IO);
  g_assert_cmpint (braid_daemon_exit_code (error), ==, BRAID_EXIT_CONFIG);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (with_nul, "[Server]\nPort = 1\0\n", 19, NULL));
  g_assert_null (braid_config_file_load (with_nul, &error));
  g_assert_error (error, BRAID_CONFIG_ERROR, BRAID_CONFIG_ERROR_SYNTAX);
  g_assert_cmpstr (error->message, ==, nul_message);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (with_nul, "[Server]\nPort = 1\n", -1, NULL));
  {
    g_autoptr(BraidConfigFile) file = braid_config_file_load (with_nul, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (braid_config_file_get_name (file), ==, with_nul);
    g_assert_cmpuint (braid_config_file_get_n_entries (file), ==, 2);
  }
  g_unlink (with_nul);
}

static void
test_scan_argv (void)
{
  char *a1[] = { "prog", "-p", "1", "--config", "/x.conf", NULL };
  char *a2[] = { "prog", "--config=/y.conf", NULL };
  char *a3[] = { "prog", "--", "--config", "/z", NULL };
  g_autofree gchar *c1 = braid_config_scan_argv (5, a1);
  g_autofree gchar *c2 = braid_config_scan_argv (2, a2);
  g_autofree gchar *c3 = braid_config_scan_argv (4, a3);

  g_test_summary ("--config is found before the command line is parsed");
  g_assert_cmpstr (c1, ==, "/x.conf");
  g_assert_cmpstr (c2, ==, "/y.conf");
  g_assert_null (c3);
  {
    char *a4[] = { "prog", "--configx", "/q", "--config", NULL };
    char *a5[] = { "prog", "--config=/a", "--config", "/b", NULL };
    char *a6[] = { "prog", "--config=", NULL };
    char *a7[] = { "prog", "--config", "/b", NULL };
    g_autofree gchar *c4 = braid_config_scan_argv (4, a4);
    g_autofree gchar *c5 = braid_config_scan_argv (4, a5);
    g_autofree gchar *c6 = braid_config_scan_argv (2, a6);
    /* only the first argc arguments count: here --config has no value */
    g_autofree gchar *c7 = braid_config_scan_argv (2, a7);

    /* a last --config without its value, a longer option name: none */
    g_assert_null (c4);
    /* the first one wins */
    g_assert_cmpstr (c5, ==, "/a");
    g_assert_cmpstr (c6, ==, "");
    g_assert_null (c7);
  }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_bug_base ("https://example.invalid/braid/issues/");
  tmp_dir = g_dir_make_tmp ("braid-config-XXXXXX", NULL);
  g_test_add_func ("/daemon/config/defaults-file-command-line", test_defaults_file_command_line);
  g_test_add_func ("/daemon/config/proxy-upstream-limits-default", test_proxy_upstream_limits_default);
  g_test_add_func ("/daemon/config/proxy-upstream-proxy-from-environment",
                   test_proxy_upstream_proxy_from_environment);
  g_test_add_func ("/daemon/config/verbose-counts", test_verbose_counts);
  g_test_add_func ("/daemon/config/tls", test_tls_settings);
  g_test_add_func ("/daemon/config/backlog-and-threads", test_backlog_and_threads);
  g_test_add_func ("/daemon/config/limits-accepted", test_limits_accepted);
  g_test_add_func ("/daemon/config/grace-period-ends", test_grace_period_ends);
  g_test_add_func ("/daemon/config/booleans-and-flags", test_booleans_and_flags);
  g_test_add_func ("/daemon/config/file-list-replaces-default", test_file_list_replaces_default);
  g_test_add_func ("/daemon/config/file-verbosity-then-flags", test_file_verbosity_then_flags);
  g_test_add_func ("/daemon/config/bad-command-line", test_bad_command_line);
  g_test_add_func ("/daemon/config/bad-file", test_bad_config_file);
  g_test_add_func ("/daemon/config/bom-and-comments", test_bom_and_comments);
  g_test_add_func ("/daemon/config/scan-argv", test_scan_argv);
  g_test_add_func ("/daemon/config/parse-entries", test_parse_entries);
  g_test_add_func ("/daemon/config/parse-errors", test_parse_errors);
  g_test_add_func ("/daemon/config/load-errors", test_load_errors);
  g_test_add_func ("/daemon/config/proxy-address-policy", test_proxy_address_policy);
  status = g_test_run ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return status;
}
