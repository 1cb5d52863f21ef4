/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the two files of a round share: ard-round.c (the running round:
 * output, timers, grace, stalls, teardown, the end) and ard-round-start.c
 * (hooks, context, prompt, spawn), and ard-round-adopt.c (a round handed
 * over by an upgrade in place). Only those call into ard-round.c; nothing
 * else includes this header (others use ard-round.h). */

#include <sys/resource.h>

#include "ar-classify.h"
#include "ard-detect.h"
#include "ard-hooks.h"
#include "ard-output.h"
#include "ard-round.h"
#include "ard-spawn.h"
#include "ard-vcs.h"

G_BEGIN_DECLS

typedef enum {
  STAGE_RUNNING,  /* the agent is alive (or not yet reaped) */
  STAGE_TEARDOWN, /* the agent is reaped; leftovers and output remain */
  STAGE_FINISHED,
} Stage;

struct ArdRound {
  sd_event *event;
  ArdVcsJob *vcs_job; /* the git work after the agent exit, in a thread */
  ArEmitter *emitter;
  ArConfig *cfg;
  ArdRoundDoneFunc done;
  gpointer user_data;
  ArdRoundResult res;
  Stage stage;

  pid_t pid; /* the agent; 0 before spawn and after reaping */
  pid_t pgid;
  int wait_status;
  struct rusage ru;
  gint64 started_mono_us;
  guint timeout_s;

  ArClassifier *classifier;
  ArdRepetition *repetition; /* anomaly_repetitive_tool; NULL when off */
  ArdOutput *output;
  ArdStdinWriter *stdin_writer;
  sd_event_source *child_source;
  sd_event_source *timeout_timer;
  sd_event_source *grace_timer;
  sd_event_source *idle_timer;
  sd_event_source *retry_timer;
  sd_event_source *kill_timer;
  sd_event_source *progress_timer;
  sd_event_source *drain_timer;
  sd_event_source *recheck_defer;
  sd_event_source *finish_defer;
  GHashTable *watches; /* pid -> sd_event_source* on its pidfd */

  gboolean killing;  /* TERM was sent to the tree */
  guint kill_passes; /* KILL passes done */
  gboolean teardown_done;
  gboolean grace_armed;
  gboolean grace_waiting; /* extended: waiting for live workers to go */
  gboolean grace_extended_emitted;
  GPtrArray *ignore_regexes; /* GRegex*, grace_kill_ignore_patterns */

  /* [hooks] around the round (ard-hooks.c) and what the start needs
   * after the pre-round ones */
  ArdHookBatch *hooks;
  JsonObject *context;
  GStrv base_env;
  GStrv secret_env; /* [agent] secrets as NAME=value, read for this round: the agent's only */
  int transcript_fd;
  char *token;  /* ARD_ROUND_ID_ENV of this round's processes */
  char *cgroup; /* the round's own cgroup (ard-cgroup.h), or NULL */
};

gint64 ard_round_now_mono(ArdRound *r);
void ard_round_arm_timer(ArdRound *r, sd_event_source **slot, uint64_t usec_from_now,
                         sd_event_time_handler_t handler, const char *description);
/* The output dialect of the config (its output key, else guessed). */
ArDialect ard_round_dialect(const ArConfig *cfg);
/* End the round from a dispatch of its own. */
void ard_round_schedule_finish(ArdRound *r);

/* The free function of r->watches (pid -> its pidfd source). */
void ard_round_drop_watch(gpointer source);

/* The sources the start wires to the running round. */
int ard_round_on_timeout(sd_event_source *s, uint64_t usec, void *user_data);
int ard_round_on_idle_timer(sd_event_source *s, uint64_t usec, void *user_data);
int ard_round_on_progress(sd_event_source *s, uint64_t usec, void *user_data);
void ard_round_on_line(const char *line, gsize len, gboolean truncated, gpointer user_data);
gsize ard_round_on_lines(const char *data, gsize len, gpointer user_data);
void ard_round_on_output_eof(ArdOutput *out, gpointer user_data);
int ard_round_on_agent_exit(sd_event_source *s, const siginfo_t *si, void *user_data);
/* The retry-loop and grace timers from what the classifier saw so far. */
void ard_round_rearm_defenses(ArdRound *r);

G_END_DECLS
