/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-remote.h"
#include "ar-util.h"
#include "arm-monitor.h"

/* The monitor on other hosts (--host): each host's bus over ssh and
 * systemd-stdio-bridge, the transport of `agent-runner -H` (ar-remote.c),
 * followed by the same code as the local bus (arm-bus.c). Its projects
 * are HOST/PROJECT everywhere (output, journal, desktop, web page).
 *
 * An outage (ssh ends, the bus does not answer) starts a back-off of 1, 2,
 * 4 ... 30 s between attempts. Within --remote-tolerance (the Python
 * tool's remote_failure_tolerance_s, default 90 s) each failed attempt is
 * a monitor_remote_blip in the journal and nothing else: a short outage is
 * silent. Past it, monitor_remote_giveup and one critical alert
 * (remote_unreachable: output, desktop); the monitor keeps trying at the
 * capped back-off, and the first success is monitor_remote_recovered and
 * resolves the alert. A connected host costs no wakeup: its socket wakes
 * the loop only when its bus speaks; a dead link is noticed by ssh's own
 * keepalive (ServerAliveInterval), which ends ssh and so the bus. */

#define BACKOFF_MAX_S   30
#define CALL_TIMEOUT_US (10 * G_USEC_PER_SEC)

/* BatchMode: a service has nobody to type a password; ConnectTimeout and
 * the keepalive bound how long a dead host or link goes unnoticed. */
static const char *const ssh_options[] = {
  "BatchMode=yes", "ConnectTimeout=10", "ServerAliveInterval=15", "ServerAliveCountMax=3", NULL,
};

typedef enum {
  HOST_DOWN,
  HOST_CONNECTING,
  HOST_UP,
} HostState;

typedef struct {
  ArmHost host; /* first: the bus glue and the page see this part */
  HostState state;
  sd_bus *bus;
  GPid pid;
  int err_fd; /* a memfd that catches ssh's stderr: the reason of a failure */
  sd_bus_slot *disconnect_slot;
  sd_event_source *retry;
  /* the outage in progress (down_since_us 0: none) */
  gint64 down_since_us; /* monotonic */
  guint attempts;
  guint sleep_s;
  gboolean gave_up;
  char *last_error;
  ArEmitter *journal;
} ArmRemote;

/* The bus the glue and the page may call: none while the host is down. */
static void
publish_bus(ArmRemote *r)
{
  r->host.bus = r->state == HOST_DOWN ? NULL : r->bus;
}

/* ---- output of the host's own events ------------------------------------- */

static void
on_host_event(const ArEvent *event, gpointer user_data)
{
  ArmRemote *r = user_data;
  arm_sinks_line(r->host.mon, r->host.spec, event->kind->name, event->json_line);
}

/* The outage as an alert: once when the monitor gives up, once when the
 * host is back. */
static void
host_alert(ArmRemote *r, gboolean active, const char *message)
{
  ArmMonitor *mon = r->host.mon;
  g_free(r->host.alert_message);
  r->host.alert_message = active ? g_strdup(message) : NULL;
  /* The page shows the host's alert on each of its cards. */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value))
    if (((ArmProject *)value)->remote == &r->host)
      arm_sinks_changed(value);
  arm_sinks_host_alert(mon, r->host.spec, active, message);
}

/* ---- connection ---------------------------------------------------------- */

static void connect_host(ArmRemote *r);

static void
teardown(ArmRemote *r)
{
  r->disconnect_slot = sd_bus_slot_unref(r->disconnect_slot);
  if (r->bus) {
    (void)sd_bus_detach_event(r->bus);
    r->bus = sd_bus_close_unref(r->bus);
  }
  publish_bus(r);
  ar_remote_reap(r->pid, TRUE);
  r->pid = 0;
  if (r->err_fd >= 0)
    close(r->err_fd);
  r->err_fd = -1;
}

static int
on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
  ArmRemote *r = userdata;
  teardown(r);
  connect_host(r);
  return 0;
}

static void
schedule_retry(ArmRemote *r, guint delay_s)
{
  uint64_t when = (uint64_t)g_get_monotonic_time() + (uint64_t)delay_s * G_USEC_PER_SEC;
  if (!r->retry) {
    int r2 = sd_event_add_time(r->host.mon->event, &r->retry, CLOCK_MONOTONIC, when, 100 * 1000,
                               on_retry, r);
    if (r2 < 0)
      g_warning("sd_event_add_time: %s", g_strerror(-r2));
    return;
  }
  (void)sd_event_source_set_time(r->retry, when);
  (void)sd_event_source_set_enabled(r->retry, SD_EVENT_ONESHOT);
}

/* The host's projects while it is out of reach: no daemon to talk to, but
 * not gone either (nobody saw them go), so supervisor_stale stays quiet. */
static void
projects_unreachable(ArmRemote *r)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, r->host.mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    ArmProject *p = value;
    if (p->remote != &r->host)
      continue;
    p->match_slot = sd_bus_slot_unref(p->match_slot);
    if (p->peek_pending)
      arm_project_load_peek(p, NULL);
    p->unreachable = TRUE;
    gboolean stopping = p->stopping_seen;
    p->stopping_seen = TRUE;
    arm_project_set_owner(p, NULL);
    p->stopping_seen = stopping;
  }
}

static double
seconds_since(gint64 mono_us)
{
  return (double)(g_get_monotonic_time() - mono_us) / G_USEC_PER_SEC;
}

static void
host_failed(ArmRemote *r, const char *why)
{
  if (r->state == HOST_DOWN)
    return;
  g_autofree char *ssh_said = ar_remote_last_line(r->err_fd);
  g_free(r->last_error);
  r->last_error = g_strdup(ssh_said ? ssh_said : why ? why : _("connection failed"));
  r->state = HOST_DOWN;
  publish_bus(r);
  projects_unreachable(r);
  if (r->down_since_us == 0) {
    r->down_since_us = g_get_monotonic_time();
    r->attempts = 0;
    r->sleep_s = 0;
  }
  r->attempts++;
  r->sleep_s = r->sleep_s ? MIN(r->sleep_s * 2, BACKOFF_MAX_S) : 1;
  double elapsed = seconds_since(r->down_since_us);
  double cap = r->host.mon->opts.remote_tolerance_s;
  guint next = r->sleep_s;
  if (!r->gave_up && elapsed >= cap) {
    r->gave_up = TRUE;
    if (r->journal)
      ar_emit(r->journal, "monitor_remote_giveup", AR_EV_S("host", r->host.spec),
              AR_EV_I("total_attempts", r->attempts), AR_EV_D("total_elapsed_s", elapsed),
              AR_EV_D("cap_s", cap), AR_EV_S("final_error", r->last_error), NULL);
    g_autofree char *message = g_strdup_printf(
        _("no answer from %s's bus for %.0fs (%u attempts): %s; retrying every %us at most"),
        r->host.spec, elapsed, r->attempts, r->last_error, (guint)BACKOFF_MAX_S);
    host_alert(r, TRUE, message);
  } else if (!r->gave_up) {
    /* Like the Python tool: the last wait ends at the window's end, so
     * the give-up comes on time. */
    double left = cap - elapsed;
    next = MAX(1, MIN(next, (guint)ceil(left)));
    if (r->journal)
      ar_emit(r->journal, "monitor_remote_blip", AR_EV_S("host", r->host.spec),
              AR_EV_S("error", r->last_error), AR_EV_I("attempt", r->attempts),
              AR_EV_D("elapsed_s", elapsed), AR_EV_D("cap_s", cap),
              AR_EV_D("interval_s", r->sleep_s), AR_EV_D("next_sleep_s", next), NULL);
  }
  schedule_retry(r, next);
}

static int
on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ArmRemote *r = userdata;
  host_failed(r, _("the ssh connection ended"));
  return 0;
}

static void
listed(ArmHost *h, char **names, const char *why)
{
  ArmRemote *r = (ArmRemote *)h;
  if (r->state != HOST_CONNECTING)
    return;
  if (!names) {
    host_failed(r, why);
    return;
  }
  r->state = HOST_UP;
  r->host.has_monitor = g_strv_contains((const char *const *)names, ARM_BUS_NAME);
  /* Reachable again: a project that is not on the bus any more stopped
   * meanwhile (those that are come back through GetNameOwner). */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, r->host.mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    ArmProject *p = value;
    if (p->remote == &r->host && p->unreachable) {
      p->unreachable = FALSE;
      arm_sinks_changed(p);
    }
  }
  if (r->down_since_us == 0)
    return;
  double outage = seconds_since(r->down_since_us);
  if (r->journal)
    ar_emit(r->journal, "monitor_remote_recovered", AR_EV_S("host", r->host.spec),
            AR_EV_I("attempts", r->attempts), AR_EV_D("outage_s", outage),
            AR_EV_B("gave_up", r->gave_up), NULL);
  if (r->gave_up) {
    g_autofree char *message =
        g_strdup_printf(_("%s's bus answers again after %.0fs"), r->host.spec, outage);
    host_alert(r, FALSE, message);
  }
  r->down_since_us = 0;
  r->attempts = 0;
  r->sleep_s = 0;
  r->gave_up = FALSE;
}

static void
connect_host(ArmRemote *r)
{
  g_autoptr(GError) error = NULL;
  r->err_fd = memfd_create("ssh-stderr", MFD_CLOEXEC);
  int fd = -1;
  r->state = HOST_CONNECTING;
  publish_bus(r);
  if (!ar_remote_spawn(r->host.spec, r->host.mon->opts.system, ssh_options, r->err_fd, &r->pid, &fd,
                       &error)) {
    host_failed(r, error->message);
    return;
  }
  int ret = sd_bus_new(&r->bus);
  if (ret >= 0)
    ret = sd_bus_set_fd(r->bus, fd, fd);
  else
    close(fd);
  if (ret >= 0)
    ret = sd_bus_set_bus_client(r->bus, 1);
  if (ret >= 0)
    ret = sd_bus_set_method_call_timeout(r->bus, CALL_TIMEOUT_US);
  if (ret >= 0)
    ret = sd_bus_match_signal(r->bus, &r->disconnect_slot, NULL, "/org/freedesktop/DBus/Local",
                              "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, r);
  if (ret >= 0)
    ret = sd_bus_attach_event(r->bus, r->host.mon->event, SD_EVENT_PRIORITY_NORMAL);
  if (ret >= 0)
    ret = sd_bus_start(r->bus);
  publish_bus(r);
  if (ret < 0) {
    host_failed(r, g_strerror(-ret));
    return;
  }
  arm_bus_follow_remote(&r->host);
}

/* ---- the monitor's hosts --------------------------------------------------- */

static void
remote_free(ArmRemote *r)
{
  sd_event_source_disable_unref(r->retry);
  teardown(r);
  g_clear_pointer(&r->journal, ar_emitter_unref);
  g_free(r->last_error);
  g_free(r->host.alert_message);
  g_free(r->host.spec);
  g_free(r);
}

void
arm_remote_start(ArmMonitor *mon)
{
  mon->remotes = g_ptr_array_new_with_free_func((GDestroyNotify)remote_free);
  for (guint i = 0; mon->opts.hosts && mon->opts.hosts[i]; i++) {
    ArmRemote *r = g_new0(ArmRemote, 1);
    r->host = (ArmHost){ .mon = mon, .spec = g_strdup(mon->opts.hosts[i]), .listed = listed };
    r->err_fd = -1;
    r->journal = ar_emitter_new(NULL, NULL);
    ar_emitter_set_journal(r->journal, mon->opts.journal);
    ar_emitter_add_sink(r->journal, on_host_event, r);
    g_ptr_array_add(mon->remotes, r);
    connect_host(r);
  }
}

void
arm_remote_stop(ArmMonitor *mon)
{
  g_clear_pointer(&mon->remotes, g_ptr_array_unref);
}
