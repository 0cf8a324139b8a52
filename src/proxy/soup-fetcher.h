/* braid — the libsoup 3 fetcher: SoupSessions sharing the fetches and the limits. */
#pragma once

#include "fetcher.h"
#include "address-policy.h"

G_BEGIN_DECLS

#define BRAID_TYPE_SOUP_FETCHER (braid_soup_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (BraidSoupFetcher, braid_soup_fetcher, BRAID, SOUP_FETCHER, GObject)

typedef struct {
  guint max_conns;           /* upstream connections in all (libsoup's default 10) */
  guint max_conns_per_host;  /* to one host (libsoup's default 2); both split among the sessions */
  guint timeout_s;           /* I/O timeout, 0 for none */
  const gchar *user_agent;
  /* (nullable): checked on the resolved address of every connection,
   * redirects included; NULL for braid_address_policy_new()'s defaults.
   * The fetcher keeps a reference. */
  BraidAddressPolicy *address_policy;
  /* TRUE: the sessions use @proxy_resolver (nullable: no proxy at all,
   * not even a lookup); FALSE: libsoup's default, the system's resolver,
   * which may ask a desktop service in a thread for every connection. */
  gboolean use_proxy_resolver;
  GProxyResolver *proxy_resolver;
  /* Threads the sessions run in, each with a share of them and a
   * GMainContext of its own (at most one per session); 0: the sessions
   * run in the context braid_soup_fetcher_new() is called in, and so do
   * their callbacks. */
  guint threads;
} BraidSoupFetcherOptions;

#define BRAID_SOUP_FETCHER_OPTIONS_INIT { 1024, 1024, 30, NULL, NULL, FALSE, NULL, 4 }

BraidSoupFetcher *braid_soup_fetcher_new (const BraidSoupFetcherOptions *options);

G_END_DECLS
