#pragma once

/* The thin client `agent-runner`: one verb table, one file per verb group. */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-config.h"

G_BEGIN_DECLS

/* sysexits-style codes the client shares with the daemon */
#define ARC_EXIT_OK            0
#define ARC_EXIT_FAILURE       1
#define ARC_EXIT_USAGE         2
#define ARC_EXIT_NOT_RUNNING   3 /* the project's service is not on the bus */
#define ARC_EXIT_ACCESS_DENIED 4 /* the service (polkit) refused */
#define ARC_EXIT_CONFIG        78

/* Options every verb understands, before or after the verb. */
typedef struct {
  char *config_path; /* --config F (NULL: ./agent-runner.toml) */
  gboolean json;     /* --json */
  gboolean system;   /* --system: the system bus / system manager */
  char *project;     /* --project NAME */
  GPtrArray *hosts;  /* -H/--host [USER@]HOST[:PORT], repeatable (arc-remote.h); NULL: local */
} ArcGlobal;

typedef int (*ArcVerbFunc)(ArcGlobal *global, int argc, char **argv);

typedef struct {
  const char *name;
  ArcVerbFunc func;
  const char *args;    /* usage synopsis after the verb */
  const char *summary; /* one line, translatable (N_) */
  gboolean remote;     /* works with -H/--host (over the bus only, no local files) */
} ArcVerb;

/* Parse verb options with GOptionContext; prints a one-line error and
 * returns FALSE on bad usage (the caller exits 2). `--help` prints the
 * verb's help and exits 0. */
gboolean arc_parse_options(const ArcVerb *verb, GOptionEntry *entries, int *argc, char ***argv);
/* When set, arc_parse_options hands the verb's option table to it and
 * returns FALSE without parsing (shell completion reads the tables). */
typedef void (*ArcOptionsHook)(const ArcVerb *verb, const GOptionEntry *entries);
extern ArcOptionsHook arc_options_hook;
/* The verb's arguments in its synopsis (the option groups left out); ""
 * for a verb that takes none, which arc_parse_options then enforces. */
char *arc_verb_positionals(const ArcVerb *verb);

/* Load the config named by --config (or ./agent-runner.toml), printing
 * the error on failure. */
ArConfig *arc_load_config(ArcGlobal *global);
char *arc_config_path(ArcGlobal *global);

/* Output helpers: colour only on a terminal (and not with NO_COLOR). */
gboolean arc_use_color(void);
const char *arc_color(const char *sgr); /* "" when colour is off */
void arc_print_json(JsonNode *node);

int arc_verb_init(ArcGlobal *global, int argc, char **argv);
int arc_verb_config(ArcGlobal *global, int argc, char **argv);
int arc_verb_serve(ArcGlobal *global, int argc, char **argv);
int arc_verb_round(ArcGlobal *global, int argc, char **argv);
/* Bus verbs: arc-status.c, arc-control.c, arc-events.c */
int arc_verb_status(ArcGlobal *global, int argc, char **argv);
int arc_verb_peek(ArcGlobal *global, int argc, char **argv);
int arc_verb_list(ArcGlobal *global, int argc, char **argv);
int arc_verb_watch(ArcGlobal *global, int argc, char **argv);
int arc_verb_stop(ArcGlobal *global, int argc, char **argv);
int arc_verb_kill(ArcGlobal *global, int argc, char **argv);
int arc_verb_cancel(ArcGlobal *global, int argc, char **argv);
int arc_verb_reload(ArcGlobal *global, int argc, char **argv);
int arc_verb_start(ArcGlobal *global, int argc, char **argv);
int arc_verb_restart(ArcGlobal *global, int argc, char **argv);
int arc_verb_events(ArcGlobal *global, int argc, char **argv);
/* systemd integration: arc-install.c, arc-doctor.c (helpers in arc-systemd.h) */
int arc_verb_install(ArcGlobal *global, int argc, char **argv);
int arc_verb_uninstall(ArcGlobal *global, int argc, char **argv);
int arc_verb_doctor(ArcGlobal *global, int argc, char **argv);
/* The row of a verb in arc_verbs (for arc_parse_options). */
const ArcVerb *arc_verb_lookup(const char *name);

/* The verb table (arc-main.c). */
extern const ArcVerb arc_verbs[];
int arc_verb_orphans(ArcGlobal *global, int argc, char **argv);
/* arc-monitor.c: agent-runner-monitor in the foreground */
int arc_verb_monitor(ArcGlobal *global, int argc, char **argv);
int arc_verb_web(ArcGlobal *global, int argc, char **argv);    /* arc-web.c */
int arc_verb_secret(ArcGlobal *global, int argc, char **argv); /* arc-secret.c */
/* help [VERB] (arc-main.c) */
int arc_verb_help(ArcGlobal *global, int argc, char **argv);

G_END_DECLS
