/* braid — a scripted BraidFetcher for tests: each URL answers with a status
 * and body after a simulated delay on the reactor clock, optionally in
 * chunks spaced in time, or fails. */
#pragma once

#include "reactor.h"
#include "fetcher.h"

G_BEGIN_DECLS

#define BRAID_TYPE_FAKE_FETCHER (braid_fake_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (BraidFakeFetcher, braid_fake_fetcher, BRAID, FAKE_FETCHER, GObject)

BraidFakeFetcher *braid_fake_fetcher_new (BraidReactor *reactor);

/* @url answers @status and @body @delay_us after the fetch starts; the body
 * then arrives in @chunk_size pieces, one every @chunk_interval_us (0 for
 * all at once). */
void braid_fake_fetcher_add (BraidFakeFetcher *self, const gchar *url, guint status, GBytes *body,
                             gint64 delay_us, gsize chunk_size, gint64 chunk_interval_us);
/* @url fails with @error after @delay_us. */
void braid_fake_fetcher_add_error (BraidFakeFetcher *self, const gchar *url, const GError *error,
                                   gint64 delay_us);
/* Unknown URLs fail with BRAID_PROXY_ERROR_UPSTREAM. */
guint braid_fake_fetcher_get_n_fetches (BraidFakeFetcher *self, const gchar *url);
guint braid_fake_fetcher_get_n_active (BraidFakeFetcher *self);

G_END_DECLS
