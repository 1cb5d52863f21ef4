/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* A running round across an upgrade in place (ard-upgrade.c). The old
 * image describes it (agent pid, fds, times, timers as absolute
 * deadlines, the classifier's clock) and keeps the output pipe and the
 * transcript open across execve; the new image builds the same round
 * around them. The agent is never touched: it stays our child (same PID),
 * so its pidfd and wait4() work in the new image, rusage included.
 *
 * The classifier is not serialized: every byte the old image read from
 * the pipe is in the transcript, so the new image feeds the transcript
 * again into a fresh classifier and line scanner (which then hold a
 * partial last line exactly as before), and restores the few arrival
 * times the classifier keeps. Only the plain running stage is handed
 * over; hooks, a grace period, a kill in progress or a prompt still being
 * written wait for the round's end instead. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-json.h"
#include "ar-util.h"
#include "ard-fault.h"
#include "ard-round-adopt.h"
#include "ard-round-private.h"

/* The absolute CLOCK_MONOTONIC time a one-shot timer fires at; 0: off. */
static gint64
deadline_of(sd_event_source *s)
{
  int enabled = SD_EVENT_OFF;
  uint64_t usec = 0;
  if (!s || sd_event_source_get_enabled(s, &enabled) < 0 || enabled == SD_EVENT_OFF ||
      sd_event_source_get_time(s, &usec) < 0)
    return 0;
  return (gint64)usec;
}

gboolean
ard_round_can_hand_over(const ArdRound *r, const char **why)
{
  int pipe_fd = -1, transcript_fd = -1;
  const char *reason = NULL;
  if (r->stage != STAGE_RUNNING || r->pid <= 0)
    reason = "the agent has exited";
  else if (r->hooks)
    reason = "hooks are running";
  else if (r->killing || r->res.cancelled)
    reason = "the agent is being ended";
  else if (r->grace_armed)
    reason = "the agent printed its result";
  else if (r->stdin_writer && !ard_stdin_writer_is_done(r->stdin_writer))
    reason = "the prompt is still being written";
  else if (!r->output || !ard_output_get_fds(r->output, &pipe_fd, &transcript_fd))
    reason = "its output has ended";
  if (why)
    *why = reason;
  return reason == NULL;
}

static void
set_fds_inherited(ArdRound *r, gboolean keep)
{
  int pipe_fd = -1, transcript_fd = -1;
  if (!r->output)
    return;
  (void)ard_output_get_fds(r->output, &pipe_fd, &transcript_fd);
  for (int i = 0; i < 2; i++) {
    int fd = i == 0 ? pipe_fd : transcript_fd;
    int flags = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
    if (flags >= 0)
      (void)fcntl(fd, F_SETFD, keep ? (flags & ~FD_CLOEXEC) : (flags | FD_CLOEXEC));
  }
}

JsonNode *
ard_round_handover_save(ArdRound *r, gboolean keep_fds)
{
  if (!ard_round_can_hand_over(r, NULL))
    return NULL;
  int pipe_fd = -1, transcript_fd = -1;
  (void)ard_output_get_fds(r->output, &pipe_fd, &transcript_fd);
  ArClassifierClock clock;
  ar_classifier_get_clock(r->classifier, &clock);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", r->res.round_num);
  if (r->res.phase)
    ar_json_add_str(b, "phase", r->res.phase);
  ar_json_add_int(b, "started_realtime_us", r->res.started_realtime_us);
  ar_json_add_int(b, "started_mono_us", r->started_mono_us);
  ar_json_add_int(b, "timeout_s", r->timeout_s);
  ar_json_add_int(b, "pid", r->pid);
  ar_json_add_int(b, "pgid", r->pgid);
  ar_json_add_str(b, "token", r->token);
  if (r->cgroup)
    ar_json_add_str(b, "cgroup", r->cgroup);
  ar_json_add_str(b, "transcript_path", r->res.transcript_path);
  ar_json_add_int(b, "pipe_fd", pipe_fd);
  ar_json_add_int(b, "transcript_fd", transcript_fd);
  ar_json_add_int(b, "output_bytes", (gint64)ard_output_get_bytes(r->output));
  ar_json_add_int(b, "last_write_us", ard_output_get_last_write_us(r->output));
  ar_json_add_int(b, "first_line_us", clock.first_line_us);
  ar_json_add_int(b, "retry_since_us", clock.retry_since_us);
  ar_json_add_int(b, "usage_duration_ms", clock.duration_ms);
  ar_json_add_int(b, "timeout_at_us", deadline_of(r->timeout_timer));
  ar_json_add_int(b, "idle_at_us", deadline_of(r->idle_timer));
  ar_json_add_int(b, "progress_at_us", deadline_of(r->progress_timer));
  json_builder_end_object(b);
  if (keep_fds)
    set_fds_inherited(r, TRUE);
  return json_builder_get_root(b);
}

void
ard_round_handover_abort(ArdRound *r)
{
  set_fds_inherited(r, FALSE);
}

/* ---- the new image ------------------------------------------------------ */

/* The lines the old image saw: into the classifier (and the repetition
 * detector, whose events went out already), with no timer and no event. */
static void
replay_line(const char *line, gsize len, gboolean truncated, gpointer user_data)
{
  ArdRound *r = user_data;
  ar_classifier_feed_line(r->classifier, line, len, ard_output_get_last_write_us(r->output));
  ard_repetition_feed(r->repetition, NULL, line, len);
}

static gsize
replay_lines(const char *data, gsize len, gpointer user_data)
{
  ArdRound *r = user_data;
  if (r->repetition)
    return 0;
  return ar_classifier_feed_lines_fast(r->classifier, data, len, ARD_LINE_MAX,
                                       ard_output_get_last_write_us(r->output));
}

static int
dup_inherited(JsonObject *doc, const char *member, GError **error)
{
  gint64 fd = ar_json_int(doc, member, NULL);
  if (fd < 3 || fd > G_MAXINT || fcntl((int)fd, F_GETFD) < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the round's %s (%d) did not survive the exec"), member, (int)fd);
    return -1;
  }
  /* A duplicate: the inherited number stays as it was for a rollback
   * until the hand-over is complete (ard_round_adopt_close_inherited). */
  int copy = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0)
    ar_set_error_errno(error, errno, "dup %s", member);
  return copy;
}

/* Arm slot at an absolute deadline of the old image (0: it was off). */
static void
arm_at(ArdRound *r, sd_event_source **slot, gint64 at_us, sd_event_time_handler_t handler,
       const char *description)
{
  if (at_us <= 0)
    return;
  gint64 now = ard_round_now_mono(r);
  ard_round_arm_timer(r, slot, (uint64_t)MAX(at_us - now, 0), handler, description);
}

static gboolean
adopt_agent(ArdRound *r, GError **error)
{
  /* Still ours and not reaped: waitid without reaping (WNOWAIT). */
  siginfo_t si = { 0 };
  if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("the agent (pid %d) is not our child: %s"),
                (int)r->pid, g_strerror(errno));
    return FALSE;
  }
  int pidfd = pidfd_open(r->pid, 0);
  if (pidfd < 0)
    return ar_set_error_errno(error, errno, "pidfd_open %d", (int)r->pid);
  int rc = sd_event_add_child_pidfd(r->event, &r->child_source, pidfd, WEXITED,
                                    ard_round_on_agent_exit, r);
  if (rc < 0) {
    close(pidfd);
    return ar_set_error_errno(error, -rc, "sd_event_add_child_pidfd");
  }
  (void)sd_event_source_set_child_pidfd_own(r->child_source, TRUE);
  (void)sd_event_source_set_description(r->child_source, "agent");
  return TRUE;
}

ArdRound *
ard_round_adopt(const ArdRoundParams *p, JsonObject *doc, ArdRoundDoneFunc done, gpointer user_data,
                GError **error)
{
  g_autoptr(ArdRound) r = g_new0(ArdRound, 1);
  r->event = sd_event_ref(p->event);
  r->emitter = ar_emitter_ref(p->emitter);
  r->cfg = ar_config_ref(p->cfg);
  r->done = done;
  r->user_data = user_data;
  r->watches = g_hash_table_new_full(NULL, NULL, NULL, ard_round_drop_watch);
  r->transcript_fd = -1;
  r->res.round_num = p->round_num;
  r->res.phase = g_strdup(p->phase);
  r->res.started_realtime_us = ar_json_int(doc, "started_realtime_us", NULL);
  r->res.transcript_path = g_strdup(ar_json_str(doc, "transcript_path"));
  r->started_mono_us = ar_json_int(doc, "started_mono_us", NULL);
  r->timeout_s = (guint)ar_json_int(doc, "timeout_s", NULL);
  r->token = g_strdup(ar_json_str(doc, "token"));
  r->cgroup = g_strdup(ar_json_str(doc, "cgroup"));
  r->base_env = g_strdupv((GStrv)p->base_env);
  r->classifier = ar_classifier_new(ard_round_dialect(r->cfg));
  r->repetition = ard_repetition_new(r->cfg, ard_round_dialect(r->cfg), p->round_num);
  r->ignore_regexes = g_ptr_array_new_with_free_func((GDestroyNotify)g_regex_unref);
  for (guint i = 0; r->cfg->grace_kill_ignore_patterns && r->cfg->grace_kill_ignore_patterns[i];
       i++) {
    GRegex *re = g_regex_new(r->cfg->grace_kill_ignore_patterns[i], G_REGEX_OPTIMIZE, 0, NULL);
    if (re)
      g_ptr_array_add(r->ignore_regexes, re);
  }
  pid_t pid = (pid_t)ar_json_int(doc, "pid", NULL);
  if (pid <= 0 || !r->res.transcript_path || !r->token) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the handed-over round %u names no agent, transcript or token"), p->round_num);
    return NULL;
  }
  int pipe_fd = dup_inherited(doc, "pipe_fd", error);
  if (pipe_fd < 0)
    return NULL;
  int transcript_fd = dup_inherited(doc, "transcript_fd", error);
  if (transcript_fd < 0) {
    close(pipe_fd);
    return NULL;
  }
  r->output = ard_output_new(r->event, pipe_fd, transcript_fd, ard_round_on_line,
                             ard_round_on_output_eof, r, error);
  if (!r->output)
    return NULL;
  guint64 bytes = (guint64)ar_json_int(doc, "output_bytes", NULL);
  gint64 last_write_us = ar_json_int(doc, "last_write_us", NULL);
  ard_output_restore(r->output, bytes, last_write_us);
  if (!ard_output_replay(r->output, bytes, replay_line, replay_lines, r, error))
    return NULL;
  ard_output_set_bulk(r->output, ard_round_on_lines);
  ArClassifierClock clock = {
    .first_line_us = ar_json_int(doc, "first_line_us", NULL),
    .retry_since_us = ar_json_int(doc, "retry_since_us", NULL),
    .duration_ms = ar_json_int(doc, "usage_duration_ms", NULL),
  };
  ar_classifier_set_clock(r->classifier, &clock);

  if (ard_fault("fail-adopt")) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                "test fault " ARD_FAULT_ENV "=fail-adopt: refusing the round");
    return NULL;
  }
  /* Last: from here the round owns the agent (freeing r would end it). */
  r->pid = pid;
  r->pgid = (pid_t)ar_json_int(doc, "pgid", NULL);
  if (!adopt_agent(r, error)) {
    r->pid = 0;
    return NULL;
  }
  arm_at(r, &r->timeout_timer, ar_json_int(doc, "timeout_at_us", NULL), ard_round_on_timeout,
         "round-timeout");
  /* The config is read again by the new image (as a reload would): a
   * defense turned off in the file since is not armed again. */
  if (r->cfg->idle_timeout_s > 0)
    arm_at(r, &r->idle_timer, ar_json_int(doc, "idle_at_us", NULL), ard_round_on_idle_timer,
           "round-idle");
  if (r->cfg->round_progress_interval_s > 0)
    arm_at(r, &r->progress_timer, ar_json_int(doc, "progress_at_us", NULL), ard_round_on_progress,
           "round-progress");
  /* The retry-loop timer from the restored arrival time of the loop. */
  ard_round_rearm_defenses(r);
  return g_steal_pointer(&r);
}

gboolean
ard_round_handover_check(JsonObject *doc, GError **error)
{
  if (ar_json_int(doc, "pid", NULL) <= 0 || ar_json_int(doc, "round_num", NULL) <= 0 ||
      !ar_json_str(doc, "transcript_path") || !ar_json_str(doc, "token")) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the handed-over round names no round number, agent, transcript or token"));
    return FALSE;
  }
  return TRUE;
}

void
ard_round_adopt_close_inherited(JsonObject *doc, gboolean close_them)
{
  static const char *const members[] = { "pipe_fd", "transcript_fd" };
  for (gsize i = 0; i < G_N_ELEMENTS(members); i++) {
    gint64 fd = ar_json_int(doc, members[i], NULL);
    if (fd < 3 || fd > G_MAXINT)
      continue;
    if (close_them) {
      close((int)fd);
    } else {
      int flags = fcntl((int)fd, F_GETFD);
      if (flags >= 0)
        (void)fcntl((int)fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
  }
}
