#include "config.h"

/* Every mapping the classifiers use, as data: HTTP status -> class, CLI
 * message patterns -> class, retry-loop announcements, exit codes, claude's
 * error categories, and the class of a silent round. docs/classifiers.md
 * embeds ar_classify_tables_markdown() and a test keeps the two equal, so
 * change a row here and regenerate the page (test-classify --write-docs). */

#include <string.h>

#include "ar-classify-private.h"

#define DIALECT_BIT(d) (1u << (d))
#define D_TEXT         DIALECT_BIT(AR_DIALECT_TEXT)
#define D_CLAUDE       DIALECT_BIT(AR_DIALECT_CLAUDE_STREAM_JSON)
#define D_CODEX        DIALECT_BIT(AR_DIALECT_CODEX_JSON)
#define D_GEMINI       DIALECT_BIT(AR_DIALECT_GEMINI_STREAM_JSON)
#define D_CODEWHALE    DIALECT_BIT(AR_DIALECT_CODEWHALE_STREAM_JSON)
#define D_JSON         (D_CLAUDE | D_CODEX | D_GEMINI | D_CODEWHALE)
#define D_ALL          (D_JSON | D_TEXT)

/* ---- HTTP status -> class ---- */

typedef struct {
  int status;
  ArOutcome outcome;
  const char *note;
  const char *fixtures;
} StatusRow;

static const StatusRow status_table[] = {
  { 401, AR_OUTCOME_AUTH_FAILURE, "bad or missing key/token",
    "claude-2.1.197-401, claude-2.1.197-oauth-401, codex-0.171.0-401, gemini-0.61.0-401" },
  { 402, AR_OUTCOME_QUOTA_EXHAUSTED, "payment required", NULL },
  { 403, AR_OUTCOME_AUTH_FAILURE, "key not allowed", "claude-2.1.197-403, gemini-0.61.0-403" },
  { 408, AR_OUTCOME_API_TIMEOUT, "request timeout", NULL },
  { 429, AR_OUTCOME_RATE_LIMIT_MODEL,
    "too many requests; rate_limit_account when the CLI gives the reset time",
    "claude-2.1.197-429, codex-0.171.0-429, gemini-0.61.0-429, claude-2.1.197-oauth-429" },
  { 500, AR_OUTCOME_API_TRANSIENT_5XX, "internal error", "claude-2.1.197-500, gemini-0.61.0-500" },
  { 502, AR_OUTCOME_API_TRANSIENT_5XX, "bad gateway", NULL },
  { 503, AR_OUTCOME_API_TRANSIENT_5XX, "unavailable / overloaded",
    "codex-0.171.0-503, gemini-0.61.0-503" },
  { 504, AR_OUTCOME_API_TRANSIENT_5XX, "gateway timeout", NULL },
  { 529, AR_OUTCOME_API_TRANSIENT_5XX, "overloaded (Anthropic)",
    "claude-2.1.197-529, claude-2.1.197-oauth-529" },
};

int
ar_classify_status_outcome(int status)
{
  for (gsize i = 0; i < G_N_ELEMENTS(status_table); i++) {
    if (status_table[i].status == status)
      return status_table[i].outcome;
  }
  return AR_OUTCOME_UNKNOWN;
}

/* ---- CLI messages -> class ----
 * First matching row wins, so the specific rows (quota, keys) come before
 * the generic ones. "beats status" rows win over the HTTP status: a 429
 * that is a daily quota, a 400 that is a bad key. */

typedef struct {
  guint dialects;
  const char *pattern; /* PCRE, case-insensitive, matched on raw bytes */
  ArOutcome outcome;
  gboolean overrides_status;
  const char *fixtures;
} MessageRow;

static const MessageRow message_table[] = {
  { D_ALL, "exhausted your daily quota", AR_OUTCOME_QUOTA_EXHAUSTED, TRUE,
    "gemini-0.61.0-429-daily" },
  { D_ALL, "insufficient_quota|Quota exceeded\\. Check your plan", AR_OUTCOME_QUOTA_EXHAUSTED, TRUE,
    "codex-0.171.0-429-quota, codex-0.171.0-provider-429-quota" },
  { D_ALL, "credit balance is too low", AR_OUTCOME_QUOTA_EXHAUSTED, TRUE, NULL },
  { D_ALL, "API_KEY_INVALID|API key not valid", AR_OUTCOME_AUTH_FAILURE, TRUE,
    "gemini-0.61.0-400-apikey, gemini-0.61.0-400-apikey-json" },
  { D_ALL, "Not logged in", AR_OUTCOME_AUTH_FAILURE, TRUE,
    "claude-2.1.197-nocreds, claude-2.1.197-oauth-401" },
  { D_ALL, "Invalid API key|Incorrect API key|invalid x-api-key", AR_OUTCOME_AUTH_FAILURE, TRUE,
    "claude-2.1.197-401, codex-0.171.0-401, codex-0.171.0-provider-401" },
  { D_GEMINI, "Please set an Auth method|Invalid auth method selected", AR_OUTCOME_AUTH_FAILURE,
    TRUE, "gemini-0.61.0-nocreds, gemini-0.61.0-gateway-auth" },
  { D_TEXT, "\\bunauthori[sz]ed\\b|AuthenticationError|authentication_error",
    AR_OUTCOME_AUTH_FAILURE, FALSE, NULL },
  { D_ALL,
    "rate[ _-]?limit|Too Many Requests|RateLimitError|exceeded your current quota"
    "|hit your (session |weekly |usage )?limit",
    AR_OUTCOME_RATE_LIMIT_MODEL, FALSE,
    "claude-2.1.197-429, codex-0.171.0-429, gemini-0.61.0-429-defaultattempts" },
  { D_ALL,
    "overloaded|high demand|Internal server error|Service Unavailable|Bad Gateway"
    "|InternalServerError|ServiceUnavailableError",
    AR_OUTCOME_API_TRANSIENT_5XX, FALSE,
    "claude-2.1.197-529, codex-0.171.0-500, gemini-0.61.0-503" },
  { D_ALL, "Request timed out|idle timeout waiting for SSE|APITimeoutError", AR_OUTCOME_API_TIMEOUT,
    FALSE,
    "claude-2.1.197-hang-apitimeout, claude-2.1.197-stall-long, codex-0.171.0-hang, "
    "codex-0.171.0-provider-stall" },
  { D_ALL,
    "Unable to connect to API|ECONNRESET|ECONNREFUSED|connection refused|connection reset"
    "|error sending request|fetch failed|failed to lookup address|Name does not resolve"
    "|name resolution|Name or service not known|nodename nor servname|network is unreachable"
    "|waiting for network|getaddrinfo|APIConnectionError|FailedToOpenSocket",
    AR_OUTCOME_NETWORK, FALSE,
    "claude-2.1.197-conn-refused, claude-2.1.197-drop, codex-0.171.0-drop, "
    "codex-0.171.0-conn-refused, gemini-0.61.0-drop" },
};

/* An HTTP status stated in words. Only 4xx/5xx: "exit code 127" is not an
 * API answer. */
static const char status_in_text_pattern[] =
    "(?:\\bstatus(?: code)?|\\bcode|\\bAPI Error|\\bHTTP(?:/\\d(?:\\.\\d)?)?)[\"'\\s:=]{0,4}"
    "([45]\\d\\d)\\b";

/* ---- retry loops ----
 * Lines by which a CLI announces that it retries. A loop lasts from the
 * first of them to the next sign of progress; the daemon ends a round whose
 * loop outlasts retry_loop_timeout_s. "endless" marks the loops the CLI
 * never leaves by itself. */

typedef struct {
  ArDialect dialect;
  ArRetryWhere where;
  const char *pattern;
  gboolean endless;
  const char *fixtures;
} RetryRow;

static const RetryRow retry_table[] = {
  { AR_DIALECT_CODEX_JSON, AR_RETRY_MESSAGE, "^Reconnecting\\.\\.\\. waiting for network", TRUE,
    "codex-0.171.0-conn-refused, codex-0.171.0-nocreds, codex-0.171.0-invalidkey-nonet" },
  { AR_DIALECT_CODEX_JSON, AR_RETRY_MESSAGE, "^Reconnecting\\.\\.\\. \\d+/\\d+", FALSE,
    "codex-0.171.0-hang, codex-0.171.0-401" },
  { AR_DIALECT_CLAUDE_STREAM_JSON, AR_RETRY_EVENT, "^system/api_retry$", FALSE,
    "claude-2.1.197-429-defaultretries, claude-2.1.197-529-defaultretries" },
  { AR_DIALECT_GEMINI_STREAM_JSON, AR_RETRY_LINE, "^Attempt \\d+ failed", FALSE,
    "gemini-0.61.0-429-defaultattempts, gemini-0.61.0-503-defaultattempts" },
};

/* ---- exit codes ---- */

typedef struct {
  ArDialect dialect;
  int exit_code;
  ArOutcome outcome;
  const char *note;
  const char *fixtures;
} ExitRow;

static const ExitRow exit_table[] = {
  { AR_DIALECT_GEMINI_STREAM_JSON, 41, AR_OUTCOME_AUTH_FAILURE,
    "no credentials or an auth type headless mode rejects",
    "gemini-0.61.0-nocreds, gemini-0.61.0-gateway-auth" },
  { AR_DIALECT_GEMINI_STREAM_JSON, 55, AR_OUTCOME_ERROR, "untrusted folder (no --skip-trust)",
    "gemini-0.61.0-untrusted" },
};

/* ---- claude error categories ----
 * assistant.error and system/api_retry.error. server_error covers 5xx,
 * network failures and timeouts alike, so it decides nothing; in an
 * api_retry, "unknown" means no HTTP answer at all. */

typedef struct {
  const char *category;
  int assistant_outcome;
  int retry_outcome;
  gboolean overrides_status;
  const char *fixtures;
} CategoryRow;

static const CategoryRow claude_category_table[] = {
  { "authentication_failed", AR_OUTCOME_AUTH_FAILURE, AR_OUTCOME_AUTH_FAILURE, TRUE,
    "claude-2.1.197-401, claude-2.1.197-403, claude-2.1.197-nocreds" },
  { "oauth_org_not_allowed", AR_OUTCOME_AUTH_FAILURE, AR_OUTCOME_AUTH_FAILURE, TRUE, NULL },
  { "billing_error", AR_OUTCOME_QUOTA_EXHAUSTED, AR_OUTCOME_QUOTA_EXHAUSTED, TRUE, NULL },
  { "rate_limit", AR_OUTCOME_RATE_LIMIT_MODEL, AR_OUTCOME_RATE_LIMIT_MODEL, FALSE,
    "claude-2.1.197-429, claude-2.1.197-429-defaultretries" },
  { "overloaded", AR_OUTCOME_API_TRANSIENT_5XX, AR_OUTCOME_API_TRANSIENT_5XX, FALSE,
    "claude-2.1.197-529-defaultretries" },
  { "server_error", AR_OUTCOME_UNKNOWN, AR_OUTCOME_API_TRANSIENT_5XX, FALSE,
    "claude-2.1.197-500, claude-2.1.197-conn-refused" },
  { "unknown", AR_OUTCOME_UNKNOWN, AR_OUTCOME_NETWORK, FALSE,
    "claude-2.1.197-invalidkey-nonet, claude-2.1.197-hang-apitimeout" },
};

/* ---- silence ----
 * A round the daemon ended because the agent printed nothing: the class
 * the CLI itself reports for the same situation when left alone. */

typedef struct {
  ArDialect dialect;
  ArOutcome outcome;
  const char *why;
  const char *fixtures;
} StallRow;

static const StallRow stall_table[] = {
  { AR_DIALECT_CLAUDE_STREAM_JSON, AR_OUTCOME_API_TIMEOUT,
    "claude ends a silent request with \"Request timed out\"",
    "claude-2.1.197-hang, claude-2.1.197-stall, claude-2.1.197-hang-apitimeout" },
  { AR_DIALECT_CODEX_JSON, AR_OUTCOME_API_TIMEOUT,
    "codex reports \"request timed out\" / \"idle timeout waiting for SSE\"",
    "codex-0.171.0-stall, codex-0.171.0-provider-hang, codex-0.171.0-provider-stall" },
  { AR_DIALECT_GEMINI_STREAM_JSON, AR_OUTCOME_NETWORK,
    "gemini reports a silent server as \"fetch failed\" after about 65 s",
    "gemini-0.61.0-hang, gemini-0.61.0-stall" },
  { AR_DIALECT_TEXT, AR_OUTCOME_ERROR,
    "no way to tell an API stall from an agent waiting for input", NULL },
};

/* ---- noise ----
 * Plain lines a CLI always prints: never evidence of anything. */

typedef struct {
  guint dialects;
  const char *pattern;
} NoiseRow;

static const NoiseRow noise_table[] = {
  { D_CODEX, "^Reading additional input from stdin" },
  { D_GEMINI, "^(YOLO mode is enabled|Ripgrep is not available|\\[STARTUP\\]|Warning: "
              "|Approval mode overridden)" },
};

/* ---- compiled patterns ---- */

typedef struct {
  GRegex *message[G_N_ELEMENTS(message_table)];
  GRegex *retry[G_N_ELEMENTS(retry_table)];
  GRegex *noise[G_N_ELEMENTS(noise_table)];
  GRegex *status_in_text;
  /* Prefilters: what a line must contain for any row to match. */
  ArLiteralSet *message_lits[AR_DIALECT_COUNT];
  ArLiteralSet *status_lits;
} Compiled;

static gboolean fast_paths_enabled = TRUE;

void
ar_classify_set_fast_paths(gboolean enabled)
{
  fast_paths_enabled = enabled;
}

gboolean
ar_classify_fast_paths(void)
{
  return fast_paths_enabled;
}

static GRegex *
compile(const char *pattern)
{
  g_autoptr(GError) error = NULL;
  /* RAW: lines are bytes (binary garbage included), patterns are ASCII. */
  GRegex *re = g_regex_new(pattern, G_REGEX_CASELESS | G_REGEX_RAW | G_REGEX_OPTIMIZE, 0, &error);
  if (re == NULL)
    g_error("classifier table pattern %s: %s", pattern, error->message);
  return re;
}

static const Compiled *
compiled(void)
{
  static Compiled c;
  static gsize done = 0;

  if (g_once_init_enter(&done)) {
    for (gsize i = 0; i < G_N_ELEMENTS(message_table); i++)
      c.message[i] = compile(message_table[i].pattern);
    for (gsize i = 0; i < G_N_ELEMENTS(retry_table); i++)
      c.retry[i] = compile(retry_table[i].pattern);
    for (gsize i = 0; i < G_N_ELEMENTS(noise_table); i++)
      c.noise[i] = compile(noise_table[i].pattern);
    c.status_in_text = compile(status_in_text_pattern);
    for (int d = 0; d < AR_DIALECT_COUNT; d++) {
      c.message_lits[d] = ar_literal_set_new();
      for (gsize i = 0; i < G_N_ELEMENTS(message_table); i++)
        if (message_table[i].dialects & DIALECT_BIT(d))
          (void)ar_literal_set_add_pattern(c.message_lits[d], message_table[i].pattern);
    }
    c.status_lits = ar_literal_set_new();
    (void)ar_literal_set_add_pattern(c.status_lits, status_in_text_pattern);
    g_once_init_leave(&done, 1);
  }
  return &c;
}

static gboolean
re_match(const GRegex *re, const char *text, gssize len, GMatchInfo **info)
{
  if (text == NULL)
    return FALSE;
  if (len < 0)
    len = (gssize)strlen(text);
  return g_regex_match_full(re, text, len, 0, 0, info, NULL);
}

gboolean
ar_classify_text_may_match(ArDialect dialect, const char *text, gsize len)
{
  const Compiled *c = compiled();

  if (!fast_paths_enabled || (guint)dialect >= AR_DIALECT_COUNT)
    return TRUE;
  return ar_literal_set_maybe(c->message_lits[dialect], text, len) ||
         (ar_text_has_status_digits(text, len) && ar_literal_set_maybe(c->status_lits, text, len));
}

const ArLiteralSet *
ar_classify_message_prefilter(ArDialect dialect)
{
  return compiled()->message_lits[(guint)dialect < AR_DIALECT_COUNT ? dialect : AR_DIALECT_TEXT];
}

gsize
ar_classify_min_match_len(ArDialect dialect)
{
  const Compiled *c = compiled();
  gsize status = ar_literal_set_min_len(c->status_lits);

  if ((guint)dialect >= AR_DIALECT_COUNT)
    return 0;
  /* The status pattern also needs its three digits after the word. */
  return MIN(ar_literal_set_min_len(c->message_lits[dialect]), status ? status + 3 : 0);
}

int
ar_classify_status_in_text(const char *text, gssize len)
{
  g_autoptr(GMatchInfo) info = NULL;
  int start = -1, end = -1;

  if (text == NULL)
    return 0;
  if (len < 0)
    len = (gssize)strlen(text);
  /* Both are necessary: [45]\d\d ends the pattern, the words start it. */
  if (fast_paths_enabled && !(ar_text_has_status_digits(text, (gsize)len) &&
                              ar_literal_set_maybe(compiled()->status_lits, text, (gsize)len)))
    return 0;
  if (!re_match(compiled()->status_in_text, text, len, &info))
    return 0;
  if (!g_match_info_fetch_pos(info, 1, &start, &end) || end - start != 3)
    return 0;
  return (text[start] - '0') * 100 + (text[start + 1] - '0') * 10 + (text[start + 2] - '0');
}

int
ar_classify_message_outcome(ArDialect dialect, const char *text, gssize len, gboolean *overrides)
{
  const Compiled *c = compiled();

  if (overrides)
    *overrides = FALSE;
  if (text == NULL || (guint)dialect >= AR_DIALECT_COUNT)
    return AR_OUTCOME_UNKNOWN;
  if (len < 0)
    len = (gssize)strlen(text);
  if (fast_paths_enabled && !ar_literal_set_maybe(c->message_lits[dialect], text, (gsize)len))
    return AR_OUTCOME_UNKNOWN;
  for (gsize i = 0; i < G_N_ELEMENTS(message_table); i++) {
    if (!(message_table[i].dialects & DIALECT_BIT(dialect)))
      continue;
    if (re_match(c->message[i], text, len, NULL)) {
      if (overrides)
        *overrides = message_table[i].overrides_status;
      return message_table[i].outcome;
    }
  }
  if (overrides)
    *overrides = FALSE;
  return AR_OUTCOME_UNKNOWN;
}

gboolean
ar_classify_is_retry(ArDialect dialect, ArRetryWhere where, const char *text, gssize len)
{
  const Compiled *c = compiled();

  for (gsize i = 0; i < G_N_ELEMENTS(retry_table); i++) {
    if (retry_table[i].dialect == dialect && retry_table[i].where == where &&
        re_match(c->retry[i], text, len, NULL))
      return TRUE;
  }
  return FALSE;
}

gboolean
ar_classify_is_noise(ArDialect dialect, const char *text, gssize len)
{
  const Compiled *c = compiled();

  for (gsize i = 0; i < G_N_ELEMENTS(noise_table); i++) {
    if ((noise_table[i].dialects & DIALECT_BIT(dialect)) && re_match(c->noise[i], text, len, NULL))
      return TRUE;
  }
  return FALSE;
}

int
ar_classify_exit_outcome(ArDialect dialect, int exit_code)
{
  for (gsize i = 0; i < G_N_ELEMENTS(exit_table); i++) {
    if (exit_table[i].dialect == dialect && exit_table[i].exit_code == exit_code)
      return exit_table[i].outcome;
  }
  return AR_OUTCOME_UNKNOWN;
}

ArOutcome
ar_classify_stall_outcome(ArDialect dialect)
{
  for (gsize i = 0; i < G_N_ELEMENTS(stall_table); i++) {
    if (stall_table[i].dialect == dialect)
      return stall_table[i].outcome;
  }
  return AR_OUTCOME_ERROR;
}

int
ar_classify_claude_category_outcome(const char *category, gboolean in_retry, gboolean *overrides)
{
  if (overrides)
    *overrides = FALSE;
  if (category == NULL)
    return AR_OUTCOME_UNKNOWN;
  for (gsize i = 0; i < G_N_ELEMENTS(claude_category_table); i++) {
    const CategoryRow *row = &claude_category_table[i];
    if (g_strcmp0(row->category, category) == 0) {
      if (overrides)
        *overrides = row->overrides_status;
      return in_retry ? row->retry_outcome : row->assistant_outcome;
    }
  }
  return AR_OUTCOME_UNKNOWN;
}

/* ---- Markdown ---- */

static const char *
outcome_cell(int outcome)
{
  return outcome == AR_OUTCOME_UNKNOWN ? "(decided by status or text)"
                                       : ar_outcome_to_string((ArOutcome)outcome);
}

static void
append_cell(GString *out, const char *text)
{
  g_string_append(out, " ");
  if (text == NULL || *text == '\0') {
    g_string_append(out, "-");
  } else {
    for (const char *p = text; *p; p++) {
      if (*p == '|')
        g_string_append(out, "\\|");
      else
        g_string_append_c(out, *p);
    }
  }
  g_string_append(out, " |");
}

static void
append_code_cell(GString *out, const char *text)
{
  g_autofree char *code = g_strdup_printf("`%s`", text);
  append_cell(out, code);
}

static void
append_dialects_cell(GString *out, guint mask)
{
  g_autoptr(GString) s = g_string_new(NULL);

  if (mask == D_ALL) {
    append_cell(out, "all");
    return;
  }
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    if (mask & DIALECT_BIT(d)) {
      if (s->len)
        g_string_append(s, ", ");
      g_string_append(s, ar_dialect_to_string((ArDialect)d));
    }
  }
  append_cell(out, s->str);
}

void
ar_classify_tables_markdown(GString *out)
{
  g_string_append(out, "### HTTP status\n\n"
                       "Statuses not listed here classify as `error`.\n\n"
                       "| status | outcome | meaning | proven by |\n|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(status_table); i++) {
    g_string_append_printf(out, "| %d |", status_table[i].status);
    append_cell(out, ar_outcome_to_string(status_table[i].outcome));
    append_cell(out, status_table[i].note);
    append_cell(out, status_table[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out,
                  "\n### Message patterns\n\n"
                  "Case-insensitive regular expressions over the CLI's message (claude `result`,"
                  " codex `error`/`turn.failed`, gemini `error.message`) and over plain output"
                  " lines; the first matching row wins. A row that beats the status wins over"
                  " the HTTP status (a 429 that is a daily quota, a 400 that is a bad key); other"
                  " rows apply when the status is unknown or unlisted.\n\n"
                  "A status is read from the words too, when a message states it: `");
  g_string_append(out, status_in_text_pattern);
  g_string_append(out, "`.\n\n| dialects | pattern | outcome | beats status | proven by |\n"
                       "|---|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(message_table); i++) {
    g_string_append(out, "|");
    append_dialects_cell(out, message_table[i].dialects);
    append_code_cell(out, message_table[i].pattern);
    append_cell(out, ar_outcome_to_string(message_table[i].outcome));
    append_cell(out, message_table[i].overrides_status ? "yes" : "no");
    append_cell(out, message_table[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out,
                  "\n### Claude error categories\n\n"
                  "`assistant.error` and `system/api_retry` `error`.\n\n"
                  "| category | in assistant.error | in api_retry | beats status | proven by |\n"
                  "|---|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(claude_category_table); i++) {
    const CategoryRow *row = &claude_category_table[i];
    g_string_append(out, "|");
    append_code_cell(out, row->category);
    append_cell(out, outcome_cell(row->assistant_outcome));
    append_cell(out, outcome_cell(row->retry_outcome));
    append_cell(out, row->overrides_status ? "yes" : "no");
    append_cell(out, row->fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out,
                  "\n### Retry loops\n\n"
                  "| dialect | where | pattern | endless | proven by |\n|---|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(retry_table); i++) {
    static const char *const where_names[] = { "JSON event type[/subtype]", "JSON message",
                                               "plain line" };
    g_string_append(out, "|");
    append_cell(out, ar_dialect_to_string(retry_table[i].dialect));
    append_cell(out, where_names[retry_table[i].where]);
    append_code_cell(out, retry_table[i].pattern);
    append_cell(out, retry_table[i].endless ? "yes" : "no (bounded by the CLI's retry limit)");
    append_cell(out, retry_table[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out, "\n### Exit codes\n\n"
                       "| dialect | exit code | outcome | meaning | proven by |\n"
                       "|---|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(exit_table); i++) {
    g_string_append(out, "|");
    append_cell(out, ar_dialect_to_string(exit_table[i].dialect));
    g_string_append_printf(out, " %d |", exit_table[i].exit_code);
    append_cell(out, ar_outcome_to_string(exit_table[i].outcome));
    append_cell(out, exit_table[i].note);
    append_cell(out, exit_table[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out, "\n### Noise\n\n"
                       "Plain lines that are never evidence (banners, fixed notices).\n\n"
                       "| dialects | pattern |\n|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(noise_table); i++) {
    g_string_append(out, "|");
    append_dialects_cell(out, noise_table[i].dialects);
    append_code_cell(out, noise_table[i].pattern);
    g_string_append_c(out, '\n');
  }

  g_string_append(out, "\n### Silent rounds (stalled, no cause in the output)\n\n"
                       "| dialect | outcome | why | proven by |\n|---|---|---|---|\n");
  for (gsize i = 0; i < G_N_ELEMENTS(stall_table); i++) {
    g_string_append(out, "|");
    append_cell(out, ar_dialect_to_string(stall_table[i].dialect));
    append_cell(out, ar_outcome_to_string(stall_table[i].outcome));
    append_cell(out, stall_table[i].why);
    append_cell(out, stall_table[i].fixtures);
    g_string_append_c(out, '\n');
  }
}

void
ar_classify_tables_fixtures(GPtrArray *out)
{
  const char *lists[G_N_ELEMENTS(status_table) + G_N_ELEMENTS(message_table) +
                    G_N_ELEMENTS(retry_table) + G_N_ELEMENTS(exit_table) +
                    G_N_ELEMENTS(claude_category_table) + G_N_ELEMENTS(stall_table)];
  gsize n = 0;

  for (gsize i = 0; i < G_N_ELEMENTS(status_table); i++)
    lists[n++] = status_table[i].fixtures;
  for (gsize i = 0; i < G_N_ELEMENTS(message_table); i++)
    lists[n++] = message_table[i].fixtures;
  for (gsize i = 0; i < G_N_ELEMENTS(retry_table); i++)
    lists[n++] = retry_table[i].fixtures;
  for (gsize i = 0; i < G_N_ELEMENTS(exit_table); i++)
    lists[n++] = exit_table[i].fixtures;
  for (gsize i = 0; i < G_N_ELEMENTS(claude_category_table); i++)
    lists[n++] = claude_category_table[i].fixtures;
  for (gsize i = 0; i < G_N_ELEMENTS(stall_table); i++)
    lists[n++] = stall_table[i].fixtures;

  for (gsize i = 0; i < n; i++) {
    if (lists[i] == NULL)
      continue;
    g_auto(GStrv) names = g_strsplit(lists[i], ",", -1);
    for (char **p = names; *p; p++)
      g_ptr_array_add(out, g_strdup(g_strstrip(*p)));
  }
}
