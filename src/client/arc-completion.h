/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shell completion (arc-completion.c): the hidden verb
 * `agent-runner __complete projects | script bash|zsh|fish`. */

#include "arc-client.h"

G_BEGIN_DECLS

int arc_completion_main(ArcContext *ctx, int argc, char **argv);

G_END_DECLS
