/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-cleanup.h"
#include "ar-config.h"
#include "ar-json.h"
#include "ar-util.h"
#include "ar-vcs.h"
#include "arc-client.h"

/* The starting prompt. It passes the smoke check (>= 500 bytes) so that
 * `init` followed by `config check` is green, and it tells the agent about
 * the two files agent-runner reads back. */
static const char main_prompt[] =
    "# Standing instructions\n"
    "\n"
    "You are working on this repository unattended. agent-runner starts you again\n"
    "after every exit, with this same prompt, so each run is one round of a longer job.\n"
    "\n"
    "## Each round\n"
    "1. Read the round context above this prompt (round number, phase, how the\n"
    "   previous round ended, any orphan stash of uncommitted work).\n"
    "2. Pick the most valuable next step toward the goal below; keep it small\n"
    "   enough to finish in this round.\n"
    "3. Do it, run the tests, and commit with a message that says why.\n"
    "4. Leave notes for your next round in the repository, not in your head.\n"
    "\n"
    "## When the job is done\n"
    "Write a one-line reason into \"$AGENT_RUNNER_LOG_DIR/.agent-done\"; agent-runner\n"
    "then stops instead of starting another round.\n"
    "\n"
    "## Goal\n"
    "Describe here what this project should achieve, what done looks like, and\n"
    "what must never happen (for example: never push, never delete data).\n";

static GStrv
preset_names(void)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_autoptr(GDir) dir = g_dir_open(ar_presets_dir(), 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name(dir)))
    if (g_str_has_suffix(name, ".toml")) {
      g_autofree char *n = g_strndup(name, strlen(name) - 5);
      g_strv_builder_add(b, n);
    }
  GStrv names = g_strv_builder_end(b);
  qsort(names, g_strv_length(names), sizeof(char *), (GCompareFunc)g_strcmp0);
  return names;
}

static gboolean
write_new_file(const char *path, const char *data, GError **error)
{
  g_autofree char *dir = g_path_get_dirname(path);
  if (g_mkdir_with_parents(dir, 0755) < 0)
    return ar_set_error_errno(error, errno, "mkdir %s", dir);
  return ar_write_file_atomic(path, data, -1, error);
}

/* Ignore the log dir when it lives inside the tree, so the agent's
 * transcripts never end up in a commit or a stash. */
static gboolean
ensure_ignored(const char *work_dir, const char *log_dir, gboolean *changed, GError **error)
{
  *changed = FALSE;
  g_autofree char *prefix = g_strconcat(work_dir, "/", NULL);
  if (!g_str_has_prefix(log_dir, prefix))
    return TRUE;
  g_autofree char *entry = g_strdup_printf("/%s/", log_dir + strlen(prefix));
  g_autofree char *path = g_build_filename(work_dir, ".gitignore", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    text = g_strdup("");
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autofree char *bare = g_strndup(entry + 1, strlen(entry) - 2);
  for (guint i = 0; lines[i]; i++) {
    const char *l = g_strstrip(lines[i]);
    if (g_str_equal(l, entry) || g_str_equal(l, entry + 1) || g_str_equal(l, bare))
      return TRUE;
  }
  g_autofree char *updated =
      g_strdup_printf("%s%s%s\n", text, *text && !g_str_has_suffix(text, "\n") ? "\n" : "", entry);
  *changed = TRUE;
  return ar_write_file_atomic(path, updated, -1, error);
}

int
arc_verb_init(ArcContext *ctx, int argc, char **argv)
{
  g_autofree char *preset = NULL;
  gboolean force = FALSE, no_commit = FALSE, want_commit = FALSE;
  GOptionEntry entries[] = {
    { "preset", 0, 0, G_OPTION_ARG_STRING, &preset,
      N_("Preset: claude, codex, gemini, aider, kimi, pi, custom (default claude)"), "NAME" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, N_("Overwrite existing files"), NULL },
    { "commit", 0, 0, G_OPTION_ARG_NONE, &want_commit,
      N_("Commit the new files (the default; as in the Python tool)"), NULL },
    { "no-commit", 0, 0, G_OPTION_ARG_NONE, &no_commit, N_("Do not commit the new files"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1) {
    fprintf(stderr, _("agent-runner init: unexpected argument '%s'\n"), argv[1]);
    return AR_EXIT_USAGE;
  }
  if (want_commit && no_commit) {
    fprintf(stderr, _("agent-runner init: --commit and --no-commit exclude each other\n"));
    return AR_EXIT_USAGE;
  }
  if (preset == NULL)
    preset = g_strdup("claude");

  g_auto(GStrv) names = preset_names();
  if (!g_strv_contains((const char *const *)names, preset)) {
    g_autofree char *list = g_strjoinv(", ", names);
    fprintf(stderr, _("agent-runner init: unknown preset '%s' (available: %s)\n"), preset, list);
    return AR_EXIT_USAGE;
  }

  g_autofree char *config_path = arc_config_path(ctx);
  g_autofree char *work_dir = g_path_get_dirname(config_path);

  git_libgit2_init();
  g_autoptr(git_repository) repo = NULL;
  if (git_repository_open_ext(&repo, work_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 &&
      git_repository_open_ext(&repo, work_dir, 0, NULL) < 0) {
    fprintf(stderr,
            _("agent-runner init: %s is not a git work tree.\n"
              "  how to fix: run 'git init' there (agent-runner keeps the agent's work in git), "
              "then run init again\n"),
            work_dir);
    git_libgit2_shutdown();
    return AR_EXIT_FAILURE;
  }
  if (git_repository_is_bare(repo)) {
    fprintf(stderr, _("agent-runner init: %s is a bare repository; use a work tree\n"), work_dir);
    return AR_EXIT_FAILURE;
  }
  g_autofree char *top = g_canonicalize_filename(git_repository_workdir(repo), NULL);

  if (g_file_test(config_path, G_FILE_TEST_EXISTS) && !force) {
    fprintf(stderr, _("agent-runner init: %s already exists (use --force to overwrite)\n"),
            config_path);
    return AR_EXIT_FAILURE;
  }

  g_autofree char *preset_file = g_strdup_printf("%s/%s.toml", ar_presets_dir(), preset);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(preset_file, &text, NULL, &error)) {
    fprintf(stderr, "agent-runner init: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  g_autofree char *project = g_path_get_basename(work_dir);
  g_auto(GStrv) parts = g_strsplit(text, "{project}", -1);
  g_autofree char *body = g_strjoinv(project, parts);
  g_autofree char *config_text =
      g_strdup_printf("# agent-runner.toml for %s, from the '%s' preset.\n"
                      "# Reference: docs/configuration.md or man 5 agent-runner.toml\n%s",
                      project, preset, body);

  g_autoptr(GPtrArray) written = g_ptr_array_new_with_free_func(g_free);
  if (!write_new_file(config_path, config_text, &error)) {
    fprintf(stderr, "agent-runner init: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  g_ptr_array_add(written, g_strdup(config_path));

  g_autofree char *prompt_path = g_build_filename(work_dir, "prompts", "main.md", NULL);
  if (!g_file_test(prompt_path, G_FILE_TEST_EXISTS) || force) {
    if (!write_new_file(prompt_path, main_prompt, &error)) {
      fprintf(stderr, "agent-runner init: %s\n", error->message);
      return AR_EXIT_FAILURE;
    }
    g_ptr_array_add(written, g_strdup(prompt_path));
  }

  if (!ar_project_name_valid(project))
    fprintf(stderr,
            _("agent-runner init: warning: the project name \"%s\" (the directory's name) must "
              "match [A-Za-z0-9._-]+ before the config loads; rename the directory\n"),
            project);

  /* The log dir as the loader will resolve it. */
  g_autoptr(ArConfig) cfg = ar_config_load(config_path, NULL);
  if (cfg && cfg->log_dir) {
    gboolean changed = FALSE;
    if (!ensure_ignored(top, cfg->log_dir, &changed, &error)) {
      fprintf(stderr, "agent-runner init: %s\n", error->message);
      return AR_EXIT_FAILURE;
    }
    if (changed)
      g_ptr_array_add(written, g_build_filename(top, ".gitignore", NULL));
  }

  gboolean committed = FALSE;
  g_autofree char *commit_problem = NULL;
  if (!no_commit) {
    g_autoptr(GPtrArray) rel = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *prefix = g_strconcat(top, "/", NULL);
    for (guint i = 0; i < written->len; i++) {
      const char *p = g_ptr_array_index(written, i);
      g_ptr_array_add(rel, g_strdup(g_str_has_prefix(p, prefix) ? p + strlen(prefix) : p));
    }
    g_ptr_array_add(rel, NULL);
    g_auto(ArVcsCommitResult) commit = { 0 };
    committed = ar_vcs_commit_paths(top, (const char *const *)rel->pdata,
                                    "chore: agent-runner initial config\n", &commit, &error);
    if (!committed)
      commit_problem = g_strdup(error->message);
  }
  g_clear_pointer(&repo, git_repository_free);
  git_libgit2_shutdown();

  if (ctx->json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    ar_json_add_str(b, "work_dir", work_dir);
    json_builder_set_member_name(b, "files_created");
    json_builder_begin_array(b);
    for (guint i = 0; i < written->len; i++)
      json_builder_add_string_value(b, g_ptr_array_index(written, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "committed");
    json_builder_add_boolean_value(b, committed);
    ar_json_add_str(b, "preset", preset);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    arc_print_json(root);
  } else {
    for (guint i = 0; i < written->len; i++)
      printf(_("created  %s\n"), (char *)g_ptr_array_index(written, i));
    if (committed)
      printf(_("committed the files above (only those)\n"));
    else if (commit_problem)
      printf(_("not committed: %s\n"), commit_problem);
    printf(_("\nNext: edit %s and prompts/main.md, then\n"
             "  agent-runner config check\n"
             "  agent-runner serve            (foreground), or\n"
             "  agent-runner install          (systemd user service)\n"),
           config_path);
  }
  return AR_EXIT_OK;
}
