#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `systemd-analyze verify` on every generated unit (data/systemd/{user,system}),
# instantiated as agent-runner@test.service in a temporary directory with
# ExecStart= pointed at the build tree (the configured libexecdir need not
# exist yet). Any output at all (warnings included: unknown keys only warn,
# rc 0) fails the test. Works without systemd as PID 1 and without root.
set -eu
SRC=${AR_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${AR_BUILD_ROOT:-$SRC/build}
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
chmod 755 "$D"
fails=0
for mode in user system; do
  # The supervisor is a template (one instance per project), the monitor
  # one unit per manager.
  for unit in agent-runner@ agent-runner-monitor; do
    in=$BUILD/data/systemd/$mode/$unit.service
    [ -f "$in" ] || { echo "missing $in"; exit 1; }
    grep -q '@[A-Z_]*@' "$in" && { echo "FAIL: unsubstituted @VAR@ in $in"; fails=1; }
    mkdir -p "$D/$mode"
    out=$D/$mode/${unit/%@/@test}.service
    sed -e "s|^ExecStart=[^ ]*/agent-runnerd |ExecStart=$BUILD/src/daemon/agent-runnerd |" \
        -e "s|^ExecStart=[^ ]*/agent-runner-monitor |ExecStart=$BUILD/src/monitor/agent-runner-monitor |" \
        "$in" >"$out"
    if [ $mode = user ]; then
      msgs=$(XDG_RUNTIME_DIR=$D systemd-analyze --user verify --man=no "$out" 2>&1) && rc=0 || rc=$?
    else
      msgs=$(systemd-analyze verify --man=no "$out" 2>&1) && rc=0 || rc=$?
    fi
    # systemd-analyze 252 complains about the missing /run/systemd marker
    # dirs of a host without systemd PID 1; that is about the host.
    msgs=$(printf '%s\n' "$msgs" | grep -v -e '^$' -e 'systemd-units-load' || true)
    if [ $rc != 0 ] || [ -n "$msgs" ]; then
      echo "FAIL: $mode $unit.service (rc=$rc):"
      printf '%s\n' "$msgs"
      fails=1
    else
      echo "ok: $mode $unit.service"
    fi
  done
done
# The exit codes the daemon documents as "stopped on purpose" must all be
# in RestartPreventExitStatus= of the supervisor.
for code in 75 78 79 80; do
  for mode in user system; do
    grep -q "^RestartPreventExitStatus=.*\b$code\b" "$BUILD/data/systemd/$mode/agent-runner@.service" \
      || { echo "FAIL: $mode unit does not prevent restart on $code"; fails=1; }
  done
done
for code in 75 78 79 80; do
  grep -q "AR_EXIT_[A-Z_]* *= *$code," "$SRC/src/common/ar-exit.h" \
    || { echo "FAIL: exit code $code is no longer in src/common/ar-exit.h; update the units"; fails=1; }
done
exit $fails
