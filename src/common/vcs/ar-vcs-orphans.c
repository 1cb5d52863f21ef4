/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The `orphans` verb: list, show, pop and drop orphan stashes, always by
 * commit SHA, never by position in the stash list: the operator (or
 * the next round) may push or drop a stash between listing and popping,
 * which would shift it onto somebody else's work. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "ar-vcs-private.h"

#define STASH_REF "refs/stash"

/* At most this many paths are named in an error message. */
#define MAX_NAMED_PATHS 20

const char *
ar_vcs_stash_message_strip(const char *msg)
{
  if (msg == NULL)
    return NULL;
  /* "On <branch>: <message>" (git stash push -m) or "WIP on <branch>: ...".
   * A branch name cannot contain ':', so the first ": " ends it. */
  if (g_str_has_prefix(msg, "On ") || g_str_has_prefix(msg, "WIP on ")) {
    const char *colon = strstr(msg, ": ");
    if (colon != NULL)
      return colon + 2;
  }
  return msg;
}

GPtrArray *
ar_vcs_stash_files(git_repository *repo, git_commit *stash, GError **error)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(git_commit) base = NULL;
  g_autoptr(git_tree) base_tree = NULL;
  g_autoptr(git_tree) w_tree = NULL;
  int rc;
  if ((rc = git_commit_parent(&base, stash, 0)) < 0 ||
      (rc = git_commit_tree(&base_tree, base)) < 0 || (rc = git_commit_tree(&w_tree, stash)) < 0) {
    ar_set_error_git(error, rc, _("cannot read stash %s"), git_oid_tostr_s(git_commit_id(stash)));
    return NULL;
  }
  if (!ar_vcs_tree_diff_paths(repo, base_tree, w_tree, files, error))
    return NULL;
  if (git_commit_parentcount(stash) >= 3) {
    g_autoptr(git_commit) u = NULL;
    g_autoptr(git_tree) u_tree = NULL;
    if ((rc = git_commit_parent(&u, stash, 2)) < 0 || (rc = git_commit_tree(&u_tree, u)) < 0) {
      ar_set_error_git(error, rc, _("cannot read the untracked files of stash %s"),
                       git_oid_tostr_s(git_commit_id(stash)));
      return NULL;
    }
    if (!ar_vcs_tree_diff_paths(repo, NULL, u_tree, files, error))
      return NULL;
  }
  ar_vcs_sort_unique(files);
  return g_steal_pointer(&files);
}

/* The refs/stash entry that `sha` (full or abbreviated) names. */
static gboolean
find_stash(git_repository *repo, const char *sha, git_oid *out, GError **error)
{
  g_autofree char *want = g_ascii_strdown(sha ? sha : "", -1);
  gsize len = strlen(want);
  gboolean hex = len >= 4 && len <= GIT_OID_HEXSZ;
  for (gsize i = 0; hex && i < len; i++)
    hex = g_ascii_isxdigit(want[i]);
  if (!hex) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("\"%s\" is not a stash SHA (4 to 40 hex digits); `agent-runner orphans` "
                  "lists them"),
                sha ? sha : "");
    return FALSE;
  }

  g_autoptr(git_reflog) reflog = NULL;
  int rc = git_reflog_read(&reflog, repo, STASH_REF);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot read the stash list"));
  gboolean found = FALSE;
  gsize n = git_reflog_entrycount(reflog);
  for (gsize i = 0; i < n; i++) {
    const git_oid *id = git_reflog_entry_id_new(git_reflog_entry_byindex(reflog, i));
    char hexid[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hexid, sizeof hexid, id);
    if (strncmp(hexid, want, len) != 0)
      continue;
    if (found && !git_oid_equal(out, id)) {
      g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                  _("the stash SHA %s is ambiguous: give more digits"), sha);
      return FALSE;
    }
    git_oid_cpy(out, id);
    found = TRUE;
  }
  if (!found)
    g_set_error(error, AR_ERROR, AR_ERROR_NOT_FOUND,
                _("no stash %s in %s (already popped or dropped?); `agent-runner orphans` "
                  "lists them"),
                sha, git_repository_workdir(repo));
  return found;
}

gboolean
ar_vcs_stash_drop_oid(git_repository *repo, const git_oid *oid, GError **error)
{
  /* What git_stash_drop() does, except that the entry is looked up by SHA
   * while the ref is locked. */
  g_autoptr(git_transaction) tx = NULL;
  g_autoptr(git_reflog) reflog = NULL;
  int rc;
  if ((rc = git_transaction_new(&tx, repo)) < 0 ||
      (rc = git_transaction_lock_ref(tx, STASH_REF)) < 0 ||
      (rc = git_reflog_read(&reflog, repo, STASH_REF)) < 0)
    return ar_set_error_git(error, rc, _("cannot lock the stash list"));

  gsize n = git_reflog_entrycount(reflog);
  gsize idx = n;
  for (gsize i = 0; i < n && idx == n; i++)
    if (git_oid_equal(git_reflog_entry_id_new(git_reflog_entry_byindex(reflog, i)), oid))
      idx = i;
  if (idx == n) {
    g_set_error(error, AR_ERROR, AR_ERROR_NOT_FOUND, _("stash %s is no longer in the stash list"),
                git_oid_tostr_s(oid));
    return FALSE;
  }
  if ((rc = git_reflog_drop(reflog, idx, 1)) < 0 ||
      (rc = git_transaction_set_reflog(tx, STASH_REF, reflog)) < 0)
    return ar_set_error_git(error, rc, _("cannot drop stash %s"), git_oid_tostr_s(oid));
  if (n == 1)
    rc = git_transaction_remove(tx, STASH_REF);
  else if (idx == 0)
    rc = git_transaction_set_target(
        tx, STASH_REF, git_reflog_entry_id_new(git_reflog_entry_byindex(reflog, 0)), NULL, NULL);
  if (rc < 0 || (rc = git_transaction_commit(tx)) < 0)
    return ar_set_error_git(error, rc, _("cannot drop stash %s"), git_oid_tostr_s(oid));
  return TRUE;
}

/* ---- Listing ---------------------------------------------------------- */

void
ar_vcs_orphan_free(ArVcsOrphan *o)
{
  if (o == NULL)
    return;
  g_free(o->sha);
  g_free(o->message);
  g_free(o->phase);
  if (o->files != NULL)
    g_ptr_array_unref(o->files);
  g_free(o);
}

static void
parse_orphan_message(ArVcsOrphan *o)
{
  const char *p = o->message + strlen("ORPHAN R");
  if (g_ascii_isdigit(*p)) {
    guint64 v = g_ascii_strtoull(p, NULL, 10);
    o->round_num = v > G_MAXUINT ? 0 : (guint)v;
  }
  const char *ph = strstr(o->message, " phase=");
  if (ph != NULL) {
    ph += strlen(" phase=");
    gsize len = strcspn(ph, " ");
    if (len > 0)
      o->phase = g_strndup(ph, len);
  }
}

GPtrArray *
ar_vcs_list_orphans(const char *work_dir, GError **error)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ar_vcs_orphan_free);

  g_autoptr(git_reference) ref = NULL;
  int rc = git_reference_lookup(&ref, r->repo, STASH_REF);
  if (rc == GIT_ENOTFOUND) {
    git_error_clear();
    return g_steal_pointer(&list);
  }
  g_autoptr(git_reflog) reflog = NULL;
  if (rc < 0 || (rc = git_reflog_read(&reflog, r->repo, STASH_REF)) < 0) {
    ar_set_error_git(error, rc, _("cannot read the stash list of %s"), r->root);
    return NULL;
  }
  gsize n = git_reflog_entrycount(reflog);
  for (gsize i = 0; i < n; i++) {
    const git_reflog_entry *e = git_reflog_entry_byindex(reflog, i);
    g_autoptr(git_commit) commit = NULL;
    if (git_commit_lookup(&commit, r->repo, git_reflog_entry_id_new(e)) < 0) {
      git_error_clear(); /* a pruned object: nothing to show or pop */
      continue;
    }
    const char *msg = ar_vcs_stash_message_strip(git_reflog_entry_message(e));
    if (msg == NULL) /* an empty reflog message: git uses the commit's */
      msg = ar_vcs_stash_message_strip(git_commit_summary(commit));
    if (msg == NULL || !g_str_has_prefix(msg, "ORPHAN R"))
      continue;
    g_autoptr(ArVcsOrphan) o = g_new0(ArVcsOrphan, 1);
    o->sha = g_strdup(git_oid_tostr_s(git_commit_id(commit)));
    o->message = g_strdup(msg);
    g_strchomp(o->message);
    o->created = git_commit_time(commit);
    parse_orphan_message(o);
    o->files = ar_vcs_stash_files(r->repo, commit, error);
    if (o->files == NULL)
      return NULL;
    g_ptr_array_add(list, g_steal_pointer(&o));
  }
  return g_steal_pointer(&list);
}

/* ---- Show ------------------------------------------------------------- */

typedef struct {
  git_commit *commit;
  git_tree *base_tree;
  git_tree *w_tree;
  git_tree *u_tree; /* NULL when the stash has no untracked files */
} Stash;

static void
stash_clear(Stash *s)
{
  g_clear_pointer(&s->u_tree, git_tree_free);
  g_clear_pointer(&s->w_tree, git_tree_free);
  g_clear_pointer(&s->base_tree, git_tree_free);
  g_clear_pointer(&s->commit, git_commit_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Stash, stash_clear)

static gboolean
stash_load(ArVcsRepo *r, const char *sha, Stash *s, GError **error)
{
  git_oid oid;
  if (!find_stash(r->repo, sha, &oid, error))
    return FALSE;
  int rc = git_commit_lookup(&s->commit, r->repo, &oid);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot read stash %s"), sha);
  if (git_commit_parentcount(s->commit) < 2) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT, _("%s is not a stash commit"), sha);
    return FALSE;
  }
  g_autoptr(git_commit) base = NULL;
  if ((rc = git_commit_parent(&base, s->commit, 0)) < 0 ||
      (rc = git_commit_tree(&s->base_tree, base)) < 0 ||
      (rc = git_commit_tree(&s->w_tree, s->commit)) < 0)
    return ar_set_error_git(error, rc, _("cannot read stash %s"), sha);
  if (git_commit_parentcount(s->commit) >= 3) {
    g_autoptr(git_commit) u = NULL;
    if ((rc = git_commit_parent(&u, s->commit, 2)) < 0 || (rc = git_commit_tree(&s->u_tree, u)) < 0)
      return ar_set_error_git(error, rc, _("cannot read the untracked files of stash %s"), sha);
  }
  return TRUE;
}

char *
ar_vcs_orphan_diff(const char *work_dir, const char *sha, GError **error)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return NULL;
  g_auto(Stash) s = { 0 };
  if (!stash_load(r, sha, &s, error))
    return NULL;

  g_autoptr(git_diff) diff = NULL;
  int rc = git_diff_tree_to_tree(&diff, r->repo, s.base_tree, s.w_tree, NULL);
  if (rc == 0 && s.u_tree != NULL) {
    /* One patch in path order, tracked and untracked files mixed, as
     * `git stash show -p --include-untracked` prints it. */
    g_autoptr(git_diff) untracked = NULL;
    if ((rc = git_diff_tree_to_tree(&untracked, r->repo, NULL, s.u_tree, NULL)) == 0)
      rc = git_diff_merge(diff, untracked);
  }
  g_auto(git_buf) buf = GIT_BUF_INIT;
  if (rc < 0 || (rc = git_diff_to_buf(&buf, diff, GIT_DIFF_FORMAT_PATCH)) < 0) {
    ar_set_error_git(error, rc, _("cannot show stash %s"), sha);
    return NULL;
  }
  return g_strndup(buf.ptr ? buf.ptr : "", buf.size);
}

/* ---- Pop -------------------------------------------------------------- */

static char *
name_paths(GPtrArray *paths)
{
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < paths->len && i < MAX_NAMED_PATHS; i++) {
    if (i > 0)
      g_string_append(s, ", ");
    g_string_append(s, g_ptr_array_index(paths, i));
  }
  if (paths->len > MAX_NAMED_PATHS)
    g_string_append_printf(s, _(" and %u more"), paths->len - MAX_NAMED_PATHS);
  return g_string_free(s, FALSE);
}

/* Something on disk would be overwritten by writing `path`: a file there,
 * or a file where one of its parent directories has to go (unless the
 * stash removes that file: `going`). */
static gboolean
blocked_on_disk(ArVcsRepo *r, const char *path, GHashTable *going)
{
  g_autofree char *full = g_build_filename(r->root, path, NULL);
  struct stat st;
  if (lstat(full, &st) == 0)
    return TRUE;
  g_autofree char *dir = g_path_get_dirname(path);
  while (!g_str_equal(dir, ".") && !g_str_equal(dir, "/")) {
    g_autofree char *dfull = g_build_filename(r->root, dir, NULL);
    if (lstat(dfull, &st) == 0)
      return !S_ISDIR(st.st_mode) && !g_hash_table_contains(going, dir);
    char *up = g_path_get_dirname(dir);
    g_free(dir);
    dir = up;
  }
  return FALSE;
}

gboolean
ar_vcs_orphan_drop(const char *work_dir, const char *sha, GError **error)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return FALSE;
  git_oid oid;
  return find_stash(r->repo, sha, &oid, error) && ar_vcs_stash_drop_oid(r->repo, &oid, error);
}

gboolean
ar_vcs_orphan_pop(const char *work_dir, const char *sha, GError **error)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return FALSE;
  g_auto(Stash) s = { 0 };
  if (!stash_load(r, sha, &s, error))
    return FALSE;
  gboolean unborn;
  g_autoptr(git_commit) head = ar_vcs_head_commit(r, &unborn, error);
  if (head == NULL && unborn)
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("cannot pop stash %s in %s: the branch has no commit yet"), sha, r->root);
  if (head == NULL)
    return FALSE;
  if (git_repository_state(r->repo) != GIT_REPOSITORY_STATE_NONE) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("cannot pop stash %s: a merge, rebase, cherry-pick or bisect is in progress "
                  "in %s. How to fix: finish or abort it first"),
                sha, r->root);
    return FALSE;
  }
  if (!ar_vcs_check_index_unlocked(r, _("pop a stash"), error))
    return FALSE;
  g_autoptr(git_tree) head_tree = NULL;
  g_autoptr(git_index) index = NULL;
  int rc;
  if ((rc = git_commit_tree(&head_tree, head)) < 0 ||
      (rc = git_repository_index(&index, r->repo)) < 0)
    return ar_set_error_git(error, rc, _("cannot read HEAD and the index of %s"), r->root);

  /* What the stash changes. */
  g_autoptr(GPtrArray) tracked = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) untracked = g_ptr_array_new_with_free_func(g_free);
  if (!ar_vcs_tree_diff_paths(r->repo, s.base_tree, s.w_tree, tracked, error) ||
      (s.u_tree != NULL && !ar_vcs_tree_diff_paths(r->repo, NULL, s.u_tree, untracked, error)))
    return FALSE;

  /* Everything that would be lost or clash, checked before anything is
   * written, so a refusal leaves the tree exactly as it was. */
  g_autoptr(GPtrArray) local = ar_vcs_changes_collect(r, NULL, FALSE, error);
  if (local == NULL)
    return FALSE;
  g_autoptr(GHashTable) dirty = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < local->len; i++)
    g_hash_table_add(dirty, ((ArVcsChange *)g_ptr_array_index(local, i))->path);
  g_autoptr(GHashTable) going = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < tracked->len; i++) {
    const char *path = g_ptr_array_index(tracked, i);
    g_autoptr(git_tree_entry) te = NULL;
    if (git_tree_entry_bypath(&te, s.w_tree, path) < 0)
      g_hash_table_add(going, (gpointer)path);
    git_error_clear();
  }
  g_autoptr(GPtrArray) clashes = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < tracked->len; i++) {
    const char *path = g_ptr_array_index(tracked, i);
    g_autoptr(git_tree_entry) te = NULL;
    gboolean in_head = git_tree_entry_bypath(&te, head_tree, path) == 0;
    git_error_clear();
    if (g_hash_table_contains(dirty, path) || (!in_head && blocked_on_disk(r, path, going)))
      g_ptr_array_add(clashes, g_strdup(path));
  }
  for (guint i = 0; i < untracked->len; i++) {
    const char *path = g_ptr_array_index(untracked, i);
    if (g_hash_table_contains(dirty, path) || blocked_on_disk(r, path, going))
      g_ptr_array_add(clashes, g_strdup(path));
  }

  /* HEAD moved on since the stash: merge its changes in, as git does. */
  g_autoptr(git_tree) merged_tree = NULL;
  git_tree *target = s.w_tree;
  if (!git_oid_equal(git_tree_id(head_tree), git_tree_id(s.base_tree))) {
    g_autoptr(git_index) merged = NULL;
    if ((rc = git_merge_trees(&merged, r->repo, s.base_tree, head_tree, s.w_tree, NULL)) < 0)
      return ar_set_error_git(error, rc, _("cannot merge stash %s with HEAD"), sha);
    if (git_index_has_conflicts(merged)) {
      g_autoptr(git_index_conflict_iterator) it = NULL;
      const git_index_entry *anc, *ours, *theirs;
      if ((rc = git_index_conflict_iterator_new(&it, merged)) < 0)
        return ar_set_error_git(error, rc, _("cannot merge stash %s with HEAD"), sha);
      while (git_index_conflict_next(&anc, &ours, &theirs, it) == 0) {
        const git_index_entry *e = ours ? ours : theirs ? theirs : anc;
        g_ptr_array_add(clashes, g_strdup(e->path));
      }
      git_error_clear();
    } else {
      git_oid oid;
      if ((rc = git_index_write_tree_to(&oid, merged, r->repo)) < 0 ||
          (rc = git_tree_lookup(&merged_tree, r->repo, &oid)) < 0)
        return ar_set_error_git(error, rc, _("cannot merge stash %s with HEAD"), sha);
      target = merged_tree;
    }
  }
  if (clashes->len > 0) {
    ar_vcs_sort_unique(clashes);
    g_autofree char *names = name_paths(clashes);
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("cannot pop stash %s: it would overwrite or conflict with local changes in "
                  "%s. Nothing was changed. How to fix: commit, move or stash those files "
                  "first; `agent-runner orphans show %s` shows the stash"),
                sha, names, sha);
    return FALSE;
  }

  /* Apply: tracked changes as unstaged changes (new files staged, as
   * `git stash apply` does), then the untracked files. */
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH |
                           GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX;
  if (tracked->len > 0) {
    opts.paths = ar_vcs_strarray(tracked);
    if ((rc = git_checkout_tree(r->repo, (git_object *)target, &opts)) < 0)
      return ar_set_error_git(error, rc, _("cannot apply stash %s (it is kept)"), sha);
    for (guint i = 0; i < tracked->len; i++) {
      const char *path = g_ptr_array_index(tracked, i);
      g_autoptr(git_tree_entry) in_head = NULL;
      g_autoptr(git_tree_entry) in_target = NULL;
      if (git_tree_entry_bypath(&in_head, head_tree, path) < 0 &&
          git_tree_entry_bypath(&in_target, target, path) == 0 &&
          (rc = git_index_add_bypath(index, path)) < 0)
        return ar_set_error_git(error, rc, _("cannot stage %s (stash %s is kept)"), path, sha);
      git_error_clear();
    }
    if ((rc = git_index_write(index)) < 0)
      return ar_set_error_git(error, rc, _("cannot write the git index of %s"), r->root);
  }
  if (untracked->len > 0) {
    opts.paths = ar_vcs_strarray(untracked);
    if ((rc = git_checkout_tree(r->repo, (git_object *)s.u_tree, &opts)) < 0)
      return ar_set_error_git(
          error, rc, _("cannot restore the untracked files of stash %s (it is kept)"), sha);
  }
  return ar_vcs_stash_drop_oid(r->repo, git_commit_id(s.commit), error);
}
