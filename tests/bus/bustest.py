# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures of the bus tests: a private dbus-daemon per test, the
real agent-runnerd on it (tests/daemon/daemontest.py gives the throwaway
project), busctl for calls, introspection and monitoring, and the real
client binary. Every process a test starts, it stops."""

import json
import os
import subprocess
import sys
import tempfile
import time
import shutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from daemontest import (BUILD_ROOT, DAEMON, ENDS_WITHIN, SOURCE_ROOT,  # noqa: E402,F401
                        DaemonTestCase, Project, pid_alive)

CLIENT = os.path.join(BUILD_ROOT, "src", "client", "agent-runner")
PATH = "/org/agentrunner/Runner1"
IFACE = "org.agentrunner.Runner1"


def bus_name(project="work"):
    out = []
    for i, c in enumerate(project):
        if c.isalpha() or c == "-" or (c.isdigit() and i > 0):
            out.append(c)
        else:
            out.append("_%02x" % ord(c))
    return "org.agentrunner.Runner1." + "".join(out)


class PrivateBus:
    """dbus-daemon --session on a socket in a temp dir."""

    def __init__(self, config=None):
        self.dir = tempfile.mkdtemp(prefix="ar-bus-")
        args = ["dbus-daemon", "--fork", "--print-address=1", "--print-pid=1"]
        if config:
            args.append("--config-file=" + config)
        else:
            args += ["--session", "--address=unix:path=" + os.path.join(self.dir, "bus")]
        out = subprocess.run(args, check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode().split()
        self.address, self.pid = out[0], int(out[1])

    def stop(self):
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + ENDS_WITHIN
        while pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        shutil.rmtree(self.dir, ignore_errors=True)

    def busctl(self, *args, check=True, user=None):
        cmd = ["busctl", "--address=" + self.address, *args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=ENDS_WITHIN, user=user)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd}: {p.stderr.decode()}")
        return p

    def call(self, name, method, sig="", *args, check=True, user=None):
        p = self.busctl("--json=short", "call", name, PATH, IFACE, method,
                        *([sig, *map(str, args)] if sig else []), check=check, user=user)
        if p.returncode != 0:
            return None, p.stderr.decode()
        out = p.stdout.decode().strip()
        return (json.loads(out)["data"] if out else []), None

    def peek(self, name="org.agentrunner.Runner1.work", **opts):
        args = [len(opts)]
        for k, v in opts.items():
            args += [k, "u", v]
        data, err = self.call(name, "Peek", "a{sv}", *args)
        return json.loads(data[0])

    def get(self, name, prop):
        p = self.busctl("--json=short", "get-property", name, PATH, IFACE, prop)
        return json.loads(p.stdout)["data"]

    def names(self):
        p = self.busctl("--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus", "ListNames")
        return json.loads(p.stdout)["data"][0]

    def wait_name(self, name, present=True, proc=None, timeout=ENDS_WITHIN):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (name in self.names()) == present:
                return
            if present and proc is not None and proc.poll() is not None:
                raise AssertionError(f"daemon exited {proc.returncode} before owning {name}: "
                                     f"{proc.stderr.read().decode(errors='replace')}")
            time.sleep(0.02)
        raise AssertionError(f"{name} {'never appeared' if present else 'never went away'}")

    def monitor(self, name):
        """busctl monitor of one service, JSON lines on stdout. Returns once
        the bus has made it a monitor: busctl logs "Monitoring bus message
        stream." only after its BecomeMonitor call was answered, so nothing
        sent after this returns can be missed."""
        mon = subprocess.Popen(["busctl", "--address=" + self.address, "--json=short",
                                "monitor", name], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        for line in mon.stderr:
            if line.startswith(b"Monitoring bus message stream."):
                break
        else:
            mon.wait()
            raise AssertionError(f"busctl monitor {name} exited {mon.returncode} before monitoring")
        # Nothing more is read from stderr: it says nothing else unless it
        # fails, and a pipe holds far more than that.
        return mon


class BusTestCase(DaemonTestCase):
    agent = "sleep"

    def setUp(self):
        self.bus = PrivateBus()
        self.addCleanup(self.bus.stop)

    def env(self, **extra):
        e = {"DBUS_SESSION_BUS_ADDRESS": self.bus.address}
        e.update(extra)
        return e

    def serve(self, p, *args, env=None, name="org.agentrunner.Runner1.work"):
        """Start the daemon on the private bus and wait for its name."""
        proc = p.start(*args, env=self.env(**(env or {})))
        self.bus.wait_name(name, proc=proc)
        return proc

    def wait_exit(self, proc, timeout=ENDS_WITHIN):
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err.decode(errors="replace")

    def client(self, *args, env=None, timeout=ENDS_WITHIN, cwd=None):
        e = dict(os.environ)
        e.update(self.env(**(env or {})))
        p = subprocess.run([CLIENT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=e, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def stop_daemon(self, proc, name="org.agentrunner.Runner1.work"):
        """Stop a daemon the test started, if it still runs: Stop("now")
        ends the round too (SIGTERM would wait for it)."""
        if proc.poll() is None:
            if name in self.bus.names():
                self.bus.call(name, "Stop", "s", "now", check=False)
            else:
                proc.terminate()
            try:
                proc.communicate(timeout=ENDS_WITHIN)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
