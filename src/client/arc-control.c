#include "config.h"

/* Mutating bus verbs: stop, kill, cancel, reload, start, restart. */

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar-cleanup.h"
#include "ar-util.h"
#include "arc-bus.h"
#include "arc-systemd.h"

/* How long `stop` waits for the name to go: a graceful stop waits for the
 * round (up to its timeout), "now" only for the kill grace. */
#define STOP_NOW_WAIT_S 60
#define START_WAIT_S    60

static gboolean
no_args(const char *verb, GOptionEntry *entries, int *argc, char ***argv)
{
  if (!arc_parse_options(arc_verb_lookup(verb), entries, argc, argv))
    return FALSE;
  if (*argc > 1) {
    fprintf(stderr, _("agent-runner %s: unexpected argument '%s'\n"), verb, (*argv)[1]);
    return FALSE;
  }
  return TRUE;
}

static int
stop_and_wait(ArcGlobal *global, ArcConn *conn, const char *verb, gboolean now,
              gboolean quiet_if_stopped)
{
  if (!arc_conn_is_running(conn))
    return quiet_if_stopped ? ARC_EXIT_OK : arc_conn_not_running(conn);
  gint64 t0 = g_get_monotonic_time();
  int rc = arc_conn_call(conn, verb, "Stop", NULL, "s", now ? "now" : "graceful");
  if (rc != ARC_EXIT_OK)
    return rc;
  if (!global->json)
    fprintf(stderr,
            now ? _("agent-runner: stopping %s now…\n")
                : _("agent-runner: stopping %s (after the current round)…\n"),
            conn->project);
  guint64 limit = now ? STOP_NOW_WAIT_S : (conn->cfg ? conn->cfg->round_timeout_s + 60 : 0);
  if (!arc_conn_wait_name(conn, FALSE, limit * G_USEC_PER_SEC, 0, NULL)) {
    fprintf(stderr,
            _("agent-runner %s: %s is still stopping after %us; see 'agent-runner status'\n"), verb,
            conn->project, (guint)limit);
    return ARC_EXIT_FAILURE;
  }
  if (!global->json)
    fprintf(stderr, _("agent-runner: stopped (%.1fs)\n"),
            (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
  return ARC_EXIT_OK;
}

/* An installed project also gets a StopUnit once its daemon is gone: a
 * unit waiting to restart after a crash (auto-restart) must not come back
 * after the operator said stop. */
static int
stop_installed(ArcGlobal *global, ArcConn *conn, const char *verb, gboolean now,
               gboolean quiet_if_stopped)
{
  gboolean running = arc_conn_is_running(conn);
  int rc = running ? stop_and_wait(global, conn, verb, now, quiet_if_stopped) : ARC_EXIT_OK;
  if (rc != ARC_EXIT_OK)
    return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(ArcSystemd) sd = arc_systemd_new(global->system, FALSE, &error);
  g_autofree char *unit = arc_systemd_unit_name(conn->project);
  guint limit = conn->cfg ? conn->cfg->round_timeout_s + 60 : 120;
  /* Only a unit that is (re)starting needs the manager: StopUnit of the
   * system manager asks polkit for manage-units, which the service's own
   * user usually lacks, while its bus Stop above is enough. */
  /* The daemon is gone, but the manager may not have seen it exit yet:
   * let the unit settle (bounded) before deciding it still needs a stop. */
  gint64 settle_until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (sd) {
    g_auto(ArcUnitState) st = { 0 };
    if (!arc_systemd_get_unit_state(sd, unit, &st, NULL))
      break;
    if (g_strcmp0(st.active_state, "inactive") == 0 || g_strcmp0(st.active_state, "failed") == 0)
      return ARC_EXIT_OK;
    gboolean settling = g_strcmp0(st.active_state, "deactivating") == 0 ||
                        (running && g_strcmp0(st.active_state, "active") == 0);
    if (!settling || g_get_monotonic_time() > settle_until)
      break;
    g_usleep(50 * 1000);
  }
  if (!sd || !arc_systemd_stop_unit(sd, unit, limit, &error)) {
    fprintf(stderr, "agent-runner %s: %s\n", verb, error->message);
    return ARC_EXIT_FAILURE;
  }
  if (!running && !global->json)
    fprintf(stderr, _("agent-runner: %s was not running; %s is stopped\n"), conn->project, unit);
  return ARC_EXIT_OK;
}

static gboolean
installed(ArcGlobal *global, ArcConn *conn)
{
  return conn->project && arc_systemd_unit_installed(global->system, conn->project);
}

static int
stop_verb(ArcGlobal *global, const char *verb, gboolean now, int argc, char **argv)
{
  ArcConn conn;
  int rc = arc_conn_open(global, &conn, FALSE);
  if (rc == ARC_EXIT_OK)
    rc = installed(global, &conn) ? stop_installed(global, &conn, verb, now, FALSE)
                                  : stop_and_wait(global, &conn, verb, now, FALSE);
  arc_conn_clear(&conn);
  return rc;
}

int
arc_verb_stop(ArcGlobal *global, int argc, char **argv)
{
  gboolean now = FALSE;
  GOptionEntry entries[] = {
    { "now", 0, 0, G_OPTION_ARG_NONE, &now, N_("End the current round too (TERM, then KILL)"),
      NULL },
    { NULL },
  };
  if (!no_args("stop", entries, &argc, &argv))
    return ARC_EXIT_USAGE;
  return stop_verb(global, "stop", now, argc, argv);
}

int
arc_verb_kill(ArcGlobal *global, int argc, char **argv)
{
  if (!no_args("kill", NULL, &argc, &argv))
    return ARC_EXIT_USAGE;
  return stop_verb(global, "kill", TRUE, argc, argv);
}

static int
simple_call(ArcGlobal *global, const char *verb, const char *method, const char *done)
{
  ArcConn conn;
  int rc = arc_conn_open(global, &conn, FALSE);
  if (rc == ARC_EXIT_OK)
    rc = arc_conn_call(&conn, verb, method, NULL, NULL);
  if (rc == ARC_EXIT_OK && !global->json)
    fprintf(stderr, "agent-runner: %s\n", done);
  arc_conn_clear(&conn);
  return rc;
}

int
arc_verb_cancel(ArcGlobal *global, int argc, char **argv)
{
  if (!no_args("cancel", NULL, &argc, &argv))
    return ARC_EXIT_USAGE;
  return simple_call(global, "cancel", "Cancel", _("round cancelled; the service goes on"));
}

int
arc_verb_reload(ArcGlobal *global, int argc, char **argv)
{
  if (!no_args("reload", NULL, &argc, &argv))
    return ARC_EXIT_USAGE;
  return simple_call(global, "reload", "Reload",
                     _("config reloaded; it applies from the next round"));
}

/* The daemon in the background, detached from this terminal: its own
 * session, stdio on /dev/null, its events in the journal and log_dir. */
static pid_t
spawn_daemon(ArcGlobal *global, ArcConn *conn, int max_rounds)
{
  const char *daemon = ar_daemon_path();
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(args, g_strdup(daemon));
  g_ptr_array_add(args, g_strdup("--config"));
  g_ptr_array_add(args, g_strdup(conn->cfg->config_path));
  g_ptr_array_add(args, g_strdup("--clear-done"));
  if (max_rounds > 0)
    g_ptr_array_add(args, g_strdup_printf("--max-rounds=%d", max_rounds));
  if (global->system)
    g_ptr_array_add(args, g_strdup("--system"));
  g_ptr_array_add(args, NULL);
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  setsid();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  if (chdir(conn->cfg->work_dir) < 0)
    _exit(127);
  execv(daemon, (char **)args->pdata);
  _exit(127);
}

static int
start_verb(ArcGlobal *global, ArcConn *conn, int max_rounds)
{
  if (arc_conn_is_running(conn)) {
    if (max_rounds > 0) {
      return arc_conn_call(conn, "start", "Serve", NULL, "a{sv}", 1, "max_rounds", "u",
                           (guint32)max_rounds);
    }
    int rc = arc_conn_call(conn, "start", "Serve", NULL, "a{sv}", 0);
    if (rc == ARC_EXIT_OK && !global->json)
      fprintf(stderr, _("agent-runner: %s is already running\n"), conn->project);
    return rc;
  }
  if (conn->project && arc_systemd_unit_installed(global->system, conn->project)) {
    /* Installed as a unit: systemd starts it (arc-systemd.c). */
    int urc = arc_systemd_start_installed(global->system, conn->project,
                                          conn->cfg ? conn->cfg->log_dir : NULL, global->json);
    if (urc == ARC_EXIT_OK && max_rounds > 0 && conn->bus)
      urc = arc_conn_call(conn, "start", "Serve", NULL, "a{sv}", 1, "max_rounds", "u",
                          (guint32)max_rounds);
    return urc;
  }
  if (!conn->bus) {
    arc_conn_not_running(conn);
    fprintf(stderr, _("agent-runner start: without a bus the service cannot be watched; run "
                      "'agent-runner serve' in the foreground instead\n"));
    return ARC_EXIT_FAILURE;
  }
  if (!conn->cfg) {
    fprintf(stderr, _("agent-runner start: the config is needed to start the service (--config "
                      "F)\n"));
    return ARC_EXIT_CONFIG;
  }
  pid_t pid = spawn_daemon(global, conn, max_rounds);
  if (pid < 0) {
    fprintf(stderr, _("agent-runner start: fork: %s\n"), g_strerror(errno));
    return ARC_EXIT_FAILURE;
  }
  int status = -1; /* set only when the child was reaped */
  gboolean up = arc_conn_wait_name(conn, TRUE, START_WAIT_S * G_USEC_PER_SEC, pid, &status);
  if (!up) {
    if (status != -1 && WIFEXITED(status))
      fprintf(stderr,
              _("agent-runner start: the service exited with code %d; see 'journalctl "
                "AGENT_RUNNER_PROJECT=%s' or run 'agent-runner serve' to see why\n"),
              WEXITSTATUS(status), conn->project);
    else
      fprintf(stderr, _("agent-runner start: %s did not appear within %ds\n"), conn->name,
              START_WAIT_S);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 78 ? ARC_EXIT_CONFIG
                                                                          : ARC_EXIT_FAILURE;
  }
  if (!global->json)
    fprintf(stderr, _("agent-runner: started %s (pid %d)\n"), conn->project, (int)pid);
  return ARC_EXIT_OK;
}

int
arc_verb_start(ArcGlobal *global, int argc, char **argv)
{
  int max_rounds = 0;
  GOptionEntry entries[] = {
    { "max-rounds", 0, 0, G_OPTION_ARG_INT, &max_rounds, N_("Stop after N rounds"), "N" },
    { NULL },
  };
  if (!no_args("start", entries, &argc, &argv) || max_rounds < 0)
    return ARC_EXIT_USAGE;
  ArcConn conn;
  int rc = arc_conn_open(global, &conn, FALSE);
  if (rc == ARC_EXIT_OK)
    rc = start_verb(global, &conn, max_rounds);
  arc_conn_clear(&conn);
  return rc;
}

int
arc_verb_restart(ArcGlobal *global, int argc, char **argv)
{
  gboolean now = FALSE;
  GOptionEntry entries[] = {
    { "now", 0, 0, G_OPTION_ARG_NONE, &now, N_("Do not wait for the current round"), NULL },
    { NULL },
  };
  if (!no_args("restart", entries, &argc, &argv))
    return ARC_EXIT_USAGE;
  ArcConn conn;
  int rc = arc_conn_open(global, &conn, TRUE);
  if (rc == ARC_EXIT_OK)
    rc = installed(global, &conn) ? stop_installed(global, &conn, "restart", now, TRUE)
                                  : stop_and_wait(global, &conn, "restart", now, TRUE);
  if (rc == ARC_EXIT_OK)
    rc = start_verb(global, &conn, 0);
  arc_conn_clear(&conn);
  return rc;
}
