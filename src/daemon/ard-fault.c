/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-fault.h"

static gboolean faults_enabled;

void
ard_fault_init(gboolean enabled)
{
  faults_enabled = enabled;
}

gboolean
ard_fault(const char *which)
{
  return faults_enabled && g_strcmp0(g_getenv(ARD_FAULT_ENV), which) == 0;
}
