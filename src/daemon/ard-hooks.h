/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* [hooks]: executables run at the stages of a round (docs/hooks.md).
 *
 * A hook gets one JSON document on stdin and the round's environment, and
 * answers with a JSON object on stdout where its stage wants one. It runs
 * under the agent's containment: its own session and process group, killed
 * (with whatever it left behind) at [hooks] timeout_s, stdout bounded,
 * stderr kept as head and tail. Hooks run in a worker thread, one after the
 * other, so the bus never waits; results come back on the event loop, where
 * the events are emitted (the emitter belongs to the loop's thread). */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"

G_BEGIN_DECLS

/* Most a hook may print on stdout; beyond it the hook is killed. */
#define ARD_HOOK_STDOUT_MAX (1024 * 1024)
/* stderr kept for hook_failed: this much of its start and of its end. */
#define ARD_HOOK_STDERR_KEEP 1024

typedef struct {
  ArHookKind kind;
  char *name;
  GStrv argv;
  /* NULL on success; else spawn, exit, signal, timeout, output_limit,
   * bad_output */
  char *error_type;
  char *error_message;
  int exit_code;   /* -1: did not exit (signal, timeout, spawn failure) */
  int term_signal; /* 0: none */
  char *stderr_excerpt;
  JsonObject *answer; /* stdout parsed, when it was a JSON object */
  /* pre_round: sha256 of the primary prompt file around this hook */
  char *prompt_old_hash;
  char *prompt_new_hash;
} ArdHookResult;

void ard_hook_result_free(ArdHookResult *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdHookResult, ard_hook_result_free)

/* The input document's common part (schema_version 1): hook_kind, project,
 * config_path, work_dir, log_dir, round_num (0 outside a round), phase,
 * dry_run, agent_name, prompt_path. The caller adds the stage's members;
 * hook_name is set per hook. */
JsonObject *ard_hooks_input_new(const ArConfig *cfg, ArHookKind kind, guint round_num,
                                const char *phase);

/* The environment of a hook: the round's (ard_spawn_build_env), plus
 * AGENT_RUNNER_HOOK_KIND, AGENT_RUNNER_HOOK_NAME, AGENT_RUNNER_DRY_RUN
 * ("1"/"0") and AGENT_RUNNER_CONFIG. */
GStrv ard_hooks_build_env(const ArConfig *cfg, const char *const *base_env, guint round_num,
                          const char *phase, ArHookKind kind, const char *name);

/* Run the hooks one after the other, in the calling thread (the dirty
 * handlers run so in the git worker). stop_at_claim: stop after the first
 * answer {"claimed": true}. prompt_path: hash it around each hook. Returns
 * the ArdHookResult of each hook run. */
GPtrArray *ard_hooks_run_sync(const ArConfig *cfg, ArHookKind kind, GPtrArray *hooks,
                              const char *const *base_env, guint round_num, const char *phase,
                              JsonObject *input, const char *prompt_path, gboolean stop_at_claim);

/* The same in a worker thread; done runs on the loop. */
typedef struct ArdHookBatch ArdHookBatch;
typedef void (*ArdHookBatchDone)(ArdHookBatch *batch, gpointer user_data);
ArdHookBatch *ard_hooks_start(sd_event *event, ArConfig *cfg, ArHookKind kind, GPtrArray *hooks,
                              const char *const *base_env, guint round_num, const char *phase,
                              JsonObject *input, const char *prompt_path, ArdHookBatchDone done,
                              gpointer user_data, GError **error);
GPtrArray *ard_hook_batch_get_results(ArdHookBatch *batch);
void ard_hook_batch_free(ArdHookBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdHookBatch, ard_hook_batch_free)

/* hook_failed for each failure (serve_startup_hook_failed for startup
 * hooks), prompt_overwritten where a pre-round hook changed the prompt,
 * and the events a hook asked for ({"events": [...]}, kinds of [events]
 * kinds only). Returns the first failure as a sentence (caller frees),
 * NULL if none. */
char *ard_hooks_emit(ArEmitter *emitter, const ArConfig *cfg, GPtrArray *results, guint round_num,
                     const char *phase, const char *prompt_path);

/* The primary prompt file of a phase (whose rewrite prompt_overwritten
 * reports). */
const char *ard_hooks_prompt_path(const ArConfig *cfg, const char *phase);

G_END_DECLS
