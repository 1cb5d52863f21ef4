/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-redact.h"

#include <string.h>

/* Patterns are anchored on length and character set so ordinary text
 * ("sk-report.md", "psql -U postgres", "Basic auth disabled", "sort -u f")
 * passes unchanged. Order matters: whole blocks (PEM) first, then the
 * key=value shapes that keep their key, then bare tokens. */

#define SECRET_WORDS                                                                               \
  "(?:PASSWORD|PASSWD|PWD|TOKEN|SECRET|API[_-]?KEY|ACCESS[_-]?KEY|CREDENTIAL|"                     \
  "PRIVATE[_-]?KEY)"

/* A bare token must not continue a longer word on its left. */
#define LEFT "(?<![A-Za-z0-9])"

static const ArRedactRule rules[] = {
  { "pem_private_key", "-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
    AR_REDACTED, G_REGEX_DOTALL },
  /* Excerpts are cut (last 2000 chars of a log, 200-char fields): a key
   * whose END line was cut off is still a key. */
  { "pem_private_key_unterminated", "-----BEGIN [A-Z ]*PRIVATE KEY-----.*\\z", AR_REDACTED,
    G_REGEX_DOTALL },
  /* NAME_TOKEN=value as a shell word (not inside a URL, where only the
   * parameter's value goes: url_query_secret); PWD and OLDPWD are working
   * directories, not passwords. */
  { "env_assignment",
    "(?<=^|[\\s\"'`;(])(?!(?:OLD)?PWD=)([A-Za-z0-9_]*" SECRET_WORDS "[A-Za-z0-9_]*)=(\\S+)",
    "\\1=" AR_REDACTED, G_REGEX_CASELESS },
  /* Agents print JSON: "api_key": "value". */
  { "json_secret_member",
    "(\"[A-Za-z0-9_-]*" SECRET_WORDS "[A-Za-z0-9_-]*\"\\s*:\\s*\")(?:[^\"\\\\]|\\\\.)+\"",
    "\\1" AR_REDACTED "\"", G_REGEX_CASELESS },
  { "cli_flag",
    "(?<![\\w-])(--(?:token|password|passwd|api-key|apikey|secret|secret-access-key|"
    "access-key|auth|authorization|client-secret|aws-session-token|bearer|auth-token|"
    "private-key))(\\s+|=)(\\S+)",
    "\\1\\2" AR_REDACTED, G_REGEX_CASELESS },
  /* curl/wget -u user:pass; case-sensitive so psql's -U stays, a colon is
   * required so "sort -u file" stays, and a URL is left to url_userinfo. */
  { "curl_user", "(?<![\\w-])-u(\\s+|=)(?!\\S*://)(\\S+:\\S+)", "-u\\1" AR_REDACTED, 0 },
  { "http_header",
    "\\b(Authorization|Proxy-Authorization|Cookie|Set-Cookie|X-Api-Key|X-Auth-Token|"
    "X-Amz-Security-Token)(\\s*:\\s*)([^\\r\\n]+)",
    "\\1\\2" AR_REDACTED, G_REGEX_CASELESS | G_REGEX_MULTILINE },
  { "auth_scheme",
    "\\b(Bearer|Basic|Token|ApiKey|Digest|Negotiate|NTLM)(\\s+)([A-Za-z0-9+/=._-]{12,})",
    "\\1\\2" AR_REDACTED, 0 },
  { "url_userinfo", "([a-z][a-z0-9+.-]*://)([^/\\s@]+)@", "\\1" AR_REDACTED "@", G_REGEX_CASELESS },
  { "url_query_secret",
    "([?&#](?:access_token|refresh_token|id_token|api_?key|token|auth|secret|sig|signature|"
    "password|client_secret|x-amz-security-token|x-amz-signature)=)([^&#\\s]+)",
    "\\1" AR_REDACTED, G_REGEX_CASELESS },
  { "jwt", "\\beyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+", AR_REDACTED, 0 },
  { "anthropic_key", LEFT "sk-ant-[A-Za-z0-9_-]{16,}", AR_REDACTED, 0 },
  { "openai_project_key", LEFT "sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{16,}", AR_REDACTED, 0 },
  { "openai_key", LEFT "sk-[A-Za-z0-9]{16,}", AR_REDACTED, 0 },
  { "github_token", LEFT "gh[pousr]_[A-Za-z0-9]{20,}", AR_REDACTED, 0 },
  { "github_pat", LEFT "github_pat_[A-Za-z0-9_]{20,}", AR_REDACTED, 0 },
  { "slack_token", LEFT "xox[abeoprs]-[A-Za-z0-9-]{10,}", AR_REDACTED, 0 },
  { "slack_app_token", LEFT "xapp-[A-Za-z0-9-]{10,}", AR_REDACTED, 0 },
  { "aws_access_key", LEFT "(?:AKIA|ASIA)[0-9A-Z]{16}", AR_REDACTED, 0 },
  { "google_api_key", LEFT "AIza[0-9A-Za-z_-]{35}", AR_REDACTED, 0 },
  { "gitlab_pat", LEFT "glpat-[A-Za-z0-9_-]{20,}", AR_REDACTED, 0 },
  { "google_oauth_token", LEFT "ya29\\.[A-Za-z0-9._-]{20,}", AR_REDACTED, 0 },
  { "stripe_key", LEFT "(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", AR_REDACTED, 0 },
  { "npm_token", LEFT "npm_[A-Za-z0-9]{20,}", AR_REDACTED, 0 },
  { "huggingface_token", LEFT "hf_[A-Za-z0-9]{20,}", AR_REDACTED, 0 },
};

static GRegex **
compiled_rules(void)
{
  static gsize once = 0;
  static GRegex **compiled = NULL;
  if (g_once_init_enter(&once)) {
    GRegex **c = g_new0(GRegex *, G_N_ELEMENTS(rules));
    for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
      g_autoptr(GError) error = NULL;
      c[i] = g_regex_new(rules[i].pattern, rules[i].flags | G_REGEX_OPTIMIZE, 0, &error);
      /* The table is fixed at build time and tested: a pattern that does not
       * compile is a bug, not a runtime condition. */
      if (c[i] == NULL)
        g_error("redact rule %s: %s", rules[i].name, error->message);
    }
    compiled = c;
    g_once_init_leave(&once, 1);
  }
  return compiled;
}

const ArRedactRule *
ar_redact_rules(gsize *n_rules)
{
  *n_rules = G_N_ELEMENTS(rules);
  return rules;
}

static char *
make_valid(const char *text)
{
  return g_utf8_validate(text, -1, NULL) ? g_strdup(text) : g_utf8_make_valid(text, -1);
}

char *
ar_redact_known_secrets(const char *text)
{
  if (text == NULL)
    return NULL;
  g_autofree char *valid = make_valid(text);
  return ar_redact_literals_len(valid, strlen(valid));
}

char *
ar_redact(const char *text)
{
  if (text == NULL)
    return NULL;
  /* Literal values first: a pattern could otherwise mask part of one and
   * leave the rest in the clear. */
  g_autofree char *out = ar_redact_known_secrets(text);
  GRegex **compiled = compiled_rules();
  for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
    g_autoptr(GError) error = NULL;
    char *next = g_regex_replace(compiled[i], out, -1, 0, rules[i].replacement, 0, &error);
    /* Only a PCRE resource limit can fail here; keeping the text would leak
     * what this rule is for, so drop it instead. */
    if (next == NULL) {
      g_free(out);
      return g_strdup(AR_REDACTED);
    }
    g_free(out);
    out = next;
  }
  return g_steal_pointer(&out);
}

char *
ar_redact_truncate(const char *text, gsize max_chars)
{
  if (text == NULL)
    return NULL;
  g_autofree char *valid = make_valid(text);
  if ((gsize)g_utf8_strlen(valid, -1) <= max_chars)
    return g_steal_pointer(&valid);
  return g_utf8_substring(valid, 0, max_chars);
}

gboolean
ar_redact_name_is_credential(const char *name)
{
  static const char *const words[] = { "KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH" };
  if (name == NULL)
    return FALSE;
  g_autofree char *up = g_ascii_strup(name, -1);
  for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
    if (strstr(up, words[i]))
      return TRUE;
  return FALSE;
}

GLogWriterOutput
ar_redact_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                     gpointer user_data)
{
  /* GLib's own messages (g_warning with an error text, a path) reach
   * stderr and so the journal: the registered values must not. */
  if (!ar_redact_have_secrets())
    return g_log_writer_default(level, fields, n_fields, user_data);
  GLogField *copy = g_newa(GLogField, n_fields);
  g_autofree char *clean = NULL;
  for (gsize i = 0; i < n_fields; i++) {
    copy[i] = fields[i];
    if (clean == NULL && g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0) {
      clean = ar_redact_known_secrets(fields[i].value);
      copy[i].value = clean;
    }
  }
  return g_log_writer_default(level, copy, n_fields, user_data);
}
