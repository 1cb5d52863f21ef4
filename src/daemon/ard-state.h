/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* log_dir/state.json: what must survive a daemon restart (round counter,
 * phase index, crash streak, stop reason, last round), written atomically.
 * Round numbers are monotonic even when state.json is lost: the next number
 * is above every round the transcripts and the events files remember. */

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One finished round, as state.json, the context block and Peek show it. */
typedef struct {
  guint round_num;
  char *phase;      /* NULL without phases */
  int exit_code;    /* 128+signal when killed */
  char *exit_cause; /* clean, error, signal:NAME, timeout, grace */
  char *outcome;    /* classifier outcome, or "cancelled" */
  double duration_s;
  char *started_at; /* UTC ISO, ms */
  char *ended_at;
  gboolean timed_out;
} ArdRoundSummary;

ArdRoundSummary *ard_round_summary_copy(const ArdRoundSummary *s);
void ard_round_summary_free(ArdRoundSummary *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdRoundSummary, ard_round_summary_free)
JsonNode *ard_round_summary_to_json(const ArdRoundSummary *s);
ArdRoundSummary *ard_round_summary_from_json(JsonObject *o);

/* Why the loop stopped for good; persisted so status/Peek can tell after a
 * restart. NULL = not stopped for a lasting reason. */
#define ARD_STOP_REASON_DONE          "done"
#define ARD_STOP_REASON_CONFIG_BROKEN "config_broken"
#define ARD_STOP_REASON_DISK_FULL     "disk_full"
#define ARD_STOP_REASON_CRASH_LOOP    "crash_loop"
#define ARD_STOP_REASON_AUTH          "auth_failed"
#define ARD_STOP_REASON_QUOTA         "quota_exhausted"
#define ARD_STOP_REASON_TRANSIENT     "transient_error"
#define ARD_STOP_REASON_MONITOR       "monitor_auto_stop"

/* The monitor's auto-stop (MonitorAlert with stop_service): holds the
 * detector's name; a restarted daemon stops again until an explicit start. */
#define ARD_MONITOR_STOP_FILE ".monitor-stop"

typedef struct {
  guint round_num;        /* the last round number handed out */
  gboolean round_running; /* that round had started and never finished */
  guint phase_index;
  char *phase;
  guint crash_streak;
  char *stop_reason;
  ArdRoundSummary *last; /* NULL before the first round */
  JsonNode *throttle;    /* ard-backoff.h's ArdThrottle, written by the reactor */
  JsonNode *orphan;      /* the orphan stash (ard-vcs.h); kept verbatim */
  JsonNode *round_procs; /* ard-leftovers.h: the running round's marks; NULL between rounds */
} ArdState;

ArdState *ard_state_new(void);
void ard_state_free(ArdState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdState, ard_state_free)

/* Read log_dir/state.json. A missing file gives a fresh state; an
 * unparseable one gives a fresh state and *recovered = TRUE (the caller
 * emits status_recovered). Only I/O errors other than ENOENT fail. */
ArdState *ard_state_load(const char *log_dir, gboolean *recovered, GError **error);
gboolean ard_state_save(const ArdState *state, const char *log_dir, GError **error);
/* ard_state_save, a failure logged: serious (round numbers could repeat
 * after a restart) but no reason to abandon the agent mid-run. */
void ard_state_save_or_warn(const ArdState *state, const char *log_dir);

/* The highest round number any trace in log_dir remembers: transcripts
 * rounds/R<N>-*.log and, when scan_events, the last round_start/round_end/
 * agent_spawn line of the newest events file that has one, read from its
 * end (rounds are numbered in order and never reused, so that is the
 * highest; the cost does not grow with the history). Events are read only
 * when state.json could not be trusted. */
guint ard_state_scan_max_round(const char *log_dir, gboolean scan_events);
/* The next round's number: above everything remembered, the state, the
 * transcripts, and (when the state is new or was recovered) the events.
 * Never a number used before: it would overwrite nothing (transcripts
 * carry a stamp) but break every reader keyed on round_num. */
guint ard_state_next_round_num(const ArdState *st, const char *log_dir, gboolean recovered);

/* Replace a file so readers see the old or the new content (temporary
 * file + rename), without the fsyncs of ar_write_file_atomic: for files
 * rewritten every round whose loss in a power cut costs nothing
 * (round-context.json). */
gboolean ard_write_file_replace(const char *path, const char *data, gssize len, GError **error);

/* Parse N out of "R<N>-<stamp>.log"; 0 when the name does not match. */
guint ard_state_round_from_transcript_name(const char *name);

G_END_DECLS
