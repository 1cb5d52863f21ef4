#pragma once

/* Authorization of mutating bus calls: callers with the daemon's own uid
 * pass at once; anyone else is asked about to polkit asynchronously
 * (org.freedesktop.PolicyKit1.Authority.CheckAuthorization, subject
 * system-bus-name), and the call is answered when polkit has answered. */

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define ARD_POLKIT_ACTION_MANAGE  "org.agentrunner.runner.manage"
#define ARD_POLKIT_ACTION_UPGRADE "org.agentrunner.runner.upgrade"

/* allowed FALSE: error is set (AccessDenied, or why polkit could not be
 * asked). The callback answers m itself. */
typedef void (*ArdPolkitDone)(sd_bus_message *m, gboolean allowed, const sd_bus_error *error,
                              gpointer user_data);

/* 1: allowed now (same uid), the caller goes on synchronously; 0: a check
 * is pending and done will be called (the handler returns 1); < 0: error,
 * ret_error set. */
int ard_polkit_check(sd_bus_message *m, const char *action, ArdPolkitDone done, gpointer user_data,
                     sd_bus_error *ret_error);

G_END_DECLS
