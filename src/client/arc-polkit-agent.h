/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A text polkit agent for the person at the terminal, as systemctl runs
 * one: when a verb may need polkit's interactive authentication on the
 * system bus and stdin is a terminal, pkttyagent is started for the
 * verb's lifetime, so polkit can ask for a password instead of refusing. */

#include "arc-client.h"

G_BEGIN_DECLS

/* Start pkttyagent --notify-fd N --fallback and wait until it has
 * registered (or given up); nothing when not needed or not installed. */
void arc_polkit_agent_open(ArcContext *ctx);
/* Stop it (SIGTERM) and reap it. */
void arc_polkit_agent_close(ArcContext *ctx);

G_END_DECLS
