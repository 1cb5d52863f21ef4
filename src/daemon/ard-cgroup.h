/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A cgroup per round, where the service's cgroup is delegated to it
 * (a unit with Delegate=yes; DESIGN §3).
 *
 * The round's agent joins `<service cgroup>/round-N` before it execs, so
 * everything it starts, however it detaches (setsid, double fork, a
 * cleared environment), stays in that cgroup; `cgroup.kill` ends them all
 * at once. The path goes into state.json's round record, so a daemon
 * restarted after kill -9 ends what is left exactly. Without delegation
 * (outside systemd, or a unit without Delegate=yes) nothing here is used
 * and the session + token scan of ard-leftovers.h does the job alone. */

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/* The daemon's own cgroup2 directory when it is delegated to this
 * process (systemd's user.delegate / trusted.delegate xattr, or
 * $AGENT_RUNNER_CGROUP_DELEGATED=1 from our unit; and writable), else
 * NULL. $AGENT_RUNNER_CGROUP_DELEGATED=0 turns it off. */
char *ard_cgroup_delegated_dir(void);

/* Create `<parent>/round-<num>` (ending and removing a leftover of the
 * same name first) and return its path; NULL with a warning on failure
 * (the round then runs without its own cgroup). *procs_fd gets a
 * CLOEXEC write fd of its cgroup.procs, for the agent to join itself. */
char *ard_cgroup_round_create(const char *parent, guint round_num, int *procs_fd);

/* The pids in the cgroup now. */
GArray *ard_cgroup_pids(const char *path);

/* End every process in the cgroup (cgroup.kill, else SIGKILL to each
 * pid), wait up to timeout_usec for it to empty, and remove it. Returns
 * how many processes it held. A path that is not a cgroup directory (no
 * cgroup.procs) is left alone. */
guint ard_cgroup_kill_remove(const char *path, guint64 timeout_usec);

G_END_DECLS
