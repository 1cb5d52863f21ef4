/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* docs/monitor.md's detector table, from the monitor's detector table
 * (src/monitor/arm-detectors.c). */

#include "ar-gen-docs.h"
#include "arm-monitor.h"

void
gen_monitor_md(GString *out)
{
  guint n = 0;
  const ArmDetector *detectors = arm_detectors(&n);
  g_autoptr(GString) table =
      g_string_new("| detector | severity | fires when | keys |\n|---|---|---|---|\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf(table, "| `%s` | %s | %s | %s |\n", detectors[i].name,
                           arm_severity_name(detectors[i].severity), detectors[i].condition,
                           detectors[i].keys);
  gen_splice(out, "docs/monitor.md",
             "<!-- generated: ar-gen-docs monitor-md (scripts/regen-docs.sh) -->\n",
             "<!-- end generated -->", table->str);
}
