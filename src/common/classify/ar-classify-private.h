/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared between the classifier core, its tables and the dialect parsers.
 * Not installed, not for the daemon. */

#include <json-glib/json-glib.h>

#include "ar-classify-scan.h"
#include "ar-classify-tables.h"
#include "ar-classify.h"

G_BEGIN_DECLS

/* Raw evidence kept per signal: more than the 200 chars reported so that
 * redaction sees a secret whole before the text is cut. */
#define AR_EVIDENCE_RAW_MAX   1024
#define AR_EVIDENCE_MAX_CHARS 200
#define AR_MODEL_MAX          128

/* One piece of evidence about why a round failed: the HTTP status the
 * CLI reported (0 if none), the class its words or its error category
 * imply (hint), and its message. */
typedef struct {
  gboolean set;
  int status;
  int hint;                /* ArOutcome or AR_OUTCOME_UNKNOWN */
  gboolean hint_overrides; /* the hint is more specific than the status */
  gint64 reset_at_epoch;   /* rate limit reset announced by the CLI, 0 if none */
  char evidence[AR_EVIDENCE_RAW_MAX];
} ArSignal;

/* Bounded string for the model name. */
typedef struct {
  char text[AR_MODEL_MAX];
} ArModelName;

typedef struct {
  gboolean seen;
  gint64 input_tokens;
  gint64 output_tokens;
  gint64 cached_tokens;
  gint64 cache_creation_tokens;
  gint64 duration_ms;
  gint64 tool_call_count;
  gint64 num_turns;
  double cost_usd;
  gboolean has_cost;
  ArModelName model;          /* the model that did the work */
  ArModelName fallback_model; /* announced at start (claude init), used if no other */
} ArUsage;

typedef struct _ArDialectOps ArDialectOps;

struct _ArClassifier {
  ArDialect dialect;
  const ArDialectOps *ops;
  gboolean exit_code_only; /* the dialect's detector is disabled */

  gboolean saw_result;
  gboolean result_ok;  /* the final marker reported success */
  ArSignal terminal;   /* the final marker reported an error */
  ArSignal cause;      /* latest error while running (retries, error events); cleared by progress */
  ArSignal text;       /* latest plain line the message/status tables recognised */
  ArSignal rate_limit; /* claude rate_limit_event status=rejected, until lifted */

  /* A class announced by an error event just before the final marker
   * (claude's assistant.error); the final marker consumes it. */
  int pending_hint;
  gboolean pending_hint_overrides;

  gint64 retry_since_us; /* 0: not in a retry loop */
  gint64 first_line_us;  /* arrival of the first line, -1 before */

  /* Last notable plain line: evidence when nothing else explains a failure. */
  char last_line[AR_EVIDENCE_RAW_MAX];

  /* A pretty-printed JSON document being collected: "{" alone on a line,
   * indented lines, "}" alone on a line. NULL when not inside one. */
  GString *block;
  gboolean block_overflow;

  ArUsage usage;
};

struct _ArDialectOps {
  /* A JSON object line (or an element of a JSON array line, or a
   * pretty-printed document). */
  void (*feed_object)(ArClassifier *self, JsonObject *obj, gint64 now_us);
  /* A line that is not JSON (stderr, banners, tracing). Optional; the
   * generic plain-line handling runs after it. */
  void (*feed_plain)(ArClassifier *self, const char *line, gsize len, gint64 now_us);
  /* A line that starts like a JSON event but does not parse (cut by the
   * caller, or garbage): type is its leading "type" value (NULL if none
   * could be read). Optional. */
  void (*feed_broken)(ArClassifier *self, const char *type, const char *line, gsize len,
                      gint64 now_us);
  /* HTTP status implied by the exit code (gemini exits with status % 256),
   * 0 if none. Optional. */
  int (*status_from_exit)(int exit_code);
  /* Event types whose every effect is "progress" (tool results, streamed
   * deltas): a line that starts {"type":"<one of these>" is not parsed,
   * whole or cut, since either way it only marks progress. These are the
   * biggest and most frequent lines; parsing them was most of the cost.
   * NULL-terminated; optional. */
  const char *const *progress_types;
  /* A JSON line handled without the parser, with exactly the effect
   * feed_object() would have on the parsed line; FALSE: parse it. Optional. */
  gboolean (*feed_fast)(ArClassifier *self, const char *line, gsize len, gint64 now_us);
};

extern const ArDialectOps ar_classify_claude_ops;
extern const ArDialectOps ar_classify_codex_ops;
extern const ArDialectOps ar_classify_gemini_ops;
extern const ArDialectOps ar_classify_codewhale_ops;
extern const ArDialectOps ar_classify_text_ops;

/* ---- questions to the tables (ar-classify-match.c) ---- */

/* Status table: HTTP status -> class; AR_OUTCOME_UNKNOWN if not listed. */
int ar_classify_status_outcome(int status);

/* First HTTP status stated in a message ("unexpected status 401",
 * "last status: 429", "\"code\":400", "Error code: 503", "HTTP/1.1 502"),
 * 0 if none. */
int ar_classify_status_in_text(const char *text, gssize len);

/* Message pattern table: the class a CLI message implies for this dialect,
 * AR_OUTCOME_UNKNOWN if no row matches; *overrides (may be NULL) tells
 * whether the row beats the HTTP status. */
int ar_classify_message_outcome(ArDialect dialect, const char *text, gssize len,
                                gboolean *overrides);

/* Retry-loop table: does this text announce a retry of the CLI? */
gboolean ar_classify_is_retry(ArDialect dialect, ArRetryWhere where, const char *text, gssize len);

/* Noise table: a plain line that is never evidence (banners). */
gboolean ar_classify_is_noise(ArDialect dialect, const char *text, gssize len);

/* Exit-code table: a class implied by the exit code alone for this dialect. */
int ar_classify_exit_outcome(ArDialect dialect, int exit_code);

/* Outcome of a round the daemon ended for silence, when the output gives
 * no cause. */
ArOutcome ar_classify_stall_outcome(ArDialect dialect);

/* Claude's error categories (assistant.error, or api_retry.error when
 * in_retry). */
int ar_classify_claude_category_outcome(const char *category, gboolean in_retry,
                                        gboolean *overrides);

/* The prefilter in front of the message and status patterns
 * (ar-classify-prefilter.c): literal anchors derived from the patterns. */
typedef struct _ArLiteralSet ArLiteralSet;
ArLiteralSet *ar_literal_set_new(void);
void ar_literal_set_free(ArLiteralSet *set);
/* Adds the literals one of which every match of pattern contains; FALSE
 * (and the set answers "maybe" to everything) when there are none. */
gboolean ar_literal_set_add_pattern(ArLiteralSet *set, const char *pattern);
/* FALSE only when text contains none of the anchors (ASCII caseless). */
gboolean ar_literal_set_maybe(const ArLiteralSet *set, const char *text, gsize len);
/* Shortest anchor; 0 when the set always answers "maybe". */
gsize ar_literal_set_min_len(const ArLiteralSet *set);
void ar_literal_set_foreach_anchor(const ArLiteralSet *set, void (*func)(const char *, gpointer),
                                   gpointer user_data);
/* The set's one-pass vector scan, NULL where the CPU has none or the set
 * always answers "maybe". */
const ArAnchorScan *ar_literal_set_scan(const ArLiteralSet *set);
/* A 4xx/5xx-looking number: [45] and two digits. */
gboolean ar_text_has_status_digits(const char *text, gsize len);
/* Some run bytes in a row without a newline. */
gboolean ar_text_has_run(const char *text, gsize len, gsize run);

/* Turn every shortcut off (prefilter, lines not parsed, bulk lines): the
 * tests compare both ways. On by default. */
void ar_classify_set_fast_paths(gboolean enabled);
gboolean ar_classify_fast_paths(void);
/* Shortest text any message or status pattern of the dialect can match:
 * shorter lines never carry a signal. */
gsize ar_classify_min_match_len(ArDialect dialect);
/* Whether some line of text could match a message or status pattern of
 * the dialect (FALSE: none can). */
gboolean ar_classify_text_may_match(ArDialect dialect, const char *text, gsize len);
/* The message prefilter of a dialect (for the tests). */
const ArLiteralSet *ar_classify_message_prefilter(ArDialect dialect);
/* The status pattern's prefilter (for the tests). */
const ArLiteralSet *ar_classify_status_prefilter(void);

/* Every fixture case a table row names as its proof (strings owned by out). */
void ar_classify_tables_fixtures(GPtrArray *out);

/* ---- signals and evidence, for every dialect (ar-classify-evidence.c) ---- */

/* Fill a signal from a CLI message: status from the text unless given,
 * hint from the message table. */
void ar_signal_set_message(ArSignal *sig, ArDialect dialect, int status, const char *message,
                           gssize len);
void ar_signal_set_evidence(ArSignal *sig, const char *text, gssize len);
void ar_signal_clear(ArSignal *sig);

/* The generic handling of a plain line: message and status tables, notable
 * line. Every dialect's plain lines go through it; the text dialect has
 * nothing else. */
void ar_classifier_feed_plain_generic(ArClassifier *self, const char *line, gsize len);
/* Whether the generic handling would look at this plain line at all (not
 * indented, not blank, not a lone bracket, not noise); trims *len of
 * trailing blanks as that handling does. */
gboolean ar_classifier_plain_is_notable(ArClassifier *self, const char *line, gsize *len);

/* Copy at most max-1 bytes of text into buf, cut at a UTF-8 boundary. */
void ar_copy_bounded(char *buf, gsize max, const char *text, gssize len);

void ar_model_name_set(ArModelName *m, const char *name);

/* Evidence as reported: one line, valid UTF-8, redacted, <= 200 chars. */
char *ar_classify_evidence_finish(const char *raw);

/* ---- core helpers for the dialect parsers (ar-classify.c) ---- */

/* The output made progress (model output, tool activity, a result): a
 * retry loop in progress is over and its cause is stale. */
void ar_classifier_note_progress(ArClassifier *self);
/* A retry announcement; the loop starts with the first one. */
void ar_classifier_note_retry(ArClassifier *self, gint64 now_us);

/* JSON accessors that tolerate missing members and wrong types: ar-json.h */
#include "ar-json.h"

/* From a JSON line that does not parse (cut short): the raw, still escaped
 * text of the first string member named member, up to its closing quote or
 * the end of the line, copied into buf. FALSE if the member is not there. */
gboolean ar_json_salvage_string(const char *line, gsize len, const char *member, char *buf,
                                gsize max);
/* Whether the raw line contains needle (bytes). */
gboolean ar_line_contains(const char *line, gsize len, const char *needle);

G_END_DECLS
