/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Human-readable progress on stderr for a daemon run in the foreground
 * (agent-runner serve / round): one line per notable event. */

#include <glib.h>

#include "ar-events.h"

G_BEGIN_DECLS

typedef enum {
  ARD_CONSOLE_AUTO = 0, /* when stderr is a terminal (the unit's is not) */
  ARD_CONSOLE_ALWAYS,   /* --console: the client's serve/round, terminal or not */
  ARD_CONSOLE_NEVER,    /* --quiet */
} ArdConsoleMode;

void ard_console_attach(ArEmitter *emitter, ArdConsoleMode mode);

G_END_DECLS
