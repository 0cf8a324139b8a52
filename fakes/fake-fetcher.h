/* braid — a scripted BraidFetcher for tests: each URL answers with a status
 * and body after a simulated delay on the reactor clock, optionally in
 * chunks spaced in time, fails, or redirects.
 *
 * Like the real fetcher, it checks every connection it "opens" (the first
 * URL's and each redirect's) against its address policy before anything
 * else: a refused one fails at once with the policy's error, whether or
 * not the URL has a script, and is not counted as a fetch. */
#pragma once

#include "reactor.h"
#include "fetcher.h"
#include "address-policy.h"

G_BEGIN_DECLS

#define BRAID_TYPE_FAKE_FETCHER (braid_fake_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (BraidFakeFetcher, braid_fake_fetcher, BRAID, FAKE_FETCHER, GObject)

BraidFakeFetcher *braid_fake_fetcher_new (BraidReactor *reactor);

/* @url answers @status and @body @delay_us after the fetch starts; the body
 * then arrives in @chunk_size pieces, one every @chunk_interval_us (0 for
 * all at once). */
void braid_fake_fetcher_add (BraidFakeFetcher *self, const gchar *url, guint status, GBytes *body,
                             gint64 delay_us, gsize chunk_size, gint64 chunk_interval_us);
/* @url's answer (set with braid_fake_fetcher_add() first) carries the
 * response header field @name: @value (added to what is there, joined
 * with ", ", as a repeated field).  braid_fetcher_dup_response_headers()
 * hands over every field set (names in lower case). */
void braid_fake_fetcher_add_header (BraidFakeFetcher *self, const gchar *url, const gchar *name,
                                    const gchar *value);
/* @url fails with @error after @delay_us. */
void braid_fake_fetcher_add_error (BraidFakeFetcher *self, const gchar *url, const GError *error,
                                   gint64 delay_us);
/* @url answers with a redirect to @location (absolute) after @delay_us:
 * the fetch goes on there, as a new connection, checked again. */
void braid_fake_fetcher_add_redirect (BraidFakeFetcher *self, const gchar *url, const gchar *location,
                                      gint64 delay_us);
/* @url's body (added with braid_fake_fetcher_add) dies with @error once
 * @n_bytes have been read: the upstream connection broke half-way. */
void braid_fake_fetcher_set_fail_after (BraidFakeFetcher *self, const gchar *url, gsize n_bytes,
                                        const GError *error);
/* @host resolves to @address.  By default a host that is an address
 * literal resolves to itself, and any other to 192.0.2.1 (a documentation
 * address the default policy lets through). */
void braid_fake_fetcher_set_host_address (BraidFakeFetcher *self, const gchar *host, const gchar *address);
/* The policy connections are checked against (a reference is kept);
 * braid_address_policy_new() until this is called. */
void braid_fake_fetcher_set_address_policy (BraidFakeFetcher *self, BraidAddressPolicy *policy);
/* Unknown URLs fail with BRAID_PROXY_ERROR_UPSTREAM. */
guint braid_fake_fetcher_get_n_fetches (BraidFakeFetcher *self, const gchar *url);
guint braid_fake_fetcher_get_n_active (BraidFakeFetcher *self);
/* Fetches whose cancellable was cancelled by the time their answer was
 * due (they ended with G_IO_ERROR_CANCELLED). */
guint braid_fake_fetcher_get_n_cancelled (BraidFakeFetcher *self);

G_END_DECLS
