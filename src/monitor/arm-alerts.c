/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arm-monitor.h"

/* From the detectors' answers to alerts: each answer is held against the
 * project's alert state, and only a change is an alert (emitted or
 * resolved), so a moving value (elapsed time, a fill level) never alerts
 * twice. The built-in table's answers come from evaluating it after every
 * event, host sample or deadline; named alerts (the [hooks] detectors')
 * are set by their runner. Each transition goes to every registered
 * output; which of them acts (the daemon's record, auto-stop, the
 * desktop) is theirs to know. */

static gboolean
auto_stop_wanted(ArmProject *p, const char *detector)
{
  return p->cfg && p->cfg->auto_stop_on &&
         g_strv_contains((const char *const *)p->cfg->auto_stop_on, detector);
}

static void
transition(ArmProject *p, const char *detector, ArmSeverity severity, gboolean active,
           const char *message, gboolean stop_allowed)
{
  const ArmAlert a = {
    .detector = detector,
    .severity = severity,
    .active = active,
    .message = message ? message : "",
    .auto_action = active && stop_allowed && auto_stop_wanted(p, detector) ? "stop_service" : NULL,
  };
  arm_sinks_alert(p, &a);
}

/* ---- the built-in table ------------------------------------------------- */

static int
on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
  arm_alerts_evaluate(userdata);
  return 0;
}

static void
arm_deadline(ArmProject *p, gint64 next_realtime_us)
{
  if (next_realtime_us == 0) {
    if (p->timer)
      (void)sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
    return;
  }
  /* CLOCK_REALTIME: the deadlines are event timestamps. Coarse accuracy:
   * a second late is fine for minutes-long thresholds. */
  uint64_t when = (uint64_t)next_realtime_us;
  if (!p->timer) {
    int r = sd_event_add_time(p->mon->event, &p->timer, CLOCK_REALTIME, when, G_USEC_PER_SEC,
                              on_deadline, p);
    if (r < 0)
      g_warning("sd_event_add_time: %s", g_strerror(-r));
    return;
  }
  (void)sd_event_source_set_time(p->timer, when);
  (void)sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

void
arm_alerts_evaluate(ArmProject *p)
{
  guint n = 0;
  const ArmDetector *table = arm_detectors(&n);
  gint64 now = g_get_real_time();
  gint64 next = 0;
  for (guint i = 0; i < n; i++) {
    const ArmDetector *d = &table[i];
    g_autofree char *message = NULL;
    gboolean active = d->eval(p, d, now, &message);
    ArmAlertState *st = &p->alerts[i];
    if (active != st->active) {
      st->active = active;
      if (active) {
        g_free(st->message);
        st->message = g_strdup(message);
      }
      transition(p, d->name, d->severity, active, active ? message : st->message, TRUE);
    }
    gint64 dl = d->deadline ? d->deadline(p) : 0;
    if (dl > now && (next == 0 || dl < next))
      next = dl;
  }
  arm_deadline(p, next);
  arm_sinks_changed(p);
}

/* ---- named alerts ------------------------------------------------------- */

static void
named_alert_free(ArmNamedAlert *a)
{
  g_free(a->message);
  g_free(a);
}

void
arm_alerts_set_named(ArmProject *p, const char *name, ArmSeverity severity, gboolean active,
                     const char *message, gboolean stop_allowed)
{
  if (!p->named_alerts)
    p->named_alerts =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)named_alert_free);
  ArmNamedAlert *st = g_hash_table_lookup(p->named_alerts, name);
  if (!st) {
    st = g_new0(ArmNamedAlert, 1);
    g_hash_table_insert(p->named_alerts, g_strdup(name), st);
  }
  if (active == st->active)
    return; /* moving messages never alert again */
  st->active = active;
  if (active) {
    g_free(st->message);
    st->message = g_strdup(message);
    st->severity = severity;
  }
  transition(p, name, st->severity, active, st->message, stop_allowed);
  arm_sinks_changed(p);
}

void
arm_alerts_foreach_named(ArmProject *p, ArmAlertFunc func, gpointer data)
{
  if (!p->named_alerts)
    return;
  /* By name: the page lists them in the same order every time. */
  g_autoptr(GList) names =
      g_list_sort(g_hash_table_get_keys(p->named_alerts), (GCompareFunc)g_strcmp0);
  for (GList *l = names; l; l = l->next) {
    ArmNamedAlert *a = g_hash_table_lookup(p->named_alerts, l->data);
    if (a->active)
      func(l->data, a->severity, a->message, data);
  }
}
