/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one table of agent-runner.toml keys. The loader applies it, the
 * docs generator prints it, the tests walk it. */

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  AR_KEY_STRING, /* with choices: one of them, kept as the string */
  AR_KEY_PATH,   /* string; ~, {project} expanded; relative to the config dir */
  AR_KEY_STRV,   /* list of strings */
  AR_KEY_PATHV,  /* list of paths */
  AR_KEY_REGEXV, /* list of regular expressions, each must compile */
  AR_KEY_NAMES,  /* list of names from key->choices */
  AR_KEY_UINT,   /* integer >= min (0 or 1) and <= max (0: no max) */
  AR_KEY_BOOL,
  AR_KEY_ENUM,       /* one string of key->choices, stored as its index (int) */
  AR_KEY_PERCENT,    /* number 0..100 (integer or float; not NaN, not bool) */
  AR_KEY_ENV,        /* table of string -> string */
  AR_KEY_PHASE_LIST, /* [phases] list */
  AR_KEY_HOOKS,      /* list of commands: a path string or an argv list */
} ArKeyType;

typedef struct {
  const char *section; /* "agent", "runtime", "monitor.host_health", ... */
  const char *name;
  ArKeyType type;
  const char *default_toml; /* default as a TOML value; NULL: unset */
  gsize offset;             /* where the value lands in ArConfig */
  gint64 min;
  gint64 max;
  const char *const *choices;
  gboolean required;
  gboolean ours; /* not in the Python tool: added by agent-runner */
  const char *doc;
  /* Set while the key is read but does nothing yet: `config check` says so
   * when a file sets it, and the docs print it. */
  const char *no_effect;
} ArConfigKey;

typedef struct {
  const char *section;
  const char *name;
  const char *hint;
} ArRemovedKey;

extern const ArConfigKey ar_config_keys[];
extern const guint ar_config_n_keys;
extern const ArRemovedKey ar_config_removed_keys[];
extern const guint ar_config_n_removed_keys;
/* Sections a file may contain (besides [phases.NAME] and [plugins.NAME]). */
extern const char *const ar_config_sections[];

/* Names `[monitor] auto_stop_on` and `[plugins] disable` accept. */
extern const char *const ar_known_detectors[];
extern const char *const ar_known_plugins[];

const char *ar_key_type_name(ArKeyType type);
const ArConfigKey *ar_config_key_lookup(const char *section, const char *name);

/* Generated reference documentation (docs/configuration.md and the
 * agent-runner.toml(5) man page). */
char *ar_config_doc_markdown(void);
char *ar_config_doc_man(void);

G_END_DECLS
