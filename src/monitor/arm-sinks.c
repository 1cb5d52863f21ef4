/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arm-monitor.h"

/* The sinks registered on the monitor, and the fan-out to them. The model
 * (project state, detectors, alerts) and the inputs (the buses, the host
 * samples) hand what happened to every registered sink and name no
 * output: the foreground lines and journal, the daemon's record, the
 * desktop, the detector hooks and the page (and the host sampler, for a
 * reloaded config) hear of it in the order arm-main.c added them, which
 * is the order they acted in when the model called each by name. */

typedef struct {
  const ArmSink *sink;
  gpointer data;
} Registered;

void
arm_monitor_add_sink(ArmMonitor *mon, const ArmSink *sink, gpointer data)
{
  if (!mon->sinks)
    mon->sinks = g_array_new(FALSE, FALSE, sizeof(Registered));
  Registered r = { sink, data };
  g_array_append_val(mon->sinks, r);
}

void
arm_monitor_clear_sinks(ArmMonitor *mon)
{
  g_clear_pointer(&mon->sinks, g_array_unref);
}

static guint
n_sinks(ArmMonitor *mon)
{
  return mon->sinks ? mon->sinks->len : 0;
}

static const Registered *
nth(ArmMonitor *mon, guint i)
{
  return &g_array_index(mon->sinks, Registered, i);
}

void
arm_sinks_event(ArmProject *p, const char *kind, const char *json_line, JsonObject *o)
{
  for (guint i = 0; i < n_sinks(p->mon); i++)
    if (nth(p->mon, i)->sink->event)
      nth(p->mon, i)->sink->event(nth(p->mon, i)->data, p, kind, json_line, o);
}

void
arm_sinks_line(ArmMonitor *mon, const char *who, const char *kind, const char *json_line)
{
  for (guint i = 0; i < n_sinks(mon); i++)
    if (nth(mon, i)->sink->line)
      nth(mon, i)->sink->line(nth(mon, i)->data, who, kind, json_line);
}

void
arm_sinks_alert(ArmProject *p, const ArmAlert *a)
{
  for (guint i = 0; i < n_sinks(p->mon); i++)
    if (nth(p->mon, i)->sink->alert)
      nth(p->mon, i)->sink->alert(nth(p->mon, i)->data, p, a);
}

void
arm_sinks_host_alert(ArmMonitor *mon, const char *host, gboolean active, const char *message)
{
  for (guint i = 0; i < n_sinks(mon); i++)
    if (nth(mon, i)->sink->host_alert)
      nth(mon, i)->sink->host_alert(nth(mon, i)->data, host, active, message);
}

void
arm_sinks_changed(ArmProject *p)
{
  for (guint i = 0; i < n_sinks(p->mon); i++)
    if (nth(p->mon, i)->sink->changed)
      nth(p->mon, i)->sink->changed(nth(p->mon, i)->data, p);
}

void
arm_sinks_judged(ArmProject *p)
{
  for (guint i = 0; i < n_sinks(p->mon); i++)
    if (nth(p->mon, i)->sink->judged)
      nth(p->mon, i)->sink->judged(nth(p->mon, i)->data, p);
}
