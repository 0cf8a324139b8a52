/* braid — replaying the client side of a fixture and checking the server's
 * answers. */
#pragma once

#include "fixture.h"
#include "reactor.h"
#include "fake-reactor.h"

G_BEGIN_DECLS

typedef enum {
  BRAID_REPLAY_ERROR_MISMATCH,   /* the server said something else */
  BRAID_REPLAY_ERROR_CONNECT,    /* could not reach the server */
  BRAID_REPLAY_ERROR_STUCK,      /* in-process: nothing left to run */
} BraidReplayError;

#define BRAID_REPLAY_ERROR (braid_replay_error_quark ())
GQuark braid_replay_error_quark (void);

/* Binding of server-issued tokens (cas uniques, see binding.h). */
typedef enum {
  BRAID_REPLAY_BIND_FIXTURE,  /* as the fixture says (%bind; on by default) */
  BRAID_REPLAY_BIND_NONE,     /* send the recorded tokens verbatim */
  BRAID_REPLAY_BIND_CAS,      /* bind cas uniques */
} BraidReplayBind;

typedef struct {
  /* How long to wait for an expected reply (reactor time). */
  gint64 reply_timeout_us;
  /* Send each client chunk no earlier than its recorded timestamp. */
  gboolean honour_timestamps;
  BraidReplayBind bind;
} BraidReplayOptions;

#define BRAID_REPLAY_OPTIONS_INIT { 2 * G_USEC_PER_SEC, TRUE, BRAID_REPLAY_BIND_FIXTURE }

/* Whether a replay of @fixture with @options (nullable) binds tokens. */
gboolean braid_replay_binds (BraidFixture *fixture, const BraidReplayOptions *options);

typedef struct _BraidReplay BraidReplay;

/* Starts replaying @fixture against @endpoint; the caller drives @reactor
 * until braid_replay_is_done(). */
BraidReplay *braid_replay_start (BraidReactor *reactor,
                                 BraidFixture *fixture,
                                 const gchar *endpoint,
                                 const BraidReplayOptions *options);
gboolean braid_replay_is_done (BraidReplay *replay);
/* TRUE if every reply matched; otherwise a BRAID_REPLAY_ERROR whose message
 * is the readable report (turn, fixture line, direction, expected and
 * actual bytes, a line diff). */
gboolean braid_replay_get_result (BraidReplay *replay, GError **error);
void braid_replay_free (BraidReplay *replay);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BraidReplay, braid_replay_free)

/* Builds the server under test on @reactor (its clock, its timers). */
typedef BraidProtocolFactory *(*BraidReplayServerFunc) (BraidReactor *reactor, gpointer user_data);

/* In-process: a fake reactor (seeded, with @delivery) runs the protocol of
 * the factory @server_func builds; simulated time follows the fixture's
 * timestamps. */
gboolean braid_replay_run_in_process (BraidFixture *fixture,
                                      BraidReplayServerFunc server_func,
                                      gpointer server_data,
                                      BraidFakeDelivery delivery,
                                      guint32 seed,
                                      GError **error);
/* Against a live server, on a real reactor on the thread-default context. */
gboolean braid_replay_run_live (BraidFixture *fixture,
                                const gchar *endpoint,
                                const BraidReplayOptions *options,
                                GError **error);

/* Record mode: sends @fixture's client bytes to @endpoint (tokens bound)
 * and returns a fixture of what it answered, turn by turn, with @fixture's
 * rules: a turn ends once the server has sent as many lines, data blocks
 * or binary packets as the recording had, or after the reply timeout.
 * Bound tokens are written as the recorded values. */
BraidFixture *braid_replay_record_live (BraidFixture *fixture,
                                        const gchar *endpoint,
                                        const BraidReplayOptions *options,
                                        GError **error);
/* Shadow comparison: records @endpoint_a's answers to @fixture's client
 * bytes, then replays them against @endpoint_b.  The mismatch report names
 * both: "expected" is A's reply, "got" is B's. */
gboolean braid_replay_compare_live (BraidFixture *fixture,
                                    const gchar *endpoint_a,
                                    const gchar *endpoint_b,
                                    const BraidReplayOptions *options,
                                    GError **error);

G_END_DECLS
