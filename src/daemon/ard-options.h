/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* How the daemon was asked to serve (ard-main.c builds it from the command
 * line and a hand-over): read by the start-up (ard-startup.c) and the loop
 * (ard-loop.c), which keeps it for its lifetime. The upgrade in place
 * follows the loop through the hooks at the end. */

#include <glib.h>

G_BEGIN_DECLS

typedef struct ArdLoop ArdLoop;

typedef struct {
  char *config_path; /* NULL: ./agent-runner.toml */
  guint max_rounds;  /* 0: [runtime] max_rounds */
  gboolean once;
  gboolean round_mode; /* --round: one round, exit code = the agent's */
  char *phase;         /* --phase with --round */
  gboolean journal;
  gboolean clear_done;          /* explicit start: forget .agent-done and a lasting stop */
  int console;                  /* ArdConsoleMode: stderr narration (ard-console.h) */
  struct ArdHandover *handover; /* --deserialize: state from the previous image (borrowed) */
  const char *version;          /* this image's, for serve_started (borrowed; NULL: the build's) */
  /* The upgrade in place (ard-upgrade.c) follows the loop through these:
   * after READY=1 (a hand-over is taken up), and once a round ended and
   * the wait before the next began (a deferred upgrade may go ahead). */
  void (*on_ready)(ArdLoop *loop);
  void (*on_round_ended)(ArdLoop *loop);
  /* A handed-over round could not be taken: give it back (before READY=1). */
  void (*on_adopt_failed)(ArdLoop *loop, const char *reason);
} ArdOptions;

G_END_DECLS
