#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The one way to regenerate the files generated from tables in the code,
# and with --check the one drift test (meson test docs-drift): it prints a
# diff and fails when a committed file differs from what the code gives.
# Usage: scripts/regen-docs.sh [--check] [BUILD_DIR]   (default: build)
# Every file comes from tools/ar-gen-docs (`ar-gen-docs list` names them),
# except the client's man page, whose VERBS section the client prints from
# its verb and option tables.
set -eu
check=false
if [ "${1:-}" = --check ]; then
  check=true
  shift
fi
cd "$(dirname "$0")/.."
B=${1:-build}
# Under meson test the build is done; running meson from inside it is not.
$check || meson compile -C "$B" ar-gen-docs src/client/agent-runner-vcs >/dev/null

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$B"/tools/ar-gen-docs list >"$T/list"
echo "client-man docs/agent-runner.1" >>"$T/list"
while read -r mode path; do
  mkdir -p "$T/$(dirname "$path")"
  if [ "$mode" = client-man ]; then
    LC_ALL=C.UTF-8 LANGUAGE=C "$B"/src/client/agent-runner-vcs __complete man docs/agent-runner.1.in \
      >"$T/$path"
  else
    "$B"/tools/ar-gen-docs "$mode" >"$T/$path"
  fi
done <"$T/list"

failed=0
while read -r mode path; do
  if ! $check; then
    cp "$T/$path" "$path"
  elif cmp -s "$path" "$T/$path"; then
    echo "ok: $path up to date"
  else
    diff -u "$path" "$T/$path" || true
    echo "FAIL: $path is out of date with the code: run scripts/regen-docs.sh (then commit it)"
    failed=1
  fi
done <"$T/list"
exit $failed
