/* braid — the real reactor: a GMainContext, listening sockets with an
 * accept loop of its own, GSocketClient to connect, and one poller GSource
 * (poller.c) that watches every connection through epoll and runs the
 * delayed calls. */
#define _GNU_SOURCE  /* accept4 */
#include "glib-reactor-private.h"
#include "socket-transport-private.h"
#include "delayed-call-private.h"
#include "tsan-private.h"
#include "tls-transport-private.h"
#include "poller-private.h"

#include <gio/gunixsocketaddress.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


struct _BraidGlibReactor
{
  GObject parent_instance;

  GMainContext *context;        /* (owned) */
  BraidTimerQueue *timers;      /* (owned) */
  BraidPoller *poller;          /* (owned) */
  GHashTable *transports;       /* (element-type BraidSocketTransport) (owned) set */
  gchar **listen_env;           /* (owned) (nullable) */
  gboolean listen_env_consumed;
  GMainLoop *loop;              /* (owned) (nullable): while running */
  gboolean stop_requested;
};

static void braid_glib_reactor_iface_init (BraidReactorInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidGlibReactor, braid_glib_reactor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_REACTOR,
                                                      braid_glib_reactor_iface_init))

/* ---- clock and timers ---- */

static gint64
clock_now (gpointer data)
{
  return g_get_monotonic_time ();
}

/* ---- GObject ---- */

static void
braid_glib_reactor_dispose (GObject *object)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (object);

  if (self->transports != NULL)
    {
      GHashTableIter iter;
      gpointer transport;

      g_hash_table_iter_init (&iter, self->transports);
      /* Connections do not outlive their reactor: abort them.  Their
       * protocols hear connection_lost when the context runs again. */
      while (g_hash_table_iter_next (&iter, &transport, NULL))
        {
          braid_socket_transport_set_closed_func (transport, NULL, NULL, NULL);
          braid_transport_abort_connection (transport);
        }
      g_clear_pointer (&self->transports, g_hash_table_unref);
    }
  /* After the transports: they unregistered from it when aborted. */
  g_clear_pointer (&self->poller, braid_poller_free);
  g_clear_pointer (&self->timers, braid_timer_queue_free);
  G_OBJECT_CLASS (braid_glib_reactor_parent_class)->dispose (object);
}

static void
braid_glib_reactor_finalize (GObject *object)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (object);

  g_strfreev (self->listen_env);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (braid_glib_reactor_parent_class)->finalize (object);
}

static void
braid_glib_reactor_class_init (BraidGlibReactorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = braid_glib_reactor_dispose;
  object_class->finalize = braid_glib_reactor_finalize;
}

static void
braid_glib_reactor_init (BraidGlibReactor *self)
{
  self->timers = braid_timer_queue_new (clock_now, self);
  self->transports = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
}

BraidGlibReactor *
braid_glib_reactor_new (GMainContext *context)
{
  BraidGlibReactor *self = g_object_new (BRAID_TYPE_GLIB_REACTOR, NULL);

  self->context = context != NULL ? g_main_context_ref (context)
                                  : g_main_context_ref_thread_default ();
  self->poller = braid_poller_new (self->context, self->timers);
  return self;
}

GMainContext *
braid_glib_reactor_get_context (BraidGlibReactor *self)
{
  g_return_val_if_fail (BRAID_IS_GLIB_REACTOR (self), NULL);
  return self->context;
}

void
braid_glib_reactor_set_listen_environment (BraidGlibReactor *self,
                                           const gchar * const *envp)
{
  g_return_if_fail (BRAID_IS_GLIB_REACTOR (self));
  g_strfreev (self->listen_env);
  self->listen_env = g_strdupv ((gchar **) envp);
  self->listen_env_consumed = FALSE;
}

static gint64
reactor_now (BraidReactor *reactor)
{
  return g_get_monotonic_time ();
}

static gint64
reactor_real_time (BraidReactor *reactor)
{
  return g_get_real_time ();
}

static BraidDelayedCall *
reactor_call_later (BraidReactor *reactor,
                    gint64 delay_us,
                    BraidCallFunc func,
                    gpointer user_data,
                    GDestroyNotify destroy)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (reactor);

  return braid_timer_queue_add (self->timers, delay_us, func, user_data, destroy);
}

/* ---- connections ---- */

static void
on_transport_closed (BraidSocketTransport *transport, gpointer user_data)
{
  BraidGlibReactor *self = user_data;

  g_hash_table_remove (self->transports, transport);
}

/* Builds the protocol for a new connection and starts the transport.
 * Returns the protocol (transfer full) or NULL if the factory refused. */
static BraidProtocol *
adopt_transport (BraidGlibReactor *self,
                 BraidSocketTransport *transport,
                 BraidProtocolFactory *factory,
                 BraidTransportClosedFunc extra_closed,
                 gpointer extra_data,
                 GDestroyNotify extra_destroy)
{
  BraidProtocol *protocol;

  /* A refused connection is closed when @transport is finalized; the
   * caller keeps @extra_data then. */
  protocol = braid_protocol_factory_build_protocol (
    factory, braid_protocol_factory_get_ignores_address (factory)
               ? NULL : braid_transport_get_peer_address (BRAID_TRANSPORT (transport)));
  if (protocol == NULL)
    return NULL;
  g_hash_table_add (self->transports, g_object_ref (transport));
  if (extra_closed != NULL)
    braid_socket_transport_set_closed_func (transport, extra_closed, extra_data, extra_destroy);
  else
    braid_socket_transport_set_closed_func (transport, on_transport_closed, self, NULL);
  braid_socket_transport_start (transport, protocol);
  return protocol;
}

/* ---- listening ----
 *
 * Our own accept loop rather than GSocketService's: GSocketService retries
 * a failed accept at once, so at EMFILE it spins at 100 % CPU and logs a
 * warning per attempt.  Here each wakeup accepts until EAGAIN, and when
 * the process is out of file descriptors the listener stops accepting for
 * ACCEPT_PAUSE_MS (the pending connections wait in the kernel's backlog)
 * and says so at most once per WARNING_INTERVAL_US. */

#define DEFAULT_BACKLOG 1024
#define ACCEPT_PAUSE_MS 100
#define ACCEPTS_PER_WAKEUP 1024
#define WARNING_INTERVAL_US (10 * G_USEC_PER_SEC)

#define BRAID_TYPE_GLIB_LISTENER (braid_glib_listener_get_type ())
G_DECLARE_FINAL_TYPE (BraidGlibListener, braid_glib_listener, BRAID, GLIB_LISTENER, BraidListener)

struct _BraidGlibListener
{
  BraidListener parent_instance;

  BraidGlibReactor *reactor;        /* (owned) */
  BraidProtocolFactory *factory;    /* (owned) */
  gint backlog;
  GPtrArray *sockets;               /* (element-type GSocket) (owned): listening */
  GPtrArray *sources;               /* (element-type GSource) (owned): empty while paused */
  GSource *resume_source;           /* (owned) (nullable): while paused */
  GSocketAddress *address;          /* (owned) (nullable) */
  gchar *unix_path;                 /* (owned) (nullable): unlinked on stop */
  /* (owned) (atomic): an atomic refcounted box that each connection
   * holds too, so that a pool thread closing one after the listener is
   * gone still has a count to decrement */
  gint *n_connections;
  BraidGlibListenerTargetFunc target_func;  /* (nullable): hand connections to */
  gpointer target_data;
  gint64 last_warning_us;
  guint64 suppressed_warnings;
  guint64 n_pauses;
};

G_DEFINE_FINAL_TYPE (BraidGlibListener, braid_glib_listener, BRAID_TYPE_LISTENER)

static void
stop_accepting (BraidGlibListener *self)
{
  for (guint i = 0; i < self->sources->len; i++)
    g_source_destroy (g_ptr_array_index (self->sources, i));
  g_ptr_array_set_size (self->sources, 0);
}

static void
glib_listener_stop (BraidListener *listener)
{
  BraidGlibListener *self = BRAID_GLIB_LISTENER (listener);

  stop_accepting (self);
  if (self->resume_source != NULL)
    {
      g_source_destroy (self->resume_source);
      g_clear_pointer (&self->resume_source, g_source_unref);
    }
  for (guint i = 0; i < self->sockets->len; i++)
    g_socket_close (g_ptr_array_index (self->sockets, i), NULL);
  g_ptr_array_set_size (self->sockets, 0);
  if (self->unix_path != NULL)
    g_unlink (self->unix_path);
  g_clear_pointer (&self->unix_path, g_free);
}

static GSocketAddress *
glib_listener_get_address (BraidListener *listener)
{
  return BRAID_GLIB_LISTENER (listener)->address;
}

static guint
glib_listener_get_n_connections (BraidListener *listener)
{
  return (guint) g_atomic_int_get (BRAID_GLIB_LISTENER (listener)->n_connections);
}

static void
braid_glib_listener_dispose (GObject *object)
{
  BraidGlibListener *self = BRAID_GLIB_LISTENER (object);

  braid_listener_stop (BRAID_LISTENER (self));
  g_clear_object (&self->factory);
  g_clear_object (&self->reactor);
  G_OBJECT_CLASS (braid_glib_listener_parent_class)->dispose (object);
}

/* Drops a reference on a listener's connection count, shared by the
 * listener and its connections in several threads.  GLib's refcount is
 * not built for ThreadSanitizer, so it cannot see that the last release
 * comes after every other one's use of the count: each release says so. */
static void
connection_count_release (gint *n_connections)
{
  BRAID_TSAN_RELEASE (n_connections);
  BRAID_TSAN_ACQUIRE (n_connections);
  g_atomic_rc_box_release (n_connections);
}

static void
braid_glib_listener_finalize (GObject *object)
{
  BraidGlibListener *self = BRAID_GLIB_LISTENER (object);

  connection_count_release (self->n_connections);
  g_ptr_array_unref (self->sources);
  g_ptr_array_unref (self->sockets);
  g_clear_object (&self->address);
  g_free (self->unix_path);
  G_OBJECT_CLASS (braid_glib_listener_parent_class)->finalize (object);
}

static void
braid_glib_listener_class_init (BraidGlibListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  BraidListenerClass *listener_class = BRAID_LISTENER_CLASS (klass);

  object_class->dispose = braid_glib_listener_dispose;
  object_class->finalize = braid_glib_listener_finalize;
  listener_class->stop = glib_listener_stop;
  listener_class->get_address = glib_listener_get_address;
  listener_class->get_n_connections = glib_listener_get_n_connections;
}

static void
braid_glib_listener_init (BraidGlibListener *self)
{
  self->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  self->n_connections = g_atomic_rc_box_new0 (gint);
}

/* What an accepted connection tells when it closes, without a GObject
 * weak reference or qdata per connection: its listener's count (shared)
 * and its reactor's set of transports. */
typedef struct {
  gint *n_connections;        /* (owned): a reference on the listener's box */
  BraidGlibReactor *reactor;  /* (unowned): clears the closed func before it goes */
} AcceptedClose;

static AcceptedClose *
accepted_close_new (gint *n_connections, BraidGlibReactor *reactor)
{
  AcceptedClose *close_data = g_new (AcceptedClose, 1);

  close_data->n_connections = n_connections;
  close_data->reactor = reactor;
  return close_data;
}

static void
accepted_close_free (gpointer data)
{
  AcceptedClose *close_data = data;

  connection_count_release (close_data->n_connections);
  g_free (close_data);
}

/* A connection counted by its listener ended, or was never served. */
static void
uncount_connection (gint *n_connections)
{
  g_atomic_int_add (n_connections, -1);
}

static void
on_accepted_closed (BraidSocketTransport *transport, gpointer user_data)
{
  AcceptedClose *close_data = user_data;

  uncount_connection (close_data->n_connections);
  g_hash_table_remove (close_data->reactor->transports, transport);
}

/* What accept4() gave: the socket and its peer's address. */
typedef struct {
  gint fd;
  struct sockaddr_storage peer;
  socklen_t peer_len;
} Accepted;

/* Serves an accepted socket, @accepted, on @reactor (the listener's own,
 * or a pool thread's: this runs on @reactor's thread), which takes its fd
 * and the reference on @n_connections.  The peer's address stays in its
 * native form until somebody asks the transport for it. */
static void
adopt_on (BraidGlibReactor *reactor, BraidProtocolFactory *factory, gint *n_connections,
          const Accepted *accepted)
{
  g_autoptr(BraidSocketTransport) transport = NULL;
  g_autoptr(BraidProtocol) protocol = NULL;
  AcceptedClose *close_data = accepted_close_new (n_connections, reactor);

  /* a pool thread whose reactor was already disposed */
  if (reactor->poller == NULL)
    close (accepted->fd);
  else
    {
      transport = braid_socket_transport_new_accepted (accepted->fd, (const struct sockaddr *) &accepted->peer,
                                                       accepted->peer_len, reactor->context, reactor->poller);
      protocol = adopt_transport (reactor, transport, factory, on_accepted_closed, close_data, accepted_close_free);
    }
  if (protocol == NULL)
    {
      uncount_connection (n_connections);
      accepted_close_free (close_data);
    }
}

typedef struct {
  BraidGlibReactor *reactor;        /* (owned) */
  BraidProtocolFactory *factory;    /* (owned) */
  gint *n_connections;              /* (owned) (nullable): the listener's count, taken by adopt_on */
  Accepted accepted;                /* its fd owned until adopt_on */
} HandOff;

static void
hand_off_free (gpointer data)
{
  HandOff *hand_off = data;

  BRAID_TSAN_ACQUIRE (hand_off);
  if (hand_off->n_connections != NULL)
    {
      /* never delivered: the pool stopped first */
      close (hand_off->accepted.fd);
      uncount_connection (hand_off->n_connections);
      connection_count_release (hand_off->n_connections);
    }
  g_object_unref (hand_off->factory);
  g_object_unref (hand_off->reactor);
  g_free (hand_off);
}

static gboolean
adopt_handed_off (gpointer data)
{
  HandOff *hand_off = data;

  BRAID_TSAN_ACQUIRE (hand_off);  /* from the listener's thread, through the context */
  adopt_on (hand_off->reactor, hand_off->factory, g_steal_pointer (&hand_off->n_connections),
            &hand_off->accepted);
  return G_SOURCE_REMOVE;
}

static void
adopt_accepted (BraidGlibListener *self, const Accepted *accepted)
{
  gint *n_connections = g_atomic_rc_box_acquire (self->n_connections);

  g_atomic_int_inc (n_connections);
  if (self->target_func == NULL)
    {
      adopt_on (self->reactor, self->factory, n_connections, accepted);
      return;
    }
  {
    HandOff *hand_off = g_new0 (HandOff, 1);

    hand_off->reactor = g_object_ref (self->target_func (self->target_data));
    hand_off->factory = g_object_ref (self->factory);
    hand_off->n_connections = n_connections;
    hand_off->accepted = *accepted;
    /* One wakeup of that thread per connection: an idle source on its
     * context, run there. */
    BRAID_TSAN_RELEASE (hand_off);
    g_main_context_invoke_full (hand_off->reactor->context, G_PRIORITY_DEFAULT, adopt_handed_off, hand_off,
                                hand_off_free);
  }
}

gboolean
braid_glib_listener_set_target_func (BraidListener *listener, BraidGlibListenerTargetFunc func, gpointer data)
{
  if (!BRAID_IS_GLIB_LISTENER (listener))
    return FALSE;  /* a tls: listener: its connections stay on its reactor */
  BRAID_GLIB_LISTENER (listener)->target_func = func;
  BRAID_GLIB_LISTENER (listener)->target_data = data;
  return TRUE;
}

/* Repeated failures are logged once per interval, with a count. */
static void
warn_rate_limited (BraidGlibListener *self, const gchar *what)
{
  gint64 now = g_get_monotonic_time ();

  if (self->last_warning_us != 0 && now - self->last_warning_us < WARNING_INTERVAL_US)
    {
      self->suppressed_warnings++;
      return;
    }
  if (self->suppressed_warnings > 0)
    g_warning ("%s (and %" G_GUINT64_FORMAT " more like it in the last %d s)", what,
               self->suppressed_warnings, (int) (WARNING_INTERVAL_US / G_USEC_PER_SEC));
  else
    g_warning ("%s", what);
  self->last_warning_us = now;
  self->suppressed_warnings = 0;
}

static void start_accepting (BraidGlibListener *self);

static gboolean
on_resume (gpointer data)
{
  BraidGlibListener *self = data;

  g_clear_pointer (&self->resume_source, g_source_unref);
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

/* Out of file descriptors: leave the connections in the backlog for a
 * moment instead of failing to accept them over and over. */
static void
pause_accepting (BraidGlibListener *self, gint saved_errno)
{
  g_autofree gchar *what = g_strdup_printf ("Not accepting connections for %d ms: %s", ACCEPT_PAUSE_MS,
                                            g_strerror (saved_errno));

  self->n_pauses++;
  warn_rate_limited (self, what);
  stop_accepting (self);
  self->resume_source = g_timeout_source_new (ACCEPT_PAUSE_MS);
  g_source_set_callback (self->resume_source, on_resume, self, NULL);
  g_source_set_static_name (self->resume_source, "braid accept pause");
  g_source_attach (self->resume_source, self->reactor->context);
}

static gboolean
on_acceptable (GSocket *listening, GIOCondition condition, gpointer data)
{
  BraidGlibListener *self = data;
  g_autoptr(BraidGlibListener) keep = g_object_ref (self);

  for (guint n = 0; n < ACCEPTS_PER_WAKEUP && self->sources->len > 0; n++)
    {
      Accepted accepted;
      gint saved;

      accepted.peer_len = sizeof accepted.peer;
      accepted.fd = accept4 (g_socket_get_fd (listening), (struct sockaddr *) &accepted.peer, &accepted.peer_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (accepted.fd >= 0)
        {
          adopt_accepted (self, &accepted);
          continue;
        }
      saved = errno;
      if (saved == EAGAIN || saved == EWOULDBLOCK)
        break;
      if (saved == EMFILE || saved == ENFILE || saved == ENOBUFS || saved == ENOMEM)
        {
          pause_accepting (self, saved);
          break;
        }
      /* ECONNABORTED, EINTR and the like concern one peer, not the listener. */
      g_debug ("accept failed: %s", g_strerror (saved));
    }
  /* What the new connections' protocols queued on other connections (a
   * proxy's get to memcached) leaves now, not in the next iteration's
   * poller dispatch: one main-loop round fewer per such request.  (The
   * listening sockets stay GSources of their own: in the poller's epoll
   * set, every wakeup would cost an epoll_wait more.) */
  if (self->reactor->poller != NULL)
    braid_poller_run_deferred (self->reactor->poller);
  return G_SOURCE_CONTINUE;
}

static void
start_accepting (BraidGlibListener *self)
{
  for (guint i = 0; i < self->sockets->len; i++)
    {
      GSource *source = g_socket_create_source (g_ptr_array_index (self->sockets, i), G_IO_IN, NULL);

      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_acceptable, self, NULL);
      g_source_set_static_name (source, "braid accept");
      /* As for the poller's source: otherwise GLib removes and re-adds
       * the listening fd around each dispatch, signalling the context's
       * eventfd twice (and costing a poll round to drain it) for every
       * wakeup, that is for every connection under a one-shot protocol.
       * on_acceptable is reentrant: it only accepts until EAGAIN. */
      g_source_set_can_recurse (source, TRUE);
      g_source_attach (source, self->reactor->context);
      g_ptr_array_add (self->sources, source);
    }
}

/* Sockets accepted from @listening inherit its TCP_NODELAY (Linux), so
 * setting it once here saves a system call per connection.  A unix
 * socket has no Nagle to turn off: the call fails, harmlessly. */
static void
turn_off_nagle_for_accepted (GSocket *listening)
{
  g_socket_set_option (listening, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

/* A listening socket on @address with the listener's backlog; the bound
 * address (with the real port for port 0) in *@bound when asked. */
static gboolean
add_listening_socket (BraidGlibListener *self, GSocketAddress *address, GSocketAddress **bound, GError **error)
{
  GSocketFamily family = g_socket_address_get_family (address);
  g_autoptr(GSocket) socket = g_socket_new (family, G_SOCKET_TYPE_STREAM,
                                            family == G_SOCKET_FAMILY_UNIX ? G_SOCKET_PROTOCOL_DEFAULT
                                                                           : G_SOCKET_PROTOCOL_TCP,
                                            error);

  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, self->backlog);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;
  turn_off_nagle_for_accepted (socket);
  g_socket_set_blocking (socket, FALSE);
  if (bound != NULL)
    *bound = g_socket_get_local_address (socket, error);
  if (bound != NULL && *bound == NULL)
    return FALSE;
  g_ptr_array_add (self->sockets, g_steal_pointer (&socket));
  return TRUE;
}

static GInetAddress *
parse_interface (const gchar *host)
{
  if (g_str_equal (host, "localhost"))
    return g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  return g_inet_address_new_from_string (host);
}

static gboolean
add_tcp (BraidGlibListener *self, const BraidEndpoint *endpoint, GError **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  if (endpoint->host == NULL)
    {
      /* Every interface: one IPv6 socket that takes IPv4 too (GSocket
       * turns IPV6_V6ONLY off), or IPv4 alone where there is no IPv6. */
      g_autoptr(GError) v6_error = NULL;
      g_autoptr(GInetAddress) v4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) v4_address = g_inet_socket_address_new (v4, endpoint->port);

      inet = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      address = g_inet_socket_address_new (inet, endpoint->port);
      if (add_listening_socket (self, address, &self->address, &v6_error))
        return TRUE;
      g_debug ("no IPv6 listener (%s); IPv4 only", v6_error->message);
      return add_listening_socket (self, v4_address, &self->address, error);
    }

  inet = parse_interface (endpoint->host);
  if (inet == NULL)
    {
      g_set_error (error, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_INVALID_ENDPOINT,
                   "Interface “%s” is not an IP address", endpoint->host);
      return FALSE;
    }
  address = g_inet_socket_address_new (inet, endpoint->port);
  return add_listening_socket (self, address, &self->address, error);
}

static gboolean
add_unix (BraidGlibListener *self, const BraidEndpoint *endpoint, GError **error)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (endpoint->path);
  struct stat st;

  /* A socket file left by a previous run would make bind() fail. */
  if (g_lstat (endpoint->path, &st) == 0 && S_ISSOCK (st.st_mode))
    g_unlink (endpoint->path);
  if (!add_listening_socket (self, address, NULL, error))
    return FALSE;
  if (endpoint->mode != 0 && g_chmod (endpoint->path, (int) endpoint->mode) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not set mode of %s: %s", endpoint->path, g_strerror (saved));
      return FALSE;
    }
  self->unix_path = g_strdup (endpoint->path);
  self->address = g_steal_pointer (&address);
  return TRUE;
}

/* The fd systemd passed for @endpoint.  The first lookup that reads the
 * real environment also removes the variables from it, as
 * sd_listen_fds (unset_environment = 1) does, so children do not inherit
 * them; later lookups use the copy kept here. */
static gboolean
find_systemd_fd (BraidGlibReactor *self, const BraidEndpoint *endpoint,
                 gint *out_fd, GError **error)
{
  g_auto(GStrv) env = self->listen_env != NULL ? g_strdupv (self->listen_env) : g_get_environ ();

  if (!braid_endpoint_find_systemd_fd (endpoint, (const gchar * const *) env, getpid (), out_fd, error))
    return FALSE;
  if (self->listen_env == NULL && !self->listen_env_consumed)
    {
      g_unsetenv ("LISTEN_PID");
      g_unsetenv ("LISTEN_FDS");
      g_unsetenv ("LISTEN_FDNAMES");
      self->listen_env = g_strdupv (env);
    }
  self->listen_env_consumed = TRUE;
  return TRUE;
}

static gboolean
add_systemd (BraidGlibListener *self, const BraidEndpoint *endpoint, GError **error)
{
  gint fd;
  g_autoptr(GSocket) socket = NULL;

  if (!find_systemd_fd (self->reactor, endpoint, &fd, error))
    return FALSE;
  socket = g_socket_new_from_fd (dup (fd), error);
  if (socket == NULL)
    return FALSE;
  /* systemd listened with its own Backlog=; ours applies when given. */
  if (endpoint->backlog > 0)
    {
      g_socket_set_listen_backlog (socket, endpoint->backlog);
      g_socket_listen (socket, NULL);
    }
  g_socket_set_blocking (socket, FALSE);
  turn_off_nagle_for_accepted (socket);
  self->address = g_socket_get_local_address (socket, NULL);
  g_ptr_array_add (self->sockets, g_steal_pointer (&socket));
  return TRUE;
}

static BraidListener *
reactor_listen (BraidReactor *reactor,
                const BraidEndpoint *endpoint,
                BraidProtocolFactory *factory,
                GError **error)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (reactor);

  /* TLS hook: tls-endpoint.c listens with an accept loop of its own. */
  if (endpoint->kind == BRAID_ENDPOINT_KIND_TLS)
    return braid_tls_listen (G_OBJECT (self), self->context, endpoint, factory, error);

  g_autoptr(BraidGlibListener) listener = g_object_new (BRAID_TYPE_GLIB_LISTENER, NULL);
  g_autoptr(GError) local_error = NULL;
  gboolean ok = FALSE;

  listener->reactor = g_object_ref (self);
  listener->factory = g_object_ref (factory);
  listener->backlog = endpoint->backlog > 0 ? endpoint->backlog : DEFAULT_BACKLOG;

  switch (endpoint->kind)
    {
    case BRAID_ENDPOINT_KIND_TCP:
      ok = add_tcp (listener, endpoint, &local_error);
      break;
    case BRAID_ENDPOINT_KIND_UNIX:
      ok = add_unix (listener, endpoint, &local_error);
      break;
    case BRAID_ENDPOINT_KIND_SYSTEMD:
      ok = add_systemd (listener, endpoint, &local_error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (!ok)
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

guint64
braid_glib_listener_get_n_accept_pauses (BraidListener *listener)
{
  g_return_val_if_fail (BRAID_IS_GLIB_LISTENER (listener), 0);
  return BRAID_GLIB_LISTENER (listener)->n_pauses;
}

/* ---- connecting ---- */

typedef struct {
  BraidGlibReactor *reactor;       /* (owned) */
  BraidProtocolFactory *factory;   /* (owned) */
  gchar *description;
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  g_object_unref (data->reactor);
  g_object_unref (data->factory);
  g_free (data->description);
  g_free (data);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  BraidProtocol *protocol;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_TIMED_OUT,
                                 "Connecting to “%s” timed out", data->description);
      else
        g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                                 "Cannot connect to “%s”: %s", data->description, error->message);
      return;
    }

  {
    g_autoptr(BraidSocketTransport) transport = braid_socket_transport_new (connection, data->reactor->context,
                                                                            data->reactor->poller);

    protocol = adopt_transport (data->reactor, transport, data->factory, NULL, NULL, NULL);
  }
  if (protocol == NULL)
    {
      g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_REFUSED,
                               "The protocol factory refused the connection to “%s”",
                               data->description);
      return;
    }
  g_task_return_pointer (task, protocol, g_object_unref);
}

static void
reactor_connect_async (BraidReactor *reactor,
                       const BraidEndpoint *endpoint,
                       BraidProtocolFactory *factory,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (reactor);

  /* TLS hook: tls-endpoint.c connects, handshakes and starts the protocol. */
  if (endpoint->kind == BRAID_ENDPOINT_KIND_TLS)
    {
      braid_tls_connect_async (G_OBJECT (self), self->context, endpoint, factory, cancellable, callback,
                               user_data);
      return;
    }

  g_autoptr(GSocketClient) client = g_socket_client_new ();
  ConnectData *data = g_new0 (ConnectData, 1);
  GTask *task;

  g_main_context_push_thread_default (self->context);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, reactor_connect_async);
  data->reactor = g_object_ref (self);
  data->factory = g_object_ref (factory);
  data->description = g_strdup (endpoint->description);
  g_task_set_task_data (task, data, (GDestroyNotify) connect_data_free);

  if (endpoint->timeout > 0)
    g_socket_client_set_timeout (client, (guint) MAX (1, endpoint->timeout + 0.5));
  /* Honour GIO_USE_PROXY_RESOLVER but never go through a proxy for a
   * reactor-level connection: memcached and upstreams are direct. */
  g_socket_client_set_enable_proxy (client, FALSE);

  if (endpoint->kind == BRAID_ENDPOINT_KIND_TCP)
    g_socket_client_connect_to_host_async (client, endpoint->host, endpoint->port,
                                           cancellable, on_connected, task);
  else if (endpoint->kind == BRAID_ENDPOINT_KIND_UNIX)
    {
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (endpoint->path);

      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address),
                                     cancellable, on_connected, task);
    }
  else
    {
      g_task_return_new_error (task, BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_NOT_SUPPORTED,
                               "Cannot connect to “%s”", endpoint->description);
      g_object_unref (task);
    }
  g_main_context_pop_thread_default (self->context);
}

static BraidProtocol *
reactor_connect_finish (BraidReactor *reactor, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, reactor), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- running ---- */

static void
reactor_run (BraidReactor *reactor)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (reactor);

  g_return_if_fail (self->loop == NULL);
  if (self->stop_requested)
    {
      self->stop_requested = FALSE;
      return;
    }
  self->loop = g_main_loop_new (self->context, FALSE);
  g_main_loop_run (self->loop);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  self->stop_requested = FALSE;
}

static void
reactor_stop (BraidReactor *reactor)
{
  BraidGlibReactor *self = BRAID_GLIB_REACTOR (reactor);

  if (self->loop != NULL)
    g_main_loop_quit (self->loop);
  else
    self->stop_requested = TRUE;
}

static void
braid_glib_reactor_iface_init (BraidReactorInterface *iface)
{
  iface->run = reactor_run;
  iface->stop = reactor_stop;
  iface->now = reactor_now;
  iface->real_time = reactor_real_time;
  iface->call_later = reactor_call_later;
  iface->listen = reactor_listen;
  iface->connect_async = reactor_connect_async;
  iface->connect_finish = reactor_connect_finish;
}
