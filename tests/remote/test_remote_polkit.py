# SPDX-License-Identifier: Apache-2.0
"""-H HOST --system on mutating verbs: the remote daemon runs on a system
bus (a private system-like dbus-daemon with the shipped policy, a real
polkitd and a polkit rule, as tests/bus/test_system.py), the client reaches
it over the sshd of test_remote.py as two users. The one the rule refuses
gets "not authorized" and exit 4 for cancel and stop, and the daemon goes
on; the one it allows cancels and stops. Needs root, sshd and polkitd;
exit 77 otherwise."""

import os
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_remote import DAEMON, ENDS_WITHIN, USERS, Fleet, Project, main, wait_for  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bus"))
from sysharness import (have_polkit, install_actions, install_rule,  # noqa: E402
                        private_system_bus, start_polkitd)

NAME = "org.agentrunner.Runner1.work"
RULES = """polkit.addRule(function(action, subject) {{
    if (action.id == "org.agentrunner.runner.manage") {{
        if (subject.user == "{yes}") return polkit.Result.YES;
        if (subject.user == "{no}") return polkit.Result.NO;
    }}
    return polkit.Result.NOT_HANDLED;
}});
"""


class RemotePolkitTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("sshd", path="/usr/sbin") or \
                not shutil.which("systemd-stdio-bridge") or not have_polkit():
            raise unittest.SkipTest("needs root, sshd, systemd-stdio-bridge and polkitd")
        self.fleet = Fleet()
        self.addCleanup(self.fleet.stop)

    def test_mutating_verbs_follow_the_remote_polkit(self):
        f = self.fleet
        yes, no = USERS[0], USERS[1]  # h1, h2
        tag = "remote%x" % (os.getpid() & 0xfffff)
        install_actions(self, tag)
        install_rule(self, f"49-agent-runner-test-{tag}", RULES.format(yes=yes, no=no))
        sysbus = private_system_bus(self)
        env = start_polkitd(self, sysbus)
        # The remote side's system bus is the private one: sshd (and every
        # login it serves) in a mount namespace of its own where the
        # well-known socket path leads there. systemd-stdio-bridge connects
        # to that path only (it ignores DBUS_SYSTEM_BUS_ADDRESS).
        sock = sysbus.address.split("unix:path=", 1)[1].split(",")[0]
        f.sshd.terminate()
        f.sshd.wait()
        with open(f.dir + "/sshd.log", "a") as log:
            f.sshd = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs tmpfs /run/dbus && ln -s "$1" /run/dbus/system_bus_socket && '
                 'exec /usr/sbin/sshd -D -e -f "$2"', "sh", sock, f.dir + "/sshd_config"],
                stderr=log)
        f.procs.append(f.sshd)

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", f.port)) == 0
        wait_for(listening, "sshd in its mount namespace")

        proj = Project("sleep")
        self.addCleanup(proj.cleanup)
        os.chmod(proj.dir, 0o755)
        derr_path = os.path.join(f.dir, "daemon.err")
        with open(derr_path, "w") as derr:
            daemon = subprocess.Popen([DAEMON, "--system", "--config", proj.config_path,
                                       "--no-journal"], env=proj.env(env), cwd=proj.dir,
                                      stdout=subprocess.DEVNULL, stderr=derr)
        proj.procs.append(daemon)
        sysbus.wait_name(NAME, proc=daemon)

        # Read-only over ssh: anyone.
        for host in ("h1", "h2"):
            seen = []

            def running():
                seen[:] = f.client("-H", host, "--system", "peek", "--select", "service.state")
                return seen[1].strip() == "running"
            try:
                wait_for(running, "work running, seen from " + host)
            except AssertionError as e:
                with open(f.dir + "/sshd.log") as log:
                    raise AssertionError(f"{e}: {seen}\nsshd: {log.read()[-1500:]}") from None
        # Refused by the remote polkit: exit 4, said plainly, nothing done.
        for verb in (["cancel"], ["stop", "--now"]):
            rc, out, err = f.client("-H", "h2", "--system", "--project", "work", *verb)
            self.assertEqual(rc, 4, (verb, out, err))
            self.assertIn("not authorized", err.lower(), verb)
            self.assertIsNone(daemon.poll(), verb)
        rc, out, _ = f.client("-H", "h1", "--system", "peek", "--select", "service.state")
        self.assertEqual(out.strip(), "running")
        # Allowed for the user the rule names.
        rc, _, err = f.client("-H", "h1", "--system", "--project", "work", "cancel")
        self.assertEqual(rc, 0, err)
        rc, _, err = f.client("-H", "h1", "--system", "--project", "work", "stop", "--now")
        self.assertEqual(rc, 0, err)
        daemon.wait(timeout=ENDS_WITHIN)
        with open(derr_path) as derr:
            self.assertEqual(daemon.returncode, 0, derr.read())


if __name__ == "__main__":
    main()
