/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-json.h"
#include "ar-util.h"
#include "arm-monitor.h"

/* The monitor's own lines: what `agent-runner monitor` prints (--mode
 * alerts, events or narrate; --json) and the monitor's journal entries of
 * each alert transition (the project's events are the daemon's to write,
 * through MonitorAlert). Every monitor writes them, acting or only
 * watching. */

struct ArmConsole {
  ArmMonitor *mon;
  GHashTable *journals; /* project key -> ArEmitter (journal only, no file) */
};

ArmConsole *
arm_console_new(ArmMonitor *mon)
{
  ArmConsole *o = g_new0(ArmConsole, 1);
  o->mon = mon;
  o->journals =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)ar_emitter_unref);
  return o;
}

void
arm_console_free(ArmConsole *o)
{
  if (!o)
    return;
  g_hash_table_unref(o->journals);
  g_free(o);
}

static ArEmitter *
journal_of(ArmConsole *o, ArmProject *p)
{
  if (!o->mon->opts.journal)
    return NULL;
  ArEmitter *em = g_hash_table_lookup(o->journals, p->key);
  if (!em) {
    em = ar_emitter_new(NULL, p->name);
    ar_emitter_set_journal(em, TRUE);
    g_hash_table_insert(o->journals, g_strdup(p->key), em);
  }
  return em;
}

/* ---- alerts ------------------------------------------------------------- */

static const char *
sev_tag(ArmSeverity sev)
{
  static const char *const tags[] = { "[OK]", "[WARN]", "[CRIT]" };
  return tags[sev];
}

/* One alert line: host is set for a host's own alert (no project). */
static void
print_alert(ArmMonitor *mon, const char *host, const char *project, const ArmAlert *a)
{
  if (mon->opts.output != ARM_OUT_ALERTS)
    return;
  const char *who = host ? host : project;
  if (mon->opts.json) {
    g_autofree char *ts = ar_utc_iso_ms(g_get_real_time());
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    ar_json_add_str(b, "ts", ts);
    if (host) {
      ar_json_add_str(b, "host", host);
      json_builder_set_member_name(b, "project");
      json_builder_add_null_value(b);
    } else {
      ar_json_add_str(b, "project", project);
    }
    ar_json_add_str(b, "detector", a->detector);
    ar_json_add_str(b, "severity", arm_severity_name(a->severity));
    ar_json_add_str(b, "state", a->active ? "emitted" : "resolved");
    ar_json_add_str(b, "message", a->message);
    ar_json_add_str(b, "auto_action", a->auto_action ? a->auto_action : "none");
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *line = json_to_string(root, FALSE);
    printf("%s\n", line);
  } else if (a->active) {
    printf("%s %s %s — %s\n", sev_tag(a->severity), who, a->detector, a->message);
  } else {
    printf(_("[OK] %s %s resolved — %s\n"), who, a->detector, a->message);
  }
  fflush(stdout);
}

static void
on_alert(gpointer data, ArmProject *p, const ArmAlert *a)
{
  ArmConsole *o = data;
  ArmMonitor *mon = o->mon;
  print_alert(mon, NULL, p->name, a);
  ArEmitter *journal = journal_of(o, p);
  if (!journal)
    return;
  const char *severity = arm_severity_name(a->severity);
  if (a->active)
    ar_emit(journal, "monitor_alert_emitted", AR_EV_S("detector", a->detector),
            AR_EV_S("severity", severity), AR_EV_S("message", a->message),
            AR_EV_S("auto_action", a->auto_action), NULL);
  else
    ar_emit(journal, "monitor_alert_resolved", AR_EV_S("detector", a->detector),
            AR_EV_S("severity", severity), AR_EV_S("message", a->message), NULL);
  if (a->auto_action && mon->acting && p->owner)
    ar_emit(journal, "monitor_auto_stop_triggered", AR_EV_S("detector", a->detector), "host",
            AR_EV_NULL, NULL);
}

static void
on_host_alert(gpointer data, const char *host, gboolean active, const char *message)
{
  ArmConsole *o = data;
  const ArmAlert a = {
    .detector = ARM_HOST_DETECTOR,
    .severity = ARM_SEV_CRITICAL,
    .active = active,
    .message = message,
  };
  print_alert(o->mon, host, NULL, &a);
}

/* ---- --mode events / narrate -------------------------------------------- */

static void
narrate(const char *project, const char *kind, const char *json_line)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, json_line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    return;
  JsonObject *o = json_node_get_object(json_parser_get_root(parser));
  const char *ts = ar_json_str(o, "ts");
  /* [HH:MM:SS.fff] as the Python tool's narrate, in UTC like the files. */
  const char *clock = ts && strlen(ts) >= 23 ? ts + 11 : "";
  g_autoptr(GString) out = g_string_new(NULL);
  g_string_append_printf(out, "[%.12s] %-12s %-24s", clock, project, kind);
  g_autoptr(GList) members = json_object_get_members(o);
  for (GList *l = members; l; l = l->next) {
    const char *k = l->data;
    if (g_str_equal(k, "ts") || g_str_equal(k, "event"))
      continue;
    JsonNode *v = json_object_get_member(o, k);
    g_autofree char *val = NULL;
    if (JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING)
      val = g_strdup(json_node_get_string(v));
    else
      val = json_to_string(v, FALSE);
    g_string_append_printf(out, " %s=%s", g_str_equal(k, "round_num") ? "round" : k, val);
  }
  printf("%s\n", out->str);
}

static void
on_line(gpointer data, const char *who, const char *kind, const char *json_line)
{
  ArmConsole *o = data;
  if (o->mon->opts.output == ARM_OUT_EVENTS) {
    /* The events-file line with the project in front, so one stream of
     * several projects stays greppable with jq. */
    const char *rest = json_line[0] == '{' ? json_line + 1 : json_line;
    g_autofree char *quoted = g_strescape(who, NULL);
    printf("{\"project\": \"%s\", %s\n", quoted, rest);
  } else if (o->mon->opts.output == ARM_OUT_NARRATE) {
    narrate(who, kind, json_line);
  } else {
    return;
  }
  fflush(stdout);
}

static void
on_event(gpointer data, ArmProject *p, const char *kind, const char *json_line, JsonObject *obj)
{
  /* The start-up replay rebuilds the detectors' inputs; the stream shows
   * what happens from now on. */
  if (!p->replaying)
    on_line(data, p->name, kind, json_line);
}

const ArmSink arm_console_sink = {
  .event = on_event,
  .line = on_line,
  .alert = on_alert,
  .host_alert = on_host_alert,
};
