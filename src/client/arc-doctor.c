/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* agent-runner doctor: one screen on whether the project can run as a
 * service, each line with the fix. Read-only: it connects to the manager,
 * logind, the bus and the journal, and changes nothing.
 *
 *   ✓ config            /home/me/app/agent-runner.toml: all startup checks pass
 *   ✓ agent_on_unit_path /home/me/.local/bin/claude
 *   ✓ user_manager      systemd 252 reachable
 *   ✗ linger            off  →  sudo loginctl enable-linger me
 *   ...
 *
 * Exit 0 when nothing fails (warnings allowed), 1 otherwise. */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <systemd/sd-journal.h>

#include "ar-json.h"
#include "ar-names.h"
#include "ar-prompt.h"
#include "ar-util.h"
#include "arc-client.h"
#include "arc-systemd.h"

typedef enum {
  CHECK_OK,
  CHECK_WARN,
  CHECK_FAIL,
  CHECK_SKIP,
} CheckStatus;

static const char *const status_names[] = { "ok", "warn", "fail", "skip" };

typedef struct {
  const char *name;
  CheckStatus status;
  char *detail;
  char *fix;
} DoctorCheck;

static void
doctor_check_free(DoctorCheck *c)
{
  g_free(c->detail);
  g_free(c->fix);
  g_free(c);
}

static void
add(GPtrArray *checks, const char *name, CheckStatus status, char *detail, char *fix)
{
  DoctorCheck *c = g_new0(DoctorCheck, 1);
  c->name = name;
  c->status = status;
  c->detail = detail;
  c->fix = fix;
  g_ptr_array_add(checks, c);
}

typedef struct {
  gboolean system;
  char *project;
  ArConfig *cfg; /* NULL when it does not load */
  char *unit;
  char *unit_path; /* PATH the unit gets (drop-in), or NULL */
  ArcSystemd *sd;  /* NULL when the manager is unreachable */
} Doctor;

static const char *
ctl(const Doctor *d)
{
  return d->system ? "sudo systemctl" : "systemctl --user";
}

static void
check_config(Doctor *d, GPtrArray *checks, const char *config_error)
{
  if (!d->cfg) {
    add(checks, "config", CHECK_FAIL, g_strdup(config_error ? config_error : _("not loaded")),
        g_strdup(_("fix the config ('agent-runner config check'), or pass --config")));
    return;
  }
  gboolean ok = FALSE;
  g_autoptr(GPtrArray) battery = ar_startup_checks(d->cfg, d->unit_path, &ok);
  if (ok) {
    add(checks, "config", CHECK_OK,
        g_strdup_printf(_("%s: all startup checks pass"), d->cfg->config_path), NULL);
    return;
  }
  g_autoptr(GString) failed = g_string_new(NULL);
  const char *hint = NULL;
  for (guint i = 0; i < battery->len; i++) {
    ArCheck *c = g_ptr_array_index(battery, i);
    if (c->ok || g_str_equal(c->name, "agent_cli_in_path"))
      continue;
    g_string_append_printf(failed, "%s%s (%s)", failed->len ? ", " : "", c->name,
                           c->detail ? c->detail : "");
    if (!hint)
      hint = c->hint;
  }
  if (failed->len == 0)
    add(checks, "config", CHECK_OK,
        g_strdup_printf(_("%s loads (agent PATH: see below)"), d->cfg->config_path), NULL);
  else
    add(checks, "config", CHECK_FAIL, g_string_free(g_steal_pointer(&failed), FALSE),
        g_strdup(hint ? hint : _("run 'agent-runner config check'")));
}

static void
check_agent_path(Doctor *d, GPtrArray *checks)
{
  if (!d->cfg) {
    add(checks, "agent_on_unit_path", CHECK_SKIP, g_strdup(_("no config")), NULL);
    return;
  }
  g_autofree char *found = ar_config_find_agent(d->cfg, d->unit_path);
  if (found) {
    add(checks, "agent_on_unit_path", CHECK_OK,
        d->unit_path ? g_steal_pointer(&found)
                     : g_strdup_printf(_("%s (this shell's PATH; not installed yet)"), found),
        NULL);
    return;
  }
  g_autofree char *path = ar_config_agent_path_env(d->cfg, d->unit_path);
  add(checks, "agent_on_unit_path", CHECK_FAIL,
      g_strdup_printf(_("\"%s\" not found on the unit's PATH=%s"),
                      d->cfg->command && d->cfg->command[0] ? d->cfg->command[0] : "", path),
      g_strdup_printf(_("add its directory to [agent] path, or run 'agent-runner install%s' "
                        "again from a shell where '%s' works"),
                      d->system ? " --system" : "",
                      d->cfg->command && d->cfg->command[0] ? d->cfg->command[0] : ""));
}

static void
check_manager(Doctor *d, GPtrArray *checks)
{
  const char *name = d->system ? "system_manager" : "user_manager";
  g_autoptr(GError) error = NULL;
  gboolean supported = TRUE;
  g_autofree char *distro = arc_systemd_distro_advice(&supported);
  if (!supported) {
    add(checks, name, CHECK_FAIL, g_steal_pointer(&distro),
        g_strdup(_("use 'agent-runner serve' under your init system")));
    return;
  }
  d->sd = arc_systemd_new(d->system, FALSE, &error);
  g_autofree char *version = d->sd ? arc_systemd_version(d->sd, &error) : NULL;
  if (!version) {
    g_clear_pointer(&d->sd, arc_systemd_free);
    add(checks, name, CHECK_FAIL, g_strdup(error->message),
        d->system ? g_strdup(_("is systemd PID 1 here?"))
                  : g_strdup_printf(_("log in (or enable linger: sudo loginctl enable-linger "
                                      "%s), and make sure XDG_RUNTIME_DIR is set"),
                                    g_get_user_name()));
    return;
  }
  add(checks, name, CHECK_OK, g_strdup_printf(_("systemd %s reachable"), version), NULL);
}

static void
check_linger(Doctor *d, GPtrArray *checks)
{
  if (d->system) {
    add(checks, "linger", CHECK_SKIP, g_strdup(_("not needed for a system unit")), NULL);
    return;
  }
  gboolean linger = FALSE;
  g_autoptr(GError) error = NULL;
  if (!arc_logind_get_linger(getuid(), &linger, &error)) {
    add(checks, "linger", CHECK_WARN, g_strdup_printf(_("unknown: %s"), error->message),
        g_strdup_printf(_("for unattended use: sudo loginctl enable-linger %s"),
                        g_get_user_name()));
    return;
  }
  if (linger) {
    add(checks, "linger", CHECK_OK, g_strdup(_("on")), NULL);
    return;
  }
  add(checks, "linger", CHECK_WARN, arc_systemd_distro_advice(NULL),
      g_strdup_printf("sudo loginctl enable-linger %s", g_get_user_name()));
}

static void
check_unit(Doctor *d, GPtrArray *checks, ArcUnitState *st, gboolean *have_state)
{
  g_autofree char *link = arc_systemd_config_link_path(d->system, d->project);
  g_autofree char *target = g_file_read_link(link, NULL);
  g_autofree char *fix = g_strdup_printf("agent-runner install%s", d->system ? " --system" : "");
  if (!arc_systemd_unit_installed(d->system, d->project)) {
    add(checks, "unit_installed", CHECK_FAIL,
        g_strdup_printf(_("%s is not installed (%s missing)"), d->unit, link),
        g_steal_pointer(&fix));
    add(checks, "unit_enabled", CHECK_SKIP, g_strdup(_("not installed")), NULL);
    return;
  }
  if (d->cfg && target && !g_str_equal(target, d->cfg->config_path)) {
    add(checks, "unit_installed", CHECK_WARN,
        g_strdup_printf(_("%s points to %s, not to %s"), link, target, d->cfg->config_path),
        g_strdup_printf("agent-runner install --force%s", d->system ? " --system" : ""));
  } else if (target && !g_file_test(link, G_FILE_TEST_EXISTS)) {
    add(checks, "unit_installed", CHECK_FAIL,
        g_strdup_printf(_("%s points to %s, which is gone"), link, target),
        g_strdup_printf(_("agent-runner uninstall%s --project %s"), d->system ? " --system" : "",
                        d->project));
  } else {
    add(checks, "unit_installed", CHECK_OK, g_strdup_printf("%s -> %s", link, target), NULL);
  }
  if (!d->sd) {
    add(checks, "unit_enabled", CHECK_SKIP, g_strdup(_("manager unreachable")), NULL);
    return;
  }
  g_autoptr(GError) error = NULL;
  *have_state = arc_systemd_get_unit_state(d->sd, d->unit, st, &error);
  if (!*have_state) {
    add(checks, "unit_enabled", CHECK_FAIL, g_strdup(error->message), NULL);
    return;
  }
  if (g_str_equal(st->load_state, "not-found")) {
    add(checks, "unit_enabled", CHECK_FAIL,
        g_strdup(_("the manager has no agent-runner@.service template")),
        g_strdup(_("install agent-runner (meson install), then run 'agent-runner install' again")));
    return;
  }
  if (g_str_equal(st->unit_file_state, "enabled"))
    add(checks, "unit_enabled", CHECK_OK, g_strdup(_("enabled")), NULL);
  else
    add(checks, "unit_enabled", CHECK_WARN,
        g_strdup_printf(_("%s: does not start at boot/login"), st->unit_file_state),
        g_strdup_printf("%s enable %s", ctl(d), d->unit));
}

static void
check_running(Doctor *d, GPtrArray *checks, const ArcUnitState *st, gboolean have_state)
{
  if (have_state) {
    g_autofree char *detail =
        g_strdup_printf(_("%s (%s)%s%s, %u restart(s)"), st->active_state, st->sub_state,
                        st->status_text && *st->status_text ? ": " : "",
                        st->status_text ? st->status_text : "", st->n_restarts);
    if (g_str_equal(st->active_state, "active"))
      add(checks, "unit_active", CHECK_OK, g_steal_pointer(&detail), NULL);
    else if (g_str_equal(st->active_state, "failed"))
      add(checks, "unit_active", CHECK_FAIL,
          g_strdup_printf(_("%s; result %s, exit status %d"), detail, st->result,
                          st->exec_main_status),
          g_strdup_printf(_("journalctl%s -u %s, fix, then agent-runner start"),
                          d->system ? "" : " --user", d->unit));
    else
      add(checks, "unit_active", CHECK_WARN, g_steal_pointer(&detail),
          g_strdup(_("agent-runner start")));
  }
  g_autofree char *name = ar_bus_name_for_project(d->project);
  gboolean owned = FALSE;
  g_autoptr(GError) error = NULL;
  if (!name)
    add(checks, "bus_name", CHECK_SKIP, g_strdup(_("invalid project name")), NULL);
  else if (!arc_bus_name_has_owner(d->system, name, &owned, &error))
    add(checks, "bus_name", CHECK_WARN, g_strdup(error->message),
        g_strdup(d->system ? _("is dbus running?")
                           : _("install dbus-user-session (the user bus the service uses)")));
  else if (owned)
    add(checks, "bus_name", CHECK_OK, g_strdup_printf(_("%s owned"), name), NULL);
  else
    add(checks, "bus_name",
        have_state && g_str_equal(st->active_state, "active") ? CHECK_FAIL : CHECK_WARN,
        g_strdup_printf(_("%s not owned (the daemon is not running)"), name),
        g_strdup(_("agent-runner start")));
}

static void
check_journal(Doctor *d, GPtrArray *checks)
{
  sd_journal *j = NULL;
  int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0) {
    add(checks, "journal", CHECK_WARN, g_strdup_printf(_("cannot open: %s"), g_strerror(-r)),
        g_strdup(_("check journald")));
    return;
  }
  g_autofree char *match =
      g_strdup_printf("%s=%s", d->system ? "_SYSTEMD_UNIT" : "_SYSTEMD_USER_UNIT", d->unit);
  g_autofree char *match2 = g_strdup_printf("AGENT_RUNNER_PROJECT=%s", d->project);
  (void)sd_journal_add_match(j, match, 0);
  (void)sd_journal_add_disjunction(j);
  (void)sd_journal_add_match(j, match2, 0);
  gboolean any = sd_journal_seek_tail(j) >= 0 && sd_journal_previous(j) > 0;
  sd_journal_close(j);
  if (any)
    add(checks, "journal", CHECK_OK,
        g_strdup_printf(_("entries readable: journalctl%s -u %s"), d->system ? "" : " --user",
                        d->unit),
        NULL);
  else
    add(checks, "journal", CHECK_WARN,
        g_strdup(_("no entries of this project are readable (not run yet, or no permission)")),
        g_strdup_printf(_("sudo usermod -aG systemd-journal %s (or Storage=persistent in "
                          "journald.conf for per-user journals)"),
                        g_get_user_name()));
}

static void
print_json(const Doctor *d, GPtrArray *checks, gboolean ok)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "project", d->project);
  ar_json_add_str(b, "mode", d->system ? "system" : "user");
  ar_json_add_str(b, "unit", d->unit);
  json_builder_set_member_name(b, "ok");
  json_builder_add_boolean_value(b, ok);
  json_builder_set_member_name(b, "checks");
  json_builder_begin_array(b);
  for (guint i = 0; i < checks->len; i++) {
    DoctorCheck *c = g_ptr_array_index(checks, i);
    json_builder_begin_object(b);
    ar_json_add_str(b, "name", c->name);
    ar_json_add_str(b, "status", status_names[c->status]);
    ar_json_add_str(b, "detail", c->detail);
    ar_json_add_str(b, "fix", c->fix);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  arc_print_json(root);
}

static void
print_text(const Doctor *d, GPtrArray *checks, gboolean ok)
{
  static const char *const marks[] = { "✓", "!", "✗", "-" };
  static const char *const colors[] = { "\033[32m", "\033[33m", "\033[31m", "\033[2m" };
  printf(_("agent-runner doctor: project %s, %s (%s mode)\n"), d->project, d->unit,
         d->system ? "system" : "user");
  guint width = 0;
  for (guint i = 0; i < checks->len; i++)
    width = MAX(width, strlen(((DoctorCheck *)g_ptr_array_index(checks, i))->name));
  for (guint i = 0; i < checks->len; i++) {
    DoctorCheck *c = g_ptr_array_index(checks, i);
    printf("%s%s%s %-*s  %s\n", arc_color(colors[c->status]), marks[c->status],
           arc_color("\033[0m"), (int)width, c->name, c->detail ? c->detail : "");
    if (c->fix && (c->status == CHECK_FAIL || c->status == CHECK_WARN))
      printf("  %*s  %s%s%s\n", (int)width, _("fix:"), arc_color("\033[1m"), c->fix,
             arc_color("\033[0m"));
  }
  printf(ok ? _("\nno problems found\n") : _("\nsome checks failed\n"));
}

int
arc_verb_doctor(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc > 1) {
    fprintf(stderr, _("agent-runner doctor: unexpected argument \"%s\"\n"), argv[1]);
    return AR_EXIT_USAGE;
  }
  Doctor d = { .system = ctx->system };
  g_autoptr(GError) error = NULL;
  g_autofree char *config_error = NULL;
  g_autofree char *path = arc_config_path(ctx);
  d.cfg = ar_config_load(path, &error);
  if (!d.cfg)
    config_error = g_strdup(error->message);
  d.project = g_strdup(ctx->project ? ctx->project : d.cfg ? d.cfg->project : NULL);
  if (!d.project || !ar_project_name_valid(d.project)) {
    fprintf(stderr, "agent-runner doctor: %s\n",
            config_error ? config_error : _("invalid project name"));
    g_free(d.project);
    g_clear_pointer(&d.cfg, ar_config_unref);
    return AR_EXIT_CONFIG;
  }
  d.unit = arc_systemd_unit_name(d.project);
  d.unit_path = arc_systemd_dropin_path_env(d.system, d.project);

  g_autoptr(GPtrArray) checks = g_ptr_array_new_with_free_func((GDestroyNotify)doctor_check_free);
  g_auto(ArcUnitState) st = { 0 };
  gboolean have_state = FALSE;
  check_config(&d, checks, config_error);
  check_agent_path(&d, checks);
  check_manager(&d, checks);
  check_linger(&d, checks);
  check_unit(&d, checks, &st, &have_state);
  check_running(&d, checks, &st, have_state);
  check_journal(&d, checks);

  gboolean ok = TRUE;
  for (guint i = 0; i < checks->len; i++)
    ok = ok && ((DoctorCheck *)g_ptr_array_index(checks, i))->status != CHECK_FAIL;
  if (ctx->json)
    print_json(&d, checks, ok);
  else
    print_text(&d, checks, ok);

  g_clear_pointer(&d.sd, arc_systemd_free);
  g_clear_pointer(&d.cfg, ar_config_unref);
  g_free(d.project);
  g_free(d.unit);
  g_free(d.unit_path);
  return ok ? AR_EXIT_OK : AR_EXIT_FAILURE;
}
