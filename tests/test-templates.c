/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The files install --system writes from data/templates, filled for a
 * hostile project and user name: every value is escaped, no placeholder is
 * left, xmllint finds them well formed and valid against the DTDs, and
 * dbus-daemon accepts the bus policy (src/common/ar-template.c). */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ar-names.h"
#include "ar-template.h"
#include "ar-test-util.h"

/* Valid as a project name ([A-Za-z0-9._-]+) yet awkward: "--" would end
 * an XML comment, dots and underscores are escaped in the bus name. */
#define HOSTILE_PROJECT "-x--y.._z"
/* Not a possible user name, but the filler must not trust that. */
#define HOSTILE_USER "a<b>&\"c'--d"

#define BUS_DTD    "/usr/share/xml/dbus-1/busconfig.dtd"
#define POLKIT_DTD "/usr/share/polkit-1/policyconfig-1.dtd"

typedef struct {
  char *dir;
  char *policy; /* the bus policy, filled */
  char *actions;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp("ar-templates-XXXXXX", NULL);
  g_assert_nonnull(f->dir);
  g_autofree char *name = ar_bus_name_for_project(HOSTILE_PROJECT);
  g_autofree char *prefix = ar_polkit_project_prefix(HOSTILE_PROJECT);
  const char *const kv[] = {
    "PROJECT", HOSTILE_PROJECT, "USER", HOSTILE_USER, "BUS_NAME",
    name,      "ACTION_PREFIX", prefix, NULL,
  };
  g_autoptr(GError) error = NULL;
  f->policy = ar_template_load_xml("org.agentrunner.Runner1.PROJECT.conf.in", kv, &error);
  g_assert_no_error(error);
  f->actions = ar_template_load_xml("org.agentrunner.runner.PROJECT.policy.in", kv, &error);
  g_assert_no_error(error);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  ar_test_rm_rf(f->dir);
  g_free(f->dir);
  g_free(f->policy);
  g_free(f->actions);
}

static char *
write_file(Fixture *f, const char *name, const char *content)
{
  char *path = g_build_filename(f->dir, name, NULL);
  g_assert_true(g_file_set_contents(path, content, -1, NULL));
  return path;
}

static void
xmllint(const char *path, const char *dtd)
{
  g_autofree char *xmllint = g_find_program_in_path("xmllint");
  if (!xmllint) {
    g_test_skip("xmllint missing (apt-get install libxml2-utils)");
    return;
  }
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, xmllint);
  g_ptr_array_add(argv, "--noout");
  g_ptr_array_add(argv, "--nonet");
  if (g_file_test(dtd, G_FILE_TEST_EXISTS)) {
    g_ptr_array_add(argv, "--dtdvalid");
    g_ptr_array_add(argv, (char *)dtd);
  }
  g_ptr_array_add(argv, (char *)path);
  g_ptr_array_add(argv, NULL);
  g_autofree char *err = NULL;
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                             NULL, NULL, &err, &status, NULL));
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("xmllint %s: %s", path, err);
}

static void
test_values_escaped(Fixture *f, gconstpointer data)
{
  for (const char *const *t = (const char *const[]){ f->policy, f->actions, NULL }; *t; t++) {
    g_assert_null(strstr(*t, HOSTILE_USER));
    g_assert_nonnull(strstr(*t, "a&lt;b&gt;&amp;&quot;c&apos;--d"));
    /* Nothing left to fill. */
    g_assert_null(g_regex_match_simple("@[A-Z_]+@", *t, 0, 0) ? "placeholder" : NULL);
  }
  g_assert_nonnull(strstr(f->policy, "<allow own=\"org.agentrunner.Runner1.-x--y_2e_2e_5fz\"/>"));
  for (const char *a = "manage\0upgrade\0read-transcript\0"; *a; a += strlen(a) + 1) {
    g_autofree char *id =
        g_strdup_printf("<action id=\"org.agentrunner.runner.-x--y_2e_2e_5fz.%s\">", a);
    g_assert_nonnull(strstr(f->actions, id));
  }
}

static void
test_xmllint(Fixture *f, gconstpointer data)
{
  g_autofree char *policy = write_file(f, "policy.conf", f->policy);
  g_autofree char *actions = write_file(f, "actions.policy", f->actions);
  xmllint(policy, BUS_DTD);
  xmllint(actions, POLKIT_DTD);
}

/* dbus-daemon reads the policy as one of its system.d files: it prints its
 * address once the whole configuration is loaded, or exits on an error. */
static void
test_dbus_daemon_accepts_policy(Fixture *f, gconstpointer data)
{
  g_autofree char *daemon = g_find_program_in_path("dbus-daemon");
  if (!daemon) {
    g_test_skip("dbus-daemon missing");
    return;
  }
  g_autofree char *policy = write_file(f, "policy.conf", f->policy);
  g_autofree char *config_text = g_strdup_printf(
      "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig>\n"
      "  <type>custom</type>\n"
      "  <listen>unix:path=%s/bus</listen>\n"
      "  <policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/></policy>\n"
      "  <include>%s</include>\n"
      "</busconfig>\n",
      f->dir, policy);
  g_autofree char *config = write_file(f, "bus.conf", config_text);
  g_autofree char *config_arg = g_strconcat("--config-file=", config, NULL);
  char *argv[] = { daemon, config_arg, "--nofork", "--nopidfile", "--print-address=1", NULL };
  GPid pid = 0;
  int out = -1, err = -1;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                         &pid, NULL, &out, &err, &error));
  g_assert_no_error(error);
  /* The address line, or EOF when it gave up on the configuration. */
  char line[512] = "";
  gsize got = 0;
  for (;;) {
    ssize_t n = read(out, line + got, sizeof line - 1 - got);
    if (n <= 0)
      break;
    got += (gsize)n;
    if (memchr(line, '\n', got) || got == sizeof line - 1)
      break;
  }
  line[got] = '\0';
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  g_spawn_close_pid(pid);
  char errbuf[2048] = "";
  ssize_t n = read(err, errbuf, sizeof errbuf - 1);
  errbuf[n > 0 ? n : 0] = '\0';
  close(out);
  close(err);
  if (!g_str_has_prefix(line, "unix:"))
    g_error("dbus-daemon refused the bus policy: %s", errbuf);
}

static void
test_missing_value_is_an_error(void)
{
  g_autoptr(GError) error = NULL;
  const char *const kv[] = { "USER", "u", NULL };
  g_autofree char *text = ar_template_fill_xml("<a b=\"@USER@\">@PROJECT@ me@host</a>", kv, &error);
  g_assert_null(text);
  g_assert_nonnull(strstr(error->message, "@PROJECT@"));
  g_clear_error(&error);
  const char *const kv2[] = { "USER", "u&v", "PROJECT", "p", NULL };
  g_autofree char *ok =
      ar_template_fill_xml("<a b=\"@USER@\">@PROJECT@ me@host @</a>", kv2, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(ok, ==, "<a b=\"u&amp;v\">p me@host @</a>");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/templates/values-escaped", Fixture, NULL, fixture_set_up, test_values_escaped,
             fixture_tear_down);
  g_test_add("/templates/xmllint", Fixture, NULL, fixture_set_up, test_xmllint, fixture_tear_down);
  g_test_add("/templates/dbus-daemon-accepts-policy", Fixture, NULL, fixture_set_up,
             test_dbus_daemon_accepts_policy, fixture_tear_down);
  g_test_add_func("/templates/missing-value-is-an-error", test_missing_value_is_an_error);
  return g_test_run();
}
