/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "arc-client.h"

/* `agent-runner monitor`: agent-runner-monitor in the foreground, the
 * same program as agent-runner-monitor.service. It follows every project
 * on the bus (or --project's); when the service already runs, this one
 * only watches and prints (the service records, stops and notifies). */
int
arc_verb_monitor(ArcContext *ctx, int argc, char **argv)
{
  int interval = 30;
  g_autofree char *mode = NULL;
  gboolean no_notify = FALSE, http = FALSE, fleet = FALSE, open = FALSE;
  g_autofree char *listen = NULL;
  GOptionEntry entries[] = {
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval,
      N_("Host-health sampling period in seconds (default 30)"), "S" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode,
      N_("alerts (default), events (every event as a JSON line) or narrate (readable)"),
      N_("MODE") },
    { "no-notify", 0, 0, G_OPTION_ARG_NONE, &no_notify, N_("No desktop notifications"), NULL },
    { "fleet", 0, 0, G_OPTION_ARG_NONE, &fleet,
      N_("Also watch the hosts of [fleet] hosts in client.toml (as list --fleet)"), NULL },
    { "http", 0, 0, G_OPTION_ARG_NONE, &http,
      N_("Also serve the web page on 127.0.0.1 and print its URL (with the token)"), NULL },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      N_("Address of the web page (default 127.0.0.1:8765; implies --http)"), N_("ADDR:PORT") },
    { "open", 0, 0, G_OPTION_ARG_NONE, &open,
      N_("Open the web page in the browser (xdg-open; implies --http)"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1 || interval < 1) {
    fprintf(stderr, _("agent-runner monitor: bad arguments (see 'agent-runner monitor --help')\n"));
    return AR_EXIT_USAGE;
  }
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  const char *monitor = ar_monitor_path();
  g_ptr_array_add(args, g_strdup(monitor));
  g_ptr_array_add(args, g_strdup(ctx->system ? "--system" : "--user"));
  g_ptr_array_add(args, g_strdup_printf("--interval=%d", interval));
  if (ctx->project)
    g_ptr_array_add(args, g_strdup_printf("--project=%s", ctx->project));
  if (mode)
    g_ptr_array_add(args, g_strdup_printf("--mode=%s", mode));
  if (ctx->json)
    g_ptr_array_add(args, g_strdup("--json"));
  if (no_notify)
    g_ptr_array_add(args, g_strdup("--no-notify"));
  /* -H: the monitor also watches these hosts' buses over ssh; the
   * tolerance of their outages is the local project's
   * remote_failure_tolerance_s when there is one (as the Python tool's
   * monitor --host read it), else the monitor's default. */
  for (guint i = 0; ctx->hosts && i < ctx->hosts->len; i++)
    g_ptr_array_add(args, g_strdup_printf("--host=%s", (char *)g_ptr_array_index(ctx->hosts, i)));
  if (ctx->hosts) {
    g_autofree char *path = arc_config_path(ctx);
    g_autoptr(ArConfig) cfg =
        path && g_file_test(path, G_FILE_TEST_IS_REGULAR) ? ar_config_load(path, NULL) : NULL;
    if (cfg)
      g_ptr_array_add(args,
                      g_strdup_printf("--remote-tolerance=%u", cfg->remote_failure_tolerance_s));
  }
  if (fleet)
    g_ptr_array_add(args, g_strdup("--fleet"));
  if (http && !listen)
    g_ptr_array_add(args, g_strdup("--http"));
  if (listen)
    g_ptr_array_add(args, g_strdup_printf("--listen=%s", listen));
  if (open)
    g_ptr_array_add(args, g_strdup("--open"));
  g_ptr_array_add(args, NULL);
  execv(monitor, (char **)args->pdata);
  fprintf(stderr, _("agent-runner monitor: cannot run %s: %s\n"), monitor, g_strerror(errno));
  return AR_EXIT_FAILURE;
}
