/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Pruning: transcripts rounds/R<N>-*.log beyond round_log_retention
 * (newest kept, by round number), and monthly events files older than
 * events_retention_days. Run at start and after every round. */

#include <glib.h>

G_BEGIN_DECLS

/* Keep the `keep` highest-numbered transcripts (0 = keep all); never the one
 * named `live` (basename, may be NULL). Returns how many were removed. */
guint ard_retention_prune_transcripts(const char *log_dir, guint keep, const char *live);

/* Remove events-YYYY-MM.jsonl whose month ended more than `days` days
 * before now_us (0 = keep all). The current month is never removed. */
guint ard_retention_prune_events(const char *log_dir, guint days, gint64 now_us);

G_END_DECLS
