#!/usr/bin/env python3
"""Round turnaround: N rounds of `true` with restart_delay_s = 0.
Prints rounds per second and the daemon's own CPU time per round (its
rusage minus the agents'). Usage: round-turnaround.py [N=200]"""

import sys
import time

from benchlib import Project, cleanup, run_daemon

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
p = Project("succeed", max_rounds=n)
p.write_config(max_rounds=n, agent={"command": ["/bin/true"]})
try:
    t0 = time.monotonic()
    rc, daemon_cpu, ru = run_daemon(p)
    wall = time.monotonic() - t0
    rounds = len(p.events("round_end"))
    assert rc == 0 and rounds == n, (rc, rounds)
    print(f"round-turnaround: {n} rounds of /bin/true, restart_delay_s=0")
    print(f"  wall        {wall:.2f} s  ({n / wall:.1f} rounds/s, {wall / n * 1000:.1f} ms/round)")
    print(f"  daemon CPU  {daemon_cpu:.3f} s  ({daemon_cpu / n * 1000:.2f} ms/round; "
          f"target < 2 ms)")
finally:
    cleanup(p)
