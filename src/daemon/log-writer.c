/* braid — the daemons' log writer.
 *
 * GLib's default writer, to stderr, asks for every line whether stderr is
 * a terminal (an ioctl) and, through localtime(), whether the time zone
 * file changed (a stat), then formats the line through a GString,
 * strftime() and, in a locale that is not UTF-8, an iconv conversion
 * opened per line: a third of the instructions braid-proxy spent per
 * cache hit went to its access-log line.  Here the terminal is asked
 * once, TZ is pinned (braid_daemon_log_setup), and a message line that
 * GLib would print as it is (printable ASCII) is formatted with a few
 * copies, its local time computed once a second.  Everything else goes
 * through GLib: warnings and worse (the default writer applies G_DEBUG's
 * fatal masks), lines GLib escapes or converts, colour, and everything
 * when stderr is the journal.
 *
 * Once braid_daemon_log_batch_in() names the daemon's main context, the
 * plain lines its thread writes during one main-loop iteration wait in
 * stderr's buffer and leave in one write(2) when the context next
 * prepares to poll, right after that iteration's dispatch: under load,
 * one system call for all the access-log lines of an iteration instead of
 * one per line.  Everything else still flushes at once (and takes the
 * waiting lines with it, in order). */
#include "log-writer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MESSAGE_LEVEL_PREFIX "-Message: "
#define HMS_LEN 8               /* "HH:MM:SS" */
#define STAMP_LEN (HMS_LEN + 4) /* "HH:MM:SS.mmm" */
#define LINE_BUFFER_SIZE 2048
/* stderr's buffer: lines beyond it in one iteration leave at once */
#define BATCH_BUFFER_SIZE (64 * 1024)

/* The context whose thread batches its lines (braid_daemon_log_batch_in),
 * and whether lines wait; only that thread touches @lines_waiting. */
static GMainContext *batch_context;
static gboolean lines_waiting;
static gboolean flush_source_attached;

/* The last second this thread formatted: localtime_r() and strftime()
 * run once a second, not once a line. */
static _Thread_local struct {
  gint64 second;
  gboolean valid;
  gchar hms[HMS_LEN + 1];
} last_second;

static const gchar *
local_hms (gint64 second)
{
  if (!last_second.valid || last_second.second != second)
    {
      time_t t = (time_t) second;
      struct tm tm;

      localtime_r (&t, &tm);
      strftime (last_second.hms, sizeof last_second.hms, "%H:%M:%S", &tm);
      last_second.second = second;
      last_second.valid = TRUE;
    }
  return last_second.hms;
}

/* TRUE if every byte of @text is printable ASCII: what GLib neither
 * escapes nor converts.  Its length in *@len. */
static gboolean
printable_ascii (const gchar *text, gsize *len)
{
  const gchar *p = text;

  for (; *p != '\0'; p++)
    if (*p < 0x20 || *p > 0x7e)
      return FALSE;
  *len = (gsize) (p - text);
  return TRUE;
}

static gchar *
append (gchar *out, const gchar *text, gsize len)
{
  memcpy (out, text, len);
  return out + len;
}

gsize
braid_log_format_message_line (gchar *buffer, gsize size, const gchar *domain, const gchar *message,
                               gint64 real_time_us)
{
  gsize domain_len, message_len, line_len;
  gint millis = (gint) ((real_time_us / 1000) % 1000);
  gchar *out = buffer;

  if (domain == NULL || message == NULL || !printable_ascii (message, &message_len))
    return 0;
  domain_len = strlen (domain);
  line_len = domain_len + strlen (MESSAGE_LEVEL_PREFIX) + STAMP_LEN + 2 + message_len + 1;
  if (line_len >= size)
    return 0;
  out = append (out, domain, domain_len);
  out = append (out, MESSAGE_LEVEL_PREFIX, strlen (MESSAGE_LEVEL_PREFIX));
  out = append (out, local_hms (real_time_us / G_USEC_PER_SEC), HMS_LEN);
  *out++ = '.';
  *out++ = (gchar) ('0' + millis / 100);
  *out++ = (gchar) ('0' + millis / 10 % 10);
  *out++ = (gchar) ('0' + millis % 10);
  out = append (out, ": ", 2);
  out = append (out, message, message_len);
  *out++ = '\n';
  *out = '\0';
  return line_len;
}

/* The value of field @key, or NULL.  Only NUL-terminated values (length
 * -1) count: GLib gives strings so. */
static const gchar *
field_value (const GLogField *fields, gsize n_fields, const gchar *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0 && strcmp (fields[i].key, key) == 0)
      return fields[i].value;
  return NULL;
}

/* What GLib asks per line, asked once. */
typedef struct {
  gboolean to_journal;
  gboolean use_color;
  gboolean prefixed;   /* G_MESSAGES_PREFIXED: GLib adds "(prgname:pid): " */
} WriterSetup;

static const WriterSetup *
writer_setup (void)
{
  static gsize checked = 0;
  static WriterSetup setup;

  if (g_once_init_enter (&checked))
    {
      setup.to_journal = g_log_writer_is_journald (fileno (stderr));
      setup.use_color = g_log_writer_supports_color (fileno (stderr));
      setup.prefixed = g_getenv ("G_MESSAGES_PREFIXED") != NULL;
      g_once_init_leave (&checked, 1);
    }
  return &setup;
}

/* The batched lines leave when the context prepares to poll. */
static gboolean
flush_prepare (GSource *source, gint *timeout)
{
  if (lines_waiting)
    {
      lines_waiting = FALSE;
      fflush (stderr);
    }
  *timeout = -1;
  return FALSE;
}

static gboolean
flush_check (GSource *source)
{
  return FALSE;
}

static gboolean
flush_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_source_funcs = { flush_prepare, flush_check, flush_dispatch, NULL, NULL, NULL };

/* The flush source goes on the context with the first line it batches,
 * not before: a daemon that logs nothing in its loop (braid-memcached
 * at its default verbosity) pays nothing for it at each iteration, as
 * every attached source costs (prepared and checked each time). */
static void
attach_flush_source (void)
{
  GSource *source;

  if (flush_source_attached)
    return;
  source = g_source_new (&flush_source_funcs, sizeof (GSource));
  g_source_set_static_name (source, "braid log flush");
  /* First in line: GLib stops preparing lower priorities once a source
   * is ready, and this one must prepare on every iteration. */
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_attach (source, batch_context);
  g_source_unref (source);
  flush_source_attached = TRUE;
}

/* A plain message line in one write; FALSE if GLib must format it. */
static gboolean
write_plain_message (const WriterSetup *setup, const gchar *domain, const GLogField *fields, gsize n_fields)
{
  gchar line[LINE_BUFFER_SIZE];
  gsize len;

  if (setup->use_color || setup->prefixed)
    return FALSE;
  len = braid_log_format_message_line (line, sizeof line, domain, field_value (fields, n_fields, "MESSAGE"),
                                       g_get_real_time ());
  if (len == 0)
    return FALSE;
  fwrite (line, 1, len, stderr);
  if (batch_context != NULL && g_main_context_is_owner (batch_context))
    {
      lines_waiting = TRUE;
      attach_flush_source ();
    }
  else
    fflush (stderr);
  return TRUE;
}

void
braid_daemon_log_batch_in (GMainContext *context)
{
  g_return_if_fail (context != NULL);
  g_return_if_fail (batch_context == NULL);

  /* Before anything is written: a buffered stderr, which every writer
   * but this one flushes after each line as GLib's does. */
  fflush (stderr);
  setvbuf (stderr, NULL, _IOFBF, BATCH_BUFFER_SIZE);
  batch_context = g_main_context_ref (context);
}

GLogWriterOutput
braid_daemon_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const WriterSetup *setup = writer_setup ();
  const gchar *domain;
  g_autofree gchar *text = NULL;
  FILE *stream;

  if (setup->to_journal || (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0)
    return g_log_writer_default (level, fields, n_fields, user_data);
  domain = field_value (fields, n_fields, "GLIB_DOMAIN");
  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  if ((level & G_LOG_LEVEL_MESSAGE) != 0 && write_plain_message (setup, domain, fields, n_fields))
    return G_LOG_WRITER_HANDLED;
  /* where the default writer puts them: messages on stderr, info and
   * debug on stdout */
  stream = (level & G_LOG_LEVEL_MESSAGE) != 0 ? stderr : stdout;
  text = g_log_writer_format_fields (level, fields, n_fields, setup->use_color);
  fprintf (stream, "%s\n", text);
  fflush (stream);
  return G_LOG_WRITER_HANDLED;
}

/* With TZ unset, glibc's localtime() stats /etc/localtime on every call;
 * with it set to that same file, once.  A daemon does not follow a time
 * zone change while it runs anyway (the journal stamps its own time). */
void
braid_daemon_log_setup (void)
{
  g_setenv ("TZ", ":/etc/localtime", FALSE);
  g_log_set_writer_func (braid_daemon_log_writer, NULL, NULL);
}
