/* braid — the line/raw receiver.
 *
 * Lines accumulate in one GByteArray capped at max_line_length + the
 * delimiter, so a peer that never sends a newline costs a bounded amount of
 * memory.  The scan for the delimiter resumes where it stopped, keeping the
 * work linear in the input however it is chunked. */
#include "line-receiver.h"

#include <string.h>

typedef enum {
  MODE_LINE,
  MODE_RAW,
  MODE_RAW_UNBOUNDED,
} Mode;

struct _BraidLineReceiver
{
  BraidLineReceiverCallbacks callbacks;
  gpointer user_data;
  gboolean crlf;
  gsize max_line_length;
  GByteArray *buffer;   /* a partial line */
  gsize scanned;        /* bytes of @buffer already searched for '\n' */
  Mode mode;
  gsize raw_remaining;
  gboolean stopped;
  guint feeding;        /* re-entrancy depth of feed() */
};

BraidLineReceiver *
braid_line_receiver_new (const gchar *delimiter,
                         gsize max_line_length,
                         const BraidLineReceiverCallbacks *callbacks,
                         gpointer user_data)
{
  BraidLineReceiver *self;

  g_return_val_if_fail (delimiter != NULL, NULL);
  g_return_val_if_fail (g_str_equal (delimiter, "\n") || g_str_equal (delimiter, "\r\n"), NULL);
  g_return_val_if_fail (max_line_length > 0, NULL);
  g_return_val_if_fail (callbacks != NULL, NULL);

  self = g_new0 (BraidLineReceiver, 1);
  self->callbacks = *callbacks;
  self->user_data = user_data;
  self->crlf = g_str_equal (delimiter, "\r\n");
  self->max_line_length = max_line_length;
  self->buffer = g_byte_array_new ();
  self->mode = MODE_LINE;
  return self;
}

void
braid_line_receiver_free (BraidLineReceiver *self)
{
  if (self == NULL)
    return;
  g_byte_array_unref (self->buffer);
  g_free (self);
}

void
braid_line_receiver_set_raw_mode (BraidLineReceiver *self, gsize n_bytes)
{
  g_return_if_fail (self != NULL);
  self->mode = MODE_RAW;
  self->raw_remaining = n_bytes;
}

void
braid_line_receiver_set_raw_mode_unbounded (BraidLineReceiver *self)
{
  g_return_if_fail (self != NULL);
  self->mode = MODE_RAW_UNBOUNDED;
}

void
braid_line_receiver_set_line_mode (BraidLineReceiver *self)
{
  g_return_if_fail (self != NULL);
  self->mode = MODE_LINE;
}

void
braid_line_receiver_stop (BraidLineReceiver *self)
{
  g_return_if_fail (self != NULL);
  self->stopped = TRUE;
  g_byte_array_set_size (self->buffer, 0);
  self->scanned = 0;
}

gboolean
braid_line_receiver_is_stopped (BraidLineReceiver *self)
{
  g_return_val_if_fail (self != NULL, TRUE);

  return self->stopped;
}

gsize
braid_line_receiver_get_buffered (BraidLineReceiver *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->buffer->len;
}

GBytes *
braid_line_receiver_steal_buffer (BraidLineReceiver *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  GBytes *bytes = g_bytes_new (self->buffer->data, self->buffer->len);

  g_byte_array_set_size (self->buffer, 0);
  self->scanned = 0;
  return bytes;
}

/* Delivers the line that ends at the '\n' at @newline_index of the buffer
 * and drops it from the buffer. */
static void
deliver_buffered_line (BraidLineReceiver *self, gsize newline_index)
{
  g_autoptr(GByteArray) line = self->buffer;
  gsize len = newline_index;

  /* Keep the rest: the callback may switch to raw mode, and the raw
   * block starts right after this line. */
  self->buffer = g_byte_array_new ();
  g_byte_array_append (self->buffer, line->data + newline_index + 1,
                       line->len - newline_index - 1);
  self->scanned = 0;

  if (self->crlf && len > 0 && line->data[len - 1] == '\r')
    len--;
  line->data[len] = '\0';  /* overwrites the delimiter: lines are C strings */
  self->callbacks.line_received (self->user_data, (const gchar *) line->data, len);
}

static gboolean
line_too_long (BraidLineReceiver *self, gsize seen)
{
  braid_line_receiver_stop (self);
  if (self->callbacks.line_too_long != NULL)
    self->callbacks.line_too_long (self->user_data, seen);
  return FALSE;
}

/* Processes what is buffered in line mode.  Returns FALSE when it needs
 * more input, TRUE when it delivered something (the mode may have
 * changed). */
static gboolean
process_buffered_line (BraidLineReceiver *self)
{
  const guint8 *nl;
  gsize limit = self->max_line_length + (self->crlf ? 2 : 1);

  nl = self->buffer->len > self->scanned
         ? memchr (self->buffer->data + self->scanned, '\n', self->buffer->len - self->scanned)
         : NULL;
  if (nl == NULL)
    {
      self->scanned = self->buffer->len;
      if (self->buffer->len >= limit)
        return line_too_long (self, self->buffer->len);
      return FALSE;
    }
  if ((gsize) (nl - self->buffer->data) + 1 > limit)
    return line_too_long (self, (gsize) (nl - self->buffer->data));
  deliver_buffered_line (self, (gsize) (nl - self->buffer->data));
  return TRUE;
}

/* In raw mode, hands out buffered bytes first. */
static gboolean
process_buffered_raw (BraidLineReceiver *self)
{
  gsize n;
  g_autoptr(GByteArray) taken = NULL;

  if (self->buffer->len == 0)
    return FALSE;
  n = self->mode == MODE_RAW_UNBOUNDED ? self->buffer->len
                                        : MIN (self->raw_remaining, self->buffer->len);
  taken = self->buffer;
  self->buffer = g_byte_array_new ();
  g_byte_array_append (self->buffer, taken->data + n, taken->len - n);
  self->scanned = 0;
  if (self->mode == MODE_RAW)
    {
      self->raw_remaining -= n;
      if (self->raw_remaining == 0)
        self->mode = MODE_LINE;
      self->callbacks.raw_received (self->user_data, taken->data, n, self->raw_remaining);
    }
  else
    self->callbacks.raw_received (self->user_data, taken->data, n, 0);
  return TRUE;
}

void
braid_line_receiver_feed (BraidLineReceiver *self, const guint8 *data, gsize len)
{
  g_return_if_fail (self != NULL);
  if (self->stopped || len == 0)
    return;

  /* Everything goes through the buffer: simple, and the cost is one copy
   * per byte, which the line scan needs anyway. */
  g_byte_array_append (self->buffer, data, (guint) len);
  if (self->feeding > 0)
    return;  /* the outer feed loop will see the new bytes */

  self->feeding++;
  while (!self->stopped)
    {
      gboolean progressed;

      if (self->mode == MODE_LINE)
        progressed = process_buffered_line (self);
      else if (self->mode == MODE_RAW && self->raw_remaining == 0)
        {
          self->mode = MODE_LINE;
          progressed = TRUE;
        }
      else
        progressed = process_buffered_raw (self);
      if (!progressed)
        break;
    }
  self->feeding--;
}
