/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n.h>

#include "ar-util.h"
#include "arm-monitor.h"

/* The detector table: the Python tool's eleven (same names, thresholds and
 * config keys, python-tool-reference §4.2), the daemon's own stops as
 * immediate critical alerts, and no_progress. Each is a pure function of
 * the project's incremental state (arm-project.c) and its config's
 * thresholds, evaluated after every event, host sample or deadline;
 * arm-alerts.c turns changes of the answer into alerts, so a moving value
 * (elapsed time, a fill level) never alerts twice. */

#define RATE_THRESHOLD    0.2 /* share of the last 10 exits */
#define ORPHAN_STREAK     3
#define REPETITIVE_ROUNDS 5   /* anomaly_repetitive_tool within the last 5 rounds */
#define HUNG_FACTOR       1.5 /* of the round timeout */

const char *
arm_severity_name(ArmSeverity sev)
{
  static const char *const names[] = { "info", "warning", "critical" };
  return names[sev];
}

/* ---- effective thresholds ---------------------------------------------- */

static guint
hung_threshold_s(ArmProject *p)
{
  guint timeout = p->cfg ? ar_config_round_timeout(p->cfg, p->round_phase) : 3600;
  return (guint)(timeout * HUNG_FACTOR);
}

static guint
stale_threshold_s(ArmProject *p)
{
  if (!p->cfg)
    return 0;
  if (p->cfg->supervisor_stale_threshold_s >= 0)
    return (guint)p->cfg->supervisor_stale_threshold_s;
  return (guint)(p->cfg->round_timeout_s * HUNG_FACTOR);
}

static guint
no_progress_rounds(ArmProject *p)
{
  return p->cfg ? p->cfg->no_progress_rounds : 0;
}

/* ---- the detectors ------------------------------------------------------ */

static guint
count_exits(ArmProject *p, gsize field_offset)
{
  guint n = 0;
  for (guint i = 0; i < p->n_exits; i++) {
    const ArmExit *e = &p->exits[(p->exits_head + i) % ARM_EXIT_WINDOW];
    n += G_STRUCT_MEMBER(gboolean, e, field_offset) ? 1 : 0;
  }
  return n;
}

/* The rate detectors need a full window, as in the Python tool. */
static gboolean
rate_over(ArmProject *p, gsize field_offset, guint *matches)
{
  *matches = count_exits(p, field_offset);
  return p->n_exits >= ARM_EXIT_WINDOW && (double)*matches / ARM_EXIT_WINDOW >= RATE_THRESHOLD;
}

static gboolean
eval_timeout_rate(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  guint n;
  if (!rate_over(p, d->arg, &n))
    return FALSE;
  *message = g_strdup_printf(_("%u of the last %u rounds timed out"), n, ARM_EXIT_WINDOW);
  return TRUE;
}

static gboolean
eval_oauth_fail(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  guint n;
  if (!rate_over(p, d->arg, &n))
    return FALSE;
  const char *hint = p->cfg && p->cfg->auth_fail_hint && *p->cfg->auth_fail_hint
                         ? p->cfg->auth_fail_hint
                         : _("log the agent in again");
  *message = g_strdup_printf(_("%u of the last %u rounds failed to authenticate: %s"), n,
                             ARM_EXIT_WINDOW, hint);
  return TRUE;
}

static gboolean
eval_network_fail(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  guint n;
  if (!rate_over(p, d->arg, &n))
    return FALSE;
  *message =
      g_strdup_printf(_("%u of the last %u rounds failed on network errors"), n, ARM_EXIT_WINDOW);
  return TRUE;
}

/* Whether the detector's deadline (its table entry's own function: the one
 * source of the time the timer is armed for) has passed. */
static gboolean
deadline_passed(ArmProject *p, const ArmDetector *d, gint64 now_us)
{
  gint64 deadline = d->deadline(p);
  return deadline != 0 && now_us >= deadline;
}

static gint64
hung_deadline(ArmProject *p)
{
  if (!p->owner || p->round_num == 0 || p->round_started_us == 0)
    return 0;
  return p->round_started_us + (gint64)hung_threshold_s(p) * G_USEC_PER_SEC;
}

static gboolean
eval_hung(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (!deadline_passed(p, d, now_us))
    return FALSE;
  *message = g_strdup_printf(_("round %u has run for more than %us without ending"), p->round_num,
                             hung_threshold_s(p));
  return TRUE;
}

static gboolean
eval_orphan_chain(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (p->orphan_streak < ORPHAN_STREAK)
    return FALSE;
  *message = g_strdup_printf(_("%u rounds in a row left uncommitted work (last: round %u)"),
                             p->orphan_streak, p->orphan_last_round);
  return TRUE;
}

static gboolean
eval_disk_warning(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (!p->cfg || p->disk_pct < 0 || p->disk_pct < p->cfg->disk_warning_pct ||
      p->disk_pct >= p->cfg->disk_critical_pct)
    return FALSE;
  *message = g_strdup_printf(_("the file system of %s is %.1f%% full (warning at %.1f%%)"),
                             p->log_dir, p->disk_pct, p->cfg->disk_warning_pct);
  return TRUE;
}

static gboolean
eval_disk_critical(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (!p->cfg || p->disk_pct < 0 || p->disk_pct < p->cfg->disk_critical_pct)
    return FALSE;
  *message = g_strdup_printf(_("the file system of %s is %.1f%% full (critical at %.1f%%)"),
                             p->log_dir, p->disk_pct, p->cfg->disk_critical_pct);
  return TRUE;
}

static gboolean
eval_mem_pressure(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (!p->cfg || p->mem_avail_mb < 0 || p->mem_avail_mb >= p->cfg->mem_avail_min_mb)
    return FALSE;
  *message = g_strdup_printf(_("only %.0f MB of memory available (alert below %u MB)"),
                             p->mem_avail_mb, p->cfg->mem_avail_min_mb);
  return TRUE;
}

static gboolean
eval_rate_limit_active(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  /* Active until its deadline: the back-off's end. */
  if (d->deadline(p) == 0 || deadline_passed(p, d, now_us))
    return FALSE;
  g_autofree char *until = ar_utc_iso_ms(p->throttled_until_s * G_USEC_PER_SEC);
  *message = g_strdup_printf(_("%s is rate-limited (%s) until %s"),
                             p->throttle_agent ? p->throttle_agent : "agent",
                             p->throttle_class ? p->throttle_class : "rate_limit", until);
  return TRUE;
}

static gint64
rate_limit_deadline(ArmProject *p)
{
  return p->throttled_until_s > 0 ? p->throttled_until_s * G_USEC_PER_SEC : 0;
}

static gboolean
eval_repetitive(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  guint n = 0;
  for (guint i = 0; i < p->repetitive->len; i++)
    if (g_array_index(p->repetitive, guint, i) + REPETITIVE_ROUNDS > p->max_round)
      n++;
  if (n == 0)
    return FALSE;
  *message =
      g_strdup_printf(_("the agent repeated %s on %s (%u times in the last %u rounds)"),
                      p->repetitive_tool ? p->repetitive_tool : "a tool",
                      p->repetitive_target ? p->repetitive_target : "?", n, REPETITIVE_ROUNDS);
  return TRUE;
}

static gint64
stale_deadline(ArmProject *p)
{
  guint threshold = stale_threshold_s(p);
  /* Silence is expected while no daemon runs on purpose, and during a
   * back-off (it may last hours). */
  if (threshold == 0 || !p->owner || p->last_event_us == 0 ||
      p->throttled_until_s * G_USEC_PER_SEC > g_get_real_time())
    return 0;
  return p->last_event_us + (gint64)threshold * G_USEC_PER_SEC;
}

static gboolean
eval_supervisor_stale(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (p->vanished) {
    *message = g_strdup(_("the supervisor went away without stopping (killed or crashed)"));
    return TRUE;
  }
  if (!deadline_passed(p, d, now_us))
    return FALSE;
  *message =
      g_strdup_printf(_("no event from the supervisor for more than %us"), stale_threshold_s(p));
  return TRUE;
}

static gboolean
eval_no_progress(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  guint n = no_progress_rounds(p);
  if (n == 0 || p->no_progress_streak < n)
    return FALSE;
  *message = g_strdup_printf(_("%u rounds in a row changed nothing (HEAD %.12s, clean tree)"),
                             p->no_progress_streak, p->last_head ? p->last_head : "?");
  return TRUE;
}

/* The daemon's own stops: true from the event until a new round starts;
 * the table's arg says which (arm-project.c's IMM_* order). */
static gboolean
eval_immediate(ArmProject *p, const ArmDetector *d, gint64 now_us, char **message)
{
  if (!p->immediate[d->arg])
    return FALSE;
  *message = g_strdup(p->immediate[d->arg]);
  return TRUE;
}

/* Order = the order alerts of one evaluation come out in. */
static const ArmDetector detectors[] = {
  { "crash_loop", ARM_SEV_CRITICAL, eval_immediate, NULL,
    "the daemon stopped after 5 short crashes in a row (`crash_loop` event); over when a round "
    "starts again",
    "-", ARM_IMM_CRASH },
  { "auth_failed", ARM_SEV_CRITICAL, eval_immediate, NULL,
    "the daemon stopped because the agent cannot authenticate (`auth_failed`); over when a round "
    "starts again",
    "`[monitor] auth_fail_threshold`", ARM_IMM_AUTH },
  { "quota_exhausted", ARM_SEV_CRITICAL, eval_immediate, NULL,
    "the daemon stopped on a quota without a reset time (`quota_exhausted`); over when a round "
    "starts again",
    "-", ARM_IMM_QUOTA },
  { "config_broken", ARM_SEV_CRITICAL, eval_immediate, NULL,
    "the daemon stopped on a broken configuration (`config_broken`); over when a round starts "
    "again",
    "-", ARM_IMM_CONFIG },
  { "timeout_rate", ARM_SEV_WARNING, eval_timeout_rate, NULL,
    "at least 2 of the last 10 agent exits timed out (needs 10 exits)", "-",
    G_STRUCT_OFFSET(ArmExit, timed_out) },
  { "hung", ARM_SEV_WARNING, eval_hung, hung_deadline,
    "a round has run for longer than 1.5 x its phase's round timeout without ending (the daemon is "
    "stuck)",
    "`[runtime] round_timeout_s`, `[phases.NAME] round_timeout_s`" },
  { "orphan_chain", ARM_SEV_WARNING, eval_orphan_chain, NULL,
    "3 or more rounds in a row ended with an orphan stash", "-" },
  { "disk_warning", ARM_SEV_WARNING, eval_disk_warning, NULL,
    "the file system of log_dir is at least `disk_warning_pct` full, below critical",
    "`[monitor.host_health] disk_warning_pct`" },
  { "disk_critical", ARM_SEV_CRITICAL, eval_disk_critical, NULL,
    "the file system of log_dir is at least `disk_critical_pct` full",
    "`[monitor.host_health] disk_critical_pct`" },
  { "mem_pressure", ARM_SEV_WARNING, eval_mem_pressure, NULL,
    "available memory is below `mem_avail_min_mb`", "`[monitor.host_health] mem_avail_min_mb`" },
  { "oauth_fail", ARM_SEV_CRITICAL, eval_oauth_fail, NULL,
    "at least 2 of the last 10 exits are short failures whose transcript tail matches "
    "`auth_fail_patterns` (or that the classifier called auth_failure)",
    "`[monitor] auth_fail_patterns`, `auth_fail_hint`", G_STRUCT_OFFSET(ArmExit, auth_match) },
  { "network_fail", ARM_SEV_WARNING, eval_network_fail, NULL,
    "at least 2 of the last 10 exits are short failures on network errors (transcript tail or "
    "`agent_network_blip`)",
    "-", G_STRUCT_OFFSET(ArmExit, net_match) },
  { "rate_limit_active", ARM_SEV_WARNING, eval_rate_limit_active, rate_limit_deadline,
    "a back-off for a transient error or quota is in progress (until its end, "
    "`transient_error_recovered` or `backoff_ended_early`)",
    "-" },
  { "anomaly_repetitive_active", ARM_SEV_WARNING, eval_repetitive, NULL,
    "an `anomaly_repetitive_tool` event (the daemon's scan of claude output) within the last 5 "
    "rounds",
    "`[monitor] anomaly_repetitive_window`, `_threshold`" },
  { "supervisor_stale", ARM_SEV_WARNING, eval_supervisor_stale, stale_deadline,
    "no event for longer than the threshold while the daemon is on the bus and not backing off, or "
    "its name went away without `serve_stopping` (killed, crashed)",
    "`[monitor] supervisor_stale_threshold_s`" },
  { "no_progress", ARM_SEV_WARNING, eval_no_progress, NULL,
    "`no_progress_rounds` rounds in a row left HEAD unchanged and the tree clean",
    "`[monitor] no_progress_rounds`" },
};

G_STATIC_ASSERT(G_N_ELEMENTS(detectors) <= ARM_MAX_DETECTORS);

const ArmDetector *
arm_detectors(guint *n)
{
  *n = G_N_ELEMENTS(detectors);
  return detectors;
}
