#include "config.h"

/* Output classifiers (src/common/ar-classify*.c) against the real captured
 * output of claude, codex and gemini in tests/fixtures/agent-cli,
 * plus garbage, huge lines, the text dialect, and the fake agent that
 * replays a fixture.
 *
 *   test-classify --write-docs docs/classifiers.md
 * regenerates the generated part of the classifier page from the tables. */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar-classify-private.h"
#include "ar-classify.h"

#define DOCS_BEGIN "<!-- BEGIN GENERATED: test-classify --write-docs -->\n"
#define DOCS_END   "<!-- END GENERATED -->\n"

static const char *fixtures_dir; /* NULL when tests/fixtures/agent-cli is absent */

/* ---- the expectation table: one row per fixture case ---- */

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

/* Usage numbers are those in the fixtures' final lines. codex reports no
 * duration: the classifier measures first line to turn.completed on the
 * feed clock, which this test advances by 1 s per line (stderr first). */
#define CLAUDE_OK_USAGE(model_, ms, cost_)                                                         \
  .usage = { TRUE, model_, 12, 3, 0, 0, ms, 0, 1, cost_, TRUE }
#define CODEX_OK_USAGE(ms)  .usage = { TRUE, NULL, 12, 3, 0, 0, ms, 0, 1, 0, FALSE }
#define GEMINI_OK_USAGE(ms) .usage = { TRUE, "gemini-3.8-flash", 24, 6, 0, 0, ms, 0, 0, 0, FALSE }

static const Case cases[] = {
  /* claude 2.1.197, stream-json (and json: *-json) */
  { "claude-2.1.197-401", .outcome = AUTH, .status = 401, RESULT,
    EVIDENCE("Invalid API key · Fix external API key") },
  { "claude-2.1.197-401-json", .outcome = AUTH, .status = 401, RESULT,
    EVIDENCE("Invalid API key · Fix external API key") },
  { "claude-2.1.197-403", .outcome = AUTH, .status = 403, RESULT,
    EVIDENCE("Failed to authenticate. API Error: 403 ") },
  { "claude-2.1.197-429", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("API Error: Request rejected (429) · This request would exceed the rate limit") },
  { "claude-2.1.197-429-defaultretries", .outcome = RL_MODEL, .status = 429, LOOP,
    EVIDENCE("API retry 9/10: rate_limit (HTTP 429)") },
  { "claude-2.1.197-429-json", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("API Error: Request rejected (429)") },
  { "claude-2.1.197-429-then-ok", .outcome = OK, RESULT,
    CLAUDE_OK_USAGE("claude-opus-4-8", 2158, 0.000135) },
  { "claude-2.1.197-500", .outcome = T5XX, .status = 500, RESULT,
    EVIDENCE("API Error: 500 Internal server error.") },
  { "claude-2.1.197-529", .outcome = T5XX, .status = 529, RESULT,
    EVIDENCE("API Error: 529 Overloaded.") },
  { "claude-2.1.197-529-defaultretries", .outcome = T5XX, .status = 529, LOOP,
    EVIDENCE("API retry 9/10: overloaded (HTTP 529)") },
  { "claude-2.1.197-conn-refused", .outcome = NETWORK, RESULT,
    EVIDENCE("API Error: Unable to connect to API (ConnectionRefused)") },
  { "claude-2.1.197-drop", .outcome = NETWORK, RESULT,
    EVIDENCE("API Error: Unable to connect to API (ECONNRESET)") },
  { "claude-2.1.197-hang", STALLED, .outcome = TIMEOUT },
  { "claude-2.1.197-hang-apitimeout", .outcome = TIMEOUT, RESULT, EVIDENCE("Request timed out") },
  { "claude-2.1.197-invalidkey-nonet", .outcome = NETWORK, LOOP,
    EVIDENCE("API retry 9/10: unknown (no HTTP status)") },
  { "claude-2.1.197-invalidkey-nonet-retries2", .outcome = NETWORK, RESULT,
    EVIDENCE("API Error: Unable to connect to API (FailedToOpenSocket)") },
  { "claude-2.1.197-nocreds", .outcome = AUTH, RESULT,
    EVIDENCE("Not logged in · Please run /login") },
  { "claude-2.1.197-oauth-401", .outcome = AUTH, .status = 401, RESULT,
    EVIDENCE("Not logged in · Please run /login") },
  { "claude-2.1.197-oauth-429", .outcome = RL_ACCOUNT, .status = 429, .reset_at = 1795847872,
    RESULT, EVIDENCE("You've hit your session limit · resets 6:37am (UTC)") },
  { "claude-2.1.197-oauth-429-plain", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("API Error: Server is temporarily limiting requests (not your usage limit)") },
  { "claude-2.1.197-oauth-529", .outcome = T5XX, .status = 529, RESULT,
    EVIDENCE("API Error: 529 Overloaded.") },
  { "claude-2.1.197-oauth-ok", .outcome = OK, RESULT,
    CLAUDE_OK_USAGE("claude-sonnet-5", 204, 0.000081) },
  { "claude-2.1.197-ok", .outcome = OK, RESULT, CLAUDE_OK_USAGE("claude-opus-4-8", 167, 0.000135) },
  { "claude-2.1.197-ok-json", .outcome = OK, RESULT,
    CLAUDE_OK_USAGE("claude-opus-4-8[1m]", 166, 0.000135) },
  { "claude-2.1.197-root-no-sandbox-env", .outcome = ERROR,
    EVIDENCE("--dangerously-skip-permissions cannot be used with root/sudo privileges for "
             "security reasons") },
  { "claude-2.1.197-stall", STALLED, .outcome = TIMEOUT },
  { "claude-2.1.197-stall-idletimeout", STALLED, .outcome = TIMEOUT },
  { "claude-2.1.197-stall-long", .outcome = TIMEOUT, RESULT, EVIDENCE("Request timed out") },

  /* codex 0.171.0, exec --json */
  { "codex-0.171.0-401", .outcome = AUTH, .status = 401, RESULT,
    EVIDENCE("unexpected status 401 Unauthorized: Incorrect API key provided: ") },
  { "codex-0.171.0-429", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("exceeded retry limit, last status: 429 Too Many Requests, request id: ") },
  { "codex-0.171.0-429-quota", .outcome = QUOTA, RESULT,
    EVIDENCE("Quota exceeded. Check your plan and billing details.") },
  { "codex-0.171.0-429-then-ok", .outcome = OK, RESULT, CODEX_OK_USAGE(4000) },
  { "codex-0.171.0-500", .outcome = T5XX, RESULT,
    EVIDENCE("We’re currently experiencing high demand, which may cause temporary errors.") },
  { "codex-0.171.0-503", .outcome = T5XX, .status = 503, RESULT,
    EVIDENCE("unexpected status 503 Service Unavailable: The engine is currently overloaded") },
  { "codex-0.171.0-conn-refused", .outcome = NETWORK, LOOP,
    EVIDENCE("Reconnecting... waiting for network (Connection failed: error sending request)") },
  { "codex-0.171.0-drop", .outcome = NETWORK, RESULT,
    EVIDENCE("stream disconnected before completion: error sending request") },
  { "codex-0.171.0-failed", .outcome = ERROR, RESULT,
    EVIDENCE("stream disconnected before completion: The model produced invalid content.") },
  { "codex-0.171.0-hang", STALLED, .outcome = TIMEOUT, LOOP,
    EVIDENCE("Reconnecting... 5/5 (request timed out)") },
  { "codex-0.171.0-invalidkey-nonet", .outcome = NETWORK, LOOP,
    EVIDENCE("Reconnecting... waiting for network (Connection failed: error sending request)") },
  { "codex-0.171.0-nocreds", .outcome = NETWORK, LOOP,
    EVIDENCE("Reconnecting... waiting for network (Connection failed: error sending request)") },
  { "codex-0.171.0-ok", .outcome = OK, RESULT, CODEX_OK_USAGE(4000) },
  { "codex-0.171.0-provider-401", .outcome = AUTH, .status = 401, RESULT,
    EVIDENCE("unexpected status 401 Unauthorized: ") },
  { "codex-0.171.0-provider-429", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("exceeded retry limit, last status: 429 Too Many Requests") },
  { "codex-0.171.0-provider-429-quota", .outcome = QUOTA, RESULT,
    EVIDENCE("Quota exceeded. Check your plan and billing details.") },
  { "codex-0.171.0-provider-500", .outcome = T5XX, RESULT,
    EVIDENCE("We’re currently experiencing high demand") },
  { "codex-0.171.0-provider-503", .outcome = T5XX, .status = 503, RESULT,
    EVIDENCE("unexpected status 503 Service Unavailable") },
  { "codex-0.171.0-provider-hang", STALLED, .outcome = TIMEOUT },
  { "codex-0.171.0-provider-ok", .outcome = OK, RESULT, CODEX_OK_USAGE(5000) },
  { "codex-0.171.0-provider-stall", .outcome = TIMEOUT, RESULT,
    EVIDENCE("stream disconnected before completion: idle timeout waiting for SSE") },
  { "codex-0.171.0-stall", STALLED, .outcome = TIMEOUT },

  /* gemini 0.61.0, -o stream-json (and -o json: *-json) */
  { "gemini-0.61.0-400-apikey", .outcome = AUTH, .status = 400, RESULT,
    EVIDENCE("[API Error: {\"error\":{\"code\":400,\"message\":\"API key not valid.") },
  { "gemini-0.61.0-400-apikey-json", .outcome = AUTH, .status = 400, RESULT,
    EVIDENCE("{\"error\":{\"code\":400,\"message\":\"API key not valid.") },
  { "gemini-0.61.0-401", .outcome = AUTH, .status = 401, RESULT,
    EVIDENCE("[API Error: {\"error\":{\"code\":401,") },
  { "gemini-0.61.0-403", .outcome = AUTH, .status = 403, RESULT,
    EVIDENCE("[API Error: {\"error\":{\"code\":403,") },
  { "gemini-0.61.0-429", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("[API Error: You exceeded your current quota, please check your plan and billing") },
  { "gemini-0.61.0-429-daily", .outcome = QUOTA, .status = 429, RESULT,
    EVIDENCE("[API Error: You have exhausted your daily quota on this model.] Please wait") },
  { "gemini-0.61.0-429-defaultattempts", .outcome = RL_MODEL, LOOP,
    EVIDENCE("Attempt 4 failed: You exceeded your current quota") },
  { "gemini-0.61.0-429-json", .outcome = RL_MODEL, .status = 429, RESULT,
    EVIDENCE("You exceeded your current quota, please check your plan and billing details. "
             "Please retry in 2s. Suggested retry after 2s.") },
  { "gemini-0.61.0-429-then-ok", .outcome = OK, RESULT, GEMINI_OK_USAGE(5834) },
  { "gemini-0.61.0-500", .outcome = T5XX, .status = 500, RESULT,
    EVIDENCE("[API Error: {\"error\":{\"code\":500,") },
  { "gemini-0.61.0-503", .outcome = T5XX, .status = 503, RESULT,
    EVIDENCE("[API Error: The model is overloaded. Please try again later.]") },
  { "gemini-0.61.0-503-defaultattempts", .outcome = T5XX, .status = 503, LOOP,
    EVIDENCE("Attempt 5 failed with status 503. Retrying with backoff...") },
  { "gemini-0.61.0-conn-refused", .outcome = NETWORK, RESULT,
    EVIDENCE("[API Error: exception TypeError: fetch failed sending request]") },
  { "gemini-0.61.0-drop", .outcome = NETWORK, RESULT,
    EVIDENCE("[API Error: exception TypeError: fetch failed sending request]") },
  { "gemini-0.61.0-gateway-auth", .outcome = AUTH, EVIDENCE("Invalid auth method selected.") },
  { "gemini-0.61.0-hang", STALLED, .outcome = NETWORK, LOOP,
    EVIDENCE("Attempt 1 failed. Retrying with backoff... Error: exception TypeError: fetch "
             "failed sending request") },
  { "gemini-0.61.0-invalidkey-nonet", .outcome = NETWORK, LOOP,
    EVIDENCE("Attempt 4 failed. Retrying with backoff... Error: exception TypeError: fetch") },
  { "gemini-0.61.0-invalidkey-nonet-attempts2", .outcome = NETWORK, RESULT,
    EVIDENCE("[API Error: exception TypeError: fetch failed sending request]") },
  { "gemini-0.61.0-nocreds", .outcome = AUTH, EVIDENCE("Please set an Auth method in your ") },
  { "gemini-0.61.0-ok", .outcome = OK, RESULT, GEMINI_OK_USAGE(130) },
  { "gemini-0.61.0-ok-json", .outcome = OK, RESULT, GEMINI_OK_USAGE(0) },
  { "gemini-0.61.0-stall", STALLED, .outcome = NETWORK, LOOP,
    EVIDENCE("Attempt 1 failed. Retrying with backoff... Error: exception TypeError: fetch") },
  { "gemini-0.61.0-untrusted", .outcome = ERROR,
    EVIDENCE("Gemini CLI is not running in a trusted directory. To proceed, either use "
             "`--skip-trust`") },
};

/* ---- fixture helpers ---- */

static ArDialect
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

static char *
fixture_file(const char *name, const char *ext, gsize *len)
{
  g_autofree char *path = g_strdup_printf("%s/%s%s", fixtures_dir, name, ext);
  g_autoptr(GError) error = NULL;
  char *data = NULL;

  if (!g_file_get_contents(path, &data, len, &error))
    g_error("%s", error->message);
  return data;
}

static int
fixture_rc(const char *name)
{
  g_autofree char *rc = fixture_file(name, ".rc", NULL);
  return atoi(rc);
}

/* Feed a file line by line as the daemon's line scanner would; *clock is
 * the arrival time, advanced by one second per line. */
static void
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

typedef struct {
  gint64 first_stdout_us; /* arrival time of the first stdout line */
} FeedInfo;

static ArClassifier *
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

static const Case *
find_case(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    if (strcmp(cases[i].name, name) == 0)
      return &cases[i];
  }
  return NULL;
}

static gboolean
need_fixtures(void)
{
  if (fixtures_dir == NULL) {
    g_test_skip("tests/fixtures/agent-cli not found");
    return FALSE;
  }
  return TRUE;
}

static void
assert_evidence_shape(const char *evidence)
{
  if (evidence == NULL)
    return;
  g_assert_true(g_utf8_validate(evidence, -1, NULL));
  g_assert_cmpint(g_utf8_strlen(evidence, -1), <=, 200);
  g_assert_null(strchr(evidence, '\n'));
  g_assert_null(strchr(evidence, '\r'));
}

/* ---- fixture tests ---- */

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
  g_assert_cmpuint(n, ==, G_N_ELEMENTS(cases));
}

static void
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

/* The two streams' relative order was not captured: stdout first must give
 * the same class, status and reset time. */
static void
test_fixture_order(void)
{
  if (!need_fixtures())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_auto(ArClassification) out = { 0 };
    g_autoptr(ArClassifier) c = classify_case(&cases[i], FALSE, &out, NULL);

    if (out.outcome != cases[i].outcome || out.http_status != cases[i].status ||
        out.reset_at_epoch != cases[i].reset_at)
      g_test_fail_printf("%s, stdout first: %s %d", cases[i].name,
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

/* ---- robustness ---- */

static void
feed_str(ArClassifier *c, const char *line)
{
  ar_classifier_feed_line(c, line, strlen(line), g_get_monotonic_time());
}

static const char claude_ok_lines[] =
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

static void
feed_text_block(ArClassifier *c, const char *text)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    if (**l)
      feed_str(c, *l);
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

/* ---- text dialect ---- */

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

/* ---- decisions without a final word ---- */

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

/* ---- names, guess, evidence ---- */

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

/* ---- docs and tables ---- */

static char *
docs_path(void)
{
  const char *root = g_getenv("AR_SOURCE_ROOT");
  return g_build_filename(root ? root : ".", "docs", "classifiers.md", NULL);
}

static void
append_md_cell(GString *s, const char *text)
{
  g_string_append_c(s, ' ');
  for (const char *p = text; *p; p++) {
    if (*p == '|' || *p == '`' || *p == '*' || *p == '<')
      g_string_append_c(s, '\\');
    g_string_append_c(s, *p);
  }
  g_string_append(s, " |");
}

/* The expectation table, as the page's proof of each fixture's class. */
static void
cases_markdown(GString *s)
{
  g_string_append(s, "### Every fixture\n\n"
                     "What test-classify asserts for each captured run. Runs that `timeout`"
                     " killed (exit 124) are finished as ended by the daemon (SIGTERM,"
                     " `timed_out`); the *silent* ones also as `stalled`.\n\n"
                     "| case | outcome | HTTP | reset | result marker | retry loop at end |"
                     " evidence starts with |\n|---|---|---|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const Case *tc = &cases[i];
    g_autofree char *name = g_strdup_printf("%s%s", tc->name, tc->stalled ? " (silent)" : "");
    g_autofree char *status = tc->status ? g_strdup_printf("%d", tc->status) : g_strdup("-");
    g_autofree char *reset =
        tc->reset_at ? g_strdup_printf("%" G_GINT64_FORMAT, tc->reset_at) : g_strdup("-");

    g_string_append(s, "|");
    append_md_cell(s, name);
    append_md_cell(s, ar_outcome_to_string(tc->outcome));
    append_md_cell(s, status);
    append_md_cell(s, reset);
    append_md_cell(s, tc->saw_result ? "yes" : "no");
    append_md_cell(s, tc->retry_loop ? "yes" : "no");
    append_md_cell(s, tc->evidence ? tc->evidence : "-");
    g_string_append_c(s, '\n');
  }
}

static char *
generated_docs(void)
{
  g_autoptr(GString) s = g_string_new(DOCS_BEGIN "\n");
  ar_classify_tables_markdown(s);
  g_string_append_c(s, '\n');
  cases_markdown(s);
  g_string_append(s, "\n" DOCS_END);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
test_docs_in_sync(void)
{
  g_autofree char *path = docs_path();
  g_autofree char *doc = NULL;
  g_autofree char *want = generated_docs();
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents(path, &doc, NULL, &error))
    g_error("%s", error->message);
  if (strstr(doc, want) == NULL)
    g_error("%s is out of date with the classifier tables: run "
            "test-classify --write-docs %s",
            path, path);
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

static int
write_docs(const char *path)
{
  g_autofree char *doc = NULL;
  g_autofree char *want = generated_docs();
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents(path, &doc, NULL, &error)) {
    g_printerr("%s\n", error->message);
    return 1;
  }
  char *begin = strstr(doc, DOCS_BEGIN);
  char *end = begin ? strstr(begin, DOCS_END) : NULL;
  if (end == NULL) {
    g_printerr("%s: no generated section markers\n", path);
    return 1;
  }
  *begin = '\0';
  g_autofree char *updated = g_strconcat(doc, want, end + strlen(DOCS_END), NULL);
  if (!g_file_set_contents(path, updated, -1, &error)) {
    g_printerr("%s\n", error->message);
    return 1;
  }
  return 0;
}

/* ---- the fake agent ---- */

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

int
main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "--write-docs") == 0)
    return write_docs(argv[2]);

  g_test_init(&argc, &argv, NULL);

  /* The captured output is carried in tests/fixtures/agent-cli. */
  const char *env_dir = g_getenv("AR_FIXTURES_DIR");
  const char *root = g_getenv("AR_SOURCE_ROOT");
  g_autofree char *dir =
      env_dir ? g_strdup(env_dir)
              : g_build_filename(root ? root : ".", "tests", "fixtures", "agent-cli", NULL);
  if (g_file_test(dir, G_FILE_TEST_IS_DIR))
    fixtures_dir = dir;

  g_test_add_func("/classify/names", test_names);
  g_test_add_func("/classify/guess", test_guess);
  g_test_add_func("/classify/evidence", test_evidence);
  g_test_add_func("/classify/garbage", test_garbage);
  g_test_add_func("/classify/long-lines", test_long_lines);
  g_test_add_func("/classify/text", test_text_dialect);
  g_test_add_func("/classify/stall-and-timeout", test_stall_and_timeout);
  g_test_add_func("/classify/grace-after-result", test_grace_after_result);
  g_test_add_func("/classify/claude-rate-limit-event", test_claude_rate_limit_event);
  g_test_add_func("/classify/claude-rejected-no-status", test_claude_rejected_no_status);
  g_test_add_func("/classify/codex-usage-sum", test_codex_usage_sum);
  g_test_add_func("/classify/codewhale", test_codewhale);
  g_test_add_func("/classify/docs-in-sync", test_docs_in_sync);
  g_test_add_func("/classify/fixtures/inventory", test_fixture_inventory);
  g_test_add_func("/classify/fixtures/stdout-first", test_fixture_order);
  g_test_add_func("/classify/fixtures/saw-result", test_saw_result_timing);
  g_test_add_func("/classify/fixtures/retry-loop", test_retry_loop_codex);
  g_test_add_func("/classify/fixtures/table-proofs", test_table_fixtures_exist);
  g_test_add_func("/classify/fake-agent/replay", test_fake_agent_replay);
  g_test_add_func("/classify/fake-agent/hang", test_fake_agent_hang);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *path = g_strdup_printf("/classify/fixtures/case/%s", cases[i].name);
    g_test_add_data_func(path, &cases[i], test_fixture_case);
  }

  int rc = g_test_run();
  /* Without the fixtures the rest still ran; tell meson it was partial. */
  return rc == 0 && fixtures_dir == NULL ? 77 : rc;
}
