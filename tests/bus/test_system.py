# SPDX-License-Identifier: Apache-2.0
"""sd_notify (test-owned NOTIFY_SOCKET), the journal sink (a real
systemd-journald in a private mount namespace) and the system bus with
polkit (a private system bus, a real polkitd, throwaway users). The last
two need root and unshare: exit 77 (skip) otherwise."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from bustest import DAEMON, ENDS_WITHIN, IFACE, PATH, SOURCE_ROOT, BusTestCase, pid_alive
from sysharness import (ACTIONS_DIR, add_users, install_actions, can_unshare, have_polkit,  # noqa: F401
                        install_rule, private_system_bus, run_with_journald, start_polkitd)

NAME = "org.agentrunner.Runner1.work"


class NotifyTest(BusTestCase):
    def test_ready_after_name_status_watchdog_stopping(self):
        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        d = tempfile.mkdtemp(prefix="ar-notify-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.settimeout(ENDS_WITHIN)
        proc = p.start(env=self.env(NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000"))
        self.addCleanup(self.stop_daemon, proc)
        msgs = []
        ready_with_name = None

        def recv_until(pred):
            deadline = time.monotonic() + ENDS_WITHIN
            while time.monotonic() < deadline:
                m = sock.recv(4096).decode()
                msgs.append(m)
                if pred(m):
                    return m
            raise AssertionError(f"not received; got {msgs}")

        recv_until(lambda m: "READY=1" in m)
        # The name was owned before READY=1 was sent.
        ready_with_name = NAME in self.bus.names()
        self.assertTrue(ready_with_name)
        recv_until(lambda m: m.startswith("STATUS=round 1 running"))
        recv_until(lambda m: "WATCHDOG=1" in m)
        self.bus.call(NAME, "Stop", "s", "now")
        recv_until(lambda m: "STOPPING=1" in m)
        rc, err = self.wait_exit(proc)
        self.assertEqual(rc, 0, err)
        ready_index = next(i for i, m in enumerate(msgs) if "READY=1" in m)
        self.assertFalse(any("STOPPING=1" in m for m in msgs[:ready_index]))


JOURNAL_SCRIPT = r"""
"$DAEMON" --config "$CONFIG" --once >/dev/null 2>&1 || echo "daemon rc=$?" >&2
journalctl --sync
journalctl -o json --no-pager AGENT_RUNNER_EVENT=round_end AGENT_RUNNER_PROJECT=work
"""


class JournalTest(BusTestCase):
    def test_round_end_in_the_journal(self):
        if not can_unshare():
            sys.exit(77)
        p = self.project("succeed")
        env = dict(os.environ, DAEMON=DAEMON, CONFIG=p.config_path,
                   DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        out = run_with_journald(JOURNAL_SCRIPT, env)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        entries = [json.loads(l) for l in out.stdout.decode().splitlines() if l.strip()]
        self.assertEqual(len(entries), 1, out.stderr.decode())
        e = entries[0]
        self.assertEqual(e["AGENT_RUNNER_ROUND"], "1")
        self.assertEqual(e["AGENT_RUNNER_EXIT_CODE"], "0")
        self.assertEqual(json.loads(e["AGENT_RUNNER_PAYLOAD"])["round_num"], 1)
        self.assertIn("MESSAGE_ID", e)
        self.assertIn("Round 1 ended", e["MESSAGE"])


RULES = """polkit.addRule(function(action, subject) {{
    if (action.id == "org.agentrunner.runner.manage") {{
        if (subject.user == "{yes}") return polkit.Result.YES;
        if (subject.user == "{no}") return polkit.Result.NO;
    }}
    return polkit.Result.NOT_HANDLED;
}});
"""


class PolkitTest(BusTestCase):
    def setUp(self):
        if not have_polkit():
            sys.exit(77)
        super().setUp()

    def test_stop_needs_polkit_peek_does_not(self):
        yes, no, tag = add_users(self, "arbus")
        install_actions(self, tag)
        install_rule(self, f"49-agent-runner-test-{tag}", RULES.format(yes=yes, no=no))
        sysbus = private_system_bus(self)
        env = start_polkitd(self, sysbus)

        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        os.chmod(p.dir, 0o755)
        proc = p.start("--system", env={"DBUS_SYSTEM_BUS_ADDRESS": sysbus.address, "SYSTEMD_LOG_LEVEL": os.environ.get("AR_TEST_SDLOG", "info")})
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        sysbus.wait_name(NAME, proc=proc)
        p.wait_event("agent_spawn", proc=proc)

        # Read-only: anyone.
        for u in (yes, no):
            r = sysbus.busctl("call", NAME, PATH, IFACE, "Peek", "a{sv}", "0", user=u)
            self.assertIn("schema_version", r.stdout.decode())
        # Mutating: the rule decides.
        r = subprocess.run(["gdbus", "call", "--system", "--dest", NAME, "--object-path", PATH,
                            "--method", IFACE + ".Cancel"], env=env, user=no,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=ENDS_WITHIN)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr.decode())
        self.assertIn("not authorized", r.stderr.decode())
        r = sysbus.busctl("call", NAME, PATH, IFACE, "Stop", "s", "now", user=no, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIsNone(proc.poll())
        # The client says "access denied" with its own exit code.
        r = subprocess.run([os.path.join(os.path.dirname(DAEMON), "..", "client", "agent-runner"),
                            "--system", "--project", "work", "cancel"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, user=no,
                           timeout=ENDS_WITHIN)
        self.assertEqual(r.returncode, 4, r.stderr.decode())
        r = sysbus.busctl("call", NAME, PATH, IFACE, "Stop", "s", "now", user=yes)
        self.assertEqual(r.returncode, 0)
        out, err = proc.communicate(timeout=ENDS_WITHIN)
        self.assertEqual(proc.returncode, 0, err.decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
