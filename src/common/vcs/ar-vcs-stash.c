/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Orphan stash and auto-commit: what the round end does with a dirty tree.
 *
 * libgit2 1.5 has no pathspec for git_stash_save (git_stash_save_with_opts
 * came in 1.6), and the exclusions are the whole point, so the stash is
 * built here the way git builds it: an index commit (parent HEAD), an
 * untracked-files commit (no parent) when there are untracked files, and
 * the stash commit itself (tree = the work tree, parents HEAD, index
 * commit[, untracked commit]) recorded in refs/stash with a reflog entry.
 * The git CLI lists, shows and applies it like one of its own. */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "ar-vcs-private.h"

#define STASH_REF "refs/stash"

void
ar_vcs_stash_result_clear(ArVcsStashResult *result)
{
  g_clear_pointer(&result->sha, g_free);
  g_clear_pointer(&result->message, g_free);
  g_clear_pointer(&result->files, g_ptr_array_unref);
  result->reused = FALSE;
}

void
ar_vcs_commit_result_clear(ArVcsCommitResult *result)
{
  g_clear_pointer(&result->sha, g_free);
  g_clear_pointer(&result->files, g_ptr_array_unref);
  result->committed = FALSE;
}

static char *
oid_hex(const git_oid *oid)
{
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, oid);
  return g_strdup(hex);
}

/* "main: 1a2b3c4 subject" as git puts it in stash messages. */
static char *
stash_description(ArVcsRepo *r, git_commit *head, char **branch_out)
{
  g_autoptr(git_reference) ref = NULL;
  g_autofree char *branch = NULL;
  if (git_repository_head_detached(r->repo) != 1 && git_repository_head(&ref, r->repo) == 0 &&
      g_str_has_prefix(git_reference_name(ref), "refs/heads/"))
    branch = g_strdup(git_reference_name(ref) + strlen("refs/heads/"));
  else
    branch = g_strdup("(no branch)");
  git_error_clear();
  char short_id[8];
  git_oid_tostr(short_id, sizeof short_id, git_commit_id(head));
  const char *summary = git_commit_summary(head);
  char *desc = g_strdup_printf("%s: %s %s", branch, short_id, summary ? summary : "");
  *branch_out = g_steal_pointer(&branch);
  return desc;
}

/* The repository's identity, else one that says who made the commit: a
 * stash must not fail (and lose the round's work) for want of a name. */
static git_signature *
stasher_signature(ArVcsRepo *r)
{
  git_signature *sig = NULL;
  if (git_signature_default(&sig, r->repo) == 0)
    return sig;
  git_error_clear();
  g_autofree char *email = g_strdup_printf("agent-runner@%s", g_get_host_name());
  if (git_signature_now(&sig, "agent-runner", email) < 0) {
    git_error_clear();
    git_signature_now(&sig, "agent-runner", "agent-runner@localhost");
  }
  return sig;
}

typedef struct {
  char *path;
  gboolean added; /* not in HEAD: remove instead of restoring */
  git_oid id;
  guint32 mode;
} Revert;

static void
revert_free(gpointer p)
{
  Revert *rv = p;
  g_free(rv->path);
  g_free(rv);
}

/* Make the excluded paths of idx what they are in HEAD (head_tree NULL:
 * an unborn branch, where they must simply be absent), so a stash or a
 * commit never carries them. */
static gboolean
revert_excluded(ArVcsRepo *r, git_index *idx, git_tree *head_tree, const ArVcsExcludeSet *set,
                GError **error)
{
  g_autoptr(git_diff) diff = NULL;
  int rc = git_diff_tree_to_index(&diff, r->repo, head_tree, idx, NULL);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot compare the index with HEAD"));

  /* Copy first: the deltas point into idx, which is about to change. */
  g_autoptr(GPtrArray) reverts = g_ptr_array_new_with_free_func(revert_free);
  gsize n = git_diff_num_deltas(diff);
  for (gsize i = 0; i < n; i++) {
    const git_diff_delta *d = git_diff_get_delta(diff, i);
    const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
    if (!ar_vcs_exclude_set_match(set, path))
      continue;
    Revert *rv = g_new0(Revert, 1);
    rv->path = g_strdup(path);
    rv->added = d->status == GIT_DELTA_ADDED;
    git_oid_cpy(&rv->id, &d->old_file.id);
    rv->mode = d->old_file.mode;
    g_ptr_array_add(reverts, rv);
  }
  for (guint i = 0; i < reverts->len; i++) {
    Revert *rv = g_ptr_array_index(reverts, i);
    if (rv->added) {
      rc = git_index_remove(idx, rv->path, 0);
    } else {
      git_index_entry e = { 0 };
      e.mode = rv->mode;
      e.path = rv->path;
      git_oid_cpy(&e.id, &rv->id);
      rc = git_index_add(idx, &e);
    }
    if (rc < 0)
      return ar_set_error_git(error, rc, _("cannot leave out %s"), rv->path);
  }
  return TRUE;
}

/* Hash a work-tree file into the object store and stage it in idx. */
static gboolean
stage_workdir_file(ArVcsRepo *r, git_index *idx, const char *path, GError **error)
{
  git_index_entry e = { 0 };
  int rc = git_blob_create_from_workdir(&e.id, r->repo, path);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot store %s"), path);
  const git_index_entry *old = git_index_get_bypath(idx, path, 0);
  e.mode = ar_vcs_workdir_mode(r, path, old ? old->mode : GIT_FILEMODE_BLOB);
  e.path = path;
  rc = git_index_add(idx, &e);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot stage %s"), path);
  return TRUE;
}

static git_tree *
tree_of_index(ArVcsRepo *r, git_index *idx, GError **error)
{
  git_oid oid;
  int rc = git_index_write_tree_to(&oid, idx, r->repo);
  git_tree *tree = NULL;
  if (rc < 0 || (rc = git_tree_lookup(&tree, r->repo, &oid)) < 0) {
    ar_set_error_git(error, rc, _("cannot write a tree"));
    return NULL;
  }
  return tree;
}

/* A commit made for the user carries their identity; without one it is
 * refused with the fix (a stash, being ours, falls back instead). */
static git_signature *
required_signature(ArVcsRepo *r, const char *what, GError **error)
{
  git_signature *sig = NULL;
  if (git_signature_default(&sig, r->repo) == 0)
    return sig;
  git_error_clear();
  g_set_error(error, AR_ERROR, AR_ERROR_GIT,
              _("cannot %s in %s: no git identity is configured. How to fix: run "
                "`git config user.name \"Your Name\"` and `git config user.email "
                "\"you@example.com\"` in %s (or with --global)"),
              what, r->root, r->root);
  return NULL;
}

static git_commit *
make_commit(ArVcsRepo *r, const git_signature *sig, const char *message, git_tree *tree,
            gsize n_parents, const git_commit **parents, GError **error)
{
  git_oid oid;
  git_commit *commit = NULL;
  int rc =
      git_commit_create(&oid, r->repo, NULL, sig, sig, NULL, message, tree, n_parents, parents);
  if (rc < 0 || (rc = git_commit_lookup(&commit, r->repo, &oid)) < 0) {
    ar_set_error_git(error, rc, _("cannot create a commit"));
    return NULL;
  }
  return commit;
}

/* The newest stash, if it is this round's and young enough to reuse: the
 * same round must not leave several stashes when its end is retried
 * (Python tool incident R820). */
static gboolean
reuse_recent(ArVcsRepo *r, guint round_num, guint idempotency_s, ArVcsStashResult *out)
{
  g_autoptr(git_reflog) reflog = NULL;
  if (git_reflog_read(&reflog, r->repo, STASH_REF) < 0 || git_reflog_entrycount(reflog) == 0) {
    git_error_clear();
    return FALSE;
  }
  const git_reflog_entry *top = git_reflog_entry_byindex(reflog, 0);
  const char *msg = ar_vcs_stash_message_strip(git_reflog_entry_message(top));
  g_autofree char *want = g_strdup_printf("ORPHAN R%u", round_num);
  if (msg == NULL || !g_str_has_prefix(msg, want))
    return FALSE;
  char after = msg[strlen(want)];
  if (after != ' ' && after != '\0')
    return FALSE;

  g_autoptr(git_commit) commit = NULL;
  if (git_commit_lookup(&commit, r->repo, git_reflog_entry_id_new(top)) < 0) {
    git_error_clear();
    return FALSE;
  }
  gint64 age = g_get_real_time() / G_USEC_PER_SEC - (gint64)git_commit_time(commit);
  if (age >= (gint64)idempotency_s)
    return FALSE;
  g_autoptr(GPtrArray) files = ar_vcs_stash_files(r->repo, commit, NULL);
  if (files == NULL)
    return FALSE;
  out->sha = oid_hex(git_commit_id(commit));
  out->message = g_strdup(msg);
  out->files = g_steal_pointer(&files);
  out->reused = TRUE;
  return TRUE;
}

/* Remove now-empty directories above a removed file, as `git clean -d`
 * would; stops at the first one that still holds something. */
static void
prune_empty_parents(ArVcsRepo *r, const char *path)
{
  g_autofree char *dir = g_path_get_dirname(path);
  while (!g_str_equal(dir, ".") && !g_str_equal(dir, "/")) {
    g_autofree char *full = g_build_filename(r->root, dir, NULL);
    if (rmdir(full) < 0)
      return;
    char *up = g_path_get_dirname(dir);
    g_free(dir);
    dir = up;
  }
}

static gboolean
checkout_paths(ArVcsRepo *r, git_object *treeish, GPtrArray *paths, gboolean update_index,
               GError **error)
{
  /* An empty path list means "everything" to libgit2. */
  if (paths->len == 0)
    return TRUE;
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
  if (!update_index)
    opts.checkout_strategy |= GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX;
  opts.paths = ar_vcs_strarray(paths);
  int rc = git_checkout_tree(r->repo, treeish, &opts);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot write files in %s"), r->root);
  return TRUE;
}

typedef struct {
  GPtrArray *tracked;   /* const char *: changed tracked paths */
  GPtrArray *in_head;   /* const char *: those of them HEAD has */
  GPtrArray *remove;    /* const char *: files to delete (new, untracked) */
  GPtrArray *untracked; /* const char * */
} StashPlan;

static void
stash_plan_clear(StashPlan *plan)
{
  g_clear_pointer(&plan->tracked, g_ptr_array_unref);
  g_clear_pointer(&plan->in_head, g_ptr_array_unref);
  g_clear_pointer(&plan->remove, g_ptr_array_unref);
  g_clear_pointer(&plan->untracked, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(StashPlan, stash_plan_clear)

/* Bring the stashed paths back to HEAD: delete new and untracked files,
 * then restore index and files of the tracked ones. */
static gboolean
reset_stashed(ArVcsRepo *r, git_index *index, git_commit *head, StashPlan *plan,
              gboolean *index_written, GError **error)
{
  *index_written = FALSE;
  for (guint i = 0; i < plan->remove->len; i++) {
    const char *path = g_ptr_array_index(plan->remove, i);
    g_autofree char *full = g_build_filename(r->root, path, NULL);
    if (unlink(full) < 0 && errno != ENOENT)
      return ar_set_error_errno(error, errno, _("remove %s"), full);
    prune_empty_parents(r, path);
  }
  int rc = git_index_write(index);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot write the git index of %s"), r->root);
  *index_written = TRUE;
  return checkout_paths(r, (git_object *)head, plan->in_head, TRUE, error);
}

/* Undo a half-done reset: the original index, the stashed files back in
 * place, and the reflog entry gone. Every step is tried even if one
 * fails; the error says whether the stash had to be kept. */
static void
rollback_stash(ArVcsRepo *r, git_index *index, gboolean index_written, git_tree *orig_index_tree,
               git_commit *w_commit, git_commit *u_commit, StashPlan *plan, GError **error)
{
  gboolean ok = TRUE;
  if (index_written)
    ok = git_index_read_tree(index, orig_index_tree) == 0 && git_index_write(index) == 0;
  else
    git_index_read(index, TRUE); /* drop the unwritten changes */

  g_autoptr(git_tree) w_tree = NULL;
  if (git_commit_tree(&w_tree, w_commit) < 0 ||
      !checkout_paths(r, (git_object *)w_tree, plan->tracked, FALSE, NULL))
    ok = FALSE;
  g_autoptr(git_tree) u_tree = NULL;
  if (u_commit != NULL && (git_commit_tree(&u_tree, u_commit) < 0 ||
                           !checkout_paths(r, (git_object *)u_tree, plan->untracked, FALSE, NULL)))
    ok = FALSE;
  if (ok && !ar_vcs_stash_drop_oid(r->repo, git_commit_id(w_commit), NULL))
    ok = FALSE;
  git_error_clear();

  g_autofree char *sha = oid_hex(git_commit_id(w_commit));
  if (ok)
    g_prefix_error(error, _("stash not made, work tree restored: "));
  else
    g_prefix_error(error,
                   _("the work tree could only partly be restored; every change is kept in "
                     "stash %s (`git stash apply %s`): "),
                   sha, sha);
}

gboolean
ar_vcs_stash_orphan(const char *work_dir, const ArVcsExcludes *excludes, guint round_num,
                    const char *phase, guint idempotency_s, ArVcsStashResult *out, GError **error)
{
  g_return_val_if_fail(out != NULL, FALSE);
  ar_vcs_stash_result_clear(out);

  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return FALSE;
  gboolean unborn;
  g_autoptr(git_commit) head = ar_vcs_head_commit(r, &unborn, error);
  if (head == NULL && unborn)
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("cannot stash in %s: the branch has no commit yet, and a stash needs one "
                  "(git refuses too). How to fix: make a first commit (`git add -A && git "
                  "commit -m init`), or set [vcs] dirty_action = \"auto_commit\""),
                r->root);
  if (head == NULL)
    return FALSE;

  if (idempotency_s > 0 && reuse_recent(r, round_num, idempotency_s, out))
    return TRUE;
  if (!ar_vcs_check_index_unlocked(r, _("stash"), error))
    return FALSE;

  int rc;
  g_autoptr(git_index) index = ar_vcs_open_clean_index(r, _("stash"), error);
  if (index == NULL)
    return FALSE;

  g_autoptr(ArVcsExcludeSet) set = ar_vcs_exclude_set_new(r, excludes);
  g_autoptr(GPtrArray) changes = ar_vcs_changes_collect(r, set, FALSE, error);
  if (changes == NULL)
    return FALSE;
  g_autoptr(git_tree) head_tree = NULL;
  if ((rc = git_commit_tree(&head_tree, head)) < 0)
    return ar_set_error_git(error, rc, _("cannot read the tree of HEAD"));

  g_auto(StashPlan)
      plan = { g_ptr_array_new(), g_ptr_array_new(), g_ptr_array_new(), g_ptr_array_new() };
  for (guint i = 0; i < changes->len; i++) {
    ArVcsChange *c = g_ptr_array_index(changes, i);
    if (g_str_has_suffix(c->path, "/")) /* a nested repository: not ours to stash */
      continue;
    if (c->flags == GIT_STATUS_WT_NEW) {
      g_ptr_array_add(plan.untracked, c->path);
      g_ptr_array_add(plan.remove, c->path);
      continue;
    }
    g_ptr_array_add(plan.tracked, c->path);
    g_autoptr(git_tree_entry) te = NULL;
    if (git_tree_entry_bypath(&te, head_tree, c->path) == 0)
      g_ptr_array_add(plan.in_head, c->path);
    else
      g_ptr_array_add(plan.remove, c->path);
    git_error_clear();
  }
  if (plan.tracked->len == 0 && plan.untracked->len == 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("nothing to stash in %s: no changes outside the excluded paths"), r->root);
    return FALSE;
  }

  g_autofree char *branch = NULL;
  g_autofree char *desc = stash_description(r, head, &branch);
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *ts = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
  g_autofree char *message =
      g_strdup_printf("ORPHAN R%u%s%s ts=%s", round_num, phase && *phase ? " phase=" : "",
                      phase && *phase ? phase : "", ts);
  g_autoptr(git_signature) sig = stasher_signature(r);

  /* Index commit: the index as it is, minus staged changes to excluded
   * paths. */
  git_oid orig_index_oid;
  if ((rc = git_index_write_tree(&orig_index_oid, index)) < 0)
    return ar_set_error_git(error, rc, _("cannot write the index as a tree"));
  g_autoptr(git_tree) orig_index_tree = NULL;
  g_autoptr(git_index) tmp = NULL;
  if ((rc = git_tree_lookup(&orig_index_tree, r->repo, &orig_index_oid)) < 0 ||
      (rc = git_index_new(&tmp)) < 0 || (rc = git_index_read_tree(tmp, orig_index_tree)) < 0)
    return ar_set_error_git(error, rc, _("cannot copy the index"));
  if (!revert_excluded(r, tmp, head_tree, set, error))
    return FALSE;
  g_autoptr(git_tree) i_tree = tree_of_index(r, tmp, error);
  if (i_tree == NULL)
    return FALSE;
  g_autofree char *i_msg = g_strdup_printf("index on %s\n", desc);
  const git_commit *i_parents[] = { head };
  g_autoptr(git_commit) i_commit = make_commit(r, sig, i_msg, i_tree, 1, i_parents, error);
  if (i_commit == NULL)
    return FALSE;

  /* Work-tree tree: the index tree plus the unstaged changes. */
  for (guint i = 0; i < changes->len; i++) {
    ArVcsChange *c = g_ptr_array_index(changes, i);
    if (c->flags == GIT_STATUS_WT_NEW || g_str_has_suffix(c->path, "/"))
      continue;
    if (c->flags & GIT_STATUS_WT_DELETED) {
      if (git_index_get_bypath(tmp, c->path, 0) != NULL &&
          (rc = git_index_remove(tmp, c->path, 0)) < 0)
        return ar_set_error_git(error, rc, _("cannot leave out %s"), c->path);
    } else if (c->flags & (GIT_STATUS_WT_MODIFIED | GIT_STATUS_WT_TYPECHANGE | GIT_STATUS_WT_NEW |
                           GIT_STATUS_WT_RENAMED)) {
      if (!stage_workdir_file(r, tmp, c->path, error))
        return FALSE;
    }
  }
  g_autoptr(git_tree) w_tree = tree_of_index(r, tmp, error);
  if (w_tree == NULL)
    return FALSE;

  /* Untracked-files commit, only when there are some (as git does). */
  g_autoptr(git_commit) u_commit = NULL;
  if (plan.untracked->len > 0) {
    g_autoptr(git_index) uidx = NULL;
    if ((rc = git_index_new(&uidx)) < 0)
      return ar_set_error_git(error, rc, _("cannot create an index"));
    for (guint i = 0; i < plan.untracked->len; i++)
      if (!stage_workdir_file(r, uidx, g_ptr_array_index(plan.untracked, i), error))
        return FALSE;
    g_autoptr(git_tree) u_tree = tree_of_index(r, uidx, error);
    if (u_tree == NULL)
      return FALSE;
    g_autofree char *u_msg = g_strdup_printf("untracked files on %s\n", desc);
    u_commit = make_commit(r, sig, u_msg, u_tree, 0, NULL, error);
    if (u_commit == NULL)
      return FALSE;
  }

  g_autofree char *reflog_msg = g_strdup_printf("On %s: %s", branch, message);
  g_autofree char *w_msg = g_strdup_printf("%s\n", reflog_msg);
  const git_commit *w_parents[] = { head, i_commit, u_commit };
  g_autoptr(git_commit) w_commit =
      make_commit(r, sig, w_msg, w_tree, u_commit ? 3 : 2, w_parents, error);
  if (w_commit == NULL)
    return FALSE;

  /* Stage HEAD's version of the stashed paths, in memory only for now. */
  for (guint i = 0; i < plan.tracked->len; i++) {
    const char *path = g_ptr_array_index(plan.tracked, i);
    g_autoptr(git_tree_entry) te = NULL;
    if (git_tree_entry_bypath(&te, head_tree, path) == 0) {
      git_index_entry e = { 0 };
      e.mode = git_tree_entry_filemode(te);
      e.path = path;
      git_oid_cpy(&e.id, git_tree_entry_id(te));
      rc = git_index_add(index, &e);
    } else {
      git_error_clear();
      rc = git_index_get_bypath(index, path, 0) ? git_index_remove(index, path, 0) : 0;
    }
    if (rc < 0) {
      ar_set_error_git(error, rc, _("cannot unstage %s"), path);
      git_index_read(index, TRUE);
      return FALSE;
    }
  }

  /* From here on the stash exists: record it, then clean the tree. */
  g_autoptr(git_reference) stash_ref = NULL;
  if ((rc = git_reference_ensure_log(r->repo, STASH_REF)) < 0 ||
      (rc = git_reference_create(&stash_ref, r->repo, STASH_REF, git_commit_id(w_commit), 1,
                                 reflog_msg)) < 0) {
    ar_set_error_git(error, rc, _("cannot update %s"), STASH_REF);
    git_index_read(index, TRUE);
    return FALSE;
  }
  gboolean index_written = FALSE;
  if (!reset_stashed(r, index, head, &plan, &index_written, error)) {
    rollback_stash(r, index, index_written, orig_index_tree, w_commit, u_commit, &plan, error);
    return FALSE;
  }

  out->sha = oid_hex(git_commit_id(w_commit));
  out->message = g_steal_pointer(&message);
  out->files = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < plan.tracked->len; i++)
    g_ptr_array_add(out->files, g_strdup(g_ptr_array_index(plan.tracked, i)));
  for (guint i = 0; i < plan.untracked->len; i++)
    g_ptr_array_add(out->files, g_strdup(g_ptr_array_index(plan.untracked, i)));
  ar_vcs_sort_unique(out->files);
  return TRUE;
}

/* ---- Auto-commit ------------------------------------------------------ */

gboolean
ar_vcs_auto_commit(const char *work_dir, const ArVcsExcludes *excludes, guint round_num,
                   const char *phase, ArVcsCommitResult *out, GError **error)
{
  g_return_val_if_fail(out != NULL, FALSE);
  ar_vcs_commit_result_clear(out);

  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return FALSE;
  if (git_repository_state(r->repo) != GIT_REPOSITORY_STATE_NONE) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("cannot auto-commit in %s: a merge, rebase, cherry-pick or bisect is in "
                  "progress. How to fix: finish or abort it (`git status` says how)"),
                r->root);
    return FALSE;
  }
  if (!ar_vcs_check_index_unlocked(r, _("auto-commit"), error))
    return FALSE;
  int rc;
  g_autoptr(git_signature) sig = required_signature(r, _("auto-commit"), error);
  if (sig == NULL)
    return FALSE;
  gboolean unborn;
  g_autoptr(git_commit) head = ar_vcs_head_commit(r, &unborn, error);
  if (head == NULL && !unborn)
    return FALSE;
  g_autoptr(git_tree) head_tree = NULL;
  if (head != NULL && (rc = git_commit_tree(&head_tree, head)) < 0)
    return ar_set_error_git(error, rc, _("cannot read the tree of HEAD"));

  g_autoptr(git_index) index = ar_vcs_open_clean_index(r, _("auto-commit"), error);
  if (index == NULL)
    return FALSE;

  /* `git add -A`, path by path, leaving the excluded ones alone. */
  g_autoptr(ArVcsExcludeSet) set = ar_vcs_exclude_set_new(r, excludes);
  g_autoptr(GPtrArray) changes = ar_vcs_changes_collect(r, set, FALSE, error);
  if (changes == NULL)
    return FALSE;
  for (guint i = 0; i < changes->len; i++) {
    ArVcsChange *c = g_ptr_array_index(changes, i);
    if (g_str_has_suffix(c->path, "/")) /* a nested repository */
      continue;
    g_autofree char *full = g_build_filename(r->root, c->path, NULL);
    struct stat st;
    if (lstat(full, &st) == 0 && !S_ISDIR(st.st_mode))
      rc = git_index_add_bypath(index, c->path);
    else
      rc = git_index_get_bypath(index, c->path, 0) ? git_index_remove_bypath(index, c->path) : 0;
    if (rc < 0) {
      ar_set_error_git(error, rc, _("cannot stage %s"), c->path);
      git_index_read(index, TRUE);
      return FALSE;
    }
  }

  /* The commit's tree: the index with whatever the agent staged under
   * excluded paths left out (it stays staged, but is not committed). */
  git_oid staged_oid;
  g_autoptr(git_tree) staged = NULL;
  g_autoptr(git_index) tmp = NULL;
  if ((rc = git_index_write_tree(&staged_oid, index)) < 0 ||
      (rc = git_tree_lookup(&staged, r->repo, &staged_oid)) < 0 || (rc = git_index_new(&tmp)) < 0 ||
      (rc = git_index_read_tree(tmp, staged)) < 0) {
    ar_set_error_git(error, rc, _("cannot write the index as a tree"));
    git_index_read(index, TRUE);
    return FALSE;
  }
  g_autoptr(git_tree) tree = NULL;
  if (!revert_excluded(r, tmp, head_tree, set, error) ||
      (tree = tree_of_index(r, tmp, error)) == NULL) {
    git_index_read(index, TRUE);
    return FALSE;
  }
  gboolean nothing = head_tree != NULL ? git_oid_equal(git_tree_id(tree), git_tree_id(head_tree))
                                       : git_tree_entrycount(tree) == 0;
  if (nothing) {
    git_index_read(index, TRUE); /* nothing staged: leave the index file as it was */
    return TRUE;
  }

  g_autofree char *message =
      g_strdup_printf("agent-runner auto-commit: R%u%s%s\n", round_num, phase && *phase ? " " : "",
                      phase && *phase ? phase : "");
  const git_commit *parents[] = { head };
  git_oid oid;
  rc = git_commit_create(&oid, r->repo, "HEAD", sig, sig, NULL, message, tree, head ? 1 : 0,
                         parents);
  if (rc < 0) {
    ar_set_error_git(error, rc, _("cannot commit in %s"), r->root);
    git_index_read(index, TRUE);
    return FALSE;
  }
  if ((rc = git_index_write(index)) < 0)
    return ar_set_error_git(error, rc,
                            _("committed %s, but cannot write the git index of %s (`git "
                              "status` will show the committed files as changed until "
                              "`git reset`)"),
                            git_oid_tostr_s(&oid), r->root);

  out->committed = TRUE;
  out->sha = oid_hex(&oid);
  out->files = g_ptr_array_new_with_free_func(g_free);
  if (!ar_vcs_tree_diff_paths(r->repo, head_tree, tree, out->files, NULL))
    g_ptr_array_set_size(out->files, 0);
  ar_vcs_sort_unique(out->files);
  return TRUE;
}

gboolean
ar_vcs_commit_paths(const char *work_dir, const char *const *paths, const char *message,
                    ArVcsCommitResult *out, GError **error)
{
  g_return_val_if_fail(out != NULL, FALSE);
  ar_vcs_commit_result_clear(out);
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL || !ar_vcs_check_index_unlocked(r, _("commit"), error))
    return FALSE;
  g_autoptr(git_signature) sig = required_signature(r, _("commit"), error);
  if (sig == NULL)
    return FALSE;
  gboolean unborn;
  g_autoptr(git_commit) head = ar_vcs_head_commit(r, &unborn, error);
  if (head == NULL && !unborn)
    return FALSE;
  g_autoptr(git_index) index = ar_vcs_open_clean_index(r, _("commit"), error);
  if (index == NULL)
    return FALSE;

  /* HEAD's tree plus these paths, through a scratch index: whatever else
   * the user has staged stays staged and out of this commit. */
  g_autoptr(git_index) scratch = NULL;
  g_autoptr(git_tree) head_tree = NULL;
  int rc = git_index_new(&scratch);
  if (rc == 0 && head != NULL && (rc = git_commit_tree(&head_tree, head)) == 0)
    rc = git_index_read_tree(scratch, head_tree);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot read the tree of HEAD"));
  for (const char *const *p = paths; p && *p; p++) {
    const git_index_entry *e = NULL;
    if ((rc = git_index_add_bypath(index, *p)) < 0 ||
        (e = git_index_get_bypath(index, *p, 0)) == NULL || (rc = git_index_add(scratch, e)) < 0) {
      git_index_read(index, TRUE);
      return ar_set_error_git(error, rc, _("cannot stage %s"), *p);
    }
  }
  g_autoptr(git_tree) tree = tree_of_index(r, scratch, error);
  if (tree == NULL) {
    git_index_read(index, TRUE);
    return FALSE;
  }
  const git_commit *parents[] = { head };
  git_oid oid;
  if ((rc = git_commit_create(&oid, r->repo, "HEAD", sig, sig, NULL, message, tree, head ? 1 : 0,
                              parents)) < 0) {
    git_index_read(index, TRUE);
    return ar_set_error_git(error, rc, _("cannot commit in %s"), r->root);
  }
  if ((rc = git_index_write(index)) < 0)
    return ar_set_error_git(error, rc, _("cannot write the git index of %s"), r->root);
  out->committed = TRUE;
  out->sha = oid_hex(&oid);
  out->files = g_ptr_array_new_with_free_func(g_free);
  for (const char *const *p = paths; p && *p; p++)
    g_ptr_array_add(out->files, g_strdup(*p));
  return TRUE;
}
