/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Every mapping the classifiers use, as rows and nothing else. The matcher
 * (ar-classify-match.c) compiles them; docs/classifiers.md is generated from
 * them (scripts/regen-docs.sh) and the docs-drift test keeps the two equal,
 * so change a row here and regenerate the page. */

#include "ar-classify-tables.h"

#define D_TEXT      AR_DIALECT_BIT(AR_DIALECT_TEXT)
#define D_CLAUDE    AR_DIALECT_BIT(AR_DIALECT_CLAUDE_STREAM_JSON)
#define D_CODEX     AR_DIALECT_BIT(AR_DIALECT_CODEX_JSON)
#define D_GEMINI    AR_DIALECT_BIT(AR_DIALECT_GEMINI_STREAM_JSON)
#define D_CODEWHALE AR_DIALECT_BIT(AR_DIALECT_CODEWHALE_STREAM_JSON)
#define D_JSON      (D_CLAUDE | D_CODEX | D_GEMINI | D_CODEWHALE)
#define D_ALL       (D_JSON | D_TEXT)

/* Named values of the rows' booleans. */
#define BEATS_STATUS TRUE  /* the row's class wins over the HTTP status */
#define BELOW_STATUS FALSE /* the HTTP status, when known and listed, wins */
#define ENDLESS      TRUE  /* a retry loop the CLI never leaves by itself */
#define BOUNDED      FALSE /* ends by the CLI's own retry limit */

/* ---- HTTP status -> class ---- */

static const ArStatusRow status_table[] = {
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

/* ---- CLI messages -> class ----
 * First matching row wins, so the specific rows (quota, keys) come before
 * the generic ones. "beats status" rows win over the HTTP status: a 429
 * that is a daily quota, a 400 that is a bad key. */

static const ArMessageRow message_table[] = {
  { D_ALL, "exhausted your daily quota", AR_OUTCOME_QUOTA_EXHAUSTED, BEATS_STATUS,
    "gemini-0.61.0-429-daily" },
  { D_ALL, "insufficient_quota|Quota exceeded\\. Check your plan", AR_OUTCOME_QUOTA_EXHAUSTED,
    BEATS_STATUS, "codex-0.171.0-429-quota, codex-0.171.0-provider-429-quota" },
  { D_ALL, "credit balance is too low", AR_OUTCOME_QUOTA_EXHAUSTED, BEATS_STATUS, NULL },
  { D_ALL, "API_KEY_INVALID|API key not valid", AR_OUTCOME_AUTH_FAILURE, BEATS_STATUS,
    "gemini-0.61.0-400-apikey, gemini-0.61.0-400-apikey-json" },
  { D_ALL, "Not logged in", AR_OUTCOME_AUTH_FAILURE, BEATS_STATUS,
    "claude-2.1.197-nocreds, claude-2.1.197-oauth-401" },
  { D_ALL, "Invalid API key|Incorrect API key|invalid x-api-key", AR_OUTCOME_AUTH_FAILURE,
    BEATS_STATUS, "claude-2.1.197-401, codex-0.171.0-401, codex-0.171.0-provider-401" },
  { D_GEMINI, "Please set an Auth method|Invalid auth method selected", AR_OUTCOME_AUTH_FAILURE,
    BEATS_STATUS, "gemini-0.61.0-nocreds, gemini-0.61.0-gateway-auth" },
  { D_TEXT, "\\bunauthori[sz]ed\\b|AuthenticationError|authentication_error",
    AR_OUTCOME_AUTH_FAILURE, BELOW_STATUS, NULL },
  { D_ALL,
    "rate[ _-]?limit|Too Many Requests|RateLimitError|exceeded your current quota"
    "|hit your (session |weekly |usage )?limit",
    AR_OUTCOME_RATE_LIMIT_MODEL, BELOW_STATUS,
    "claude-2.1.197-429, codex-0.171.0-429, gemini-0.61.0-429-defaultattempts" },
  { D_ALL,
    "overloaded|high demand|Internal server error|Service Unavailable|Bad Gateway"
    "|InternalServerError|ServiceUnavailableError",
    AR_OUTCOME_API_TRANSIENT_5XX, BELOW_STATUS,
    "claude-2.1.197-529, codex-0.171.0-500, gemini-0.61.0-503" },
  { D_ALL, "Request timed out|idle timeout waiting for SSE|APITimeoutError", AR_OUTCOME_API_TIMEOUT,
    BELOW_STATUS,
    "claude-2.1.197-hang-apitimeout, claude-2.1.197-stall-long, codex-0.171.0-hang, "
    "codex-0.171.0-provider-stall" },
  { D_ALL,
    "Unable to connect to API|ECONNRESET|ECONNREFUSED|connection refused|connection reset"
    "|error sending request|fetch failed|failed to lookup address|Name does not resolve"
    "|name resolution|Name or service not known|nodename nor servname|network is unreachable"
    "|waiting for network|getaddrinfo|APIConnectionError|FailedToOpenSocket",
    AR_OUTCOME_NETWORK, BELOW_STATUS,
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

static const ArRetryRow retry_table[] = {
  { AR_DIALECT_CODEX_JSON, AR_RETRY_MESSAGE, "^Reconnecting\\.\\.\\. waiting for network", ENDLESS,
    "codex-0.171.0-conn-refused, codex-0.171.0-nocreds, codex-0.171.0-invalidkey-nonet" },
  { AR_DIALECT_CODEX_JSON, AR_RETRY_MESSAGE, "^Reconnecting\\.\\.\\. \\d+/\\d+", BOUNDED,
    "codex-0.171.0-hang, codex-0.171.0-401" },
  { AR_DIALECT_CLAUDE_STREAM_JSON, AR_RETRY_EVENT, "^system/api_retry$", BOUNDED,
    "claude-2.1.197-429-defaultretries, claude-2.1.197-529-defaultretries" },
  { AR_DIALECT_GEMINI_STREAM_JSON, AR_RETRY_LINE, "^Attempt \\d+ failed", BOUNDED,
    "gemini-0.61.0-429-defaultattempts, gemini-0.61.0-503-defaultattempts" },
};

/* ---- exit codes ---- */

static const ArExitRow exit_table[] = {
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

static const ArCategoryRow claude_category_table[] = {
  { "authentication_failed", AR_OUTCOME_AUTH_FAILURE, AR_OUTCOME_AUTH_FAILURE, BEATS_STATUS,
    "claude-2.1.197-401, claude-2.1.197-403, claude-2.1.197-nocreds" },
  { "oauth_org_not_allowed", AR_OUTCOME_AUTH_FAILURE, AR_OUTCOME_AUTH_FAILURE, BEATS_STATUS, NULL },
  { "billing_error", AR_OUTCOME_QUOTA_EXHAUSTED, AR_OUTCOME_QUOTA_EXHAUSTED, BEATS_STATUS, NULL },
  { "rate_limit", AR_OUTCOME_RATE_LIMIT_MODEL, AR_OUTCOME_RATE_LIMIT_MODEL, BELOW_STATUS,
    "claude-2.1.197-429, claude-2.1.197-429-defaultretries" },
  { "overloaded", AR_OUTCOME_API_TRANSIENT_5XX, AR_OUTCOME_API_TRANSIENT_5XX, BELOW_STATUS,
    "claude-2.1.197-529-defaultretries" },
  { "server_error", AR_OUTCOME_UNKNOWN, AR_OUTCOME_API_TRANSIENT_5XX, BELOW_STATUS,
    "claude-2.1.197-500, claude-2.1.197-conn-refused" },
  { "unknown", AR_OUTCOME_UNKNOWN, AR_OUTCOME_NETWORK, BELOW_STATUS,
    "claude-2.1.197-invalidkey-nonet, claude-2.1.197-hang-apitimeout" },
};

/* ---- silence ----
 * A round the daemon ended because the agent printed nothing: the class
 * the CLI itself reports for the same situation when left alone. */

static const ArStallRow stall_table[] = {
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

static const ArNoiseRow noise_table[] = {
  { D_CODEX, "^Reading additional input from stdin" },
  { D_GEMINI, "^(YOLO mode is enabled|Ripgrep is not available|\\[STARTUP\\]|Warning: "
              "|Approval mode overridden)" },
};

const ArClassifyTables ar_classify_tables = {
  .status = status_table,
  .n_status = G_N_ELEMENTS(status_table),
  .message = message_table,
  .n_message = G_N_ELEMENTS(message_table),
  .status_in_text = status_in_text_pattern,
  .retry = retry_table,
  .n_retry = G_N_ELEMENTS(retry_table),
  .exit = exit_table,
  .n_exit = G_N_ELEMENTS(exit_table),
  .claude_category = claude_category_table,
  .n_claude_category = G_N_ELEMENTS(claude_category_table),
  .stall = stall_table,
  .n_stall = G_N_ELEMENTS(stall_table),
  .noise = noise_table,
  .n_noise = G_N_ELEMENTS(noise_table),
};
