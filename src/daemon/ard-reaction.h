/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What a round's outcome means for the serve loop: the crash streak (kept
 * in the loop's ArdState), the back-off counters and wait (ArdThrottle,
 * persisted in state.json), the usage Peek shows, and the next step the
 * loop acts on. The reactor never calls back into the loop: it returns
 * what to do. */

#include <glib.h>

#include "ar-config.h"
#include "ar-events.h"
#include "ard-backoff.h"
#include "ard-round.h"
#include "ard-state.h"
#include "ard-status.h"

G_BEGIN_DECLS

/* Consecutive short failing rounds that stop the service. */
#define ARD_CRASH_LOOP_THRESHOLD 5
/* A failing round shorter than this counts as a crash. */
#define ARD_CRASH_SHORT_S 60.0

typedef enum {
  ARD_NEXT_CONTINUE, /* wait (wait_state, factor), then the next round */
  ARD_NEXT_STOP,     /* stop with exit_code */
} ArdNextAction;

typedef struct {
  ArdNextAction action;
  ArdRunState wait_state;  /* WAITING or BACKING_OFF */
  guint factor;            /* restart_delay_s multiplier */
  int exit_code;           /* ArExit */
  const char *reason;      /* serve_stopping's reason */
  const char *stop_reason; /* a lasting stop (ARD_STOP_REASON_*) to persist; NULL: none */
} ArdNextStep;

typedef struct ArdReactor ArdReactor;

/* state: the loop's state.json (crash_streak and throttle are written
 * here and saved to log_dir as they change); the throttle is read from
 * it. round_mode: --round, a one-off that leaves the counters alone. */
ArdReactor *ard_reactor_new(ArEmitter *emitter, ArdState *state, gboolean round_mode);
void ard_reactor_free(ArdReactor *reactor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdReactor, ard_reactor_free)

/* Serve only. Short failing rounds count; transient/auth/quota failures and cancelled
 * rounds neither count nor break the streak; anything else resets it. */
void ard_reactor_update_crash_streak(ArdReactor *reactor, const ArdRoundResult *res);
/* Right after round_end: update the counters, plan the back-off, say what
 * the output showed (transient_error_detected, quota_exhausted,
 * agent_usage_recorded). */
void ard_reactor_record_outcome(ArdReactor *reactor, const ArConfig *cfg,
                                const ArdRoundResult *res);
/* What follows the round (its events emitted). */
ArdNextStep ard_reactor_decide_next(ArdReactor *reactor, const ArConfig *cfg,
                                    const ArdRoundResult *res);

/* The back-off wait, for the loop's timer and Peek. */
ArdThrottle *ard_reactor_get_throttle(ArdReactor *reactor);
/* Write the throttle into state.json when it changed. */
void ard_reactor_save_throttle(ArdReactor *reactor, const char *log_dir);
/* The last round's usage; present FALSE before the first round. */
const ArdUsage *ard_reactor_get_usage(ArdReactor *reactor);

G_END_DECLS
