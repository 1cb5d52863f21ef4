/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* log_dir holds the agent's raw transcripts (secrets it printed
 * included), the events and the state: the service's user only. */

#include <glib.h>

#include "ar-events.h"

G_BEGIN_DECLS

#define ARD_PERMS_DIR_MODE  0700
#define ARD_PERMS_FILE_MODE 0600

/* Set log_dir and its rounds/ to 0700 and every file in them to at most
 * 0600 (owner bits kept); one log_permissions_tightened event when
 * anything changed. Symlinks are not followed. Returns the number of
 * entries changed. */
guint ard_perms_tighten(const char *log_dir, ArEmitter *emitter);

G_END_DECLS
