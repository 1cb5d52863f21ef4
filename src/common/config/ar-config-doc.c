/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "ar-config-keys.h"
#include "ar-monitor-settings.h"

/* docs/configuration.md and agent-runner.toml(5) are printed from the key
 * table; the events-docs drift test regenerates them and fails on any
 * difference, so the reference cannot fall behind the loader. */

static const struct {
  const char *section;
  const char *intro;
} section_intro[] = {
  { "agent", "The agent CLI and how the prompt reaches it." },
  { "runtime", "Where the project lives, and the round loop's limits and defenses." },
  { "prompt", "Which files make the prompt, and the round-context block." },
  { "vcs", "What happens to uncommitted work after a round (libgit2, in-process)." },
  { "monitor", "Thresholds and hints of the monitor and of the authentication stop." },
  { "monitor.host_health", "Host health thresholds of the monitor." },
  { "phases", "Optional rotation of phases, and per-phase overrides in [phases.NAME]." },
  { "phases.NAME", "Overrides for one phase; NAME must be in [phases] list." },
  { "phases.NAME.prompt", "The prompt files of one phase." },
  { "phases.NAME.hooks", "The hooks of one phase: each key given replaces that key of [hooks]." },
  { "hooks", "Executables run at the stages of a round (docs/hooks.md): JSON in on stdin, JSON "
             "out, under the agent's containment." },
  { "events", "Event kinds of your own, for hooks." },
  { "plugins",
    "Switches for built-in pieces and hooks; [plugins.NAME] is the settings of the hook NAME." },
};

static const char *
default_text(const ArConfigKey *key)
{
  if (key->default_toml)
    return key->default_toml;
  if (key->required)
    return "required";
  return "unset";
}

static void
type_text(GString *out, const ArConfigKey *key)
{
  g_string_append(out, ar_key_type_name(key->type));
  if (key->type == AR_KEY_UINT) {
    if (key->max)
      g_string_append_printf(out, " %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT, key->min, key->max);
    else
      g_string_append(out, key->min ? " > 0" : " >= 0");
  }
  if (key->choices && key->type != AR_KEY_NAMES) {
    g_string_append(out, ": ");
    for (guint i = 0; key->choices[i]; i++)
      g_string_append_printf(out, "%s\"%s\"", i ? " | " : "", key->choices[i]);
  }
}

static char *
md_escape(const char *text)
{
  g_auto(GStrv) parts = g_strsplit(text, "|", -1);
  return g_strjoinv("\\|", parts);
}

char *
ar_config_doc_markdown(void)
{
  GString *out = g_string_new(NULL);
  g_string_append(
      out, "# agent-runner.toml\n\n"
           "<!-- Generated from src/common/config/ar-config-keys.c by scripts/regen-docs.sh; do "
           "not edit. -->\n\n"
           "The configuration of one project. `agent-runner init --preset NAME` writes a "
           "starting file; `agent-runner config check` loads it and runs the startup "
           "checks.\n\n"
           "Rules:\n\n"
           "- Strict: an unknown key or section is an error with `file:line:col` and a "
           "\"did you mean\" suggestion; a wrong type says what was expected. Keys removed "
           "from cli-agent-runner fail with a migration hint.\n"
           "- Relative paths resolve against the directory of the config file, never the "
           "current directory. `~` and `{project}` expand in paths.\n"
           "- The project name is the basename of `work_dir` and must match "
           "`[A-Za-z0-9._-]+` (it names the D-Bus service and the systemd unit).\n"
           "- Keys marked *(new)* are agent-runner's own; every other key means what it "
           "meant in cli-agent-runner, so an existing file loads unchanged.\n");
  for (guint s = 0; s < G_N_ELEMENTS(section_intro); s++) {
    g_string_append_printf(out, "\n## [%s]\n\n%s\n\n", section_intro[s].section,
                           section_intro[s].intro);
    g_string_append(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (guint i = 0; i < ar_config_n_keys; i++) {
      const ArConfigKey *key = &ar_config_keys[i];
      if (!g_str_equal(key->section, section_intro[s].section))
        continue;
      g_autoptr(GString) type = g_string_new(NULL);
      type_text(type, key);
      g_autofree char *type_md = md_escape(type->str);
      g_autofree char *def_md = md_escape(default_text(key));
      g_autofree char *doc_full =
          key->no_effect ? g_strdup_printf("%s **No effect yet:** %s", key->doc, key->no_effect)
                         : g_strdup(key->doc);
      g_autofree char *doc_md = md_escape(doc_full);
      g_string_append_printf(out, "| `%s`%s | %s | `%s` | %s |\n", key->name,
                             key->ours ? " *(new)*" : "", type_md, def_md, doc_md);
    }
  }
  g_string_append(out, "\n## Removed keys\n\n| key | what to do |\n|---|---|\n");
  for (guint i = 0; i < ar_config_n_removed_keys; i++)
    g_string_append_printf(out, "| `[%s] %s` | %s |\n", ar_config_removed_keys[i].section,
                           ar_config_removed_keys[i].name, ar_config_removed_keys[i].hint);
  g_string_append(out, "\n## Names\n\n`[monitor] auto_stop_on` accepts: ");
  for (guint i = 0; ar_known_detectors[i]; i++)
    g_string_append_printf(out, "%s`%s`", i ? ", " : "", ar_known_detectors[i]);
  g_string_append(out, ".\n\n`[plugins] disable` accepts: ");
  for (guint i = 0; ar_known_plugins[i]; i++)
    g_string_append_printf(out, "%s`%s`", i ? ", " : "", ar_known_plugins[i]);
  g_string_append(out, ", and the name of any hook (its file name without extension).\n");
  g_autofree char *monitor = ar_monitor_settings_doc_markdown();
  g_string_append(out, monitor);
  return g_string_free(out, FALSE);
}

/* roff needs backslashes doubled and a leading dot or quote escaped. */
static void
roff_append(GString *out, const char *text)
{
  if (*text == '.' || *text == '\'')
    g_string_append(out, "\\&");
  for (const char *p = text; *p; p++) {
    if (*p == '\\')
      g_string_append(out, "\\e");
    else if (*p == '-')
      g_string_append(out, "\\-");
    else
      g_string_append_c(out, *p);
  }
}

char *
ar_config_doc_man(void)
{
  GString *out = g_string_new(NULL);
  g_string_append(out, ".\\\" Generated from src/common/config/ar-config-keys.c; do not edit.\n"
                       ".TH AGENT\\-RUNNER.TOML 5 \"\" \"agent-runner " PACKAGE_VERSION
                       "\" \"File Formats\"\n"
                       ".SH NAME\nagent\\-runner.toml \\- configuration of an agent\\-runner "
                       "project\n"
                       ".SH DESCRIPTION\n"
                       "A TOML 1.0 file. Unknown keys are errors reported as FILE:LINE:COL with "
                       "a suggestion. Relative paths resolve against the file's directory; "
                       "\\fB~\\fR and \\fB{project}\\fR expand. The project name is the "
                       "basename of \\fBwork_dir\\fR.\n");
  for (guint s = 0; s < G_N_ELEMENTS(section_intro); s++) {
    g_string_append(out, ".SH \"[");
    roff_append(out, section_intro[s].section);
    g_string_append(out, "]\"\n");
    roff_append(out, section_intro[s].intro);
    g_string_append_c(out, '\n');
    for (guint i = 0; i < ar_config_n_keys; i++) {
      const ArConfigKey *key = &ar_config_keys[i];
      if (!g_str_equal(key->section, section_intro[s].section))
        continue;
      g_autoptr(GString) type = g_string_new(NULL);
      type_text(type, key);
      g_string_append(out, ".TP\n\\fB");
      roff_append(out, key->name);
      g_string_append(out, "\\fR (");
      roff_append(out, type->str);
      g_string_append(out, "; default ");
      roff_append(out, default_text(key));
      g_string_append(out, ")\n");
      roff_append(out, key->doc);
      if (key->no_effect) {
        g_string_append(out, " No effect yet: ");
        roff_append(out, key->no_effect);
      }
      g_string_append_c(out, '\n');
    }
  }
  g_string_append(out, ".SH \"REMOVED KEYS\"\n");
  for (guint i = 0; i < ar_config_n_removed_keys; i++) {
    g_autofree char *name = g_strdup_printf("[%s] %s", ar_config_removed_keys[i].section,
                                            ar_config_removed_keys[i].name);
    g_string_append(out, ".TP\n\\fB");
    roff_append(out, name);
    g_string_append(out, "\\fR\n");
    roff_append(out, ar_config_removed_keys[i].hint);
    g_string_append_c(out, '\n');
  }
  g_string_append(out, ".SH \"SEE ALSO\"\n\\fBagent\\-runner\\fR(1), \\fBagent\\-runnerd\\fR(8)\n");
  return g_string_free(out, FALSE);
}
