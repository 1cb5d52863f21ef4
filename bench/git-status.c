/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* How long ar_vcs_status() takes on a large work tree: a repository with
 * 100,000 committed files (1,000 directories of 100), a few of them
 * modified, then the same plus untracked files; `git status` on the same
 * tree for scale. Prints figures only (wall and CPU time); the
 * round end calls this on a worker thread, and docs/performance.md keeps
 * the results.
 *
 *   bench-git-status [N_FILES]     (default 100000) */

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "ar-cleanup.h"
#include "ar-vcs.h"

#define RUNS           7
#define FILES_PER_DIR  100
#define DIRTY_FILES    5
#define UNTRACKED_DIRS 10
#define UNTRACKED_PER  100

static void
write_file(const char *path, const char *text)
{
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents(path, text, -1, &error))
    g_error("%s", error->message);
}

static void
check(int rc, const char *what)
{
  if (rc < 0)
    g_error("%s: %s", what, git_error_last() ? git_error_last()->message : "?");
}

/* The files predate the index, as in a checkout that has been around for
 * a while; otherwise every one of them is "racily clean" and each status
 * would re-read all contents, which no real work tree does. */
static void
age_file(const char *path)
{
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= 3600;
  ts[1] = ts[0];
  utimensat(AT_FDCWD, path, ts, 0);
}

static void
make_repository(const char *dir, guint n_files)
{
  g_autoptr(git_repository) repo = NULL;
  check(git_repository_init(&repo, dir, FALSE), "init");
  for (guint i = 0; i < n_files; i++) {
    g_autofree char *sub = g_strdup_printf("%s/d%04u", dir, i / FILES_PER_DIR);
    if (i % FILES_PER_DIR == 0)
      g_mkdir_with_parents(sub, 0755);
    g_autofree char *path = g_strdup_printf("%s/f%03u.txt", sub, i % FILES_PER_DIR);
    g_autofree char *text = g_strdup_printf("file %u\nsome content to hash\n", i);
    write_file(path, text);
    age_file(path);
  }

  g_autoptr(git_index) index = NULL;
  g_autoptr(git_signature) sig = NULL;
  g_autoptr(git_tree) tree = NULL;
  git_oid tree_oid, commit_oid;
  check(git_repository_index(&index, repo), "index");
  check(git_index_add_all(index, NULL, 0, NULL, NULL), "add");
  check(git_index_write(index), "write index");
  check(git_index_write_tree(&tree_oid, index), "write tree");
  check(git_tree_lookup(&tree, repo, &tree_oid), "tree");
  check(git_signature_now(&sig, "bench", "bench@example.com"), "signature");
  check(git_commit_create(&commit_oid, repo, "HEAD", sig, sig, NULL, "initial\n", tree, 0, NULL),
        "commit");
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
cpu_ms(int who)
{
  struct rusage ru;
  getrusage(who, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void
report(const char *label, double *wall, double *cpu, guint count)
{
  qsort(wall, RUNS, sizeof wall[0], cmp_double);
  qsort(cpu, RUNS, sizeof cpu[0], cmp_double);
  g_print("%-30s wall %7.1f ms median (min %6.1f, max %6.1f)  cpu %7.1f ms  [%u files]\n", label,
          wall[RUNS / 2], wall[0], wall[RUNS - 1], cpu[RUNS / 2], count);
}

/* Wall and CPU (user + system) milliseconds of RUNS calls: the machine
 * may be busy with other work, CPU time shows the cost regardless. */
static void
time_status(const char *label, const char *dir)
{
  double wall[RUNS], cpu[RUNS];
  guint count = 0;
  for (guint i = 0; i < RUNS; i++) {
    g_autoptr(GError) error = NULL;
    double c0 = cpu_ms(RUSAGE_SELF);
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(ArVcsStatus) st = ar_vcs_status(dir, NULL, &error);
    gint64 t1 = g_get_monotonic_time();
    cpu[i] = cpu_ms(RUSAGE_SELF) - c0;
    if (st == NULL)
      g_error("status: %s", error->message);
    wall[i] = (t1 - t0) / 1000.0;
    count = st->count;
  }
  g_autofree char *lib = g_strdup_printf("%s ar_vcs_status", label);
  report(lib, wall, cpu, count);

  /* The same question asked of the git CLI, for scale. */
  const char *argv[] = { "git", "-C", dir, "status", "--porcelain", "--untracked-files=all", NULL };
  for (guint i = 0; i < RUNS; i++) {
    g_autofree char *out = NULL;
    int status = 0;
    double c0 = cpu_ms(RUSAGE_CHILDREN);
    gint64 t0 = g_get_monotonic_time();
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, NULL))
      return; /* no git CLI: library figures only */
    wall[i] = (g_get_monotonic_time() - t0) / 1000.0;
    cpu[i] = cpu_ms(RUSAGE_CHILDREN) - c0;
    count = 0;
    for (const char *p = out; p && *p; p++)
      count += *p == '\n';
  }
  g_autofree char *cli = g_strdup_printf("%s git status", label);
  report(cli, wall, cpu, count);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}

int
main(int argc, char **argv)
{
  guint n_files = argc > 1 ? (guint)strtoul(argv[1], NULL, 10) : 100000;
  if (n_files < FILES_PER_DIR)
    n_files = FILES_PER_DIR;

  g_autofree char *tmp = g_dir_make_tmp("bench-git-status-XXXXXX", NULL);
  g_autofree char *home = g_build_filename(tmp, "home", NULL);
  g_autofree char *dir = g_build_filename(tmp, "repo", NULL);
  g_mkdir_with_parents(home, 0700);
  g_setenv("HOME", home, TRUE);
  /* Held for the whole run, as the daemon does: the library's own
   * init/shutdown pairs are then just reference counting. */
  git_libgit2_init();
  for (int level = GIT_CONFIG_LEVEL_PROGRAMDATA; level <= GIT_CONFIG_LEVEL_GLOBAL; level++)
    git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, home);

  gint64 t0 = g_get_monotonic_time();
  make_repository(dir, n_files);
  g_print("setup: %u files committed in %.1f s\n", n_files, (g_get_monotonic_time() - t0) / 1e6);

  time_status("clean:", dir);

  for (guint i = 0; i < DIRTY_FILES; i++) {
    g_autofree char *path =
        g_strdup_printf("%s/d%04u/f%03u.txt", dir, i * (n_files / FILES_PER_DIR / DIRTY_FILES), 7u);
    write_file(path, "modified\n");
  }
  g_autofree char *dirty_label = g_strdup_printf("%u modified:", DIRTY_FILES);
  time_status(dirty_label, dir);

  for (guint d = 0; d < UNTRACKED_DIRS; d++) {
    g_autofree char *sub = g_strdup_printf("%s/new%02u/deeper", dir, d);
    g_mkdir_with_parents(sub, 0755);
    for (guint i = 0; i < UNTRACKED_PER; i++) {
      g_autofree char *path = g_strdup_printf("%s/u%03u.txt", sub, i);
      write_file(path, "untracked\n");
    }
  }
  g_autofree char *untracked_label =
      g_strdup_printf("+%u untracked:", UNTRACKED_DIRS * UNTRACKED_PER);
  time_status(untracked_label, dir);

  git_libgit2_shutdown();
  nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
