"""Reading a transcript on the system bus (issue 12): Peek with log_tail
needs the service's user, root, or polkit's org.agentrunner.runner.
read-transcript; Peek without it stays open and says the log was
withheld. A private system bus, the real polkitd and two throwaway users.
Needs root and polkitd: exit 77 (skip) otherwise."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bus"))
from bustest import (ENDS_WITHIN, IFACE, PATH, SOURCE_ROOT, BusTestCase,  # noqa: E402
                     PrivateBus)
from test_system import ACTIONS_DIR, NAME, RULES_DIR, SYSTEM_CONF  # noqa: E402

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
        if os.geteuid() != 0 or not os.path.exists("/usr/lib/polkit-1/polkitd") or \
                not shutil.which("useradd"):
            sys.exit(77)
        super().setUp()

    def run_quiet(self, *args):
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def install_actions(self, tag):
        """The shipped actions file, or (when an older copy is installed)
        the read-transcript action on its own."""
        shipped = os.path.join(SOURCE_ROOT, "data", "polkit", "org.agentrunner.runner.policy")
        installed = os.path.join(ACTIONS_DIR, "org.agentrunner.runner.policy")
        if not os.path.exists(installed):
            shutil.copy(shipped, installed)
            self.addCleanup(os.unlink, installed)
            return
        with open(installed) as f:
            if "read-transcript" in f.read():
                return
        with open(shipped) as f:
            text = f.read()
        head, rest = text.split("<action ", 1)
        action = "<action " + rest[rest.index('<action id="org.agentrunner.runner.read-transcript"')
                                   - len("<action "):].split("</action>")[0][len("<action "):]
        extra = os.path.join(ACTIONS_DIR, f"org.agentrunner.runner.test-{tag}.policy")
        with open(extra, "w") as f:
            f.write(head + action + "</action>\n</policyconfig>\n")
        self.addCleanup(os.unlink, extra)

    def test_log_tail_needs_read_transcript(self):
        tag = "%x" % (os.getpid() & 0xfffff)
        yes, no = f"artry{tag}", f"artrn{tag}"
        for u in (yes, no):
            subprocess.run(["useradd", "-M", "-s", "/bin/sh", u], check=True)
            self.addCleanup(self.run_quiet, "userdel", u)
        d = tempfile.mkdtemp(prefix="ar-sysbus-")
        os.chmod(d, 0o755)
        self.addCleanup(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "policy.d"))
        shutil.copy(os.path.join(SOURCE_ROOT, "data", "dbus", "org.agentrunner.Runner1.conf"),
                    os.path.join(d, "policy.d"))
        with open(os.path.join(d, "system.conf"), "w") as f:
            f.write(SYSTEM_CONF.format(dir=d))
        self.install_actions(tag)
        rules = os.path.join(RULES_DIR, f"49-agent-runner-read-test-{tag}.rules")
        tmp = os.path.join(RULES_DIR, f".49-agent-runner-read-test-{tag}.tmp")
        with open(tmp, "w") as f:
            f.write(RULES.format(yes=yes, no=no))
        os.chmod(tmp, 0o644)
        os.rename(tmp, rules)
        self.addCleanup(os.unlink, rules)

        sysbus = PrivateBus(config=os.path.join(d, "system.conf"))
        self.addCleanup(sysbus.stop)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=sysbus.address)
        pk = subprocess.Popen(["/usr/lib/polkit-1/polkitd", "--no-debug"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (pk.terminate(), pk.wait()))
        sysbus.wait_name("org.freedesktop.PolicyKit1")

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
