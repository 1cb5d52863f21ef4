# SPDX-License-Identifier: Apache-2.0
"""Peek while the round's end runs git status (and the orphan stash) on a
100,000-file work tree: the git work runs in a thread, so Peek keeps
answering. Prints the Peek latencies measured across that window and how
long the git work took. Figures only."""

import datetime
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bus"))
from bustest import BUILD_ROOT, PrivateBus, Project  # noqa: E402

BENCH = os.path.join(BUILD_ROOT, "bench", "bus-bench")
NAME = "org.agentrunner.Runner1.work"


def git(work, *args):
    subprocess.run(["git", "-C", work, "-c", "user.name=b", "-c", "user.email=b@example.com",
                    *args], check=True, stdout=subprocess.DEVNULL)


def ts(event):
    return datetime.datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def main(files):
    bus = PrivateBus()
    p = Project("dirty", restart_delay_s=600)
    try:
        t0 = time.monotonic()
        for d in range(files // 1000):
            sub = os.path.join(p.work, "tree", f"d{d:03d}")
            os.makedirs(sub)
            for i in range(1000):
                with open(os.path.join(sub, f"f{i:04d}.txt"), "w") as f:
                    f.write(f"{d} {i}\n")
        with open(os.path.join(p.work, "tracked.txt"), "w") as f:
            f.write("base\n")
        with open(os.path.join(p.work, ".gitignore"), "w") as f:
            f.write("/logs/\n")
        git(p.work, "add", "-A")
        git(p.work, "commit", "-q", "-m", "base")
        print(f"repository: {files:,} files, built in {time.monotonic() - t0:.1f} s")

        proc = p.start(env={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        bus.wait_name(NAME, proc=proc, timeout=120)
        # Batches of Peek calls until the round's git work is over; keep
        # the batches that overlap it.
        batches = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            b0 = time.time()
            res = subprocess.run([BENCH, "peek", bus.address, NAME, "100"],
                                 stdout=subprocess.PIPE).stdout.decode().strip()
            batches.append((b0, time.time(), res))
            if p.events("orphan_stashed") or p.events("orphan_stash_failed"):
                break
        exits = p.events("agent_exit")
        done = (p.events("orphan_stashed") or p.events("orphan_stash_failed"))
        if exits and done:
            a, z = ts(exits[0]), ts(done[0])
            during = [r for b0, b1, r in batches if b1 >= a and b0 <= z]
            print(f"git status + stash at the round's end: {z - a:.2f} s "
                  f"({p.events('dirty_detected')[0]['count']} dirty files)")
            print(f"Peek batches of 100 calls during it: {len(during)}")
            for r in during:
                print("  " + r)
        else:
            print("the round's git work did not finish within 300 s")
        bus.call(NAME, "Stop", "s", "now", check=False)
        proc.communicate(timeout=60)
    finally:
        p.cleanup()
        bus.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
