/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* status, peek and watch of a project whose daemon is not running: the
 * Peek document rebuilt from log_dir (state.json, the events files). */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-config.h"

G_BEGIN_DECLS

/* Peek's document with "source": "files", service.state "stopped" and
 * service.stop_reason / stop_fix / stop_detail / stopped_at; round > 0
 * fills current_round from that round's events; events > 0 the last
 * events. NULL when the project never ran with this log_dir. */
JsonNode *arc_offline_doc(const ArConfig *cfg, gboolean system, guint round, guint events);
/* current_round's log_path and log_tail (its last `lines` lines), as
 * Peek's log_tail gives them. */
void arc_offline_add_log(JsonNode *doc, const char *log_dir, guint lines);
/* What to do about a stop reason ("auth_failed", "max_rounds", ...),
 * translated; NULL for an unknown reason. */
const char *arc_stop_fix(const char *reason);

G_END_DECLS
