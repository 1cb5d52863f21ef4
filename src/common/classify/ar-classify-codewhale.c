/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* CodeWhale CLI (DeepSeek), codewhale exec --auto --output-format
 * stream-json.
 *
 * The facts the Python tool relies on, since no session of the real CLI
 * was captured: usage comes from one record,
 * {"type":"metadata","meta":{"model","input_tokens","output_tokens"}}
 * (no cache counts, no cost, no duration), and an API error is a
 * {"type":"error"} record with a numeric "code" or "status_code". There is
 * no final result marker: the exit code says whether the round worked, and
 * an error record explains a failed one. */

#include <string.h>

#include "ar-classify-private.h"

static void
codewhale_metadata(ArClassifier *self, JsonObject *meta)
{
  ArUsage *u = &self->usage;

  if (meta == NULL)
    return;
  /* The record reports the session's totals: the last one counts. */
  u->seen = TRUE;
  u->input_tokens = ar_json_int(meta, "input_tokens", NULL);
  u->output_tokens = ar_json_int(meta, "output_tokens", NULL);
  if (ar_json_str(meta, "model"))
    ar_model_name_set(&u->model, ar_json_str(meta, "model"));
}

static void
codewhale_error(ArClassifier *self, JsonObject *obj)
{
  gboolean has_code = FALSE;
  gint64 status = ar_json_int(obj, "code", &has_code);

  if (!has_code)
    status = ar_json_int(obj, "status_code", NULL);
  const char *message = ar_json_str(obj, "message");
  if (message == NULL)
    message = ar_json_str(ar_json_obj(obj, "error"), "message");
  /* The cause of a failure, not the final word: a clean exit after it
   * means the CLI got past it. */
  ar_signal_set_message(&self->cause, self->dialect, (int)CLAMP(status, 0, 999), message, -1);
}

static void
codewhale_feed_object(ArClassifier *self, JsonObject *obj, gint64 now_us)
{
  const char *type = ar_json_str(obj, "type");

  if (type == NULL)
    return;
  if (strcmp(type, "metadata") == 0) {
    codewhale_metadata(self, ar_json_obj(obj, "meta"));
  } else if (strcmp(type, "error") == 0) {
    codewhale_error(self, obj);
  } else {
    ar_classifier_note_progress(self);
  }
}

const ArDialectOps ar_classify_codewhale_ops = {
  .feed_object = codewhale_feed_object,
  .feed_plain = NULL,
  .feed_broken = NULL,
  .status_from_exit = NULL,
};
