/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-events.h"
#include "ar-util.h"
#include "arc-client.h"

/* The global options, for the help of every verb only: main() takes them
 * out of argv before a verb parses its own (arc-main.c). */
static char *global_dummy_str;
static gboolean global_dummy_bool;
static GOptionEntry global_entries[] = {
  { "config", 0, 0, G_OPTION_ARG_FILENAME, &global_dummy_str,
    N_("The config file (default ./agent-runner.toml)"), "F" },
  { "project", 0, 0, G_OPTION_ARG_STRING, &global_dummy_str,
    N_("The project, instead of reading --config"), N_("NAME") },
  { "host", 'H', 0, G_OPTION_ARG_STRING, &global_dummy_str,
    N_("The host, over ssh: [USER@]HOST[:PORT]"), "HOST" },
  { "json", 0, 0, G_OPTION_ARG_NONE, &global_dummy_bool, N_("Machine-readable output"), NULL },
  { "user", 0, 0, G_OPTION_ARG_NONE, &global_dummy_bool, N_("The user's service (default)"), NULL },
  { "system", 0, 0, G_OPTION_ARG_NONE, &global_dummy_bool, N_("The system service"), NULL },
  { NULL },
};

char *
arc_verb_positionals(const ArcVerb *verb)
{
  /* The synopsis without its option groups ("[--now]", "[--max-rounds N]"):
   * what is left are the verb's arguments ("check", "[list|show SHA]"). */
  g_autoptr(GString) out = g_string_new(NULL);
  const char *p = verb->args ? verb->args : "";
  while (*p) {
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    const char *start = p;
    if (*p == '[') {
      int depth = 0;
      do {
        depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
        p++;
      } while (*p && depth > 0);
    } else {
      while (*p && *p != ' ')
        p++;
    }
    gboolean option = start[0] == '-' || (start[0] == '[' && start[1] == '-');
    if (!option)
      g_string_append_printf(out, "%s%.*s", out->len ? " " : "", (int)(p - start), start);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

ArcOptionsHook arc_options_hook;

gboolean
arc_parse_options(ArcContext *ctx, GOptionEntry *entries, int *argc, char ***argv)
{
  const ArcVerb *verb = ctx->verb;
  if (arc_options_hook) {
    arc_options_hook(verb, entries);
    return FALSE;
  }
  g_autofree char *param = arc_verb_positionals(verb);
  /* "agent-runner stop [OPTION…]" once, not the verb twice. */
  g_autofree char *prgname = g_strdup_printf("agent-runner %s", verb->name);
  if (!g_get_prgname() || !g_str_has_prefix(g_get_prgname(), "agent-runner "))
    g_set_prgname(prgname);
  g_autoptr(GOptionContext) octx = g_option_context_new(*param ? param : NULL);
  g_option_context_set_summary(octx, _(verb->summary));
  g_option_context_set_translation_domain(octx, GETTEXT_PACKAGE);
  if (entries)
    g_option_context_add_main_entries(octx, entries, GETTEXT_PACKAGE);
  /* In the main group, so plain --help lists them too. */
  g_option_context_add_main_entries(octx, global_entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(octx, argc, argv, &error)) {
    fprintf(stderr, _("agent-runner %s: %s (see 'agent-runner %s --help')\n"), verb->name,
            error->message, verb->name);
    return FALSE;
  }
  /* A verb without arguments takes none: a stray word is a mistake (a
   * project name where --project was meant, a typo), not something to
   * ignore. */
  if (!*param && *argc > 1) {
    fprintf(stderr, _("agent-runner %s: unexpected argument '%s' (see 'agent-runner %s --help')\n"),
            verb->name, (*argv)[1], verb->name);
    return FALSE;
  }
  return TRUE;
}

char *
arc_config_path(ArcContext *ctx)
{
  if (ctx->config_path)
    return g_canonicalize_filename(ctx->config_path, NULL);
  return ar_config_default_path();
}

ArConfig *
arc_load_config(ArcContext *ctx)
{
  g_autofree char *path = arc_config_path(ctx);
  g_autoptr(GError) error = NULL;
  /* Messages name the file as the user gave it. */
  ArConfig *cfg = ar_config_load(ctx->config_path ? ctx->config_path : "agent-runner.toml", &error);
  if (cfg == NULL)
    fprintf(stderr, "%s\n", error->message);
  return cfg;
}

gboolean
arc_use_color(void)
{
  static int use = -1;
  if (use < 0)
    use = isatty(STDOUT_FILENO) && g_getenv("NO_COLOR") == NULL &&
          g_strcmp0(g_getenv("TERM"), "dumb") != 0;
  return use;
}

const char *
arc_color(const char *sgr)
{
  return arc_use_color() ? sgr : "";
}

void
arc_print_json(JsonNode *node)
{
  g_autofree char *text = ar_json_pretty(node);
  printf("%s\n", text);
}
