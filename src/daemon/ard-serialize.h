/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The state one agent-runnerd image hands to the next across execve: a
 * small JSON document in a memfd, plus the numbers of the fds kept open
 * for the new image (the project lock, the previous image for a rollback).
 * What state.json already holds (round counter, phase, back-off, crash
 * streak, orphan stash) is saved before the exec and read from there. */

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Bumped when a field changes meaning; a newer image reads older ones. A
 * document with a running round is schema 2 (an image that reads only 1
 * refuses it in the smoke test instead of killing the agent as a
 * leftover); without one it stays 1. */
#define ARD_HANDOVER_SCHEMA 2

typedef struct ArdHandover {
  int schema;
  char *from_version;     /* the image that wrote it */
  char *to_version;       /* the candidate's --version */
  char *config_path;      /* the config the loop runs with */
  gint64 started_mono_us; /* CLOCK_MONOTONIC when the hand-over began */
  int lock_fd;            /* the held project lock (flock) */
  int exe_fd;             /* O_PATH fd of the image that wrote it */
  char *exe_path;         /* its path, argv[0] of a rollback */
  guint rounds_completed; /* in this serve (max_rounds counts them) */
  guint max_rounds;       /* the override of Serve/--max-rounds, 0: config */
  gboolean once;
  char *run_state;         /* ard_run_state_to_string() at the hand-over */
  gint64 next_round_at_us; /* realtime end of a restart delay, 0: none */
  guint wait_factor;       /* its restart_delay_s multiplier */
  JsonNode *round;         /* the running round (ard-round-adopt.h), NULL: none */
  char *rollback_reason;   /* set (not serialized) when an image rolled back */
  int doc_fd;              /* not serialized: the memfd this was read from */
} ArdHandover;

void ard_handover_free(ArdHandover *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdHandover, ard_handover_free)

/* A sealed-size memfd holding h as JSON, CLOEXEC; -1 and error on failure. */
int ard_handover_write(const ArdHandover *h, GError **error);
/* Parse a hand-over memfd (read from offset 0: the fd may have been read
 * before). check_fds: the fds it names must be open (not in a smoke test). */
ArdHandover *ard_handover_read(int fd, gboolean check_fds, GError **error);
/* Clear (keep = TRUE) or set FD_CLOEXEC on fd. */
gboolean ard_handover_keep_fd(int fd, gboolean keep);

G_END_DECLS
