/* braid — captured conversations ("fixtures"): parse, write, normalise.
 *
 * The format is documented in docs/fixtures.md.  In short:
 *
 *   # braid fixture 1
 *   @client memccp (libmemcached-tools 1.1.4)
 *   %replace "(?m)^(VALUE \S+ \d+ \d+) \d+" "\1 <cas>"
 *   > +0.000000 "set k 0 0 1\r\n"
 *   >           "v\r\n"
 *   < +0.000120 "STORED\r\n"
 *   > close
 *
 * One chunk per `>` (client to server) or `<` (server to client) line; a
 * line that starts with blanks and a quoted string continues the previous
 * chunk; `close` marks that side closing the connection. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BRAID_FIXTURE_ERROR_PARSE,
  BRAID_FIXTURE_ERROR_IO,
} BraidFixtureError;

#define BRAID_FIXTURE_ERROR (braid_fixture_error_quark ())
GQuark braid_fixture_error_quark (void);

typedef enum {
  BRAID_FIXTURE_CLIENT_TO_SERVER,
  BRAID_FIXTURE_SERVER_TO_CLIENT,
} BraidFixtureDirection;

typedef struct {
  BraidFixtureDirection direction;
  gboolean is_close;   /* this side closed; no data */
  gboolean has_time;
  gdouble time;        /* seconds since the connection opened */
  GBytes *data;        /* (owned) (nullable when is_close) */
  guint line;          /* where it starts in the file (0 if built) */
} BraidFixtureChunk;

typedef struct {
  GRegex *regex;       /* (owned) */
  gchar *pattern;      /* (owned) */
  gchar *replacement;  /* (owned) */
} BraidFixtureRule;

/* Whether replay binds server-issued tokens (cas uniques): `%bind cas`
 * or `%bind none`; without the directive, binding is on. */
typedef enum {
  BRAID_FIXTURE_BIND_DEFAULT,
  BRAID_FIXTURE_BIND_NONE,
  BRAID_FIXTURE_BIND_CAS,
} BraidFixtureBind;

typedef struct {
  gchar *name;         /* (owned): file name or "<memory>" */
  BraidFixtureBind bind;
  GPtrArray *headers;  /* (element-type utf8) (owned): "key value" of @ lines */
  GPtrArray *rules;    /* (element-type BraidFixtureRule) (owned) */
  GPtrArray *chunks;   /* (element-type BraidFixtureChunk) (owned) */
} BraidFixture;

BraidFixture *braid_fixture_new (const gchar *name);
void braid_fixture_free (BraidFixture *fixture);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidFixture, braid_fixture_free)

BraidFixture *braid_fixture_parse (const gchar *text, gsize len,
                                   const gchar *name, GError **error);
BraidFixture *braid_fixture_load (const gchar *path, GError **error);

/* @key: non-empty, without spaces.  Control characters other than tab
 * become '?' (a header is one line of text). */
void braid_fixture_add_header (BraidFixture *fixture, const gchar *key, const gchar *value);
/* Returns the value of the first @key header, or NULL. */
const gchar *braid_fixture_get_header (BraidFixture *fixture, const gchar *key);
/* Fails (BRAID_FIXTURE_ERROR_PARSE) for a pattern that does not compile or
 * that matches the empty string, and for a bad replacement. */
gboolean braid_fixture_add_rule (BraidFixture *fixture, const gchar *pattern,
                                 const gchar *replacement, GError **error);
/* Appends data; consecutive chunks in one direction stay separate. */
void braid_fixture_add_chunk (BraidFixture *fixture, BraidFixtureDirection direction,
                              gdouble time, const guint8 *data, gsize len);
void braid_fixture_add_close (BraidFixture *fixture, BraidFixtureDirection direction,
                              gdouble time);

gchar *braid_fixture_to_string (BraidFixture *fixture);
gboolean braid_fixture_save (BraidFixture *fixture, const gchar *path, GError **error);

/* Applies the fixture's %replace rules to server-to-client bytes, in order.
 * A rule never matches the empty string (braid_fixture_add_rule() refuses
 * such patterns, and matching asks for at least one byte), and the result
 * never grows past 8 × @len + 64 KiB: once a replacement would pass that,
 * the rest of the bytes are kept as they are. */
GBytes *braid_fixture_normalize (BraidFixture *fixture, const guint8 *data, gsize len);

/* All bytes of one direction, concatenated. */
GBytes *braid_fixture_get_stream (BraidFixture *fixture, BraidFixtureDirection direction);

/* C-style quoting used by the format: printable ASCII as is, \r \n \t \\ \"
 * and \xNN for the rest. */
gchar *braid_fixture_quote (const guint8 *data, gsize len);

G_END_DECLS
