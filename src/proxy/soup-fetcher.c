/* braid — fetching with libsoup 3.
 *
 * libsoup queues requests beyond max-conns-per-host (2 by default) and
 * max-conns (10): left alone it would serialise a proxy's concurrent
 * fetches to one host, so both come from the options.  Redirects are
 * followed by libsoup itself. */
#include "soup-fetcher.h"
#include "proxy-error.h"

#include <libsoup/soup.h>

struct _BraidSoupFetcher
{
  GObject parent_instance;
  SoupSession *session;   /* (owned) */
};

static void braid_soup_fetcher_iface_init (BraidFetcherInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (BraidSoupFetcher, braid_soup_fetcher, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (BRAID_TYPE_FETCHER, braid_soup_fetcher_iface_init))

static void
braid_soup_fetcher_finalize (GObject *object)
{
  g_clear_object (&BRAID_SOUP_FETCHER (object)->session);
  G_OBJECT_CLASS (braid_soup_fetcher_parent_class)->finalize (object);
}

static void
braid_soup_fetcher_class_init (BraidSoupFetcherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = braid_soup_fetcher_finalize;
}

static void
braid_soup_fetcher_init (BraidSoupFetcher *self)
{
}

BraidSoupFetcher *
braid_soup_fetcher_new (const BraidSoupFetcherOptions *options)
{
  BraidSoupFetcher *self = g_object_new (BRAID_TYPE_SOUP_FETCHER, NULL);
  BraidSoupFetcherOptions defaults = BRAID_SOUP_FETCHER_OPTIONS_INIT;

  if (options == NULL)
    options = &defaults;
  self->session = soup_session_new_with_options ("max-conns", MAX (options->max_conns, 1u),
                                                 "max-conns-per-host", MAX (options->max_conns_per_host, 1u),
                                                 "timeout", options->timeout_s,
                                                 "user-agent", options->user_agent != NULL ? options->user_agent
                                                                                          : "braid-proxy/" PACKAGE_VERSION,
                                                 NULL);
  return self;
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);

  if (stream == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_TIMED_OUT, "%s", error->message);
      else
        g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_UPSTREAM, "%s", error->message);
      return;
    }
  /* The status stays on the message, the task's data: finish reads it. */
  g_task_return_pointer (task, stream, g_object_unref);
}

static void
soup_fetch_async (BraidFetcher *fetcher, const gchar *url, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  BraidSoupFetcher *self = BRAID_SOUP_FETCHER (fetcher);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  SoupMessage *msg;

  g_task_set_source_tag (task, soup_fetch_async);
  msg = soup_message_new ("GET", url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, BRAID_PROXY_ERROR, BRAID_PROXY_ERROR_BAD_REQUEST, "Not a URL libsoup can fetch: %s", url);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, msg, g_object_unref);
  soup_session_send_async (self->session, msg, G_PRIORITY_DEFAULT, cancellable, on_sent, task);
}

/* @status is never NULL here (braid_fetcher_fetch_finish sees to it). */
static GInputStream *
soup_fetch_finish (BraidFetcher *fetcher, GAsyncResult *result, guint *status, GError **error)
{
  GInputStream *stream;

  g_return_val_if_fail (g_task_is_valid (result, fetcher), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == soup_fetch_async, NULL);

  stream = g_task_propagate_pointer (G_TASK (result), error);
  if (stream != NULL)
    *status = soup_message_get_status (g_task_get_task_data (G_TASK (result)));
  return stream;
}

static void
braid_soup_fetcher_iface_init (BraidFetcherInterface *iface)
{
  iface->fetch_async = soup_fetch_async;
  iface->fetch_finish = soup_fetch_finish;
}
