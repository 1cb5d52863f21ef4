/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arc-fleet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-bus.h"
#include "arc-remote.h"

/* One host's answer, filled by its own thread: each host has its own bus
 * connection (and ssh), so nothing is shared but this struct, and the
 * main thread reads it only after joining. */
typedef struct {
  char *spec;
  gboolean system;
  guint64 timeout_usec;
  GThread *thread;
  GMutex lock; /* guards pid against the main thread's kill on timeout */
  GPid pid;
  gboolean finished;
  gboolean timed_out;
  gboolean reached; /* its bus answered (maybe with no project) */
  GPtrArray *rows;  /* FleetRow* */
  char *error;      /* the one-line reason the host gave no rows */
} FleetHost;

typedef struct {
  char *project;
  char *state;
  guint32 round_num;
  char *last_outcome;
  guint64 throttled_until;
  GPtrArray *alerts; /* detectors alerting, from the daemon's recent events */
} FleetRow;

static void
fleet_row_free(FleetRow *r)
{
  g_free(r->project);
  g_free(r->state);
  g_free(r->last_outcome);
  g_clear_pointer(&r->alerts, g_ptr_array_unref);
  g_free(r);
}

static void
read_row(sd_bus *bus, const char *name, FleetRow *row)
{
  g_autoptr(sd_bus_message) reply = NULL;
  if (sd_bus_call_method(bus, name, AR_BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll", NULL,
                         &reply, "s", AR_BUS_INTERFACE) < 0 ||
      sd_bus_message_enter_container(reply, 'a', "{sv}") < 0)
    return;
  while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
    const char *key = NULL, *contents = NULL;
    char type = 0;
    if (sd_bus_message_read(reply, "s", &key) < 0 ||
        sd_bus_message_peek_type(reply, &type, &contents) < 0 ||
        sd_bus_message_enter_container(reply, 'v', contents) < 0)
      return;
    const char *s = NULL;
    if (g_str_equal(key, "State") && g_str_equal(contents, "s") &&
        sd_bus_message_read(reply, "s", &s) >= 0)
      row->state = g_strdup(s);
    else if (g_str_equal(key, "LastOutcome") && g_str_equal(contents, "s") &&
             sd_bus_message_read(reply, "s", &s) >= 0)
      row->last_outcome = g_strdup(s);
    else if (g_str_equal(key, "RoundNum") && g_str_equal(contents, "u"))
      (void)sd_bus_message_read(reply, "u", &row->round_num);
    else if (g_str_equal(key, "ThrottledUntil") && g_str_equal(contents, "t"))
      (void)sd_bus_message_read(reply, "t", &row->throttled_until);
    else
      (void)sd_bus_message_skip(reply, contents);
    if (sd_bus_message_exit_container(reply) < 0 || sd_bus_message_exit_container(reply) < 0)
      return;
  }
}

/* The monitor's alerts live in the project's events (MonitorAlert): the
 * detectors whose last word in the daemon's recent events (Peek's ring, at
 * most 200, this process's) is monitor_alert_emitted. One call, no file. */
#define ALERT_EVENTS 200

static gint
by_string(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static void
read_alerts(sd_bus *bus, const char *name, FleetRow *row)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *json = NULL;
  if (sd_bus_call_method(bus, name, AR_BUS_PATH, AR_BUS_INTERFACE, "Peek", NULL, &reply, "a{sv}", 1,
                         "events", "u", (guint32)ALERT_EVENTS) < 0 ||
      sd_bus_message_read(reply, "s", &json) < 0)
    return;
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, json, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    return;
  JsonArray *events =
      ar_json_array(json_node_get_object(json_parser_get_root(parser)), "recent_events");
  g_autoptr(GHashTable) active = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  row->alerts = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; events && i < json_array_get_length(events); i++) {
    JsonNode *n = json_array_get_element(events, i);
    g_autoptr(JsonParser) line = NULL;
    JsonObject *o = NULL;
    if (JSON_NODE_HOLDS_OBJECT(n)) {
      o = json_node_get_object(n);
    } else if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING) {
      line = json_parser_new();
      if (json_parser_load_from_data(line, json_node_get_string(n), -1, NULL) &&
          JSON_NODE_HOLDS_OBJECT(json_parser_get_root(line)))
        o = json_node_get_object(json_parser_get_root(line));
    }
    const char *kind = o ? ar_json_str(o, "event") : NULL;
    const char *detector = o ? ar_json_str(o, "detector") : NULL;
    if (!kind || !detector)
      continue;
    if (g_str_equal(kind, "monitor_alert_emitted"))
      g_hash_table_add(active, g_strdup(detector));
    else if (g_str_equal(kind, "monitor_alert_resolved"))
      g_hash_table_remove(active, detector);
  }
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, active);
  while (g_hash_table_iter_next(&it, &key, NULL))
    g_ptr_array_add(row->alerts, g_strdup(key));
  g_ptr_array_sort(row->alerts, by_string);
}

static gpointer
query_host(gpointer data)
{
  FleetHost *fh = data;
  int err_fd = memfd_create("ssh-stderr", MFD_CLOEXEC);
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(GError) error = NULL;
  GPid pid = 0;
  int r = arc_remote_bus_open(fh->spec, fh->system, err_fd, fh->timeout_usec, &pid, &bus, &error);
  g_mutex_lock(&fh->lock);
  fh->pid = pid;
  if (fh->timed_out && pid > 0)
    kill(pid, SIGTERM);
  g_mutex_unlock(&fh->lock);
  g_autoptr(GPtrArray) names = r >= 0 ? arc_bus_list_names(bus, &error) : NULL;
  for (guint i = 0; names && i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    FleetRow *row = g_new0(FleetRow, 1);
    row->project = ar_project_from_bus_name(name);
    if (!row->project)
      row->project = g_strdup(name);
    read_row(bus, name, row);
    read_alerts(bus, name, row);
    g_ptr_array_add(fh->rows, row);
  }
  bus = sd_bus_flush_close_unref(g_steal_pointer(&bus));
  g_mutex_lock(&fh->lock);
  fh->pid = 0;
  g_mutex_unlock(&fh->lock);
  /* The bus closed: ssh ends on its own (EOF on its stdin). */
  ar_remote_reap(pid, !names);
  fh->reached = names != NULL;
  if (!names) {
    g_autofree char *why = ar_remote_last_line(err_fd);
    fh->error = g_strdup(why ? why : error ? error->message : _("connection failed"));
  } else if (names->len == 0) {
    fh->error = g_strdup(fh->system ? _("no agent-runner project on the host's system bus")
                                    : _("no agent-runner project on the host's user bus"));
  }
  if (err_fd >= 0)
    close(err_fd);
  g_mutex_lock(&fh->lock);
  fh->finished = TRUE;
  g_mutex_unlock(&fh->lock);
  return NULL;
}

static GMutex done_lock;
static GCond done_cond;

static gpointer
query_host_and_signal(gpointer data)
{
  query_host(data);
  g_mutex_lock(&done_lock);
  g_cond_broadcast(&done_cond);
  g_mutex_unlock(&done_lock);
  return NULL;
}

static gboolean
all_finished(GPtrArray *hosts)
{
  for (guint i = 0; i < hosts->len; i++) {
    FleetHost *fh = g_ptr_array_index(hosts, i);
    g_mutex_lock(&fh->lock);
    gboolean done = fh->finished;
    g_mutex_unlock(&fh->lock);
    if (!done)
      return FALSE;
  }
  return TRUE;
}

static void
fleet_host_free(FleetHost *fh)
{
  g_free(fh->spec);
  g_clear_pointer(&fh->rows, g_ptr_array_unref);
  g_free(fh->error);
  g_mutex_clear(&fh->lock);
  g_free(fh);
}

static char *
throttle_text(guint64 until)
{
  gint64 now = g_get_real_time();
  if (!until || (gint64)until <= now)
    return g_strdup("-");
  return ar_format_duration(((gint64)until - now) / G_USEC_PER_SEC);
}

static void
print_json(GPtrArray *hosts)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < hosts->len; i++) {
    FleetHost *fh = g_ptr_array_index(hosts, i);
    for (guint j = 0; j < fh->rows->len; j++) {
      FleetRow *row = g_ptr_array_index(fh->rows, j);
      json_builder_begin_object(b);
      ar_json_add_str(b, "host", fh->spec);
      ar_json_add_str(b, "project", row->project);
      ar_json_add_str(b, "state", row->state);
      ar_json_add_int(b, "round_num", row->round_num);
      ar_json_add_str(b, "last_outcome", row->last_outcome);
      ar_json_add_int(b, "throttled_until_us", (gint64)row->throttled_until);
      json_builder_set_member_name(b, "alerts");
      json_builder_begin_array(b);
      for (guint k = 0; row->alerts && k < row->alerts->len; k++)
        json_builder_add_string_value(b, g_ptr_array_index(row->alerts, k));
      json_builder_end_array(b);
      json_builder_end_object(b);
    }
    if (fh->error) {
      json_builder_begin_object(b);
      ar_json_add_str(b, "host", fh->spec);
      json_builder_set_member_name(b, "project");
      json_builder_add_null_value(b);
      ar_json_add_str(b, fh->reached ? "note" : "error", fh->error);
      json_builder_end_object(b);
    }
  }
  json_builder_end_array(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  arc_print_json(root);
}

static void
print_table(GPtrArray *hosts)
{
  printf("%s%-20s %-24s %-12s %-6s %-16s %-10s %s%s\n", arc_color("\033[1m"), _("HOST"),
         _("PROJECT"), _("STATE"), _("ROUND"), _("LAST"), _("THROTTLE"), _("ALERTS"),
         arc_color("\033[0m"));
  for (guint i = 0; i < hosts->len; i++) {
    FleetHost *fh = g_ptr_array_index(hosts, i);
    for (guint j = 0; j < fh->rows->len; j++) {
      FleetRow *row = g_ptr_array_index(fh->rows, j);
      g_autofree char *throttle = throttle_text(row->throttled_until);
      g_autofree char *alerts = NULL;
      if (row->alerts && row->alerts->len) {
        g_ptr_array_add(row->alerts, NULL);
        alerts = g_strjoinv(",", (char **)row->alerts->pdata);
        g_ptr_array_set_size(row->alerts, row->alerts->len - 1);
      }
      printf("%-20s %-24s %-12s %-6u %-16s %-10s %s\n", fh->spec, row->project,
             row->state ? row->state : "?", row->round_num,
             row->last_outcome && *row->last_outcome ? row->last_outcome : "-", throttle,
             alerts ? alerts : "-");
    }
    if (fh->error)
      printf("%-20s %s%s%s\n", fh->spec, arc_color(fh->reached ? "" : "\033[31m"), fh->error,
             arc_color(fh->reached ? "" : "\033[0m"));
  }
}

int
arc_fleet_list(ArcContext *ctx, GPtrArray *specs, guint timeout_s)
{
  g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func((GDestroyNotify)fleet_host_free);
  for (guint i = 0; i < specs->len; i++) {
    FleetHost *fh = g_new0(FleetHost, 1);
    fh->spec = g_strdup(g_ptr_array_index(specs, i));
    fh->system = ctx->system;
    fh->timeout_usec = (guint64)timeout_s * G_USEC_PER_SEC;
    fh->rows = g_ptr_array_new_with_free_func((GDestroyNotify)fleet_row_free);
    g_mutex_init(&fh->lock);
    g_ptr_array_add(hosts, fh);
  }
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
  g_mutex_lock(&done_lock);
  for (guint i = 0; i < hosts->len; i++) {
    FleetHost *fh = g_ptr_array_index(hosts, i);
    fh->thread = g_thread_new("fleet-host", query_host_and_signal, fh);
  }
  /* Every host has the same deadline: a dead one never delays the rest
   * beyond it. */
  while (!all_finished(hosts))
    if (!g_cond_wait_until(&done_cond, &done_lock, deadline))
      break;
  g_mutex_unlock(&done_lock);
  for (guint i = 0; i < hosts->len; i++) {
    FleetHost *fh = g_ptr_array_index(hosts, i);
    g_mutex_lock(&fh->lock);
    if (!fh->finished) {
      fh->timed_out = TRUE;
      /* Its bus calls fail at once when ssh is gone. */
      if (fh->pid > 0)
        kill(fh->pid, SIGTERM);
    }
    g_mutex_unlock(&fh->lock);
  }
  gboolean failed = FALSE;
  for (guint i = 0; i < hosts->len; i++) {
    FleetHost *fh = g_ptr_array_index(hosts, i);
    g_thread_join(fh->thread);
    if (fh->timed_out) {
      g_ptr_array_set_size(fh->rows, 0);
      g_free(fh->error);
      fh->reached = FALSE;
      fh->error = g_strdup_printf(_("no answer within %us (--timeout S)"), timeout_s);
    }
    failed |= !fh->reached;
  }
  if (ctx->json)
    print_json(hosts);
  else
    print_table(hosts);
  return failed ? AR_EXIT_FAILURE : AR_EXIT_OK;
}
