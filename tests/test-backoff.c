/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The back-off policy of src/daemon/ard-backoff.c: the reaction per
 * outcome, the exponential steps and their caps, the jitter bounds, the
 * verbatim reset with its 8 h cap, and the throttle's round trip through
 * state.json. */

#include <glib.h>

#include "ard-backoff.h"

#define NOW 1800000000

static void
plan(ArOutcome o, gint64 reset, guint n, guint jitter, ArdBackoffPlan *out)
{
  ArdBackoffInput in = { o, NOW, reset, n, jitter };
  ard_backoff_plan(&in, out);
}

static void
test_reactions(void)
{
  static const struct {
    ArOutcome outcome;
    ArdReaction reaction;
    guint base;
  } rows[] = {
    { AR_OUTCOME_OK, ARD_REACT_NONE, 0 },
    { AR_OUTCOME_ERROR, ARD_REACT_NONE, 0 },
    { AR_OUTCOME_AUTH_FAILURE, ARD_REACT_AUTH, 0 },
    { AR_OUTCOME_QUOTA_EXHAUSTED, ARD_REACT_QUOTA, 0 },
    { AR_OUTCOME_RATE_LIMIT_ACCOUNT, ARD_REACT_RESET, 0 },
    { AR_OUTCOME_RATE_LIMIT_MODEL, ARD_REACT_EXPONENTIAL, 60 },
    { AR_OUTCOME_API_TRANSIENT_5XX, ARD_REACT_EXPONENTIAL, 60 },
    { AR_OUTCOME_NETWORK, ARD_REACT_EXPONENTIAL, 60 },
    { AR_OUTCOME_API_TIMEOUT, ARD_REACT_EXPONENTIAL, 30 },
  };
  G_STATIC_ASSERT(G_N_ELEMENTS(rows) == AR_OUTCOME_COUNT);
  for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
    g_assert_cmpint(ard_backoff_reaction(rows[i].outcome), ==, rows[i].reaction);
    g_assert_cmpuint(ard_backoff_base_s(rows[i].outcome), ==, rows[i].base);
    /* Every transient bucket backs off, nothing else does by itself. */
    gboolean waits =
        rows[i].reaction == ARD_REACT_RESET || rows[i].reaction == ARD_REACT_EXPONENTIAL;
    g_assert_cmpint(waits, ==, ar_outcome_is_transient(rows[i].outcome));
  }
  g_assert_cmpint(ard_backoff_reaction((ArOutcome)99), ==, ARD_REACT_NONE);
}

static void
test_exponential_steps(void)
{
  /* consecutive -> applied wait without jitter, 60 s and 30 s bases. */
  static const struct {
    guint n;
    guint wait60, wait30;
    guint mult;
  } steps[] = {
    { 1, 60, 30, 1 },      { 2, 120, 60, 2 },         { 3, 240, 120, 4 },
    { 4, 480, 240, 8 },    { 5, 960, 480, 16 },       { 6, 1800, 960, 32 },
    { 7, 1800, 1800, 64 }, { 40, 1800, 1800, 65536 }, { G_MAXUINT, 1800, 1800, 65536 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
    ArdBackoffPlan p;
    plan(AR_OUTCOME_RATE_LIMIT_MODEL, 0, steps[i].n, 7, &p);
    g_assert_true(p.wait);
    g_assert_true(p.exponential);
    g_assert_cmpuint(p.multiplier, ==, steps[i].mult);
    g_assert_cmpint(p.original_reset_at, ==, NOW + 60);
    g_assert_cmpint(p.applied_reset_at, ==, NOW + steps[i].wait60);
    g_assert_cmpfloat(p.requested_sleep_s, ==, 60 + 7);
    g_assert_cmpfloat(p.applied_sleep_s, ==, steps[i].wait60 + 7);
    g_assert_cmpint(p.capped, ==, steps[i].wait60 == ARD_BACKOFF_CAP_S && steps[i].n > 5);
    g_assert_false(p.capped_by_absolute_max);
    /* transient_error_backoff_capped whenever the multiplier or a cap
     * changed the wait. */
    g_assert_cmpint(p.report_capped, ==, steps[i].n > 1);

    plan(AR_OUTCOME_API_TIMEOUT, 0, steps[i].n, 30, &p);
    g_assert_cmpint(p.applied_reset_at, ==, NOW + steps[i].wait30);
    g_assert_cmpfloat(p.applied_sleep_s, ==, steps[i].wait30 + 30);
    g_assert_cmpint(p.capped, ==, steps[i].wait30 == ARD_BACKOFF_CAP_S);
  }
  /* 0 counts as the first occurrence; the CLI's reset is ignored for an
   * estimated bucket. */
  ArdBackoffPlan p;
  plan(AR_OUTCOME_NETWORK, NOW + 99999, 0, 5, &p);
  g_assert_cmpuint(p.multiplier, ==, 1);
  g_assert_cmpint(p.applied_reset_at, ==, NOW + 60);
  g_assert_false(p.report_capped);
}

static void
test_verbatim_reset(void)
{
  ArdBackoffPlan p;
  /* The CLI's reset time, verbatim, plus the jitter; no multiplier. */
  plan(AR_OUTCOME_RATE_LIMIT_ACCOUNT, NOW + 3600, 9, 12, &p);
  g_assert_true(p.wait);
  g_assert_false(p.exponential);
  g_assert_cmpuint(p.multiplier, ==, 1);
  g_assert_cmpint(p.original_reset_at, ==, NOW + 3600);
  g_assert_cmpint(p.applied_reset_at, ==, NOW + 3600);
  g_assert_cmpfloat(p.applied_sleep_s, ==, 3600 + 12);
  g_assert_false(p.report_capped);

  /* Beyond 8 h: capped, and reported. */
  plan(AR_OUTCOME_RATE_LIMIT_ACCOUNT, NOW + 20 * 3600, 1, 5, &p);
  g_assert_cmpfloat(p.requested_sleep_s, ==, 20 * 3600 + 5);
  g_assert_cmpfloat(p.applied_sleep_s, ==, ARD_BACKOFF_ABSOLUTE_MAX_S);
  g_assert_true(p.capped_by_absolute_max);
  g_assert_true(p.report_capped);
  /* Exactly at the cap is not capped. */
  plan(AR_OUTCOME_RATE_LIMIT_ACCOUNT, NOW + ARD_BACKOFF_ABSOLUTE_MAX_S - 5, 1, 5, &p);
  g_assert_false(p.capped_by_absolute_max);

  /* A reset already past: just the jitter. No reset at all: the guess. */
  plan(AR_OUTCOME_RATE_LIMIT_ACCOUNT, NOW - 4000, 1, 20, &p);
  g_assert_cmpfloat(p.applied_sleep_s, ==, 20);
  plan(AR_OUTCOME_RATE_LIMIT_ACCOUNT, 0, 1, 20, &p);
  g_assert_cmpint(p.applied_reset_at, ==, NOW + ARD_BACKOFF_ACCOUNT_FALLBACK_S);

  /* A quota waits only for a stated reset. */
  plan(AR_OUTCOME_QUOTA_EXHAUSTED, NOW + 600, 1, 5, &p);
  g_assert_true(p.wait);
  g_assert_cmpint(p.applied_reset_at, ==, NOW + 600);
  plan(AR_OUTCOME_QUOTA_EXHAUSTED, 0, 1, 5, &p);
  g_assert_false(p.wait);

  /* Nothing to wait for. */
  const ArOutcome none[] = { AR_OUTCOME_OK, AR_OUTCOME_ERROR, AR_OUTCOME_AUTH_FAILURE };
  for (gsize i = 0; i < G_N_ELEMENTS(none); i++) {
    plan(none[i], NOW + 600, 3, 5, &p);
    g_assert_false(p.wait);
  }
}

static void
test_jitter_bounds(void)
{
  const guint32 edges[] = { 0, 1, 25, 26, 27, G_MAXUINT32 - 1, G_MAXUINT32 };
  for (gsize i = 0; i < G_N_ELEMENTS(edges); i++) {
    guint j = ard_backoff_jitter_s(edges[i]);
    g_assert_cmpuint(j, >=, ARD_BACKOFF_JITTER_MIN_S);
    g_assert_cmpuint(j, <=, ARD_BACKOFF_JITTER_MAX_S);
  }
  /* Every value of the range is reachable. */
  gboolean seen[ARD_BACKOFF_JITTER_MAX_S + 1] = { FALSE };
  for (guint32 r = 0; r < 1000; r++)
    seen[ard_backoff_jitter_s(r)] = TRUE;
  for (guint s = ARD_BACKOFF_JITTER_MIN_S; s <= ARD_BACKOFF_JITTER_MAX_S; s++)
    g_assert_true(seen[s]);
  /* With the largest jitter the estimated path stays under 8 h. */
  ArdBackoffPlan p;
  plan(AR_OUTCOME_API_TRANSIENT_5XX, 0, 100, ARD_BACKOFF_JITTER_MAX_S, &p);
  g_assert_cmpfloat(p.applied_sleep_s, ==, ARD_BACKOFF_CAP_S + ARD_BACKOFF_JITTER_MAX_S);
  g_assert_false(p.capped_by_absolute_max);
}

static void
test_throttle_json(void)
{
  ArdThrottle t = { 0 };
  g_assert_null(ard_throttle_to_json(&t));
  t.until_us = (gint64)NOW * G_USEC_PER_SEC;
  t.started_us = t.until_us - 60 * G_USEC_PER_SEC;
  t.classification = g_strdup("rate_limit_account");
  t.agent = g_strdup("claude");
  t.reason = g_strdup("You've hit your session limit");
  t.since_round = 7;
  t.consecutive[AR_OUTCOME_NETWORK] = 3;
  t.auth_streak = 2;
  g_autoptr(JsonNode) node = ard_throttle_to_json(&t);
  g_assert_nonnull(node);

  ArdThrottle back = { 0 };
  ard_throttle_from_json(&back, node);
  g_assert_cmpint(back.until_us, ==, t.until_us);
  g_assert_cmpint(back.started_us, ==, t.started_us);
  g_assert_cmpstr(back.classification, ==, t.classification);
  g_assert_cmpstr(back.agent, ==, t.agent);
  g_assert_cmpstr(back.reason, ==, t.reason);
  g_assert_cmpuint(back.since_round, ==, 7);
  g_assert_cmpuint(back.consecutive[AR_OUTCOME_NETWORK], ==, 3);
  g_assert_cmpuint(back.consecutive[AR_OUTCOME_API_TIMEOUT], ==, 0);
  g_assert_cmpuint(back.auth_streak, ==, 2);

  /* The wait ends, the counters stay. */
  ard_throttle_end_wait(&back);
  g_assert_cmpint(back.until_us, ==, 0);
  g_assert_null(back.classification);
  g_autoptr(JsonNode) counters = ard_throttle_to_json(&back);
  g_assert_nonnull(counters);

  /* Garbage is a clear state; a wait without a classification is dropped. */
  g_autoptr(JsonNode) bad = json_from_string("{\"until_us\": 5, \"consecutive\": 3}", NULL);
  ard_throttle_from_json(&back, bad);
  g_assert_cmpint(back.until_us, ==, 0);
  g_autoptr(JsonNode) arr = json_from_string("[1]", NULL);
  ard_throttle_from_json(&back, arr);
  ard_throttle_from_json(&back, NULL);
  g_assert_null(ard_throttle_to_json(&back));
  ard_throttle_clear(&back);
  ard_throttle_clear(&t);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/backoff/reactions", test_reactions);
  g_test_add_func("/backoff/exponential", test_exponential_steps);
  g_test_add_func("/backoff/verbatim-reset", test_verbatim_reset);
  g_test_add_func("/backoff/jitter", test_jitter_bounds);
  g_test_add_func("/backoff/throttle-json", test_throttle_json);
  return g_test_run();
}
