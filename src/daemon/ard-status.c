/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-status.h"

const char *
ard_run_state_to_string(ArdRunState state)
{
  static const char *const names[] = {
    [ARD_RUN_STARTING] = "starting",
    [ARD_RUN_RUNNING] = "running",
    [ARD_RUN_WAITING] = "waiting",
    [ARD_RUN_BACKING_OFF] = "backing_off",
    [ARD_RUN_STOPPING] = "stopping",
    [ARD_RUN_STOPPED] = "stopped",
    [ARD_RUN_WAITING_FOR_SECRET] = "waiting_for_secret",
  };
  return state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

void
ard_usage_clear(ArdUsage *usage)
{
  g_free(usage->agent);
  g_free(usage->model);
  *usage = (ArdUsage){ 0 };
}

void
ard_status_init(ArdStatus *st, const ArdState *persisted)
{
  *st = (ArdStatus){ .persisted = persisted, .state = ARD_RUN_STARTING };
  g_queue_init(&st->recent);
}

void
ard_status_clear(ArdStatus *st)
{
  g_queue_clear_full(&st->recent, (GDestroyNotify)ard_round_summary_free);
}

/* A round of this invocation has started: one runs, or one has ended. */
static gboolean
has_round(const ArdStatus *st)
{
  return st->round_started_at_us > 0 || st->rounds_completed > 0;
}

guint
ard_status_round_num(const ArdStatus *st)
{
  return has_round(st) ? st->persisted->round_num : 0;
}

const char *
ard_status_phase(const ArdStatus *st)
{
  return has_round(st) ? st->persisted->phase : NULL;
}

guint
ard_status_crash_streak(const ArdStatus *st)
{
  return st->persisted->crash_streak;
}

const char *
ard_status_stop_reason(const ArdStatus *st)
{
  return st->stop_reason_current ? st->persisted->stop_reason : NULL;
}

void
ard_status_remember_round(ArdStatus *st, ArdRoundSummary *summary)
{
  g_queue_push_tail(&st->recent, summary);
  while (g_queue_get_length(&st->recent) > ARD_RECENT_ROUNDS)
    ard_round_summary_free(g_queue_pop_head(&st->recent));
}
