/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* ar-vcs: the work tree check, status, the orphan stash and auto-commit;
 * acted on with the library (libgit2), checked with the git CLI, on real
 * temporary repositories (helpers and set-up in vcs-test-util.c). */

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "ar-util.h"
#include "ar-vcs-private.h"
#include "ar-vcs.h"
#include "vcs-test-util.h"

/* ---- work tree check ---------------------------------------------------- */

static void
test_check_work_tree(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plain = g_strdup_printf("%s/plain", vcs_test_tmp());
  g_mkdir_with_parents(plain, 0755);
  g_assert_false(ar_vcs_check_work_tree(plain, &error));
  g_assert_error(error, AR_ERROR, AR_ERROR_GIT);
  g_assert_nonnull(strstr(error->message, "git init"));
  g_clear_error(&error);

  g_autofree char *missing = g_strdup_printf("%s/missing", vcs_test_tmp());
  g_assert_false(ar_vcs_check_work_tree(missing, &error));
  g_assert_nonnull(strstr(error->message, "does not exist"));
  g_clear_error(&error);

  g_autofree char *bare = g_strdup_printf("%s/bare.git", vcs_test_tmp());
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
  g_autofree char *outside = g_build_filename(vcs_test_tmp(), "logs-outside", NULL);
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
 * directory, which root ignores, so under root the body runs as nobody in
 * a child. */
static void
stash_rollback_body(void)
{
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

static void
test_stash_rollback(void)
{
  if (geteuid() != 0) {
    stash_rollback_body();
    return;
  }
  pid_t pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0) {
    vcs_test_drop_root();
    stash_rollback_body();
    _exit(0);
  }
  int status = 0;
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  vcs_test_reclaim();
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
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

/* ---- main --------------------------------------------------------------- */

int
main(int argc, char **argv)
{
  vcs_test_init(&argc, &argv);

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

  return vcs_test_finish(g_test_run());
}
