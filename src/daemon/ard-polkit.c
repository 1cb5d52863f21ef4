#include "config.h"

#include "ard-polkit.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <unistd.h>

#include "ar-cleanup.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_creds, sd_bus_creds_unref)

/* CheckAuthorizationFlags: AllowUserInteraction */
#define POLKIT_ALLOW_INTERACTION 1u

typedef struct {
  sd_bus_message *m;
  ArdPolkitDone done;
  gpointer user_data;
  gboolean answered;
} Pending;

static void
pending_free(void *p)
{
  Pending *pending = p;
  /* The bus went away before polkit answered: the caller gets no reply
   * (it lost its connection to us anyway). */
  sd_bus_message_unref(pending->m);
  g_free(pending);
}

static int
on_reply(sd_bus_message *reply, void *user_data, sd_bus_error *ret_error)
{
  Pending *pending = user_data;
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  pending->answered = TRUE;
  const sd_bus_error *e = sd_bus_message_get_error(reply);
  if (e) {
    g_autofree char *msg = g_strdup_printf(_("cannot ask polkit for authorization: %s"),
                                           e->message ? e->message : e->name);
    sd_bus_error_set(&error, SD_BUS_ERROR_ACCESS_DENIED, msg);
    pending->done(pending->m, FALSE, &error, pending->user_data);
    return 0;
  }
  int authorized = 0, challenge = 0;
  int r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
  if (r >= 0)
    r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
  if (r < 0) {
    sd_bus_error_set(&error, SD_BUS_ERROR_ACCESS_DENIED, _("polkit sent an unreadable answer"));
    pending->done(pending->m, FALSE, &error, pending->user_data);
    return 0;
  }
  if (!authorized) {
    sd_bus_error_set(&error, SD_BUS_ERROR_ACCESS_DENIED,
                     challenge ? _("authentication is required to manage this agent-runner")
                               : _("not authorized to manage this agent-runner"));
    pending->done(pending->m, FALSE, &error, pending->user_data);
    return 0;
  }
  pending->done(pending->m, TRUE, NULL, pending->user_data);
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
  if (uid == geteuid())
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
  g_autoptr(sd_bus_slot) slot = NULL;
  /* Interactive authentication can take as long as a person needs. */
  r = sd_bus_call_async(bus, &slot, call, on_reply, pending, flags ? 300 * G_USEC_PER_SEC : 0);
  if (r < 0) {
    pending_free(pending);
    return sd_bus_error_set_errnof(ret_error, -r, "cannot ask polkit: %m");
  }
  (void)sd_bus_slot_set_destroy_callback(slot, pending_free);
  (void)sd_bus_slot_set_floating(slot, 1);
  return 0;
}
