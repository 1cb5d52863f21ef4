#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Start-up with a long history: the time from launching agent-runnerd to
its first round_start event, with 1k, 100k and 1M lines of history in the
events file, with and without state.json (without it the round number
comes from the history: the newest transcripts and the tail of the newest
events file). The baseline is the same launch with no history at all, in
the same run. REPEAT launches per case show the noise.
Usage: startup-history.py [REPEAT=3]"""

import json
import os
import sys
import time
from datetime import datetime

from benchlib import Project, cleanup


def ts(event):
    return datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def write_history(p, lines):
    os.makedirs(p.log_dir, exist_ok=True)
    month = time.strftime("%Y-%m", time.gmtime())
    path = os.path.join(p.log_dir, f"events-{month}.jsonl")
    rounds = max(lines // 10, 1)
    with open(path, "w") as f:
        n = 0
        for r in range(1, rounds + 1):
            block = [
                {"ts": f"{month}-01T00:00:00.000Z", "event": "round_start", "round_num": r,
                 "phase": None},
                {"ts": f"{month}-01T00:00:00.000Z", "event": "agent_spawn", "round_num": r,
                 "pid": 4242},
            ] + [{"ts": f"{month}-01T00:00:00.000Z", "event": "round_progress", "round_num": r,
                  "note": "history line for the start-up benchmark"}] * 7 + [
                {"ts": f"{month}-01T00:00:00.000Z", "event": "round_end", "round_num": r,
                 "exit_code": 0, "outcome": "ok"}]
            f.write("".join(json.dumps(e) + "\n" for e in block))
            n += len(block)
        # On disk, as an old history is: the daemon's first fdatasync of the
        # events file must not be the one that writes 100 MB out.
        f.flush()
        os.fsync(f.fileno())
    return rounds


def launch(lines, with_state):
    p = Project("succeed", max_rounds=1)
    try:
        rounds = write_history(p, lines) if lines else 0
        if with_state:
            # A round first: it leaves the state.json a clean stop leaves.
            proc = p.start("--round")
            proc.communicate(timeout=600)
            assert proc.returncode == 0
            rounds += 1
        t0 = time.time()
        proc = p.start("--round")
        proc.communicate(timeout=600)
        start = p.events("round_start")[-1]
        assert start["round_num"] == rounds + 1, (start["round_num"], rounds)
        return ts(start) - t0
    finally:
        cleanup(p)


if __name__ == "__main__":
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print("startup-history: launch -> first round_start (ms; events have ms resolution)")
    for lines in (0, 1_000, 100_000, 1_000_000):
        for with_state in (True, False):
            runs = sorted(launch(lines, with_state) for _ in range(repeat))
            label = "no history (baseline)" if lines == 0 else f"{lines:>9,} lines"
            print(f"  {label:<22} {'with' if with_state else 'without'} state.json: "
                  f"median {runs[len(runs) // 2] * 1000:6.1f} ms, "
                  f"min {runs[0] * 1000:6.1f}, max {runs[-1] * 1000:6.1f}")
