#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz the TOML parser with libFuzzer for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS]
#
# Builds fuzz-toml in ./build-fuzz (clang, -Dfuzzing=true), seeds a corpus
# from every .toml file of toml-test (../shared/toml-test, if present), and
# exits non-zero when libFuzzer finds a crash, leak or sanitizer report; the
# reproducer is left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*)
  echo "usage: $0 [SECONDS]" >&2
  exit 2
  ;;
esac

builddir=build-fuzz
if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang meson setup "$builddir" -Dfuzzing=true -Dtests=true
else
  meson configure "$builddir" -Dfuzzing=true -Dtests=true >/dev/null
fi
meson compile -C "$builddir" tests/fuzz/fuzz-toml

corpus="$builddir/fuzz-corpus"
mkdir -p "$corpus" "$builddir/artifacts"
shared="${AR_SHARED_DIR:-$PWD/../shared}"
if [ -d "$shared/toml-test/tests" ]; then
  # Named by content so reruns do not pile up copies.
  find "$shared/toml-test/tests" -name '*.toml' -type f -print0 |
    while IFS= read -r -d '' f; do
      cp -f "$f" "$corpus/seed-$(sha1sum <"$f" | cut -c1-16)"
    done
else
  echo "fuzz.sh: no toml-test data at $shared/toml-test; starting from an empty corpus" >&2
fi

# libFuzzer reports every new input; keep that in a log and show the end.
log="$builddir/fuzz.log"
rc=0
"$builddir/tests/fuzz/fuzz-toml" \
  -max_total_time="$seconds" \
  -max_len=65536 \
  -timeout=10 \
  -artifact_prefix="$builddir/artifacts/" \
  -print_final_stats=1 \
  "$corpus" >"$log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" | tail -n 80
  echo "fuzz.sh: the fuzzer found a problem (exit $rc); crash inputs in $builddir/artifacts/" >&2
else
  grep -E '^(Done|stat::)' "$log" || true
  echo "fuzz.sh: ${seconds}s of fuzzing the TOML parser found nothing (log: $log)"
fi
exit "$rc"
