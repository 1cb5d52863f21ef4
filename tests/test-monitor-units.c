/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib.h>

#include "ar-config-keys.h"
#include "arm-monitor.h"

/* The monitor's detector table and the names [monitor] auto_stop_on
 * accepts (ar_known_detectors) are two lists of one set: they must not
 * drift apart. */
static void
test_detector_names(void)
{
  guint n = 0;
  const ArmDetector *table = arm_detectors(&n);
  guint known = g_strv_length((char **)ar_known_detectors);
  g_assert_cmpuint(n, ==, known);
  for (guint i = 0; i < n; i++) {
    g_assert_true(g_strv_contains(ar_known_detectors, table[i].name));
    g_assert_nonnull(table[i].eval);
    for (guint j = 0; j < i; j++)
      g_assert_cmpstr(table[i].name, !=, table[j].name);
  }
}

/* A detector is a pure function of the project's state: a fresh project
 * (nothing known yet) raises nothing. */
static void
test_fresh_project_is_quiet(void)
{
  ArmMonitor mon = { 0 };
  ArmProject *p = arm_project_new(&mon, "org.agentrunner.Runner1.x", "x");
  guint n = 0;
  const ArmDetector *table = arm_detectors(&n);
  for (guint i = 0; i < n; i++) {
    g_autofree char *message = NULL;
    g_assert_false(table[i].eval(p, &table[i], g_get_real_time(), &message));
    g_assert_null(message);
  }
  arm_project_free(p);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/monitor/detector-names", test_detector_names);
  g_test_add_func("/monitor/fresh-project-is-quiet", test_fresh_project_is_quiet);
  return g_test_run();
}
