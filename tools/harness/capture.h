/* braid — a recording relay: stands between a real client and a real server
 * and writes down every chunk each side sends. */
#pragma once

#include "fixture.h"
#include "reactor.h"

G_BEGIN_DECLS

typedef struct _BraidCapture BraidCapture;

/* Called once per finished connection with a new fixture (transfer full). */
typedef void (*BraidCaptureDoneFunc) (BraidFixture *fixture, gpointer user_data);

BraidCapture *braid_capture_new (BraidReactor *reactor,
                                 const gchar *upstream_endpoint,
                                 BraidCaptureDoneFunc done,
                                 gpointer user_data);
void braid_capture_free (BraidCapture *capture);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidCapture, braid_capture_free)

/* %replace rules added to every fixture this capture writes. */
gboolean braid_capture_add_rule (BraidCapture *capture, const gchar *pattern,
                                 const gchar *replacement, GError **error);
void braid_capture_add_header (BraidCapture *capture, const gchar *key, const gchar *value);

/* (transfer full) */
BraidListener *braid_capture_listen (BraidCapture *capture, const gchar *endpoint,
                                     GError **error);
/* Connections still open. */
guint braid_capture_get_n_active (BraidCapture *capture);

/* The rules that memcached fixtures need: cas unique values, stats values,
 * version strings. */
gboolean braid_capture_add_memcached_rules (BraidCapture *capture, GError **error);

G_END_DECLS
