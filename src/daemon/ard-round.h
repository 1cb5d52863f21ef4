/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One round, driven by the sd-event loop: transcript and context, prompt,
 * spawn, output streaming, the wall-clock timeout, the grace after the
 * agent's result, teardown of everything the agent left behind, and the
 * agent_exit / round_grace_kill / round_timeout_kill events. round_end and
 * what follows belong to the loop (ard-loop.c), which persists state first. */

#include <sys/types.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ar-classify.h"
#include "ar-config.h"
#include "ar-events.h"
#include "ard-state.h"

G_BEGIN_DECLS

/* TERM first, KILL this long after when the process group is still there. */
#define ARD_KILL_GRACE_USEC (5 * G_USEC_PER_SEC)

typedef struct {
  sd_event *event;
  ArEmitter *emitter;
  ArConfig *cfg;
  guint round_num;
  const char *phase;               /* NULL without phases */
  const ArdRoundSummary *previous; /* for the context block; may be NULL */
  const char *const *base_env;     /* the daemon's environment */
  const char *const *secret_env;   /* NAME=value of [agent] secrets, or NULL */
  JsonNode *orphan;                /* state.json's orphan stash, for the context; may be NULL */
} ArdRoundParams;

typedef struct {
  guint round_num;
  char *phase;
  char *transcript_path; /* NULL if it could not be created */
  gint64 started_realtime_us;
  gint64 ended_realtime_us;
  double duration_s;
  int exit_code;   /* exit status, or -signal when killed (events, state) */
  int term_signal; /* 0 when the agent exited */
  gboolean timed_out;
  gboolean grace_killed;
  gboolean stalled; /* idle_timeout_s or retry_loop_timeout_s ended it */
  gboolean cancelled;
  gboolean spawn_failed;  /* nothing ran: exec failure, prompt unreadable */
  const char *exit_cause; /* clean, error, signal:NAME, timeout, grace (static or owned below) */
  char *exit_cause_owned;
  ArClassification classification;
  const char *outcome; /* classifier outcome, or "cancelled" */
  double cpu_user_s;
  double cpu_sys_s;
  gint64 max_rss_kb;
  guint64 output_bytes;
  guint64 truncated_lines;
} ArdRoundResult;

typedef struct ArdRound ArdRound;

/* Runs once, from its own event-loop dispatch, when the agent and every
 * descendant are gone and the output is drained. The callee may free the
 * round. */
typedef void (*ArdRoundDoneFunc)(ArdRound *round, gpointer user_data);

/* Start a round. It never fails: a failure before or at spawn ends the round
 * at once with spawn_failed and exit code 127 (and counts like a crash). */
ArdRound *ard_round_start(const ArdRoundParams *params, ArdRoundDoneFunc done, gpointer user_data);
void ard_round_free(ArdRound *round);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdRound, ard_round_free)

/* End the round now: TERM to the group, KILL after ARD_KILL_GRACE_USEC;
 * emits round_cancelled once. */
void ard_round_cancel(ArdRound *round);

/* The loop's SIGCHLD handler calls this after reaping orphans: a direct
 * child exited, so the grace/teardown checks look again. */
void ard_round_child_exited(ArdRound *round);

const ArdRoundResult *ard_round_get_result(const ArdRound *round);
/* The git work of the round's end; set once the agent has exited. */
struct ArdVcsJob *ard_round_get_vcs_job(const ArdRound *round);
/* The agent's pid while it is unreaped (the orphan reaper must leave it to
 * its pidfd source), else 0. */
pid_t ard_round_get_agent_pid(const ArdRound *round);
/* What state.json keeps while the round runs, so that a restarted daemon
 * can end its processes (ard-leftovers.h); NULL when no agent runs. */
JsonNode *ard_round_leftovers_record(const ArdRound *round);
gint64 ard_round_get_started_realtime_us(const ArdRound *round);
const char *ard_round_get_transcript_path(const ArdRound *round);
gboolean ard_round_is_finished(const ArdRound *round);

G_END_DECLS
