/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The claude stream-json classifier: its captured runs (the claude rows of
 * tests/classify-cases.c), the rate_limit_event, error categories and the
 * grace after a result. */

#include <signal.h>
#include <string.h>

#include "ar-classify-private.h"
#include "classify-test-util.h"

static void
test_grace_after_result(void)
{
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  g_auto(ArClassification) out = { 0 };

  feed_text_block(c, claude_ok_lines);
  g_assert_true(ar_classifier_saw_result(c));
  /* Killed while lingering after a success result: the work is done. */
  ar_classifier_finish(c, 0, SIGKILL, TRUE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_OK);
  g_assert_null(out.evidence);
  /* A non-zero exit of its own after success is the CLI's complaint. */
  ar_classifier_finish(c, 1, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_ERROR);
}

static void
test_claude_rate_limit_event(void)
{
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  g_auto(ArClassification) out = { 0 };

  /* Killed after a rejection, before any result. */
  feed_str(c, "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"rejected\","
              "\"resetsAt\":1800000000,\"rateLimitType\":\"seven_day\"}}");
  ar_classifier_finish(c, 0, SIGTERM, TRUE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_RATE_LIMIT_ACCOUNT);
  g_assert_cmpint(out.reset_at_epoch, ==, 1800000000);
  g_assert_cmpstr(out.evidence, ==, "rate limit rejected (seven_day), resets at 1800000000");

  /* Lifted again: nothing left. */
  feed_str(c, "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"allowed\"}}");
  ar_classifier_finish(c, 0, SIGTERM, TRUE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_ERROR);
  g_assert_cmpint(out.reset_at_epoch, ==, 0);

  /* A billing category beats the status. */
  g_autoptr(ArClassifier) b = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  feed_str(b, "{\"type\":\"assistant\",\"error\":\"billing_error\",\"message\":{\"model\":"
              "\"<synthetic>\",\"content\":[]}}");
  feed_str(b, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
              "\"api_error_status\":400,\"result\":\"Credit balance is too low\"}");
  ar_classifier_finish(b, 1, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_QUOTA_EXHAUSTED);
  g_assert_cmpint(out.http_status, ==, 400);
}

/* Parity with the Python tool: a rejected rate_limit_event, then an
 * is_error result without api_error_status (the captured oauth-429 shape
 * without the status and the synthetic error line) is the account's limit,
 * backed off to resetsAt, not a plain error. */
static void
test_claude_rejected_no_status(void)
{
  const char *root = g_getenv("AR_SOURCE_ROOT");
  g_autofree char *path =
      g_build_filename(root ? root : ".", "tests", "fixtures",
                       "claude-rate-limit-rejected-no-status.stdout.jsonl", NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(path, &data, &len, &error));
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  g_auto(ArClassification) out = { 0 };
  gint64 clock = 0;
  feed_lines(c, data, len, &clock);
  ar_classifier_finish(c, 1, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_RATE_LIMIT_ACCOUNT);
  g_assert_cmpint(out.reset_at_epoch, ==, 1795847872);
  g_assert_cmpstr(out.evidence, ==, "You've hit your session limit · resets 6:37am (UTC)");
}

int
main(int argc, char **argv)
{
  classify_test_init(&argc, &argv);
  g_test_add_func("/classify/grace-after-result", test_grace_after_result);
  g_test_add_func("/classify/claude-rate-limit-event", test_claude_rate_limit_event);
  g_test_add_func("/classify/claude-rejected-no-status", test_claude_rejected_no_status);
  classify_test_add_cases("claude-");
  return classify_test_run();
}
