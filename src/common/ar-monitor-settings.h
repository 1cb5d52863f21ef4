/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The settings of the monitor of one bus (monitor.toml), apart from any
 * project's agent-runner.toml: the monitor is one per bus, and a setting
 * that opens a network port must not come from a file the agent can
 * write in its work tree. User bus: $XDG_CONFIG_HOME/agent-runner/
 * monitor.toml; system bus: SYSCONFDIR/agent-runner/monitor.toml. */

#include <glib.h>

G_BEGIN_DECLS

#define AR_MONITOR_DEFAULT_LISTEN "127.0.0.1:8765"

typedef enum {
  AR_MSET_BOOL,
  AR_MSET_LISTEN, /* "ADDRESS:PORT", an IP address ([v6] in brackets) */
} ArMonitorSettingType;

typedef struct {
  const char *section;
  const char *name;
  ArMonitorSettingType type;
  const char *default_toml;
  const char *doc;
} ArMonitorSettingKey;

extern const ArMonitorSettingKey ar_monitor_setting_keys[];
extern const guint ar_monitor_n_setting_keys;

typedef struct {
  char *path;        /* the file read; NULL when there is none */
  gboolean http;     /* serve the web page */
  char *http_listen; /* where; NULL: AR_MONITOR_DEFAULT_LISTEN */
} ArMonitorSettings;

/* Where the monitor of that bus reads its settings. */
char *ar_monitor_settings_path(gboolean system);
/* Read path (a missing file is the defaults). Errors are FILE:LINE:COL. */
gboolean ar_monitor_settings_load(const char *path, ArMonitorSettings *out, GError **error);
void ar_monitor_settings_clear(ArMonitorSettings *s);
/* The key of monitor.toml with that name, or NULL (agent-runner.toml's
 * loader points a misplaced key there). */
const ArMonitorSettingKey *ar_monitor_setting_lookup(const char *section, const char *name);
/* "ADDRESS:PORT" -> address (brackets removed) and port; FALSE with a
 * message naming what is wrong. */
gboolean ar_monitor_listen_parse(const char *listen, char **addr, guint *port, GError **error);
/* docs/configuration.md's monitor.toml section. */
char *ar_monitor_settings_doc_markdown(void);

G_END_DECLS
