/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Output classifiers (src/common/ar-classify*.c), what every dialect
 * shares: names, the dialect guess, evidence, garbage and huge lines, the
 * fixture inventory against the expectation table (tests/classify-cases.c),
 * the table rows' proofs, and the fake agent that replays a fixture. Each
 * dialect's own cases: test-classify-{claude,codex,gemini,text}.c. */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar-classify-private.h"
#include "classify-test-util.h"

static void
test_fixture_inventory(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *entry;
  guint n = 0;

  if (!need_fixtures())
    return;
  dir = g_dir_open(fixtures_dir, 0, &error);
  g_assert_no_error(error);
  /* Every captured case has a row, and every row a captured case. */
  while ((entry = g_dir_read_name(dir)) != NULL) {
    if (!g_str_has_suffix(entry, ".rc"))
      continue;
    g_autofree char *name = g_strndup(entry, strlen(entry) - 3);
    if (find_case(name) == NULL)
      g_error("fixture %s has no row in the expectation table", name);
    n++;
  }
  g_assert_cmpuint(n, ==, classify_n_cases);
}

/* The two streams' relative order was not captured: stdout first must give
 * the same class, status and reset time. */
static void
test_fixture_order(void)
{
  if (!need_fixtures())
    return;
  for (gsize i = 0; i < classify_n_cases; i++) {
    g_auto(ArClassification) out = { 0 };
    g_autoptr(ArClassifier) c = classify_case(&classify_cases[i], FALSE, &out, NULL);

    if (out.outcome != classify_cases[i].outcome || out.http_status != classify_cases[i].status ||
        out.reset_at_epoch != classify_cases[i].reset_at)
      g_test_fail_printf("%s, stdout first: %s %d", classify_cases[i].name,
                         ar_outcome_to_string(out.outcome), out.http_status);
    assert_evidence_shape(out.evidence);
  }
}

/* saw_result turns TRUE exactly with the final line, not before. */
static void
test_saw_result_timing(void)
{
  static const char *const names[] = { "claude-2.1.197-ok", "claude-2.1.197-429",
                                       "codex-0.171.0-ok",  "codex-0.171.0-401",
                                       "gemini-0.61.0-ok",  "gemini-0.61.0-500" };
  if (!need_fixtures())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    gsize len = 0;
    g_autofree char *data = fixture_file(names[i], ".stdout.jsonl", &len);
    g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
    guint n = g_strv_length(lines);
    g_autoptr(ArClassifier) c = ar_classifier_new(case_dialect(names[i]));

    while (n > 0 && lines[n - 1][0] == '\0')
      n--;
    for (guint l = 0; l < n; l++) {
      g_assert_false(ar_classifier_saw_result(c));
      ar_classifier_feed_line(c, lines[l], strlen(lines[l]), (l + 1) * G_USEC_PER_SEC);
    }
    g_assert_true(ar_classifier_saw_result(c));
  }
}

static void
test_garbage(void)
{
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  g_auto(ArClassification) out = { 0 };
  static const char binary[] = "\x00\xff\xfe{\"type\":\x80\x81\n\x1b[31m\xc3\x28 rate limit\x00x";
  g_autofree char *random = g_malloc(4096);
  g_autoptr(GRand) rand = g_rand_new_with_seed(42);

  for (gsize i = 0; i < 4096; i++)
    random[i] = (char)g_rand_int_range(rand, 0, 256);

  ar_classifier_feed_line(c, binary, sizeof(binary) - 1, 1);
  ar_classifier_feed_line(c, random, 4096, 2);
  ar_classifier_feed_line(c, "", 0, 3);
  feed_str(c, "{\"type\":\"resu");
  feed_str(c, "[1, 2");
  feed_str(c, "{\"type\":null,\"message\":[]}");
  feed_str(c, "[\"x\", 1, {\"type\":\"user\"}]");
  feed_str(c, "{\"type\":\"assistant\",\"message\":\"not an object\"}");
  feed_str(c, "{\"type\":\"result\",\"usage\":17,\"is_error\":\"yes\"}");
  /* Bracketed words are not JSON. */
  feed_str(c, "[Routing] failed: Error: fetch failed sending request");
  g_assert_true(c->text.set);
  g_assert_cmpint(c->text.hint, ==, AR_OUTCOME_NETWORK);
  /* A lone "{" that is not a document, then a normal line. */
  feed_str(c, "{");
  feed_str(c, "  \"a\": 1,");
  feed_str(c, "not json");
  feed_str(c, "}");
  g_assert_null(c->block);
  feed_text_block(c, claude_ok_lines);
  ar_classifier_finish(c, 0, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_OK);
  g_assert_true(out.has_usage);
  g_assert_cmpstr(out.model, ==, "claude-opus-4-8");
  g_assert_cmpint(out.input_tokens, ==, 10);
  g_assert_cmpint(out.cache_creation_tokens, ==, 20);
  g_assert_cmpint(out.cached_tokens, ==, 30);
  g_assert_cmpint(out.output_tokens, ==, 40);
  g_assert_cmpint(out.tool_call_count, ==, 2);
  g_assert_cmpint(out.num_turns, ==, 3);
  g_assert_cmpint(out.duration_ms, ==, 900);
  g_assert_true(out.has_cost);

  /* Garbage as the only evidence of a failure still gives a clean string. */
  g_autoptr(ArClassifier) t = ar_classifier_new(AR_DIALECT_TEXT);
  g_auto(ArClassification) bad = { 0 };
  ar_classifier_feed_line(t, binary, sizeof(binary) - 1, 1);
  ar_classifier_feed_line(t, random, 4096, 2);
  ar_classifier_finish(t, 3, 0, FALSE, FALSE, &bad);
  assert_evidence_shape(bad.evidence);

  /* All dialects survive the same garbage. */
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    g_autoptr(ArClassifier) x = ar_classifier_new((ArDialect)d);
    g_auto(ArClassification) o = { 0 };
    for (gsize off = 0; off < 4096; off += 97)
      ar_classifier_feed_line(x, random + off, MIN(300, 4096 - off), (gint64)off);
    ar_classifier_finish(x, 1, 0, FALSE, FALSE, &o);
    assert_evidence_shape(o.evidence);
  }
}

static void
test_long_lines(void)
{
  const gsize mib = 1024 * 1024;
  g_autoptr(GString) big = g_string_sized_new(mib + 512);

  /* A 1 MiB assistant line (a huge tool input) parses whole. */
  g_string_append(big, "{\"type\":\"assistant\",\"message\":{\"model\":\"claude-opus-4-8\","
                       "\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Write\","
                       "\"input\":{\"content\":\"");
  while (big->len < mib)
    g_string_append(big, "rate limit 429 Unauthorized ");
  g_string_append(big, "\"}}]}}");
  g_assert_cmpuint(big->len, >=, mib);

  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  ar_classifier_feed_line(c, big->str, big->len, 1);
  g_assert_cmpint(c->usage.tool_call_count, ==, 1);

  /* The same line cut at 64 KiB by the caller: still progress and a tool
   * call, and its words are not taken for the CLI's. */
  ar_classifier_feed_line(c, big->str, 64 * 1024, 2);
  g_assert_cmpint(c->usage.tool_call_count, ==, 2);

  /* A result line whose long text was cut: the marker and the error
   * fields before the text survive. */
  g_autoptr(GString) result = g_string_new(
      "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":529,"
      "\"duration_ms\":10,\"num_turns\":1,\"result\":\"API Error: 529 Overloaded. ");
  while (result->len < mib)
    g_string_append(result, "more text ");
  ar_classifier_feed_line(c, result->str, 64 * 1024, 3);
  g_assert_true(ar_classifier_saw_result(c));

  g_auto(ArClassification) out = { 0 };
  ar_classifier_finish(c, 1, 0, FALSE, FALSE, &out);
  g_assert_cmpint(out.outcome, ==, AR_OUTCOME_API_TRANSIENT_5XX);
  g_assert_cmpint(out.http_status, ==, 529);
  g_assert_true(g_str_has_prefix(out.evidence, "API Error: 529 Overloaded."));
  assert_evidence_shape(out.evidence);

  /* 1 MiB of plain text in the text dialect, the pattern at its end. */
  g_autoptr(GString) text = g_string_new(NULL);
  while (text->len < mib)
    g_string_append(text, "lorem ipsum ");
  g_string_append(text, "Error: connection refused");
  g_autoptr(ArClassifier) t = ar_classifier_new(AR_DIALECT_TEXT);
  g_auto(ArClassification) tout = { 0 };
  ar_classifier_feed_line(t, text->str, text->len, 1);
  ar_classifier_finish(t, 1, 0, FALSE, FALSE, &tout);
  g_assert_cmpint(tout.outcome, ==, AR_OUTCOME_NETWORK);
  assert_evidence_shape(tout.evidence);

  /* A pretty-printed document larger than the bound is dropped, and the
   * classifier goes on. */
  g_autoptr(ArClassifier) g = ar_classifier_new(AR_DIALECT_GEMINI_STREAM_JSON);
  g_autofree char *filler = g_strnfill(1000, 'x');
  g_autofree char *inner = g_strdup_printf("  \"pad\": \"%s\",", filler);
  feed_str(g, "{");
  for (int i = 0; i < 400; i++)
    feed_str(g, inner);
  feed_str(g, "  \"response\": \"hi\"");
  feed_str(g, "}");
  g_assert_null(g->block);
  g_assert_false(ar_classifier_saw_result(g));
  feed_str(g, "{\"type\":\"result\",\"status\":\"success\",\"stats\":{\"input\":1}}");
  g_assert_true(ar_classifier_saw_result(g));
}

static void
test_stall_and_timeout(void)
{
  static const ArOutcome stall[AR_DIALECT_COUNT] = {
    [AR_DIALECT_TEXT] = AR_OUTCOME_ERROR,
    [AR_DIALECT_CLAUDE_STREAM_JSON] = AR_OUTCOME_API_TIMEOUT,
    [AR_DIALECT_CODEX_JSON] = AR_OUTCOME_API_TIMEOUT,
    [AR_DIALECT_GEMINI_STREAM_JSON] = AR_OUTCOME_NETWORK,
    [AR_DIALECT_CODEWHALE_STREAM_JSON] = AR_OUTCOME_ERROR,
  };

  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    g_autoptr(ArClassifier) c = ar_classifier_new((ArDialect)d);
    g_auto(ArClassification) out = { 0 };

    feed_str(c, "some banner");
    ar_classifier_finish(c, 0, SIGTERM, TRUE, TRUE, &out);
    g_assert_cmpint(out.outcome, ==, stall[d]);
    g_assert_null(out.evidence);

    /* Ended for the wall clock, not for silence, with nothing to go on:
     * a plain error (the daemon reports the timeout itself). */
    ar_classifier_finish(c, 0, SIGTERM, TRUE, FALSE, &out);
    g_assert_cmpint(out.outcome, ==, AR_OUTCOME_ERROR);
  }
}

static void
test_names(void)
{
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    ArDialect back = AR_DIALECT_TEXT;
    g_assert_true(ar_dialect_from_string(ar_dialect_to_string((ArDialect)d), &back));
    g_assert_cmpint(back, ==, d);
  }
  ArDialect unchanged = AR_DIALECT_CODEX_JSON;
  g_assert_false(ar_dialect_from_string("stream-json", &unchanged));
  g_assert_false(ar_dialect_from_string(NULL, &unchanged));
  g_assert_cmpint(unchanged, ==, AR_DIALECT_CODEX_JSON);

  static const char *const names[AR_OUTCOME_COUNT] = {
    "ok",
    "auth_failure",
    "rate_limit_account",
    "rate_limit_model",
    "quota_exhausted",
    "api_transient_5xx",
    "api_timeout",
    "network",
    "error",
  };
  static const gboolean transient[AR_OUTCOME_COUNT] = { FALSE, FALSE, TRUE, TRUE, FALSE,
                                                        TRUE,  TRUE,  TRUE, FALSE };
  for (int o = 0; o < AR_OUTCOME_COUNT; o++) {
    ArOutcome back = AR_OUTCOME_OK;
    g_assert_cmpstr(ar_outcome_to_string((ArOutcome)o), ==, names[o]);
    g_assert_true(ar_outcome_from_string(names[o], &back));
    g_assert_cmpint(back, ==, o);
    g_assert_cmpint(ar_outcome_is_transient((ArOutcome)o), ==, transient[o]);
  }
}

static void
test_guess(void)
{
  static const struct {
    const char *argv;
    ArDialect dialect;
  } guesses[] = {
    { "claude --model m --dangerously-skip-permissions --verbose --output-format stream-json",
      AR_DIALECT_CLAUDE_STREAM_JSON },
    { "/usr/local/bin/claude -p --output-format=json", AR_DIALECT_CLAUDE_STREAM_JSON },
    { "claude -p", AR_DIALECT_TEXT },
    { "claude --output-format text", AR_DIALECT_TEXT },
    { "codex exec --json --skip-git-repo-check", AR_DIALECT_CODEX_JSON },
    { "codex exec --skip-git-repo-check", AR_DIALECT_TEXT },
    { "codex --json", AR_DIALECT_TEXT },
    { "gemini --yolo --skip-trust --output-format stream-json", AR_DIALECT_GEMINI_STREAM_JSON },
    { "gemini -o json -p hi", AR_DIALECT_GEMINI_STREAM_JSON },
    { "gemini --yolo", AR_DIALECT_TEXT },
    { "codewhale exec --auto --output-format stream-json", AR_DIALECT_CODEWHALE_STREAM_JSON },
    { "codewhale exec --auto", AR_DIALECT_TEXT },
    { "aider --yes-always --no-stream", AR_DIALECT_TEXT },
    { "my-claude --output-format stream-json", AR_DIALECT_TEXT },
    { "claude --output-format", AR_DIALECT_TEXT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS(guesses); i++) {
    g_auto(GStrv) argv = g_strsplit(guesses[i].argv, " ", -1);
    g_assert_cmpint(ar_dialect_guess((const char *const *)argv), ==, guesses[i].dialect);
  }
  const char *const empty[] = { NULL };
  g_assert_cmpint(ar_dialect_guess(empty), ==, AR_DIALECT_TEXT);
  g_assert_cmpint(ar_dialect_guess(NULL), ==, AR_DIALECT_TEXT);
}

static void
test_evidence(void)
{
  g_autofree char *long_text = NULL;
  g_autoptr(GString) s = g_string_new(NULL);

  g_autofree char *lines = ar_classify_evidence_finish("first\n  second\r\n\tthird  ");
  g_assert_cmpstr(lines, ==, "first second third");
  g_assert_null(ar_classify_evidence_finish(" \n\t "));

  /* 300 two-byte characters: cut to 200 characters, not bytes. */
  for (int i = 0; i < 300; i++)
    g_string_append(s, "é");
  long_text = ar_classify_evidence_finish(s->str);
  g_assert_cmpint(g_utf8_strlen(long_text, -1), ==, 200);
  g_assert_true(g_utf8_validate(long_text, -1, NULL));

  /* A secret in the CLI's message does not reach the evidence. */
  g_autofree char *secret =
      ar_classify_evidence_finish("Invalid API key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  g_assert_null(strstr(secret, "sk-ant-api03-AAAA"));
  g_assert_true(g_str_has_prefix(secret, "Invalid API key"));

  /* The raw copy stops at a character boundary. */
  char buf[8];
  ar_copy_bounded(buf, sizeof(buf), "abcdeé€x", -1);
  g_assert_cmpstr(buf, ==, "abcdeé");
}

static void
test_table_fixtures_exist(void)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

  if (!need_fixtures())
    return;
  ar_classify_tables_fixtures(names);
  g_assert_cmpuint(names->len, >, 20);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *rc = g_strdup_printf("%s/%s.rc", fixtures_dir, (char *)names->pdata[i]);
    if (!g_file_test(rc, G_FILE_TEST_EXISTS))
      g_error("a classifier table names fixture %s, which does not exist", (char *)names->pdata[i]);
  }
}

static char *
fake_agent_path(void)
{
  const char *root = g_getenv("AR_SOURCE_ROOT");
  return g_build_filename(root ? root : ".", "tests", "fake-agents", "replay-fixture", NULL);
}

static void
test_fake_agent_replay(void)
{
  static const char *const names[] = { "claude-2.1.197-ok", "gemini-0.61.0-401",
                                       "codex-0.171.0-429-quota" };
  g_autofree char *agent = fake_agent_path();

  if (!need_fixtures())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    const char *argv[] = { agent, "--time-scale", "0", fixtures_dir, names[i], "a prompt", NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autofree char *want_out = fixture_file(names[i], ".stdout.jsonl", NULL);
    g_autofree char *want_err = fixture_file(names[i], ".stderr.txt", NULL);
    g_autoptr(GError) error = NULL;
    int status = 0;

    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out, &err,
                 &status, &error);
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, fixture_rc(names[i]));
    g_assert_cmpstr(out, ==, want_out);
    g_assert_cmpstr(err, ==, want_err);
  }
}

/* A hang fixture writes its output and then stays until killed. */
static void
test_fake_agent_hang(void)
{
  const char *name = "codex-0.171.0-conn-refused";
  g_autofree char *agent = fake_agent_path();
  g_autofree char *want = NULL;
  gsize want_len = 0;
  g_autoptr(GError) error = NULL;
  GPid pid = 0;
  int out_fd = -1;

  if (!need_fixtures())
    return;
  want = fixture_file(name, ".stdout.jsonl", &want_len);
  const char *argv[] = { agent, fixtures_dir, name, NULL };
  /* The scale from the environment this time. */
  g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "FAKE_AGENT_TIME_SCALE", "0", TRUE);

  g_spawn_async_with_pipes(NULL, (char **)argv, envp,
                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL,
                           NULL, NULL, &pid, NULL, &out_fd, NULL, &error);
  g_assert_no_error(error);

  g_autoptr(GString) got = g_string_new(NULL);
  char buf[4096];
  while (got->len < want_len) {
    ssize_t n = read(out_fd, buf, sizeof(buf));
    g_assert_cmpint(n, >, 0);
    g_string_append_len(got, buf, n);
  }
  g_assert_cmpmem(got->str, got->len, want, want_len);

  kill(pid, SIGTERM);
  int status = 0;
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  /* Died of the signal: it had not exited by itself. */
  g_assert_true(WIFSIGNALED(status));
  g_assert_cmpint(WTERMSIG(status), ==, SIGTERM);
  close(out_fd);
  g_spawn_close_pid(pid);
}

/* [plugins] disable naming a dialect's detector: the exit code alone
 * decides (a 429 run is a plain error with no status and no usage, a
 * clean run ok without usage); saw_result still answers, for the daemon's
 * grace-after-result. */
static void
test_exit_code_only(void)
{
  static const struct {
    const char *name;
    int exit_code;
    ArOutcome outcome;
  } cases[] = {
    { "claude-2.1.197-429", 1, AR_OUTCOME_ERROR },
    { "claude-2.1.197-ok", 0, AR_OUTCOME_OK },
    { "codex-0.171.0-429", 1, AR_OUTCOME_ERROR },
    { "gemini-0.61.0-429", 173, AR_OUTCOME_ERROR },
  };

  g_assert_cmpstr(ar_dialect_detector_name(AR_DIALECT_CLAUDE_STREAM_JSON), ==,
                  "claude_error_detector");
  g_assert_cmpstr(ar_dialect_detector_name(AR_DIALECT_CODEWHALE_STREAM_JSON), ==,
                  "codewhale_error_detector");
  g_assert_null(ar_dialect_detector_name(AR_DIALECT_TEXT));
  if (!need_fixtures())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(ArClassifier) c = ar_classifier_new(case_dialect(cases[i].name));
    ar_classifier_set_exit_code_only(c, TRUE);
    static const char *const exts[] = { ".stderr.txt", ".stdout.jsonl" };
    for (gsize e = 0; e < G_N_ELEMENTS(exts); e++) {
      gsize len = 0;
      g_autofree char *data = fixture_file(cases[i].name, exts[e], &len);
      g_auto(GStrv) lines = g_strsplit(data ? data : "", "\n", -1);
      for (guint l = 0; lines[l]; l++)
        ar_classifier_feed_line(c, lines[l], strlen(lines[l]), (l + 1) * G_USEC_PER_SEC);
    }
    g_auto(ArClassification) out = { 0 };
    ar_classifier_finish(c, cases[i].exit_code, 0, FALSE, FALSE, &out);
    g_assert_cmpstr(ar_outcome_to_string(out.outcome), ==, ar_outcome_to_string(cases[i].outcome));
    g_assert_cmpint(out.http_status, ==, 0);
    g_assert_cmpint(out.reset_at_epoch, ==, 0);
    g_assert_false(out.has_usage);
    g_assert_true(ar_classifier_saw_result(c));
  }
}

int
main(int argc, char **argv)
{
  classify_test_init(&argc, &argv);
  g_test_add_func("/classify/names", test_names);
  g_test_add_func("/classify/guess", test_guess);
  g_test_add_func("/classify/evidence", test_evidence);
  g_test_add_func("/classify/garbage", test_garbage);
  g_test_add_func("/classify/long-lines", test_long_lines);
  g_test_add_func("/classify/stall-and-timeout", test_stall_and_timeout);
  g_test_add_func("/classify/fixtures/inventory", test_fixture_inventory);
  g_test_add_func("/classify/fixtures/stdout-first", test_fixture_order);
  g_test_add_func("/classify/fixtures/saw-result", test_saw_result_timing);
  g_test_add_func("/classify/fixtures/table-proofs", test_table_fixtures_exist);
  g_test_add_func("/classify/fake-agent/replay", test_fake_agent_replay);
  g_test_add_func("/classify/fake-agent/hang", test_fake_agent_hang);
  g_test_add_func("/classify/fixtures/exit-code-only", test_exit_code_only);
  return classify_test_run();
}
