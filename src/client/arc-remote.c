/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arc-remote.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-util.h"

/* What sd-bus's unixexec: transport does (a socket pair, the program on
 * its stdin/stdout), done here so ssh's stderr can be caught for a
 * one-line reason when a fleet host fails. */
int
arc_remote_bus_open(const char *spec, gboolean system, int stderr_fd, guint64 timeout_usec,
                    GPid *pid, sd_bus **ret, GError **error)
{
  int fd = -1;
  if (!ar_remote_spawn(spec, system, NULL, stderr_fd, pid, &fd, error))
    return -ENOENT;
  g_autoptr(sd_bus) bus = NULL;
  int r = sd_bus_new(&bus);
  if (r >= 0)
    r = sd_bus_set_fd(bus, fd, fd);
  else
    close(fd);
  if (r >= 0)
    r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0 && timeout_usec)
    r = sd_bus_set_method_call_timeout(bus, timeout_usec);
  if (r >= 0)
    r = sd_bus_start(bus);
  if (r < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, "%s", g_strerror(-r));
    ar_remote_reap(*pid, TRUE);
    *pid = 0;
    return r;
  }
  *ret = g_steal_pointer(&bus);
  return 0;
}
