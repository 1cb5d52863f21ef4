#include "config.h"

#include "arc-remote.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar-cleanup.h"
#include "ar-toml.h"
#include "ar-util.h"

/* What sd-bus's unixexec: transport does (a socket pair, the program on
 * its stdin/stdout), done here so ssh's stderr can be caught for a
 * one-line reason when a fleet host fails. */
int
arc_remote_bus_open(const char *spec, gboolean system, int stderr_fd, guint64 timeout_usec,
                    GPid *pid, sd_bus **ret, GError **error)
{
  int fd = -1;
  if (!ar_remote_spawn(spec, system, NULL, stderr_fd, pid, &fd, error))
    return -ENOENT;
  g_autoptr(sd_bus) bus = NULL;
  int r = sd_bus_new(&bus);
  if (r >= 0)
    r = sd_bus_set_fd(bus, fd, fd);
  else
    close(fd);
  if (r >= 0)
    r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0 && timeout_usec)
    r = sd_bus_set_method_call_timeout(bus, timeout_usec);
  if (r >= 0)
    r = sd_bus_start(bus);
  if (r < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, "%s", g_strerror(-r));
    ar_remote_reap(*pid, TRUE);
    *pid = 0;
    return r;
  }
  *ret = g_steal_pointer(&bus);
  return 0;
}

GPtrArray *
arc_fleet_config_hosts(char **path_out, GError **error)
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
