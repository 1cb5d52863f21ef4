/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-backoff.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ar-json.h"

/* One row per outcome. The bases are the Python tool's (60 s for a rate
 * limit, a 5xx and a network error, 30 s for a timeout); network is ours:
 * the Python tool had no network bucket and respawned at once. */
static const struct {
  ArdReaction reaction;
  guint base_s;
} policy[AR_OUTCOME_COUNT] = {
  [AR_OUTCOME_OK] = { ARD_REACT_NONE, 0 },
  [AR_OUTCOME_AUTH_FAILURE] = { ARD_REACT_AUTH, 0 },
  [AR_OUTCOME_RATE_LIMIT_ACCOUNT] = { ARD_REACT_RESET, 0 },
  [AR_OUTCOME_RATE_LIMIT_MODEL] = { ARD_REACT_EXPONENTIAL, 60 },
  [AR_OUTCOME_QUOTA_EXHAUSTED] = { ARD_REACT_QUOTA, 0 },
  [AR_OUTCOME_API_TRANSIENT_5XX] = { ARD_REACT_EXPONENTIAL, 60 },
  [AR_OUTCOME_API_TIMEOUT] = { ARD_REACT_EXPONENTIAL, 30 },
  [AR_OUTCOME_NETWORK] = { ARD_REACT_EXPONENTIAL, 60 },
  [AR_OUTCOME_ERROR] = { ARD_REACT_NONE, 0 },
};

/* 2^16 x 60 s is far above the cap: no need to double further, and no
 * overflow whatever the counter says. */
#define MAX_DOUBLINGS 16u

ArdReaction
ard_backoff_reaction(ArOutcome outcome)
{
  return (guint)outcome < AR_OUTCOME_COUNT ? policy[outcome].reaction : ARD_REACT_NONE;
}

guint
ard_backoff_base_s(ArOutcome outcome)
{
  return (guint)outcome < AR_OUTCOME_COUNT ? policy[outcome].base_s : 0;
}

guint
ard_backoff_jitter_s(guint32 random)
{
  const guint span = ARD_BACKOFF_JITTER_MAX_S - ARD_BACKOFF_JITTER_MIN_S + 1;
  return ARD_BACKOFF_JITTER_MIN_S + random % span;
}

static void
apply_absolute_cap(ArdBackoffPlan *p)
{
  if (p->applied_sleep_s > ARD_BACKOFF_ABSOLUTE_MAX_S) {
    p->applied_sleep_s = ARD_BACKOFF_ABSOLUTE_MAX_S;
    p->capped_by_absolute_max = TRUE;
  }
}

void
ard_backoff_plan(const ArdBackoffInput *in, ArdBackoffPlan *out)
{
  memset(out, 0, sizeof *out);
  out->multiplier = 1;
  ArdReaction reaction = ard_backoff_reaction(in->outcome);
  gint64 reset = in->reset_at_epoch;

  if (reaction == ARD_REACT_RESET || (reaction == ARD_REACT_QUOTA && reset > 0)) {
    /* The server's word: no multiplier, counters untouched. A limit that
     * gave no time still needs a wait (a guess); a time already past (the
     * limit lifted while the round ended) costs just the jitter. */
    if (reset <= 0)
      reset = in->now_epoch + ARD_BACKOFF_ACCOUNT_FALLBACK_S;
    out->wait = TRUE;
    out->original_reset_at = reset;
    out->applied_reset_at = reset;
    out->requested_sleep_s = (double)(MAX(reset - in->now_epoch, 0) + in->jitter_s);
    out->applied_sleep_s = out->requested_sleep_s;
    apply_absolute_cap(out);
    out->report_capped = out->capped_by_absolute_max;
    return;
  }
  if (reaction != ARD_REACT_EXPONENTIAL)
    return;

  guint base = policy[in->outcome].base_s;
  guint n = MAX(in->consecutive, 1u);
  out->wait = TRUE;
  out->exponential = TRUE;
  out->multiplier = 1u << MIN(n - 1, MAX_DOUBLINGS);
  guint64 est = (guint64)base * out->multiplier;
  if (est > ARD_BACKOFF_CAP_S) {
    est = ARD_BACKOFF_CAP_S;
    out->capped = TRUE;
  }
  out->original_reset_at = in->now_epoch + base;
  out->applied_reset_at = in->now_epoch + (gint64)est;
  out->requested_sleep_s = (double)(base + in->jitter_s);
  out->applied_sleep_s = (double)(est + in->jitter_s);
  apply_absolute_cap(out);
  out->report_capped = out->multiplier > 1 || out->capped || out->capped_by_absolute_max;
}

/* ---- the persisted throttle ----------------------------------------- */

void
ard_throttle_clear(ArdThrottle *t)
{
  g_free(t->classification);
  g_free(t->agent);
  g_free(t->reason);
  memset(t, 0, sizeof *t);
}

void
ard_throttle_end_wait(ArdThrottle *t)
{
  t->until_us = 0;
  t->started_us = 0;
  t->since_round = 0;
  g_clear_pointer(&t->classification, g_free);
  g_clear_pointer(&t->agent, g_free);
  g_clear_pointer(&t->reason, g_free);
}

static gboolean
counters_zero(const ArdThrottle *t)
{
  for (guint i = 0; i < AR_OUTCOME_COUNT; i++)
    if (t->consecutive[i])
      return FALSE;
  return t->auth_streak == 0;
}

JsonNode *
ard_throttle_to_json(const ArdThrottle *t)
{
  if (t->until_us <= 0 && counters_zero(t))
    return NULL;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "until_us", t->until_us);
  ar_json_add_int(b, "started_us", t->started_us);
  ar_json_add_str(b, "classification", t->classification);
  ar_json_add_str(b, "agent", t->agent);
  ar_json_add_str(b, "reason", t->reason);
  ar_json_add_int(b, "since_round", t->since_round);
  json_builder_set_member_name(b, "consecutive");
  json_builder_begin_object(b);
  for (guint i = 0; i < AR_OUTCOME_COUNT; i++)
    if (t->consecutive[i])
      ar_json_add_int(b, ar_outcome_to_string(i), t->consecutive[i]);
  json_builder_end_object(b);
  ar_json_add_int(b, "auth_streak", t->auth_streak);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static guint
clamp_count(gint64 v)
{
  return v > 0 && v < G_MAXINT ? (guint)v : 0;
}

void
ard_throttle_from_json(ArdThrottle *t, JsonNode *node)
{
  ard_throttle_clear(t);
  if (!node || !JSON_NODE_HOLDS_OBJECT(node))
    return;
  JsonObject *o = json_node_get_object(node);
  t->until_us = MAX(ar_json_int(o, "until_us", NULL), 0);
  t->started_us = MAX(ar_json_int(o, "started_us", NULL), 0);
  t->classification = g_strdup(ar_json_str(o, "classification"));
  t->agent = g_strdup(ar_json_str(o, "agent"));
  t->reason = g_strdup(ar_json_str(o, "reason"));
  t->since_round = clamp_count(ar_json_int(o, "since_round", NULL));
  t->auth_streak = clamp_count(ar_json_int(o, "auth_streak", NULL));
  JsonNode *c = json_object_get_member(o, "consecutive");
  if (c && JSON_NODE_HOLDS_OBJECT(c)) {
    JsonObject *co = json_node_get_object(c);
    for (guint i = 0; i < AR_OUTCOME_COUNT; i++)
      t->consecutive[i] = clamp_count(ar_json_int(co, ar_outcome_to_string(i), NULL));
  }
  /* A wait without its classification cannot be reported: drop it rather
   * than wait blind. */
  if (t->until_us > 0 && !t->classification)
    ard_throttle_end_wait(t);
}

/* ---- names and hints ------------------------------------------------ */

char *
ard_backoff_agent_name(const ArConfig *cfg)
{
  if (cfg->agent_name && *cfg->agent_name)
    return g_strdup(cfg->agent_name);
  if (cfg->command && cfg->command[0])
    return g_path_get_basename(cfg->command[0]);
  return g_strdup("agent");
}

static const char *const auth_hints[AR_DIALECT_COUNT] = {
  [AR_DIALECT_TEXT] = N_("log the agent in again or update its API key, then run agent-runner "
                         "start"),
  [AR_DIALECT_CLAUDE_STREAM_JSON] =
      N_("run claude /login (or set ANTHROPIC_API_KEY with agent-runner secret set), then run "
         "agent-runner start"),
  [AR_DIALECT_CODEX_JSON] = N_("run codex login (or set OPENAI_API_KEY with agent-runner secret "
                               "set), then run agent-runner start"),
  [AR_DIALECT_GEMINI_STREAM_JSON] =
      N_("log in with gemini (or set GEMINI_API_KEY with agent-runner secret set), then run "
         "agent-runner start"),
  [AR_DIALECT_CODEWHALE_STREAM_JSON] =
      N_("run codewhale auth status (or set DEEPSEEK_API_KEY with agent-runner secret set), then "
         "run agent-runner start"),
};

const char *
ard_backoff_auth_hint(const ArConfig *cfg, ArDialect dialect)
{
  if (cfg->auth_fail_hint && *cfg->auth_fail_hint)
    return cfg->auth_fail_hint;
  return _(auth_hints[(guint)dialect < AR_DIALECT_COUNT ? dialect : AR_DIALECT_TEXT]);
}

ArDialect
ard_backoff_dialect(const ArConfig *cfg)
{
  ArDialect d = AR_DIALECT_TEXT;
  if (cfg->output && ar_dialect_from_string(cfg->output, &d))
    return d;
  return ar_dialect_guess((const char *const *)cfg->command);
}
