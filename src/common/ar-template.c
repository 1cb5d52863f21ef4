/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-template.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ar-util.h"

/* Templates are small XML files: anything bigger is not one of ours. */
#define TEMPLATE_MAX_BYTES (64 * 1024)

const char *
ar_templates_dir(void)
{
  const char *env = g_getenv("AGENT_RUNNER_TEMPLATES_DIR");
  return env && *env ? env : PKGDATADIR "/templates";
}

static const char *
lookup(const char *const *kv, const char *key, gsize key_len)
{
  for (gsize i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    if (strlen(kv[i]) == key_len && strncmp(kv[i], key, key_len) == 0)
      return kv[i + 1];
  return NULL;
}

static gboolean
is_key_char(char c)
{
  return g_ascii_isupper(c) || g_ascii_isdigit(c) || c == '_';
}

char *
ar_template_fill_xml(const char *text, const char *const *kv, GError **error)
{
  g_autoptr(GString) out = g_string_sized_new(strlen(text) + 256);
  const char *p = text;
  for (;;) {
    const char *at = strchr(p, '@');
    if (!at) {
      g_string_append(out, p);
      break;
    }
    g_string_append_len(out, p, at - p);
    const char *end = at + 1;
    while (is_key_char(*end))
      end++;
    if (*end != '@' || end == at + 1) {
      /* A lone '@' (an e-mail address in a comment) is text. */
      g_string_append_c(out, '@');
      p = at + 1;
      continue;
    }
    const char *value = lookup(kv, at + 1, (gsize)(end - at - 1));
    if (!value) {
      g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                  _("template placeholder %.*s has no value (the template and agent-runner do "
                    "not match: reinstall agent-runner)"),
                  (int)(end - at + 1), at);
      return NULL;
    }
    g_autofree char *escaped = g_markup_escape_text(value, -1);
    g_string_append(out, escaped);
    p = end + 1;
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

char *
ar_template_load_xml(const char *name, const char *const *kv, GError **error)
{
  g_autofree char *path = g_build_filename(ar_templates_dir(), name, NULL);
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  g_autofree char *text = ar_read_regular_file(path, TEMPLATE_MAX_BYTES, &len, &local);
  if (!text) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("%s (a file of the agent-runner installation: reinstall agent-runner)"),
                local->message);
    return NULL;
  }
  return ar_template_fill_xml(text, kv, error);
}
