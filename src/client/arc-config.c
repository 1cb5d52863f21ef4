/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "ar-json.h"
#include "ar-prompt.h"
#include "arc-client.h"

static void
print_checks_json(const char *config_path, GPtrArray *checks, gboolean ok, const char *error,
                  const ArConfig *cfg)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "config_path", config_path);
  json_builder_set_member_name(b, "ok");
  json_builder_add_boolean_value(b, ok);
  if (error) {
    ar_json_add_str(b, "error", error);
  }
  json_builder_set_member_name(b, "checks");
  json_builder_begin_array(b);
  for (guint i = 0; checks && i < checks->len; i++) {
    ArCheck *c = g_ptr_array_index(checks, i);
    json_builder_begin_object(b);
    ar_json_add_str(b, "name", c->name);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, c->ok);
    ar_json_add_str(b, "detail", c->detail);
    ar_json_add_str(b, "hint", c->hint);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  if (cfg) {
    /* Keys the file sets that do nothing yet (DESIGN.md §12). */
    g_autoptr(GPtrArray) reasons = NULL;
    g_autoptr(GPtrArray) inert = ar_config_inert_keys(cfg, &reasons);
    json_builder_set_member_name(b, "no_effect");
    json_builder_begin_array(b);
    for (guint i = 0; i < inert->len; i++) {
      json_builder_begin_object(b);
      ar_json_add_str(b, "key", g_ptr_array_index(inert, i));
      ar_json_add_str(b, "reason", g_ptr_array_index(reasons, i));
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
  }
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  arc_print_json(root);
}

static int
config_check(ArcContext *ctx)
{
  g_autofree char *path = arc_config_path(ctx);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg =
      ar_config_load(ctx->config_path ? ctx->config_path : "agent-runner.toml", &error);
  if (cfg == NULL) {
    if (ctx->json) {
      print_checks_json(path, NULL, FALSE, error->message, NULL);
    } else {
      printf("%s✗%s config_loaded\n", arc_color("\033[31m"), arc_color("\033[0m"));
      fprintf(stderr, "%s\n", error->message);
    }
    return AR_EXIT_CONFIG;
  }

  gboolean ok = FALSE;
  g_autoptr(GPtrArray) checks = ar_startup_checks(cfg, NULL, &ok);
  if (ctx->json) {
    print_checks_json(path, checks, ok, NULL, cfg);
    return ok ? AR_EXIT_OK : AR_EXIT_CONFIG;
  }
  guint width = 0;
  for (guint i = 0; i < checks->len; i++)
    width = MAX(width, strlen(((ArCheck *)g_ptr_array_index(checks, i))->name));
  for (guint i = 0; i < checks->len; i++) {
    ArCheck *c = g_ptr_array_index(checks, i);
    printf("%s%s%s %-*s  %s\n", arc_color(c->ok ? "\033[32m" : "\033[31m"), c->ok ? "✓" : "✗",
           arc_color("\033[0m"), (int)width, c->name, c->detail ? c->detail : "");
    if (!c->ok && c->hint)
      printf("  %*s  %s%s%s\n", (int)width, _("how to fix:"), arc_color("\033[1m"), c->hint,
             arc_color("\033[0m"));
  }
  g_autoptr(GPtrArray) reasons = NULL;
  g_autoptr(GPtrArray) inert = ar_config_inert_keys(cfg, &reasons);
  for (guint i = 0; i < inert->len; i++)
    printf(_("%s!%s %s has no effect yet: %s\n"), arc_color("\033[33m"), arc_color("\033[0m"),
           (const char *)g_ptr_array_index(inert, i), (const char *)g_ptr_array_index(reasons, i));
  printf(ok ? _("\nproject %s: all checks passed\n") : _("\nproject %s: some checks failed\n"),
         cfg->project);
  return ok ? AR_EXIT_OK : AR_EXIT_CONFIG;
}

int
arc_verb_config(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc < 2 || !g_str_equal(argv[1], "check") || argc > 2) {
    fprintf(stderr, _("agent-runner config: usage: agent-runner config check [--json]\n"));
    return AR_EXIT_USAGE;
  }
  return config_check(ctx);
}
