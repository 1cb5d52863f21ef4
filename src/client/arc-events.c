/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* `events`: the last N events from the events files, or --follow: the
 * Event signal while the service runs, the events file (inotify) when it
 * does not. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <systemd/sd-event.h>

#include "ar-cleanup.h"
#include "ar-events.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-bus.h"

typedef struct {
  ArcConn *conn;
  gboolean json;
  char **kinds;
  char *log_dir;
  sd_event *event;
  sd_bus_slot *event_slot;
  sd_bus_slot *owner_slot;
  ArEventsFollower *follower;
  sd_event_source *inotify;
  guint window;      /* -f: the last N printed first, like journalctl -f */
  GHashTable *shown; /* those lines: a signal repeating one is not printed twice */
} Follow;

/* One line: raw JSON with --json (the events file's own line), else
 * "HH:MM:SS kind key=value ...". */
static void
print_line(const char *line, gboolean json)
{
  if (json) {
    printf("%s\n", line);
    return;
  }
  g_autoptr(JsonNode) node = json_from_string(line, NULL);
  if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
    printf("%s\n", line);
    return;
  }
  JsonObject *o = json_node_get_object(node);
  const char *ts = json_object_get_string_member_with_default(o, "ts", "");
  const char *kind = json_object_get_string_member_with_default(o, "event", "?");
  g_autoptr(GString) out = g_string_new(NULL);
  /* 2026-05-17T02:13:44.123Z -> 2026-05-17 02:13:44 */
  g_string_append_printf(out, "%.10s %.8s %s%-22s%s", ts, strlen(ts) > 11 ? ts + 11 : "",
                         arc_color("\033[1m"), kind, arc_color("\033[0m"));
  GList *members = json_object_get_members(o);
  for (GList *l = members; l; l = l->next) {
    const char *k = l->data;
    if (g_str_equal(k, "ts") || g_str_equal(k, "event"))
      continue;
    JsonNode *v = json_object_get_member(o, k);
    g_string_append_printf(out, " %s=", k);
    if (JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING)
      g_string_append(out, json_node_get_string(v));
    else
      ar_json_append(out, v);
  }
  g_list_free(members);
  printf("%s\n", out->str);
}

static gboolean
kind_wanted(Follow *f, const char *kind)
{
  return !f->kinds || !f->kinds[0] || g_strv_contains((const char *const *)f->kinds, kind);
}

/* ---- following the file --------------------------------------------------- */

static void
drain_file(Follow *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lines = ar_events_follower_read(f->follower, &error);
  for (guint i = 0; lines && i < lines->len; i++)
    print_line(g_ptr_array_index(lines, i), f->json);
  fflush(stdout);
}

static int
on_inotify(sd_event_source *s, int fd, uint32_t revents, void *user_data)
{
  char buf[4096];
  while (read(fd, buf, sizeof buf) > 0)
    ;
  drain_file(user_data);
  return 0;
}

static gboolean
follow_file(Follow *f)
{
  if (f->inotify)
    return TRUE;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0 || inotify_add_watch(fd, f->log_dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
    fprintf(stderr, _("agent-runner events: cannot watch %s: %s\n"), f->log_dir, g_strerror(errno));
    if (fd >= 0)
      close(fd);
    return FALSE;
  }
  f->follower = ar_events_follower_new(f->log_dir, (const char *const *)f->kinds, TRUE);
  if (sd_event_add_io(f->event, &f->inotify, fd, EPOLLIN, on_inotify, f) < 0) {
    close(fd);
    return FALSE;
  }
  (void)sd_event_source_set_io_fd_own(f->inotify, 1);
  drain_file(f);
  return TRUE;
}

/* ---- following the bus ---------------------------------------------------- */

static int
on_event_signal(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  Follow *f = user_data;
  const char *kind = NULL, *line = NULL;
  if (sd_bus_message_read(m, "ss", &kind, &line) < 0 || !kind_wanted(f, kind))
    return 0;
  if (f->shown && g_hash_table_remove(f->shown, line))
    return 0;
  print_line(line, f->json);
  fflush(stdout);
  return 0;
}

static int
on_owner_changed(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  Follow *f = user_data;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
    return 0;
  if (*new_owner == '\0' && f->log_dir) {
    /* The service is gone: its last events came before its name went.
     * Go on with the file, which a restarted service writes again. */
    f->event_slot = sd_bus_slot_unref(f->event_slot);
    if (!follow_file(f))
      return sd_event_exit(f->event, AR_EXIT_FAILURE);
  } else if (!f->log_dir) {
    /* No files to fall back on (-H: they are on the host): follow the
     * service that takes the name next, as a restarted one does. */
    f->event_slot = sd_bus_slot_unref(f->event_slot);
    if (*new_owner == '\0')
      fprintf(stderr, _("agent-runner events: %s stopped; waiting for it to come back\n"),
              f->conn->project);
    else if (sd_bus_match_signal(f->conn->bus, &f->event_slot, new_owner, AR_BUS_PATH,
                                 AR_BUS_INTERFACE, "Event", on_event_signal, f) < 0)
      return sd_event_exit(f->event, AR_EXIT_FAILURE);
  }
  return 0;
}

static int
follow(ArcContext *ctx, ArcConn *conn, Follow *f)
{
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  if (sd_event_default(&f->event) < 0 ||
      sd_event_add_signal(f->event, NULL, SIGINT, NULL, NULL) < 0 ||
      sd_event_add_signal(f->event, NULL, SIGTERM, NULL, NULL) < 0)
    return AR_EXIT_FAILURE;
  gboolean running = arc_conn_is_running(conn);
  if (running) {
    g_autoptr(sd_bus_message) reply = NULL;
    const char *owner = NULL;
    int r = sd_bus_attach_event(conn->bus, f->event, 0);
    /* -H: when ssh goes, so does the bus: end rather than wait forever. */
    if (r >= 0 && conn->host)
      r = sd_bus_set_exit_on_disconnect(conn->bus, 1);
    g_autofree char *owner_rule = g_strdup_printf(
        "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
        conn->name);
    if (r >= 0)
      r = sd_bus_add_match(conn->bus, &f->owner_slot, owner_rule, on_owner_changed, f);
    if (r >= 0)
      r = sd_bus_call_method(conn->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "GetNameOwner", NULL, &reply, "s", conn->name);
    if (r >= 0)
      r = sd_bus_message_read(reply, "s", &owner);
    /* The unique owner, not the well-known name: exact sender matching. */
    if (r >= 0)
      r = sd_bus_match_signal(conn->bus, &f->event_slot, owner, AR_BUS_PATH, AR_BUS_INTERFACE,
                              "Event", on_event_signal, f);
    if (r < 0)
      running = FALSE;
  }
  if (!running && !f->log_dir) {
    arc_conn_not_running(conn);
    return AR_EXIT_NOT_RUNNING;
  }
  /* The last lines first (subscribed already: nothing falls between). */
  if (f->log_dir && f->window) {
    g_autoptr(GPtrArray) lines =
        ar_events_tail(f->log_dir, (const char *const *)f->kinds, f->window, NULL);
    f->shown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; lines && i < lines->len; i++) {
      print_line(g_ptr_array_index(lines, i), f->json);
      g_hash_table_add(f->shown, g_strdup(g_ptr_array_index(lines, i)));
    }
    fflush(stdout);
  }
  if (!running && !follow_file(f))
    return AR_EXIT_FAILURE;
  int r = sd_event_loop(f->event);
  return r < 0 ? AR_EXIT_FAILURE : r;
}

int
arc_verb_events(ArcContext *ctx, int argc, char **argv)
{
  g_autofree char *kind_arg = NULL;
  int window = 10;
  gboolean follow_opt = FALSE;
  GOptionEntry entries[] = {
    { "kind", 0, 0, G_OPTION_ARG_STRING, &kind_arg, N_("Only these kinds (comma-separated)"),
      "K,..." },
    { "window", 'n', 0, G_OPTION_ARG_INT, &window,
      N_("The last N matching events (default 10; with --follow, printed first)"), "N" },
    { "lines", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &window, NULL, NULL },
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow_opt, N_("Print new events as they come"), NULL },
    { "tail", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &follow_opt, NULL, NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1 || window < 0 || (window == 0 && !follow_opt)) {
    fprintf(stderr, _("agent-runner events: bad arguments (see 'agent-runner events --help')\n"));
    return AR_EXIT_USAGE;
  }
  g_auto(GStrv) kinds = NULL;
  if (kind_arg) {
    kinds = g_strsplit(kind_arg, ",", -1);
    for (char **k = kinds; *k; k++) {
      g_strstrip(*k);
      if (!ar_event_kind_lookup(*k)) {
        fprintf(stderr, _("agent-runner events: unknown event kind '%s' (see docs/events.md)\n"),
                *k);
        return AR_EXIT_USAGE;
      }
    }
  }
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc != AR_EXIT_OK)
    return rc;
  const ArConfig *cfg = arc_conn_config(conn, FALSE);
  g_autofree char *log_dir = cfg ? g_strdup(cfg->log_dir) : NULL;
  /* -H: the events files are on the host; only the bus crosses ssh. */
  if (conn->host && !follow_opt) {
    fprintf(stderr,
            _("agent-runner events: the past events are in files on %s: follow new ones "
              "with 'agent-runner -H %s events --follow', or see the last ones with "
              "'agent-runner -H %s peek --events N'\n"),
            conn->host, conn->host, conn->host);
    return AR_EXIT_USAGE;
  }
  if (!log_dir && !conn->host && arc_conn_is_running(conn))
    log_dir = arc_conn_get_string(conn, "LogDir");
  if (log_dir && !*log_dir)
    g_clear_pointer(&log_dir, g_free);
  if (!follow_opt) {
    if (!log_dir) {
      rc = arc_conn_not_running(conn);
    } else {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) lines =
          ar_events_tail(log_dir, (const char *const *)kinds, (guint)window, &error);
      if (!lines) {
        fprintf(stderr, "agent-runner events: %s\n", error->message);
        rc = AR_EXIT_FAILURE;
      }
      for (guint i = 0; lines && i < lines->len; i++)
        print_line(g_ptr_array_index(lines, i), ctx->json);
    }
    return rc;
  }
  Follow f = { conn, ctx->json, kinds, log_dir };
  f.window = (guint)window;
  rc = follow(ctx, conn, &f);
  g_clear_pointer(&f.shown, g_hash_table_unref);
  f.event_slot = sd_bus_slot_unref(f.event_slot);
  f.owner_slot = sd_bus_slot_unref(f.owner_slot);
  f.inotify = sd_event_source_disable_unref(f.inotify);
  g_clear_pointer(&f.follower, ar_events_follower_free);
  if (conn->bus)
    (void)sd_bus_detach_event(conn->bus);
  f.event = sd_event_unref(f.event);
  return rc;
}
