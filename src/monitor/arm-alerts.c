/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "ar-json.h"
#include "ar-util.h"
#include "arm-monitor.h"

/* What happens when a detector's answer changes: one transition, five
 * sinks. The foreground output and the monitor's own journal entries
 * always; the project's events (through the daemon, the single writer of
 * its files), auto-stop and the desktop only for the acting monitor (the
 * one that owns org.agentrunner.Monitor1), so a second `agent-runner
 * monitor` next to the service only watches. */

static const char *
sev_tag(ArmSeverity sev)
{
  static const char *const tags[] = { "[OK]", "[WARN]", "[CRIT]" };
  return tags[sev];
}

static void
print_alert(ArmMonitor *mon, ArmProject *p, const ArmDetector *d, gboolean active,
            const char *message, const char *auto_action)
{
  if (mon->opts.output != ARM_OUT_ALERTS)
    return;
  g_autofree char *ts = ar_utc_iso_ms(g_get_real_time());
  if (mon->opts.json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    ar_json_add_str(b, "ts", ts);
    ar_json_add_str(b, "project", p->name);
    ar_json_add_str(b, "detector", d->name);
    ar_json_add_str(b, "severity", arm_severity_name(d->severity));
    ar_json_add_str(b, "state", active ? "emitted" : "resolved");
    ar_json_add_str(b, "message", message);
    ar_json_add_str(b, "auto_action", auto_action ? auto_action : "none");
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *line = json_to_string(root, FALSE);
    printf("%s\n", line);
  } else if (active) {
    printf("%s %s %s — %s\n", sev_tag(d->severity), p->name, d->name, message);
  } else {
    printf(_("[OK] %s %s resolved — %s\n"), p->name, d->name, message);
  }
  fflush(stdout);
}

static gboolean
auto_stop_wanted(ArmProject *p, const ArmDetector *d)
{
  return p->cfg && p->cfg->auto_stop_on &&
         g_strv_contains((const char *const *)p->cfg->auto_stop_on, d->name);
}

static void transition(ArmProject *p, const ArmDetector *d, gboolean active, const char *message,
                       gboolean stop_allowed);

void
arm_alert_emit(ArmProject *p, const char *name, ArmSeverity severity, gboolean active,
               const char *message, gboolean stop_allowed)
{
  /* The sinks read a detector's name and severity only. */
  const ArmDetector d = { .name = name, .severity = severity };
  transition(p, &d, active, message, stop_allowed);
}

static void
notify_alert(ArmMonitor *mon, ArmProject *p, const ArmDetector *d, const char *message)
{
  if (!mon->notify)
    return;
  const char *want = d->severity == ARM_SEV_CRITICAL ? "critical" : "warning";
  if (!arm_notify_wants(p, want))
    return;
  g_autofree char *summary = g_strdup_printf(_("agent-runner: %s — %s"), p->name, d->name);
  arm_notify_show(mon->notify, p, d->severity, summary, message);
}

void
arm_alert_transition(ArmProject *p, const ArmDetector *d, gboolean active, const char *message)
{
  transition(p, d, active, message, TRUE);
}

static void
transition(ArmProject *p, const ArmDetector *d, gboolean active, const char *message,
           gboolean stop_allowed)
{
  ArmMonitor *mon = p->mon;
  const char *auto_action =
      active && stop_allowed && auto_stop_wanted(p, d) ? "stop_service" : NULL;
  const char *severity = arm_severity_name(d->severity);
  message = message ? message : "";
  print_alert(mon, p, d, active, message, auto_action);

  if (p->journal) {
    if (active)
      ar_emit(p->journal, "monitor_alert_emitted", AR_EV_S("detector", d->name),
              AR_EV_S("severity", severity), AR_EV_S("message", message),
              AR_EV_S("auto_action", auto_action), NULL);
    else
      ar_emit(p->journal, "monitor_alert_resolved", AR_EV_S("detector", d->name),
              AR_EV_S("severity", severity), AR_EV_S("message", message), NULL);
    if (auto_action && mon->acting && p->owner)
      ar_emit(p->journal, "monitor_auto_stop_triggered", AR_EV_S("detector", d->name), "host",
              AR_EV_NULL, NULL);
  }
  if (!mon->acting)
    return;
  /* The daemon writes the alert into the project's events and, for
   * stop_service, stops for good; without a daemon the journal entry above
   * is the record. */
  arm_bus_record_alert(p, d->name, severity, active ? "emitted" : "resolved", message, auto_action);
  if (active)
    notify_alert(mon, p, d, message);
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

void
arm_output_event(ArmMonitor *mon, const char *project, const char *kind, const char *json_line)
{
  if (mon->opts.output == ARM_OUT_EVENTS) {
    /* The events-file line with the project in front, so one stream of
     * several projects stays greppable with jq. */
    const char *rest = json_line[0] == '{' ? json_line + 1 : json_line;
    g_autofree char *quoted = g_strescape(project, NULL);
    printf("{\"project\": \"%s\", %s\n", quoted, rest);
  } else if (mon->opts.output == ARM_OUT_NARRATE) {
    narrate(project, kind, json_line);
  } else {
    return;
  }
  fflush(stdout);
}
