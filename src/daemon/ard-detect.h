/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Detectors the daemon runs on a round's output besides the classifier:
 * [monitor] auth_fail_patterns on short failed rounds of text CLIs, and
 * the repetitive-tool detector on claude's tool calls
 * (anomaly_repetitive_window / _threshold), as the Python tool's
 * oauth_fail and claude_error_detector did. */

#include <glib.h>

#include "ar-classify.h"
#include "ar-config.h"
#include "ar-events.h"

G_BEGIN_DECLS

/* A failed text round shorter than this may be an authentication failure
 * (the Python tool's "short exit"). */
#define ARD_AUTH_SHORT_S 60.0

/* After the classifier: a text CLI's round that failed on its own (exit
 * code not 0, not ended by us) within ARD_AUTH_SHORT_S and that the
 * classifier could only call "error" becomes auth_failure when the end of
 * its transcript matches one of auth_fail_patterns (case-insensitive). */
void ard_detect_auth_patterns(const ArConfig *cfg, ArDialect dialect, const char *transcript_path,
                              int exit_code, gboolean ended_by_us, double duration_s,
                              ArClassification *c);

/* The repetitive-tool detector of one round; NULL when it is off (either
 * key 0) or the CLI is not claude. */
typedef struct ArdRepetition ArdRepetition;
ArdRepetition *ard_repetition_new(const ArConfig *cfg, ArDialect dialect, guint round_num);
/* Feed one output line: claude's assistant lines with tool_use blocks
 * count; anomaly_repetitive_tool once per (tool, target) and round when
 * it reaches the threshold within the window. */
void ard_repetition_feed(ArdRepetition *rep, ArEmitter *emitter, const char *line, gsize len);
void ard_repetition_free(ArdRepetition *rep);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdRepetition, ard_repetition_free)

G_END_DECLS
