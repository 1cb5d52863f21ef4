#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when a C file under src/ tests/ bench/ tools/ is not formatted as
# .clang-format says (layout and the include order). It changes nothing;
# to apply the format: scripts/check-format.sh --fix
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check-format: clang-format is not installed (scripts/setup.sh installs it)" >&2
  exit 1
fi
if [ "${1:-}" = --fix ]; then
  mode=-i
else
  mode="--dry-run --Werror"
fi
# Tracked files only: build trees and scratch files are not the project's.
git ls-files -z -- 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'tools/*.[ch]' |
  xargs -0 -r clang-format $mode
