/* braid-timing — the tutorial's timing client: requests every URL through
 * the proxy at once and prints, for each, the server time (until the first
 * byte of the body arrived), the client time (until the proxy closed), and
 * the totals: how long the whole batch took, against the sum a one-at-a-time
 * proxy would have cost.
 *
 *   braid-timing [--proxy tcp:127.0.0.1:8000] [--svg FILE] URL...
 *
 * --svg FILE also draws the results as a chart (timing-svg.c). */
#include "callback-protocol.h"
#include "glib-reactor.h"
#include "timing-svg.h"

#include <stdio.h>
#include <string.h>

/* One fetch: the user data of its BraidCallbackProtocol, owned by main. */
typedef struct
{
  BraidReactor *reactor;
  const gchar *url;
  gint64 started, first_byte, finished;
  gsize bytes;
  guint *remaining;
} TimingFetch;

static void
fetch_made (BraidProtocol *p, BraidTransport *t, gpointer user_data)
{
  TimingFetch *f = user_data;

  braid_transport_write_printf (t, "%s\r\n", f->url);
}

static void
fetch_data (BraidProtocol *p, const guint8 *data, gsize len, gpointer user_data)
{
  TimingFetch *f = user_data;

  if (f->bytes == 0)
    f->first_byte = braid_reactor_now (f->reactor);
  f->bytes += len;
}

static void
fetch_lost (BraidProtocol *p, const GError *reason, gpointer user_data)
{
  TimingFetch *f = user_data;

  f->finished = braid_reactor_now (f->reactor);
  (*f->remaining)--;
}

static const BraidProtocolCallbacks fetch_callbacks = {
  .connection_made = fetch_made,
  .data_received = fetch_data,
  .connection_lost = fetch_lost,
};

typedef struct {
  BraidReactor *reactor;
  const gchar *url;
  gint64 started;
  guint *remaining;
  TimingFetch **slot;
} Spec;

static BraidProtocol *
build_fetch (GSocketAddress *a, gpointer data)
{
  Spec *s = data;
  TimingFetch *f = g_new0 (TimingFetch, 1);

  f->reactor = s->reactor;
  f->url = s->url;
  f->started = s->started;
  f->remaining = s->remaining;
  *s->slot = f;
  return BRAID_PROTOCOL (braid_callback_protocol_new (&fetch_callbacks, f, NULL));
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Spec *s = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidProtocol) p = braid_reactor_connect_finish (BRAID_REACTOR (source), result, &error);

  if (p == NULL)
    {
      g_printerr ("braid-timing: %s: %s\n", s->url, error->message);
      (*s->remaining)--;
    }
}

/* The chart of the batch, titled with the proxy and the time it ran. */
static gboolean
write_svg (const gchar *path, const BraidTimingResult *results, guint n, const gchar *proxy,
           GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *when = g_date_time_format (now, "%Y-%m-%d %H:%M:%S UTC");
  g_autofree gchar *title = g_strdup_printf ("braid-timing: %u URLs at once through %s, %s", n, proxy, when);
  g_autofree gchar *svg = braid_timing_svg_render (results, n, title);

  return g_file_set_contents (path, svg, -1, error);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *proxy = NULL;
  g_autofree gchar *svg_path = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    { "proxy", 'p', 0, G_OPTION_ARG_STRING, &proxy, "The proxy (default tcp:127.0.0.1:8000)", "ENDPOINT" },
    { "svg", 0, 0, G_OPTION_ARG_FILENAME, &svg_path, "Also draw the results as an SVG chart in FILE", "FILE" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Show the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("URL... — time concurrent fetches through braid-proxy");
  g_autoptr(GError) error = NULL;
  g_autoptr(BraidGlibReactor) reactor = NULL;
  g_autofree Spec *specs = NULL;
  g_autofree TimingFetch **fetches = NULL;
  g_autofree BraidTimingResult *results = NULL;
  guint remaining, n;
  gint64 start, end = 0, sum = 0;
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("braid-timing: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("braid-timing %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc < 2)
    {
      g_printerr ("usage: braid-timing [--proxy ENDPOINT] [--svg FILE] URL...\n");
      return 2;
    }
  if (proxy == NULL)
    proxy = g_strdup ("tcp:127.0.0.1:8000");
  n = (guint) argc - 1;
  remaining = n;
  reactor = braid_glib_reactor_new (NULL);
  specs = g_new0 (Spec, n);
  fetches = g_new0 (TimingFetch *, n);
  start = braid_reactor_now (BRAID_REACTOR (reactor));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(BraidProtocolFactory) factory = NULL;

      specs[i].reactor = BRAID_REACTOR (reactor);
      specs[i].url = argv[i + 1];
      specs[i].started = start;
      specs[i].remaining = &remaining;
      specs[i].slot = &fetches[i];
      factory = braid_protocol_factory_new (build_fetch, &specs[i], NULL);
      braid_reactor_connect_async (BRAID_REACTOR (reactor), proxy, factory, NULL, on_connected, &specs[i]);
    }
  while (remaining > 0)
    g_main_context_iteration (NULL, TRUE);

  results = g_new0 (BraidTimingResult, n);
  g_print ("%-48s %12s %12s %10s\n", "site", "server time", "client time", "bytes");
  for (guint i = 0; i < n; i++)
    {
      TimingFetch *f = fetches[i];

      results[i].url = argv[i + 1];
      results[i].failed = f == NULL;
      if (f == NULL)
        {
          g_print ("%-48s %12s %12s %10s\n", argv[i + 1], "-", "-", "failed");
          status = 1;
          continue;
        }
      g_print ("%-48s %10.3f s %10.3f s %10" G_GSIZE_FORMAT "\n", f->url,
               f->bytes > 0 ? (gdouble) (f->first_byte - start) / G_USEC_PER_SEC : 0.0,
               (gdouble) (f->finished - start) / G_USEC_PER_SEC, f->bytes);
      results[i].first_byte_us = f->first_byte - start;
      results[i].finished_us = f->finished - start;
      results[i].bytes = f->bytes;
      if (f->bytes == 0)
        status = 1;
      end = MAX (end, f->finished);
      sum += f->finished - start;
      g_free (f);
    }
  g_print ("%-48s %12s %10.3f s\n", "all at once (this proxy)", "", (gdouble) (end - start) / G_USEC_PER_SEC);
  g_print ("%-48s %12s %10.3f s\n", "one after another (sum)", "", (gdouble) sum / G_USEC_PER_SEC);
  if (svg_path != NULL && !write_svg (svg_path, results, n, proxy, &error))
    {
      g_printerr ("braid-timing: %s\n", error->message);
      return 2;
    }
  return status;
}
