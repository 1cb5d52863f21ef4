/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A remote host's bus over plain SSH, the way `systemctl -H` and
 * `busctl -H` reach it: ssh runs `systemd-stdio-bridge` on the host and
 * its stdin/stdout carry D-Bus; nothing new listens on the network. The
 * client (-H, the fleet) and the monitor (--host) share this. */

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *user; /* NULL: ssh's default (~/.ssh/config, the local name) */
  char *host; /* an address or a ~/.ssh/config alias */
  char *port; /* NULL: ssh's default */
} ArHost;

/* [USER@]HOST[:PORT]; [IPv6]:PORT too. */
gboolean ar_host_parse(const char *spec, ArHost *out, GError **error);
void ar_host_clear(ArHost *h);

/* The ssh argv that runs the bridge to the host's user (or system) bus.
 * The ssh program is $AGENT_RUNNER_SSH when set (like systemd's
 * $SYSTEMD_SSH), else ssh from PATH. ssh_options: extra "-o" values
 * (NULL: none). */
GStrv ar_remote_ssh_argv(const ArHost *h, gboolean system, const char *const *ssh_options);

/* Spawn ssh for spec on a socket pair, as sd-bus's unixexec: transport
 * does; *fd is our end (hand it to sd_bus_set_fd), *pid the ssh process.
 * stderr_fd: where ssh's messages go (-1: ours). */
gboolean ar_remote_spawn(const char *spec, gboolean system, const char *const *ssh_options,
                         int stderr_fd, GPid *pid, int *fd, GError **error);
/* Reap ssh (SIGTERM first when kill_it). */
void ar_remote_reap(GPid pid, gboolean kill_it);
/* The last non-empty line written to fd (a memfd that caught ssh's
 * stderr), the one-line reason of a failed connection; NULL when none. */
char *ar_remote_last_line(int fd);

/* The user config file of the client: $XDG_CONFIG_HOME/agent-runner/client.toml.
 * Returns the [fleet] hosts it lists (empty when the file does not exist),
 * NULL with the error (file:line:col) when it is malformed. The fleet
 * list and the user-mode monitor (--fleet) read it. */
GPtrArray *ar_fleet_config_hosts(char **path_out, GError **error);

G_END_DECLS
