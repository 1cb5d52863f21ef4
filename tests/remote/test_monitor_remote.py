# SPDX-License-Identifier: Apache-2.0
"""agent-runner-monitor --host against a real sshd on 127.0.0.1 (the Fleet of
test_remote.py: test users with their own user bus and agent-runnerd). The
monitor runs as root on a private session bus of its own and reaches the
user's bus over ssh: it sees the remote project's events; an outage shorter
than --remote-tolerance is only journal blips; a longer one alerts once and
resolves when sshd is back; alerts of the remote project keep coming after.
Needs root (users, sshd); exit 77 otherwise."""

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_remote import BUILD_ROOT, CLIENT, ENDS_WITHIN, USERS, Fleet, main, wait_for  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from daemontest import DAEMON, Project  # noqa: E402
from test_remote import free_port  # noqa: E402

MONITOR = os.path.join(BUILD_ROOT, "src", "monitor", "agent-runner-monitor")
TOLERANCE_S = 4


def descendants(pid):
    """pid and every process below it (by /proc's parent links)."""
    parents = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


class Lines:
    """A process's stdout, as parsed JSON lines, read to the end each time."""

    def __init__(self, path):
        self.path = path

    def all(self):
        with open(self.path) as f:
            return [json.loads(line) for line in f.read().splitlines() if line.startswith("{")]


class MonitorRemoteTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("sshd", path="/usr/sbin") or \
                not shutil.which("systemd-stdio-bridge") or not shutil.which("dbus-daemon"):
            raise unittest.SkipTest("needs root, sshd, systemd-stdio-bridge and dbus-daemon")
        self.fleet = Fleet()
        self.addCleanup(self.fleet.stop)
        # The monitor's own (local) bus.
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.fleet.procs.append(bus)
        self.bus_address = bus.stdout.readline().decode().strip()
        bus.stdout.close()

    def monitor(self, name, *args):
        out = os.path.join(self.fleet.dir, name)
        # --fleet reads the hosts from here (client.toml, as list --fleet).
        cfg_home = os.path.join(self.fleet.dir, "xdg")
        os.makedirs(os.path.join(cfg_home, "agent-runner"), exist_ok=True)
        with open(os.path.join(cfg_home, "agent-runner", "client.toml"), "w") as c:
            c.write('[fleet]\nhosts = ["h1"]\n')
        env = dict(os.environ, AGENT_RUNNER_SSH=self.fleet.ssh, XDG_CONFIG_HOME=cfg_home,
                   DBUS_SESSION_BUS_ADDRESS=self.bus_address)
        with open(out, "w") as o, open(out + ".err", "w") as e:
            p = subprocess.Popen([MONITOR, "--user", "--no-journal", "--no-notify",
                                  f"--remote-tolerance={TOLERANCE_S}", *args],
                                 stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=env)
        self.fleet.procs.append(p)
        return Lines(out)

    def test_client_passes_hosts_and_the_config_tolerance(self):
        """agent-runner -H HOST monitor: the project config's
        remote_failure_tolerance_s (0: at once) reaches the monitor."""
        proj = Project("sleep")
        self.addCleanup(proj.cleanup)
        proj.write_config(sections={"monitor": {"remote_failure_tolerance_s": 0}})
        out_path = os.path.join(self.fleet.dir, "client-monitor.out")
        env = dict(os.environ, AGENT_RUNNER_SSH=self.fleet.ssh,
                   DBUS_SESSION_BUS_ADDRESS=self.bus_address)
        with open(out_path, "w") as o:
            p = subprocess.Popen([CLIENT, "--config", proj.config_path, "-H", "down", "monitor",
                                  "--mode", "events", "--no-notify"],
                                 stdout=o, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                 env=env)
        self.fleet.procs.append(p)
        out = Lines(out_path)
        wait_for(lambda: any(e["event"] == "monitor_remote_giveup" for e in out.all()),
                 "an immediate give-up")
        giveup = [e for e in out.all() if e["event"] == "monitor_remote_giveup"][0]
        self.assertEqual((giveup["project"], giveup["cap_s"], giveup["total_attempts"]),
                         ("down", 0, 1))
        self.assertIn("Connection refused", giveup["final_error"])
        self.assertNotIn("monitor_remote_blip", [e["event"] for e in out.all()])

    def cut_sshd(self):
        """sshd and every session it serves (the monitor's ssh sees the end)."""
        pids = descendants(self.fleet.sshd.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.fleet.sshd.wait()

    def test_remote_events_blip_giveup_and_recovery(self):
        f = self.fleet
        f.serve(USERS[0])
        wait_for(lambda: f.client("-H", "h1", "peek", "--select", "service.state")[1].strip()
                 == "running", "work running")
        events = self.monitor("events.out", "--host", "h1", "--mode", "events")
        alerts = self.monitor("alerts.out", "--fleet", "--json")

        def kinds(host=None, project=None):
            return [e["event"] for e in events.all()
                    if (host and e.get("project") == host) or
                    (project and e.get("project") == project)]

        # The remote project's events reach the monitor, named with the host.
        def cancelled():
            f.client("-H", "h1", "cancel")
            return "round_end" in kinds(project="h1/work")
        wait_for(cancelled, "h1/work's round_end through the monitor")

        # A short outage: sshd comes back at once; blips, recovery, no alert.
        self.cut_sshd()
        f.start_sshd()
        wait_for(lambda: "monitor_remote_recovered" in kinds(host="h1"), "recovery after a blip")
        self.assertIn("monitor_remote_blip", kinds(host="h1"))
        self.assertNotIn("monitor_remote_giveup", kinds(host="h1"))
        recovered = [e for e in events.all() if e["event"] == "monitor_remote_recovered"]
        self.assertFalse(recovered[0]["gave_up"])
        self.assertEqual([a for a in alerts.all() if a["detector"] == "remote_unreachable"], [])
        # Followed again: a new round's end comes through.
        before = kinds(project="h1/work").count("round_end")

        def cancelled_again():
            f.client("-H", "h1", "cancel")
            return kinds(project="h1/work").count("round_end") > before
        wait_for(cancelled_again, "h1/work's events after the reconnect")

        # A long outage: one alert past the tolerance, resolved on reconnect.
        self.cut_sshd()
        wait_for(lambda: "monitor_remote_giveup" in kinds(host="h1"), "give-up")
        wait_for(lambda: any(a["detector"] == "remote_unreachable" for a in alerts.all()),
                 "the host alert")
        host_alerts = [a for a in alerts.all() if a["detector"] == "remote_unreachable"]
        self.assertEqual([(a["host"], a["state"]) for a in host_alerts], [("h1", "emitted")])
        f.start_sshd()
        # The monitor may be in its longest wait (30 s) when sshd is back,
        # and an attempt may take ConnectTimeout plus the bus call's bound.
        deadline = time.monotonic() + 2 * ENDS_WITHIN
        while time.monotonic() < deadline and \
                len([a for a in alerts.all() if a["detector"] == "remote_unreachable"]) < 2:
            time.sleep(0.05)
        if len([a for a in alerts.all() if a["detector"] == "remote_unreachable"]) < 2:
            with open(os.path.join(f.dir, "alerts.out.err")) as e:
                raise AssertionError("no resolution; the alerts monitor said:\n" + e.read() +
                                     "\nhost events: " + repr(kinds(host="h1")))
        wait_for(lambda: kinds(host="h1").count("monitor_remote_recovered") == 2, "recovery")
        host_alerts = [a for a in alerts.all() if a["detector"] == "remote_unreachable"]
        self.assertEqual([a["state"] for a in host_alerts], ["emitted", "resolved"])
        self.assertEqual(kinds(host="h1").count("monitor_remote_giveup"), 1)
        recovered = [e for e in events.all() if e["event"] == "monitor_remote_recovered"]
        self.assertTrue(recovered[-1]["gave_up"], [e for e in events.all() if e["project"] == "h1"])

        # The remote project's alerts still come: its daemon killed without
        # stopping is supervisor_stale, named HOST/PROJECT.
        daemon = f.projects[USERS[0]].procs[0]
        daemon.kill()
        daemon.wait()
        wait_for(lambda: any(a["project"] == "h1/work" and a["detector"] == "supervisor_stale"
                             for a in alerts.all()), "h1/work's supervisor_stale alert")

    def test_remote_card_actions_reach_the_host(self):
        """The web page's Transcript, Cancel, Stop and Start of a remote card
        go to the project on its host's bus, over the monitor's ssh."""
        f = self.fleet
        services = os.path.join(f.dir, "services")
        os.makedirs(services)
        proj = f.serve(USERS[0], servicedir=services)
        # Installed there: its bus can start it again (Start).
        with open(os.path.join(services, "org.agentrunner.Runner1.work.service"), "w") as sf:
            sf.write("[D-BUS Service]\nName=org.agentrunner.Runner1.work\n"
                     f"Exec={DAEMON} --config {proj.config_path} --no-journal\n")
        wait_for(lambda: f.client("-H", "h1", "peek", "--select", "service.state")[1].strip()
                 == "running", "work running")
        runtime = os.path.join(f.dir, "web-rt")
        os.makedirs(runtime, mode=0o700)
        port = free_port()
        env = dict(os.environ, AGENT_RUNNER_SSH=self.fleet.ssh, XDG_RUNTIME_DIR=runtime,
                   XDG_CONFIG_HOME=os.path.join(f.dir, "web-cfg"),
                   DBUS_SESSION_BUS_ADDRESS=self.bus_address)
        with open(os.path.join(f.dir, "web.err"), "w") as e:
            mon = subprocess.Popen([MONITOR, "--user", "--no-journal", "--no-notify", "--quiet",
                                    f"--remote-tolerance={TOLERANCE_S}", "--host", "h1",
                                    f"--listen=127.0.0.1:{port}"],
                                   stdout=subprocess.DEVNULL, stderr=e,
                                   stdin=subprocess.DEVNULL, env=env)
        f.procs.append(mon)
        url_file = os.path.join(runtime, "agent-runner", "monitor-http.url")
        wait_for(lambda: os.path.exists(url_file) or mon.poll() is not None, "the page's URL")
        with open(url_file) as u:
            token = u.read().strip().split("token=")[1]
        base = f"http://127.0.0.1:{port}"
        csrf = hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()

        def request(path, data=None):
            req = urllib.request.Request(base + path + ("&" if "?" in path else "?") +
                                         "token=" + token, data=data,
                                         headers={"Origin": base, "X-CSRF-Token": csrf})
            try:
                with urllib.request.urlopen(req, timeout=ENDS_WITHIN) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        def card():
            cards = [c for c in request("/api/state")[1] if c.get("name") == "h1/work"]
            return cards[0] if cards else None
        wait_for(lambda: card() and card().get("host") == "h1" and
                 any(e == "agent_spawn" or "agent_spawn" in str(e) for e in card()["events"]),
                 "h1/work's card with its round")
        status, tail = request("/api/tail?project=h1/work")
        self.assertEqual(status, 200, tail)
        self.assertIn("sleeping 600s", "\n".join(tail["log_tail"] or []))

        def act(action):
            return request("/api/action", f"project=h1%2Fwork&action={action}".encode())
        ends = len(proj.events("round_end"))
        self.assertEqual(act("cancel"), (200, {"ok": True}))
        proj.wait_event("round_end", count=ends + 1)
        self.assertEqual(act("stop-now"), (200, {"ok": True}))
        proj.procs[0].wait(timeout=ENDS_WITHIN)
        self.assertTrue(proj.events("serve_stopping"))
        wait_for(lambda: card()["state"] == "stopped", "h1/work's card stopped")
        starts = len(proj.events("serve_started"))
        self.assertEqual(act("start"), (200, {"ok": True}))
        proj.wait_event("serve_started", count=starts + 1)
        wait_for(lambda: card()["state"] == "running", "h1/work's card running again")
        # The activated daemon is the bus's child, not the test's: stop it.
        self.assertEqual(act("stop-now"), (200, {"ok": True}))
        wait_for(lambda: card()["state"] == "stopped", "h1/work stopped again")
        # The host out of reach past the tolerance: its alert is on the card
        # until it is back.
        self.cut_sshd()
        wait_for(lambda: [a["detector"] for a in card()["alerts"]] == ["remote_unreachable"],
                 "the host's alert on h1/work's card")
        self.assertEqual(card()["state"], "unreachable")
        f.start_sshd()
        # The monitor may be in its longest wait (30 s) when sshd is back.
        deadline = time.monotonic() + 2 * ENDS_WITHIN
        while card()["alerts"] and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(card()["alerts"], [])


if __name__ == "__main__":
    main()
