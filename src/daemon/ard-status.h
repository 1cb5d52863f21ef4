/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the daemon says about itself (Peek, the bus properties, the unit's
 * STATUS= line): the run state and the facts of this invocation, kept
 * current by the loop, never re-read from disk. What state.json persists
 * (the round counter, the phase, the crash streak, the stop reason) is not
 * copied here: the accessors below read it from the loop's ArdState, the
 * one source of those facts. */

#include <sys/types.h>

#include <glib.h>

#include "ard-state.h"

G_BEGIN_DECLS

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

/* The last round's agent_usage_recorded figures, or why there are none. */
typedef struct {
  gboolean present; /* FALSE before the first round of this process */
  gboolean recorded;
  guint round_num;
  const char *reason; /* when !recorded (static) */
  char *agent;
  char *model; /* NULL when the agent named none */
  gint64 input_tokens;
  gint64 output_tokens;
  gint64 cached_tokens;
  gint64 cache_creation_tokens;
  gint64 duration_ms;
  gint64 tool_call_count;
  gboolean has_cost;
  double cost_usd;
  gboolean success;
} ArdUsage;

void ard_usage_clear(ArdUsage *usage);

typedef struct {
  const ArdState *persisted; /* the loop's state.json, the source of the accessors */
  ArdRunState state;
  pid_t agent_pid;                     /* 0 when no agent runs */
  gint64 round_started_at_us;          /* realtime; 0 when no round runs */
  guint rounds_completed;              /* in this invocation */
  GQueue recent;                       /* ArdRoundSummary*, oldest first, <= ARD_RECENT_ROUNDS */
  gint64 next_round_at_us;             /* realtime of the end of the current wait; 0 */
  gint64 throttled_until_us;           /* realtime end of a back-off; 0 when none */
  const char *throttle_classification; /* its outcome name (static), NULL when none */
  gboolean stop_reason_current;        /* this invocation set or confirmed the stop reason */
  const char *waiting_secret;          /* in waiting_for_secret: the name (ard-secrets.h owns it) */
} ArdStatus;

void ard_status_init(ArdStatus *st, const ArdState *persisted);
void ard_status_clear(ArdStatus *st);
/* The current or last round of this invocation; 0 (and a NULL phase)
 * before its first round, whatever earlier runs numbered. */
guint ard_status_round_num(const ArdStatus *st);
const char *ard_status_phase(const ArdStatus *st);
guint ard_status_crash_streak(const ArdStatus *st);
/* Why the service stopped for good, once this invocation said so; NULL
 * otherwise (a lasting stop of an earlier run is not this run's state). */
const char *ard_status_stop_reason(const ArdStatus *st);
/* Keep summary (owned) among the last ARD_RECENT_ROUNDS. */
void ard_status_remember_round(ArdStatus *st, ArdRoundSummary *summary);

G_END_DECLS
