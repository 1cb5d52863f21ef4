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

int
arc_verb_upgrade(ArcContext *ctx, int argc, char **argv)
{
  g_autofree char *to = NULL;
  gboolean check = FALSE;
  GOptionEntry entries[] = {
    { "to", 0, 0, G_OPTION_ARG_FILENAME, &to,
      N_("Upgrade into this agent-runnerd instead of the installed one"), N_("PATH") },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
      N_("Only smoke-test the candidate and print its version"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  g_autofree char *target = to ? g_canonicalize_filename(to, NULL) : g_strdup("");
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc != AR_EXIT_OK)
    return rc;
  Outcome o = { .project = conn->project };
  g_autoptr(sd_bus_slot) slot = NULL;
  if (conn->bus)
    (void)sd_bus_match_signal(conn->bus, &slot, NULL, AR_BUS_PATH, AR_BUS_INTERFACE, "Event",
                              on_event, &o);
  g_autofree char *json = NULL;
  rc = call_upgrade(conn, target, check, &json);
  g_autoptr(JsonNode) result = rc == AR_EXIT_OK ? json_from_string(json, NULL) : NULL;
  JsonObject *ro = result && JSON_NODE_HOLDS_OBJECT(result) ? json_node_get_object(result) : NULL;
  if (rc != AR_EXIT_OK || !ro) {
    return rc != AR_EXIT_OK ? rc : AR_EXIT_FAILURE;
  }
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
    arc_print_json(result);
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
  return rc;
}
