/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The codex exec --json classifier: its captured runs (the codex rows of
 * tests/classify-cases.c), the network retry loop and usage summed over
 * turns. */

#include <signal.h>
#include <string.h>

#include "ar-classify-private.h"
#include "classify-test-util.h"

/* The codex network loop: since = the first "Reconnecting..." line. */
static void
test_retry_loop_codex(void)
{
  static const char *const names[] = { "codex-0.171.0-conn-refused", "codex-0.171.0-nocreds",
                                       "codex-0.171.0-invalidkey-nonet" };
  if (!need_fixtures())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_auto(ArClassification) out = { 0 };
    FeedInfo info;
    g_autoptr(ArClassifier) c = classify_case(find_case(names[i]), TRUE, &out, &info);
    gint64 since = 0;

    g_assert_true(ar_classifier_retry_loop(c, &since));
    /* stdout: thread.started, turn.started, then the first retry. */
    g_assert_cmpint(since, ==, info.first_stdout_us + 2 * G_USEC_PER_SEC);
    g_assert_cmpint(out.outcome, ==, AR_OUTCOME_NETWORK);
  }

  /* Progress ends the loop and forgets its cause. */
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CODEX_JSON);
  const char *retry = "{\"type\":\"error\",\"message\":\"Reconnecting... waiting for network "
                      "(Connection failed: error sending request)\"}";
  const char *item = "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\",\"type\":"
                     "\"agent_message\",\"text\":\"hi\"}}";
  gint64 since = 0;

  ar_classifier_feed_line(c, retry, strlen(retry), 5);
  ar_classifier_feed_line(c, retry, strlen(retry), 9);
  g_assert_true(ar_classifier_retry_loop(c, &since));
  g_assert_cmpint(since, ==, 5);
  ar_classifier_feed_line(c, item, strlen(item), 12);
  g_assert_false(ar_classifier_retry_loop(c, &since));
  g_assert_cmpint(since, ==, 0);
  ar_classifier_feed_line(c, retry, strlen(retry), 20);
  g_assert_true(ar_classifier_retry_loop(c, &since));
  g_assert_cmpint(since, ==, 20);

  /* A warning item (the WebSocket fallback) is not progress. */
  const char *warning = "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\",\"type\":"
                        "\"error\",\"message\":\"Falling back from WebSockets to HTTPS\"}}";
  ar_classifier_feed_line(c, warning, strlen(warning), 30);
  g_assert_true(ar_classifier_retry_loop(c, &since));
  g_assert_cmpint(since, ==, 20);
}

static void
test_codex_usage_sum(void)
{
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CODEX_JSON);
  g_auto(ArClassification) out = { 0 };
  const char *turn = "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":100,"
                     "\"cached_input_tokens\":60,\"cache_write_input_tokens\":5,"
                     "\"output_tokens\":7,\"reasoning_output_tokens\":3}}";
  const char *tool = "{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":"
                     "\"command_execution\",\"command\":\"ls\",\"exit_code\":0}}";

  ar_classifier_feed_line(c, tool, strlen(tool), 1000);
  ar_classifier_feed_line(c, turn, strlen(turn), 2000);
  ar_classifier_feed_line(c, tool, strlen(tool), 3000);
  ar_classifier_feed_line(c, turn, strlen(turn), 3001000);
  ar_classifier_finish(c, 0, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_OK);
  g_assert_cmpint(out.input_tokens, ==, 80);
  g_assert_cmpint(out.cached_tokens, ==, 120);
  g_assert_cmpint(out.cache_creation_tokens, ==, 10);
  g_assert_cmpint(out.output_tokens, ==, 14);
  g_assert_cmpint(out.tool_call_count, ==, 2);
  g_assert_cmpint(out.num_turns, ==, 2);
  g_assert_cmpint(out.duration_ms, ==, 3000);
  g_assert_null(out.model);
  g_assert_false(out.has_cost);
}

int
main(int argc, char **argv)
{
  classify_test_init(&argc, &argv);
  g_test_add_func("/classify/codex-usage-sum", test_codex_usage_sum);
  g_test_add_func("/classify/fixtures/retry-loop", test_retry_loop_codex);
  classify_test_add_cases("codex-");
  return classify_test_run();
}
