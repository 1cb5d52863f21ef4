/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The codewhale stream-json classifier (the Python tool's codewhale
 * facts): usage from the metadata record, API errors as {"type":"error"}. */

#include <string.h>

#include "ar-classify-private.h"
#include "classify-test-util.h"

/* The Python tool's codewhale facts: usage from the metadata record (no
 * cache, no cost), an API error as {"type":"error"} with a numeric code. */
static void
test_codewhale(void)
{
  const char *meta = "{\"type\":\"metadata\",\"meta\":{\"model\":\"deepseek-chat\","
                     "\"input_tokens\":1234,\"output_tokens\":56}}";
  const char *msg = "{\"type\":\"message\",\"content\":\"done\"}";
  const char *limit = "{\"type\":\"error\",\"code\":429,\"message\":\"Too Many Requests\"}";
  const char *busy = "{\"type\":\"error\",\"status_code\":503,\"message\":\"busy\"}";

  g_autoptr(ArClassifier) ok = ar_classifier_new(AR_DIALECT_CODEWHALE_STREAM_JSON);
  g_auto(ArClassification) out = { 0 };
  ar_classifier_feed_line(ok, msg, strlen(msg), 1000);
  ar_classifier_feed_line(ok, meta, strlen(meta), 2000);
  ar_classifier_finish(ok, 0, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_OK);
  g_assert_true(out.has_usage);
  g_assert_cmpstr(out.model, ==, "deepseek-chat");
  g_assert_cmpint(out.input_tokens, ==, 1234);
  g_assert_cmpint(out.output_tokens, ==, 56);
  g_assert_cmpint(out.cached_tokens, ==, 0);
  g_assert_false(out.has_cost);

  g_autoptr(ArClassifier) limited = ar_classifier_new(AR_DIALECT_CODEWHALE_STREAM_JSON);
  g_auto(ArClassification) lout = { 0 };
  ar_classifier_feed_line(limited, limit, strlen(limit), 1000);
  ar_classifier_finish(limited, 1, 0, FALSE, FALSE, &lout);
  g_assert_cmpint(lout.outcome, ==, AR_OUTCOME_RATE_LIMIT_MODEL);
  g_assert_cmpint(lout.http_status, ==, 429);

  g_autoptr(ArClassifier) busy_c = ar_classifier_new(AR_DIALECT_CODEWHALE_STREAM_JSON);
  g_auto(ArClassification) bout = { 0 };
  ar_classifier_feed_line(busy_c, busy, strlen(busy), 1000);
  ar_classifier_finish(busy_c, 1, 0, FALSE, FALSE, &bout);
  g_assert_cmpint(bout.outcome, ==, AR_OUTCOME_API_TRANSIENT_5XX);

  /* An error the CLI got past: the clean exit decides. */
  g_autoptr(ArClassifier) past = ar_classifier_new(AR_DIALECT_CODEWHALE_STREAM_JSON);
  g_auto(ArClassification) pout = { 0 };
  ar_classifier_feed_line(past, limit, strlen(limit), 1000);
  ar_classifier_feed_line(past, msg, strlen(msg), 2000);
  ar_classifier_finish(past, 0, 0, FALSE, FALSE, &pout);
  g_assert_cmpint(pout.outcome, ==, AR_OUTCOME_OK);
}

int
main(int argc, char **argv)
{
  classify_test_init(&argc, &argv);
  g_test_add_func("/classify/codewhale", test_codewhale);
  classify_test_add_cases("codewhale-");
  return classify_test_run();
}
