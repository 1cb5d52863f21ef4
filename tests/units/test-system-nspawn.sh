#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# agent-runner in SYSTEM mode against a real systemd PID 1: a booted
# `systemd-nspawn -b` container (scripts/nspawn-harness.sh) on a cached
# debootstrap'd Debian bookworm (scripts/build-test-rootfs.sh), with its own
# system bus, journald, logind and polkitd. Nothing of the host is booted
# or changed; the rootfs cache is only read (it is the lower layer of an
# overlay).
#
# Into the container goes `meson install --destdir` of this build (binaries,
# system units, bus policy, polkit actions) plus the fake agents. Inside:
#   - aralice runs `sudo agent-runner install --system` in her project:
#     link + drop-in (User=aralice), unit enabled but not started, the start
#     command printed;
#   - `systemctl start` -> active, the daemon runs as aralice, the bus name is
#     owned on the container's system bus (the per-project bus policy
#     install wrote), the log dir belongs to aralice, `agent-runner --system
#     status` shows the round (for aralice and, read-only, for arbob);
#   - polkit (a rules file matching the per-project action ids install
#     wrote, owned by aralice: YES for arcarol, NO for arbob): arbob's
#     `agent-runner --system stop` is denied by polkit (exit 4, "not
#     authorized") and the service keeps running; arcarol's `cancel` is
#     allowed; root's `stop` passes without polkit; aralice (the service's
#     own uid) stops it gracefully: the round finishes, inactive, not failed;
#   - a second project whose agent writes .agent-done: inactive, no restart;
#   - secrets: `agent-runner secret set --system` writes an encrypted
#     credential, install puts LoadCredentialEncrypted= in the drop-in, the
#     agent gets the value, the transcript is 0600 and aralice's, the value
#     is in no event; arbob's Peek is served without the log and with
#     log_tail is AccessDenied (polkit read-transcript), arcarol's is
#     redacted;
#   - `sudo agent-runner uninstall --system` leaves nothing behind.
#
# Needs root, systemd-nspawn, nsenter, overlayfs, debootstrap and the Debian
# mirror (the first run builds the rootfs, ~1-2 min); exits 77 (skip) and
# says why otherwise. Also skips sanitized builds (no libasan in the rootfs).
set -eu
SRC=${AR_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${AR_BUILD_ROOT:-$SRC/build}
ROOTFS=${AR_TEST_ROOTFS:-/var/cache/agent-runner-test-rootfs/rootfs}
skip() { echo "SKIP: $*"; exit 77; }
t0=$(date +%s)

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn, mounts)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn missing (apt-get install systemd-container)"
command -v nsenter >/dev/null || skip "nsenter missing (util-linux)"
for f in src/client/agent-runner src/daemon/agent-runnerd; do
  [ -x "$BUILD/$f" ] || { echo "missing $BUILD/$f"; exit 1; }
done
if ldd "$BUILD/src/daemon/agent-runnerd" | grep -q 'libasan\|libubsan'; then
  skip "sanitized build: the container has no sanitizer runtime"
fi

rc=0
"$SRC/scripts/build-test-rootfs.sh" "$ROOTFS" || rc=$?
[ $rc = 77 ] && skip "no test rootfs (see above)"
[ $rc = 0 ] || { echo "FAIL: building the rootfs (rc $rc)"; exit 1; }
echo "[$(($(date +%s) - t0)) s] rootfs ready"

L=$(mktemp -d /var/tmp/ar-nspawn-layer.XXXXXX)
trap 'rm -rf "$L"' EXIT
trap 'exit 143' TERM INT HUP
meson install -C "$BUILD" --no-rebuild --quiet --destdir "$L" >"$L.install.log" 2>&1 ||
  { cat "$L.install.log"; rm -f "$L.install.log"; echo "FAIL: meson install"; exit 1; }
rm -f "$L.install.log"
# merged /usr in the rootfs: a real /lib in the layer would hide /lib -> usr/lib
for d in bin sbin lib lib64; do
  if [ -d "$L/$d" ] && [ ! -L "$L/$d" ] && [ -L "$ROOTFS/$d" ]; then
    mkdir -p "$L/usr/$d"
    cp -a "$L/$d/." "$L/usr/$d/"
    rm -rf "${L:?}/$d"
  fi
done
install -d "$L/opt/ar-test"
# The client as installed for this build's prefix, wherever that is: sudo
# resets PATH to its secure_path, which knows /usr/local/bin and /usr/bin
# but not /opt/whatever/bin, so the test calls it by its full path (as a
# user of such a prefix must) and puts its directory on PATH for the rest.
AR_CLIENT=$(cd "$L" && find . -path '*/bin/agent-runner' -type f | head -1)
[ -n "$AR_CLIENT" ] || { echo "FAIL: meson install put no bin/agent-runner under $L"; exit 1; }
echo "AR_BINDIR=$(dirname "${AR_CLIENT#.}")" >"$L/opt/ar-test/paths.sh"
cp -a "$SRC/tests/fake-agents" "$L/opt/ar-test/"
# an empty git repository, made here: the rootfs has libgit2 but no git CLI
command -v git >/dev/null || skip "git missing (to make the project repository)"
git init -q "$L/opt/ar-test/repo"
chmod -R a+rX "$L/opt/ar-test"

cp "$SRC/tests/units/project-config.sh" "$L/opt/ar-test/"
cat >"$L/opt/ar-test/test.sh" <<'EOS'
set -eu
. /opt/ar-test/project-config.sh
. /opt/ar-test/paths.sh
export PATH="$AR_BINDIR:$PATH"
A=aralice B=arbob C=arcarol
P=/home/$A/proj D=/home/$A/done
fail() {
  echo "FAIL: $*"
  for u in proj done; do
    systemctl status --no-pager "agent-runner@$u.service" 2>&1 | head -20 || true
    journalctl --no-pager -n 40 -u "agent-runner@$u.service" || true
  done
  exit 1
}
prop() { systemctl show -P "$2" "agent-runner@$1.service"; }
wait_for() { local n=$(($1 * 10)); shift; for _ in $(seq $n); do eval "$1" && return 0; sleep 0.1; done; return 1; }
as() { local u=$1; shift; runuser -u "$u" -- env HOME=/home/$u USER=$u LOGNAME=$u "$@"; }
step() { echo "[$(date +%T)] == $*"; }

step "users, sudo for $A, polkit rules (YES $A $C, NO $B)"
grep -qs "$(hostname)" /etc/hosts || echo "127.0.1.1 $(hostname)" >>/etc/hosts  # sudo resolves it
for u in $A $B $C; do useradd -m -s /bin/bash $u; done
echo "$A ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/ar-test
chmod 0440 /etc/sudoers.d/ar-test
# rename into place: polkitd reloads on inotify (see real-components.md §2);
# the match docs/install.md recommends (generic and per-project ids)
cat >/etc/polkit-1/rules.d/.49-ar-test.tmp <<EOF
polkit.addRule(function(action, subject) {
  if (action.id.indexOf("org.agentrunner.runner.") == 0) {
    if (subject.user == "$A" || subject.user == "$C") return polkit.Result.YES;
    return polkit.Result.NO;
  }
});
EOF
chmod 644 /etc/polkit-1/rules.d/.49-ar-test.tmp
mv /etc/polkit-1/rules.d/.49-ar-test.tmp /etc/polkit-1/rules.d/49-ar-test.rules

project() { # project DIR AGENT [extra toml]
  as $A cp -r /opt/ar-test/repo "$1"
  as $A sh -c "yes 'You are a fake agent under test.' | head -40 >'$1/prompt.md'"
  project_config "/opt/ar-test/fake-agents/$2" "${3:-}" | as $A tee "$1/agent-runner.toml" >/dev/null
}
# install --system runs as root but the service as $A: the log dir it
# creates must be $A's
check_log_dir() {
  [ "$(stat -c %U $1/logs)" = $A ] || fail "install --system created $1/logs owned by $(stat -c %U $1/logs)"
}
project $P sleep "$(printf '[agent.env]\nFAKE_SLEEP = "4"')"

step "install --system via sudo: enabled, not started, start command printed"
(cd $P && as $A sudo -n "$AR_BINDIR/agent-runner" install --system) >install.out 2>&1 || { cat install.out; fail "install"; }
cat install.out
grep -q 'sudo systemctl start agent-runner@proj.service' install.out || fail "no start command printed"
[ "$(readlink /etc/agent-runner/projects/proj.toml)" = $P/agent-runner.toml ] || fail "config link"
DROPIN=/etc/systemd/system/agent-runner@proj.service.d/50-agent-runner.conf
grep -qx "User=$A" $DROPIN && grep -qx "Group=$A" $DROPIN || fail "drop-in User=/Group=: $(cat $DROPIN)"
[ "$(systemctl is-enabled agent-runner@proj.service)" = enabled ] || fail "not enabled"
[ -L /etc/systemd/system/multi-user.target.wants/agent-runner@proj.service ] || fail "no wants link"
[ "$(prop proj ActiveState)" = inactive ] || fail "started by install: $(prop proj ActiveState)"
check_log_dir $P
POLICY=/usr/share/dbus-1/system.d/org.agentrunner.Runner1.proj.conf
ACTIONS=/usr/share/polkit-1/actions/org.agentrunner.runner.proj.policy
grep -q "<policy user=\"$A\">" $POLICY && grep -q 'allow own="org.agentrunner.Runner1.proj"' $POLICY ||
  fail "bus policy: $(cat $POLICY)"
grep -q "unix-user:$A" $ACTIONS || fail "polkit actions: $(cat $ACTIONS)"
if command -v pkaction >/dev/null; then
  wait_for 5 'pkaction --verbose --action-id org.agentrunner.runner.proj.manage 2>/dev/null | grep -q "org.freedesktop.policykit.owner.*unix-user:$A"' ||
    fail "polkitd does not list the per-project action with its owner: $(pkaction --verbose --action-id org.agentrunner.runner.proj.manage 2>&1)"
fi
# a work_dir the service's user cannot write is refused, with the fix
chmod 0555 $P
rc=0; (cd $P && as $A sudo -n "$AR_BINDIR/agent-runner" install --system) >install-ro.out 2>&1 || rc=$?
chmod 0755 $P
[ $rc = 78 ] && grep -q "cannot read and write work_dir" install-ro.out && grep -q "fix: sudo chown" install-ro.out ||
  { cat install-ro.out; fail "unwritable work_dir: rc $rc"; }

step "systemctl start: active, runs as $A, bus name on the system bus"
systemctl start agent-runner@proj.service || fail "start"
[ "$(prop proj ActiveState)" = active ] || fail "not active: $(prop proj ActiveState)"
PID=$(prop proj MainPID)
[ "$(stat -c %U /proc/$PID)" = $A ] || fail "daemon runs as $(stat -c %U /proc/$PID)"
NAME=org.agentrunner.Runner1.proj
# NameHasOwner, not `busctl list`: that also lists the name as activatable
# (install writes its D-Bus activation file).
owned() { busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
  NameHasOwner s "$1" | grep -q true; }
owned "$NAME" || fail "$NAME not on the system bus"
[ "$(busctl --system status $NAME | sed -n 's/^UID=//p')" = "$(id -u $A)" ] || fail "owner uid"
wait_for 30 '[ -n "$(ls $P/logs/rounds 2>/dev/null)" ]' || fail "no round started"

step "status over the system bus ($A, and read-only for $B)"
wait_for 10 '(cd $P && as $A agent-runner --system status) >status.out 2>&1 && grep -q "running for" status.out' ||
  { cat status.out; fail "status as $A shows no running round"; }
cat status.out
grep -q 'system bus' status.out || fail "status does not say system bus"
as $B agent-runner --system --project proj status >status-b.out 2>&1 || { cat status-b.out; fail "status as $B"; }

step "polkit: $B is denied stop, $C may cancel"
rc=0; as $B agent-runner --system --project proj stop >stop-b.out 2>&1 || rc=$?
cat stop-b.out
grep -q 'cannot ask polkit\|Only trusted callers' stop-b.out && fail "denied for the wrong reason (polkit not asked)"
grep -q 'not authorized' stop-b.out || fail "stop as $B: no 'not authorized' from polkit"
[ $rc = 4 ] || fail "stop as $B: rc $rc, want 4 (access denied)"
sleep 0.5
[ "$(prop proj ActiveState)" = active ] || fail "$B's stop stopped it: $(prop proj ActiveState)"
journalctl --no-pager -u polkit.service | grep -q . || echo "note: nothing from polkitd in the journal"
as $C agent-runner --system --project proj cancel >cancel-c.out 2>&1 || { cat cancel-c.out; fail "cancel as $C (polkit YES)"; }
[ "$(prop proj ActiveState)" = active ] || fail "cancel stopped the service"

step "root stops it over the bus (no polkit for uid 0), then it is started again"
agent-runner --system --project proj stop --now >stop-root.out 2>&1 || { cat stop-root.out; fail "stop as root"; }
wait_for 30 '[ "$(prop proj ActiveState)" = inactive ]' || fail "after root's stop: $(prop proj ActiveState)"
[ "$(prop proj Result)" = success ] || fail "root's stop result $(prop proj Result)"
systemctl start agent-runner@proj.service || fail "start again"

step "$A stops it (graceful): inactive, not failed, the round finished"
wait_for 30 '(cd $P && as $A agent-runner --system status) 2>/dev/null | grep -q "running for"' || fail "no round after cancel"
(cd $P && as $A agent-runner --system stop) >stop-a.out 2>&1 || { cat stop-a.out; fail "stop as $A"; }
wait_for 30 '[ "$(prop proj ActiveState)" = inactive ]' || fail "after stop: $(prop proj ActiveState)"
[ "$(prop proj Result)" = success ] || fail "stop result $(prop proj Result)"
owned "$NAME" && fail "bus name still owned"
tail -n 1 $P/logs/events-*.jsonl | grep -q . || fail "no events"
cat $P/logs/events-*.jsonl | grep '"event": *"round_end"' | tail -1 | grep -q '"outcome": *"ok"' ||
  fail "last round did not end ok: $(grep round_end $P/logs/events-*.jsonl | tail -2)"
journalctl --no-pager -u agent-runner@proj.service -o cat | grep -q . || fail "nothing in the journal"

step ".agent-done: inactive, not restarted"
project $D agent-done
(cd $D && as $A sudo -n "$AR_BINDIR/agent-runner" install --system) >/dev/null 2>&1 || fail "install done"
check_log_dir $D
mkdir -p /etc/systemd/system/agent-runner@done.service.d
printf '[Service]\nRestartSec=1s\n' >/etc/systemd/system/agent-runner@done.service.d/60-test.conf
systemctl daemon-reload
systemctl start agent-runner@done.service || fail "start done"
wait_for 60 '[ "$(prop done ActiveState)" = inactive ]' || fail "still $(prop done ActiveState)"
[ -e $D/logs/.agent-done ] || fail "no .agent-done"
sleep 2.5 # > RestartSec=1s
[ "$(prop done ActiveState)" = inactive ] || fail "resurrected: $(prop done ActiveState)"
[ "$(prop done NRestarts)" = 0 ] || fail "NRestarts=$(prop done NRestarts)"
[ "$(prop done Result)" = success ] || fail "done result $(prop done Result)"
rm /etc/systemd/system/agent-runner@done.service.d/60-test.conf

step "secrets: secret set --system, install loads the credential, the agent gets it"
S=/home/$A/sec
project $S print-secret "$(printf 'secrets = ["SVC_API_KEY"]\n[agent.env]\nFAKE_PRINT = "SVC_API_KEY"\nFAKE_SLEEP = "30"')"
SECRET_VALUE='sys-credential-value-4711'
printf '%s\n' "$SECRET_VALUE" | agent-runner secret set --system SVC_API_KEY --project sec >secret-set.out 2>&1 ||
  { cat secret-set.out; fail "secret set --system"; }
CRED=/etc/credstore.encrypted/agent-runner.sec.SVC_API_KEY
[ "$(stat -c %a $CRED)" = 600 ] || fail "credential mode $(stat -c %a $CRED)"
grep -q "$SECRET_VALUE" $CRED && fail "credential stored in the clear"
agent-runner secret list --system >secret-list.out 2>&1 || { cat secret-list.out; fail "secret list --system"; }
grep -q SVC_API_KEY secret-list.out && ! grep -q "$SECRET_VALUE" secret-list.out || fail "secret list: $(cat secret-list.out)"
(cd $S && as $A sudo -n agent-runner install --system) >install-sec.out 2>&1 || { cat install-sec.out; fail "install sec"; }
grep -qx "LoadCredentialEncrypted=SVC_API_KEY:$CRED" /etc/systemd/system/agent-runner@sec.service.d/50-agent-runner.conf ||
  fail "no LoadCredentialEncrypted= in the drop-in: $(cat /etc/systemd/system/agent-runner@sec.service.d/50-agent-runner.conf)"
systemctl start agent-runner@sec.service || fail "start sec"
wait_for 30 '[ -e $S/logs/seen-R1-SVC_API_KEY ]' || fail "the agent did not run"
[ "$(cat $S/logs/seen-R1-SVC_API_KEY)" = "$SECRET_VALUE" ] || fail "the agent got '$(cat $S/logs/seen-R1-SVC_API_KEY)'"
T=$(ls $S/logs/rounds/R1-*.log)
[ "$(stat -c '%a %U' $T)" = "600 $A" ] || fail "transcript $(stat -c '%a %U' $T)"
[ "$(stat -c '%a' $S/logs)" = 700 ] || fail "log_dir mode $(stat -c %a $S/logs)"
grep -q "$SECRET_VALUE" $T || fail "the transcript lost the raw output"
grep -q "$SECRET_VALUE" $S/logs/events-*.jsonl && fail "the value is in the events"
tr '\0' '\n' </proc/$(prop sec MainPID)/environ | grep -q "$SECRET_VALUE" && fail "the value is in the daemon's environment"

step "transcript access: $B may Peek but not read log_tail; $C (polkit YES) may"
SNAME=org.agentrunner.Runner1.sec
if command -v pkaction >/dev/null; then
  wait_for 5 'pkaction --action-id org.agentrunner.runner.sec.read-transcript >/dev/null 2>&1' ||
    fail "polkitd does not list org.agentrunner.runner.sec.read-transcript"
fi
as $B busctl --system call $SNAME /org/agentrunner/Runner1 org.agentrunner.Runner1 Peek 'a{sv}' 0 >peek-b.out 2>&1 ||
  { cat peek-b.out; fail "Peek without log_tail as $B"; }
grep -q 'log_withheld' peek-b.out || fail "Peek for $B does not say the log was withheld: $(cat peek-b.out)"
rc=0; as $B busctl --system call $SNAME /org/agentrunner/Runner1 org.agentrunner.Runner1 Peek 'a{sv}' 1 log_tail u 20 >peek-b-log.out 2>&1 || rc=$?
[ $rc != 0 ] && grep -qi 'access denied' peek-b-log.out || { cat peek-b-log.out; fail "log_tail as $B: rc $rc"; }
as $C busctl --system call $SNAME /org/agentrunner/Runner1 org.agentrunner.Runner1 Peek 'a{sv}' 1 log_tail u 20 >peek-c-log.out 2>&1 ||
  { cat peek-c-log.out; fail "log_tail as $C"; }
grep -q 'redacted' peek-c-log.out || fail "log_tail as $C is not redacted: $(cat peek-c-log.out)"
grep -q "$SECRET_VALUE" peek-c-log.out && fail "log_tail shows the value"
systemctl stop agent-runner@sec.service
(cd $S && as $A sudo -n agent-runner uninstall --system) >/dev/null 2>&1 || fail "uninstall sec"
agent-runner secret rm --system SVC_API_KEY --project sec >/dev/null || fail "secret rm --system"
[ ! -e $CRED ] || fail "credential left behind"

step "uninstall --system leaves nothing"
for d in $P $D; do
  (cd $d && as $A sudo -n "$AR_BINDIR/agent-runner" uninstall --system) >uninstall.out 2>&1 || { cat uninstall.out; fail "uninstall $d"; }
done
left=$(find /etc -name '*agent-runner@*' 2>/dev/null; ls -d /etc/agent-runner 2>/dev/null || true
  ls /usr/share/dbus-1/system.d/org.agentrunner.Runner1.*.conf /usr/share/polkit-1/actions/org.agentrunner.runner.*.policy 2>/dev/null || true)
[ -z "$left" ] || fail "left behind: $left"
for u in proj done; do
  st=$(systemctl is-enabled agent-runner@$u.service 2>/dev/null || true)
  [ "$st" != enabled ] || fail "$u still enabled"
  [ -z "$(systemctl list-units --all --plain --no-legend agent-runner@$u.service)" ] || fail "$u still loaded"
done
echo "all system-mode cases passed"
EOS

echo "[$(($(date +%s) - t0)) s] booting the container"
rc=0
NSPAWN_TIMEOUT=${AR_NSPAWN_TIMEOUT:-150} "$SRC/scripts/nspawn-harness.sh" -l "$L" "$ROOTFS" \
  'cd /root && bash /opt/ar-test/test.sh' || rc=$?
echo "[$(($(date +%s) - t0)) s] done, rc=$rc"
exit $rc
