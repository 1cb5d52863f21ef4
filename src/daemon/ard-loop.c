/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-loop.h"

#include <signal.h>
#include <string.h>

#include <git2.h>
#include <glib/gi18n.h>

#include "ar-classify.h"
#include "ar-secret.h"
#include "ar-util.h"
#include "ard-backoff.h"
#include "ard-between.h"
#include "ard-hooks.h"
#include "ard-lock.h"
#include "ard-notify.h"
#include "ard-reaction.h"
#include "ard-reap.h"
#include "ard-retention.h"
#include "ard-round.h"
#include "ard-secrets.h"
#include "ard-serialize.h"
#include "ard-startup.h"
#include "ard-vcs.h"
#include "ard-wait.h"

struct ArdLoop {
  ArdOptions opts;
  sd_event *event;
  ArConfig *cfg;
  ArEmitter *emitter;
  ArdLock *lock;
  ArdState *state; /* state.json: the source of what status derives from it */
  gboolean state_recovered;
  ArdStatus status;
  char **base_env;

  sd_event_source *sig_term;
  sd_event_source *sig_int;
  sd_event_source *sig_hup;
  sd_event_source *sig_chld;
  sd_event_source *step_defer;
  ArdWait *wait; /* the restart delay or back-off; the stop-timeout extension */

  ArdRound *round;
  struct ArdHookBatch *startup_hooks; /* [hooks] serve_startup, running */
  guint max_rounds;                   /* effective: --max-rounds, else config */
  gboolean battery_fresh;             /* the start-up battery just ran: skip it once */
  gboolean disk_full;                 /* the battery failed for want of space in log_dir */

  gboolean stop_requested;
  gboolean stopping_emitted;
  gboolean libgit2_ref; /* a git_libgit2_init() reference held for our lifetime */
  int exit_code;

  ArdStatusHook status_hook;
  gpointer status_hook_data;

  ArdReactor *reactor; /* crash streak, back-off, auth, quota, usage */
  ArdSecrets *secrets; /* [agent] secrets for the next round */
};

static void loop_step(ArdLoop *loop);
static void step_soon(ArdLoop *loop);

void
ard_options_clear(ArdOptions *opts)
{
  g_clear_pointer(&opts->config_path, g_free);
  g_clear_pointer(&opts->phase, g_free);
}

static void
set_run_state(ArdLoop *loop, ArdRunState st)
{
  loop->status.state = st;
  ard_notify_status(&loop->status);
  if (loop->status_hook)
    loop->status_hook(loop, loop->status_hook_data);
}

static void
save_state(ArdLoop *loop)
{
  ard_state_save_or_warn(loop->state, loop->cfg->log_dir);
}

/* ---- stopping ------------------------------------------------------- */

static void
emit_stopping(ArdLoop *loop, const char *reason)
{
  if (loop->stopping_emitted || loop->opts.round_mode)
    return;
  loop->stopping_emitted = TRUE;
  ar_emit(loop->emitter, "serve_stopping", AR_EV_S("reason", reason), NULL);
}

/* Leave the loop with code. reason goes into serve_stopping (once). */
static void
loop_exit(ArdLoop *loop, int code, const char *reason)
{
  if (reason)
    emit_stopping(loop, reason);
  loop->exit_code = code;
  ard_wait_cancel(loop->wait);
  ard_wait_end_stop_extension(loop->wait);
  loop->status.next_round_at_us = 0;
  /* A back-off cut short stays in state.json; the next start waits on. */
  loop->status.throttled_until_us = 0;
  loop->status.throttle_classification = NULL;
  set_run_state(loop, ARD_RUN_STOPPED);
  ard_notify_stopping();
  (void)sd_event_exit(loop->event, code);
}

/* A lasting stop: remembered in state.json so status/Peek can tell after a
 * restart why the service is down. */
static void
set_stop_reason(ArdLoop *loop, const char *reason)
{
  g_free(loop->state->stop_reason);
  loop->state->stop_reason = g_strdup(reason);
  loop->status.stop_reason_current = TRUE;
  save_state(loop);
}

/* A graceful stop waits for the round, up to its time limit; a round
 * being ended takes at most the kill grace. */
static void
extend_stop_timeout(ArdLoop *loop, gboolean ending)
{
  if (!loop->round)
    return;
  gint64 deadline = 0;
  if (!ending)
    deadline = ard_round_get_started_realtime_us(loop->round) +
               (gint64)ar_config_round_timeout(loop->cfg, ard_status_phase(&loop->status)) *
                   G_USEC_PER_SEC;
  ard_wait_extend_stop(loop->wait, deadline);
}

static void
request_stop(ArdLoop *loop, gboolean now, const char *reason)
{
  if (loop->status.state == ARD_RUN_STOPPED)
    return;
  gboolean again = loop->stop_requested;
  loop->stop_requested = TRUE;
  emit_stopping(loop, reason);
  if (!loop->round) {
    /* Between rounds: a wait (or the pending step) ends now. */
    loop_exit(loop, AR_EXIT_OK, NULL);
    return;
  }
  set_run_state(loop, ARD_RUN_STOPPING);
  /* A second request, or an explicit "now", ends the round itself. */
  if (now || again)
    ard_round_cancel(loop->round);
  extend_stop_timeout(loop, now || again);
}

void
ard_loop_request_stop(ArdLoop *loop, gboolean now)
{
  request_stop(loop, now, now ? "stop requested (now)" : "stop requested");
}

gboolean
ard_loop_cancel_round(ArdLoop *loop)
{
  if (!loop->round)
    return FALSE;
  ard_round_cancel(loop->round);
  return TRUE;
}

/* ---- config reload ---------------------------------------------------- */

gboolean
ard_loop_reload(ArdLoop *loop, GError **error)
{
  ard_notify_reloading();
  g_autoptr(GError) local = NULL;
  g_autoptr(ArConfig) cfg = ar_config_load(loop->cfg->config_path, &local);
  if (cfg && (g_strcmp0(cfg->log_dir, loop->cfg->log_dir) != 0 ||
              g_strcmp0(cfg->work_dir, loop->cfg->work_dir) != 0)) {
    /* The lock, the events file and the state live in log_dir: moving them
     * under a running supervisor would split the project in two. */
    g_set_error(&local, AR_ERROR, AR_ERROR_CONFIG,
                _("work_dir and log_dir cannot change on reload (restart the service)"));
    g_clear_pointer(&cfg, ar_config_unref);
  }
  ard_notify_ready();
  if (!cfg) {
    ar_emit(loop->emitter, "config_reload_failed", AR_EV_S("config_path", loop->cfg->config_path),
            AR_EV_S("reason", local->message), NULL);
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  ar_config_unref(loop->cfg);
  loop->cfg = g_steal_pointer(&cfg);
  ar_secret_register_env(loop->cfg);
  if (!loop->opts.max_rounds)
    loop->max_rounds = loop->cfg->max_rounds;
  ar_emit(loop->emitter, "config_reloaded", AR_EV_S("config_path", loop->cfg->config_path), NULL);
  /* A wait in progress follows the new restart_delay_s, counted from when
   * it began (a deadline already passed fires at once). */
  if (ard_wait_pending(loop->wait) && loop->status.state == ARD_RUN_WAITING)
    loop->status.next_round_at_us = ard_wait_retime_delay(loop->wait, loop->cfg->restart_delay_s);
  return TRUE;
}

/* ---- signals -------------------------------------------------------- */

static int
on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *user_data)
{
  ArdLoop *loop = user_data;
  g_autofree char *reason = g_strdup_printf("signal:%s", ard_reap_signal_name(si->ssi_signo));
  request_stop(loop, FALSE, reason);
  return 0;
}

static int
on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *user_data)
{
  g_autoptr(GError) error = NULL;
  /* The outcome is in config_reloaded / config_reload_failed. */
  (void)ard_loop_reload(user_data, &error);
  return 0;
}

static int
on_chld(sd_event_source *s, const struct signalfd_siginfo *si, void *user_data)
{
  ArdLoop *loop = user_data;
  /* Subreaped orphans die as our children: reap them so no zombie piles
   * up, but leave the agent to its pidfd source. */
  ard_reap_orphans(loop->round ? ard_round_get_agent_pid(loop->round) : 0);
  if (loop->round)
    ard_round_child_exited(loop->round);
  return 0;
}

/* ---- stop triggers -------------------------------------------------- */

/* Between rounds, in this order: a stop request, .agent-done,
 * .monitor-stop, stop_file, max_rounds. TRUE when the loop stopped. */
static gboolean
check_stop_triggers(ArdLoop *loop)
{
  if (loop->stop_requested) {
    loop_exit(loop, AR_EXIT_OK, "stop requested");
    return TRUE;
  }
  g_autofree char *why = NULL;
  ArdTrigger t = ard_between_check_triggers(loop->cfg, loop->emitter, loop->status.rounds_completed,
                                            loop->max_rounds, &why);
  if (t == ARD_TRIGGER_NONE)
    return FALSE;
  /* The lasting ones: a restart stops again until an explicit start. */
  static const char *const lasting[] = {
    [ARD_TRIGGER_DONE] = ARD_STOP_REASON_DONE,
    [ARD_TRIGGER_MONITOR] = ARD_STOP_REASON_MONITOR,
  };
  if ((gsize)t < G_N_ELEMENTS(lasting) && lasting[t])
    set_stop_reason(loop, lasting[t]);
  loop_exit(loop, AR_EXIT_OK, why);
  return TRUE;
}

/* ---- the startup battery ------------------------------------------- */

/* TRUE when fine; FALSE after the battery's events (the caller exits). */
static gboolean
run_battery(ArdLoop *loop)
{
  ArdBattery b = ard_between_run_battery(loop->cfg, loop->emitter);
  loop->disk_full = b == ARD_BATTERY_DISK_FULL;
  return b == ARD_BATTERY_OK;
}

/* Exit 78 either way: the unit's RestartPreventExitStatus honours it, and
 * restarting into a full disk or a broken config helps nothing. */
static void
config_broken_exit(ArdLoop *loop)
{
  gboolean full = loop->disk_full;
  set_stop_reason(loop, full ? ARD_STOP_REASON_DISK_FULL : ARD_STOP_REASON_CONFIG_BROKEN);
  loop_exit(loop, AR_EXIT_CONFIG, full ? "disk_full" : "config_broken");
}

/* TRUE when every [agent] secret was read; FALSE when the loop now waits
 * for a locked keyring or stopped as config-broken. */
static gboolean
secrets_ready(ArdLoop *loop)
{
  ArdSecretsResult r = ard_secrets_read(loop->secrets, loop->cfg);
  loop->status.waiting_secret = ard_secrets_get_waiting(loop->secrets);
  if (r == ARD_SECRETS_LOCKED)
    set_run_state(loop, ARD_RUN_WAITING_FOR_SECRET);
  else if (r == ARD_SECRETS_MISSING)
    config_broken_exit(loop);
  return r == ARD_SECRETS_READY;
}

static void
on_secrets_changed(gpointer user_data)
{
  ArdLoop *loop = user_data;
  if (loop->status.state == ARD_RUN_WAITING_FOR_SECRET)
    step_soon(loop);
}

/* ---- after a round ---------------------------------------------------- */

static void
start_wait(ArdLoop *loop, const ArdNextStep *next)
{
  g_autoptr(GError) error = NULL;
  gint64 end = ard_wait_start_delay(loop->wait, loop->cfg->restart_delay_s, next->factor, &error);
  if (!end) {
    g_warning("%s", error->message);
    loop_exit(loop, AR_EXIT_FAILURE, "internal error");
    return;
  }
  loop->status.next_round_at_us = end;
  set_run_state(loop, next->wait_state);
}

/* The back-off is over (its timer fired, or requested_by ended it early):
 * the next round starts now. */
static void
end_backoff(ArdLoop *loop, const char *requested_by)
{
  ard_wait_cancel(loop->wait);
  ArdThrottle *t = ard_reactor_get_throttle(loop->reactor);
  double for_s = MAX(g_get_real_time() - t->started_us, 0) / (double)G_USEC_PER_SEC;
  if (requested_by)
    ar_emit(loop->emitter, "backoff_ended_early", AR_EV_S("classification", t->classification),
            AR_EV_S("agent", t->agent), AR_EV_D("throttled_for_s", for_s),
            AR_EV_S("requested_by", requested_by), NULL);
  else
    ar_emit(loop->emitter, "transient_error_recovered",
            AR_EV_S("classification", t->classification), AR_EV_S("agent", t->agent),
            AR_EV_D("throttled_for_s", for_s), NULL);
  ard_throttle_end_wait(t);
  ard_reactor_save_throttle(loop->reactor, loop->cfg->log_dir);
  loop->status.throttled_until_us = 0;
  loop->status.throttle_classification = NULL;
  loop->status.next_round_at_us = 0;
  loop_step(loop);
}

static void
on_wait_done(ArdWaitKind kind, gpointer user_data)
{
  ArdLoop *loop = user_data;
  if (kind == ARD_WAIT_BACKOFF) {
    end_backoff(loop, NULL);
    return;
  }
  loop->status.next_round_at_us = 0;
  loop_step(loop);
}

gboolean
ard_loop_resume_now(ArdLoop *loop, const char *requested_by)
{
  if (loop->status.state != ARD_RUN_BACKING_OFF || !ard_wait_pending(loop->wait) ||
      loop->stop_requested)
    return FALSE;
  end_backoff(loop, requested_by);
  return TRUE;
}

/* Wait until the throttle's end: after the round that hit the limit, or
 * after a restart during the wait (same end: a restart never retries
 * early), at the reset time the CLI named. */
static void
start_backoff(ArdLoop *loop)
{
  const ArdThrottle *t = ard_reactor_get_throttle(loop->reactor);
  ArOutcome o = AR_OUTCOME_ERROR;
  (void)ar_outcome_from_string(t->classification, &o);
  loop->status.throttled_until_us = t->until_us;
  loop->status.throttle_classification = ar_outcome_to_string(o);
  loop->status.next_round_at_us = t->until_us;
  /* Hours may pass: the start-up checks run again before the next round. */
  loop->battery_fresh = FALSE;
  set_run_state(loop, ARD_RUN_BACKING_OFF);
  g_autoptr(GError) error = NULL;
  if (!ard_wait_start_backoff(loop->wait, t->until_us, &error)) {
    g_warning("%s", error->message);
    loop_exit(loop, AR_EXIT_FAILURE, "internal error");
  }
}

static void
on_round_done(ArdRound *round, gpointer user_data)
{
  ArdLoop *loop = user_data;
  g_autoptr(ArdRound) owned = g_steal_pointer(&loop->round);
  const ArdRoundResult *res = ard_round_get_result(round);

  ard_reactor_update_crash_streak(loop->reactor, res);
  loop->state->round_running = FALSE;
  /* Teardown ended every process of the round. */
  g_clear_pointer(&loop->state->round_procs, json_node_unref);
  ard_round_summary_free(loop->state->last);
  loop->state->last = ard_between_summarize(res);
  ArdVcsJob *vcs = ard_round_get_vcs_job(round);
  JsonNode *orphan = NULL;
  if (vcs && ard_vcs_job_orphan_update(vcs, &orphan)) {
    /* A new stash replaces the remembered one; a clean tree clears it. */
    g_clear_pointer(&loop->state->orphan, json_node_unref);
    loop->state->orphan = orphan;
  }
  save_state(loop);

  ar_emit(loop->emitter, "round_end", AR_EV_I("round_num", res->round_num),
          AR_EV_S("outcome", res->outcome), AR_EV_I("exit_code", res->exit_code),
          AR_EV_D("duration_s", res->duration_s), NULL);
  ard_wait_end_stop_extension(loop->wait);
  ard_reactor_record_outcome(loop->reactor, loop->cfg, res);
  if (vcs)
    ard_vcs_job_emit_substrate_after(vcs, loop->emitter);
  ar_emitter_sync(loop->emitter);
  ar_emitter_set_context(loop->emitter, 0, NULL);

  loop->status.rounds_completed++;
  loop->status.agent_pid = 0;
  loop->status.round_started_at_us = 0;
  ard_status_remember_round(&loop->status, ard_between_summarize(res));
  ard_retention_prune_transcripts(loop->cfg->log_dir, loop->cfg->round_log_retention, NULL);
  ard_retention_prune_events(loop->cfg->log_dir, loop->cfg->events_retention_days,
                             g_get_real_time());

  if (loop->opts.round_mode) {
    loop_exit(loop, ard_between_round_mode_exit_code(res), NULL);
    return;
  }
  ArdNextStep next = ard_reactor_decide_next(loop->reactor, loop->cfg, res);
  if (next.action == ARD_NEXT_STOP && next.exit_code == AR_EXIT_CRASH_LOOP) {
    g_autofree char *tail = ard_between_transcript_tail(res->transcript_path);
    ar_emit(loop->emitter, "crash_loop", AR_EV_I("consecutive", loop->state->crash_streak),
            AR_EV_I("exit_code", res->exit_code), AR_EV_S("reason", tail), NULL);
  }
  if (next.stop_reason)
    set_stop_reason(loop, next.stop_reason);
  if (next.action == ARD_NEXT_STOP) {
    loop_exit(loop, next.exit_code, next.reason);
    return;
  }
  if (loop->opts.once) {
    loop_exit(loop, AR_EXIT_OK, "once");
    return;
  }
  /* Triggers right away: no point waiting out a delay before noticing
   * .agent-done or max_rounds. */
  if (check_stop_triggers(loop))
    return;
  if (next.wait_state == ARD_RUN_BACKING_OFF)
    start_backoff(loop);
  else
    start_wait(loop, &next);
  if (loop->opts.on_round_ended)
    loop->opts.on_round_ended(loop);
}

/* ---- before a round --------------------------------------------------- */

static void
start_round(ArdLoop *loop)
{
  guint num = ard_state_next_round_num(loop->state, loop->cfg->log_dir, loop->state_recovered);
  loop->state_recovered = FALSE;
  const char *phase =
      loop->opts.phase ? loop->opts.phase : ar_config_phase_for_round(loop->cfg, num);
  guint n_phases = loop->cfg->phase_list ? g_strv_length(loop->cfg->phase_list) : 0;

  loop->state->round_num = num;
  loop->state->round_running = TRUE;
  loop->state->phase_index = n_phases ? (num - 1) % n_phases : 0;
  g_free(loop->state->phase);
  loop->state->phase = g_strdup(phase);
  /* Not saved here: the transcript rounds/R<N>-*.log created next already
   * keeps N taken, and one fsync'ed write per round (at its end) is enough. */

  ar_emitter_set_context(loop->emitter, num, phase);
  /* With it the status shows this round's number and phase (ard-status.h). */
  loop->status.round_started_at_us = g_get_real_time();

  ard_vcs_emit_substrate_before(loop->emitter, loop->cfg, num);
  ArdRoundParams params = {
    .orphan = loop->state->orphan,
    .event = loop->event,
    .emitter = loop->emitter,
    .cfg = loop->cfg,
    .round_num = num,
    .phase = phase,
    .previous = loop->state->last,
    .base_env = (const char *const *)loop->base_env,
    .secret_env = ard_secrets_get_env(loop->secrets),
  };
  loop->round = ard_round_start(&params, on_round_done, loop);
  loop->status.agent_pid = ard_round_get_agent_pid(loop->round);
  /* Saved before the agent can do anything worth finding: a restart after
   * a kill -9 ends what is left (ard-leftovers.h). */
  g_clear_pointer(&loop->state->round_procs, json_node_unref);
  loop->state->round_procs = ard_round_leftovers_record(loop->round);
  if (loop->state->round_procs)
    save_state(loop);
  set_run_state(loop, loop->stop_requested ? ARD_RUN_STOPPING : ARD_RUN_RUNNING);
}

/* Between rounds: triggers, battery, then the next round. */
static void
loop_step(ArdLoop *loop)
{
  if (loop->status.state == ARD_RUN_STOPPED)
    return;
  if (!loop->opts.round_mode && check_stop_triggers(loop))
    return;
  if (!loop->opts.round_mode && ard_reactor_get_throttle(loop->reactor)->until_us > 0) {
    /* Restarted during a back-off: wait out the rest. */
    start_backoff(loop);
    return;
  }
  if (!loop->battery_fresh && !run_battery(loop)) {
    config_broken_exit(loop);
    return;
  }
  loop->battery_fresh = FALSE;
  if (!secrets_ready(loop))
    return;
  start_round(loop);
}

/* [hooks] serve_startup: once per serve, before the first round; the
 * first failure stops the service. */
static void
on_startup_hooks_done(ArdHookBatch *batch, gpointer user_data)
{
  ArdLoop *loop = user_data;
  g_autoptr(ArdHookBatch) owned = g_steal_pointer(&loop->startup_hooks);
  g_autofree char *failure = ard_startup_hooks_finish(owned, loop->emitter, loop->cfg);
  if (failure) {
    loop_exit(loop, AR_EXIT_CONFIG, failure);
    return;
  }
  loop_step(loop);
}

static void
resume_handed_over_wait(ArdLoop *loop)
{
  ArdHandover *h = loop->opts.handover;
  gint64 left = h->next_round_at_us - g_get_real_time();
  /* Once: a later retry of the step (ard_loop_step_soon) must not re-arm it. */
  h->next_round_at_us = 0;
  if (left <= 0 || ard_wait_pending(loop->wait) || ard_loop_get_throttle(loop)->until_us > 0) {
    loop_step(loop);
    return;
  }
  gint64 end =
      ard_wait_resume_delay(loop->wait, loop->cfg->restart_delay_s, MAX(h->wait_factor, 1), left);
  if (!end) {
    loop_step(loop);
    return;
  }
  loop->status.next_round_at_us = end;
  set_run_state(loop, ARD_RUN_WAITING);
}

/* Upgraded in place mid-round: the previous image's round goes on here. */
static gboolean
adopt_round(ArdLoop *loop, GError **error)
{
  ArdRoundParams base = {
    .event = loop->event,
    .emitter = loop->emitter,
    .cfg = loop->cfg,
    .base_env = (const char *const *)loop->base_env,
  };
  loop->round =
      ard_startup_adopt_round(loop->opts.handover->round, &base, on_round_done, loop, error);
  if (!loop->round)
    return FALSE;
  loop->status.round_started_at_us = ard_round_get_started_realtime_us(loop->round);
  loop->status.agent_pid = ard_round_get_agent_pid(loop->round);
  return TRUE;
}

static int
on_first_step(sd_event_source *s, void *user_data)
{
  ArdLoop *loop = user_data;
  loop->step_defer = sd_event_source_disable_unref(loop->step_defer);
  if (loop->opts.handover) {
    /* Upgraded in place: serve_startup hooks ran for this serve already,
     * a round in progress goes on (adopted before READY=1), and a
     * restart delay in progress goes on to its end. */
    if (!loop->round)
      resume_handed_over_wait(loop);
    return 0;
  }
  if (!loop->opts.round_mode) {
    g_autoptr(GError) error = NULL;
    loop->startup_hooks =
        ard_startup_hooks_start(loop->event, loop->cfg, (const char *const *)loop->base_env,
                                on_startup_hooks_done, loop, &error);
    if (error) {
      g_warning("[hooks] serve_startup: %s", error->message);
      loop_exit(loop, AR_EXIT_FAILURE, "internal error");
    }
    if (loop->startup_hooks || error)
      return 0;
  }
  loop_step(loop);
  return 0;
}

/* Run the between-rounds step from the event loop (a retry). */
static void
step_soon(ArdLoop *loop)
{
  if (!loop->step_defer &&
      sd_event_add_defer(loop->event, &loop->step_defer, on_first_step, loop) >= 0)
    (void)sd_event_source_set_description(loop->step_defer, "step");
}

/* ---- setup ----------------------------------------------------------- */

static gboolean
add_signal(ArdLoop *loop, sd_event_source **slot, int sig, sd_event_signal_handler_t handler,
           GError **error)
{
  int r = sd_event_add_signal(loop->event, slot, sig, handler, loop);
  if (r < 0)
    return ar_set_error_errno(error, -r, "sd_event_add_signal(%s)", ard_reap_signal_name(sig));
  return TRUE;
}

ArdLoop *
ard_loop_new(const ArdOptions *opts, GError **error)
{
  g_autoptr(ArdLoop) loop = g_new0(ArdLoop, 1);
  /* Whole, so a new option or hook cannot be forgotten here; the two
   * strings are the loop's own copies (ard_options_clear frees them). */
  loop->opts = *opts;
  loop->opts.config_path = g_strdup(opts->config_path);
  loop->opts.phase = g_strdup(opts->phase);
  if (!loop->opts.version)
    loop->opts.version = PACKAGE_VERSION;
  loop->exit_code = AR_EXIT_FAILURE;
  ard_status_init(&loop->status, NULL);
  loop->base_env = g_get_environ();

  ArdStartup base;
  if (!ard_startup_open(&base, &loop->opts, error))
    return NULL;
  /* Taken over whole: ard_loop_free releases each of them. */
  loop->cfg = base.cfg;
  loop->lock = base.lock;
  loop->event = base.event;
  loop->emitter = base.emitter;
  loop->state = base.state;
  loop->state_recovered = base.state_recovered;
  loop->libgit2_ref = base.libgit2_ref;
  loop->max_rounds = opts->max_rounds ? opts->max_rounds : loop->cfg->max_rounds;
  loop->status.persisted = loop->state;

  if (!add_signal(loop, &loop->sig_term, SIGTERM, on_stop_signal, error) ||
      !add_signal(loop, &loop->sig_int, SIGINT, on_stop_signal, error) ||
      !add_signal(loop, &loop->sig_hup, SIGHUP, on_hup, error) ||
      !add_signal(loop, &loop->sig_chld, SIGCHLD, on_chld, error))
    return NULL;
  loop->reactor = ard_reactor_new(loop->emitter, loop->state, opts->round_mode);
  loop->secrets = ard_secrets_new(loop->event, loop->emitter, on_secrets_changed, loop);
  loop->wait = ard_wait_new(loop->event, on_wait_done, loop);
  return g_steal_pointer(&loop);
}

int
ard_loop_run(ArdLoop *loop)
{
  if (loop->state->last)
    ard_status_remember_round(&loop->status, ard_round_summary_copy(loop->state->last));
  ArdStartupVerdict v = ard_startup_prepare(&loop->opts, loop->max_rounds, loop->cfg, loop->emitter,
                                            loop->state, loop->state_recovered);
  if (v == ARD_STARTUP_CRASH_LOOP) {
    /* The reason in state.json is this run's too. */
    loop->status.stop_reason_current = TRUE;
    loop_exit(loop, AR_EXIT_CRASH_LOOP, "crash_loop (earlier); agent-runner start resumes");
    return loop->exit_code;
  }
  if (v != ARD_STARTUP_GO) {
    loop->disk_full = v == ARD_STARTUP_DISK_FULL;
    config_broken_exit(loop);
    return loop->exit_code;
  }
  loop->battery_fresh = TRUE;
  if (loop->opts.handover && loop->opts.handover->round) {
    g_autoptr(GError) error = NULL;
    if (!adopt_round(loop, &error)) {
      /* Before READY=1: the previous image takes its round back (the
       * lock stays held through the inherited fd). */
      ar_emitter_sync(loop->emitter);
      if (loop->opts.on_adopt_failed)
        loop->opts.on_adopt_failed(loop, error->message);
      return AR_EXIT_FAILURE;
    }
  }
  ard_notify_ready();
  if (loop->opts.on_ready)
    loop->opts.on_ready(loop);
  set_run_state(loop, loop->round ? ARD_RUN_RUNNING : ARD_RUN_STARTING);
  int r = sd_event_add_defer(loop->event, &loop->step_defer, on_first_step, loop);
  if (r < 0) {
    g_warning("sd_event_add_defer: %s", g_strerror(-r));
    return AR_EXIT_FAILURE;
  }
  r = sd_event_loop(loop->event);
  if (r < 0) {
    g_warning("event loop: %s", g_strerror(-r));
    return AR_EXIT_FAILURE;
  }
  return r;
}

void
ard_loop_free(ArdLoop *loop)
{
  if (!loop)
    return;
  g_clear_pointer(&loop->round, ard_round_free);
  g_clear_pointer(&loop->startup_hooks, ard_hook_batch_free);
  sd_event_source_disable_unref(loop->sig_term);
  sd_event_source_disable_unref(loop->sig_int);
  sd_event_source_disable_unref(loop->sig_hup);
  sd_event_source_disable_unref(loop->sig_chld);
  g_clear_pointer(&loop->wait, ard_wait_free);
  sd_event_source_disable_unref(loop->step_defer);
  g_clear_pointer(&loop->reactor, ard_reactor_free);
  g_clear_pointer(&loop->secrets, ard_secrets_free);
  if (loop->emitter)
    ar_emitter_sync(loop->emitter);
  g_clear_pointer(&loop->emitter, ar_emitter_unref);
  g_clear_pointer(&loop->state, ard_state_free);
  g_clear_pointer(&loop->lock, ard_lock_release);
  if (loop->libgit2_ref)
    git_libgit2_shutdown();
  g_clear_pointer(&loop->cfg, ar_config_unref);
  g_clear_pointer(&loop->event, sd_event_unref);
  ard_status_clear(&loop->status);
  g_strfreev(loop->base_env);
  ard_options_clear(&loop->opts);
  g_free(loop);
}

sd_event *
ard_loop_get_event(ArdLoop *loop)
{
  return loop->event;
}

ArEmitter *
ard_loop_get_emitter(ArdLoop *loop)
{
  return loop->emitter;
}

ArConfig *
ard_loop_get_config(ArdLoop *loop)
{
  return loop->cfg;
}

const ArdStatus *
ard_loop_get_status(ArdLoop *loop)
{
  return &loop->status;
}

void
ard_loop_set_status_hook(ArdLoop *loop, ArdStatusHook hook, gpointer user_data)
{
  loop->status_hook = hook;
  loop->status_hook_data = user_data;
}

void
ard_loop_set_max_rounds(ArdLoop *loop, guint max_rounds)
{
  /* N more rounds from this call (the one running now counts), kept as
   * the override so a later reload does not put the config's bound back. */
  loop->opts.max_rounds = max_rounds ? loop->status.rounds_completed + max_rounds : 0;
  loop->max_rounds = loop->opts.max_rounds ? loop->opts.max_rounds : loop->cfg->max_rounds;
}

gboolean
ard_loop_stop_requested(ArdLoop *loop)
{
  return loop->stop_requested;
}

JsonNode *
ard_loop_get_orphan(ArdLoop *loop)
{
  return loop->state->orphan;
}

const ArdThrottle *
ard_loop_get_throttle(ArdLoop *loop)
{
  return ard_reactor_get_throttle(loop->reactor);
}

const ArdUsage *
ard_loop_get_usage(ArdLoop *loop)
{
  return ard_reactor_get_usage(loop->reactor);
}

ArdLock *
ard_loop_get_lock(ArdLoop *loop)
{
  return loop->lock;
}

const ArdOptions *
ard_loop_get_options(ArdLoop *loop)
{
  return &loop->opts;
}

guint
ard_loop_get_wait_factor(ArdLoop *loop)
{
  return ard_wait_get_factor(loop->wait);
}

gboolean
ard_loop_is_busy(ArdLoop *loop)
{
  return loop->round != NULL || loop->startup_hooks != NULL;
}

struct ArdHandover *
ard_loop_get_handover(ArdLoop *loop)
{
  return loop->opts.handover;
}

void
ard_loop_set_rounds_completed(ArdLoop *loop, guint n)
{
  loop->status.rounds_completed = n;
}

void
ard_loop_save_state(ArdLoop *loop)
{
  save_state(loop);
}

struct ArdRound *
ard_loop_get_round(ArdLoop *loop)
{
  return loop->round;
}
