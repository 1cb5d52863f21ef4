/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <cmark.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-events.h"
#include "ar-json.h"
#include "ar-util.h"
#include "arm-monitor.h"
#include "arm-web.h"

/* What the page shows of each project, beyond what the detectors keep:
 * the last 50 round outcomes, the last round's usage, today's cost, rounds
 * and cost per hour, the newest events. Fed by the same events as the
 * detectors (the start-up replay included), so nothing reads files except
 * the narrative, which is read when a round ends or the config changes. */

#define RECENT_EVENTS 12
#define NARRATIVE_MAX (256 * 1024)
/* round_end and usage lines read at start: 72 hours at up to 7 rounds an
 * hour, and always the strip's 50 rounds. */
#define HISTORY_LINES 1000

typedef struct {
  guint round;
  char *outcome;
} StripEntry;

typedef struct {
  gint64 hour; /* epoch hours */
  guint rounds;
  double cost;
} HourBucket;

typedef struct {
  GArray *strip; /* StripEntry, oldest first */
  gboolean have_usage;
  gint64 in_tokens, out_tokens;
  double cost;
  gboolean cost_known;
  char *cost_day; /* local date of cost_today */
  double cost_today;
  GArray *hours;     /* HourBucket, oldest first */
  GPtrArray *events; /* "iso\tkind" */
  char *narrative;   /* rendered, NULL: none */
  gboolean narrative_read;
  gboolean history_read;
  guint last_end_round;   /* newest round_end counted */
  guint last_usage_round; /* newest agent_usage_recorded counted */
  char *last_event_ts;    /* newest event in the list */
} WebProject;

struct ArmWebModel {
  GHashTable *projects; /* project name -> WebProject* */
};

static void
strip_entry_clear(StripEntry *e)
{
  g_free(e->outcome);
}

static void
web_project_free(WebProject *w)
{
  g_array_unref(w->strip);
  g_array_unref(w->hours);
  g_ptr_array_unref(w->events);
  g_free(w->cost_day);
  g_free(w->narrative);
  g_free(w->last_event_ts);
  g_free(w);
}

ArmWebModel *
arm_web_model_new(void)
{
  ArmWebModel *m = g_new0(ArmWebModel, 1);
  m->projects =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)web_project_free);
  return m;
}

void
arm_web_model_free(ArmWebModel *m)
{
  if (!m)
    return;
  g_hash_table_unref(m->projects);
  g_free(m);
}

static WebProject *
lookup(ArmWebModel *m, const char *name)
{
  WebProject *w = g_hash_table_lookup(m->projects, name);
  if (w)
    return w;
  w = g_new0(WebProject, 1);
  w->strip = g_array_new(FALSE, TRUE, sizeof(StripEntry));
  g_array_set_clear_func(w->strip, (GDestroyNotify)strip_entry_clear);
  w->hours = g_array_new(FALSE, TRUE, sizeof(HourBucket));
  w->events = g_ptr_array_new_with_free_func(g_free);
  g_hash_table_insert(m->projects, g_strdup(name), w);
  return w;
}

static gint64
event_time_s(JsonObject *o)
{
  const char *ts = ar_json_str(o, "ts");
  g_autoptr(GDateTime) dt = ts ? g_date_time_new_from_iso8601(ts, NULL) : NULL;
  return dt ? g_date_time_to_unix(dt) : g_get_real_time() / G_USEC_PER_SEC;
}

static HourBucket *
bucket(WebProject *w, gint64 t_s)
{
  gint64 hour = t_s / 3600;
  for (guint i = w->hours->len; i > 0; i--) {
    HourBucket *b = &g_array_index(w->hours, HourBucket, i - 1);
    if (b->hour == hour)
      return b;
    if (b->hour < hour)
      break;
  }
  HourBucket nb = { .hour = hour };
  g_array_append_val(w->hours, nb);
  /* Events come in order; keep the chart's window only. */
  while (w->hours->len > 0 &&
         g_array_index(w->hours, HourBucket, 0).hour <= hour - ARM_WEB_CHART_HOURS)
    g_array_remove_index(w->hours, 0);
  return &g_array_index(w->hours, HourBucket, w->hours->len - 1);
}

static char *
local_day(gint64 t_s)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t_s);
  return dt ? g_date_time_format(dt, "%F") : g_strdup("");
}

static void
on_round_end(WebProject *w, JsonObject *o, gint64 t_s)
{
  StripEntry e = { (guint)ar_json_int(o, "round_num", NULL),
                   g_strdup(ar_json_str(o, "outcome") ?: "unknown") };
  g_array_append_val(w->strip, e);
  if (w->strip->len > ARM_WEB_STRIP)
    g_array_remove_range(w->strip, 0, w->strip->len - ARM_WEB_STRIP);
  bucket(w, t_s)->rounds++;
  w->narrative_read = FALSE;
}

static void
on_usage(WebProject *w, JsonObject *o, gint64 t_s)
{
  w->have_usage = TRUE;
  w->in_tokens = ar_json_int(o, "input_tokens", NULL);
  w->out_tokens = ar_json_int(o, "output_tokens", NULL);
  w->cost = ar_json_double(o, "cost_usd", &w->cost_known);
  g_autofree char *day = local_day(t_s);
  if (g_strcmp0(day, w->cost_day) != 0) {
    g_free(w->cost_day);
    w->cost_day = g_steal_pointer(&day);
    w->cost_today = 0;
  }
  if (w->cost_known) {
    w->cost_today += w->cost;
    bucket(w, t_s)->cost += w->cost;
  }
}

/* Round numbers only grow (state.json keeps them), so an event of a round
 * already counted is a repeat: the monitor replays the tail of the events
 * files each time a daemon appears. */
static gboolean
new_round(guint *last, JsonObject *o)
{
  guint n = (guint)ar_json_int(o, "round_num", NULL);
  if (n && n <= *last)
    return FALSE;
  *last = MAX(*last, n);
  return TRUE;
}

static void
count(WebProject *w, const char *kind, JsonObject *o)
{
  gint64 t_s = event_time_s(o);
  if (g_str_equal(kind, "round_end") && new_round(&w->last_end_round, o))
    on_round_end(w, o, t_s);
  else if (g_str_equal(kind, "agent_usage_recorded") && new_round(&w->last_usage_round, o))
    on_usage(w, o, t_s);
}

/* The strip, the chart and today's cost from the events files, once per
 * project: the monitor's own replay keeps only the newest events its
 * detectors need, which leave out usage and most of 72 hours. */
static const char *const history_kinds[] = { "round_end", "agent_usage_recorded", NULL };

static void
read_history(WebProject *w, ArmProject *p)
{
  if (!p->log_dir || g_access(p->log_dir, R_OK | X_OK) != 0)
    return; /* another user's project: the replayed events are the history */
  g_autoptr(GPtrArray) lines = ar_events_tail(p->log_dir, history_kinds, HISTORY_LINES, NULL);
  for (guint i = 0; lines && i < lines->len; i++) {
    g_autoptr(JsonParser) parser = json_parser_new();
    const char *line = g_ptr_array_index(lines, i);
    if (!json_parser_load_from_data(parser, line, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
      continue;
    JsonObject *o = json_node_get_object(json_parser_get_root(parser));
    const char *kind = ar_json_str(o, "event");
    if (kind)
      count(w, kind, o);
  }
}

void
arm_web_model_event(ArmWebModel *m, ArmProject *p, const char *kind, JsonObject *o)
{
  WebProject *w = lookup(m, p->name);
  if (!w->history_read && p->log_dir) {
    w->history_read = TRUE;
    read_history(w, p);
  }
  count(w, kind, o);
  if (g_str_equal(kind, "config_reloaded"))
    w->narrative_read = FALSE;
  const char *ts = ar_json_str(o, "ts") ?: "";
  if (p->replaying && w->last_event_ts && strcmp(ts, w->last_event_ts) <= 0)
    return; /* already in the list */
  g_free(w->last_event_ts);
  w->last_event_ts = g_strdup(ts);
  g_ptr_array_add(w->events, g_strdup_printf("%s\t%s", ts, kind));
  if (w->events->len > RECENT_EVENTS)
    g_ptr_array_remove_range(w->events, 0, w->events->len - RECENT_EVENTS);
}

/* ---- the narrative ------------------------------------------------------- */

char *
arm_web_narrative_html(ArmProject *p)
{
  g_autofree char *path = NULL;
  if (p->cfg && p->cfg->narrative_file)
    path = g_strdup(p->cfg->narrative_file);
  else if (p->log_dir)
    path = g_build_filename(p->log_dir, "narrative.md", NULL);
  if (!path)
    return NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &text, &len, NULL))
    return NULL;
  if (len > NARRATIVE_MAX)
    text[(len = NARRATIVE_MAX)] = '\0';
  /* CMARK_OPT_SAFE: raw HTML and javascript:/vbscript:/file:/data: links
   * are dropped, so the agent's Markdown cannot run anything. */
  char *html = cmark_markdown_to_html(text, len, CMARK_OPT_SAFE);
  char *out = g_strdup(html);
  free(html);
  return out;
}

/* ---- snapshots ----------------------------------------------------------- */

char *
arm_web_escape(const char *text)
{
  if (!text)
    return g_strdup("");
  GString *s = g_string_sized_new(strlen(text) + 16);
  for (const char *c = text; *c; c++) {
    switch (*c) {
    case '<':
      g_string_append(s, "&lt;");
      break;
    case '>':
      g_string_append(s, "&gt;");
      break;
    case '&':
      g_string_append(s, "&amp;");
      break;
    case '"':
      g_string_append(s, "&quot;");
      break;
    case '\'':
      g_string_append(s, "&#39;");
      break;
    default:
      g_string_append_c(s, *c);
    }
  }
  return g_string_free(s, FALSE);
}

/* Alerts outside the built-in table: the [hooks] detectors' and the
 * host's remote_unreachable (on each card of a host out of reach). */
static void
other_alerts(ArmProject *p, ArmAlertFunc func, gpointer data)
{
  arm_alerts_foreach_named(p, func, data);
  const char *host_alert = p->remote ? p->remote->alert_message : NULL;
  if (host_alert)
    func(ARM_HOST_DETECTOR, ARM_SEV_CRITICAL, host_alert, data);
}

static void
json_alert(const char *detector, ArmSeverity severity, const char *message, gpointer data)
{
  JsonBuilder *b = data;
  json_builder_begin_object(b);
  ar_json_add_str(b, "detector", detector);
  ar_json_add_str(b, "severity", arm_severity_name(severity));
  ar_json_add_str(b, "message", message);
  json_builder_end_object(b);
}

static void
html_alert(const char *detector, ArmSeverity severity, const char *message, gpointer data)
{
  g_autofree char *name = arm_web_escape(detector);
  g_autofree char *msg = arm_web_escape(message);
  g_string_append_printf(data, "<li class=\"sev-%s\">%s: %s</li>", arm_severity_name(severity),
                         name, msg);
}

static const char *
project_state(ArmProject *p)
{
  if (!p->owner)
    return p->unreachable ? "unreachable" : p->vanished ? "gone" : "stopped";
  if (p->round_num)
    return "running";
  if (p->throttled_until_s > g_get_real_time() / G_USEC_PER_SEC)
    return "throttled";
  return "waiting";
}

JsonNode *
arm_web_model_project_node(ArmWebModel *m, ArmProject *p)
{
  WebProject *w = lookup(m, p->name);
  if (!w->narrative_read) {
    g_free(w->narrative);
    w->narrative = arm_web_narrative_html(p);
    /* Asked before the project's config and log_dir are known (a page
     * opened as the monitor starts): nothing was read, so ask again. */
    w->narrative_read = p->cfg != NULL || p->log_dir != NULL;
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "name", p->name);
  ar_json_add_str(b, "host", p->host);
  ar_json_add_str(b, "state", project_state(p));
  ar_json_add_int(b, "round", p->round_num);
  ar_json_add_int(b, "max_round", p->max_round);
  ar_json_add_str(b, "phase", p->round_phase);
  g_autofree char *started =
      p->round_num && p->round_started_us > 0 ? ar_utc_iso_ms(p->round_started_us) : NULL;
  ar_json_add_str(b, "round_started", started);
  ar_json_add_int(b, "throttled_until",
                  p->throttled_until_s > g_get_real_time() / G_USEC_PER_SEC ? p->throttled_until_s
                                                                            : 0);
  ar_json_add_str(b, "throttle_class", p->throttle_class);
  json_builder_set_member_name(b, "strip");
  json_builder_begin_array(b);
  for (guint i = 0; i < w->strip->len; i++) {
    StripEntry *e = &g_array_index(w->strip, StripEntry, i);
    json_builder_begin_array(b);
    json_builder_add_int_value(b, e->round);
    json_builder_add_string_value(b, e->outcome);
    json_builder_end_array(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "usage");
  if (w->have_usage) {
    json_builder_begin_object(b);
    ar_json_add_int(b, "input_tokens", w->in_tokens);
    ar_json_add_int(b, "output_tokens", w->out_tokens);
    json_builder_set_member_name(b, "cost_usd");
    if (w->cost_known)
      json_builder_add_double_value(b, w->cost);
    else
      json_builder_add_null_value(b);
    json_builder_end_object(b);
  } else {
    json_builder_add_null_value(b);
  }
  g_autofree char *today = local_day(g_get_real_time() / G_USEC_PER_SEC);
  json_builder_set_member_name(b, "cost_today");
  json_builder_add_double_value(b, g_strcmp0(today, w->cost_day) == 0 ? w->cost_today : 0);
  json_builder_set_member_name(b, "alerts");
  json_builder_begin_array(b);
  guint n = 0;
  const ArmDetector *table = arm_detectors(&n);
  for (guint i = 0; i < n && i < ARM_MAX_DETECTORS; i++) {
    if (!p->alerts[i].active)
      continue;
    json_builder_begin_object(b);
    ar_json_add_str(b, "detector", table[i].name);
    ar_json_add_str(b, "severity", arm_severity_name(table[i].severity));
    ar_json_add_str(b, "message", p->alerts[i].message);
    json_builder_end_object(b);
  }
  other_alerts(p, json_alert, b);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "hours");
  json_builder_begin_array(b);
  for (guint i = 0; i < w->hours->len; i++) {
    HourBucket *h = &g_array_index(w->hours, HourBucket, i);
    json_builder_begin_array(b);
    json_builder_add_int_value(b, h->hour * 3600);
    json_builder_add_int_value(b, h->rounds);
    json_builder_add_double_value(b, h->cost);
    json_builder_end_array(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "events");
  json_builder_begin_array(b);
  for (guint i = 0; i < w->events->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(w->events, i));
  json_builder_end_array(b);
  ar_json_add_str(b, "narrative_html", w->narrative);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

char *
arm_web_model_project_json(ArmWebModel *m, ArmProject *p)
{
  g_autoptr(JsonNode) root = arm_web_model_project_node(m, p);
  return json_to_string(root, FALSE);
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
  ArmProject *pa = *(ArmProject **)a, *pb = *(ArmProject **)b;
  /* Grouped by host: this host's projects first (host NULL). */
  if (!pa->host != !pb->host)
    return pa->host ? 1 : -1;
  int by_host = g_strcmp0(pa->host, pb->host);
  return by_host ? by_host : g_strcmp0(pa->name, pb->name);
}

GPtrArray *
arm_web_sorted_projects(ArmMonitor *mon)
{
  GPtrArray *list = g_ptr_array_new();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value))
    g_ptr_array_add(list, value);
  g_ptr_array_sort(list, by_name);
  return list;
}

/* The page without JavaScript: the same cards, filled on the server. Every
 * string goes through arm_web_escape(); the narrative is cmark's safe HTML. */
char *
arm_web_model_html(ArmWebModel *m, ArmMonitor *mon)
{
  g_autoptr(GPtrArray) list = arm_web_sorted_projects(mon);
  GString *s = g_string_new(NULL);
  if (list->len == 0)
    g_string_append_printf(s, "<p class=\"empty\">%s</p>\n", _("No project on this bus yet."));
  for (guint i = 0; i < list->len; i++) {
    ArmProject *p = g_ptr_array_index(list, i);
    ArmProject *prev = i > 0 ? g_ptr_array_index(list, i - 1) : NULL;
    /* A heading for each remote host's group. */
    if (p->host && (!prev || g_strcmp0(prev->host, p->host) != 0)) {
      g_autofree char *host = arm_web_escape(p->host);
      g_string_append_printf(s, "<h2 class=\"host\">%s</h2>\n", host);
    }
    WebProject *w = lookup(m, p->name);
    g_autofree char *json = arm_web_model_project_json(m, p); /* reads the narrative */
    g_autofree char *name = arm_web_escape(p->name);
    g_autofree char *phase = arm_web_escape(p->round_phase);
    const char *state = project_state(p);
    g_string_append_printf(
        s,
        "<section class=\"card\" data-project=\"%s\">\n"
        "<h2><span class=\"name\">%s</span> <span class=\"state st-%s\">%s</span>"
        "</h2>\n<p class=\"round\">",
        name, name, state, state);
    if (p->round_num)
      g_string_append_printf(s, _("round %u"), p->round_num);
    if (p->round_phase)
      g_string_append_printf(s, " · %s", phase);
    g_string_append(s, "</p>\n<ol class=\"strip\">");
    for (guint j = 0; j < w->strip->len; j++) {
      StripEntry *e = &g_array_index(w->strip, StripEntry, j);
      g_autofree char *outcome = arm_web_escape(e->outcome);
      g_string_append_printf(s, "<li class=\"o-%s\" title=\"%u %s\"></li>", outcome, e->round,
                             outcome);
    }
    g_string_append(s, "</ol>\n<ul class=\"alerts\">");
    guint n = 0;
    const ArmDetector *table = arm_detectors(&n);
    for (guint j = 0; j < n && j < ARM_MAX_DETECTORS; j++) {
      if (!p->alerts[j].active)
        continue;
      g_autofree char *msg = arm_web_escape(p->alerts[j].message);
      g_string_append_printf(s, "<li class=\"sev-%s\">%s: %s</li>",
                             arm_severity_name(table[j].severity), table[j].name, msg);
    }
    other_alerts(p, html_alert, s);
    g_string_append(s, "</ul>\n");
    if (w->narrative)
      g_string_append_printf(s, "<div class=\"narrative\">%s</div>\n", w->narrative);
    g_string_append(s, "</section>\n");
  }
  return g_string_free(s, FALSE);
}
