/* braid — the real transport: a non-blocking GSocket registered once with
 * the reactor's poller.
 *
 * Writes are queued as GBytes and flushed at the end of the poller's
 * iteration, so every write made during one dispatch leaves in a single
 * vectored sendmsg(); only when the kernel's buffer is full does the
 * socket ask for G_IO_OUT.  Reads go straight from the socket into a
 * stack buffer and on to the protocol: no GInputStream and no per-chunk
 * async operation. */
#include "socket-transport-private.h"
#include "reactor-error.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK_SIZE (64 * 1024)
/* Reads per dispatch before yielding to other sources: keeps one busy peer
 * from starving the rest. */
#define READS_PER_DISPATCH 4
#define MAX_VECTORS 64
/* A copy buffer that grew past this while a big reply was queued is
 * given back once empty, so an idle connection holds only a little. */
#define TAIL_KEEP_SIZE (16 * 1024)

struct _BraidSocketTransport
{
  GObject parent_instance;

  /* The socket: I/O goes straight to @fd (no GSocket per call, no GError
   * for EAGAIN).  Connections we made keep their GSocketConnection, which
   * owns the fd; accepted ones are the bare fd. */
  gint fd;                        /* -1 once closed */
  GSocketConnection *connection;  /* (owned) (nullable) */
  GMainContext *context;          /* (owned) */
  BraidPoller *poller;            /* (unowned): the reactor's */
  BraidPollerWatch *watch;        /* (owned) (nullable): until closed */
  BraidProtocol *protocol;        /* (owned) (nullable): until connection_lost */
  GSource *lost_source;           /* (owned) (nullable) */
  GQueue output;                  /* (element-type GBytes) (owned) */
  gsize output_offset;            /* bytes of the head already sent */
  /* What write() copied after the last queued GBytes: small replies are
   * appended here instead of costing a GBytes and a list node each. */
  GByteArray *tail;               /* (owned) (nullable) */
  gsize tail_offset;              /* bytes of @tail already sent */
  gsize output_size;              /* unsent bytes in total, @tail's included */
  GSocketAddress *peer_address;   /* (owned) (nullable): built from peer_native when first asked */
  union {                         /* an IP peer, as accept4() gave it: 28 bytes, not sockaddr_storage's 128 */
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
  } peer_native;
  guint8 peer_native_len;         /* 0: none, or peer_address built already */
  GSocketAddress *host_address;   /* (owned) (nullable) */
  gboolean started;               /* connection_made ran */
  gboolean paused;
  gboolean flush_queued;          /* a deferred flush is pending */
  gboolean in_ready;              /* on_socket_ready is running: it flushes at its end */
  guint ready_depth;              /* poller callbacks running (a nested loop may add one) */
  gboolean lost_pending;          /* closed during one: it tells connection_lost at its end */
  gboolean write_blocked;         /* the kernel's buffer was full: wait for G_IO_OUT */
  gboolean closing;               /* lose_connection: flush, then close */
  gboolean closed;                /* the socket is closed */
  gboolean half_closed;           /* the peer sent EOF, we still write */
  gboolean write_shutdown;        /* lose_write_connection was called */
  gboolean write_shut;            /* ... and shutdown(SHUT_WR) happened */
  gboolean read_at_start;         /* accepted: the peer may have spoken already */
  GError *lost_reason;            /* (owned unless the shared clean-close one) (nullable) */
  BraidTransportClosedFunc closed_func;
  gpointer closed_data;           /* (owned by closed_destroy) (nullable) */
  GDestroyNotify closed_destroy;
};

static void braid_socket_transport_iface_init (BraidTransportInterface *iface);

G_DEFINE_TYPE_WITH_CODE (BraidSocketTransport, braid_socket_transport, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (BRAID_TYPE_TRANSPORT,
                                                braid_socket_transport_iface_init))

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* Drops every unsent byte. */
static void
discard_output (BraidSocketTransport *self)
{
  g_queue_clear_full (&self->output, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&self->tail, g_byte_array_unref);
  self->output_offset = 0;
  self->tail_offset = 0;
  self->output_size = 0;
}

/* Unregistered before the close, always: close() takes an fd out of an
 * epoll set only when no other descriptor shares its open file, and a
 * fork (GSubprocess, between fork and exec) briefly shares them all; a
 * registration left behind would report events for a freed watch. */
static void
remove_watch (BraidSocketTransport *self)
{
  if (self->watch == NULL)
    return;
  braid_poller_watch_remove (self->watch);
  self->watch = NULL;
}

static void
close_fd (BraidSocketTransport *self)
{
  if (self->connection != NULL)
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  else if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
  g_clear_object (&self->connection);
}

/* The reason given for every clean close: one error for the process,
 * never freed.  A GError made and freed per connection cost a one-shot
 * connection (a proxy's cache hit) about 800 instructions, more than its
 * cache lookup; protocols get the reason as const and copy what they keep. */
static GError *
shared_done_reason (void)
{
  static GError *reason = NULL;

  if (g_once_init_enter (&reason))
    g_once_init_leave (&reason, g_error_new_literal (BRAID_REACTOR_ERROR, BRAID_REACTOR_ERROR_CONNECTION_DONE,
                                                     "Connection was closed cleanly"));
  return reason;
}

static void
free_reason (GError *reason)
{
  if (reason != NULL && reason != shared_done_reason ())
    g_error_free (reason);
}

static void
braid_socket_transport_dispose (GObject *object)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (object);

  remove_watch (self);
  destroy_source (&self->lost_source);
  discard_output (self);
  g_clear_object (&self->protocol);
  close_fd (self);
  G_OBJECT_CLASS (braid_socket_transport_parent_class)->dispose (object);
}

static void
braid_socket_transport_finalize (GObject *object)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (object);

  braid_socket_transport_set_closed_func (self, NULL, NULL, NULL);
  g_clear_object (&self->peer_address);
  g_clear_object (&self->host_address);
  free_reason (g_steal_pointer (&self->lost_reason));
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (braid_socket_transport_parent_class)->finalize (object);
}

static void
braid_socket_transport_class_init (BraidSocketTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = braid_socket_transport_dispose;
  object_class->finalize = braid_socket_transport_finalize;
}

static void
braid_socket_transport_init (BraidSocketTransport *self)
{
  g_queue_init (&self->output);
  self->fd = -1;
}

static void on_socket_ready (gpointer user_data, GIOCondition ready);

static BraidSocketTransport *
transport_new_for_fd (gint fd, GMainContext *context, BraidPoller *poller)
{
  BraidSocketTransport *self = g_object_new (BRAID_TYPE_SOCKET_TRANSPORT, NULL);

  self->fd = fd;
  self->context = context != NULL ? g_main_context_ref (context)
                                  : g_main_context_ref_thread_default ();
  self->poller = poller;
  self->watch = braid_poller_watch_fd (poller, fd, 0, on_socket_ready, self);
  return self;
}

static GSocketAddress *
local_address (gint fd)
{
  struct sockaddr_storage address;
  socklen_t len = sizeof address;

  if (getsockname (fd, (struct sockaddr *) &address, &len) != 0)
    return NULL;
  return g_socket_address_new_from_native (&address, len);
}

BraidSocketTransport *
braid_socket_transport_new (GSocketConnection *connection, GMainContext *context, BraidPoller *poller)
{
  BraidSocketTransport *self;
  GSocket *socket;

  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (connection), NULL);

  socket = g_socket_connection_get_socket (connection);
  g_socket_set_blocking (socket, FALSE);
  /* FALSE on a unix socket, which has no Nagle to turn off. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  self = transport_new_for_fd (g_socket_get_fd (socket), context, poller);
  self->connection = g_object_ref (connection);
  self->peer_address = g_socket_get_remote_address (socket, NULL);
  self->host_address = g_socket_get_local_address (socket, NULL);
  return self;
}

BraidSocketTransport *
braid_socket_transport_new_accepted (gint fd, const struct sockaddr *peer, gsize peer_len, GMainContext *context,
                                     BraidPoller *poller)
{
  BraidSocketTransport *self = transport_new_for_fd (fd, context, poller);

  /* No TCP_NODELAY here: the listener set it, and accepted sockets
   * inherit it (a system call less per connection).  The host address is
   * read when asked (another). */
  if (peer != NULL && peer_len > 0 && peer_len <= sizeof self->peer_native)
    {
      memcpy (&self->peer_native, peer, peer_len);
      self->peer_native_len = (guint8) peer_len;
    }
  else if (peer != NULL && peer_len > 0)  /* a unix socket's named peer: rare, built now */
    self->peer_address = g_socket_address_new_from_native ((gpointer) peer, peer_len);
  self->read_at_start = TRUE;
  return self;
}

void
braid_socket_transport_set_closed_func (BraidSocketTransport *self,
                                        BraidTransportClosedFunc func,
                                        gpointer user_data,
                                        GDestroyNotify destroy)
{
  gpointer old_data = self->closed_data;
  GDestroyNotify old_destroy = self->closed_destroy;

  self->closed_func = func;
  self->closed_data = user_data;
  self->closed_destroy = destroy;
  if (old_destroy != NULL)
    old_destroy (old_data);
}

/* ---- closing ---- */

static gboolean
deliver_connection_lost (gpointer user_data)
{
  BraidSocketTransport *self = user_data;
  g_autoptr(BraidProtocol) protocol = g_steal_pointer (&self->protocol);
  GError *reason = g_steal_pointer (&self->lost_reason);

  g_object_ref (self);
  g_clear_pointer (&self->lost_source, g_source_unref);
  if (protocol != NULL)
    braid_protocol_connection_lost (protocol, reason);
  if (self->closed_func != NULL)
    {
      self->closed_func (self, self->closed_data);
      braid_socket_transport_set_closed_func (self, NULL, NULL, NULL);  /* called once */
    }
  free_reason (reason);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* Closes the socket now and tells the protocol at the end of the
 * poller's callback that closed it, or else on the next iteration, so
 * connection_lost never runs inside the protocol's own data_received or
 * write call. */
static void
close_with_reason (BraidSocketTransport *self, GError *reason)
{
  if (self->closed)
    {
      free_reason (reason);
      return;
    }
  self->closed = TRUE;
  self->closing = TRUE;
  remove_watch (self);
  discard_output (self);
  close_fd (self);
  self->lost_reason = reason;
  /* Closed while reading or flushing for the poller (a protocol that
   * closes from data_received, a one-shot reply flushed): told when that
   * is over, outside any protocol call, with no GSource per connection
   * and no main-loop round. */
  if (self->ready_depth > 0)
    {
      self->lost_pending = TRUE;
      return;
    }

  self->lost_source = g_idle_source_new ();
  g_source_set_priority (self->lost_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->lost_source, deliver_connection_lost,
                         g_object_ref (self), g_object_unref);
  g_source_set_static_name (self->lost_source, "braid connection lost");
  g_source_attach (self->lost_source, self->context);
}

static void
close_done (BraidSocketTransport *self)
{
  close_with_reason (self, shared_done_reason ());
}

static void
close_lost (BraidSocketTransport *self, gint saved_errno)
{
  close_with_reason (self, g_error_new (BRAID_REACTOR_ERROR,
                                        BRAID_REACTOR_ERROR_CONNECTION_LOST,
                                        "Connection was lost: %s", g_strerror (saved_errno)));
}

/* ---- interest ---- */

static gboolean
wants_to_read (BraidSocketTransport *self)
{
  return self->started && !self->closed && !self->closing && !self->paused && !self->half_closed;
}

/* Tells the poller what this socket waits for now: one epoll_ctl when it
 * changed, and no wakeup of the loop. */
static void
update_interest (BraidSocketTransport *self)
{
  if (self->watch == NULL)
    return;
  braid_poller_watch_set_events (self->watch, (wants_to_read (self) ? G_IO_IN : 0) |
                                              (self->write_blocked ? G_IO_OUT : 0));
}

/* ---- writing ---- */

static void on_flush_due (gpointer user_data);

static void
queue_flush (BraidSocketTransport *self)
{
  if (self->flush_queued || self->write_blocked || self->closed || self->in_ready)
    return;
  self->flush_queued = TRUE;
  braid_poller_defer (self->poller, on_flush_due, self, g_object_ref, g_object_unref);
}

/* Sends as much queued output as the kernel takes.  Returns FALSE if the
 * connection was closed by an error. */
static gsize
tail_unsent (BraidSocketTransport *self)
{
  return self->tail != NULL ? self->tail->len - self->tail_offset : 0;
}

/* The unsent output as a vector: the queue, then the tail. */
static guint
gather_output (BraidSocketTransport *self, struct iovec *vectors)
{
  guint n = 0;
  GList *l;

  for (l = self->output.head; l != NULL && n < MAX_VECTORS; l = l->next, n++)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (l->data, &size);
      gsize skip = (n == 0) ? self->output_offset : 0;

      vectors[n].iov_base = (gpointer) (data + skip);
      vectors[n].iov_len = size - skip;
    }
  if (l == NULL && n < MAX_VECTORS && tail_unsent (self) > 0)
    {
      vectors[n].iov_base = self->tail->data + self->tail_offset;
      vectors[n].iov_len = tail_unsent (self);
      n++;
    }
  return n;
}

/* Forgets @sent bytes from the front of the output. */
static void
consume_output (BraidSocketTransport *self, gsize sent)
{
  self->output_size -= sent;
  while (sent > 0 && !g_queue_is_empty (&self->output))
    {
      GBytes *head = g_queue_peek_head (&self->output);
      gsize left = g_bytes_get_size (head) - self->output_offset;

      if (sent < left)
        {
          self->output_offset += sent;
          return;
        }
      sent -= left;
      self->output_offset = 0;
      g_bytes_unref (g_queue_pop_head (&self->output));
    }
  if (sent == 0)
    return;
  self->tail_offset += sent;
  if (tail_unsent (self) > 0)
    return;
  /* All sent: the buffer is reused, unless a big reply made it big. */
  if (self->tail->len > TAIL_KEEP_SIZE)
    g_clear_pointer (&self->tail, g_byte_array_unref);
  else
    self->tail->len = 0;  /* a byte array has no terminator nor clear function: emptying it is its length */
  self->tail_offset = 0;
}

/* Sends what the kernel takes.  FALSE when the connection was lost. */
static gboolean
flush_output (BraidSocketTransport *self)
{
  while (self->output_size > 0)
    {
      struct iovec vectors[MAX_VECTORS];
      struct msghdr message = { 0 };
      gssize sent;

      message.msg_iov = vectors;
      message.msg_iovlen = gather_output (self, vectors);
      do
        sent = sendmsg (self->fd, &message, MSG_NOSIGNAL);
      while (sent < 0 && errno == EINTR);
      if (sent < 0)
        {
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            return TRUE;
          close_lost (self, errno);
          return FALSE;
        }
      consume_output (self, (gsize) sent);
    }
  return TRUE;
}

/* The half-close itself, once everything before it has been sent.  When
 * the peer had already finished sending, the connection is over. */
static void
shut_write (BraidSocketTransport *self)
{
  if (self->write_shut || self->closed)
    return;
  self->write_shut = TRUE;
  if (shutdown (self->fd, SHUT_WR) != 0)
    {
      close_lost (self, errno);
      return;
    }
  if (self->half_closed)
    close_done (self);
}

/* Flushes; when everything went, does what waited for it (the close, the
 * half-close, or telling the protocol), else waits for G_IO_OUT. */
static void
flush_and_settle (BraidSocketTransport *self)
{
  if (!flush_output (self))
    return;  /* closed */
  self->write_blocked = self->output_size > 0;
  update_interest (self);
  if (self->write_blocked)
    return;
  if (self->closing)
    close_done (self);
  else if (self->write_shutdown)
    shut_write (self);
  else if (self->protocol != NULL)
    braid_protocol_output_drained (self->protocol);
}

static void begin_poller_callback (BraidSocketTransport *self);
static void end_poller_callback (BraidSocketTransport *self);

static void
on_flush_due (gpointer user_data)
{
  BraidSocketTransport *self = user_data;

  self->flush_queued = FALSE;
  /* Already sent by on_socket_ready, or waiting for G_IO_OUT. */
  if (self->closed || self->write_blocked || self->output_size == 0)
    return;
  begin_poller_callback (self);
  flush_and_settle (self);
  end_poller_callback (self);
}

static void
transport_write_bytes (BraidTransport *transport, GBytes *bytes)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  if (self->closing || self->closed || self->write_shutdown)
    return;  /* Twisted drops writes after loseConnection too */
  /* What write() copied before goes first. */
  if (tail_unsent (self) > 0)
    {
      g_queue_push_tail (&self->output, g_bytes_new (self->tail->data + self->tail_offset,
                                                      tail_unsent (self)));
      self->tail->len = 0;
      self->tail_offset = 0;
    }
  g_queue_push_tail (&self->output, g_bytes_ref (bytes));
  self->output_size += g_bytes_get_size (bytes);
  queue_flush (self);
}

static void
transport_write (BraidTransport *transport, const void *data, gsize len)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  if (self->closing || self->closed || self->write_shutdown)
    return;
  /* A big write is queued as it is: the copy buffer stays small. */
  if (len > TAIL_KEEP_SIZE)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (data, len);

      transport_write_bytes (transport, bytes);
      return;
    }
  if (self->tail == NULL)
    self->tail = g_byte_array_sized_new ((guint) MIN (MAX (len, 1024), TAIL_KEEP_SIZE));
  g_byte_array_append (self->tail, data, (guint) len);
  self->output_size += len;
  queue_flush (self);
}

static void
transport_lose_connection (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  if (self->closing || self->closed)
    return;
  self->closing = TRUE;
  update_interest (self);
  if (self->output_size == 0)
    close_done (self);
  else
    queue_flush (self);
}

static void
transport_lose_write_connection (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  if (self->closing || self->closed || self->write_shutdown)
    return;
  self->write_shutdown = TRUE;
  if (self->output_size == 0)
    shut_write (self);
  else
    queue_flush (self);
}

static void
transport_abort_connection (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);
  struct linger reset = { 1, 0 };

  if (self->closed)
    return;
  /* A TCP connection is reset (RST), not closed with a FIN: the peer
   * must not take what it received for all there was.  (A unix socket
   * has no reset; the option changes nothing there.) */
  (void) setsockopt (self->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close_with_reason (self, g_error_new_literal (BRAID_REACTOR_ERROR,
                                                BRAID_REACTOR_ERROR_CONNECTION_ABORTED,
                                                "Connection was aborted"));
}

/* ---- reading ---- */

static void
handle_eof (BraidSocketTransport *self)
{
  if (self->write_shut)
    {
      /* Both directions are finished. */
      close_done (self);
      return;
    }
  if (self->write_shutdown || (self->protocol != NULL && braid_protocol_eof_received (self->protocol)))
    {
      self->half_closed = TRUE;
      update_interest (self);
      return;
    }
  /* Flush what the protocol already wrote (a reply to the last request
   * before the peer's shutdown), then close. */
  transport_lose_connection (BRAID_TRANSPORT (self));
}

static void
read_available (BraidSocketTransport *self)
{
  guint8 buffer[READ_CHUNK_SIZE];

  for (guint i = 0; i < READS_PER_DISPATCH; i++)
    {
      gssize n;

      do
        n = recv (self->fd, buffer, sizeof buffer, 0);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            close_lost (self, errno);
          return;
        }
      if (n == 0)
        {
          handle_eof (self);
          return;
        }
      if (self->protocol != NULL)
        braid_protocol_data_received (self->protocol, buffer, (gsize) n);
      /* The protocol may have paused, closed or aborted. */
      if (!wants_to_read (self) || (gsize) n < sizeof buffer)
        return;
    }
}

/* Around what the poller calls (outside any protocol call): a close
 * inside is told to the protocol at the end (close_with_reason). */
static void
begin_poller_callback (BraidSocketTransport *self)
{
  self->ready_depth++;
}

static void
end_poller_callback (BraidSocketTransport *self)
{
  if (--self->ready_depth > 0 || !self->lost_pending)
    return;
  self->lost_pending = FALSE;
  deliver_connection_lost (self);
}

static void
on_socket_ready (gpointer user_data, GIOCondition ready)
{
  BraidSocketTransport *self = user_data;
  g_autoptr(BraidSocketTransport) keep = g_object_ref (self);

  self->in_ready = TRUE;
  begin_poller_callback (self);
  /* HUP and ERR go to whichever side is waiting: its next system call
   * reports what happened. */
  if (self->write_blocked && (ready & (G_IO_OUT | G_IO_HUP | G_IO_ERR)))
    {
      self->write_blocked = FALSE;
      flush_and_settle (self);
    }
  if (wants_to_read (self) && (ready & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    read_available (self);
  self->in_ready = FALSE;
  /* The replies to what was just read leave now, in one sendmsg, rather
   * than after every other ready socket was served: a batch of many
   * connections would otherwise add its whole length to each reply's
   * latency. */
  if (self->output_size > 0 && !self->write_blocked && !self->closed)
    flush_and_settle (self);
  end_poller_callback (self);
}

static void
transport_pause_reading (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  self->paused = TRUE;
  update_interest (self);
}

static void
transport_resume_reading (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  self->paused = FALSE;
  update_interest (self);
}

void
braid_socket_transport_start (BraidSocketTransport *self, BraidProtocol *protocol)
{
  g_return_if_fail (self->protocol == NULL);

  self->protocol = g_object_ref (protocol);
  braid_protocol_connection_made (protocol, BRAID_TRANSPORT (self));
  self->started = TRUE;
  /* A client of a request/response protocol sends right after its
   * connect, so by the time the connection is accepted its request is
   * usually there: reading it now serves a one-shot connection without
   * ever registering it with epoll (its epoll_ctl ADD and DEL, an
   * epoll_wait and a main-loop round saved), at the price of one recv
   * that says EAGAIN when the peer has not spoken yet. */
  if (self->read_at_start)
    on_socket_ready (self, G_IO_IN);
  update_interest (self);
}


/* ---- queries ---- */

static GSocketAddress *
transport_get_peer_address (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  /* Most one-shot connections never ask: a GInetSocketAddress costs two
   * GObjects with construct properties (g_socket_address_new_from_native
   * also makes a v4-mapped IPv6 peer an IPv4 one). */
  if (self->peer_address == NULL && self->peer_native_len > 0)
    self->peer_address = g_socket_address_new_from_native (&self->peer_native, self->peer_native_len);
  return self->peer_address;
}

/* An accepted socket's is read on the first call while it is open. */
static GSocketAddress *
transport_get_host_address (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  if (self->host_address == NULL && self->fd >= 0)
    self->host_address = local_address (self->fd);
  return self->host_address;
}

static gsize
transport_get_write_buffer_size (BraidTransport *transport)
{
  return BRAID_SOCKET_TRANSPORT (transport)->output_size;
}

static gboolean
transport_is_closing (BraidTransport *transport)
{
  BraidSocketTransport *self = BRAID_SOCKET_TRANSPORT (transport);

  return self->closing || self->closed;
}

static void
braid_socket_transport_iface_init (BraidTransportInterface *iface)
{
  iface->write_bytes = transport_write_bytes;
  iface->write = transport_write;
  iface->lose_connection = transport_lose_connection;
  iface->abort_connection = transport_abort_connection;
  iface->get_peer_address = transport_get_peer_address;
  iface->get_host_address = transport_get_host_address;
  iface->pause_reading = transport_pause_reading;
  iface->resume_reading = transport_resume_reading;
  iface->get_write_buffer_size = transport_get_write_buffer_size;
  iface->is_closing = transport_is_closing;
  iface->lose_write_connection = transport_lose_write_connection;
}
