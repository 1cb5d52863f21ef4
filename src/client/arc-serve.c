/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "arc-client.h"

/* `serve` and `round` run the daemon itself in the foreground: the same
 * program the systemd unit runs, so what a user tries by hand is what the
 * service does. */
static int
exec_daemon(const char *verb, GPtrArray *args)
{
  const char *daemon = ar_daemon_path();
  g_ptr_array_insert(args, 0, g_strdup(daemon));
  g_ptr_array_add(args, NULL);
  execv(daemon, (char **)args->pdata);
  fprintf(stderr, _("agent-runner %s: cannot run %s: %s\n"), verb, daemon, g_strerror(errno));
  return AR_EXIT_FAILURE;
}

int
arc_verb_serve(ArcContext *ctx, int argc, char **argv)
{
  int max_rounds = 0;
  gboolean once = FALSE;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "max-rounds", 0, 0, G_OPTION_ARG_INT, &max_rounds,
      N_("Stop after N rounds (overrides [runtime] max_rounds)"), "N" },
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, N_("Run one round, then stop"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      N_("No progress lines on stderr (the events file and journal still get everything)"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1 || max_rounds < 0) {
    fprintf(stderr, _("agent-runner serve: bad arguments (see 'agent-runner serve --help')\n"));
    return AR_EXIT_USAGE;
  }
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(args, g_strdup("--config"));
  g_ptr_array_add(args, arc_config_path(ctx));
  /* An explicit start by a person clears a previous .agent-done; a
   * restart by systemd does not. */
  g_ptr_array_add(args, g_strdup("--clear-done"));
  if (max_rounds > 0)
    g_ptr_array_add(args, g_strdup_printf("--max-rounds=%d", max_rounds));
  if (once)
    g_ptr_array_add(args, g_strdup("--once"));
  /* A person ran this: narrate on stderr even when it is a pipe or a file. */
  g_ptr_array_add(args, g_strdup(quiet ? "--quiet" : "--console"));
  if (ctx->system)
    g_ptr_array_add(args, g_strdup("--system"));
  return exec_daemon("serve", args);
}

int
arc_verb_round(ArcContext *ctx, int argc, char **argv)
{
  g_autofree char *phase = NULL;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "phase", 0, 0, G_OPTION_ARG_STRING, &phase,
      N_("Run this phase (must be in [phases] list); the rotation does not move"), "P" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      N_("No progress lines on stderr (the events file and journal still get everything)"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1) {
    fprintf(stderr, _("agent-runner round: unexpected argument '%s'\n"), argv[1]);
    return AR_EXIT_USAGE;
  }
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(args, g_strdup("--config"));
  g_ptr_array_add(args, arc_config_path(ctx));
  g_ptr_array_add(args, g_strdup("--round"));
  if (phase)
    g_ptr_array_add(args, g_strdup_printf("--phase=%s", phase));
  g_ptr_array_add(args, g_strdup(quiet ? "--quiet" : "--console"));
  return exec_daemon("round", args);
}
