/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* What the classifier tests of every dialect share: reading and feeding the
 * captured fixtures, checking one row of the expectation table. */

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ar-classify-private.h"
#include "classify-test-util.h"

const char *fixtures_dir;

const char claude_ok_lines[] =
    "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"claude-opus-4-8[1m]\"}\n"
    "{\"type\":\"assistant\",\"message\":{\"model\":\"claude-opus-4-8\",\"content\":["
    "{\"type\":\"text\",\"text\":\"hi\"},"
    "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}]}}\n"
    "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\"}]}}\n"
    "{\"type\":\"assistant\",\"message\":{\"model\":\"claude-opus-4-8\",\"content\":["
    "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"Read\",\"input\":{}}]}}\n"
    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"api_error_status\":null,"
    "\"duration_ms\":900,\"num_turns\":3,\"result\":\"done\",\"total_cost_usd\":0.5,"
    "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":20,"
    "\"cache_read_input_tokens\":30,\"output_tokens\":40}}\n";

ArDialect
case_dialect(const char *name)
{
  if (g_str_has_prefix(name, "claude-"))
    return AR_DIALECT_CLAUDE_STREAM_JSON;
  if (g_str_has_prefix(name, "codex-"))
    return AR_DIALECT_CODEX_JSON;
  if (g_str_has_prefix(name, "gemini-"))
    return AR_DIALECT_GEMINI_STREAM_JSON;
  return AR_DIALECT_TEXT;
}

char *
fixture_file(const char *name, const char *ext, gsize *len)
{
  g_autofree char *path = g_strdup_printf("%s/%s%s", fixtures_dir, name, ext);
  g_autoptr(GError) error = NULL;
  char *data = NULL;

  if (!g_file_get_contents(path, &data, len, &error))
    g_error("%s", error->message);
  return data;
}

int
fixture_rc(const char *name)
{
  g_autofree char *rc = fixture_file(name, ".rc", NULL);
  return atoi(rc);
}

/* Feed a file line by line as the daemon's line scanner would; *clock is
 * the arrival time, advanced by one second per line. */
void
feed_lines(ArClassifier *c, const char *data, gsize len, gint64 *clock)
{
  const char *p = data, *end = data + len;

  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    const char *stop = nl ? nl + 1 : end;
    *clock += G_USEC_PER_SEC;
    ar_classifier_feed_line(c, p, stop - p, *clock);
    p = stop;
  }
}

ArClassifier *
classify_case(const Case *tc, gboolean stderr_first, ArClassification *out, FeedInfo *info)
{
  ArClassifier *c = ar_classifier_new(case_dialect(tc->name));
  gsize out_len = 0, err_len = 0;
  g_autofree char *stdout_data = fixture_file(tc->name, ".stdout.jsonl", &out_len);
  g_autofree char *stderr_data = fixture_file(tc->name, ".stderr.txt", &err_len);
  int rc = fixture_rc(tc->name);
  gint64 clock = 0;

  if (stderr_first)
    feed_lines(c, stderr_data, err_len, &clock);
  if (info)
    info->first_stdout_us = clock + G_USEC_PER_SEC;
  feed_lines(c, stdout_data, out_len, &clock);
  if (!stderr_first)
    feed_lines(c, stderr_data, err_len, &clock);

  /* 124: `timeout` killed the CLI; in the daemon that is a SIGTERM (or
   * SIGKILL) of a round it ended itself. */
  if (rc == 124)
    ar_classifier_finish(c, 0, SIGTERM, TRUE, tc->stalled, out);
  else
    ar_classifier_finish(c, rc, 0, FALSE, FALSE, out);
  return c;
}

const Case *
find_case(const char *name)
{
  for (gsize i = 0; i < classify_n_cases; i++) {
    if (strcmp(classify_cases[i].name, name) == 0)
      return &classify_cases[i];
  }
  return NULL;
}

gboolean
need_fixtures(void)
{
  if (fixtures_dir == NULL) {
    g_test_skip("tests/fixtures/agent-cli not found");
    return FALSE;
  }
  return TRUE;
}

void
assert_evidence_shape(const char *evidence)
{
  if (evidence == NULL)
    return;
  g_assert_true(g_utf8_validate(evidence, -1, NULL));
  g_assert_cmpint(g_utf8_strlen(evidence, -1), <=, 200);
  g_assert_null(strchr(evidence, '\n'));
  g_assert_null(strchr(evidence, '\r'));
}

void
test_fixture_case(gconstpointer data)
{
  const Case *tc = data;
  g_auto(ArClassification) out = { 0 };
  FeedInfo info;

  if (!need_fixtures())
    return;
  g_autoptr(ArClassifier) c = classify_case(tc, TRUE, &out, &info);

  g_assert_cmpstr(ar_outcome_to_string(out.outcome), ==, ar_outcome_to_string(tc->outcome));
  g_assert_cmpint(out.http_status, ==, tc->status);
  g_assert_cmpint(out.reset_at_epoch, ==, tc->reset_at);
  if (tc->evidence == NULL) {
    g_assert_null(out.evidence);
  } else {
    g_assert_nonnull(out.evidence);
    if (!g_str_has_prefix(out.evidence, tc->evidence))
      g_test_fail_printf("%s: evidence \"%s\" does not start with \"%s\"", tc->name, out.evidence,
                         tc->evidence);
  }
  assert_evidence_shape(out.evidence);

  g_assert_cmpint(ar_classifier_saw_result(c), ==, tc->saw_result);
  gint64 since = -1;
  g_assert_cmpint(ar_classifier_retry_loop(c, &since), ==, tc->retry_loop);
  if (tc->retry_loop)
    g_assert_cmpint(since, >=, G_USEC_PER_SEC);
  else
    g_assert_cmpint(since, ==, 0);

  if (tc->usage.check) {
    g_assert_true(out.has_usage);
    g_assert_cmpstr(out.model, ==, tc->usage.model);
    g_assert_cmpint(out.input_tokens, ==, tc->usage.input);
    g_assert_cmpint(out.output_tokens, ==, tc->usage.output);
    g_assert_cmpint(out.cached_tokens, ==, tc->usage.cached);
    g_assert_cmpint(out.cache_creation_tokens, ==, tc->usage.cache_creation);
    g_assert_cmpint(out.duration_ms, ==, tc->usage.duration_ms);
    g_assert_cmpint(out.tool_call_count, ==, tc->usage.tools);
    g_assert_cmpint(out.num_turns, ==, tc->usage.turns);
    g_assert_cmpint(out.has_cost, ==, tc->usage.has_cost);
    g_assert_cmpfloat_with_epsilon(out.cost_usd, tc->usage.cost, 1e-9);
  }

  /* finish() does not consume the classifier. */
  g_auto(ArClassification) again = { 0 };
  ar_classifier_finish(c, 0, 0, FALSE, FALSE, &again);
  ar_classifier_finish(c, 0, 0, FALSE, FALSE, &again);
}

void
feed_str(ArClassifier *c, const char *line)
{
  ar_classifier_feed_line(c, line, strlen(line), g_get_monotonic_time());
}

void
feed_text_block(ArClassifier *c, const char *text)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    if (**l)
      feed_str(c, *l);
  }
}

void
classify_test_init(int *argc, char ***argv)
{
  g_test_init(argc, argv, NULL);
  /* The captured output is carried in tests/fixtures/agent-cli. */
  const char *env_dir = g_getenv("AR_FIXTURES_DIR");
  const char *root = g_getenv("AR_SOURCE_ROOT");
  char *dir = env_dir ? g_strdup(env_dir)
                      : g_build_filename(root ? root : ".", "tests", "fixtures", "agent-cli", NULL);
  if (g_file_test(dir, G_FILE_TEST_IS_DIR))
    fixtures_dir = dir;
  else
    g_free(dir);
}

void
classify_test_add_cases(const char *prefix)
{
  for (gsize i = 0; i < classify_n_cases; i++) {
    if (!g_str_has_prefix(classify_cases[i].name, prefix))
      continue;
    g_autofree char *path = g_strdup_printf("/classify/fixtures/case/%s", classify_cases[i].name);
    g_test_add_data_func(path, &classify_cases[i], test_fixture_case);
  }
}

int
classify_test_run(void)
{
  int rc = g_test_run();
  gboolean partial = fixtures_dir == NULL;
  g_free((char *)fixtures_dir);
  fixtures_dir = NULL;
  /* Without the fixtures the rest still ran; tell meson it was partial. */
  return rc == 0 && partial ? 77 : rc;
}
