/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Claude Code, --output-format stream-json (and json: the same objects, as
 * one result line or, with --verbose, one array).
 *
 * The final line is {"type":"result"}; its subtype is "success" even on
 * errors, so is_error, api_error_status and the result text decide, helped
 * by the error category on the synthetic assistant line before it. Retries
 * are system/api_retry lines; a subscription's rate limit is a
 * rate_limit_event with the reset time. Usage comes from the result line
 * (summed if a round holds several), tool calls from the tool_use blocks of
 * every assistant line. */

#include <string.h>

#include "ar-classify-private.h"

#define SYNTHETIC_MODEL "<synthetic>"

static void
claude_system(ArClassifier *self, JsonObject *obj, gint64 now_us)
{
  const char *subtype = ar_json_str(obj, "subtype");

  if (g_strcmp0(subtype, "init") == 0) {
    const char *model = ar_json_str(obj, "model");
    if (model)
      ar_model_name_set(&self->usage.fallback_model, model);
    return;
  }
  if (subtype == NULL)
    return;

  g_autofree char *event = g_strdup_printf("system/%s", subtype);
  if (!ar_classify_is_retry(self->dialect, AR_RETRY_EVENT, event, -1))
    return;
  ar_classifier_note_retry(self, now_us);

  /* The retry's cause: the status, or none at all for DNS, refused, reset
   * and timeouts; the category says the same in words. */
  gboolean has_status = FALSE;
  int status = (int)ar_json_int(obj, "error_status", &has_status);
  const char *category = ar_json_str(obj, "error");
  ArSignal *sig = &self->cause;

  ar_signal_clear(sig);
  sig->set = TRUE;
  sig->status = has_status ? status : 0;
  sig->hint = ar_classify_claude_category_outcome(category, TRUE, &sig->hint_overrides);

  g_autofree char *evidence = NULL;
  if (has_status)
    evidence =
        g_strdup_printf("API retry %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT ": %s (HTTP %d)",
                        ar_json_int(obj, "attempt", NULL), ar_json_int(obj, "max_retries", NULL),
                        category ? category : "unknown", status);
  else
    evidence =
        g_strdup_printf("API retry %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT ": %s (no HTTP status)",
                        ar_json_int(obj, "attempt", NULL), ar_json_int(obj, "max_retries", NULL),
                        category ? category : "unknown");
  ar_signal_set_evidence(sig, evidence, -1);
}

static void
claude_assistant(ArClassifier *self, JsonObject *obj)
{
  JsonObject *message = ar_json_obj(obj, "message");
  const char *error = ar_json_str(obj, "error");
  const char *model = ar_json_str(message, "model");

  /* The synthetic message that announces an error: its category helps
   * the result line that follows. */
  if (error) {
    self->pending_hint =
        ar_classify_claude_category_outcome(error, FALSE, &self->pending_hint_overrides);
    return;
  }

  ar_classifier_note_progress(self);
  if (model && strcmp(model, SYNTHETIC_MODEL) != 0)
    ar_model_name_set(&self->usage.model, model);

  JsonArray *content = ar_json_array(message, "content");
  guint n = content ? json_array_get_length(content) : 0;
  for (guint i = 0; i < n; i++) {
    JsonNode *block = json_array_get_element(content, i);
    if (JSON_NODE_HOLDS_OBJECT(block) &&
        g_strcmp0(ar_json_str(json_node_get_object(block), "type"), "tool_use") == 0)
      self->usage.tool_call_count++;
  }
}

static void
claude_rate_limit_event(ArClassifier *self, JsonObject *obj)
{
  JsonObject *info = ar_json_obj(obj, "rate_limit_info");
  const char *status = ar_json_str(info, "status");

  /* "allowed" / "allowed_warning": the limit is not (or no longer) hit. */
  if (g_strcmp0(status, "rejected") != 0) {
    ar_signal_clear(&self->rate_limit);
    return;
  }

  gint64 resets_at = ar_json_int(info, "resetsAt", NULL);
  const char *type = ar_json_str(info, "rateLimitType");
  ArSignal *sig = &self->rate_limit;

  ar_signal_clear(sig);
  sig->set = TRUE;
  sig->hint = AR_OUTCOME_RATE_LIMIT_MODEL;
  sig->reset_at_epoch = resets_at > 0 ? resets_at : 0;

  g_autofree char *evidence = NULL;
  if (resets_at > 0)
    evidence = g_strdup_printf("rate limit rejected (%s), resets at %" G_GINT64_FORMAT,
                               type ? type : "unknown", resets_at);
  else
    evidence = g_strdup_printf("rate limit rejected (%s)", type ? type : "unknown");
  ar_signal_set_evidence(sig, evidence, -1);
}

static void
add_usage(ArClassifier *self, JsonObject *obj)
{
  JsonObject *usage = ar_json_obj(obj, "usage");
  ArUsage *u = &self->usage;
  gboolean has_cost = FALSE;
  double cost = ar_json_double(obj, "total_cost_usd", &has_cost);

  u->seen = TRUE;
  /* Anthropic's input_tokens already excludes cache reads and writes. */
  u->input_tokens += ar_json_int(usage, "input_tokens", NULL);
  u->output_tokens += ar_json_int(usage, "output_tokens", NULL);
  u->cached_tokens += ar_json_int(usage, "cache_read_input_tokens", NULL);
  u->cache_creation_tokens += ar_json_int(usage, "cache_creation_input_tokens", NULL);
  u->duration_ms += ar_json_int(obj, "duration_ms", NULL);
  u->num_turns += ar_json_int(obj, "num_turns", NULL);
  if (has_cost) {
    u->cost_usd += cost;
    u->has_cost = TRUE;
  }

  /* -o json without --verbose has no assistant line: name the model from
   * modelUsage (the first, i.e. main, model). */
  JsonObject *model_usage = ar_json_obj(obj, "modelUsage");
  if (u->model.text[0] == '\0' && model_usage && json_object_get_size(model_usage) > 0) {
    g_autoptr(GList) names = json_object_get_members(model_usage);
    ar_model_name_set(&u->model, names->data);
  }
}

/* The human text of a failed result: "result", else the "errors" list of
 * the error_* subtypes, else the subtype itself. */
static const char *
result_message(JsonObject *obj)
{
  const char *text = ar_json_str(obj, "result");
  JsonArray *errors = ar_json_array(obj, "errors");

  if (text && *text)
    return text;
  if (errors && json_array_get_length(errors) > 0) {
    JsonNode *first = json_array_get_element(errors, 0);
    if (JSON_NODE_HOLDS_VALUE(first) && json_node_get_value_type(first) == G_TYPE_STRING)
      return json_node_get_string(first);
  }
  return ar_json_str(obj, "subtype");
}

static void
result_succeeded(ArClassifier *self)
{
  self->result_ok = TRUE;
  ar_signal_clear(&self->terminal);
  self->pending_hint = AR_OUTCOME_UNKNOWN;
}

static void
result_failed(ArClassifier *self, int status, const char *message)
{
  self->result_ok = FALSE;
  ar_signal_set_message(&self->terminal, self->dialect, status, message, -1);
  /* The category is the CLI's own classification: it beats the words. */
  if (self->pending_hint != AR_OUTCOME_UNKNOWN) {
    self->terminal.hint = self->pending_hint;
    self->terminal.hint_overrides = self->pending_hint_overrides;
  }
  self->pending_hint = AR_OUTCOME_UNKNOWN;
}

static void
claude_result(ArClassifier *self, JsonObject *obj)
{
  self->saw_result = TRUE;
  ar_classifier_note_progress(self);
  add_usage(self, obj);

  if (!ar_json_bool(obj, "is_error", FALSE)) {
    result_succeeded(self);
    return;
  }

  gboolean has_status = FALSE;
  int status = (int)ar_json_int(obj, "api_error_status", &has_status);
  result_failed(self, has_status ? status : 0, result_message(obj));
}

static void
claude_feed_object(ArClassifier *self, JsonObject *obj, gint64 now_us)
{
  const char *type = ar_json_str(obj, "type");

  if (type == NULL)
    return;
  if (strcmp(type, "system") == 0)
    claude_system(self, obj, now_us);
  else if (strcmp(type, "assistant") == 0)
    claude_assistant(self, obj);
  else if (strcmp(type, "user") == 0 || strcmp(type, "stream_event") == 0)
    ar_classifier_note_progress(self);
  else if (strcmp(type, "rate_limit_event") == 0)
    claude_rate_limit_event(self, obj);
  else if (strcmp(type, "result") == 0)
    claude_result(self, obj);
}

/* A line cut by the caller: tool results (user) and long answers (assistant,
 * result) are the big ones. Keep the marker, the error fields that come
 * before the long text, and a count of tool_use blocks. */
static void
claude_feed_broken(ArClassifier *self, const char *type, const char *line, gsize len, gint64 now_us)
{
  if (g_strcmp0(type, "user") == 0 || g_strcmp0(type, "stream_event") == 0) {
    ar_classifier_note_progress(self);
  } else if (g_strcmp0(type, "assistant") == 0) {
    static const char needle[] = "\"type\":\"tool_use\"";
    const char *p = line, *end = line + len;

    ar_classifier_note_progress(self);
    while ((p = memmem(p, end - p, needle, sizeof(needle) - 1)) != NULL) {
      self->usage.tool_call_count++;
      p += sizeof(needle) - 1;
    }
  } else if (g_strcmp0(type, "result") == 0) {
    char text[AR_EVIDENCE_RAW_MAX] = "";
    const char *status_key = "\"api_error_status\":";
    const char *s = memmem(line, len, status_key, strlen(status_key));
    int status = 0;

    self->saw_result = TRUE;
    ar_classifier_note_progress(self);
    if (!ar_line_contains(line, len, "\"is_error\":true")) {
      result_succeeded(self);
      return;
    }
    if (s) {
      s += strlen(status_key);
      for (; s < line + len && g_ascii_isdigit(*s) && status < 1000; s++)
        status = status * 10 + (*s - '0');
    }
    ar_json_salvage_string(line, len, "result", text, sizeof(text));
    result_failed(self, status, text);
  }
}

/* ---- assistant lines without the JSON parser ----
 *
 * Assistant lines are the second biggest kind (long texts, whole files in
 * a Write's input), and all claude_assistant() needs of them is the top
 * level "error", message.model and the "type" of each message.content
 * element. This scanner checks the line's syntax and picks those out
 * without building a tree or allocating. It handles only the plain case:
 * pure ASCII, no \u escape, no escape inside a value it reads, numbers
 * without exponent and of at most 15 digits, nesting of at most 32;
 * anything else goes to json-glib as before, so the answer is always the
 * parser's (duplicate members: the last one counts, as in json-glib). */

#define SCAN_DEPTH_MAX  32
#define SCAN_DIGITS_MAX 15

typedef struct {
  const guchar *p;
  const guchar *end;
  int depth;
} Scan;

typedef struct {
  const guchar *str; /* NULL: not a (plain) string */
  gsize len;
} ScanStr;

static void
scan_ws(Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

typedef guchar ScanV16 __attribute__((vector_size(16)));

/* Past the bytes a string holds as they are (printable ASCII other than
 * '"' and '\\'), 16 at a time: the byte loop below was the claude
 * dialect's biggest cost (texts and file contents are most of a line). */
static void
scan_plain(Scan *s)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  while (s->end - s->p >= 16) {
    ScanV16 v;
    memcpy(&v, s->p, 16);
    ScanV16 stop =
        (v == (guchar)'"') | (v == (guchar)'\\') | (v < (guchar)0x20) | (v >= (guchar)0x80);
    guint64 half[2];
    memcpy(half, &stop, sizeof half);
    if (half[0]) {
      s->p += __builtin_ctzll(half[0]) / 8;
      return;
    }
    if (half[1]) {
      s->p += 8 + __builtin_ctzll(half[1]) / 8;
      return;
    }
    s->p += 16;
  }
#endif
}

/* A string at s->p. *escaped: it holds an escape (its raw bytes are not
 * its value). FALSE: not something this scanner vouches for. */
static gboolean
scan_string(Scan *s, ScanStr *out, gboolean *escaped)
{
  *escaped = FALSE;
  if (s->p >= s->end || *s->p != '"')
    return FALSE;
  const guchar *start = ++s->p;
  while (s->p < s->end) {
    scan_plain(s);
    if (s->p >= s->end)
      break;
    guchar c = *s->p;
    if (c == '"') {
      out->str = start;
      out->len = (gsize)(s->p - start);
      s->p++;
      return TRUE;
    }
    if (c < 0x20 || c >= 0x80)
      return FALSE;
    if (c == '\\') {
      if (s->p + 1 >= s->end || strchr("\"\\/bfnrt", s->p[1]) == NULL || s->p[1] == '\0')
        return FALSE; /* \u and invalid escapes: the parser decides */
      *escaped = TRUE;
      s->p += 2;
      continue;
    }
    s->p++;
  }
  return FALSE;
}

static gboolean
scan_number(Scan *s)
{
  int digits = 0;
  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (s->p >= s->end || !g_ascii_isdigit(*s->p))
    return FALSE;
  if (*s->p == '0') {
    s->p++;
    digits++;
  } else {
    while (s->p < s->end && g_ascii_isdigit(*s->p)) {
      s->p++;
      digits++;
    }
  }
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (s->p >= s->end || !g_ascii_isdigit(*s->p))
      return FALSE;
    while (s->p < s->end && g_ascii_isdigit(*s->p)) {
      s->p++;
      digits++;
    }
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    return FALSE;
  return digits <= SCAN_DIGITS_MAX;
}

static gboolean
scan_word(Scan *s, const char *word)
{
  gsize n = strlen(word);
  if ((gsize)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
    return FALSE;
  s->p += n;
  return TRUE;
}

static gboolean scan_value(Scan *s, ScanStr *as_string);

/* Members of an object: calls member() for each key with s->p at its value
 * (member must consume the value). */
typedef gboolean (*ScanMember)(Scan *s, const ScanStr *key, gpointer data);

static gboolean
scan_object(Scan *s, ScanMember member, gpointer data)
{
  if (s->p >= s->end || *s->p != '{' || ++s->depth > SCAN_DEPTH_MAX)
    return FALSE;
  s->p++;
  scan_ws(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    s->depth--;
    return TRUE;
  }
  for (;;) {
    ScanStr key = { NULL, 0 };
    gboolean escaped;
    scan_ws(s);
    /* An escaped key could spell a member we look for: leave it to the
     * parser. */
    if (!scan_string(s, &key, &escaped) || escaped)
      return FALSE;
    scan_ws(s);
    if (s->p >= s->end || *s->p != ':')
      return FALSE;
    s->p++;
    scan_ws(s);
    if (!(member ? member(s, &key, data) : scan_value(s, NULL)))
      return FALSE;
    scan_ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == '}') {
      s->p++;
      s->depth--;
      return TRUE;
    }
    return FALSE;
  }
}

/* Elements of an array; element() consumes each (NULL: skip). */
static gboolean
scan_array(Scan *s, gboolean (*element)(Scan *s, gpointer data), gpointer data)
{
  if (s->p >= s->end || *s->p != '[' || ++s->depth > SCAN_DEPTH_MAX)
    return FALSE;
  s->p++;
  scan_ws(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    s->depth--;
    return TRUE;
  }
  for (;;) {
    scan_ws(s);
    if (!(element ? element(s, data) : scan_value(s, NULL)))
      return FALSE;
    scan_ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == ']') {
      s->p++;
      s->depth--;
      return TRUE;
    }
    return FALSE;
  }
}

/* Any value. as_string (may be NULL) gets the string's raw bytes when the
 * value is an unescaped string, str = NULL for anything else; an escaped
 * string there fails the scan. */
static gboolean
scan_value(Scan *s, ScanStr *as_string)
{
  if (as_string)
    as_string->str = NULL;
  if (s->p >= s->end)
    return FALSE;
  switch (*s->p) {
  case '{':
    return scan_object(s, NULL, NULL);
  case '[':
    return scan_array(s, NULL, NULL);
  case '"': {
    ScanStr str;
    gboolean escaped;
    if (!scan_string(s, &str, &escaped))
      return FALSE;
    if (as_string) {
      if (escaped)
        return FALSE;
      *as_string = str;
    }
    return TRUE;
  }
  case 't':
    return scan_word(s, "true");
  case 'f':
    return scan_word(s, "false");
  case 'n':
    return scan_word(s, "null");
  default:
    return scan_number(s);
  }
}

static gboolean
key_is(const ScanStr *key, const char *name)
{
  gsize n = strlen(name);
  return key->len == n && memcmp(key->str, name, n) == 0;
}

static gboolean
str_is(const ScanStr *str, const char *value)
{
  return str->str && key_is(str, value);
}

typedef struct {
  ScanStr type;  /* the top level "type" */
  ScanStr error; /* the top level "error" when a string */
  ScanStr model; /* message.model when a string */
  gint64 tool_uses;
  ScanStr block_type; /* while in a content element */
} AssistantScan;

static gboolean
content_block_member(Scan *s, const ScanStr *key, gpointer data)
{
  AssistantScan *a = data;
  if (key_is(key, "type"))
    return scan_value(s, &a->block_type);
  return scan_value(s, NULL);
}

static gboolean
content_element(Scan *s, gpointer data)
{
  AssistantScan *a = data;
  if (s->p >= s->end || *s->p != '{')
    return scan_value(s, NULL);
  a->block_type.str = NULL;
  if (!scan_object(s, content_block_member, a))
    return FALSE;
  if (str_is(&a->block_type, "tool_use"))
    a->tool_uses++;
  return TRUE;
}

static gboolean
message_member(Scan *s, const ScanStr *key, gpointer data)
{
  AssistantScan *a = data;
  if (key_is(key, "model"))
    return scan_value(s, &a->model);
  if (key_is(key, "content")) {
    a->tool_uses = 0; /* a repeated member replaces the earlier one */
    if (s->p < s->end && *s->p == '[')
      return scan_array(s, content_element, a);
    return scan_value(s, NULL);
  }
  return scan_value(s, NULL);
}

static gboolean
assistant_member(Scan *s, const ScanStr *key, gpointer data)
{
  AssistantScan *a = data;
  if (key_is(key, "type"))
    return scan_value(s, &a->type);
  if (key_is(key, "error"))
    return scan_value(s, &a->error);
  if (key_is(key, "message")) {
    a->model.str = NULL;
    a->tool_uses = 0;
    if (s->p < s->end && *s->p == '{')
      return scan_object(s, message_member, a);
    return scan_value(s, NULL);
  }
  return scan_value(s, NULL);
}

/* claude_assistant() on the parsed line, when the scanner vouches for it. */
static gboolean
claude_feed_fast(ArClassifier *self, const char *line, gsize len, gint64 now_us)
{
  static const char prefix[] = "{\"type\":\"assistant\"";
  Scan s = { (const guchar *)line, (const guchar *)line + len, 0 };
  AssistantScan a = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, 0, { NULL, 0 } };

  if (len < sizeof(prefix) - 1 || memcmp(line, prefix, sizeof(prefix) - 1) != 0)
    return FALSE;
  if (!scan_object(&s, assistant_member, &a))
    return FALSE;
  scan_ws(&s);
  if (s.p != s.end || !str_is(&a.type, "assistant"))
    return FALSE;

  if (a.error.str) {
    char category[64];
    if (a.error.len >= sizeof category)
      return FALSE;
    memcpy(category, a.error.str, a.error.len);
    category[a.error.len] = '\0';
    self->pending_hint =
        ar_classify_claude_category_outcome(category, FALSE, &self->pending_hint_overrides);
    return TRUE;
  }
  ar_classifier_note_progress(self);
  if (a.model.str && !str_is(&a.model, SYNTHETIC_MODEL))
    ar_copy_bounded(self->usage.model.text, sizeof(self->usage.model.text),
                    (const char *)a.model.str, (gssize)a.model.len);
  self->usage.tool_call_count += a.tool_uses;
  return TRUE;
}

/* claude_feed_object() and claude_feed_broken() do nothing else with them. */
static const char *const claude_progress_types[] = { "user", "stream_event", NULL };

const ArDialectOps ar_classify_claude_ops = {
  .feed_object = claude_feed_object,
  .feed_plain = NULL,
  .feed_broken = claude_feed_broken,
  .status_from_exit = NULL,
  .progress_types = claude_progress_types,
  .feed_fast = claude_feed_fast,
};
