/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ar-config.h"
#include "ar-test-util.h"
#include "ar-util.h"

/* Hostile config files: what is not a regular file, what is
 * too large, U+0000 inside strings, and error output that must stay
 * bounded whatever the file holds. Every case must answer at once with a
 * clear error: alarm() turns a hang into a failure. */

typedef struct {
  char *dir;
  char *path;
} Fixture;

static const char head[] = "[agent]\n"
                           "command = [\"true\"]\n"
                           "prompt_arg_template = [\"{prompt}\"]\n"
                           "[runtime]\n"
                           "work_dir = \".\"\n"
                           "log_dir = \"logs\"\n"
                           "[prompt]\n"
                           "file = \"p.md\"\n";

static void
fixture_setup(Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp("ar-hostile-XXXXXX", NULL);
  f->path = g_build_filename(f->dir, "agent-runner.toml", NULL);
  alarm(30);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
  alarm(0);
  ar_test_rm_rf(f->dir);
  g_free(f->dir);
  g_free(f->path);
}

static char *
load_error(const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = ar_config_load(path, &error);
  g_assert_null(cfg);
  g_assert_error(error, AR_ERROR, AR_ERROR_CONFIG);
  return g_strdup(error->message);
}

static char *
load_text_error(Fixture *f, const char *text, gssize len)
{
  g_assert_true(g_file_set_contents(f->path, text, len, NULL));
  return load_error(f->path);
}

static void
assert_contains(const char *haystack, const char *needle)
{
  if (!strstr(haystack, needle))
    g_error("expected \"%s\" in:\n%.2000s", needle, haystack);
}

static void
test_fifo(Fixture *f, gconstpointer data)
{
  g_assert_cmpint(mkfifo(f->path, 0644), ==, 0);
  g_autofree char *msg = load_error(f->path);
  assert_contains(msg, "is a FIFO; only a regular file is accepted");
  assert_contains(msg, f->path);
}

static void
test_symlink_to_dev_zero(Fixture *f, gconstpointer data)
{
  g_assert_cmpint(symlink("/dev/zero", f->path), ==, 0);
  g_autofree char *msg = load_error(f->path);
  assert_contains(msg, f->path);
  assert_contains(msg, "/dev/zero is a device; only a regular file is accepted");
}

static void
test_directory(Fixture *f, gconstpointer data)
{
  g_autofree char *msg = load_error(f->dir);
  assert_contains(msg, "is a directory");
}

static void
test_too_large(Fixture *f, gconstpointer data)
{
  g_autoptr(GString) text = g_string_new(head);
  while (text->len <= AR_CONFIG_MAX_BYTES)
    g_string_append(text, "# padding padding padding padding padding padding padding\n");
  g_autofree char *msg = load_text_error(f, text->str, text->len);
  assert_contains(msg, "is too large");
  assert_contains(msg, "at most 1048576 are accepted");
}

/* The cases of the issue, each at its file:line:col. */
static void
test_nul_in_strings(Fixture *f, gconstpointer data)
{
  static const struct {
    const char *text;
    const char *where;
  } cases[] = {
    { "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[runtime]\n"
      "work_dir = \".\"\nlog_dir = \"./logs\\u0000/../../etc\"\n[prompt]\nfile = \"p.md\"\n",
      "agent-runner.toml:6:11: log_dir: the string contains a NUL character" },
    { "[agent]\ncommand = [\"sh\\u0000evil\"]\nprompt_arg_template = [\"{prompt}\"]\n"
      "[runtime]\nwork_dir = \".\"\nlog_dir = \"logs\"\n[prompt]\nfile = \"p.md\"\n",
      "agent-runner.toml:2:12: array element: the string contains a NUL character" },
    { "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[agent.env]\n"
      "\"A\\u0000B\" = \"x\"\n[runtime]\nwork_dir = \".\"\nlog_dir = \"logs\"\n[prompt]\n"
      "file = \"p.md\"\n",
      "agent-runner.toml:5:1: a key contains a NUL character" },
    { "[agent]\ncommand = [\"true\"]\nprompt_arg_template = [\"{prompt}\"]\n[agent.env]\n"
      "A = \"x\\u0000y\"\n[runtime]\nwork_dir = \".\"\nlog_dir = \"logs\"\n[prompt]\n"
      "file = \"p.md\"\n",
      "agent-runner.toml:5:5: A: the string contains a NUL character" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *msg = load_text_error(f, cases[i].text, -1);
    assert_contains(msg, cases[i].where);
  }
}

static void
test_long_key_quoted_briefly(Fixture *f, gconstpointer data)
{
  g_autoptr(GString) text = g_string_new(head);
  g_string_append(text, "[vcs]\n");
  for (int i = 0; i < 900000; i++)
    g_string_append_c(text, 'k');
  g_string_append(text, " = 1\n");
  g_autofree char *msg = load_text_error(f, text->str, text->len);
  assert_contains(msg, "unknown key \"kkkk");
  assert_contains(msg, "more bytes)");
  g_assert_cmpuint(strlen(msg), <, 1000);
}

static void
test_many_errors_counted(Fixture *f, gconstpointer data)
{
  g_autoptr(GString) text = g_string_new(head);
  g_string_append(text, "[vcs]\n");
  for (int i = 0; i < 100000; i++)
    g_string_append_printf(text, "%x=1\n", i);
  g_autofree char *msg = load_text_error(f, text->str, text->len);
  g_auto(GStrv) lines = g_strsplit(msg, "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), <=, 51);
  assert_contains(lines[g_strv_length(lines) - 1], "… and 99950 more problems");
  assert_contains(lines[0], "agent-runner.toml:10:1: unknown key \"0\" in [vcs]");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_setenv("HOME", "/nonexistent-home", TRUE);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/config-hostile/fifo", test_fifo);
  ADD("/config-hostile/symlink-to-dev-zero", test_symlink_to_dev_zero);
  ADD("/config-hostile/directory", test_directory);
  ADD("/config-hostile/too-large", test_too_large);
  ADD("/config-hostile/nul-in-strings", test_nul_in_strings);
  ADD("/config-hostile/long-key-quoted-briefly", test_long_key_quoted_briefly);
  ADD("/config-hostile/many-errors-counted", test_many_errors_counted);
  return g_test_run();
}
