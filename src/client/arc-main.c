/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "arc-client.h"
#include "arc-completion.h"
#include "arc-polkit-agent.h"

/* The thin client runs the verbs that need libgit2 or libsecret by
 * exec'ing agent-runner-vcs, the full client built from this same file
 * (arc-vcs-exec.c). */
#ifdef ARC_THIN_CLIENT
#define IN_HELPER(func) arc_exec_helper
#define RUNS_HERE(v)    (!((v)->flags & ARC_VERB_HELPER))
#else
#define IN_HELPER(func) func
#define RUNS_HERE(v)    TRUE
#endif

#define REMOTE_BUS (ARC_VERB_REMOTE | ARC_VERB_BUS)

const ArcVerb arc_verbs[] = {
  { .name = "init",
    .func = IN_HELPER(arc_verb_init),
    .args = "[--preset NAME] [--force] [--commit|--no-commit]",
    .summary = N_("Scaffold agent-runner.toml and prompts/main.md in this git work tree"),
    .flags = ARC_VERB_HELPER },
  { .name = "config",
    .func = IN_HELPER(arc_verb_config),
    .args = "check [--json]",
    .summary = N_("Load the config and run the startup checks"),
    .flags = ARC_VERB_HELPER },
  { .name = "serve",
    .func = arc_verb_serve,
    .args = "[--max-rounds N] [--once] [--quiet]",
    .summary = N_("Run the loop in the foreground, round after round") },
  { .name = "round",
    .func = arc_verb_round,
    .args = "[--phase P] [--quiet]",
    .summary = N_("Run exactly one round in the foreground; exit code is the agent's") },
  { .name = "status",
    .func = arc_verb_status,
    .args = "[--json]",
    .summary = N_("Show the service's state on one screen"),
    .flags = REMOTE_BUS },
  { .name = "peek",
    .func = arc_verb_peek,
    .args = "[--round N|latest] [--log] [--events N] [--select a.b.c] [--json]",
    .summary = N_("Print the service's state document (schema in docs/peek.md)"),
    .flags = REMOTE_BUS },
  { .name = "list",
    .func = arc_verb_list,
    .args = "[--all] [--fleet] [--timeout S] [--json]",
    .summary = N_("List the projects on the bus (--all: installed ones too; -H: across hosts)"),
    .flags = ARC_VERB_REMOTE },
  { .name = "watch",
    .func = arc_verb_watch,
    .args = "[--interval S] [--round N|latest] [--log] [--events N] [--select a.b.c] [--json]",
    .summary = N_("Redraw the status (or peek's selection) as it changes"),
    .flags = REMOTE_BUS },
  { .name = "start",
    .func = arc_verb_start,
    .args = "[--max-rounds N]",
    .summary = N_("Start the service in the background (or resume a running one)"),
    .flags = REMOTE_BUS | ARC_VERB_AUTH },
  { .name = "stop",
    .func = arc_verb_stop,
    .args = "[--now]",
    .summary = N_("Stop after the current round (--now: end the round too)"),
    .flags = REMOTE_BUS | ARC_VERB_AUTH },
  { .name = "kill",
    .func = arc_verb_kill,
    .args = "",
    .summary = N_("End the current round and stop (= stop --now)"),
    .flags = REMOTE_BUS | ARC_VERB_AUTH },
  { .name = "restart",
    .func = arc_verb_restart,
    .args = "[--now|--force]",
    .summary = N_("Stop, then start again"),
    .flags = ARC_VERB_BUS | ARC_VERB_AUTH },
  { .name = "cancel",
    .func = arc_verb_cancel,
    .args = "",
    .summary = N_("End the current round, keep serving"),
    .flags = REMOTE_BUS | ARC_VERB_AUTH },
  { .name = "reload",
    .func = arc_verb_reload,
    .args = "",
    .summary = N_("Re-read the config; applies from the next round"),
    .flags = REMOTE_BUS | ARC_VERB_AUTH },
  { .name = "upgrade",
    .func = arc_verb_upgrade,
    .args = "[--to PATH] [--check] [--all] [--json]",
    .summary =
        N_("Re-execute the service into the installed (or given) version, keeping its state"),
    .flags = ARC_VERB_BUS | ARC_VERB_AUTH },
  { .name = "events",
    .func = arc_verb_events,
    .args = "[--kind K,..] [-n N] [--follow] [--json]",
    .summary = N_("Print the last events, or follow them"),
    .flags = REMOTE_BUS },
  { .name = "monitor",
    .func = arc_verb_monitor,
    .args = "[--project P] [--interval S] [--mode alerts|events|narrate] [--fleet] [--json]",
    .summary = N_(
        "Watch every project on the bus (and -H/--fleet hosts'): alerts or events as they happen"),
    .flags = ARC_VERB_REMOTE },
  { .name = "web",
    .func = arc_verb_web,
    .args = "[--open]",
    .summary = N_("Print the address of the monitor's web page, or open it in the browser") },
  { .name = "install",
    .func = IN_HELPER(arc_verb_install),
    .args = "[--system] [--monitor] [--no-start] [--dry-run] [--path DIRS]",
    .summary = N_("Run the project as a systemd service (agent-runner@PROJECT.service)"),
    .flags = ARC_VERB_HELPER | ARC_VERB_AUTH },
  { .name = "uninstall",
    .func = IN_HELPER(arc_verb_uninstall),
    .args = "[--system] [--dry-run]",
    .summary = N_("Stop, disable and remove what install wrote"),
    .flags = ARC_VERB_HELPER | ARC_VERB_AUTH },
  { .name = "doctor",
    .func = IN_HELPER(arc_verb_doctor),
    .args = "[--system] [--json]",
    .summary = N_("Check config, agent PATH, systemd, linger, unit, bus and journal, with fixes"),
    .flags = ARC_VERB_HELPER },
  { .name = "orphans",
    .func = IN_HELPER(arc_verb_orphans),
    .args = "[list|show SHA|pop SHA] [--json]",
    .summary = N_("Uncommitted work rounds left behind, stashed by SHA"),
    .flags = ARC_VERB_HELPER },
  { .name = "secret",
    .func = IN_HELPER(arc_verb_secret),
    .args = "set NAME|list|rm NAME|check [--project P] [--system]",
    .summary = N_("Store, list, remove or check the secrets the agent gets (value on stdin)"),
    .flags = ARC_VERB_HELPER },
  { .name = "help",
    .func = arc_verb_help,
    .args = "[VERB]",
    .summary = N_("Show the verbs, or the options of one verb") },
  { NULL },
};

static void
print_help(FILE *out)
{
  fputs(_("Usage: agent-runner [--config F] [--json] VERB [OPTIONS]\n\n"), out);
  fputs(_("Keeps an autonomous coding CLI working round after round, unattended.\n\n"), out);
  fputs(_("Verbs:\n"), out);
  for (const ArcVerb *v = arc_verbs; v->name; v++)
    fprintf(out, "  %-10s %s\n", v->name, _(v->summary));
  fputs(_("\nGlobal options:\n"
          "  --config F     the config file (default ./agent-runner.toml)\n"
          "  --json         machine-readable output\n"
          "  --user         the user's service (default)\n"
          "  --system       the system service\n"
          "  --project NAME the project, instead of reading --config\n"
          "  -H, --host [USER@]HOST[:PORT]\n"
          "                 the project on another host, over ssh (repeat for list)\n"
          "  --version      print the version\n"
          "  -h, --help     this help; 'agent-runner help VERB' for a verb\n"),
        out);
}

/* The closest verb to a mistyped one, or NULL when none is close. */
static const char *
closest_verb(const char *name)
{
  const char *best = NULL;
  guint best_d = 3; /* more edits than this is another word */
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    guint d = ar_edit_distance(name, v->name);
    if (d < best_d) {
      best_d = d;
      best = v->name;
    }
  }
  return best;
}

int
arc_verb_help(ArcContext *ctx, int argc, char **argv)
{
  if (argc > 2) {
    fprintf(stderr, _("agent-runner help: one verb at most (see 'agent-runner help')\n"));
    return AR_EXIT_USAGE;
  }
  if (argc < 2) {
    print_help(stdout);
    return AR_EXIT_OK;
  }
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    if (g_str_equal(v->name, argv[1]) && v->func != arc_verb_help) {
      char *verb_argv[] = { argv[1], (char *)"--help", NULL };
      ctx->verb = v;
      return v->func(ctx, 2, verb_argv);
    }
  }
  fprintf(stderr, _("agent-runner help: unknown verb '%s' (see 'agent-runner help')\n"), argv[1]);
  return AR_EXIT_USAGE;
}

/* `VERB --help` only prints: no password prompt for it. */
static gboolean
wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc && !g_str_equal(argv[i], "--"); i++)
    if (g_str_equal(argv[i], "--help") || g_str_equal(argv[i], "-h") ||
        g_str_equal(argv[i], "-?") || g_str_has_prefix(argv[i], "--help-"))
      return TRUE;
  return FALSE;
}

/* Global options may stand before or after the verb, as in the Python
 * tool; they are taken out of argv so each verb sees only its own. */
static gboolean
take_global(ArcContext *g, int *argc, char **argv, gboolean *version, gboolean *help,
            GError **error)
{
  int out = 1;
  gboolean seen_verb = FALSE;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i];
    const char *value = NULL;
    if (g_str_equal(a, "--")) {
      while (i < *argc)
        argv[out++] = argv[i++];
      break;
    }
    if (g_str_equal(a, "--json")) {
      g->json = TRUE;
    } else if (g_str_equal(a, "--system")) {
      g->system = TRUE;
    } else if (g_str_equal(a, "--user")) {
      g->system = FALSE;
    } else if (g_str_equal(a, "--version")) {
      *version = TRUE;
    } else if (!seen_verb && (g_str_equal(a, "--help") || g_str_equal(a, "-h"))) {
      *help = TRUE;
    } else if (g_str_equal(a, "-H") || g_str_equal(a, "--host") || g_str_has_prefix(a, "--host=") ||
               (g_str_has_prefix(a, "-H") && a[2] != '-')) {
      /* -H/--host may repeat (list across hosts); arc-remote.c parses it. */
      const char *host = g_str_has_prefix(a, "--host=") ? a + 7 : a[1] == 'H' ? a + 2 : "";
      if (!*host && i + 1 >= *argc) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("%s needs a value"), a);
        return FALSE;
      }
      if (!*host)
        host = argv[++i];
      if (!g->hosts)
        g->hosts = g_ptr_array_new_with_free_func(g_free);
      g_ptr_array_add(g->hosts, g_strdup(host));
    } else if (g_str_equal(a, "--config") || g_str_equal(a, "--project")) {
      if (i + 1 >= *argc) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("%s needs a value"), a);
        return FALSE;
      }
      value = argv[++i];
    } else if (g_str_has_prefix(a, "--config=") || g_str_has_prefix(a, "--project=")) {
      value = strchr(a, '=') + 1;
    } else {
      if (a[0] != '-')
        seen_verb = TRUE;
      argv[out++] = argv[i];
      continue;
    }
    if (value) {
      if (g_str_has_prefix(a, "--config")) {
        g_free(g->config_path);
        g->config_path = g_strdup(value);
      } else {
        g_free(g->project);
        g->project = g_strdup(value);
      }
    }
  }
  argv[out] = NULL;
  *argc = out;
  return TRUE;
}

int
main(int argc, char **argv)
{
  ar_i18n_init();

  ArcContext ctx = { 0 };
  gboolean version = FALSE, help = FALSE;
  g_autoptr(GError) error = NULL;
  if (!take_global(&ctx, &argc, argv, &version, &help, &error)) {
    fprintf(stderr, "agent-runner: %s\n", error->message);
    return AR_EXIT_USAGE;
  }
  if (version) {
    printf("agent-runner %s\n", PACKAGE_VERSION);
    return AR_EXIT_OK;
  }
  if (help) {
    print_help(stdout);
    return AR_EXIT_OK;
  }
  if (argc < 2) {
    print_help(stderr);
    return AR_EXIT_USAGE;
  }
  if (g_str_equal(argv[1], "__complete"))
#ifdef ARC_THIN_CLIENT
    return arc_exec_helper(&ctx, argc - 1, argv + 1);
#else
    return arc_completion_main(&ctx, argc - 1, argv + 1);
#endif
  if (argv[1][0] == '-') {
    fprintf(stderr, _("agent-runner: unknown option %s (see 'agent-runner --help')\n"), argv[1]);
    return AR_EXIT_USAGE;
  }
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    if (g_str_equal(v->name, argv[1])) {
      if (ctx.hosts && !(v->flags & ARC_VERB_REMOTE)) {
        fprintf(stderr,
                _("agent-runner %s: does not work with -H/--host (it needs this host's files or "
                  "service manager); run it on the host: ssh HOST agent-runner %s\n"),
                v->name, v->name);
        return AR_EXIT_USAGE;
      }
      ctx.verb = v;
      /* polkit may ask the person at the terminal for a password; the
       * helper starts its own agent for the verbs it runs. */
      if ((v->flags & ARC_VERB_AUTH) && RUNS_HERE(v) && !wants_help(argc - 1, argv + 1))
        arc_polkit_agent_open(&ctx);
      int rc = v->func(&ctx, argc - 1, argv + 1);
      arc_context_clear(&ctx);
      return rc;
    }
  }
  const char *close = closest_verb(argv[1]);
  if (close)
    fprintf(stderr,
            _("agent-runner: unknown verb '%s'; did you mean '%s'? (see 'agent-runner help')\n"),
            argv[1], close);
  else
    fprintf(stderr, _("agent-runner: unknown verb '%s' (see 'agent-runner help')\n"), argv[1]);
  return AR_EXIT_USAGE;
}
