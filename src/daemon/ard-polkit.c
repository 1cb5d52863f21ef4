/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-polkit.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-names.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_creds, sd_bus_creds_unref)

/* CheckAuthorizationFlags: AllowUserInteraction */
#define POLKIT_ALLOW_INTERACTION 1u

typedef struct {
  sd_bus_message *m;
  ArdPolkitDone done;
  gpointer user_data;
  gboolean reading;  /* the read-transcript action: its own refusal text */
  sd_bus_slot *call; /* the CheckAuthorization call; unref'd, it is cancelled */
  sd_bus_slot *gone; /* NameOwnerChanged of the caller: it left the bus */
} Pending;

/* The queries polkit has not answered yet: their slots hold the bus, so
 * they end with the caller, the answer or ard_polkit_cancel_all. */
static GList *pendings;

/* done has run (or will not): the slots go, and with them the call. */
static void
pending_free(Pending *pending)
{
  pendings = g_list_remove(pendings, pending);
  pending->call = sd_bus_slot_unref(pending->call);
  pending->gone = sd_bus_slot_unref(pending->gone);
  sd_bus_message_unref(pending->m);
  g_free(pending);
}

static void
pending_refuse(Pending *pending, const char *message)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  sd_bus_error_set(&error, SD_BUS_ERROR_ACCESS_DENIED, message);
  pending->done(pending->m, FALSE, &error, pending->user_data);
  pending_free(pending);
}

static int
on_caller_gone(sd_bus_message *signal, void *user_data, sd_bus_error *ret_error)
{
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read(signal, "sss", &name, &old_owner, &new_owner) < 0 ||
      (new_owner && *new_owner))
    return 0;
  /* No one waits for the answer: stop asking (done still runs, so its
   * data is freed; the reply to a vanished name goes nowhere). */
  pending_refuse(user_data, _("the caller left the bus before polkit answered"));
  return 0;
}

void
ard_polkit_cancel_all(void)
{
  while (pendings)
    pending_refuse(pendings->data, _("the service is stopping"));
}

static int
on_reply(sd_bus_message *reply, void *user_data, sd_bus_error *ret_error)
{
  Pending *pending = user_data;
  const sd_bus_error *e = sd_bus_message_get_error(reply);
  if (e) {
    g_autofree char *msg = g_strdup_printf(_("cannot ask polkit for authorization: %s"),
                                           e->message ? e->message : e->name);
    pending_refuse(pending, msg);
    return 0;
  }
  int authorized = 0, challenge = 0;
  int r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
  if (r >= 0)
    r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
  if (r < 0) {
    pending_refuse(pending, _("polkit sent an unreadable answer"));
    return 0;
  }
  if (!authorized) {
    const char *msg =
        pending->reading
            ? (challenge ? _("authentication is required to read this agent-runner's transcripts "
                             "(Peek without log_tail needs none)")
                         : _("not authorized to read this agent-runner's transcripts (Peek "
                             "without log_tail needs no authorization)"))
            : (challenge ? _("authentication is required to manage this agent-runner")
                         : _("not authorized to manage this agent-runner"));
    pending_refuse(pending, msg);
    return 0;
  }
  pending->done(pending->m, TRUE, NULL, pending->user_data);
  pending_free(pending);
  return 0;
}

int
ard_polkit_check(sd_bus_message *m, const char *action, ArdPolkitDone done, gpointer user_data,
                 sd_bus_error *ret_error)
{
  g_autoptr(sd_bus_creds) creds = NULL;
  uid_t uid = (uid_t)-1;
  int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
  if (r >= 0)
    r = sd_bus_creds_get_euid(creds, &uid);
  if (r < 0)
    return sd_bus_error_set_errnof(ret_error, -r, "cannot get the caller's credentials: %m");
  /* root may stop any service anyway (systemctl, kill), and polkit would
   * not be asked about root by a non-root daemon without an action owner. */
  if (uid == geteuid() || uid == 0)
    return 1;

  sd_bus *bus = sd_bus_message_get_bus(m);
  uint32_t flags =
      sd_bus_message_get_allow_interactive_authorization(m) > 0 ? POLKIT_ALLOW_INTERACTION : 0;
  g_autoptr(sd_bus_message) call = NULL;
  r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                     "/org/freedesktop/PolicyKit1/Authority",
                                     "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                              sd_bus_message_get_sender(m), action, 0, flags, "");
  if (r < 0)
    return sd_bus_error_set_errnof(ret_error, -r, "cannot build the polkit call: %m");
  Pending *pending = g_new0(Pending, 1);
  pending->m = sd_bus_message_ref(m);
  pending->done = done;
  pending->user_data = user_data;
  pending->reading = g_str_has_suffix(action, ".read-transcript");
  pendings = g_list_prepend(pendings, pending);
  /* Interactive authentication can take as long as a person needs. */
  r = sd_bus_call_async(bus, &pending->call, call, on_reply, pending,
                        flags ? 300 * G_USEC_PER_SEC : 0);
  if (r >= 0) {
    g_autofree char *match =
        g_strdup_printf("type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                        sd_bus_message_get_sender(m));
    r = sd_bus_add_match_async(bus, &pending->gone, match, on_caller_gone, NULL, pending);
  }
  if (r < 0) {
    pending_free(pending);
    return sd_bus_error_set_errnof(ret_error, -r, "cannot ask polkit: %m");
  }
  return 0;
}

void
ard_polkit_actions_for(const char *project, gboolean system, char **manage, char **upgrade)
{
  *manage = g_strdup(AR_POLKIT_ACTION_MANAGE);
  *upgrade = g_strdup(AR_POLKIT_ACTION_UPGRADE);
  /* install --system writes the file (arc-install.c). */
  g_autofree char *prefix = ar_polkit_project_prefix(project);
  g_autofree char *path = ar_polkit_policy_path(project);
  if (!system || !prefix)
    return;
  if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
    /* polkit answers a non-root daemon about other users only for actions
     * that name it as owner: without the file only root and our own uid
     * can mutate. */
    if (geteuid() != 0)
      g_message(_("%s is missing (written by 'agent-runner install --system'); polkit will not "
                  "answer about other users, so only root and this service's user can stop, "
                  "cancel, reload or upgrade it"),
                path);
    return;
  }
  g_free(*manage);
  g_free(*upgrade);
  *manage = g_strconcat(prefix, ".manage", NULL);
  *upgrade = g_strconcat(prefix, ".upgrade", NULL);
}

char *
ard_polkit_action_read_for(const char *manage)
{
  if (!g_str_has_suffix(manage, ".manage"))
    return g_strdup(AR_POLKIT_ACTION_READ);
  g_autofree char *prefix = g_strndup(manage, strlen(manage) - strlen("manage"));
  return g_strconcat(prefix, "read-transcript", NULL);
}

gboolean
ard_polkit_caller_is_owner(sd_bus_message *m)
{
  g_autoptr(sd_bus_creds) creds = NULL;
  uid_t uid = (uid_t)-1;
  if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) < 0 ||
      sd_bus_creds_get_euid(creds, &uid) < 0)
    return FALSE;
  return uid == geteuid() || uid == 0;
}
