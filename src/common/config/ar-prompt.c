/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-prompt.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ar-util.h"

/* A prompt shorter than this is almost certainly a mistake (an empty file,
 * a placeholder): the Python tool burned 123 rounds on one (incident R721). */
#define AR_PROMPT_MIN_BYTES 500
/* A prompt file is read whole into memory at every round: bounded, and
 * only a regular file (a FIFO would block the round forever). */
#define AR_PROMPT_FILE_MAX_BYTES (64 * 1024 * 1024)

char *
ar_prompt_strip_frontmatter(const char *text)
{
  /* Only a block that starts on the very first line counts, the way YAML
   * frontmatter is defined; "---" later in a prompt is a Markdown rule. */
  const char *body;
  if (g_str_has_prefix(text, "---\n"))
    body = text + 4;
  else if (g_str_has_prefix(text, "---\r\n"))
    body = text + 5;
  else
    return g_strdup(text);

  for (const char *line = body; *line;) {
    const char *eol = strchr(line, '\n');
    gsize len = eol ? (gsize)(eol - line) : strlen(line);
    if (len > 0 && line[len - 1] == '\r')
      len--;
    if (len == 3 && strncmp(line, "---", 3) == 0)
      return g_strdup(eol ? eol + 1 : line + strlen(line));
    if (!eol)
      break;
    line = eol + 1;
  }
  return g_strdup(text); /* unterminated: not frontmatter */
}

char *
ar_prompt_assemble(const ArConfig *cfg, const char *phase, const char *context_json, gsize *len_out,
                   GError **error)
{
  const char *const *files = ar_config_prompt_files(cfg, phase);
  if (files == NULL || files[0] == NULL) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, _("no prompt file configured"));
    return NULL;
  }

  g_autoptr(GString) out = g_string_new(NULL);
  if (context_json && cfg->inject_context && cfg->context_injection_mode == AR_CONTEXT_PREPEND)
    g_string_append_printf(out, "```json round-context\n%s\n```\n\n", context_json);

  gboolean first_done = FALSE;
  for (guint i = 0; files[i]; i++) {
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    text = ar_read_regular_file(files[i], AR_PROMPT_FILE_MAX_BYTES, &len, &local);
    if (!text) {
      if (i == 0) {
        g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, _("prompt file %s: %s"), files[i],
                    local->message);
        return NULL;
      }
      /* Later files are optional additions; the first one is the prompt. */
      continue;
    }
    if (i == 0 && cfg->strip_yaml_frontmatter) {
      char *stripped = ar_prompt_strip_frontmatter(text);
      g_free(text);
      text = stripped;
      len = strlen(text);
    }
    if (first_done)
      g_string_append(out, cfg->concat_separator);
    g_string_append_len(out, text, len);
    first_done = TRUE;
  }
  if (len_out)
    *len_out = out->len;
  return g_string_free(g_steal_pointer(&out), FALSE);
}

gboolean
ar_prompt_smoke(const char *prompt, gsize len, GError **error)
{
  if (len == 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, _("the prompt is empty"));
    return FALSE;
  }
  if (strchr("- \t\r\n", prompt[0])) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG,
                _("the prompt starts with %s, which some CLIs read as a flag or drop"),
                prompt[0] == '-' ? "'-'" : _("white space"));
    return FALSE;
  }
  if (len < AR_PROMPT_MIN_BYTES) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG,
                _("the prompt is only %zu bytes (at least %d expected)"), len, AR_PROMPT_MIN_BYTES);
    return FALSE;
  }
  return TRUE;
}
