/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The start-up: what runs once per process, from the options to the first
 * round. ard_startup_open() builds what the loop stands on (the config,
 * log_dir, the project lock, the process set-up, the event loop, the
 * emitter, state.json); ard_startup_prepare() is the sequence before the
 * first step (serve_started, an explicit start, a killed predecessor's
 * leftovers, permissions, retention, a lasting crash-loop stop, the
 * start-up battery); ard_startup_adopt_round() takes up a round handed
 * over by an upgrade in place; ard_startup_hooks_*() run [hooks]
 * serve_startup. None of them calls the loop back: each returns what it
 * found, and the loop (ard-loop.c) acts on it. */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"
#include "ard-hooks.h"
#include "ard-lock.h"
#include "ard-options.h"
#include "ard-round.h"
#include "ard-state.h"

G_BEGIN_DECLS

/* What the loop stands on. ard_startup_open() fills it; the caller takes
 * every member over (and releases them when it ends, libgit2's reference
 * with git_libgit2_shutdown()). */
typedef struct {
  ArConfig *cfg;
  ArdLock *lock;
  sd_event *event; /* signals TERM/INT/HUP/CHLD blocked for it; watchdog set */
  ArEmitter *emitter;
  ArdState *state;
  gboolean state_recovered; /* state.json could not be parsed: started afresh */
  gboolean libgit2_ref;     /* a git_libgit2_init() reference is held */
} ArdStartup;

/* Load the config (opts->config_path, else ./agent-runner.toml) and check
 * opts->phase against it, create log_dir, take the project lock (or the
 * handed-over one), make this process the subreaper of the agent's
 * descendants, block the signals the loop takes through signalfd, create
 * the event loop, the emitter and read state.json. Errors:
 * AR_ERROR_CONFIG (AR_EXIT_CONFIG), AR_ERROR_LOCKED (AR_EXIT_LOCKED),
 * others AR_EXIT_FAILURE; nothing is held then. */
gboolean ard_startup_open(ArdStartup *s, const ArdOptions *opts, GError **error);

typedef enum {
  ARD_STARTUP_GO,         /* the first step may run; the battery just passed */
  ARD_STARTUP_CRASH_LOOP, /* an earlier run's crash-loop stop holds (stderr says how to resume) */
  ARD_STARTUP_CONFIG_BROKEN, /* the battery failed (its events are out) */
  ARD_STARTUP_DISK_FULL,     /* the battery failed for want of space in log_dir */
} ArdStartupVerdict;

/* Before the first step, once: serve_started (not for --round or a
 * hand-over), status_recovered, an explicit start (.start-requested or
 * opts->clear_done: the lasting stop and the crash streak are forgotten,
 * and opts->clear_done is set), the leftovers of a killed predecessor
 * (not a handed-over round), log_dir's modes, retention, a lasting
 * crash-loop stop, the start-up battery; a stale lasting-stop note is
 * cleared when it passed. state is saved as it changes. */
ArdStartupVerdict ard_startup_prepare(ArdOptions *opts, guint max_rounds, ArConfig *cfg,
                                      ArEmitter *emitter, ArdState *state,
                                      gboolean state_recovered);

/* Upgraded in place mid-round: the previous image's round (the hand-over's
 * round object) goes on here, its agent untouched (ard-round-adopt.h).
 * base: the loop's objects; the round number and phase come from the
 * hand-over, and the emitter's context is set to them. NULL and error when
 * it cannot be taken up (the previous image then takes it back). */
ArdRound *ard_startup_adopt_round(JsonNode *round, const ArdRoundParams *base,
                                  ArdRoundDoneFunc done, gpointer user_data, GError **error);

/* [hooks] serve_startup, once per serve before the first round: started
 * (done runs when they are over); NULL without error when none is
 * configured; NULL with error when they could not be started. */
ArdHookBatch *ard_startup_hooks_start(sd_event *event, ArConfig *cfg, const char *const *base_env,
                                      ArdHookBatchDone done, gpointer user_data, GError **error);
/* Their events; NULL when every hook passed, else the first failure (told
 * on stderr with how to fix it): the service stops with it. */
char *ard_startup_hooks_finish(ArdHookBatch *batch, ArEmitter *emitter, const ArConfig *cfg);

G_END_DECLS
