/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The client's side of the bus: find a project's agent-runnerd
 * (org.agentrunner.Runner1.<project> on the user or system bus), call it,
 * wait for its name to come or go, and say clearly when it is not
 * running. */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#include "ar-config.h"
#include "arc-client.h"

G_BEGIN_DECLS

struct ArcConn {
  sd_bus *bus;     /* NULL when no bus could be reached */
  char *bus_error; /* why not */
  gboolean system;
  char *project;
  char *name;             /* org.agentrunner.Runner1.<escaped project> */
  char *config_path;      /* the config to load on demand (arc_conn_config); NULL: none */
  const char *config_arg; /* how the user named it, for messages */
  ArConfig *cfg;          /* loaded by arc_conn_config */
  gboolean cfg_tried;
  char *cfg_error; /* why it did not load, until said */
  int running;     /* NameHasOwner's answer, kept up to date by the waits; -1: not asked */
  char *host;      /* -H: the remote host ([USER@]HOST[:PORT]); NULL: this one */
  GPid ssh_pid;    /* -H: the ssh carrying the bus */
};

/* Resolve the project (--project, else the one the config names, read
 * without loading the whole config) and connect. Returns an exit code:
 * AR_EXIT_OK, or the code to exit with (message printed). Verbs get their
 * connection through arc_context_conn. */
int arc_conn_open(ArcContext *ctx, ArcConn *conn);
void arc_conn_clear(ArcConn *conn);

/* The project's whole config, loaded on the first call (NULL when none
 * loads: -H, only --project without an installed link, or a broken file).
 * print_error: say why on stderr (once). */
ArConfig *arc_conn_config(ArcConn *conn, gboolean print_error);

/* Whether the service owns its name: asked once, then kept up to date by
 * the waits and calls below. */
gboolean arc_conn_is_running(ArcConn *conn);
/* "agent-runner: project X is not running (...)" on stderr; returns
 * AR_EXIT_NOT_RUNNING. */
int arc_conn_not_running(ArcConn *conn);

/* Call a method of the service; on failure prints
 * "agent-runner VERB: <message>" and returns the exit code for the error
 * (NotRunning 3, AccessDenied 4, InvalidArgs 2, Config 78, others 1). */
int arc_conn_call(ArcConn *conn, const char *verb, const char *method, sd_bus_message **reply,
                  const char *types, ...);
/* Peek with the given u options (NULL-terminated name, value pairs). */
int arc_conn_peek(ArcConn *conn, const char *verb, JsonNode **out, ...) G_GNUC_NULL_TERMINATED;
/* A property as a string ("" on failure). */
char *arc_conn_get_string(ArcConn *conn, const char *property);
guint32 arc_conn_get_u32(ArcConn *conn, const char *property);

/* Wait until the name is present / gone, at most timeout_usec (0:
 * forever). pid > 0: also stop waiting (FALSE) when that child exits. */
gboolean arc_conn_wait_name(ArcConn *conn, gboolean present, guint64 timeout_usec, pid_t pid,
                            int *child_status);

/* The bus names of every project on the bus, sorted. */
GPtrArray *arc_bus_list_names(sd_bus *bus, GError **error);
/* Open the user or system bus for a client. */
int arc_bus_open(gboolean system, sd_bus **ret);

G_END_DECLS
