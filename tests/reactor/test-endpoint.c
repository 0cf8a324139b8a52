/* braid — endpoint strings. */
#include "test-support.h"

#include <string.h>

typedef struct {
  const gchar *input;
  BraidEndpointRole role;
  const gchar *normalised;  /* NULL: must fail */
  const gchar *error_part;  /* a substring of the error message */
} EndpointCase;

static const EndpointCase cases[] = {
  { "tcp:11211", BRAID_ENDPOINT_ROLE_SERVER, "tcp:11211", NULL },
  { "tcp:0", BRAID_ENDPOINT_ROLE_SERVER, "tcp:0", NULL },
  { "tcp:11211:interface=127.0.0.1", BRAID_ENDPOINT_ROLE_SERVER, "tcp:11211:interface=127.0.0.1", NULL },
  { "tcp:port=80:interface=\\:\\:1", BRAID_ENDPOINT_ROLE_SERVER, "tcp:80:interface=\\:\\:1", NULL },
  { "tcp:8000:backlog=5", BRAID_ENDPOINT_ROLE_SERVER, "tcp:8000", NULL },
  { "tcp:localhost:11211", BRAID_ENDPOINT_ROLE_CLIENT, "tcp:localhost:11211", NULL },
  { "tcp:host=example.com:port=80:timeout=2.5", BRAID_ENDPOINT_ROLE_CLIENT, "tcp:example.com:80", NULL },
  { "unix:/run/braid/mc.sock", BRAID_ENDPOINT_ROLE_SERVER, "unix:/run/braid/mc.sock", NULL },
  { "unix:/run/braid/mc.sock:mode=0660", BRAID_ENDPOINT_ROLE_SERVER, "unix:/run/braid/mc.sock", NULL },
  { "unix:/tmp/x", BRAID_ENDPOINT_ROLE_CLIENT, "unix:/tmp/x", NULL },
  { "systemd:0", BRAID_ENDPOINT_ROLE_SERVER, "systemd:0", NULL },
  { "systemd:name=braid-memcached.socket", BRAID_ENDPOINT_ROLE_SERVER, "systemd:name=braid-memcached.socket", NULL },
  { "tls:11211:certificate=/etc/c.pem:key=/etc/k.pem", BRAID_ENDPOINT_ROLE_SERVER,
    "tls:11211:certificate=/etc/c.pem:key=/etc/k.pem", NULL },
  { "tls:port=0:key=k.pem:certificate=c.pem:interface=127.0.0.1:backlog=9", BRAID_ENDPOINT_ROLE_SERVER,
    "tls:0:interface=127.0.0.1:certificate=c.pem:key=k.pem", NULL },
  { "tls:443:certificate=/etc/both.pem", BRAID_ENDPOINT_ROLE_SERVER, "tls:443:certificate=/etc/both.pem", NULL },
  { "tls:localhost:11211", BRAID_ENDPOINT_ROLE_CLIENT, "tls:localhost:11211", NULL },
  { "tls:127.0.0.1:11211:ca=/tmp/a\\:b.pem:timeout=3", BRAID_ENDPOINT_ROLE_CLIENT,
    "tls:127.0.0.1:11211:ca=/tmp/a\\:b.pem", NULL },
  { "tls:host=\\:\\:1:port=1:ca=ca.pem", BRAID_ENDPOINT_ROLE_CLIENT, "tls:\\:\\:1:1:ca=ca.pem", NULL },
  /* a repeated file option: the last one counts */
  { "tls:0:certificate=a.pem:key=k.pem:certificate=b.pem", BRAID_ENDPOINT_ROLE_SERVER,
    "tls:0:certificate=b.pem:key=k.pem", NULL },
  { "tls:h:1:ca=a.pem:ca=b.pem", BRAID_ENDPOINT_ROLE_CLIENT, "tls:h:1:ca=b.pem", NULL },
  /* malformed */
  { "tls:11211", BRAID_ENDPOINT_ROLE_SERVER, NULL, "no certificate given" },
  { "tls:0:certificate=c.pem:key=", BRAID_ENDPOINT_ROLE_SERVER, NULL, "empty file name for key=" },
  { "tls:0:certificate=c.pem:interface=", BRAID_ENDPOINT_ROLE_SERVER, NULL, "empty interface" },
  { "tls:0:certificate=c.pem:timeout=1", BRAID_ENDPOINT_ROLE_SERVER, NULL, "unknown option “timeout”" },
  { "tls:h:1:key=k.pem", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "unknown option “key”" },
  { "tls:h:1:timeout=soon", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "timeout must be" },
  { "tls:11211:key=k.pem", BRAID_ENDPOINT_ROLE_SERVER, NULL, "no certificate given" },
  { "tls:11211:certificate=", BRAID_ENDPOINT_ROLE_SERVER, NULL, "empty file name for certificate=" },
  { "tls:11211:certificate=c:ca=x", BRAID_ENDPOINT_ROLE_SERVER, NULL, "unknown option “ca”" },
  { "tls:h:1:certificate=c", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "unknown option “certificate”" },
  { "tls:h:1:ca=", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "empty file name for ca=" },
  { "tls:11211", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "no port given" },
  { "tls::11211", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "no host given (use tls:HOST:PORT)" },
  { "tls:h:0", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "port 0 cannot be connected to" },
  { "", BRAID_ENDPOINT_ROLE_SERVER, NULL, "expected KIND:ARGUMENTS" },
  { "11211", BRAID_ENDPOINT_ROLE_SERVER, NULL, "expected KIND:ARGUMENTS" },
  { "udp:11211", BRAID_ENDPOINT_ROLE_SERVER, NULL, "unknown kind “udp”" },
  { "tcp:", BRAID_ENDPOINT_ROLE_SERVER, NULL, "port “” is not a number" },
  { "tcp:65536", BRAID_ENDPOINT_ROLE_SERVER, NULL, "port “65536” is not a number from 0 to 65535" },
  { "tcp:-1", BRAID_ENDPOINT_ROLE_SERVER, NULL, "is not a number" },
  { "tcp:12x", BRAID_ENDPOINT_ROLE_SERVER, NULL, "is not a number" },
  { "tcp:80:colour=blue", BRAID_ENDPOINT_ROLE_SERVER, NULL, "unknown option “colour”" },
  { "tcp:80:interface=", BRAID_ENDPOINT_ROLE_SERVER, NULL, "empty interface" },
  { "tcp:80:backlog=0", BRAID_ENDPOINT_ROLE_SERVER, NULL, "backlog must be" },
  { "tcp:1:2", BRAID_ENDPOINT_ROLE_SERVER, NULL, "too many positional" },
  { "tcp:11211", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "no port given" },
  { "tcp:host:0", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "port 0 cannot be connected to" },
  { "tcp:host=h", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "no port given" },
  { "tcp:h:1:timeout=soon", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "timeout must be" },
  { "unix:", BRAID_ENDPOINT_ROLE_SERVER, NULL, "no socket path" },
  { "unix:/x:mode=999", BRAID_ENDPOINT_ROLE_SERVER, NULL, "octal" },
  { "systemd:0", BRAID_ENDPOINT_ROLE_CLIENT, NULL, "can only be listened on" },
  { "systemd:x", BRAID_ENDPOINT_ROLE_SERVER, NULL, "socket index must be" },
  { "systemd:", BRAID_ENDPOINT_ROLE_SERVER, NULL, "socket index must be" },
  { "tcp:80\\", BRAID_ENDPOINT_ROLE_SERVER, NULL, "lone backslash" },
  /* options outside their kind: port= belongs to tcp and tls only */
  { "unix:/x:port=80", BRAID_ENDPOINT_ROLE_SERVER, NULL, "unknown option “port”" },
  { "systemd:port=80", BRAID_ENDPOINT_ROLE_SERVER, NULL, "unknown option “port”" },
};

static void
test_table (void)
{
  g_test_summary ("Every endpoint form parses to its normalised string; malformed ones name the problem");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const EndpointCase *c = &cases[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (c->input, c->role, &error);

      g_test_message ("case %" G_GSIZE_FORMAT ": “%s” (%s)", i, c->input,
                      c->role == BRAID_ENDPOINT_ROLE_SERVER ? "server" : "client");
      if (c->normalised != NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (braid_endpoint_to_string (ep), ==, c->normalised);
        }
      else
        {
          g_assert_null (ep);
          g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT);
          if (strstr (error->message, c->error_part) == NULL)
            g_error ("expected an error containing “%s” but saw “%s”", c->error_part, error->message);
        }
    }
}

static void
test_fields (void)
{
  g_autoptr(BraidEndpoint) a = braid_endpoint_parse ("tcp:port=80:interface=\\:\\:1:backlog=7",
                                                     BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) b = braid_endpoint_parse ("tcp:h:99:timeout=1.5", BRAID_ENDPOINT_ROLE_CLIENT, NULL);
  g_autoptr(BraidEndpoint) c = braid_endpoint_parse ("systemd:3", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) d = braid_endpoint_parse ("tls:0:certificate=c.pem:key=k.pem:backlog=3",
                                                     BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) e = braid_endpoint_parse ("tls:localhost:99:ca=ca.pem:timeout=2",
                                                     BRAID_ENDPOINT_ROLE_CLIENT, NULL);
  g_autoptr(BraidEndpoint) copy = NULL;
  g_autoptr(BraidEndpoint) tls_copy = NULL;

  g_test_summary ("Parsed fields: escapes removed, options applied, copies are deep");
  g_assert_cmpstr (a->host, ==, "::1");
  g_assert_cmpuint (a->port, ==, 80);
  g_assert_cmpint (a->backlog, ==, 7);
  g_assert_cmpstr (b->host, ==, "h");
  g_assert_cmpfloat (b->timeout, ==, 1.5);
  g_assert_cmpint (c->systemd_index, ==, 3);
  copy = braid_endpoint_copy (a);
  g_assert_true (copy->host != a->host);
  g_assert_cmpstr (copy->host, ==, "::1");
  g_assert_cmpint (d->kind, ==, BRAID_ENDPOINT_KIND_TLS);
  g_assert_cmpstr (d->certificate, ==, "c.pem");
  g_assert_cmpstr (d->key, ==, "k.pem");
  g_assert_null (d->host);
  g_assert_cmpint (d->backlog, ==, 3);
  g_assert_cmpint (e->kind, ==, BRAID_ENDPOINT_KIND_TLS);
  g_assert_cmpstr (e->host, ==, "localhost");
  g_assert_cmpuint (e->port, ==, 99);
  g_assert_cmpstr (e->ca, ==, "ca.pem");
  g_assert_cmpfloat (e->timeout, ==, 2);
  tls_copy = braid_endpoint_copy (d);
  g_assert_true (tls_copy->certificate != d->certificate);
  g_assert_cmpstr (tls_copy->key, ==, "k.pem");
}

static void
test_split_list (void)
{
  g_auto(GStrv) parts = braid_endpoint_split_list ("tcp:a:1,tcp:b:2,,unix:/x\\,y");

  g_test_summary ("Comma-separated endpoint lists split on unescaped commas");
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  g_assert_cmpstr (parts[0], ==, "tcp:a:1");
  g_assert_cmpstr (parts[1], ==, "tcp:b:2");
  g_assert_cmpstr (parts[2], ==, "unix:/x\\,y");
}

static void
test_systemd_fds (void)
{
  static const struct {
    const gchar *endpoint;
    const gchar *env[4];
    gint fd;                /* -1: an error */
  } systemd_cases[] = {
    { "systemd:0", { "LISTEN_PID=100", "LISTEN_FDS=1", NULL }, 3 },
    { "systemd:1", { "LISTEN_PID=100", "LISTEN_FDS=2", NULL }, 4 },
    { "systemd:2", { "LISTEN_PID=100", "LISTEN_FDS=2", NULL }, -1 },
    { "systemd:0", { "LISTEN_PID=101", "LISTEN_FDS=1", NULL }, -1 },   /* another process's */
    { "systemd:0", { "LISTEN_FDS=1", NULL }, -1 },
    { "systemd:0", { "LISTEN_PID=100", "LISTEN_FDS=0", NULL }, -1 },
    { "systemd:0", { "LISTEN_PID=100", "LISTEN_FDS=x", NULL }, -1 },
    { "systemd:name=b", { "LISTEN_PID=100", "LISTEN_FDS=2", "LISTEN_FDNAMES=a:b" }, 4 },
    { "systemd:name=a", { "LISTEN_PID=100", "LISTEN_FDS=2", "LISTEN_FDNAMES=a:b" }, 3 },
    { "systemd:name=c", { "LISTEN_PID=100", "LISTEN_FDS=2", "LISTEN_FDNAMES=a:b" }, -1 },
    { "systemd:name=b", { "LISTEN_PID=100", "LISTEN_FDS=1", "LISTEN_FDNAMES=a:b" }, -1 },  /* named past LISTEN_FDS */
  };

  g_test_summary ("systemd: endpoints find their fd by sd_listen_fds(3) rules: LISTEN_PID must be ours, "
                  "fds count from 3, names come from LISTEN_FDNAMES");
  for (gsize i = 0; i < G_N_ELEMENTS (systemd_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(BraidEndpoint) ep = braid_endpoint_parse (systemd_cases[i].endpoint, BRAID_ENDPOINT_ROLE_SERVER, &error);
      gint fd = -1;
      gboolean ok;

      g_assert_no_error (error);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, systemd_cases[i].endpoint);
      ok = braid_endpoint_find_systemd_fd (ep, systemd_cases[i].env, 100, &fd, &error);
      if (systemd_cases[i].fd < 0)
        {
          g_assert_false (ok);
          g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (fd, ==, systemd_cases[i].fd);
        }
    }
}

static void
test_systemd_fd_preconditions (void)
{
  static const gchar * const env[] = { "LISTEN_PID=100", "LISTEN_FDS=1", NULL };
  g_autoptr(BraidEndpoint) tcp = braid_endpoint_parse ("tcp:80", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) systemd = braid_endpoint_parse ("systemd:0", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(GError) already = g_error_new_literal (BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED, "x");
  gint fd = -1;

  g_test_summary ("Finding a systemd fd refuses, each with its own critical, an endpoint of another kind, "
                  "no place for the fd, and an error already set; the fd is left alone");
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*endpoint->kind == BRAID_ENDPOINT_KIND_SYSTEMD*");
  g_assert_false (braid_endpoint_find_systemd_fd (tcp, env, 100, &fd, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*out_fd != NULL*");
  g_assert_false (braid_endpoint_find_systemd_fd (systemd, env, 100, NULL, NULL));
  g_test_assert_expected_messages ();
  g_test_expect_message ("braid", G_LOG_LEVEL_CRITICAL, "*error == NULL || *error == NULL*");
  g_assert_false (braid_endpoint_find_systemd_fd (systemd, env, 100, &fd, &already));
  g_test_assert_expected_messages ();
  g_assert_cmpint (fd, ==, -1);
  g_assert_cmpstr (already->message, ==, "x");
}

static void
test_systemd_fd_names (void)
{
  static const gchar * const no_names[] = { "LISTEN_PID=100", "LISTEN_FDS=2", NULL };
  static const gchar * const more_names[] = { "LISTEN_PID=100", "LISTEN_FDS=1", "LISTEN_FDNAMES=a:b:c", NULL };
  g_autoptr(BraidEndpoint) named = braid_endpoint_parse ("systemd:name=a", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) third = braid_endpoint_parse ("systemd:name=c", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(GError) error = NULL;
  gint fd = -1;

  g_test_summary ("A named systemd socket with no LISTEN_FDNAMES, or named past LISTEN_FDS, fails with "
                  "LISTEN_FAILED, naming the name and the names passed");
  g_assert_false (braid_endpoint_find_systemd_fd (named, no_names, 100, &fd, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_assert_cmpstr (error->message, ==, "Endpoint “systemd:name=a”: systemd passed no socket named “a” "
                                       "(LISTEN_FDNAMES=)");
  g_clear_error (&error);
  g_assert_true (braid_endpoint_find_systemd_fd (named, more_names, 100, &fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (fd, ==, 3);
  fd = -1;
  g_assert_false (braid_endpoint_find_systemd_fd (third, more_names, 100, &fd, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_assert_cmpint (fd, ==, -1);
}

static void
test_systemd_fd_errors (void)
{
  static const gchar * const other_pid[] = { "LISTEN_PID=1000", "LISTEN_FDS=1", NULL };
  static const gchar * const too_many[] = { "LISTEN_PID=100", "LISTEN_FDS=1025", NULL };
  static const gchar * const most[] = { "LISTEN_PID=100", "LISTEN_FDS=1024", NULL };
  g_autoptr(BraidEndpoint) first = braid_endpoint_parse ("systemd:0", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) last = braid_endpoint_parse ("systemd:1023", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) past = braid_endpoint_parse ("systemd:1", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  static const gchar * const one[] = { "LISTEN_PID=100", "LISTEN_FDS=1", NULL };
  g_autoptr(GError) error = NULL;
  gint fd = -1;

  g_test_summary ("LISTEN_PID is read in decimal and must be ours; LISTEN_FDS counts at most 1024; the "
                  "messages say which rule failed");
  g_assert_false (braid_endpoint_find_systemd_fd (first, other_pid, 100, &fd, &error));
  g_assert_cmpstr (error->message, ==, "Endpoint “systemd:0”: no sockets were passed by systemd "
                                       "(LISTEN_PID/LISTEN_FDS unset or for another process)");
  g_clear_error (&error);
  g_assert_true (braid_endpoint_find_systemd_fd (first, other_pid, 1000, &fd, &error));
  g_assert_cmpint (fd, ==, 3);
  g_assert_false (braid_endpoint_find_systemd_fd (first, too_many, 100, &fd, &error));
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED);
  g_clear_error (&error);
  g_assert_true (braid_endpoint_find_systemd_fd (last, most, 100, &fd, &error));
  g_assert_cmpint (fd, ==, 3 + 1023);
  g_assert_false (braid_endpoint_find_systemd_fd (past, one, 100, &fd, &error));
  g_assert_cmpstr (error->message, ==, "Endpoint “systemd:1”: systemd passed only 1 socket(s)");
}

/* sockaddr_un.sun_path holds 108 bytes, its terminating NUL included. */
static void
test_unix_path_length (void)
{
  g_autofree gchar *longest = g_strnfill (107, 'p');
  g_autofree gchar *too_long = g_strnfill (108, 'p');
  g_autofree gchar *longest_ep = g_strconcat ("unix:", longest, NULL);
  g_autofree gchar *too_long_ep = g_strconcat ("unix:", too_long, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidEndpoint) fits = NULL;
  g_autoptr(BraidEndpoint) refused = NULL;

  g_test_summary ("A unix socket path of 107 bytes is accepted, one of 108 refused: sun_path needs its NUL");
  fits = braid_endpoint_parse (longest_ep, BRAID_ENDPOINT_ROLE_SERVER, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fits->path, ==, longest);
  refused = braid_endpoint_parse (too_long_ep, BRAID_ENDPOINT_ROLE_SERVER, &error);
  g_assert_null (refused);
  g_assert_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT);
  g_assert_nonnull (strstr (error->message, "socket path is longer than 107 bytes"));
}

static void
test_defaults (void)
{
  g_autoptr(BraidEndpoint) named = braid_endpoint_parse ("systemd:name=mc", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) tcp = braid_endpoint_parse ("tcp:80", BRAID_ENDPOINT_ROLE_SERVER, NULL);
  g_autoptr(BraidEndpoint) path = braid_endpoint_parse ("unix:/x", BRAID_ENDPOINT_ROLE_SERVER, NULL);

  g_test_summary ("Fields not given keep their documented defaults: systemd index -1 when named, "
                  "backlog -1, mode 0");
  g_assert_cmpstr (named->systemd_name, ==, "mc");
  g_assert_cmpint (named->systemd_index, ==, -1);
  g_assert_cmpint (tcp->systemd_index, ==, -1);
  g_assert_cmpint (tcp->backlog, ==, -1);
  g_assert_cmpint (path->backlog, ==, -1);
  g_assert_cmpuint (path->mode, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/endpoint/table", test_table);
  g_test_add_func ("/endpoint/fields", test_fields);
  g_test_add_func ("/endpoint/split-list", test_split_list);
  g_test_add_func ("/endpoint/systemd-fds", test_systemd_fds);
  g_test_add_func ("/endpoint/systemd-fd-preconditions", test_systemd_fd_preconditions);
  g_test_add_func ("/endpoint/systemd-fd-names", test_systemd_fd_names);
  g_test_add_func ("/endpoint/systemd-fd-errors", test_systemd_fd_errors);
  g_test_add_func ("/endpoint/unix-path-length", test_unix_path_length);
  g_test_add_func ("/endpoint/defaults", test_defaults);
  return g_test_run ();
}
