/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

GQuark
ar_error_quark(void)
{
  return g_quark_from_static_string("ar-error-quark");
}

void
ar_fd_close(ArFd *fd)
{
  if (*fd >= 0) {
    int errsv = errno;
    close(*fd);
    errno = errsv;
  }
  *fd = -1;
}

void
ar_i18n_init(void)
{
  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
}

gboolean
ar_set_error_errno(GError **error, int errsv, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "%s: %s", prefix, g_strerror(errsv));
  return FALSE;
}

/* Whole sentences, one per kind, for the translators. */
static char *
not_regular_message(const char *path, mode_t mode)
{
  if (S_ISDIR(mode))
    return g_strdup_printf(_("%s is a directory; only a regular file is accepted"), path);
  if (S_ISFIFO(mode))
    return g_strdup_printf(_("%s is a FIFO; only a regular file is accepted"), path);
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return g_strdup_printf(_("%s is a device; only a regular file is accepted"), path);
  if (S_ISSOCK(mode))
    return g_strdup_printf(_("%s is a socket; only a regular file is accepted"), path);
  return g_strdup_printf(_("%s is not a regular file; only a regular file is accepted"), path);
}

char *
ar_read_regular_file(const char *path, gsize max_bytes, gsize *len, GError **error)
{
  /* O_NONBLOCK: opening a FIFO with no writer must not wait for one. */
  g_auto(ArFd) fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int errsv = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", path,
                g_strerror(errsv));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int errsv = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", path,
                g_strerror(errsv));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    g_autofree char *msg = not_regular_message(path, st.st_mode);
    g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, msg);
    return NULL;
  }
  if ((guint64)st.st_size > max_bytes) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                _("%s is too large (%" PRIu64 " bytes; at most %zu"
                  " are accepted)"),
                path, (guint64)st.st_size, max_bytes);
    return NULL;
  }
  /* One byte more than allowed tells a file that grew since fstat. */
  g_autofree char *buf = g_malloc(max_bytes + 2);
  gsize got = 0;
  while (got <= max_bytes) {
    ssize_t n = read(fd, buf + got, max_bytes + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int errsv = errno;
      g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", path,
                  g_strerror(errsv));
      return NULL;
    }
    if (n == 0)
      break;
    got += n;
  }
  if (got > max_bytes) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s is too large (more than %zu bytes)"),
                path, max_bytes);
    return NULL;
  }
  buf[got] = '\0';
  if (len)
    *len = got;
  return g_realloc(g_steal_pointer(&buf), got + 1);
}

gboolean
ar_write_file_atomic(const char *path, const char *data, gssize len, GError **error)
{
  return ar_write_file_atomic_mode(path, data, len, 0644, error);
}

gboolean
ar_write_file_atomic_mode(const char *path, const char *data, gssize len, int mode, GError **error)
{
  if (len < 0)
    len = strlen(data);
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *base = g_path_get_basename(path);
  g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
  g_auto(ArFd) fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0)
    return ar_set_error_errno(error, errno, "create %s", tmp);
  const char *p = data;
  gssize left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int errsv = errno;
      unlink(tmp);
      return ar_set_error_errno(error, errsv, "write %s", tmp);
    }
    p += n;
    left -= n;
  }
  if (fsync(fd) < 0) {
    int errsv = errno;
    unlink(tmp);
    return ar_set_error_errno(error, errsv, "fsync %s", tmp);
  }
  if (rename(tmp, path) < 0) {
    int errsv = errno;
    unlink(tmp);
    return ar_set_error_errno(error, errsv, "rename %s", path);
  }
  /* The rename itself must survive a power cut too. */
  g_auto(ArFd) dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    (void)fsync(dfd);
  return TRUE;
}

char *
ar_utc_iso_ms(gint64 realtime_us)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(realtime_us / G_USEC_PER_SEC);
  g_autofree char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf("%s.%03dZ", s, (int)((realtime_us % G_USEC_PER_SEC) / 1000));
}

gboolean
ar_project_name_valid(const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

guint
ar_edit_distance(const char *a, const char *b)
{
  gsize la = strlen(a), lb = strlen(b);
  g_autofree guint *row = g_new(guint, lb + 1);
  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++) {
    guint diag = row[0];
    row[0] = i;
    for (gsize j = 1; j <= lb; j++) {
      guint up = row[j];
      guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
      diag = up;
    }
  }
  return row[lb];
}

char *
ar_format_duration(gint64 s)
{
  if (s < 0)
    s = 0;
  if (s < 60)
    return g_strdup_printf("%" G_GINT64_FORMAT "s", s);
  if (s < 3600)
    return g_strdup_printf("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", s / 60, s % 60);
  if (s < 86400)
    return g_strdup_printf("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m", s / 3600,
                           (s % 3600) / 60);
  return g_strdup_printf("%" G_GINT64_FORMAT "d%02" G_GINT64_FORMAT "h", s / 86400,
                         (s % 86400) / 3600);
}

/* Installed programs find their data and helpers through the configured
 * prefix only: nothing of the build tree is compiled in. A build tree is
 * run through `meson devenv` or the tests, which set these variables. */
static const char *
env_or(const char *var, const char *installed)
{
  const char *env = g_getenv(var);
  return env && *env ? env : installed;
}

const char *
ar_presets_dir(void)
{
  return env_or("AGENT_RUNNER_PRESETS_DIR", PRESETSDIR);
}

const char *
ar_vcs_helper_path(void)
{
  return env_or("AGENT_RUNNER_VCS_HELPER", LIBEXECDIR "/agent-runner-vcs");
}

const char *
ar_daemon_path(void)
{
  return env_or("AGENT_RUNNER_DAEMON", LIBEXECDIR "/agent-runnerd");
}

const char *
ar_monitor_path(void)
{
  return env_or("AGENT_RUNNER_MONITOR", LIBEXECDIR "/agent-runner-monitor");
}

char *
ar_find_in_path(const char *prog, const char *search_path)
{
  g_auto(GStrv) dirs = g_strsplit(search_path, ":", -1);
  for (guint i = 0; dirs[i]; i++) {
    if (*dirs[i] == '\0')
      continue;
    g_autofree char *cand = g_build_filename(dirs[i], prog, NULL);
    if (g_file_test(cand, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test(cand, G_FILE_TEST_IS_DIR))
      return g_steal_pointer(&cand);
  }
  return NULL;
}
