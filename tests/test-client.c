/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "ar-test-util.h"

/* The client as a user runs it: the built `agent-runner` binary against
 * real temporary git repositories, with stub agent CLIs on PATH. */

typedef struct {
  char *root; /* temp dir: home/, bin/, repo/ */
  char *home;
  char *bin;
  char *repo;
} Fixture;

static char *
client_path(void)
{
  return g_build_filename(g_getenv("AR_BUILD_ROOT"), "src", "client", "agent-runner", NULL);
}

static int
run(Fixture *f, const char *cwd, char **out, char **err, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(argv, client_path());
  va_list ap;
  va_start(ap, err);
  const char *a;
  while ((a = va_arg(ap, const char *)))
    g_ptr_array_add(argv, g_strdup(a));
  va_end(ap);
  g_ptr_array_add(argv, NULL);

  g_auto(GStrv) env = g_get_environ();
  env = g_environ_setenv(env, "HOME", f->home, TRUE);
  g_autofree char *path = g_strdup_printf("%s:/usr/bin:/bin", f->bin);
  env = g_environ_setenv(env, "PATH", path, TRUE);
  env = g_environ_setenv(env, "GIT_CONFIG_NOSYSTEM", "1", TRUE);
  env = g_environ_setenv(env, "LC_ALL", "C.UTF-8", TRUE);

  int status = 0;
  g_autoptr(GError) error = NULL;
  g_autofree char *o = NULL, *e = NULL;
  g_assert_true(g_spawn_sync(cwd, (char **)argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &o, &e,
                             &status, &error));
  g_assert_no_error(error);
  if (g_test_verbose())
    g_printerr("$ %s\n%s%s", (char *)argv->pdata[1], o, e);
  /* Callers reuse their out/err variables across runs. */
  if (out) {
    g_free(*out);
    *out = g_steal_pointer(&o);
  }
  if (err) {
    g_free(*err);
    *err = g_steal_pointer(&e);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *
git(Fixture *f, const char *args)
{
  g_autofree char *cmd =
      g_strdup_printf("env HOME=%s GIT_CONFIG_NOSYSTEM=1 git -C %s %s", f->home, f->repo, args);
  g_autofree char *out = NULL;
  int status = 0;
  g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status, NULL));
  g_assert_true(g_spawn_check_wait_status(status, NULL));
  return g_strstrip(g_steal_pointer(&out));
}

static void
write_stub(Fixture *f, const char *name)
{
  g_autofree char *p = g_build_filename(f->bin, name, NULL);
  g_assert_true(g_file_set_contents(p, "#!/bin/sh\nexit 0\n", -1, NULL));
  g_chmod(p, 0755);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->root = g_dir_make_tmp("ar-client-XXXXXX", NULL);
  f->home = g_build_filename(f->root, "home", NULL);
  f->bin = g_build_filename(f->root, "bin", NULL);
  f->repo = g_build_filename(f->root, "myproj", NULL);
  g_mkdir(f->home, 0755);
  g_mkdir(f->bin, 0755);
  g_mkdir(f->repo, 0755);
  g_autofree char *gitconfig = g_build_filename(f->home, ".gitconfig", NULL);
  g_file_set_contents(gitconfig, "[user]\n\tname = Test\n\temail = test@example.com\n", -1, NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  ar_test_rm_rf(f->root);
  g_free(f->root);
  g_free(f->home);
  g_free(f->bin);
  g_free(f->repo);
}

static void
git_init_with_commit(Fixture *f)
{
  g_free(git(f, "init -q -b main"));
  g_autofree char *readme = g_build_filename(f->repo, "README", NULL);
  g_file_set_contents(readme, "hello\n", -1, NULL);
  g_free(git(f, "add README"));
  g_free(git(f, "commit -q -m initial"));
}

static void
test_version_help_usage(Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run(f, f->root, &out, NULL, "--version", NULL), ==, 0);
  g_assert_true(g_str_has_prefix(out, "agent-runner " PACKAGE_VERSION));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run(f, f->root, &out, NULL, "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "init"));
  g_assert_nonnull(strstr(out, "config"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run(f, f->root, &out, NULL, "init", "--help", NULL), ==, 0);
  g_assert_nonnull(strstr(out, "--preset"));
  g_assert_cmpint(run(f, f->root, NULL, &err, "frobnicate", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "unknown verb 'frobnicate'"));
  /* One line, not a help dump. */
  g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run(f, f->root, NULL, &err, "init", "--bogus", NULL), ==, 2);
  g_assert_nonnull(strstr(err, "--bogus"));
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run(f, f->root, NULL, &err, "--bogus", NULL), ==, 2);
  g_clear_pointer(&err, g_free);
  g_assert_cmpint(run(f, f->root, NULL, &err, NULL), ==, 2);
}

static void
test_init_outside_git(Fixture *f, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_assert_cmpint(run(f, f->repo, NULL, &err, "init", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "not a git work tree"));
  g_assert_nonnull(strstr(err, "git init"));
  g_autofree char *cfg = g_build_filename(f->repo, "agent-runner.toml", NULL);
  g_assert_false(g_file_test(cfg, G_FILE_TEST_EXISTS));
}

static void
test_init_commits_only_its_files(Fixture *f, gconstpointer data)
{
  git_init_with_commit(f);
  /* The user's unrelated work: one staged file, one untracked file. */
  g_autofree char *staged = g_build_filename(f->repo, "staged.txt", NULL);
  g_autofree char *untracked = g_build_filename(f->repo, "untracked.txt", NULL);
  g_file_set_contents(staged, "s\n", -1, NULL);
  g_file_set_contents(untracked, "u\n", -1, NULL);
  g_free(git(f, "add staged.txt"));

  g_autofree char *out = NULL;
  g_assert_cmpint(run(f, f->repo, &out, NULL, "--json", "init", "--preset", "codex", NULL), ==, 0);
  g_autoptr(JsonNode) root = json_from_string(out, NULL);
  g_assert_nonnull(root);
  JsonObject *o = json_node_get_object(root);
  g_assert_true(json_object_get_boolean_member(o, "committed"));
  g_assert_cmpstr(json_object_get_string_member(o, "preset"), ==, "codex");

  g_autofree char *names = git(f, "show --name-only --format= HEAD");
  g_assert_cmpstr(names, ==, "agent-runner.toml\nprompts/main.md");
  g_autofree char *status = git(f, "status --porcelain");
  g_assert_cmpstr(status, ==, "A  staged.txt\n?? untracked.txt");
  g_autofree char *msg = git(f, "log -1 --format=%s");
  g_assert_cmpstr(msg, ==, "chore: agent-runner initial config");

  /* {project} is the work tree's name. */
  g_autofree char *cfgpath = g_build_filename(f->repo, "agent-runner.toml", NULL);
  g_autofree char *text = NULL;
  g_file_get_contents(cfgpath, &text, NULL, NULL);
  g_assert_nonnull(strstr(text, "~/.agent-runner/myproj/logs"));

  /* Refuses to overwrite, unless --force. */
  g_autofree char *err = NULL;
  g_assert_cmpint(run(f, f->repo, NULL, &err, "init", NULL), ==, 1);
  g_assert_nonnull(strstr(err, "--force"));
  g_assert_cmpint(
      run(f, f->repo, NULL, NULL, "init", "--force", "--no-commit", "--preset", "gemini", NULL), ==,
      0);
  g_autofree char *count = git(f, "rev-list --count HEAD");
  g_assert_cmpstr(count, ==, "2");
}

static void
test_init_ignores_inside_log_dir(Fixture *f, gconstpointer data)
{
  git_init_with_commit(f);
  /* A preset whose log dir is inside the tree. */
  g_autofree char *presets = g_build_filename(f->root, "presets", NULL);
  g_mkdir(presets, 0755);
  g_autofree char *p = g_build_filename(presets, "inside.toml", NULL);
  g_file_set_contents(p,
                      "[agent]\ncommand = [\"claude\"]\nprompt_arg_template = [\"-p\"]\n"
                      "prompt_delivery = \"stdin\"\n[runtime]\nwork_dir = \".\"\nlog_dir = "
                      "\"logs\"\n[prompt]\nfile = \"./prompts/main.md\"\n",
                      -1, NULL);
  g_autofree char *client = client_path();
  g_autofree char *cmd = g_strdup_printf("env AGENT_RUNNER_PRESETS_DIR=%s HOME=%s %s init "
                                         "--preset inside",
                                         presets, f->home, client);
  int status = 0;
  g_autofree char *old = g_get_current_dir();
  g_chdir(f->repo);
  g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL));
  g_chdir(old);
  g_assert_true(g_spawn_check_wait_status(status, NULL));
  g_autofree char *names = git(f, "show --name-only --format= HEAD");
  g_assert_cmpstr(names, ==, ".gitignore\nagent-runner.toml\nprompts/main.md");
  g_autofree char *ignore = g_build_filename(f->repo, ".gitignore", NULL);
  g_autofree char *text = NULL;
  g_file_get_contents(ignore, &text, NULL, NULL);
  g_assert_cmpstr(text, ==, "/logs/\n");
}

static void
test_presets_pass_check(Fixture *f, gconstpointer data)
{
  static const char *const presets[][2] = {
    { "claude", "claude" },       { "codex", "codex" },     { "gemini", "gemini" },
    { "aider", "aider" },         { "kimi", "kimi" },       { "pi", "pi" },
    { "codewhale", "codewhale" }, { "custom", "my-agent" },
  };
  git_init_with_commit(f);
  for (guint i = 0; i < G_N_ELEMENTS(presets); i++) {
    g_autofree char *out = NULL, *err = NULL;
    g_assert_cmpint(run(f, f->repo, NULL, NULL, "init", "--force", "--no-commit", "--preset",
                        presets[i][0], NULL),
                    ==, 0);
    /* Without the CLI on PATH the check fails, naming the fix. */
    int rc = run(f, f->repo, &out, &err, "config", "check", NULL);
    g_assert_cmpint(rc, ==, 78);
    g_assert_nonnull(strstr(out, "agent_cli_in_path"));
    g_assert_nonnull(strstr(out, "how to fix"));
    g_clear_pointer(&out, g_free);
    write_stub(f, presets[i][1]);
    rc = run(f, f->repo, &out, &err, "--json", "config", "check", NULL);
    if (rc != 0)
      g_error("preset %s: config check failed:\n%s%s", presets[i][0], out, err);
    g_autoptr(JsonNode) root = json_from_string(out, NULL);
    JsonObject *o = json_node_get_object(root);
    g_assert_true(json_object_get_boolean_member(o, "ok"));
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "checks")), ==, 7);
  }
}

static void
test_check_reports_bad_config(Fixture *f, gconstpointer data)
{
  git_init_with_commit(f);
  g_autofree char *cfgpath = g_build_filename(f->repo, "agent-runner.toml", NULL);
  g_file_set_contents(cfgpath, "[agent]\ncommand = [\"x\"]\nbogus = 1\n", -1, NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint(run(f, f->repo, NULL, &err, "config", "check", NULL), ==, 78);
  g_assert_nonnull(strstr(err, "agent-runner.toml:3:1: unknown key \"bogus\" in [agent]"));
  g_autofree char *other = g_build_filename(f->root, "elsewhere.toml", NULL);
  g_autofree char *err2 = NULL;
  g_assert_cmpint(run(f, f->root, NULL, &err2, "--config", other, "config", "check", NULL), ==, 78);
  g_assert_nonnull(strstr(err2, "config not found"));
}

/* A key that does nothing yet is said so (DESIGN.md §12), in text and in
 * --json, without failing the check. */
static void
test_check_says_no_effect_yet(Fixture *f, gconstpointer data)
{
  git_init_with_commit(f);
  g_autofree char *prompts = g_build_filename(f->repo, "prompts", NULL);
  g_mkdir(prompts, 0755);
  g_autofree char *prompt = g_build_filename(prompts, "main.md", NULL);
  g_autofree char *text = g_strnfill(600, 'w');
  g_file_set_contents(prompt, text, -1, NULL);
  g_autofree char *cfgpath = g_build_filename(f->repo, "agent-runner.toml", NULL);
  g_file_set_contents(cfgpath,
                      "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n"
                      "[runtime]\nwork_dir = \".\"\nlog_dir = \"logs\"\n"
                      "[prompt]\nfile = \"prompts/main.md\"\n"
                      "[monitor]\nremote_failure_tolerance_s = 30\n",
                      -1, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = run(f, f->repo, &out, &err, "config", "check", NULL);
  if (rc != 0)
    g_error("config check failed:\n%s%s", out, err);
  /* Live since the monitor watches hosts (-H): nothing to report. */
  g_assert_null(strstr(out, "remote_failure_tolerance_s has no effect yet"));
  g_clear_pointer(&out, g_free);
  g_assert_cmpint(run(f, f->repo, &out, NULL, "--json", "config", "check", NULL), ==, 0);
  g_autoptr(JsonNode) root = json_from_string(out, NULL);
  JsonArray *inert = json_object_get_array_member(json_node_get_object(root), "no_effect");
  g_assert_cmpuint(json_array_get_length(inert), ==, 0);
}

static void
test_orphans_verb(Fixture *f, gconstpointer data)
{
  git_init_with_commit(f);
  g_assert_cmpint(run(f, f->repo, NULL, NULL, "init", "--preset", "claude", NULL), ==, 0);
  /* A round's leftovers: a modified tracked file and an untracked one,
   * stashed the way the daemon does (message "ORPHAN R<N> ..."). */
  g_autofree char *readme = g_build_filename(f->repo, "README", NULL);
  g_autofree char *newf = g_build_filename(f->repo, "new.txt", NULL);
  g_file_set_contents(readme, "changed by round 7\n", -1, NULL);
  g_file_set_contents(newf, "untracked work\n", -1, NULL);
  g_free(git(f, "stash push -u -q -m 'ORPHAN R7 phase=build ts=2026-11-28T07:00:00'"));
  g_autofree char *sha = git(f, "rev-parse stash@{0}");
  /* Someone else stashes on top: lookups are by SHA, not by position. */
  g_file_set_contents(readme, "user edit\n", -1, NULL);
  g_free(git(f, "stash push -q -m user-stash"));

  g_autofree char *out = NULL;
  g_assert_cmpint(run(f, f->repo, &out, NULL, "--json", "orphans", NULL), ==, 0);
  g_autoptr(JsonNode) root = json_from_string(out, NULL);
  JsonArray *arr = json_node_get_array(root);
  g_assert_cmpuint(json_array_get_length(arr), ==, 1);
  JsonObject *o = json_array_get_object_element(arr, 0);
  g_assert_cmpstr(json_object_get_string_member(o, "sha"), ==, sha);
  g_assert_cmpint(json_object_get_int_member(o, "round_num"), ==, 7);
  g_assert_cmpstr(json_object_get_string_member(o, "phase"), ==, "build");

  g_autofree char *human = NULL;
  g_assert_cmpint(run(f, f->repo, &human, NULL, "orphans", NULL), ==, 0);
  g_autofree char *short_sha = g_strndup(sha, 12);
  g_assert_nonnull(strstr(human, short_sha));

  g_autofree char *diff = NULL;
  g_assert_cmpint(run(f, f->repo, &diff, NULL, "orphans", "show", sha, NULL), ==, 0);
  g_assert_nonnull(strstr(diff, "+changed by round 7"));
  g_assert_nonnull(strstr(diff, "+untracked work"));

  g_autofree char *err = NULL;
  g_assert_cmpint(run(f, f->repo, NULL, &err, "orphans", "pop", sha, NULL), ==, 0);
  g_autofree char *text = NULL;
  g_file_get_contents(newf, &text, NULL, NULL);
  g_assert_cmpstr(text, ==, "untracked work\n");
  g_autofree char *list = git(f, "stash list --format=%s");
  g_assert_cmpstr(list, ==, "On main: user-stash");

  g_autofree char *err2 = NULL;
  g_assert_cmpint(run(f, f->repo, NULL, &err2, "orphans", "pop", sha, NULL), ==, 1);
  g_assert_cmpint(run(f, f->repo, NULL, NULL, "orphans", "frob", NULL), ==, 2);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_autofree char *git_path = g_find_program_in_path("git");
  if (git_path == NULL) {
    g_printerr("git not installed\n");
    return 77;
  }
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/client/version-help-usage", test_version_help_usage);
  ADD("/client/init-outside-git", test_init_outside_git);
  ADD("/client/init-commits-only-its-files", test_init_commits_only_its_files);
  ADD("/client/init-ignores-inside-log-dir", test_init_ignores_inside_log_dir);
  ADD("/client/presets-pass-check", test_presets_pass_check);
  ADD("/client/check-reports-bad-config", test_check_reports_bad_config);
  ADD("/client/check-says-no-effect-yet", test_check_says_no_effect_yet);
  ADD("/client/orphans-verb", test_orphans_verb);
  return g_test_run();
}
