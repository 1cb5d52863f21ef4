/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* agent-runner.toml: the loaded, validated, path-resolved configuration.
 *
 * Every key is described once, in the table of ar-config-keys.c (name, type,
 * default, documentation, where it lands in ArConfig); the loader, `config
 * check`, docs/configuration.md and agent-runner.toml(5) all read that
 * table. Loading is strict: unknown keys, wrong types and removed keys of
 * the Python tool are errors with file:line:col and a hint. */

#include <glib.h>

#include "ar-toml.h"

G_BEGIN_DECLS

/* A config file larger than this is refused (a real one is a few KiB; a
 * symlink to /dev/zero must not read until memory runs out). */
#define AR_CONFIG_MAX_BYTES (1024 * 1024)

typedef enum {
  AR_PROMPT_ARGV,
  AR_PROMPT_STDIN,
} ArPromptDelivery;

typedef enum {
  AR_CONTEXT_PREPEND,
  AR_CONTEXT_FILE, /* round-context.json only, nothing prepended */
  AR_CONTEXT_NONE, /* neither (the Python tool wrote the file anyway) */
} ArContextMode;

typedef enum {
  AR_DIRTY_STASH,
  AR_DIRTY_IGNORE,
  AR_DIRTY_AUTO_COMMIT,
} ArDirtyAction;

typedef enum {
  AR_TRANSIENT_BACK_OFF,
  AR_TRANSIENT_SKIP,
  AR_TRANSIENT_STOP,
} ArTransientAction;

/* The stages a [hooks] executable can run at (docs/hooks.md). */
typedef enum {
  AR_HOOK_SERVE_STARTUP,
  AR_HOOK_PRE_ROUND,
  AR_HOOK_CONTEXT_ENRICHER,
  AR_HOOK_POST_ROUND,
  AR_HOOK_DIRTY_HANDLER,
  AR_HOOK_DETECTOR, /* run by the monitor */
  AR_HOOK_N_KINDS,
} ArHookKind;

/* [phases.NAME]: each field may be unset, then the global value applies. */
typedef struct {
  char *name;
  guint round_timeout_s;             /* 0 = unset */
  int disable_pre_round_hooks;       /* -1 = unset */
  GStrv prompt_files;                /* NULL = unset; absolute paths */
  GPtrArray *hooks[AR_HOOK_N_KINDS]; /* [phases.NAME.hooks]; NULL = unset */
} ArPhase;

typedef struct {
  int ref_count;
  char *config_path; /* absolute */
  char *config_dir;  /* relative paths resolve here, never against the cwd */
  char *project;     /* basename of work_dir, [A-Za-z0-9._-]+ */

  /* [agent] */
  GStrv command;
  GStrv prompt_arg_template;
  char *agent_name; /* NULL: basename of command[0] */
  GStrv env;        /* "KEY=VALUE", in file order */
  ArPromptDelivery prompt_delivery;
  char *output; /* dialect: claude-stream-json | codex-json | gemini-stream-json |
                   codewhale-stream-json | text */
  GStrv secrets;
  GStrv path; /* extra PATH entries for the agent, absolute, prepended */

  /* [runtime] */
  char *work_dir;
  char *log_dir;
  guint round_timeout_s;
  guint restart_delay_s;
  gboolean disable_pre_round_hooks;
  guint round_log_retention;
  char *narrative_file; /* NULL: log_dir/narrative.md */
  ArTransientAction transient_error_action;
  guint max_rounds; /* 0 = unbounded */
  char *stop_file;  /* NULL = none; absolute */
  GStrv substrate_fingerprint_paths;
  guint fresh_eyes_every_n; /* 0 = off */
  gboolean dry_run;
  guint max_grace_after_result_s; /* 0 = off */
  GStrv grace_kill_ignore_patterns;
  guint idle_timeout_s;        /* 0 = off */
  guint retry_loop_timeout_s;  /* 0 = off */
  guint events_retention_days; /* 0 = keep forever */

  /* [prompt] */
  GStrv prompt_files; /* from file or files; absolute */
  gboolean inject_context;
  ArContextMode context_injection_mode;
  char *concat_separator;
  gboolean strip_yaml_frontmatter;

  /* [vcs] */
  guint stash_idempotency_s;
  ArDirtyAction dirty_action;

  /* [monitor], [monitor.host_health] */
  GStrv auth_fail_patterns;
  char *auth_fail_hint;
  guint auth_fail_threshold;
  GStrv auto_stop_on;
  guint remote_failure_tolerance_s;
  guint anomaly_repetitive_window;
  guint anomaly_repetitive_threshold;
  guint round_progress_interval_s;
  int supervisor_stale_threshold_s; /* -1 = unset: round_timeout_s * 1.5 */
  guint no_progress_rounds;         /* 0 = off */
  GStrv notify;
  guint mem_avail_min_mb;
  double disk_warning_pct;
  double disk_critical_pct;

  /* [phases] */
  GStrv phase_list;  /* NULL = no rotation */
  GPtrArray *phases; /* ArPhase*, for every [phases.NAME] table */

  /* [hooks]: per kind, the commands (each a GStrv argv, argv[0] absolute
   * when it names a path) */
  GPtrArray *hooks[AR_HOOK_N_KINDS];
  guint hook_timeout_s;
  GStrv event_kinds; /* [events] kinds */

  /* [plugins] */
  GStrv plugins_disable;
  ArTomlNode *toml; /* the whole parsed document ([plugins.NAME] pass-through) */
} ArConfig;

ArConfig *ar_config_load(const char *path, GError **error);
/* The project (basename of [runtime] work_dir) without loading and
 * validating the whole file (ar-config-project.c); NULL when the file
 * cannot be read or parsed, or has no work_dir. */
char *ar_config_read_project(const char *path, GError **error);
ArConfig *ar_config_ref(ArConfig *cfg);
void ar_config_unref(ArConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArConfig, ar_config_unref)

/* Default config path: ./agent-runner.toml */
char *ar_config_default_path(void);

/* Phase of a round: list[(round_num - 1) % len], NULL without phases. */
const char *ar_config_phase_for_round(const ArConfig *cfg, guint round_num);
const ArPhase *ar_config_get_phase(const ArConfig *cfg, const char *name);
guint ar_config_round_timeout(const ArConfig *cfg, const char *phase);
const char *const *ar_config_prompt_files(const ArConfig *cfg, const char *phase);
const char *ar_config_agent_name(const ArConfig *cfg); /* name or basename(command[0]) */

/* "pre_round", ... as in [hooks]. */
const char *ar_hook_kind_name(ArHookKind kind);
/* A hook's name: the file name of argv[0] without its extension. */
char *ar_hook_name(const char *const *argv);
/* The hooks of a kind for a phase ([phases.NAME.hooks] over [hooks]),
 * without those [plugins] disable names (and pre-round hooks and
 * enrichers when disable_pre_round_hooks applies): GStrv argv each. */
GPtrArray *ar_config_hooks(const ArConfig *cfg, const char *phase, ArHookKind kind);

/* The keys this file sets that do nothing yet: "[section] name" each, and
 * in *reasons (same order) why. */
GPtrArray *ar_config_inert_keys(const ArConfig *cfg, GPtrArray **reasons);

/* The PATH the agent gets: [agent] path entries, then base_path (the
 * daemon's own PATH when NULL). */
char *ar_config_agent_path_env(const ArConfig *cfg, const char *base_path);
/* command[0] resolved on that PATH; NULL if not found. */
char *ar_config_find_agent(const ArConfig *cfg, const char *base_path);

G_END_DECLS
