/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Output classifiers: what went wrong in a round, read from the agent's own
 * output while it streams, plus the token usage it reported.
 *
 * The daemon creates one ArClassifier per round, feeds it every line of the
 * agent's combined stdout+stderr as it arrives, asks saw_result() and
 * retry_loop() while the round runs (grace-after-result and retry-loop
 * defenses), and calls finish() once the agent is gone. The classifier never
 * keeps the output: its memory is constant per round (a few bounded strings
 * and counters, plus at most AR_CLASSIFY_BLOCK_MAX bytes while a
 * pretty-printed JSON document is being collected).
 *
 * The signals and tables per dialect are documented in docs/classifiers.md. */

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  AR_DIALECT_TEXT,
  AR_DIALECT_CLAUDE_STREAM_JSON,
  AR_DIALECT_CODEX_JSON,
  AR_DIALECT_GEMINI_STREAM_JSON,
  AR_DIALECT_CODEWHALE_STREAM_JSON,
} ArDialect;

#define AR_DIALECT_COUNT 5

/* "text", "claude-stream-json", "codex-json", "gemini-stream-json",
 * "codewhale-stream-json".
 * from_string returns FALSE (and leaves *out alone) for anything else. */
gboolean ar_dialect_from_string(const char *name, ArDialect *out);
const char *ar_dialect_to_string(ArDialect dialect);

/* The dialect a command most likely speaks: basename of argv[0] is
 * claude / codex / gemini / codewhale and the command asks for their JSON
 * output (claude --output-format stream-json|json, codex exec --json,
 * gemini -o|--output-format stream-json|json, codewhale --output-format
 * stream-json); anything else is text. */
ArDialect ar_dialect_guess(const char *const *command);

typedef enum {
  AR_OUTCOME_OK,
  AR_OUTCOME_AUTH_FAILURE,
  AR_OUTCOME_RATE_LIMIT_ACCOUNT,
  AR_OUTCOME_RATE_LIMIT_MODEL,
  AR_OUTCOME_QUOTA_EXHAUSTED,
  AR_OUTCOME_API_TRANSIENT_5XX,
  AR_OUTCOME_API_TIMEOUT,
  AR_OUTCOME_NETWORK,
  AR_OUTCOME_ERROR,
} ArOutcome;

#define AR_OUTCOME_COUNT 9

/* "ok", "auth_failure", "rate_limit_account", "rate_limit_model",
 * "quota_exhausted", "api_transient_5xx", "api_timeout", "network", "error". */
const char *ar_outcome_to_string(ArOutcome outcome);
gboolean ar_outcome_from_string(const char *name, ArOutcome *out);

/* The outcomes the daemon answers with a back-off and a retry (the
 * transient buckets): rate limits, 5xx, timeouts, network. Auth failures,
 * an exhausted quota and plain errors need a human (or the crash-loop
 * breaker). */
gboolean ar_outcome_is_transient(ArOutcome outcome);

/* What finish() tells about a round. Strings are owned; clear with
 * ar_classification_clear() (or g_auto(ArClassification)). */
typedef struct {
  ArOutcome outcome;
  int http_status;       /* the API's HTTP status, 0 if the output had none */
  gint64 reset_at_epoch; /* rate_limit_account: when the limit resets (epoch s), else 0 */
  char *evidence;        /* the CLI's own message, <= 200 chars, one line, redacted; NULL for ok */

  /* Usage, summed over the whole round. input_tokens is net fresh input
   * (cache reads excluded), cached_tokens are cache reads, as in
   * agent_usage_recorded. Never set for the text dialect. */
  gboolean has_usage;
  char *model; /* NULL when the CLI does not say (codex) */
  gint64 input_tokens;
  gint64 output_tokens;
  gint64 cached_tokens;
  gint64 cache_creation_tokens;
  gint64 duration_ms;
  gint64 tool_call_count;
  gint64 num_turns; /* claude's num_turns, codex's completed turns; 0 for gemini */
  double cost_usd;
  gboolean has_cost;
} ArClassification;

void ar_classification_clear(ArClassification *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ArClassification, ar_classification_clear)

typedef struct _ArClassifier ArClassifier;

ArClassifier *ar_classifier_new(ArDialect dialect);
void ar_classifier_free(ArClassifier *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArClassifier, ar_classifier_free)

ArDialect ar_classifier_get_dialect(ArClassifier *self);

/* The name under which the Python tool registered this dialect's built-in
 * error/usage detector ("claude_error_detector", ...), which [plugins]
 * disable may name; NULL for text (the Python tool had none for it). */
const char *ar_dialect_detector_name(ArDialect dialect);

/* Exit-code-only mode, for a dialect whose detector [plugins] disable
 * names: finish() says ok for a clean exit (or a success result followed
 * by the daemon ending a lingering agent) and error for anything else,
 * with no usage; the CLI's messages, statuses and rate-limit records are
 * not read. saw_result() and retry_loop() still answer: they drive the
 * daemon's own defenses, not the detector. */
void ar_classifier_set_exit_code_only(ArClassifier *self, gboolean exit_code_only);

/* Upper bound of a pretty-printed JSON document (gemini -o json, its error
 * report on stderr) that the classifier collects across lines. */
#define AR_CLASSIFY_BLOCK_MAX (256 * 1024)

/* One line of the agent's combined stdout+stderr, with or without its
 * trailing newline; need not be NUL-terminated, valid UTF-8 or complete
 * JSON (a caller may cut long lines: a cut JSON line is salvaged for the
 * fields the classifier needs, see docs/classifiers.md). now_monotonic_us
 * is the arrival time (g_get_monotonic_time() or the sd-event clock). */
void ar_classifier_feed_line(ArClassifier *self, const char *line, gsize len,
                             gint64 now_monotonic_us);

/* Many whole lines at once (data ends with "\n"). Returns how many bytes
 * (whole lines, from the start) it took, with exactly the effect of
 * feeding each line; the caller feeds the rest one by one with
 * ar_classifier_feed_line(), cutting lines longer than max_line as it
 * does. The text dialect takes blocks in which no line can match any
 * pattern (no anchor, no status number, or only lines too short: a flood
 * of "y") looking only at their last notable line, and feeds the other
 * blocks line by line itself; the JSON dialects take nothing. No
 * allocation. */
gsize ar_classifier_feed_lines_fast(ArClassifier *self, const char *data, gsize len, gsize max_line,
                                    gint64 now_monotonic_us);

/* The CLI printed its final result marker: claude and gemini
 * {"type":"result"} (or the -o json document), codex turn.completed or
 * turn.failed. The CLI is expected to exit right after it; the daemon's
 * grace-after-result defense starts here. Never TRUE for text. */
gboolean ar_classifier_saw_result(ArClassifier *self);

/* The CLI is inside one of its own retry loops (codex "Reconnecting...",
 * claude system/api_retry, gemini "Attempt N failed") with no progress
 * since; *since_monotonic_us (may be NULL) receives the arrival time of the
 * first retry line of the current loop. The daemon ends the round once
 * that is older than retry_loop_timeout_s. */
gboolean ar_classifier_retry_loop(ArClassifier *self, gint64 *since_monotonic_us);

/* The few arrival times the classifier keeps (the only state a re-feed of
 * the same lines at another time would not rebuild): for an upgrade in
 * place, which re-feeds the transcript into a fresh classifier. */
typedef struct {
  gint64 first_line_us;  /* -1 before the first line */
  gint64 retry_since_us; /* 0: not in a retry loop */
  gint64 duration_ms;    /* the usage's duration (codex: measured by these times) */
} ArClassifierClock;
void ar_classifier_get_clock(ArClassifier *self, ArClassifierClock *clock);
void ar_classifier_set_clock(ArClassifier *self, const ArClassifierClock *clock);

/* Classify the round once the agent is gone. exit_code is the agent's exit
 * status when it exited (siginfo CLD_EXITED / WEXITSTATUS), term_signal the
 * signal that killed it (CLD_KILLED, CLD_DUMPED / WTERMSIG), 0 if it exited.
 * timed_out: the daemon ended the round (round timeout, retry loop, grace
 * after result); stalled: it ended it because the agent printed nothing for
 * idle_timeout_s. May be called more than once; fills *out (which must be
 * zeroed or cleared). */
void ar_classifier_finish(ArClassifier *self, int exit_code, int term_signal, gboolean timed_out,
                          gboolean stalled, ArClassification *out);

G_END_DECLS
