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
 * (replaces_id) by the next one, so a repeated condition never stacks;
 * so does each remote host's outage. No notification server is a normal
 * situation: noted once, no error. The acting monitor registers it as an
 * output: alerts, the news among the events, the hosts' outages. */

#define NOTIFY_NAME  "org.freedesktop.Notifications"
#define NOTIFY_PATH  "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"

struct ArmNotify {
  ArmMonitor *mon;
  sd_bus *bus;
  gboolean no_server_noted;
  char *terminal; /* x-terminal-emulator, for the "Show status" action */
  sd_bus_slot *action_slot;
  GHashTable *ids; /* a project's key (or "HOST/" for a host's outage) -> notification id */
};

typedef struct {
  ArmNotify *n;
  char *key; /* the project's (or a host's) key, to find it again when the reply comes */
} Pending;

static ArmProject *
project_by_notification(ArmNotify *n, guint32 id)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, n->ids);
  while (g_hash_table_iter_next(&it, &key, &value))
    if (GPOINTER_TO_UINT(value) == id)
      return g_hash_table_lookup(n->mon->projects, key);
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
  n->ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
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
  g_hash_table_unref(n->ids);
  g_free(n->terminal);
  g_free(n);
}

static gboolean
wants(ArmProject *p, const char *what)
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
    g_hash_table_insert(n->ids, g_strdup(pd->key), GUINT_TO_POINTER(id));
  }
  g_free(pd->key);
  g_free(pd);
  return 0;
}

/* Show (or replace) the notification that key owns. */
static void
show(ArmNotify *n, const char *key, ArmSeverity sev, const char *summary, const char *body)
{
  guint32 replaces_id = GPOINTER_TO_UINT(g_hash_table_lookup(n->ids, key));
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
static void
on_event(gpointer data, ArmProject *p, const char *kind, const char *json_line, JsonObject *o)
{
  ArmNotify *n = data;
  if (p->replaying)
    return;
  if ((g_str_equal(kind, "agent_self_terminated") || g_str_equal(kind, "max_rounds_reached")) &&
      wants(p, "finished")) {
    g_autofree char *summary = g_strdup_printf(_("agent-runner: %s finished"), p->name);
    const char *reason = ar_json_str(o, "reason");
    g_autofree char *body =
        reason && *reason ? g_strdup(reason) : g_strdup(_("the project finished its rounds"));
    show(n, p->key, ARM_SEV_INFO, summary, body);
  } else if (g_str_equal(kind, "round_end") && wants(p, "round_end")) {
    g_autofree char *summary = g_strdup_printf(_("agent-runner: %s round %" PRId64), p->name,
                                               ar_json_int(o, "round_num", NULL));
    g_autofree char *body =
        g_strdup_printf(_("%s (exit %" PRId64 ", %.0fs)"), ar_json_str(o, "outcome"),
                        ar_json_int(o, "exit_code", NULL), ar_json_double(o, "duration_s", NULL));
    show(n, p->key, ARM_SEV_INFO, summary, body);
  }
}

static void
on_alert(gpointer data, ArmProject *p, const ArmAlert *a)
{
  ArmNotify *n = data;
  if (!a->active)
    return;
  const char *want = a->severity == ARM_SEV_CRITICAL ? "critical" : "warning";
  if (!wants(p, want))
    return;
  g_autofree char *summary = g_strdup_printf(_("agent-runner: %s — %s"), p->name, a->detector);
  show(n, p->key, a->severity, summary, a->message);
}

static void
on_host_alert(gpointer data, const char *host, gboolean active, const char *message)
{
  ArmNotify *n = data;
  g_autofree char *key = g_strconcat(host, "/", NULL);
  g_autofree char *summary = active ? g_strdup_printf(_("agent-runner: %s unreachable"), host)
                                    : g_strdup_printf(_("agent-runner: %s reachable again"), host);
  show(n, key, active ? ARM_SEV_CRITICAL : ARM_SEV_INFO, summary, message);
}

const ArmSink arm_notify_sink = {
  .event = on_event,
  .alert = on_alert,
  .host_alert = on_host_alert,
};
