# SPDX-License-Identifier: Apache-2.0
"""Emitter -> subscriber latency of the Event signal: a subscriber calls
Reload and waits for the config_reloaded Event it causes (call, emitter,
bus sink, dbus-daemon, subscriber). Figures only."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bus"))
from bustest import BUILD_ROOT, PrivateBus, Project  # noqa: E402

BENCH = os.path.join(BUILD_ROOT, "bench", "bus-bench")
NAME = "org.agentrunner.Runner1.work"

if __name__ == "__main__":
    n = sys.argv[1] if len(sys.argv) > 1 else "1000"
    bus = PrivateBus()
    p = Project("sleep", agent_env={"FAKE_SLEEP": "600"})
    try:
        proc = p.start(env={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        bus.wait_name(NAME, proc=proc)
        out = subprocess.run([BENCH, "signal", bus.address, NAME, n], check=True,
                             stdout=subprocess.PIPE).stdout.decode().strip()
        print(out)
        bus.call(NAME, "Stop", "s", "now", check=False)
        proc.communicate(timeout=60)
    finally:
        p.cleanup()
        bus.stop()
