# SPDX-License-Identifier: Apache-2.0
"""Reading a transcript on the system bus: Peek with log_tail
needs the service's user, root, or polkit's org.agentrunner.runner.
read-transcript; Peek without it stays open and says the log was
withheld. A private system bus, the real polkitd and two throwaway users.
Needs root and polkitd: exit 77 (skip) otherwise."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bus"))
from bustest import ENDS_WITHIN, IFACE, PATH, SOURCE_ROOT, BusTestCase  # noqa: E402
from sysharness import (ACTIONS_DIR, add_users, have_polkit, install_actions, install_rule,  # noqa: E402
                        private_system_bus, start_polkitd)
from test_system import NAME  # noqa: E402

RULES = """polkit.addRule(function(action, subject) {{
    if (action.id == "org.agentrunner.runner.read-transcript") {{
        if (subject.user == "{yes}") return polkit.Result.YES;
        if (subject.user == "{no}") return polkit.Result.NO;
    }}
    return polkit.Result.NOT_HANDLED;
}});
"""


class TranscriptAccessTest(BusTestCase):
    def setUp(self):
        if not have_polkit():
            sys.exit(77)
        super().setUp()

    def test_log_tail_needs_read_transcript(self):
        yes, no, tag = add_users(self, "artr")
        install_actions(self, tag)
        install_rule(self, f"49-agent-runner-read-test-{tag}", RULES.format(yes=yes, no=no))
        sysbus = private_system_bus(self)
        env = start_polkitd(self, sysbus)

        p = self.project("sleep", agent_env={"FAKE_SLEEP": "600"})
        os.chmod(p.dir, 0o755)
        proc = p.start("--system", env={"DBUS_SYSTEM_BUS_ADDRESS": sysbus.address})
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        sysbus.wait_name(NAME, proc=proc)
        p.wait_event("agent_spawn", proc=proc)

        def peek(user, log_tail):
            args = ["1", "log_tail", "u", str(log_tail)] if log_tail else ["0"]
            return sysbus.busctl("--json=short", "call", NAME, PATH, IFACE, "Peek", "a{sv}",
                                 *args, user=user, check=False)

        # Without the log: everyone, and it says the log is withheld.
        r = peek(no, 0)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        doc = json.loads(json.loads(r.stdout)["data"][0])
        self.assertTrue(doc["current_round"]["log_withheld"])
        self.assertIsNone(doc["current_round"]["log_tail"])
        # With it: refused for a user polkit says no to.
        r = peek(no, 20)
        self.assertNotEqual(r.returncode, 0)
        # gdbus shows the error's name and text (busctl only "Access denied").
        r = subprocess.run(["gdbus", "call", "--system", "--dest", NAME, "--object-path", PATH,
                            "--method", IFACE + ".Peek", "{'log_tail': <uint32 20>}"], env=env,
                           user=no, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=ENDS_WITHIN)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", r.stderr.decode())
        self.assertIn("not authorized to read", r.stderr.decode())
        # Allowed by polkit, and for root (the owner here) without asking.
        for u in (yes, None):
            r = peek(u, 20)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            doc = json.loads(json.loads(r.stdout)["data"][0])
            self.assertNotIn("log_withheld", doc["current_round"])
            self.assertTrue(any("sleeping" in line for line in doc["current_round"]["log_tail"]))
        sysbus.busctl("call", NAME, PATH, IFACE, "Stop", "s", "now")
        proc.communicate(timeout=ENDS_WITHIN)


if __name__ == "__main__":
    unittest.main(verbosity=2)
