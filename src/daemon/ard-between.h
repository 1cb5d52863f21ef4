/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Between two rounds: the stop triggers the loop looks at, the start-up
 * battery, and what the loop keeps of a finished round. These say what
 * they found (events, a result); acting on it is the loop's. */

#include <glib.h>

#include "ar-config.h"
#include "ar-events.h"
#include "ard-round.h"
#include "ard-state.h"

G_BEGIN_DECLS

/* The sentinel an agent writes into its log dir to say "I am done". */
#define ARD_AGENT_DONE_FILE ".agent-done"

typedef enum {
  ARD_TRIGGER_NONE,
  ARD_TRIGGER_DONE,       /* .agent-done (agent_self_terminated emitted) */
  ARD_TRIGGER_MONITOR,    /* .monitor-stop: the monitor's auto-stop */
  ARD_TRIGGER_STOP_FILE,  /* [runtime] stop_file (stop_file_detected emitted) */
  ARD_TRIGGER_MAX_ROUNDS, /* max_rounds_reached emitted */
} ArdTrigger;

/* In this order: .agent-done, .monitor-stop, stop_file, max_rounds (0:
 * none). *why: serve_stopping's reason when one fired. */
ArdTrigger ard_between_check_triggers(const ArConfig *cfg, ArEmitter *emitter,
                                      guint rounds_completed, guint max_rounds, char **why);

typedef enum {
  ARD_BATTERY_OK,
  ARD_BATTERY_BROKEN,    /* smoke_check_failed per check, then config_broken */
  ARD_BATTERY_DISK_FULL, /* the checks failed for want of space: disk_full */
} ArdBattery;

/* The start-up checks (skipped under AGENT_RUNNER_SKIP_STARTUP_CHECK), with
 * the Python tool's STARTUP FAIL lines on stderr. */
ArdBattery ard_between_run_battery(const ArConfig *cfg, ArEmitter *emitter);

/* An explicit start (clear_done: --clear-done, or the .start-requested
 * marker `agent-runner start` leaves for an installed unit, taken once):
 * .agent-done and .monitor-stop are removed. TRUE when it is one. */
gboolean ard_between_explicit_start(const char *log_dir, gboolean clear_done);

/* crash_loop's reason: the redacted end of a transcript ("" without one). */
char *ard_between_transcript_tail(const char *path);
/* Process exit code of --round: the agent's, 128+N for a signal. */
int ard_between_round_mode_exit_code(const ArdRoundResult *res);
/* What state.json, Peek and the next round's context keep of a round. */
ArdRoundSummary *ard_between_summarize(const ArdRoundResult *res);

G_END_DECLS
