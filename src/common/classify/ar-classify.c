/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Classifier core: names, the dialect guess, line dispatch (JSON line,
 * JSON array line, pretty-printed document, plain line) and the final
 * decision. What each CLI's events mean lives in ar-classify-<cli>.c, the
 * mappings in ar-classify-tables.c. */

#include <string.h>

#include "ar-classify-private.h"
#include "ar-json.h"

/* ---- names ---- */

static const char *const dialect_names[AR_DIALECT_COUNT] = {
  [AR_DIALECT_TEXT] = "text",
  [AR_DIALECT_CLAUDE_STREAM_JSON] = "claude-stream-json",
  [AR_DIALECT_CODEX_JSON] = "codex-json",
  [AR_DIALECT_GEMINI_STREAM_JSON] = "gemini-stream-json",
  [AR_DIALECT_CODEWHALE_STREAM_JSON] = "codewhale-stream-json",
};

static const ArDialectOps *const dialect_ops[AR_DIALECT_COUNT] = {
  [AR_DIALECT_TEXT] = &ar_classify_text_ops,
  [AR_DIALECT_CLAUDE_STREAM_JSON] = &ar_classify_claude_ops,
  [AR_DIALECT_CODEX_JSON] = &ar_classify_codex_ops,
  [AR_DIALECT_GEMINI_STREAM_JSON] = &ar_classify_gemini_ops,
  [AR_DIALECT_CODEWHALE_STREAM_JSON] = &ar_classify_codewhale_ops,
};

static const char *const detector_names[AR_DIALECT_COUNT] = {
  [AR_DIALECT_CLAUDE_STREAM_JSON] = "claude_error_detector",
  [AR_DIALECT_CODEX_JSON] = "codex_error_detector",
  [AR_DIALECT_GEMINI_STREAM_JSON] = "gemini_error_detector",
  [AR_DIALECT_CODEWHALE_STREAM_JSON] = "codewhale_error_detector",
};

static const struct {
  const char *name;
  gboolean transient;
} outcome_names[AR_OUTCOME_COUNT] = {
  [AR_OUTCOME_OK] = { "ok", FALSE },
  [AR_OUTCOME_AUTH_FAILURE] = { "auth_failure", FALSE },
  [AR_OUTCOME_RATE_LIMIT_ACCOUNT] = { "rate_limit_account", TRUE },
  [AR_OUTCOME_RATE_LIMIT_MODEL] = { "rate_limit_model", TRUE },
  [AR_OUTCOME_QUOTA_EXHAUSTED] = { "quota_exhausted", FALSE },
  [AR_OUTCOME_API_TRANSIENT_5XX] = { "api_transient_5xx", TRUE },
  [AR_OUTCOME_API_TIMEOUT] = { "api_timeout", TRUE },
  [AR_OUTCOME_NETWORK] = { "network", TRUE },
  [AR_OUTCOME_ERROR] = { "error", FALSE },
};

gboolean
ar_dialect_from_string(const char *name, ArDialect *out)
{
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    if (g_strcmp0(name, dialect_names[d]) == 0) {
      *out = (ArDialect)d;
      return TRUE;
    }
  }
  return FALSE;
}

const char *
ar_dialect_to_string(ArDialect dialect)
{
  if ((guint)dialect >= AR_DIALECT_COUNT)
    return "text";
  return dialect_names[dialect];
}

const char *
ar_outcome_to_string(ArOutcome outcome)
{
  if ((guint)outcome >= AR_OUTCOME_COUNT)
    return "error";
  return outcome_names[outcome].name;
}

gboolean
ar_outcome_from_string(const char *name, ArOutcome *out)
{
  for (int o = 0; o < AR_OUTCOME_COUNT; o++) {
    if (g_strcmp0(name, outcome_names[o].name) == 0) {
      *out = (ArOutcome)o;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
ar_outcome_is_transient(ArOutcome outcome)
{
  return (guint)outcome < AR_OUTCOME_COUNT && outcome_names[outcome].transient;
}

/* ---- dialect guess ---- */

/* The value of an option given as "--opt value" or "--opt=value". */
static const char *
option_value(const char *const *argv, const char *opt)
{
  gsize n = strlen(opt);

  for (gsize i = 1; argv[i] != NULL; i++) {
    if (strcmp(argv[i], opt) == 0)
      return argv[i + 1];
    if (strncmp(argv[i], opt, n) == 0 && argv[i][n] == '=')
      return argv[i] + n + 1;
  }
  return NULL;
}

static gboolean
has_arg(const char *const *argv, const char *arg)
{
  for (gsize i = 1; argv[i] != NULL; i++) {
    if (strcmp(argv[i], arg) == 0)
      return TRUE;
  }
  return FALSE;
}

static gboolean
is_json_format(const char *value)
{
  return g_strcmp0(value, "stream-json") == 0 || g_strcmp0(value, "json") == 0;
}

ArDialect
ar_dialect_guess(const char *const *command)
{
  if (command == NULL || command[0] == NULL)
    return AR_DIALECT_TEXT;

  g_autofree char *base = g_path_get_basename(command[0]);
  if (g_str_has_suffix(base, ".exe"))
    base[strlen(base) - 4] = '\0';

  /* claude -p ... --output-format stream-json (json: one result line, or
   * an array of all messages with --verbose; both parse the same way). */
  if (strcmp(base, "claude") == 0 && is_json_format(option_value(command, "--output-format")))
    return AR_DIALECT_CLAUDE_STREAM_JSON;
  if (strcmp(base, "codex") == 0 && (has_arg(command, "exec") || has_arg(command, "e")) &&
      has_arg(command, "--json"))
    return AR_DIALECT_CODEX_JSON;
  if (strcmp(base, "gemini") == 0 && (is_json_format(option_value(command, "--output-format")) ||
                                      is_json_format(option_value(command, "-o"))))
    return AR_DIALECT_GEMINI_STREAM_JSON;
  if (strcmp(base, "codewhale") == 0 &&
      g_strcmp0(option_value(command, "--output-format"), "stream-json") == 0)
    return AR_DIALECT_CODEWHALE_STREAM_JSON;
  return AR_DIALECT_TEXT;
}

gboolean
ar_line_contains(const char *line, gsize len, const char *needle)
{
  return memmem(line, len, needle, strlen(needle)) != NULL;
}

gboolean
ar_json_salvage_string(const char *line, gsize len, const char *member, char *buf, gsize max)
{
  g_autofree char *key = g_strdup_printf("\"%s\":\"", member);
  const char *start = memmem(line, len, key, strlen(key));
  const char *end = line + len;
  const char *p;

  if (start == NULL)
    return FALSE;
  start += strlen(key);
  for (p = start; p < end && *p != '"'; p++) {
    if (*p == '\\' && p + 1 < end)
      p++;
  }
  ar_copy_bounded(buf, max, start, MIN(p, end) - start);
  return TRUE;
}

/* ---- lifecycle ---- */

ArClassifier *
ar_classifier_new(ArDialect dialect)
{
  ArClassifier *self = g_new0(ArClassifier, 1);

  if ((guint)dialect >= AR_DIALECT_COUNT)
    dialect = AR_DIALECT_TEXT;
  self->dialect = dialect;
  self->ops = dialect_ops[dialect];
  self->pending_hint = AR_OUTCOME_UNKNOWN;
  self->first_line_us = -1;
  return self;
}

void
ar_classifier_free(ArClassifier *self)
{
  if (self == NULL)
    return;
  if (self->block)
    g_string_free(self->block, TRUE);
  g_free(self);
}

ArDialect
ar_classifier_get_dialect(ArClassifier *self)
{
  return self->dialect;
}

const char *
ar_dialect_detector_name(ArDialect dialect)
{
  if ((guint)dialect >= AR_DIALECT_COUNT)
    return NULL;
  return detector_names[dialect];
}

void
ar_classifier_set_exit_code_only(ArClassifier *self, gboolean exit_code_only)
{
  self->exit_code_only = exit_code_only;
}

gboolean
ar_classifier_saw_result(ArClassifier *self)
{
  return self->saw_result;
}

gboolean
ar_classifier_retry_loop(ArClassifier *self, gint64 *since_monotonic_us)
{
  if (since_monotonic_us)
    *since_monotonic_us = self->retry_since_us;
  return self->retry_since_us != 0;
}

void
ar_classifier_get_clock(ArClassifier *self, ArClassifierClock *clock)
{
  clock->first_line_us = self->first_line_us;
  clock->retry_since_us = self->retry_since_us;
  clock->duration_ms = self->usage.duration_ms;
}

void
ar_classifier_set_clock(ArClassifier *self, const ArClassifierClock *clock)
{
  self->first_line_us = clock->first_line_us;
  self->retry_since_us = clock->retry_since_us;
  self->usage.duration_ms = clock->duration_ms;
}

void
ar_classifier_note_progress(ArClassifier *self)
{
  self->retry_since_us = 0;
  ar_signal_clear(&self->cause);
}

void
ar_classifier_note_retry(ArClassifier *self, gint64 now_us)
{
  /* 0 means "no loop"; a clock that really reads 0 is nudged by 1 µs. */
  if (self->retry_since_us == 0)
    self->retry_since_us = now_us != 0 ? now_us : 1;
}

/* ---- line dispatch ---- */

static void
feed_json_node(ArClassifier *self, JsonNode *root, gint64 now_us)
{
  if (JSON_NODE_HOLDS_OBJECT(root)) {
    self->ops->feed_object(self, json_node_get_object(root), now_us);
  } else if (JSON_NODE_HOLDS_ARRAY(root)) {
    /* claude --output-format json --verbose: all messages in one array. */
    JsonArray *array = json_node_get_array(root);
    for (guint i = 0; i < json_array_get_length(array); i++) {
      JsonNode *element = json_array_get_element(array, i);
      if (JSON_NODE_HOLDS_OBJECT(element))
        self->ops->feed_object(self, json_node_get_object(element), now_us);
    }
  }
}

/* The leading "type" of a JSON event line, read without parsing it. */
static char *
leading_type(const char *line, gsize len)
{
  static const char prefix[] = "{\"type\":\"";
  gsize n = sizeof(prefix) - 1;

  if (len <= n || memcmp(line, prefix, n) != 0)
    return NULL;
  for (gsize i = n; i < len && i < n + 64; i++) {
    if (line[i] == '"')
      return g_strndup(line + n, i - n);
  }
  return NULL;
}

/* The line starts {"type":"<a progress-only type>". */
static gboolean
is_progress_line(const ArClassifier *self, const char *line, gsize len)
{
  static const char prefix[] = "{\"type\":\"";
  gsize n = sizeof(prefix) - 1;

  if (self->ops->progress_types == NULL || !ar_classify_fast_paths() || len <= n ||
      memcmp(line, prefix, n) != 0)
    return FALSE;
  for (const char *const *t = self->ops->progress_types; *t; t++) {
    gsize tl = strlen(*t);
    if (len > n + tl && memcmp(line + n, *t, tl) == 0 && line[n + tl] == '"')
      return TRUE;
  }
  return FALSE;
}

static void
feed_json_line(ArClassifier *self, const char *line, gsize len, gint64 now_us)
{
  if (is_progress_line(self, line, len)) {
    ar_classifier_note_progress(self);
    return;
  }
  if (self->ops->feed_fast && ar_classify_fast_paths() &&
      self->ops->feed_fast(self, line, len, now_us))
    return;
  g_autoptr(JsonParser) parser = json_parser_new_immutable();

  if (json_parser_load_from_data(parser, line, (gssize)len, NULL)) {
    JsonNode *root = json_parser_get_root(parser);
    if (root)
      feed_json_node(self, root, now_us);
    return;
  }
  if (self->ops->feed_broken) {
    g_autofree char *type = leading_type(line, len);
    self->ops->feed_broken(self, type, line, len, now_us);
  }
}

static gboolean
line_is(const char *line, gsize len, const char *what)
{
  return len == strlen(what) && memcmp(line, what, len) == 0;
}

/* Collect a pretty-printed document: "{" alone, indented lines, "}" alone
 * (gemini -o json on stdout, gemini's error report on stderr). Returns TRUE
 * when the line belonged to the document. */
static gboolean
feed_block(ArClassifier *self, const char *line, gsize len, gint64 now_us)
{
  if (self->block == NULL) {
    if (!line_is(line, len, "{"))
      return FALSE;
    self->block = g_string_new("{\n");
    self->block_overflow = FALSE;
    return TRUE;
  }

  if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
    if (self->block->len + len + 1 > AR_CLASSIFY_BLOCK_MAX)
      self->block_overflow = TRUE;
    if (!self->block_overflow) {
      g_string_append_len(self->block, line, (gssize)len);
      g_string_append_c(self->block, '\n');
    }
    return TRUE;
  }

  /* Anything else ends the document; only "}" completes it. */
  g_autoptr(GString) block = g_steal_pointer(&self->block);
  if (!line_is(line, len, "}"))
    return FALSE;
  if (!self->block_overflow) {
    g_string_append(block, "}\n");
    feed_json_line(self, block->str, block->len, now_us);
  }
  return TRUE;
}

/* JSON starts with { or [; "[STARTUP] ..." and "[Routing] ..." (gemini's
 * stderr) are words. */
static gboolean
looks_like_json(const char *line, gsize len)
{
  if (len == 0)
    return FALSE;
  if (line[0] == '{')
    return TRUE;
  return line[0] == '[' && !(len > 1 && g_ascii_isalpha(line[1]));
}

void
ar_classifier_feed_line(ArClassifier *self, const char *line, gsize len, gint64 now_monotonic_us)
{
  if (line == NULL)
    return;
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (self->first_line_us < 0)
    self->first_line_us = now_monotonic_us;

  if (self->dialect == AR_DIALECT_TEXT) {
    ar_classifier_feed_plain_generic(self, line, len);
    return;
  }
  if (feed_block(self, line, len, now_monotonic_us))
    return;
  if (looks_like_json(line, len)) {
    feed_json_line(self, line, len, now_monotonic_us);
    return;
  }
  if (self->ops->feed_plain)
    self->ops->feed_plain(self, line, len, now_monotonic_us);
  ar_classifier_feed_plain_generic(self, line, len);
}

/* Of a run of whole lines none of which can set a signal: only the last
 * notable one has a lasting effect (last_line), and since it cannot match
 * (the caller's test covered it), feeding it would only run the per-line
 * prefilters over it again (~0.1 ns/byte for 1000-byte lines) to find
 * nothing: its line is kept as ar_classifier_feed_plain_generic keeps it. */
static void
feed_last_notable(ArClassifier *self, const char *data, gsize len, gint64 now_us)
{
  const char *end = data + len; /* just past the last "\n" */

  if (self->first_line_us < 0)
    self->first_line_us = now_us;
  while (end > data) {
    const char *nl = end - 1; /* the "\n" that ends this line */
    const char *start = nl > data ? memrchr(data, '\n', nl - data) : NULL;
    start = start ? start + 1 : data;
    gsize l = nl - start;
    gsize trimmed = l;
    while (trimmed > 0 && (start[trimmed - 1] == '\n' || start[trimmed - 1] == '\r'))
      trimmed--;
    if (ar_classifier_plain_is_notable(self, start, &trimmed)) {
      ar_copy_bounded(self->last_line, sizeof(self->last_line), start, (gssize)trimmed);
      return;
    }
    end = start;
  }
}

/* Blocks of about this size are looked at as a whole. */
#define BULK_BLOCK 4096

gsize
ar_classifier_feed_lines_fast(ArClassifier *self, const char *data, gsize len, gsize max_line,
                              gint64 now_monotonic_us)
{
  /* JSON dialects: every line may be an event. */
  if (self->dialect != AR_DIALECT_TEXT || len == 0 || !ar_classify_fast_paths())
    return 0;
  gsize need = ar_classify_min_match_len(self->dialect);
  if (need == 0)
    return 0;
  /* No line long enough to match anything (ar_text_has_run checks windows
   * of at most 4: a shorter window is a stricter test, still exact). */
  if (max_line >= 4 && !ar_text_has_run(data, len, MIN(need, 4))) {
    feed_last_notable(self, data, len, now_monotonic_us);
    return len;
  }
  /* Block by block: one without any anchor (and without a status number)
   * holds no line that can match; the others go line by line. */
  gsize done = 0;
  while (done < len) {
    const char *b = data + done;
    gsize rest = len - done;
    const char *cut =
        rest > BULK_BLOCK ? memchr(b + BULK_BLOCK - 1, '\n', rest - (BULK_BLOCK - 1)) : NULL;
    gsize blen = cut ? (gsize)(cut - b) + 1 : rest;
    /* Every line of a block no longer than max_line is whole; a longer
     * block may hold one the caller must cut: leave it to the caller. */
    if (blen > max_line)
      break;
    if (ar_classify_text_may_match(self->dialect, b, blen)) {
      const char *p = b, *e = b + blen;
      while (p < e) {
        const char *nl = memchr(p, '\n', e - p);
        ar_classifier_feed_line(self, p, nl - p, now_monotonic_us);
        p = nl + 1;
      }
    } else {
      feed_last_notable(self, b, blen, now_monotonic_us);
    }
    done += blen;
  }
  return done;
}

/* ---- the decision ---- */

/* The class one signal stands for; exit_status fills in a status the
 * signal lacks (gemini's exit code). */
static int
signal_outcome(const ArSignal *sig, int exit_status, int *status_out)
{
  int status = sig->status ? sig->status : exit_status;
  int by_status = status ? ar_classify_status_outcome(status) : AR_OUTCOME_UNKNOWN;

  *status_out = status;
  if (sig->hint != AR_OUTCOME_UNKNOWN && (sig->hint_overrides || by_status == AR_OUTCOME_UNKNOWN))
    return sig->hint;
  return by_status;
}

static void
set_result(ArClassifier *self, ArClassification *out, int outcome, int status, const ArSignal *sig,
           const char *fallback_evidence)
{
  out->outcome = outcome == AR_OUTCOME_UNKNOWN ? AR_OUTCOME_ERROR : (ArOutcome)outcome;
  out->http_status = status;

  /* A rate limit with the CLI's own reset time is the account's limit
   * (claude's rate_limit_event); without one it is the model's. */
  gint64 reset = sig && sig->reset_at_epoch ? sig->reset_at_epoch : self->rate_limit.reset_at_epoch;
  if (out->outcome == AR_OUTCOME_RATE_LIMIT_MODEL && reset > 0) {
    out->outcome = AR_OUTCOME_RATE_LIMIT_ACCOUNT;
    out->reset_at_epoch = reset;
  }

  const char *raw = sig && sig->evidence[0] ? sig->evidence : fallback_evidence;
  if (raw && *raw)
    out->evidence = ar_classify_evidence_finish(raw);
}

static void
fill_usage(ArClassifier *self, ArClassification *out)
{
  const ArUsage *u = &self->usage;

  if (self->dialect == AR_DIALECT_TEXT || !u->seen)
    return;
  out->has_usage = TRUE;
  if (u->model.text[0])
    out->model = g_strdup(u->model.text);
  else if (u->fallback_model.text[0])
    out->model = g_strdup(u->fallback_model.text);
  out->input_tokens = u->input_tokens;
  out->output_tokens = u->output_tokens;
  out->cached_tokens = u->cached_tokens;
  out->cache_creation_tokens = u->cache_creation_tokens;
  out->duration_ms = u->duration_ms;
  out->tool_call_count = u->tool_call_count;
  out->num_turns = u->num_turns;
  out->cost_usd = u->cost_usd;
  out->has_cost = u->has_cost;
}

void
ar_classifier_finish(ArClassifier *self, int exit_code, int term_signal, gboolean timed_out,
                     gboolean stalled, ArClassification *out)
{
  gboolean exited = term_signal == 0;
  gboolean clean_exit = exited && exit_code == 0 && !timed_out && !stalled;
  int exit_status =
      exited && self->ops->status_from_exit ? self->ops->status_from_exit(exit_code) : 0;
  const char *last_line = self->last_line[0] ? self->last_line : NULL;
  int status = 0;
  int outcome;

  ar_classification_clear(out);
  if (self->exit_code_only) {
    /* The same "work is done" rule as below, nothing the CLI said. */
    gboolean done = clean_exit || (self->result_ok && (!exited || timed_out || stalled));
    if (!done)
      set_result(self, out, AR_OUTCOME_ERROR, 0, NULL, last_line);
    return;
  }
  fill_usage(self, out);

  /* The CLI's final word decides: its error, or success with exit 0. */
  if (self->terminal.set) {
    outcome = signal_outcome(&self->terminal, exit_status, &status);
    /* An error result that says nothing of its own (no status, no known
     * words) after a rejected rate limit is that limit: the Python tool
     * backs off to resetsAt, and running on would burn rounds. */
    if (outcome == AR_OUTCOME_UNKNOWN && self->rate_limit.set) {
      outcome = signal_outcome(&self->rate_limit, exit_status, &status);
      set_result(self, out, outcome, status, &self->terminal, last_line);
      return;
    }
    set_result(self, out, outcome, status, &self->terminal, last_line);
    return;
  }
  /* Success reported and then the agent exited 0, or was ended by the
   * daemon (grace after result, timeout) while lingering: the work is done.
   * A non-zero exit after a success result is the CLI's own complaint. */
  if (clean_exit || (self->result_ok && (!exited || timed_out || stalled))) {
    out->outcome = AR_OUTCOME_OK;
    return;
  }

  /* No final word: the cause of the retry loop the CLI was in when it
   * died or was ended, then a rejected rate limit, then what the exit code
   * says, then the CLI's plain-text complaints. */
  const ArSignal *const chain[] = { &self->cause, &self->rate_limit };
  for (gsize i = 0; i < G_N_ELEMENTS(chain); i++) {
    if (!chain[i]->set)
      continue;
    outcome = signal_outcome(chain[i], exit_status, &status);
    if (outcome != AR_OUTCOME_UNKNOWN) {
      set_result(self, out, outcome, status, chain[i], last_line);
      return;
    }
  }

  outcome = exited ? ar_classify_exit_outcome(self->dialect, exit_code) : AR_OUTCOME_UNKNOWN;
  if (outcome != AR_OUTCOME_UNKNOWN) {
    set_result(self, out, outcome, exit_status, NULL, last_line);
    return;
  }

  if (self->text.set) {
    outcome = signal_outcome(&self->text, exit_status, &status);
    if (outcome != AR_OUTCOME_UNKNOWN) {
      set_result(self, out, outcome, status, &self->text, last_line);
      return;
    }
  }

  outcome = exit_status ? ar_classify_status_outcome(exit_status) : AR_OUTCOME_UNKNOWN;
  if (outcome != AR_OUTCOME_UNKNOWN) {
    set_result(self, out, outcome, exit_status, NULL, last_line);
    return;
  }

  /* Nothing explains it. A silent round gets the class its CLI gives
   * silence (and no evidence: the last line it printed is not why). */
  if (stalled) {
    set_result(self, out, ar_classify_stall_outcome(self->dialect), exit_status, NULL, NULL);
    return;
  }
  set_result(self, out, AR_OUTCOME_ERROR, exit_status, self->cause.set ? &self->cause : NULL,
             last_line);
}

void
ar_classification_clear(ArClassification *c)
{
  g_clear_pointer(&c->evidence, g_free);
  g_clear_pointer(&c->model, g_free);
  memset(c, 0, sizeof(*c));
}
