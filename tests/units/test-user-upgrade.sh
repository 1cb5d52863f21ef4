#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Upgrade in place under a REAL `systemd --user` manager
# (scripts/user-session-harness.sh, as test-user-install.sh): the installed
# unit's agent-runnerd re-executes into a second build
# (tests/agent-runnerd-nextver) and systemd sees no restart.
#
# Cases:
#   upgrade  same MainPID, NRestarts 0, still active, the watchdog (2 s)
#            never fires, service_upgraded with both versions, the Version
#            property and the next round on the new image
#   midround Upgrade while the agent prints: the same agent goes on (same
#            AgentPid), round_kept, the round ends whole; no restart, no
#            missed watchdog ping
#   kill9    SIGKILL right after Upgrade answers (during the hand-over):
#            the unit restarts and the rounds go on with nothing lost
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
for f in src/client/agent-runner src/daemon/agent-runnerd tests/agent-runnerd-nextver \
  data/systemd/user/agent-runner@.service; do
  [ -e "$BUILD/$f" ] || { echo "missing $BUILD/$f"; exit 1; }
done
. "$SRC/tests/units/unit-user.sh"
make_unit_user arupg

cat >"$H/test.sh" <<'EOS'
set -eu
AR="$BUILD/src/client/agent-runner"
NEXT="$BUILD/tests/agent-runnerd-nextver"
AGENTS="$SRC/tests/fake-agents"
. "$SRC/tests/units/project-config.sh"
fail() { echo "FAIL: $*"; tail -n 8 "$HOME"/*/logs/events-*.jsonl 2>/dev/null || true; for u in $(systemctl --user list-units --all --plain --no-legend 'agent-runner@*' | awk '{print $1}'); do systemctl --user status --no-pager "$u" || true; journalctl --no-pager -n 30 --user-unit "$u" || true; done; exit 1; }
prop() { systemctl --user show -P "$2" "agent-runner@$1.service"; }
wait_for() { local n=$(( $1 * 10 )); shift; for _ in $(seq $n); do eval "$1" && return 0; sleep 0.1; done; return 1; }
count() { cat "$HOME/$1"/logs/events-*.jsonl 2>/dev/null | python3 -c '
import json, sys
n = 0
for l in sys.stdin:
    try:
        n += json.loads(l)["event"] == sys.argv[1]
    except ValueError:
        print("unparsable event line: %r" % l, file=sys.stderr)
print(n)' "$2"; }
state() { busctl --user get-property "org.agentrunner.Runner1.$1" /org/agentrunner/Runner1 \
  org.agentrunner.Runner1 State 2>/dev/null | cut -d'"' -f2; }
version() { busctl --user get-property "org.agentrunner.Runner1.$1" /org/agentrunner/Runner1 \
  org.agentrunner.Runner1 Version 2>/dev/null | cut -d'"' -f2; }

project() { # project NAME : the sleep agent, 1 s rounds, 6 s between them
  local d=$HOME/$1
  mkdir -p "$d"; git init -q "$d"
  python3 -c "print('You are a fake agent under test. ' * 40)" >"$d/prompt.md"
  project_config "$AGENTS/sleep" "$(printf '[agent.env]\nFAKE_SLEEP = "1"')" \
    | sed 's/^restart_delay_s = 0$/restart_delay_s = 6/' >"$d/agent-runner.toml"
  local dd=$HOME/.config/systemd/user/agent-runner@$1.service.d
  mkdir -p "$dd"; printf '[Service]\nRestartSec=1s\nWatchdogSec=2s\n' >"$dd/60-test.conf"
}

echo "[$(date +%T)] == upgrade: same PID, no restart, new version"
project upg
(cd "$HOME/upg" && "$AR" install) || fail "install failed"
wait_for 30 '[ "$(count upg round_end)" -ge 1 ]' || fail "no first round"
wait_for 30 '[ "$(state upg)" = waiting ]' || fail "not waiting: $(state upg)"
old=$(version upg)
pid=$(prop upg MainPID)
(cd "$HOME/upg" && "$AR" upgrade --json --to "$NEXT") >up.json || { cat up.json; fail "upgrade failed"; }
python3 -c '
import json, sys
d = json.load(open("up.json"))
assert d["outcome"] == "service_upgraded" and d["to_version"] == sys.argv[1] + "+next", d
' "$old" || fail "upgrade result: $(cat up.json)"
[ "$(prop upg MainPID)" = "$pid" ] || fail "MainPID changed: $pid -> $(prop upg MainPID)"
[ "$(prop upg NRestarts)" = 0 ] || fail "NRestarts=$(prop upg NRestarts)"
[ "$(prop upg ActiveState)" = active ] || fail "not active: $(prop upg ActiveState)"
[ "$(version upg)" = "$old+next" ] || fail "Version $(version upg)"
starts=$(count upg round_start)
wait_for 60 '[ "$(count upg round_end)" -ge $((starts + 1)) ]' || fail "no round after the upgrade (starts=$starts, now $(count upg round_end))"
sleep 3 # > WatchdogSec=2s: a missed ping would have killed it by now
[ "$(prop upg MainPID)" = "$pid" ] || fail "MainPID changed later: $(prop upg MainPID)"
[ "$(prop upg NRestarts)" = 0 ] || fail "restarted later: NRestarts=$(prop upg NRestarts)"
[ "$(prop upg SubState)" = running ] || fail "SubState $(prop upg SubState) (reloading stuck?)"
[ "$(count upg serve_started)" = 1 ] || fail "serve_started $(count upg serve_started) times"
(cd "$HOME/upg" && "$AR" uninstall) >/dev/null || fail "uninstall upg"

echo "[$(date +%T)] == midround: the running round is kept"
d=$HOME/mid
mkdir -p "$d"; git init -q "$d"
python3 -c "print('You are a fake agent under test. ' * 40)" >"$d/prompt.md"
project_config "$AGENTS/ticker" "$(printf '[agent.env]\nFAKE_TICKS = "40"\nFAKE_TICK_S = "0.2"')" \
  | sed 's/^restart_delay_s = 0$/restart_delay_s = 6/' >"$d/agent-runner.toml"
dd=$HOME/.config/systemd/user/agent-runner@mid.service.d
mkdir -p "$dd"; printf '[Service]\nRestartSec=1s\nWatchdogSec=2s\n' >"$dd/60-test.conf"
(cd "$d" && "$AR" install) || fail "install failed"
wait_for 60 'grep -qsx "tick 10" "$d"/logs/rounds/R1-*.log' || fail "round 1 never printed tick 10"
pid=$(prop mid MainPID)
apid=$(busctl --user get-property org.agentrunner.Runner1.mid /org/agentrunner/Runner1 \
  org.agentrunner.Runner1 AgentPid | cut -d' ' -f2)
(cd "$d" && "$AR" upgrade --json --to "$NEXT") >mid.json || { cat mid.json; fail "mid-round upgrade failed"; }
python3 -c '
import json
d = json.load(open("mid.json"))
assert d["outcome"] == "service_upgraded" and not d["deferred"], d
assert d["event"]["round_kept"] is True, d
' || fail "mid-round upgrade result: $(cat mid.json)"
[ "$(prop mid MainPID)" = "$pid" ] || fail "MainPID changed: $pid -> $(prop mid MainPID)"
[ "$(prop mid NRestarts)" = 0 ] || fail "NRestarts=$(prop mid NRestarts)"
now=$(busctl --user get-property org.agentrunner.Runner1.mid /org/agentrunner/Runner1 \
  org.agentrunner.Runner1 AgentPid | cut -d' ' -f2)
[ "$now" = "$apid" ] || fail "AgentPid changed: $apid -> $now"
wait_for 60 '[ "$(count mid round_end)" -ge 1 ]' || fail "round 1 never ended"
cat "$d"/logs/events-*.jsonl | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
end = [e for e in ev if e["event"] == "round_end"][0]
assert end["round_num"] == 1 and end["outcome"] == "ok" and end["exit_code"] == 0, end
assert [e["round_num"] for e in ev if e["event"] == "agent_exit"][:1] == [1], ev
' || fail "round 1 not accounted"
ticks=$(grep -c '^tick ' "$d"/logs/rounds/R1-*.log)
[ "$ticks" = 40 ] && [ "$(grep -cx 'tick 40' "$d"/logs/rounds/R1-*.log)" = 1 ] \
  || fail "transcript: $ticks tick lines"
sleep 3 # > WatchdogSec=2s: a missed ping would have killed it by now
[ "$(prop mid MainPID)" = "$pid" ] || fail "MainPID changed later: $(prop mid MainPID)"
[ "$(prop mid NRestarts)" = 0 ] || fail "restarted later: NRestarts=$(prop mid NRestarts)"
(cd "$d" && "$AR" uninstall) >/dev/null || fail "uninstall mid"

echo "[$(date +%T)] == kill9: SIGKILL during the hand-over, the restart recovers"
project k9
(cd "$HOME/k9" && "$AR" install) || fail "install failed"
wait_for 30 '[ "$(count k9 round_end)" -ge 1 ]' || fail "no first round"
wait_for 30 '[ "$(state k9)" = waiting ]' || fail "not waiting: $(state k9)"
pid=$(prop k9 MainPID)
busctl --user call org.agentrunner.Runner1.k9 /org/agentrunner/Runner1 org.agentrunner.Runner1 \
  Upgrade 'sa{sv}' "$NEXT" 0 >/dev/null || fail "Upgrade call failed"
kill -9 "$pid" 2>/dev/null || true
wait_for 60 '[ "$(prop k9 NRestarts)" -ge 1 ] && [ "$(prop k9 ActiveState)" = active ]' \
  || fail "not restarted: $(prop k9 ActiveState) NRestarts=$(prop k9 NRestarts)"
wait_for 60 '[ "$(count k9 round_end)" -ge 2 ]' || fail "no round after the restart"
cat "$HOME"/k9/logs/events-*.jsonl | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
nums = [e["round_num"] for e in ev if e["event"] == "round_start"]
assert nums == list(range(1, len(nums) + 1)), nums
' || fail "round numbers after the kill: not 1..N"
(cd "$HOME/k9" && "$AR" uninstall) >/dev/null || fail "uninstall k9"
echo "all cases passed"
EOS
chown "$U": "$H/test.sh"

# The build tree's helpers (the installed binaries carry no build path).
. "$SRC/tests/units/build-env.sh"
HARNESS_ENV="SRC=$SRC BUILD=$BUILD$(build_env)" "$SRC/scripts/user-session-harness.sh" "$U" "cd && bash ./test.sh"
