/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "arm-monitor.h"

/* Remote projects on the web page: grouped by host (this host's first,
 * then each host under its own heading), "host" in their JSON, and
 * "unreachable" while their host's connection is down. */

static ArmProject *
add(ArmMonitor *mon, const char *host, const char *project)
{
  g_autofree char *bus_name = g_strconcat("org.agentrunner.Runner1.", project, NULL);
  g_autofree char *name = host ? g_strconcat(host, "/", project, NULL) : g_strdup(project);
  ArmProject *p = arm_project_new(mon, bus_name, name);
  if (host) {
    g_free(p->key);
    p->key = g_strconcat(host, "/", bus_name, NULL);
    p->host = g_strdup(host);
  }
  g_hash_table_insert(mon->projects, p->key, p);
  return p;
}

static void
test_grouped_by_host(void)
{
  ArmMonitor mon = { 0 };
  mon.projects =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)arm_project_free);
  add(&mon, NULL, "zeta");
  add(&mon, "pi", "alpha");
  ArmProject *vm = add(&mon, "a-vm", "beta");
  add(&mon, NULL, "alpha");
  vm->unreachable = TRUE;

  ArmWebModel *m = arm_web_model_new();
  g_autofree char *html = arm_web_model_html(m, &mon);
  const char *order[] = {
    "data-project=\"alpha\"",     "data-project=\"zeta\"",      "<h2 class=\"host\">a-vm</h2>",
    "data-project=\"a-vm/beta\"", "<h2 class=\"host\">pi</h2>", "data-project=\"pi/alpha\"",
  };
  const char *at = html;
  for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
    const char *next = strstr(at, order[i]);
    if (!next)
      g_error("%s missing or out of order in:\n%s", order[i], html);
    at = next;
  }
  g_autofree char *json = arm_web_model_project_json(m, vm);
  g_assert_nonnull(strstr(json, "\"host\":\"a-vm\""));
  g_assert_nonnull(strstr(json, "\"state\":\"unreachable\""));
  g_autoptr(GPtrArray) sorted = arm_web_sorted_projects(&mon);
  g_assert_null(((ArmProject *)g_ptr_array_index(sorted, 0))->host);
  arm_web_model_free(m);
  g_hash_table_unref(mon.projects);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/monitor/web-grouped-by-host", test_grouped_by_host);
  return g_test_run();
}
