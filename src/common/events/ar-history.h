/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Rounds and events read back from the events files (newest first, read
 * backwards: bounded by how far back, not by the history's size). */

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* {round_num, phase, outcome, exit_code, duration_s, started_at, ended_at}
 * of one round from its round_start/round_end events (members null where
 * the events lack them); latest is the newest round number known (it
 * bounds how far back to read). NULL when no event names the round. */
JsonObject *ar_history_round(const char *log_dir, guint round_num, guint latest);
/* The last n rounds that ended, newest first, same members. */
JsonArray *ar_history_last_rounds(const char *log_dir, guint n);
/* The last n events of these kinds (NULL: all) as objects, oldest first. */
JsonArray *ar_history_events(const char *log_dir, const char *const *kinds, guint n);

G_END_DECLS
