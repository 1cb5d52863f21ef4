/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* A stopped project still answers: status, peek and watch read what the
 * daemon left in log_dir (state.json and the events files) when no daemon
 * serves the project, and build the same document Peek would, marked
 * "source": "files". The operator sees why it stopped and what to do,
 * as the Python tool's peek does from its files. */

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-history.h"
#include "ar-json.h"
#include "ar-util.h"
#include "arc-offline.h"

/* Why a project stopped, and what brings it back: one row per stop reason
 * the daemon records (state.json stop_reason, serve_stopping reason). */
typedef struct {
  const char *reason;
  gboolean prefix; /* reason is a prefix ("signal:SIGTERM") */
  const char *fix; /* N_() */
} StopFix;

static const StopFix stop_fixes[] = {
  { "done", FALSE,
    N_("the agent wrote .agent-done: its job is finished; 'agent-runner start' clears it and "
       "runs again") },
  { "agent_done", FALSE,
    N_("the agent wrote .agent-done: its job is finished; 'agent-runner start' clears it and "
       "runs again") },
  { "config_broken", FALSE,
    N_("fix the config ('agent-runner config check' says what is wrong), then 'agent-runner "
       "start'") },
  { "crash_loop", FALSE,
    N_("the agent failed round after round; read its last transcript ('agent-runner peek "
       "--round latest --log'), fix the cause, then 'agent-runner start'") },
  { "auth_failed", FALSE,
    N_("log the agent in again or update its key ('agent-runner secret set'), then "
       "'agent-runner start'") },
  { "quota_exhausted", FALSE,
    N_("raise the agent's quota or wait for it to renew, then 'agent-runner start'") },
  { "transient_error", FALSE,
    N_("the agent's service kept failing; check it, then 'agent-runner start'") },
  { "max_rounds", FALSE, N_("it ran the rounds it was asked for; 'agent-runner start' runs more") },
  { "once", FALSE, N_("it ran the one round it was asked for; 'agent-runner start' runs more") },
  { "stop_file", FALSE,
    N_("remove the stop file ([runtime] stop_file), then 'agent-runner start'") },
  { "stop requested", FALSE, N_("an operator stopped it; 'agent-runner start' resumes") },
  { "signal:", TRUE, N_("it was stopped by a signal; 'agent-runner start' resumes") },
};

const char *
arc_stop_fix(const char *reason)
{
  if (!reason)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS(stop_fixes); i++) {
    const StopFix *f = &stop_fixes[i];
    if (f->prefix ? g_str_has_prefix(reason, f->reason) : g_str_equal(reason, f->reason))
      return _(f->fix);
  }
  return NULL;
}

static JsonNode *
read_state_json(const char *log_dir)
{
  g_autofree char *path = g_build_filename(log_dir, "state.json", NULL);
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_file(p, path, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root(p);
  return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_copy(root) : NULL;
}

static JsonObject *
last_event(const char *log_dir, const char *kind)
{
  const char *kinds[] = { kind, NULL };
  g_autoptr(JsonArray) a = ar_history_events(log_dir, kinds, 1);
  return json_array_get_length(a) ? json_object_ref(json_array_get_object_element(a, 0)) : NULL;
}

static void
set_copy(JsonObject *o, const char *member, JsonObject *from, const char *from_member)
{
  JsonNode *n = from ? json_object_get_member(from, from_member) : NULL;
  json_object_set_member(o, member, n ? json_node_copy(n) : json_node_new(JSON_NODE_NULL));
}

/* state.json's throttle ({until_us, classification, agent, reason,
 * since_round}) in Peek's shape; NULL when no wait is pending. */
static JsonNode *
throttle_from_state(JsonObject *t)
{
  gint64 until_us = ar_json_int(t, "until_us", NULL);
  if (until_us <= 0)
    return NULL;
  g_autofree char *until = ar_utc_iso_ms(until_us);
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "until", until);
  json_object_set_string_member(o, "throttled_until", until);
  json_object_set_int_member(o, "until_epoch", until_us / G_USEC_PER_SEC);
  set_copy(o, "classification", t, "classification");
  set_copy(o, "agent", t, "agent");
  set_copy(o, "since_round", t, "since_round");
  set_copy(o, "reason", t, "reason");
  JsonNode *n = json_node_new(JSON_NODE_OBJECT);
  json_node_take_object(n, o);
  return n;
}

/* The round the stop reason points at can say more than the reason: the
 * CLI's own words for an auth failure, the failed checks of a broken
 * config. */
static char *
stop_detail(const char *log_dir, const char *reason)
{
  if (g_strcmp0(reason, "auth_failed") == 0) {
    g_autoptr(JsonObject) ev = last_event(log_dir, "auth_failed");
    return ev ? g_strdup(ar_json_str(ev, "hint")) : NULL;
  }
  if (g_strcmp0(reason, "config_broken") == 0) {
    g_autoptr(JsonObject) ev = last_event(log_dir, "config_broken");
    return ev ? g_strdup(ar_json_str(ev, "reason")) : NULL;
  }
  if (g_strcmp0(reason, "quota_exhausted") == 0) {
    g_autoptr(JsonObject) ev = last_event(log_dir, "quota_exhausted");
    return ev ? g_strdup(ar_json_str(ev, "raw")) : NULL;
  }
  return NULL;
}

JsonNode *
arc_offline_doc(const ArConfig *cfg, gboolean system, guint round, guint events)
{
  const char *log_dir = cfg->log_dir;
  g_autoptr(JsonNode) state_node = read_state_json(log_dir);
  JsonObject *state = state_node ? json_node_get_object(state_node) : NULL;
  g_autoptr(JsonObject) stopping = last_event(log_dir, "serve_stopping");
  g_autoptr(JsonObject) started = last_event(log_dir, "serve_started");
  if (!state && !stopping && !started)
    return NULL; /* never ran here: nothing to tell */

  JsonObject *doc = json_object_new();
  json_object_set_string_member(doc, "schema_version", "2.0");
  json_object_set_string_member(doc, "project", cfg->project);
  json_object_set_string_member(doc, "source", "files");

  JsonObject *svc = json_object_new();
  json_object_set_string_member(svc, "state", "stopped");
  json_object_set_null_member(svc, "pid");
  json_object_set_string_member(svc, "config_path", cfg->config_path);
  json_object_set_string_member(svc, "work_dir", cfg->work_dir);
  json_object_set_string_member(svc, "log_dir", log_dir);
  json_object_set_string_member(svc, "mode", system ? "system" : "user");
  json_object_set_int_member(svc, "crash_streak", ar_json_int(state, "crash_streak", NULL));
  json_object_set_null_member(svc, "next_round_at");
  /* The lasting reason (state.json) wins over the last serve_stopping:
   * after an auth failure both exist and the first says more. A stopping
   * event older than the last start means the daemon died without one. */
  const char *stop_ts = ar_json_str(stopping, "ts");
  const char *start_ts = ar_json_str(started, "ts");
  gboolean clean_stop = stop_ts && (!start_ts || g_strcmp0(stop_ts, start_ts) >= 0);
  const char *reason = ar_json_str(state, "stop_reason");
  if (!reason && clean_stop)
    reason = ar_json_str(stopping, "reason");
  ar_json_set_str(svc, "stop_reason", reason ? reason : (start_ts ? "unknown" : NULL));
  const char *fix = reason ? arc_stop_fix(reason) : NULL;
  if (!reason && start_ts)
    fix = _("the daemon ended without saying why (killed, or it crashed); see 'journalctl' "
            "for its last words, then 'agent-runner start'");
  ar_json_set_str(svc, "stop_fix", fix);
  g_autofree char *detail = stop_detail(log_dir, reason);
  ar_json_set_str(svc, "stop_detail", detail);
  ar_json_set_str(svc, "stopped_at", clean_stop ? stop_ts : NULL);
  JsonNode *svc_node = json_node_new(JSON_NODE_OBJECT);
  json_node_take_object(svc_node, svc);
  json_object_set_member(doc, "service", svc_node);

  JsonArray *last = ar_history_last_rounds(log_dir, 10);
  if (round) {
    guint latest = (guint)ar_json_int(state, "round_num", NULL);
    JsonObject *r = ar_history_round(log_dir, round, MAX(latest, round));
    if (r) {
      json_object_set_null_member(r, "agent_pid");
      json_object_set_boolean_member(r, "running", FALSE);
      set_copy(r, "elapsed_s", r, "duration_s");
      json_object_remove_member(r, "duration_s");
      json_object_set_object_member(doc, "current_round", r);
    } else {
      json_object_set_null_member(doc, "current_round");
    }
  } else {
    json_object_set_null_member(doc, "current_round");
  }
  json_object_set_array_member(doc, "last_rounds", last);

  JsonNode *thr = throttle_from_state(ar_json_obj(state, "throttle"));
  json_object_set_member(doc, "throttle", thr ? thr : json_node_new(JSON_NODE_NULL));
  g_autoptr(JsonObject) usage = last_event(log_dir, "agent_usage_recorded");
  if (usage) {
    json_object_remove_member(usage, "ts");
    json_object_remove_member(usage, "event");
    json_object_set_boolean_member(usage, "recorded", TRUE);
  }
  if (usage)
    json_object_set_object_member(doc, "usage", json_object_ref(usage));
  else
    json_object_set_null_member(doc, "usage");
  set_copy(doc, "orphan", state, "orphan");
  json_object_set_array_member(
      doc, "recent_events", events ? ar_history_events(log_dir, NULL, events) : json_array_new());
  JsonNode *root = json_node_new(JSON_NODE_OBJECT);
  json_node_take_object(root, doc);
  return root;
}

/* The newest transcript of round n: rounds/R<n>-<stamp>.log. */
static char *
transcript_of(const char *log_dir, gint64 n)
{
  g_autofree char *dir = g_build_filename(log_dir, "rounds", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autofree char *prefix = g_strdup_printf("R%" G_GINT64_FORMAT "-", n);
  g_autofree char *best = NULL;
  for (const char *name; d && (name = g_dir_read_name(d));) {
    if (g_str_has_prefix(name, prefix) && g_str_has_suffix(name, ".log") &&
        (!best || strcmp(name, best) > 0)) {
      g_free(best);
      best = g_strdup(name);
    }
  }
  return best ? g_build_filename(dir, best, NULL) : NULL;
}

/* At most this much of a transcript's end is read for its tail. */
#define TAIL_MAX_BYTES (256 * 1024)

void
arc_offline_add_log(JsonNode *doc, const char *log_dir, guint lines)
{
  JsonObject *cur = ar_json_obj(json_node_get_object(doc), "current_round");
  if (!cur)
    return;
  g_autofree char *path = transcript_of(log_dir, ar_json_int(cur, "round_num", NULL));
  ar_json_set_str(cur, "log_path", path);
  g_autoptr(GMappedFile) map = path ? g_mapped_file_new(path, FALSE, NULL) : NULL;
  if (!map) {
    json_object_set_null_member(cur, "log_tail");
    return;
  }
  gsize len = g_mapped_file_get_length(map);
  const char *data = g_mapped_file_get_contents(map);
  gsize from = len > TAIL_MAX_BYTES ? len - TAIL_MAX_BYTES : 0;
  g_autofree char *text = g_utf8_make_valid(data ? data + from : "", data ? len - from : 0);
  g_auto(GStrv) all = g_strsplit(text, "\n", -1);
  guint n = g_strv_length(all);
  if (n > 0 && all[n - 1][0] == '\0')
    n--; /* the text ends with a newline */
  JsonArray *tail = json_array_new();
  for (guint i = n > lines ? n - lines : 0; i < n; i++)
    json_array_add_string_element(tail, all[i]);
  json_object_set_array_member(cur, "log_tail", tail);
}
