#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Output throughput: an agent writes BYTES (default 256 MiB) as fast as it
can, for each kind of output (tests/fake-agents/line-flood): no newline,
`yes` (2-byte lines), 80-byte lines, 1000-byte lines, claude stream-json.
Prints the daemon's own CPU seconds per GiB (transcript write + line scan +
classifier) next to `cat` copying the same stream into a file in the same
directory, measured right after it (the kernel's pipe and page-cache cost,
which no reader avoids), and their ratio, then the same split into user
and system time (the kernel's part is the same work for both; the user
part is the daemon's line scan and classifier). REPEAT runs of each show
the noise of a shared machine.

Then Peek latency while the agent floods (yes, 80-byte lines, claude), next
to Peek on an idle daemon and to a GetId round trip to the bus itself after
each Peek (the bus's and this client's own scheduling), each with the
daemon's short time slice (src/daemon/ard-sched.c) and without it
(AGENT_RUNNER_TEST_SCHED_SLICE_US=0), and the watchdog: the daemon runs with
WATCHDOG_USEC=200 ms and a NOTIFY_SOCKET of ours, and the longest gap
between two WATCHDOG=1 pings is printed (late = longer than the period).

Usage: output-throughput.py [BYTES [REPEAT]]"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import AGENTS, Project, cleanup, run_daemon

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bus"))
from bustest import BUILD_ROOT, PrivateBus  # noqa: E402

KINDS = ["none", "yes", "80", "1000", "claude"]
BENCH = os.path.join(BUILD_ROOT, "bench", "bus-bench")
NAME = "org.agentrunner.Runner1.work"


def project(kind, size, **kw):
    agent = {"output": "claude-stream-json"} if kind == "claude" else None
    return Project("line-flood", agent=agent,
                   agent_env={"FAKE_BYTES": str(size), "FAKE_LINES": kind}, **kw)


def cat_cpu(kind, size, directory):
    """The same generator into `cat > file`: cat's CPU only (user, system)."""
    env = dict(os.environ, FAKE_BYTES=str(size), FAKE_LINES=kind)
    out = os.path.join(directory, "cat.out")
    gen = subprocess.Popen([os.path.join(AGENTS, "line-flood")], stdout=subprocess.PIPE, env=env)
    with open(out, "wb") as f:
        cat = subprocess.Popen(["cat"], stdin=gen.stdout, stdout=f)
        gen.stdout.close()
        _, _, ru = os.wait4(cat.pid, 0)
    gen.wait()
    os.unlink(out)
    return ru.ru_utime, ru.ru_stime


def round_cpu(kind, size):
    """The daemon's (user, system) CPU minus its agent's, and cat's."""
    p = project(kind, size)
    try:
        rc, _, ru = run_daemon(p, "--round")
        assert rc == 0, rc
        assert os.path.getsize(p.transcript(1)) == size
        agents = p.events("agent_exit")
        daemon = (ru.ru_utime - sum(e["cpu_user_s"] for e in agents),
                  ru.ru_stime - sum(e["cpu_sys_s"] for e in agents))
        os.unlink(p.transcript(1))
        base = cat_cpu(kind, size, p.dir) if size else (0.0, 0.0)
    finally:
        cleanup(p)
    return daemon, base


def throughput(size, repeat):
    gib = size / (1 << 30)
    # What a round costs the daemon with no output at all (start-up checks,
    # spawn, events, state): subtracted, so the figure is per GiB of output.
    # The median of three, user and system apart.
    fixed = sorted((round_cpu("none", 0)[0] for _ in range(3)), key=sum)[1]
    print(f"output-throughput: {size} bytes per run; daemon CPU per GiB of output "
          f"(its whole CPU minus a round without output, {sum(fixed) * 1000:.0f} ms: "
          f"user {fixed[0] * 1000:.0f}, system {fixed[1] * 1000:.0f}) "
          f"vs cat > file of the same stream; user and system time apart")
    print(f"  {'output':<8} {'daemon':>8} {'cat':>8} {'ratio':>6}   "
          f"{'d.user':>7} {'d.sys':>7} {'c.user':>7} {'c.sys':>7}   (s/GiB)")
    for kind in KINDS:
        for _ in range(repeat):
            daemon, base = round_cpu(kind, size)
            user = max(daemon[0] - fixed[0], 0) / gib
            system = max(daemon[1] - fixed[1], 0) / gib
            per, cat = user + system, sum(base) / gib
            print(f"  {kind:<8} {per:8.2f} {cat:8.2f} {per / max(cat, 1e-9):6.2f}   "
                  f"{user:7.2f} {system:7.2f} {base[0] / gib:7.2f} {base[1] / gib:7.2f}")


class WatchdogListener:
    """A NOTIFY_SOCKET that records when WATCHDOG=1 arrives."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ar-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.pings = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            if b"WATCHDOG=1" in data.split(b"\n"):
                self.pings.append(time.monotonic())

    def max_gap(self, since):
        ts = [t for t in self.pings if t >= since]
        return max((b - a for a, b in zip(ts, ts[1:])), default=float("nan")), len(ts)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def sched_slice_us(pid):
    """The kernel's se.slice of a process in µs (EEVDF), or None."""
    try:
        with open(f"/proc/{pid}/sched") as f:
            for line in f:
                if line.startswith("se.slice"):
                    return int(line.split(":")[1]) / 1000
    except (OSError, ValueError):
        pass
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def peek(kind, calls, slice_us=None, watchdog_usec=200_000):
    """Peek round trips while the agent of kind floods; slice_us "0" runs
    the daemon with the kernel's default time slice (the baseline of its
    short-slice request, src/daemon/ard-sched.c)."""
    bus = PrivateBus()
    wd = WatchdogListener()
    if kind == "idle":
        p = Project("sleep", agent_env={"FAKE_SLEEP": "600"})
    else:
        p = project(kind, 1 << 40)
    try:
        env = {"DBUS_SESSION_BUS_ADDRESS": bus.address, "NOTIFY_SOCKET": wd.path,
               "WATCHDOG_USEC": str(watchdog_usec)}
        if slice_us is not None:
            env["AGENT_RUNNER_TEST_SCHED_SLICE_US"] = slice_us
        proc = p.start(env=env)
        bus.wait_name(NAME, proc=proc, timeout=600)
        p.wait_event("round_start", proc=proc)
        time.sleep(1.0)  # the flood is on
        slices = [sched_slice_us(proc.pid)] + [sched_slice_us(c) for c in children(proc.pid)[:1]]
        load = open("/proc/loadavg").read().split()[0]
        t0 = time.monotonic()
        out = subprocess.run([BENCH, "peek-split", bus.address, NAME, str(calls)], check=True,
                             stdout=subprocess.PIPE).stdout.decode().strip()
        gap, pings = wd.max_gap(t0)
        written = sum(os.path.getsize(os.path.join(p.log_dir, "rounds", t))
                      for t in p.transcripts())
        bus.call(NAME, "Stop", "s", "now", check=False)
        proc.communicate(timeout=120)
        shown = "/".join("?" if s is None else f"{s:g}" for s in slices)
        print(f"  {kind:<6} load {load:>5} slice(daemon/agent) {shown} us\n"
              f"         {out}\n         watchdog period {watchdog_usec / 1000:.0f} ms: "
              f"{pings} pings, longest gap {gap * 1000:.0f} ms; "
              f"{written / (1 << 20):.0f} MiB written", flush=True)
    finally:
        p.cleanup()
        wd.close()
        bus.stop()


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 256 << 20
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    throughput(size, repeat)
    print("Peek round trips while the agent floods its output (baselines: the idle daemon; "
          "the daemon with the kernel's default time slice, \"default\"; a GetId round trip "
          "to the bus itself after each Peek)")
    for kind in ("idle", "yes", "80", "claude"):
        for slice_us in (None, "0"):
            print(f" {'short slice' if slice_us is None else 'default'}:")
            peek(kind, 500, slice_us)
