/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "arm-monitor.h"

/* Host health (disk of each project's log_dir file system, available
 * memory), sampled by the monitor itself -- the Python tool only had the
 * figures the round process wrote, so they went stale when no round ran.
 * A timer samples every `interval` only while some project's daemon is on
 * the bus; with none, the timer is off and the monitor makes no wakeups. */

struct ArmHealth {
  ArmMonitor *mon;
  sd_event_source *timer;
  gint64 last_sample_us; /* monotonic */
};

ArmHealth *
arm_health_new(ArmMonitor *mon)
{
  ArmHealth *h = g_new0(ArmHealth, 1);
  h->mon = mon;
  return h;
}

void
arm_health_free(ArmHealth *h)
{
  if (!h)
    return;
  sd_event_source_disable_unref(h->timer);
  g_free(h);
}

static double
mem_available_mb(void)
{
  FILE *f = fopen("/proc/meminfo", "re");
  if (!f)
    return -1;
  char line[256];
  double mb = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long long kb;
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
      mb = kb / 1024.0;
      break;
    }
  }
  fclose(f);
  return mb;
}

static double
disk_used_pct(const char *path)
{
  struct statvfs sv;
  if (!path || statvfs(path, &sv) != 0 || sv.f_blocks == 0)
    return -1;
  /* As df: used / (used + available to unprivileged users). */
  double used = (double)(sv.f_blocks - sv.f_bfree);
  double avail = (double)sv.f_bavail;
  return used + avail > 0 ? 100.0 * used / (used + avail) : -1;
}

void
arm_health_sample_one(ArmProject *p)
{
  /* A remote project's disk and memory are its host's, not ours. */
  if (p->remote)
    return;
  p->mem_avail_mb = mem_available_mb();
  p->disk_pct = disk_used_pct(p->log_dir);
}

static gboolean
any_running(ArmMonitor *mon)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value))
    if (((ArmProject *)value)->owner && !((ArmProject *)value)->remote)
      return TRUE;
  return FALSE;
}

void
arm_health_sample(ArmHealth *h)
{
  h->last_sample_us = g_get_monotonic_time();
  double mem = mem_available_mb();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, h->mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    ArmProject *p = value;
    if (!p->owner || p->remote)
      continue;
    p->mem_avail_mb = mem;
    p->disk_pct = disk_used_pct(p->log_dir);
    arm_alerts_evaluate(p);
    arm_sinks_judged(p);
  }
}

static int
on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
  ArmHealth *h = userdata;
  arm_health_sample(h);
  arm_health_update(h);
  return 0;
}

void
arm_health_update(ArmHealth *h)
{
  if (!h)
    return;
  if (!any_running(h->mon)) {
    if (h->timer)
      (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
    return;
  }
  guint64 period = (guint64)MAX(h->mon->opts.interval_s, 1) * G_USEC_PER_SEC;
  guint64 now = (guint64)g_get_monotonic_time();
  /* Due at once when no sample is younger than the period, so a project
   * that appears is judged on fresh figures. */
  guint64 due = h->last_sample_us > 0 ? (guint64)h->last_sample_us + period : now;
  if (due <= now) {
    h->last_sample_us = (gint64)now;
    due = now + period;
    arm_health_sample(h);
  }
  if (!h->timer) {
    int r = sd_event_add_time(h->mon->event, &h->timer, CLOCK_MONOTONIC, due, G_USEC_PER_SEC,
                              on_timer, h);
    if (r < 0)
      g_warning("sd_event_add_time: %s", g_strerror(-r));
    return;
  }
  (void)sd_event_source_set_time(h->timer, due);
  (void)sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

/* A reloaded config may name new thresholds: judged on a fresh sample. */
static void
on_event(gpointer data, ArmProject *p, const char *kind, const char *json_line, JsonObject *o)
{
  if (!p->replaying && g_str_equal(kind, "config_reloaded"))
    arm_health_sample_one(p);
}

const ArmSink arm_health_sink = {
  .event = on_event,
};
