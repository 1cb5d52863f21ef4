/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The reaction to a failed round whose output says why (docs/backoff.md):
 * the back-off policy for the transient buckets as pure functions over a
 * table, and the throttle state that state.json keeps across restarts.
 *
 * Nothing here reads a clock or a random source: the loop passes "now" and
 * the jitter in, so the unit tests (tests/test-backoff.c) can walk every
 * multiplier and cap. */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-classify.h"
#include "ar-config.h"

G_BEGIN_DECLS

/* An estimated back-off never exceeds this (before the jitter). */
#define ARD_BACKOFF_CAP_S 1800
/* No wait, however far the CLI's reset, is longer than this. */
#define ARD_BACKOFF_ABSOLUTE_MAX_S 28800
/* Uniform jitter added to every wait, inclusive bounds. */
#define ARD_BACKOFF_JITTER_MIN_S 5
#define ARD_BACKOFF_JITTER_MAX_S 30
/* rate_limit_account without a usable reset time: a guess. */
#define ARD_BACKOFF_ACCOUNT_FALLBACK_S 300

/* How the policy treats one outcome. */
typedef enum {
  ARD_REACT_NONE,        /* ok, error: the restart delay and the crash breaker */
  ARD_REACT_RESET,       /* wait until the CLI's reset time, verbatim */
  ARD_REACT_EXPONENTIAL, /* wait base_s x 2^(n-1), capped */
  ARD_REACT_AUTH,        /* stop (exit 80) after auth_fail_threshold in a row */
  ARD_REACT_QUOTA,       /* wait until the CLI's reset if any, else stop */
} ArdReaction;

ArdReaction ard_backoff_reaction(ArOutcome outcome);
/* base of the exponential back-off of an estimated bucket, 0 otherwise. */
guint ard_backoff_base_s(ArOutcome outcome);

/* Map a uniform 32-bit random number onto the jitter range. */
guint ard_backoff_jitter_s(guint32 random);

typedef struct {
  ArOutcome outcome;
  gint64 now_epoch;      /* seconds */
  gint64 reset_at_epoch; /* the CLI's reset time, 0 when it gave none */
  guint consecutive;     /* occurrences of this bucket in a row, this one included (>= 1) */
  guint jitter_s;
} ArdBackoffInput;

typedef struct {
  gboolean wait;            /* FALSE: no back-off applies (no reset time for a quota) */
  gboolean exponential;     /* the estimated path */
  gint64 original_reset_at; /* the CLI's reset, or now + base for an estimate (epoch s) */
  gint64 applied_reset_at;  /* after the multiplier and the 30-min cap (epoch s) */
  double requested_sleep_s; /* original_reset_at - now + jitter */
  double applied_sleep_s;   /* what the timer waits: applied_reset_at - now + jitter, <= 8 h */
  guint multiplier;         /* 2^(consecutive-1), 1 for a verbatim reset */
  gboolean capped;          /* the 30-min cap of the estimated path applied */
  gboolean capped_by_absolute_max;
  gboolean report_capped; /* emit transient_error_backoff_capped */
} ArdBackoffPlan;

void ard_backoff_plan(const ArdBackoffInput *in, ArdBackoffPlan *out);

/* What survives a restart: the wait in progress (until_us > 0) and the
 * counters the next decision needs. */
typedef struct {
  gint64 until_us;   /* realtime end of the wait; 0 = no wait */
  gint64 started_us; /* realtime start of the wait */
  char *classification;
  char *agent;
  char *reason;                        /* the CLI's words (redacted evidence) */
  guint since_round;                   /* the round that caused it */
  guint consecutive[AR_OUTCOME_COUNT]; /* per bucket, in a row */
  guint auth_streak;                   /* consecutive auth failures */
} ArdThrottle;

void ard_throttle_clear(ArdThrottle *t);
/* Forget the wait, keep the counters. */
void ard_throttle_end_wait(ArdThrottle *t);
/* NULL when nothing is worth keeping (no wait, all counters 0). */
JsonNode *ard_throttle_to_json(const ArdThrottle *t);
/* Unknown members are ignored; a missing or malformed node is a clear state. */
void ard_throttle_from_json(ArdThrottle *t, JsonNode *node);

/* The agent's name in events: [agent] name, else basename of command[0]. */
char *ard_backoff_agent_name(const ArConfig *cfg);
/* auth_failed.hint: [monitor] auth_fail_hint, else a default per dialect. */
const char *ard_backoff_auth_hint(const ArConfig *cfg, ArDialect dialect);
/* The dialect the round's classifier reads: [agent] output, else a guess. */
ArDialect ard_backoff_dialect(const ArConfig *cfg);

G_END_DECLS
