/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* All git work of the supervisor, in-process with libgit2 (never a `git`
 * subprocess): work-tree checks, dirty detection, orphan stashes,
 * auto-commits, substrate fingerprints and the `orphans` verb.
 *
 * Threading: every function opens its own git_repository and frees it
 * before returning; nothing is cached between calls and the only global
 * state touched is libgit2's reference-counted git_libgit2_init(). So any
 * function may run on a worker thread (GTask, g_thread) while the event
 * loop keeps serving the bus, and two threads may call these functions at
 * the same time. Two concurrent *mutating* calls (stash, auto-commit, pop)
 * on the same work tree are serialized by git's own index.lock: the second
 * one fails cleanly. An ArVcsExcludes may be shared between threads once
 * built; do not add paths to it while another thread uses it. Each call
 * takes and drops a git_libgit2_init() reference; a long-lived program
 * should hold one of its own for its lifetime, so that libgit2 is set up
 * once rather than per call.
 *
 * Paths: files are reported relative to the top of the work tree, like
 * `git status --porcelain`. work_dir may be a subdirectory of the work
 * tree; plugin-owned paths and fingerprint globs are relative to work_dir.
 *
 * Stashes are identified by commit SHA, never by position: a position shifts
 * when someone pushes or drops a stash in between. */

#include <glib.h>

G_BEGIN_DECLS

/* The one place that turns a libgit2 failure (git_error_last()) into a
 * GError (AR_ERROR, AR_ERROR_GIT): "<prefix>: <libgit2 message>". Always
 * returns FALSE so callers can `return ar_set_error_git(...)`. */
gboolean ar_set_error_git(GError **error, int git_rc, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* TRUE when work_dir is inside a git work tree (not a bare repository)
 * whose HEAD can be read or is an unborn branch. Otherwise an error that
 * says how to fix it (`git init`, safe.directory, ...). */
gboolean ar_vcs_check_work_tree(const char *work_dir, GError **error);

/* ---- Exclusions ---------------------------------------------------- */

/* Paths that dirty detection, stashes and auto-commits leave alone:
 * - the log dir, when it lies inside the work tree and is not ignored by
 *   .gitignore (an ignored one is invisible to git anyway);
 * - plugin-owned paths, relative to work_dir: a plain path excludes that
 *   file or everything under that directory (a trailing '/' is allowed);
 *   a pattern with glob characters (`*`, `?`, `[...]`, `**` for any number
 *   of directories) excludes the paths it matches and everything under a
 *   directory it matches. */
typedef struct _ArVcsExcludes ArVcsExcludes;

/* log_dir and owned_paths may be NULL. */
ArVcsExcludes *ar_vcs_excludes_new(const char *log_dir, const char *const *owned_paths);
void ar_vcs_excludes_add_owned(ArVcsExcludes *excludes, const char *path);
void ar_vcs_excludes_free(ArVcsExcludes *excludes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArVcsExcludes, ar_vcs_excludes_free)

/* ---- Status -------------------------------------------------------- */

typedef struct {
  GPtrArray *files; /* char *, sorted (byte order), relative to the top */
  guint count;      /* files->len */
} ArVcsStatus;

/* Dirty files: staged and unstaged changes and untracked files (untracked
 * directories are listed file by file; a rename is reported by its new
 * path), minus ignored files and the exclusions (excludes may be NULL).
 * Reads only: the index is not refreshed or written. Costs about what
 * `git status` costs: ~0.5 s of CPU on a 100k-file tree on a small VM (see
 * docs/performance.md), so call it from a worker thread. */
ArVcsStatus *ar_vcs_status(const char *work_dir, const ArVcsExcludes *excludes, GError **error);
void ar_vcs_status_free(ArVcsStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArVcsStatus, ar_vcs_status_free)

/* ---- Orphan stash -------------------------------------------------- */

typedef struct {
  char *sha;        /* stash commit */
  char *message;    /* "ORPHAN R<N>[ phase=<p>] ts=<local time>" */
  GPtrArray *files; /* char *, sorted: the paths the stash holds */
  gboolean reused;  /* TRUE: an identical-round stash younger than the window was reused */
} ArVcsStashResult;

void ar_vcs_stash_result_clear(ArVcsStashResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ArVcsStashResult, ar_vcs_stash_result_clear)

/* What `git stash push -u -m "ORPHAN R<N>[ phase=<p>] ts=<...>"` does, minus
 * the excluded paths: a stash commit (parents HEAD, an index commit and,
 * when there are untracked files, an untracked-files commit) that the git
 * CLI understands, recorded in refs/stash with a reflog entry; then the
 * stashed paths are reset to HEAD and the stashed untracked files removed.
 * Excluded paths stay as they are, on disk and in the index.
 *
 * If the newest stash is an `ORPHAN R<round_num>` one younger than
 * idempotency_s seconds, it is reused (out->reused) and nothing changes.
 * Errors (nothing to stash, unborn branch, unresolved conflicts, I/O)
 * leave the tree as it was. The identity is the repository's user.name /
 * user.email, or "agent-runner" when none is configured (a stash must not
 * fail for want of one). out must be zero-initialised (or a result of an
 * earlier call): it is cleared first. */
gboolean ar_vcs_stash_orphan(const char *work_dir, const ArVcsExcludes *excludes, guint round_num,
                             const char *phase, guint idempotency_s, ArVcsStashResult *out,
                             GError **error);

/* ---- Auto-commit --------------------------------------------------- */

typedef struct {
  gboolean committed; /* FALSE: nothing to commit (not an error) */
  char *sha;          /* the new commit, NULL when not committed */
  GPtrArray *files;   /* char *, sorted: the paths the commit changed */
} ArVcsCommitResult;

void ar_vcs_commit_result_clear(ArVcsCommitResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ArVcsCommitResult, ar_vcs_commit_result_clear)

/* Commit exactly these paths (relative to the work tree) on top of HEAD
 * with message and the configured identity (an error with the fix when
 * there is none); anything else staged stays staged, uncommitted. Used by
 * `init`, which must not sweep the user's work into its commit. */
gboolean ar_vcs_commit_paths(const char *work_dir, const char *const *paths, const char *message,
                             ArVcsCommitResult *out, GError **error);

/* `git add -A` minus the excluded paths, then a commit
 * "agent-runner auto-commit: R<N>[ <phase>]" on the current branch (the
 * first commit on an unborn branch) with the repository's configured
 * identity. Never GPG-signs; git hooks are not run (libgit2 has none).
 * Excluded paths are neither staged nor committed; whatever the agent had
 * staged there stays staged. Refuses during a merge/rebase. out: as for
 * ar_vcs_stash_orphan(). */
gboolean ar_vcs_auto_commit(const char *work_dir, const ArVcsExcludes *excludes, guint round_num,
                            const char *phase, ArVcsCommitResult *out, GError **error);

/* ---- Substrate fingerprint ----------------------------------------- */

/* HEAD commit as 40 hex digits; NULL on an unborn branch or any error. */
char *ar_vcs_head_sha(const char *work_dir);

/* sha256 (hex) over, for each file matching one of the globs (relative to
 * work_dir; `*`, `?`, `[...]` within one path segment, `**` for any number
 * of segments), in byte order of the relative path:
 *   "<relpath>\n<sha256 hex of the content>\n"
 * Files are those on disk that are tracked, or untracked and not ignored;
 * a symlink counts by its target string. NULL without error when globs is
 * NULL or empty. */
char *ar_vcs_paths_hash(const char *work_dir, const char *const *globs, GError **error);

/* ---- Snapshot ------------------------------------------------------ */

typedef enum {
  AR_VCS_SNAPSHOT_HEAD = 1 << 0,
  AR_VCS_SNAPSHOT_PATHS_HASH = 1 << 1,
  AR_VCS_SNAPSHOT_STATUS = 1 << 2,
} ArVcsSnapshotFlags;

typedef struct {
  char *git_head;      /* as ar_vcs_head_sha(): NULL when unborn or unreadable */
  char *paths_hash;    /* as ar_vcs_paths_hash(): NULL without globs or on error */
  ArVcsStatus *status; /* as ar_vcs_status(); NULL when not asked for or failed */
  char *status_error;  /* why status is NULL when it was asked for */
} ArVcsSnapshot;

void ar_vcs_snapshot_clear(ArVcsSnapshot *snap);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ArVcsSnapshot, ar_vcs_snapshot_clear)

/* What ar_vcs_head_sha(), ar_vcs_paths_hash() and ar_vcs_status() return,
 * the parts named in `what`, from one repository open instead of one each
 * (a round's end wants all three). The results are those of the three
 * calls made one after the other. FALSE with an error, and everything
 * NULL, only when the work tree cannot be opened at all (the error
 * ar_vcs_status() would give); a failure of one part leaves only that
 * part NULL. out must be zero-initialised or a result of an earlier call:
 * it is cleared first. */
gboolean ar_vcs_snapshot(const char *work_dir, const ArVcsExcludes *excludes,
                         const char *const *globs, ArVcsSnapshotFlags what, ArVcsSnapshot *out,
                         GError **error);

/* ---- Orphans (the client's `orphans` verb) ------------------------- */

typedef struct {
  char *sha;        /* stash commit, 40 hex digits */
  char *message;    /* "ORPHAN R12 phase=diverge ts=..." */
  guint round_num;  /* 0 when the message has no parsable number */
  char *phase;      /* NULL when none */
  gint64 created;   /* unix time of the stash commit */
  GPtrArray *files; /* char *, sorted */
} ArVcsOrphan;

void ar_vcs_orphan_free(ArVcsOrphan *orphan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArVcsOrphan, ar_vcs_orphan_free)

/* Every stash whose message starts with "ORPHAN R", newest first (walks
 * the refs/stash reflog). An empty array when there are none. */
GPtrArray *ar_vcs_list_orphans(const char *work_dir, GError **error);

/* `sha` may be abbreviated (at least 4 hex digits) in the three calls
 * below; it must name an entry of the refs/stash reflog. */

/* The stash as a patch, like `git stash show -p --include-untracked`. */
char *ar_vcs_orphan_diff(const char *work_dir, const char *sha, GError **error);

/* Apply the stash (tracked changes and its untracked files) and drop
 * exactly that reflog entry, found by SHA at the time of the drop. Refuses,
 * naming the files and changing nothing, when applying would overwrite a
 * local change or conflict with a commit made since. */
gboolean ar_vcs_orphan_pop(const char *work_dir, const char *sha, GError **error);

/* Drop one stash by SHA without applying it. */
gboolean ar_vcs_orphan_drop(const char *work_dir, const char *sha, GError **error);

G_END_DECLS
