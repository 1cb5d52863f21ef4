/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Authorization of mutating bus calls: callers with the daemon's own uid
 * or uid 0 pass at once; anyone else is asked about to polkit asynchronously
 * (org.freedesktop.PolicyKit1.Authority.CheckAuthorization, subject
 * system-bus-name), and the call is answered when polkit has answered. */

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The action ids to ask about (free both). System mode with
 * POLKIT_ACTIONS_DIR/org.agentrunner.runner.<escaped project>.policy
 * present (install --system writes it, naming the service's user as the
 * actions' owner): org.agentrunner.runner.<escaped>.manage / .upgrade.
 * Otherwise the generic AR_POLKIT_ACTION_MANAGE / _UPGRADE (ar-names.h). Checked once,
 * at startup. */
void ard_polkit_actions_for(const char *project, gboolean system, char **manage, char **upgrade);

/* The read-transcript action next to manage (the same project file or the
 * generic one). */
char *ard_polkit_action_read_for(const char *manage);

/* TRUE when the caller is the service's own user or root: they can read
 * log_dir anyway, polkit is not asked. */
gboolean ard_polkit_caller_is_owner(sd_bus_message *m);

/* allowed FALSE: error is set (AccessDenied, or why polkit could not be
 * asked). The callback answers m itself. */
typedef void (*ArdPolkitDone)(sd_bus_message *m, gboolean allowed, const sd_bus_error *error,
                              gpointer user_data);

/* 1: allowed now (same uid), the caller goes on synchronously; 0: a check
 * is pending and done will be called (the handler returns 1); < 0: error,
 * ret_error set. */
int ard_polkit_check(sd_bus_message *m, const char *action, ArdPolkitDone done, gpointer user_data,
                     sd_bus_error *ret_error);
/* A pending check ends when the caller leaves the bus (done is called with
 * AccessDenied, the polkit call cancelled). This ends every pending check
 * the same way: before the bus connection is closed. */
void ard_polkit_cancel_all(void);

G_END_DECLS
