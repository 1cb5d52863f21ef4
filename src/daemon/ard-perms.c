/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-perms.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar-cleanup.h"

/* fchmodat on an fd-relative name, never through a symlink: an agent that
 * planted rounds/x -> ~/.ssh/id_rsa must not make us chmod the target. */
static gboolean
tighten_at(int dfd, const char *name, gboolean is_dir, guint *files, guint *dirs)
{
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return FALSE;
  if (S_ISLNK(st.st_mode) || (st.st_mode & 077) == 0)
    return FALSE;
  if (is_dir != S_ISDIR(st.st_mode) || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
    return FALSE;
  mode_t want = is_dir ? ARD_PERMS_DIR_MODE : (st.st_mode & 0700 & ARD_PERMS_FILE_MODE);
  if (fchmodat(dfd, name, want, 0) < 0) {
    g_warning("chmod %s: %s", name, g_strerror(errno));
    return FALSE;
  }
  (*(is_dir ? dirs : files))++;
  return TRUE;
}

static void
tighten_files_in(int dfd, guint *files, guint *dirs)
{
  int copy = dup(dfd);
  if (copy < 0)
    return;
  DIR *d = fdopendir(copy);
  if (!d) {
    close(copy);
    return;
  }
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_type == DT_REG || de->d_type == DT_UNKNOWN)
      (void)tighten_at(dfd, de->d_name, FALSE, files, dirs);
  }
  closedir(d);
}

guint
ard_perms_tighten(const char *log_dir, ArEmitter *emitter)
{
  guint files = 0, dirs = 0;
  g_auto(ArFd) top = open(log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (top < 0)
    return 0;
  struct stat st;
  if (fstat(top, &st) == 0 && (st.st_mode & 077) != 0) {
    if (fchmod(top, ARD_PERMS_DIR_MODE) == 0)
      dirs++;
    else
      g_warning("chmod %s: %s", log_dir, g_strerror(errno));
  }
  tighten_files_in(top, &files, &dirs);
  (void)tighten_at(top, "rounds", TRUE, &files, &dirs);
  g_auto(ArFd) rounds = openat(top, "rounds", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (rounds >= 0)
    tighten_files_in(rounds, &files, &dirs);
  if (files + dirs > 0 && emitter)
    ar_emit(emitter, "log_permissions_tightened", AR_EV_S("log_dir", log_dir),
            AR_EV_I("files", files), AR_EV_I("dirs", dirs), NULL);
  return files + dirs;
}
