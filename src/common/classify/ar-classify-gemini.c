/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Gemini CLI, -o stream-json (and -o json: one pretty-printed document on
 * stdout, or on stderr for errors).
 *
 * The final line is {"type":"result"} with status "success" or "error";
 * error.type is "unknown" for every API and network error, so the class
 * comes from error.message (which holds the raw API body with its "code")
 * and from the exit code, which is the HTTP status modulo 256. Retries are
 * logged on stderr ("Attempt N failed..."). Usage comes from result.stats
 * (or the -o json document's per-model token counts). */

#include <string.h>

#include "ar-classify-private.h"

/* process.exit(error.status): 400..511 arrive as 144..255. Lower codes
 * are the CLI's own (1 network, 41 auth config, 55 untrusted folder). */
static int
gemini_status_from_exit(int exit_code)
{
  return exit_code >= 144 && exit_code <= 255 ? exit_code + 256 : 0;
}

/* The model that did most of the work: the highest token total. On a tie
 * the later one, because the router's small model is listed first. */
static void
pick_model(ArClassifier *self, JsonObject *models, gboolean json_mode)
{
  g_autoptr(GList) names = models ? json_object_get_members(models) : NULL;
  gint64 best = -1;

  for (GList *l = names; l; l = l->next) {
    JsonObject *m = ar_json_obj(models, l->data);
    gint64 total = json_mode ? ar_json_int(ar_json_obj(m, "tokens"), "total", NULL)
                             : ar_json_int(m, "total_tokens", NULL);
    if (m && total >= best) {
      best = total;
      ar_model_name_set(&self->usage.model, l->data);
    }
  }
}

/* stream-json result.stats: totals over all models. */
static void
add_stream_stats(ArClassifier *self, JsonObject *stats)
{
  ArUsage *u = &self->usage;
  gboolean has_net = FALSE;
  gint64 net = ar_json_int(stats, "input", &has_net);
  gint64 cached = ar_json_int(stats, "cached", NULL);

  if (stats == NULL)
    return;
  u->seen = TRUE;
  /* "input" is the prompt minus the cached part; older versions lack it. */
  u->input_tokens += has_net ? net : MAX(ar_json_int(stats, "input_tokens", NULL) - cached, 0);
  u->cached_tokens += cached;
  u->output_tokens += ar_json_int(stats, "output_tokens", NULL);
  u->duration_ms += ar_json_int(stats, "duration_ms", NULL);
  u->tool_call_count += ar_json_int(stats, "tool_calls", NULL);
  pick_model(self, ar_json_obj(stats, "models"), FALSE);
}

/* -o json stats: per model {tokens: {input, prompt, candidates, cached}},
 * tools.totalCalls; no duration. */
static void
add_json_mode_stats(ArClassifier *self, JsonObject *stats)
{
  JsonObject *models = ar_json_obj(stats, "models");
  g_autoptr(GList) names = models ? json_object_get_members(models) : NULL;
  ArUsage *u = &self->usage;

  if (stats == NULL)
    return;
  u->seen = TRUE;
  for (GList *l = names; l; l = l->next) {
    JsonObject *tokens = ar_json_obj(ar_json_obj(models, l->data), "tokens");
    gboolean has_net = FALSE;
    gint64 net = ar_json_int(tokens, "input", &has_net);
    gint64 cached = ar_json_int(tokens, "cached", NULL);

    u->input_tokens += has_net ? net : MAX(ar_json_int(tokens, "prompt", NULL) - cached, 0);
    u->cached_tokens += cached;
    u->output_tokens += ar_json_int(tokens, "candidates", NULL);
  }
  u->tool_call_count += ar_json_int(ar_json_obj(stats, "tools"), "totalCalls", NULL);
  pick_model(self, models, TRUE);
}

static void
gemini_result(ArClassifier *self, JsonObject *obj)
{
  JsonObject *error = ar_json_obj(obj, "error");

  self->saw_result = TRUE;
  ar_classifier_note_progress(self);
  add_stream_stats(self, ar_json_obj(obj, "stats"));

  if (g_strcmp0(ar_json_str(obj, "status"), "success") == 0 && error == NULL) {
    self->result_ok = TRUE;
    ar_signal_clear(&self->terminal);
    return;
  }
  self->result_ok = FALSE;
  /* The status, if any, is inside the message ("code":401); the exit
   * code supplies it otherwise. */
  ar_signal_set_message(&self->terminal, self->dialect, (int)ar_json_int(error, "code", NULL),
                        ar_json_str(error, "message"), -1);
}

/* -o json: {"session_id", "response", "stats"} on success,
 * {"session_id", "error": {"type", "message", "code"}} on failure. */
static void
gemini_json_document(ArClassifier *self, JsonObject *obj)
{
  JsonObject *error = ar_json_obj(obj, "error");

  if (error == NULL && !json_object_has_member(obj, "response"))
    return;
  self->saw_result = TRUE;
  ar_classifier_note_progress(self);
  if (error == NULL) {
    self->result_ok = TRUE;
    ar_signal_clear(&self->terminal);
    add_json_mode_stats(self, ar_json_obj(obj, "stats"));
    return;
  }
  self->result_ok = FALSE;
  ar_signal_set_message(&self->terminal, self->dialect, (int)ar_json_int(error, "code", NULL),
                        ar_json_str(error, "message"), -1);
}

static void
gemini_feed_object(ArClassifier *self, JsonObject *obj, gint64 now_us)
{
  const char *type = ar_json_str(obj, "type");

  if (type == NULL) {
    gemini_json_document(self, obj);
  } else if (strcmp(type, "message") == 0) {
    if (g_strcmp0(ar_json_str(obj, "role"), "assistant") == 0)
      ar_classifier_note_progress(self);
  } else if (strcmp(type, "tool_use") == 0 || strcmp(type, "tool_result") == 0) {
    ar_classifier_note_progress(self);
  } else if (strcmp(type, "error") == 0) {
    /* Non-fatal stream errors; warnings say nothing about a failure. */
    if (g_strcmp0(ar_json_str(obj, "severity"), "warning") != 0)
      ar_signal_set_message(&self->cause, self->dialect, 0, ar_json_str(obj, "message"), -1);
  } else if (strcmp(type, "result") == 0) {
    gemini_result(self, obj);
  }
}

/* stderr: "Attempt 2 failed with status 503. Retrying with backoff...",
 * "Attempt 1 failed: You exceeded your current quota...". */
static void
gemini_feed_plain(ArClassifier *self, const char *line, gsize len, gint64 now_us)
{
  if (!ar_classify_is_retry(self->dialect, AR_RETRY_LINE, line, (gssize)len))
    return;
  ar_classifier_note_retry(self, now_us);
  ar_signal_set_message(&self->cause, self->dialect, 0, line, (gssize)len);
}

static void
gemini_feed_broken(ArClassifier *self, const char *type, const char *line, gsize len, gint64 now_us)
{
  char message[AR_EVIDENCE_RAW_MAX] = "";

  if (g_strcmp0(type, "message") == 0 || g_strcmp0(type, "tool_use") == 0 ||
      g_strcmp0(type, "tool_result") == 0) {
    ar_classifier_note_progress(self);
  } else if (g_strcmp0(type, "result") == 0) {
    self->saw_result = TRUE;
    ar_classifier_note_progress(self);
    if (ar_line_contains(line, len, "\"status\":\"success\"")) {
      self->result_ok = TRUE;
      ar_signal_clear(&self->terminal);
      return;
    }
    self->result_ok = FALSE;
    ar_json_salvage_string(line, len, "message", message, sizeof(message));
    ar_signal_set_message(&self->terminal, self->dialect, 0, message, -1);
  }
}

const ArDialectOps ar_classify_gemini_ops = {
  .feed_object = gemini_feed_object,
  .feed_plain = gemini_feed_plain,
  .feed_broken = gemini_feed_broken,
  .status_from_exit = gemini_status_from_exit,
};
