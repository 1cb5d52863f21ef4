/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Work-tree checks, exclusions, dirty detection and the substrate
 * fingerprint. Stash and auto-commit live in ar-vcs-stash.c, the orphans
 * verb in ar-vcs-orphans.c. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "ar-vcs-private.h"

gboolean
ar_set_error_git(GError **error, int git_rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  const git_error *e = git_error_last();
  if (e != NULL && e->message != NULL && *e->message != '\0')
    g_set_error(error, AR_ERROR, AR_ERROR_GIT, "%s: %s", prefix, e->message);
  else
    g_set_error(error, AR_ERROR, AR_ERROR_GIT, "%s: libgit2 error %d", prefix, git_rc);
  return FALSE;
}

/* ---- Opening a work tree -------------------------------------------- */

static char *
real_path(const char *path)
{
  char *r = realpath(path, NULL);
  if (r == NULL)
    return NULL;
  /* realpath() memory comes from malloc; hand out GLib memory. */
  char *copy = g_strdup(r);
  free(r);
  return copy;
}

void
ar_vcs_repo_free(ArVcsRepo *r)
{
  if (r == NULL)
    return;
  git_repository_free(r->repo);
  g_free(r->root);
  g_free(r->prefix);
  g_free(r);
  /* Last: the repository above must be gone before libgit2 may shut down. */
  git_libgit2_shutdown();
}

ArVcsRepo *
ar_vcs_repo_open(const char *work_dir, GError **error)
{
  g_return_val_if_fail(work_dir != NULL, NULL);

  g_autofree char *real_work = real_path(work_dir);
  if (real_work == NULL || !g_file_test(real_work, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("work_dir %s does not exist or is not a directory. How to fix: create it "
                  "and run `git init` there, or set [runtime] work_dir to a git checkout"),
                work_dir);
    return NULL;
  }

  g_autoptr(ArVcsRepo) r = g_new0(ArVcsRepo, 1);
  git_libgit2_init(); /* released by ar_vcs_repo_free() */

  int rc = git_repository_open_ext(&r->repo, real_work, 0, NULL);
  if (rc == GIT_ENOTFOUND) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("%s is not inside a git work tree. How to fix: run `git init` there and "
                  "commit a first version (`git add -A && git commit -m init`), or point "
                  "[runtime] work_dir at a git checkout"),
                work_dir);
    return NULL;
  }
  if (rc == GIT_EOWNER) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("the git repository at %s belongs to another user, so git refuses to use "
                  "it. How to fix: run agent-runner as the owner of the checkout, or trust "
                  "it with `git config --global --add safe.directory %s`"),
                work_dir, real_work);
    return NULL;
  }
  if (rc < 0) {
    ar_set_error_git(error, rc, _("cannot open the git repository at %s"), work_dir);
    return NULL;
  }
  if (git_repository_is_bare(r->repo) || git_repository_workdir(r->repo) == NULL) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("%s is a bare git repository, which has no work tree for the agent to "
                  "edit. How to fix: clone it (`git clone %s DIR`) and point [runtime] "
                  "work_dir at DIR"),
                work_dir, work_dir);
    return NULL;
  }

  r->root = real_path(git_repository_workdir(r->repo));
  if (r->root == NULL) {
    ar_set_error_errno(error, errno, "realpath %s", git_repository_workdir(r->repo));
    return NULL;
  }
  g_autoptr(git_config) cfg = NULL;
  int trust = 1;
  if (git_repository_config_snapshot(&cfg, r->repo) < 0 ||
      git_config_get_bool(&trust, cfg, "core.filemode") < 0) {
    git_error_clear();
    trust = 1;
  }
  r->trust_filemode = trust != 0;
  int icase = 0;
  if (cfg == NULL || git_config_get_bool(&icase, cfg, "core.ignorecase") < 0) {
    git_error_clear();
    icase = 0;
  }
  r->ignore_case = icase != 0;

  if (g_str_equal(real_work, r->root)) {
    r->prefix = g_strdup("");
  } else if (g_str_has_prefix(real_work, r->root) && real_work[strlen(r->root)] == '/') {
    r->prefix = g_strconcat(real_work + strlen(r->root) + 1, "/", NULL);
  } else {
    /* e.g. work_dir is the .git directory itself */
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("%s is not inside the work tree of the repository at %s. How to fix: "
                  "point [runtime] work_dir at %s or a directory below it"),
                work_dir, r->root, r->root);
    return NULL;
  }
  return g_steal_pointer(&r);
}

git_commit *
ar_vcs_head_commit(ArVcsRepo *r, gboolean *unborn, GError **error)
{
  *unborn = FALSE;
  int rc = git_repository_head_unborn(r->repo);
  if (rc == 1) {
    *unborn = TRUE;
    return NULL;
  }
  g_autoptr(git_reference) head = NULL;
  if (rc < 0 || (rc = git_repository_head(&head, r->repo)) < 0) {
    ar_set_error_git(error, rc,
                     _("cannot read HEAD in %s (How to fix: check `git status` there; "
                       "the repository may be damaged)"),
                     r->root);
    return NULL;
  }
  git_commit *commit = NULL;
  rc = git_reference_peel((git_object **)&commit, head, GIT_OBJECT_COMMIT);
  if (rc < 0) {
    ar_set_error_git(error, rc, _("HEAD in %s does not point to a commit"), r->root);
    return NULL;
  }
  return commit;
}

gboolean
ar_vcs_check_work_tree(const char *work_dir, GError **error)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return FALSE;
  gboolean unborn;
  g_autoptr(git_commit) head = ar_vcs_head_commit(r, &unborn, error);
  return head != NULL || unborn;
}

static char *
head_sha(ArVcsRepo *r)
{
  gboolean unborn;
  g_autoptr(git_commit) head = ar_vcs_head_commit(r, &unborn, NULL);
  if (head == NULL)
    return NULL;
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, git_commit_id(head));
  return g_strdup(hex);
}

char *
ar_vcs_head_sha(const char *work_dir)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, NULL);
  if (r == NULL)
    return NULL;
  return head_sha(r);
}

/* Fail early, before creating anything, when another git process holds
 * the index; git_index_write() would fail later anyway. */
gboolean
ar_vcs_check_index_unlocked(ArVcsRepo *r, const char *what, GError **error)
{
  g_autofree char *lock = g_build_filename(git_repository_path(r->repo), "index.lock", NULL);
  if (!g_file_test(lock, G_FILE_TEST_EXISTS))
    return TRUE;
  g_set_error(error, AR_ERROR, AR_ERROR_BUSY,
              _("cannot %s in %s: another git process is using the repository (%s exists). "
                "How to fix: wait for it to finish, or remove that file if no git process is "
                "running"),
              what, r->root, lock);
  return FALSE;
}

/* The index, or an error when it holds unresolved merge conflicts: no
 * stash or commit can be built on top of those. */
git_index *
ar_vcs_open_clean_index(ArVcsRepo *r, const char *what, GError **error)
{
  g_autoptr(git_index) index = NULL;
  int rc = git_repository_index(&index, r->repo);
  if (rc < 0) {
    ar_set_error_git(error, rc, _("cannot read the git index of %s"), r->root);
    return NULL;
  }
  if (git_index_has_conflicts(index)) {
    g_set_error(error, AR_ERROR, AR_ERROR_GIT,
                _("cannot %s in %s: the index has unresolved merge conflicts. How to fix: "
                  "resolve them (`git status`), then commit"),
                what, r->root);
    return NULL;
  }
  return g_steal_pointer(&index);
}

/* ---- Exclusions ------------------------------------------------------ */

ArVcsExcludes *
ar_vcs_excludes_new(const char *log_dir, const char *const *owned_paths)
{
  ArVcsExcludes *ex = g_new0(ArVcsExcludes, 1);
  ex->log_dir = g_strdup(log_dir);
  ex->owned = g_ptr_array_new_with_free_func(g_free);
  for (const char *const *p = owned_paths; p != NULL && *p != NULL; p++)
    ar_vcs_excludes_add_owned(ex, *p);
  return ex;
}

void
ar_vcs_excludes_add_owned(ArVcsExcludes *ex, const char *path)
{
  g_return_if_fail(ex != NULL && path != NULL);
  g_ptr_array_add(ex->owned, g_strdup(path));
}

void
ar_vcs_excludes_free(ArVcsExcludes *ex)
{
  if (ex == NULL)
    return;
  g_free(ex->log_dir);
  g_ptr_array_unref(ex->owned);
  g_free(ex);
}

typedef struct {
  char *pattern;
  gboolean glob;
} ArVcsPattern;

static void
pattern_free(gpointer p)
{
  ArVcsPattern *pat = p;
  g_free(pat->pattern);
  g_free(pat);
}

void
ar_vcs_exclude_set_free(ArVcsExcludeSet *set)
{
  if (set == NULL)
    return;
  g_free(set->log_rel);
  g_ptr_array_unref(set->owned);
  g_free(set);
}

static gboolean
has_glob_chars(const char *s)
{
  return strpbrk(s, "*?[") != NULL;
}

/* A literal directory name used inside a glob must not act as one. */
static char *
glob_escape(const char *s)
{
  GString *out = g_string_new(NULL);
  for (; *s; s++) {
    if (strchr("*?[\\", *s) != NULL)
      g_string_append_c(out, '\\');
    g_string_append_c(out, *s);
  }
  return g_string_free(out, FALSE);
}

/* "/abs/root/x/y" -> "x/y"; NULL when not strictly below root. */
static const char *
below_root(ArVcsRepo *r, const char *abs)
{
  gsize n = strlen(r->root);
  if (strncmp(abs, r->root, n) != 0 || abs[n] != '/' || abs[n + 1] == '\0')
    return NULL;
  return abs + n + 1;
}

ArVcsExcludeSet *
ar_vcs_exclude_set_new(ArVcsRepo *r, const ArVcsExcludes *ex)
{
  ArVcsExcludeSet *set = g_new0(ArVcsExcludeSet, 1);
  set->owned = g_ptr_array_new_with_free_func(pattern_free);
  if (ex == NULL)
    return set;

  if (ex->log_dir != NULL && *ex->log_dir != '\0') {
    g_autofree char *work = g_build_filename(r->root, r->prefix, NULL);
    g_autofree char *abs = real_path(ex->log_dir);
    if (abs == NULL) /* not created yet: judge by its name */
      abs = g_canonicalize_filename(ex->log_dir, work);
    const char *rel = below_root(r, abs);
    int ignored = 0;
    /* An ignored log dir is invisible to git already; only a visible one
     * needs excluding (the Python tool's rule, kept for compatibility). */
    if (rel != NULL && git_ignore_path_is_ignored(&ignored, r->repo, rel) == 0 && !ignored) {
      set->log_rel = g_strdup(rel);
      gsize len = strlen(set->log_rel);
      while (len > 0 && set->log_rel[len - 1] == '/')
        set->log_rel[--len] = '\0';
    }
  }

  g_autofree char *escaped_prefix = glob_escape(r->prefix);
  for (guint i = 0; i < ex->owned->len; i++) {
    const char *p = g_ptr_array_index(ex->owned, i);
    g_autofree char *rel = NULL;
    if (g_path_is_absolute(p)) {
      g_autofree char *canon = g_canonicalize_filename(p, NULL);
      const char *below = below_root(r, canon);
      if (below == NULL)
        continue; /* outside the work tree: git never sees it */
      rel = g_strdup(below);
    } else {
      while (g_str_has_prefix(p, "./"))
        p += 2;
      gboolean glob = has_glob_chars(p);
      rel = g_strconcat(glob ? escaped_prefix : r->prefix, p, NULL);
    }
    gsize len = strlen(rel);
    while (len > 0 && rel[len - 1] == '/')
      rel[--len] = '\0';
    if (len == 0)
      continue;
    ArVcsPattern *pat = g_new0(ArVcsPattern, 1);
    pat->glob = !g_path_is_absolute(p) && has_glob_chars(p);
    pat->pattern = g_steal_pointer(&rel);
    g_ptr_array_add(set->owned, pat);
  }
  return set;
}

static gboolean
is_same_or_below(const char *path, const char *dir)
{
  gsize n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static gboolean glob_match_n(const char *pattern, const char *path, gsize path_len);

gboolean
ar_vcs_exclude_set_match(const ArVcsExcludeSet *set, const char *path)
{
  if (set == NULL)
    return FALSE;
  if (set->log_rel != NULL && is_same_or_below(path, set->log_rel))
    return TRUE;
  for (guint i = 0; i < set->owned->len; i++) {
    const ArVcsPattern *pat = g_ptr_array_index(set->owned, i);
    if (!pat->glob) {
      if (is_same_or_below(path, pat->pattern))
        return TRUE;
      continue;
    }
    /* The path itself, or any directory above it, matching the glob. */
    for (const char *p = path;; p++) {
      if (*p == '/' || *p == '\0') {
        if (glob_match_n(pat->pattern, path, p - path))
          return TRUE;
      }
      if (*p == '\0')
        break;
    }
  }
  return FALSE;
}

/* ---- Globs ----------------------------------------------------------- */

/* One pattern character against one byte; *next is set past the pattern
 * element ('?', a '[...]' class, an escaped or a literal character). */
static gboolean
match_one(const char *p, const char *pe, char c, const char **next)
{
  if (*p == '?') {
    *next = p + 1;
    return TRUE;
  }
  if (*p == '\\' && p + 1 < pe) {
    *next = p + 2;
    return p[1] == c;
  }
  if (*p == '[') {
    const char *q = p + 1;
    gboolean negate = FALSE;
    if (q < pe && (*q == '!' || *q == '^')) {
      negate = TRUE;
      q++;
    }
    const char *start = q;
    gboolean found = FALSE;
    while (q < pe && (*q != ']' || q == start)) {
      if (q + 2 < pe && q[1] == '-' && q[2] != ']') {
        if ((guchar)c >= (guchar)q[0] && (guchar)c <= (guchar)q[2])
          found = TRUE;
        q += 3;
      } else {
        if (*q == c)
          found = TRUE;
        q++;
      }
    }
    if (q < pe) { /* a closed class */
      *next = q + 1;
      return found != negate;
    }
    /* an unclosed '[' is a literal */
  }
  *next = p + 1;
  return *p == c;
}

/* Within one segment: no '/' on either side. */
static gboolean
segment_match(const char *p, const char *pe, const char *s, const char *se)
{
  const char *star_p = NULL, *star_s = NULL;
  while (s < se) {
    if (p < pe && *p == '*') {
      star_p = ++p;
      star_s = s;
      continue;
    }
    const char *next;
    if (p < pe && match_one(p, pe, *s, &next)) {
      p = next;
      s++;
      continue;
    }
    if (star_p == NULL)
      return FALSE;
    p = star_p;
    s = ++star_s;
  }
  while (p < pe && *p == '*')
    p++;
  return p == pe;
}

static const char *
seg_end(const char *s, const char *end)
{
  const char *slash = memchr(s, '/', end - s);
  return slash ? slash : end;
}

static gboolean
match_from(const char *p, const char *pe, const char *s, const char *se)
{
  const char *pseg = seg_end(p, pe);
  if (pseg - p == 2 && p[0] == '*' && p[1] == '*') {
    if (pseg == pe) /* trailing '**': everything below */
      return TRUE;
    /* zero or more whole segments */
    for (const char *t = s;;) {
      if (match_from(pseg + 1, pe, t, se))
        return TRUE;
      const char *slash = memchr(t, '/', se - t);
      if (slash == NULL)
        return FALSE;
      t = slash + 1;
    }
  }
  const char *sseg = seg_end(s, se);
  if (!segment_match(p, pseg, s, sseg))
    return FALSE;
  if (pseg == pe)
    return sseg == se;
  if (sseg == se) /* a trailing "**" segment also names the directory itself */
    return pe - pseg == 3 && pseg[1] == '*' && pseg[2] == '*';
  return match_from(pseg + 1, pe, sseg + 1, se);
}

static gboolean
glob_match_n(const char *pattern, const char *path, gsize path_len)
{
  return match_from(pattern, pattern + strlen(pattern), path, path + path_len);
}

gboolean
ar_vcs_glob_match(const char *pattern, const char *path)
{
  return glob_match_n(pattern, path, strlen(path));
}

/* ---- Dirty detection ------------------------------------------------- */

static void
change_free(gpointer p)
{
  ArVcsChange *c = p;
  g_free(c->path);
  g_free(c);
}

static int
change_cmp(gconstpointer a, gconstpointer b)
{
  const ArVcsChange *ca = *(ArVcsChange *const *)a;
  const ArVcsChange *cb = *(ArVcsChange *const *)b;
  return strcmp(ca->path, cb->path);
}

GPtrArray *
ar_vcs_changes_collect(ArVcsRepo *r, const ArVcsExcludeSet *set, gboolean for_report,
                       GError **error)
{
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
  if (for_report)
    opts.flags |= GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX;
  else
    opts.flags |= GIT_STATUS_OPT_EXCLUDE_SUBMODULES;

  g_autoptr(git_status_list) list = NULL;
  int rc = git_status_list_new(&list, r->repo, &opts);
  if (rc < 0) {
    ar_set_error_git(error, rc, _("cannot read the status of %s"), r->root);
    return NULL;
  }

  GPtrArray *changes = g_ptr_array_new_with_free_func(change_free);
  gsize n = git_status_list_entrycount(list);
  for (gsize i = 0; i < n; i++) {
    const git_status_entry *e = git_status_byindex(list, i);
    if (e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
      continue;
    const git_diff_delta *d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
    if (d == NULL)
      continue;
    const char *path = d->new_file.path ? d->new_file.path : d->old_file.path;
    if (path == NULL || ar_vcs_exclude_set_match(set, path))
      continue;
    ArVcsChange *c = g_new0(ArVcsChange, 1);
    c->path = g_strdup(path);
    c->flags = e->status;
    g_ptr_array_add(changes, c);
  }
  g_ptr_array_sort(changes, change_cmp);
  return changes;
}

/* Ignore rules only skip untracked paths, and status drops everything
 * below the log dir anyway (tracked files there too, by the exclusion
 * match after the walk), so an in-memory rule for it changes no result:
 * it only spares libgit2 a walk over every transcript, which grows by one
 * file a round. The rule lives in this git_repository only, never on
 * disk; call it after anything else that lists untracked files (the
 * paths hash) on the same repository. Names with gitignore syntax in
 * them are left to the walk rather than escaped, and so is everything
 * under core.ignorecase, where the rule would also hide "LOGS/" that the
 * (case-sensitive) exclusion keeps. */
static void
ignore_log_dir(ArVcsRepo *r, const ArVcsExcludeSet *set)
{
  const char *rel = set->log_rel;
  if (rel == NULL || r->ignore_case || *rel == '\0' || strpbrk(rel, "*?[]\\!#\n\r") != NULL ||
      g_ascii_isspace(rel[0]) || g_ascii_isspace(rel[strlen(rel) - 1]))
    return;
  g_autofree char *rule = g_strconcat("/", rel, "/", NULL);
  if (git_ignore_add_rule(r->repo, rule) < 0)
    git_error_clear(); /* the walk is only slower */
}

static ArVcsStatus *
status_collect(ArVcsRepo *r, const ArVcsExcludes *excludes, GError **error)
{
  g_autoptr(ArVcsExcludeSet) set = ar_vcs_exclude_set_new(r, excludes);
  ignore_log_dir(r, set);
  g_autoptr(GPtrArray) changes = ar_vcs_changes_collect(r, set, TRUE, error);
  if (changes == NULL)
    return NULL;

  ArVcsStatus *status = g_new0(ArVcsStatus, 1);
  status->files = g_ptr_array_new_full(changes->len, g_free);
  for (guint i = 0; i < changes->len; i++) {
    ArVcsChange *c = g_ptr_array_index(changes, i);
    g_ptr_array_add(status->files, g_steal_pointer(&c->path));
  }
  /* Two entries can name one path (a staged delete plus an untracked file
   * of the same name); report it once. */
  ar_vcs_sort_unique(status->files);
  status->count = status->files->len;
  return status;
}

ArVcsStatus *
ar_vcs_status(const char *work_dir, const ArVcsExcludes *excludes, GError **error)
{
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return NULL;
  return status_collect(r, excludes, error);
}

void
ar_vcs_status_free(ArVcsStatus *status)
{
  if (status == NULL)
    return;
  g_ptr_array_unref(status->files);
  g_free(status);
}

/* ---- Small helpers shared with the stash code ------------------------ */

static int
str_cmp(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void
ar_vcs_sort_unique(GPtrArray *paths)
{
  g_ptr_array_sort(paths, str_cmp);
  /* Duplicates are rare (one path, two status entries): removing them one
   * by one is cheap enough. */
  for (guint i = paths->len; i > 1; i--)
    if (strcmp(g_ptr_array_index(paths, i - 1), g_ptr_array_index(paths, i - 2)) == 0)
      g_ptr_array_remove_index(paths, i - 1);
}

guint32
ar_vcs_workdir_mode(ArVcsRepo *r, const char *path, guint32 fallback)
{
  g_autofree char *full = g_build_filename(r->root, path, NULL);
  struct stat st;
  if (lstat(full, &st) < 0)
    return fallback;
  if (S_ISLNK(st.st_mode))
    return GIT_FILEMODE_LINK;
  if (!S_ISREG(st.st_mode))
    return fallback;
  if (!r->trust_filemode) /* core.filemode=false: the exec bit on disk means nothing */
    return fallback == GIT_FILEMODE_BLOB_EXECUTABLE ? fallback : GIT_FILEMODE_BLOB;
  return (st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

gboolean
ar_vcs_tree_diff_paths(git_repository *repo, git_tree *tree_a, git_tree *tree_b, GPtrArray *out,
                       GError **error)
{
  g_autoptr(git_diff) diff = NULL;
  int rc = git_diff_tree_to_tree(&diff, repo, tree_a, tree_b, NULL);
  if (rc < 0)
    return ar_set_error_git(error, rc, _("cannot compare trees"));
  gsize n = git_diff_num_deltas(diff);
  for (gsize i = 0; i < n; i++) {
    const git_diff_delta *d = git_diff_get_delta(diff, i);
    g_ptr_array_add(out, g_strdup(d->new_file.path ? d->new_file.path : d->old_file.path));
  }
  return TRUE;
}

/* ---- Substrate fingerprint ------------------------------------------- */

/* The directory part of a glob before its first wildcard ("src" for
 * src, then "**", then "*.c"); limits the untracked-file scan to where
 * matches can be. */
static char *
glob_literal_dir(const char *glob)
{
  g_auto(GStrv) parts = g_strsplit(glob, "/", -1);
  guint n = g_strv_length(parts);
  GString *out = g_string_new(NULL);
  for (guint i = 0; i < n; i++) {
    if (has_glob_chars(parts[i]) || strchr(parts[i], '\\') != NULL)
      break;
    if (out->len > 0)
      g_string_append_c(out, '/');
    g_string_append(out, parts[i]);
  }
  return g_string_free(out, FALSE);
}

static gboolean
matches_any(const char *const *globs, const char *rel)
{
  for (const char *const *g = globs; *g != NULL; g++)
    if (ar_vcs_glob_match(*g, rel))
      return TRUE;
  return FALSE;
}

/* sha256 hex of a work-tree file; NULL if it is gone or not a file. */
static char *
hash_file(const char *full)
{
  struct stat st;
  if (lstat(full, &st) < 0)
    return NULL;
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  if (S_ISLNK(st.st_mode)) {
    g_autofree char *target = g_file_read_link(full, NULL);
    if (target == NULL)
      return NULL;
    g_checksum_update(sum, (const guchar *)target, strlen(target));
    return g_strdup(g_checksum_get_string(sum));
  }
  if (!S_ISREG(st.st_mode))
    return NULL;
  g_auto(ArFd) fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return NULL;
  guchar buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    g_checksum_update(sum, buf, n);
  }
  return g_strdup(g_checksum_get_string(sum));
}

static char *
paths_hash(ArVcsRepo *r, const char *const *globs, GError **error)
{
  gsize plen = strlen(r->prefix);
  g_autoptr(GPtrArray) rels = g_ptr_array_new_with_free_func(g_free);

  /* Tracked files, from the index. */
  g_autoptr(git_index) index = NULL;
  int rc = git_repository_index(&index, r->repo);
  if (rc < 0) {
    ar_set_error_git(error, rc, _("cannot read the git index of %s"), r->root);
    return NULL;
  }
  gsize n = git_index_entrycount(index);
  for (gsize i = 0; i < n; i++) {
    const git_index_entry *e = git_index_get_byindex(index, i);
    if (e->mode == GIT_FILEMODE_COMMIT || strncmp(e->path, r->prefix, plen) != 0)
      continue;
    if (matches_any(globs, e->path + plen))
      g_ptr_array_add(rels, g_strdup(e->path + plen));
  }

  /* Untracked, not ignored files, looked for only where a glob can match. */
  g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(g_free);
  for (const char *const *g = globs; *g != NULL; g++) {
    g_autofree char *lit = glob_literal_dir(*g);
    g_ptr_array_add(specs, g_strconcat(r->prefix, lit, NULL));
  }
  gboolean whole = FALSE;
  for (guint i = 0; i < specs->len; i++)
    if (*(char *)g_ptr_array_index(specs, i) == '\0')
      whole = TRUE;
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
  opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
               GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  if (!whole)
    opts.pathspec = ar_vcs_strarray(specs);
  g_autoptr(git_status_list) list = NULL;
  rc = git_status_list_new(&list, r->repo, &opts);
  if (rc < 0) {
    ar_set_error_git(error, rc, _("cannot read the status of %s"), r->root);
    return NULL;
  }
  n = git_status_list_entrycount(list);
  for (gsize i = 0; i < n; i++) {
    const git_status_entry *e = git_status_byindex(list, i);
    if (!(e->status & GIT_STATUS_WT_NEW) || e->index_to_workdir == NULL)
      continue;
    const char *path = e->index_to_workdir->new_file.path;
    if (strncmp(path, r->prefix, plen) != 0 || g_str_has_suffix(path, "/"))
      continue;
    if (matches_any(globs, path + plen))
      g_ptr_array_add(rels, g_strdup(path + plen));
  }
  ar_vcs_sort_unique(rels);

  g_autoptr(GChecksum) chain = g_checksum_new(G_CHECKSUM_SHA256);
  for (guint i = 0; i < rels->len; i++) {
    const char *rel = g_ptr_array_index(rels, i);
    g_autofree char *full = g_build_filename(r->root, r->prefix, rel, NULL);
    g_autofree char *digest = hash_file(full);
    if (digest == NULL) /* deleted in the work tree: not part of the substrate */
      continue;
    g_checksum_update(chain, (const guchar *)rel, strlen(rel));
    g_checksum_update(chain, (const guchar *)"\n", 1);
    g_checksum_update(chain, (const guchar *)digest, strlen(digest));
    g_checksum_update(chain, (const guchar *)"\n", 1);
  }
  return g_strdup(g_checksum_get_string(chain));
}

char *
ar_vcs_paths_hash(const char *work_dir, const char *const *globs, GError **error)
{
  if (globs == NULL || globs[0] == NULL)
    return NULL;
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return NULL;
  return paths_hash(r, globs, error);
}

/* ---- Snapshot -------------------------------------------------------- */

void
ar_vcs_snapshot_clear(ArVcsSnapshot *snap)
{
  g_clear_pointer(&snap->git_head, g_free);
  g_clear_pointer(&snap->paths_hash, g_free);
  g_clear_pointer(&snap->status, ar_vcs_status_free);
  g_clear_pointer(&snap->status_error, g_free);
}

gboolean
ar_vcs_snapshot(const char *work_dir, const ArVcsExcludes *excludes, const char *const *globs,
                ArVcsSnapshotFlags what, ArVcsSnapshot *out, GError **error)
{
  ar_vcs_snapshot_clear(out);
  /* Opening costs more than HEAD and a small status together (config
   * files, refs): one open for all three is the point of this call. */
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, error);
  if (r == NULL)
    return FALSE;
  if (what & AR_VCS_SNAPSHOT_HEAD)
    out->git_head = head_sha(r);
  /* Before the status: its ignore rule for the log dir would hide
   * untracked files there from the hash. */
  if ((what & AR_VCS_SNAPSHOT_PATHS_HASH) && globs != NULL && globs[0] != NULL)
    out->paths_hash = paths_hash(r, globs, NULL);
  if (what & AR_VCS_SNAPSHOT_STATUS) {
    g_autoptr(GError) local = NULL;
    out->status = status_collect(r, excludes, &local);
    if (out->status == NULL)
      out->status_error = g_strdup(local->message);
  }
  return TRUE;
}
