/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The bus name escaping of src/common/ar-names.c and the error-name table. */

#include <gio/gio.h>

#include "ar-names.h"
#include "ar-util.h"

static void
test_escape(void)
{
  static const struct {
    const char *project, *name;
  } cases[] = {
    { "work", AR_BUS_NAME_PREFIX "work" },   { "my_app.v2", AR_BUS_NAME_PREFIX "my_5fapp_2ev2" },
    { "2048", AR_BUS_NAME_PREFIX "_32048" }, { "a-b", AR_BUS_NAME_PREFIX "a-b" },
    { ".", AR_BUS_NAME_PREFIX "_2e" },       { "_", AR_BUS_NAME_PREFIX "_5f" },
    { "A9", AR_BUS_NAME_PREFIX "A9" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *name = ar_bus_name_for_project(cases[i].project);
    g_assert_cmpstr(name, ==, cases[i].name);
    g_assert_true(sd_bus_service_name_is_valid(name) > 0);
    g_autofree char *back = ar_project_from_bus_name(name);
    g_assert_cmpstr(back, ==, cases[i].project);
  }
  g_assert_null(ar_bus_name_for_project("a b"));
  g_assert_null(ar_bus_name_for_project(""));
  g_assert_null(ar_bus_name_for_project(NULL));
  g_assert_null(ar_project_from_bus_name("org.other.work"));
  g_assert_null(ar_project_from_bus_name(AR_BUS_NAME_PREFIX "_zz"));
  g_assert_null(ar_project_from_bus_name(AR_BUS_NAME_PREFIX ""));
  g_assert_null(ar_project_from_bus_name(AR_BUS_NAME_PREFIX "_20"));
}

/* Every valid project name round-trips into a valid, distinct bus name. */
static void
test_exhaustive_short(void)
{
  const char alphabet[] = "aZ09._-";
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (gsize a = 0; a < sizeof alphabet - 1; a++)
    for (gsize b = 0; b < sizeof alphabet; b++) {
      char project[3] = { alphabet[a], alphabet[b], '\0' };
      g_autofree char *name = ar_bus_name_for_project(project);
      g_assert_nonnull(name);
      g_assert_true(sd_bus_service_name_is_valid(name) > 0);
      g_autofree char *back = ar_project_from_bus_name(name);
      g_assert_cmpstr(back, ==, project);
      g_assert_true(g_hash_table_add(seen, g_steal_pointer(&name)));
    }
}

static void
test_errors(void)
{
  static const struct {
    int code;
    const char *name;
  } cases[] = {
    { AR_ERROR_NOT_RUNNING, "org.agentrunner.Error.NotRunning" },
    { AR_ERROR_INVALID_ARGS, "org.agentrunner.Error.InvalidArgs" },
    { AR_ERROR_BUSY, "org.agentrunner.Error.Busy" },
    { AR_ERROR_CONFIG, "org.agentrunner.Error.Config" },
    { AR_ERROR_ACCESS_DENIED, "org.agentrunner.Error.AccessDenied" },
    { AR_ERROR_LOCKED, "org.agentrunner.Error.Locked" },
    { AR_ERROR_NOT_FOUND, "org.agentrunner.Error.NotFound" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) e = g_error_new_literal(AR_ERROR, cases[i].code, "msg");
    g_auto(sd_bus_error) be = SD_BUS_ERROR_NULL;
    g_assert_cmpint(ar_bus_error_from_gerror(&be, e), <, 0);
    g_assert_cmpstr(be.name, ==, cases[i].name);
    g_assert_cmpstr(be.message, ==, "msg");
    g_autoptr(GError) back = NULL;
    ar_bus_error_to_gerror(&be, &back);
    g_assert_error(back, AR_ERROR, cases[i].code);
  }
  g_autoptr(GError) ns = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "later");
  g_assert_cmpstr(ar_bus_error_name(ns), ==, "org.agentrunner.Error.NotSupported");
  g_autoptr(GError) other = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");
  g_assert_cmpstr(ar_bus_error_name(other), ==, "org.agentrunner.Error.Failed");
  g_auto(sd_bus_error) denied = SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_ACCESS_DENIED, "no");
  g_autoptr(GError) back = NULL;
  ar_bus_error_to_gerror(&denied, &back);
  g_assert_error(back, AR_ERROR, AR_ERROR_ACCESS_DENIED);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/bus-names/escape", test_escape);
  g_test_add_func("/bus-names/exhaustive-short", test_exhaustive_short);
  g_test_add_func("/bus-names/errors", test_errors);
  return g_test_run();
}
