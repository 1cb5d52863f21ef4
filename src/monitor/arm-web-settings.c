/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n.h>

#include "ar-monitor-settings.h"
#include "arm-monitor.h"
#include "arm-web.h"

/* monitor.toml's [monitor] http and http_listen, for the monitor that acts
 * for the bus (normally agent-runner-monitor.service, whose ExecStart has
 * no --http). A watching-only monitor beside it leaves the page to the
 * acting one: both would want the same port. --http and --listen on the
 * command line serve the page whatever the file says; --http alone takes
 * the file's address. */
gboolean
arm_web_settings_apply(ArmMonitor *mon, GError **error)
{
  g_autofree char *path = ar_monitor_settings_path(mon->opts.system);
  ArMonitorSettings s;
  if (!ar_monitor_settings_load(path, &s, error))
    return FALSE;
  if (mon->opts.http && !mon->opts.listen && s.http_listen)
    mon->opts.listen = g_strdup(s.http_listen);
  if (!mon->opts.http && s.http) {
    if (mon->acting) {
      mon->opts.http = TRUE;
      mon->opts.listen = g_steal_pointer(&s.http_listen);
    } else if (mon->opts.output != ARM_OUT_NONE) {
      g_printerr(_("agent-runner-monitor: %s asks for the web page: the monitor that acts for "
                   "this bus serves it ('agent-runner web' prints its address)\n"),
                 path);
    }
  }
  ar_monitor_settings_clear(&s);
  return TRUE;
}
