/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A git index lock left by a killed round.
 *
 * libgit2 (and git) write the index by creating `.git/index.lock`, writing
 * it and renaming it over `.git/index`. A kill -9 of the daemon while its
 * vcs worker stashes, or of the agent's own `git add` when the round's
 * leftovers are ended, leaves the lock behind: every later stash, commit
 * and `git add` in the tree then fails ("another git process is using the
 * repository") until someone removes it by hand. */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-events.h"

G_BEGIN_DECLS

/* After the leftovers of the round of record (a state.json round_procs
 * object) have been ended: remove the work tree's index lock when that
 * round must have left it (same boot, created at or after the round's
 * agent started, no process has it open) and emit stale_index_lock_removed.
 * A lock older than the round, or held, is left alone. Returns TRUE when a
 * lock was removed. */
gboolean ard_stale_lock_end(const char *work_dir, JsonObject *record, ArEmitter *emitter);

G_END_DECLS
