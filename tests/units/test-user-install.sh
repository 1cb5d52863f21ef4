#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# agent-runner install/uninstall against a REAL `systemd --user` manager
# (scripts/user-session-harness.sh: private mount namespace, private
# journald, no systemd PID 1 needed), for a throwaway user.
#
# The unit template comes from the build tree (data/systemd/user), with
# ExecStart= pointed at the build tree's agent-runnerd, installed into the
# user's ~/.local/share/systemd/user (where a --prefix=$HOME/.local install
# would put it). Everything else is what the product does: install writes
# the config link and the drop-in and talks to the manager over D-Bus.
#
# Cases (one project = one unit each, so start limits never interfere):
#   run    install -> active + bus name owned; stop is graceful (the round
#          finishes, exit 0, inactive not failed); doctor; uninstall leaves
#          nothing behind
#   done   the agent writes .agent-done -> inactive, not restarted
#   broken the config breaks after install -> exit 78, failed, not restarted
#   wd     the daemon stops pinging the watchdog -> killed and restarted
#   refuse install refuses a config whose startup checks fail
#
# Needs root, unshare and runuser; exits 77 (skip) without them.
set -eu
SRC=${AR_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${AR_BUILD_ROOT:-$SRC/build}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (namespaces, a throwaway user, cgroups)"
command -v unshare >/dev/null && command -v runuser >/dev/null || skip "needs unshare and runuser"
[ -x /lib/systemd/systemd ] && [ -x /lib/systemd/systemd-journald ] || skip "needs systemd installed"
[ -d /usr/lib/systemd/user ] && [ -e /usr/lib/systemd/user/dbus.socket ] || skip "needs dbus-user-session"
unshare --mount true 2>/dev/null || skip "unshare --mount not permitted here"
for f in src/client/agent-runner src/daemon/agent-runnerd data/systemd/user/agent-runner@.service; do
  [ -e "$BUILD/$f" ] || { echo "missing $BUILD/$f"; exit 1; }
done
. "$SRC/tests/units/unit-user.sh"
make_unit_user arunits

cat >"$H/test.sh" <<'EOS'
set -eu
AR="$BUILD/src/client/agent-runner"
AGENTS="$SRC/tests/fake-agents"
. "$SRC/tests/units/project-config.sh"
fail() { echo "FAIL: $*"; for u in $(systemctl --user list-units --all --plain --no-legend 'agent-runner@*' | awk '{print $1}'); do systemctl --user status --no-pager "$u" || true; journalctl --no-pager -n 30 --user-unit "$u" || true; done; exit 1; }
prop() { systemctl --user show -P "$2" "agent-runner@$1.service"; }
# wait_for SECONDS 'condition' : generous "it happens at all" bounds
wait_for() { local n=$(( $1 * 10 )); shift; for _ in $(seq $n); do eval "$1" && return 0; sleep 0.1; done; return 1; }

project() { # project NAME AGENT [extra toml]
  local d=$HOME/$1
  mkdir -p "$d"; git init -q "$d"
  python3 -c "print('You are a fake agent under test. ' * 40)" >"$d/prompt.md"
  project_config "$AGENTS/$2" "${3:-}" >"$d/agent-runner.toml"
}
# test-only drop-in: fast restarts (RestartSec=10s in the product unit)
fast() {
  local dd=$HOME/.config/systemd/user/agent-runner@$1.service.d
  mkdir -p "$dd"; printf '[Service]\nRestartSec=1s\n%s\n' "${2:-}" >"$dd/60-test.conf"
}

echo "[$(date +%T)] == refuse: install refuses failing startup checks"
project refuse sleep
rm "$HOME/refuse/prompt.md"
rc=0; (cd "$HOME/refuse" && "$AR" install) >out.txt 2>&1 || rc=$?
[ $rc = 78 ] || fail "install of a broken config: rc=$rc, want 78"
grep -q prompt_file_exists out.txt || fail "refusal does not name the failing check: $(cat out.txt)"
[ ! -e "$HOME/.config/agent-runner/projects/refuse.toml" ] || fail "refused install wrote the link"

echo "[$(date +%T)] == run: install -> active, bus name owned"
project run sleep "$(printf '[agent.env]\nFAKE_SLEEP = "3"')"
(cd "$HOME/run" && "$AR" install) || fail "install failed"
[ -L "$HOME/.config/agent-runner/projects/run.toml" ] || fail "no config link"
grep -q '^Environment="PATH=/usr/local/bin:/usr/bin:/bin"$' \
  "$HOME/.config/systemd/user/agent-runner@run.service.d/50-agent-runner.conf" || fail "drop-in PATH"
[ "$(prop run ActiveState)" = active ] || fail "not active after install: $(prop run ActiveState)"
[ "$(systemctl --user is-enabled agent-runner@run.service)" = enabled ] || fail "not enabled"
wait_for 30 'busctl --user list --no-legend | grep -q "^org.agentrunner.Runner1.run "' \
  || fail "bus name org.agentrunner.Runner1.run not owned"
wait_for 30 '[ -n "$(ls "$HOME/run/logs/rounds" 2>/dev/null)" ]' || fail "no round started"
(cd "$HOME/run" && "$AR" doctor) >doctor.txt 2>&1 || { cat doctor.txt; fail "doctor reports a failure"; }
(cd "$HOME/run" && "$AR" doctor --json) | python3 -c '
import json, sys
d = json.load(sys.stdin)
st = {c["name"]: c["status"] for c in d["checks"]}
assert st["unit_active"] == "ok" and st["bus_name"] == "ok" and st["unit_enabled"] == "ok", st
' || fail "doctor --json"

echo "[$(date +%T)] == run: status shows the unit"
(cd "$HOME/run" && "$AR" status) >status.txt 2>&1 || { cat status.txt; fail "status failed"; }
grep -q 'active (running) agent-runner@run.service' status.txt || { cat status.txt; fail "status lacks the unit"; }
(cd "$HOME/run" && "$AR" status --json) | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["running"] and d["unit"]["active_state"] == "active", d
assert d["unit"]["name"] == "agent-runner@run.service" and d["unit"]["restarts"] == 0, d
' || fail "status --json lacks the unit"

echo "[$(date +%T)] == run: each round in its own cgroup (Delegate=yes)"
# The unit says Delegate=yes (and AGENT_RUNNER_CGROUP_DELEGATED=1); wherever
# the manager's cgroup2 tree is writable for the user, the round's agent runs
# in <unit cgroup>/round-N. Without a cgroup2 tree this says so.
cg2=$(awk '/ - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
svc_cg="$cg2$(prop run ControlGroup)"
if [ -n "$cg2" ] && [ -w "$svc_cg" ]; then
  wait_for 30 'python3 - "$HOME/run/logs/state.json" "$svc_cg" <<"PY"
import json, os, re, sys
rec = json.load(open(sys.argv[1])).get("round_procs") or {}
cg = rec.get("cgroup") or ""
ok = re.fullmatch(re.escape(sys.argv[2]) + r"/round-\d+", cg) is not None
procs = open(os.path.join(cg, "cgroup.procs")).read().split() if ok else []
sys.exit(0 if ok and str(rec["session"]) in procs else 1)
PY' || fail "no round cgroup under $svc_cg: $(cat "$HOME/run/logs/state.json")"
else
  echo "note: no writable cgroup2 tree at $svc_cg; per-round cgroup not exercised"
fi

echo "[$(date +%T)] == run: systemctl reload re-reads the config (ExecReload=)"
systemctl --user reload agent-runner@run.service || fail "systemctl reload failed"
wait_for 30 'grep -q "\"config_reloaded\"" "$HOME"/run/logs/events-*.jsonl' || fail "no config_reloaded after systemctl reload"
[ "$(prop run ActiveState)" = active ] || fail "not active after reload: $(prop run ActiveState)"

echo "[$(date +%T)] == run: stop is graceful"
(cd "$HOME/run" && "$AR" stop) || fail "agent-runner stop failed"
[ "$(prop run ActiveState)" = inactive ] || fail "after stop: $(prop run ActiveState)"
[ "$(prop run Result)" = success ] || fail "stop result: $(prop run Result)"
[ "$(prop run ExecMainStatus)" = 0 ] || fail "stop exit status: $(prop run ExecMainStatus)"
cat "$HOME"/run/logs/events-*.jsonl | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
starts = [e for e in ev if e["event"] == "round_start"]
ends = [e for e in ev if e["event"] == "round_end"]
assert starts and len(starts) == len(ends), ("a round was abandoned", len(starts), len(ends))
assert ends[-1]["outcome"] == "ok" and ends[-1]["exit_code"] == 0, ends[-1]
' || fail "the stop was not graceful"

echo "[$(date +%T)] == run: D-Bus activation starts the stopped unit"
[ -f "$HOME/.local/share/dbus-1/services/org.agentrunner.Runner1.run.service" ] || fail "no activation file"
busctl --user call org.agentrunner.Runner1.run /org/agentrunner/Runner1 org.agentrunner.Runner1 \
  Peek 'a{sv}' 0 >/dev/null || fail "a call to the stopped project's name did not activate it"
wait_for 30 '[ "$(prop run ActiveState)" = active ]' || fail "activation: $(prop run ActiveState)"
(cd "$HOME/run" && "$AR" stop --now) || fail "stop after activation failed"

echo "[$(date +%T)] == run: uninstall leaves nothing behind"
(cd "$HOME/run" && "$AR" uninstall) || fail "uninstall failed"
left=$(find "$HOME/.config" "$HOME/.local/share/dbus-1" \( -name '*agent-runner*' -o -name '*Runner1*' -o -name 'run.toml' \) 2>/dev/null)
[ -z "$left" ] || fail "left behind: $left"
[ -z "$(systemctl --user list-units --all --plain --no-legend 'agent-runner@run.service')" ] \
  || fail "unit still loaded: $(systemctl --user list-units --all 'agent-runner@run.service')"

echo "[$(date +%T)] == done: .agent-done -> inactive, not restarted"
project done agent-done
fast done
(cd "$HOME/done" && "$AR" install) || fail "install failed"
wait_for 60 '[ "$(prop done ActiveState)" = inactive ]' || fail "still $(prop done ActiveState)"
[ -e "$HOME/done/logs/.agent-done" ] || fail "no .agent-done"
sleep 3 # > RestartSec=1s
[ "$(prop done ActiveState)" = inactive ] || fail "resurrected: $(prop done ActiveState)"
[ "$(prop done NRestarts)" = 0 ] || fail "restarted $(prop done NRestarts) times"
# an explicit `agent-runner start` of the installed unit clears .agent-done
(cd "$HOME/done" && "$AR" start) || fail "agent-runner start of the installed unit"
wait_for 60 '[ "$(grep -hc round_start "$HOME"/done/logs/events-*.jsonl | awk "{s+=\$1} END {print s+0}")" -ge 2 ]' \
  || fail "start did not run a new round"
wait_for 60 '[ "$(prop done ActiveState)" = inactive ]' || fail "still $(prop done ActiveState)"
rm -f "$HOME"/.config/systemd/user/agent-runner@done.service.d/60-test.conf
(cd "$HOME/done" && "$AR" uninstall) >/dev/null || fail "uninstall done"

echo "[$(date +%T)] == broken: exit 78, failed, not restarted"
project broken sleep "$(printf '[agent.env]\nFAKE_SLEEP = "1"')"
fast broken
(cd "$HOME/broken" && "$AR" install --no-start) || fail "install failed"
rm "$HOME/broken/prompt.md"
systemctl --user start agent-runner@broken.service 2>/dev/null && fail "start of a broken config succeeded"
wait_for 30 '[ "$(prop broken ActiveState)" = failed ]' || fail "not failed: $(prop broken ActiveState)"
[ "$(prop broken ExecMainStatus)" = 78 ] || fail "exit status $(prop broken ExecMainStatus), want 78"
sleep 3
[ "$(prop broken ActiveState)" = failed ] || fail "restarted: $(prop broken ActiveState)"
[ "$(prop broken NRestarts)" = 0 ] || fail "NRestarts=$(prop broken NRestarts)"
(cd "$HOME/broken" && "$AR" doctor) >doctor.txt 2>&1 && fail "doctor passes a failed unit"
grep -q 'unit_active' doctor.txt || fail "doctor does not show the unit state"
rm -f "$HOME"/.config/systemd/user/agent-runner@broken.service.d/60-test.conf
(cd "$HOME/broken" && "$AR" uninstall) >/dev/null || fail "uninstall broken"

echo "[$(date +%T)] == wd: a daemon that stops pinging is killed and restarted"
project wd sleep "$(printf '[agent.env]\nFAKE_SLEEP = "1"')"
fast wd "$(printf 'WatchdogSec=2s\nEnvironment=AGENT_RUNNER_TEST_NO_WATCHDOG=1')"
(cd "$HOME/wd" && "$AR" install) || fail "install failed"
wait_for 60 '[ "$(prop wd NRestarts)" -ge 1 ]' || fail "no restart after the watchdog: $(prop wd NRestarts)"
journalctl --no-pager --user-unit agent-runner@wd.service -o cat 2>/dev/null | grep -qi watchdog \
  || journalctl --no-pager -o cat 2>/dev/null | grep -i 'agent-runner@wd.service' | grep -qi watchdog \
  || echo "note: the watchdog message is not in the readable journal"
rm -f "$HOME"/.config/systemd/user/agent-runner@wd.service.d/60-test.conf
(cd "$HOME/wd" && "$AR" uninstall) >/dev/null || fail "uninstall wd"

left=$(find "$HOME/.config" -name '*agent-runner*' 2>/dev/null)
[ -z "$left" ] || fail "left behind: $left"
echo "all cases passed"
EOS
chown "$U": "$H/test.sh"

# The build tree's helpers (the installed binaries carry no build path).
. "$SRC/tests/units/build-env.sh"
HARNESS_ENV="SRC=$SRC BUILD=$BUILD$(build_env)" "$SRC/scripts/user-session-harness.sh" "$U" "cd && bash ./test.sh"
