/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Prompt assembly and the startup battery (the checks `config check`, the
 * daemon before every round, and `install` all run). */

#include <glib.h>

#include "ar-config.h"

G_BEGIN_DECLS

/* Files of the phase (phase override -> prompt.files -> prompt.file),
 * frontmatter stripped from the first when enabled, joined with
 * concat_separator; context_block (may be NULL) prepended as a
 * ```json round-context fenced block when inject_context and mode=prepend.
 * files[0] missing is an error; later missing files are skipped. */
char *ar_prompt_assemble(const ArConfig *cfg, const char *phase, const char *context_json,
                         gsize *len_out, GError **error);

/* Strip a leading "---\n...\n---\n" YAML frontmatter block. */
char *ar_prompt_strip_frontmatter(const char *text);

/* The smoke check: non-empty, not starting with '-' or whitespace, at
 * least 500 bytes (after the frontmatter strip). */
gboolean ar_prompt_smoke(const char *prompt, gsize len, GError **error);

typedef struct {
  const char *name; /* config_loaded, log_dir_writable, agent_cli_in_path, ... */
  gboolean ok;
  char *detail; /* what was found */
  char *hint;   /* how to fix, when !ok */
} ArCheck;

void ar_check_free(ArCheck *check);

/* Run the battery in order; returns ArCheck* (free func set). base_path is
 * the PATH the daemon will use (NULL: this process's PATH). */
GPtrArray *ar_startup_checks(const ArConfig *cfg, const char *base_path, gboolean *all_ok);

/* TRUE when dir's file system has no room for a new block (ENOSPC or a
 * quota's EDQUOT), not some other failure; *free_bytes is what statvfs
 * says is left for this user. */
gboolean ar_check_dir_full(const char *dir, guint64 *free_bytes);

/* AGENT_RUNNER_SKIP_STARTUP_CHECK (a test switch) asks to skip the
 * battery: 1, true, yes or on, in any case, as the Python tool reads it;
 * anything else (0, false, empty, unset) runs it. The one reading of the
 * variable: the daemon and Peek's defenses both ask here. */
gboolean ar_startup_checks_skipped(void);

G_END_DECLS
