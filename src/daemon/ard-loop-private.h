#pragma once

/* What ard-loop.c and ard-reaction.c share: the loop's state and the
 * decision after a round. Not for other files: they use ard-loop.h. */

#include "ard-backoff.h"
#include "ard-lock.h"
#include "ard-loop.h"
#include "ard-round.h"

#include <systemd/sd-bus.h>

G_BEGIN_DECLS

struct ArdLoop {
  ArdOptions opts;
  sd_event *event;
  ArConfig *cfg;
  ArEmitter *emitter;
  ArdLock *lock;
  ArdState *state;
  gboolean state_recovered;
  ArdStatus status;
  char **base_env;

  sd_event_source *sig_term;
  sd_event_source *sig_int;
  sd_event_source *sig_hup;
  sd_event_source *sig_chld;
  sd_event_source *wait_timer;
  sd_event_source *step_defer;

  ArdRound *round;
  struct ArdHandover *handover; /* upgrade in place: what the previous image handed over */
  struct ArdHookBatch *startup_hooks; /* [hooks] serve_startup, running */
  guint max_rounds;                   /* effective: --max-rounds, else config */
  gboolean battery_fresh;             /* the start-up battery just ran: skip it once */
  gboolean disk_full;                 /* the battery failed for want of space in log_dir */

  gboolean stop_requested;
  gboolean stopping_emitted;
  gboolean libgit2_ref; /* a git_libgit2_init() reference held for our lifetime */
  int exit_code;

  /* The current wait: restart_delay_s times factor, from wait_start. */
  gint64 wait_start_mono_us;
  guint wait_factor;

  ArdStatusHook status_hook;
  gpointer status_hook_data;

  /* Back-off, auth and quota (ard-backoff.h): the persisted counters and
   * wait, the plan of the round that just ended, Peek's usage. */
  ArdThrottle throttle;
  gboolean have_plan;
  ArdBackoffPlan plan;
  JsonNode *usage;
  double backoff_scale;          /* AGENT_RUNNER_TEST_BACKOFF_SCALE, else 1 */
  sd_event_source *extend_timer; /* EXTEND_TIMEOUT_USEC while a stop waits */

  /* ard-secrets.c: [agent] secrets as NAME=value for the next round, and
   * the Secret Service watch while a locked keyring holds one. */
  GStrv secret_env;
  sd_bus *secret_bus;
  sd_bus_slot *secret_match;
};

typedef enum {
  NEXT_CONTINUE,
  NEXT_STOP,
} NextAction;

typedef struct {
  NextAction action;
  ArdRunState wait_state; /* WAITING or BACKING_OFF */
  guint factor;           /* restart_delay_s multiplier */
  int exit_code;
  const char *reason;
} NextStep;

void ard_loop_save_state(ArdLoop *loop);
void ard_loop_set_run_state(ArdLoop *loop, ArdRunState st);
/* Run the between-rounds step from the event loop (a retry). */
void ard_loop_step_soon(ArdLoop *loop);
void ard_loop_config_broken(ArdLoop *loop);

/* ard-secrets.c: TRUE when every [agent] secret was read into
 * loop->secret_env; FALSE when the loop now waits for a locked keyring
 * or stopped as config-broken. */
gboolean ard_loop_secrets_ready(ArdLoop *loop);
void ard_loop_secrets_clear(ArdLoop *loop);
void ard_loop_set_stop_reason(ArdLoop *loop, const char *reason);

/* ard-reaction.c: what a round's outcome means for the loop. */
void ard_loop_update_crash_streak(ArdLoop *loop, const ArdRoundResult *res);
void ard_loop_save_throttle(ArdLoop *loop);
void ard_loop_record_outcome(ArdLoop *loop, const ArdRoundResult *res);
NextStep ard_loop_decide_next(ArdLoop *loop, const ArdRoundResult *res);
/* A crash-loop stop of an earlier run still holds (no explicit start):
 * TRUE after telling the operator; the caller exits 79 without a round. */
gboolean ard_loop_crash_loop_persists(ArdLoop *loop);

G_END_DECLS
