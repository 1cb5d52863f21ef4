/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The text dialect (aider, custom agents): plain lines and the exit code. */

#include <signal.h>
#include <string.h>

#include "ar-classify-private.h"
#include "classify-test-util.h"

typedef struct {
  const char *line;
  int exit_code;
  ArOutcome outcome;
  int status;
} TextCase;

static const TextCase text_cases[] = {
  { "litellm.AuthenticationError: AnthropicException - invalid x-api-key", 1, AUTH, 0 },
  { "Error: 401 Unauthorized", 1, AUTH, 0 },
  { "HTTP/1.1 401 Unauthorized", 1, AUTH, 401 },
  { "openai.AuthenticationError: Error code: 401 - {'error': 'Invalid API key'}", 1, AUTH, 401 },
  { "The API key is invalid: Incorrect API key provided", 1, AUTH, 0 },
  { "Error code: 403 - forbidden", 1, AUTH, 403 },
  { "litellm.RateLimitError: rate limit exceeded, retry later", 1, RL_MODEL, 0 },
  { "Got status 429 from the server", 1, RL_MODEL, 429 },
  { "429 Too Many Requests", 1, RL_MODEL, 0 },
  { "litellm.InternalServerError: AnthropicException - Overloaded", 1, T5XX, 0 },
  { "server answered with status code 502", 1, T5XX, 502 },
  { "API Error: 500 oops", 1, T5XX, 500 },
  { "503 Service Unavailable", 1, T5XX, 0 },
  { "requests.exceptions.ConnectionError: [Errno 111] Connection refused", 1, NETWORK, 0 },
  { "connect: Network is unreachable", 1, NETWORK, 0 },
  { "Temporary failure in name resolution", 1, NETWORK, 0 },
  { "getaddrinfo ENOTFOUND api.example.com", 1, NETWORK, 0 },
  { "Request timed out.", 1, TIMEOUT, 0 },
  { "You exceeded your current quota: insufficient_quota", 1, QUOTA, 0 },
  /* Not API failures. */
  { "Traceback: KeyError 'x'", 1, ERROR, 0 },
  { "process exited with code 127", 1, ERROR, 0 },
  { "line 401 of main.c", 1, ERROR, 0 },
  /* Exit 0 wins over any words. */
  { "rate limit mentioned in a commit message", 0, OK, 0 },
};

static void
test_text_dialect(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(text_cases); i++) {
    const TextCase *tc = &text_cases[i];
    g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_TEXT);
    g_auto(ArClassification) out = { 0 };

    feed_str(c, "Aider v0.86.1");
    feed_str(c, tc->line);
    feed_str(c, "    indented traceback frame: Connection refused");
    ar_classifier_finish(c, tc->exit_code, 0, FALSE, FALSE, &out);
    if (out.outcome != tc->outcome || out.http_status != tc->status)
      g_error("text \"%s\": got %s/%d, want %s/%d", tc->line, ar_outcome_to_string(out.outcome),
              out.http_status, ar_outcome_to_string(tc->outcome), tc->status);
    g_assert_false(out.has_usage);
    g_assert_false(ar_classifier_saw_result(c));
    if (tc->outcome != OK)
      g_assert_cmpstr(out.evidence, ==, tc->line);
  }

  /* The last recognised line wins; a signal death with no words is error. */
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_TEXT);
  g_auto(ArClassification) out = { 0 };
  feed_str(c, "litellm.RateLimitError: rate limit");
  feed_str(c, "Retrying...");
  feed_str(c, "litellm.APIConnectionError: connection reset by peer");
  feed_str(c, "JSON-looking text is just text here: {\"type\":\"result\"}");
  ar_classifier_finish(c, 1, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_NETWORK);
  g_assert_false(ar_classifier_saw_result(c));

  g_autoptr(ArClassifier) k = ar_classifier_new(AR_DIALECT_TEXT);
  g_auto(ArClassification) kout = { 0 };
  ar_classifier_finish(k, 0, SIGKILL, FALSE, FALSE, &kout);
  g_assert_cmpint(kout.outcome, ==, AR_OUTCOME_ERROR);
  g_assert_null(kout.evidence);
}

int
main(int argc, char **argv)
{
  classify_test_init(&argc, &argv);
  g_test_add_func("/classify/text", test_text_dialect);
  return classify_test_run();
}
