/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-names.h"
#include "arm-monitor.h"

/* Desktop notifications through org.freedesktop.Notifications on the
 * user's session bus (the bus a user-mode monitor watches; the system
 * monitor has no desktop). Each project owns one notification, replaced
 * (replaces_id) by the next one, so a repeated condition never stacks.
 * No notification server is a normal situation: noted once, no error. */

#define NOTIFY_NAME  "org.freedesktop.Notifications"
#define NOTIFY_PATH  "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"

struct ArmNotify {
  ArmMonitor *mon;
  sd_bus *bus;
  gboolean no_server_noted;
  char *terminal; /* x-terminal-emulator, for the "Show status" action */
  sd_bus_slot *action_slot;
};

typedef struct {
  ArmNotify *n;
  char *key; /* the project's (or a host's) key, to find it again when the reply comes */
} Pending;

static ArmProject *
project_by_notification(ArmNotify *n, guint32 id)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, n->mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    ArmProject *p = value;
    if (p->notify_id == id)
      return p;
  }
  return NULL;
}

static int
on_action(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  ArmNotify *n = userdata;
  guint32 id = 0;
  const char *action = NULL;
  if (sd_bus_message_read(m, "us", &id, &action) < 0 || !n->terminal)
    return 0;
  ArmProject *p = project_by_notification(n, id);
  if (!p)
    return 0;
  g_autofree char *project = ar_project_from_bus_name(p->bus_name);
  const char *argv[] = {
    n->terminal, "-e", "agent-runner", "--project", project, "watch", NULL, NULL, NULL,
  };
  if (p->host) {
    /* A remote project: its status is on its host. */
    argv[5] = "-H";
    argv[6] = p->host;
    argv[7] = "watch";
  }
  g_autoptr(GError) error = NULL;
  if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &error))
    g_message(_("cannot open the status of %s: %s"), p->name, error->message);
  return 0;
}

ArmNotify *
arm_notify_new(ArmMonitor *mon)
{
  if (mon->opts.system || mon->opts.no_notify)
    return NULL;
  ArmNotify *n = g_new0(ArmNotify, 1);
  n->mon = mon;
  n->bus = sd_bus_ref(mon->bus);
  n->terminal = g_find_program_in_path("x-terminal-emulator");
  if (n->terminal &&
      sd_bus_match_signal_async(n->bus, &n->action_slot, NULL, NOTIFY_PATH, NOTIFY_IFACE,
                                "ActionInvoked", on_action, NULL, n) < 0)
    g_clear_pointer(&n->terminal, g_free);
  return n;
}

void
arm_notify_free(ArmNotify *n)
{
  if (!n)
    return;
  sd_bus_slot_unref(n->action_slot);
  sd_bus_unref(n->bus);
  g_free(n->terminal);
  g_free(n);
}

gboolean
arm_notify_wants(ArmProject *p, const char *what)
{
  /* Before the config is read: the key's default. */
  if (!p->cfg)
    return g_str_equal(what, "critical") || g_str_equal(what, "finished");
  return p->cfg->notify && g_strv_contains((const char *const *)p->cfg->notify, what);
}

static int
on_notify_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Pending *pd = userdata;
  ArmNotify *n = pd->n;
  const sd_bus_error *e = sd_bus_message_get_error(m);
  guint32 id = 0;
  if (e) {
    if (!n->no_server_noted)
      g_message(_("no desktop notification server is running (%s); notifications are "
                  "skipped"),
                e->message);
    n->no_server_noted = TRUE;
  } else if (sd_bus_message_read(m, "u", &id) >= 0) {
    ArmProject *p = g_hash_table_lookup(n->mon->projects, pd->key);
    guint32 *host_id = p ? NULL : arm_remote_notify_id(n->mon, pd->key);
    if (p)
      p->notify_id = id;
    else if (host_id)
      *host_id = id;
  }
  g_free(pd->key);
  g_free(pd);
  return 0;
}

void
arm_notify_show(ArmNotify *n, ArmProject *p, ArmSeverity sev, const char *summary, const char *body)
{
  arm_notify_show_key(n, p->key, p->notify_id, sev, summary, body);
}

void
arm_notify_show_key(ArmNotify *n, const char *key, guint32 replaces_id, ArmSeverity sev,
                    const char *summary, const char *body)
{
  if (!n)
    return;
  static const guint8 urgency[] = { 0, 1, 2 }; /* low, normal, critical */
  g_autoptr(sd_bus_message) call = NULL;
  int r = sd_bus_message_new_method_call(n->bus, &call, NOTIFY_NAME, NOTIFY_PATH, NOTIFY_IFACE,
                                         "Notify");
  if (r >= 0)
    r = sd_bus_message_append(call, "susss", "agent-runner", replaces_id,
                              sev == ARM_SEV_CRITICAL ? "dialog-error" : "dialog-information",
                              summary, body);
  if (r >= 0 && n->terminal)
    r = sd_bus_message_append(call, "as", 2, "default", _("Show status"));
  else if (r >= 0)
    r = sd_bus_message_append(call, "as", 0);
  if (r >= 0)
    r = sd_bus_message_append(call, "a{sv}", 2, "urgency", "y", urgency[sev], "desktop-entry", "s",
                              "agent-runner");
  if (r >= 0)
    r = sd_bus_message_append(call, "i", (gint32)-1);
  if (r < 0) {
    g_warning("Notify: %s", g_strerror(-r));
    return;
  }
  Pending *pd = g_new0(Pending, 1);
  pd->n = n;
  pd->key = g_strdup(key);
  r = sd_bus_call_async(n->bus, NULL, call, on_notify_reply, pd, 0);
  if (r < 0) {
    g_free(pd->key);
    g_free(pd);
  }
}

/* Events that are news for the desktop without being alerts: the project
 * finished, or (when asked for) every round's end. */
void
arm_notify_event(ArmNotify *n, ArmProject *p, const char *kind, JsonObject *o)
{
  if (!n)
    return;
  if ((g_str_equal(kind, "agent_self_terminated") || g_str_equal(kind, "max_rounds_reached")) &&
      arm_notify_wants(p, "finished")) {
    g_autofree char *summary = g_strdup_printf(_("agent-runner: %s finished"), p->name);
    const char *reason = ar_json_str(o, "reason");
    g_autofree char *body =
        reason && *reason ? g_strdup(reason) : g_strdup(_("the project finished its rounds"));
    arm_notify_show(n, p, ARM_SEV_INFO, summary, body);
  } else if (g_str_equal(kind, "round_end") && arm_notify_wants(p, "round_end")) {
    g_autofree char *summary = g_strdup_printf(_("agent-runner: %s round %" PRId64), p->name,
                                               ar_json_int(o, "round_num", NULL));
    g_autofree char *body =
        g_strdup_printf(_("%s (exit %" PRId64 ", %.0fs)"), ar_json_str(o, "outcome"),
                        ar_json_int(o, "exit_code", NULL), ar_json_double(o, "duration_s", NULL));
    arm_notify_show(n, p, ARM_SEV_INFO, summary, body);
  }
}
