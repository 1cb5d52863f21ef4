# SPDX-License-Identifier: Apache-2.0
"""The daemon's short time slice (src/daemon/ard-sched.c): the daemon asks
the kernel's EEVDF scheduler for a 0.5 ms slice, and the agent it starts
(and everything the agent starts) keeps the kernel's default slice and the
daemon's nice. An administrator's negative nice leaves the daemon as it
is, so the agent inherits it as before. Read from /proc/PID/sched
(se.slice); needs Linux 6.12 or later (custom slices), else 77."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import DAEMON, DaemonTestCase, run_tests, wait_for  # noqa: E402

SHORT_NS = 500_000


def sched_slice(pid):
    with open(f"/proc/{pid}/sched") as f:
        for line in f:
            if line.startswith("se.slice"):
                return int(line.split(":")[1])
    return None


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def agent_of(daemon_pid):
    """The agent: the daemon's child (the fake agent's shell), once it has
    started its own child (sleep): then it has long been exec'd."""
    wait_for(lambda: children(daemon_pid) and children(children(daemon_pid)[0]),
             "the agent's sleep")
    return children(daemon_pid)[0]


def kernel_has_custom_slices():
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (6, 12) and sched_slice(os.getpid()) is not None


class SchedTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        if not kernel_has_custom_slices():
            self.skipTest("needs Linux 6.12+ (EEVDF custom slices) and /proc/PID/sched")
        self.default = sched_slice(os.getpid())

    def start_round(self, env=None, preexec_fn=None):
        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        d = subprocess.Popen([DAEMON, "--config", p.config_path, "--no-journal"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=p.env(env),
                             cwd=p.dir, preexec_fn=preexec_fn)
        p.procs.append(d)
        p.wait_event("round_start", proc=d)
        return d, agent_of(d.pid)

    def test_daemon_short_agent_default(self):
        if self.default == SHORT_NS:
            self.skipTest("this test runs with a 0.5 ms slice itself")
        d, agent = self.start_round()
        self.assertEqual(sched_slice(d.pid), SHORT_NS)
        self.assertEqual(sched_slice(agent), self.default)
        self.assertEqual(os.getpriority(os.PRIO_PROCESS, agent),
                         os.getpriority(os.PRIO_PROCESS, d.pid))

    def test_switch_zero_keeps_the_default(self):
        d, _ = self.start_round(env={"AGENT_RUNNER_TEST_SCHED_SLICE_US": "0"})
        self.assertEqual(sched_slice(d.pid), self.default)

    def test_negative_nice_left_alone(self):
        if os.geteuid() != 0:
            self.skipTest("a negative nice needs root")
        d, agent = self.start_round(preexec_fn=lambda: os.nice(-3))
        self.assertEqual(sched_slice(d.pid), self.default)
        self.assertEqual(os.getpriority(os.PRIO_PROCESS, agent),
                         os.getpriority(os.PRIO_PROCESS, d.pid))


if __name__ == "__main__":
    run_tests()
