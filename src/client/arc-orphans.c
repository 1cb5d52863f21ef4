/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include <git2.h>
#include <glib/gi18n.h>

#include "ar-json.h"
#include "ar-util.h"
#include "ar-vcs.h"
#include "arc-client.h"

/* `agent-runner orphans`: the work a round left uncommitted, stashed by
 * SHA (never stash@{N}, which shifts when anyone else stashes). */

static void
print_list_json(GPtrArray *orphans)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < orphans->len; i++) {
    ArVcsOrphan *o = g_ptr_array_index(orphans, i);
    json_builder_begin_object(b);
    ar_json_add_str(b, "sha", o->sha);
    ar_json_add_int(b, "round_num", o->round_num);
    json_builder_set_member_name(b, "phase");
    if (o->phase)
      json_builder_add_string_value(b, o->phase);
    else
      json_builder_add_null_value(b);
    ar_json_add_int(b, "created", o->created);
    ar_json_add_str(b, "message", o->message);
    json_builder_set_member_name(b, "files");
    json_builder_begin_array(b);
    for (guint j = 0; j < o->files->len; j++)
      json_builder_add_string_value(b, g_ptr_array_index(o->files, j));
    json_builder_end_array(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  arc_print_json(root);
}

static void
print_list(GPtrArray *orphans)
{
  if (orphans->len == 0) {
    printf(_("no orphan stashes\n"));
    return;
  }
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  printf("%-12s %6s  %-10s %8s  %s\n", _("SHA"), _("ROUND"), _("PHASE"), _("AGE"), _("FILES"));
  for (guint i = 0; i < orphans->len; i++) {
    ArVcsOrphan *o = g_ptr_array_index(orphans, i);
    g_autofree char *age = ar_format_duration(now - o->created);
    g_autoptr(GString) files = g_string_new(NULL);
    for (guint j = 0; j < o->files->len && j < 3; j++)
      g_string_append_printf(files, "%s%s", j ? ", " : "", (char *)g_ptr_array_index(o->files, j));
    if (o->files->len > 3)
      g_string_append_printf(files, _(" (+%u more)"), o->files->len - 3);
    printf("%s%.12s%s %6u  %-10s %8s  %s\n", arc_color("\033[33m"), o->sha, arc_color("\033[0m"),
           o->round_num, o->phase ? o->phase : "-", age, files->str);
  }
  printf(
      _("\nshow one: agent-runner orphans show SHA; restore it: agent-runner orphans pop SHA\n"));
}

int
arc_verb_orphans(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  const char *sub = argc > 1 ? argv[1] : "list";
  gboolean needs_sha = g_str_equal(sub, "show") || g_str_equal(sub, "pop");
  if ((!needs_sha && !g_str_equal(sub, "list")) || (needs_sha && argc != 3) ||
      (!needs_sha && argc > 2)) {
    fprintf(stderr, _("agent-runner orphans: usage: agent-runner orphans [list|show SHA|pop SHA] "
                      "[--json]\n"));
    return AR_EXIT_USAGE;
  }
  g_autoptr(ArConfig) cfg = arc_load_config(ctx);
  if (cfg == NULL)
    return AR_EXIT_CONFIG;

  git_libgit2_init();
  g_autoptr(GError) error = NULL;
  int rc = AR_EXIT_OK;
  if (g_str_equal(sub, "list")) {
    g_autoptr(GPtrArray) orphans = ar_vcs_list_orphans(cfg->work_dir, &error);
    if (orphans == NULL)
      rc = AR_EXIT_FAILURE;
    else if (ctx->json)
      print_list_json(orphans);
    else
      print_list(orphans);
  } else if (g_str_equal(sub, "show")) {
    g_autofree char *diff = ar_vcs_orphan_diff(cfg->work_dir, argv[2], &error);
    if (diff == NULL)
      rc = AR_EXIT_FAILURE;
    else
      fputs(diff, stdout);
  } else {
    if (ar_vcs_orphan_pop(cfg->work_dir, argv[2], &error))
      printf(_("restored %s into %s and dropped the stash\n"), argv[2], cfg->work_dir);
    else
      rc = AR_EXIT_FAILURE;
  }
  git_libgit2_shutdown();
  if (error)
    fprintf(stderr, "agent-runner orphans: %s\n", error->message);
  return rc;
}
