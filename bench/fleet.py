# SPDX-License-Identifier: Apache-2.0
"""bench/fleet: `agent-runner list` across N hosts (N ssh aliases of one
real sshd on 127.0.0.1, tests/remote's fixture), against N sequential
`ssh HOST agent-runner status` calls and N sequential `agent-runner -H HOST
status`. Wall times only; needs root (users, sshd), else 77."""

import os
import sys
import time

SOURCE_ROOT = os.environ.get("AR_SOURCE_ROOT",
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "remote"))

import subprocess  # noqa: E402

from test_remote import CLIENT, USERS, Fleet  # noqa: E402


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def main():
    if os.geteuid() != 0:
        return 77
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    fleet = Fleet(aliases=n)
    try:
        fleet.serve(USERS[0])
        hosts = [f"a{i:02d}" for i in range(1, n + 1)]
        env = dict(os.environ, AGENT_RUNNER_SSH=fleet.ssh)
        args = []
        for h in hosts:
            args += ["-H", h]
        # Wait until the project answers, then warm up ssh once.
        deadline = time.monotonic() + 60
        while fleet.client("-H", hosts[0], "status")[0] != 0 and time.monotonic() < deadline:
            time.sleep(0.1)

        def fleet_list():
            p = subprocess.run([CLIENT, "list", *args, "--timeout", "60", "--json"],
                               stdout=subprocess.PIPE, env=env, check=False)
            assert p.returncode == 0, p.returncode

        def ssh_status():
            for h in hosts:
                subprocess.run([fleet.ssh, h, CLIENT, "--project", "work", "status"],
                               stdout=subprocess.DEVNULL, check=True)

        def h_status():
            for h in hosts:
                subprocess.run([CLIENT, "-H", h, "status"], stdout=subprocess.DEVNULL, env=env,
                               check=True)
        for name, fn in [("list -H x%d (parallel)" % n, fleet_list),
                         ("%d x ssh HOST agent-runner status (baseline)" % n, ssh_status),
                         ("%d x agent-runner -H HOST status" % n, h_status)]:
            best = min(timed(fn) for _ in range(3))
            print(f"{name:48s} {best:7.2f} s (best of 3)")
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
