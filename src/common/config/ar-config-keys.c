/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-config-keys.h"

#include <stddef.h>
#include <string.h>

#include "ar-config.h"

#define OFF(field)       offsetof(ArConfig, field)
#define PHASE_OFF(field) offsetof(ArPhase, field)

static const char *const prompt_delivery_choices[] = { "argv", "stdin", NULL };
static const char *const output_choices[] = {
  "claude-stream-json", "codex-json", "gemini-stream-json", "codewhale-stream-json", "text", NULL
};
static const char *const transient_choices[] = { "back_off", "skip", "stop", NULL };
static const char *const context_mode_choices[] = { "prepend", "file", "none", NULL };
static const char *const dirty_choices[] = { "stash", "ignore", "auto_commit", NULL };

/* The detectors of the monitor (python-tool-reference §4.2); auto_stop_on
 * may only name these. */
const char *const ar_known_detectors[] = {
  "timeout_rate",
  "hung",
  "orphan_chain",
  "disk_warning",
  "disk_critical",
  "mem_pressure",
  "oauth_fail",
  "network_fail",
  "rate_limit_active",
  "anomaly_repetitive_active",
  "supervisor_stale",
  "no_progress",
  "crash_loop",
  "auth_failed",
  "quota_exhausted",
  "config_broken",
  NULL,
};

/* What [monitor] notify may ask the desktop to be told about. */
static const char *const notify_choices[] = { "critical", "warning", "finished", "round_end",
                                              NULL };

/* Built-in pieces that [plugins] disable can switch off. The names are the
 * Python tool's, so an existing file keeps loading. */
const char *const ar_known_plugins[] = {
  "claude_error_detector",    "gemini_error_detector", "codex_error_detector",
  "codewhale_error_detector", "default_dirty_handler", NULL,
};

const char *const ar_config_sections[] = {
  "agent",  "agent.env", "runtime", "prompt", "vcs", "monitor", "monitor.host_health",
  "phases", "plugins",   "hooks",   "events", NULL,
};

#define AUTH_FAIL_DEFAULT                                                                          \
  "['\\b(oauth|unauthorized|401|api[_ ]key|auth(entication)?[_ -]?(failed|error|expired)|"         \
  "session.*expired)\\b']"

/* clang-format off */
const ArConfigKey ar_config_keys[] = {
  /* [agent] */
  { "agent", "command", AR_KEY_STRV, .offset = OFF(command), .required = TRUE,
    .doc = "argv prefix of the agent CLI, e.g. [\"claude\", \"--verbose\"]. The first element is looked up on the agent's PATH." },
  { "agent", "prompt_arg_template", AR_KEY_STRV, .offset = OFF(prompt_arg_template), .required = TRUE,
    .doc = "Appended to command. In argv mode every element has {prompt} replaced by the assembled prompt, and at least one element must contain {prompt}; in stdin mode none may." },
  { "agent", "name", AR_KEY_STRING, .offset = OFF(agent_name),
    .doc = "Display name of the agent; defaults to the basename of command[0]." },
  { "agent", "env", AR_KEY_ENV, .default_toml = "{}", .offset = OFF(env),
    .doc = "Table of environment variables set for the agent at every round, on top of the daemon's environment." },
  { "agent", "prompt_delivery", AR_KEY_ENUM, .default_toml = "\"argv\"", .offset = OFF(prompt_delivery), .choices = prompt_delivery_choices,
    .doc = "\"argv\": the prompt goes through prompt_arg_template; \"stdin\": written to the agent's stdin, never visible in argv." },
  { "agent", "output", AR_KEY_STRING, .offset = OFF(output), .choices = output_choices, .ours = TRUE,
    .doc = "Output dialect the round's classifier reads. Default: guessed from command (claude/codex/gemini/codewhale with their JSON flags), else \"text\"." },
  { "agent", "secrets", AR_KEY_STRV, .default_toml = "[]", .offset = OFF(secrets), .ours = TRUE,
    .doc = "Names of secrets (agent-runner secret set NAME, or systemd credentials in system mode) put into the agent's environment under the same name." },
  { "agent", "path", AR_KEY_PATHV, .default_toml = "[]", .offset = OFF(path), .ours = TRUE,
    .doc = "Directories prepended to the agent's PATH (e.g. [\"~/.local/bin\"])." },
  /* [runtime] */
  { "runtime", "work_dir", AR_KEY_PATH, .offset = OFF(work_dir), .required = TRUE,
    .doc = "The project's git work tree; the agent runs here. Its basename is the project name ([A-Za-z0-9._-]+). Relative to the config file's directory." },
  { "runtime", "log_dir", AR_KEY_PATH, .offset = OFF(log_dir), .required = TRUE,
    .doc = "State, events and transcripts. Presets use ~/.agent-runner/{project}/logs." },
  { "runtime", "round_timeout_s", AR_KEY_UINT, .default_toml = "1800", .offset = OFF(round_timeout_s), .min = 1,
    .doc = "Wall-clock limit of a round; the agent's process group is then terminated. Per-phase override in [phases.NAME]." },
  { "runtime", "restart_delay_s", AR_KEY_UINT, .default_toml = "3", .offset = OFF(restart_delay_s),
    .doc = "Pause between rounds after a clean exit; doubled after a failed round, doubled again per crash in a streak (capped at 30 min). 0 is allowed." },
  { "runtime", "disable_pre_round_hooks", AR_KEY_BOOL, .default_toml = "false", .offset = OFF(disable_pre_round_hooks),
    .doc = "Skip pre-round hooks (per-phase override)." },
  { "runtime", "round_log_retention", AR_KEY_UINT, .default_toml = "100", .offset = OFF(round_log_retention), .min = 1,
    .doc = "Keep the newest N round transcripts (log_dir/rounds/R*.log)." },
  { "runtime", "narrative_file", AR_KEY_PATH, .offset = OFF(narrative_file),
    .doc = "Agent-maintained summary shown by the monitor's web page; default log_dir/narrative.md." },
  { "runtime", "transient_error_action", AR_KEY_ENUM, .default_toml = "\"back_off\"", .offset = OFF(transient_error_action), .choices = transient_choices,
    .doc = "After a rate limit, quota or server error: back_off (wait until the reset time), skip (run the next round now) or stop." },
  { "runtime", "max_rounds", AR_KEY_UINT, .offset = OFF(max_rounds), .min = 1,
    .doc = "Stop after this many rounds in one serve run (serve --max-rounds overrides)." },
  { "runtime", "stop_file", AR_KEY_PATH, .offset = OFF(stop_file),
    .doc = "When this file exists between rounds, the loop stops (stop_file_detected)." },
  { "runtime", "substrate_fingerprint_paths", AR_KEY_STRV, .default_toml = "[]", .offset = OFF(substrate_fingerprint_paths),
    .doc = "Globs relative to work_dir hashed into paths_hash of round_substrate_before/after." },
  { "runtime", "fresh_eyes_every_n", AR_KEY_UINT, .offset = OFF(fresh_eyes_every_n), .min = 1,
    .doc = "Every Nth round gets AGENT_RUNNER_FRESH_EYES=1 and a fresh_eyes_round_triggered event." },
  { "runtime", "dry_run", AR_KEY_BOOL, .default_toml = "false", .offset = OFF(dry_run),
    .doc = "Passed to plugins; the agent still runs." },
  { "runtime", "max_grace_after_result_s", AR_KEY_UINT, .default_toml = "0", .offset = OFF(max_grace_after_result_s),
    .doc = "After the agent prints its final result line, wait this long, then end the round if no worker process is left (0: off)." },
  { "runtime", "grace_kill_ignore_patterns", AR_KEY_REGEXV, .default_toml = "[]", .offset = OFF(grace_kill_ignore_patterns),
    .doc = "Regular expressions matched against descendants' command lines; matching processes do not keep a finished round alive." },
  { "runtime", "idle_timeout_s", AR_KEY_UINT, .default_toml = "0", .offset = OFF(idle_timeout_s), .ours = TRUE,
    .doc = "End a round whose agent printed nothing for this long (round_stalled; 0: off)." },
  { "runtime", "retry_loop_timeout_s", AR_KEY_UINT, .default_toml = "0", .offset = OFF(retry_loop_timeout_s), .ours = TRUE,
    .doc = "End a round stuck in a known retry loop of the CLI (e.g. codex's \"Reconnecting...\") for this long (0: off)." },
  { "runtime", "events_retention_days", AR_KEY_UINT, .default_toml = "0", .offset = OFF(events_retention_days), .ours = TRUE,
    .doc = "Remove monthly events files older than this many days (0: keep forever)." },
  /* [prompt] */
  { "prompt", "file", AR_KEY_PATH,
    .doc = "The prompt file. Exactly one of file and files." },
  { "prompt", "files", AR_KEY_PATHV,
    .doc = "Prompt files concatenated in order; the first must exist, later missing ones are skipped." },
  { "prompt", "inject_context", AR_KEY_BOOL, .default_toml = "true", .offset = OFF(inject_context),
    .doc = "Write round-context.json (round number, phase, previous outcome, orphan stash) and, in prepend mode, put it before the prompt." },
  { "prompt", "context_injection_mode", AR_KEY_ENUM, .default_toml = "\"prepend\"", .offset = OFF(context_injection_mode), .choices = context_mode_choices,
    .doc = "prepend: a ```json round-context block starts the prompt; file: only round-context.json is written; none: neither." },
  { "prompt", "concat_separator", AR_KEY_STRING, .default_toml = "\"\\n\\n\"", .offset = OFF(concat_separator),
    .doc = "Text between concatenated prompt files." },
  { "prompt", "strip_yaml_frontmatter", AR_KEY_BOOL, .default_toml = "true", .offset = OFF(strip_yaml_frontmatter),
    .doc = "Remove a leading ---/--- YAML block from the first prompt file (a prompt starting with --- reads as a flag to some CLIs)." },
  /* [vcs] */
  { "vcs", "stash_idempotency_s", AR_KEY_UINT, .default_toml = "5", .offset = OFF(stash_idempotency_s), .min = 1,
    .doc = "An orphan stash of the same round younger than this is reused instead of stashing again." },
  { "vcs", "dirty_action", AR_KEY_ENUM, .default_toml = "\"stash\"", .offset = OFF(dirty_action), .choices = dirty_choices,
    .doc = "What to do with a dirty tree after a clean agent exit: stash (an ORPHAN stash, by SHA), auto_commit, or ignore (event only)." },
  /* [monitor] */
  { "monitor", "auth_fail_patterns", AR_KEY_REGEXV, .default_toml = AUTH_FAIL_DEFAULT, .offset = OFF(auth_fail_patterns),
    .doc = "Case-insensitive regular expressions that mark a failed round of a text CLI (output = \"text\") shorter than 60 s as an authentication failure when the end of its transcript matches (auth_failed after auth_fail_threshold such rounds)." },
  { "monitor", "auth_fail_hint", AR_KEY_STRING, .default_toml = "\"\"", .offset = OFF(auth_fail_hint),
    .doc = "How to fix an authentication failure; shown in the auth_failed event. Presets set it per CLI." },
  { "monitor", "auth_fail_threshold", AR_KEY_UINT, .default_toml = "1", .offset = OFF(auth_fail_threshold), .min = 1, .ours = TRUE,
    .doc = "Consecutive authentication failures after which the loop stops instead of burning quota." },
  { "monitor", "auto_stop_on", AR_KEY_NAMES, .default_toml = "[\"oauth_fail\", \"disk_critical\"]", .offset = OFF(auto_stop_on), .choices = ar_known_detectors,
    .doc = "Detectors whose alert stops the service (the monitor calls the daemon, and the stop lasts until agent-runner start). [hooks] detector names count; such a hook stops the service when its alert asks for stop_service." },
  { "monitor", "remote_failure_tolerance_s", AR_KEY_UINT, .default_toml = "90", .offset = OFF(remote_failure_tolerance_s), .max = 3600,
    .doc = "How long a host that agent-runner monitor -H HOST (run next to this file) watches may stay unreachable before the monitor alerts (0: at once); shorter outages are journal-only blips, and the monitor reconnects by itself either way." },
  { "monitor", "anomaly_repetitive_window", AR_KEY_UINT, .default_toml = "0", .offset = OFF(anomaly_repetitive_window),
    .doc = "Tool-call window of the repetitive-tool detector on claude output (0: off)." },
  { "monitor", "anomaly_repetitive_threshold", AR_KEY_UINT, .default_toml = "0", .offset = OFF(anomaly_repetitive_threshold),
    .doc = "Repetitions within the window that raise anomaly_repetitive_tool (0: off)." },
  { "monitor", "round_progress_interval_s", AR_KEY_UINT, .default_toml = "0", .offset = OFF(round_progress_interval_s),
    .doc = "Emit round_progress every N seconds while a round runs (0: off)." },
  { "monitor", "supervisor_stale_threshold_s", AR_KEY_UINT, .offset = OFF(supervisor_stale_threshold_s),
    .doc = "Alert when no event was written for this long; default round_timeout_s x 1.5, 0 disables." },
  { "monitor", "no_progress_rounds", AR_KEY_UINT, .default_toml = "10", .offset = OFF(no_progress_rounds),
    .doc = "no_progress alert after this many rounds in a row that left HEAD unchanged and the tree clean (0: off)." },
  { "monitor", "notify", AR_KEY_NAMES, .default_toml = "[\"critical\", \"finished\"]", .offset = OFF(notify), .choices = notify_choices,
    .doc = "Desktop notifications: critical (critical alerts and stops), warning (warning alerts), finished (.agent-done, max_rounds), round_end (every round)." },
  { "monitor.host_health", "mem_avail_min_mb", AR_KEY_UINT, .default_toml = "200", .offset = OFF(mem_avail_min_mb),
    .doc = "mem_pressure alert below this much available memory." },
  { "monitor.host_health", "disk_warning_pct", AR_KEY_PERCENT, .default_toml = "90.0", .offset = OFF(disk_warning_pct), .max = 100,
    .doc = "disk_warning alert at this fill level of the log dir's filesystem." },
  { "monitor.host_health", "disk_critical_pct", AR_KEY_PERCENT, .default_toml = "95.0", .offset = OFF(disk_critical_pct), .max = 100,
    .doc = "disk_critical alert (and auto-stop) at this fill level." },
  /* [phases] */
  { "phases", "list", AR_KEY_PHASE_LIST, .offset = OFF(phase_list),
    .doc = "Phase rotation: round N runs list[(N - 1) % len]." },
  { "phases.NAME", "round_timeout_s", AR_KEY_UINT, .offset = PHASE_OFF(round_timeout_s), .min = 1,
    .doc = "Round timeout of this phase." },
  { "phases.NAME", "disable_pre_round_hooks", AR_KEY_BOOL, .offset = PHASE_OFF(disable_pre_round_hooks),
    .doc = "Skip pre-round hooks in this phase." },
  { "phases.NAME.prompt", "files", AR_KEY_PATHV, .offset = PHASE_OFF(prompt_files),
    .doc = "Prompt files of this phase, instead of [prompt]." },
  { "phases.NAME.hooks", "pre_round", AR_KEY_HOOKS, .offset = PHASE_OFF(hooks[AR_HOOK_PRE_ROUND]),
    .doc = "Pre-round hooks of this phase, instead of [hooks] pre_round." },
  { "phases.NAME.hooks", "context_enricher", AR_KEY_HOOKS, .offset = PHASE_OFF(hooks[AR_HOOK_CONTEXT_ENRICHER]),
    .doc = "Context enrichers of this phase." },
  { "phases.NAME.hooks", "post_round", AR_KEY_HOOKS, .offset = PHASE_OFF(hooks[AR_HOOK_POST_ROUND]),
    .doc = "Post-round hooks of this phase." },
  { "phases.NAME.hooks", "dirty_handler", AR_KEY_HOOKS, .offset = PHASE_OFF(hooks[AR_HOOK_DIRTY_HANDLER]),
    .doc = "Dirty-tree handlers of this phase." },
  /* [hooks] */
  { "hooks", "serve_startup", AR_KEY_HOOKS, .default_toml = "[]", .offset = OFF(hooks[AR_HOOK_SERVE_STARTUP]),
    .doc = "Run once when the service starts, before the first round; a failure stops the service (serve_startup_hook_failed)." },
  { "hooks", "pre_round", AR_KEY_HOOKS, .default_toml = "[]", .offset = OFF(hooks[AR_HOOK_PRE_ROUND]),
    .doc = "Run before each round's context and prompt are made; may rewrite the prompt file (prompt_overwritten). Skipped with disable_pre_round_hooks." },
  { "hooks", "context_enricher", AR_KEY_HOOKS, .default_toml = "[]", .offset = OFF(hooks[AR_HOOK_CONTEXT_ENRICHER]),
    .doc = "Run after the pre-round hooks; the JSON object a hook prints goes into round-context.json under the hook's name." },
  { "hooks", "post_round", AR_KEY_HOOKS, .default_toml = "[]", .offset = OFF(hooks[AR_HOOK_POST_ROUND]),
    .doc = "Run after each round with its result; the next round waits for them." },
  { "hooks", "dirty_handler", AR_KEY_HOOKS, .default_toml = "[]", .offset = OFF(hooks[AR_HOOK_DIRTY_HANDLER]),
    .doc = "Run in order when a clean round leaves the tree dirty, before the built-in [vcs] dirty_action; the first that answers {\"claimed\": true} wins." },
  { "hooks", "detector", AR_KEY_HOOKS, .default_toml = "[]", .offset = OFF(hooks[AR_HOOK_DETECTOR]),
    .doc = "Your own monitor detectors, run by agent-runner-monitor after each round and with each host-health sample; each prints {\"alerts\": [...]} and is a detector named after the hook (auto_stop_on may name it)." },
  { "hooks", "timeout_s", AR_KEY_UINT, .default_toml = "60", .offset = OFF(hook_timeout_s), .min = 1, .ours = TRUE,
    .doc = "Each hook's process group is killed after this many seconds (hook_failed, error_type timeout)." },
  /* [events] */
  { "events", "kinds", AR_KEY_STRV, .default_toml = "[]", .offset = OFF(event_kinds),
    .doc = "Event kinds hooks may emit ({\"events\": [{\"event\": KIND, ...}]} on stdout), written like the built-ins to the events file, the journal and the bus. Names: [a-z][a-z0-9_]*, not a built-in kind." },
  /* [plugins] */
  { "plugins", "disable", AR_KEY_NAMES, .default_toml = "[]", .offset = OFF(plugins_disable), .choices = ar_known_plugins,
    .doc = "Built-in detectors or handlers, or hooks by name, to switch off. A CLI's NAME_error_detector off: its rounds are classified by exit code alone (ok or error; no transient back-off, no usage, no repetitive-tool anomaly). default_dirty_handler off: a dirty tree is reported, not touched. A [plugins.NAME] table is not checked: the hook named NAME gets it as plugin_config in its input." },
};
/* clang-format on */

const guint ar_config_n_keys = G_N_ELEMENTS(ar_config_keys);

const ArRemovedKey ar_config_removed_keys[] = {
  { "runtime", "rate_limit_action",
    "removed in cli-agent-runner 0.1.29: use [runtime] transient_error_action = \"back_off\" | "
    "\"skip\" | \"stop\"" },
  { "runtime", "round_timeout_per_phase",
    "removed in cli-agent-runner 0.1.16: set round_timeout_s in a [phases.NAME] table" },
  { "vcs", "orphan_action", "removed in cli-agent-runner 0.1.18: use [vcs] dirty_action" },
};

const guint ar_config_n_removed_keys = G_N_ELEMENTS(ar_config_removed_keys);

const char *
ar_key_type_name(ArKeyType type)
{
  static const char *const names[] = {
    [AR_KEY_STRING] = "string",
    [AR_KEY_PATH] = "path (string)",
    [AR_KEY_STRV] = "list of strings",
    [AR_KEY_PATHV] = "list of paths",
    [AR_KEY_REGEXV] = "list of regular expressions",
    [AR_KEY_NAMES] = "list of names",
    [AR_KEY_UINT] = "integer",
    [AR_KEY_BOOL] = "boolean",
    [AR_KEY_ENUM] = "string (one of a set)",
    [AR_KEY_PERCENT] = "number 0..100",
    [AR_KEY_ENV] = "table of strings",
    [AR_KEY_PHASE_LIST] = "list of phase names",
    [AR_KEY_HOOKS] = "list of commands (path or argv list)",
  };
  return names[type];
}

const ArConfigKey *
ar_config_key_lookup(const char *section, const char *name)
{
  for (guint i = 0; i < ar_config_n_keys; i++)
    if (g_str_equal(ar_config_keys[i].section, section) &&
        g_str_equal(ar_config_keys[i].name, name))
      return &ar_config_keys[i];
  return NULL;
}
