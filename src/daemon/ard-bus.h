/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The D-Bus service of agent-runnerd: org.agentrunner.Runner1 on the
 * user bus (default) or the system bus, attached to the loop's sd_event.
 * The contract is data/dbus/org.agentrunner.Runner1.xml. Signals come from
 * one emitter sink, PropertiesChanged from one status hook. */

#include <glib.h>

#include "ard-loop.h"

G_BEGIN_DECLS

typedef struct ArdBus ArdBus;

/* Connect, export the object, own the bus name (synchronously: call it
 * before READY=1). Errors: AR_ERROR_LOCKED when another process owns the
 * name (exit 75), others when the bus is unusable. In user mode a bus that
 * cannot be reached is not an error: a warning is logged and the daemon
 * runs without the bus (ard_bus_is_connected() FALSE). */
ArdBus *ard_bus_new(ArdLoop *loop, gboolean system, GError **error);
void ard_bus_free(ArdBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdBus, ard_bus_free)

gboolean ard_bus_is_connected(ArdBus *bus);
const char *ard_bus_get_name(ArdBus *bus);

G_END_DECLS
