#include "config.h"

/* What a round's outcome means for the loop: the crash streak, usage and
 * the throttle it records, and the decision that follows (go on, back off,
 * or stop for a crash loop, an auth failure, a quota). The back-off policy
 * itself is a table in ard-backoff.c. */

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "ar-json.h"
#include "ar-classify.h"
#include "ar-redact.h"
#include "ar-util.h"
#include "ard-loop-private.h"

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

/* The crash streak: short failing rounds count; transient/auth/quota
 * failures and cancelled rounds neither count nor break it; anything else
 * resets it. */
void
ard_loop_update_crash_streak(ArdLoop *loop, const ArdRoundResult *res)
{
  ArOutcome o = res->classification.outcome;
  if (is_crash(res))
    loop->state->crash_streak++;
  else if (!res->cancelled && ard_backoff_reaction(o) == ARD_REACT_NONE)
    loop->state->crash_streak = 0;
  loop->status.crash_streak = loop->state->crash_streak;
}

/* ---- why the round failed: usage, back-off, auth, quota ------------- */

static JsonNode *
int_or_null(gint64 v, gboolean present)
{
  return present ? json_node_init_int(json_node_alloc(), v) : NULL;
}

void
ard_loop_save_throttle(ArdLoop *loop)
{
  JsonNode *node = ard_throttle_to_json(&loop->throttle);
  JsonNode *old = loop->state->throttle;
  /* Most rounds change nothing here: spare them a second fsync. */
  if ((!node && !old) || (node && old && json_node_equal(node, old))) {
    g_clear_pointer(&node, json_node_unref);
    return;
  }
  g_clear_pointer(&loop->state->throttle, json_node_unref);
  loop->state->throttle = node;
  ard_loop_save_state(loop);
}

/* agent_usage_recorded, and Peek's usage either way. */
static void
record_usage(ArdLoop *loop, const ArdRoundResult *res, const char *agent)
{
  const ArClassification *c = &res->classification;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "recorded");
  json_builder_add_boolean_value(b, c->has_usage);
  ar_json_add_int(b, "round_num", res->round_num);
  if (!c->has_usage) {
    /* Say why, so "no usage" is not mistaken for "no cost". */
    ar_json_add_str(b, "reason",
                    ard_backoff_dialect(loop->cfg) == AR_DIALECT_TEXT
                        ? "text output has no usage"
                        : "the agent reported no usage");
    json_builder_end_object(b);
    g_clear_pointer(&loop->usage, json_node_unref);
    loop->usage = json_builder_get_root(b);
    return;
  }
  gboolean success = res->exit_code == 0 && !res->timed_out && !res->grace_killed &&
                     !res->stalled && !res->cancelled;
  g_autoptr(JsonNode) cost =
      c->has_cost ? json_node_init_double(json_node_alloc(), c->cost_usd) : NULL;
  ar_emit(loop->emitter, "agent_usage_recorded", AR_EV_S("agent", agent),
          AR_EV_S("model", c->model), AR_EV_I("round_num", res->round_num),
          AR_EV_I("input_tokens", c->input_tokens), AR_EV_I("output_tokens", c->output_tokens),
          AR_EV_I("cached_tokens", c->cached_tokens), AR_EV_N("cost_usd", cost),
          AR_EV_I("duration_ms", c->duration_ms), AR_EV_N("models_breakdown", NULL),
          AR_EV_I("cache_creation_tokens", c->cache_creation_tokens),
          AR_EV_I("tool_call_count", c->tool_call_count),
          /* "" without a phase, as the Python tool writes it. */
          AR_EV_S("phase", res->phase ? res->phase : ""), AR_EV_B("success", success), NULL);
  const struct {
    const char *name;
    gint64 value;
  } ints[] = {
    { "input_tokens", c->input_tokens },   { "output_tokens", c->output_tokens },
    { "cached_tokens", c->cached_tokens }, { "cache_creation_tokens", c->cache_creation_tokens },
    { "duration_ms", c->duration_ms },     { "tool_call_count", c->tool_call_count },
  };
  ar_json_add_str(b, "agent", agent);
  json_builder_set_member_name(b, "model");
  if (c->model)
    json_builder_add_string_value(b, c->model);
  else
    json_builder_add_null_value(b);
  for (gsize i = 0; i < G_N_ELEMENTS(ints); i++) {
    ar_json_add_int(b, ints[i].name, ints[i].value);
  }
  json_builder_set_member_name(b, "cost_usd");
  if (c->has_cost)
    json_builder_add_double_value(b, c->cost_usd);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "success");
  json_builder_add_boolean_value(b, success);
  json_builder_end_object(b);
  g_clear_pointer(&loop->usage, json_node_unref);
  loop->usage = json_builder_get_root(b);
}

/* Right after round_end (the Python tool's post-round events): update the
 * counters, plan the back-off, say what the output showed. What to do
 * about it is ard_loop_decide_next's. */
void
ard_loop_record_outcome(ArdLoop *loop, const ArdRoundResult *res)
{
  g_autofree char *agent = ard_backoff_agent_name(loop->cfg);
  const ArClassification *c = &res->classification;
  loop->have_plan = FALSE;
  if (loop->opts.round_mode || res->cancelled) {
    /* A cancelled round says nothing about the API; --round is a one-off
     * that leaves the serve loop's counters alone. It still says what the
     * output showed, as serve does: no back-off follows (the process
     * ends), so throttled_until_epoch is null. */
    if (loop->opts.round_mode && !res->cancelled && ar_outcome_is_transient(c->outcome)) {
      static const char *const names[] = { "back_off", "skip", "stop" };
      g_autoptr(JsonNode) reset = int_or_null(c->reset_at_epoch, c->reset_at_epoch > 0);
      g_autoptr(JsonNode) until = int_or_null(0, FALSE);
      ar_emit(loop->emitter, "transient_error_detected",
              AR_EV_S("classification", ar_outcome_to_string(c->outcome)), AR_EV_S("agent", agent),
              AR_EV_N("reset_at_epoch", reset), AR_EV_I("round_num", res->round_num),
              AR_EV_S("raw", c->evidence ? c->evidence : ""),
              AR_EV_S("action", names[loop->cfg->transient_error_action]),
              AR_EV_N("throttled_until_epoch", until), NULL);
    }
    record_usage(loop, res, agent);
    return;
  }
  ArOutcome o = c->outcome;
  ArdReaction reaction = ard_backoff_reaction(o);
  ArdThrottle *t = &loop->throttle;
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
    ard_backoff_plan(&in, &loop->plan);
    loop->have_plan = loop->plan.wait;
  }
  gboolean backing_off =
      loop->have_plan && loop->cfg->transient_error_action == AR_TRANSIENT_BACK_OFF;
  if (backing_off) {
    /* Whole seconds: until is the CLI's reset plus the jitter, exactly. */
    gint64 now_epoch = g_get_real_time() / G_USEC_PER_SEC;
    t->until_us = (now_epoch + (gint64)loop->plan.applied_sleep_s) * G_USEC_PER_SEC;
  }
  g_autoptr(JsonNode) until = int_or_null(t->until_us / G_USEC_PER_SEC, backing_off);
  if (ar_outcome_is_transient(o)) {
    static const char *const action_names[] = {
      [AR_TRANSIENT_BACK_OFF] = "back_off",
      [AR_TRANSIENT_SKIP] = "skip",
      [AR_TRANSIENT_STOP] = "stop",
    };
    g_autoptr(JsonNode) reset = int_or_null(loop->plan.original_reset_at, loop->have_plan);
    ar_emit(loop->emitter, "transient_error_detected",
            AR_EV_S("classification", ar_outcome_to_string(o)), AR_EV_S("agent", agent),
            AR_EV_N("reset_at_epoch", reset), AR_EV_I("round_num", res->round_num),
            AR_EV_S("raw", raw), AR_EV_S("action", action_names[loop->cfg->transient_error_action]),
            AR_EV_N("throttled_until_epoch", until), NULL);
  } else if (reaction == ARD_REACT_QUOTA) {
    g_autoptr(JsonNode) reset = int_or_null(c->reset_at_epoch, c->reset_at_epoch > 0);
    ar_emit(loop->emitter, "quota_exhausted", AR_EV_I("round_num", res->round_num),
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
  ard_loop_save_throttle(loop);
  record_usage(loop, res, agent);
}

/* The stops and the back-off that ard_loop_decide_next plugs in. TRUE when
 * *next is decided. */
static gboolean
decide_reaction(ArdLoop *loop, const ArdRoundResult *res, NextStep *next)
{
  if (res->cancelled)
    return FALSE;
  const ArClassification *c = &res->classification;
  ArdReaction reaction = ard_backoff_reaction(c->outcome);
  ArdThrottle *t = &loop->throttle;
  g_autofree char *agent = ard_backoff_agent_name(loop->cfg);

  if (reaction == ARD_REACT_AUTH) {
    if (t->auth_streak < MAX(loop->cfg->auth_fail_threshold, 1u))
      return FALSE; /* below the threshold: an ordinary failed round */
    ar_emit(loop->emitter, "auth_failed", AR_EV_I("round_num", res->round_num),
            AR_EV_S("agent", agent), AR_EV_S("raw", c->evidence ? c->evidence : ""),
            AR_EV_S("hint", ard_backoff_auth_hint(loop->cfg, ard_backoff_dialect(loop->cfg))),
            NULL);
    /* The stop answers this streak; after a fix and a start, count anew. */
    t->auth_streak = 0;
    ard_loop_save_throttle(loop);
    ard_loop_set_stop_reason(loop, ARD_STOP_REASON_AUTH);
    next->action = NEXT_STOP;
    next->exit_code = AR_EXIT_AUTH;
    next->reason = "auth_failed";
    return TRUE;
  }
  if (reaction == ARD_REACT_QUOTA && !loop->have_plan) {
    /* No reset time: only a human (or the billing cycle) brings it back.
     * Exit 0: the unit must not restart into the same wall; the stop
     * reason says why. */
    ard_loop_set_stop_reason(loop, ARD_STOP_REASON_QUOTA);
    next->action = NEXT_STOP;
    next->reason = "quota_exhausted";
    return TRUE;
  }
  if (!loop->have_plan)
    return FALSE;
  switch (loop->cfg->transient_error_action) {
  case AR_TRANSIENT_SKIP:
    return FALSE;
  case AR_TRANSIENT_STOP: {
    gboolean quota = reaction == ARD_REACT_QUOTA;
    ar_emit(loop->emitter, "agent_self_terminated",
            AR_EV_S("reason", quota ? ARD_STOP_REASON_QUOTA : ARD_STOP_REASON_TRANSIENT), NULL);
    ard_loop_set_stop_reason(loop, quota ? ARD_STOP_REASON_QUOTA : ARD_STOP_REASON_TRANSIENT);
    next->action = NEXT_STOP;
    next->reason = quota ? ARD_STOP_REASON_QUOTA : ARD_STOP_REASON_TRANSIENT;
    return TRUE;
  }
  case AR_TRANSIENT_BACK_OFF:
  default:
    break;
  }
  const ArdBackoffPlan *plan = &loop->plan;
  const char *cls = ar_outcome_to_string(c->outcome);
  if (plan->report_capped && plan->exponential)
    ar_emit(loop->emitter, "transient_error_backoff_capped", AR_EV_S("classification", cls),
            AR_EV_S("agent", agent), AR_EV_D("requested_sleep_s", plan->requested_sleep_s),
            AR_EV_D("applied_sleep_s", plan->applied_sleep_s),
            AR_EV_I("original_reset_at_epoch", plan->original_reset_at),
            AR_EV_I("applied_reset_at_epoch", plan->applied_reset_at),
            AR_EV_I("consecutive_count", t->consecutive[c->outcome]),
            AR_EV_B("capped_by_absolute_max", plan->capped_by_absolute_max), NULL);
  else if (plan->report_capped)
    ar_emit(loop->emitter, "transient_error_backoff_capped", AR_EV_S("classification", cls),
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
NextStep
ard_loop_decide_next(ArdLoop *loop, const ArdRoundResult *res)
{
  NextStep next = { NEXT_CONTINUE, ARD_RUN_WAITING, 1, AR_EXIT_OK, NULL };
  guint streak = loop->state->crash_streak;
  if (streak >= ARD_CRASH_LOOP_THRESHOLD) {
    next.action = NEXT_STOP;
    next.exit_code = AR_EXIT_CRASH_LOOP;
    next.reason = "crash_loop";
    return next;
  }
  if (decide_reaction(loop, res, &next))
    return next;
  if (streak > 0)
    next.factor = 1u << MIN(streak, 11u); /* 2^11 > 1800: the cap applies */
  else if (res->exit_code != 0 && !res->cancelled)
    next.factor = 2;
  return next;
}

gboolean
ard_loop_crash_loop_persists(ArdLoop *loop)
{
  /* As durable as .agent-done: a plain restart (the unit, a reboot, a
   * manual serve) does not resume a crash loop; agent-runner start
   * (--clear-done, .start-requested) does, having cleared the reason. */
  if (loop->opts.round_mode || g_strcmp0(loop->state->stop_reason, ARD_STOP_REASON_CRASH_LOOP) != 0)
    return FALSE;
  fprintf(stderr, "%s\n",
          _("stopped after a crash loop; fix the agent, then run: agent-runner start"));
  g_free(loop->status.stop_reason);
  loop->status.stop_reason = g_strdup(loop->state->stop_reason);
  return TRUE;
}
