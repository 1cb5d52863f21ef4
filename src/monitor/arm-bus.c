/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arm-monitor.h"

/* The monitor's only bus glue (sd-bus on the monitor's sd-event): follow
 * org.agentrunner.Runner1.* names through NameOwnerChanged, subscribe to
 * each daemon's Event signal by its unique name, read its ConfigPath and
 * LogDir, seed its state from one Peek, and call MonitorAlert. Calls go
 * to the daemon's unique name, never the well-known one: a call to a name
 * that just went away must not start the project again (D-Bus activation
 * of an installed project). A GLib host (the web page) would replace this
 * file and keep the rest. */

#define PEEK_EVENTS 200
/* A frozen daemon (SIGSTOP, D state) must not keep a project unwatched:
 * start-up calls give up after this, and the events files are enough. */
#define CALL_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

/* A remote project is HOST/PROJECT everywhere (output, journal, desktop,
 * web page), and HOST/BUS_NAME in mon->projects. */
static char *
key_of(ArmHost *remote, const char *bus_name)
{
  return remote ? g_strconcat(remote->spec, "/", bus_name, NULL) : g_strdup(bus_name);
}

static ArmProject *
lookup(ArmMonitor *mon, ArmHost *remote, const char *bus_name)
{
  g_autofree char *key = key_of(remote, bus_name);
  return g_hash_table_lookup(mon->projects, key);
}

/* The project of a bus name, created on first sight. */
static ArmProject *
project_of(ArmMonitor *mon, ArmHost *remote, const char *bus_name, const char *project)
{
  ArmProject *p = lookup(mon, remote, bus_name);
  if (p)
    return p;
  g_autofree char *name =
      remote ? g_strconcat(remote->spec, "/", project, NULL) : g_strdup(project);
  p = arm_project_new(mon, bus_name, name);
  if (remote) {
    g_free(p->key);
    p->key = key_of(remote, bus_name);
    p->host = g_strdup(remote->spec);
    p->remote = remote;
  }
  g_hash_table_insert(mon->projects, p->key, p);
  return p;
}

/* ---- Event signals -------------------------------------------------------- */

static int
on_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ArmProject *p = userdata;
  const char *kind = NULL, *line = NULL;
  if (sd_bus_message_read(m, "ss", &kind, &line) < 0)
    return 0;
  if (p->peek_pending)
    arm_project_hold(p, kind, line);
  else if (!arm_project_seen_at_start(p, line))
    arm_project_ingest(p, kind, line);
  else
    /* Already replayed from the file into the detectors, but it came live:
     * the foreground stream (--mode events/narrate) still shows it. */
    arm_sinks_line(p->mon, p->name, kind, line);
  return 0;
}

/* ---- start-up of one project: properties, then Peek ---------------------- */

typedef struct {
  ArmProject *p;
  guint serial;
} PeekCall;

static int
on_peek(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autofree PeekCall *call = userdata;
  ArmProject *p = call->p;
  /* An answer for an earlier appearance of the name: already settled. */
  if (call->serial != p->peek_serial || !p->peek_pending)
    return 0;
  const char *json = NULL;
  if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "s", &json) < 0)
    json = NULL;
  arm_project_load_peek(p, json);
  return 0;
}

static void
call_peek(ArmProject *p)
{
  sd_bus *bus = arm_project_bus(p);
  if (!p->owner || !bus) {
    arm_project_load_peek(p, NULL);
    return;
  }
  g_autoptr(sd_bus_message) call = NULL;
  int r =
      sd_bus_message_new_method_call(bus, &call, p->owner, AR_BUS_PATH, AR_BUS_INTERFACE, "Peek");
  if (r >= 0)
    r = sd_bus_message_append(call, "a{sv}", 1, "events", "u", (guint32)PEEK_EVENTS);
  PeekCall *pc = g_new0(PeekCall, 1);
  pc->p = p;
  pc->serial = p->peek_serial;
  if (r >= 0)
    r = sd_bus_call_async(bus, NULL, call, on_peek, pc, CALL_TIMEOUT_USEC);
  if (r < 0) {
    g_free(pc);
    g_warning("Peek %s: %s", p->name, g_strerror(-r));
    arm_project_load_peek(p, NULL);
  }
}

static int
on_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ArmProject *p = userdata;
  if (sd_bus_message_is_method_error(m, NULL)) {
    call_peek(p);
    return 0;
  }
  g_autofree char *config_path = NULL, *log_dir = NULL;
  if (sd_bus_message_enter_container(m, 'a', "{sv}") >= 0) {
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
      const char *key = NULL;
      if (sd_bus_message_read(m, "s", &key) < 0)
        break;
      const char *val = NULL;
      if ((g_str_equal(key, "ConfigPath") || g_str_equal(key, "LogDir")) &&
          sd_bus_message_read(m, "v", "s", &val) >= 0) {
        if (g_str_equal(key, "ConfigPath"))
          config_path = g_strdup(val);
        else
          log_dir = g_strdup(val);
      } else if (sd_bus_message_skip(m, "v") < 0) {
        break;
      }
      (void)sd_bus_message_exit_container(m);
    }
  }
  /* A remote project's files are on its host: no local path is read. */
  if (config_path && !p->remote) {
    arm_project_set_config(p, config_path, log_dir);
    arm_health_sample_one(p);
  }
  call_peek(p);
  return 0;
}

static void
project_appeared(ArmMonitor *mon, ArmHost *remote, const char *bus_name, const char *owner)
{
  g_autofree char *project = ar_project_from_bus_name(bus_name);
  if (!project || (mon->opts.project && !g_str_equal(project, mon->opts.project)))
    return;
  sd_bus *bus = remote ? remote->bus : mon->bus;
  if (!bus)
    return;
  ArmProject *p = project_of(mon, remote, bus_name, project);
  p->unreachable = FALSE;
  p->match_slot = sd_bus_slot_unref(p->match_slot);
  g_autofree char *match = g_strdup_printf("type='signal',sender='%s',path='%s',interface='%s',"
                                           "member='Event'",
                                           owner, AR_BUS_PATH, AR_BUS_INTERFACE);
  int r = sd_bus_add_match_async(bus, &p->match_slot, match, on_event, NULL, p);
  if (r < 0)
    g_warning("AddMatch %s: %s", bus_name, g_strerror(-r));
  p->peek_pending = TRUE;
  p->peek_serial++;
  arm_project_set_owner(p, owner);
  g_autoptr(sd_bus_message) getall = NULL;
  r = sd_bus_message_new_method_call(bus, &getall, owner, AR_BUS_PATH,
                                     "org.freedesktop.DBus.Properties", "GetAll");
  if (r >= 0)
    r = sd_bus_message_append(getall, "s", AR_BUS_INTERFACE);
  if (r >= 0)
    r = sd_bus_call_async(bus, NULL, getall, on_properties, p, CALL_TIMEOUT_USEC);
  if (r < 0)
    g_warning("GetAll %s: %s", bus_name, g_strerror(-r));
  arm_health_update(mon->health);
}

static void
project_vanished(ArmMonitor *mon, ArmHost *remote, const char *bus_name)
{
  ArmProject *p = lookup(mon, remote, bus_name);
  if (!p)
    return;
  p->match_slot = sd_bus_slot_unref(p->match_slot);
  /* Gone before Peek answered: what it said meanwhile is all there is
   * (serve_stopping among it, for a deliberate stop). */
  if (p->peek_pending)
    arm_project_load_peek(p, NULL);
  arm_project_set_owner(p, NULL);
  arm_health_update(mon->health);
}

static void
name_owner_changed(ArmMonitor *mon, ArmHost *remote, sd_bus_message *m)
{
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
    return;
  if (!g_str_has_prefix(name, AR_BUS_NAME_PREFIX))
    return;
  if (*new_owner)
    project_appeared(mon, remote, name, new_owner);
  else
    project_vanished(mon, remote, name);
}

static int
on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  name_owner_changed(userdata, NULL, m);
  return 0;
}

static int
on_remote_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ArmHost *remote = userdata;
  name_owner_changed(remote->mon, remote, m);
  return 0;
}

/* ---- MonitorAlert ---------------------------------------------------------- */

static int
on_alert_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autofree char *what = userdata;
  const sd_bus_error *e = sd_bus_message_get_error(m);
  if (e)
    g_message(_("%s: the daemon did not record the alert: %s"), what, e->message);
  return 0;
}

/* Without a daemon on the bus the monitor's journal entry is the record. */
static void
record_alert(gpointer data, ArmProject *p, const ArmAlert *a)
{
  sd_bus *bus = arm_project_bus(p);
  /* A monitor acting on the host itself records its alerts there. */
  if (!p->owner || !bus || (p->remote && p->remote->has_monitor))
    return;
  g_autofree char *what = g_strdup_printf("%s %s", p->name, a->detector);
  int r = sd_bus_call_method_async(
      bus, NULL, p->owner, AR_BUS_PATH, AR_BUS_INTERFACE, "MonitorAlert", on_alert_reply, what,
      "sssss", a->detector, arm_severity_name(a->severity), a->active ? "emitted" : "resolved",
      a->message, a->auto_action ? a->auto_action : "");
  if (r < 0) {
    g_message(_("%s: cannot hand the alert to the daemon: %s"), what, g_strerror(-r));
    return;
  }
  g_steal_pointer(&what);
}

const ArmSink arm_bus_alert_sink = {
  .alert = record_alert,
};

/* ---- Peek for the detector hooks -------------------------------------------- */

typedef struct {
  ArmProject *p;
  ArmPeekFunc cb;
  guint serial;
} StateCall;

static int
on_state_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  g_autofree StateCall *call = userdata;
  const char *json = NULL;
  if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "s", &json) < 0)
    json = NULL;
  call->cb(call->p, json, call->serial);
  return 0;
}

gboolean
arm_bus_peek(ArmProject *p, ArmPeekFunc cb, guint serial)
{
  if (!p->owner)
    return FALSE;
  StateCall *call = g_new0(StateCall, 1);
  *call = (StateCall){ p, cb, serial };
  int r =
      sd_bus_call_method_async(p->mon->bus, NULL, p->owner, AR_BUS_PATH, AR_BUS_INTERFACE, "Peek",
                               on_state_reply, call, "a{sv}", 1, "events", "u", (guint32)50);
  if (r < 0) {
    g_free(call);
    return FALSE;
  }
  return TRUE;
}

/* ---- a remote host's bus (arm-remote.c owns the connection) -------------- */

typedef struct {
  ArmHost *remote;
  char *name;
} OwnerCall;

static void
owner_call_free(void *userdata)
{
  OwnerCall *oc = userdata;
  g_free(oc->name);
  g_free(oc);
}

static int
on_remote_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  OwnerCall *oc = userdata;
  const char *owner = NULL;
  if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "s", &owner) >= 0)
    project_appeared(oc->remote->mon, oc->remote, oc->name, owner);
  return 0;
}

static int
on_remote_names(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ArmHost *remote = userdata;
  const sd_bus_error *e = sd_bus_message_get_error(m);
  g_auto(GStrv) names = NULL;
  if (e) {
    remote->listed(remote, NULL, e->message);
    return 0;
  }
  int r = sd_bus_message_read_strv(m, &names);
  if (r < 0) {
    remote->listed(remote, NULL, g_strerror(-r));
    return 0;
  }
  remote->listed(remote, names, NULL);
  sd_bus *bus = remote->bus;
  for (guint i = 0; bus && names && names[i]; i++) {
    if (!g_str_has_prefix(names[i], AR_BUS_NAME_PREFIX))
      continue;
    OwnerCall *oc = g_new0(OwnerCall, 1);
    oc->remote = remote;
    oc->name = g_strdup(names[i]);
    sd_bus_slot *slot = NULL;
    r = sd_bus_call_method_async(bus, &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetNameOwner", on_remote_owner, oc, "s",
                                 names[i]);
    if (r < 0) {
      owner_call_free(oc);
      continue;
    }
    /* The slot frees the call's data however it ends (answer or a closed bus). */
    (void)sd_bus_slot_set_destroy_callback(slot, owner_call_free);
    (void)sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
  }
  return 0;
}

void
arm_bus_follow_remote(ArmHost *remote)
{
  sd_bus *bus = remote->bus;
  /* The answers come in order: the match is in place before ListNames
   * answers, so no name that appears in between is missed. */
  int r = sd_bus_add_match_async(bus, NULL,
                                 "type='signal',sender='org.freedesktop.DBus',interface='org."
                                 "freedesktop.DBus',member='NameOwnerChanged',arg0namespace='org."
                                 "agentrunner.Runner1'",
                                 on_remote_name_owner_changed, NULL, remote);
  if (r >= 0)
    r = sd_bus_call_method_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "ListNames", on_remote_names, remote, "");
  if (r < 0)
    remote->listed(remote, NULL, g_strerror(-r));
}

/* ---- setup -------------------------------------------------------------- */

static gboolean
list_existing(ArmMonitor *mon, GError **error)
{
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_call_method(mon->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "ListNames", &e, &reply, "");
  if (r < 0)
    return ar_set_error_errno(error, -r, "ListNames");
  g_auto(GStrv) names = NULL;
  r = sd_bus_message_read_strv(reply, &names);
  if (r < 0)
    return ar_set_error_errno(error, -r, "ListNames");
  for (guint i = 0; names && names[i]; i++) {
    if (!g_str_has_prefix(names[i], AR_BUS_NAME_PREFIX))
      continue;
    g_auto(sd_bus_error) oe = SD_BUS_ERROR_NULL;
    g_autoptr(sd_bus_message) oreply = NULL;
    const char *owner = NULL;
    if (sd_bus_call_method(mon->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetNameOwner", &oe, &oreply, "s",
                           names[i]) >= 0 &&
        sd_bus_message_read(oreply, "s", &owner) >= 0)
      project_appeared(mon, NULL, names[i], owner);
  }
  return TRUE;
}

gboolean
arm_bus_start(ArmMonitor *mon, GError **error)
{
  const char *which = mon->opts.system ? _("system bus") : _("user bus");
  int r = mon->opts.system ? sd_bus_open_system(&mon->bus) : sd_bus_open_user(&mon->bus);
  if (r < 0)
    return ar_set_error_errno(error, -r, _("cannot connect to the %s"), which);
  r = sd_bus_attach_event(mon->bus, mon->event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0)
    return ar_set_error_errno(error, -r, "sd_bus_attach_event");
  /* Before listing, so no name that appears in between is missed. */
  r = sd_bus_add_match(mon->bus, NULL,
                       "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop."
                       "DBus',member='NameOwnerChanged',arg0namespace='org.agentrunner.Runner1'",
                       on_name_owner_changed, mon);
  if (r < 0)
    return ar_set_error_errno(error, -r, _("cannot follow the names on the %s"), which);
  /* One acting monitor per bus: the one that owns the name records
   * alerts, stops and notifies; another one only watches. */
  r = sd_bus_request_name(mon->bus, ARM_BUS_NAME, 0);
  mon->acting = r >= 0;
  if (r == -EEXIST)
    g_message(_("another agent-runner-monitor acts on the %s (it owns %s); this one only "
                "watches"),
              which, ARM_BUS_NAME);
  else if (r < 0)
    g_message(_("cannot own %s on the %s (%s); watching only"), ARM_BUS_NAME, which,
              g_strerror(-r));
  return list_existing(mon, error);
}

void
arm_bus_stop(ArmMonitor *mon)
{
  if (!mon->bus)
    return;
  (void)sd_bus_flush(mon->bus);
  (void)sd_bus_detach_event(mon->bus);
  mon->bus = sd_bus_flush_close_unref(mon->bus);
}
