/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* agent-runner install / uninstall: run the project as the systemd unit
 * agent-runner@PROJECT.service of the user manager (default) or the system
 * manager (--system). What is written (and removed again by uninstall):
 *
 *   $XDG_CONFIG_HOME/agent-runner/projects/PROJECT.toml   (system: /etc/...)
 *       symlink to the project's agent-runner.toml; the unit's ExecStart
 *       reads %E/agent-runner/projects/%i.toml
 *   $XDG_CONFIG_HOME/systemd/user/agent-runner@PROJECT.service.d/
 *       50-agent-runner.conf                (system: /etc/systemd/system/...)
 *       Environment=PATH= of the installing shell, TimeoutStopSec= from the
 *       config, User=/Group= in system mode
 *
 * System mode also, because the unit runs as a user and not as root:
 *
 *   DBUS_SYSTEM_CONF_DIR/org.agentrunner.Runner1.<escaped>.conf
 *       lets that user own the project's bus name (then ReloadConfig)
 *   POLKIT_ACTIONS_DIR/org.agentrunner.runner.<escaped>.policy
 *       the project's own polkit actions, owned by that user, so polkit
 *       answers the service about other callers
 *
 * and the log dir created owned by that user, with a probe as that user.
 *
 * then Reload, EnableUnitFiles and (user mode) StartUnit over D-Bus
 * (arc-systemd.c). Also the linger and distribution advice. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-names.h"
#include "ar-prompt.h"
#include "ar-template.h"
#include "ar-util.h"
#include "arc-client.h"
#include "arc-secret.h"
#include "arc-systemd.h"

/* Jobs: a start waits for READY=1 (config checks + bus name); a stop may
 * wait for a whole round. */
#define START_TIMEOUT_S 120

/* ---- linger and distributions -------------------------------------------- */

/* The situations docs/install.md explains, one row each. */
typedef enum {
  DISTRO_NO_SYSTEMD,
  DISTRO_UBUNTU_DESKTOP,
  DISTRO_UBUNTU_SERVER,
  DISTRO_DEBIAN,
  DISTRO_DIETPI,
  DISTRO_RPI_LITE,
  DISTRO_RPI_DESKTOP,
  DISTRO_OTHER,
} ArcDistro;

static const struct {
  ArcDistro id;
  const char *name;
  const char *advice;
} distro_table[] = {
  { DISTRO_NO_SYSTEMD, N_("no systemd (Alpine/OpenRC, a container, WSL without systemd)"),
    N_("not supported: there is no systemd manager to run the unit. Run 'agent-runner serve' "
       "under your own supervisor instead") },
  { DISTRO_UBUNTU_DESKTOP, N_("Ubuntu desktop"),
    N_("fine while you are logged in (your graphical login starts your user manager); enable "
       "linger to keep it running after logout and to start it at boot") },
  { DISTRO_UBUNTU_SERVER, N_("Ubuntu Server"),
    N_("linger required: without a login nothing starts your user manager") },
  { DISTRO_DEBIAN, N_("Debian"),
    N_("linger required: without a login nothing starts your user manager") },
  { DISTRO_DIETPI, N_("DietPi"),
    N_("prefer 'sudo agent-runner install --system' (a system unit running as you)") },
  { DISTRO_RPI_LITE, N_("Raspberry Pi OS Lite"),
    N_("prefer 'sudo agent-runner install --system' (a system unit running as you)") },
  { DISTRO_RPI_DESKTOP, N_("Raspberry Pi OS (desktop)"),
    N_("fine while you are logged in; enable linger for unattended use") },
  { DISTRO_OTHER, N_("this distribution"),
    N_("enable linger for unattended use (after logout and reboot)") },
};

static GHashTable *
read_os_release(void)
{
  GHashTable *kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *text = NULL;
  if (!g_file_get_contents("/etc/os-release", &text, NULL, NULL) &&
      !g_file_get_contents("/usr/lib/os-release", &text, NULL, NULL))
    return kv;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    char *eq = strchr(lines[i], '=');
    if (!eq || lines[i][0] == '#')
      continue;
    *eq = '\0';
    g_autofree char *v = g_shell_unquote(eq + 1, NULL);
    g_hash_table_insert(kv, g_strdup(g_strstrip(lines[i])), g_strdup(v ? v : eq + 1));
  }
  return kv;
}

static gboolean
has_desktop(void)
{
  const char *dirs[] = { "/usr/share/xsessions", "/usr/share/wayland-sessions" };
  for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
    g_autoptr(GDir) d = g_dir_open(dirs[i], 0, NULL);
    if (d && g_dir_read_name(d))
      return TRUE;
  }
  return FALSE;
}

static ArcDistro
detect_distro(char **pretty)
{
  g_autoptr(GHashTable) os = read_os_release();
  const char *p = g_hash_table_lookup(os, "PRETTY_NAME");
  *pretty = g_strdup(p ? p : _("unknown system"));
  const char *id = g_hash_table_lookup(os, "ID");
  const char *like = g_hash_table_lookup(os, "ID_LIKE");
  if (!g_file_test("/run/systemd/system", G_FILE_TEST_IS_DIR) || g_strcmp0(id, "alpine") == 0)
    return DISTRO_NO_SYSTEMD;
  if (g_file_test("/boot/dietpi", G_FILE_TEST_IS_DIR) || g_file_test("/DietPi", G_FILE_TEST_IS_DIR))
    return DISTRO_DIETPI;
  if (g_strcmp0(id, "raspbian") == 0 || g_file_test("/etc/rpi-issue", G_FILE_TEST_EXISTS))
    return has_desktop() ? DISTRO_RPI_DESKTOP : DISTRO_RPI_LITE;
  if (g_strcmp0(id, "ubuntu") == 0 || (like && strstr(like, "ubuntu")))
    return has_desktop() ? DISTRO_UBUNTU_DESKTOP : DISTRO_UBUNTU_SERVER;
  if (g_strcmp0(id, "debian") == 0)
    return DISTRO_DEBIAN;
  return DISTRO_OTHER;
}

char *
arc_systemd_distro_advice(gboolean *supported)
{
  g_autofree char *pretty = NULL;
  ArcDistro d = detect_distro(&pretty);
  if (supported)
    *supported = d != DISTRO_NO_SYSTEMD;
  for (guint i = 0; i < G_N_ELEMENTS(distro_table); i++)
    if (distro_table[i].id == d)
      return g_strdup_printf("%s (%s): %s", _(distro_table[i].name), pretty,
                             _(distro_table[i].advice));
  return g_strdup(pretty);
}

char *
arc_systemd_linger_advice(const char *user)
{
  g_autofree char *distro = arc_systemd_distro_advice(NULL);
  return g_strdup_printf(
      _("linger is off for %s: the user manager, and this service with it, stops when you log "
        "out and does not start at boot.\n  fix: sudo loginctl enable-linger %s\n  %s"),
      user, user, distro);
}

/* ---- what install writes --------------------------------------------------- */

/* A value for Environment="..." in a unit file: quotes, backslashes and
 * specifiers escaped. */
static char *
unit_escape(const char *s)
{
  GString *out = g_string_new(NULL);
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_c(out, '\\');
    if (*p == '%')
      g_string_append_c(out, '%');
    g_string_append_c(out, *p);
  }
  return g_string_free(out, FALSE);
}

/* The unit's PATH: the installing shell's, without empty or relative
 * entries (they would resolve against the service's cwd) and duplicates. */
static char *
clean_path(const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path ? path : "", ":", -1);
  g_autoptr(GPtrArray) keep = g_ptr_array_new();
  for (guint i = 0; parts[i]; i++) {
    if (parts[i][0] != '/')
      continue;
    gboolean dup = FALSE;
    for (guint j = 0; j < keep->len && !dup; j++)
      dup = g_str_equal(g_ptr_array_index(keep, j), parts[i]);
    if (!dup)
      g_ptr_array_add(keep, parts[i]);
  }
  if (keep->len == 0)
    return g_strdup("/usr/local/bin:/usr/bin:/bin");
  g_ptr_array_add(keep, NULL);
  return g_strjoinv(":", (char **)keep->pdata);
}

/* Long enough for the longest round plus the kill grace: the daemon lets
 * the running round finish on SIGTERM. */
static guint
stop_timeout_s(const ArConfig *cfg)
{
  guint longest = cfg->round_timeout_s;
  for (guint i = 0; cfg->phases && i < cfg->phases->len; i++) {
    const ArPhase *ph = g_ptr_array_index(cfg->phases, i);
    longest = MAX(longest, ph->round_timeout_s);
  }
  return longest + MAX(cfg->max_grace_after_result_s, 60) + 60;
}

typedef struct {
  gboolean system;
  gboolean monitor;
  gboolean no_start;
  gboolean dry_run;
  gboolean force;
  char *path;
  char *run_as;
  char *run_group;
  uid_t run_uid;
  gid_t run_gid;
} InstallOpts;

static char *
dropin_content(const InstallOpts *o, const ArConfig *cfg, gboolean supervisor)
{
  GString *s = g_string_new(NULL);
  g_string_append_printf(s,
                         "# Written by 'agent-runner install%s' for project %s (%s).\n"
                         "# 'agent-runner uninstall%s' removes it; run install again after "
                         "changing the agent's PATH or round_timeout_s.\n"
                         "[Service]\n",
                         o->system ? " --system" : "", cfg->project, cfg->config_path,
                         o->system ? " --system" : "");
  g_autofree char *path = unit_escape(o->path);
  g_string_append_printf(s, "Environment=\"PATH=%s\"\n", path);
  if (supervisor) {
    g_string_append_printf(s, "TimeoutStopSec=%us\n", stop_timeout_s(cfg));
    /* The unit behind the D-Bus activation file's SystemdService=. */
    g_autofree char *bus_name = ar_bus_name_for_project(cfg->project);
    g_string_append_printf(s, "BusName=%s\n", bus_name);
  }
  if (o->system)
    g_string_append_printf(s, "User=%s\nGroup=%s\n", o->run_as, o->run_group);
  if (o->system && supervisor)
    arc_secret_unit_lines(s, cfg);
  return g_string_free(s, FALSE);
}

static void
print_file(const char *path, const char *content)
{
  printf(_("would write %s:\n"), path);
  g_auto(GStrv) lines = g_strsplit(content, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (lines[i][0] || lines[i + 1])
      printf("    %s\n", lines[i]);
}

static gboolean
mkdir_parent(const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname(path);
  if (g_mkdir_with_parents(dir, 0755) < 0)
    return ar_set_error_errno(error, errno, "mkdir %s", dir);
  return TRUE;
}

static gboolean
write_link(const InstallOpts *o, const char *link, const char *target, GError **error)
{
  g_autofree char *old = g_file_read_link(link, NULL);
  if (old && g_str_equal(old, target)) {
    if (o->dry_run)
      printf(_("%s already points to %s\n"), link, target);
    return TRUE;
  }
  struct stat st;
  if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode)) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("%s exists and is not a symlink; move it away first"), link);
    return FALSE;
  }
  if (old && !o->force) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("project name already installed for %s (%s points there); uninstall that "
                  "one first, rename this work_dir, or pass --force"),
                old, link);
    return FALSE;
  }
  if (o->dry_run) {
    printf(_("would write symlink %s -> %s\n"), link, target);
    return TRUE;
  }
  if (!mkdir_parent(link, error))
    return FALSE;
  if (old)
    (void)g_unlink(link);
  if (symlink(target, link) < 0)
    return ar_set_error_errno(error, errno, "symlink %s", link);
  printf(_("wrote %s -> %s\n"), link, target);
  return TRUE;
}

static gboolean
write_dropin(const InstallOpts *o, const char *path, const char *content, GError **error)
{
  if (o->dry_run) {
    print_file(path, content);
    return TRUE;
  }
  if (!mkdir_parent(path, error) || !ar_write_file_atomic(path, content, -1, error))
    return FALSE;
  (void)g_chmod(path, 0644);
  printf(_("wrote %s\n"), path);
  return TRUE;
}

/* Remove a file we wrote, then its directory when that is left empty. */
static void
remove_written(gboolean dry_run, const char *path, gboolean rmdir_parent)
{
  struct stat st;
  if (lstat(path, &st) < 0)
    return;
  if (dry_run) {
    printf(_("would remove %s\n"), path);
    return;
  }
  if (g_unlink(path) == 0)
    printf(_("removed %s\n"), path);
  else
    fprintf(stderr, _("agent-runner: cannot remove %s: %s\n"), path, g_strerror(errno));
  if (rmdir_parent) {
    g_autofree char *dir = g_path_get_dirname(path);
    (void)g_rmdir(dir);
  }
}

static gboolean
resolve_run_as(InstallOpts *o, GError **error)
{
  if (!o->run_as) {
    const char *sudo_user = g_getenv("SUDO_USER");
    if (sudo_user && *sudo_user && !g_str_equal(sudo_user, "root"))
      o->run_as = g_strdup(sudo_user);
    else if (geteuid() != 0)
      o->run_as = g_strdup(g_get_user_name());
  }
  if (!o->run_as) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the system unit would run the agent as root; run 'sudo agent-runner install "
                  "--system' from your own account, or pass --run-as USER"));
    return FALSE;
  }
  struct passwd *pw = getpwnam(o->run_as);
  if (!pw) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS, _("no such user: %s"), o->run_as);
    return FALSE;
  }
  o->run_uid = pw->pw_uid;
  o->run_gid = pw->pw_gid;
  struct group *gr = getgrgid(pw->pw_gid);
  o->run_group = g_strdup(gr ? gr->gr_name : o->run_as);
  return TRUE;
}

/* ---- system mode: the service user's rights --------------------------------- */

/* D-Bus activation: a call to the project's name (busctl, gdbus, the
 * monitor) starts its unit when it is not running. User mode: the session
 * bus's service dir under $XDG_DATA_HOME; system mode: system-services
 * next to the policy dir. */
static char *
activation_path(gboolean system, const char *project)
{
  g_autofree char *name = ar_bus_name_for_project(project);
  g_autofree char *file = g_strconcat(name, ".service", NULL);
  if (system) {
    g_autofree char *dbus_dir = g_path_get_dirname(DBUS_SYSTEM_CONF_DIR);
    return g_build_filename(dbus_dir, "system-services", file, NULL);
  }
  return g_build_filename(g_get_user_data_dir(), "dbus-1", "services", file, NULL);
}

static char *
activation_content(const InstallOpts *o, const ArConfig *cfg)
{
  g_autofree char *name = ar_bus_name_for_project(cfg->project);
  g_autofree char *unit = arc_systemd_unit_name(cfg->project);
  g_autofree char *link = arc_systemd_config_link_path(o->system, cfg->project);
  GString *s = g_string_new(NULL);
  g_string_append_printf(s,
                         "# Written by 'agent-runner install%s' for project %s: a call to\n"
                         "# %s starts %s. Exec= is for a bus\n"
                         "# without systemd activation only.\n"
                         "[D-BUS Service]\n"
                         "Name=%s\n"
                         "Exec=%s --config %s%s\n"
                         "SystemdService=%s\n",
                         o->system ? " --system" : "", cfg->project, name, unit, name,
                         ar_daemon_path(), link, o->system ? " --system" : "", unit);
  if (o->system)
    g_string_append_printf(s, "User=%s\n", o->run_as);
  return g_string_free(s, FALSE);
}

/* The service's right to its bus name and the polkit actions it owns
 * (data/templates; the generic actions' defaults, per project, with the
 * service's user as owner: polkit answers CheckAuthorization about another
 * user's subject only to root or an action owner). */
static gboolean
system_policies(const InstallOpts *o, const ArConfig *cfg, char **bus_policy, char **actions,
                GError **error)
{
  g_autofree char *name = ar_bus_name_for_project(cfg->project);
  g_autofree char *prefix = ar_polkit_project_prefix(cfg->project);
  const char *const kv[] = {
    "PROJECT", cfg->project, "USER", o->run_as, "BUS_NAME", name, "ACTION_PREFIX", prefix, NULL,
  };
  *bus_policy = ar_template_load_xml("org.agentrunner.Runner1.PROJECT.conf.in", kv, error);
  *actions = *bus_policy
                 ? ar_template_load_xml("org.agentrunner.runner.PROJECT.policy.in", kv, error)
                 : NULL;
  return *actions != NULL;
}

/* install runs as root, the service as o->run_as: every directory of
 * log_dir that does not exist yet is made now and given to that user, or
 * the startup checks (run as root) would make it root's and the service
 * could not take its lock there. */
static gboolean
prepare_log_dir(const InstallOpts *o, const ArConfig *cfg, GError **error)
{
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *dir = g_strdup(cfg->log_dir);
  while (!g_file_test(dir, G_FILE_TEST_EXISTS)) {
    g_autofree char *parent = g_path_get_dirname(dir);
    if (g_str_equal(parent, dir))
      break;
    g_ptr_array_add(missing, g_steal_pointer(&dir));
    dir = g_steal_pointer(&parent);
  }
  for (guint i = missing->len; i-- > 0;) {
    const char *d = g_ptr_array_index(missing, i);
    if (o->dry_run) {
      printf(_("would create %s owned by %s\n"), d, o->run_as);
      continue;
    }
    /* log_dir itself (missing[0]) is the service's user's only. */
    if (mkdir(d, i == 0 ? 0700 : 0755) < 0 && errno != EEXIST)
      return ar_set_error_errno(error, errno, "mkdir %s", d);
    if (chown(d, o->run_uid, o->run_gid) < 0)
      return ar_set_error_errno(error, errno, "chown %s", d);
    printf(_("created %s (owner %s)\n"), d, o->run_as);
  }
  return TRUE;
}

/* What probe_as_user's child found; the parent words it (no gettext or
 * allocation in the child). */
typedef enum {
  PROBE_OK,
  PROBE_SWITCH,
  PROBE_WORK_DIR,
  PROBE_CONFIG,
  PROBE_LOG_DIR,
} ProbeWhat;

/* Tried as the service's user in a child that drops to its groups, gid and
 * uid: root's own access proves nothing. NULL when fine, else what fails
 * and how to fix it. */
static char *
probe_as_user(const InstallOpts *o, const ArConfig *cfg)
{
  g_autofree char *probe = g_build_filename(cfg->log_dir, ".install-probe-XXXXXX", NULL);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return g_strdup_printf("pipe: %s", g_strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return g_strdup_printf("fork: %s", g_strerror(e));
  }
  if (pid == 0) {
    int res[2] = { PROBE_OK, 0 };
    if (initgroups(o->run_as, o->run_gid) < 0 || setgid(o->run_gid) < 0 || setuid(o->run_uid) < 0) {
      res[0] = PROBE_SWITCH;
    } else if (access(cfg->work_dir, R_OK | W_OK | X_OK) < 0) {
      res[0] = PROBE_WORK_DIR;
    } else if (access(cfg->config_path, R_OK) < 0) {
      res[0] = PROBE_CONFIG;
    } else {
      int fd = mkstemp(probe);
      if (fd < 0) {
        res[0] = PROBE_LOG_DIR;
      } else {
        close(fd);
        unlink(probe);
      }
    }
    res[1] = errno;
    _exit(write(fds[1], res, sizeof res) == sizeof res ? 0 : 1);
  }
  close(fds[1]);
  int res[2] = { -1, 0 };
  ssize_t got;
  while ((got = read(fds[0], res, sizeof res)) < 0 && errno == EINTR)
    ;
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (got != sizeof res || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return g_strdup_printf(_("the check as user %s failed"), o->run_as);
  const char *why = g_strerror(res[1]);
  switch (res[0]) {
  case PROBE_OK:
    return NULL;
  case PROBE_SWITCH:
    return g_strdup_printf(_("cannot switch to user %s: %s"), o->run_as, why);
  case PROBE_WORK_DIR:
    return g_strdup_printf(_("the service's user %s cannot read and write work_dir %s: %s\n"
                             "  fix: sudo chown -R %s: %s"),
                           o->run_as, cfg->work_dir, why, o->run_as, cfg->work_dir);
  case PROBE_CONFIG:
    return g_strdup_printf(_("the service's user %s cannot read the config %s: %s\n"
                             "  fix: sudo chown %s: %s"),
                           o->run_as, cfg->config_path, why, o->run_as, cfg->config_path);
  default:
    return g_strdup_printf(_("the service's user %s cannot write log_dir %s: %s\n"
                             "  fix: sudo chown -R %s: %s"),
                           o->run_as, cfg->log_dir, why, o->run_as, cfg->log_dir);
  }
}

static void
print_failed_checks(GPtrArray *checks)
{
  fprintf(stderr, _("agent-runner install: the startup checks fail with the unit's PATH; "
                    "not installing:\n"));
  for (guint i = 0; i < checks->len; i++) {
    ArCheck *c = g_ptr_array_index(checks, i);
    if (c->ok)
      continue;
    fprintf(stderr, "  ✗ %s: %s\n", c->name, c->detail ? c->detail : "");
    if (c->hint)
      fprintf(stderr, _("    how to fix: %s\n"), c->hint);
  }
}

static void
linger_note(const InstallOpts *o)
{
  if (o->system)
    return;
  gboolean linger = FALSE;
  g_autoptr(GError) error = NULL;
  if (!arc_logind_get_linger(getuid(), &linger, &error)) {
    g_autofree char *distro = arc_systemd_distro_advice(NULL);
    printf(_("note: could not ask logind about linger (%s).\n  If this host must run the "
             "project while you are logged out: sudo loginctl enable-linger %s\n  %s\n"),
           error->message, g_get_user_name(), distro);
    return;
  }
  if (linger) {
    printf(_("linger is on for %s: the service keeps running after logout and starts at boot\n"),
           g_get_user_name());
    return;
  }
  g_autofree char *advice = arc_systemd_linger_advice(g_get_user_name());
  printf("%s\n", advice);
}

static int
do_install(InstallOpts *o, ArConfig *cfg)
{
  g_autoptr(GError) error = NULL;
  const char *project = cfg->project;
  if (!ar_project_name_valid(project)) {
    fprintf(stderr,
            _("agent-runner install: project name \"%s\" (the basename of work_dir) "
              "must match [A-Za-z0-9._-]+\n"),
            project ? project : "");
    return AR_EXIT_CONFIG;
  }
  gboolean supported = TRUE;
  g_autofree char *distro = arc_systemd_distro_advice(&supported);
  if (!supported && !o->dry_run) {
    fprintf(stderr, "agent-runner install: %s\n", distro);
    return AR_EXIT_FAILURE;
  }
  if (o->system) {
    if (!resolve_run_as(o, &error)) {
      fprintf(stderr, "agent-runner install: %s\n", error->message);
      return AR_EXIT_USAGE;
    }
    if (geteuid() != 0 && !o->dry_run) {
      fprintf(stderr, _("agent-runner install --system: needs root; run: sudo env \"PATH=$PATH\" "
                        "agent-runner install --system (sudo resets PATH)\n"));
      return AR_EXIT_FAILURE;
    }
    /* Before the checks: they would create log_dir as root. */
    if (!prepare_log_dir(o, cfg, &error)) {
      fprintf(stderr, "agent-runner install: %s\n", error->message);
      return AR_EXIT_FAILURE;
    }
  }

  /* The unit runs the same battery before every round, with this PATH:
   * refuse now instead of failing at 3 a.m. */
  gboolean ok = FALSE;
  g_autoptr(GPtrArray) checks = ar_startup_checks(cfg, o->path, &ok);
  if (!ok) {
    print_failed_checks(checks);
    return AR_EXIT_CONFIG;
  }
  /* The checks ran as root; the service runs as run_as. */
  if (o->system && geteuid() == 0 && o->run_uid != 0 && !o->dry_run) {
    g_autofree char *problem = probe_as_user(o, cfg);
    if (problem) {
      fprintf(stderr, _("agent-runner install --system: %s\nnot installing\n"), problem);
      return AR_EXIT_CONFIG;
    }
  }

  g_autofree char *unit = arc_systemd_unit_name(project);
  /* One monitor for all projects of the manager: no per-project drop-in. */
  g_autofree char *munit = arc_systemd_monitor_unit_name();
  g_autofree char *link = arc_systemd_config_link_path(o->system, project);
  g_autofree char *dropin = arc_systemd_dropin_path(o->system, unit);
  g_autofree char *content = dropin_content(o, cfg, TRUE);

  if (o->dry_run)
    printf(_("dry run: nothing is written and nothing is called\n"));
  g_autofree char *activation = activation_path(o->system, project);
  g_autofree char *acontent_bus = activation_content(o, cfg);
  if (!write_link(o, link, cfg->config_path, &error) || !write_dropin(o, dropin, content, &error) ||
      !write_dropin(o, activation, acontent_bus, &error)) {
    fprintf(stderr, "agent-runner install: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  if (o->system) {
    /* The service runs as run_as: it needs its own right to the bus name,
     * and polkit actions it owns to ask about other callers. */
    g_autofree char *policy = ar_bus_policy_path(project);
    g_autofree char *action = ar_polkit_policy_path(project);
    g_autofree char *pcontent = NULL;
    g_autofree char *acontent = NULL;
    if (!system_policies(o, cfg, &pcontent, &acontent, &error) ||
        !write_dropin(o, policy, pcontent, &error) || !write_dropin(o, action, acontent, &error) ||
        !arc_dbus_reload_config(o->dry_run, &error)) {
      fprintf(stderr, "agent-runner install: %s\n", error->message);
      return AR_EXIT_FAILURE;
    }
  }

  g_autoptr(ArcSystemd) sd = arc_systemd_new(o->system, o->dry_run, &error);
  if (!sd) {
    fprintf(stderr, "agent-runner install: %s\n", error->message);
    if (!o->system) {
      g_autofree char *advice = arc_systemd_linger_advice(g_get_user_name());
      fprintf(stderr, _("  Is your user manager running? (log in, or enable linger)\n  %s\n"),
              advice);
    }
    return AR_EXIT_FAILURE;
  }
  if (!arc_systemd_reload(sd, &error))
    goto fail;
  if (!o->dry_run) {
    g_auto(ArcUnitState) st = { 0 };
    if (arc_systemd_get_unit_state(sd, unit, &st, NULL) &&
        g_str_equal(st.load_state, "not-found")) {
      fprintf(stderr,
              _("agent-runner install: the %s manager has no agent-runner@.service template "
                "(installed with agent-runner to %s); install agent-runner first (meson "
                "install), then run install again\n"),
              o->system ? "system" : "user",
              o->system ? SYSTEMD_SYSTEM_UNIT_DIR : SYSTEMD_USER_UNIT_DIR);
      return AR_EXIT_FAILURE;
    }
  }
  if (!arc_systemd_enable(sd, unit, &error) ||
      (o->monitor && !arc_systemd_enable(sd, munit, &error)))
    goto fail;

  if (o->system || o->no_start) {
    if (o->dry_run)
      printf(_("(dry run) "));
    printf(o->system ? _("installed and enabled %s (starts at boot); start it now with:\n"
                         "  sudo systemctl start %s\n")
                     : _("installed and enabled %s; start it with:\n  agent-runner start "
                         "(or systemctl --user start %s)\n"),
           unit, unit);
  } else {
    /* A failed start job (e.g. exit 78) leaves the unit failed and not
     * restarted: say so and point at the journal. */
    if (!arc_systemd_start_unit(sd, unit, START_TIMEOUT_S, &error))
      goto fail;
    if (o->monitor && !arc_systemd_start_unit(sd, munit, START_TIMEOUT_S, &error))
      goto fail;
    printf(o->dry_run ? _("would be running: %s\n") : _("running: %s\n"), unit);
    printf(_("  status: agent-runner status    logs: journalctl --user -u %s\n"), unit);
  }
  linger_note(o);
  return AR_EXIT_OK;

fail:
  fprintf(stderr, "agent-runner install: %s\n", error->message);
  return AR_EXIT_FAILURE;
}

int
arc_verb_install(ArcContext *ctx, int argc, char **argv)
{
  InstallOpts o = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *run_as = NULL;
  GOptionEntry entries[] = {
    { "monitor", 0, 0, G_OPTION_ARG_NONE, &o.monitor,
      N_("Also enable agent-runner-monitor.service (one for all projects)"), NULL },
    { "no-start", 0, 0, G_OPTION_ARG_NONE, &o.no_start, N_("Enable, but do not start"), NULL },
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &o.dry_run,
      N_("Print every file and every D-Bus call; change nothing"), NULL },
    { "force", 0, 0, G_OPTION_ARG_NONE, &o.force,
      N_("Take over the project name from another config"), NULL },
    { "path", 0, 0, G_OPTION_ARG_STRING, &path,
      N_("PATH for the unit (default: this shell's PATH)"), N_("DIRS") },
    { "run-as", 0, 0, G_OPTION_ARG_STRING, &run_as,
      N_("--system: the user the unit runs as (default: $SUDO_USER)"), N_("USER") },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1) {
    fprintf(stderr, _("agent-runner install: unexpected argument \"%s\"\n"), argv[1]);
    return AR_EXIT_USAGE;
  }
  o.system = ctx->system;
  o.path = clean_path(path ? path : g_getenv("PATH"));
  o.run_as = g_steal_pointer(&run_as);
  g_autoptr(ArConfig) cfg = arc_load_config(ctx);
  int rc = cfg ? do_install(&o, cfg) : AR_EXIT_CONFIG;
  g_free(o.path);
  g_free(o.run_as);
  g_free(o.run_group);
  return rc;
}

/* ---- uninstall ------------------------------------------------------------- */

static char *
uninstall_project(ArcContext *ctx, guint *stop_timeout)
{
  *stop_timeout = 3600;
  if (ctx->project)
    return g_strdup(ctx->project);
  g_autoptr(ArConfig) cfg = arc_load_config(ctx);
  if (!cfg)
    return NULL;
  *stop_timeout = stop_timeout_s(cfg) + 30;
  return g_strdup(cfg->project);
}

int
arc_verb_uninstall(ArcContext *ctx, int argc, char **argv)
{
  gboolean dry_run = FALSE;
  GOptionEntry entries[] = {
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run,
      N_("Print what would be stopped, disabled and removed; change nothing"), NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1) {
    fprintf(stderr, _("agent-runner uninstall: unexpected argument \"%s\"\n"), argv[1]);
    return AR_EXIT_USAGE;
  }
  guint timeout = 0;
  g_autofree char *project = uninstall_project(ctx, &timeout);
  if (!project)
    return AR_EXIT_CONFIG;
  if (!ar_project_name_valid(project)) {
    fprintf(stderr, _("agent-runner uninstall: invalid project name \"%s\"\n"), project);
    return AR_EXIT_USAGE;
  }
  gboolean system = ctx->system;
  if (!dry_run) {
    /* Nothing of ours there (neither the config link nor the drop-in):
     * say so plainly instead of relaying systemd's "unit not found". */
    g_autofree char *link = arc_systemd_config_link_path(system, project);
    g_autofree char *unit = arc_systemd_unit_name(project);
    g_autofree char *dropin = arc_systemd_dropin_path(system, unit);
    struct stat lst;
    if (lstat(link, &lst) != 0 && !g_file_test(dropin, G_FILE_TEST_EXISTS)) {
      printf(_("%s is not installed (no %s): nothing to uninstall\n"), unit, link);
      return AR_EXIT_OK;
    }
  }
  if (system && geteuid() != 0 && !dry_run) {
    fprintf(stderr, _("agent-runner uninstall --system: needs root (sudo)\n"));
    return AR_EXIT_FAILURE;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(ArcSystemd) sd = arc_systemd_new(system, dry_run, &error);
  if (!sd) {
    fprintf(stderr, "agent-runner uninstall: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  g_autofree char *unit = arc_systemd_unit_name(project);
  int rc = AR_EXIT_OK;
  /* agent-runner-monitor.service watches every project: it stays. */
  const char *units[] = { unit };
  for (guint i = 0; i < G_N_ELEMENTS(units); i++) {
    g_auto(ArcUnitState) st = { 0 };
    gboolean known = dry_run || (arc_systemd_get_unit_state(sd, units[i], &st, NULL) &&
                                 !g_str_equal(st.load_state, "not-found"));
    if (!known)
      continue;
    if (dry_run || !g_str_equal(st.active_state, "inactive")) {
      if (!dry_run)
        printf(_("stopping %s (the current round finishes first; 'agent-runner stop --now' "
                 "ends it)\n"),
               units[i]);
      if (!arc_systemd_stop_unit(sd, units[i], timeout, &error)) {
        fprintf(stderr, "agent-runner uninstall: %s\n", error->message);
        g_clear_error(&error);
        rc = AR_EXIT_FAILURE;
      }
    }
    if (!arc_systemd_disable(sd, units[i], &error)) {
      fprintf(stderr, "agent-runner uninstall: %s\n", error->message);
      g_clear_error(&error);
      rc = AR_EXIT_FAILURE;
    }
  }
  for (guint i = 0; i < G_N_ELEMENTS(units); i++) {
    g_autofree char *dropin = arc_systemd_dropin_path(system, units[i]);
    remove_written(dry_run, dropin, TRUE);
  }
  g_autofree char *activation = activation_path(system, project);
  remove_written(dry_run, activation, FALSE);
  g_autofree char *link = arc_systemd_config_link_path(system, project);
  struct stat st;
  if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode))
    fprintf(stderr, _("agent-runner uninstall: %s is not a symlink; left alone\n"), link);
  else
    remove_written(dry_run, link, FALSE);
  if (system) {
    g_autofree char *policy = ar_bus_policy_path(project);
    g_autofree char *action = ar_polkit_policy_path(project);
    gboolean had_policy = g_file_test(policy, G_FILE_TEST_EXISTS);
    remove_written(dry_run, policy, FALSE);
    remove_written(dry_run, action, FALSE);
    if ((had_policy || dry_run) && !arc_dbus_reload_config(dry_run, &error)) {
      /* The stale rule only lets that user own a name nobody serves. */
      fprintf(stderr, "agent-runner uninstall: %s\n", error->message);
      g_clear_error(&error);
    }
  }
  if (!dry_run) {
    /* Leave no empty directories of ours behind. */
    g_autofree char *projects = g_path_get_dirname(link);
    g_autofree char *top = g_path_get_dirname(projects);
    if (g_rmdir(projects) == 0)
      (void)g_rmdir(top);
  }
  if (!arc_systemd_reload(sd, &error)) {
    fprintf(stderr, "agent-runner uninstall: %s\n", error->message);
    g_clear_error(&error);
    rc = AR_EXIT_FAILURE;
  }
  arc_systemd_reset_failed(sd, unit);
  if (rc == AR_EXIT_OK)
    printf(dry_run ? _("would uninstall %s\n") : _("uninstalled %s\n"), unit);
  return rc;
}
