#pragma once

/* Human-readable progress on stderr for a daemon run in the foreground
 * (agent-runner serve / round in a terminal). Quiet when stderr is not a
 * terminal: the journal has everything then. */

#include <glib.h>

#include "ar-events.h"

G_BEGIN_DECLS

/* Adds an emitter sink when stderr is a terminal (or force is TRUE). */
void ard_console_attach(ArEmitter *emitter, gboolean force);

G_END_DECLS
