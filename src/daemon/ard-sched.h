/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

/* Asks the kernel for a short time slice for the daemon (a latency hint,
 * not a priority), without changing what the agent and hooks inherit.
 * Best effort: FALSE when it was left alone (see ard-sched.c). */
gboolean ard_sched_request_short_slice(void);
