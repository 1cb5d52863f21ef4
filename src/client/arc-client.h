#pragma once

/* The thin client `agent-runner`: one verb table, one file per verb group. */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-config.h"

G_BEGIN_DECLS

/* sysexits-style codes the client shares with the daemon */
#define ARC_EXIT_OK 0
#define ARC_EXIT_FAILURE 1
#define ARC_EXIT_USAGE 2
#define ARC_EXIT_CONFIG 78

/* Options every verb understands, before or after the verb. */
typedef struct {
  char *config_path; /* --config F (NULL: ./agent-runner.toml) */
  gboolean json;     /* --json */
  gboolean system;   /* --system: the system bus / system manager */
  char *project;     /* --project NAME */
} ArcGlobal;

typedef int (*ArcVerbFunc)(ArcGlobal *global, int argc, char **argv);

typedef struct {
  const char *name;
  ArcVerbFunc func;
  const char *args;    /* usage synopsis after the verb */
  const char *summary; /* one line, translatable (N_) */
} ArcVerb;

/* Parse verb options with GOptionContext; prints a one-line error and
 * returns FALSE on bad usage (the caller exits 2). `--help` prints the
 * verb's help and exits 0. */
gboolean arc_parse_options(const ArcVerb *verb, GOptionEntry *entries, int *argc, char ***argv);

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

/* The verb table (arc-main.c). */
extern const ArcVerb arc_verbs[];

G_END_DECLS
