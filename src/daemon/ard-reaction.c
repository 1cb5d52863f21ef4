/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* What a round's outcome means for the loop: the crash streak, usage and
 * the throttle it records, and the decision that follows (go on, back off,
 * or stop for a crash loop, an auth failure, a quota). The back-off policy
 * itself is a table in ard-backoff.c. */

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-classify.h"
#include "ar-exit.h"
#include "ar-redact.h"
#include "ar-util.h"
#include "ard-reaction.h"

struct ArdReactor {
  ArEmitter *emitter;
  ArdState *state;
  gboolean round_mode;
  ArdThrottle throttle;
  gboolean have_plan; /* plan holds the back-off of the round that just ended */
  ArdBackoffPlan plan;
  ArdUsage usage;
};

ArdReactor *
ard_reactor_new(ArEmitter *emitter, ArdState *state, gboolean round_mode)
{
  ArdReactor *reactor = g_new0(ArdReactor, 1);
  reactor->emitter = emitter;
  reactor->state = state;
  reactor->round_mode = round_mode;
  ard_throttle_from_json(&reactor->throttle, state->throttle);
  return reactor;
}

void
ard_reactor_free(ArdReactor *reactor)
{
  if (!reactor)
    return;
  ard_throttle_clear(&reactor->throttle);
  ard_usage_clear(&reactor->usage);
  g_free(reactor);
}

ArdThrottle *
ard_reactor_get_throttle(ArdReactor *reactor)
{
  return &reactor->throttle;
}

const ArdUsage *
ard_reactor_get_usage(ArdReactor *reactor)
{
  return &reactor->usage;
}

static gboolean
is_crash(const ArdRoundResult *res)
{
  if (res->exit_code == 0 || res->timed_out || res->grace_killed || res->stalled || res->cancelled)
    return FALSE;
  if (res->duration_s >= ARD_CRASH_SHORT_S)
    return FALSE;
  /* A failure the output explains (transient, auth, quota) has its own
   * reaction (ard-backoff.h); only unexplained ones are crashes. */
  return ard_backoff_reaction(res->classification.outcome) == ARD_REACT_NONE;
}

void
ard_reactor_update_crash_streak(ArdReactor *reactor, const ArdRoundResult *res)
{
  ArOutcome o = res->classification.outcome;
  if (reactor->round_mode)
    return;
  if (is_crash(res))
    reactor->state->crash_streak++;
  else if (!res->cancelled && ard_backoff_reaction(o) == ARD_REACT_NONE)
    reactor->state->crash_streak = 0;
}

/* ---- why the round failed: usage, back-off, auth, quota ------------- */

static JsonNode *
int_or_null(gint64 v, gboolean present)
{
  return present ? json_node_init_int(json_node_alloc(), v) : NULL;
}

void
ard_reactor_save_throttle(ArdReactor *reactor, const char *log_dir)
{
  JsonNode *node = ard_throttle_to_json(&reactor->throttle);
  JsonNode *old = reactor->state->throttle;
  /* Most rounds change nothing here: spare them a second fsync. */
  if ((!node && !old) || (node && old && json_node_equal(node, old))) {
    g_clear_pointer(&node, json_node_unref);
    return;
  }
  g_clear_pointer(&reactor->state->throttle, json_node_unref);
  reactor->state->throttle = node;
  ard_state_save_or_warn(reactor->state, log_dir);
}

/* agent_usage_recorded, and Peek's usage either way. */
static void
record_usage(ArdReactor *reactor, const ArConfig *cfg, const ArdRoundResult *res, const char *agent)
{
  const ArClassification *c = &res->classification;
  ArdUsage *u = &reactor->usage;
  ard_usage_clear(u);
  u->present = TRUE;
  u->recorded = c->has_usage;
  u->round_num = res->round_num;
  if (!c->has_usage) {
    /* Say why, so "no usage" is not mistaken for "no cost". */
    u->reason = ard_backoff_dialect(cfg) == AR_DIALECT_TEXT ? "text output has no usage"
                                                            : "the agent reported no usage";
    return;
  }
  gboolean success = res->exit_code == 0 && !res->timed_out && !res->grace_killed &&
                     !res->stalled && !res->cancelled;
  g_autoptr(JsonNode) cost =
      c->has_cost ? json_node_init_double(json_node_alloc(), c->cost_usd) : NULL;
  ar_emit(reactor->emitter, "agent_usage_recorded", AR_EV_S("agent", agent),
          AR_EV_S("model", c->model), AR_EV_I("round_num", res->round_num),
          AR_EV_I("input_tokens", c->input_tokens), AR_EV_I("output_tokens", c->output_tokens),
          AR_EV_I("cached_tokens", c->cached_tokens), AR_EV_N("cost_usd", cost),
          AR_EV_I("duration_ms", c->duration_ms), AR_EV_N("models_breakdown", NULL),
          AR_EV_I("cache_creation_tokens", c->cache_creation_tokens),
          AR_EV_I("tool_call_count", c->tool_call_count),
          /* "" without a phase, as the Python tool writes it. */
          AR_EV_S("phase", res->phase ? res->phase : ""), AR_EV_B("success", success), NULL);
  u->agent = g_strdup(agent);
  u->model = g_strdup(c->model);
  u->input_tokens = c->input_tokens;
  u->output_tokens = c->output_tokens;
  u->cached_tokens = c->cached_tokens;
  u->cache_creation_tokens = c->cache_creation_tokens;
  u->duration_ms = c->duration_ms;
  u->tool_call_count = c->tool_call_count;
  u->has_cost = c->has_cost;
  u->cost_usd = c->cost_usd;
  u->success = success;
}

/* Right after round_end (the Python tool's post-round events): update the
 * counters, plan the back-off, say what the output showed. What to do
 * about it is ard_reactor_decide_next's. */
void
ard_reactor_record_outcome(ArdReactor *reactor, const ArConfig *cfg, const ArdRoundResult *res)
{
  g_autofree char *agent = ard_backoff_agent_name(cfg);
  const ArClassification *c = &res->classification;
  reactor->have_plan = FALSE;
  if (reactor->round_mode || res->cancelled) {
    /* A cancelled round says nothing about the API; --round is a one-off
     * that leaves the serve loop's counters alone. It still says what the
     * output showed, as serve does: no back-off follows (the process
     * ends), so throttled_until_epoch is null. */
    if (reactor->round_mode && !res->cancelled && ar_outcome_is_transient(c->outcome)) {
      static const char *const names[] = { "back_off", "skip", "stop" };
      g_autoptr(JsonNode) reset = int_or_null(c->reset_at_epoch, c->reset_at_epoch > 0);
      g_autoptr(JsonNode) until = int_or_null(0, FALSE);
      ar_emit(reactor->emitter, "transient_error_detected",
              AR_EV_S("classification", ar_outcome_to_string(c->outcome)), AR_EV_S("agent", agent),
              AR_EV_N("reset_at_epoch", reset), AR_EV_I("round_num", res->round_num),
              AR_EV_S("raw", c->evidence ? c->evidence : ""),
              AR_EV_S("action", names[cfg->transient_error_action]),
              AR_EV_N("throttled_until_epoch", until), NULL);
    }
    record_usage(reactor, cfg, res, agent);
    return;
  }
  ArOutcome o = c->outcome;
  ArdReaction reaction = ard_backoff_reaction(o);
  ArdThrottle *t = &reactor->throttle;
  if (reaction == ARD_REACT_EXPONENTIAL) {
    t->consecutive[o]++;
  } else if (reaction == ARD_REACT_AUTH) {
    t->auth_streak++;
  } else if (reaction == ARD_REACT_NONE) {
    /* A round that got through (or failed for its own reasons) ends every
     * streak: the next rate limit starts from the base again. */
    memset(t->consecutive, 0, sizeof t->consecutive);
    t->auth_streak = 0;
  }
  const char *raw = c->evidence ? c->evidence : "";
  if (reaction == ARD_REACT_RESET || reaction == ARD_REACT_EXPONENTIAL ||
      reaction == ARD_REACT_QUOTA) {
    ArdBackoffInput in = {
      .outcome = o,
      .now_epoch = g_get_real_time() / G_USEC_PER_SEC,
      .reset_at_epoch = c->reset_at_epoch,
      .consecutive = MAX(t->consecutive[o], 1u),
      .jitter_s = ard_backoff_jitter_s(g_random_int()),
    };
    ard_backoff_plan(&in, &reactor->plan);
    reactor->have_plan = reactor->plan.wait;
  }
  gboolean backing_off = reactor->have_plan && cfg->transient_error_action == AR_TRANSIENT_BACK_OFF;
  if (backing_off) {
    /* Whole seconds: until is the CLI's reset plus the jitter, exactly. */
    gint64 now_epoch = g_get_real_time() / G_USEC_PER_SEC;
    t->until_us = (now_epoch + (gint64)reactor->plan.applied_sleep_s) * G_USEC_PER_SEC;
  }
  g_autoptr(JsonNode) until = int_or_null(t->until_us / G_USEC_PER_SEC, backing_off);
  if (ar_outcome_is_transient(o)) {
    static const char *const action_names[] = {
      [AR_TRANSIENT_BACK_OFF] = "back_off",
      [AR_TRANSIENT_SKIP] = "skip",
      [AR_TRANSIENT_STOP] = "stop",
    };
    g_autoptr(JsonNode) reset = int_or_null(reactor->plan.original_reset_at, reactor->have_plan);
    ar_emit(reactor->emitter, "transient_error_detected",
            AR_EV_S("classification", ar_outcome_to_string(o)), AR_EV_S("agent", agent),
            AR_EV_N("reset_at_epoch", reset), AR_EV_I("round_num", res->round_num),
            AR_EV_S("raw", raw), AR_EV_S("action", action_names[cfg->transient_error_action]),
            AR_EV_N("throttled_until_epoch", until), NULL);
  } else if (reaction == ARD_REACT_QUOTA) {
    g_autoptr(JsonNode) reset = int_or_null(c->reset_at_epoch, c->reset_at_epoch > 0);
    ar_emit(reactor->emitter, "quota_exhausted", AR_EV_I("round_num", res->round_num),
            AR_EV_S("agent", agent), AR_EV_S("raw", raw), AR_EV_N("reset_at_epoch", reset),
            AR_EV_N("throttled_until_epoch", until), NULL);
  }
  if (backing_off) {
    g_free(t->classification);
    t->classification = g_strdup(ar_outcome_to_string(o));
    g_free(t->agent);
    t->agent = g_strdup(agent);
    g_free(t->reason);
    t->reason = g_strdup(raw);
    t->since_round = res->round_num;
    t->started_us = g_get_real_time();
  }
  /* Counters and the wait go to state.json now: a crash or a restart
   * before the next round must not retry early nor forget the streak. */
  ard_reactor_save_throttle(reactor, cfg->log_dir);
  record_usage(reactor, cfg, res, agent);
}

/* The stops and the back-off that ard_reactor_decide_next plugs in. TRUE
 * when *next is decided. */
static gboolean
decide_reaction(ArdReactor *reactor, const ArConfig *cfg, const ArdRoundResult *res,
                ArdNextStep *next)
{
  if (res->cancelled)
    return FALSE;
  const ArClassification *c = &res->classification;
  ArdReaction reaction = ard_backoff_reaction(c->outcome);
  ArdThrottle *t = &reactor->throttle;
  g_autofree char *agent = ard_backoff_agent_name(cfg);

  if (reaction == ARD_REACT_AUTH) {
    if (t->auth_streak < MAX(cfg->auth_fail_threshold, 1u))
      return FALSE; /* below the threshold: an ordinary failed round */
    ar_emit(reactor->emitter, "auth_failed", AR_EV_I("round_num", res->round_num),
            AR_EV_S("agent", agent), AR_EV_S("raw", c->evidence ? c->evidence : ""),
            AR_EV_S("hint", ard_backoff_auth_hint(cfg, ard_backoff_dialect(cfg))), NULL);
    /* The stop answers this streak; after a fix and a start, count anew. */
    t->auth_streak = 0;
    ard_reactor_save_throttle(reactor, cfg->log_dir);
    next->stop_reason = ARD_STOP_REASON_AUTH;
    next->action = ARD_NEXT_STOP;
    next->exit_code = AR_EXIT_AUTH;
    next->reason = "auth_failed";
    return TRUE;
  }
  if (reaction == ARD_REACT_QUOTA && !reactor->have_plan) {
    /* No reset time: only a human (or the billing cycle) brings it back.
     * Exit 0: the unit must not restart into the same wall; the stop
     * reason says why. */
    next->stop_reason = ARD_STOP_REASON_QUOTA;
    next->action = ARD_NEXT_STOP;
    next->reason = "quota_exhausted";
    return TRUE;
  }
  if (!reactor->have_plan)
    return FALSE;
  switch (cfg->transient_error_action) {
  case AR_TRANSIENT_SKIP:
    return FALSE;
  case AR_TRANSIENT_STOP: {
    gboolean quota = reaction == ARD_REACT_QUOTA;
    ar_emit(reactor->emitter, "agent_self_terminated",
            AR_EV_S("reason", quota ? ARD_STOP_REASON_QUOTA : ARD_STOP_REASON_TRANSIENT), NULL);
    next->stop_reason = quota ? ARD_STOP_REASON_QUOTA : ARD_STOP_REASON_TRANSIENT;
    next->action = ARD_NEXT_STOP;
    next->reason = quota ? ARD_STOP_REASON_QUOTA : ARD_STOP_REASON_TRANSIENT;
    return TRUE;
  }
  case AR_TRANSIENT_BACK_OFF:
  default:
    break;
  }
  const ArdBackoffPlan *plan = &reactor->plan;
  const char *cls = ar_outcome_to_string(c->outcome);
  if (plan->report_capped && plan->exponential)
    ar_emit(reactor->emitter, "transient_error_backoff_capped", AR_EV_S("classification", cls),
            AR_EV_S("agent", agent), AR_EV_D("requested_sleep_s", plan->requested_sleep_s),
            AR_EV_D("applied_sleep_s", plan->applied_sleep_s),
            AR_EV_I("original_reset_at_epoch", plan->original_reset_at),
            AR_EV_I("applied_reset_at_epoch", plan->applied_reset_at),
            AR_EV_I("consecutive_count", t->consecutive[c->outcome]),
            AR_EV_B("capped_by_absolute_max", plan->capped_by_absolute_max), NULL);
  else if (plan->report_capped)
    ar_emit(reactor->emitter, "transient_error_backoff_capped", AR_EV_S("classification", cls),
            AR_EV_S("agent", agent), AR_EV_D("requested_sleep_s", plan->requested_sleep_s),
            AR_EV_D("applied_sleep_s", plan->applied_sleep_s), NULL);
  next->wait_state = ARD_RUN_BACKING_OFF;
  return TRUE;
}

/* What follows a round: a crash loop stops (79); an auth failure past the
 * threshold stops (80); a quota without reset time stops (0); a transient
 * error backs off, is skipped or stops per transient_error_action; every
 * other outcome goes on with the restart delay: x1 after a clean round, x2
 * after a failed one, x2^n during a crash streak (capped at 1800 s). */
ArdNextStep
ard_reactor_decide_next(ArdReactor *reactor, const ArConfig *cfg, const ArdRoundResult *res)
{
  ArdNextStep next = {
    .action = ARD_NEXT_CONTINUE,
    .wait_state = ARD_RUN_WAITING,
    .factor = 1,
    .exit_code = AR_EXIT_OK,
  };
  guint streak = reactor->state->crash_streak;
  if (streak >= ARD_CRASH_LOOP_THRESHOLD) {
    next.action = ARD_NEXT_STOP;
    next.exit_code = AR_EXIT_CRASH_LOOP;
    next.reason = "crash_loop";
    next.stop_reason = ARD_STOP_REASON_CRASH_LOOP;
    return next;
  }
  if (decide_reaction(reactor, cfg, res, &next))
    return next;
  if (streak > 0)
    next.factor = 1u << MIN(streak, 11u); /* 2^11 > 1800: the cap applies */
  else if (res->exit_code != 0 && !res->cancelled)
    next.factor = 2;
  return next;
}
