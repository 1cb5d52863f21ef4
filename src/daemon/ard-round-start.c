/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The start of a round: the transcript, the context block, the pre-round
 * hooks and context enrichers, the prompt, and the agent's spawn with its
 * pipes and sources wired to the running round (ard-round.c). */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-json.h"
#include "ar-prompt.h"
#include "ar-util.h"
#include "ard-cgroup.h"
#include "ard-leftovers.h"
#include "ard-round-private.h"
#include "ard-spawn.h"

static char *
build_context_json(const ArdRoundParams *p, gint64 started_us)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *started = ar_utc_iso_ms(started_us);
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", p->round_num);
  ar_json_add_str(b, "started_at", started);
  if (p->phase) {
    ar_json_add_str(b, "phase", p->phase);
  }
  if (p->previous) {
    json_builder_set_member_name(b, "previous");
    json_builder_begin_object(b);
    ar_json_add_int(b, "exit_code", p->previous->exit_code);
    json_builder_set_member_name(b, "duration_s");
    json_builder_add_double_value(b, p->previous->duration_s);
    json_builder_set_member_name(b, "ended_at");
    if (p->previous->ended_at)
      json_builder_add_string_value(b, p->previous->ended_at);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "outcome");
    if (p->previous->outcome)
      json_builder_add_string_value(b, p->previous->outcome);
    else
      json_builder_add_null_value(b);
    json_builder_end_object(b);
  }
  JsonNode *orphan = ard_vcs_orphan_context(p->orphan);
  if (orphan) {
    json_builder_set_member_name(b, "orphan_stash");
    json_builder_add_value(b, orphan);
  }
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return ar_json_pretty(root);
}

/* A failure before the agent runs: say it in the transcript (where the
 * operator looks first) and end the round like an agent that exited 127. */
static void
fail_before_spawn(ArdRound *r, int transcript_fd, const char *message)
{
  g_warning("round %u: %s", r->res.round_num, message);
  if (transcript_fd >= 0) {
    g_autofree char *line = g_strdup_printf("agent-runnerd: %s\n", message);
    (void)!write(transcript_fd, line, strlen(line));
  }
  r->res.spawn_failed = TRUE;
  r->stage = STAGE_TEARDOWN;
  r->teardown_done = TRUE;
  ard_round_schedule_finish(r);
}

static void
compile_ignore_patterns(ArdRound *r)
{
  r->ignore_regexes = g_ptr_array_new_with_free_func((GDestroyNotify)g_regex_unref);
  for (guint i = 0; r->cfg->grace_kill_ignore_patterns && r->cfg->grace_kill_ignore_patterns[i];
       i++) {
    g_autoptr(GError) error = NULL;
    GRegex *re = g_regex_new(r->cfg->grace_kill_ignore_patterns[i], G_REGEX_OPTIMIZE, 0, &error);
    if (re)
      g_ptr_array_add(r->ignore_regexes, re);
    else /* the loader validates them; a failure here is a loader bug */
      g_warning("grace_kill_ignore_patterns: %s", error->message);
  }
}

/* Spawn with pipes wired; on success the round owns pid, output, writer. */
static gboolean
spawn_agent(ArdRound *r, const ArdRoundParams *p, int transcript_fd, const char *prompt,
            gsize prompt_len, GError **error)
{
  g_autofree char *exec_path = ar_config_find_agent(r->cfg, g_getenv("PATH"));
  if (!exec_path) {
    g_set_error(error, AR_ERROR, AR_ERROR_NOT_FOUND, _("agent command \"%s\" not found"),
                r->cfg->command && r->cfg->command[0] ? r->cfg->command[0] : "");
    return FALSE;
  }
  gboolean via_stdin = r->cfg->prompt_delivery == AR_PROMPT_STDIN;
  g_auto(GStrv) argv = ard_spawn_build_argv(r->cfg, via_stdin ? NULL : prompt);
  gboolean fresh = r->cfg->fresh_eyes_every_n > 0 && p->round_num % r->cfg->fresh_eyes_every_n == 0;
  g_auto(GStrv) envp = ard_spawn_build_env(r->cfg, p->base_env, p->round_num, p->phase, fresh);
  /* Inherited by everything the agent starts, setsid'ed daemons included:
   * how a restarted daemon recognizes what is left of this round. */
  envp = g_environ_setenv(envp, ARD_ROUND_ID_ENV, r->token, TRUE);
  /* Last, so a secret wins over an [agent.env] entry of the same name. */
  for (guint i = 0; p->secret_env && p->secret_env[i]; i++) {
    const char *eq = strchr(p->secret_env[i], '=');
    g_autofree char *name = g_strndup(p->secret_env[i], eq - p->secret_env[i]);
    envp = g_environ_setenv(envp, name, eq + 1, TRUE);
  }

  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) < 0)
    return ar_set_error_errno(error, errno, "pipe2");
  g_auto(ArFd) out_r = out_pipe[0];
  g_auto(ArFd) out_w = out_pipe[1];
  g_auto(ArFd) in_r = -1;
  g_auto(ArFd) in_w = -1;
  if (via_stdin) {
    int in_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) < 0)
      return ar_set_error_errno(error, errno, "pipe2");
    in_r = in_pipe[0];
    in_w = in_pipe[1];
  }
  g_auto(ArFd) cgroup_fd = -1;
  int cgroup_errno = 0;
  g_autofree char *service_cgroup = ard_cgroup_delegated_dir();
  if (service_cgroup)
    r->cgroup = ard_cgroup_round_create(service_cgroup, p->round_num, &cgroup_fd);
  ArdSpawnParams sp = {
    .exec_path = exec_path,
    .argv = (const char *const *)argv,
    .envp = (const char *const *)envp,
    .cwd = r->cfg->work_dir,
    .stdin_fd = in_r,
    .output_fd = out_w,
    .join_cgroup = cgroup_fd >= 0,
    .cgroup_procs_fd = cgroup_fd,
    .cgroup_errno = &cgroup_errno,
  };
  pid_t pid = 0;
  int pidfd = -1;
  if (!ard_spawn(&sp, &pid, &pidfd, error)) {
    if (r->cgroup)
      (void)ard_cgroup_kill_remove(r->cgroup, G_USEC_PER_SEC);
    g_clear_pointer(&r->cgroup, g_free);
    return FALSE;
  }
  if (cgroup_errno != 0) {
    g_warning("round %u: the agent could not join its cgroup %s: %s; this round runs in the "
              "service's cgroup (AGENT_RUNNER_CGROUP_DELEGATED=0 stops trying)",
              p->round_num, r->cgroup, g_strerror(cgroup_errno));
    (void)ard_cgroup_kill_remove(r->cgroup, 0);
    g_clear_pointer(&r->cgroup, g_free);
  }
  r->pid = pid;
  r->pgid = pid; /* setsid() made it the leader */
  ar_fd_close(&out_w);
  ar_fd_close(&in_r);

  int rc = sd_event_add_child_pidfd(r->event, &r->child_source, pidfd, WEXITED,
                                    ard_round_on_agent_exit, r);
  if (rc < 0) {
    close(pidfd);
    /* Without its exit source the round could never end: take it down. */
    (void)kill(-pid, SIGKILL);
    (void)waitpid(pid, &r->wait_status, 0);
    r->pid = 0;
    return ar_set_error_errno(error, -rc, "sd_event_add_child_pidfd");
  }
  (void)sd_event_source_set_child_pidfd_own(r->child_source, TRUE);
  (void)sd_event_source_set_description(r->child_source, "agent");

  g_autoptr(GError) local = NULL;
  r->output = ard_output_new(r->event, g_steal_fd(&out_r), dup(transcript_fd), ard_round_on_line,
                             ard_round_on_output_eof, r, &local);
  if (!r->output)
    g_warning("round %u: output: %s", p->round_num, local->message);
  else
    ard_output_set_bulk(r->output, ard_round_on_lines);
  if (via_stdin) {
    g_autoptr(GBytes) bytes = g_bytes_new(prompt, prompt_len);
    g_clear_error(&local);
    r->stdin_writer = ard_stdin_writer_new(r->event, g_steal_fd(&in_w), bytes, &local);
    if (!r->stdin_writer)
      g_warning("round %u: stdin: %s", p->round_num, local->message);
  }
  return TRUE;
}

static void round_spawn(ArdRound *r);
static void run_hooks(ArdRound *r, ArHookKind kind, JsonObject *input, const char *prompt_path);

/* Pre-round hooks, then context enrichers, then the agent. */
static void
on_start_hooks_done(ArdHookBatch *batch, gpointer user_data)
{
  ArdRound *r = user_data;
  g_autoptr(ArdHookBatch) owned = g_steal_pointer(&r->hooks);
  ArHookKind kind = AR_HOOK_PRE_ROUND;
  GPtrArray *results = ard_hook_batch_get_results(owned);
  if (results && results->len)
    kind = ((ArdHookResult *)g_ptr_array_index(results, 0))->kind;
  g_free(ard_hooks_emit(r->emitter, r->cfg, results, r->res.round_num, r->res.phase,
                        ard_hooks_prompt_path(r->cfg, r->res.phase)));
  for (guint i = 0; kind == AR_HOOK_CONTEXT_ENRICHER && results && i < results->len; i++) {
    /* Each enricher's object under its own name, as the Python tool's
     * context[name]: enrichers cannot overwrite each other. */
    ArdHookResult *res = g_ptr_array_index(results, i);
    if (res->answer)
      json_object_set_object_member(r->context, res->name, json_object_ref(res->answer));
  }
  if (kind == AR_HOOK_PRE_ROUND && !r->res.cancelled) {
    g_autoptr(JsonObject) input =
        ard_hooks_input_new(r->cfg, AR_HOOK_CONTEXT_ENRICHER, r->res.round_num, r->res.phase);
    json_object_set_object_member(input, "context", json_object_ref(r->context));
    run_hooks(r, AR_HOOK_CONTEXT_ENRICHER, input, NULL);
    return;
  }
  round_spawn(r);
}

/* Start the hooks of kind, or go straight on when there are none. */
static void
run_hooks(ArdRound *r, ArHookKind kind, JsonObject *input, const char *prompt_path)
{
  g_autoptr(GPtrArray) hooks = ar_config_hooks(r->cfg, r->res.phase, kind);
  if (hooks->len == 0) {
    if (kind == AR_HOOK_PRE_ROUND) {
      g_autoptr(JsonObject) next =
          ard_hooks_input_new(r->cfg, AR_HOOK_CONTEXT_ENRICHER, r->res.round_num, r->res.phase);
      json_object_set_object_member(next, "context", json_object_ref(r->context));
      run_hooks(r, AR_HOOK_CONTEXT_ENRICHER, next, NULL);
    } else {
      round_spawn(r);
    }
    return;
  }
  g_autoptr(GError) error = NULL;
  r->hooks = ard_hooks_start(r->event, r->cfg, kind, hooks, (const char *const *)r->base_env,
                             r->res.round_num, r->res.phase, input, prompt_path,
                             on_start_hooks_done, r, &error);
  if (!r->hooks) {
    /* An internal failure: the round ends as one whose agent could not
     * start. */
    ar_emit(r->emitter, "round_start", AR_EV_I("round_num", r->res.round_num),
            AR_EV_S("phase", r->res.phase), NULL);
    fail_before_spawn(r, r->transcript_fd, error->message);
  }
}

ArdRound *
ard_round_start(const ArdRoundParams *p, ArdRoundDoneFunc done, gpointer user_data)
{
  ArdRound *r = g_new0(ArdRound, 1);
  r->event = sd_event_ref(p->event);
  r->emitter = ar_emitter_ref(p->emitter);
  r->cfg = ar_config_ref(p->cfg);
  r->done = done;
  r->user_data = user_data;
  r->watches = g_hash_table_new_full(NULL, NULL, NULL, ard_round_drop_watch);
  r->res.round_num = p->round_num;
  r->res.phase = g_strdup(p->phase);
  r->res.started_realtime_us = g_get_real_time();
  r->started_mono_us = ard_round_now_mono(r);
  r->timeout_s = ar_config_round_timeout(r->cfg, p->phase);
  ArDialect dialect = ard_round_dialect(r->cfg);
  r->classifier = ar_classifier_new(dialect);
  /* [plugins] disable naming the dialect's detector: the Python tool then
   * ran no post-round detector for that CLI (no transient class, no usage,
   * no repetitive-tool anomaly), the exit code alone decided. */
  const char *detector = ar_dialect_detector_name(dialect);
  gboolean detector_off = detector && r->cfg->plugins_disable &&
                          g_strv_contains((const char *const *)r->cfg->plugins_disable, detector);
  ar_classifier_set_exit_code_only(r->classifier, detector_off);
  r->repetition = detector_off ? NULL : ard_repetition_new(r->cfg, dialect, p->round_num);
  r->transcript_fd = -1;
  r->token = ard_leftovers_new_token();
  compile_ignore_patterns(r);
  if (r->cfg->fresh_eyes_every_n > 0 && p->round_num % r->cfg->fresh_eyes_every_n == 0)
    ar_emit(r->emitter, "fresh_eyes_round_triggered", AR_EV_I("round_num", p->round_num),
            AR_EV_I("every_n", r->cfg->fresh_eyes_every_n), NULL);

  g_autoptr(GError) error = NULL;
  r->transcript_fd = ard_transcript_create(
      r->cfg->log_dir, p->round_num, r->res.started_realtime_us, &r->res.transcript_path, &error);
  if (r->transcript_fd < 0) {
    /* No transcript, no round: the agent's output would go nowhere. */
    ar_emit(r->emitter, "round_start", AR_EV_I("round_num", p->round_num),
            AR_EV_S("phase", p->phase), NULL);
    fail_before_spawn(r, -1, error->message);
    return r;
  }

  /* The base context now (previous round, orphan stash: the loop's
   * objects, not to be kept); hooks add to it before it is written. */
  g_autofree char *base = build_context_json(p, r->res.started_realtime_us);
  g_autoptr(JsonNode) node = json_from_string(base, NULL);
  r->context = json_object_ref(json_node_get_object(node));
  r->base_env = g_strdupv((GStrv)p->base_env);
  r->secret_env = g_strdupv((GStrv)p->secret_env);

  g_autoptr(JsonObject) input =
      ard_hooks_input_new(r->cfg, AR_HOOK_PRE_ROUND, p->round_num, p->phase);
  if (p->previous)
    json_object_set_member(input, "previous",
                           json_node_copy(json_object_get_member(r->context, "previous")));
  run_hooks(r, AR_HOOK_PRE_ROUND, input, ard_hooks_prompt_path(r->cfg, p->phase));
  return r;
}

static char *
context_to_string(JsonObject *context)
{
  g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), context);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, root);
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_indent(gen, 2);
  return json_generator_to_data(gen, NULL);
}

/* After the pre-round hooks and enrichers: context, prompt, agent. */
static void
round_spawn(ArdRound *r)
{
  g_autoptr(GError) error = NULL;
  guint num = r->res.round_num;
  const char *phase = r->res.phase;
  g_auto(ArFd) tfd = g_steal_fd(&r->transcript_fd);
  if (r->res.cancelled) {
    /* Cancelled while its hooks ran: nothing was started. */
    r->stage = STAGE_TEARDOWN;
    r->teardown_done = TRUE;
    ard_round_schedule_finish(r);
    return;
  }

  g_autofree char *context = context_to_string(r->context);
  if (r->cfg->inject_context && r->cfg->context_injection_mode != AR_CONTEXT_NONE) {
    g_autofree char *ctx_path = g_build_filename(r->cfg->log_dir, "round-context.json", NULL);
    g_autofree char *ctx_line = g_strconcat(context, "\n", NULL);
    /* Atomic for readers; no fsync: it is rewritten every round. */
    if (!ard_write_file_replace(ctx_path, ctx_line, -1, &error)) {
      g_warning("round %u: %s", num, error->message);
      g_clear_error(&error);
    }
  }
  ar_emit(r->emitter, "round_start", AR_EV_I("round_num", num), AR_EV_S("phase", phase), NULL);

  gsize prompt_len = 0;
  g_autofree char *prompt = ar_prompt_assemble(r->cfg, phase, context, &prompt_len, &error);
  if (!prompt) {
    fail_before_spawn(r, tfd, error->message);
    return;
  }
  /* An integer, as the Python tool writes it (30, not 30.0). */
  ar_emit(r->emitter, "agent_spawn", AR_EV_I("round_num", num), AR_EV_I("timeout_s", r->timeout_s),
          NULL);
  ArdRoundParams p = {
    .round_num = num,
    .phase = phase,
    .base_env = (const char *const *)r->base_env,
    .secret_env = (const char *const *)r->secret_env,
  };
  if (!spawn_agent(r, &p, tfd, prompt, prompt_len, &error)) {
    fail_before_spawn(r, tfd, error->message);
    return;
  }
  if (r->timeout_s > 0)
    ard_round_arm_timer(r, &r->timeout_timer, (uint64_t)r->timeout_s * G_USEC_PER_SEC,
                        ard_round_on_timeout, "round-timeout");
  if (r->cfg->idle_timeout_s > 0)
    ard_round_arm_timer(r, &r->idle_timer, (uint64_t)r->cfg->idle_timeout_s * G_USEC_PER_SEC,
                        ard_round_on_idle_timer, "round-idle");
  if (r->cfg->round_progress_interval_s > 0)
    ard_round_arm_timer(r, &r->progress_timer,
                        (uint64_t)r->cfg->round_progress_interval_s * G_USEC_PER_SEC,
                        ard_round_on_progress, "round-progress");
}
