/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* ar-vcs's orphan stashes (list, pop, drop), a file that became a folder,
 * and the substrate fingerprint: acted on with the library, checked with
 * the git CLI, on real temporary repositories (vcs-test-util.c). */

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
#include "vcs-test-util.h"

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
  g_autofree char *outside = g_build_filename(vcs_test_tmp(), "not-a-repo", NULL);
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

int
main(int argc, char **argv)
{
  vcs_test_init(&argc, &argv);

  g_test_add_func("/vcs/orphans/user-stash-between", test_user_stash_between);
  g_test_add_func("/vcs/orphans/pop-exact", test_pop_exact);
  g_test_add_func("/vcs/orphans/pop-refuses", test_pop_refuses);
  g_test_add_func("/vcs/orphans/drop", test_orphan_drop);
  g_test_add_func("/vcs/file-to-dir", test_file_to_dir);
  g_test_add_func("/vcs/paths-hash", test_paths_hash);
  g_test_add_func("/vcs/snapshot", test_snapshot);
  g_test_add_func("/vcs/glob", test_glob);

  return vcs_test_finish(g_test_run());
}
