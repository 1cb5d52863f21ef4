/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-stale-lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-vcs-private.h"

/* Does any process we can see have `path` open? Processes of other users
 * are not readable: they cannot write this user's repository either. */
/* Has process `pid` (a /proc entry) `lock_st`'s inode open? */
static gboolean
pid_holds(const char *pid, const struct stat *lock_st)
{
  char fds[64];
  g_snprintf(fds, sizeof fds, "/proc/%s/fd", pid);
  DIR *d = opendir(fds);
  if (d == NULL)
    return FALSE;
  gboolean found = FALSE;
  for (struct dirent *e; !found && (e = readdir(d));) {
    struct stat st;
    /* stat through the fd link: the same inode, whatever name it has. */
    found = e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
            st.st_dev == lock_st->st_dev && st.st_ino == lock_st->st_ino;
  }
  closedir(d);
  return found;
}

/* Does any process we can see have the lock open? Processes of other
 * users are not readable: they cannot write this user's repository
 * either. */
static gboolean
held_open(const char *path, const struct stat *lock_st)
{
  DIR *d = opendir("/proc");
  if (d == NULL)
    return TRUE; /* cannot tell: leave it */
  gboolean held = FALSE;
  for (struct dirent *e; !held && (e = readdir(d));) {
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && pid_holds(e->d_name, lock_st)) {
      g_message("%s is held open by pid %s: left alone", path, e->d_name);
      held = TRUE;
    }
  }
  closedir(d);
  return held;
}

/* When the round's agent started, in CLOCK_REALTIME seconds (the lock's
 * mtime clock); 0 when the record does not say or is from another boot. */
static gint64
agent_start_realtime(JsonObject *record)
{
  g_autofree char *boot = NULL;
  if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &boot, NULL, NULL))
    return 0;
  g_strstrip(boot);
  if (g_strcmp0(ar_json_str(record, "boot_id"), boot) != 0)
    return 0;
  gboolean ok = FALSE;
  gint64 ticks = ar_json_int(record, "agent_start_ticks", &ok);
  long hz = sysconf(_SC_CLK_TCK);
  if (!ok || ticks <= 0 || hz <= 0)
    return 0;
  struct timespec boot_now, real_now;
  clock_gettime(CLOCK_BOOTTIME, &boot_now);
  clock_gettime(CLOCK_REALTIME, &real_now);
  /* /proc/PID/stat's start time counts clock ticks since boot. */
  return (gint64)real_now.tv_sec - ((gint64)boot_now.tv_sec - ticks / hz);
}

gboolean
ard_stale_lock_end(const char *work_dir, JsonObject *record, ArEmitter *emitter)
{
  if (record == NULL || work_dir == NULL)
    return FALSE;
  g_autoptr(ArVcsRepo) r = ar_vcs_repo_open(work_dir, NULL);
  if (r == NULL)
    return FALSE;
  g_autofree char *lock = g_build_filename(git_repository_path(r->repo), "index.lock", NULL);
  struct stat st;
  if (lstat(lock, &st) < 0 || !S_ISREG(st.st_mode))
    return FALSE;
  gint64 started = agent_start_realtime(record);
  /* A second of slack: the tick and the mtime round differently. */
  if (started == 0 || (gint64)st.st_mtim.tv_sec < started - 1) {
    g_message("%s is older than the killed round: left alone", lock);
    return FALSE;
  }
  if (held_open(lock, &st))
    return FALSE;
  if (unlink(lock) < 0) {
    g_warning("cannot remove the stale git index lock %s: %s", lock, g_strerror(errno));
    return FALSE;
  }
  gboolean ok = FALSE;
  gint64 round_num = ar_json_int(record, "round_num", &ok);
  ar_emit(emitter, "stale_index_lock_removed", AR_EV_I("round_num", ok ? round_num : 0),
          AR_EV_S("path", lock), AR_EV_I("size", (gint64)st.st_size), NULL);
  return TRUE;
}
