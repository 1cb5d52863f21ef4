/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The client's side of systemd and logind, all over D-Bus (sd-bus; never
 * systemctl/loginctl subprocesses): the per-project unit names and files
 * that `agent-runner install` writes, the manager calls (Reload,
 * EnableUnitFiles, DisableUnitFiles, StartUnit, StopUnit, RestartUnit,
 * ResetFailedUnit), the unit's state, and logind's Linger property.
 *
 * An ArcSystemd in dry-run mode connects to nothing: every call prints
 * what it would send ("D-Bus: ...") and succeeds. */

#include <glib.h>

G_BEGIN_DECLS

/* "agent-runner@PROJECT.service"; "agent-runner-monitor.service" (one
 * monitor per manager watches every project) */
char *arc_systemd_unit_name(const char *project);
char *arc_systemd_monitor_unit_name(void);

/* What `install` writes (user mode: under $XDG_CONFIG_HOME; system mode:
 * /etc, the value of %E for the system manager). */
char *arc_systemd_config_link_path(gboolean system, const char *project);
char *arc_systemd_dropin_dir(gboolean system, const char *unit);
char *arc_systemd_dropin_path(gboolean system, const char *unit);

/* TRUE when `agent-runner install` has set the project up in this mode:
 * the config link and the supervisor's drop-in both exist. No bus call,
 * so start/stop/status can ask cheaply before choosing systemd or the
 * bus. */
gboolean arc_systemd_unit_installed(gboolean system, const char *project);

/* Environment=PATH= of an install drop-in (NULL when absent). */
char *arc_systemd_dropin_path_env(gboolean system, const char *project);

typedef struct ArcSystemd ArcSystemd;

/* Connect to the user manager (its private socket
 * $XDG_RUNTIME_DIR/systemd/private when reachable, else the session bus)
 * or the system manager. dry_run: connect to nothing, print each call. */
ArcSystemd *arc_systemd_new(gboolean system, gboolean dry_run, GError **error);
void arc_systemd_free(ArcSystemd *sd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArcSystemd, arc_systemd_free)

gboolean arc_systemd_is_system(ArcSystemd *sd);
/* The manager's Version property ("252.38-..."). */
char *arc_systemd_version(ArcSystemd *sd, GError **error);

gboolean arc_systemd_reload(ArcSystemd *sd, GError **error);
gboolean arc_systemd_enable(ArcSystemd *sd, const char *unit, GError **error);
gboolean arc_systemd_disable(ArcSystemd *sd, const char *unit, GError **error);
/* The unit file state: "enabled", "disabled", "linked", ... ; NULL plus
 * error when the manager does not know the unit file. */
char *arc_systemd_unit_file_state(ArcSystemd *sd, const char *unit, GError **error);

/* Start/stop/restart and wait for the job's end (JobRemoved), at most
 * timeout_s seconds. A job result other than "done" is an error that
 * names the result and the unit's own Result/exit status. */
gboolean arc_systemd_start_unit(ArcSystemd *sd, const char *unit, guint timeout_s, GError **error);
gboolean arc_systemd_stop_unit(ArcSystemd *sd, const char *unit, guint timeout_s, GError **error);
gboolean arc_systemd_restart_unit(ArcSystemd *sd, const char *unit, guint timeout_s,
                                  GError **error);
/* Forget a failed state (errors ignored: the unit may be gone). */
void arc_systemd_reset_failed(ArcSystemd *sd, const char *unit);

typedef struct {
  char *load_state;       /* loaded, not-found, masked, ... */
  char *active_state;     /* active, inactive, failed, activating, deactivating */
  char *sub_state;        /* running, dead, auto-restart, ... */
  char *unit_file_state;  /* enabled, disabled, ... ("" when unknown) */
  char *result;           /* success, exit-code, watchdog, signal, ... */
  char *status_text;      /* the daemon's STATUS= line */
  guint64 state_since_us; /* realtime µs of the last active-state change */
  guint n_restarts;
  guint main_pid;
  int exec_main_status; /* exit code (or signal) of the last main process */
} ArcUnitState;

void arc_unit_state_clear(ArcUnitState *st);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ArcUnitState, arc_unit_state_clear)

gboolean arc_systemd_get_unit_state(ArcSystemd *sd, const char *unit, ArcUnitState *out,
                                    GError **error);
/* Convenience for status verbs: connect, query, disconnect. */
/* Wait (at most timeout_usec) until the unit is not "deactivating" and,
 * with leave_active, not "active" either: the manager's PropertiesChanged
 * for the unit wakes the wait, nothing polls. *out: the last state. */
gboolean arc_systemd_wait_unit_settled(ArcSystemd *sd, const char *unit, gboolean leave_active,
                                       guint64 timeout_usec, ArcUnitState *out, GError **error);
gboolean arc_systemd_query_project(gboolean system, const char *project, ArcUnitState *out,
                                   GError **error);

/* logind: the Linger property of uid's User object. Returns FALSE with
 * error when logind cannot be asked; a user logind does not track (no
 * session, no linger) is *linger = FALSE. */
gboolean arc_logind_get_linger(guint uid, gboolean *linger, GError **error);

/* Is a name owned on the user (system=FALSE) or system bus? */
gboolean arc_bus_name_has_owner(gboolean system, const char *name, gboolean *owned, GError **error);

/* Ask the system bus to re-read its policy
 * (org.freedesktop.DBus.ReloadConfig), after install/uninstall --system
 * wrote or removed a per-project policy. dry_run: print the call. */
gboolean arc_dbus_reload_config(gboolean dry_run, GError **error);

/* `agent-runner start` of an installed project: clear log_dir/.agent-done
 * (an explicit start), reset a failed state, StartUnit and wait for
 * READY=1. Returns the client exit code (0, 78 when the daemon exited
 * with 78, else 1); messages on stderr. */
int arc_systemd_start_installed(gboolean system, const char *project, const char *log_dir,
                                gboolean quiet);

/* The distribution note of docs/install.md for this host (arc-install.c):
 * "Debian (Debian GNU/Linux 12 (bookworm)): linger required: ...".
 * supported: FALSE without systemd as init (Alpine/OpenRC, ...). */
char *arc_systemd_distro_advice(gboolean *supported);
/* Linger is off: what that means, the exact command, the distro note. */
char *arc_systemd_linger_advice(const char *user);

G_END_DECLS
