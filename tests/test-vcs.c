/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* ar-vcs: act with the library (libgit2), check with the git CLI, on real
 * temporary repositories. The host's git configuration is kept out: HOME,
 * GIT_CONFIG_GLOBAL and GIT_CONFIG_NOSYSTEM for the CLI, libgit2's search
 * paths for the library. */

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "ar-util.h"
#include "ar-vcs-private.h"
#include "ar-vcs.h"

static char *tmp_root;
static guint repo_counter;

/* ---- helpers ---------------------------------------------------------- */

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
static G_GNUC_NULL_TERMINATED char *
git(const char *dir, ...)
{
  va_list ap;
  va_start(ap, dir);
  char *out = NULL;
  g_autofree char *err = NULL;
  gboolean ok = run_git_v(dir, &out, &err, ap);
  va_end(ap);
  if (!ok)
    g_error("git failed in %s: %s", dir, err);
  return out;
}

/* git -C dir ARGS...: returns whether it succeeded. */
static G_GNUC_NULL_TERMINATED gboolean
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
static G_GNUC_NULL_TERMINATED char *
git_line(const char *dir, ...)
{
  va_list ap;
  va_start(ap, dir);
  char *out = NULL;
  g_autofree char *err = NULL;
  gboolean ok = run_git_v(dir, &out, &err, ap);
  va_end(ap);
  if (!ok)
    g_error("git failed in %s: %s", dir, err);
  return g_strchomp(out);
}

static void
write_bytes(const char *dir, const char *rel, const void *data, gsize len)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
  g_autoptr(GError) error = NULL;
  g_file_set_contents(path, data, len, &error);
  g_assert_no_error(error);
}

static void
write_file(const char *dir, const char *rel, const char *text)
{
  write_bytes(dir, rel, text, strlen(text));
}

static void
remove_file(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_assert_cmpint(g_unlink(path), ==, 0);
}

static GBytes *
read_bytes(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, NULL))
    return NULL;
  return g_bytes_new_take(data, len);
}

static char *
read_text(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  char *data = NULL;
  g_file_get_contents(path, &data, NULL, NULL);
  return data;
}

static gboolean
exists(const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  struct stat st;
  return lstat(path, &st) == 0;
}

static guint
count_lines(const char *text)
{
  guint n = 0;
  for (const char *p = text; *p; p++)
    if (*p == '\n')
      n++;
  return n;
}

static void
assert_files(GPtrArray *files, const char *const *expected)
{
  g_autoptr(GString) got = g_string_new(NULL);
  for (guint i = 0; files && i < files->len; i++)
    g_string_append_printf(got, "%s%s", i ? " " : "", (char *)g_ptr_array_index(files, i));
  g_autofree char *want = g_strjoinv(" ", (char **)expected);
  g_assert_cmpstr(got->str, ==, want);
}

/* A committed repository: a.txt, b.txt, bin.dat, src/c.c, .gitignore. */
static char *
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

static char *
make_empty_repo(void)
{
  char *dir = g_strdup_printf("%s/repo%u", tmp_root, ++repo_counter);
  g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
  g_free(git(dir, "init", "-q", "-b", "main", NULL));
  g_free(git(dir, "config", "user.name", "Test User", NULL));
  g_free(git(dir, "config", "user.email", "test@example.com", NULL));
  return dir;
}

/* ---- work tree check ---------------------------------------------------- */

static void
test_check_work_tree(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plain = g_strdup_printf("%s/plain", tmp_root);
  g_mkdir_with_parents(plain, 0755);
  g_assert_false(ar_vcs_check_work_tree(plain, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_GIT);
  g_assert_nonnull(strstr(error->message, "git init"));
  g_clear_error(&error);

  g_autofree char *missing = g_strdup_printf("%s/missing", tmp_root);
  g_assert_false(ar_vcs_check_work_tree(missing, &error));
  g_assert_nonnull(strstr(error->message, "does not exist"));
  g_clear_error(&error);

  g_autofree char *bare = g_strdup_printf("%s/bare.git", tmp_root);
  g_mkdir_with_parents(bare, 0755);
  g_free(git(bare, "init", "-q", "--bare", NULL));
  g_assert_false(ar_vcs_check_work_tree(bare, &error));
  g_assert_nonnull(strstr(error->message, "bare"));
  g_clear_error(&error);

  g_autofree char *unborn = make_empty_repo();
  g_assert_true(ar_vcs_check_work_tree(unborn, &error));
  g_assert_no_error(error);

  g_autofree char *repo = make_repo(TRUE);
  g_assert_true(ar_vcs_check_work_tree(repo, &error));
  g_autofree char *sub = g_build_filename(repo, "src", NULL);
  g_assert_true(ar_vcs_check_work_tree(sub, &error));
  g_assert_no_error(error);

  g_autofree char *head = ar_vcs_head_sha(repo);
  g_autofree char *cli_head = git_line(repo, "rev-parse", "HEAD", NULL);
  g_assert_cmpstr(head, ==, cli_head);
}

/* ---- status and exclusions ---------------------------------------------- */

static void
test_status(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArVcsStatus) clean = ar_vcs_status(repo, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(clean->count, ==, 0);

  write_file(repo, "a.txt", "changed\n");
  write_file(repo, "new/dir/deep.txt", "deep\n");
  write_file(repo, "new/top.txt", "top\n");
  write_file(repo, "x.log", "ignored\n");
  write_file(repo, "ignored/y.txt", "ignored\n");
  g_free(git(repo, "mv", "b.txt", "b2.txt", NULL));

  g_autoptr(ArVcsStatus) st = ar_vcs_status(repo, NULL, &error);
  g_assert_no_error(error);
  const char *const want[] = { "a.txt", "b2.txt", "new/dir/deep.txt", "new/top.txt", NULL };
  assert_files(st->files, want);
  g_assert_cmpuint(st->count, ==, 4);
}

static void
test_status_excludes(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  write_file(repo, "logs/events-2026-01.jsonl", "{}\n");
  write_file(repo, "plugin-data/memo.md", "memo\n");
  write_file(repo, "owned.txt", "owned\n");
  write_file(repo, "deep/x.tmp", "tmp\n");
  write_file(repo, "src/c.c", "int main(void) { return 1; }\n");
  write_file(repo, "keep.txt", "keep\n");

  const char *const owned[] = { "plugin-data/", "owned.txt", "**/*.tmp", NULL };
  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, owned);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArVcsStatus) st = ar_vcs_status(repo, ex, &error);
  g_assert_no_error(error);
  const char *const want[] = { "keep.txt", "src/c.c", NULL };
  assert_files(st->files, want);

  /* work_dir below the top: owned paths are relative to work_dir. */
  g_autofree char *sub = g_build_filename(repo, "src", NULL);
  write_file(repo, "src/data/state.json", "{}\n");
  const char *const owned_sub[] = { "data", NULL };
  g_autoptr(ArVcsExcludes) ex_sub = ar_vcs_excludes_new(log_dir, owned_sub);
  g_autoptr(ArVcsStatus) st_sub = ar_vcs_status(sub, ex_sub, &error);
  g_assert_no_error(error);
  const char *const want_sub[] = { "deep/x.tmp",          "keep.txt", "owned.txt",
                                   "plugin-data/memo.md", "src/c.c",  NULL };
  assert_files(st_sub->files, want_sub);

  /* A log dir outside the work tree, or ignored, excludes nothing. */
  g_autofree char *outside = g_build_filename(tmp_root, "logs-outside", NULL);
  g_autoptr(ArVcsExcludes) ex_out = ar_vcs_excludes_new(outside, NULL);
  g_autoptr(ArVcsStatus) st_out = ar_vcs_status(repo, ex_out, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(st_out->count, ==, 7);
}

typedef struct {
  char *repo;
  guint count;
} ThreadArgs;

static gpointer
status_thread(gpointer data)
{
  ThreadArgs *args = data;
  for (int i = 0; i < 5; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(ArVcsStatus) st = ar_vcs_status(args->repo, NULL, &error);
    g_assert_no_error(error);
    args->count = st->count;
  }
  return NULL;
}

static void
test_status_threads(void)
{
  g_autofree char *repo = make_repo(TRUE);
  write_file(repo, "a.txt", "changed\n");
  write_file(repo, "u1.txt", "u\n");
  ThreadArgs args[4];
  GThread *threads[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (ThreadArgs){ repo, 0 };
    threads[i] = g_thread_new("status", status_thread, &args[i]);
  }
  for (int i = 0; i < 4; i++) {
    g_thread_join(threads[i]);
    g_assert_cmpuint(args[i].count, ==, 2);
  }
}

/* ---- unborn branch ------------------------------------------------------ */

static void
test_unborn(void)
{
  g_autofree char *repo = make_empty_repo();
  write_file(repo, "first.txt", "first\n");
  write_file(repo, "logs/state.json", "{}\n");
  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null(ar_vcs_head_sha(repo));
  g_autoptr(ArVcsStatus) st = ar_vcs_status(repo, ex, &error);
  g_assert_no_error(error);
  const char *const want[] = { "first.txt", NULL };
  assert_files(st->files, want);

  g_auto(ArVcsStashResult) stash = { 0 };
  g_assert_false(ar_vcs_stash_orphan(repo, ex, 1, NULL, 5, &stash, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_GIT);
  g_assert_nonnull(strstr(error->message, "first commit"));
  g_clear_error(&error);
  g_assert_true(exists(repo, "first.txt"));

  /* auto-commit makes the first commit, without the log dir */
  g_auto(ArVcsCommitResult) commit = { 0 };
  g_assert_true(ar_vcs_auto_commit(repo, ex, 1, NULL, &commit, &error));
  g_assert_no_error(error);
  g_assert_true(commit.committed);
  g_autofree char *head = git_line(repo, "rev-parse", "HEAD", NULL);
  g_assert_cmpstr(commit.sha, ==, head);
  g_autofree char *head_lib = ar_vcs_head_sha(repo);
  g_assert_cmpstr(head_lib, ==, head);
  g_autofree char *count = git_line(repo, "rev-list", "--count", "HEAD", NULL);
  g_assert_cmpstr(count, ==, "1");
  g_autofree char *subject = git_line(repo, "log", "-1", "--format=%s", NULL);
  g_assert_cmpstr(subject, ==, "agent-runner auto-commit: R1");
  g_autofree char *names = git(repo, "ls-tree", "-r", "--name-only", "HEAD", NULL);
  g_assert_cmpstr(names, ==, "first.txt\n");
  assert_files(commit.files, want);
}

/* ---- orphan stash ------------------------------------------------------- */

static void
test_stash_basic(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  write_file(repo, "a.txt", "line one\nmodified by the agent\nline three\n");
  remove_file(repo, "b.txt");
  write_file(repo, "staged.txt", "staged\n");
  g_free(git(repo, "add", "staged.txt", NULL));
  write_file(repo, "u/x.txt", "untracked content\n");
  write_file(repo, "logs/events-2026-05.jsonl", "{\"event\":\"round_start\"}\n");
  write_file(repo, "owned.txt", "plugin memo\n");
  write_file(repo, "x.log", "ignored\n");

  const char *const owned[] = { "owned.txt", NULL };
  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, owned);
  g_autoptr(GError) error = NULL;
  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, ex, 7, "diverge", 5, &res, &error));
  g_assert_no_error(error);
  g_assert_false(res.reused);
  g_assert_true(g_regex_match_simple(
      "^ORPHAN R7 phase=diverge ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$",
      res.message, 0, 0));
  const char *const want[] = { "a.txt", "b.txt", "staged.txt", "u/x.txt", NULL };
  assert_files(res.files, want);

  /* The CLI sees our stash as one of its own. */
  g_autofree char *ref = git_line(repo, "rev-parse", "refs/stash", NULL);
  g_assert_cmpstr(res.sha, ==, ref);
  g_free(git(repo, "fsck", "--strict", "--no-dangling", NULL));
  g_autofree char *list = git(repo, "stash", "list", NULL);
  g_autofree char *want_line = g_strdup_printf("stash@{0}: On main: %s\n", res.message);
  g_assert_cmpstr(list, ==, want_line);
  g_autofree char *parents = git_line(repo, "log", "-1", "--format=%P", res.sha, NULL);
  g_auto(GStrv) parent_list = g_strsplit(parents, " ", -1);
  g_assert_cmpuint(g_strv_length(parent_list), ==, 3);
  g_autofree char *show = git(repo, "stash", "show", "-p", "--include-untracked", res.sha, NULL);
  g_assert_nonnull(strstr(show, "+modified by the agent"));
  g_assert_nonnull(strstr(show, "+untracked content"));
  g_assert_nonnull(strstr(show, "+staged"));
  g_assert_null(strstr(show, "logs/"));
  g_assert_null(strstr(show, "owned.txt"));
  g_assert_null(strstr(show, "x.log"));

  /* Our own patch says the same. */
  g_autofree char *diff = ar_vcs_orphan_diff(repo, res.sha, &error);
  g_assert_no_error(error);
  g_assert_nonnull(strstr(diff, "+++ b/a.txt"));
  g_assert_nonnull(strstr(diff, "+++ b/u/x.txt"));
  g_assert_nonnull(strstr(diff, "--- a/b.txt"));
  g_assert_null(strstr(diff, "owned.txt"));

  /* Clean, except for what is excluded, which is untouched. */
  g_autofree char *porcelain = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain, ==, "?? logs/\n?? owned.txt\n");
  g_autofree char *log_text = read_text(repo, "logs/events-2026-05.jsonl");
  g_assert_cmpstr(log_text, ==, "{\"event\":\"round_start\"}\n");
  g_assert_true(exists(repo, "x.log"));
  g_assert_false(exists(repo, "u"));
  g_autofree char *b = read_text(repo, "b.txt");
  g_assert_cmpstr(b, ==, "bee\n");

  /* And the CLI can apply it. */
  g_free(git(repo, "stash", "apply", res.sha, NULL));
  g_autofree char *a = read_text(repo, "a.txt");
  g_assert_cmpstr(a, ==, "line one\nmodified by the agent\nline three\n");
  g_autofree char *ux = read_text(repo, "u/x.txt");
  g_assert_cmpstr(ux, ==, "untracked content\n");
  g_assert_false(exists(repo, "b.txt"));
}

static void
test_stash_excluded_tracked(void)
{
  /* Tracked files inside the log dir and a plugin-owned directory:
   * modified and staged, they stay so after the stash. */
  g_autofree char *repo = make_repo(TRUE);
  write_file(repo, "logs/keep.json", "v1\n");
  write_file(repo, "memos/m.md", "v1\n");
  g_free(git(repo, "add", "-A", NULL));
  g_free(git(repo, "commit", "-q", "-m", "tracked logs", NULL));
  write_file(repo, "logs/keep.json", "v2\n");
  g_free(git(repo, "add", "logs/keep.json", NULL));
  write_file(repo, "memos/m.md", "v2\n");
  write_file(repo, "memos/new.md", "new\n");
  write_file(repo, "a.txt", "agent\n");

  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  const char *const owned[] = { "memos", NULL };
  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, owned);
  g_autoptr(GError) error = NULL;
  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, ex, 2, NULL, 5, &res, &error));
  g_assert_no_error(error);
  const char *const want[] = { "a.txt", NULL };
  assert_files(res.files, want);
  g_autofree char *porcelain = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain, ==, "M  logs/keep.json\n M memos/m.md\n?? memos/new.md\n");
  g_autofree char *stat =
      git(repo, "stash", "show", "--name-only", "--include-untracked", res.sha, NULL);
  g_assert_cmpstr(stat, ==, "a.txt\n");
  g_assert_true(g_regex_match_simple("^ORPHAN R2 ts=", res.message, 0, 0));
}

static void
test_stash_idempotent(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;

  write_file(repo, "a.txt", "first try\n");
  g_auto(ArVcsStashResult) first = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 3, NULL, 3600, &first, &error));
  g_assert_no_error(error);

  /* The same round again, within the window: reused, no second stash. */
  write_file(repo, "a.txt", "second try\n");
  g_auto(ArVcsStashResult) again = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 3, NULL, 3600, &again, &error));
  g_assert_no_error(error);
  g_assert_true(again.reused);
  g_assert_cmpstr(again.sha, ==, first.sha);
  g_assert_cmpstr(again.message, ==, first.message);
  const char *const want[] = { "a.txt", NULL };
  assert_files(again.files, want);
  g_autofree char *list = git(repo, "stash", "list", NULL);
  g_assert_cmpuint(count_lines(list), ==, 1);

  /* Another round is another stash... */
  g_auto(ArVcsStashResult) r31 = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 31, NULL, 3600, &r31, &error));
  g_assert_no_error(error);
  g_assert_false(r31.reused);
  /* ...and R3 is not R31. */
  write_file(repo, "a.txt", "third try\n");
  g_auto(ArVcsStashResult) r3 = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 3, NULL, 3600, &r3, &error));
  g_assert_no_error(error);
  g_assert_false(r3.reused);
  /* A window of 0 never reuses. */
  write_file(repo, "a.txt", "fourth try\n");
  g_auto(ArVcsStashResult) r3b = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 3, NULL, 0, &r3b, &error));
  g_assert_no_error(error);
  g_assert_false(r3b.reused);
  g_autofree char *list2 = git(repo, "stash", "list", NULL);
  g_assert_cmpuint(count_lines(list2), ==, 4);
}

static void
test_stash_nothing(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  write_file(repo, "logs/only.txt", "log\n");
  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, NULL);
  g_autoptr(GError) error = NULL;
  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_false(ar_vcs_stash_orphan(repo, ex, 1, NULL, 5, &res, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_GIT);
  g_assert_false(git_ok(repo, "rev-parse", "--verify", "-q", "refs/stash", NULL));
  g_assert_true(exists(repo, "logs/only.txt"));
}

static void
test_stash_locked_index(void)
{
  g_autofree char *repo = make_repo(TRUE);
  write_file(repo, "a.txt", "agent\n");
  write_file(repo, ".git/index.lock", "");
  g_autoptr(GError) error = NULL;
  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_false(ar_vcs_stash_orphan(repo, NULL, 1, NULL, 5, &res, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_BUSY);
  g_assert_nonnull(strstr(error->message, "index.lock"));
  g_assert_false(git_ok(repo, "rev-parse", "--verify", "-q", "refs/stash", NULL));
  g_autofree char *a = read_text(repo, "a.txt");
  g_assert_cmpstr(a, ==, "agent\n");
}

/* A failure half-way through cleaning the tree puts everything back and
 * drops the stash. Needs a file that cannot be removed: a read-only
 * directory, which root ignores. */
static void
test_stash_rollback(void)
{
  if (geteuid() == 0) {
    g_test_skip("root can remove files from read-only directories");
    return;
  }
  g_autofree char *repo = make_repo(TRUE);
  write_file(repo, "a.txt", "agent\n");
  write_file(repo, "a-new.txt", "new\n");
  write_file(repo, "locked/x.txt", "x\n");
  g_autofree char *locked = g_build_filename(repo, "locked", NULL);
  g_assert_cmpint(g_chmod(locked, 0555), ==, 0);

  g_autoptr(GError) error = NULL;
  g_auto(ArVcsStashResult) res = { 0 };
  gboolean ok = ar_vcs_stash_orphan(repo, NULL, 1, NULL, 5, &res, &error);
  g_chmod(locked, 0755);
  g_assert_false(ok);
  g_assert_nonnull(strstr(error->message, "work tree restored"));
  g_autofree char *porcelain = git(repo, "status", "--porcelain", "--untracked-files=all", NULL);
  g_assert_cmpstr(porcelain, ==, " M a.txt\n?? a-new.txt\n?? locked/x.txt\n");
  g_autofree char *a = read_text(repo, "a.txt");
  g_assert_cmpstr(a, ==, "agent\n");
  g_autofree char *n = read_text(repo, "a-new.txt");
  g_assert_cmpstr(n, ==, "new\n");
  g_autofree char *list = git(repo, "stash", "list", NULL);
  g_assert_cmpstr(list, ==, "");
}

/* ---- auto-commit -------------------------------------------------------- */

static void
test_auto_commit(void)
{
  g_autofree char *repo = make_repo(TRUE);
  /* Signing is configured, and would fail: auto-commit must not sign. */
  g_free(git(repo, "config", "commit.gpgsign", "true", NULL));
  g_free(git(repo, "config", "gpg.program", "false", NULL));
  g_autofree char *old_head = git_line(repo, "rev-parse", "HEAD", NULL);

  write_file(repo, "a.txt", "agent edit\n");
  write_file(repo, "n.txt", "new file\n");
  remove_file(repo, "b.txt");
  write_file(repo, "logs/events.jsonl", "{}\n");
  write_file(repo, "owned.txt", "owned\n");
  g_free(git(repo, "add", "owned.txt", NULL)); /* staged, but excluded */

  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  const char *const owned[] = { "owned.txt", NULL };
  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, owned);
  g_autoptr(GError) error = NULL;
  g_auto(ArVcsCommitResult) res = { 0 };
  g_assert_true(ar_vcs_auto_commit(repo, ex, 5, "build", &res, &error));
  g_assert_no_error(error);
  g_assert_true(res.committed);
  const char *const want[] = { "a.txt", "b.txt", "n.txt", NULL };
  assert_files(res.files, want);

  g_autofree char *head = git_line(repo, "rev-parse", "HEAD", NULL);
  g_assert_cmpstr(res.sha, ==, head);
  g_autofree char *parent = git_line(repo, "rev-parse", "HEAD~1", NULL);
  g_assert_cmpstr(parent, ==, old_head);
  g_autofree char *subject = git_line(repo, "log", "-1", "--format=%s", NULL);
  g_assert_cmpstr(subject, ==, "agent-runner auto-commit: R5 build");
  g_autofree char *author = git_line(repo, "log", "-1", "--format=%an <%ae>", NULL);
  g_assert_cmpstr(author, ==, "Test User <test@example.com>");
  g_autofree char *names = git(repo, "show", "--name-only", "--format=", "HEAD", NULL);
  g_assert_cmpstr(names, ==, "a.txt\nb.txt\nn.txt\n");
  g_autofree char *raw = git(repo, "cat-file", "commit", "HEAD", NULL);
  g_assert_null(strstr(raw, "gpgsig"));
  g_autofree char *porcelain = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain, ==, "A  owned.txt\n?? logs/\n");

  /* Nothing left to commit: skipped, not an error. */
  g_auto(ArVcsCommitResult) again = { 0 };
  g_assert_true(ar_vcs_auto_commit(repo, ex, 6, NULL, &again, &error));
  g_assert_no_error(error);
  g_assert_false(again.committed);
  g_assert_null(again.sha);
  g_autofree char *head2 = git_line(repo, "rev-parse", "HEAD", NULL);
  g_assert_cmpstr(head2, ==, head);
}

static void
test_auto_commit_no_identity(void)
{
  g_autofree char *repo = make_repo(FALSE);
  g_autofree char *old_head = git_line(repo, "rev-parse", "HEAD", NULL);
  write_file(repo, "a.txt", "agent edit\n");
  g_autoptr(GError) error = NULL;
  g_auto(ArVcsCommitResult) res = { 0 };
  g_assert_false(ar_vcs_auto_commit(repo, NULL, 1, NULL, &res, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_GIT);
  g_assert_nonnull(strstr(error->message, "git config user.name"));
  g_assert_nonnull(strstr(error->message, "git config user.email"));
  g_assert_false(res.committed);
  g_autofree char *head = git_line(repo, "rev-parse", "HEAD", NULL);
  g_assert_cmpstr(head, ==, old_head);
  g_autofree char *porcelain = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain, ==, " M a.txt\n");

  /* A stash still works without an identity. */
  g_auto(ArVcsStashResult) stash = { 0 };
  g_clear_error(&error);
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 1, NULL, 5, &stash, &error));
  g_assert_no_error(error);
  g_autofree char *list = git(repo, "stash", "list", NULL);
  g_assert_cmpuint(count_lines(list), ==, 1);
}

/* ---- orphans: list, pop ------------------------------------------------- */

static void
test_user_stash_between(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;
  write_file(repo, "a.txt", "orphaned work\n");
  g_auto(ArVcsStashResult) orphan = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 1, "plan", 5, &orphan, &error));
  g_assert_no_error(error);

  /* The operator stashes something of their own on top. */
  write_file(repo, "b.txt", "user work\n");
  g_free(git(repo, "stash", "push", "-q", "-m", "user work", NULL));
  g_autofree char *user_sha = git_line(repo, "rev-parse", "refs/stash", NULL);

  g_autoptr(GPtrArray) list = ar_vcs_list_orphans(repo, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 1);
  ArVcsOrphan *o = g_ptr_array_index(list, 0);
  g_assert_cmpstr(o->sha, ==, orphan.sha);
  g_assert_cmpstr(o->message, ==, orphan.message);
  g_assert_cmpuint(o->round_num, ==, 1);
  g_assert_cmpstr(o->phase, ==, "plan");
  g_assert_cmpint(o->created, >, 0);
  g_autofree char *orphan_ct = git_line(repo, "show", "-s", "--format=%ct", orphan.sha, NULL);
  g_assert_cmpint(o->created, ==, g_ascii_strtoll(orphan_ct, NULL, 10));
  const char *const want[] = { "a.txt", NULL };
  assert_files(o->files, want);

  /* Pop by (abbreviated) SHA: the user's stash is stash@{0} now, ours @{1}. */
  g_autofree char *abbrev = g_strndup(orphan.sha, 10);
  g_assert_true(ar_vcs_orphan_pop(repo, abbrev, &error));
  g_assert_no_error(error);
  g_autofree char *a = read_text(repo, "a.txt");
  g_assert_cmpstr(a, ==, "orphaned work\n");
  g_autofree char *stashes = git(repo, "stash", "list", "--format=%H %gs", NULL);
  g_autofree char *want_list = g_strdup_printf("%s On main: user work\n", user_sha);
  g_assert_cmpstr(stashes, ==, want_list);
  g_autofree char *ref = git_line(repo, "rev-parse", "refs/stash", NULL);
  g_assert_cmpstr(ref, ==, user_sha);

  /* Popping it again: not found, and nothing else is touched. */
  g_assert_false(ar_vcs_orphan_pop(repo, orphan.sha, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_false(ar_vcs_orphan_pop(repo, "zz", &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS);
  g_clear_error(&error);
  g_autoptr(GPtrArray) none = ar_vcs_list_orphans(repo, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(none->len, ==, 0);
}

static void
test_pop_exact(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;

  guchar bin[1024];
  for (guint i = 0; i < sizeof bin; i++)
    bin[i] = (guchar)(255 - i % 256);
  bin[10] = 0;
  guchar ubin[256];
  for (guint i = 0; i < sizeof ubin; i++)
    ubin[i] = (guchar)i;
  write_file(repo, "a.txt", "line one\nline 2 changed\r\nno newline at end");
  write_bytes(repo, "bin.dat", bin, sizeof bin);
  remove_file(repo, "b.txt");
  write_file(repo, "u.txt", "untracked\n");
  write_bytes(repo, "dir/sub/u.bin", ubin, sizeof ubin);
  write_file(repo, "s.txt", "staged new\n");
  g_free(git(repo, "add", "s.txt", NULL));
  write_file(repo, "run.sh", "#!/bin/sh\necho hi\n");
  g_autofree char *run = g_build_filename(repo, "run.sh", NULL);
  g_assert_cmpint(g_chmod(run, 0755), ==, 0);

  const char *paths[] = { "a.txt", "bin.dat", "u.txt", "dir/sub/u.bin", "s.txt", "run.sh" };
  GBytes *before[G_N_ELEMENTS(paths)];
  for (guint i = 0; i < G_N_ELEMENTS(paths); i++)
    before[i] = read_bytes(repo, paths[i]);

  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 9, NULL, 5, &res, &error));
  g_assert_no_error(error);
  g_autofree char *porcelain = git(repo, "status", "--porcelain", "--untracked-files=all", NULL);
  g_assert_cmpstr(porcelain, ==, "");
  g_assert_false(exists(repo, "dir"));
  g_assert_true(exists(repo, "b.txt"));

  g_assert_true(ar_vcs_orphan_pop(repo, res.sha, &error));
  g_assert_no_error(error);
  for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
    g_autoptr(GBytes) after = read_bytes(repo, paths[i]);
    g_assert_nonnull(after);
    g_assert_true(g_bytes_equal(before[i], after));
    g_bytes_unref(before[i]);
  }
  g_assert_false(exists(repo, "b.txt"));
  struct stat st;
  g_assert_cmpint(stat(run, &st), ==, 0);
  g_assert_true(st.st_mode & S_IXUSR);
  g_autofree char *staged = git(repo, "diff", "--cached", "--name-only", NULL);
  g_assert_cmpstr(staged, ==, "s.txt\n");
  g_autofree char *list = git(repo, "stash", "list", NULL);
  g_assert_cmpstr(list, ==, "");
  g_assert_false(git_ok(repo, "rev-parse", "--verify", "-q", "refs/stash", NULL));
}

static void
test_pop_refuses(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;
  write_file(repo, "a.txt", "line one\nstash version\nline three\n");
  write_file(repo, "u.txt", "untracked from the stash\n");
  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 4, NULL, 5, &res, &error));
  g_assert_no_error(error);

  /* 1. a local change to a file the stash changes */
  write_file(repo, "a.txt", "local version\n");
  g_assert_false(ar_vcs_orphan_pop(repo, res.sha, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_GIT);
  g_assert_nonnull(strstr(error->message, "a.txt"));
  g_assert_null(strstr(error->message, "u.txt"));
  g_clear_error(&error);
  g_autofree char *a1 = read_text(repo, "a.txt");
  g_assert_cmpstr(a1, ==, "local version\n");
  g_assert_false(exists(repo, "u.txt"));
  g_autofree char *ref1 = git_line(repo, "rev-parse", "refs/stash", NULL);
  g_assert_cmpstr(ref1, ==, res.sha);

  /* 2. a local file where the stash has an untracked one (even ignored) */
  g_free(git(repo, "checkout", "--", "a.txt", NULL));
  write_file(repo, "u.txt", "mine\n");
  g_assert_false(ar_vcs_orphan_pop(repo, res.sha, &error));
  g_assert_nonnull(strstr(error->message, "u.txt"));
  g_assert_null(strstr(error->message, "a.txt"));
  g_clear_error(&error);
  g_autofree char *u2 = read_text(repo, "u.txt");
  g_assert_cmpstr(u2, ==, "mine\n");
  g_autofree char *a2 = read_text(repo, "a.txt");
  g_assert_cmpstr(a2, ==, "line one\nline two\nline three\n");

  /* 2b. a file where the stash needs a directory */
  g_autofree char *repo_d = make_repo(TRUE);
  write_file(repo_d, "d/inner.txt", "in a new directory\n");
  g_auto(ArVcsStashResult) res_d = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo_d, NULL, 1, NULL, 5, &res_d, &error));
  g_assert_no_error(error);
  g_assert_false(exists(repo_d, "d"));
  write_file(repo_d, "d", "a file named d\n");
  g_assert_false(ar_vcs_orphan_pop(repo_d, res_d.sha, &error));
  g_assert_nonnull(strstr(error->message, "d/inner.txt"));
  g_clear_error(&error);
  g_autofree char *d_text = read_text(repo_d, "d");
  g_assert_cmpstr(d_text, ==, "a file named d\n");

  /* 3. a commit since then that conflicts with the stash */
  remove_file(repo, "u.txt");
  write_file(repo, "a.txt", "line one\ncommitted version\nline three\n");
  g_free(git(repo, "commit", "-q", "-am", "conflicting", NULL));
  g_assert_false(ar_vcs_orphan_pop(repo, res.sha, &error));
  g_assert_nonnull(strstr(error->message, "a.txt"));
  g_clear_error(&error);
  g_autofree char *porcelain = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain, ==, "");
  g_autofree char *list = git(repo, "stash", "list", NULL);
  g_assert_cmpuint(count_lines(list), ==, 1);

  /* 4. a commit that does not conflict: merged in, as git does */
  g_free(git(repo, "reset", "-q", "--hard", "HEAD~1", NULL));
  write_file(repo, "b.txt", "committed bee\n");
  g_free(git(repo, "commit", "-q", "-am", "other file", NULL));
  g_assert_true(ar_vcs_orphan_pop(repo, res.sha, &error));
  g_assert_no_error(error);
  g_autofree char *a4 = read_text(repo, "a.txt");
  g_assert_cmpstr(a4, ==, "line one\nstash version\nline three\n");
  g_autofree char *b4 = read_text(repo, "b.txt");
  g_assert_cmpstr(b4, ==, "committed bee\n");
  g_autofree char *u4 = read_text(repo, "u.txt");
  g_assert_cmpstr(u4, ==, "untracked from the stash\n");
  g_autofree char *porcelain4 = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain4, ==, " M a.txt\n?? u.txt\n");
}

static void
test_orphan_drop(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;
  write_file(repo, "a.txt", "one\n");
  g_auto(ArVcsStashResult) r1 = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 1, NULL, 5, &r1, &error));
  write_file(repo, "a.txt", "two\n");
  g_auto(ArVcsStashResult) r2 = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 2, NULL, 5, &r2, &error));
  g_assert_no_error(error);
  /* Drop the newest: refs/stash moves back to the older one. */
  g_assert_true(ar_vcs_orphan_drop(repo, r2.sha, &error));
  g_assert_no_error(error);
  g_autofree char *ref = git_line(repo, "rev-parse", "refs/stash", NULL);
  g_assert_cmpstr(ref, ==, r1.sha);
  g_autofree char *list = git(repo, "stash", "list", "--format=%H", NULL);
  g_autofree char *want = g_strdup_printf("%s\n", r1.sha);
  g_assert_cmpstr(list, ==, want);
}

/* A tracked file replaced by a directory of the same name. */
static void
test_file_to_dir(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autoptr(GError) error = NULL;
  remove_file(repo, "b.txt");
  write_file(repo, "b.txt/inside.txt", "now a directory\n");

  g_auto(ArVcsStashResult) res = { 0 };
  g_assert_true(ar_vcs_stash_orphan(repo, NULL, 1, NULL, 5, &res, &error));
  g_assert_no_error(error);
  const char *const want[] = { "b.txt", "b.txt/inside.txt", NULL };
  assert_files(res.files, want);
  g_autofree char *b = read_text(repo, "b.txt");
  g_assert_cmpstr(b, ==, "bee\n");
  g_assert_true(ar_vcs_orphan_pop(repo, res.sha, &error));
  g_assert_no_error(error);
  g_autofree char *inside = read_text(repo, "b.txt/inside.txt");
  g_assert_cmpstr(inside, ==, "now a directory\n");

  g_auto(ArVcsCommitResult) commit = { 0 };
  g_assert_true(ar_vcs_auto_commit(repo, NULL, 2, NULL, &commit, &error));
  g_assert_no_error(error);
  g_assert_true(commit.committed);
  g_autofree char *names = git(repo, "ls-tree", "-r", "--name-only", "HEAD", NULL);
  g_assert_cmpstr(names, ==, ".gitignore\na.txt\nb.txt/inside.txt\nbin.dat\nsrc/c.c\n");
  g_autofree char *porcelain = git(repo, "status", "--porcelain", NULL);
  g_assert_cmpstr(porcelain, ==, "");
}

/* ---- substrate fingerprint ---------------------------------------------- */

static char *
expected_hash(const char *repo, const char *const *rels)
{
  g_autoptr(GChecksum) chain = g_checksum_new(G_CHECKSUM_SHA256);
  for (const char *const *r = rels; *r; r++) {
    g_autoptr(GBytes) b = read_bytes(repo, *r);
    g_autofree char *digest = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b);
    g_autofree char *line = g_strdup_printf("%s\n%s\n", *r, digest);
    g_checksum_update(chain, (const guchar *)line, strlen(line));
  }
  return g_strdup(g_checksum_get_string(chain));
}

static void
test_paths_hash(void)
{
  g_autofree char *repo = make_repo(TRUE);
  write_file(repo, "src/sub/b.c", "b\n");
  write_file(repo, "src/readme.md", "readme\n");
  write_file(repo, "top.c", "top\n");
  g_free(git(repo, "add", "-A", NULL));
  g_free(git(repo, "commit", "-q", "-m", "more", NULL));
  write_file(repo, "src/untracked.c", "untracked\n");
  write_file(repo, "ignored/z.c", "ignored\n");

  g_autoptr(GError) error = NULL;
  const char *const globs[] = { "src/**/*.c", NULL };
  g_autofree char *h1 = ar_vcs_paths_hash(repo, globs, &error);
  g_assert_no_error(error);
  g_autofree char *h2 = ar_vcs_paths_hash(repo, globs, &error);
  g_assert_cmpstr(h1, ==, h2);
  const char *const matched[] = { "src/c.c", "src/sub/b.c", "src/untracked.c", NULL };
  g_autofree char *want = expected_hash(repo, matched);
  g_assert_cmpstr(h1, ==, want);

  /* Non-matching changes leave it alone. */
  write_file(repo, "src/readme.md", "readme changed\n");
  write_file(repo, "top.c", "top changed\n");
  write_file(repo, "ignored/y.c", "ignored too\n");
  g_autofree char *h3 = ar_vcs_paths_hash(repo, globs, &error);
  g_assert_cmpstr(h3, ==, h1);

  /* A matching change moves it. */
  write_file(repo, "src/sub/b.c", "b changed\n");
  g_autofree char *h4 = ar_vcs_paths_hash(repo, globs, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(h4, !=, h1);

  /* "**" also matches no directory at all; several globs are a union. */
  const char *const globs2[] = { "**/*.c", "*.md", NULL };
  const char *const matched2[] = { "src/c.c", "src/sub/b.c", "src/untracked.c", "top.c", NULL };
  g_autofree char *h5 = ar_vcs_paths_hash(repo, globs2, &error);
  g_autofree char *want5 = expected_hash(repo, matched2);
  g_assert_cmpstr(h5, ==, want5);

  /* Relative to work_dir. */
  g_autofree char *sub = g_build_filename(repo, "src", NULL);
  const char *const globs3[] = { "sub/*.c", NULL };
  g_autofree char *h6 = ar_vcs_paths_hash(sub, globs3, &error);
  g_autofree char *src_dir = g_build_filename(repo, "src", NULL);
  const char *const matched3[] = { "sub/b.c", NULL };
  g_autofree char *want6 = expected_hash(src_dir, matched3);
  g_assert_cmpstr(h6, ==, want6);

  const char *const empty[] = { NULL };
  g_assert_null(ar_vcs_paths_hash(repo, empty, &error));
  g_assert_null(ar_vcs_paths_hash(repo, NULL, &error));
  g_assert_no_error(error);
}

/* One open for HEAD, hash and status gives what the three calls give,
 * also with the log dir inside the tree: its files count for the hash
 * (the status' ignore rule for the log dir must not leak into it) but
 * not for the status, tracked or not. */
static void
test_snapshot(void)
{
  g_autofree char *repo = make_repo(TRUE);
  g_autofree char *log_dir = g_build_filename(repo, "logs", NULL);
  write_file(repo, "logs/tracked.c", "tracked\n");
  g_free(git(repo, "add", "-A", NULL));
  g_free(git(repo, "commit", "-q", "-m", "logs", NULL));
  write_file(repo, "logs/tracked.c", "tracked, changed\n");
  write_file(repo, "logs/rounds/R1.c", "untracked\n");
  write_file(repo, "src/untracked.c", "untracked\n");
  write_file(repo, "a.txt", "changed\n");

  g_autoptr(ArVcsExcludes) ex = ar_vcs_excludes_new(log_dir, NULL);
  const char *const globs[] = { "**/*.c", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *head = ar_vcs_head_sha(repo);
  g_autofree char *hash = ar_vcs_paths_hash(repo, globs, &error);
  g_assert_no_error(error);
  g_autoptr(ArVcsStatus) st = ar_vcs_status(repo, ex, &error);
  g_assert_no_error(error);

  g_auto(ArVcsSnapshot) snap = { 0 };
  g_assert_true(ar_vcs_snapshot(
      repo, ex, globs, AR_VCS_SNAPSHOT_HEAD | AR_VCS_SNAPSHOT_PATHS_HASH | AR_VCS_SNAPSHOT_STATUS,
      &snap, &error));
  g_assert_no_error(error);
  g_assert_nonnull(head);
  g_assert_cmpstr(snap.git_head, ==, head);
  g_assert_cmpstr(snap.paths_hash, ==, hash);
  const char *const matched[] = { "logs/rounds/R1.c", "logs/tracked.c", "src/c.c",
                                  "src/untracked.c", NULL };
  g_autofree char *want_hash = expected_hash(repo, matched);
  g_assert_cmpstr(snap.paths_hash, ==, want_hash);
  const char *const want[] = { "a.txt", "src/untracked.c", NULL };
  assert_files(st->files, want);
  assert_files(snap.status->files, want);
  g_assert_null(snap.status_error);

  /* core.ignorecase: "LOGS/" is not the log dir for the exclusion, so the
   * status must still list it. */
  g_free(git(repo, "config", "core.ignorecase", "true", NULL));
  write_file(repo, "LOGS/other.txt", "other\n");
  g_assert_true(ar_vcs_snapshot(repo, ex, NULL, AR_VCS_SNAPSHOT_STATUS, &snap, &error));
  const char *const want_icase[] = { "LOGS/other.txt", "a.txt", "src/untracked.c", NULL };
  assert_files(snap.status->files, want_icase);
  g_free(git(repo, "config", "core.ignorecase", "false", NULL));

  /* Only the parts asked for; a second call reuses the struct. */
  g_assert_true(ar_vcs_snapshot(repo, NULL, NULL, AR_VCS_SNAPSHOT_HEAD, &snap, &error));
  g_assert_cmpstr(snap.git_head, ==, head);
  g_assert_null(snap.paths_hash);
  g_assert_null(snap.status);

  /* Not a work tree: the error ar_vcs_status() gives, nothing else. */
  g_autofree char *outside = g_build_filename(tmp_root, "not-a-repo", NULL);
  g_assert_cmpint(g_mkdir_with_parents(outside, 0755), ==, 0);
  g_autoptr(GError) want_error = NULL;
  g_assert_null(ar_vcs_status(outside, NULL, &want_error));
  g_assert_false(ar_vcs_snapshot(outside, NULL, globs, AR_VCS_SNAPSHOT_STATUS, &snap, &error));
  g_assert_nonnull(error);
  g_assert_cmpstr(error->message, ==, want_error->message);
  g_assert_null(snap.git_head);
  g_assert_null(snap.status);
}

static void
test_glob(void)
{
  g_assert_true(ar_vcs_glob_match("*.c", "a.c"));
  g_assert_false(ar_vcs_glob_match("*.c", "d/a.c"));
  g_assert_true(ar_vcs_glob_match("**/*.c", "a.c"));
  g_assert_true(ar_vcs_glob_match("**/*.c", "d/e/a.c"));
  g_assert_true(ar_vcs_glob_match("src/**", "src/x/y"));
  g_assert_true(ar_vcs_glob_match("src/**/t_?.[ch]", "src/t_1.h"));
  g_assert_false(ar_vcs_glob_match("src/**/t_?.[ch]", "src/a/t_12.c"));
  g_assert_true(ar_vcs_glob_match("a/**/b/**/c", "a/x/b/y/z/c"));
  g_assert_false(ar_vcs_glob_match("a/**/b", "a/x/c"));
  g_assert_true(ar_vcs_glob_match("[!a]*", "b"));
  g_assert_false(ar_vcs_glob_match("[!a]*", "abc"));
  g_assert_true(ar_vcs_glob_match("\\*", "*"));
  g_assert_false(ar_vcs_glob_match("\\*", "x"));
}

/* ---- main --------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);

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

  g_test_add_func("/vcs/check-work-tree", test_check_work_tree);
  g_test_add_func("/vcs/status", test_status);
  g_test_add_func("/vcs/status-excludes", test_status_excludes);
  g_test_add_func("/vcs/status-threads", test_status_threads);
  g_test_add_func("/vcs/unborn", test_unborn);
  g_test_add_func("/vcs/stash/basic", test_stash_basic);
  g_test_add_func("/vcs/stash/excluded-tracked", test_stash_excluded_tracked);
  g_test_add_func("/vcs/stash/idempotent", test_stash_idempotent);
  g_test_add_func("/vcs/stash/nothing", test_stash_nothing);
  g_test_add_func("/vcs/stash/locked-index", test_stash_locked_index);
  g_test_add_func("/vcs/stash/rollback", test_stash_rollback);
  g_test_add_func("/vcs/auto-commit/basic", test_auto_commit);
  g_test_add_func("/vcs/auto-commit/no-identity", test_auto_commit_no_identity);
  g_test_add_func("/vcs/orphans/user-stash-between", test_user_stash_between);
  g_test_add_func("/vcs/orphans/pop-exact", test_pop_exact);
  g_test_add_func("/vcs/orphans/pop-refuses", test_pop_refuses);
  g_test_add_func("/vcs/orphans/drop", test_orphan_drop);
  g_test_add_func("/vcs/file-to-dir", test_file_to_dir);
  g_test_add_func("/vcs/paths-hash", test_paths_hash);
  g_test_add_func("/vcs/snapshot", test_snapshot);
  g_test_add_func("/vcs/glob", test_glob);

  int rc = g_test_run();
  git_libgit2_shutdown();
  nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  g_free(tmp_root);
  return rc;
}
