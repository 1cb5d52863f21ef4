/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The classifiers' tables, as data: HTTP status -> class, CLI message
 * patterns -> class, retry-loop announcements, exit codes, claude's error
 * categories, the class of a silent round and plain-line noise. The rows
 * are in ar-classify-tables.c; the matcher (ar-classify-match.c) compiles
 * and queries them, and the docs tool renders them into docs/classifiers.md.
 * Not installed, not for the daemon. */

#include <glib.h>

#include "ar-classify.h"

G_BEGIN_DECLS

/* Sets of dialects a row applies to. */
#define AR_DIALECT_BIT(d) (1u << (d))
#define AR_DIALECTS_ALL   ((1u << AR_DIALECT_COUNT) - 1)

/* "No class known yet" while signals are being resolved; never reported.
 * In a table row: the row decides nothing by itself. */
#define AR_OUTCOME_UNKNOWN ((int)-1)

/* Where a retry-loop table entry looks. */
typedef enum {
  AR_RETRY_EVENT,   /* a JSON event's "type" or "type/subtype" */
  AR_RETRY_MESSAGE, /* a JSON event's message text */
  AR_RETRY_LINE,    /* a plain (non-JSON) output line */
} ArRetryWhere;

typedef struct {
  int status;
  ArOutcome outcome;
  const char *note;
  const char *fixtures;
} ArStatusRow;

typedef struct {
  guint dialects;
  const char *pattern; /* PCRE, case-insensitive, matched on raw bytes */
  ArOutcome outcome;
  gboolean overrides_status;
  const char *fixtures;
} ArMessageRow;

typedef struct {
  ArDialect dialect;
  ArRetryWhere where;
  const char *pattern;
  gboolean endless;
  const char *fixtures;
} ArRetryRow;

typedef struct {
  ArDialect dialect;
  int exit_code;
  ArOutcome outcome;
  const char *note;
  const char *fixtures;
} ArExitRow;

typedef struct {
  const char *category;
  int assistant_outcome;
  int retry_outcome;
  gboolean overrides_status;
  const char *fixtures;
} ArCategoryRow;

typedef struct {
  ArDialect dialect;
  ArOutcome outcome;
  const char *why;
  const char *fixtures;
} ArStallRow;

typedef struct {
  guint dialects;
  const char *pattern;
} ArNoiseRow;

typedef struct {
  const ArStatusRow *status;
  gsize n_status;
  const ArMessageRow *message;
  gsize n_message;
  /* An HTTP status stated in words; group 1 is the three digits. */
  const char *status_in_text;
  const ArRetryRow *retry;
  gsize n_retry;
  const ArExitRow *exit;
  gsize n_exit;
  const ArCategoryRow *claude_category;
  gsize n_claude_category;
  const ArStallRow *stall;
  gsize n_stall;
  const ArNoiseRow *noise;
  gsize n_noise;
} ArClassifyTables;

extern const ArClassifyTables ar_classify_tables;

G_END_DECLS
