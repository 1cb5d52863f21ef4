/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "vcs-test-util.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "ar-util.h"

static char *tmp_root;
static guint repo_counter;

static gboolean
run_git_v(const char *dir, char **out, char **err, va_list ap)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, "git");
  g_ptr_array_add(argv, "-C");
  g_ptr_array_add(argv, (char *)dir);
  for (const char *a = va_arg(ap, const char *); a != NULL; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, (char *)a);
  g_ptr_array_add(argv, NULL);
  int status = 0;
  g_autoptr(GError) error = NULL;
  gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
                             err, &status, &error);
  g_assert_no_error(error);
  g_assert_true(ok);
  return g_spawn_check_wait_status(status, NULL);
}

/* git -C dir ARGS...: must succeed; returns stdout. */
static char *
git_v(const char *dir, va_list ap)
{
  char *out = NULL;
  g_autofree char *err = NULL;
  if (!run_git_v(dir, &out, &err, ap))
    g_error("git failed in %s: %s", dir, err);
  return out;
}

G_GNUC_NULL_TERMINATED char *
git(const char *dir, ...)
{
  va_list ap;
  va_start(ap, dir);
  char *out = git_v(dir, ap);
  va_end(ap);
  return out;
}

/* git -C dir ARGS...: returns whether it succeeded. */
G_GNUC_NULL_TERMINATED gboolean
git_ok(const char *dir, ...)
{
  va_list ap;
  va_start(ap, dir);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gboolean ok = run_git_v(dir, &out, &err, ap);
  va_end(ap);
  return ok;
}

/* Same, first line of stdout without the newline. */
G_GNUC_NULL_TERMINATED char *
git_line(const char *dir, ...)
{
  va_list ap;
  va_start(ap, dir);
  char *out = git_v(dir, ap);
  va_end(ap);
  return g_strchomp(out);
}

void
write_bytes(const char *dir, const char *rel, const void *data, gsize len)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
  g_autoptr(GError) error = NULL;
  g_file_set_contents(path, data, len, &error);
  g_assert_no_error(error);
}

void
write_file(const char *dir, const char *rel, const char *text)
{
  write_bytes(dir, rel, text, strlen(text));
}

void
remove_file(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_assert_cmpint(g_unlink(path), ==, 0);
}

GBytes *
read_bytes(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, NULL))
    return NULL;
  return g_bytes_new_take(data, len);
}

char *
read_text(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  char *data = NULL;
  g_file_get_contents(path, &data, NULL, NULL);
  return data;
}

gboolean
exists(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  struct stat st;
  return lstat(path, &st) == 0;
}

guint
count_lines(const char *text)
{
  guint n = 0;
  for (const char *p = text; *p; p++)
    if (*p == '\n')
      n++;
  return n;
}

void
assert_files(GPtrArray *files, const char *const *expected)
{
  g_autoptr(GString) got = g_string_new(NULL);
  for (guint i = 0; files && i < files->len; i++)
    g_string_append_printf(got, "%s%s", i ? " " : "", (char *)g_ptr_array_index(files, i));
  g_autofree char *want = g_strjoinv(" ", (char **)expected);
  g_assert_cmpstr(got->str, ==, want);
}

/* A committed repository: a.txt, b.txt, bin.dat, src/c.c, .gitignore. */
char *
make_repo(gboolean identity)
{
  char *dir = g_strdup_printf("%s/repo%u", tmp_root, ++repo_counter);
  g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
  g_free(git(dir, "init", "-q", "-b", "main", NULL));
  if (identity) {
    g_free(git(dir, "config", "user.name", "Test User", NULL));
    g_free(git(dir, "config", "user.email", "test@example.com", NULL));
  }
  write_file(dir, "a.txt", "line one\nline two\nline three\n");
  write_file(dir, "b.txt", "bee\n");
  write_file(dir, "src/c.c", "int main(void) { return 0; }\n");
  write_file(dir, ".gitignore", "*.log\nignored/\n");
  guchar bin[300];
  for (guint i = 0; i < sizeof bin; i++)
    bin[i] = (guchar)(i * 7);
  write_bytes(dir, "bin.dat", bin, sizeof bin);
  g_free(git(dir, "add", "-A", NULL));
  g_free(git(dir, "-c", "user.name=Setup", "-c", "user.email=setup@example.com", "commit", "-q",
             "-m", "init", NULL));
  return dir;
}

char *
make_empty_repo(void)
{
  char *dir = g_strdup_printf("%s/repo%u", tmp_root, ++repo_counter);
  g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
  g_free(git(dir, "init", "-q", "-b", "main", NULL));
  g_free(git(dir, "config", "user.name", "Test User", NULL));
  g_free(git(dir, "config", "user.email", "test@example.com", NULL));
  return dir;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}

void
vcs_test_init(int *argc, char ***argv)
{
  g_test_init(argc, argv, NULL);

  tmp_root = g_dir_make_tmp("test-vcs-XXXXXX", NULL);
  g_assert_nonnull(tmp_root);
  g_autofree char *home = g_build_filename(tmp_root, "home", NULL);
  g_autofree char *gitconfig = g_build_filename(home, ".gitconfig", NULL);
  g_mkdir_with_parents(home, 0700);
  g_file_set_contents(gitconfig, "", 0, NULL);
  g_setenv("HOME", home, TRUE);
  g_setenv("XDG_CONFIG_HOME", home, TRUE);
  g_setenv("GIT_CONFIG_GLOBAL", gitconfig, TRUE);
  g_setenv("GIT_CONFIG_NOSYSTEM", "1", TRUE);
  g_setenv("GIT_TERMINAL_PROMPT", "0", TRUE);
  const char *const unset[] = { "GIT_DIR",
                                "GIT_WORK_TREE",
                                "GIT_INDEX_FILE",
                                "GIT_AUTHOR_NAME",
                                "GIT_AUTHOR_EMAIL",
                                "GIT_COMMITTER_NAME",
                                "GIT_COMMITTER_EMAIL",
                                "EMAIL",
                                NULL };
  for (const char *const *u = unset; *u; u++)
    g_unsetenv(*u);

  /* libgit2 reads neither GIT_CONFIG_GLOBAL nor GIT_CONFIG_NOSYSTEM: point
   * its search paths at the empty home. Held for the whole run, so the
   * library's own init/shutdown pairs never reset these settings. */
  git_libgit2_init();
  git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, home);
  git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, home);
  git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, home);
  git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_PROGRAMDATA, home);
}

const char *
vcs_test_tmp(void)
{
  return tmp_root;
}

int
vcs_test_finish(int rc)
{
  git_libgit2_shutdown();
  nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  g_clear_pointer(&tmp_root, g_free);
  return rc;
}

static uid_t chown_to;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return lchown(path, chown_to, chown_to);
}

void
vcs_test_reclaim(void)
{
  chown_to = 0;
  g_assert_cmpint(nftw(tmp_root, chown_one, 16, FTW_PHYS), ==, 0);
}

void
vcs_test_drop_root(void)
{
  chown_to = 65534;
  g_assert_cmpint(nftw(tmp_root, chown_one, 16, FTW_PHYS), ==, 0);
  g_assert_cmpint(setgroups(0, NULL), ==, 0);
  g_assert_cmpint(setgid(65534), ==, 0);
  g_assert_cmpint(setuid(65534), ==, 0);
}
