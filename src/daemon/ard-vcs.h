/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The git work of a round's end, off the event loop: status of the work
 * tree, then the [vcs] dirty_action (orphan stash by SHA, auto-commit, or
 * nothing), and the substrate fingerprint. A status of a 100k-file tree
 * takes about a second; it runs in a thread so the bus keeps answering,
 * and the events are emitted back on the loop, in the reference's order. */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"

G_BEGIN_DECLS

typedef struct ArdVcsJob ArdVcsJob;
typedef void (*ArdVcsDoneFunc)(ArdVcsJob *job, gpointer user_data);

/* clean_exit: the agent exited 0, not killed and not timed out; the dirty
 * action applies only then (after a crash the tree is reported and left
 * for the next round, as cli-agent-runner did). done runs on the loop. */
ArdVcsJob *ard_vcs_job_start(sd_event *event, ArConfig *cfg, guint round_num, const char *phase,
                             gboolean clean_exit, ArdVcsDoneFunc done, gpointer user_data,
                             GError **error);
void ard_vcs_job_free(ArdVcsJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdVcsJob, ard_vcs_job_free)

/* After done: emit dirty_detected and the dirty action's events. */
void ard_vcs_job_emit(ArdVcsJob *job, ArEmitter *emitter);

/* What the round's end means for the orphan state: TRUE with *orphan set
 * (a new stash; caller owns it) or NULL (the tree was clean: clear it).
 * FALSE: leave the state as it is (dirty without a new stash). */
gboolean ard_vcs_job_orphan_update(ArdVcsJob *job, JsonNode **orphan);

/* The dirty files (the first 20) as a JSON array; NULL when the status
 * failed. */
JsonNode *ard_vcs_job_dirty_files(ArdVcsJob *job);
/* The fingerprint taken with the status, for round_substrate_after. */
void ard_vcs_job_emit_substrate_after(ArdVcsJob *job, ArEmitter *emitter);

/* round_substrate_before: HEAD and the paths hash, taken on the loop
 * (HEAD is one ref read; the hash reads only the files the globs match). */
void ard_vcs_emit_substrate_before(ArEmitter *emitter, const ArConfig *cfg, guint round_num);

/* The orphan stash as the next round's context block shows it:
 * {ref, message, files}. NULL without an orphan. */
JsonNode *ard_vcs_orphan_context(JsonNode *orphan);

G_END_DECLS
