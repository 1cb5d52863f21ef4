/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-reap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar-util.h"

typedef struct {
  pid_t pid;
  pid_t ppid;
} ProcLink;

/* "PID (comm) S PPID PGRP SESSION ... STARTTIME(22) ...": comm may hold
 * spaces and parentheses, so parse after the last ')'. */
gboolean
ard_reap_read_stat(int proc_fd, const char *name, ArdProcStat *st)
{
  char path[64];
  g_snprintf(path, sizeof path, "%s/stat", name);
  g_auto(ArFd) fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0)
    return FALSE;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p)
    return FALSE;
  int ppid = 0, pgrp = 0, session = 0;
  unsigned long long start = 0;
  /* Fields 3..22; the 14 in between are skipped with %*s. */
  if (sscanf(p + 1, " %c %d %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
             &st->state, &ppid, &pgrp, &session, &start) != 5)
    return FALSE;
  st->ppid = ppid;
  st->pgrp = pgrp;
  st->session = session;
  st->start_ticks = start;
  return TRUE;
}

/* The whole-/proc walk: works everywhere, costs one open per process on
 * the host. */
static GArray *
descendants_by_scan(pid_t root)
{
  GArray *out = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_autoptr(GArray) links = g_array_new(FALSE, FALSE, sizeof(ProcLink));
  DIR *d = opendir("/proc");
  if (!d)
    return out;
  int dfd = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!g_ascii_isdigit(e->d_name[0]))
      continue;
    ArdProcStat st;
    if (!ard_reap_read_stat(dfd, e->d_name, &st))
      continue;
    /* Zombies are dead already: nothing to wait for or kill, only to reap. */
    if (st.state == 'Z' || st.state == 'X' || st.state == 'x')
      continue;
    ProcLink l = { .pid = (pid_t)atoi(e->d_name), .ppid = st.ppid };
    g_array_append_val(links, l);
  }
  closedir(d);
  /* Breadth-first from root over the PPid links. */
  g_autoptr(GArray) frontier = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_array_append_val(frontier, root);
  for (guint head = 0; head < frontier->len; head++) {
    pid_t parent = g_array_index(frontier, pid_t, head);
    for (guint i = 0; i < links->len; i++) {
      ProcLink *l = &g_array_index(links, ProcLink, i);
      if (l->ppid == parent && l->pid != root) {
        g_array_append_val(out, l->pid);
        g_array_append_val(frontier, l->pid);
      }
    }
  }
  return out;
}

/* /proc/PID/task/TID/children exists only with CONFIG_PROC_CHILDREN. */
static gboolean
have_children_files(void)
{
  static int cached = -1;
  if (cached < 0)
    cached = g_file_test("/proc/thread-self/children", G_FILE_TEST_EXISTS);
  return cached;
}

/* Children of every thread of pid (a child's parent is the thread that
 * forked it, or any thread of a subreaper that adopted it). */
static void
append_children(pid_t pid, GArray *out)
{
  char path[64];
  g_snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  g_autoptr(GDir) tasks = g_dir_open(path, 0, NULL);
  if (!tasks)
    return; /* gone: no children */
  const char *tid;
  while ((tid = g_dir_read_name(tasks))) {
    g_autofree char *file = g_strdup_printf("%s/%s/children", path, tid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(file, &text, NULL, NULL))
      continue;
    for (char *p = text; *p;) {
      char *end = NULL;
      long child = strtol(p, &end, 10);
      if (end == p)
        break;
      pid_t c = (pid_t)child;
      g_array_append_val(out, c);
      p = end;
    }
  }
}

static gboolean
is_live(pid_t pid)
{
  g_auto(ArFd) dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char name[16];
  g_snprintf(name, sizeof name, "%d", (int)pid);
  ArdProcStat st;
  return dfd >= 0 && ard_reap_read_stat(dfd, name, &st) && st.state != 'Z' && st.state != 'X' &&
         st.state != 'x';
}

GArray *
ard_reap_descendants(pid_t root)
{
  /* Walk down from root through the children files: cost proportional to
   * the tree, not to the host. The daemon calls this at every round end,
   * usually to learn that there is nothing. */
  if (!have_children_files())
    return descendants_by_scan(root);
  GArray *out = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_autoptr(GArray) frontier = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_array_append_val(frontier, root);
  /* Bounded: a fork bomb must not make this unbounded; the kill passes
   * repeat anyway. */
  for (guint head = 0; head < frontier->len && frontier->len < 65536; head++)
    append_children(g_array_index(frontier, pid_t, head), frontier);
  for (guint i = 1; i < frontier->len; i++) {
    pid_t p = g_array_index(frontier, pid_t, i);
    /* Zombies are dead already: nothing to wait for or kill, only to reap. */
    if (is_live(p))
      g_array_append_val(out, p);
  }
  return out;
}

char *
ard_reap_proc_name(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/comm", (int)pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return g_strdup("?");
  return g_strdup(g_strchomp(text));
}

char *
ard_reap_proc_cmdline(pid_t pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &text, &len, NULL) || len == 0)
    return NULL;
  for (gsize i = 0; i < len; i++)
    if (text[i] == '\0')
      text[i] = ' ';
  g_strchomp(text);
  return g_steal_pointer(&text);
}

guint
ard_reap_signal_descendants(pid_t root, pid_t skip, int sig)
{
  g_autoptr(GArray) pids = ard_reap_descendants(root);
  guint n = 0;
  for (guint i = 0; i < pids->len; i++) {
    pid_t p = g_array_index(pids, pid_t, i);
    if (p == skip)
      continue;
    if (kill(p, sig) == 0)
      n++;
  }
  return n;
}

static GMutex keep_lock;
static GArray *kept; /* pid_t, under keep_lock */

void
ard_reap_hold(void)
{
  g_mutex_lock(&keep_lock);
}

void
ard_reap_release(void)
{
  g_mutex_unlock(&keep_lock);
}

void
ard_reap_keep(pid_t pid)
{
  if (kept == NULL)
    kept = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_array_append_val(kept, pid);
}

void
ard_reap_forget(pid_t pid)
{
  g_mutex_lock(&keep_lock);
  for (guint i = 0; kept && i < kept->len; i++)
    if (g_array_index(kept, pid_t, i) == pid) {
      g_array_remove_index_fast(kept, i);
      break;
    }
  g_mutex_unlock(&keep_lock);
}

static gboolean
is_kept(pid_t pid)
{
  for (guint i = 0; kept && i < kept->len; i++)
    if (g_array_index(kept, pid_t, i) == pid)
      return TRUE;
  return FALSE;
}

guint
ard_reap_orphans(pid_t keep)
{
  guint n = 0;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&keep_lock);
  for (;;) {
    siginfo_t si = { 0 };
    /* Peek first: the agent must stay a zombie until its own source reaps
     * it with wait4() and collects its rusage. */
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
      break;
    if (si.si_pid == keep || is_kept(si.si_pid))
      break;
    if (waitpid(si.si_pid, NULL, WNOHANG) > 0)
      n++;
    else
      break;
  }
  return n;
}

const char *
ard_reap_signal_name(int sig)
{
  /* glibc's abbreviation table ("TERM", "KILL", "SEGV"), the names the
   * Python tool's exit_cause used. */
  const char *name = sigabbrev_np(sig);
  return name ? name : "UNKNOWN";
}
