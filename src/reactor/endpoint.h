/* braid — endpoint strings, in the style of Twisted's strports. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BRAID_ENDPOINT_KIND_TCP,
  BRAID_ENDPOINT_KIND_UNIX,
  BRAID_ENDPOINT_KIND_SYSTEMD,
  BRAID_ENDPOINT_KIND_TLS,
} BraidEndpointKind;

typedef enum {
  BRAID_ENDPOINT_ROLE_SERVER,
  BRAID_ENDPOINT_ROLE_CLIENT,
} BraidEndpointRole;

/**
 * BraidEndpoint:
 *
 * A parsed endpoint description.
 *
 * Server forms:
 *   `tcp:PORT`, `tcp:PORT:interface=ADDR`, `tcp:port=PORT:interface=ADDR`,
 *   optional `:backlog=N`;
 *   `unix:PATH` (optional `:mode=0660`);
 *   `systemd:N` (the N-th socket passed by systemd, from 0) or
 *   `systemd:name=NAME` (matched against `LISTEN_FDNAMES`);
 *   `tls:PORT:certificate=FILE[:key=FILE]`, with `interface=` and
 *   `backlog=` as for tcp: TCP whose connections are wrapped in TLS
 *   (glib-networking).  FILE is PEM; key= may be left out when the
 *   certificate file holds the private key too.
 * Client forms:
 *   `tcp:HOST:PORT`, `tcp:host=HOST:port=PORT` (optional `:timeout=SECONDS`);
 *   `unix:PATH`;
 *   `tls:HOST:PORT` (optional `:ca=FILE`, `:timeout=SECONDS`): TCP, then a
 *   TLS handshake that checks the server's certificate against HOST and
 *   the CA certificates in FILE (PEM), or the system's trust store
 *   without ca=.  The timeout covers the connect and the handshake.
 *
 * A literal `:` or `\` in a value is written `\:` / `\\` (so IPv6 addresses
 * are `tcp:8000:interface=\:\:1`).
 */
typedef struct {
  BraidEndpointKind kind;
  BraidEndpointRole role;
  gchar *host;           /* (owned) (nullable): client host, or server interface */
  guint16 port;          /* tcp; 0 for a server means "any free port" */
  gchar *path;           /* (owned) (nullable): unix socket path */
  gint systemd_index;    /* systemd:N, or -1 when given by name */
  gchar *systemd_name;   /* (owned) (nullable): systemd:name=NAME */
  gint backlog;          /* server listen backlog, or -1 for the default */
  guint mode;            /* unix socket permissions, or 0 for the default */
  gdouble timeout;       /* client connect timeout in seconds, 0 for none */
  gchar *certificate;    /* (owned) (nullable): tls server certificate file */
  gchar *key;            /* (owned) (nullable): tls server key file */
  gchar *ca;             /* (owned) (nullable): tls client trust anchors */
  gchar *description;    /* (owned): the normalised endpoint string */
} BraidEndpoint;

BraidEndpoint *braid_endpoint_parse (const gchar *description,
                                     BraidEndpointRole role,
                                     GError **error);
BraidEndpoint *braid_endpoint_copy (const BraidEndpoint *endpoint);
void braid_endpoint_free (BraidEndpoint *endpoint);
const gchar *braid_endpoint_to_string (const BraidEndpoint *endpoint);

/* Splits a comma-separated list ("a,b,c") of endpoint strings, honouring
 * backslash escapes. */
gchar **braid_endpoint_split_list (const gchar *list);

/* For a systemd: endpoint, the fd that systemd passed to process @pid
 * according to @environment (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, as
 * sd_listen_fds(3) reads them).  Errors: BRAID_REACTOR_ERROR_LISTEN_FAILED
 * when nothing was passed to @pid or no fd matches the endpoint.  The fd
 * is not checked, and the environment is not changed. */
gboolean braid_endpoint_find_systemd_fd (const BraidEndpoint *endpoint,
                                         const gchar * const *environment,
                                         GPid pid,
                                         gint *out_fd,
                                         GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidEndpoint, braid_endpoint_free)

G_END_DECLS
