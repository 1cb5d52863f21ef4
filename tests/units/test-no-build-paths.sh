#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installed binaries carry no path of the build or source tree: they find
# their helpers, presets and templates through the configured prefix, and a
# build tree is run with the environment overrides (meson devenv, tests).
# The debug info (DW_AT_comp_dir) is left out, as a packager's strip does.
# Usage: test-no-build-paths.sh BINARY...
set -eu
SRC=${AR_SOURCE_ROOT:?}
BUILD=${AR_BUILD_ROOT:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
command -v objcopy >/dev/null || { echo "SKIP: objcopy missing (binutils)"; exit 77; }
bad=0
for b in "$@"; do
  objcopy --strip-debug "$b" "$T/stripped"
  for dir in "$BUILD" "$SRC"; do
    if grep -a -q -F -e "$dir" "$T/stripped"; then
      echo "FAIL: $b contains $dir:"
      strings -a "$T/stripped" | grep -F -e "$dir" | head -5
      bad=1
    fi
  done
done
[ $bad = 0 ] && echo "ok: $# binaries without $BUILD or $SRC"
exit $bad
