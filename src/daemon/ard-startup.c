/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-startup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <git2.h>
#include <glib/gi18n.h>

#include "ar-secret.h"
#include "ar-util.h"
#include "ard-between.h"
#include "ard-console.h"
#include "ard-leftovers.h"
#include "ard-perms.h"
#include "ard-retention.h"
#include "ard-round-adopt.h"
#include "ard-serialize.h"
#include "ard-stale-lock.h"

/* ---- what the loop stands on ------------------------------------------- */

/* What ard_startup_open() took so far, in the order the loop releases it. */
static void
startup_release(ArdStartup *s)
{
  if (s->emitter)
    ar_emitter_sync(s->emitter);
  g_clear_pointer(&s->emitter, ar_emitter_unref);
  g_clear_pointer(&s->state, ard_state_free);
  g_clear_pointer(&s->lock, ard_lock_release);
  if (s->libgit2_ref)
    git_libgit2_shutdown();
  s->libgit2_ref = FALSE;
  g_clear_pointer(&s->cfg, ar_config_unref);
  g_clear_pointer(&s->event, sd_event_unref);
}

static gboolean
load_config(ArdStartup *s, const ArdOptions *opts, GError **error)
{
  g_autofree char *path =
      opts->config_path ? g_strdup(opts->config_path) : ar_config_default_path();
  g_autoptr(GError) local = NULL;
  s->cfg = ar_config_load(path, &local);
  if (!s->cfg) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, "%s", local->message);
    return FALSE;
  }
  if (opts->phase && !(s->cfg->phase_list &&
                       g_strv_contains((const char *const *)s->cfg->phase_list, opts->phase))) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, _("phase \"%s\" is not in [phases] list"),
                opts->phase);
    return FALSE;
  }
  ar_secret_register_env(s->cfg);
  if (g_mkdir_with_parents(s->cfg->log_dir, 0700) < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, _("cannot create log_dir %s: %s"),
                s->cfg->log_dir, g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

static gboolean
take_lock(ArdStartup *s, const ArdOptions *opts, GError **error)
{
  s->lock = opts->handover ? ard_lock_adopt(s->cfg->log_dir, opts->handover->lock_fd)
                           : ard_lock_acquire(s->cfg->log_dir, error);
  if (!s->lock && opts->handover)
    ar_set_error_errno(error, errno, _("cannot take over the project lock"));
  return s->lock != NULL;
}

/* The process-wide set-up the rounds rely on, then the event loop. */
static gboolean
set_up_process(ArdStartup *s, GError **error)
{
  /* The vcs code brackets every call with git_libgit2_init/shutdown; a
   * reference held for the daemon's lifetime keeps libgit2's global state
   * (its TLS setup parses the whole CA bundle: ~15 ms of CPU) from being
   * torn down and rebuilt at every round's startup check. */
  git_libgit2_init();
  s->libgit2_ref = TRUE;

  /* Everything the agent double-forks re-parents to us, not to init: it
   * stays countable and killable at round end. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
    g_warning("PR_SET_CHILD_SUBREAPER: %s", g_strerror(errno));

  /* sd-event takes signals through signalfd: they must be blocked. The
   * child resets its mask before exec. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return ar_set_error_errno(error, errno, "sigprocmask");
  int r = sd_event_new(&s->event);
  if (r < 0)
    return ar_set_error_errno(error, -r, "sd_event_new");
  /* WATCHDOG_USEC set by systemd: sd-event pings at half the period, and
   * that is the only timer an idle loop has. */
  /* AGENT_RUNNER_TEST_NO_WATCHDOG=1 is a test-only fault switch: never
   * ping, so tests/units can watch systemd kill and restart a stuck
   * daemon. */
  if (g_strcmp0(g_getenv("AGENT_RUNNER_TEST_NO_WATCHDOG"), "1") != 0)
    (void)sd_event_set_watchdog(s->event, TRUE);
  return TRUE;
}

gboolean
ard_startup_open(ArdStartup *s, const ArdOptions *opts, GError **error)
{
  *s = (ArdStartup){ 0 };
  if (!load_config(s, opts, error) || !take_lock(s, opts, error) || !set_up_process(s, error)) {
    startup_release(s);
    return FALSE;
  }
  s->emitter = ar_emitter_new(s->cfg->log_dir, s->cfg->project);
  ar_emitter_set_journal(s->emitter, opts->journal);
  ard_console_attach(s->emitter, (ArdConsoleMode)opts->console);

  s->state = ard_state_load(s->cfg->log_dir, &s->state_recovered, error);
  if (!s->state) {
    startup_release(s);
    return FALSE;
  }
  return TRUE;
}

/* ---- before the first step -------------------------------------------- */

static void
announce(const ArdOptions *opts, guint max_rounds, ArConfig *cfg, ArEmitter *emitter,
         gboolean state_recovered)
{
  if (!opts->round_mode && !opts->handover) {
    if (max_rounds)
      ar_emit(emitter, "serve_started", AR_EV_I("pid", getpid()), AR_EV_S("version", opts->version),
              AR_EV_S("config_path", cfg->config_path), AR_EV_I("max_rounds", max_rounds), NULL);
    else
      ar_emit(emitter, "serve_started", AR_EV_I("pid", getpid()), AR_EV_S("version", opts->version),
              AR_EV_S("config_path", cfg->config_path), "max_rounds", AR_EV_NULL, NULL);
  }
  if (state_recovered)
    ar_emit(emitter, "status_recovered", AR_EV_S("reason", "state.json could not be parsed"), NULL);
}

/* What a killed predecessor left running: ended before anything else
 * touches the work tree (ard-leftovers.h). */
static void
end_leftovers(ArConfig *cfg, ArEmitter *emitter, ArdState *state)
{
  if (!state->round_procs)
    return;
  ard_leftovers_end(state->round_procs, ARD_KILL_GRACE_USEC, emitter);
  if (JSON_NODE_HOLDS_OBJECT(state->round_procs))
    (void)ard_stale_lock_end(cfg->work_dir, json_node_get_object(state->round_procs), emitter);
  g_clear_pointer(&state->round_procs, json_node_unref);
  ard_state_save_or_warn(state, cfg->log_dir);
}

/* A crash-loop stop of an earlier run still holds: TRUE after telling the
 * operator; the caller exits without a round. */
static gboolean
crash_loop_persists(const ArdOptions *opts, const ArdState *state)
{
  /* As durable as .agent-done: a plain restart (the unit, a reboot, a
   * manual serve) does not resume a crash loop; agent-runner start
   * (--clear-done, .start-requested) does, having cleared the reason. */
  if (opts->round_mode || g_strcmp0(state->stop_reason, ARD_STOP_REASON_CRASH_LOOP) != 0)
    return FALSE;
  fprintf(stderr, "%s\n",
          _("stopped after a crash loop; fix the agent, then run: agent-runner start"));
  return TRUE;
}

ArdStartupVerdict
ard_startup_prepare(ArdOptions *opts, guint max_rounds, ArConfig *cfg, ArEmitter *emitter,
                    ArdState *state, gboolean state_recovered)
{
  announce(opts, max_rounds, cfg, emitter, state_recovered);
  if (ard_between_explicit_start(cfg->log_dir, opts->clear_done)) {
    /* The agent's "done" and a lasting stop of an earlier run no longer
     * apply. A plain restart (the unit) keeps them. */
    opts->clear_done = TRUE;
    g_clear_pointer(&state->stop_reason, g_free);
    state->crash_streak = 0;
  }
  /* A round handed over by an upgrade in place is not a leftover. */
  if (!(opts->handover && opts->handover->round))
    end_leftovers(cfg, emitter, state);
  ard_perms_tighten(cfg->log_dir, emitter);
  ard_retention_prune_transcripts(cfg->log_dir, cfg->round_log_retention, NULL);
  ard_retention_prune_events(cfg->log_dir, cfg->events_retention_days, g_get_real_time());

  if (crash_loop_persists(opts, state))
    return ARD_STARTUP_CRASH_LOOP;
  static const ArdStartupVerdict battery[] = {
    [ARD_BATTERY_OK] = ARD_STARTUP_GO,
    [ARD_BATTERY_BROKEN] = ARD_STARTUP_CONFIG_BROKEN,
    [ARD_BATTERY_DISK_FULL] = ARD_STARTUP_DISK_FULL,
  };
  ArdStartupVerdict v = battery[ard_between_run_battery(cfg, emitter)];
  if (v != ARD_STARTUP_GO)
    return v;
  if (state->stop_reason && !opts->round_mode) {
    /* Starting again clears a stale lasting-stop note; .agent-done itself
     * still stops us below if it is there. */
    g_clear_pointer(&state->stop_reason, g_free);
    ard_state_save_or_warn(state, cfg->log_dir);
  }
  return ARD_STARTUP_GO;
}

/* ---- a round handed over ------------------------------------------------ */

ArdRound *
ard_startup_adopt_round(JsonNode *round, const ArdRoundParams *base, ArdRoundDoneFunc done,
                        gpointer user_data, GError **error)
{
  JsonObject *doc = json_node_get_object(round);
  ArdRoundParams params = *base;
  params.round_num = (guint)json_object_get_int_member_with_default(doc, "round_num", 0);
  params.phase = json_object_get_string_member_with_default(doc, "phase", NULL);
  ar_emitter_set_context(params.emitter, params.round_num, params.phase);
  return ard_round_adopt(&params, doc, done, user_data, error);
}

/* ---- [hooks] serve_startup --------------------------------------------- */

ArdHookBatch *
ard_startup_hooks_start(sd_event *event, ArConfig *cfg, const char *const *base_env,
                        ArdHookBatchDone done, gpointer user_data, GError **error)
{
  g_autoptr(GPtrArray) hooks = ar_config_hooks(cfg, NULL, AR_HOOK_SERVE_STARTUP);
  if (hooks->len == 0)
    return NULL;
  g_autoptr(JsonObject) input = ard_hooks_input_new(cfg, AR_HOOK_SERVE_STARTUP, 0, NULL);
  return ard_hooks_start(event, cfg, AR_HOOK_SERVE_STARTUP, hooks, base_env, 0, NULL, input, NULL,
                         done, user_data, error);
}

/* The first failure stops the service (the Python tool's serve exit). */
char *
ard_startup_hooks_finish(ArdHookBatch *batch, ArEmitter *emitter, const ArConfig *cfg)
{
  char *failure = ard_hooks_emit(emitter, cfg, ard_hook_batch_get_results(batch), 0, NULL, NULL);
  if (failure)
    g_printerr(_("agent-runnerd: %s; fix or disable the hook ([plugins] disable), then start "
                 "again\n"),
               failure);
  return failure;
}
