/* braid — the transport interface and its convenience writers. */
#include "transport.h"
#include "iface-cache-private.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_INTERFACE (BraidTransport, braid_transport, G_TYPE_OBJECT)

static void
braid_transport_default_init (BraidTransportInterface *iface)
{
}

BRAID_IFACE_CACHE_DEFINE (transport_cache);

/* The interface table of @self, NULL if it is not a transport
 * (iface-cache-private.h: no GType lookup per call). */
static inline BraidTransportInterface *
transport_iface (BraidTransport *self)
{
  return braid_iface_cache_peek (&transport_cache, self, BRAID_TYPE_TRANSPORT);
}

#define is_transport(self) (transport_iface (self) != NULL)

void
braid_transport_write_bytes (BraidTransport *self, GBytes *bytes)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_if_fail (iface != NULL);
  g_return_if_fail (bytes != NULL);
  if (g_bytes_get_size (bytes) == 0)
    return;
  iface->write_bytes (self, bytes);
}

void
braid_transport_write (BraidTransport *self, const void *data, gsize len)
{
  BraidTransportInterface *iface = transport_iface (self);
  g_autoptr(GBytes) bytes = NULL;

  g_return_if_fail (iface != NULL);
  if (len == 0)
    return;
  if (iface->write != NULL)
    {
      iface->write (self, data, len);
      return;
    }
  bytes = g_bytes_new (data, len);
  iface->write_bytes (self, bytes);
}

void
braid_transport_writev (BraidTransport *self,
                        const GOutputVector *vectors,
                        gsize n_vectors)
{
  BraidTransportInterface *iface = transport_iface (self);
  gsize total = 0;
  guint8 *joined;
  gsize offset = 0;

  g_return_if_fail (iface != NULL);
  /* A transport with a buffer of its own copies each piece there. */
  if (iface->write != NULL)
    {
      for (gsize i = 0; i < n_vectors; i++)
        braid_transport_write (self, vectors[i].buffer, vectors[i].size);
      return;
    }
  for (gsize i = 0; i < n_vectors; i++)
    total += vectors[i].size;
  if (total == 0)
    return;
  /* One allocation for the whole reply keeps the queue short and the
   * later sendmsg() vector dense. */
  joined = g_malloc (total);
  for (gsize i = 0; i < n_vectors; i++)
    {
      if (vectors[i].size > 0)
        memcpy (joined + offset, vectors[i].buffer, vectors[i].size);
      offset += vectors[i].size;
    }
  {
    g_autoptr(GBytes) bytes = g_bytes_new_take (joined, total);

    braid_transport_write_bytes (self, bytes);
  }
}

void
braid_transport_write_string (BraidTransport *self, const gchar *str)
{
  g_return_if_fail (is_transport (self) && str != NULL);

  braid_transport_write (self, str, strlen (str));
}

void
braid_transport_write_printf (BraidTransport *self, const gchar *format, ...)
{
  va_list args;
  gchar *text;
  gsize len;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  len = strlen (text);
  {
    g_autoptr(GBytes) bytes = g_bytes_new_take (text, len);

    braid_transport_write_bytes (self, bytes);
  }
}

void
braid_transport_lose_connection (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_if_fail (iface != NULL);
  iface->lose_connection (self);
}

void
braid_transport_lose_write_connection (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_if_fail (iface != NULL);
  if (iface->lose_write_connection != NULL)
    iface->lose_write_connection (self);
  else
    iface->lose_connection (self);
}

void
braid_transport_abort_connection (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_if_fail (iface != NULL);
  iface->abort_connection (self);
}

GSocketAddress *
braid_transport_get_peer_address (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_val_if_fail (iface != NULL, NULL);
  return iface->get_peer_address (self);
}

GSocketAddress *
braid_transport_get_host_address (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_val_if_fail (iface != NULL, NULL);
  return iface->get_host_address (self);
}

void
braid_transport_pause_reading (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_if_fail (iface != NULL);
  iface->pause_reading (self);
}

void
braid_transport_resume_reading (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_if_fail (iface != NULL);
  iface->resume_reading (self);
}

gsize
braid_transport_get_write_buffer_size (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_val_if_fail (iface != NULL, 0);
  return iface->get_write_buffer_size (self);
}

gboolean
braid_transport_is_closing (BraidTransport *self)
{
  BraidTransportInterface *iface = transport_iface (self);

  g_return_val_if_fail (iface != NULL, TRUE);
  return iface->is_closing (self);
}
