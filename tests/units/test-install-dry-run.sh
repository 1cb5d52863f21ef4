#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `agent-runner install --dry-run` and `uninstall --dry-run`, user and
# system mode: golden checks of the paths, the drop-in content and the
# D-Bus calls, and that nothing at all is written. No root, no systemd.
set -eu
SRC=${AR_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${AR_BUILD_ROOT:-$SRC/build}
AR=$BUILD/src/client/agent-runner
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=1; }
expect() { # expect FILE 'exact line'
  grep -qxF -- "$2" "$1" || fail "missing line in $(basename "$1"): $2"
}
expect_re() { # expect_re FILE 'extended regex of a whole line'
  grep -qxE -- "$2" "$1" || fail "no line in $(basename "$1") matches: $2"
}

P=$T/work/dry.proj
mkdir -p "$P" "$T/config" "$T/home"
git init -q "$P"
python3 -c "print('You are a fake agent under test. ' * 40)" >"$P/prompt.md"
cat >"$P/agent-runner.toml" <<TOML
[agent]
command = ["$SRC/tests/fake-agents/succeed"]
prompt_arg_template = []
prompt_delivery = "stdin"
[runtime]
work_dir = "."
round_timeout_s = 1000
log_dir = "logs"
[prompt]
file = "prompt.md"
[phases]
list = ["a"]
[phases.a]
round_timeout_s = 2000
TOML
run() { (cd "$P" && env -i HOME=$T/home XDG_CONFIG_HOME=$T/config LANG=C.UTF-8 \
  AGENT_RUNNER_VCS_HELPER="$AGENT_RUNNER_VCS_HELPER" AGENT_RUNNER_DAEMON="$AGENT_RUNNER_DAEMON" \
  AGENT_RUNNER_TEMPLATES_DIR="$AGENT_RUNNER_TEMPLATES_DIR" \
  "PATH=/opt/my bin/%x:relative:/usr/bin:/bin:/usr/bin" "$AR" "$@"); }

# --- user mode
run install --dry-run --monitor >"$T/user.out" 2>&1 || { cat "$T/user.out"; fail "user dry-run rc"; }
O=$T/user.out
expect $O "would write symlink $T/config/agent-runner/projects/dry.proj.toml -> $P/agent-runner.toml"
expect $O "would write $T/config/systemd/user/agent-runner@dry.proj.service.d/50-agent-runner.conf:"
expect $O "    [Service]"
# PATH: relative entries and duplicates dropped, '%' doubled for systemd
expect $O '    Environment="PATH=/opt/my bin/%%x:/usr/bin:/bin"'
# longest round timeout (phase a: 2000) + grace + margin
expect $O "    TimeoutStopSec=2120s"
# D-Bus activation: the drop-in names the bus name, a service file maps it
# to the unit (the name escaped: dry.proj -> dry_2eproj)
expect $O "    BusName=org.agentrunner.Runner1.dry_2eproj"
expect_re $O "would write /.*/dbus-1/services/org\.agentrunner\.Runner1\.dry_2eproj\.service:"
expect $O "    SystemdService=agent-runner@dry.proj.service"
expect $O "would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.Reload()"
expect $O 'would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.EnableUnitFiles(["agent-runner@dry.proj.service"], runtime=false, force=true)'
expect $O 'would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.EnableUnitFiles(["agent-runner-monitor.service"], runtime=false, force=true)'
expect $O 'would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.StartUnit("agent-runner@dry.proj.service", "replace")'
expect $O 'would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.StartUnit("agent-runner-monitor.service", "replace")'
grep -q "agent-runner-monitor.service.d" $O && fail "the shared monitor gets no per-project drop-in"
grep -q 'User=' $O && fail "user mode drop-in has User="
grep -q 'agent-runner-monitor@' $O && fail "the monitor unit is installed without --monitor"
[ "$(grep -c 'TimeoutStopSec' $O)" = 1 ] || fail "TimeoutStopSec must be in the supervisor's drop-in only"

# --- system mode (as any user: --dry-run needs no root)
run install --system --dry-run --run-as nobody >"$T/sys.out" 2>&1 || { cat "$T/sys.out"; fail "system dry-run rc"; }
O=$T/sys.out
G=$(id -gn nobody)
expect $O "would write symlink /etc/agent-runner/projects/dry.proj.toml -> $P/agent-runner.toml"
expect $O "would write /etc/systemd/system/agent-runner@dry.proj.service.d/50-agent-runner.conf:"
expect $O "    User=nobody"
expect $O "    Group=$G"
expect $O "would call (D-Bus, system manager): org.freedesktop.systemd1.Manager.Reload()"
expect $O 'would call (D-Bus, system manager): org.freedesktop.systemd1.Manager.EnableUnitFiles(["agent-runner@dry.proj.service"], runtime=false, force=true)'
expect $O "  sudo systemctl start agent-runner@dry.proj.service"
# the service runs as nobody: its own bus policy (the name escaped:
# dry.proj -> dry_2eproj) and polkit actions owned by it
expect_re $O "would write /.*/dbus-1/system.d/org\.agentrunner\.Runner1\.dry_2eproj\.conf:"
expect $O '      <policy user="nobody">'
expect $O '        <allow own="org.agentrunner.Runner1.dry_2eproj"/>'
expect_re $O "would write /.*/polkit-1/actions/org\.agentrunner\.runner\.dry_2eproj\.policy:"
expect $O '      <action id="org.agentrunner.runner.dry_2eproj.manage">'
expect $O '      <action id="org.agentrunner.runner.dry_2eproj.upgrade">'
expect $O '      <action id="org.agentrunner.runner.dry_2eproj.read-transcript">'
[ "$(grep -cxF '        <annotate key="org.freedesktop.policykit.owner">unix-user:nobody</annotate>' $O)" = 3 ] ||
  fail "polkit actions without the owner annotation"
[ "$(grep -cxF '          <allow_any>auth_admin_keep</allow_any>' $O)" = 3 ] || fail "polkit defaults"
grep -q -- '--' <(sed -n '/<!--/,/-->/p' $O | sed 's/<!--//; s/-->//') && fail "'--' inside an XML comment"
expect $O "would call (D-Bus, system bus): org.freedesktop.DBus.ReloadConfig()"
grep -q 'StartUnit' $O && fail "system mode must not start the unit"

# --- uninstall
run uninstall --dry-run >"$T/un.out" 2>&1 || { cat "$T/un.out"; fail "uninstall dry-run rc"; }
expect $T/un.out 'would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.StopUnit("agent-runner@dry.proj.service", "replace")'
expect $T/un.out 'would call (D-Bus, user manager): org.freedesktop.systemd1.Manager.DisableUnitFiles(["agent-runner@dry.proj.service"], runtime=false)'
grep -q ReloadConfig $T/un.out && fail "user-mode uninstall reloads the system bus"
run uninstall --system --dry-run >"$T/sysun.out" 2>&1 || { cat "$T/sysun.out"; fail "system uninstall dry-run rc"; }
expect $T/sysun.out "would call (D-Bus, system bus): org.freedesktop.DBus.ReloadConfig()"
expect $T/sysun.out 'would call (D-Bus, system manager): org.freedesktop.systemd1.Manager.DisableUnitFiles(["agent-runner@dry.proj.service"], runtime=false)'

# --- a broken config is refused, also in a dry run
rm "$P/prompt.md"
rc=0; run install --dry-run >"$T/broken.out" 2>&1 || rc=$?
[ $rc = 78 ] || fail "broken config: rc=$rc, want 78"
grep -q prompt_file_exists "$T/broken.out" || fail "refusal does not name the check"

# --- nothing written anywhere
[ -z "$(find "$T/config" "$T/home" -mindepth 1 2>/dev/null)" ] || fail "dry run wrote: $(find "$T/config" "$T/home" -mindepth 1)"
[ ! -e /etc/agent-runner/projects/dry.proj.toml ] || fail "dry run wrote /etc"
[ $fails = 0 ] && echo "all dry-run checks passed"
exit $fails
