/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ar-cleanup.h"

/* Where cgroup2 is mounted: /sys/fs/cgroup on a unified host,
 * /sys/fs/cgroup/unified on a hybrid one. */
static char *
cgroup2_mount(void)
{
  g_autofree char *info = NULL;
  if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
    return NULL;
  g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ..." */
    const char *sep = strstr(lines[i], " - ");
    if (sep == NULL || !g_str_has_prefix(sep + 3, "cgroup2 "))
      continue;
    g_auto(GStrv) f = g_strsplit(lines[i], " ", 6);
    if (g_strv_length(f) >= 5 && g_str_equal(f[3], "/"))
      return g_strcompress(f[4]); /* octal escapes of spaces */
  }
  return NULL;
}

/* The "0::/path" line of /proc/self/cgroup. */
static char *
own_cgroup_path(void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents("/proc/self/cgroup", &text, NULL, NULL))
    return NULL;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix(lines[i], "0::/"))
      return g_strdup(lines[i] + 3);
  return NULL;
}

static gboolean
xattr_is_one(const char *path, const char *name)
{
  char v[8];
  ssize_t n = getxattr(path, name, v, sizeof v - 1);
  return n == 1 && v[0] == '1';
}

char *
ard_cgroup_delegated_dir(void)
{
  const char *said = g_getenv("AGENT_RUNNER_CGROUP_DELEGATED");
  if (g_strcmp0(said, "0") == 0)
    return NULL;
  g_autofree char *mount = cgroup2_mount();
  g_autofree char *own = own_cgroup_path();
  if (mount == NULL || own == NULL || g_str_equal(own, "/"))
    return NULL;
  g_autofree char *dir = g_build_filename(mount, own, NULL);
  /* systemd >= 253 marks a Delegate=yes unit's cgroup: trusted.* for the
   * system manager, user.* for a user manager (it cannot write trusted.*).
   * Older ones do not: our unit sets AGENT_RUNNER_CGROUP_DELEGATED=1 next
   * to its Delegate=yes. A writable cgroup alone says nothing: a user
   * manager's whole tree belongs to the user. */
  if (g_strcmp0(said, "1") != 0 && !xattr_is_one(dir, "trusted.delegate") &&
      !xattr_is_one(dir, "user.delegate"))
    return NULL;
  if (access(dir, W_OK) < 0)
    return NULL;
  return g_steal_pointer(&dir);
}

GArray *
ard_cgroup_pids(const char *path)
{
  GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_autofree char *procs = g_build_filename(path, "cgroup.procs", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(procs, &text, NULL, NULL))
    return pids;
  for (char *p = text; *p;) {
    char *end = NULL;
    long v = strtol(p, &end, 10);
    if (end == p)
      break;
    if (v > 0) {
      pid_t pid = (pid_t)v;
      g_array_append_val(pids, pid);
    }
    p = end;
    while (*p == '\n')
      p++;
  }
  return pids;
}

static gboolean
write_str(const char *path, const char *s)
{
  g_auto(ArFd) fd = open(path, O_WRONLY | O_CLOEXEC);
  return fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);
}

guint
ard_cgroup_kill_remove(const char *path, guint64 timeout_usec)
{
  g_autofree char *procs = g_build_filename(path, "cgroup.procs", NULL);
  if (!g_file_test(procs, G_FILE_TEST_EXISTS))
    return 0;
  g_autoptr(GArray) pids = ard_cgroup_pids(path);
  guint count = pids->len;
  if (count > 0) {
    g_autofree char *kill_file = g_build_filename(path, "cgroup.kill", NULL);
    /* cgroup.kill (Linux 5.14) kills atomically, forks included; before
     * it, one SIGKILL each (the loop below catches late forks). */
    if (!write_str(kill_file, "1"))
      for (guint i = 0; i < pids->len; i++)
        (void)kill(g_array_index(pids, pid_t, i), SIGKILL);
  }
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_usec;
  for (;;) {
    if (rmdir(path) == 0 || errno == ENOENT)
      return count;
    if (errno != EBUSY || g_get_monotonic_time() >= deadline)
      break;
    g_autoptr(GArray) rest = ard_cgroup_pids(path);
    for (guint i = 0; i < rest->len; i++)
      (void)kill(g_array_index(rest, pid_t, i), SIGKILL);
    g_usleep(10 * 1000);
  }
  g_warning("cannot remove the round's cgroup %s: %s", path, g_strerror(errno));
  return count;
}

char *
ard_cgroup_round_create(const char *parent, guint round_num, int *procs_fd)
{
  *procs_fd = -1;
  g_autofree char *name = g_strdup_printf("round-%u", round_num);
  g_autofree char *path = g_build_filename(parent, name, NULL);
  if (g_file_test(path, G_FILE_TEST_IS_DIR))
    (void)ard_cgroup_kill_remove(path, G_USEC_PER_SEC);
  if (mkdir(path, 0755) < 0) {
    g_warning("round %u: cannot create its cgroup %s: %s; the round runs in the service's "
              "cgroup",
              round_num, path, g_strerror(errno));
    return NULL;
  }
  g_autofree char *procs = g_build_filename(path, "cgroup.procs", NULL);
  *procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (*procs_fd < 0) {
    g_warning("round %u: cannot open %s: %s", round_num, procs, g_strerror(errno));
    (void)rmdir(path);
    return NULL;
  }
  return g_steal_pointer(&path);
}
