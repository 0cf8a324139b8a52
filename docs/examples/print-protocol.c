/* braid example — print whatever clients send. */
#include "print-protocol.h"

struct _BraidPrintProtocol
{
  BraidProtocol parent_instance;

  BraidPrintFunc print;
  gpointer print_data;
};

G_DEFINE_FINAL_TYPE (BraidPrintProtocol, braid_print_protocol, BRAID_TYPE_PROTOCOL)

static void
print_data_received (BraidProtocol *protocol, const guint8 *data, gsize len)
{
  BraidPrintProtocol *self = BRAID_PRINT_PROTOCOL (protocol);

  self->print (data, len, self->print_data);
}

static void
braid_print_protocol_class_init (BraidPrintProtocolClass *klass)
{
  BRAID_PROTOCOL_CLASS (klass)->data_received = print_data_received;
}

static void
braid_print_protocol_init (BraidPrintProtocol *self)
{
}

typedef struct {
  BraidPrintFunc print;
  gpointer user_data;
} PrintTarget;

static BraidProtocol *
build_print (GSocketAddress *address, gpointer user_data)
{
  PrintTarget *target = user_data;
  BraidPrintProtocol *self = g_object_new (BRAID_TYPE_PRINT_PROTOCOL, NULL);

  self->print = target->print;
  self->print_data = target->user_data;
  return BRAID_PROTOCOL (self);
}

BraidProtocolFactory *
braid_print_factory_new (BraidPrintFunc print, gpointer user_data)
{
  PrintTarget *target = g_new0 (PrintTarget, 1);

  target->print = print;
  target->user_data = user_data;
  return braid_protocol_factory_new (build_print, target, g_free);
}
