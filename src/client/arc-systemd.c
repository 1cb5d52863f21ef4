/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arc-systemd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <systemd/sd-bus.h>

#include "ar-cleanup.h"
#include "ar-exit.h"
#include "ar-util.h"

#define SD_DEST    "org.freedesktop.systemd1"
#define SD_PATH    "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT    "org.freedesktop.systemd1.Unit"
#define SD_SERVICE "org.freedesktop.systemd1.Service"

#define LOGIN_DEST    "org.freedesktop.login1"
#define LOGIN_PATH    "/org/freedesktop/login1"
#define LOGIN_MANAGER "org.freedesktop.login1.Manager"
#define LOGIN_USER    "org.freedesktop.login1.User"

/* ---- names and paths ---------------------------------------------------- */

char *
arc_systemd_unit_name(const char *project)
{
  return g_strdup_printf("agent-runner@%s.service", project);
}

char *
arc_systemd_monitor_unit_name(void)
{
  return g_strdup("agent-runner-monitor.service");
}

/* %E of the manager: $XDG_CONFIG_HOME for the user manager, /etc for the
 * system manager. */
static const char *
config_home(gboolean system)
{
  return system ? "/etc" : g_get_user_config_dir();
}

char *
arc_systemd_config_link_path(gboolean system, const char *project)
{
  g_autofree char *name = g_strconcat(project, ".toml", NULL);
  return g_build_filename(config_home(system), "agent-runner", "projects", name, NULL);
}

char *
arc_systemd_dropin_dir(gboolean system, const char *unit)
{
  g_autofree char *d = g_strconcat(unit, ".d", NULL);
  if (system)
    return g_build_filename("/etc/systemd/system", d, NULL);
  return g_build_filename(config_home(FALSE), "systemd", "user", d, NULL);
}

char *
arc_systemd_dropin_path(gboolean system, const char *unit)
{
  g_autofree char *dir = arc_systemd_dropin_dir(system, unit);
  return g_build_filename(dir, "50-agent-runner.conf", NULL);
}

gboolean
arc_systemd_unit_installed(gboolean system, const char *project)
{
  if (project == NULL || !ar_project_name_valid(project))
    return FALSE;
  g_autofree char *unit = arc_systemd_unit_name(project);
  g_autofree char *link = arc_systemd_config_link_path(system, project);
  g_autofree char *dropin = arc_systemd_dropin_path(system, unit);
  struct stat st;
  return lstat(link, &st) == 0 && g_file_test(dropin, G_FILE_TEST_IS_REGULAR);
}

char *
arc_systemd_dropin_path_env(gboolean system, const char *project)
{
  g_autofree char *unit = arc_systemd_unit_name(project);
  g_autofree char *dropin = arc_systemd_dropin_path(system, unit);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(dropin, &text, NULL, NULL))
    return NULL;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    const char *l = lines[i];
    if (!g_str_has_prefix(l, "Environment="))
      continue;
    l += strlen("Environment=");
    gboolean quoted = *l == '"';
    if (quoted)
      l++;
    if (!g_str_has_prefix(l, "PATH="))
      continue;
    l += strlen("PATH=");
    GString *v = g_string_new(NULL);
    for (; *l && !(quoted && *l == '"'); l++) {
      if (*l == '\\' && l[1])
        l++;
      else if (*l == '%' && l[1] == '%')
        l++;
      g_string_append_c(v, *l);
    }
    return g_string_free(v, FALSE);
  }
  return NULL;
}

/* ---- the manager connection ---------------------------------------------- */

struct ArcSystemd {
  sd_bus *bus; /* NULL in dry-run */
  gboolean system;
  gboolean dry_run;
};

static const char *
manager_label(ArcSystemd *sd)
{
  return sd->system ? _("system manager") : _("user manager");
}

static gboolean
set_bus_error(GError **error, const sd_bus_error *e, int r, const char *what)
{
  if (e && sd_bus_error_is_set(e))
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, "%s: %s", what,
                e->message ? e->message : e->name);
  else
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, "%s: %s", what, g_strerror(-r));
  return FALSE;
}

static int
open_user_manager(sd_bus **ret)
{
  /* The manager's private socket works without a session bus (no
   * dbus-user-session), exactly as systemctl --user does. */
  const char *rt = g_getenv("XDG_RUNTIME_DIR");
  if (rt && *rt) {
    g_autofree char *sock = g_build_filename(rt, "systemd", "private", NULL);
    if (access(sock, W_OK) == 0) {
      g_autoptr(sd_bus) bus = NULL;
      g_autofree char *addr = g_strconcat("unix:path=", sock, NULL);
      if (sd_bus_new(&bus) >= 0 && sd_bus_set_address(bus, addr) >= 0 && sd_bus_start(bus) >= 0) {
        *ret = g_steal_pointer(&bus);
        return 0;
      }
    }
  }
  return sd_bus_open_user(ret);
}

ArcSystemd *
arc_systemd_new(gboolean system, gboolean dry_run, GError **error)
{
  g_autofree ArcSystemd *sd = g_new0(ArcSystemd, 1);
  sd->system = system;
  sd->dry_run = dry_run;
  if (dry_run)
    return g_steal_pointer(&sd);
  int r;
  if (system) {
    /* root talks to PID 1 directly, like systemctl; others go through
     * the system bus (and polkit). */
    r = -1;
    if (geteuid() == 0 && access("/run/systemd/private", W_OK) == 0) {
      r = sd_bus_new(&sd->bus);
      if (r >= 0)
        r = sd_bus_set_address(sd->bus, "unix:path=/run/systemd/private");
      if (r >= 0)
        r = sd_bus_start(sd->bus);
      if (r < 0)
        sd->bus = sd_bus_flush_close_unref(sd->bus);
    }
    if (r < 0)
      r = sd_bus_open_system(&sd->bus);
  } else {
    r = open_user_manager(&sd->bus);
  }
  if (r < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_NOT_RUNNING, _("cannot reach the %s: %s"),
                manager_label(sd), g_strerror(-r));
    return NULL;
  }
  /* Managing units may need polkit to ask for a password, as systemctl
   * lets it (the verb runs a text agent on a terminal). */
  (void)sd_bus_set_allow_interactive_authorization(sd->bus, isatty(STDIN_FILENO));
  return g_steal_pointer(&sd);
}

void
arc_systemd_free(ArcSystemd *sd)
{
  if (!sd)
    return;
  if (sd->bus)
    sd_bus_flush_close_unref(sd->bus);
  g_free(sd);
}

gboolean
arc_systemd_is_system(ArcSystemd *sd)
{
  return sd->system;
}

static void dry(ArcSystemd *sd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
dry(ArcSystemd *sd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *call = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  printf(_("would call (D-Bus, %s): %s\n"), manager_label(sd), call);
}

char *
arc_systemd_version(ArcSystemd *sd, GError **error)
{
  if (sd->dry_run)
    return g_strdup("dry-run");
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  char *v = NULL;
  int r = sd_bus_get_property_string(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "Version", &e, &v);
  if (r < 0) {
    set_bus_error(error, &e, r, manager_label(sd));
    return NULL;
  }
  g_autofree char *copy = g_strdup(v);
  free(v);
  return g_steal_pointer(&copy);
}

gboolean
arc_systemd_reload(ArcSystemd *sd, GError **error)
{
  if (sd->dry_run) {
    dry(sd, SD_MANAGER ".Reload()");
    return TRUE;
  }
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  /* Reload answers after the manager reloaded; give it time on a Pi. */
  g_autoptr(sd_bus_message) m = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_call(sd->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "Reload");
  if (r >= 0)
    r = sd_bus_call(sd->bus, m, 120 * G_USEC_PER_SEC, &e, &reply);
  if (r < 0)
    return set_bus_error(error, &e, r, "Reload");
  return TRUE;
}

static gboolean
read_changes(sd_bus_message *reply, gboolean with_carries, GError **error)
{
  int r;
  if (with_carries) {
    int carries = 0;
    r = sd_bus_message_read(reply, "b", &carries);
    if (r < 0)
      return set_bus_error(error, NULL, r, "reply");
  }
  r = sd_bus_message_enter_container(reply, 'a', "(sss)");
  if (r < 0)
    return set_bus_error(error, NULL, r, "reply");
  const char *type, *path, *source;
  while ((r = sd_bus_message_read(reply, "(sss)", &type, &path, &source)) > 0) {
    if (g_str_equal(type, "symlink"))
      printf(_("created symlink %s → %s\n"), path, source);
    else if (g_str_equal(type, "unlink"))
      printf(_("removed %s\n"), path);
  }
  return TRUE;
}

static gboolean
unit_files_call(ArcSystemd *sd, const char *method, const char *unit, gboolean enable,
                GError **error)
{
  if (sd->dry_run) {
    if (enable)
      dry(sd, SD_MANAGER ".%s([\"%s\"], runtime=false, force=true)", method, unit);
    else
      dry(sd, SD_MANAGER ".%s([\"%s\"], runtime=false)", method, unit);
    return TRUE;
  }
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) m = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_call(sd->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
  if (r >= 0) {
    const char *units[] = { unit, NULL };
    r = sd_bus_message_append_strv(m, (char **)units);
  }
  if (r >= 0)
    r = enable ? sd_bus_message_append(m, "bb", 0, 1) : sd_bus_message_append(m, "b", 0);
  if (r >= 0)
    r = sd_bus_call(sd->bus, m, 0, &e, &reply);
  if (r < 0)
    return set_bus_error(error, &e, r, method);
  return read_changes(reply, enable, error);
}

gboolean
arc_systemd_enable(ArcSystemd *sd, const char *unit, GError **error)
{
  return unit_files_call(sd, "EnableUnitFiles", unit, TRUE, error);
}

gboolean
arc_systemd_disable(ArcSystemd *sd, const char *unit, GError **error)
{
  return unit_files_call(sd, "DisableUnitFiles", unit, FALSE, error);
}

char *
arc_systemd_unit_file_state(ArcSystemd *sd, const char *unit, GError **error)
{
  if (sd->dry_run)
    return g_strdup("unknown");
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnitFileState", &e, &reply,
                             "s", unit);
  const char *state = NULL;
  if (r >= 0)
    r = sd_bus_message_read(reply, "s", &state);
  if (r < 0) {
    set_bus_error(error, &e, r, "GetUnitFileState");
    return NULL;
  }
  return g_strdup(state);
}

/* ---- jobs ------------------------------------------------------------------ */

typedef struct {
  GHashTable *done; /* job path -> result */
} JobWait;

static int
on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  JobWait *w = userdata;
  uint32_t id;
  const char *path, *unit, *result;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) >= 0)
    g_hash_table_insert(w->done, g_strdup(path), g_strdup(result));
  return 0;
}

static char *
describe_failure(ArcSystemd *sd, const char *unit)
{
  g_auto(ArcUnitState) st = { 0 };
  if (!arc_systemd_get_unit_state(sd, unit, &st, NULL))
    return g_strdup("");
  return g_strdup_printf(_(" (unit %s/%s, result %s, exit status %d)"), st.active_state,
                         st.sub_state, st.result ? st.result : "?", st.exec_main_status);
}

static gboolean
run_job(ArcSystemd *sd, const char *method, const char *unit, guint timeout_s, GError **error)
{
  if (sd->dry_run) {
    dry(sd, SD_MANAGER ".%s(\"%s\", \"replace\")", method, unit);
    return TRUE;
  }
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  JobWait w = { g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free) };
  g_autoptr(GHashTable) done = w.done;
  g_autoptr(sd_bus_slot) slot = NULL;
  /* On the manager's private socket there is no sender to match. */
  int r = sd_bus_match_signal(sd->bus, &slot, sd_bus_is_bus_client(sd->bus) ? SD_DEST : NULL,
                              SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, &w);
  if (r < 0)
    return set_bus_error(error, NULL, r, "JobRemoved match");
  /* The API bus only carries job signals to subscribers. */
  (void)sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", NULL, NULL, "");

  g_autoptr(sd_bus_message) reply = NULL;
  r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, method, &e, &reply, "ss", unit,
                         "replace");
  if (r < 0)
    return set_bus_error(error, &e, r, method);
  const char *job = NULL;
  r = sd_bus_message_read(reply, "o", &job);
  if (r < 0)
    return set_bus_error(error, NULL, r, method);
  g_autofree char *job_path = g_strdup(job);

  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
  while (!g_hash_table_contains(done, job_path)) {
    r = sd_bus_process(sd->bus, NULL);
    if (r < 0)
      return set_bus_error(error, NULL, r, "sd_bus_process");
    if (r > 0)
      continue;
    gint64 now = g_get_monotonic_time();
    if (now >= deadline) {
      g_set_error(error, AR_ERROR, AR_ERROR_BUSY,
                  _("%s of %s still running after %u s; see 'systemctl%s status %s'"), method, unit,
                  timeout_s, sd->system ? "" : " --user", unit);
      return FALSE;
    }
    r = sd_bus_wait(sd->bus, (uint64_t)(deadline - now));
    if (r < 0 && r != -EINTR)
      return set_bus_error(error, NULL, r, "sd_bus_wait");
  }
  const char *result = g_hash_table_lookup(done, job_path);
  if (!g_str_equal(result, "done")) {
    g_autofree char *why = describe_failure(sd, unit);
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("%s %s: job %s%s; see 'journalctl%s -u %s'"),
                method, unit, result, why, sd->system ? "" : " --user", unit);
    return FALSE;
  }
  return TRUE;
}

gboolean
arc_systemd_start_unit(ArcSystemd *sd, const char *unit, guint timeout_s, GError **error)
{
  return run_job(sd, "StartUnit", unit, timeout_s, error);
}

gboolean
arc_systemd_stop_unit(ArcSystemd *sd, const char *unit, guint timeout_s, GError **error)
{
  return run_job(sd, "StopUnit", unit, timeout_s, error);
}

gboolean
arc_systemd_restart_unit(ArcSystemd *sd, const char *unit, guint timeout_s, GError **error)
{
  return run_job(sd, "RestartUnit", unit, timeout_s, error);
}

void
arc_systemd_reset_failed(ArcSystemd *sd, const char *unit)
{
  if (sd->dry_run) {
    dry(sd, SD_MANAGER ".ResetFailedUnit(\"%s\")", unit);
    return;
  }
  (void)sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", NULL, NULL,
                           "s", unit);
}

/* ---- unit state -------------------------------------------------------------- */

void
arc_unit_state_clear(ArcUnitState *st)
{
  g_clear_pointer(&st->load_state, g_free);
  g_clear_pointer(&st->active_state, g_free);
  g_clear_pointer(&st->sub_state, g_free);
  g_clear_pointer(&st->unit_file_state, g_free);
  g_clear_pointer(&st->result, g_free);
  g_clear_pointer(&st->status_text, g_free);
}

static char *
get_string(sd_bus *bus, const char *path, const char *iface, const char *prop)
{
  char *v = NULL;
  if (sd_bus_get_property_string(bus, SD_DEST, path, iface, prop, NULL, &v) < 0)
    return g_strdup("");
  char *copy = g_strdup(v);
  free(v);
  return copy;
}

gboolean
arc_systemd_get_unit_state(ArcSystemd *sd, const char *unit, ArcUnitState *out, GError **error)
{
  memset(out, 0, sizeof *out);
  if (sd->dry_run) {
    out->load_state = g_strdup("unknown");
    out->active_state = g_strdup("unknown");
    out->sub_state = g_strdup("unknown");
    out->unit_file_state = g_strdup("");
    return TRUE;
  }
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  /* LoadUnit: a unit that is not loaded (stopped and collected) still
   * answers, with LoadState and UnitFileState. */
  int r =
      sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", &e, &reply, "s", unit);
  const char *obj = NULL;
  if (r >= 0)
    r = sd_bus_message_read(reply, "o", &obj);
  if (r < 0)
    return set_bus_error(error, &e, r, "LoadUnit");
  g_autofree char *path = g_strdup(obj);
  out->load_state = get_string(sd->bus, path, SD_UNIT, "LoadState");
  out->active_state = get_string(sd->bus, path, SD_UNIT, "ActiveState");
  out->sub_state = get_string(sd->bus, path, SD_UNIT, "SubState");
  out->unit_file_state = get_string(sd->bus, path, SD_UNIT, "UnitFileState");
  out->result = get_string(sd->bus, path, SD_SERVICE, "Result");
  out->status_text = get_string(sd->bus, path, SD_SERVICE, "StatusText");
  uint64_t since = 0;
  uint32_t u = 0;
  int32_t status = 0;
  if (sd_bus_get_property_trivial(sd->bus, SD_DEST, path, SD_UNIT, "StateChangeTimestamp", NULL,
                                  't', &since) >= 0)
    out->state_since_us = since;
  if (sd_bus_get_property_trivial(sd->bus, SD_DEST, path, SD_SERVICE, "NRestarts", NULL, 'u', &u) >=
      0)
    out->n_restarts = u;
  if (sd_bus_get_property_trivial(sd->bus, SD_DEST, path, SD_SERVICE, "MainPID", NULL, 'u', &u) >=
      0)
    out->main_pid = u;
  if (sd_bus_get_property_trivial(sd->bus, SD_DEST, path, SD_SERVICE, "ExecMainStatus", NULL, 'i',
                                  &status) >= 0)
    out->exec_main_status = status;
  return TRUE;
}

static int
on_unit_changed(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  *(gboolean *)user_data = TRUE;
  return 0;
}

gboolean
arc_systemd_wait_unit_settled(ArcSystemd *sd, const char *unit, gboolean leave_active,
                              guint64 timeout_usec, ArcUnitState *out, GError **error)
{
  if (!arc_systemd_get_unit_state(sd, unit, out, error))
    return FALSE;
  if (sd->dry_run)
    return TRUE;
  g_autoptr(sd_bus_message) reply = NULL;
  const char *obj = NULL;
  if (sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", NULL, &reply, "s",
                         unit) < 0 ||
      sd_bus_message_read(reply, "o", &obj) < 0)
    return TRUE; /* not loaded: nothing will change */
  /* The unit's PropertiesChanged wakes us (the manager sends them once a
   * client subscribed); the state is read again after the match is in
   * place, so no change falls between. */
  gboolean changed = FALSE;
  g_autoptr(sd_bus_slot) slot = NULL;
  int r = sd_bus_match_signal(sd->bus, &slot, SD_DEST, obj, "org.freedesktop.DBus.Properties",
                              "PropertiesChanged", on_unit_changed, &changed);
  if (r < 0)
    return set_bus_error(error, NULL, r, "PropertiesChanged match");
  (void)sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", NULL, NULL, "");
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_usec;
  for (;;) {
    arc_unit_state_clear(out);
    if (!arc_systemd_get_unit_state(sd, unit, out, error))
      return FALSE;
    const char *a = out->active_state;
    gboolean settled =
        g_strcmp0(a, "deactivating") != 0 && !(leave_active && g_strcmp0(a, "active") == 0);
    gint64 now = g_get_monotonic_time();
    if (settled || now >= deadline)
      return TRUE;
    changed = FALSE;
    while (!changed && now < deadline) {
      while ((r = sd_bus_process(sd->bus, NULL)) > 0)
        ;
      if (r < 0)
        return set_bus_error(error, NULL, r, "sd_bus_process");
      if (changed)
        break;
      r = sd_bus_wait(sd->bus, (uint64_t)(deadline - now));
      if (r < 0 && r != -EINTR)
        return set_bus_error(error, NULL, r, "sd_bus_wait");
      now = g_get_monotonic_time();
    }
  }
}

gboolean
arc_systemd_query_project(gboolean system, const char *project, ArcUnitState *out, GError **error)
{
  g_autoptr(ArcSystemd) sd = arc_systemd_new(system, FALSE, error);
  if (!sd)
    return FALSE;
  g_autofree char *unit = arc_systemd_unit_name(project);
  return arc_systemd_get_unit_state(sd, unit, out, error);
}

/* ---- logind and the bus -------------------------------------------------------- */

/* A connection of its own for one call. */
static gboolean
open_bus(gboolean system, sd_bus **bus, GError **error)
{
  int r = system ? sd_bus_open_system(bus) : sd_bus_open_user(bus);
  if (r < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_NOT_RUNNING, _("cannot reach the %s bus: %s"),
                system ? "system" : "session", g_strerror(-r));
    return FALSE;
  }
  return TRUE;
}

gboolean
arc_logind_get_linger(guint uid, gboolean *linger, GError **error)
{
  g_autoptr(sd_bus) bus = NULL;
  if (!open_bus(TRUE, &bus, error))
    return FALSE;
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_call_method(bus, LOGIN_DEST, LOGIN_PATH, LOGIN_MANAGER, "GetUser", &e, &reply, "u",
                             (uint32_t)uid);
  if (r < 0) {
    if (sd_bus_error_has_name(&e, "org.freedesktop.login1.NoSuchUser")) {
      /* Not tracked: no session and no linger (logind starts lingering
       * users at boot). */
      *linger = FALSE;
      return TRUE;
    }
    return set_bus_error(error, &e, r, "logind GetUser");
  }
  const char *obj = NULL;
  r = sd_bus_message_read(reply, "o", &obj);
  if (r < 0)
    return set_bus_error(error, NULL, r, "logind GetUser");
  int value = 0;
  r = sd_bus_get_property_trivial(bus, LOGIN_DEST, obj, LOGIN_USER, "Linger", &e, 'b', &value);
  if (r < 0)
    return set_bus_error(error, &e, r, "logind User.Linger");
  *linger = value != 0;
  return TRUE;
}

gboolean
arc_bus_name_has_owner(gboolean system, const char *name, gboolean *owned, GError **error)
{
  g_autoptr(sd_bus) bus = NULL;
  if (!open_bus(system, &bus, error))
    return FALSE;
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "NameHasOwner", &e, &reply, "s", name);
  int has = 0;
  if (r >= 0)
    r = sd_bus_message_read(reply, "b", &has);
  if (r < 0)
    return set_bus_error(error, &e, r, "NameHasOwner");
  *owned = has != 0;
  return TRUE;
}

gboolean
arc_dbus_reload_config(gboolean dry_run, GError **error)
{
  if (dry_run) {
    printf(_("would call (D-Bus, system bus): org.freedesktop.DBus.ReloadConfig()\n"));
    return TRUE;
  }
  g_autoptr(sd_bus) bus = NULL;
  if (!open_bus(TRUE, &bus, error))
    return FALSE;
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  /* dbus-daemon answers after it re-read its policy, so the service may
   * own its name as soon as this returns. */
  int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "ReloadConfig", &e, NULL, "");
  if (r < 0)
    return set_bus_error(error, &e, r, "ReloadConfig");
  return TRUE;
}

/* ---- for the bus verbs ----------------------------------------------------- */

int
arc_systemd_start_installed(gboolean system, const char *project, const char *log_dir,
                            gboolean quiet)
{
  /* An explicit start clears the agent's "done", as --clear-done does for
   * a daemon started by hand; the unit itself never passes it, so a plain
   * restart by systemd keeps a finished project stopped. */
  if (log_dir) {
    g_autofree char *done = g_build_filename(log_dir, ".agent-done", NULL);
    if (unlink(done) == 0 && !quiet)
      fprintf(stderr, _("agent-runner: cleared %s\n"), done);
    /* The daemon started by the unit sees this once and forgets the crash
     * streak and the lasting stop reason of the earlier run, as a daemon
     * started with --clear-done does. */
    g_autofree char *marker = g_build_filename(log_dir, ".start-requested", NULL);
    (void)g_file_set_contents(marker, "", 0, NULL);
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(ArcSystemd) sd = arc_systemd_new(system, FALSE, &error);
  g_autofree char *unit = arc_systemd_unit_name(project);
  if (sd)
    arc_systemd_reset_failed(sd, unit);
  if (!sd || !arc_systemd_start_unit(sd, unit, 120, &error)) {
    fprintf(stderr, "agent-runner start: %s\n", error->message);
    g_auto(ArcUnitState) st = { 0 };
    if (sd && arc_systemd_get_unit_state(sd, unit, &st, NULL) &&
        st.exec_main_status == AR_EXIT_CONFIG)
      return AR_EXIT_CONFIG;
    return 1;
  }
  if (!quiet)
    fprintf(stderr, _("agent-runner: started %s (%s)\n"), project, unit);
  return 0;
}
