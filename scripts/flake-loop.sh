#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run the test suite (or one suite) N times in a row and report every test
# that failed at least once, with how often: a flake shows as a test that
# fails in some runs and passes in others.
# Usage: scripts/flake-loop.sh N [SUITE] [BUILD_DIR]
#   N          runs (>= 1)
#   SUITE      a meson test suite (daemon, bus, events, ...); empty or "all":
#              every test
#   BUILD_DIR  default: build
# Each run's log is kept in BUILD_DIR/flake-loop/run-K.txt (meson's
# testlog), the summary in BUILD_DIR/flake-loop/summary.txt.
# Exit status: 0 when every run passed, 1 when any test failed, 2 on usage.
set -eu
cd "$(dirname "$0")/.."
N=${1:-}
SUITE=${2:-all}
B=${3:-build}
case "$N" in
'' | *[!0-9]* | 0)
  echo "usage: $0 N [SUITE|all] [BUILD_DIR]" >&2
  exit 2
  ;;
esac
[ -d "$B" ] || {
  echo "$0: no build directory $B (meson setup $B first)" >&2
  exit 2
}
OUT=$B/flake-loop
rm -rf "$OUT"
mkdir -p "$OUT"
set --
[ "$SUITE" = all ] || set -- --suite "$SUITE"
meson compile -C "$B" >/dev/null

k=1
failed_runs=0
while [ "$k" -le "$N" ]; do
  start=$(date +%s)
  if meson test -C "$B" --print-errorlogs "$@" >"$OUT/stdout-$k.txt" 2>&1; then
    status=pass
  else
    status=FAIL
    failed_runs=$((failed_runs + 1))
  fi
  cp "$B/meson-logs/testlog.txt" "$OUT/run-$k.txt"
  # "N/M name STATUS time" lines: the failures, once per run (meson
  # repeats them under "Summary of Failures").
  grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR) ' "$OUT/stdout-$k.txt" |
    sed -E 's/^ *[0-9]+\/[0-9]+ +//; s/ +(FAIL|TIMEOUT|ERROR) .*/ \1/' | sort -u \
    >>"$OUT/failures.txt" || true
  echo "run $k/$N: $status ($(($(date +%s) - start)) s)"
  k=$((k + 1))
done

{
  echo "$N runs of ${SUITE}: $((N - failed_runs)) passed, $failed_runs with failures"
  if [ -s "$OUT/failures.txt" ]; then
    echo "tests that failed (times, test):"
    sort "$OUT/failures.txt" | uniq -c | sort -rn
  fi
} | tee "$OUT/summary.txt"
[ "$failed_runs" -eq 0 ]
