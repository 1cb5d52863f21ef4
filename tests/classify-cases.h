/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The expectation table of the classifier tests: one row per captured run
 * in tests/fixtures/agent-cli (what each must classify as). The dialect
 * tests assert it; the docs tool prints it into docs/classifiers.md as the
 * page's proof of each class. */

#include <glib.h>

#include "ar-classify.h"

typedef struct {
  gboolean check; /* assert the numbers below */
  const char *model;
  gint64 input, output, cached, cache_creation, duration_ms, tools, turns;
  double cost;
  gboolean has_cost;
} Usage;

typedef struct {
  const char *name;
  gboolean stalled; /* rc 124 and silent: the daemon's idle timeout ended it */
  ArOutcome outcome;
  int status;
  gint64 reset_at;
  const char *evidence; /* expected prefix; NULL: no evidence */
  gboolean saw_result;
  gboolean retry_loop; /* still inside a retry loop at the end */
  Usage usage;
} Case;

extern const Case classify_cases[];
extern const gsize classify_n_cases;

/* Shorthands of the table rows and of the tests' own tables. */
#define OK          AR_OUTCOME_OK
#define AUTH        AR_OUTCOME_AUTH_FAILURE
#define RL_ACCOUNT  AR_OUTCOME_RATE_LIMIT_ACCOUNT
#define RL_MODEL    AR_OUTCOME_RATE_LIMIT_MODEL
#define QUOTA       AR_OUTCOME_QUOTA_EXHAUSTED
#define T5XX        AR_OUTCOME_API_TRANSIENT_5XX
#define TIMEOUT     AR_OUTCOME_API_TIMEOUT
#define NETWORK     AR_OUTCOME_NETWORK
#define ERROR       AR_OUTCOME_ERROR
#define RESULT      .saw_result = TRUE
#define LOOP        .retry_loop = TRUE
#define STALLED     .stalled = TRUE
#define EVIDENCE(s) .evidence = (s)
