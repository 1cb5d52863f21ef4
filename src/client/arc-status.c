/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <inttypes.h>

/* Read-only bus verbs: status, peek, list, watch. */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "ar-cleanup.h"
#include "ar-events.h"
#include "ar-history.h"
#include "ar-json.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-bus.h"
#include "arc-fleet.h"
#include "arc-offline.h"
#include "arc-remote.h"
#include "arc-systemd.h"

#define BOLD   "\033[1m"
#define GREEN  "\033[32m"
#define YELLOW "\033[33m"
#define RED    "\033[31m"
#define DIM    "\033[2m"
#define RESET  "\033[0m"

static const char *
state_color(const char *state)
{
  if (g_strcmp0(state, "running") == 0)
    return GREEN;
  if (g_strcmp0(state, "waiting") == 0 || g_strcmp0(state, "starting") == 0)
    return "";
  if (g_strcmp0(state, "stopped") == 0 || g_strcmp0(state, "failed") == 0)
    return RED;
  if (g_strcmp0(state, "inactive") == 0)
    return "";
  return YELLOW;
}

static JsonObject *
obj_obj(JsonObject *o, const char *key)
{
  JsonNode *n = o ? json_object_get_member(o, key) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* "3m ago" from a UTC ISO timestamp. */
static char *
ago(const char *iso)
{
  if (!iso)
    return g_strdup("");
  g_autoptr(GDateTime) t = g_date_time_new_from_iso8601(iso, NULL);
  if (!t)
    return g_strdup("");
  gint64 secs = (g_get_real_time() - g_date_time_to_unix(t) * G_USEC_PER_SEC) / G_USEC_PER_SEC;
  g_autofree char *d = ar_format_duration(MAX(secs, 0));
  return g_strdup_printf(_("%s ago"), d);
}

static char *
until(const char *iso)
{
  g_autoptr(GDateTime) t = iso ? g_date_time_new_from_iso8601(iso, NULL) : NULL;
  if (!t)
    return g_strdup(iso ? iso : "");
  gint64 secs = g_date_time_to_unix(t) - g_get_real_time() / G_USEC_PER_SEC;
  g_autofree char *d = ar_format_duration(MAX(secs, 0));
  return g_strdup_printf(_("in %s"), d);
}

static void
row(const char *label, const char *value)
{
  printf("  %s%-9s%s %s\n", arc_color(DIM), label, arc_color(RESET), value);
}

/* ---- usage and cost ---------------------------------------------------- */

typedef struct {
  gint64 in, out, cached;
  double cost;
  gboolean have_cost;
  guint rounds;
} UsageSum;

static void
usage_add(UsageSum *u, JsonObject *ev)
{
  u->in += ar_json_int(ev, "input_tokens", NULL);
  u->out += ar_json_int(ev, "output_tokens", NULL);
  u->cached += ar_json_int(ev, "cached_tokens", NULL);
  gboolean have = FALSE;
  double c = ar_json_double(ev, "cost_usd", &have);
  if (have) {
    u->cost += c;
    u->have_cost = TRUE;
  }
  u->rounds++;
}

static char *
usage_text(const UsageSum *u)
{
  /* Cents hide the cost of small rounds. */
  g_autofree char *cost = !u->have_cost    ? g_strdup("")
                          : u->cost >= 0.1 ? g_strdup_printf(", $%.2f", u->cost)
                                           : g_strdup_printf(", $%.4f", u->cost);
  return g_strdup_printf(_("%" PRId64 " in, %" PRId64 " out, %" PRId64 " cached tokens%s"), u->in,
                         u->out, u->cached, cost);
}

/* Totals of this run (since the last serve_started) and of today (local
 * time), from the agent_usage_recorded events: read backwards, at most a
 * day's worth of them. */
#define USAGE_EVENTS_MAX 2000

static void
usage_totals(const char *log_dir, UsageSum *run, UsageSum *today)
{
  const char *kinds[] = { "agent_usage_recorded", "serve_started", NULL };
  g_autoptr(JsonArray) evs = ar_history_events(log_dir, kinds, USAGE_EVENTS_MAX);
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autoptr(GDateTime) midnight =
      g_date_time_new_local(g_date_time_get_year(now), g_date_time_get_month(now),
                            g_date_time_get_day_of_month(now), 0, 0, 0);
  gboolean in_run = TRUE;
  for (guint i = json_array_get_length(evs); i-- > 0;) {
    JsonObject *ev = json_array_get_object_element(evs, i);
    if (g_strcmp0(ar_json_str(ev, "event"), "serve_started") == 0) {
      in_run = FALSE;
      continue;
    }
    const char *ts = ar_json_str(ev, "ts");
    g_autoptr(GDateTime) t = ts ? g_date_time_new_from_iso8601(ts, NULL) : NULL;
    if (in_run)
      usage_add(run, ev);
    if (t && g_date_time_compare(t, midnight) >= 0)
      usage_add(today, ev);
    else if (!in_run)
      break;
  }
}

static void
render_usage(JsonObject *doc)
{
  JsonObject *usage = obj_obj(doc, "usage");
  if (usage && ar_json_bool(usage, "recorded", FALSE)) {
    UsageSum last = { 0 };
    usage_add(&last, usage);
    g_autofree char *text = usage_text(&last);
    const char *model = ar_json_str(usage, "model");
    g_autofree char *line =
        model ? g_strdup_printf(_("round %" PRId64 ": %s (%s)"),
                                ar_json_int(usage, "round_num", NULL), text, model)
              : g_strdup_printf(_("round %" PRId64 ": %s"), ar_json_int(usage, "round_num", NULL),
                                text);
    row(_("usage"), line);
  }
  const char *log_dir = ar_json_str(obj_obj(doc, "service"), "log_dir");
  if (!log_dir)
    return;
  UsageSum run = { 0 }, today = { 0 };
  usage_totals(log_dir, &run, &today);
  if (run.rounds) {
    g_autofree char *text = usage_text(&run);
    g_autofree char *line = g_strdup_printf(_("%s over %u rounds"), text, run.rounds);
    row(_("this run"), line);
  }
  if (today.rounds) {
    g_autofree char *text = usage_text(&today);
    g_autofree char *line = g_strdup_printf(_("%s over %u rounds"), text, today.rounds);
    row(_("today"), line);
  }
}

static JsonNode *
usage_sum_json(const UsageSum *u)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "rounds", u->rounds);
  ar_json_add_int(b, "input_tokens", u->in);
  ar_json_add_int(b, "output_tokens", u->out);
  ar_json_add_int(b, "cached_tokens", u->cached);
  json_builder_set_member_name(b, "cost_usd");
  if (u->have_cost)
    json_builder_add_double_value(b, u->cost);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* One screen from a Peek document. */
static void
render_status(JsonObject *doc)
{
  JsonObject *svc = obj_obj(doc, "service");
  JsonObject *cur = obj_obj(doc, "current_round");
  const char *state = ar_json_str(svc, "state");
  printf("%s%s%s  %s%s%s\n", arc_color(BOLD), ar_json_str(doc, "project"), arc_color(RESET),
         arc_color(state_color(state)), state ? state : "?", arc_color(RESET));
  if (cur) {
    g_autofree char *el = ar_format_duration((gint64)ar_json_double(cur, "elapsed_s", NULL));
    const char *phase = ar_json_str(cur, "phase");
    gint64 num = ar_json_int(cur, "round_num", NULL);
    gint64 pid = ar_json_int(cur, "agent_pid", NULL);
    /* Whole sentences, so a translation can order them its own way. */
    g_autofree char *line =
        phase ? g_strdup_printf(_("%" PRId64 " (phase %s), running for %s, agent pid %" PRId64),
                                num, phase, el, pid)
              : g_strdup_printf(_("%" PRId64 ", running for %s, agent pid %" PRId64), num, el, pid);
    row(_("round"), line);
  } else if (ar_json_str(svc, "next_round_at")) {
    g_autofree char *when = until(ar_json_str(svc, "next_round_at"));
    g_autofree char *line = g_strdup_printf(_("next round %s"), when);
    row(_("round"), line);
  }
  JsonNode *lr = json_object_get_member(doc, "last_rounds");
  JsonArray *last = lr && JSON_NODE_HOLDS_ARRAY(lr) ? json_node_get_array(lr) : NULL;
  if (last && json_array_get_length(last) > 0) {
    JsonObject *l = json_array_get_object_element(last, 0);
    g_autofree char *dur = ar_format_duration((gint64)ar_json_double(l, "duration_s", NULL));
    g_autofree char *when = ago(ar_json_str(l, "ended_at"));
    const char *outcome = ar_json_str(l, "outcome");
    gint64 code = ar_json_int(l, "exit_code", NULL);
    g_autofree char *line =
        g_strdup_printf(_("round %" PRId64 ": %s%s%s (exit %" PRId64 ", %s), %s"),
                        ar_json_int(l, "round_num", NULL), arc_color(code == 0 ? GREEN : RED),
                        outcome ? outcome : "?", arc_color(RESET), code, dur, when);
    row(_("last"), line);
  } else {
    row(_("last"), _("no round finished yet"));
  }
  JsonObject *thr = obj_obj(doc, "throttle");
  if (thr) {
    /* "waiting for rate limit until 14:05 (in 23 min)", local time. */
    const char *iso =
        ar_json_str(thr, "until") ? ar_json_str(thr, "until") : ar_json_str(thr, "throttled_until");
    g_autoptr(GDateTime) t = iso ? g_date_time_new_from_iso8601(iso, NULL) : NULL;
    g_autoptr(GDateTime) local = t ? g_date_time_to_local(t) : NULL;
    g_autofree char *hhmm = local ? g_date_time_format(local, "%H:%M") : g_strdup("?");
    g_autofree char *in = until(iso);
    const char *cls = ar_json_str(thr, "classification");
    g_autofree char *line =
        cls && !g_str_has_prefix(cls, "rate_limit") && g_strcmp0(cls, "quota_exhausted") != 0
            ? g_strdup_printf(_("backing off after %s until %s (%s)"), cls, hhmm, in)
            : g_strdup_printf(_("waiting for rate limit until %s (%s)"), hhmm, in);
    row(_("throttle"), line);
  }
  render_usage(doc);
  JsonObject *orphan = obj_obj(doc, "orphan");
  if (orphan) {
    const char *ref = ar_json_str(orphan, "ref");
    g_autofree char *short_ref = g_strndup(ref ? ref : "?", 12);
    g_autofree char *line =
        g_strdup_printf(_("round %" PRId64
                          " left uncommitted work, stashed as %s ('agent-runner orphans show %s')"),
                        ar_json_int(orphan, "round_num", NULL), short_ref, short_ref);
    row(_("orphan"), line);
  }
  if (g_strcmp0(ar_json_str(doc, "source"), "files") == 0) {
    /* No daemon: what the files say about how it ended. */
    const char *at = ar_json_str(svc, "stopped_at");
    g_autofree char *when = at ? ago(at) : NULL;
    g_autofree char *svc_line =
        when ? g_strdup_printf(_("not running, stopped %s"), when) : g_strdup(_("not running"));
    row(_("service"), svc_line);
    if (ar_json_str(svc, "stop_reason")) {
      const char *detail = ar_json_str(svc, "stop_detail");
      g_autofree char *why =
          detail && *detail ? g_strdup_printf("%s: %s", ar_json_str(svc, "stop_reason"), detail)
                            : g_strdup(ar_json_str(svc, "stop_reason"));
      row(_("stopped"), why);
    }
    if (ar_json_str(svc, "stop_fix"))
      row(_("fix"), ar_json_str(svc, "stop_fix"));
  } else {
    g_autofree char *up = ar_format_duration(ar_json_int(svc, "uptime_s", NULL));
    g_autofree char *svc_line =
        g_strdup_printf(_("pid %" PRId64 ", up %s, %s bus, %" PRId64 " rounds this run"),
                        ar_json_int(svc, "pid", NULL), up, ar_json_str(svc, "mode"),
                        ar_json_int(svc, "rounds_completed", NULL));
    row(_("service"), svc_line);
    if (ar_json_str(svc, "stop_reason"))
      row(_("stopping"), ar_json_str(svc, "stop_reason"));
  }
  row(_("config"), ar_json_str(svc, "config_path"));
}

static JsonNode *
status_json(ArcConn *conn, JsonObject *doc)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  JsonObject *svc = obj_obj(doc, "service");
  gboolean running = doc && g_strcmp0(ar_json_str(doc, "source"), "files") != 0;
  json_builder_begin_object(b);
  ar_json_add_str(b, "project", conn->project);
  json_builder_set_member_name(b, "running");
  json_builder_add_boolean_value(b, running);
  ar_json_add_str(b, "state", svc ? ar_json_str(svc, "state") : "stopped");
  if (doc) {
    const char *keys[] = { "pid",         "uptime_s",         "mode",
                           "config_path", "rounds_completed", "stop_reason",
                           "stop_fix",    "stop_detail",      "stopped_at",
                           NULL };
    for (int i = 0; keys[i]; i++) {
      JsonNode *n = json_object_get_member(svc, keys[i]);
      if (!n && !running)
        continue;
      json_builder_set_member_name(b, keys[i]);
      json_builder_add_value(b, n ? json_node_copy(n) : json_node_new(JSON_NODE_NULL));
    }
    const char *members[] = { "current_round", "throttle", "usage", "orphan", NULL };
    for (int i = 0; members[i]; i++) {
      JsonNode *n = json_object_get_member(doc, members[i]);
      json_builder_set_member_name(b, members[i]);
      json_builder_add_value(b, n ? json_node_copy(n) : json_node_new(JSON_NODE_NULL));
    }
    JsonArray *last = ar_json_array(doc, "last_rounds");
    json_builder_set_member_name(b, "last_round");
    if (last && json_array_get_length(last) > 0)
      json_builder_add_value(b, json_node_copy(json_array_get_element(last, 0)));
    else
      json_builder_add_null_value(b);
    const char *log_dir = ar_json_str(svc, "log_dir");
    UsageSum run = { 0 }, today = { 0 };
    if (log_dir)
      usage_totals(log_dir, &run, &today);
    json_builder_set_member_name(b, "usage_this_run");
    json_builder_add_value(b, usage_sum_json(&run));
    json_builder_set_member_name(b, "usage_today");
    json_builder_add_value(b, usage_sum_json(&today));
  }
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* An installed project: the unit's state is part of the answer, running
 * or not (a failed unit is exactly what the operator must see). */
static gboolean
query_unit(ArcContext *ctx, ArcConn *conn, ArcUnitState *st)
{
  if (conn->host || !conn->project || !arc_systemd_unit_installed(ctx->system, conn->project))
    return FALSE;
  return arc_systemd_query_project(ctx->system, conn->project, st, NULL);
}

static JsonNode *
unit_json(const char *project, const ArcUnitState *st)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *unit = arc_systemd_unit_name(project);
  json_builder_begin_object(b);
  ar_json_add_str(b, "name", unit);
  ar_json_add_str(b, "active_state", st->active_state);
  ar_json_add_str(b, "sub_state", st->sub_state);
  ar_json_add_str(b, "unit_file_state", st->unit_file_state);
  ar_json_add_str(b, "result", st->result);
  ar_json_add_int(b, "since_us", (gint64)st->state_since_us);
  ar_json_add_int(b, "restarts", st->n_restarts);
  ar_json_add_int(b, "exit_status", st->exec_main_status);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

static void
render_unit(const char *project, const ArcUnitState *st)
{
  g_autofree char *unit = arc_systemd_unit_name(project);
  gint64 now = g_get_real_time();
  g_autofree char *ago =
      st->state_since_us ? ar_format_duration((now - (gint64)st->state_since_us) / G_USEC_PER_SEC)
                         : g_strdup("?");
  gboolean failed = g_strcmp0(st->active_state, "failed") == 0;
  printf("%-10s %s%s (%s)%s %s, %s %s, %u %s", _("unit"), arc_color(failed ? "\033[31m" : ""),
         st->active_state, st->sub_state, arc_color(failed ? "\033[0m" : ""), unit, _("since"), ago,
         st->n_restarts, _("restarts"));
  if (failed || (st->exec_main_status && g_strcmp0(st->active_state, "active") != 0))
    printf(", %s %s, %s %d", _("result"), st->result, _("exit"), st->exec_main_status);
  printf("\n");
}

int
arc_verb_status(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc == AR_EXIT_OK) {
    g_autoptr(JsonNode) doc = NULL;
    g_auto(ArcUnitState) unit = { 0 };
    gboolean installed = query_unit(ctx, conn, &unit);
    if (!arc_conn_is_running(conn)) {
      /* Stopped: the files tell why (exit 3 like systemctl status). */
      const ArConfig *cfg = arc_conn_config(conn, FALSE);
      g_autoptr(JsonNode) off = cfg ? arc_offline_doc(cfg, ctx->system, 0, 0) : NULL;
      JsonObject *offo = off ? json_node_get_object(off) : NULL;
      if (ctx->json) {
        g_autoptr(JsonNode) j = status_json(conn, offo);
        if (installed)
          json_object_set_member(json_node_get_object(j), "unit", unit_json(conn->project, &unit));
        arc_print_json(j);
      } else {
        if (offo)
          render_status(offo);
        if (installed)
          render_unit(conn->project, &unit);
      }
      rc = arc_conn_not_running(conn);
    } else if ((rc = arc_conn_peek(conn, "status", &doc, NULL)) == AR_EXIT_OK) {
      if (ctx->json) {
        g_autoptr(JsonNode) j = status_json(conn, json_node_get_object(doc));
        if (installed)
          json_object_set_member(json_node_get_object(j), "unit", unit_json(conn->project, &unit));
        arc_print_json(j);
      } else {
        render_status(json_node_get_object(doc));
        if (installed)
          render_unit(conn->project, &unit);
      }
    }
  }
  return rc;
}

/* ---- peek ---------------------------------------------------------------- */

static JsonNode *
select_path(JsonNode *root, const char *path, GError **error)
{
  g_auto(GStrv) parts = g_strsplit(path, ".", -1);
  JsonNode *n = root;
  for (char **p = parts; *p; p++) {
    if (JSON_NODE_HOLDS_OBJECT(n) && json_object_has_member(json_node_get_object(n), *p)) {
      n = json_object_get_member(json_node_get_object(n), *p);
      continue;
    }
    char *end = NULL;
    guint64 i = g_ascii_strtoull(*p, &end, 10);
    if (JSON_NODE_HOLDS_ARRAY(n) && **p && end && !*end &&
        i < json_array_get_length(json_node_get_array(n))) {
      n = json_array_get_element(json_node_get_array(n), (guint)i);
      continue;
    }
    g_set_error(error, AR_ERROR, AR_ERROR_NOT_FOUND,
                _("path segment '%s' not found in select path '%s'"), *p, path);
    return NULL;
  }
  return n;
}

/* peek's selectors, shared with watch (the Python tool's watch takes
 * peek's options). */
typedef struct {
  char *round; /* "N" or "latest", NULL: the current round */
  char *select;
  gboolean log;
  int events;
  guint64 round_num;
} PeekSel;

static void
peek_entries(PeekSel *sel, GOptionEntry *entries)
{
  GOptionEntry e[] = {
    { "round", 0, 0, G_OPTION_ARG_STRING, &sel->round, N_("Describe round N (or 'latest')"),
      "N|latest" },
    { "log", 0, 0, G_OPTION_ARG_NONE, &sel->log, N_("Include the last 50 lines of the transcript"),
      NULL },
    { "events", 0, 0, G_OPTION_ARG_INT, &sel->events, N_("Include the last N events"), "N" },
    { "select", 0, 0, G_OPTION_ARG_STRING, &sel->select, N_("Print only this part (a.b.0.c)"),
      "PATH" },
  };
  memcpy(entries, e, sizeof e);
}
#define PEEK_N_ENTRIES 4

static gboolean
peek_sel_valid(PeekSel *sel)
{
  return sel->events >= 0 &&
         (!sel->round || g_str_equal(sel->round, "latest") ||
          g_ascii_string_to_unsigned(sel->round, 10, 1, G_MAXUINT32, &sel->round_num, NULL));
}

static gboolean
peek_sel_any(const PeekSel *sel)
{
  return sel->round || sel->select || sel->log || sel->events;
}

/* The document, from the daemon or (stopped) from the files. */
static int
peek_document(ArcConn *conn, const char *verb, PeekSel *sel, JsonNode **doc)
{
  guint64 round_num = sel->round_num;
  int rc;
  const ArConfig *cfg = arc_conn_config(conn, FALSE);
  if (!arc_conn_is_running(conn) && cfg) {
    /* Stopped: the same document from the files, as the Python tool's
     * peek answers. */
    if (sel->round && g_str_equal(sel->round, "latest")) {
      g_autoptr(JsonArray) last = ar_history_last_rounds(cfg->log_dir, 1);
      round_num =
          json_array_get_length(last)
              ? (guint64)ar_json_int(json_array_get_object_element(last, 0), "round_num", NULL)
              : 0;
    }
    *doc = arc_offline_doc(cfg, conn->system, (guint)round_num, (guint)sel->events);
    rc = *doc ? AR_EXIT_OK : arc_conn_not_running(conn);
    /* "Why did it die": peek --round latest --log works on a stopped one. */
    if (*doc && sel->log)
      arc_offline_add_log(*doc, cfg->log_dir, 50);
  } else {
    if (sel->round && g_str_equal(sel->round, "latest"))
      round_num = arc_conn_get_u32(conn, "RoundNum");
    rc = arc_conn_peek(conn, verb, doc, "round", (guint32)round_num, "log_tail",
                       (guint32)(sel->log ? 50 : 0), "events", (guint32)sel->events, NULL);
  }
  if (rc == AR_EXIT_OK && round_num && sel->round && !g_str_equal(sel->round, "latest") &&
      JSON_NODE_HOLDS_NULL(json_object_get_member(json_node_get_object(*doc), "current_round"))) {
    fprintf(stderr,
            _("agent-runner %s: round %s not found (neither in memory, nor in the events, nor a "
              "transcript on disk)\n"),
            verb, sel->round);
    rc = AR_EXIT_FAILURE;
  }
  return rc;
}

/* The selected part: a scalar as plain text, else JSON (one line with
 * one_line, for watch --json). */
static int
print_selection(const char *verb, JsonNode *doc, const PeekSel *sel, gboolean json,
                gboolean one_line)
{
  JsonNode *out = doc;
  g_autoptr(GError) error = NULL;
  if (sel->select && !(out = select_path(doc, sel->select, &error))) {
    fprintf(stderr, "agent-runner %s: %s\n", verb, error->message);
    return AR_EXIT_FAILURE;
  }
  if (!json && JSON_NODE_HOLDS_VALUE(out) && json_node_get_value_type(out) == G_TYPE_STRING) {
    printf("%s\n", json_node_get_string(out));
  } else if (one_line || (!json && JSON_NODE_HOLDS_VALUE(out))) {
    g_autoptr(GString) s = g_string_new(NULL);
    ar_json_append(s, out);
    printf("%s\n", s->str);
  } else {
    arc_print_json(out);
  }
  return AR_EXIT_OK;
}

int
arc_verb_peek(ArcContext *ctx, int argc, char **argv)
{
  PeekSel sel = { 0 };
  GOptionEntry entries[PEEK_N_ENTRIES + 1] = { { 0 } };
  peek_entries(&sel, entries);
  gboolean ok = arc_parse_options(ctx, entries, &argc, &argv);
  int rc = AR_EXIT_USAGE;
  if (ok && !peek_sel_valid(&sel))
    fprintf(stderr, _("agent-runner peek: bad arguments (see 'agent-runner peek --help')\n"));
  else if (ok) {
    ArcConn *conn;
    rc = arc_context_conn(ctx, &conn);
    g_autoptr(JsonNode) doc = NULL;
    if (rc == AR_EXIT_OK)
      rc = peek_document(conn, "peek", &sel, &doc);
    if (rc == AR_EXIT_OK)
      rc = print_selection("peek", doc, &sel, ctx->json, FALSE);
  }
  g_free(sel.round);
  g_free(sel.select);
  return rc;
}

/* ---- list ---------------------------------------------------------------- */

typedef struct {
  char *project;
  char *bus_name; /* NULL: not on the bus */
  char *state;
  guint32 round_num;
  gboolean installed;
  char *unit_state; /* "failed (exit-code)", NULL when not installed or unknown */
  char *stop_reason;
} ListRow;

static void
list_row_free(ListRow *r)
{
  g_free(r->project);
  g_free(r->bus_name);
  g_free(r->state);
  g_free(r->unit_state);
  g_free(r->stop_reason);
  g_free(r);
}

static int
compare_rows(gconstpointer a, gconstpointer b)
{
  return strcmp((*(ListRow *const *)a)->project, (*(ListRow *const *)b)->project);
}

/* The projects `install` set up in this mode: one config link each. */
static GPtrArray *
installed_projects(gboolean system)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *any = arc_systemd_config_link_path(system, "x");
  g_autofree char *dir = g_path_get_dirname(any);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d));) {
    if (!g_str_has_suffix(name, ".toml"))
      continue;
    g_autofree char *project = g_strndup(name, strlen(name) - strlen(".toml"));
    if (arc_systemd_unit_installed(system, project))
      g_ptr_array_add(out, g_steal_pointer(&project));
  }
  return out;
}

/* An installed project that is not on the bus: the unit's state, and the
 * files' word on why it stopped. */
static void
fill_installed(ListRow *row, gboolean system)
{
  row->installed = TRUE;
  g_auto(ArcUnitState) st = { 0 };
  if (arc_systemd_query_project(system, row->project, &st, NULL)) {
    row->unit_state = g_strdup_printf("%s (%s)", st.active_state, st.sub_state);
    if (!row->bus_name)
      row->state = g_strdup(st.active_state);
  }
  if (row->bus_name)
    return;
  g_autofree char *link = arc_systemd_config_link_path(system, row->project);
  g_autoptr(ArConfig) cfg = ar_config_load(link, NULL);
  g_autoptr(JsonNode) off = cfg ? arc_offline_doc(cfg, system, 0, 0) : NULL;
  JsonObject *svc = off ? obj_obj(json_node_get_object(off), "service") : NULL;
  row->stop_reason = g_strdup(ar_json_str(svc, "stop_reason"));
  JsonArray *last = off ? ar_json_array(json_node_get_object(off), "last_rounds") : NULL;
  if (last && json_array_get_length(last))
    row->round_num =
        (guint32)ar_json_int(json_array_get_object_element(last, 0), "round_num", NULL);
  if (!row->state)
    row->state = g_strdup("stopped");
}

/* list -H a -H b / --fleet: the remote hosts' buses (arc-fleet.c). */
static int
list_fleet(ArcContext *ctx, gboolean all, gboolean fleet, int timeout_s)
{
  if (all) {
    fprintf(stderr, _("agent-runner list: --all reads this host's unit files and does not work "
                      "with -H/--fleet; run 'ssh HOST agent-runner list --all'\n"));
    return AR_EXIT_USAGE;
  }
  if (timeout_s <= 0) {
    fprintf(stderr, _("agent-runner list: --timeout needs a number of seconds above 0\n"));
    return AR_EXIT_USAGE;
  }
  g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func(g_free);
  if (fleet) {
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    g_autoptr(GPtrArray) conf = ar_fleet_config_hosts(&path, &error);
    if (!conf) {
      fprintf(stderr, "agent-runner list: %s\n", error->message);
      return AR_EXIT_CONFIG;
    }
    if (conf->len == 0 && !ctx->hosts) {
      fprintf(stderr,
              _("agent-runner list: --fleet: no hosts in %s (write [fleet] hosts = "
                "[\"pi\", \"user@server:2222\"])\n"),
              path);
      return AR_EXIT_CONFIG;
    }
    for (guint i = 0; i < conf->len; i++)
      g_ptr_array_add(hosts, g_strdup(g_ptr_array_index(conf, i)));
  }
  for (guint i = 0; ctx->hosts && i < ctx->hosts->len; i++)
    g_ptr_array_add(hosts, g_strdup(g_ptr_array_index(ctx->hosts, i)));
  for (guint i = 0; i < hosts->len; i++) {
    ArHost h;
    g_autoptr(GError) error = NULL;
    if (!ar_host_parse(g_ptr_array_index(hosts, i), &h, &error)) {
      fprintf(stderr, "agent-runner list: %s\n", error->message);
      return AR_EXIT_USAGE;
    }
    ar_host_clear(&h);
  }
  return arc_fleet_list(ctx, hosts, (guint)timeout_s);
}

int
arc_verb_list(ArcContext *ctx, int argc, char **argv)
{
  gboolean all = FALSE, fleet = FALSE;
  int timeout_s = 10;
  GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
      N_("Also installed projects that are not running (stopped or failed units)"), NULL },
    { "fleet", 0, 0, G_OPTION_ARG_NONE, &fleet,
      N_("The hosts of [fleet] hosts in ~/.config/agent-runner/client.toml (with any -H)"), NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
      N_("With -H/--fleet: give up on a host after S seconds (default 10)"), "S" },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (ctx->hosts || fleet)
    return list_fleet(ctx, all, fleet, timeout_s);
  g_autoptr(sd_bus) bus = NULL;
  int r = arc_bus_open(ctx->system, &bus);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = r >= 0 ? arc_bus_list_names(bus, &error) : NULL;
  if (!names && !all) {
    if (r < 0)
      fprintf(stderr,
              ctx->system
                  ? _("agent-runner list: cannot reach the system bus (%s): is dbus running "
                      "('systemctl status dbus')? Without it no system service can run either\n")
                  : _("agent-runner list: cannot reach the user bus (%s): is this a login "
                      "session (DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR)? Try 'agent-runner "
                      "doctor'\n"),
              g_strerror(-r));
    else
      fprintf(stderr, _("agent-runner list: %s\n"), error->message);
    return AR_EXIT_FAILURE;
  }
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)list_row_free);
  g_autoptr(GHashTable) by_project = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; names && i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    ListRow *row = g_new0(ListRow, 1);
    row->bus_name = g_strdup(name);
    row->project = ar_project_from_bus_name(name);
    if (!row->project)
      row->project = g_strdup(name);
    char *state = NULL;
    (void)sd_bus_get_property_string(bus, name, AR_BUS_PATH, AR_BUS_INTERFACE, "State", NULL,
                                     &state);
    row->state = g_strdup(state ? state : "unknown");
    free(state);
    (void)sd_bus_get_property_trivial(bus, name, AR_BUS_PATH, AR_BUS_INTERFACE, "RoundNum", NULL,
                                      'u', &row->round_num);
    g_ptr_array_add(rows, row);
    g_hash_table_insert(by_project, row->project, row);
  }
  if (all) {
    g_autoptr(GPtrArray) inst = installed_projects(ctx->system);
    for (guint i = 0; i < inst->len; i++) {
      const char *project = g_ptr_array_index(inst, i);
      ListRow *row = g_hash_table_lookup(by_project, project);
      if (!row) {
        row = g_new0(ListRow, 1);
        row->project = g_strdup(project);
        g_ptr_array_add(rows, row);
      }
      fill_installed(row, ctx->system);
    }
    g_ptr_array_sort(rows, compare_rows);
  }
  if (ctx->json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < rows->len; i++) {
      ListRow *row = g_ptr_array_index(rows, i);
      json_builder_begin_object(b);
      ar_json_add_str(b, "project", row->project);
      ar_json_add_str(b, "bus_name", row->bus_name);
      ar_json_add_str(b, "state", row->state);
      ar_json_add_int(b, "round_num", row->round_num);
      if (all) {
        json_builder_set_member_name(b, "installed");
        json_builder_add_boolean_value(b, row->installed);
        ar_json_add_str(b, "unit_state", row->unit_state);
        ar_json_add_str(b, "stop_reason", row->stop_reason);
      }
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    arc_print_json(root);
    return AR_EXIT_OK;
  }
  if (rows->len == 0) {
    printf(all ? _("no agent-runner project is running or installed (%s)\n")
               : _("no agent-runner service on the %s bus ('agent-runner list --all' also shows "
                   "installed ones that are stopped)\n"),
           ctx->system ? "system" : "user");
    return AR_EXIT_OK;
  }
  printf("%s%-24s %-12s %-6s%s%s\n", arc_color(BOLD), _("PROJECT"), _("STATE"), _("ROUND"),
         all ? _(" UNIT / STOP REASON") : "", arc_color(RESET));
  for (guint i = 0; i < rows->len; i++) {
    ListRow *row = g_ptr_array_index(rows, i);
    printf("%-24s %s%-12s%s %-6u", row->project, arc_color(state_color(row->state)), row->state,
           arc_color(RESET), row->round_num);
    if (all)
      printf(" %s%s%s", row->unit_state ? row->unit_state : "-", row->stop_reason ? ", " : "",
             row->stop_reason ? row->stop_reason : "");
    printf("\n");
  }
  return AR_EXIT_OK;
}

/* ---- watch --------------------------------------------------------------- */

typedef struct {
  ArcConn *conn;
  gboolean json;
  uint64_t period;
  PeekSel *sel; /* peek's selectors: print peek's document, not the status */
} Watch;

/* --json watch: one compact JSON document per line and update, for jq
 * and scripts (no screen clearing). */
static void
print_json_line(JsonNode *doc)
{
  g_autoptr(GString) s = g_string_new(NULL);
  ar_json_append(s, doc);
  printf("%s\n", s->str);
}

static void
redraw(Watch *w)
{
  /* The name may have changed owner since the last redraw. */
  w->conn->running = -1;
  if (arc_use_color() && !w->json)
    printf("\033[H\033[2J");
  if (peek_sel_any(w->sel)) {
    g_autoptr(JsonNode) doc = NULL;
    if (peek_document(w->conn, "watch", w->sel, &doc) == AR_EXIT_OK)
      (void)print_selection("watch", doc, w->sel, w->json, w->json);
  } else if (!arc_conn_is_running(w->conn)) {
    /* The last state stays on screen, from the files. */
    const ArConfig *cfg = arc_conn_config(w->conn, FALSE);
    g_autoptr(JsonNode) off = cfg ? arc_offline_doc(cfg, w->conn->system, 0, 0) : NULL;
    if (off && w->json)
      print_json_line(off);
    else if (off)
      render_status(json_node_get_object(off));
    else
      printf(_("%s  not running\n"), w->conn->project);
  } else {
    g_autoptr(JsonNode) doc = NULL;
    if (arc_conn_peek(w->conn, "watch", &doc, NULL) == AR_EXIT_OK) {
      if (w->json)
        print_json_line(doc);
      else
        render_status(json_node_get_object(doc));
    }
  }
  if (!arc_use_color() && !w->json)
    printf("\n");
  fflush(stdout);
}

static int
on_change(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  redraw(user_data);
  return 0;
}

static int
on_tick(sd_event_source *s, uint64_t usec, void *user_data)
{
  Watch *w = user_data;
  redraw(w);
  (void)sd_event_source_set_time_relative(s, w->period);
  return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int
arc_verb_watch(ArcContext *ctx, int argc, char **argv)
{
  double interval = 2.0;
  g_autofree PeekSel *sel = g_new0(PeekSel, 1);
  GOptionEntry entries[PEEK_N_ENTRIES + 2] = {
    { "interval", 0, 0, G_OPTION_ARG_DOUBLE, &interval, N_("Redraw at least every S seconds"),
      "S" },
  };
  peek_entries(sel, entries + 1);
  gboolean ok = arc_parse_options(ctx, entries, &argc, &argv);
  g_autofree char *round_arg = sel->round;
  g_autofree char *select_arg = sel->select;
  if (!ok)
    return AR_EXIT_USAGE;
  if (argc > 1 || interval <= 0 || !peek_sel_valid(sel)) {
    fprintf(stderr, _("agent-runner watch: bad arguments (see 'agent-runner watch --help')\n"));
    return AR_EXIT_USAGE;
  }
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc != AR_EXIT_OK || !conn->bus)
    return rc != AR_EXIT_OK ? rc : arc_conn_not_running(conn);
  uint64_t period = (uint64_t)(interval * G_USEC_PER_SEC);
  Watch w = { conn, ctx->json, period, sel };
  g_autoptr(sd_event) event = NULL;
  g_autoptr(sd_event_source) tick = NULL;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  /* Changes of any project's properties wake us; Peek is cheap, and the
   * name may change owner across restarts. */
  g_autofree char *owner_rule = g_strdup_printf(
      "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
      conn->name);
  if (sd_event_default(&event) < 0 || sd_bus_attach_event(conn->bus, event, 0) < 0 ||
      sd_bus_match_signal(conn->bus, NULL, NULL, AR_BUS_PATH, "org.freedesktop.DBus.Properties",
                          "PropertiesChanged", on_change, &w) < 0 ||
      sd_bus_match_signal(conn->bus, NULL, NULL, AR_BUS_PATH, AR_BUS_INTERFACE, "RoundFinished",
                          on_change, &w) < 0 ||
      sd_bus_add_match(conn->bus, NULL, owner_rule, on_change, &w) < 0 ||
      sd_event_add_signal(event, NULL, SIGINT, NULL, NULL) < 0 ||
      sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL) < 0 ||
      sd_event_add_time_relative(event, &tick, CLOCK_MONOTONIC, period, period, on_tick, &w) < 0) {
    fprintf(stderr, _("agent-runner watch: cannot set up the event loop\n"));
    return AR_EXIT_FAILURE;
  }
  redraw(&w);
  (void)sd_event_loop(event);
  (void)sd_bus_detach_event(conn->bus);
  return AR_EXIT_OK;
}
