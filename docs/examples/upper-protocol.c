/* braid example — echo upper-cased. */
#include "upper-protocol.h"

struct _BraidUpperProtocol
{
  BraidProtocol parent_instance;
};

G_DEFINE_FINAL_TYPE (BraidUpperProtocol, braid_upper_protocol, BRAID_TYPE_PROTOCOL)

static void
upper_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  guint8 *upper = g_malloc (len);
  g_autoptr(GBytes) bytes = NULL;

  /* ASCII only, byte for byte: multi-byte UTF-8 may be split across
   * chunks, and must come back exactly as it went in. */
  for (gsize i = 0; i < len; i++)
    upper[i] = (guint8) g_ascii_toupper ((gchar) data[i]);
  bytes = g_bytes_new_take (upper, len);
  braid_transport_write_bytes (braid_protocol_get_transport (protocol), bytes);
}

static void
braid_upper_protocol_class_init (BraidUpperProtocolClass *klass)
{
  BRAID_PROTOCOL_CLASS (klass)->data_received = upper_data_received;
}

static void
braid_upper_protocol_init (BraidUpperProtocol *self)
{
}

BraidProtocolFactory *
braid_upper_factory_new (void)
{
  return braid_protocol_factory_new_for_type (BRAID_TYPE_UPPER_PROTOCOL);
}
