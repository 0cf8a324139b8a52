/* braid — a flight: the one upstream fetch that every concurrent request
 * for a URL shares.  Private: not installed.
 *
 * A flight knows nothing of requests or of the proxy: its clients are
 * opaque pointers with a BraidProxyFlightClientFuncs table, and its owner
 * hears of the end through a BraidProxyFlightDoneFunc. */
#pragma once

#include "fetcher.h"
#include "proxy-settings.h"

G_BEGIN_DECLS

typedef struct _BraidProxyFlight BraidProxyFlight;

/* What a flight asks of each client on it. */
typedef struct {
  /* A piece of the body: the same GBytes goes to every client, which
   * keeps a reference if it needs one. */
  void (*write) (gpointer client, GBytes *chunk);
  /* Bytes written and not yet sent.  The flight reads upstream only while
   * the least backlogged client is within client_buffer_limit; when the
   * flight keeps nothing for the cache, a client more than
   * client_buffer_limit behind that one is cut off (finish() with a
   * problem).  Call braid_proxy_flight_client_drained() when it shrinks. */
  gsize (*get_backlog) (gpointer client);
  /* The client is done with the flight: it ends with @status; @problem is
   * NULL when the body was whole, else why it was not (the client must
   * then abort its connection, never close it cleanly). */
  void (*finish) (gpointer client, guint status, const gchar *problem);
} BraidProxyFlightClientFuncs;

typedef enum {
  BRAID_PROXY_FLIGHT_RESULT_COMPLETE,        /* the whole body arrived */
  BRAID_PROXY_FLIGHT_RESULT_UPSTREAM_ERROR,  /* the fetch or a read failed */
  BRAID_PROXY_FLIGHT_RESULT_TOO_LARGE,       /* the body passed max_body: cut off */
  BRAID_PROXY_FLIGHT_RESULT_REFUSED,         /* the address policy refused a connection */
  BRAID_PROXY_FLIGHT_RESULT_ABANDONED,       /* every client left, nothing to cache: cancelled */
} BraidProxyFlightResult;

/* Called once when the flight is over, before its clients are finished
 * and the flight is freed: the owner forgets the flight here (nobody may
 * join it any more) and may read its URL, status and body during the
 * call, not after. */
typedef void (*BraidProxyFlightDoneFunc) (BraidProxyFlight *flight, BraidProxyFlightResult result,
                                          gpointer user_data);

typedef struct {
  gsize max_body;              /* larger bodies are cut off */
  gsize read_chunk;            /* upstream read size */
  gsize client_buffer_limit;   /* see get_backlog above */
  gsize keep_limit;            /* keep the whole body (for the cache) up to this size; 0: keep nothing */
  gsize max_buffered;          /* stop keeping once stats->buffered would pass this (0: no limit) */
  BraidProxyStats *stats;      /* (nullable): buffered, slow_clients are counted here */
} BraidProxyFlightLimits;

/* Starts fetching @url with @fetcher.  The flight frees itself once
 * @done has returned. */
BraidProxyFlight *braid_proxy_flight_start (BraidFetcher *fetcher, const gchar *url,
                                            const BraidProxyFlightLimits *limits,
                                            BraidProxyFlightDoneFunc done, gpointer user_data);
/* Whether a new client can still get the whole body: the flight is not
 * over and has dropped none of its chunks yet. */
gboolean braid_proxy_flight_is_joinable (BraidProxyFlight *self);
/* Puts @client on a joinable flight: it first gets every chunk that has
 * arrived so far (the same GBytes, not copies), then each new one.
 * @client_destroy is called on @client when the flight is freed. */
void braid_proxy_flight_add_client (BraidProxyFlight *self, const BraidProxyFlightClientFuncs *funcs,
                                    gpointer client, GDestroyNotify client_destroy);
/* @client left: it gets nothing more, not even finish(), and no longer
 * holds the flight back.  The flight goes on if it keeps its body for the
 * cache or has other clients; otherwise the fetch is cancelled and the
 * flight ends (BRAID_PROXY_FLIGHT_RESULT_ABANDONED) before this returns. */
void braid_proxy_flight_remove_client (BraidProxyFlight *self, gpointer client);
/* A client's backlog shrank: if the flight was waiting, it reads again. */
void braid_proxy_flight_client_drained (BraidProxyFlight *self);

const gchar *braid_proxy_flight_get_url (BraidProxyFlight *self);
/* The upstream HTTP status (0 until the fetch answered). */
guint braid_proxy_flight_get_status (BraidProxyFlight *self);
/* (transfer none) (nullable): the response header fields the fetcher
 * handed over (braid_fetcher_dup_response_headers()); NULL until the
 * fetch answered, or if it handed over none. */
GHashTable *braid_proxy_flight_get_response_headers (BraidProxyFlight *self);
/* Bytes of body received so far. */
gsize braid_proxy_flight_get_size (BraidProxyFlight *self);
/* Bytes of body the flight holds now. */
gsize braid_proxy_flight_get_held (BraidProxyFlight *self);
/* Whether the flight holds the whole body received so far (it keeps it
 * for the cache): only then is dup_body() allowed. */
gboolean braid_proxy_flight_has_whole_body (BraidProxyFlight *self);
/* (transfer full): the body received so far as one GBytes (the first
 * chunk itself when there is only one, else a copy). */
GBytes *braid_proxy_flight_dup_body (BraidProxyFlight *self);

G_END_DECLS
