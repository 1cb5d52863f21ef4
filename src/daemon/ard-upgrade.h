/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Upgrade in place: Upgrade(target, options) smoke-tests a candidate
 * agent-runnerd as a child, then re-executes this process into it with the
 * loop's state in a memfd (--deserialize FD): same PID, so systemd sees a
 * reload. A round that is running when the call comes is finished first:
 * the hand-over happens at its end (the reply says "deferred"). The new
 * image rolls back into the old one (an fd kept since start-up) when it
 * cannot take the state over. */

#include <glib.h>
#include <systemd/sd-bus.h>

#include "ard-loop.h"
#include "ard-serialize.h"

G_BEGIN_DECLS

/* Seconds a candidate gets for --version, and for --self-check. */
#define ARD_UPGRADE_VERSION_TIMEOUT_S 5
#define ARD_UPGRADE_CHECK_TIMEOUT_S   20
/* Seconds the new image gets to say READY=1 after the exec (SIGALRM ends a
 * hung one; the unit's Restart= brings the service back from state.json). */
#define ARD_UPGRADE_READY_TIMEOUT_S 30

/* Called first in main(): the command line (re-used for the exec), this
 * image's version and path, an fd to this image for a later rollback. */
void ard_upgrade_init(int argc, char **argv, const char *version);
/* The version this image reports (--version, the Version property). */
const char *ard_version(void);

/* --self-check --deserialize FD: load the config, run the startup checks,
 * parse the hand-over document. Returns the process exit code. */
int ard_upgrade_self_check(const char *config_path, int fd);
/* --deserialize FD in a real hand-over; rollback_reason is set when an
 * image that failed handed back to us. On failure *out may still hold
 * what was read (enough to roll back). */
gboolean ard_upgrade_take_handover(int fd, const char *rollback_reason, ArdHandover **out,
                                   GError **error);
/* The new image cannot go on: re-execute the previous one (h->exe_fd)
 * with the same state. Returns only when that failed, after recording
 * service_upgrade_rollback_failed where it can. */
void ard_upgrade_rollback(ArdHandover *h, int fd, const char *reason);

/* The Upgrade method, once authorized: replies to m. */
int ard_upgrade_handle(ArdLoop *loop, sd_bus *bus, sd_bus_message *m);
/* A round ended: a deferred hand-over goes ahead now. */
void ard_upgrade_round_ended(ArdLoop *loop);
/* The handed-over round could not be adopted: the previous image takes it back. */
void ard_upgrade_adopt_failed(ArdLoop *loop, const char *reason);
/* In the new image, once READY=1 is sent: the event, the counters. */
void ard_upgrade_adopted(ArdLoop *loop);

G_END_DECLS
