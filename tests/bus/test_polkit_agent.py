# SPDX-License-Identifier: Apache-2.0
"""The client's text polkit agent (src/client/arc-polkit-agent.c): a
mutating verb on the system bus, run on a terminal by a user polkit wants
to authenticate, starts pkttyagent --notify-fd N --fallback as systemctl
does; polkitd registers it for the client's own process and drops it when
the client ends. Without a terminal no agent is started and the call is
refused at once. polkit hands a request to a fallback agent only when the
subject sits in a logind session, which a throwaway user here has not, so
the password prompt itself is not reached (the client still ends with
"authentication is required", exit 4). A private system bus, a real
polkitd and a throwaway user; needs root: exit 77 (skip) otherwise."""

import fcntl
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time
import unittest

from bustest import DAEMON, ENDS_WITHIN, SOURCE_ROOT, BusTestCase, PrivateBus
from sysharness import ACTIONS_DIR, RULES_DIR, SYSTEM_CONF
from test_system import NAME

CLIENT = os.path.join(os.path.dirname(DAEMON), "..", "client", "agent-runner")

# Authentication as an administrator: polkit asks the subject's agent.
RULES = """polkit.addRule(function(action, subject) {{
    if (action.id == "org.agentrunner.runner.manage" && subject.user == "{user}")
        return polkit.Result.AUTH_ADMIN;
    return polkit.Result.NOT_HANDLED;
}});
"""


class PolkitAgentTest(BusTestCase):
    def setUp(self):
        if os.geteuid() != 0 or not os.path.exists("/usr/lib/polkit-1/polkitd") or \
                not shutil.which("useradd") or not shutil.which("pkttyagent"):
            sys.exit(77)
        super().setUp()

    def run_quiet(self, *args):
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def test_agent_for_the_terminal(self):
        tag = "%x" % (os.getpid() & 0xfffff)
        user = f"arpka{tag}"
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", user], check=True)
        self.addCleanup(self.run_quiet, "userdel", user)
        d = tempfile.mkdtemp(prefix="ar-pkagent-")
        os.chmod(d, 0o755)
        self.addCleanup(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "policy.d"))
        shutil.copy(os.path.join(SOURCE_ROOT, "data", "dbus", "org.agentrunner.Runner1.conf"),
                    os.path.join(d, "policy.d"))
        with open(os.path.join(d, "system.conf"), "w") as f:
            f.write(SYSTEM_CONF.format(dir=d))
        # Our own copy of the generic actions: another test (or an install)
        # may add and remove org.agentrunner.runner.policy meanwhile.
        action = os.path.join(ACTIONS_DIR, f"org.agentrunner.runner-test-pkagent-{tag}.policy")
        shutil.copy(os.path.join(SOURCE_ROOT, "data", "polkit", "org.agentrunner.runner.policy"),
                    action)
        self.addCleanup(os.unlink, action)
        rules = os.path.join(RULES_DIR, f"49-agent-runner-pkagent-{tag}.rules")
        tmp = os.path.join(RULES_DIR, f".49-agent-runner-pkagent-{tag}.tmp")
        with open(tmp, "w") as f:
            f.write(RULES.format(user=user))
        os.chmod(tmp, 0o644)
        os.rename(tmp, rules)
        self.addCleanup(os.unlink, rules)

        sysbus = PrivateBus(config=os.path.join(d, "system.conf"))
        self.addCleanup(sysbus.stop)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=sysbus.address, LC_ALL="C.UTF-8")
        # Without --no-debug polkitd logs agent registrations on stdout.
        pk_log = os.path.join(d, "polkitd.log")
        with open(pk_log, "w") as log:
            pk = subprocess.Popen(["/usr/lib/polkit-1/polkitd"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (pk.terminate(), pk.wait()))
        sysbus.wait_name("org.freedesktop.PolicyKit1")

        p = self.project(agent_env={"FAKE_SLEEP": "600"})
        os.chmod(p.dir, 0o755)
        proc = p.start("--system", env={"DBUS_SYSTEM_BUS_ADDRESS": sysbus.address})
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        sysbus.wait_name(NAME, proc=proc)
        p.wait_event("agent_spawn", proc=proc)
        argv = [CLIENT, "--system", "--project", "work", "cancel"]

        # No terminal: nobody to ask, no agent, refused at once (exit 4).
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, user=user, timeout=ENDS_WITHIN)
        self.assertEqual(r.returncode, 4, r.stderr.decode())
        self.assertIn("authentication is required", r.stderr.decode())
        self.assertNotIn("Registered Authentication Agent", read(pk_log))

        # On a terminal: pkttyagent, registered for the client's process.
        master, slave = pty.openpty()
        os.chown(os.ttyname(slave), pwd_uid(user), -1)

        def controlling_tty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        c = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, user=user,
                             start_new_session=True, preexec_fn=controlling_tty)
        os.close(slave)
        self.addCleanup(lambda: c.poll() is None and (c.kill(), c.wait()))
        out = read_until(master, b"authentication is required", c)
        # The terminal stays open until the client is done (closing it
        # would hang it up).
        rc = c.wait(timeout=ENDS_WITHIN)
        os.close(master)
        self.assertEqual(rc, 4, out.decode())
        log = read(pk_log)
        self.assertIn(f"Registered Authentication Agent for unix-process:{c.pid}:", log)
        self.assertIn("[/usr/bin/pkttyagent --notify-fd ", log)
        self.assertIn(" --fallback]", log)
        # It ended with the client: polkitd sees it leave the bus.
        deadline = time.monotonic() + ENDS_WITHIN
        while "Unregistered Authentication Agent" not in read(pk_log) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn(f"Unregistered Authentication Agent for unix-process:{c.pid}:",
                      read(pk_log))
        self.assertFalse(agents_of(user), "pkttyagent outlived the client")
        self.assertIsNone(proc.poll())
        sysbus.busctl("call", NAME, "/org/agentrunner/Runner1", "org.agentrunner.Runner1",
                      "Stop", "s", "now")
        proc.communicate(timeout=ENDS_WITHIN)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


def read_until(fd, needle, proc):
    out = b""
    deadline = time.monotonic() + ENDS_WITHIN
    while needle not in out and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 1.0)
        if fd in r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def agents_of(user):
    r = subprocess.run(["pgrep", "-u", user, "-x", "pkttyagent"], stdout=subprocess.PIPE)
    return r.stdout.split()


if __name__ == "__main__":
    unittest.main(verbosity=2)
