# SPDX-License-Identifier: Apache-2.0
"""The crash-consistency campaign at scale: N kill -9 of agent-runnerd at
random points of rounds that write in the tree, get stashed and leave
background children (tests/daemon/test_reliability.py's Campaign; the test
suite runs it with a small N). Prints the invariants' verdict and the
figures: restarts after a kill (start to first round, which includes
ending what the killed round left) against clean restarts of the same run
(the baseline, one every 10 kills). Never asserts on timing.

Usage: crash-consistency.py [N] [SEED]"""

import collections
import os
import statistics
import sys
import time

SOURCE_ROOT = os.environ.get("AR_SOURCE_ROOT",
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "daemon"))

from test_reliability import Campaign  # noqa: E402


def ms(values):
    if not values:
        return "n/a"
    v = sorted(values)
    p95 = v[min(len(v) - 1, int(len(v) * 0.95))]
    return (f"median {statistics.median(v) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {v[-1] * 1000:.0f} ms (n={len(v)})")


def main(n, seed):
    c = Campaign(seed)
    baseline = []
    t0 = time.monotonic()
    try:
        for i in range(n):
            if i % 10 == 9:
                baseline.append(c.clean_once())
            c.kill_once()
            if (i + 1) % 100 == 0:
                print(f"  {i + 1}/{n} kills, {time.monotonic() - t0:.0f} s", flush=True)
        problems = c.finish()
        leftovers = c.p.events("round_leftovers_killed")
        after_restart = [e for e in leftovers if e["after_restart"]]
        print(f"seed {seed}: {c.kills} kill -9, {c.rounds} rounds, {c.tokens} pieces of work, "
              f"{time.monotonic() - t0:.0f} s")
        print(f"leftovers ended after a restart: {len(after_restart)} times, "
              f"{sum(e['count'] for e in after_restart)} processes; at round end: "
              f"{len(leftovers) - len(after_restart)} times")
        print(f"orphan stashes: {len(c.p.events('orphan_stashed'))}, failed: "
              f"{len(c.p.events('orphan_stash_failed'))}; stale index locks removed: "
              f"{len(c.p.events('stale_index_lock_removed'))}")
        reasons = collections.Counter(e["reason"][:120] for e in c.p.events("orphan_stash_failed"))
        for reason, times in reasons.most_common(5):
            print(f"  stash failed {times}x: {reason}")
        print(f"restart after kill -9: {ms(c.restart_s)}")
        print(f"baseline, restart after a clean stop: {ms(baseline)}")
        print("invariants: " + ("all hold" if not problems else f"{len(problems)} broken"))
        for p in problems[:20]:
            print("  " + p)
        return 1 if problems else 0
    finally:
        c.cleanup()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
                  int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())))
