/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-exit.h"
#include "ar-json.h"
#include "ar-prompt.h"
#include "ar-util.h"
#include "ard-cgroup.h"
#include "ard-detect.h"
#include "ard-hooks.h"
#include "ard-leftovers.h"
#include "ard-output.h"
#include "ard-reap.h"
#include "ard-round-private.h"
#include "ard-spawn.h"
#include "ard-vcs.h"

/* After a KILL pass, how often to look again, and how many passes before
 * the round is declared over even though something (a process stuck in
 * uninterruptible sleep) is still there. */
#define KILL_RETRY_USEC (1 * G_USEC_PER_SEC)
#define KILL_MAX_PASSES 10
/* After the last descendant is gone, how long a pipe writer outside the
 * tree (an fd passed over a socket) may keep the output open. */
#define DRAIN_USEC (2 * G_USEC_PER_SEC)
/* round_grace_extended lists at most this many processes per list. */
#define GRACE_LIST_MAX 5
/* The exit code of a round whose agent could not be started (the shell's
 * "command not found" convention). */
#define SPAWN_FAILED_EXIT 127

static void schedule_recheck(ArdRound *r);

gint64
ard_round_now_mono(ArdRound *r)
{
  uint64_t now = 0;
  if (sd_event_now(r->event, CLOCK_MONOTONIC, &now) < 0)
    return g_get_monotonic_time();
  return (gint64)now;
}

/* Arm (or re-arm) a one-shot monotonic timer owned by *slot. */
void
ard_round_arm_timer(ArdRound *r, sd_event_source **slot, uint64_t usec_from_now,
                    sd_event_time_handler_t handler, const char *description)
{
  if (*slot) {
    (void)sd_event_source_set_time_relative(*slot, usec_from_now);
    (void)sd_event_source_set_time_accuracy(*slot, ar_timer_accuracy_us(usec_from_now));
    (void)sd_event_source_set_enabled(*slot, SD_EVENT_ONESHOT);
    return;
  }
  int r_ = sd_event_add_time_relative(r->event, slot, CLOCK_MONOTONIC, usec_from_now,
                                      ar_timer_accuracy_us(usec_from_now), handler, r);
  if (r_ < 0) {
    g_warning("cannot arm the %s timer: %s", description, g_strerror(-r_));
    return;
  }
  (void)sd_event_source_set_description(*slot, description);
}

static void
disarm(sd_event_source **slot)
{
  *slot = sd_event_source_disable_unref(*slot);
}

ArDialect
ard_round_dialect(const ArConfig *cfg)
{
  ArDialect d = AR_DIALECT_TEXT;
  if (cfg->output && ar_dialect_from_string(cfg->output, &d))
    return d;
  return ar_dialect_guess((const char *const *)cfg->command);
}

/* ---- killing ------------------------------------------------------- */

static void
signal_tree(ArdRound *r, int sig)
{
  /* The group first (the agent and whatever stayed in it), then every
   * descendant by /proc: setsid'ed and double-forked ones left the group
   * but, with the daemon a subreaper, not the daemon's subtree. */
  if (r->pid > 0)
    (void)kill(-r->pgid, sig);
  ard_reap_signal_descendants(getpid(), 0, sig);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *user_data);

static void
begin_kill(ArdRound *r)
{
  if (r->killing)
    return;
  r->killing = TRUE;
  signal_tree(r, SIGTERM);
  ard_round_arm_timer(r, &r->kill_timer, ARD_KILL_GRACE_USEC, on_kill_timer, "round-kill");
}

static void teardown_complete(ArdRound *r);

static int
on_kill_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdRound *r = user_data;
  r->kill_passes++;
  signal_tree(r, SIGKILL);
  if (r->stage == STAGE_TEARDOWN && r->kill_passes >= KILL_MAX_PASSES) {
    g_warning("round %u: processes survive SIGKILL (uninterruptible sleep?); giving up on them",
              r->res.round_num);
    teardown_complete(r);
    return 0;
  }
  /* Look again shortly: the KILLed processes are gone in microseconds,
   * their pidfds wake the recheck; this only catches stragglers. */
  ard_round_arm_timer(r, &r->kill_timer, KILL_RETRY_USEC, on_kill_timer, "round-kill");
  return 0;
}

/* ---- watching descendants ------------------------------------------ */

static int
on_watch_exit(sd_event_source *s, int fd, uint32_t revents, void *user_data)
{
  ArdRound *r = user_data;
  /* Drop this watch (its pidfd stays readable forever), then look again. */
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, r->watches);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    if (value == s) {
      g_hash_table_iter_remove(&it);
      break;
    }
  }
  schedule_recheck(r);
  return 0;
}

void
ard_round_drop_watch(gpointer source)
{
  sd_event_source_disable_unref(source);
}

static void
watch_pids(ArdRound *r, GArray *pids)
{
  for (guint i = 0; i < pids->len; i++) {
    pid_t pid = g_array_index(pids, pid_t, i);
    if (g_hash_table_contains(r->watches, GINT_TO_POINTER(pid)))
      continue;
    int fd = pidfd_open(pid, 0);
    if (fd < 0) {
      /* Gone between the scan and now: look again. */
      schedule_recheck(r);
      continue;
    }
    sd_event_source *s = NULL;
    int rc = sd_event_add_io(r->event, &s, fd, EPOLLIN, on_watch_exit, r);
    if (rc < 0) {
      close(fd);
      continue;
    }
    (void)sd_event_source_set_io_fd_own(s, TRUE);
    (void)sd_event_source_set_description(s, "round-descendant");
    g_hash_table_insert(r->watches, GINT_TO_POINTER(pid), s);
  }
}

/* ---- grace after the result ---------------------------------------- */

static const char *
match_ignore(ArdRound *r, const char *cmdline)
{
  if (!cmdline)
    return NULL;
  for (guint i = 0; i < r->ignore_regexes->len; i++) {
    GRegex *re = g_ptr_array_index(r->ignore_regexes, i);
    if (g_regex_match(re, cmdline, 0, NULL))
      return g_regex_get_pattern(re);
  }
  return NULL;
}

static void
add_child(JsonArray *list, pid_t pid, const char *matched)
{
  if (json_array_get_length(list) >= GRACE_LIST_MAX)
    return;
  g_autofree char *name = ard_reap_proc_name(pid);
  JsonObject *o = json_object_new();
  /* Name and pid only, never argv: the Python tool leaked secrets that
   * way (0.1.40). */
  json_object_set_string_member(o, "name", name);
  json_object_set_int_member(o, "pid", pid);
  if (matched)
    json_object_set_string_member(o, "matched", matched);
  json_array_add_object_element(list, o);
}

static void
grace_evaluate(ArdRound *r)
{
  if (r->stage != STAGE_RUNNING || r->killing)
    return;
  g_autoptr(GArray) pids = ard_reap_descendants(getpid());
  g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_autoptr(JsonArray) live_list = json_array_new();
  g_autoptr(JsonArray) ignored_list = json_array_new();
  for (guint i = 0; i < pids->len; i++) {
    pid_t pid = g_array_index(pids, pid_t, i);
    if (pid == r->pid)
      continue;
    g_autofree char *cmdline = ard_reap_proc_cmdline(pid);
    const char *matched = match_ignore(r, cmdline);
    if (matched) {
      add_child(ignored_list, pid, matched);
    } else {
      g_array_append_val(live, pid);
      add_child(live_list, pid, NULL);
    }
  }
  if (live->len == 0) {
    r->grace_waiting = FALSE;
    r->res.grace_killed = TRUE;
    begin_kill(r);
    return;
  }
  if (!r->grace_extended_emitted) {
    r->grace_extended_emitted = TRUE;
    g_autoptr(JsonNode) ln = json_node_init_array(json_node_alloc(), live_list);
    g_autoptr(JsonNode) in = json_node_init_array(json_node_alloc(), ignored_list);
    ar_emit(r->emitter, "round_grace_extended", AR_EV_I("round_num", r->res.round_num),
            AR_EV_D("grace_s", r->cfg->max_grace_after_result_s), AR_EV_N("live_children", ln),
            AR_EV_N("ignored_children", in), NULL);
  }
  /* No polling: each live worker's pidfd wakes the next look. */
  r->grace_waiting = TRUE;
  watch_pids(r, live);
}

static int
on_grace_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  grace_evaluate(user_data);
  return 0;
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *user_data);

static void after_lines(ArdRound *r);

void
ard_round_on_line(const char *line, gsize len, gboolean truncated, gpointer user_data)
{
  ArdRound *r = user_data;
  ar_classifier_feed_line(r->classifier, line, len, ard_round_now_mono(r));
  ard_repetition_feed(r->repetition, r->emitter, line, len);
  after_lines(r);
}

gsize
ard_round_on_lines(const char *data, gsize len, gpointer user_data)
{
  ArdRound *r = user_data;
  /* The repetition detector (anomaly_repetitive_*, off by default) reads
   * every line: with it on, lines take the one-by-one path. */
  if (r->repetition)
    return 0;
  gsize took =
      ar_classifier_feed_lines_fast(r->classifier, data, len, ARD_LINE_MAX, ard_round_now_mono(r));
  if (took > 0)
    after_lines(r);
  return took;
}

/* What the classifier saw may start a defense's timer. */
static void
after_lines(ArdRound *r)
{
  gint64 since = 0;
  if (!r->retry_timer && r->cfg->retry_loop_timeout_s > 0 && r->stage == STAGE_RUNNING &&
      ar_classifier_retry_loop(r->classifier, &since)) {
    gint64 deadline = since + (gint64)r->cfg->retry_loop_timeout_s * G_USEC_PER_SEC;
    ard_round_arm_timer(r, &r->retry_timer, (uint64_t)MAX(deadline - ard_round_now_mono(r), 0),
                        on_retry_timer, "round-retry-loop");
  }
  if (!r->grace_armed && r->cfg->max_grace_after_result_s > 0 && r->stage == STAGE_RUNNING &&
      ar_classifier_saw_result(r->classifier)) {
    r->grace_armed = TRUE;
    ard_round_arm_timer(r, &r->grace_timer,
                        (uint64_t)r->cfg->max_grace_after_result_s * G_USEC_PER_SEC, on_grace_timer,
                        "round-grace");
  }
}

/* ---- stalls: silence, the CLI's own retry loop ----------------------- */

static void
stall(ArdRound *r, const char *reason, double silent_s)
{
  if (r->stage != STAGE_RUNNING || r->killing)
    return;
  r->res.stalled = TRUE;
  ar_emit(r->emitter, "round_stalled", AR_EV_I("round_num", r->res.round_num),
          AR_EV_S("reason", reason), AR_EV_D("silent_s", silent_s), NULL);
  begin_kill(r);
}

/* Fires idle_timeout_s after the last output it knows of; output since
 * then only moves the deadline (re-armed here, never per read). */
int
ard_round_on_idle_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdRound *r = user_data;
  if (r->stage != STAGE_RUNNING)
    return 0;
  gint64 now = ard_round_now_mono(r);
  gint64 last = r->output ? ard_output_get_last_write_us(r->output) : 0;
  if (last < r->started_mono_us)
    last = r->started_mono_us;
  gint64 limit = (gint64)r->cfg->idle_timeout_s * G_USEC_PER_SEC;
  if (now - last >= limit) {
    g_autofree char *reason =
        g_strdup_printf("no output for idle_timeout_s=%u", r->cfg->idle_timeout_s);
    stall(r, reason, (now - last) / 1e6);
    return 0;
  }
  ard_round_arm_timer(r, &r->idle_timer, (uint64_t)(last + limit - now), ard_round_on_idle_timer,
                      "round-idle");
  return 0;
}

static int
on_retry_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdRound *r = user_data;
  if (r->stage != STAGE_RUNNING)
    return 0;
  gint64 since = 0;
  gint64 now = ard_round_now_mono(r);
  gint64 limit = (gint64)r->cfg->retry_loop_timeout_s * G_USEC_PER_SEC;
  if (!ar_classifier_retry_loop(r->classifier, &since)) {
    /* The loop ended (progress): the next retry line arms us again. */
    disarm(&r->retry_timer);
    return 0;
  }
  if (now - since >= limit) {
    g_autofree char *reason = g_strdup_printf(
        "agent retry loop longer than retry_loop_timeout_s=%u", r->cfg->retry_loop_timeout_s);
    stall(r, reason, (now - since) / 1e6);
    return 0;
  }
  /* A new loop began since we were armed. */
  ard_round_arm_timer(r, &r->retry_timer, (uint64_t)(since + limit - now), on_retry_timer,
                      "round-retry-loop");
  return 0;
}

/* ---- timeout, progress ---------------------------------------------- */

int
ard_round_on_timeout(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdRound *r = user_data;
  if (r->stage != STAGE_RUNNING || r->killing)
    return 0;
  r->res.timed_out = TRUE;
  begin_kill(r);
  return 0;
}

int
ard_round_on_progress(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdRound *r = user_data;
  if (r->stage != STAGE_RUNNING)
    return 0;
  gint64 now = ard_round_now_mono(r);
  double wall = (now - r->started_mono_us) / 1e6;
  gint64 last = r->output ? ard_output_get_last_write_us(r->output) : 0;
  double silent = last > 0 ? (now - last) / 1e6 : wall;
  guint64 bytes = r->output ? ard_output_get_bytes(r->output) : 0;
  ar_emit(r->emitter, "round_progress", AR_EV_I("round_num", r->res.round_num),
          AR_EV_I("log_size_kb", bytes / 1024), AR_EV_D("last_write_age_s", silent),
          AR_EV_D("wall_age_s", wall), NULL);
  ard_round_arm_timer(r, &r->progress_timer,
                      (uint64_t)r->cfg->round_progress_interval_s * G_USEC_PER_SEC,
                      ard_round_on_progress, "round-progress");
  return 0;
}

/* ---- teardown ------------------------------------------------------- */

static int
on_drain_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdRound *r = user_data;
  if (r->output)
    ard_output_drain_and_close(r->output);
  ard_round_schedule_finish(r);
  return 0;
}

static void
teardown_complete(ArdRound *r)
{
  if (r->teardown_done)
    return;
  r->teardown_done = TRUE;
  disarm(&r->kill_timer);
  /* Empty by now (every descendant is gone): only the directory is left. */
  if (r->cgroup)
    (void)ard_cgroup_kill_remove(r->cgroup, 100 * 1000);
  g_hash_table_remove_all(r->watches);
  if (!r->output || ard_output_is_eof(r->output))
    ard_round_schedule_finish(r);
  else
    ard_round_arm_timer(r, &r->drain_timer, DRAIN_USEC, on_drain_timer, "round-drain");
}

/* The agent is gone. Whatever it left behind in the daemon's subtree is
 * this round's and dies with it: TERM, KILL after the grace. */
static void
teardown_evaluate(ArdRound *r)
{
  if (r->stage != STAGE_TEARDOWN || r->teardown_done)
    return;
  g_autoptr(GArray) pids = ard_reap_descendants(getpid());
  if (pids->len == 0) {
    teardown_complete(r);
    return;
  }
  if (!r->killing) {
    /* The agent exited on its own and left these behind: say so, or the
     * kill shows only as a longer duration_s. (Timeouts, cancels and the
     * grace kill have their own events.) */
    g_autoptr(JsonNode) list = ard_leftovers_describe(pids);
    ar_emit(r->emitter, "round_leftovers_killed", AR_EV_I("round_num", r->res.round_num),
            AR_EV_I("count", pids->len), AR_EV_N("processes", list),
            AR_EV_B("after_restart", FALSE), NULL);
    r->killing = TRUE;
    ard_reap_signal_descendants(getpid(), 0, SIGTERM);
    ard_round_arm_timer(r, &r->kill_timer, ARD_KILL_GRACE_USEC, on_kill_timer, "round-kill");
  } else if (r->kill_passes > 0) {
    ard_reap_signal_descendants(getpid(), 0, SIGKILL);
  }
  watch_pids(r, pids);
}

static int
on_recheck(sd_event_source *s, void *user_data)
{
  ArdRound *r = user_data;
  if (r->stage == STAGE_TEARDOWN)
    teardown_evaluate(r);
  else if (r->stage == STAGE_RUNNING && r->grace_waiting)
    grace_evaluate(r);
  return 0;
}

static void
schedule_recheck(ArdRound *r)
{
  if (r->recheck_defer) {
    (void)sd_event_source_set_enabled(r->recheck_defer, SD_EVENT_ONESHOT);
    return;
  }
  if (sd_event_add_defer(r->event, &r->recheck_defer, on_recheck, r) >= 0) {
    (void)sd_event_source_set_enabled(r->recheck_defer, SD_EVENT_ONESHOT);
    (void)sd_event_source_set_description(r->recheck_defer, "round-recheck");
  }
}

void
ard_round_on_output_eof(ArdOutput *out, gpointer user_data)
{
  ArdRound *r = user_data;
  if (r->teardown_done) {
    disarm(&r->drain_timer);
    ard_round_schedule_finish(r);
  }
}

int
ard_round_on_agent_exit(sd_event_source *s, const siginfo_t *si, void *user_data)
{
  ArdRound *r = user_data;
  int status = 0;
  struct rusage ru = { 0 };
  /* Reap it here, inside the callback (sd-event reaps after the callback
   * returns otherwise): wait4() is the one call that returns the rusage of
   * exactly this child and of the descendants it waited for. */
  pid_t got = wait4(r->pid, &status, WNOHANG, &ru);
  if (got == r->pid) {
    r->wait_status = status;
    r->ru = ru;
  } else {
    /* Reaped elsewhere (should not happen): fall back to the siginfo. */
    r->wait_status = si->si_code == CLD_EXITED ? W_EXITCODE(si->si_status, 0) : si->si_status;
  }
  r->pid = 0;
  r->stage = STAGE_TEARDOWN;
  disarm(&r->timeout_timer);
  disarm(&r->grace_timer);
  disarm(&r->progress_timer);
  disarm(&r->idle_timer);
  disarm(&r->retry_timer);
  r->grace_waiting = FALSE;
  /* Orphans that died while the agent's zombie blocked the reaper. */
  ard_reap_orphans(0);
  teardown_evaluate(r);
  return 0;
}

/* ---- the end ------------------------------------------------------- */

/* The git work-tree check after the agent exit (dirty_detected, orphan
 * stash or auto-commit per [vcs] dirty_action) runs in a thread
 * (ard-vcs.c); its events come between agent_exit and the kill events, as
 * the Python tool's order has it. */
static void finish_after_vcs(ArdVcsJob *job, gpointer user_data);

static void
compute_result(ArdRound *r)
{
  ArdRoundResult *res = &r->res;
  gint64 now = ard_round_now_mono(r);
  res->ended_realtime_us = g_get_real_time();
  res->duration_s = r->started_mono_us ? (now - r->started_mono_us) / 1e6 : 0;
  int exit_status = 0;
  if (res->spawn_failed) {
    res->exit_code = SPAWN_FAILED_EXIT;
    exit_status = SPAWN_FAILED_EXIT;
  } else if (WIFSIGNALED(r->wait_status)) {
    res->term_signal = WTERMSIG(r->wait_status);
    res->exit_code = -res->term_signal;
  } else {
    exit_status = WEXITSTATUS(r->wait_status);
    res->exit_code = exit_status;
  }
  /* Precedence of the Python tool (timeout > signal > clean > error), with
   * grace-after-result told apart from a timeout. */
  if (res->grace_killed) {
    res->exit_cause = "grace";
  } else if (res->timed_out || res->stalled) {
    /* A stall ends the round like a timeout; round_stalled says why. */
    res->exit_cause = "timeout";
  } else if (res->term_signal) {
    res->exit_cause_owned = g_strdup_printf("signal:%s", ard_reap_signal_name(res->term_signal));
    res->exit_cause = res->exit_cause_owned;
  } else {
    res->exit_cause = exit_status == 0 ? "clean" : "error";
  }
  res->cpu_user_s = r->ru.ru_utime.tv_sec + r->ru.ru_utime.tv_usec / 1e6;
  res->cpu_sys_s = r->ru.ru_stime.tv_sec + r->ru.ru_stime.tv_usec / 1e6;
  res->max_rss_kb = r->ru.ru_maxrss; /* Linux: kilobytes */
  if (r->output) {
    res->output_bytes = ard_output_get_bytes(r->output);
    res->truncated_lines = ard_output_get_scanner(r->output)->truncated_lines;
  }
  ar_classifier_finish(r->classifier, exit_status, res->term_signal,
                       res->timed_out || res->grace_killed || res->stalled, res->stalled,
                       &res->classification);
  ard_detect_auth_patterns(r->cfg, ard_round_dialect(r->cfg), res->transcript_path, exit_status,
                           res->timed_out || res->grace_killed || res->stalled || res->term_signal,
                           res->duration_s, &res->classification);
  res->outcome = res->cancelled ? "cancelled" : ar_outcome_to_string(res->classification.outcome);
}

/* agent_network_blip (right after agent_exit, as the Python tool has it):
 * a network outcome of an agent that failed or that the daemon ended; not
 * when something else killed it (a signal death says nothing about the
 * network, whatever the output held before). */
static void
emit_network_blip(ArdRound *r)
{
  ArdRoundResult *res = &r->res;
  gboolean ended_by_us = res->timed_out || res->grace_killed || res->stalled;
  if (res->cancelled || res->classification.outcome != AR_OUTCOME_NETWORK ||
      (res->term_signal && !ended_by_us))
    return;
  ar_emit(r->emitter, "agent_network_blip", AR_EV_I("round_num", res->round_num),
          AR_EV_S("phase", res->phase),
          AR_EV_S("matched", res->classification.evidence ? res->classification.evidence : ""),
          AR_EV_D("round_duration_s", res->duration_s), AR_EV_I("exit_code", res->exit_code),
          AR_EV_B("timed_out", ended_by_us), NULL);
}

static int
on_finish(sd_event_source *s, void *user_data)
{
  ArdRound *r = user_data;
  if (r->stage == STAGE_FINISHED)
    return 0;
  r->stage = STAGE_FINISHED;
  disarm(&r->drain_timer);
  disarm(&r->kill_timer);
  if (r->output && !ard_output_is_eof(r->output))
    ard_output_drain_and_close(r->output);
  compute_result(r);
  ArdRoundResult *res = &r->res;
  ar_emit(r->emitter, "agent_exit", AR_EV_I("round_num", res->round_num),
          AR_EV_I("exit_code", res->exit_code), AR_EV_D("duration_s", res->duration_s),
          AR_EV_B("timed_out", res->timed_out || res->grace_killed || res->stalled),
          AR_EV_S("exit_cause", res->exit_cause), AR_EV_D("cpu_user_s", res->cpu_user_s),
          AR_EV_D("cpu_sys_s", res->cpu_sys_s), AR_EV_I("max_rss_kb", res->max_rss_kb), NULL);
  emit_network_blip(r);
  /* A clean exit is the only one whose dirty tree gets the dirty action:
   * after a crash or a kill the tree is reported and left as it is. */
  gboolean clean = !res->spawn_failed && !res->cancelled && res->exit_code == 0 &&
                   !res->timed_out && !res->grace_killed && !res->stalled;
  g_autoptr(GError) error = NULL;
  r->vcs_job = ard_vcs_job_start(r->event, r->cfg, res->round_num, res->phase, clean,
                                 finish_after_vcs, r, &error);
  if (!r->vcs_job) {
    g_warning("round %u: %s; its git work is skipped", res->round_num, error->message);
    finish_after_vcs(NULL, r);
  }
  return 0;
}

static void
on_post_hooks_done(ArdHookBatch *batch, gpointer user_data)
{
  ArdRound *r = user_data;
  g_autoptr(ArdHookBatch) owned = g_steal_pointer(&r->hooks);
  g_free(ard_hooks_emit(r->emitter, r->cfg, ard_hook_batch_get_results(owned), r->res.round_num,
                        r->res.phase, NULL));
  /* Last: the callee may free the round. */
  r->done(r, r->user_data);
}

/* The round's result as post-round hooks read it (docs/hooks.md). */
static JsonObject *
result_object(ArdRound *r)
{
  ArdRoundResult *res = &r->res;
  JsonObject *o = json_object_new();
  g_autofree char *started = ar_utc_iso_ms(res->started_realtime_us);
  g_autofree char *ended = ar_utc_iso_ms(res->ended_realtime_us);
  json_object_set_int_member(o, "round_num", res->round_num);
  if (res->phase)
    json_object_set_string_member(o, "phase", res->phase);
  else
    json_object_set_null_member(o, "phase");
  json_object_set_string_member(o, "started_at", started);
  json_object_set_string_member(o, "ended_at", ended);
  json_object_set_int_member(o, "exit_code", res->exit_code);
  json_object_set_double_member(o, "duration_s", res->duration_s);
  json_object_set_boolean_member(o, "timed_out", res->timed_out || res->stalled);
  json_object_set_boolean_member(o, "killed_for_grace", res->grace_killed);
  json_object_set_string_member(o, "exit_cause", res->exit_cause);
  json_object_set_string_member(o, "outcome", res->outcome);
  json_object_set_string_member(o, "log_path", res->transcript_path);
  JsonNode *files = r->vcs_job ? ard_vcs_job_dirty_files(r->vcs_job) : NULL;
  json_object_set_member(o, "dirty_files",
                         files ? files : json_node_init_array(json_node_alloc(), json_array_new()));
  return o;
}

static void
run_post_round_hooks(ArdRound *r)
{
  g_autoptr(GPtrArray) hooks = ar_config_hooks(r->cfg, r->res.phase, AR_HOOK_POST_ROUND);
  if (hooks->len == 0) {
    /* Last: the callee may free the round. */
    r->done(r, r->user_data);
    return;
  }
  g_autoptr(JsonObject) input =
      ard_hooks_input_new(r->cfg, AR_HOOK_POST_ROUND, r->res.round_num, r->res.phase);
  json_object_set_object_member(input, "result", result_object(r));
  g_autoptr(GError) error = NULL;
  r->hooks =
      ard_hooks_start(r->event, r->cfg, AR_HOOK_POST_ROUND, hooks, (const char *const *)r->base_env,
                      r->res.round_num, r->res.phase, input, NULL, on_post_hooks_done, r, &error);
  if (!r->hooks) {
    g_warning("round %u: %s; its post_round hooks are skipped", r->res.round_num, error->message);
    /* Last: the callee may free the round. */
    r->done(r, r->user_data);
  }
}

static void
finish_after_vcs(ArdVcsJob *job, gpointer user_data)
{
  ArdRound *r = user_data;
  ArdRoundResult *res = &r->res;
  if (job)
    ard_vcs_job_emit(job, r->emitter);
  if (res->grace_killed) {
    g_autoptr(JsonNode) empty = json_node_init_array(json_node_alloc(), json_array_new());
    ar_emit(r->emitter, "round_grace_kill", AR_EV_I("round_num", res->round_num),
            AR_EV_D("grace_s", r->cfg->max_grace_after_result_s), AR_EV_N("live_children", empty),
            NULL);
  } else if (res->timed_out) {
    g_autofree char *reason = g_strdup_printf("exceeded round_timeout_s=%u", r->timeout_s);
    ar_emit(r->emitter, "round_timeout_kill", AR_EV_I("round_num", res->round_num),
            AR_EV_S("reason", reason), NULL);
  }
  run_post_round_hooks(r);
}

void
ard_round_schedule_finish(ArdRound *r)
{
  if (r->finish_defer || r->stage == STAGE_FINISHED)
    return;
  /* Always from a dispatch of its own: the caller may be the output
   * reader or a timer whose objects the done callback frees. */
  if (sd_event_add_defer(r->event, &r->finish_defer, on_finish, r) >= 0) {
    (void)sd_event_source_set_enabled(r->finish_defer, SD_EVENT_ONESHOT);
    (void)sd_event_source_set_description(r->finish_defer, "round-finish");
  } else {
    /* Without a dispatch the round can never end: leave the event loop as
     * an internal failure (the unit restarts us, and the next start ends
     * what the round left running). */
    g_warning("cannot schedule the end of round %u", r->res.round_num);
    (void)sd_event_exit(r->event, AR_EXIT_FAILURE);
  }
}

void
ard_round_cancel(ArdRound *r)
{
  if (r->stage != STAGE_RUNNING || r->res.cancelled)
    return;
  r->res.cancelled = TRUE;
  ar_emit(r->emitter, "round_cancelled", AR_EV_I("round_num", r->res.round_num), NULL);
  if (r->hooks) {
    /* Its hooks run, the agent does not yet: end them; the round ends
     * when their worker reports back. */
    ard_reap_signal_descendants(getpid(), 0, SIGKILL);
    return;
  }
  r->grace_waiting = FALSE;
  begin_kill(r);
}

void
ard_round_child_exited(ArdRound *r)
{
  if (r->stage == STAGE_TEARDOWN || r->grace_waiting)
    schedule_recheck(r);
}

void
ard_round_free(ArdRound *r)
{
  if (!r)
    return;
  if (r->pid > 0) {
    /* Freed while the agent runs (daemon exiting on an internal error):
     * it must not outlive its supervisor. */
    (void)kill(-r->pgid, SIGKILL);
    (void)waitpid(r->pid, NULL, 0);
  }
  disarm(&r->child_source);
  disarm(&r->timeout_timer);
  disarm(&r->grace_timer);
  disarm(&r->idle_timer);
  disarm(&r->retry_timer);
  disarm(&r->kill_timer);
  disarm(&r->progress_timer);
  disarm(&r->drain_timer);
  disarm(&r->recheck_defer);
  disarm(&r->finish_defer);
  g_clear_pointer(&r->watches, g_hash_table_unref);
  g_clear_pointer(&r->output, ard_output_free);
  g_clear_pointer(&r->stdin_writer, ard_stdin_writer_free);
  g_clear_pointer(&r->classifier, ar_classifier_free);
  g_clear_pointer(&r->repetition, ard_repetition_free);
  g_clear_pointer(&r->vcs_job, ard_vcs_job_free);
  g_clear_pointer(&r->ignore_regexes, g_ptr_array_unref);
  g_clear_pointer(&r->hooks, ard_hook_batch_free);
  g_clear_pointer(&r->context, json_object_unref);
  g_strfreev(r->base_env);
  g_strfreev(r->secret_env);
  ar_fd_close(&r->transcript_fd);
  ar_classification_clear(&r->res.classification);
  g_free(r->res.phase);
  g_free(r->res.transcript_path);
  g_free(r->res.exit_cause_owned);
  g_free(r->token);
  g_free(r->cgroup);
  ar_config_unref(r->cfg);
  ar_emitter_unref(r->emitter);
  sd_event_unref(r->event);
  g_free(r);
}

ArdVcsJob *
ard_round_get_vcs_job(const ArdRound *r)
{
  return r->vcs_job;
}

const ArdRoundResult *
ard_round_get_result(const ArdRound *r)
{
  return &r->res;
}

JsonNode *
ard_round_leftovers_record(const ArdRound *r)
{
  JsonNode *rec = r->pid > 0 ? ard_leftovers_record(r->res.round_num, r->pid, r->token) : NULL;
  if (rec && r->cgroup)
    json_object_set_string_member(json_node_get_object(rec), "cgroup", r->cgroup);
  return rec;
}

pid_t
ard_round_get_agent_pid(const ArdRound *r)
{
  return r->pid;
}

gint64
ard_round_get_started_realtime_us(const ArdRound *r)
{
  return r->res.started_realtime_us;
}

const char *
ard_round_get_transcript_path(const ArdRound *r)
{
  return r->res.transcript_path;
}

gboolean
ard_round_is_finished(const ArdRound *r)
{
  return r->stage == STAGE_FINISHED;
}

void
ard_round_rearm_defenses(ArdRound *r)
{
  after_lines(r);
}
