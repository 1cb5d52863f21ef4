/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The thin client `agent-runner`: one verb table, one file per verb group. */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-config.h"
#include "ar-exit.h"

G_BEGIN_DECLS

typedef struct ArcConn ArcConn; /* arc-bus.h */
typedef struct ArcVerb ArcVerb;

/* What a verb's table row says about it. */
typedef enum {
  ARC_VERB_REMOTE = 1 << 0, /* works with -H/--host (over the bus only, no local files) */
  ARC_VERB_BUS = 1 << 1,    /* talks to the project's service: arc_context_conn */
  ARC_VERB_HELPER = 1 << 2, /* runs in agent-runner-vcs (git, libsecret: arc-vcs-exec.c) */
  ARC_VERB_AUTH = 1 << 3,   /* may need polkit's interactive authentication (arc-polkit-agent.c) */
} ArcVerbFlags;

/* The verb's context: the options every verb understands (before or after
 * the verb), the verb's own table row, and the project's bus connection,
 * opened once on first use and closed by main after the verb. */
typedef struct {
  char *config_path;   /* --config F (NULL: ./agent-runner.toml) */
  gboolean json;       /* --json */
  gboolean system;     /* --system: the system bus / system manager */
  char *project;       /* --project NAME */
  GPtrArray *hosts;    /* -H/--host [USER@]HOST[:PORT], repeatable (arc-remote.h); NULL: local */
  const ArcVerb *verb; /* the row main dispatched to */
  ArcConn *conn;       /* NULL until arc_context_conn */
  int conn_rc;         /* arc_conn_open's answer, kept for a second caller */
  GPid polkit_agent;   /* pkttyagent, while it runs (arc_polkit_agent_open) */
} ArcContext;

typedef int (*ArcVerbFunc)(ArcContext *ctx, int argc, char **argv);

struct ArcVerb {
  const char *name;
  ArcVerbFunc func;
  const char *args;    /* usage synopsis after the verb */
  const char *summary; /* one line, translatable (N_) */
  ArcVerbFlags flags;
};

/* Parse the options of ctx->verb with GOptionContext; prints a one-line
 * error and returns FALSE on bad usage (the caller exits 2). `--help`
 * prints the verb's help and exits 0. */
gboolean arc_parse_options(ArcContext *ctx, GOptionEntry *entries, int *argc, char ***argv);
/* The project's connection (ARC_VERB_BUS verbs): resolved and opened on
 * the first call, the same one after; *conn is set even on failure (for
 * its messages). Returns AR_EXIT_OK or the code to exit with (message
 * printed). */
int arc_context_conn(ArcContext *ctx, ArcConn **conn);
/* main: close what the verb opened. */
void arc_context_clear(ArcContext *ctx);
/* When set, arc_parse_options hands the verb's option table to it and
 * returns FALSE without parsing (shell completion reads the tables). */
typedef void (*ArcOptionsHook)(const ArcVerb *verb, const GOptionEntry *entries);
extern ArcOptionsHook arc_options_hook;
/* The verb's arguments in its synopsis (the option groups left out); ""
 * for a verb that takes none, which arc_parse_options then enforces. */
char *arc_verb_positionals(const ArcVerb *verb);

/* Load the config named by --config (or ./agent-runner.toml), printing
 * the error on failure. */
ArConfig *arc_load_config(ArcContext *ctx);
char *arc_config_path(ArcContext *ctx);
/* Thin client: exec agent-runner-vcs with the same options (ARC_VERB_HELPER
 * rows, arc-vcs-exec.c). */
int arc_exec_helper(ArcContext *ctx, int argc, char **argv);

/* Output helpers: colour only on a terminal (and not with NO_COLOR). */
gboolean arc_use_color(void);
const char *arc_color(const char *sgr); /* "" when colour is off */
void arc_print_json(JsonNode *node);

int arc_verb_init(ArcContext *ctx, int argc, char **argv);
int arc_verb_config(ArcContext *ctx, int argc, char **argv);
int arc_verb_serve(ArcContext *ctx, int argc, char **argv);
int arc_verb_round(ArcContext *ctx, int argc, char **argv);
/* Bus verbs: arc-status.c, arc-control.c, arc-events.c */
int arc_verb_status(ArcContext *ctx, int argc, char **argv);
int arc_verb_peek(ArcContext *ctx, int argc, char **argv);
int arc_verb_list(ArcContext *ctx, int argc, char **argv);
int arc_verb_watch(ArcContext *ctx, int argc, char **argv);
int arc_verb_stop(ArcContext *ctx, int argc, char **argv);
int arc_verb_kill(ArcContext *ctx, int argc, char **argv);
int arc_verb_cancel(ArcContext *ctx, int argc, char **argv);
int arc_verb_reload(ArcContext *ctx, int argc, char **argv);
int arc_verb_upgrade(ArcContext *ctx, int argc, char **argv); /* arc-upgrade.c */
int arc_verb_start(ArcContext *ctx, int argc, char **argv);
int arc_verb_restart(ArcContext *ctx, int argc, char **argv);
int arc_verb_events(ArcContext *ctx, int argc, char **argv);
/* systemd integration: arc-install.c, arc-doctor.c (helpers in arc-systemd.h) */
int arc_verb_install(ArcContext *ctx, int argc, char **argv);
int arc_verb_uninstall(ArcContext *ctx, int argc, char **argv);
int arc_verb_doctor(ArcContext *ctx, int argc, char **argv);
/* The verb table (arc-main.c). */
extern const ArcVerb arc_verbs[];
int arc_verb_orphans(ArcContext *ctx, int argc, char **argv);
/* arc-monitor.c: agent-runner-monitor in the foreground */
int arc_verb_monitor(ArcContext *ctx, int argc, char **argv);
int arc_verb_web(ArcContext *ctx, int argc, char **argv);    /* arc-web.c */
int arc_verb_secret(ArcContext *ctx, int argc, char **argv); /* arc-secret.c */
/* help [VERB] (arc-main.c) */
int arc_verb_help(ArcContext *ctx, int argc, char **argv);

G_END_DECLS
