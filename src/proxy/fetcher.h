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
  /* (nullable): NULL for a fetcher that hands over no header fields. */
  GHashTable *(*dup_response_headers) (BraidFetcher *self, GAsyncResult *result);
};

/* Fetches @url, following redirects.
 *
 * Finish returns (transfer full) the body stream and sets @status
 * ((out) (optional)) to the final HTTP status, which comes from the fetch
 * itself, not from the stream; on failure it returns NULL, sets @status
 * to 0 and @error in BRAID_PROXY_ERROR (BAD_REQUEST, UPSTREAM, TIMED_OUT,
 * FORBIDDEN) or G_IO_ERROR_CANCELLED.  Implementations tag their GTask
 * with their fetch_async as source tag and check it in fetch_finish.
 *
 * Implementations check the resolved address of every connection they
 * open, redirects included, against a BraidAddressPolicy before sending
 * anything, and fail a refused fetch with BRAID_PROXY_ERROR_FORBIDDEN and
 * the policy's message, whatever the target would have answered. */
void braid_fetcher_fetch_async (BraidFetcher *self, const gchar *url, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
GInputStream *braid_fetcher_fetch_finish (BraidFetcher *self, GAsyncResult *result,
                                          guint *status, GError **error);

/* (transfer full) (nullable): the final response's header fields that the
 * cache policy reads (BRAID_CACHE_POLICY_HEADERS in cache-policy.h, at
 * least), for a @result whose fetch_finish succeeded: field name in lower
 * case → value, a repeated field's values joined with ", ".  NULL when
 * the fetcher hands over none, which the policy reads as a response with
 * no such field. */
GHashTable *braid_fetcher_dup_response_headers (BraidFetcher *self, GAsyncResult *result);

G_END_DECLS
