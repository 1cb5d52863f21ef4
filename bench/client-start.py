#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Client start-up cost: the CPU time (user + sys, from wait4) of
`agent-runner --version`, `status` and `peek` against a running daemon on
a private bus, next to `busctl --version` and `/bin/true` measured in the
same run, interleaved so that the load of a shared machine hits all alike.
Prints medians and each one's ratio to busctl. Also lists how many shared
libraries each binary loads. Usage: client-start.py [N=100]"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bus"))
from bustest import CLIENT, PrivateBus, Project  # noqa: E402

NAME = "org.agentrunner.Runner1.work"


def cpu_ms(argv, env):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            close_fds=False)
    _, status, ru = os.wait4(proc.pid, 0)
    return (ru.ru_utime + ru.ru_stime) * 1000, os.waitstatus_to_exitcode(status)


def libs(path):
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, text=True).stdout
    return len([line for line in out.splitlines() if "=>" in line or line.strip().startswith("/")])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    bus = PrivateBus()
    p = Project("sleep", agent_env={"FAKE_SLEEP": "600"})
    try:
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address)
        proc = p.start(env={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        bus.wait_name(NAME, proc=proc, timeout=600)
        cases = {
            "/bin/true": ["/bin/true"],
            "busctl --version": ["busctl", "--version"],
            "agent-runner --version": [CLIENT, "--version"],
            "agent-runner status": [CLIENT, "--config", p.config_path, "status"],
            "agent-runner peek": [CLIENT, "--config", p.config_path, "peek"],
            # The full client (all verbs, libgit2): what every verb cost
            # before the split.
            "agent-runner-vcs --version": [CLIENT + "-vcs", "--version"],
            "agent-runner-vcs status": [CLIENT + "-vcs", "--config", p.config_path, "status"],
        }
        times = {k: [] for k in cases}
        for _ in range(n):
            for k, argv in cases.items():
                ms, rc = cpu_ms(argv, env)
                assert rc == 0, (k, rc)
                times[k].append(ms)
        base = sorted(times["busctl --version"])[n // 2]
        print(f"client-start: CPU per run (user+sys), median of {n}, interleaved")
        for k, t in times.items():
            t.sort()
            print(f"  {k:<26} {t[n // 2]:6.2f} ms  (p90 {t[n * 9 // 10]:6.2f})  "
                  f"{t[n // 2] / base:5.2f}x busctl --version")
        busctl = subprocess.run(["sh", "-c", "command -v busctl"], stdout=subprocess.PIPE,
                                text=True).stdout.strip()
        print(f"  shared libraries: agent-runner {libs(CLIENT)}, "
              f"agent-runner-vcs {libs(CLIENT + '-vcs')}, busctl {libs(busctl)}")
        bus.call(NAME, "Stop", "s", "now", check=False)
        proc.communicate(timeout=60)
    finally:
        p.cleanup()
        bus.stop()


if __name__ == "__main__":
    main()
