#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The monitor's web page at scale: N projects (default 100) with a history
of 50 rounds each over the last 3 days, PAGES open pages (default 50: one
real headless Chromium page when available, the rest raw event streams that
read everything, as a browser tab does), RATE rounds per second in total
(default 10) for WINDOW seconds (default 30).

Prints the monitor's memory (VmRSS) in steps -- without the page (a second
monitor on the same bus, the baseline from the same run), with the page and
no reader, with PAGES pages, and at the start, middle and end of the window
(a stream kept open for days must not grow) -- and the time from each
round_end (its event's ts) to its project's update on a raw stream and in
the Chromium DOM (median, p99). Figures only.
Usage: web-scale.py [N=100] [PAGES=50] [RATE=10] [WINDOW=30]"""

import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "bus"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "web"))
from bustest import BUILD_ROOT, DAEMON, PrivateBus  # noqa: E402
from daemontest import AGENTS, PROMPT  # noqa: E402
from cdp import CHROMIUM, Browser  # noqa: E402

# WEB_LATENCY_MONITOR: another build's monitor, for runs paired with this one
MONITOR = os.environ.get("WEB_LATENCY_MONITOR",
                         os.path.join(BUILD_ROOT, "src", "monitor", "agent-runner-monitor"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
PAGES = int(sys.argv[2]) if len(sys.argv) > 2 else 50
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
WINDOW = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
HISTORY = 50

OBSERVER = """
window.__seen = {};
new MutationObserver(muts => {
  const now = Date.now();
  for (const m of muts) for (const n of m.addedNodes) {
    if (n.nodeName !== 'LI' || !n.dataset.n) continue;
    const card = n.closest('section.card');
    const key = card.dataset.project + ' ' + n.dataset.n;
    if (!(key in window.__seen)) window.__seen[key] = now;
  }
}).observe(document.getElementById('projects'), {childList: true, subtree: true});
true
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def make_project(root, i, delay):
    work = os.path.join(root, f"p{i:03d}")
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    subprocess.run(["git", "init", "-q", work], check=True)
    with open(os.path.join(work, ".gitignore"), "w") as f:
        f.write("*\n")
    with open(os.path.join(work, "prompt.md"), "w") as f:
        f.write(PROMPT)
    with open(os.path.join(logs, "narrative.md"), "w") as f:
        f.write(f"# p{i:03d}\n\nWhat the agent did so far, in a few **Markdown** lines.\n\n"
                "- a list\n- of things\n")
    # 50 rounds over the last 72 hours, as the daemon writes them.
    now = datetime.now(timezone.utc)
    lines = []
    for r in range(1, HISTORY + 1):
        t = now - timedelta(hours=72 * (HISTORY - r) / HISTORY, minutes=5)
        ev = [("round_start", {"round_num": r, "phase": None}),
              ("agent_exit", {"round_num": r, "exit_code": 0, "duration_s": 60.0}),
              ("round_end", {"round_num": r, "outcome": "ok" if r % 7 else "timeout",
                             "exit_code": 0, "duration_s": 60.0}),
              ("agent_usage_recorded", {"agent": "succeed", "model": None, "round_num": r,
                                        "input_tokens": 1000, "output_tokens": 200,
                                        "cached_tokens": 0, "cost_usd": 0.05})]
        for k, (kind, fields) in enumerate(ev):
            lines.append(json.dumps({"ts": iso(t + timedelta(seconds=k)), "event": kind,
                                     **fields}))
    with open(os.path.join(logs, now.strftime("events-%Y-%m.jsonl")), "w") as f:
        f.write("\n".join(lines) + "\n")
    cfg = os.path.join(work, "agent-runner.toml")
    with open(cfg, "w") as f:
        f.write(f'[agent]\ncommand = ["{os.path.join(AGENTS, "succeed")}"]\n'
                'prompt_arg_template = []\nprompt_delivery = "stdin"\n'
                f'[runtime]\nwork_dir = "."\nlog_dir = "logs"\nrestart_delay_s = {delay}\n'
                'round_timeout_s = 3600\n[prompt]\nfile = "prompt.md"\n'
                '[monitor]\nno_progress_rounds = 0\n')
    return cfg, logs


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class Streams(threading.Thread):
    """PAGES raw pages: GET / once, then /events kept open and read in full.
    The first one also notes when each (project, round) first arrives."""

    def __init__(self, port, token, count):
        super().__init__(daemon=True)
        self.seen = {}
        self.event_seen = {}  # "project ts" of round_end event messages
        self.bytes = 0
        self.socks = []
        self.stop = False
        head = f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        for _ in range(count):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(f"GET /?token={token} HTTP/1.1\r\n{head}".encode())
                while s.recv(65536):
                    pass
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET /events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                      .encode())
            self.socks.append(s)
        self.buf = b""

    def parse(self, chunk, now):
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.startswith(b"data: {"):
                d = json.loads(line[6:])
                if d.get("kind") == "round_end":
                    self.event_seen.setdefault(d["project"] + " " + d["ts"], now)
                n = newest_round(d)
                if n is not None:
                    self.seen.setdefault(f"{d['name']} {n}", now)

    def run(self):
        while not self.stop:
            ready, _, _ = select.select(self.socks, [], [], 0.2)
            for s in ready:
                chunk = s.recv(1 << 20)
                self.bytes += len(chunk)
                if s is self.socks[0] and chunk:
                    self.parse(chunk, time.time() * 1000)

    def close(self):
        self.stop = True
        self.join(timeout=5)
        for s in self.socks:
            s.close()


def round_ends(logs_dirs, since_round):
    out = {}
    for name, logs in logs_dirs.items():
        for f in os.listdir(logs):
            if not f.startswith("events-"):
                continue
            with open(os.path.join(logs, f)) as fh:
                for line in fh:
                    if '"round_end"' not in line:
                        continue
                    ev = json.loads(line)
                    if ev["round_num"] > since_round:
                        ts = datetime.fromisoformat(ev["ts"].replace("Z", "+00:00"))
                        out[f"{name} {ev['round_num']}"] = ts.timestamp() * 1000
    return out


def event_figures(event_seen):
    lat = []
    for key, now in event_seen.items():
        name, ts = key.split(" ", 1)
        lat.append(now - datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
    if lat:
        lat.sort()
        print(f"  round_end -> its event message on a raw stream (bus delivery and the monitor's"
              f" queue, before the page's view): median {statistics.median(lat):.1f} ms, p99 "
              f"{lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.1f} ms")


def figures(label, seen, ends):
    lat = sorted(seen[k] - t for k, t in ends.items() if k in seen)
    if not lat:
        print(f"  round_end -> {label}: nothing seen")
        return
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"  round_end -> {label}: {len(lat)} of {len(ends)} rounds, median "
          f"{statistics.median(lat):.1f} ms, p99 {p99:.1f} ms, max {lat[-1]:.1f} ms")


def main():
    root = tempfile.mkdtemp(prefix="ar-webscale-")
    runtime = os.path.join(root, "runtime")
    os.makedirs(runtime, mode=0o700)
    bus = PrivateBus()
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address, XDG_RUNTIME_DIR=runtime,
               XDG_CONFIG_HOME=os.path.join(root, "config"))
    procs, daemons = [], []
    streams = browser = None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        delay = max(1, round(N / RATE))
        logs = {}
        for i in range(N):
            cfg, logs[f"p{i:03d}"] = make_project(root, i, delay)
            daemons.append(subprocess.Popen([DAEMON, "--config", cfg, "--no-journal"], env=env,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 180
        while len([n for n in bus.names() if n.startswith("org.agentrunner.Runner1.")]) < N:
            if time.monotonic() > deadline:
                raise SystemExit("web-scale: the daemons did not all start")
            time.sleep(0.2)
        plain = subprocess.Popen([MONITOR, "--quiet", "--no-journal", "--no-notify"], env=env)
        procs.append(plain)
        mon = subprocess.Popen([MONITOR, "--quiet", "--no-journal", "--no-notify",
                                f"--listen=127.0.0.1:{port}"], env=env)
        procs.append(mon)
        url_file = os.path.join(runtime, "agent-runner", "monitor-http.url")
        while not os.path.exists(url_file):
            time.sleep(0.05)
        url = open(url_file).read().strip()
        token = url.split("token=")[1]
        time.sleep(5)  # both monitors have read every project's history
        print(f"web-scale: {N} projects ({HISTORY} rounds of history each), {PAGES} pages, "
              f"{RATE:g} rounds/s")
        print(f"  monitor RSS without the page (baseline, same run): {rss_kb(plain.pid)} KiB")
        print(f"  monitor RSS with the page, no page open: {rss_kb(mon.pid)} KiB")
        raw = PAGES
        if CHROMIUM and PAGES > 0:
            browser = Browser()
            browser.goto(url)
            browser.wait_for("document.getElementById('conn').textContent === 'live'")
            browser.wait_for(f"document.querySelectorAll('section.card').length === {N}")
            browser.eval(OBSERVER)
            raw -= 1
        streams = Streams(port, token, raw)
        streams.start()
        start_round = HISTORY
        time.sleep(2)
        r0 = rss_kb(mon.pid)
        c0, b0 = cpu_s(mon.pid), cpu_s(plain.pid)
        print(f"  monitor RSS with {PAGES} pages ({'1 Chromium + ' if browser else ''}{raw} "
              f"streams): {r0} KiB")
        time.sleep(WINDOW / 2)
        r1 = rss_kb(mon.pid)
        time.sleep(WINDOW / 2)
        r2 = rss_kb(mon.pid)
        c1, b1 = cpu_s(mon.pid), cpu_s(plain.pid)
        print(f"  over {WINDOW:g} s of rounds: {r0} -> {r1} -> {r2} KiB "
              f"({streams.bytes / WINDOW / 1024:.0f} KiB/s read by the streams)")
        print(f"  monitor CPU: {100 * (c1 - c0) / WINDOW:.1f}% of one core with the page and "
              f"{PAGES} pages; baseline, the monitor without it: {100 * (b1 - b0) / WINDOW:.1f}%")
        ends = round_ends(logs, start_round)
        event_figures(streams.event_seen)
        figures("raw stream", streams.seen, ends)
        if browser:
            figures("Chromium DOM (100 cards)", browser.eval("window.__seen"), ends)
        for p in daemons:
            p.send_signal(signal.SIGTERM)
    finally:
        if streams:
            streams.close()
        if browser:
            browser.close()
        for p in procs + daemons:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs + daemons:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        bus.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
