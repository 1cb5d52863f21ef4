/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-remote.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-toml.h"
#include "ar-util.h"

void
ar_host_clear(ArHost *h)
{
  g_clear_pointer(&h->user, g_free);
  g_clear_pointer(&h->host, g_free);
  g_clear_pointer(&h->port, g_free);
}

static gboolean
port_valid(const char *port)
{
  guint64 n = 0;
  return *port && g_ascii_string_to_unsigned(port, 10, 1, 65535, &n, NULL);
}

gboolean
ar_host_parse(const char *spec, ArHost *out, GError **error)
{
  memset(out, 0, sizeof *out);
  const char *at = strrchr(spec, '@');
  const char *rest = at ? at + 1 : spec;
  g_autofree char *host = NULL;
  const char *port = NULL;
  if (rest[0] == '[') {
    const char *close = strchr(rest, ']');
    if (close) {
      host = g_strndup(rest + 1, close - rest - 1);
      if (close[1] == ':')
        port = close + 2;
      else if (close[1] != '\0')
        g_clear_pointer(&host, g_free);
    }
  } else {
    const char *colon = strchr(rest, ':');
    /* More than one colon without brackets: a bare IPv6 address. */
    if (colon && !strchr(colon + 1, ':')) {
      host = g_strndup(rest, colon - rest);
      port = colon + 1;
    } else {
      host = g_strdup(rest);
    }
  }
  /* ssh would take a leading '-' as an option. */
  if (!host || !*host || host[0] == '-' || (at && at == spec) || (port && !port_valid(port)) ||
      strpbrk(spec, " \t\n'\"\\")) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("bad host '%s': use [USER@]HOST[:PORT] (HOST may be a ~/.ssh/config alias)"),
                spec);
    return FALSE;
  }
  out->user = at ? g_strndup(spec, at - spec) : NULL;
  out->host = g_steal_pointer(&host);
  out->port = port ? g_strdup(port) : NULL;
  return TRUE;
}

/* systemd-stdio-bridge --user of systemd 252 still connects to the system
 * bus, so the user's bus is named by its path; pam_systemd sets
 * XDG_RUNTIME_DIR in a login, /run/user/UID is its usual value. */
#define REMOTE_USER_BRIDGE                                                                         \
  "exec systemd-stdio-bridge --bus-path=unix:path=\"${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/bus\""
#define REMOTE_SYSTEM_BRIDGE "exec systemd-stdio-bridge"

GStrv
ar_remote_ssh_argv(const ArHost *h, gboolean system, const char *const *ssh_options)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  const char *ssh = g_getenv("AGENT_RUNNER_SSH");
  g_strv_builder_add(b, ssh && *ssh ? ssh : "ssh");
  g_strv_builder_add(b, "-xT");
  for (guint i = 0; ssh_options && ssh_options[i]; i++) {
    g_strv_builder_add(b, "-o");
    g_strv_builder_add(b, ssh_options[i]);
  }
  if (h->port) {
    g_strv_builder_add(b, "-p");
    g_strv_builder_add(b, h->port);
  }
  if (h->user) {
    g_strv_builder_add(b, "-l");
    g_strv_builder_add(b, h->user);
  }
  g_strv_builder_add(b, "--");
  g_strv_builder_add(b, h->host);
  g_strv_builder_add(b, system ? REMOTE_SYSTEM_BRIDGE : REMOTE_USER_BRIDGE);
  return g_strv_builder_end(b);
}

void
ar_remote_reap(GPid pid, gboolean kill_it)
{
  if (pid <= 0)
    return;
  if (kill_it)
    kill(pid, SIGTERM);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

gboolean
ar_remote_spawn(const char *spec, gboolean system, const char *const *ssh_options, int stderr_fd,
                GPid *pid, int *fd, GError **error)
{
  *pid = 0;
  *fd = -1;
  ArHost h;
  if (!ar_host_parse(spec, &h, error))
    return FALSE;
  g_auto(GStrv) argv = ar_remote_ssh_argv(&h, system, ssh_options);
  ar_host_clear(&h);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return ar_set_error_errno(error, errno, "socketpair");
  GError *spawn_error = NULL;
  gboolean ok = g_spawn_async_with_pipes_and_fds(
      NULL, (const char *const *)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL,
      NULL, sv[1], sv[1], stderr_fd, NULL, NULL, 0, pid, NULL, NULL, NULL, &spawn_error);
  close(sv[1]);
  if (!ok) {
    close(sv[0]);
    g_propagate_prefixed_error(error, spawn_error, "%s: ", argv[0]);
    return FALSE;
  }
  *fd = sv[0];
  return TRUE;
}

char *
ar_remote_last_line(int fd)
{
  if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
    return NULL;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  g_auto(GStrv) lines = g_strsplit(buf, "\n", -1);
  for (int i = (int)g_strv_length(lines) - 1; i >= 0; i--) {
    g_strstrip(lines[i]);
    if (*lines[i])
      return g_strdup(lines[i]);
  }
  return NULL;
}

GPtrArray *
ar_fleet_config_hosts(char **path_out, GError **error)
{
  g_autofree char *path =
      g_build_filename(g_get_user_config_dir(), "agent-runner", "client.toml", NULL);
  g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func(g_free);
  if (path_out)
    *path_out = g_strdup(path);
  if (!g_file_test(path, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&hosts);
  g_autoptr(ArTomlNode) root = ar_toml_parse_file(path, error);
  if (!root)
    return NULL;
  for (guint i = 0; i < ar_toml_len(root); i++) {
    const ArTomlNode *t = ar_toml_at(root, i);
    if (g_strcmp0(t->key, "fleet") != 0 || t->type != AR_TOML_TABLE) {
      g_set_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX,
                  _("%s:%u:%u: unknown key '%s' (this file knows [fleet] hosts = [...])"), path,
                  t->key_line ? t->key_line : t->line, t->key_line ? t->key_col : t->col,
                  t->key ? t->key : "?");
      return NULL;
    }
    for (guint j = 0; j < ar_toml_len(t); j++) {
      const ArTomlNode *k = ar_toml_at(t, j);
      if (g_strcmp0(k->key, "hosts") != 0 || k->type != AR_TOML_ARRAY) {
        g_set_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX,
                    g_strcmp0(k->key, "hosts") == 0
                        ? _("%s:%u:%u: [fleet] %s must be an array of \"[USER@]HOST[:PORT]\"")
                        : _("%s:%u:%u: unknown key [fleet] %s (known: hosts)"),
                    path, k->key_line, k->key_col, k->key);
        return NULL;
      }
      for (guint n = 0; n < ar_toml_len(k); n++) {
        const ArTomlNode *v = ar_toml_at(k, n);
        ArHost h;
        g_autoptr(GError) bad = NULL;
        if (v->type != AR_TOML_STRING || !ar_host_parse(v->v.str, &h, &bad)) {
          g_set_error(
              error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX, "%s:%u:%u: %s", path, v->line, v->col,
              bad ? bad->message : _("[fleet] hosts must be strings \"[USER@]HOST[:PORT]\""));
          return NULL;
        }
        ar_host_clear(&h);
        g_ptr_array_add(hosts, g_strdup(v->v.str));
      }
    }
  }
  return g_steal_pointer(&hosts);
}
