#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Puts the SPDX licence line at the top of every tracked C, Python, shell
# and JavaScript source that lacks one (the project is Apache-2.0,
# LICENSE). Run after adding files; .ci/run checks it with --check.
set -eu
cd "$(dirname "$0")/.."
check=false
[ "${1:-}" = --check ] && check=true
tag="SPDX-License-Identifier: Apache-2.0"
missing=0
for f in $(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'tools/*.[ch]' 'src/*.js' \
  'tests/*.py' 'bench/*.py' 'scripts/*.sh' 'scripts/*.py' 'tests/*.sh' 'bench/*.sh'); do
  head -n 3 "$f" | grep -q "SPDX-License-Identifier" && continue
  if $check; then
    echo "missing SPDX line: $f"
    missing=1
    continue
  fi
  case "$f" in
  *.c | *.h | *.js) sed -i "1i /* $tag */" "$f" ;;
  *)
    if head -n 1 "$f" | grep -q '^#!'; then
      sed -i "1a # $tag" "$f"
    else
      sed -i "1i # $tag" "$f"
    fi
    ;;
  esac
done
if [ $missing = 1 ]; then
  echo "run scripts/add-spdx.sh"
  exit 1
fi
exit 0
