# SPDX-License-Identifier: Apache-2.0
"""A remote project's alert reaches the LOCAL desktop: agent-runner-monitor
--host h1 (and agent-runner -H h1 monitor; the sshd Fleet of test_remote.py)
with a real notification server on its own session bus (dunst on Xvfb, as
tests/monitor does) shows h1/work's crash loop as a notification naming
HOST/PROJECT. Needs root, sshd, Xvfb and dunst; exit 77 otherwise."""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_monitor_remote import MONITOR, TOLERANCE_S, Lines, MonitorRemoteTest  # noqa: E402
from test_remote import CLIENT, ENDS_WITHIN, USERS, main, wait_for  # noqa: E402


class RemoteNotifyTest(unittest.TestCase):
    def setUp(self):
        # The fleet and the monitor's own bus, without inheriting its cases.
        MonitorRemoteTest.setUp(self)
        if not all(shutil.which(x) for x in ("Xvfb", "dunst", "dunstctl")):
            raise unittest.SkipTest("needs Xvfb, dunst (apt: xvfb dunst)")
        r, w = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-nolisten", "tcp"],
                                pass_fds=(w,), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        os.close(w)
        self.fleet.procs.append(xvfb)
        with os.fdopen(r) as f:
            self.display = ":" + f.readline().strip()
        self.home = tempfile.mkdtemp(prefix="ar-dunst-")
        self.addCleanup(shutil.rmtree, self.home, True)
        dunst = subprocess.Popen(["dunst"], env=self.desktop_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        self.fleet.procs.append(dunst)
        wait_for(lambda: subprocess.run(
            ["busctl", "--address=" + self.bus_address, "status",
             "org.freedesktop.Notifications"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0, "dunst on the monitor's bus")

    def desktop_env(self):
        return dict(os.environ, DISPLAY=self.display, HOME=self.home,
                    DBUS_SESSION_BUS_ADDRESS=self.bus_address)

    def dunstctl(self, *args):
        return subprocess.run(["dunstctl", *args], env=self.desktop_env(), check=True,
                              stdout=subprocess.PIPE, timeout=ENDS_WITHIN).stdout.decode()

    def test_remote_crash_loop_is_a_local_notification(self):
        self.crash_loop_notified([MONITOR, "--user", "--no-journal", "--host", "h1",
                                  "--mode", "events", f"--remote-tolerance={TOLERANCE_S}"])

    def test_client_monitor_h_notifies_too(self):
        """agent-runner -H h1 monitor: the same, through the client."""
        self.crash_loop_notified([CLIENT, "-H", "h1", "monitor", "--mode", "events"])

    def crash_loop_notified(self, command):
        f = self.fleet
        user = USERS[0]
        proj = f.serve(user)
        wait_for(lambda: f.client("-H", "h1", "peek", "--select", "service.state")[1].strip()
                 == "running", "work running")
        out = os.path.join(f.dir, "notify.out")
        env = dict(self.desktop_env(), AGENT_RUNNER_SSH=f.ssh)
        with open(out, "w") as o, open(out + ".err", "w") as e:
            p = subprocess.Popen(command, stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=env)
        f.procs.append(p)
        events = Lines(out)

        def kinds():
            return [x["event"] for x in events.all() if x.get("project") == "h1/work"]

        # Followed: a cancelled round's end comes through.
        def cancelled():
            f.client("-H", "h1", "cancel")
            return "round_end" in kinds()
        wait_for(cancelled, "h1/work's round_end through the monitor")

        # The remote project turns into a crash loop: its config now runs an
        # agent that fails at once; the daemon reloads it and the next rounds
        # crash until the daemon gives up (crash_loop, critical).
        proj.agent = "fail-fast"
        proj.write_config()
        os.chown(proj.config_path, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        before = kinds().count("config_reloaded")
        proj.procs[0].send_signal(signal.SIGHUP)
        wait_for(lambda: kinds().count("config_reloaded") > before, "the remote reload")
        f.client("-H", "h1", "cancel")
        wait_for(lambda: "crash_loop" in kinds(), "h1/work's crash_loop event")

        deadline = time.monotonic() + ENDS_WITHIN
        while int(self.dunstctl("count", "displayed")) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.dunstctl("close-all")
        hist = json.loads(self.dunstctl("history"))["data"][0]
        summaries = [h["summary"]["data"] for h in hist]
        self.assertIn("agent-runner: h1/work — crash_loop", summaries,
                      open(out + ".err").read())
        crit = [h for h in hist if "crash_loop" in h["summary"]["data"]][0]
        # critical: dunst's default timeout for it is 0 (never expires).
        self.assertEqual(crit["timeout"]["data"], 0)


if __name__ == "__main__":
    main()
