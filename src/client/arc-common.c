#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arc-client.h"
#include "ar-util.h"

gboolean
arc_parse_options(const ArcVerb *verb, GOptionEntry *entries, int *argc, char ***argv)
{
  g_autofree char *param = g_strdup_printf("%s %s", verb->name, verb->args);
  g_autoptr(GOptionContext) ctx = g_option_context_new(param);
  g_option_context_set_summary(ctx, _(verb->summary));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  if (entries)
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    fprintf(stderr, "agent-runner %s: %s\n", verb->name, error->message);
    return FALSE;
  }
  return TRUE;
}

char *
arc_config_path(ArcGlobal *global)
{
  if (global->config_path)
    return g_canonicalize_filename(global->config_path, NULL);
  return ar_config_default_path();
}

ArConfig *
arc_load_config(ArcGlobal *global)
{
  g_autofree char *path = arc_config_path(global);
  g_autoptr(GError) error = NULL;
  /* Messages name the file as the user gave it. */
  ArConfig *cfg =
      ar_config_load(global->config_path ? global->config_path : "agent-runner.toml", &error);
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
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_pretty(gen, TRUE);
  json_generator_set_root(gen, node);
  g_autofree char *text = json_generator_to_data(gen, NULL);
  printf("%s\n", text);
}
