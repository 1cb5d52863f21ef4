#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One agent-runner-monitor watching N projects (default 100) that finish
RATE rounds per second in total (default 10): each project runs the
`succeed` fake agent with restart_delay_s = N / RATE. Over WINDOW seconds
(default 30) it prints the monitor's CPU share and memory, with the
dbus-daemon's CPU share in the same window as the baseline (the cost of
just delivering those signals). Then every project switches to an agent
that sleeps, the monitor runs with a host-health interval longer than the
window, and its context switches over the window are counted: 0 is the
goal. Figures only. Usage: monitor-scale.py [N=100] [RATE=10] [WINDOW=30]"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bus"))
from bustest import BUILD_ROOT, DAEMON, PrivateBus  # noqa: E402
from daemontest import AGENTS, PROMPT  # noqa: E402

MONITOR = os.path.join(BUILD_ROOT, "src", "monitor", "agent-runner-monitor")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
RATE = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
WINDOW = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status(pid, *keys):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = v.strip()
    return out


def ctxt(pid):
    s = status(pid, "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
    return sum(int(v) for v in s.values())


def make_project(root, i, agent, delay, env):
    work = os.path.join(root, f"p{i:03d}")
    os.makedirs(work, exist_ok=True)
    if not os.path.isdir(os.path.join(work, ".git")):
        subprocess.run(["git", "init", "-q", work], check=True)
        with open(os.path.join(work, ".gitignore"), "w") as f:
            f.write("*\n")
    with open(os.path.join(work, "prompt.md"), "w") as f:
        f.write(PROMPT)
    with open(os.path.join(work, "agent-runner.toml"), "w") as f:
        f.write(f'[agent]\ncommand = ["{os.path.join(AGENTS, agent)}"]\n'
                'prompt_arg_template = []\nprompt_delivery = "stdin"\n[agent.env]\n'
                + "".join(f'{k} = "{v}"\n' for k, v in env.items()) +
                f'[runtime]\nwork_dir = "."\nlog_dir = "logs"\nrestart_delay_s = {delay}\n'
                'round_timeout_s = 3600\n[prompt]\nfile = "prompt.md"\n'
                '[monitor]\nno_progress_rounds = 0\n')
    return os.path.join(work, "agent-runner.toml")


def start_all(bus, root, agent, delay, env):
    procs = []
    e = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address)
    for i in range(N):
        cfg = make_project(root, i, agent, delay, env)
        procs.append(subprocess.Popen([DAEMON, "--config", cfg, "--no-journal"], env=e,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        names = [n for n in bus.names() if n.startswith("org.agentrunner.Runner1.")]
        if len(names) >= N:
            break
        time.sleep(0.2)
    return procs


def stop_all(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rounds(root):
    n = 0
    for i in range(N):
        d = os.path.join(root, f"p{i:03d}", "logs")
        for name in os.listdir(d) if os.path.isdir(d) else []:
            if name.startswith("events-"):
                with open(os.path.join(d, name)) as f:
                    n += sum(1 for line in f if '"event": "round_end"' in line)
    return n


def monitor(bus, interval):
    e = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address)
    m = subprocess.Popen([MONITOR, "--quiet", "--no-journal", "--no-notify",
                          "--interval", str(interval)], env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bus.wait_name("org.agentrunner.Monitor1", proc=m)
    return m


def main():
    root = tempfile.mkdtemp(prefix="ar-monscale-")
    bus = PrivateBus()
    try:
        # Phase 1: N projects, RATE rounds/s in total.
        delay = max(1, round(N / RATE))
        procs = start_all(bus, root, "succeed", delay, {})
        m = monitor(bus, 30)
        time.sleep(5)  # start-up done, rounds flowing
        r0, c0, d0, t0 = rounds(root), cpu_s(m.pid), cpu_s(bus.pid), time.monotonic()
        time.sleep(WINDOW)
        r1, c1, d1, t1 = rounds(root), cpu_s(m.pid), cpu_s(bus.pid), time.monotonic()
        mem = status(m.pid, "VmRSS", "VmHWM")
        elapsed = t1 - t0
        print(f"projects: {N}, rounds finished: {r1 - r0} in {elapsed:.1f}s "
              f"({(r1 - r0) / elapsed:.1f}/s)")
        print(f"monitor CPU: {100 * (c1 - c0) / elapsed:.2f}% of one core "
              f"({1000 * (c1 - c0) / max(r1 - r0, 1):.2f} ms per round)")
        print(f"baseline, dbus-daemon CPU in the same window: {100 * (d1 - d0) / elapsed:.2f}%")
        print(f"monitor memory: VmRSS {mem['VmRSS']}, VmHWM {mem['VmHWM']}")
        m.terminate()
        m.wait()
        stop_all(procs)

        # Phase 2: every agent sleeps; no host-health sample is due.
        procs = start_all(bus, root, "sleep", 0, {"FAKE_SLEEP": "3600"})
        m = monitor(bus, 3600)
        time.sleep(5)  # start-up: properties, Peek, the first sample
        x0 = ctxt(m.pid)
        time.sleep(WINDOW)
        x1 = ctxt(m.pid)
        print(f"idle: monitor context switches in {WINDOW:.0f}s with {N} sleeping agents: "
              f"{x1 - x0} (goal 0)")
        m.terminate()
        m.wait()
        # Stop now: the agents sleep for an hour.
        for i in range(N):
            name = f"org.agentrunner.Runner1.p{i:03d}"
            bus.busctl("call", name, "/org/agentrunner/Runner1", "org.agentrunner.Runner1",
                       "Stop", "s", "now", check=False)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    finally:
        bus.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
