#pragma once

/* The serve loop: one project, one lock, rounds back to back on one
 * sd-event loop. Stop triggers between rounds, waits as timers, signals
 * (TERM/INT stop, HUP reload, CHLD reaps), the crash-loop breaker, state
 * persistence, retention. The bus layer (later) attaches to the same
 * sd_event and calls the ard_loop_* controls below. */

#include <glib.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"
#include "ard-state.h"

G_BEGIN_DECLS

/* Exit codes of agent-runnerd (see ard-main.c and docs/design.md). */
#define ARD_EXIT_OK         0  /* deliberate stop, or the job is finished */
#define ARD_EXIT_INTERNAL   1  /* internal error */
#define ARD_EXIT_LOCKED     75 /* EX_TEMPFAIL: another supervisor holds the project */
#define ARD_EXIT_CONFIG     78 /* EX_CONFIG: config broken / startup checks failed */
#define ARD_EXIT_CRASH_LOOP 79 /* the agent keeps crashing */
#define ARD_EXIT_AUTH       80 /* the agent cannot authenticate (auth_failed) */

/* Consecutive short failing rounds that stop the service. */
#define ARD_CRASH_LOOP_THRESHOLD 5
/* A failing round shorter than this counts as a crash. */
#define ARD_CRASH_SHORT_S 60.0
/* Cap of the restart delay during a crash streak. */
#define ARD_DELAY_CAP_S 1800
/* Rounds kept in memory for Peek. */
#define ARD_RECENT_ROUNDS 10

typedef enum {
  ARD_RUN_STARTING,
  ARD_RUN_RUNNING,
  ARD_RUN_WAITING,
  ARD_RUN_BACKING_OFF,
  ARD_RUN_STOPPING,
  ARD_RUN_STOPPED,
  ARD_RUN_WAITING_FOR_SECRET, /* a keyring holding an [agent] secret is locked */
} ArdRunState;

const char *ard_run_state_to_string(ArdRunState state);

typedef struct {
  char *config_path; /* NULL: ./agent-runner.toml */
  guint max_rounds;  /* 0: [runtime] max_rounds */
  gboolean once;
  gboolean round_mode; /* --round: one round, exit code = the agent's */
  char *phase;         /* --phase with --round */
  gboolean journal;
  gboolean clear_done; /* explicit start: forget .agent-done and a lasting stop */
  int console;         /* ArdConsoleMode: stderr narration (ard-console.h) */
  struct ArdHandover *handover; /* --deserialize: state from the previous image (borrowed) */
} ArdOptions;

void ard_options_clear(ArdOptions *opts);

/* What Peek will serialize; kept current by the loop, never re-read from
 * disk. */
typedef struct {
  ArdRunState state;
  guint round_num; /* current or last round */
  char *phase;
  pid_t agent_pid;                     /* 0 when no agent runs */
  gint64 round_started_at_us;          /* realtime; 0 when no round runs */
  guint rounds_completed;              /* in this invocation */
  GQueue recent;                       /* ArdRoundSummary*, oldest first, <= ARD_RECENT_ROUNDS */
  gint64 next_round_at_us;             /* realtime of the end of the current wait; 0 */
  gint64 throttled_until_us;           /* realtime end of a back-off; 0 when none */
  const char *throttle_classification; /* its outcome name (static), NULL when none */
  guint crash_streak;
  char *stop_reason;
  char *waiting_secret; /* in waiting_for_secret: the name */
} ArdStatus;

typedef struct ArdLoop ArdLoop;

/* Load the config, create log_dir, take the project lock, set up signals.
 * Errors: AR_ERROR_CONFIG (exit 78), AR_ERROR_LOCKED (exit 75), others 1. */
ArdLoop *ard_loop_new(const ArdOptions *opts, GError **error);
void ard_loop_free(ArdLoop *loop);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdLoop, ard_loop_free)

/* Run until the loop stops; returns the process exit code. */
int ard_loop_run(ArdLoop *loop);

/* Stop after the current round (now = FALSE), or end the round now (TERM
 * to its group, KILL after 5 s) and stop. A wait in progress ends at once. */
void ard_loop_request_stop(ArdLoop *loop, gboolean now);
/* End the current round, keep serving. FALSE when no round runs. */
gboolean ard_loop_cancel_round(ArdLoop *loop);
/* Re-read the config; it applies from the next round (a wait in progress is
 * re-timed with the new restart_delay_s). On failure the old config stays
 * and config_reload_failed is emitted. */
gboolean ard_loop_reload(ArdLoop *loop, GError **error);

sd_event *ard_loop_get_event(ArdLoop *loop);
ArEmitter *ard_loop_get_emitter(ArdLoop *loop);
ArConfig *ard_loop_get_config(ArdLoop *loop);
const ArdStatus *ard_loop_get_status(ArdLoop *loop);
/* The orphan stash state.json remembers ({round_num, phase, ref, message,
 * files, stashed_at}), NULL when the tree was clean after the last round. */
JsonNode *ard_loop_get_orphan(ArdLoop *loop);
/* Peek's throttle ({until, throttled_until, classification, agent,
 * since_round, reason}) as a new node, NULL when no back-off runs. */
JsonNode *ard_loop_get_throttle(ArdLoop *loop);
/* Peek's usage: the last round's agent_usage_recorded figures
 * ({recorded: true, ...}) or why there are none ({recorded: false,
 * reason}); NULL before the first round of this process. */
JsonNode *ard_loop_get_usage(ArdLoop *loop);

/* Called after every change of the status' run state (and so of the
 * round, phase and agent pid that change with it): the bus turns it into
 * PropertiesChanged. One hook; NULL removes it. */
typedef void (*ArdStatusHook)(ArdLoop *loop, gpointer user_data);
void ard_loop_set_status_hook(ArdLoop *loop, ArdStatusHook hook, gpointer user_data);
/* Serve(max_rounds): stop after max_rounds more rounds, counted from this
 * call (0: the config's bound). */
void ard_loop_set_max_rounds(ArdLoop *loop, guint max_rounds);
/* Serve during a back-off: end it now and start the next round, with a
 * backoff_ended_early event naming requested_by. FALSE when not backing
 * off. */
gboolean ard_loop_resume_now(ArdLoop *loop, const char *requested_by);
/* TRUE once a stop was asked for (signal, Stop, trigger). */
gboolean ard_loop_stop_requested(ArdLoop *loop);

G_END_DECLS
