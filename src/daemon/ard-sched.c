/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* A bus call while the agent floods its output: the daemon is then busy
 * (it reads and classifies the output as fast as the agent writes it), so
 * a Peek waits for the daemon's next turn on a CPU, not for a wakeup. On
 * Linux's EEVDF scheduler (6.6+) a runnable task is picked by its virtual
 * deadline, vruntime + slice / weight, and since 6.12 a task may ask for
 * its own slice (sched_attr.sched_runtime, 0.1-100 ms, no privilege
 * needed). A short slice gives the daemon earlier deadlines: more, shorter
 * turns, and it preempts a longer-sliced task when it wakes. Its weight,
 * and so its share of the CPU and the agent's, stay the same; the agent
 * is not niced (it is the user's work, and its builds and tests inherit
 * whatever it gets). Measured in bench/output-throughput.py, which runs
 * the daemon both ways (AGENT_RUNNER_TEST_SCHED_SLICE_US=0 keeps the
 * kernel's default).
 *
 * SCHED_FLAG_RESET_ON_FORK gives every child the default slice back, so
 * the agent and the hooks keep the kernel's default. That flag also
 * resets a negative nice and a realtime policy in children, so the slice
 * is only asked for when the daemon runs SCHED_OTHER at nice >= 0, where
 * it changes nothing else: an administrator's Nice= or
 * CPUSchedulingPolicy= is left exactly as set. Kernels before 6.12 accept
 * and ignore sched_runtime for SCHED_OTHER. */

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ard-sched.h"

/* 0.5 ms: one read of the agent's output (256 KiB of 80-byte lines) takes
 * about that long here; 0.1 ms preempted the daemon mid-read for no gain
 * in the same runs. */
#define SHORT_SLICE_US 500

#ifndef SCHED_FLAG_RESET_ON_FORK
#define SCHED_FLAG_RESET_ON_FORK 0x01
#endif

/* The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0, 48 bytes): glibc
 * 2.36 has no wrapper. */
typedef struct {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
} ArdSchedAttr;

gboolean
ard_sched_request_short_slice(void)
{
#if defined(SYS_sched_setattr) && defined(SYS_sched_getattr)
  guint64 slice_us = SHORT_SLICE_US;
  /* AGENT_RUNNER_TEST_SCHED_SLICE_US is a benchmark switch: 0 keeps the
   * kernel's default, so a run can show both. */
  const char *env = g_getenv("AGENT_RUNNER_TEST_SCHED_SLICE_US");
  if (env != NULL)
    slice_us = g_ascii_strtoull(env, NULL, 10);
  if (slice_us == 0)
    return FALSE;

  ArdSchedAttr attr;
  memset(&attr, 0, sizeof attr);
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0)
    return FALSE;
  if (attr.sched_policy != SCHED_OTHER || attr.sched_nice < 0)
    return FALSE;
  attr.size = sizeof attr;
  attr.sched_flags |= SCHED_FLAG_RESET_ON_FORK;
  attr.sched_runtime = slice_us * 1000;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) {
    g_debug("sched_setattr (slice %" G_GUINT64_FORMAT " us): %s", slice_us, g_strerror(errno));
    return FALSE;
  }
  return TRUE;
#else
  return FALSE;
#endif
}
