/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "ar-redact.h"

/* One sample per rule of the redaction table: adding a rule without a sample
 * fails test_every_rule_has_a_sample. */
static const struct {
  const char *rule;
  const char *input;
  const char *expected;
} samples[] = {
  { "pem_private_key",
    "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY----- done",
    "key: <redacted> done" },
  { "pem_private_key_unterminated", "tail -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk",
    "tail <redacted>" },
  { "env_assignment", "export ANTHROPIC_API_KEY=abc123xyz and DB_PASSWORD=hunter2 ok",
    "export ANTHROPIC_API_KEY=<redacted> and DB_PASSWORD=<redacted> ok" },
  { "json_secret_member", "{\"api_key\": \"abc\\\"def\", \"model\": \"opus\"}",
    "{\"api_key\": \"<redacted>\", \"model\": \"opus\"}" },
  { "cli_flag", "gh api --token abcdef123 --repo x --password=pw1",
    "gh api --token <redacted> --repo x --password=<redacted>" },
  { "curl_user", "curl -u admin:s3cret https://example.com",
    "curl -u <redacted> https://example.com" },
  { "http_header", "Authorization: Bearer abc.def\nCookie: session=42\nnext",
    "Authorization: <redacted>\nCookie: <redacted>\nnext" },
  { "auth_scheme", "sent Bearer abcdefghijklmnop123 to server",
    "sent Bearer <redacted> to server" },
  { "url_userinfo", "cloning https://user:pw@github.com/x.git",
    "cloning https://<redacted>@github.com/x.git" },
  { "url_query_secret", "GET /v1?model=x&api_key=abc123&y=1",
    "GET /v1?model=x&api_key=<redacted>&y=1" },
  { "jwt", "got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_DEF-123 ok", "got <redacted> ok" },
  { "anthropic_key", "key sk-ant-api03-AbCdEfGhIjKlMnOpQrSt end", "key <redacted> end" },
  { "openai_project_key", "key sk-proj-AbCdEfGhIjKlMnOpQrSt_uv end", "key <redacted> end" },
  { "openai_key", "OPENAI sk-AbCdEfGhIjKlMnOpQrSt", "OPENAI <redacted>" },
  { "github_token", "push with ghp_AbCdEfGhIjKlMnOpQrStUv12", "push with <redacted>" },
  { "github_pat", "github_pat_11ABCDEFG0123456789_abcdefghij!", "<redacted>!" },
  { "slack_token", "slack xoxb-1234567890-abcdef", "slack <redacted>" },
  { "slack_app_token", "slack xapp-1-A0123-456789-abc", "slack <redacted>" },
  { "aws_access_key", "aws key AKIAIOSFODNN7EXAMPLE.", "aws key <redacted>." },
  { "google_api_key", "k=AIzaSyA-1234567890abcdefghijklmnopqrstu", "k=<redacted>" },
  { "gitlab_pat", "glpat-AbCdEfGhIjKlMnOpQrSt", "<redacted>" },
  { "google_oauth_token", "tok ya29.a0AfH6SMBxxxxxxxxxxxxxxxx", "tok <redacted>" },
  { "stripe_key", "stripe sk_live_AbCdEfGhIjKlMnOp1234 rk_test_AbCdEfGhIjKlMnOp1234",
    "stripe <redacted> <redacted>" },
  { "npm_token", "npm_AbCdEfGhIjKlMnOpQrStUv", "<redacted>" },
  { "huggingface_token", "HF hf_AbCdEfGhIjKlMnOpQrStUv", "HF <redacted>" },
};

/* Ordinary text that looks a little like a secret and must stay. */
static const char *const benign[] = {
  "wrote sk-report.md",
  "psql -h db -U postgres",
  "Basic auth disabled",
  "sort -u file.txt",
  "PWD=/home/me/work OLDPWD=/tmp",
  "git log --author alice",
  "see https://example.com/path?page=2",
  "Token count: 12",
  "{\"input_tokens\": 12, \"output_tokens\": 3}",
  "AKIA is a prefix",
  "héllo wörld — 世界 🚀",
  "",
};

static void
test_every_rule_has_a_sample(void)
{
  gsize n;
  const ArRedactRule *rules = ar_redact_rules(&n);
  g_assert_cmpuint(n, ==, G_N_ELEMENTS(samples));
  for (gsize i = 0; i < n; i++) {
    gboolean found = FALSE;
    for (gsize j = 0; j < G_N_ELEMENTS(samples); j++) {
      if (strcmp(samples[j].rule, rules[i].name) != 0)
        continue;
      found = TRUE;
      /* The sample exercises this very rule, not only a neighbour. */
      g_autoptr(GRegex) re = g_regex_new(rules[i].pattern, rules[i].flags, 0, NULL);
      g_assert_nonnull(re);
      if (!g_regex_match(re, samples[j].input, 0, NULL))
        g_error("rule %s does not match its sample", rules[i].name);
    }
    if (!found)
      g_error("rule %s has no sample in test-redact.c", rules[i].name);
  }
}

static void
test_samples(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(samples); i++) {
    g_autofree char *out = ar_redact(samples[i].input);
    g_test_message("%s: %s", samples[i].rule, out);
    g_assert_cmpstr(out, ==, samples[i].expected);
    /* Redacting twice changes nothing. */
    g_autofree char *again = ar_redact(out);
    g_assert_cmpstr(again, ==, out);
  }
}

static void
test_benign(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(benign); i++) {
    g_autofree char *out = ar_redact(benign[i]);
    g_assert_cmpstr(out, ==, benign[i]);
  }
  g_assert_null(ar_redact(NULL));
}

static void
test_literal_secrets(void)
{
  ar_redact_clear_secrets();
  g_assert_false(ar_redact_have_secrets());
  ar_redact_add_secret(""); /* nothing to hide */
  g_assert_false(ar_redact_have_secrets());
  ar_redact_add_secret("correct horse");
  ar_redact_add_secret("correct horse battery staple");
  ar_redact_add_secret("correct horse"); /* twice is once */
  g_assert_true(ar_redact_have_secrets());

  g_autofree char *a = ar_redact("pw is correct horse battery staple; abc stays");
  g_assert_cmpstr(a, ==, "pw is <redacted>; abc stays");
  g_autofree char *b = ar_redact_known_secrets("path /x/correct horse/y");
  g_assert_cmpstr(b, ==, "path /x/<redacted>/y");

  ar_redact_clear_secrets();
  g_autofree char *c = ar_redact("correct horse");
  g_assert_cmpstr(c, ==, "correct horse");
}

static void
test_truncate(void)
{
  g_autofree char *a = ar_redact_truncate("héllo wörld", 4);
  g_assert_cmpstr(a, ==, "héll");
  g_autofree char *b = ar_redact_truncate("short", 200);
  g_assert_cmpstr(b, ==, "short");
  g_autofree char *c = ar_redact_truncate("🚀🚀🚀", 2);
  g_assert_cmpstr(c, ==, "🚀🚀");
  /* Invalid UTF-8 is repaired, never cut in the middle of a sequence. */
  g_autofree char *d = ar_redact_truncate("ab\xff\xfe"
                                          "cd",
                                          3);
  g_assert_true(g_utf8_validate(d, -1, NULL));
  g_assert_cmpint(g_utf8_strlen(d, -1), ==, 3);
  g_assert_null(ar_redact_truncate(NULL, 3));

  g_autofree char *e = ar_redact("bad \xff utf8 TOKEN=x");
  g_assert_true(g_utf8_validate(e, -1, NULL));
  g_assert_nonnull(strstr(e, "TOKEN=<redacted>"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/redact/every-rule-has-a-sample", test_every_rule_has_a_sample);
  g_test_add_func("/redact/samples", test_samples);
  g_test_add_func("/redact/benign", test_benign);
  g_test_add_func("/redact/literal-secrets", test_literal_secrets);
  g_test_add_func("/redact/truncate", test_truncate);
  return g_test_run();
}
