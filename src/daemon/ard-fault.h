/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Test-only fault switches: AGENT_RUNNER_TEST_UPGRADE_FAULT=which makes
 * the upgrade in place fail at one chosen step (the upgrade tests drive
 * every failure path with it). Only the daemon's test build turns them on
 * (ard-main.c); in a production build ard_fault() is always FALSE. A leaf:
 * the upgrade, the round adoption and main all ask it, it asks nobody. */

#include <glib.h>

G_BEGIN_DECLS

#define ARD_FAULT_ENV "AGENT_RUNNER_TEST_UPGRADE_FAULT"

/* Called first in main(): enabled in the test build only. */
void ard_fault_init(gboolean enabled);
/* TRUE in a test build with ARD_FAULT_ENV=which set. */
gboolean ard_fault(const char *which);

G_END_DECLS
