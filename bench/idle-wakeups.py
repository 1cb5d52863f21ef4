#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Idle wakeups: while the agent sleeps, count what the daemon does in
DURATION seconds (default 60): context switches (/proc/PID/status) and
watchdog pings in one window, then the syscalls strace sees (when strace is
installed) in a second window of the same length. The watchdog pings go
to a NOTIFY_SOCKET we own, with WATCHDOG_USEC = WATCHDOG seconds
(default 20; 0 = no watchdog). Usage: idle-wakeups.py [DURATION=60] [WATCHDOG=20]"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from benchlib import DAEMON, Project, cleanup

duration = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
watchdog = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0


def ctxt(pid):
    v = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if "ctxt_switches" in line:
                k, n = line.split(":")
                v[k] = int(n)
    return v["voluntary_ctxt_switches"] + v["nonvoluntary_ctxt_switches"]


p = Project("sleep", round_timeout_s=3600)
sock_path = os.path.join(p.dir, "notify")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sock_path)
sock.setblocking(False)
try:
    env = {"NOTIFY_SOCKET": sock_path}
    if watchdog > 0:  # 0: no watchdog at all
        env["WATCHDOG_USEC"] = str(int(watchdog * 1e6))
    proc = subprocess.Popen([DAEMON, "--config", p.config_path, "--no-journal"],
                            env=p.env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.wait_event("agent_spawn", proc=proc)
    time.sleep(1.0)  # let the round settle (stdin written, first reads done)
    while True:  # drain READY/STATUS sent so far
        try:
            sock.recv(4096)
        except BlockingIOError:
            break
    # Window 1: context switches only (nothing attached to the daemon).
    c0 = ctxt(proc.pid)
    time.sleep(duration)
    c1 = ctxt(proc.pid)
    pings = 0
    while True:
        try:
            if b"WATCHDOG=1" in sock.recv(4096):
                pings += 1
        except BlockingIOError:
            break
    # Window 2, same length: the syscalls, seen by strace.
    strace = shutil.which("strace")
    tracer = None
    if strace:
        tracer = subprocess.Popen([strace, "-c", "-p", str(proc.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(duration)
        tracer.send_signal(signal.SIGINT)
        report = tracer.communicate()[1].decode()
    # First TERM: stop after the round; second: end the round now.
    proc.send_signal(signal.SIGTERM)
    p.wait_event("serve_stopping", proc=proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    print(f"idle-wakeups: agent sleeping, {duration:.0f} s window, WATCHDOG_USEC={watchdog:.0f} s")
    print(f"  context switches  {c1 - c0}")
    if watchdog > 0:
        print(f"  watchdog pings    {pings}  "
              f"({pings / (duration / watchdog):.2f} per watchdog period)")
    else:
        print(f"  watchdog pings    {pings}  (no watchdog)")
    if tracer:
        print(f"  syscalls in a second {duration:.0f} s window (strace -c -p):")
        for ln in report.splitlines():
            if ln.strip():
                print("    " + ln)
finally:
    sock.close()
    cleanup(p)
