/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A running round across an upgrade in place: described by the old image
 * (with its output pipe and transcript kept open across execve), taken
 * over by the new one with the agent untouched (ard-round-adopt.c). */

#include <json-glib/json-glib.h>

#include "ard-round.h"

G_BEGIN_DECLS

/* TRUE in the plain running stage (agent alive, no hooks, no grace, no
 * kill, prompt written, output flowing); else *why (may be NULL) says what
 * the hand-over has to wait for. */
gboolean ard_round_can_hand_over(const ArdRound *round, const char **why);
/* The round as a JSON object for the hand-over document, NULL when it
 * cannot be handed over. keep_fds: clear FD_CLOEXEC on the output pipe and
 * the transcript (the exec itself; not for a smoke test). */
JsonNode *ard_round_handover_save(ArdRound *round, gboolean keep_fds);
/* The exec failed: the fds are ours alone again (FD_CLOEXEC). */
void ard_round_handover_abort(ArdRound *round);

/* The new image: the round of doc goes on (p gives the loop's objects,
 * round number and phase). NULL and error when it cannot be taken over;
 * the inherited fds and the agent are then as they were (a rollback hands
 * them back). */
ArdRound *ard_round_adopt(const ArdRoundParams *p, JsonObject *doc, ArdRoundDoneFunc done,
                          gpointer user_data, GError **error);
/* A self-check: the round object names what an adoption needs. */
gboolean ard_round_handover_check(JsonObject *doc, GError **error);
/* The inherited fd numbers of doc: closed once the round is adopted
 * (close_them), or kept across the next exec (a rollback). */
void ard_round_adopt_close_inherited(JsonObject *doc, gboolean close_them);

G_END_DECLS
