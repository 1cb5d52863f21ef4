#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The monitor's web page (issue 16) in headless Chromium: the time from
the daemon's round_end (its event's ts) to the page's DOM showing that
round (a MutationObserver's clock; same host clock), median and p99 over
ROUNDS rounds (default 200; aim: under 50 ms); the page's transfer size
(budget 64 KiB for HTML + CSS + JS); the monitor's memory with STREAMS
(default 50) open event streams. Baseline from the same run: the Event
signal's own delivery is inside the figure, and the monitor's memory
without the web page is printed next to it, and so is the bus's own part
(round_end to the Event signal at a bystander client, dbus-monitor). Figures
only.
Usage: web-latency.py [ROUNDS=200] [STREAMS=50]
(WEB_LATENCY_MONITOR=PATH: measure another build's monitor, for A/B runs)"""

import os
import re
import shutil
import signal
import socket
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "bus"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "web"))
from bustest import BUILD_ROOT, PrivateBus  # noqa: E402
from daemontest import Project  # noqa: E402
from cdp import CHROMIUM, Browser  # noqa: E402

# WEB_LATENCY_MONITOR: another build's monitor, for runs paired with this one
MONITOR = os.environ.get("WEB_LATENCY_MONITOR",
                         os.path.join(BUILD_ROOT, "src", "monitor", "agent-runner-monitor"))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
STREAMS = int(sys.argv[2]) if len(sys.argv) > 2 else 50

OBSERVER = """
window.__seen = {};
new MutationObserver(() => {
  const li = document.querySelector('section.card[data-project="work"] .strip li:last-child');
  if (!li) return;
  const n = li.title.split(' ')[0];
  if (!(n in window.__seen)) window.__seen[n] = Date.now();
}).observe(document.getElementById('projects'), {childList: true, subtree: true});
true
"""


class SseTimes(threading.Thread):
    """One raw event stream: when each round of project "work" first shows
    in a "project" message (the server's half of the latency)."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.seen = {}
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall((f"GET /events?token={token} HTTP/1.1\r\n"
                           f"Host: 127.0.0.1:{port}\r\n\r\n").encode())

    def run(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                now = time.time() * 1000
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if not line.startswith(b"data: {"):
                        continue
                    d = json.loads(line[6:])
                    n = newest_round(d)
                    if d.get("name") == "work" and n is not None:
                        self.seen.setdefault(str(n), now)
        except OSError:
            return


class BusTimes(threading.Thread):
    """dbus-monitor on the same bus: when each round_end's Event signal
    reached a bystander client (its own receipt clock): the bus's part of
    the figures, the baseline the monitor cannot go under."""

    HEADER = re.compile(r"^signal time=(\d+\.\d+) .*member=Event")
    ROUND = re.compile(r'round_num\\?": ?(\d+)')

    def __init__(self, address):
        super().__init__(daemon=True)
        self.seen = {}
        self.proc = subprocess.Popen(
            ["dbus-monitor", "--address", address,
             f"type='signal',interface='org.agentrunner.Runner1',member='Event'"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def run(self):
        when, args = None, 0
        for line in self.proc.stdout:
            m = self.HEADER.match(line)
            if m:
                when, args = float(m.group(1)) * 1000, 0
                continue
            if when is None or not line.lstrip().startswith("string "):
                continue
            args += 1
            if args == 1 and '"round_end"' not in line:
                when = None
            elif args == 2:
                r = self.ROUND.search(line)
                if r:
                    self.seen.setdefault(r.group(1), when)
                when = None

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def percentiles(lat):
    lat = sorted(lat)
    return statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[-1]


def newest_round(d):
    """The newest round of a "project" message's strip, or of a patch's
    splice of it ([drop, same, tail])."""
    strip = d.get("strip") or d.get("splice", {}).get("strip", [0, 0, []])[2]
    return strip[-1][0] if strip else None


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    if not CHROMIUM:
        print("web-latency: no chromium-headless-shell; nothing measured")
        return 0
    bus = PrivateBus()
    runtime = tempfile.mkdtemp(prefix="ar-web-bench-")
    os.chmod(runtime, 0o700)
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address, XDG_RUNTIME_DIR=runtime)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project = Project("succeed", max_rounds=ROUNDS, restart_delay_s=0)
    procs = []
    browser = None
    streams = []
    bus_times = None
    try:
        plain = subprocess.Popen([MONITOR, "--quiet", "--no-journal", "--no-notify"], env=env)
        procs.append(plain)
        mon = subprocess.Popen([MONITOR, "--quiet", "--no-journal", "--no-notify",
                                f"--listen=127.0.0.1:{port}"], env=env)
        procs.append(mon)
        url_file = os.path.join(runtime, "agent-runner", "monitor-http.url")
        while not os.path.exists(url_file):
            time.sleep(0.05)
        time.sleep(0.2)
        url = open(url_file).read().strip()
        size = 0
        for path in ("/", "/app.js", "/style.css"):
            with urllib.request.urlopen(url.replace("/?", path + "?")) as r:
                size += len(r.read())
        sse = SseTimes(port, url.split("token=")[1])
        sse.start()
        browser = Browser()
        browser.goto(url)
        browser.wait_for("document.getElementById('conn').textContent === 'live'")
        browser.eval(OBSERVER)
        if shutil.which("dbus-monitor"):
            bus_times = BusTimes(bus.address)
            bus_times.start()
            time.sleep(0.5)  # it is listening once it has printed its own NameAcquired
        load = os.getloadavg()
        daemon = project.start(env=env)
        procs.append(daemon)
        daemon.communicate(timeout=ROUNDS * 5 + 60)
        time.sleep(1)
        seen = browser.eval("window.__seen")
        lat, wire, on_bus = [], [], []
        for ev in project.events("round_end"):
            n = str(ev["round_num"])
            ts = datetime.fromisoformat(ev["ts"].replace("Z", "+00:00")).timestamp() * 1000
            if n in seen:
                lat.append(seen[n] - ts)
            if n in sse.seen:
                wire.append(sse.seen[n] - ts)
            if bus_times and n in bus_times.seen:
                on_bus.append(bus_times.seen[n] - ts)
        end_load = os.getloadavg()
        print(f"web-latency: {len(lat)} of {ROUNDS} rounds seen in the DOM "
              f"(load average {load[0]:.1f} before, {end_load[0]:.1f} after)")
        if lat:
            med, p99, top = percentiles(lat)
            print(f"  round_end -> DOM: median {med:.1f} ms, p99 {p99:.1f} ms,"
                  f" max {top:.1f} ms (aim: under 50 ms)")
        if wire:
            med, p99, top = percentiles(wire)
            print(f"  round_end -> SSE bytes on a socket (the server's part): median {med:.1f} ms,"
                  f" p99 {p99:.1f} ms, max {top:.1f} ms")
        if on_bus:
            med, p99, top = percentiles(on_bus)
            print(f"  baseline, round_end -> Event signal at a bystander bus client (dbus-monitor):"
                  f" median {med:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms")
        print(f"  page transfer size (HTML + CSS + JS, uncompressed): {size} bytes "
              f"(budget 65536)")
        req = (f"GET /events?token={url.split('token=')[1]} HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{port}\r\n\r\n").encode()
        for _ in range(STREAMS):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            s.recv(4096)
            streams.append(s)
        time.sleep(0.5)
        print(f"  monitor RSS with 1 project, {STREAMS} open streams + 1 page: "
              f"{rss_kb(mon.pid)} KiB; baseline, the monitor without --http: "
              f"{rss_kb(plain.pid)} KiB")
        print("  (100 projects and 50 pages: bench/web-scale.py)")
    finally:
        if bus_times:
            bus_times.stop()
        for s in streams:
            s.close()
        if browser:
            browser.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        project.cleanup()
        bus.stop()
        shutil.rmtree(runtime, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
