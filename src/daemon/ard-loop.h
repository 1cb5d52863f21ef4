/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The serve loop: one project, one lock, rounds back to back on one
 * sd-event loop. Stop triggers between rounds, waits as timers, signals
 * (TERM/INT stop, HUP reload, CHLD reaps), the crash-loop breaker, state
 * persistence, retention. The bus layer attaches to the same sd_event and
 * calls the ard_loop_* controls below. */

#include <sys/types.h>

#include <glib.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"
#include "ar-exit.h"
#include "ard-backoff.h"
#include "ard-options.h"
#include "ard-state.h"
#include "ard-status.h"

G_BEGIN_DECLS

typedef struct ArdLoop ArdLoop;

/* The loop's own copies of the two strings of ArdOptions. */
void ard_options_clear(ArdOptions *opts);

/* The start-up (ard_startup_open: config, log_dir, project lock, event
 * loop, emitter, state.json), then the signals. Errors: AR_ERROR_CONFIG
 * (AR_EXIT_CONFIG), AR_ERROR_LOCKED (AR_EXIT_LOCKED), others
 * AR_EXIT_FAILURE. */
ArdLoop *ard_loop_new(const ArdOptions *opts, GError **error);
void ard_loop_free(ArdLoop *loop);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdLoop, ard_loop_free)

/* What runs before the first round (ard_startup_prepare, a handed-over
 * round taken up), READY=1, then the rounds until the loop stops; returns
 * the process exit code. */
int ard_loop_run(ArdLoop *loop);

/* Stop after the current round (now = FALSE), or end the round now (TERM
 * to its group, KILL after 5 s) and stop. A wait in progress ends at once. */
void ard_loop_request_stop(ArdLoop *loop, gboolean now);
/* End the current round, keep serving. FALSE when no round runs. */
gboolean ard_loop_cancel_round(ArdLoop *loop);
/* Re-read the config; it applies from the next round (a wait in progress is
 * re-timed with the new restart_delay_s). On failure the old config stays
 * and config_reload_failed is emitted. */
gboolean ard_loop_reload(ArdLoop *loop, GError **error);

sd_event *ard_loop_get_event(ArdLoop *loop);
ArEmitter *ard_loop_get_emitter(ArdLoop *loop);
ArConfig *ard_loop_get_config(ArdLoop *loop);
const ArdStatus *ard_loop_get_status(ArdLoop *loop);
/* The orphan stash state.json remembers ({round_num, phase, ref, message,
 * files, stashed_at}), NULL when the tree was clean after the last round. */
JsonNode *ard_loop_get_orphan(ArdLoop *loop);
/* The back-off counters and wait (until_us 0 when none is pending). */
const ArdThrottle *ard_loop_get_throttle(ArdLoop *loop);
/* The last round's usage figures or why there are none (present FALSE
 * before the first round of this process). */
const ArdUsage *ard_loop_get_usage(ArdLoop *loop);

/* Called after every change of the status' run state (and so of the
 * round, phase and agent pid that change with it): the bus turns it into
 * PropertiesChanged. One hook; NULL removes it. */
typedef void (*ArdStatusHook)(ArdLoop *loop, gpointer user_data);
void ard_loop_set_status_hook(ArdLoop *loop, ArdStatusHook hook, gpointer user_data);
/* Serve(max_rounds): stop after max_rounds more rounds, counted from this
 * call (0: the config's bound). */
void ard_loop_set_max_rounds(ArdLoop *loop, guint max_rounds);
/* Serve during a back-off: end it now and start the next round, with a
 * backoff_ended_early event naming requested_by. FALSE when not backing
 * off. */
gboolean ard_loop_resume_now(ArdLoop *loop, const char *requested_by);
/* TRUE once a stop was asked for (signal, Stop, trigger). */
gboolean ard_loop_stop_requested(ArdLoop *loop);

/* For the upgrade in place (ard-upgrade.c): what the hand-over carries. */
typedef struct ArdLock ArdLock;
ArdLock *ard_loop_get_lock(ArdLoop *loop);
const ArdOptions *ard_loop_get_options(ArdLoop *loop);
guint ard_loop_get_wait_factor(ArdLoop *loop);
/* A round or the serve_startup hooks are running: not the time to exec. */
gboolean ard_loop_is_busy(ArdLoop *loop);
struct ArdHandover *ard_loop_get_handover(ArdLoop *loop);
void ard_loop_set_rounds_completed(ArdLoop *loop, guint n);
/* Write state.json now (before handing over). */
void ard_loop_save_state(ArdLoop *loop);
/* The running round, NULL between rounds. */
struct ArdRound *ard_loop_get_round(ArdLoop *loop);

G_END_DECLS
