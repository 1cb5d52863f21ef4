/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* `agent-runner list -H a -H b`: one table of host x project, the hosts
 * queried in parallel, each within the same timeout. */

#include <glib.h>

#include "arc-client.h"

G_BEGIN_DECLS

/* specs: "[USER@]HOST[:PORT]" strings. Prints the table (or --json);
 * returns 1 when a host could not be reached. */
int arc_fleet_list(ArcContext *ctx, GPtrArray *specs, guint timeout_s);

G_END_DECLS
