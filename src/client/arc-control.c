/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Mutating bus verbs: stop, kill, cancel, reload, start, restart. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <systemd/sd-journal.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-bus.h"
#include "arc-offline.h"
#include "arc-systemd.h"

/* How long `stop` waits for the name to go: a graceful stop waits for the
 * round (up to its timeout), "now" only for the kill grace. */
#define STOP_NOW_WAIT_S 60
#define START_WAIT_S    60

static int
stop_and_wait(ArcContext *ctx, ArcConn *conn, const char *verb, gboolean now,
              gboolean quiet_if_stopped)
{
  if (!arc_conn_is_running(conn))
    return quiet_if_stopped ? AR_EXIT_OK : arc_conn_not_running(conn);
  gint64 t0 = g_get_monotonic_time();
  int rc = arc_conn_call(conn, verb, "Stop", NULL, "s", now ? "now" : "graceful");
  if (rc != AR_EXIT_OK)
    return rc;
  if (!ctx->json)
    fprintf(stderr,
            now ? _("agent-runner: stopping %s now…\n")
                : _("agent-runner: stopping %s (after the current round)…\n"),
            conn->project);
  const ArConfig *cfg = arc_conn_config(conn, FALSE);
  guint64 limit = now ? STOP_NOW_WAIT_S : (cfg ? cfg->round_timeout_s + 60 : 0);
  if (!arc_conn_wait_name(conn, FALSE, limit * G_USEC_PER_SEC, 0, NULL)) {
    fprintf(stderr,
            _("agent-runner %s: %s is still stopping after %us; see 'agent-runner status'\n"), verb,
            conn->project, (guint)limit);
    return AR_EXIT_FAILURE;
  }
  if (!ctx->json)
    fprintf(stderr, _("agent-runner: stopped (%.1fs)\n"),
            (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
  return AR_EXIT_OK;
}

/* An installed project also gets a StopUnit once its daemon is gone: a
 * unit waiting to restart after a crash (auto-restart) must not come back
 * after the operator said stop. */
static int
stop_installed(ArcContext *ctx, ArcConn *conn, const char *verb, gboolean now,
               gboolean quiet_if_stopped)
{
  gboolean running = arc_conn_is_running(conn);
  int rc = running ? stop_and_wait(ctx, conn, verb, now, quiet_if_stopped) : AR_EXIT_OK;
  if (rc != AR_EXIT_OK)
    return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(ArcSystemd) sd = arc_systemd_new(ctx->system, FALSE, &error);
  g_autofree char *unit = arc_systemd_unit_name(conn->project);
  const ArConfig *cfg = arc_conn_config(conn, FALSE);
  guint limit = cfg ? cfg->round_timeout_s + 60 : 120;
  /* Only a unit that is (re)starting needs the manager: StopUnit of the
   * system manager asks polkit for manage-units, which the service's own
   * user usually lacks, while its bus Stop above is enough. */
  /* The daemon is gone, but the manager may not have seen it exit yet:
   * let the unit settle (bounded, woken by its PropertiesChanged) before
   * deciding it still needs a stop. */
  if (sd) {
    g_auto(ArcUnitState) st = { 0 };
    if (arc_systemd_wait_unit_settled(sd, unit, running, 5 * G_USEC_PER_SEC, &st, NULL) &&
        (g_strcmp0(st.active_state, "inactive") == 0 || g_strcmp0(st.active_state, "failed") == 0))
      return AR_EXIT_OK;
  }
  if (!sd || !arc_systemd_stop_unit(sd, unit, limit, &error)) {
    /* Refused (the service's own user may not manage units): enough if the
     * unit has come to rest by now, as a slow manager may take longer
     * than the wait above to notice the daemon's exit. */
    g_auto(ArcUnitState) st = { 0 };
    if (sd && running &&
        arc_systemd_wait_unit_settled(sd, unit, TRUE, 10 * G_USEC_PER_SEC, &st, NULL) &&
        (g_strcmp0(st.active_state, "inactive") == 0 || g_strcmp0(st.active_state, "failed") == 0))
      return AR_EXIT_OK;
    fprintf(stderr, "agent-runner %s: %s\n", verb, error->message);
    return AR_EXIT_FAILURE;
  }
  if (!running && !ctx->json)
    fprintf(stderr, _("agent-runner: %s was not running; %s is stopped\n"), conn->project, unit);
  return AR_EXIT_OK;
}

static gboolean
installed(ArcContext *ctx, ArcConn *conn)
{
  return !conn->host && conn->project && arc_systemd_unit_installed(ctx->system, conn->project);
}

static int
stop_verb(ArcContext *ctx, gboolean now)
{
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc == AR_EXIT_OK)
    rc = installed(ctx, conn) ? stop_installed(ctx, conn, ctx->verb->name, now, FALSE)
                              : stop_and_wait(ctx, conn, ctx->verb->name, now, FALSE);
  return rc;
}

int
arc_verb_stop(ArcContext *ctx, int argc, char **argv)
{
  gboolean now = FALSE;
  GOptionEntry entries[] = {
    { "now", 0, 0, G_OPTION_ARG_NONE, &now, N_("End the current round too (TERM, then KILL)"),
      NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  return stop_verb(ctx, now);
}

int
arc_verb_kill(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  return stop_verb(ctx, TRUE);
}

static int
simple_call(ArcContext *ctx, const char *method, const char *done)
{
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc == AR_EXIT_OK)
    rc = arc_conn_call(conn, ctx->verb->name, method, NULL, NULL);
  if (rc == AR_EXIT_OK && !ctx->json)
    fprintf(stderr, "agent-runner: %s\n", done);
  return rc;
}

int
arc_verb_cancel(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  return simple_call(ctx, "Cancel", _("round cancelled; the service goes on"));
}

int
arc_verb_reload(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  int rc = simple_call(ctx, "Reload", _("config reloaded; it applies from the next round"));
  if (rc == AR_EXIT_CONFIG)
    fprintf(stderr, _("agent-runner reload: the service keeps running with the config it had; "
                      "fix the file, then run 'agent-runner reload' again\n"));
  return rc;
}

/* Where a daemon started outside systemd writes its stderr: a journal
 * stream (identifier agent-runnerd) when journald runs, else
 * log_dir/agent-runnerd.log (*file_path set). -1 when neither opens. */
static int
daemon_output_fd(const ArConfig *cfg, char **file_path)
{
  int fd = sd_journal_stream_fd("agent-runnerd", LOG_INFO, 0);
  if (fd >= 0)
    return fd;
  if (g_mkdir_with_parents(cfg->log_dir, 0700) < 0)
    return -1;
  *file_path = g_build_filename(cfg->log_dir, "agent-runnerd.log", NULL);
  fd = open(*file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    g_clear_pointer(file_path, g_free);
  return fd;
}

/* The daemon in the background, detached from this terminal: its own
 * session, its events in the journal and log_dir, its stderr in the
 * journal or log_dir/agent-runnerd.log. */
static pid_t
spawn_daemon(ArcContext *ctx, ArcConn *conn, int max_rounds)
{
  const char *daemon = ar_daemon_path();
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(args, g_strdup(daemon));
  g_ptr_array_add(args, g_strdup("--config"));
  g_ptr_array_add(args, g_strdup(conn->cfg->config_path));
  g_ptr_array_add(args, g_strdup("--clear-done"));
  if (max_rounds > 0)
    g_ptr_array_add(args, g_strdup_printf("--max-rounds=%d", max_rounds));
  if (ctx->system)
    g_ptr_array_add(args, g_strdup("--system"));
  g_ptr_array_add(args, NULL);
  /* Its stdout/stderr (start-up errors, warnings) must land somewhere an
   * operator looks: the journal when there is one, else a file in
   * log_dir. Opened before the fork, so a failure can still be told. */
  g_autofree char *log_path = NULL;
  int out = daemon_output_fd(conn->cfg, &log_path);
  pid_t pid = fork();
  if (pid != 0) {
    if (out >= 0)
      close(out);
    if (pid > 0 && log_path && !ctx->json)
      fprintf(stderr, _("agent-runner: the service's own messages go to %s\n"), log_path);
    return pid;
  }
  setsid();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0)
    dup2(null, 0);
  if (out >= 0 || null >= 0) {
    dup2(out >= 0 ? out : null, 1);
    dup2(out >= 0 ? out : null, 2);
  }
  if (chdir(conn->cfg->work_dir) < 0)
    _exit(127);
  execv(daemon, (char **)args->pdata);
  _exit(127);
}

/* ---- start: wait for the first round, or the reason there is none ---- */

typedef struct {
  gboolean gone;
} StartWait;

static int
on_start_owner(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  StartWait *w = user_data;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && !*new_owner)
    w->gone = TRUE;
  return 0;
}

static int
on_start_change(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  return 0; /* waking sd_bus_wait is enough: the state is read again */
}

/* "at 15:20 (in 1 h 2 min)", local time. */
static char *
when_text(guint64 until_us)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local((gint64)(until_us / G_USEC_PER_SEC));
  g_autofree char *hhmm = t ? g_date_time_format(t, "%H:%M") : g_strdup("?");
  gint64 secs = (gint64)(until_us / G_USEC_PER_SEC) - g_get_real_time() / G_USEC_PER_SEC;
  g_autofree char *in = ar_format_duration(MAX(secs, 0));
  return g_strdup_printf(_("until %s (%s)"), hhmm, in);
}

/* The daemon went away before its first round: say why, from its files. */
/* since_s: when this start began (seconds since the epoch). */
static int
report_early_stop(ArcContext *ctx, ArcConn *conn, int exit_status, gint64 since_s)
{
  const ArConfig *cfg = arc_conn_config(conn, FALSE);
  g_autoptr(JsonNode) off = cfg ? arc_offline_doc(cfg, ctx->system, 0, 0) : NULL;
  JsonObject *svc = off ? ar_json_obj(json_node_get_object(off), "service") : NULL;
  /* Only what this run wrote: an older stop says nothing about this one. */
  const char *at = ar_json_str(svc, "stopped_at");
  g_autoptr(GDateTime) t = at ? g_date_time_new_from_iso8601(at, NULL) : NULL;
  if (!t || g_date_time_to_unix(t) < since_s - 1)
    svc = NULL;
  const char *reason = ar_json_str(svc, "stop_reason");
  const char *detail = ar_json_str(svc, "stop_detail");
  const char *fix = ar_json_str(svc, "stop_fix");
  g_autofree char *code = exit_status >= 0 ? g_strdup_printf(_("exit code %d"), exit_status) : NULL;
  fprintf(stderr, _("agent-runner start: %s stopped before its first round: %s%s%s\n"),
          conn->project,
          reason ? reason
          : code ? code
                 : _("no reason recorded"),
          detail && *detail ? ": " : "", detail && *detail ? detail : "");
  if (fix)
    fprintf(stderr, _("  fix: %s\n"), fix);
  else
    fprintf(stderr,
            _("  see 'journalctl AGENT_RUNNER_PROJECT=%s' or run 'agent-runner serve' to see "
              "why\n"),
            conn->project);
  if (exit_status == AR_EXIT_CONFIG || g_strcmp0(reason, "config_broken") == 0)
    return AR_EXIT_CONFIG;
  return AR_EXIT_FAILURE;
}

/* After the name appeared: wait until the first round runs (or a wait
 * before it began) or the daemon stopped, and say which. pid > 0: the
 * daemon is our child (its exit status completes the story). */
static int
report_start(ArcContext *ctx, ArcConn *conn, pid_t pid, const char *how, gint64 since_s)
{
  StartWait w = { FALSE };
  g_autoptr(sd_bus_slot) owner_slot = NULL;
  g_autoptr(sd_bus_slot) props_slot = NULL;
  g_autofree char *owner_rule =
      g_strdup_printf("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop."
                      "DBus',member='NameOwnerChanged',arg0='%s'",
                      conn->name);
  if (sd_bus_add_match(conn->bus, &owner_slot, owner_rule, on_start_owner, &w) < 0 ||
      sd_bus_match_signal(conn->bus, &props_slot, conn->name, AR_BUS_PATH,
                          "org.freedesktop.DBus.Properties", "PropertiesChanged", on_start_change,
                          NULL) < 0)
    return AR_EXIT_FAILURE;
  gint64 deadline = g_get_monotonic_time() + START_WAIT_S * G_USEC_PER_SEC;
  while (!w.gone && arc_conn_is_running(conn)) {
    g_autofree char *state = arc_conn_get_string(conn, "State");
    if (g_str_equal(state, "running")) {
      if (!ctx->json)
        fprintf(stderr, _("agent-runner: started %s (%s): round %u is running, agent pid %u\n"),
                conn->project, how, arc_conn_get_u32(conn, "RoundNum"),
                arc_conn_get_u32(conn, "AgentPid"));
      return AR_EXIT_OK;
    }
    if (g_str_equal(state, "backing_off") || g_str_equal(state, "waiting")) {
      guint64 until = 0;
      (void)sd_bus_get_property_trivial(conn->bus, conn->name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                        "ThrottledUntil", NULL, 't', &until);
      g_autofree char *when = until ? when_text(until) : NULL;
      if (!ctx->json && when)
        fprintf(stderr,
                _("agent-runner: started %s (%s); it waits for the rate limit %s ('agent-runner "
                  "start' again ends the wait now)\n"),
                conn->project, how, when);
      else if (!ctx->json)
        fprintf(stderr, _("agent-runner: started %s (%s); the next round starts soon\n"),
                conn->project, how);
      return AR_EXIT_OK;
    }
    gint64 now = g_get_monotonic_time();
    if (now >= deadline) {
      fprintf(stderr,
              _("agent-runner start: %s is up but no round started within %ds (state %s); see "
                "'agent-runner status'\n"),
              conn->project, START_WAIT_S, state);
      return AR_EXIT_FAILURE;
    }
    int r;
    while ((r = sd_bus_process(conn->bus, NULL)) > 0)
      ;
    if (r < 0)
      break;
    /* With a child to reap, wake now and then; otherwise the signals do. */
    (void)sd_bus_wait(conn->bus, pid > 0 ? MIN(deadline - now, 200 * 1000) : deadline - now);
  }
  int status = -1;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
    status = WEXITSTATUS(status);
  return report_early_stop(ctx, conn, status, since_s);
}

/* An installed project on the host's bus: its D-Bus activation file
 * (agent-runner install) lets the bus start it. */
static gboolean
remote_activatable(ArcConn *conn)
{
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_auto(GStrv) names = NULL;
  if (sd_bus_call_method(conn->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus", "ListActivatableNames", &e, &reply, NULL) < 0 ||
      sd_bus_message_read_strv(reply, &names) < 0)
    return FALSE;
  return names && g_strv_contains((const char *const *)names, conn->name);
}

/* Serve to the well-known name: the bus activates the service (systemd's
 * unit where the bus has systemd activation) and hands it the call. */
static int
start_activated(ArcContext *ctx, ArcConn *conn, int max_rounds, gint64 since_s)
{
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) m = NULL;
  int r = sd_bus_message_new_method_call(conn->bus, &m, conn->name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                         "Serve");
  if (r >= 0)
    r = max_rounds > 0
            ? sd_bus_message_append(m, "a{sv}", 1, "max_rounds", "u", (guint32)max_rounds)
            : sd_bus_message_append(m, "a{sv}", 0);
  if (r >= 0)
    r = sd_bus_call(conn->bus, m, 0, &e, NULL);
  if (r < 0) {
    g_autofree char *unit = arc_systemd_unit_name(conn->project);
    fprintf(stderr,
            _("agent-runner start: %s on %s could not be started by its D-Bus activation: %s; "
              "see 'ssh %s journalctl%s -u %s'\n"),
            conn->project, conn->host, e.message ? e.message : g_strerror(-r), conn->host,
            ctx->system ? "" : " --user", unit);
    return AR_EXIT_FAILURE;
  }
  conn->running = -1; /* the bus has started it: ask again */
  g_autofree char *how = g_strdup_printf(_("D-Bus activation on %s"), conn->host);
  return report_start(ctx, conn, 0, how, since_s);
}

static int
start_verb(ArcContext *ctx, ArcConn *conn, int max_rounds)
{
  gint64 since_s = g_get_real_time() / G_USEC_PER_SEC;
  if (arc_conn_is_running(conn)) {
    g_autofree char *state = arc_conn_get_string(conn, "State");
    int rc = max_rounds > 0 ? arc_conn_call(conn, "start", "Serve", NULL, "a{sv}", 1, "max_rounds",
                                            "u", (guint32)max_rounds)
                            : arc_conn_call(conn, "start", "Serve", NULL, "a{sv}", 0);
    if (rc != AR_EXIT_OK || ctx->json)
      return rc;
    if (g_str_equal(state, "backing_off"))
      fprintf(stderr, _("agent-runner: %s was waiting out a back-off; the next round starts now\n"),
              conn->project);
    if (max_rounds > 0)
      fprintf(stderr,
              ngettext("agent-runner: %s is running; it stops after %d more round (the one "
                       "running now counts)\n",
                       "agent-runner: %s is running; it stops after %d more rounds (the one "
                       "running now counts)\n",
                       max_rounds),
              conn->project, max_rounds);
    else if (!g_str_equal(state, "backing_off"))
      fprintf(stderr, _("agent-runner: %s is already running\n"), conn->project);
    return rc;
  }
  if (conn->host && conn->bus && remote_activatable(conn))
    return start_activated(ctx, conn, max_rounds, since_s);
  if (conn->host) {
    /* Not installed there: the remote config is the remote host's business. */
    int rc = arc_conn_not_running(conn);
    if (!conn->bus || sd_bus_is_open(conn->bus) <= 0)
      return rc; /* the host is out of reach: said above */
    fprintf(stderr,
            _("agent-runner start: %s is not installed on that host (no D-Bus activation "
              "for it); start it there: ssh %s agent-runner start --project %s\n"),
            conn->project, conn->host, conn->project);
    return AR_EXIT_NOT_RUNNING;
  }
  if (conn->project && arc_systemd_unit_installed(ctx->system, conn->project)) {
    /* Installed as a unit: systemd starts it (arc-systemd.c). */
    const ArConfig *cfg = arc_conn_config(conn, FALSE);
    int urc =
        arc_systemd_start_installed(ctx->system, conn->project, cfg ? cfg->log_dir : NULL, TRUE);
    conn->running = -1; /* systemd has started it: ask again */
    if (urc == AR_EXIT_OK && max_rounds > 0 && conn->bus)
      urc = arc_conn_call(conn, "start", "Serve", NULL, "a{sv}", 1, "max_rounds", "u",
                          (guint32)max_rounds);
    if (urc == AR_EXIT_OK && conn->bus) {
      g_autofree char *unit = arc_systemd_unit_name(conn->project);
      urc = report_start(ctx, conn, 0, unit, since_s);
    }
    return urc;
  }
  if (!conn->bus) {
    arc_conn_not_running(conn);
    fprintf(stderr, _("agent-runner start: without a bus the service cannot be watched; run "
                      "'agent-runner serve' in the foreground instead\n"));
    return AR_EXIT_FAILURE;
  }
  if (!arc_conn_config(conn, conn->config_path != NULL)) {
    fprintf(stderr, _("agent-runner start: the config is needed to start the service (--config "
                      "F)\n"));
    return AR_EXIT_CONFIG;
  }
  pid_t pid = spawn_daemon(ctx, conn, max_rounds);
  if (pid < 0) {
    fprintf(stderr, _("agent-runner start: fork: %s\n"), g_strerror(errno));
    return AR_EXIT_FAILURE;
  }
  int status = -1; /* set only when the child was reaped */
  gboolean up = arc_conn_wait_name(conn, TRUE, START_WAIT_S * G_USEC_PER_SEC, pid, &status);
  if (!up) {
    if (status != -1 && WIFEXITED(status))
      return report_early_stop(ctx, conn, WEXITSTATUS(status), since_s);
    else
      fprintf(stderr, _("agent-runner start: %s did not appear within %ds\n"), conn->name,
              START_WAIT_S);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == AR_EXIT_CONFIG
               ? AR_EXIT_CONFIG
               : AR_EXIT_FAILURE;
  }
  g_autofree char *how = g_strdup_printf(_("pid %d"), (int)pid);
  return report_start(ctx, conn, pid, how, since_s);
}

int
arc_verb_start(ArcContext *ctx, int argc, char **argv)
{
  int max_rounds = 0;
  GOptionEntry entries[] = {
    { "max-rounds", 0, 0, G_OPTION_ARG_INT, &max_rounds, N_("Stop after N rounds"), "N" },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv) || max_rounds < 0)
    return AR_EXIT_USAGE;
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  if (rc == AR_EXIT_OK)
    rc = start_verb(ctx, conn, max_rounds);
  return rc;
}

int
arc_verb_restart(ArcContext *ctx, int argc, char **argv)
{
  gboolean now = FALSE;
  GOptionEntry entries[] = {
    { "now", 0, 0, G_OPTION_ARG_NONE, &now, N_("Do not wait for the current round"), NULL },
    /* The Python tool's name for it (kill instead of stop). */
    { "force", 0, 0, G_OPTION_ARG_NONE, &now, N_("The same as --now (kill, then start)"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  ArcConn *conn;
  int rc = arc_context_conn(ctx, &conn);
  /* Not stopped when it could not start again. */
  if (rc == AR_EXIT_OK && !arc_conn_config(conn, TRUE))
    rc = AR_EXIT_CONFIG;
  if (rc == AR_EXIT_OK)
    rc = installed(ctx, conn) ? stop_installed(ctx, conn, "restart", now, TRUE)
                              : stop_and_wait(ctx, conn, "restart", now, TRUE);
  if (rc == AR_EXIT_OK)
    rc = start_verb(ctx, conn, 0);
  return rc;
}
