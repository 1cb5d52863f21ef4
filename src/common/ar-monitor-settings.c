/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-monitor-settings.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ar-toml.h"
#include "ar-util.h"

/* monitor.toml: a small strict file of its own (same TOML reader, same
 * FILE:LINE:COL errors as agent-runner.toml). Its table is printed into
 * docs/configuration.md by scripts/regen-docs.sh. */

const ArMonitorSettingKey ar_monitor_setting_keys[] = {
  { "monitor", "http", AR_MSET_BOOL, "false",
    "Serve the web page (docs/monitor.md): every project of the bus, live, behind a per-user "
    "token. Applied by the monitor that acts for the bus (agent-runner-monitor.service, or "
    "`agent-runner monitor` when the service is not running); a second monitor leaves the page "
    "to it. `--http`/`--listen` on the command line serve it regardless." },
  { "monitor", "http_listen", AR_MSET_LISTEN, "\"" AR_MONITOR_DEFAULT_LISTEN "\"",
    "Address and port of the web page, `ADDRESS:PORT` (`[::1]:8765` for IPv6; port 0 picks a "
    "free one). Setting it implies `http = true` unless the file says `http = false`. An "
    "address other than loopback is reachable from other machines and not encrypted: the "
    "monitor warns." },
};

const guint ar_monitor_n_setting_keys = G_N_ELEMENTS(ar_monitor_setting_keys);

char *
ar_monitor_settings_path(gboolean system)
{
  if (system)
    return g_build_filename(SYSCONFDIR, "agent-runner", "monitor.toml", NULL);
  return g_build_filename(g_get_user_config_dir(), "agent-runner", "monitor.toml", NULL);
}

const ArMonitorSettingKey *
ar_monitor_setting_lookup(const char *section, const char *name)
{
  for (guint i = 0; i < ar_monitor_n_setting_keys; i++)
    if (g_str_equal(ar_monitor_setting_keys[i].section, section) &&
        g_str_equal(ar_monitor_setting_keys[i].name, name))
      return &ar_monitor_setting_keys[i];
  return NULL;
}

gboolean
ar_monitor_listen_parse(const char *listen, char **addr, guint *port, GError **error)
{
  const char *colon = strrchr(listen, ':');
  guint64 v = 0;
  if (!colon || !g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &v, NULL)) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("the web page's address wants ADDRESS:PORT (for example 127.0.0.1:8765), not "
                  "\"%s\""),
                listen);
    return FALSE;
  }
  g_autofree char *a = g_strndup(listen, colon - listen);
  if (*a == '[' && g_str_has_suffix(a, "]")) {
    char *inner = g_strndup(a + 1, strlen(a) - 2);
    g_free(a);
    a = inner;
  }
  g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(a);
  if (!ia) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("\"%s\" is not an IP address (the web page binds an address, not a name)"), a);
    return FALSE;
  }
  *addr = g_steal_pointer(&a);
  *port = (guint)v;
  return TRUE;
}

/* at_value: point at the value (a wrong value), else at its key. */
static gboolean G_GNUC_PRINTF(5, 6) fail_at(GError **error, const char *path, const ArTomlNode *at,
                                            gboolean at_value, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  gboolean key = at->key_line && !at_value;
  guint line = key ? at->key_line : at->line;
  guint col = key ? at->key_col : at->col;
  g_set_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX, "%s:%u:%u: %s", path, line, col, msg);
  return FALSE;
}

static char *
known_keys(const char *section)
{
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < ar_monitor_n_setting_keys; i++)
    if (g_str_equal(ar_monitor_setting_keys[i].section, section))
      g_string_append_printf(s, "%s%s", s->len ? ", " : "", ar_monitor_setting_keys[i].name);
  return g_string_free(s, FALSE);
}

static const char *
closest_key(const char *section, const char *name)
{
  const char *best = NULL;
  guint best_d = 3;
  for (guint i = 0; i < ar_monitor_n_setting_keys; i++) {
    if (!g_str_equal(ar_monitor_setting_keys[i].section, section))
      continue;
    guint d = ar_edit_distance(name, ar_monitor_setting_keys[i].name);
    if (d < best_d) {
      best_d = d;
      best = ar_monitor_setting_keys[i].name;
    }
  }
  return best;
}

static gboolean
apply(const char *path, const ArMonitorSettingKey *key, const ArTomlNode *v, ArMonitorSettings *s,
      gboolean *listen_set, gboolean *http_set, GError **error)
{
  if (key->type == AR_MSET_BOOL) {
    if (v->type != AR_TOML_BOOL)
      return fail_at(error, path, v, TRUE, _("[%s] %s must be true or false"), key->section,
                     key->name);
    s->http = v->v.boolean;
    *http_set = TRUE;
    return TRUE;
  }
  g_autofree char *addr = NULL;
  guint port = 0;
  g_autoptr(GError) bad = NULL;
  if (v->type != AR_TOML_STRING)
    return fail_at(error, path, v, TRUE, _("[%s] %s must be a string \"ADDRESS:PORT\""),
                   key->section, key->name);
  if (!ar_monitor_listen_parse(v->v.str, &addr, &port, &bad))
    return fail_at(error, path, v, TRUE, "[%s] %s: %s", key->section, key->name, bad->message);
  g_free(s->http_listen);
  s->http_listen = g_strdup(v->v.str);
  *listen_set = TRUE;
  return TRUE;
}

gboolean
ar_monitor_settings_load(const char *path, ArMonitorSettings *out, GError **error)
{
  memset(out, 0, sizeof *out);
  if (!g_file_test(path, G_FILE_TEST_EXISTS))
    return TRUE;
  g_autoptr(ArTomlNode) root = ar_toml_parse_file(path, error);
  if (!root)
    return FALSE;
  out->path = g_strdup(path);
  gboolean listen_set = FALSE, http_set = FALSE;
  for (guint i = 0; i < ar_toml_len(root); i++) {
    const ArTomlNode *t = ar_toml_at(root, i);
    if (g_strcmp0(t->key, "monitor") != 0 || t->type != AR_TOML_TABLE) {
      ar_monitor_settings_clear(out);
      return fail_at(error, path, t, FALSE,
                     _("unknown key \"%s\" (this file has one table, [monitor])"),
                     t->key ? t->key : "?");
    }
    for (guint j = 0; j < ar_toml_len(t); j++) {
      const ArTomlNode *k = ar_toml_at(t, j);
      const ArMonitorSettingKey *key = ar_monitor_setting_lookup("monitor", k->key);
      if (!key) {
        const char *near = closest_key("monitor", k->key);
        g_autofree char *all = known_keys("monitor");
        ar_monitor_settings_clear(out);
        if (near)
          return fail_at(error, path, k, FALSE,
                         _("unknown key \"%s\" in [monitor]; did you mean \"%s\"?"), k->key, near);
        return fail_at(error, path, k, FALSE, _("unknown key \"%s\" in [monitor] (known: %s)"),
                       k->key, all);
      }
      if (!apply(path, key, k, out, &listen_set, &http_set, error)) {
        ar_monitor_settings_clear(out);
        return FALSE;
      }
    }
  }
  if (listen_set && !http_set)
    out->http = TRUE;
  return TRUE;
}

void
ar_monitor_settings_clear(ArMonitorSettings *s)
{
  g_clear_pointer(&s->path, g_free);
  g_clear_pointer(&s->http_listen, g_free);
  s->http = FALSE;
}

char *
ar_monitor_settings_doc_markdown(void)
{
  g_autofree char *user =
      g_build_filename("$XDG_CONFIG_HOME", "agent-runner", "monitor.toml", NULL);
  GString *out = g_string_new(NULL);
  g_string_append_printf(
      out,
      "\n## monitor.toml: the monitor of a bus\n\n"
      "One monitor watches every project of a bus, so its own settings are not in any "
      "project's file: `%s` (`~/.config/agent-runner/monitor.toml`) for the user bus, "
      "`/etc/agent-runner/monitor.toml` (under the install's sysconfdir) for the system bus. "
      "A missing file is the defaults; the same strict rules apply, and an error stops the "
      "monitor with exit 2 (the unit does not retry it). It is read when the monitor starts: "
      "`systemctl --user restart agent-runner-monitor` applies a change. A setting that opens a "
      "port has no place in `agent-runner.toml`, which the agent can edit in its work tree; "
      "there `[monitor] http` is an error that points here.\n\n"
      "| key | type | default | meaning |\n|---|---|---|---|\n",
      user);
  for (guint i = 0; i < ar_monitor_n_setting_keys; i++) {
    const ArMonitorSettingKey *k = &ar_monitor_setting_keys[i];
    g_string_append_printf(out, "| `[%s] %s` | %s | `%s` | %s |\n", k->section, k->name,
                           k->type == AR_MSET_BOOL ? "boolean" : "string `ADDRESS:PORT`",
                           k->default_toml, k->doc);
  }
  return g_string_free(out, FALSE);
}
