/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "ar-json.h"
#include "ar-util.h"

struct ArdLock {
  int fd;
  char *path;
  char *holder_path;
};

/* The daemon's own command line, NUL separators turned into spaces, capped
 * so that a huge argv cannot bloat the sidecar. */
static char *
read_own_cmdline(void)
{
  g_autofree char *raw = NULL;
  gsize len = 0;
  if (!g_file_get_contents("/proc/self/cmdline", &raw, &len, NULL) || len == 0)
    return g_strdup(g_get_prgname() ? g_get_prgname() : "agent-runnerd");
  for (gsize i = 0; i < len; i++)
    if (raw[i] == '\0')
      raw[i] = ' ';
  g_strstrip(raw);
  if (strlen(raw) > 200)
    raw[200] = '\0';
  return g_steal_pointer(&raw);
}

static void
write_holder(ArdLock *lock)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *started = ar_utc_iso_ms(g_get_real_time());
  g_autofree char *cmdline = read_own_cmdline();
  json_builder_begin_object(b);
  ar_json_add_int(b, "pid", getpid());
  ar_json_add_str(b, "started_at", started);
  ar_json_add_str(b, "cmdline", cmdline);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  g_autofree char *line = g_strconcat(text, "\n", NULL);
  g_autoptr(GError) error = NULL;
  /* The sidecar is diagnostics only: failing to write it must not stop the
   * supervisor that does hold the lock. */
  if (!ar_write_file_atomic_mode(lock->holder_path, line, -1, 0600, &error))
    g_warning("%s", error->message);
}

/* "pid 1234, since 2026-05-17T02:13:44.123Z, cmd: agent-runnerd ..." or a
 * note that the sidecar is missing / unreadable. */
static char *
describe_holder(const char *holder_path)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents(holder_path, &text, NULL, NULL))
    return g_strdup(_("holder unknown: the sidecar file is missing"));
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    return g_strdup(_("holder unknown: the sidecar file is unreadable"));
  JsonObject *o = json_node_get_object(json_parser_get_root(parser));
  gint64 pid = json_object_get_int_member_with_default(o, "pid", 0);
  const char *since = json_object_get_string_member_with_default(o, "started_at", "?");
  const char *cmd = json_object_get_string_member_with_default(o, "cmdline", "?");
  return g_strdup_printf(_("held by pid %" PRId64 ", since %s, cmd: %s"), pid, since, cmd);
}

ArdLock *
ard_lock_acquire(const char *log_dir, GError **error)
{
  g_autofree char *path = g_build_filename(log_dir, "agent-runner.lock", NULL);
  g_auto(ArFd) fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    ar_set_error_errno(error, errno, "open %s", path);
    return NULL;
  }
  g_autofree char *holder_path = g_strconcat(path, ".holder", NULL);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int errsv = errno;
    if (errsv != EWOULDBLOCK) {
      ar_set_error_errno(error, errsv, "flock %s", path);
      return NULL;
    }
    g_autofree char *who = describe_holder(holder_path);
    g_set_error(error, AR_ERROR, AR_ERROR_LOCKED,
                _("another agent-runnerd is supervising this project (%s): %s"), path, who);
    return NULL;
  }
  ArdLock *lock = g_new0(ArdLock, 1);
  lock->fd = g_steal_fd(&fd);
  lock->path = g_steal_pointer(&path);
  lock->holder_path = g_steal_pointer(&holder_path);
  write_holder(lock);
  return lock;
}

ArdLock *
ard_lock_adopt(const char *log_dir, int fd)
{
  /* A duplicate: the flock belongs to the open file, so it holds while
   * either fd is open, and fd stays usable for a rollback. */
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0)
    return NULL;
  ArdLock *lock = g_new0(ArdLock, 1);
  lock->fd = own;
  lock->path = g_build_filename(log_dir, "agent-runner.lock", NULL);
  lock->holder_path = g_strconcat(lock->path, ".holder", NULL);
  /* Same pid; the command line now names the new image. */
  write_holder(lock);
  return lock;
}

void
ard_lock_release(ArdLock *lock)
{
  if (!lock)
    return;
  /* Remove the sidecar while still holding the lock, so a newcomer never
   * reads our stale identity after taking it. */
  (void)unlink(lock->holder_path);
  if (lock->fd >= 0)
    close(lock->fd);
  g_free(lock->path);
  g_free(lock->holder_path);
  g_free(lock);
}

int
ard_lock_get_fd(const ArdLock *lock)
{
  return lock->fd;
}

const char *
ard_lock_get_path(const ArdLock *lock)
{
  return lock->path;
}
