/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Codex CLI, codex exec --json.
 *
 * The final line is turn.completed (with usage) or turn.failed (with
 * error.message). There is no status field: the HTTP status appears only in
 * the message text ("unexpected status 401 Unauthorized", "last status:
 * 429"). {"type":"error"} lines announce retries ("Reconnecting... N/5
 * (<cause>)", the endless "Reconnecting... waiting for network") and the
 * final cause; item.completed items of type "error" are warnings. Usage is
 * summed over turn.completed lines; input_tokens there includes the cached
 * part, which is taken out. Codex names no model in its output. */

#include <string.h>

#include "ar-classify-private.h"

/* Items that are the agent acting, i.e. tool calls. */
static const char *const tool_item_types[] = {
  "command_execution",
  "file_change",
  "mcp_tool_call",
  "web_search",
};

static gboolean
is_tool_item(const char *type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(tool_item_types); i++) {
    if (g_strcmp0(type, tool_item_types[i]) == 0)
      return TRUE;
  }
  return FALSE;
}

static void
codex_error_event(ArClassifier *self, const char *message, gssize len, gint64 now_us)
{
  if (message == NULL)
    return;
  if (ar_classify_is_retry(self->dialect, AR_RETRY_MESSAGE, message, len))
    ar_classifier_note_retry(self, now_us);
  ar_signal_set_message(&self->cause, self->dialect, 0, message, len);
}

static void
codex_turn_completed(ArClassifier *self, JsonObject *obj, gint64 now_us)
{
  JsonObject *usage = ar_json_obj(obj, "usage");
  ArUsage *u = &self->usage;

  self->saw_result = TRUE;
  self->result_ok = TRUE;
  ar_signal_clear(&self->terminal);
  ar_classifier_note_progress(self);

  u->seen = TRUE;
  u->num_turns++;
  if (usage) {
    gint64 input = ar_json_int(usage, "input_tokens", NULL);
    gint64 cached = ar_json_int(usage, "cached_input_tokens", NULL);
    /* OpenAI counts cache reads inside input_tokens: net fresh input is
     * the rest. */
    u->input_tokens += MAX(input - cached, 0);
    u->cached_tokens += cached;
    u->cache_creation_tokens += ar_json_int(usage, "cache_write_input_tokens", NULL);
    u->output_tokens += ar_json_int(usage, "output_tokens", NULL);
  }
  /* Codex reports no duration: first output line to the last turn's end. */
  if (self->first_line_us >= 0 && now_us >= self->first_line_us)
    u->duration_ms = (now_us - self->first_line_us) / 1000;
}

static void
codex_item(ArClassifier *self, const char *type, JsonObject *obj)
{
  JsonObject *item = ar_json_obj(obj, "item");
  const char *item_type = ar_json_str(item, "type");

  /* Error items are warnings ("Falling back from WebSockets to HTTPS
   * transport", missing model metadata): no progress. */
  if (g_strcmp0(item_type, "error") == 0)
    return;
  ar_classifier_note_progress(self);
  if (strcmp(type, "item.completed") == 0 && is_tool_item(item_type))
    self->usage.tool_call_count++;
}

static void
codex_feed_object(ArClassifier *self, JsonObject *obj, gint64 now_us)
{
  const char *type = ar_json_str(obj, "type");

  if (type == NULL)
    return;
  if (strcmp(type, "error") == 0) {
    codex_error_event(self, ar_json_str(obj, "message"), -1, now_us);
  } else if (g_str_has_prefix(type, "item.")) {
    codex_item(self, type, obj);
  } else if (strcmp(type, "turn.completed") == 0) {
    codex_turn_completed(self, obj, now_us);
  } else if (strcmp(type, "turn.failed") == 0) {
    self->saw_result = TRUE;
    self->result_ok = FALSE;
    ar_classifier_note_progress(self);
    ar_signal_set_message(&self->terminal, self->dialect, 0,
                          ar_json_str(ar_json_obj(obj, "error"), "message"), -1);
  }
}

/* A line cut by the caller: big command outputs (item.*) are the likely
 * ones. */
static void
codex_feed_broken(ArClassifier *self, const char *type, const char *line, gsize len, gint64 now_us)
{
  char message[AR_EVIDENCE_RAW_MAX] = "";

  if (type == NULL)
    return;
  if (g_str_has_prefix(type, "item.")) {
    ar_classifier_note_progress(self);
    if (strcmp(type, "item.completed") != 0)
      return;
    for (gsize i = 0; i < G_N_ELEMENTS(tool_item_types); i++) {
      g_autofree char *needle = g_strdup_printf("\"type\":\"%s\"", tool_item_types[i]);
      if (ar_line_contains(line, len, needle)) {
        self->usage.tool_call_count++;
        break;
      }
    }
  } else if (strcmp(type, "turn.completed") == 0) {
    self->saw_result = TRUE;
    self->result_ok = TRUE;
    ar_signal_clear(&self->terminal);
    ar_classifier_note_progress(self);
  } else if (strcmp(type, "turn.failed") == 0) {
    self->saw_result = TRUE;
    self->result_ok = FALSE;
    ar_classifier_note_progress(self);
    ar_json_salvage_string(line, len, "message", message, sizeof(message));
    ar_signal_set_message(&self->terminal, self->dialect, 0, message, -1);
  } else if (strcmp(type, "error") == 0) {
    if (ar_json_salvage_string(line, len, "message", message, sizeof(message)))
      codex_error_event(self, message, -1, now_us);
  }
}

const ArDialectOps ar_classify_codex_ops = {
  .feed_object = codex_feed_object,
  .feed_plain = NULL,
  .feed_broken = codex_feed_broken,
  .status_from_exit = NULL,
};
