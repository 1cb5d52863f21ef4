/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Signals and their evidence, for every dialect: the plain (non-JSON)
 * lines all of them print (stderr: banners, retry logs, fatal messages),
 * and the one-line, redacted, bounded text a classification reports. */

#include <string.h>

#include "ar-classify-private.h"
#include "ar-redact.h"

void
ar_copy_bounded(char *buf, gsize max, const char *text, gssize len)
{
  gsize n;

  if (text == NULL) {
    buf[0] = '\0';
    return;
  }
  n = len < 0 ? strlen(text) : (gsize)len;
  if (n > max - 1) {
    n = max - 1;
    /* Do not leave half a UTF-8 sequence at the cut. */
    while (n > 0 && ((guchar)text[n] & 0xC0) == 0x80)
      n--;
  }
  memcpy(buf, text, n);
  buf[n] = '\0';
}

void
ar_model_name_set(ArModelName *m, const char *name)
{
  ar_copy_bounded(m->text, sizeof(m->text), name, -1);
}

void
ar_signal_clear(ArSignal *sig)
{
  memset(sig, 0, sizeof(*sig));
  sig->hint = AR_OUTCOME_UNKNOWN;
}

void
ar_signal_set_evidence(ArSignal *sig, const char *text, gssize len)
{
  ar_copy_bounded(sig->evidence, sizeof(sig->evidence), text, len);
}

void
ar_signal_set_message(ArSignal *sig, ArDialect dialect, int status, const char *message, gssize len)
{
  ar_signal_clear(sig);
  sig->set = TRUE;
  if (message == NULL) {
    sig->status = status > 0 ? status : 0;
    return;
  }
  sig->status = status > 0 ? status : ar_classify_status_in_text(message, len);
  sig->hint = ar_classify_message_outcome(dialect, message, len, &sig->hint_overrides);
  ar_signal_set_evidence(sig, message, len);
}

gboolean
ar_classifier_plain_is_notable(ArClassifier *self, const char *line, gsize *len)
{
  /* Indented lines are stack frames and object dumps (node, python):
   * they repeat what the unindented line above them said. */
  if (*len == 0 || line[0] == ' ' || line[0] == '\t')
    return FALSE;
  while (*len > 0 && g_ascii_isspace(line[*len - 1]))
    (*len)--;
  if (*len == 0 || (*len == 1 && strchr("{}[]", line[0]) != NULL))
    return FALSE;
  return !ar_classify_is_noise(self->dialect, line, (gssize)*len);
}

void
ar_classifier_feed_plain_generic(ArClassifier *self, const char *line, gsize len)
{
  if (!ar_classifier_plain_is_notable(self, line, &len))
    return;

  int status = ar_classify_status_in_text(line, (gssize)len);
  int by_status = status ? ar_classify_status_outcome(status) : AR_OUTCOME_UNKNOWN;
  int hint = ar_classify_message_outcome(self->dialect, line, (gssize)len, NULL);

  /* Last recognised line wins: earlier complaints may have been retried
   * away, the last one is what the agent died of. */
  if (hint != AR_OUTCOME_UNKNOWN || by_status != AR_OUTCOME_UNKNOWN)
    ar_signal_set_message(&self->text, self->dialect, status, line, (gssize)len);
  ar_copy_bounded(self->last_line, sizeof(self->last_line), line, (gssize)len);
}

char *
ar_classify_evidence_finish(const char *raw)
{
  g_autofree char *valid = g_utf8_make_valid(raw, -1);
  g_autoptr(GString) line = g_string_sized_new(strlen(valid));

  /* One line: control characters become spaces, runs of spaces one. */
  for (const char *p = valid; *p; p++) {
    char c = (guchar)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    if (c == ' ' && (line->len == 0 || line->str[line->len - 1] == ' '))
      continue;
    g_string_append_c(line, c);
  }
  while (line->len > 0 && line->str[line->len - 1] == ' ')
    g_string_truncate(line, line->len - 1);
  if (line->len == 0)
    return NULL;

  /* Redact the whole message first: a secret cut at the limit would
   * otherwise slip past the patterns half-shown. */
  g_autofree char *redacted = ar_redact(line->str);
  return ar_redact_truncate(redacted, AR_EVIDENCE_MAX_CHARS);
}
