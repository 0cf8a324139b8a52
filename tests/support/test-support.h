/* braid — helpers shared by every test program. */
#pragma once

#include <gio/gio.h>
#include "reactor.h"
#include "fake-reactor.h"
#include "line-receiver.h"
#include "glib-reactor.h"

G_BEGIN_DECLS

/* One chunking of an input: the chunks to feed, in order. */
typedef struct {
  const gchar *label;   /* "whole", "bytes", "split@17", "random#3" */
  GPtrArray *chunks;    /* (element-type GBytes) */
} BraidChunking;

typedef void (*BraidChunkingFunc) (const BraidChunking *chunking, gpointer user_data);

/* The split helper every parser and protocol test uses (STYLE lesson 6):
 * calls @func with the whole input, one byte at a time, every two-way
 * split, and @n_random seeded random chunkings (seeded from
 * g_test_rand_int(), so --seed reproduces them). */
void braid_test_for_each_chunking (const guint8 *input,
                                   gsize len,
                                   guint n_random,
                                   BraidChunkingFunc func,
                                   gpointer user_data);

/* Escapes bytes for messages: printable ASCII as is, \r \n \t, others \xNN. */
gchar *braid_test_escape (const guint8 *data, gsize len);

/* Asserts two byte strings are equal; on failure the message shows both,
 * escaped, and the first differing offset. */
#define braid_assert_bytes_equal(expected, expected_len, actual, actual_len) \
  braid_test_assert_bytes_equal_impl (__FILE__, __LINE__, G_STRFUNC, \
                                      #actual, (const guint8 *) (expected), \
                                      (expected_len), (const guint8 *) (actual), \
                                      (actual_len))
#define braid_assert_bytes_equal_str(expected, gbytes) \
  G_STMT_START { \
    gsize _len = 0; \
    const guint8 *_data = g_bytes_get_data ((gbytes), &_len); \
    braid_assert_bytes_equal ((expected), strlen (expected), _data, _len); \
  } G_STMT_END
void braid_test_assert_bytes_equal_impl (const char *file, int line,
                                         const char *func, const char *what,
                                         const guint8 *expected, gsize expected_len,
                                         const guint8 *actual, gsize actual_len);

/* Real-reactor helpers: iterate @context until *@flag is TRUE, failing the
 * test after @timeout_ms of real time. */
void braid_test_wait_for_flag (GMainContext *context, const gboolean *flag,
                               guint timeout_ms);
/* Iterate until @result is set (async-to-sync for GAsyncReadyCallback). */
void braid_test_wait_for_result (GMainContext *context, GAsyncResult **result,
                                 guint timeout_ms);
/* A GAsyncReadyCallback that stores a new reference to the result in
 * *(GAsyncResult **) user_data. */
void braid_test_store_result (GObject *source, GAsyncResult *result, gpointer user_data);

/* A free TCP port on 127.0.0.1 (bound then released; for spawning other
 * programs that need a port number on their command line). */
guint16 braid_test_find_free_port (void);
/* Waits until something accepts connections on 127.0.0.1:@port. */
gboolean braid_test_wait_for_port (guint16 port, guint timeout_ms);

/* Path of a built program: $BRAID_BUILD_ROOT/@relative. */
gchar *braid_test_build_path (const gchar *relative);

/* Starts the built braid-memcached on 127.0.0.1 and a free port (set in
 * *@port), with no configuration file and @extra (NULL-terminated,
 * nullable) arguments, and waits until it accepts connections. */
GSubprocess *braid_test_start_memcached (guint16 *port, const gchar * const *extra);
/* The same for Debian's memcached (-U 0, as nobody when root); NULL when
 * it is not installed. */
GSubprocess *braid_test_start_real_memcached (guint16 *port, const gchar * const *extra);
/* SIGTERM, wait, unref.  @process may be NULL. */
void braid_test_stop_process (GSubprocess *process);

/* A server a test talks to, by name and port. */
typedef struct {
  const gchar *name;
  GSubprocess *process;   /* (owned) */
  guint16 port;
} BraidTestServer;

/* (element-type BraidTestServer): braid-memcached with @braid_extra, then
 * Debian's memcached with @real_extra when it is installed (a message
 * says so when it is not).  Both @extra arrays are nullable. */
GPtrArray *braid_test_servers_start (const gchar *const *braid_extra, const gchar *const *real_extra);
void braid_test_servers_stop (GPtrArray *servers);

/* Runs @argv; returns its exit status (-1 if it did not exit) and its
 * output, stdout and stderr merged, in *@out. */
gint braid_test_run_tool (const gchar *const *argv, gchar **out);

/* Sends @request on a new connection to 127.0.0.1:@port and reads until
 * the reply ends with @expected_end, or until the server closes
 * (@expected_end NULL, or a close first).  (transfer full) */
gchar *braid_test_converse (guint16 port, const gchar *request, const gchar *expected_end);

/* A self-signed certificate for CN=localhost with subjectAltNames
 * IP:127.0.0.1 and DNS:localhost, valid one day, made by openssl in a
 * new temporary directory (readable by all, so a memcached running as
 * nobody can load it). */
typedef struct {
  gchar *dir;          /* (owned) */
  gchar *certificate;  /* (owned): PEM certificate */
  gchar *key;          /* (owned): PEM private key */
} BraidTestCertificate;

/* NULL, with the reason in *@skip_reason, when openssl or GIO's TLS
 * backend (glib-networking) is missing: the caller g_test_skip()s. */
BraidTestCertificate *braid_test_certificate_new (gchar **skip_reason);
/* Removes the files and the directory. */
void braid_test_certificate_free (BraidTestCertificate *cert);
/* What a test program that used TLS returns from main(): @status.  Under
 * AddressSanitizer it runs LeakSanitizer's check itself and exits at once
 * (tests/support/tls-leak-check.c: the exit-time check crashes in
 * processes that loaded glib-networking), failing on a leak from braid's
 * code. */
int braid_test_exit_after_tls (int status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidTestCertificate, braid_test_certificate_free)

/* Precondition tests: from begin to end, the criticals that
 * g_return_if_fail raises in braid's log domains ("braid" and the fakes'
 * "braid-testing") are counted instead of aborting the test. */
typedef struct {
  GLogLevelFlags was_fatal;
  guint handlers[2];
} BraidCriticalCounter;
void braid_test_count_criticals_begin (BraidCriticalCounter *counter);
void braid_test_count_criticals_end (BraidCriticalCounter *counter);
/* Criticals counted since the last begin. */
guint braid_test_n_criticals (void);
/* @expr raises exactly one critical / none. */
#define BRAID_EXPECT_CRITICAL(expr)                                      \
  G_STMT_START {                                                         \
    guint braid_before_ = braid_test_n_criticals ();                     \
    expr;                                                                \
    g_assert_cmpuint (braid_test_n_criticals (), ==, braid_before_ + 1); \
  } G_STMT_END
#define BRAID_EXPECT_NO_CRITICAL(expr)                                   \
  G_STMT_START {                                                         \
    guint braid_before_ = braid_test_n_criticals ();                     \
    expr;                                                                \
    g_assert_cmpuint (braid_test_n_criticals (), ==, braid_before_);     \
  } G_STMT_END

G_END_DECLS
#include "recording-protocol.h"
