/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arc-bus.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-remote.h"
#include "arc-systemd.h"

int
arc_bus_open(gboolean system, sd_bus **ret)
{
  return system ? sd_bus_open_system(ret) : sd_bus_open_user(ret);
}

static const char *
bus_label(gboolean system)
{
  return system ? _("the system bus") : _("the user bus");
}

/* "the user bus" or "the user bus of HOST" */
static char *
conn_bus_label(ArcConn *conn)
{
  if (!conn->host)
    return g_strdup(bus_label(conn->system));
  return g_strdup_printf(conn->system ? _("the system bus of %s") : _("the user bus of %s"),
                         conn->host);
}

/* The project whose running daemon serves this config file: a config
 * broken since the daemon started must not stop the operator from
 * reaching it (reload says what is wrong, stop still works). */
static char *
project_serving(sd_bus *bus, const char *config_path)
{
  g_autoptr(GPtrArray) names = bus ? arc_bus_list_names(bus, NULL) : NULL;
  for (guint i = 0; names && i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    char *path = NULL;
    gboolean same = sd_bus_get_property_string(bus, name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                               "ConfigPath", NULL, &path) >= 0 &&
                    g_strcmp0(path, config_path) == 0;
    free(path);
    if (same)
      return ar_project_from_bus_name(name);
  }
  return NULL;
}

/* No config named: an installed project's config is found through the
 * link install wrote. */
static char *
installed_config_path(gboolean system, const char *project)
{
  char *link = arc_systemd_config_link_path(system, project);
  if (g_file_test(link, G_FILE_TEST_EXISTS))
    return link;
  g_free(link);
  return NULL;
}

/* The bus name of conn->project; a usage error for a name no project
 * can have. */
static int
conn_set_name(ArcConn *conn)
{
  conn->name = ar_bus_name_for_project(conn->project);
  if (!conn->name) {
    fprintf(stderr, _("agent-runner: \"%s\" is not a project name ([A-Za-z0-9._-]+)\n"),
            conn->project);
    return AR_EXIT_USAGE;
  }
  return AR_EXIT_OK;
}

/* -H: the remote bus; the project is --project, or the only one there.
 * Nothing is read from this host's files: the config, log dir and unit
 * that count are the remote host's. */
static int
remote_conn_open(ArcContext *ctx, ArcConn *conn)
{
  if (ctx->hosts->len != 1) {
    fprintf(stderr, _("agent-runner: only 'list' takes several -H/--host; this verb takes one\n"));
    return AR_EXIT_USAGE;
  }
  conn->host = g_strdup(g_ptr_array_index(ctx->hosts, 0));
  g_autoptr(GError) error = NULL;
  int r = arc_remote_bus_open(conn->host, conn->system, -1, 0, &conn->ssh_pid, &conn->bus, &error);
  if (r == -EINVAL) {
    fprintf(stderr, "agent-runner: %s\n", error->message);
    return AR_EXIT_USAGE;
  }
  if (r < 0)
    conn->bus_error = g_strdup(error->message);
  if (ctx->project) {
    conn->project = g_strdup(ctx->project);
  } else {
    g_autoptr(GPtrArray) names = conn->bus ? arc_bus_list_names(conn->bus, &error) : NULL;
    if (!names) {
      fprintf(stderr, _("agent-runner: cannot reach the bus on %s over ssh (%s)\n"), conn->host,
              conn->bus_error ? conn->bus_error : error->message);
      return AR_EXIT_NOT_RUNNING;
    }
    if (names->len != 1) {
      fprintf(stderr,
              names->len ? _("agent-runner: %s runs several projects: name one with --project "
                             "NAME ('agent-runner -H %s list' lists them)\n")
                         : _("agent-runner: no agent-runner project runs on %s; name one with "
                             "--project NAME\n"),
              conn->host, conn->host);
      return names->len ? AR_EXIT_USAGE : AR_EXIT_NOT_RUNNING;
    }
    conn->project = ar_project_from_bus_name(g_ptr_array_index(names, 0));
  }
  return conn_set_name(conn);
}

int
arc_conn_open(ArcContext *ctx, ArcConn *conn)
{
  memset(conn, 0, sizeof *conn);
  conn->system = ctx->system;
  conn->running = -1;
  if (ctx->hosts)
    return remote_conn_open(ctx, conn);
  int r = arc_bus_open(conn->system, &conn->bus);
  if (r < 0) {
    conn->bus = sd_bus_unref(conn->bus);
    conn->bus_error = g_strdup(g_strerror(-r));
  }
  /* polkit may ask the person at the terminal for a password (the polkit
   * agent main started answers it), on every call of this connection. */
  if (conn->bus)
    (void)sd_bus_set_allow_interactive_authorization(conn->bus, isatty(STDIN_FILENO));
  if (ctx->project) {
    conn->project = g_strdup(ctx->project);
    if (ctx->config_path) {
      conn->config_path = arc_config_path(ctx);
      conn->config_arg = ctx->config_path;
    } else if (ar_project_name_valid(conn->project)) {
      conn->config_path = installed_config_path(conn->system, conn->project);
      conn->config_arg = conn->config_path;
    }
  } else {
    conn->config_path = arc_config_path(ctx);
    conn->config_arg = ctx->config_path ? ctx->config_path : "agent-runner.toml";
    conn->project = ar_config_read_project(conn->config_path, NULL);
    gboolean exists = g_file_test(conn->config_path, G_FILE_TEST_EXISTS);
    if (!conn->project && exists)
      conn->project = project_serving(conn->bus, conn->config_path);
    if (!conn->project) {
      /* The loader's message says what is wrong, at file:line. */
      arc_conn_config(conn, TRUE);
      if (exists)
        fprintf(stderr,
                _("agent-runner: fix %s ('agent-runner config check' lists every problem), "
                  "or name the project with --project NAME\n"),
                conn->config_path);
      else
        fprintf(stderr, _("agent-runner: no agent-runner.toml here: run this in the project's "
                          "directory, name the config with --config F, or the project with "
                          "--project NAME ('agent-runner list --all' lists them)\n"));
      return AR_EXIT_CONFIG;
    }
  }
  return conn_set_name(conn);
}

ArConfig *
arc_conn_config(ArcConn *conn, gboolean print_error)
{
  if (!conn->cfg_tried && conn->config_path) {
    conn->cfg_tried = TRUE;
    g_autoptr(GError) error = NULL;
    /* Messages name the file as the user gave it. */
    conn->cfg = ar_config_load(conn->config_arg, &error);
    if (!conn->cfg)
      conn->cfg_error = g_strdup(error->message);
  }
  if (!conn->cfg && print_error && conn->cfg_error) {
    fprintf(stderr, "%s\n", conn->cfg_error);
    g_clear_pointer(&conn->cfg_error, g_free); /* said once */
  } else if (!conn->cfg && print_error && !conn->config_path && !conn->host) {
    fprintf(stderr,
            _("agent-runner: project %s is not installed, so its config is not known here: "
              "name it with --config F\n"),
            conn->project);
  }
  return conn->cfg;
}

void
arc_conn_clear(ArcConn *conn)
{
  conn->bus = sd_bus_flush_close_unref(conn->bus);
  /* The bus is closed: ssh sees EOF and ends. */
  ar_remote_reap(conn->ssh_pid, FALSE);
  conn->ssh_pid = 0;
  g_clear_pointer(&conn->host, g_free);
  g_clear_pointer(&conn->bus_error, g_free);
  g_clear_pointer(&conn->project, g_free);
  g_clear_pointer(&conn->name, g_free);
  g_clear_pointer(&conn->config_path, g_free);
  g_clear_pointer(&conn->cfg_error, g_free);
  g_clear_pointer(&conn->cfg, ar_config_unref);
}

static gboolean
name_has_owner(sd_bus *bus, const char *name)
{
  g_autoptr(sd_bus_message) reply = NULL;
  int has = 0;
  if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s", name) < 0 ||
      sd_bus_message_read(reply, "b", &has) < 0)
    return FALSE;
  return has;
}

gboolean
arc_conn_is_running(ArcConn *conn)
{
  if (conn->running < 0)
    conn->running = conn->bus && name_has_owner(conn->bus, conn->name);
  return conn->running;
}

int
arc_conn_not_running(ArcConn *conn)
{
  g_autofree char *label = conn_bus_label(conn);
  if (conn->host && conn->bus && sd_bus_is_open(conn->bus) <= 0)
    fprintf(stderr, _("agent-runner: %s cannot be reached (ssh failed: see its message above)\n"),
            label);
  else if (conn->host)
    fprintf(stderr,
            conn->bus ? _("agent-runner: project %s is not running (no %s on %s)\n")
                      : _("agent-runner: project %s: %s cannot be reached (%s)\n"),
            conn->project, conn->bus ? conn->name : label, conn->bus ? label : conn->bus_error);
  else if (!conn->bus)
    fprintf(stderr,
            _("agent-runner: project %s is not running (%s cannot be reached: %s); start it "
              "with 'agent-runner serve'\n"),
            conn->project, bus_label(conn->system), conn->bus_error);
  else
    fprintf(stderr,
            _("agent-runner: project %s is not running (no %s on %s); start it with "
              "'agent-runner serve' or 'agent-runner start'\n"),
            conn->project, conn->name, bus_label(conn->system));
  return AR_EXIT_NOT_RUNNING;
}

static int
exit_code_for(const GError *error)
{
  if (error->domain != AR_ERROR)
    return AR_EXIT_FAILURE;
  switch (error->code) {
  case AR_ERROR_NOT_RUNNING:
    return AR_EXIT_NOT_RUNNING;
  case AR_ERROR_ACCESS_DENIED:
    return AR_EXIT_ACCESS_DENIED;
  case AR_ERROR_INVALID_ARGS:
    return AR_EXIT_USAGE;
  case AR_ERROR_CONFIG:
    return AR_EXIT_CONFIG;
  default:
    return AR_EXIT_FAILURE;
  }
}

int
arc_conn_call(ArcConn *conn, const char *verb, const char *method, sd_bus_message **reply,
              const char *types, ...)
{
  if (!arc_conn_is_running(conn))
    return arc_conn_not_running(conn);
  g_autoptr(sd_bus_message) m = NULL;
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  int r = sd_bus_message_new_method_call(conn->bus, &m, conn->name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                         method);
  if (r >= 0 && types) {
    va_list ap;
    va_start(ap, types);
    r = sd_bus_message_appendv(m, types, ap);
    va_end(ap);
  }
  if (r < 0) {
    fprintf(stderr, "agent-runner %s: %s\n", verb, g_strerror(-r));
    return AR_EXIT_FAILURE;
  }
  r = sd_bus_call(conn->bus, m, 0, &e, reply);
  if (r < 0) {
    if (g_strcmp0(e.name, SD_BUS_ERROR_SERVICE_UNKNOWN) == 0 ||
        g_strcmp0(e.name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) == 0) {
      conn->running = FALSE;
      return arc_conn_not_running(conn);
    }
    g_autoptr(GError) error = NULL;
    if (sd_bus_error_is_set(&e))
      ar_bus_error_to_gerror(&e, &error);
    else
      error = g_error_new_literal(AR_ERROR, AR_ERROR_FAILED, g_strerror(-r));
    fprintf(stderr, "agent-runner %s: %s\n", verb, error->message);
    return exit_code_for(error);
  }
  return AR_EXIT_OK;
}

int
arc_conn_peek(ArcConn *conn, const char *verb, JsonNode **out, ...)
{
  if (!arc_conn_is_running(conn))
    return arc_conn_not_running(conn);
  /* Build the a{sv} by hand: arc_conn_call takes a fixed signature. */
  g_autoptr(sd_bus_message) m = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  int r = sd_bus_message_new_method_call(conn->bus, &m, conn->name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                         "Peek");
  if (r >= 0)
    r = sd_bus_message_open_container(m, 'a', "{sv}");
  va_list ap;
  va_start(ap, out);
  for (const char *key; r >= 0 && (key = va_arg(ap, const char *));) {
    guint32 value = va_arg(ap, guint32);
    if (value)
      r = sd_bus_message_append(m, "{sv}", key, "u", value);
  }
  va_end(ap);
  if (r >= 0)
    r = sd_bus_message_close_container(m);
  if (r >= 0)
    r = sd_bus_call(conn->bus, m, 0, &e, &reply);
  const char *json = NULL;
  if (r >= 0)
    r = sd_bus_message_read(reply, "s", &json);
  if (r < 0) {
    fprintf(stderr, "agent-runner %s: %s\n", verb, e.message ? e.message : g_strerror(-r));
    return AR_EXIT_FAILURE;
  }
  g_autoptr(GError) error = NULL;
  *out = json_from_string(json, &error);
  if (!*out) {
    fprintf(stderr, "agent-runner %s: %s\n", verb, error->message);
    return AR_EXIT_FAILURE;
  }
  return AR_EXIT_OK;
}

char *
arc_conn_get_string(ArcConn *conn, const char *property)
{
  char *value = NULL;
  if (!conn->bus || sd_bus_get_property_string(conn->bus, conn->name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                               property, NULL, &value) < 0)
    return g_strdup("");
  /* sd-bus allocates with malloc. */
  char *copy = g_strdup(value);
  free(value);
  return copy;
}

guint32
arc_conn_get_u32(ArcConn *conn, const char *property)
{
  guint32 value = 0;
  if (conn->bus)
    (void)sd_bus_get_property_trivial(conn->bus, conn->name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                      property, NULL, 'u', &value);
  return value;
}

typedef struct {
  gboolean present;
  gboolean done;
} NameWait;

static int
on_name_owner_changed(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  NameWait *w = user_data;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
    return 0;
  if ((*new_owner != '\0') == w->present)
    w->done = TRUE;
  return 0;
}

static gboolean
wait_name(ArcConn *conn, gboolean present, guint64 timeout_usec, pid_t pid, int *child_status)
{
  if (!conn->bus)
    return !present;
  NameWait w = { present, FALSE };
  g_autoptr(sd_bus_slot) slot = NULL;
  g_autofree char *rule = g_strdup_printf("type='signal',sender='org.freedesktop.DBus',"
                                          "interface='org.freedesktop.DBus',"
                                          "member='NameOwnerChanged',arg0='%s'",
                                          conn->name);
  if (sd_bus_add_match(conn->bus, &slot, rule, on_name_owner_changed, &w) < 0)
    return FALSE;
  /* The match is in place: a change from now on is seen. */
  if (name_has_owner(conn->bus, conn->name) == present)
    return TRUE;
  guint64 deadline = timeout_usec ? (guint64)g_get_monotonic_time() + timeout_usec : 0;
  while (!w.done) {
    if (pid > 0) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        if (child_status)
          *child_status = status;
        return name_has_owner(conn->bus, conn->name) == present;
      }
    }
    int r = sd_bus_process(conn->bus, NULL);
    if (r < 0)
      return !present; /* the bus went away: so did the name */
    if (r > 0)
      continue;
    guint64 now = (guint64)g_get_monotonic_time();
    if (deadline && now >= deadline)
      return FALSE;
    /* With a child to watch, wake up now and then to reap it. */
    guint64 wait = deadline ? deadline - now : UINT64_MAX;
    if (pid > 0)
      wait = MIN(wait, 100 * 1000);
    r = sd_bus_wait(conn->bus, wait);
    if (r < 0 && r != -EINTR)
      return !present;
  }
  return TRUE;
}

gboolean
arc_conn_wait_name(ArcConn *conn, gboolean present, guint64 timeout_usec, pid_t pid,
                   int *child_status)
{
  gboolean reached = wait_name(conn, present, timeout_usec, pid, child_status);
  /* What the wait saw is the answer a later check would get. */
  conn->running = reached ? present : -1;
  return reached;
}

static int
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
arc_bus_list_names(sd_bus *bus, GError **error)
{
  g_autoptr(sd_bus_message) reply = NULL;
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "ListNames", &e, &reply, NULL);
  if (r < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, "ListNames: %s",
                e.message ? e.message : g_strerror(-r));
    return NULL;
  }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  if (sd_bus_message_enter_container(reply, 'a', "s") < 0)
    return g_steal_pointer(&names);
  const char *name;
  while (sd_bus_message_read(reply, "s", &name) > 0)
    if (g_str_has_prefix(name, AR_BUS_NAME_PREFIX))
      g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_names);
  return g_steal_pointer(&names);
}
