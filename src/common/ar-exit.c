/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-exit.h"

static const ArExitInfo exit_table[] = {
  { AR_EXIT_OK, "ok",
    "deliberate stop (signal, Stop, .agent-done, stop_file, max_rounds, --once) or the job is "
    "finished",
    FALSE },
  { AR_EXIT_FAILURE, "failure", "internal error, or the verb failed", FALSE },
  { AR_EXIT_USAGE, "usage", "bad arguments", FALSE },
  { AR_EXIT_NOT_RUNNING, "not_running", "the project's service is not on the bus", FALSE },
  { AR_EXIT_ACCESS_DENIED, "access_denied", "the service (polkit) refused the call", FALSE },
  { AR_EXIT_LOCKED, "locked",
    "EX_TEMPFAIL: another supervisor holds the project lock (or its bus name)", TRUE },
  { AR_EXIT_CONFIG, "config",
    "EX_CONFIG: the config does not load or a startup check fails (fix it first)", TRUE },
  { AR_EXIT_CRASH_LOOP, "crash_loop", "crash loop: the agent failed fast 5 rounds in a row", TRUE },
  { AR_EXIT_AUTH, "auth", "the agent cannot authenticate (retrying only burns quota)", TRUE },
};

const ArExitInfo *
ar_exit_table(gsize *n_out)
{
  *n_out = G_N_ELEMENTS(exit_table);
  return exit_table;
}

const ArExitInfo *
ar_exit_lookup(int code)
{
  for (gsize i = 0; i < G_N_ELEMENTS(exit_table); i++) {
    if ((int)exit_table[i].code == code)
      return &exit_table[i];
  }
  return NULL;
}
