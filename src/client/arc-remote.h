/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* -H/--host: a remote host's bus over plain SSH, the way `systemctl -H`
 * and `busctl -H` reach it. ssh runs `systemd-stdio-bridge` on the host
 * and its stdin/stdout carry D-Bus; nothing new listens on the network. */

#include <glib.h>
#include <systemd/sd-bus.h>

#include "ar-remote.h"

G_BEGIN_DECLS

/* Connect to the host's bus. stderr_fd: where ssh's messages go (-1: ours,
 * so a host key or password prompt reaches the terminal). *pid is the ssh
 * process (kill it and reap it with ar_remote_reap). timeout_usec bounds
 * each call on the bus (0: sd-bus's default). Negative errno on failure. */
int arc_remote_bus_open(const char *spec, gboolean system, int stderr_fd, guint64 timeout_usec,
                        GPid *pid, sd_bus **ret, GError **error);

G_END_DECLS
