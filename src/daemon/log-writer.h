/* braid — the daemons' log writer: GLib's default one, except that plain
 * message lines on stderr (the access log) cost one write(2) and no more
 * formatting than they need. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Installs the writer (g_log_set_writer_func) and pins TZ so that
 * localtime() does not stat the zone file per call.  Once, early in main. */
void braid_daemon_log_setup (void);

/* From now on, plain message lines written by the thread that runs
 * @context leave when @context next prepares to poll, together (one
 * write(2) for an iteration's access-log lines); other lines, and lines
 * from other threads, are written at once.  Once, before the loop runs. */
void braid_daemon_log_batch_in (GMainContext *context);

/* The writer itself, for g_log_set_writer_func(). */
GLogWriterOutput braid_daemon_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                          gpointer user_data);

/* Formats a G_LOG_LEVEL_MESSAGE line of @domain exactly as
 * g_log_writer_format_fields() does without colour and with no
 * G_MESSAGES_PREFIXED ("DOMAIN-Message: HH:MM:SS.mmm: MESSAGE"), with a
 * newline after it and a NUL after that, at @real_time_us (microseconds
 * since the epoch, shown in local time).  Returns the line's length
 * without the NUL, or 0 when it is a line GLib would format differently
 * (no domain; a byte of @message outside printable ASCII, which GLib
 * escapes or converts to the locale's charset) or the line does not fit
 * in @size bytes: the caller then asks GLib. */
gsize braid_log_format_message_line (gchar *buffer, gsize size, const gchar *domain, const gchar *message,
                                     gint64 real_time_us);

G_END_DECLS
