/* braid — tls: endpoints on the GLib reactor.
 *
 * Listening: TCP sockets with an accept loop like the reactor's own; each
 * accepted connection is wrapped in a GTlsServerConnection, handshakes
 * asynchronously under a deadline, and only then gets a protocol on a
 * BraidTlsTransport.  A failed or late handshake closes the connection
 * and is logged at debug level.
 *
 * Connecting: GSocketClient to HOST:PORT, then a GTlsClientConnection for
 * HOST whose trust anchors are the endpoint's ca= file (or the system's),
 * then the protocol on a BraidTlsTransport.
 *
 * The reactor does not know these connections: a registry kept on it
 * (object data, plus a weak reference) aborts them and cancels pending
 * handshakes when the reactor is disposed, as the reactor does for its
 * own. */
#include "tls-transport-private.h"
#include "reactor-error.h"

#include <errno.h>

#define DEFAULT_BACKLOG 1024
#define ACCEPT_PAUSE_MS 100
#define ACCEPTS_PER_WAKEUP 1024

static guint handshake_timeout_ms = 0;

void
braid_tls_set_handshake_timeout (guint timeout_ms)
{
  handshake_timeout_ms = timeout_ms;
}

static guint
get_handshake_timeout_ms (void)
{
  return handshake_timeout_ms != 0 ? handshake_timeout_ms : BRAID_TLS_HANDSHAKE_TIMEOUT_MS;
}

/* ---- the per-reactor registry ---- */

typedef struct {
  GMainContext *context;     /* (owned) */
  gboolean disposed;         /* the reactor is gone */
  GHashTable *transports;    /* (element-type BraidTlsTransport) (owned) set */
  GHashTable *handshakes;    /* (element-type GCancellable) (unowned) set */
  guint64 n_handshake_failures;  /* server side, all listeners */
} Registry;

static Registry *
registry_ref (Registry *registry)
{
  return g_atomic_rc_box_acquire (registry);
}

static void
registry_clear (gpointer data)
{
  Registry *registry = data;

  g_hash_table_unref (registry->transports);
  g_hash_table_unref (registry->handshakes);
  g_main_context_unref (registry->context);
}

static void
registry_unref (Registry *registry)
{
  g_atomic_rc_box_release_full (registry, registry_clear);
}

static void
on_reactor_disposed (gpointer data, GObject *where_the_reactor_was)
{
  Registry *registry = data;
  g_autoptr(GPtrArray) transports = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  registry->disposed = TRUE;
  g_hash_table_iter_init (&iter, registry->handshakes);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_cancellable_cancel (key);
  /* Connections do not outlive their reactor: abort them.  Their
   * protocols hear connection_lost when the context runs again. */
  g_hash_table_iter_init (&iter, registry->transports);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (transports, g_object_ref (key));
  g_hash_table_remove_all (registry->transports);
  for (guint i = 0; i < transports->len; i++)
    braid_transport_abort_connection (g_ptr_array_index (transports, i));
}

/* (transfer none): lives as long as the reactor object. */
static Registry *
get_registry (GObject *reactor, GMainContext *context)
{
  Registry *registry = g_object_get_data (G_OBJECT (reactor), "braid-tls-registry");

  if (registry != NULL)
    return registry;
  registry = g_atomic_rc_box_new0 (Registry);
  registry->context = g_main_context_ref (context);
  registry->transports = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  registry->handshakes = g_hash_table_new (NULL, NULL);
  g_object_set_data_full (G_OBJECT (reactor), "braid-tls-registry", registry,
                          (GDestroyNotify) registry_unref);
  g_object_weak_ref (G_OBJECT (reactor), on_reactor_disposed, registry);
  return registry;
}

guint64
braid_tls_get_n_handshake_failures (GObject *reactor)
{
  Registry *registry = g_object_get_data (reactor, "braid-tls-registry");

  return registry != NULL ? registry->n_handshake_failures : 0;
}

/* ---- a handshake under a deadline ---- */

typedef void (*HandshakeDoneFunc) (GTlsConnection *tls, const GError *error, gpointer user_data);

typedef struct {
  Registry *registry;              /* (owned) */
  GTlsConnection *tls;             /* (owned) */
  GCancellable *cancellable;       /* (owned) */
  GSource *timeout;                /* (owned) (nullable) */
  gulong outer_handler;            /* on @outer, or 0 */
  GCancellable *outer;             /* (owned) (nullable): the caller's */
  gboolean timed_out;
  HandshakeDoneFunc done;
  gpointer done_data;
} Handshake;

static void
handshake_free (Handshake *hs)
{
  g_hash_table_remove (hs->registry->handshakes, hs->cancellable);
  if (hs->timeout != NULL)
    {
      g_source_destroy (hs->timeout);
      g_source_unref (hs->timeout);
    }
  if (hs->outer != NULL)
    g_cancellable_disconnect (hs->outer, hs->outer_handler);
  g_clear_object (&hs->outer);
  g_object_unref (hs->cancellable);
  g_object_unref (hs->tls);
  registry_unref (hs->registry);
  g_free (hs);
}

static gboolean
on_handshake_timeout (gpointer data)
{
  Handshake *hs = data;

  g_clear_pointer (&hs->timeout, g_source_unref);
  hs->timed_out = TRUE;
  g_cancellable_cancel (hs->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_outer_cancelled (GCancellable *outer, gpointer data)
{
  g_cancellable_cancel (data);
}

static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Handshake *hs = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      if (hs->timed_out)
        {
          g_clear_error (&error);
          g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "TLS handshake did not finish in %u ms", get_handshake_timeout_ms ());
        }
      else if (g_object_get_data (G_OBJECT (hs->tls), "braid-tls-problem") != NULL)
        {
          g_autofree gchar *message = g_strdup_printf ("%s (%s)", error->message,
                                                       (const gchar *) g_object_get_data (G_OBJECT (hs->tls),
                                                                                          "braid-tls-problem"));

          g_free (error->message);
          error->message = g_steal_pointer (&message);
        }
    }
  else if (hs->registry->disposed)
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The reactor was disposed");
  hs->done (hs->tls, error, hs->done_data);
  handshake_free (hs);
}

static void
start_handshake (Registry *registry, GTlsConnection *tls, guint timeout_ms,
                 GCancellable *outer, HandshakeDoneFunc done, gpointer done_data)
{
  Handshake *hs = g_new0 (Handshake, 1);

  hs->registry = registry_ref (registry);
  hs->tls = g_object_ref (tls);
  hs->cancellable = g_cancellable_new ();
  hs->done = done;
  hs->done_data = done_data;
  g_hash_table_add (registry->handshakes, hs->cancellable);
  if (outer != NULL)
    {
      hs->outer = g_object_ref (outer);
      hs->outer_handler = g_cancellable_connect (outer, G_CALLBACK (on_outer_cancelled),
                                                 hs->cancellable, NULL);
    }
  hs->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (hs->timeout, on_handshake_timeout, hs, NULL);
  g_source_set_static_name (hs->timeout, "braid tls handshake timeout");
  g_source_attach (hs->timeout, registry->context);

  g_main_context_push_thread_default (registry->context);
  g_tls_connection_handshake_async (tls, G_PRIORITY_DEFAULT, hs->cancellable,
                                    on_handshake_done, hs);
  g_main_context_pop_thread_default (registry->context);
}

/* ---- the transport, once the handshake is done ---- */

typedef struct {
  Registry *registry;   /* (owned) */
  GWeakRef listener;    /* BraidTlsListener, to count connections */
} Closed;

static void on_transport_closed (BraidTlsTransport *transport, gpointer user_data);

/* Builds the protocol and starts the transport.  Returns the protocol
 * (transfer full) or NULL if the factory refused the connection. */
static BraidProtocol *
adopt (Registry *registry, GTlsConnection *tls, GSocketConnection *base,
       BraidProtocolFactory *factory, Closed *closed)
{
  g_autoptr(BraidTlsTransport) transport = braid_tls_transport_new (tls, base, registry->context);
  BraidProtocol *protocol = braid_protocol_factory_build_protocol (
    factory, braid_transport_get_peer_address (BRAID_TRANSPORT (transport)));

  if (protocol == NULL)
    {
      g_io_stream_close (G_IO_STREAM (base), NULL, NULL);
      return NULL;
    }
  g_hash_table_add (registry->transports, g_object_ref (transport));
  braid_tls_transport_set_closed_func (transport, on_transport_closed, closed);
  braid_tls_transport_start (transport, protocol);
  return protocol;
}

/* ---- listening ---- */

#define BRAID_TYPE_TLS_LISTENER (braid_tls_listener_get_type ())
G_DECLARE_FINAL_TYPE (BraidTlsListener, braid_tls_listener, BRAID, TLS_LISTENER, BraidListener)

struct _BraidTlsListener
{
  BraidListener parent_instance;

  Registry *registry;               /* (owned) */
  BraidProtocolFactory *factory;    /* (owned) */
  GTlsCertificate *certificate;     /* (owned) */
  gint backlog;
  GPtrArray *sockets;               /* (element-type GSocket) (owned): listening */
  GPtrArray *sources;               /* (element-type GSource) (owned): empty while paused */
  GSource *resume_source;           /* (owned) (nullable): while paused */
  GSocketAddress *address;          /* (owned) (nullable) */
  guint n_connections;              /* handshaking or open */
  guint64 n_handshake_failures;
};

G_DEFINE_FINAL_TYPE (BraidTlsListener, braid_tls_listener, BRAID_TYPE_LISTENER)

static void
closed_free (Closed *closed)
{
  g_weak_ref_clear (&closed->listener);
  registry_unref (closed->registry);
  g_free (closed);
}

static Closed *
closed_new (Registry *registry, BraidTlsListener *listener)
{
  Closed *closed = g_new0 (Closed, 1);

  closed->registry = registry_ref (registry);
  g_weak_ref_init (&closed->listener, listener);
  return closed;
}

static void
connection_gone (Closed *closed)
{
  g_autoptr(BraidTlsListener) listener = g_weak_ref_get (&closed->listener);

  if (listener != NULL && listener->n_connections > 0)
    listener->n_connections--;
}

static void
on_transport_closed (BraidTlsTransport *transport, gpointer user_data)
{
  Closed *closed = user_data;

  connection_gone (closed);
  g_object_ref (transport);
  braid_tls_transport_set_closed_func (transport, NULL, NULL);
  g_hash_table_remove (closed->registry->transports, transport);
  closed_free (closed);
  g_object_unref (transport);
}

static void
stop_accepting (BraidTlsListener *self)
{
  for (guint i = 0; i < self->sources->len; i++)
    g_source_destroy (g_ptr_array_index (self->sources, i));
  g_ptr_array_set_size (self->sources, 0);
}

static void
tls_listener_stop (BraidListener *listener)
{
  BraidTlsListener *self = BRAID_TLS_LISTENER (listener);

  stop_accepting (self);
  if (self->resume_source != NULL)
    {
      g_source_destroy (self->resume_source);
      g_clear_pointer (&self->resume_source, g_source_unref);
    }
  for (guint i = 0; i < self->sockets->len; i++)
    g_socket_close (g_ptr_array_index (self->sockets, i), NULL);
  g_ptr_array_set_size (self->sockets, 0);
}

static GSocketAddress *
tls_listener_get_address (BraidListener *listener)
{
  return BRAID_TLS_LISTENER (listener)->address;
}

static guint
tls_listener_get_n_connections (BraidListener *listener)
{
  return BRAID_TLS_LISTENER (listener)->n_connections;
}

static void
braid_tls_listener_dispose (GObject *object)
{
  BraidTlsListener *self = BRAID_TLS_LISTENER (object);

  braid_listener_stop (BRAID_LISTENER (self));
  g_clear_object (&self->factory);
  g_clear_object (&self->certificate);
  G_OBJECT_CLASS (braid_tls_listener_parent_class)->dispose (object);
}

static void
braid_tls_listener_finalize (GObject *object)
{
  BraidTlsListener *self = BRAID_TLS_LISTENER (object);

  g_ptr_array_unref (self->sources);
  g_ptr_array_unref (self->sockets);
  g_clear_object (&self->address);
  g_clear_pointer (&self->registry, registry_unref);
  G_OBJECT_CLASS (braid_tls_listener_parent_class)->finalize (object);
}

static void
braid_tls_listener_class_init (BraidTlsListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  BraidListenerClass *listener_class = BRAID_LISTENER_CLASS (klass);

  object_class->dispose = braid_tls_listener_dispose;
  object_class->finalize = braid_tls_listener_finalize;
  listener_class->stop = tls_listener_stop;
  listener_class->get_address = tls_listener_get_address;
  listener_class->get_n_connections = tls_listener_get_n_connections;
}

static void
braid_tls_listener_init (BraidTlsListener *self)
{
  self->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
}

typedef struct {
  GSocketConnection *base;          /* (owned) */
  BraidProtocolFactory *factory;    /* (owned) */
  Closed *closed;                   /* (owned) until adopted */
} Accepted;

static void
on_server_handshake_done (GTlsConnection *tls, const GError *error, gpointer user_data)
{
  Accepted *accepted = user_data;
  Registry *registry = accepted->closed->registry;
  g_autoptr(BraidProtocol) protocol = NULL;

  if (error != NULL)
    {
      g_autoptr(BraidTlsListener) listener = g_weak_ref_get (&accepted->closed->listener);
      g_autoptr(GSocketAddress) peer = g_socket_connection_get_remote_address (accepted->base, NULL);
      g_autofree gchar *peer_text = peer != NULL ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (peer))
                                                 : g_strdup ("?");

      g_debug ("TLS handshake with %s failed: %s", peer_text, error->message);
      if (listener != NULL)
        listener->n_handshake_failures++;
      registry->n_handshake_failures++;
      g_io_stream_close (G_IO_STREAM (accepted->base), NULL, NULL);
      connection_gone (accepted->closed);
      closed_free (accepted->closed);
    }
  else
    {
      protocol = adopt (registry, tls, accepted->base, accepted->factory, accepted->closed);
      if (protocol == NULL)
        {
          connection_gone (accepted->closed);
          closed_free (accepted->closed);
        }
    }
  g_object_unref (accepted->base);
  g_object_unref (accepted->factory);
  g_free (accepted);
}

static void
adopt_accepted (BraidTlsListener *self, GSocket *socket)
{
  g_autoptr(GSocketConnection) base = g_socket_connection_factory_create_connection (socket);
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) tls = NULL;
  Accepted *accepted;

  tls = g_tls_server_connection_new (G_IO_STREAM (base), self->certificate, &error);
  if (tls == NULL)
    {
      g_debug ("Cannot start TLS: %s", error->message);
      g_io_stream_close (G_IO_STREAM (base), NULL, NULL);
      return;
    }
  accepted = g_new0 (Accepted, 1);
  accepted->base = g_steal_pointer (&base);
  accepted->factory = g_object_ref (self->factory);
  accepted->closed = closed_new (self->registry, self);
  self->n_connections++;
  start_handshake (self->registry, G_TLS_CONNECTION (tls), get_handshake_timeout_ms (),
                   NULL, on_server_handshake_done, accepted);
}

static void start_accepting (BraidTlsListener *self);

static gboolean
on_resume (gpointer data)
{
  BraidTlsListener *self = data;

  g_clear_pointer (&self->resume_source, g_source_unref);
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_acceptable (GSocket *listening, GIOCondition condition, gpointer data)
{
  BraidTlsListener *self = data;
  g_autoptr(BraidTlsListener) keep = g_object_ref (self);

  for (guint n = 0; n < ACCEPTS_PER_WAKEUP && self->sources->len > 0; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = g_socket_accept (listening, NULL, &error);

      if (socket != NULL)
        {
          adopt_accepted (self, socket);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        {
          /* Leave the connections in the backlog for a moment instead of
           * failing to accept them over and over. */
          g_warning ("Not accepting TLS connections for %d ms: %s", ACCEPT_PAUSE_MS, error->message);
          stop_accepting (self);
          self->resume_source = g_timeout_source_new (ACCEPT_PAUSE_MS);
          g_source_set_callback (self->resume_source, on_resume, self, NULL);
          g_source_set_static_name (self->resume_source, "braid tls accept pause");
          g_source_attach (self->resume_source, self->registry->context);
          break;
        }
      g_debug ("accept failed: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
}

static void
start_accepting (BraidTlsListener *self)
{
  for (guint i = 0; i < self->sockets->len; i++)
    {
      GSource *source = g_socket_create_source (g_ptr_array_index (self->sockets, i), G_IO_IN, NULL);

      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_acceptable, self, NULL);
      g_source_set_static_name (source, "braid tls accept");
      g_source_attach (source, self->registry->context);
      g_ptr_array_add (self->sources, source);
    }
}

static gboolean
add_listening_socket (BraidTlsListener *self, GSocketAddress *address, GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, self->backlog);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  self->address = g_socket_get_local_address (socket, error);
  if (self->address == NULL)
    return FALSE;
  g_ptr_array_add (self->sockets, g_steal_pointer (&socket));
  return TRUE;
}

static gboolean
add_tcp (BraidTlsListener *self, const BraidEndpoint *endpoint, GError **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  if (endpoint->host == NULL)
    {
      /* Every interface: one IPv6 socket that takes IPv4 too, or IPv4
       * alone where there is no IPv6 (as the reactor's tcp:). */
      g_autoptr(GError) v6_error = NULL;
      g_autoptr(GInetAddress) v4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) v4_address = g_inet_socket_address_new (v4, endpoint->port);

      inet = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      address = g_inet_socket_address_new (inet, endpoint->port);
      if (add_listening_socket (self, address, &v6_error))
        return TRUE;
      g_debug ("no IPv6 listener (%s); IPv4 only", v6_error->message);
      return add_listening_socket (self, v4_address, error);
    }
  if (g_str_equal (endpoint->host, "localhost"))
    inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    inet = g_inet_address_new_from_string (endpoint->host);
  if (inet == NULL)
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT,
                   "Interface “%s” is not an IP address", endpoint->host);
      return FALSE;
    }
  address = g_inet_socket_address_new (inet, endpoint->port);
  return add_listening_socket (self, address, error);
}

static gboolean
check_tls_backend (const gchar *description, gint code, GError **error)
{
  if (g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    return TRUE;
  g_set_error (error, BRAID_REACTOR_ERROR, code,
               "Cannot use “%s”: GIO has no TLS backend (is glib-networking installed?)",
               description);
  return FALSE;
}

BraidListener *
braid_tls_listen (GObject *reactor,
                  GMainContext *context,
                  const BraidEndpoint *endpoint,
                  BraidProtocolFactory *factory,
                  GError **error)
{
  g_autoptr(BraidTlsListener) listener = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (endpoint->kind == BRAID_ENDPOINT_KIND_TLS, NULL);

  if (!check_tls_backend (endpoint->description, BRAID_REACTOR_ERROR_NOT_SUPPORTED, error))
    return NULL;
  listener = g_object_new (BRAID_TYPE_TLS_LISTENER, NULL);
  listener->registry = registry_ref (get_registry (reactor, context));
  listener->factory = g_object_ref (factory);
  listener->backlog = endpoint->backlog > 0 ? endpoint->backlog : DEFAULT_BACKLOG;
  if (endpoint->key != NULL)
    listener->certificate = g_tls_certificate_new_from_files (endpoint->certificate, endpoint->key,
                                                              &local_error);
  else
    listener->certificate = g_tls_certificate_new_from_file (endpoint->certificate, &local_error);
  if (listener->certificate != NULL)
    {
      g_autofree gchar *key_pem = NULL;
      g_autoptr(GByteArray) key_der = NULL;

      g_object_get (listener->certificate, "private-key-pem", &key_pem, "private-key", &key_der, NULL);
      if (key_pem == NULL && key_der == NULL)
        {
          g_set_error (&local_error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                       "“%s” holds no private key (give key=FILE)", endpoint->certificate);
          g_clear_object (&listener->certificate);
        }
    }
  if (listener->certificate == NULL)
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
                   "Cannot listen on “%s”: cannot load the certificate: %s",
                   endpoint->description, local_error->message);
      return NULL;
    }
  if (!add_tcp (listener, endpoint, &local_error))
    {
      braid_listener_stop (BRAID_LISTENER (listener));
      if (local_error->domain == BRAID_REACTOR_ERROR)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_LISTEN_FAILED,
                     "Cannot listen on “%s”: %s", endpoint->description, local_error->message);
      return NULL;
    }
  start_accepting (listener);
  return BRAID_LISTENER (g_steal_pointer (&listener));
}

/* ---- connecting ---- */

typedef struct {
  Registry *registry;              /* (owned) */
  BraidProtocolFactory *factory;   /* (owned) */
  BraidEndpoint *endpoint;         /* (owned) */
  GSocketConnection *base;         /* (owned) (nullable): once connected */
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  registry_unref (data->registry);
  g_object_unref (data->factory);
  braid_endpoint_free (data->endpoint);
  g_clear_object (&data->base);
  g_free (data);
}

/* Notes why a certificate was refused, for the error message. */
static gboolean
on_accept_certificate (GTlsConnection *tls, GTlsCertificate *peer_cert,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  GString *problem = g_string_new ("certificate ");
  static const struct {
    GTlsCertificateFlags flag;
    const gchar *text;
  } reasons[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, "not signed by a trusted CA" },
    { G_TLS_CERTIFICATE_BAD_IDENTITY, "not for this host" },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not yet valid" },
    { G_TLS_CERTIFICATE_EXPIRED, "expired" },
    { G_TLS_CERTIFICATE_REVOKED, "revoked" },
    { G_TLS_CERTIFICATE_INSECURE, "insecure" },
    { G_TLS_CERTIFICATE_GENERIC_ERROR, "invalid" },
  };
  gboolean first = TRUE;

  for (gsize i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (errors & reasons[i].flag)
      {
        g_string_append_printf (problem, "%s%s", first ? "" : ", ", reasons[i].text);
        first = FALSE;
      }
  if (first)
    g_string_append (problem, "rejected");
  g_object_set_data_full (G_OBJECT (tls), "braid-tls-problem", g_string_free (problem, FALSE), g_free);
  return FALSE;
}

static void
on_client_handshake_done (GTlsConnection *tls, const GError *error, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  BraidProtocol *protocol;

  g_signal_handlers_disconnect_matched (tls, G_SIGNAL_MATCH_FUNC, 0, 0, NULL,
                                        on_accept_certificate, NULL);
  if (error != NULL)
    {
      g_io_stream_close (G_IO_STREAM (data->base), NULL, NULL);
      if (g_task_return_error_if_cancelled (task))
        return;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT,
                                 "Connecting to “%s” timed out: %s", data->endpoint->description,
                                 error->message);
      else
        g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                                 "TLS handshake with “%s” failed: %s", data->endpoint->description,
                                 error->message);
      return;
    }
  protocol = adopt (data->registry, tls, data->base, data->factory, closed_new (data->registry, NULL));
  if (protocol == NULL)
    {
      g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                               "The protocol factory refused the connection to “%s”",
                               data->endpoint->description);
      return;
    }
  g_task_return_pointer (task, protocol, g_object_unref);
}

static void
on_tcp_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GIOStream) tls = NULL;
  GCancellable *cancellable;
  guint timeout_ms;

  data->base = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (data->base == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT,
                                 "Connecting to “%s” timed out", data->endpoint->description);
      else
        g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                                 "Cannot connect to “%s”: %s", data->endpoint->description,
                                 error->message);
      return;
    }

  identity = g_network_address_new (data->endpoint->host, data->endpoint->port);
  tls = g_tls_client_connection_new (G_IO_STREAM (data->base), identity, &error);
  if (tls != NULL && data->endpoint->ca != NULL)
    {
      g_autoptr(GTlsDatabase) database = g_tls_file_database_new (data->endpoint->ca, &error);

      if (database != NULL)
        g_tls_connection_set_database (G_TLS_CONNECTION (tls), database);
      else
        g_clear_object (&tls);
    }
  if (tls == NULL)
    {
      g_io_stream_close (G_IO_STREAM (data->base), NULL, NULL);
      g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                               "Cannot connect to “%s”: %s", data->endpoint->description,
                               error->message);
      return;
    }

  g_signal_connect (tls, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  timeout_ms = data->endpoint->timeout > 0 ? (guint) (data->endpoint->timeout * 1000 + 0.5)
                                           : get_handshake_timeout_ms ();
  cancellable = g_task_get_cancellable (task);
  start_handshake (data->registry, G_TLS_CONNECTION (tls), MAX (timeout_ms, 1),
                   cancellable, on_client_handshake_done, g_steal_pointer (&task));
}

void
braid_tls_connect_async (GObject *reactor,
                         GMainContext *context,
                         const BraidEndpoint *endpoint,
                         BraidProtocolFactory *factory,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GError) error = NULL;
  ConnectData *data;
  GTask *task;

  g_return_if_fail (endpoint->kind == BRAID_ENDPOINT_KIND_TLS);

  g_main_context_push_thread_default (context);
  task = g_task_new (reactor, cancellable, callback, user_data);
  g_task_set_source_tag (task, braid_tls_connect_async);
  if (!check_tls_backend (endpoint->description, BRAID_REACTOR_ERROR_NOT_SUPPORTED, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      g_main_context_pop_thread_default (context);
      return;
    }
  data = g_new0 (ConnectData, 1);
  data->registry = registry_ref (get_registry (reactor, context));
  data->factory = g_object_ref (factory);
  data->endpoint = braid_endpoint_copy (endpoint);
  g_task_set_task_data (task, data, (GDestroyNotify) connect_data_free);

  client = g_socket_client_new ();
  if (endpoint->timeout > 0)
    g_socket_client_set_timeout (client, (guint) MAX (1, endpoint->timeout + 0.5));
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_to_host_async (client, endpoint->host, endpoint->port,
                                         cancellable, on_tcp_connected, task);
  g_main_context_pop_thread_default (context);
}
