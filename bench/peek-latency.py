# SPDX-License-Identifier: Apache-2.0
"""Peek round-trip latency with 1,000 and 1,000,000 lines of events
history in the events file: Peek serves from memory, so the history must
not matter. Figures only."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bus"))
from bustest import BUILD_ROOT, PrivateBus, Project  # noqa: E402

BENCH = os.path.join(BUILD_ROOT, "bench", "bus-bench")
NAME = "org.agentrunner.Runner1.work"


def run(history, calls):
    bus = PrivateBus()
    p = Project("sleep", agent_env={"FAKE_SLEEP": "600"})
    try:
        os.makedirs(p.log_dir, exist_ok=True)
        month = time.strftime("%Y-%m", time.gmtime())
        line = ('{"ts": "%s-01T00:00:00.000Z", "event": "round_progress", "round_num": 0, '
                '"note": "history line for the peek benchmark"}\n' % month)
        with open(os.path.join(p.log_dir, f"events-{month}.jsonl"), "w") as f:
            for _ in range(history // 1000):
                f.write(line * 1000)
        proc = p.start(env={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        bus.wait_name(NAME, proc=proc, timeout=600)
        out = subprocess.run([BENCH, "peek", bus.address, NAME, str(calls)], check=True,
                             stdout=subprocess.PIPE).stdout.decode().strip()
        print(f"history {history:>9,} lines: {out}")
        bus.call(NAME, "Stop", "s", "now", check=False)
        proc.communicate(timeout=60)
    finally:
        p.cleanup()
        bus.stop()


if __name__ == "__main__":
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for history in (1_000, 1_000_000):
        run(history, calls)
