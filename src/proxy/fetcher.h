/* braid — fetching URLs, behind an interface: libsoup for real, a scripted
 * fake for tests.  The body comes as a GInputStream that the proxy reads a
 * chunk at a time, which is what gives it back pressure. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BRAID_TYPE_FETCHER (braid_fetcher_get_type ())
G_DECLARE_INTERFACE (BraidFetcher, braid_fetcher, BRAID, FETCHER, GObject)

struct _BraidFetcherInterface
{
  GTypeInterface g_iface;

  void (*fetch_async) (BraidFetcher *self, const gchar *url, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data);
  GInputStream *(*fetch_finish) (BraidFetcher *self, GAsyncResult *result, guint *status, GError **error);
};

/* Fetches @url, following redirects.  Finish gives the body stream and the
 * final HTTP status; errors in BRAID_PROXY_ERROR (UPSTREAM, TIMED_OUT) or
 * G_IO_ERROR_CANCELLED. */
void braid_fetcher_fetch_async (BraidFetcher *self, const gchar *url, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
GInputStream *braid_fetcher_fetch_finish (BraidFetcher *self, GAsyncResult *result,
                                          guint *status, GError **error);

G_END_DECLS
