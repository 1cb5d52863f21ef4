/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* docs/classifiers.md's generated part: the classifier tables
 * (src/common/classify/ar-classify-tables.c) and the classifier tests' expectation
 * table (tests/classify-cases.c), the page's proof of each class. */

#include <string.h>

#include "ar-classify-tables.h"
#include "ar-gen-docs.h"
#include "classify-cases.h"

#define TABLES (&ar_classify_tables)

static const char *
outcome_cell(int outcome)
{
  return outcome == AR_OUTCOME_UNKNOWN ? "(decided by status or text)"
                                       : ar_outcome_to_string((ArOutcome)outcome);
}

static void
append_cell(GString *out, const char *text)
{
  g_string_append(out, " ");
  if (text == NULL || *text == '\0') {
    g_string_append(out, "-");
  } else {
    for (const char *p = text; *p; p++) {
      if (*p == '|')
        g_string_append(out, "\\|");
      else
        g_string_append_c(out, *p);
    }
  }
  g_string_append(out, " |");
}

static void
append_code_cell(GString *out, const char *text)
{
  g_autofree char *code = g_strdup_printf("`%s`", text);
  append_cell(out, code);
}

static void
append_dialects_cell(GString *out, guint mask)
{
  g_autoptr(GString) s = g_string_new(NULL);

  if (mask == AR_DIALECTS_ALL) {
    append_cell(out, "all");
    return;
  }
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    if (mask & AR_DIALECT_BIT(d)) {
      if (s->len)
        g_string_append(s, ", ");
      g_string_append(s, ar_dialect_to_string((ArDialect)d));
    }
  }
  append_cell(out, s->str);
}

static void
tables_markdown(GString *out)
{
  g_string_append(out, "### HTTP status\n\n"
                       "Statuses not listed here classify as `error`.\n\n"
                       "| status | outcome | meaning | proven by |\n|---|---|---|---|\n");
  for (gsize i = 0; i < TABLES->n_status; i++) {
    g_string_append_printf(out, "| %d |", TABLES->status[i].status);
    append_cell(out, ar_outcome_to_string(TABLES->status[i].outcome));
    append_cell(out, TABLES->status[i].note);
    append_cell(out, TABLES->status[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out,
                  "\n### Message patterns\n\n"
                  "Case-insensitive regular expressions over the CLI's message (claude `result`,"
                  " codex `error`/`turn.failed`, gemini `error.message`) and over plain output"
                  " lines; the first matching row wins. A row that beats the status wins over"
                  " the HTTP status (a 429 that is a daily quota, a 400 that is a bad key); other"
                  " rows apply when the status is unknown or unlisted.\n\n"
                  "A status is read from the words too, when a message states it: `");
  g_string_append(out, TABLES->status_in_text);
  g_string_append(out, "`.\n\n| dialects | pattern | outcome | beats status | proven by |\n"
                       "|---|---|---|---|---|\n");
  for (gsize i = 0; i < TABLES->n_message; i++) {
    g_string_append(out, "|");
    append_dialects_cell(out, TABLES->message[i].dialects);
    append_code_cell(out, TABLES->message[i].pattern);
    append_cell(out, ar_outcome_to_string(TABLES->message[i].outcome));
    append_cell(out, TABLES->message[i].overrides_status ? "yes" : "no");
    append_cell(out, TABLES->message[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out,
                  "\n### Claude error categories\n\n"
                  "`assistant.error` and `system/api_retry` `error`.\n\n"
                  "| category | in assistant.error | in api_retry | beats status | proven by |\n"
                  "|---|---|---|---|---|\n");
  for (gsize i = 0; i < TABLES->n_claude_category; i++) {
    const ArCategoryRow *row = &TABLES->claude_category[i];
    g_string_append(out, "|");
    append_code_cell(out, row->category);
    append_cell(out, outcome_cell(row->assistant_outcome));
    append_cell(out, outcome_cell(row->retry_outcome));
    append_cell(out, row->overrides_status ? "yes" : "no");
    append_cell(out, row->fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out,
                  "\n### Retry loops\n\n"
                  "| dialect | where | pattern | endless | proven by |\n|---|---|---|---|---|\n");
  for (gsize i = 0; i < TABLES->n_retry; i++) {
    static const char *const where_names[] = { "JSON event type[/subtype]", "JSON message",
                                               "plain line" };
    g_string_append(out, "|");
    append_cell(out, ar_dialect_to_string(TABLES->retry[i].dialect));
    append_cell(out, where_names[TABLES->retry[i].where]);
    append_code_cell(out, TABLES->retry[i].pattern);
    append_cell(out, TABLES->retry[i].endless ? "yes" : "no (bounded by the CLI's retry limit)");
    append_cell(out, TABLES->retry[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out, "\n### Exit codes\n\n"
                       "| dialect | exit code | outcome | meaning | proven by |\n"
                       "|---|---|---|---|---|\n");
  for (gsize i = 0; i < TABLES->n_exit; i++) {
    g_string_append(out, "|");
    append_cell(out, ar_dialect_to_string(TABLES->exit[i].dialect));
    g_string_append_printf(out, " %d |", TABLES->exit[i].exit_code);
    append_cell(out, ar_outcome_to_string(TABLES->exit[i].outcome));
    append_cell(out, TABLES->exit[i].note);
    append_cell(out, TABLES->exit[i].fixtures);
    g_string_append_c(out, '\n');
  }

  g_string_append(out, "\n### Noise\n\n"
                       "Plain lines that are never evidence (banners, fixed notices).\n\n"
                       "| dialects | pattern |\n|---|---|\n");
  for (gsize i = 0; i < TABLES->n_noise; i++) {
    g_string_append(out, "|");
    append_dialects_cell(out, TABLES->noise[i].dialects);
    append_code_cell(out, TABLES->noise[i].pattern);
    g_string_append_c(out, '\n');
  }

  g_string_append(out, "\n### Silent rounds (stalled, no cause in the output)\n\n"
                       "| dialect | outcome | why | proven by |\n|---|---|---|---|\n");
  for (gsize i = 0; i < TABLES->n_stall; i++) {
    g_string_append(out, "|");
    append_cell(out, ar_dialect_to_string(TABLES->stall[i].dialect));
    append_cell(out, ar_outcome_to_string(TABLES->stall[i].outcome));
    append_cell(out, TABLES->stall[i].why);
    append_cell(out, TABLES->stall[i].fixtures);
    g_string_append_c(out, '\n');
  }
}

static void
append_md_cell(GString *s, const char *text)
{
  g_string_append_c(s, ' ');
  for (const char *p = text; *p; p++) {
    if (*p == '|' || *p == '`' || *p == '*' || *p == '<')
      g_string_append_c(s, '\\');
    g_string_append_c(s, *p);
  }
  g_string_append(s, " |");
}

/* The expectation table, as the page's proof of each fixture's class. */
static void
cases_markdown(GString *s)
{
  g_string_append(s, "### Every fixture\n\n"
                     "What test-classify asserts for each captured run. Runs that `timeout`"
                     " killed (exit 124) are finished as ended by the daemon (SIGTERM,"
                     " `timed_out`); the *silent* ones also as `stalled`.\n\n"
                     "| case | outcome | HTTP | reset | result marker | retry loop at end |"
                     " evidence starts with |\n|---|---|---|---|---|---|---|\n");
  for (gsize i = 0; i < classify_n_cases; i++) {
    const Case *tc = &classify_cases[i];
    g_autofree char *name = g_strdup_printf("%s%s", tc->name, tc->stalled ? " (silent)" : "");
    g_autofree char *status = tc->status ? g_strdup_printf("%d", tc->status) : g_strdup("-");
    g_autofree char *reset =
        tc->reset_at ? g_strdup_printf("%" G_GINT64_FORMAT, tc->reset_at) : g_strdup("-");

    g_string_append(s, "|");
    append_md_cell(s, name);
    append_md_cell(s, ar_outcome_to_string(tc->outcome));
    append_md_cell(s, status);
    append_md_cell(s, reset);
    append_md_cell(s, tc->saw_result ? "yes" : "no");
    append_md_cell(s, tc->retry_loop ? "yes" : "no");
    append_md_cell(s, tc->evidence ? tc->evidence : "-");
    g_string_append_c(s, '\n');
  }
}

void
gen_classifiers_md(GString *out)
{
  g_autoptr(GString) part = g_string_new("\n");
  tables_markdown(part);
  g_string_append_c(part, '\n');
  cases_markdown(part);
  g_string_append_c(part, '\n');
  gen_splice(out, "docs/classifiers.md", "<!-- BEGIN GENERATED: scripts/regen-docs.sh -->\n",
             "<!-- END GENERATED -->\n", part->str);
}
