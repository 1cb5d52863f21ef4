# SPDX-License-Identifier: Apache-2.0
"""The per-round cgroup (src/daemon/ard-cgroup.c): where the service's
cgroup is delegated (systemd's Delegate=yes marks it with the
trusted.delegate / user.delegate xattr), each round's agent runs in
<service cgroup>/round-N, and a daemon restarted after kill -9 ends every
process still in it, even one that left the round's session and dropped
its token. A real cgroup2 tree, created here (needs root; else 77)."""

import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from daemontest import DAEMON, ENDS_WITHIN, DaemonTestCase, pid_alive, run_tests, wait_for  # noqa: E402


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.startswith("cgroup2 ") and left.split()[3] == "/":
                return left.split()[4]
    return None


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


class CgroupTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        mount = cgroup2_mount()
        if os.geteuid() != 0 or mount is None:
            self.skipTest("needs root and a cgroup2 mount")
        own = cgroup_of(os.getpid())
        self.cg = os.path.join(mount, own.lstrip("/"), f"ar-test-{uuid.uuid4().hex[:8]}")
        try:
            os.mkdir(self.cg)
            os.setxattr(self.cg, "trusted.delegate", b"1")
        except OSError as e:
            self.skipTest(f"cannot create a delegated cgroup: {e}")
        self.addCleanup(self.remove_cgroup, self.cg)

    def remove_cgroup(self, path):
        for sub in os.listdir(path):
            if os.path.isdir(os.path.join(path, sub)):
                self.remove_cgroup(os.path.join(path, sub))
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
        deadline = time.monotonic() + 10
        while True:
            try:
                os.rmdir(path)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def start_in_cgroup(self, p, *args):
        """The daemon as a Delegate=yes unit starts it: in the delegated
        cgroup from its first instruction on."""
        procs = os.path.join(self.cg, "cgroup.procs")

        def join():
            with open(procs, "w") as f:
                f.write("0")

        d = subprocess.Popen([DAEMON, "--config", p.config_path, "--no-journal", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=p.env(None),
                             cwd=p.dir, preexec_fn=join)
        p.procs.append(d)
        return d

    def test_round_cgroup_ends_escapees_after_kill9(self):
        p = self.project("escape-and-wait")
        pidfile = os.path.join(p.dir, "escapee.pid")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile})
        d = self.start_in_cgroup(p)
        wait_for(lambda: os.path.exists(pidfile), "the agent's escapee")
        escapee = int(p.read(pidfile))
        round_cg = os.path.join(self.cg, "round-1")
        self.addCleanup(lambda: pid_alive(escapee) and os.kill(escapee, 9))
        # The agent joined before exec: what it started is in there too.
        self.assertEqual(cgroup_of(escapee), cgroup_of(d.pid) + "/round-1")
        self.assertEqual(p.state()["round_procs"]["cgroup"], round_cg)
        d.kill()
        d.wait()
        time.sleep(0.3)
        self.assertTrue(pid_alive(escapee), "precondition: the escapee survives the kill")
        p.agent = "succeed"
        p.write_config()
        d = self.start_in_cgroup(p, "--max-rounds", "1")
        _, err = d.communicate(timeout=ENDS_WITHIN)
        self.assertEqual(d.returncode, 0, err)
        self.assertFalse(pid_alive(escapee), "the escapee of the killed round survived")
        ev = p.events("round_leftovers_killed")
        self.assertEqual(len(ev), 1, p.kinds())
        self.assertTrue(ev[0]["after_restart"])
        self.assertIn(escapee, {e["pid"] for e in ev[0]["processes"]})
        # Both rounds' cgroups are gone: the killed one's and the clean one's.
        self.assertEqual([x for x in os.listdir(self.cg) if x.startswith("round-")], [])

    def test_no_delegation_no_cgroup(self):
        os.removexattr(self.cg, "trusted.delegate")
        p = self.project("escape-and-wait")
        pidfile = os.path.join(p.dir, "escapee.pid")
        p.write_config(agent_env={"FAKE_PIDFILE": pidfile})
        d = self.start_in_cgroup(p)
        wait_for(lambda: os.path.exists(pidfile), "the agent's escapee")
        escapee = int(p.read(pidfile))
        self.addCleanup(lambda: pid_alive(escapee) and os.kill(escapee, 9))
        self.assertNotIn("cgroup", p.state()["round_procs"])
        self.assertEqual(cgroup_of(escapee), cgroup_of(d.pid))
        d.kill()
        d.wait()


if __name__ == "__main__":
    run_tests()
