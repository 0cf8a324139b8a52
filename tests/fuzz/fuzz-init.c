/* braid — libFuzzer only: before the first input, keep GLib's messages
 * (the client's "Not a memcached reply", the proxy's access log) off
 * stderr, where they would slow the fuzzer to a crawl and bury its
 * report.  Warnings and criticals still print (criticals abort under
 * G_DEBUG=fatal-criticals, which `tools/braid-dev fuzz` sets);
 * BRAID_FUZZ_VERBOSE=1 shows everything. */
#include <glib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);

static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if ((level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) != 0)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  if (g_strcmp0 (g_getenv ("BRAID_FUZZ_VERBOSE"), "1") != 0)
    g_log_set_writer_func (quiet_writer, NULL, NULL);
  return 0;
}
