/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The exit codes of every program of the project, as one table: the
 * daemon, the client and the monitor return these, the systemd unit's
 * RestartPreventExitStatus= lists the ones marked prevents_restart (a
 * test holds the unit to the table), and docs read the table. */

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  AR_EXIT_OK = 0,            /* done: a deliberate stop, or the job is finished */
  AR_EXIT_FAILURE = 1,       /* an internal error, or a failed verb */
  AR_EXIT_USAGE = 2,         /* bad arguments */
  AR_EXIT_NOT_RUNNING = 3,   /* the project's service is not on the bus */
  AR_EXIT_ACCESS_DENIED = 4, /* the service (polkit) refused */
  AR_EXIT_LOCKED = 75,       /* EX_TEMPFAIL: another supervisor holds the project */
  AR_EXIT_CONFIG = 78,       /* EX_CONFIG: the config is broken or a startup check fails */
  AR_EXIT_CRASH_LOOP = 79,   /* the agent keeps crashing */
  AR_EXIT_AUTH = 80,         /* the agent cannot authenticate */
} ArExit;

typedef struct {
  ArExit code;
  const char *name;          /* "config", for docs and messages */
  const char *meaning;       /* one line, English (docs) */
  gboolean prevents_restart; /* the unit must not restart into it */
} ArExitInfo;

/* Every code, ascending; *n_out gets the count. */
const ArExitInfo *ar_exit_table(gsize *n_out);
/* The row of code, NULL for a code not in the table. */
const ArExitInfo *ar_exit_lookup(int code);

G_END_DECLS
