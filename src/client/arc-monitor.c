#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

#include "ar-util.h"
#include "arc-client.h"

/* `agent-runner monitor`: agent-runner-monitor in the foreground, the
 * same program as agent-runner-monitor.service. It follows every project
 * on the bus (or --project's); when the service already runs, this one
 * only watches and prints (the service records, stops and notifies). */
int
arc_verb_monitor(ArcGlobal *global, int argc, char **argv)
{
  int interval = 30;
  g_autofree char *mode = NULL;
  gboolean no_notify = FALSE, http = FALSE, open = FALSE;
  g_autofree char *listen = NULL;
  GOptionEntry entries[] = {
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval,
      N_("Host-health sampling period in seconds (default 30)"), "S" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode,
      N_("alerts (default), events (every event as a JSON line) or narrate (readable)"),
      N_("MODE") },
    { "no-notify", 0, 0, G_OPTION_ARG_NONE, &no_notify, N_("No desktop notifications"), NULL },
    { "http", 0, 0, G_OPTION_ARG_NONE, &http,
      N_("Also serve the web page on 127.0.0.1 and print its URL (with the token)"), NULL },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      N_("Address of the web page (default 127.0.0.1:8765; implies --http)"), N_("ADDR:PORT") },
    { "open", 0, 0, G_OPTION_ARG_NONE, &open,
      N_("Open the web page in the browser (xdg-open; implies --http)"), NULL },
    { NULL },
  };
  if (!arc_parse_options(arc_verb_lookup("monitor"), entries, &argc, &argv))
    return ARC_EXIT_USAGE;
  if (argc > 1 || interval < 1) {
    fprintf(stderr, _("agent-runner monitor: bad arguments (see 'agent-runner monitor --help')\n"));
    return ARC_EXIT_USAGE;
  }
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  const char *monitor = ar_monitor_path();
  g_ptr_array_add(args, g_strdup(monitor));
  g_ptr_array_add(args, g_strdup(global->system ? "--system" : "--user"));
  g_ptr_array_add(args, g_strdup_printf("--interval=%d", interval));
  if (global->project)
    g_ptr_array_add(args, g_strdup_printf("--project=%s", global->project));
  if (mode)
    g_ptr_array_add(args, g_strdup_printf("--mode=%s", mode));
  if (global->json)
    g_ptr_array_add(args, g_strdup("--json"));
  if (no_notify)
    g_ptr_array_add(args, g_strdup("--no-notify"));
  if (http && !listen)
    g_ptr_array_add(args, g_strdup("--http"));
  if (listen)
    g_ptr_array_add(args, g_strdup_printf("--listen=%s", listen));
  if (open)
    g_ptr_array_add(args, g_strdup("--open"));
  g_ptr_array_add(args, NULL);
  execv(monitor, (char **)args->pdata);
  fprintf(stderr, _("agent-runner monitor: cannot run %s: %s\n"), monitor, g_strerror(errno));
  return ARC_EXIT_FAILURE;
}
