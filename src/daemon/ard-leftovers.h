/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What is left of a round after its supervisor died.
 *
 * The agent dies with the daemon (parent-death signal), but whatever it
 * started in the background is reparented to init (or to the nearest
 * subreaper) and would go on writing in the work tree while the restarted
 * daemon's next agent works there. Each round therefore leaves a record in
 * state.json while it runs: the agent's session (= process group, it calls
 * setsid), the agent's start time, the boot id and a random round token
 * that every process of the round inherits in its environment
 * (AGENT_RUNNER_ROUND_ID). On start the daemon ends every process that
 * still carries either mark, and reports them. */

#include <sys/types.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-events.h"

G_BEGIN_DECLS

#define ARD_ROUND_ID_ENV "AGENT_RUNNER_ROUND_ID"

/* At most this many processes are described in an event (the count is
 * always exact), each command line cut to this many characters. */
#define ARD_LEFTOVERS_LIST_MAX    20
#define ARD_LEFTOVERS_CMDLINE_MAX 200

/* A fresh random token (32 hex characters). */
char *ard_leftovers_new_token(void);

/* The record state.json keeps while round round_num runs: the agent's pid
 * (its session id), its start time and the token. NULL when the agent's
 * start time cannot be read (it is gone already). */
JsonNode *ard_leftovers_record(guint round_num, pid_t agent_pid, const char *token);

/* Live processes that belong to the round of record, never this process
 * or its ancestors. Empty after a reboot (the boot id differs). */
GArray *ard_leftovers_find(JsonObject *record);

/* [{pid, name, cmdline}] for an event: at most ARD_LEFTOVERS_LIST_MAX
 * entries, command lines redacted and cut. */
JsonNode *ard_leftovers_describe(GArray *pids);

/* End the processes of record: TERM, KILL after grace_usec, again for
 * what they forked meanwhile. Returns the description of what was found
 * (NULL when nothing was) and the count in *count. Blocking: runs once at
 * start-up, before the event loop. */
JsonNode *ard_leftovers_kill(JsonObject *record, guint64 grace_usec, guint *count);

/* ard_leftovers_kill() on a state.json record, then round_leftovers_killed
 * (after_restart true) when anything was found. */
void ard_leftovers_end(JsonNode *record, guint64 grace_usec, ArEmitter *emitter);

G_END_DECLS
