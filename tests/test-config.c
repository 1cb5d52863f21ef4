/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ar-config-keys.h"
#include "ar-config.h"
#include "ar-prompt.h"
#include "ar-test-util.h"
#include "ar-util.h"

/* A throwaway project dir with a prompt file; each test writes its own
 * agent-runner.toml there. */
typedef struct {
  char *dir;
  char *path;
} Fixture;

static const char minimal_head[] = "[agent]\n"
                                   "command = [\"true\"]\n"
                                   "prompt_arg_template = [\"{prompt}\"]\n"
                                   "[runtime]\n"
                                   "work_dir = \".\"\n"
                                   "log_dir = \"logs\"\n"
                                   "[prompt]\n"
                                   "file = \"prompts/main.md\"\n";

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp("ar-config-XXXXXX", NULL);
  f->path = g_build_filename(f->dir, "agent-runner.toml", NULL);
  g_autofree char *prompts = g_build_filename(f->dir, "prompts", NULL);
  g_mkdir(prompts, 0755);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  ar_test_rm_rf(f->dir);
  g_free(f->dir);
  g_free(f->path);
}

static ArConfig *
load_text(Fixture *f, const char *text, GError **error)
{
  g_assert_true(g_file_set_contents(f->path, text, -1, NULL));
  return ar_config_load(f->path, error);
}

/* Load TEXT and expect an error mentioning every fragment (NULL-ended). */
static void
expect_error(Fixture *f, const char *text, ...)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, text, &error);
  g_assert_null(cfg);
  g_assert_error(error, AR_ERROR, AR_ERROR_CONFIG);
  va_list ap;
  va_start(ap, text);
  const char *frag;
  while ((frag = va_arg(ap, const char *))) {
    if (strstr(error->message, frag) == NULL)
      g_error("expected \"%s\" in error:\n%s", frag, error->message);
  }
  va_end(ap);
}

static void
test_minimal_defaults(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, minimal_head, &error);
  g_assert_no_error(error);
  g_autofree char *base = g_path_get_basename(f->dir);
  g_assert_cmpstr(cfg->project, ==, base);
  g_assert_cmpstr(cfg->work_dir, ==, f->dir);
  g_autofree char *logs = g_build_filename(f->dir, "logs", NULL);
  g_assert_cmpstr(cfg->log_dir, ==, logs);
  /* Defaults come from the key table. */
  g_assert_cmpuint(cfg->round_timeout_s, ==, 1800);
  g_assert_cmpuint(cfg->restart_delay_s, ==, 3);
  g_assert_cmpuint(cfg->round_log_retention, ==, 100);
  g_assert_cmpuint(cfg->stash_idempotency_s, ==, 5);
  g_assert_cmpint(cfg->dirty_action, ==, AR_DIRTY_STASH);
  g_assert_cmpint(cfg->prompt_delivery, ==, AR_PROMPT_ARGV);
  g_assert_true(cfg->inject_context);
  g_assert_true(cfg->strip_yaml_frontmatter);
  g_assert_cmpstr(cfg->concat_separator, ==, "\n\n");
  g_assert_cmpuint(g_strv_length(cfg->auto_stop_on), ==, 2);
  g_assert_cmpfloat(cfg->disk_critical_pct, ==, 95.0);
  g_assert_cmpint(cfg->supervisor_stale_threshold_s, ==, -1);
  g_assert_cmpstr(cfg->output, ==, "text");
  g_assert_cmpuint(cfg->max_rounds, ==, 0);
  g_assert_null(cfg->phase_list);
}

static void
test_unknown_key_position(Fixture *f, gconstpointer data)
{
  expect_error(f,
               "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n"
               "[runtime]\nwork_dir = \".\"\nlog_dir = \"logs\"\n    round_timout_s = 5\n"
               "[prompt]\nfile = \"p.md\"\n",
               "agent-runner.toml:7:5: unknown key \"round_timout_s\" in [runtime]",
               "did you mean \"round_timeout_s\"?", NULL);
}

static void
test_unknown_section(Fixture *f, gconstpointer data)
{
  g_autofree char *text = g_strdup_printf("%s[runtme]\nx = 1\n", minimal_head);
  expect_error(f, text, ":9:2: unknown section [runtme]", "did you mean \"runtime\"", NULL);
}

static void
test_wrong_type(Fixture *f, gconstpointer data)
{
  g_autofree char *text = g_strdup_printf("%s[vcs]\nstash_idempotency_s = \"5\"\n", minimal_head);
  expect_error(f, text, ":10:23: [vcs] stash_idempotency_s must be an integer, not a string", NULL);
  /* A sub-table where a key belongs is an unknown key of that section. */
  g_autofree char *t2 = g_strdup_printf("%s[runtime.x]\n", minimal_head);
  expect_error(f, t2, ":9:10: unknown key \"x\" in [runtime]", NULL);
  g_autofree char *t3 =
      g_strdup_printf("%s[monitor]\nauto_stop_on = \"oauth_fail\"\n", minimal_head);
  expect_error(f, t3, "[monitor] auto_stop_on must be a list of names", NULL);
  g_autofree char *t4 =
      g_strdup_printf("%s[monitor.host_health]\ndisk_warning_pct = true\n", minimal_head);
  expect_error(f, t4, "disk_warning_pct must be a number between 0 and 100, not a bool", NULL);
  g_autofree char *t5 =
      g_strdup_printf("%s[monitor.host_health]\ndisk_critical_pct = nan\n", minimal_head);
  expect_error(f, t5, "disk_critical_pct must be between 0 and 100", NULL);
}

static void
test_bool_is_not_int(Fixture *f, gconstpointer data)
{
  g_autofree char *text = g_strdup_printf("%s[vcs]\nstash_idempotency_s = true\n", minimal_head);
  expect_error(f, text, "must be an integer, not a bool", NULL);
}

static void
test_ranges(Fixture *f, gconstpointer data)
{
  g_autofree char *t1 = g_strdup_printf(
      "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\n"
      "work_dir = \".\"\nlog_dir = \"logs\"\nround_timeout_s = 0\n[prompt]\nfile = \"p\"\n");
  expect_error(f, t1, ":7:19: [runtime] round_timeout_s must be a positive integer, not 0", NULL);
  /* restart_delay_s = 0 is allowed (the Python tool rejected it). */
  g_autofree char *t2 = g_strdup_printf(
      "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\n"
      "work_dir = \".\"\nlog_dir = \"logs\"\nrestart_delay_s = 0\n[prompt]\nfile = \"p\"\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, t2, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cfg->restart_delay_s, ==, 0);
  g_autofree char *t3 =
      g_strdup_printf("%s[monitor]\nremote_failure_tolerance_s = 4000\n", minimal_head);
  expect_error(f, t3, "between 0 and 3600, not 4000", NULL);
}

static void
test_removed_keys(Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < ar_config_n_removed_keys; i++) {
    const ArRemovedKey *rk = &ar_config_removed_keys[i];
    g_autofree char *text = NULL;
    if (g_str_equal(rk->section, "runtime"))
      text = g_strdup_printf("[agent]\ncommand = [\"true\"]\nprompt_arg_template = "
                             "[\"{prompt}\"]\n[runtime]\nwork_dir = \".\"\nlog_dir = \"l\"\n%s = "
                             "\"x\"\n[prompt]\nfile = \"p\"\n",
                             rk->name);
    else
      text = g_strdup_printf("%s[%s]\n%s = \"x\"\n", minimal_head, rk->section, rk->name);
    expect_error(f, text, "is no longer supported", rk->hint, NULL);
  }
}

static void
test_enum_and_names(Fixture *f, gconstpointer data)
{
  g_autofree char *t1 = g_strdup_printf("%s[vcs]\ndirty_action = \"stahs\"\n", minimal_head);
  expect_error(f, t1, "dirty_action must be one of", "did you mean \"stash\"", NULL);
  g_autofree char *t2 =
      g_strdup_printf("%s[monitor]\nauto_stop_on = [\"oauth_fial\"]\n", minimal_head);
  expect_error(f, t2, ":10:17: [monitor] auto_stop_on: unknown name \"oauth_fial\"",
               "did you mean \"oauth_fail\"", NULL);
  g_autofree char *t3 = g_strdup_printf("%s[plugins]\ndisable = [\"nope\"]\n", minimal_head);
  expect_error(f, t3, "[plugins] disable: unknown name \"nope\"", NULL);
  g_autofree char *t4 = g_strdup_printf("%s[agent.x]\n", minimal_head);
  expect_error(f, t4, "unknown key \"x\" in [agent]", NULL);
}

static void
test_plugins_passthrough(Fixture *f, gconstpointer data)
{
  g_autofree char *text = g_strdup_printf("%s[plugins]\ndisable = [\"default_dirty_handler\"]\n"
                                          "[plugins.myproject]\nanything = 1\nnested = { a = "
                                          "\"b\" }\n",
                                          minimal_head);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, text, &error);
  g_assert_no_error(error);
  const ArTomlNode *plugins = ar_toml_get(cfg->toml, "plugins");
  g_assert_nonnull(ar_toml_get(ar_toml_get(plugins, "myproject"), "anything"));
}

static void
test_regex_checked(Fixture *f, gconstpointer data)
{
  g_autofree char *text =
      g_strdup_printf("%s[runtime]\n", minimal_head); /* duplicate table: TOML error */
  expect_error(f, text, "agent-runner.toml:9:", NULL);
  g_autofree char *t2 = g_strdup_printf(
      "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\n"
      "work_dir = \".\"\nlog_dir = \"l\"\ngrace_kill_ignore_patterns = [\"ok\", \"(unclosed\"]\n"
      "[prompt]\nfile = \"p\"\n");
  expect_error(f, t2, ":7:37: [runtime] grace_kill_ignore_patterns: invalid regular expression",
               NULL);
}

static void
test_prompt_template_rules(Fixture *f, gconstpointer data)
{
  expect_error(f,
               "[agent]\ncommand = [\"x\"]\nprompt_arg_template = [\"-p\"]\n[runtime]\nwork_dir = "
               "\".\"\nlog_dir = \"l\"\n[prompt]\nfile = \"p\"\n",
               ":3:23: [agent] prompt_arg_template has no {prompt}", NULL);
  expect_error(f,
               "[agent]\ncommand = [\"x\"]\nprompt_arg_template = [\"{prompt}\"]\nprompt_delivery "
               "= \"stdin\"\n[runtime]\nwork_dir = \".\"\nlog_dir = \"l\"\n[prompt]\nfile = "
               "\"p\"\n",
               "contains {prompt} but prompt_delivery is \"stdin\"", NULL);
  expect_error(f,
               "[agent]\ncommand = []\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\nwork_dir "
               "= \".\"\nlog_dir = \"l\"\n[prompt]\nfile = \"p\"\n",
               "[agent] command is empty", NULL);
  expect_error(f,
               "[agent]\ncommand = [\"x\"]\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\n"
               "work_dir = \".\"\nlog_dir = \"l\"\n[prompt]\nfile = \"p\"\nfiles = [\"q\"]\n",
               ":9:1: [prompt] has both file and files", NULL);
  expect_error(f, "[agent]\nprompt_arg_template = []\n", "[agent] command is required",
               "[runtime] work_dir is required", "[runtime] log_dir is required",
               "[prompt] needs file", NULL);
}

static void
test_paths(Fixture *f, gconstpointer data)
{
  g_autofree char *sub = g_build_filename(f->dir, "proj-1.x", NULL);
  g_mkdir(sub, 0755);
  g_autofree char *text = g_strdup_printf(
      "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n"
      "path = [\"~/bin\", \"tools\"]\n[runtime]\nwork_dir = \"proj-1.x\"\n"
      "log_dir = \"~/.agent-runner/{project}/logs\"\nstop_file = \"{project}.stop\"\n"
      "[prompt]\nfiles = [\"a.md\", \"/abs/b.md\"]\n");
  /* Load from another cwd: paths must not depend on it. */
  g_autofree char *old = g_get_current_dir();
  g_chdir("/");
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, text, &error);
  g_chdir(old);
  g_assert_no_error(error);
  g_assert_cmpstr(cfg->work_dir, ==, sub);
  g_assert_cmpstr(cfg->project, ==, "proj-1.x");
  g_autofree char *logs =
      g_build_filename(g_get_home_dir(), ".agent-runner", "proj-1.x", "logs", NULL);
  g_assert_cmpstr(cfg->log_dir, ==, logs);
  g_autofree char *stop = g_build_filename(f->dir, "proj-1.x.stop", NULL);
  g_assert_cmpstr(cfg->stop_file, ==, stop);
  g_autofree char *a = g_build_filename(f->dir, "a.md", NULL);
  g_assert_cmpstr(cfg->prompt_files[0], ==, a);
  g_assert_cmpstr(cfg->prompt_files[1], ==, "/abs/b.md");
  g_autofree char *bin = g_build_filename(g_get_home_dir(), "bin", NULL);
  g_assert_cmpstr(cfg->path[0], ==, bin);
  g_autofree char *pathenv = ar_config_agent_path_env(cfg, "/usr/bin");
  g_autofree char *expect = g_strdup_printf("%s:%s/tools:/usr/bin", bin, f->dir);
  g_assert_cmpstr(pathenv, ==, expect);
}

static void
test_bad_project_name(Fixture *f, gconstpointer data)
{
  g_autofree char *sub = g_build_filename(f->dir, "has space", NULL);
  g_mkdir(sub, 0755);
  expect_error(f,
               "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n"
               "[runtime]\nwork_dir = \"has space\"\nlog_dir = \"l\"\n[prompt]\nfile = \"p\"\n",
               ":5:12: the project name is the basename of work_dir, \"has space\"", NULL);
}

static void
test_phases(Fixture *f, gconstpointer data)
{
  g_autofree char *text = g_strdup_printf(
      "%s[phases]\nlist = [\"build\", \"review\"]\n[phases.review]\nround_timeout_s = 60\n"
      "[phases.review.prompt]\nfiles = [\"prompts/review.md\"]\n",
      minimal_head);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, text, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(ar_config_phase_for_round(cfg, 1), ==, "build");
  g_assert_cmpstr(ar_config_phase_for_round(cfg, 2), ==, "review");
  g_assert_cmpstr(ar_config_phase_for_round(cfg, 3), ==, "build");
  g_assert_cmpuint(ar_config_round_timeout(cfg, "review"), ==, 60);
  g_assert_cmpuint(ar_config_round_timeout(cfg, "build"), ==, 1800);
  g_assert_true(g_str_has_suffix(ar_config_prompt_files(cfg, "review")[0], "prompts/review.md"));
  g_assert_true(g_str_has_suffix(ar_config_prompt_files(cfg, "build")[0], "prompts/main.md"));

  g_autofree char *typo = g_strdup_printf(
      "%s[phases]\nlist = [\"build\"]\n[phases.biuld]\nround_timeout_s = 60\n", minimal_head);
  expect_error(f, typo, ":11:9: [phases.biuld] is not in [phases] list", "did you mean \"build\"",
               NULL);
  g_autofree char *badkey = g_strdup_printf(
      "%s[phases]\nlist = [\"build\"]\n[phases.build]\nround_timeout = 60\n", minimal_head);
  expect_error(f, badkey, ":12:1: unknown key \"round_timeout\" in [phases.build]",
               "did you mean \"round_timeout_s\"", NULL);
}

static void
test_all_errors_reported(Fixture *f, gconstpointer data)
{
  g_autofree char *text =
      g_strdup_printf("%s[vcs]\ndirty_action = 3\nstash_idempotency = 5\n", minimal_head);
  expect_error(f, text, ":10:16:", ":11:1: unknown key \"stash_idempotency\"", NULL);
}

static void
test_prompt_assembly(Fixture *f, gconstpointer data)
{
  g_autofree char *p1 = g_build_filename(f->dir, "prompts", "main.md", NULL);
  g_autofree char *p2 = g_build_filename(f->dir, "prompts", "extra.md", NULL);
  g_file_set_contents(p1, "---\ntitle: x\n---\nHello", -1, NULL);
  g_file_set_contents(p2, "World", -1, NULL);
  g_autofree char *text = g_strdup_printf(
      "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\n"
      "work_dir = \".\"\nlog_dir = \"logs\"\n[prompt]\nfiles = [\"prompts/main.md\", "
      "\"prompts/missing.md\", \"prompts/extra.md\"]\nconcat_separator = \"\\n--\\n\"\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, text, &error);
  g_assert_no_error(error);
  gsize len = 0;
  g_autofree char *prompt = ar_prompt_assemble(cfg, NULL, NULL, &len, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(prompt, ==, "Hello\n--\nWorld");
  g_autofree char *with_ctx = ar_prompt_assemble(cfg, NULL, "{\"round_num\": 3}", &len, &error);
  g_assert_true(
      g_str_has_prefix(with_ctx, "```json round-context\n{\"round_num\": 3}\n```\n\nHello"));
  g_assert_false(ar_prompt_smoke(prompt, strlen(prompt), NULL));
  g_autofree char *dash = g_strdup_printf("-%0600d", 0);
  g_assert_false(ar_prompt_smoke(dash, strlen(dash), NULL));
  g_autofree char *good = g_strdup_printf("Do%0600d", 0);
  g_assert_true(ar_prompt_smoke(good, strlen(good), NULL));
  g_autofree char *fm = ar_prompt_strip_frontmatter("---\nno end\nHello");
  g_assert_cmpstr(fm, ==, "---\nno end\nHello");
  g_unlink(p1);
  g_autofree char *none = ar_prompt_assemble(cfg, NULL, NULL, &len, &error);
  g_assert_null(none);
  g_assert_error(error, AR_ERROR, AR_ERROR_CONFIG);
}

/* [hooks], [phases.NAME.hooks], hook names in [plugins] disable, [events]
 * kinds, and the keys config check reports as having no effect yet. */
static void
test_hooks_and_inert_keys(Fixture *f, gconstpointer data)
{
  g_autofree char *text =
      g_strdup_printf("%s"
                      "[monitor]\nremote_failure_tolerance_s = 30\n"
                      "[phases]\nlist = [\"a\", \"b\"]\n"
                      "[phases.b.hooks]\npre_round = []\n"
                      "[hooks]\ntimeout_s = 5\n"
                      "pre_round = [\"hooks/notes.sh\", [\"python3\", \"hooks/ci.py\", \"-q\"]]\n"
                      "post_round = [[\"logger\", \"done\"]]\n"
                      "[events]\nkinds = [\"notes_refreshed\"]\n"
                      "[plugins]\ndisable = [\"logger\"]\n",
                      minimal_head);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, text, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cfg->hook_timeout_s, ==, 5);
  g_autoptr(GPtrArray) pre = ar_config_hooks(cfg, "a", AR_HOOK_PRE_ROUND);
  g_assert_cmpuint(pre->len, ==, 2);
  g_autofree char *notes = g_build_filename(f->dir, "hooks", "notes.sh", NULL);
  g_assert_cmpstr(((char **)g_ptr_array_index(pre, 0))[0], ==, notes);
  char **argv = g_ptr_array_index(pre, 1);
  g_assert_cmpstr(argv[0], ==, "python3"); /* a bare name stays for PATH */
  g_assert_cmpstr(argv[1], ==, "hooks/ci.py");
  g_autofree char *name = ar_hook_name((const char *const *)argv);
  g_assert_cmpstr(name, ==, "ci");
  g_autoptr(GPtrArray) pre_b = ar_config_hooks(cfg, "b", AR_HOOK_PRE_ROUND);
  g_assert_cmpuint(pre_b->len, ==, 0); /* the phase's list replaces the global one */
  g_autoptr(GPtrArray) post = ar_config_hooks(cfg, NULL, AR_HOOK_POST_ROUND);
  g_assert_cmpuint(post->len, ==, 0); /* disabled by name */
  g_assert_cmpstr(cfg->event_kinds[0], ==, "notes_refreshed");
  g_autoptr(GPtrArray) reasons = NULL;
  g_autoptr(GPtrArray) inert = ar_config_inert_keys(cfg, &reasons);
  /* remote_failure_tolerance_s is live (agent-runner monitor -H). */
  g_assert_cmpuint(inert->len, ==, 0);

  g_autofree char *t1 = g_strdup_printf("%s[hooks]\npre_round = \"x.sh\"\n", minimal_head);
  expect_error(f, t1, "[hooks] pre_round must be a list of commands", NULL);
  g_autofree char *t2 = g_strdup_printf("%s[hooks]\npre_round = [[]]\n", minimal_head);
  expect_error(f, t2, "each command is a path string or a non-empty list", NULL);
  g_autofree char *t3 = g_strdup_printf(
      "%s[hooks]\npre_round = [\"./refresh.sh\"]\n[plugins]\ndisable = [\"refersh\"]\n",
      minimal_head);
  expect_error(f, t3, "unknown name \"refersh\"; did you mean \"refresh\"?", NULL);
  g_autofree char *t4 = g_strdup_printf("%s[phases]\nlist = [\"a\"]\n[phases.a.hooks]\n"
                                        "pre_rond = []\n",
                                        minimal_head);
  expect_error(f, t4, "unknown key \"pre_rond\" in [phases.a.hooks]", "did you mean \"pre_round\"",
               NULL);
  g_autofree char *t5 =
      g_strdup_printf("%s[events]\nkinds = [\"round_end\", \"Bad-Name\"]\n", minimal_head);
  expect_error(f, t5, "\"round_end\" is a built-in event kind", "\"Bad-Name\" is not a valid",
               NULL);
}

static void
test_key_table_sane(void)
{
  /* Every key with a default must load through the TOML parser (the
   * defaults are applied from this text) and every section must be
   * documented. */
  for (guint i = 0; i < ar_config_n_keys; i++) {
    const ArConfigKey *k = &ar_config_keys[i];
    g_assert_nonnull(k->doc);
    g_assert_cmpuint(strlen(k->doc), >, 10);
    g_assert_true(ar_config_key_lookup(k->section, k->name) == k);
  }
  g_autofree char *md = ar_config_doc_markdown();
  for (guint i = 0; i < ar_config_n_keys; i++) {
    g_autofree char *needle = g_strdup_printf("| `%s`", ar_config_keys[i].name);
    g_assert_nonnull(strstr(md, needle));
  }
}

/* The client learns the project without the whole config
 * (ar-config-project.c): the same name as the loader's, also from a file
 * the loader refuses, through a symlink, and with work_dir elsewhere. */
static void
test_read_project(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = load_text(f, minimal_head, &error);
  g_assert_no_error(error);
  g_autofree char *name = ar_config_read_project(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(name, ==, cfg->project);

  g_autofree char *broken = g_strconcat(minimal_head, "bogus_key = 1\n", NULL);
  g_assert_true(g_file_set_contents(f->path, broken, -1, NULL));
  g_autoptr(ArConfig) refused = ar_config_load(f->path, NULL);
  g_assert_null(refused);
  g_autofree char *still = ar_config_read_project(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(still, ==, name);

  g_autofree char *link = g_build_filename(f->dir, "prompts", "link.toml", NULL);
  g_assert_cmpint(symlink(f->path, link), ==, 0);
  g_autofree char *via_link = ar_config_read_project(link, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(via_link, ==, name);

  g_assert_true(g_file_set_contents(f->path, "[runtime]\nwork_dir = \"sub/my-proj\"\n", -1, NULL));
  g_autofree char *sub = ar_config_read_project(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(sub, ==, "my-proj");

  g_assert_true(g_file_set_contents(f->path, "[runtime]\nlog_dir = \"x\"\n", -1, NULL));
  g_autofree char *none = ar_config_read_project(f->path, &error);
  g_assert_null(none);
  g_assert_error(error, AR_ERROR, AR_ERROR_CONFIG);
  g_clear_error(&error);
  g_assert_true(g_file_set_contents(f->path, "[runtime\n", -1, NULL));
  g_assert_null(ar_config_read_project(f->path, &error));
  g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_setenv("HOME", "/nonexistent-home", TRUE);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/config/minimal-defaults", test_minimal_defaults);
  ADD("/config/unknown-key-position", test_unknown_key_position);
  ADD("/config/unknown-section", test_unknown_section);
  ADD("/config/wrong-type", test_wrong_type);
  ADD("/config/bool-is-not-int", test_bool_is_not_int);
  ADD("/config/ranges", test_ranges);
  ADD("/config/removed-keys", test_removed_keys);
  ADD("/config/enum-and-names", test_enum_and_names);
  ADD("/config/plugins-passthrough", test_plugins_passthrough);
  ADD("/config/regex-checked", test_regex_checked);
  ADD("/config/prompt-template-rules", test_prompt_template_rules);
  ADD("/config/paths", test_paths);
  ADD("/config/bad-project-name", test_bad_project_name);
  ADD("/config/phases", test_phases);
  ADD("/config/all-errors-reported", test_all_errors_reported);
  ADD("/config/prompt-assembly", test_prompt_assembly);
  ADD("/config/hooks-and-inert-keys", test_hooks_and_inert_keys);
  ADD("/config/read-project", test_read_project);
  g_test_add_func("/config/key-table", test_key_table_sane);
  return g_test_run();
}
