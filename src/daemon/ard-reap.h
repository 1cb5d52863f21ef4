/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent's process tree. The daemon is a subreaper, so everything the
 * agent starts (double-forked, setsid'ed daemons included) stays in the
 * daemon's subtree; these helpers find, describe, signal and reap it by
 * walking /proc PPid links. They run only at round edges (grace check,
 * timeout, teardown), never on a tick. */

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/* The fields of /proc/PID/stat the daemon reads. */
typedef struct {
  char state; /* R, S, D, Z, ... */
  pid_t ppid;
  pid_t pgrp;
  pid_t session;
  guint64 start_ticks; /* since boot, in clock ticks */
} ArdProcStat;

/* Read proc_fd/name/stat (proc_fd: an open /proc, name: a pid). FALSE
 * when the process is gone or the file does not parse. */
gboolean ard_reap_read_stat(int proc_fd, const char *name, ArdProcStat *st);

/* Live (non-zombie) descendants of root, root itself excluded. */
GArray *ard_reap_descendants(pid_t root);

/* /proc/PID/comm without the newline; "?" when gone. */
char *ard_reap_proc_name(pid_t pid);
/* /proc/PID/cmdline with NULs turned into spaces; NULL when gone/empty. */
char *ard_reap_proc_cmdline(pid_t pid);

/* Send sig to every live descendant of root except skip (0 = none).
 * Returns how many were signalled. */
guint ard_reap_signal_descendants(pid_t root, pid_t skip, int sig);

/* Reap every zombie child of this process except keep (the agent, which its
 * own pidfd source reaps with rusage). Returns how many were reaped. */
guint ard_reap_orphans(pid_t keep);

/* Children that a thread waits for itself (hooks): the orphan reaper leaves
 * them alone. Hold the reaper across spawn + keep, so a child that exits at
 * once is not reaped before it is registered. */
void ard_reap_hold(void);
void ard_reap_release(void);
void ard_reap_keep(pid_t pid);   /* with the reaper held */
void ard_reap_forget(pid_t pid); /* after the thread reaped it */

/* "TERM", "KILL", ... for signal:NAME; "SIG<n>" for unknown numbers. */
const char *ard_reap_signal_name(int sig);

G_END_DECLS
