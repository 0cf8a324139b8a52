/* braid — the libsoup 3 fetcher: one SoupSession. */
#pragma once

#include "fetcher.h"

G_BEGIN_DECLS

#define BRAID_TYPE_SOUP_FETCHER (braid_soup_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (BraidSoupFetcher, braid_soup_fetcher, BRAID, SOUP_FETCHER, GObject)

typedef struct {
  guint max_conns;           /* SoupSession:max-conns (libsoup's default 10) */
  guint max_conns_per_host;  /* SoupSession:max-conns-per-host (default 2) */
  guint timeout_s;           /* I/O timeout, 0 for none */
  const gchar *user_agent;
} BraidSoupFetcherOptions;

#define BRAID_SOUP_FETCHER_OPTIONS_INIT { 1024, 256, 30, NULL }

BraidSoupFetcher *braid_soup_fetcher_new (const BraidSoupFetcherOptions *options);

G_END_DECLS
