/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared between ar-vcs.c, ar-vcs-stash.c and ar-vcs-orphans.c; not for
 * other code. */

#include <git2.h>

#include "ar-cleanup.h"
#include "ar-vcs.h"

G_BEGIN_DECLS

struct _ArVcsExcludes {
  char *log_dir;    /* as given, NULL if none */
  GPtrArray *owned; /* char *, relative to work_dir */
};

/* An opened work tree. Holds a git_libgit2_init() reference, released
 * after the repository is freed; declare it before any other git object
 * of the scope so g_autoptr frees those first. */
typedef struct {
  git_repository *repo;
  char *root;              /* real path of the top of the work tree, no trailing '/' */
  char *prefix;            /* work_dir relative to root: "" or "sub/dir/" */
  gboolean trust_filemode; /* core.filemode */
  gboolean ignore_case;    /* core.ignorecase */
} ArVcsRepo;

ArVcsRepo *ar_vcs_repo_open(const char *work_dir, GError **error);
void ar_vcs_repo_free(ArVcsRepo *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArVcsRepo, ar_vcs_repo_free)

/* HEAD's commit, or NULL with *unborn set (no error) on an unborn branch. */
git_commit *ar_vcs_head_commit(ArVcsRepo *r, gboolean *unborn, GError **error);

/* FALSE with an error naming `what` when .git/index.lock exists: another
 * git process is at work, and writing the index would fail. */
gboolean ar_vcs_check_index_unlocked(ArVcsRepo *r, const char *what, GError **error);
git_index *ar_vcs_open_clean_index(ArVcsRepo *r, const char *what, GError **error);

/* Exclusions resolved against one opened repository: root-relative. */
typedef struct {
  char *log_rel;    /* NULL when the log dir is not excluded */
  GPtrArray *owned; /* root-relative patterns, no trailing '/' (private type) */
} ArVcsExcludeSet;

ArVcsExcludeSet *ar_vcs_exclude_set_new(ArVcsRepo *r, const ArVcsExcludes *excludes);
void ar_vcs_exclude_set_free(ArVcsExcludeSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArVcsExcludeSet, ar_vcs_exclude_set_free)
gboolean ar_vcs_exclude_set_match(const ArVcsExcludeSet *set, const char *path);

/* One changed path of the work tree. flags are git_status_t bits. */
typedef struct {
  char *path;
  unsigned int flags;
} ArVcsChange;

/* Changed paths (sorted, root-relative) minus the exclusions (set may be
 * NULL). for_report: detect staged renames (reported by the new path) and
 * include submodules, as `git status` shows them; otherwise every path is
 * listed on its own and submodules are left out, which is what stash and
 * commit operate on. */
GPtrArray *ar_vcs_changes_collect(ArVcsRepo *r, const ArVcsExcludeSet *set, gboolean for_report,
                                  GError **error);

/* `*`, `?`, `[...]` within a segment, `**` as a whole segment for zero or
 * more segments, `\` escapes. */
gboolean ar_vcs_glob_match(const char *pattern, const char *path);

/* Mode git would record for a file of the work tree (lstat). */
guint32 ar_vcs_workdir_mode(ArVcsRepo *r, const char *path, guint32 fallback);

/* The paths where two trees differ (tree_a may be NULL: all of tree_b),
 * appended to out (char *). */
gboolean ar_vcs_tree_diff_paths(git_repository *repo, git_tree *tree_a, git_tree *tree_b,
                                GPtrArray *out, GError **error);

/* Sort a GPtrArray of strings (owning them: free func g_free) in byte
 * order and drop duplicates. */
void ar_vcs_sort_unique(GPtrArray *paths);

/* A git_strarray view of a GPtrArray of strings (no copy). */
static inline git_strarray
ar_vcs_strarray(GPtrArray *paths)
{
  git_strarray a = { (char **)paths->pdata, paths->len };
  return a;
}

/* Message parsing shared by the idempotency check and the listing:
 * "On main: ORPHAN R3 phase=x ts=..." -> "ORPHAN R3 phase=x ts=...". */
const char *ar_vcs_stash_message_strip(const char *reflog_message);

/* The files a stash commit holds (tracked changes and untracked files). */
GPtrArray *ar_vcs_stash_files(git_repository *repo, git_commit *stash, GError **error);

/* Drop the refs/stash reflog entry whose commit is `oid`, under the ref's
 * lock, so a stash pushed or dropped in between does not shift it. */
gboolean ar_vcs_stash_drop_oid(git_repository *repo, const git_oid *oid, GError **error);

G_END_DECLS
