/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Names on the bus: the per-project bus name, the object path and
 * interface, and the named errors (org.agentrunner.Error.*), each defined
 * once here for the daemon and the client.
 *
 * Bus name escaping (docs/design.md "Bus API decisions"): a project name
 * matches [A-Za-z0-9._-]+, a bus name element may hold [A-Za-z0-9_-] and
 * must not start with a digit. So every '.' and '_' becomes "_XX" (two
 * lowercase hex digits of the byte: '.' -> "_2e", '_' -> "_5f"), and a
 * leading digit is escaped the same way ('3' -> "_33"). Letters, other
 * digits and '-' stay. The mapping is one-to-one, so the project can be
 * read back from the name. */

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define AR_BUS_NAME_PREFIX  "org.agentrunner.Runner1."
#define AR_BUS_PATH         "/org/agentrunner/Runner1"
#define AR_BUS_INTERFACE    "org.agentrunner.Runner1"
#define AR_BUS_ERROR_PREFIX "org.agentrunner.Error."

/* polkit actions of the system service: the generic ones
 * (data/polkit/org.agentrunner.runner.policy) and, per project, the same
 * actions under AR_POLKIT_ACTION_PREFIX<escaped project>. that install
 * --system writes naming the service's user as owner. */
#define AR_POLKIT_ACTION_PREFIX  "org.agentrunner.runner."
#define AR_POLKIT_ACTION_MANAGE  AR_POLKIT_ACTION_PREFIX "manage"
#define AR_POLKIT_ACTION_UPGRADE AR_POLKIT_ACTION_PREFIX "upgrade"
#define AR_POLKIT_ACTION_READ    AR_POLKIT_ACTION_PREFIX "read-transcript"

/* NULL when project is not a valid project name. */
char *ar_bus_name_for_project(const char *project);
/* The project's escaped form (the bus name's last element); NULL when
 * project is not a valid project name. */
char *ar_project_escaped(const char *project);
/* org.agentrunner.runner.<escaped>: the per-project actions are this plus
 * ".manage", ".upgrade", ".read-transcript". */
char *ar_polkit_project_prefix(const char *project);
/* Where install --system writes the per-project polkit actions and bus
 * policy (POLKIT_ACTIONS_DIR, DBUS_SYSTEM_CONF_DIR). */
char *ar_polkit_policy_path(const char *project);
char *ar_bus_policy_path(const char *project);
/* NULL when name does not carry the prefix or does not unescape to a
 * valid project name. */
char *ar_project_from_bus_name(const char *bus_name);

/* The one table between domain errors and D-Bus error names: AR_ERROR
 * codes and G_IO_ERROR_NOT_SUPPORTED map to org.agentrunner.Error.<Name>;
 * anything else is org.agentrunner.Error.Failed. */
const char *ar_bus_error_name(const GError *error);
/* Fill an sd_bus_error from a GError; returns the negative errno sd-bus
 * handlers return. */
int ar_bus_error_from_gerror(sd_bus_error *ret, const GError *error);
/* The reverse, for the client: our names map back to their AR_ERROR code;
 * other names (org.freedesktop.DBus.Error.*) become AR_ERROR_FAILED, or
 * AR_ERROR_ACCESS_DENIED for ...AccessDenied. */
void ar_bus_error_to_gerror(const sd_bus_error *e, GError **error);

G_END_DECLS
