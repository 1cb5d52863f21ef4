/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The classifiers' questions to their tables: which class a status, a
 * message, an exit code or a claude error category implies, whether a line
 * announces a retry or is noise. The patterns are compiled once, behind
 * literal prefilters (ar-classify-prefilter.c). */

#include <string.h>

#include "ar-classify-private.h"
#include "ar-classify-tables.h"

#define TABLES (&ar_classify_tables)

int
ar_classify_status_outcome(int status)
{
  for (gsize i = 0; i < TABLES->n_status; i++) {
    if (TABLES->status[i].status == status)
      return TABLES->status[i].outcome;
  }
  return AR_OUTCOME_UNKNOWN;
}

/* ---- compiled patterns ---- */

typedef struct {
  GRegex **message; /* one per row of each table */
  GRegex **retry;
  GRegex **noise;
  GRegex *status_in_text;
  /* Prefilters: what a line must contain for any row to match. */
  ArLiteralSet *message_lits[AR_DIALECT_COUNT];
  ArLiteralSet *status_lits;
} Compiled;

static gboolean fast_paths_enabled = TRUE;

void
ar_classify_set_fast_paths(gboolean enabled)
{
  fast_paths_enabled = enabled;
}

gboolean
ar_classify_fast_paths(void)
{
  return fast_paths_enabled;
}

static GRegex *
compile(const char *pattern)
{
  g_autoptr(GError) error = NULL;
  /* RAW: lines are bytes (binary garbage included), patterns are ASCII. */
  GRegex *re = g_regex_new(pattern, G_REGEX_CASELESS | G_REGEX_RAW | G_REGEX_OPTIMIZE, 0, &error);
  if (re == NULL)
    g_error("classifier table pattern %s: %s", pattern, error->message);
  return re;
}

static const Compiled *
compiled(void)
{
  static Compiled c;
  static gsize done = 0;

  if (g_once_init_enter(&done)) {
    c.message = g_new0(GRegex *, TABLES->n_message);
    c.retry = g_new0(GRegex *, TABLES->n_retry);
    c.noise = g_new0(GRegex *, TABLES->n_noise);
    for (gsize i = 0; i < TABLES->n_message; i++)
      c.message[i] = compile(TABLES->message[i].pattern);
    for (gsize i = 0; i < TABLES->n_retry; i++)
      c.retry[i] = compile(TABLES->retry[i].pattern);
    for (gsize i = 0; i < TABLES->n_noise; i++)
      c.noise[i] = compile(TABLES->noise[i].pattern);
    c.status_in_text = compile(TABLES->status_in_text);
    for (int d = 0; d < AR_DIALECT_COUNT; d++) {
      c.message_lits[d] = ar_literal_set_new();
      for (gsize i = 0; i < TABLES->n_message; i++)
        if (TABLES->message[i].dialects & AR_DIALECT_BIT(d))
          (void)ar_literal_set_add_pattern(c.message_lits[d], TABLES->message[i].pattern);
    }
    c.status_lits = ar_literal_set_new();
    (void)ar_literal_set_add_pattern(c.status_lits, TABLES->status_in_text);
    g_once_init_leave(&done, 1);
  }
  return &c;
}

static gboolean
re_match(const GRegex *re, const char *text, gssize len, GMatchInfo **info)
{
  if (text == NULL)
    return FALSE;
  if (len < 0)
    len = (gssize)strlen(text);
  return g_regex_match_full(re, text, len, 0, 0, info, NULL);
}

gboolean
ar_classify_text_may_match(ArDialect dialect, const char *text, gsize len)
{
  const Compiled *c = compiled();

  if (!fast_paths_enabled || (guint)dialect >= AR_DIALECT_COUNT)
    return TRUE;
  const ArAnchorScan *scan = ar_literal_set_scan(c->message_lits[dialect]);
  if (scan) {
    /* One pass for both: an anchor answers; a number asks the status
     * words once, and if they are absent the scan goes on for anchors. */
    gsize from = 0;
    gboolean digits = TRUE;
    for (;;) {
      switch (ar_anchor_scan_find(scan, text, len, &from, digits)) {
      case AR_SCAN_NONE:
        return FALSE;
      case AR_SCAN_ANCHOR:
        return TRUE;
      case AR_SCAN_DIGITS:
        if (ar_literal_set_maybe(c->status_lits, text, len))
          return TRUE;
        digits = FALSE;
        break;
      }
    }
  }
  return ar_literal_set_maybe(c->message_lits[dialect], text, len) ||
         (ar_text_has_status_digits(text, len) && ar_literal_set_maybe(c->status_lits, text, len));
}

const ArLiteralSet *
ar_classify_message_prefilter(ArDialect dialect)
{
  return compiled()->message_lits[(guint)dialect < AR_DIALECT_COUNT ? dialect : AR_DIALECT_TEXT];
}

const ArLiteralSet *
ar_classify_status_prefilter(void)
{
  return compiled()->status_lits;
}

gsize
ar_classify_min_match_len(ArDialect dialect)
{
  const Compiled *c = compiled();
  gsize status = ar_literal_set_min_len(c->status_lits);

  if ((guint)dialect >= AR_DIALECT_COUNT)
    return 0;
  /* The status pattern also needs its three digits after the word. */
  return MIN(ar_literal_set_min_len(c->message_lits[dialect]), status ? status + 3 : 0);
}

int
ar_classify_status_in_text(const char *text, gssize len)
{
  g_autoptr(GMatchInfo) info = NULL;
  int start = -1, end = -1;

  if (text == NULL)
    return 0;
  if (len < 0)
    len = (gssize)strlen(text);
  /* Both are necessary: [45]\d\d ends the pattern, the words start it. */
  if (fast_paths_enabled && !(ar_text_has_status_digits(text, (gsize)len) &&
                              ar_literal_set_maybe(compiled()->status_lits, text, (gsize)len)))
    return 0;
  if (!re_match(compiled()->status_in_text, text, len, &info))
    return 0;
  if (!g_match_info_fetch_pos(info, 1, &start, &end) || end - start != 3)
    return 0;
  return (text[start] - '0') * 100 + (text[start + 1] - '0') * 10 + (text[start + 2] - '0');
}

int
ar_classify_message_outcome(ArDialect dialect, const char *text, gssize len, gboolean *overrides)
{
  const Compiled *c = compiled();

  if (overrides)
    *overrides = FALSE;
  if (text == NULL || (guint)dialect >= AR_DIALECT_COUNT)
    return AR_OUTCOME_UNKNOWN;
  if (len < 0)
    len = (gssize)strlen(text);
  if (fast_paths_enabled && !ar_literal_set_maybe(c->message_lits[dialect], text, (gsize)len))
    return AR_OUTCOME_UNKNOWN;
  for (gsize i = 0; i < TABLES->n_message; i++) {
    if (!(TABLES->message[i].dialects & AR_DIALECT_BIT(dialect)))
      continue;
    if (re_match(c->message[i], text, len, NULL)) {
      if (overrides)
        *overrides = TABLES->message[i].overrides_status;
      return TABLES->message[i].outcome;
    }
  }
  if (overrides)
    *overrides = FALSE;
  return AR_OUTCOME_UNKNOWN;
}

gboolean
ar_classify_is_retry(ArDialect dialect, ArRetryWhere where, const char *text, gssize len)
{
  const Compiled *c = compiled();

  for (gsize i = 0; i < TABLES->n_retry; i++) {
    if (TABLES->retry[i].dialect == dialect && TABLES->retry[i].where == where &&
        re_match(c->retry[i], text, len, NULL))
      return TRUE;
  }
  return FALSE;
}

gboolean
ar_classify_is_noise(ArDialect dialect, const char *text, gssize len)
{
  const Compiled *c = compiled();

  for (gsize i = 0; i < TABLES->n_noise; i++) {
    if ((TABLES->noise[i].dialects & AR_DIALECT_BIT(dialect)) &&
        re_match(c->noise[i], text, len, NULL))
      return TRUE;
  }
  return FALSE;
}

int
ar_classify_exit_outcome(ArDialect dialect, int exit_code)
{
  for (gsize i = 0; i < TABLES->n_exit; i++) {
    if (TABLES->exit[i].dialect == dialect && TABLES->exit[i].exit_code == exit_code)
      return TABLES->exit[i].outcome;
  }
  return AR_OUTCOME_UNKNOWN;
}

ArOutcome
ar_classify_stall_outcome(ArDialect dialect)
{
  for (gsize i = 0; i < TABLES->n_stall; i++) {
    if (TABLES->stall[i].dialect == dialect)
      return TABLES->stall[i].outcome;
  }
  return AR_OUTCOME_ERROR;
}

int
ar_classify_claude_category_outcome(const char *category, gboolean in_retry, gboolean *overrides)
{
  if (overrides)
    *overrides = FALSE;
  if (category == NULL)
    return AR_OUTCOME_UNKNOWN;
  for (gsize i = 0; i < TABLES->n_claude_category; i++) {
    const ArCategoryRow *row = &TABLES->claude_category[i];
    if (g_strcmp0(row->category, category) == 0) {
      if (overrides)
        *overrides = row->overrides_status;
      return in_retry ? row->retry_outcome : row->assistant_outcome;
    }
  }
  return AR_OUTCOME_UNKNOWN;
}

static void
add_fixtures(GPtrArray *out, const char *list)
{
  if (list == NULL)
    return;
  g_auto(GStrv) names = g_strsplit(list, ",", -1);
  for (char **p = names; *p; p++)
    g_ptr_array_add(out, g_strdup(g_strstrip(*p)));
}

void
ar_classify_tables_fixtures(GPtrArray *out)
{
  for (gsize i = 0; i < TABLES->n_status; i++)
    add_fixtures(out, TABLES->status[i].fixtures);
  for (gsize i = 0; i < TABLES->n_message; i++)
    add_fixtures(out, TABLES->message[i].fixtures);
  for (gsize i = 0; i < TABLES->n_retry; i++)
    add_fixtures(out, TABLES->retry[i].fixtures);
  for (gsize i = 0; i < TABLES->n_exit; i++)
    add_fixtures(out, TABLES->exit[i].fixtures);
  for (gsize i = 0; i < TABLES->n_claude_category; i++)
    add_fixtures(out, TABLES->claude_category[i].fixtures);
  for (gsize i = 0; i < TABLES->n_stall; i++)
    add_fixtures(out, TABLES->stall[i].fixtures);
}
