#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arc-client.h"

const ArcVerb arc_verbs[] = {
  { "init", arc_verb_init, "[--preset NAME] [--force] [--no-commit]",
    N_("Scaffold agent-runner.toml and prompts/main.md in this git work tree") },
  { "config", arc_verb_config, "check [--json]",
    N_("Load the config and run the startup checks") },
  { "serve", arc_verb_serve, "[--max-rounds N] [--once]",
    N_("Run the loop in the foreground, round after round") },
  { "round", arc_verb_round, "[--phase P]",
    N_("Run exactly one round in the foreground; exit code is the agent's") },
  { NULL },
};

static void
print_help(FILE *out)
{
  fprintf(out, _("Usage: agent-runner [--config F] [--json] VERB [OPTIONS]\n\n"));
  fprintf(out, _("Keeps an autonomous coding CLI working round after round, unattended.\n\n"));
  fprintf(out, _("Verbs:\n"));
  for (const ArcVerb *v = arc_verbs; v->name; v++)
    fprintf(out, "  %-8s %s\n", v->name, _(v->summary));
  fprintf(out, _("\nGlobal options:\n"
                 "  --config F     the config file (default ./agent-runner.toml)\n"
                 "  --json         machine-readable output\n"
                 "  --user         the user's service (default)\n"
                 "  --system       the system service\n"
                 "  --project NAME the project, instead of reading --config\n"
                 "  --version      print the version\n"
                 "  -h, --help     this help; 'agent-runner VERB --help' for a verb\n"));
}

/* Global options may stand before or after the verb, as in the Python
 * tool; they are taken out of argv so each verb sees only its own. */
static gboolean
take_global(ArcGlobal *g, int *argc, char **argv, gboolean *version, gboolean *help,
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
  if (argv[1][0] == '-') {
    fprintf(stderr, _("agent-runner: unknown option %s (see 'agent-runner --help')\n"), argv[1]);
    return ARC_EXIT_USAGE;
  }
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    if (g_str_equal(v->name, argv[1])) {
      int rc = v->func(&global, argc - 1, argv + 1);
      g_free(global.config_path);
      g_free(global.project);
      return rc;
    }
  }
  fprintf(stderr, _("agent-runner: unknown verb '%s' (see 'agent-runner --help')\n"), argv[1]);
  return ARC_EXIT_USAGE;
}
