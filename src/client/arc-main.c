#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ar-util.h"
#include "arc-client.h"
#include "arc-completion.h"

const ArcVerb arc_verbs[] = {
  { "init", arc_verb_init, "[--preset NAME] [--force] [--commit|--no-commit]",
    N_("Scaffold agent-runner.toml and prompts/main.md in this git work tree") },
  { "config", arc_verb_config, "check [--json]", N_("Load the config and run the startup checks") },
  { "serve", arc_verb_serve, "[--max-rounds N] [--once] [--quiet]",
    N_("Run the loop in the foreground, round after round") },
  { "round", arc_verb_round, "[--phase P] [--quiet]",
    N_("Run exactly one round in the foreground; exit code is the agent's") },
  { "status", arc_verb_status, "[--json]", N_("Show the service's state on one screen"), TRUE },
  { "peek", arc_verb_peek, "[--round N|latest] [--log] [--events N] [--select a.b.c] [--json]",
    N_("Print the service's state document (schema in docs/peek.md)"), TRUE },
  { "list", arc_verb_list, "[--all] [--fleet] [--timeout S] [--json]",
    N_("List the projects on the bus (--all: installed ones too; -H: across hosts)"), TRUE },
  { "watch", arc_verb_watch,
    "[--interval S] [--round N|latest] [--log] [--events N] [--select a.b.c] [--json]",
    N_("Redraw the status (or peek's selection) as it changes"), TRUE },
  { "start", arc_verb_start, "[--max-rounds N]",
    N_("Start the service in the background (or resume a running one)"), TRUE },
  { "stop", arc_verb_stop, "[--now]", N_("Stop after the current round (--now: end the round too)"),
    TRUE },
  { "kill", arc_verb_kill, "", N_("End the current round and stop (= stop --now)"), TRUE },
  { "restart", arc_verb_restart, "[--now|--force]", N_("Stop, then start again") },
  { "cancel", arc_verb_cancel, "", N_("End the current round, keep serving"), TRUE },
  { "reload", arc_verb_reload, "", N_("Re-read the config; applies from the next round"), TRUE },
  { "events", arc_verb_events, "[--kind K,..] [-n N] [--follow] [--json]",
    N_("Print the last events, or follow them"), TRUE },
  { "monitor", arc_verb_monitor,
    "[--project P] [--interval S] [--mode alerts|events|narrate] [--json]",
    N_("Watch every project on the bus: alerts (or events) as they happen") },
  { "web", arc_verb_web, "[--open]",
    N_("Print the address of the monitor's web page, or open it in the browser") },
  { "install", arc_verb_install, "[--system] [--monitor] [--no-start] [--dry-run] [--path DIRS]",
    N_("Run the project as a systemd service (agent-runner@PROJECT.service)") },
  { "uninstall", arc_verb_uninstall, "[--system] [--dry-run]",
    N_("Stop, disable and remove what install wrote") },
  { "doctor", arc_verb_doctor, "[--system] [--json]",
    N_("Check config, agent PATH, systemd, linger, unit, bus and journal, with fixes") },
  { "orphans", arc_verb_orphans, "[list|show SHA|pop SHA] [--json]",
    N_("Uncommitted work rounds left behind, stashed by SHA") },
  { "secret", arc_verb_secret, "set NAME|list|rm NAME|check [--project P] [--system]",
    N_("Store, list, remove or check the secrets the agent gets (value on stdin)") },
  { "help", arc_verb_help, "[VERB]", N_("Show the verbs, or the options of one verb") },
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
arc_verb_help(ArcGlobal *global, int argc, char **argv)
{
  if (argc > 2) {
    fprintf(stderr, _("agent-runner help: one verb at most (see 'agent-runner help')\n"));
    return ARC_EXIT_USAGE;
  }
  if (argc < 2) {
    print_help(stdout);
    return ARC_EXIT_OK;
  }
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    if (g_str_equal(v->name, argv[1]) && v->func != arc_verb_help) {
      char *verb_argv[] = { argv[1], (char *)"--help", NULL };
      return v->func(global, 2, verb_argv);
    }
  }
  fprintf(stderr, _("agent-runner help: unknown verb '%s' (see 'agent-runner help')\n"), argv[1]);
  return ARC_EXIT_USAGE;
}

/* Global options may stand before or after the verb, as in the Python
 * tool; they are taken out of argv so each verb sees only its own. */
static gboolean
take_global(ArcGlobal *g, int *argc, char **argv, gboolean *version, gboolean *help, GError **error)
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
  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  ArcGlobal global = { 0 };
  gboolean version = FALSE, help = FALSE;
  g_autoptr(GError) error = NULL;
  if (!take_global(&global, &argc, argv, &version, &help, &error)) {
    fprintf(stderr, "agent-runner: %s\n", error->message);
    return ARC_EXIT_USAGE;
  }
  if (version) {
    printf("agent-runner %s\n", PACKAGE_VERSION);
    return ARC_EXIT_OK;
  }
  if (help) {
    print_help(stdout);
    return ARC_EXIT_OK;
  }
  if (argc < 2) {
    print_help(stderr);
    return ARC_EXIT_USAGE;
  }
  if (g_str_equal(argv[1], "__complete"))
    return arc_completion_main(&global, argc - 1, argv + 1);
  if (argv[1][0] == '-') {
    fprintf(stderr, _("agent-runner: unknown option %s (see 'agent-runner --help')\n"), argv[1]);
    return ARC_EXIT_USAGE;
  }
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    if (g_str_equal(v->name, argv[1])) {
      if (global.hosts && !v->remote) {
        fprintf(stderr,
                _("agent-runner %s: does not work with -H/--host (it needs this host's files or "
                  "service manager); run it on the host: ssh HOST agent-runner %s\n"),
                v->name, v->name);
        return ARC_EXIT_USAGE;
      }
      int rc = v->func(&global, argc - 1, argv + 1);
      g_clear_pointer(&global.hosts, g_ptr_array_unref);
      g_free(global.config_path);
      g_free(global.project);
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
  return ARC_EXIT_USAGE;
}
