/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* agent-runner upgrade [--to PATH] [--check] [--json]: the service
 * re-executes itself into the installed agent-runnerd (or PATH) without
 * losing its state (docs/upgrade.md). The client waits for the outcome
 * event over the short gap in which the bus name is away. */

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-bus.h"

/* The hand-over takes well under a second; the candidate's READY=1 may
 * take up to the daemon's own limit (ARD_UPGRADE_READY_TIMEOUT_S). */
#define OUTCOME_WAIT_S 45

typedef struct {
  const char *project;
  char *kind;
  char *payload;
} Outcome;

static int
on_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Outcome *o = userdata;
  const char *kind = NULL, *payload = NULL, *project = NULL;
  if (sd_bus_message_read(m, "sss", &kind, &payload, &project) < 0 || o->kind)
    return 0;
  if (g_strcmp0(project, o->project) != 0)
    return 0;
  static const char *const ends[] = { "service_upgraded", "service_upgrade_rolled_back",
                                      "service_upgrade_rollback_failed", NULL };
  if (g_strv_contains(ends, kind)) {
    o->kind = g_strdup(kind);
    o->payload = g_strdup(payload);
  }
  return 0;
}

static int
call_upgrade(ArcConn *conn, const char *target, gboolean check, char **json)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int rc = check ? arc_conn_call(conn, "upgrade", "Upgrade", &reply, "sa{sv}", target, 1, "check",
                                 "b", 1)
                 : arc_conn_call(conn, "upgrade", "Upgrade", &reply, "sa{sv}", target, 0);
  if (rc != AR_EXIT_OK)
    return rc;
  const char *s = NULL;
  if (sd_bus_message_read(reply, "s", &s) < 0) {
    fprintf(stderr, _("agent-runner upgrade: the service sent no result\n"));
    return AR_EXIT_FAILURE;
  }
  *json = g_strdup(s);
  return AR_EXIT_OK;
}

static gboolean
wait_outcome(ArcConn *conn, Outcome *o)
{
  gint64 deadline = g_get_monotonic_time() + OUTCOME_WAIT_S * G_USEC_PER_SEC;
  while (!o->kind) {
    int r = sd_bus_process(conn->bus, NULL);
    if (r < 0)
      return FALSE;
    if (r > 0)
      continue;
    gint64 left = deadline - g_get_monotonic_time();
    if (left <= 0)
      return FALSE;
    if (sd_bus_wait(conn->bus, (uint64_t)left) < 0)
      return FALSE;
  }
  return TRUE;
}

/* One project: the call, then (unless check or deferred) the outcome
 * event. Prints its line unless --json; *out gets its result object. */
static int
upgrade_one(ArcContext *ctx, ArcConn *conn, const char *target, gboolean check, JsonNode **out)
{
  Outcome o = { .project = conn->project };
  g_autoptr(sd_bus_slot) slot = NULL;
  if (conn->bus)
    (void)sd_bus_match_signal(conn->bus, &slot, NULL, AR_BUS_PATH, AR_BUS_INTERFACE, "Event",
                              on_event, &o);
  g_autofree char *json = NULL;
  int rc = call_upgrade(conn, target, check, &json);
  g_autoptr(JsonNode) result = rc == AR_EXIT_OK ? json_from_string(json, NULL) : NULL;
  JsonObject *ro = result && JSON_NODE_HOLDS_OBJECT(result) ? json_node_get_object(result) : NULL;
  if (rc != AR_EXIT_OK || !ro) {
    return rc != AR_EXIT_OK ? rc : AR_EXIT_FAILURE;
  }
  json_object_set_string_member(ro, "project", conn->project);
  const char *from = json_object_get_string_member_with_default(ro, "from_version", "?");
  const char *tov = json_object_get_string_member_with_default(ro, "to_version", "?");
  gboolean deferred = json_object_get_boolean_member_with_default(ro, "deferred", FALSE);
  if (!check && !deferred) {
    if (!wait_outcome(conn, &o)) {
      fprintf(stderr,
              _("agent-runner upgrade: no outcome within %d s; see 'agent-runner events "
                "--kind service_upgraded,service_upgrade_rolled_back'\n"),
              OUTCOME_WAIT_S);
      rc = AR_EXIT_FAILURE;
    } else if (!g_str_equal(o.kind, "service_upgraded")) {
      rc = AR_EXIT_FAILURE;
    }
    json_object_set_string_member(ro, "outcome", o.kind ? o.kind : "unknown");
    if (o.payload)
      json_object_set_member(ro, "event", json_from_string(o.payload, NULL));
  }
  if (ctx->json) {
    /* printed by the caller */
  } else if (check) {
    printf(_("%s: candidate %s passed the smoke test (running %s)\n"), conn->project, tov, from);
  } else if (deferred) {
    printf(_("%s: candidate %s passed the smoke test; the running round finishes first, the "
             "upgrade from %s follows at its end\n"),
           conn->project, tov, from);
  } else if (rc == AR_EXIT_OK) {
    g_autoptr(JsonNode) ev = o.payload ? json_from_string(o.payload, NULL) : NULL;
    gboolean kept =
        ev && JSON_NODE_HOLDS_OBJECT(ev) &&
        json_object_get_boolean_member_with_default(json_node_get_object(ev), "round_kept", FALSE);
    if (kept)
      printf(_("%s: upgraded from %s to %s; the running round goes on\n"), conn->project, from,
             tov);
    else
      printf(_("%s: upgraded from %s to %s\n"), conn->project, from, tov);
  } else if (o.payload) {
    g_autoptr(JsonNode) ev = json_from_string(o.payload, NULL);
    JsonObject *eo = ev && JSON_NODE_HOLDS_OBJECT(ev) ? json_node_get_object(ev) : NULL;
    fprintf(stderr, _("agent-runner upgrade: %s: %s\n"), o.kind,
            eo ? json_object_get_string_member_with_default(eo, "failure_reason", "") : "");
  }
  g_free(o.kind);
  g_free(o.payload);
  *out = g_steal_pointer(&result);
  return rc;
}

/* --all: every project on the bus, one after the other (a package's
 * post-install step). No project is not an error: nothing to upgrade. */
static int
upgrade_all(ArcContext *ctx, const char *target, gboolean check)
{
  g_autoptr(sd_bus) bus = NULL;
  int r = arc_bus_open(ctx->system, &bus);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = r >= 0 ? arc_bus_list_names(bus, &error) : NULL;
  if (!names) {
    fprintf(stderr, _("agent-runner upgrade --all: cannot list the %s bus: %s\n"),
            ctx->system ? "system" : "user", r < 0 ? g_strerror(-r) : error->message);
    return AR_EXIT_FAILURE;
  }
  g_autoptr(JsonArray) results = json_array_new();
  int rc = AR_EXIT_OK;
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    ArcConn conn = { .system = ctx->system, .running = -1 };
    conn.name = g_strdup(name);
    conn.project = ar_project_from_bus_name(name);
    if (!conn.project)
      conn.project = g_strdup(name);
    int one = arc_bus_open(ctx->system, &conn.bus);
    JsonNode *res = NULL;
    if (one >= 0)
      one = upgrade_one(ctx, &conn, target, check, &res);
    else
      one = AR_EXIT_FAILURE;
    if (!res) {
      /* The call failed (its message is on stderr): a row that says so. */
      JsonObject *o = json_object_new();
      json_object_set_string_member(o, "project", conn.project);
      json_object_set_string_member(o, "outcome", "failed");
      json_object_set_int_member(o, "exit_code", one);
      res = json_node_init_object(json_node_alloc(), o);
      json_object_unref(o);
    }
    json_array_add_element(results, res);
    if (one != AR_EXIT_OK && rc == AR_EXIT_OK)
      rc = AR_EXIT_FAILURE;
    arc_conn_clear(&conn);
  }
  if (ctx->json) {
    g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), results);
    arc_print_json(root);
  } else if (names->len == 0) {
    fprintf(stderr, _("agent-runner upgrade --all: no agent-runner service on the %s bus\n"),
            ctx->system ? "system" : "user");
  }
  return rc;
}

int
arc_verb_upgrade(ArcContext *ctx, int argc, char **argv)
{
  g_autofree char *to = NULL;
  gboolean check = FALSE;
  gboolean all = FALSE;
  GOptionEntry entries[] = {
    { "to", 0, 0, G_OPTION_ARG_FILENAME, &to,
      N_("Upgrade into this agent-runnerd instead of the installed one"), N_("PATH") },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
      N_("Only smoke-test the candidate and print its version"), NULL },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
      N_("Every project on the bus (user, or the system bus with --system)"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  g_autofree char *target = to ? g_canonicalize_filename(to, NULL) : g_strdup("");
  if (all) {
    if (ctx->project) {
      fprintf(stderr, _("agent-runner upgrade: --all and --project exclude each other\n"));
      return AR_EXIT_USAGE;
    }
    return upgrade_all(ctx, target, check);
  }
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc != AR_EXIT_OK)
    return rc;
  g_autoptr(JsonNode) result = NULL;
  rc = upgrade_one(ctx, conn, target, check, &result);
  if (ctx->json && result)
    arc_print_json(result);
  return rc;
}
