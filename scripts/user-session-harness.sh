#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Usage (as root): scripts/user-session-harness.sh USER 'commands, run as USER'
#
# Gives USER a real `systemd --user` manager, its socket-activated session
# bus and a private systemd-journald, on a host where systemd is NOT PID 1
# (CI containers, microVMs), without booting anything of the host. Adapted
# from the verified recipe in ../shared/notes/real-components.md §4a/§3:
#   - everything is mounted in a private mount namespace (unshare --mount):
#     a tmpfs /run/systemd with the "booted" marker /run/systemd/system
#     (systemd --user refuses to start when sd_booted() is false), a tmpfs
#     /run/log for a volatile journal, journald.conf bind-mounted;
#   - a cgroup subtree user.slice/user-UID.slice/user@UID.service owned by
#     USER in every hierarchy (the user cannot create cgroups in the root);
#     the logind-style path makes journald fill _SYSTEMD_USER_UNIT;
#   - /run/user/UID as XDG_RUNTIME_DIR.
# Host-visible leftovers: none. The cgroup subtree and /run/user/UID are
# removed, every process left in the subtree is killed (by pid), journald
# is stopped.
#
# NEVER replace this with `unshare --pid ... /lib/systemd/systemd`: that
# boots the host's own services on the host's filesystem.
#
# Environment: HARNESS_ENV="K=V ..." extra variables for the test commands.
if [ -z "${IN_PRIVATE_NS:-}" ]; then
  exec unshare --mount --propagation private env IN_PRIVATE_NS=1 "$0" "$@"
fi
set -eu
U=$1
TEST=$2
UID_=$(id -u "$U")
RT=/run/user/$UID_
CGP=user.slice/user-$UID_.slice
CG=$CGP/user@$UID_.service
log() { echo "[harness] $*" >&2; }

if [ -e "$RT" ]; then
  log "$RT exists already; refusing to take it over"
  exit 1
fi

# (1) private /run/systemd with the "booted" marker
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir -p /run/systemd/system
# (2) private journald
mount -t tmpfs -o mode=0755 tmpfs /run/log
install -d -m 2755 -g systemd-journal /run/log/journal
printf '[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\n' >/run/log/journald-test.conf
mount --bind /run/log/journald-test.conf /etc/systemd/journald.conf
SYSTEMD_LOG_TARGET=console /lib/systemd/systemd-journald >/run/log/journald.out 2>&1 &
JPID=$!
for _ in $(seq 500); do [ -S /run/systemd/journal/socket ] && break; sleep 0.01; done

HIER=""
UMPID=""
teardown() {
  set +e
  if [ -n "$UMPID" ]; then
    runuser -u "$U" -- $UENV systemctl --user exit >/dev/null 2>&1
    for _ in $(seq 100); do kill -0 "$UMPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$UMPID" 2>/dev/null
    wait "$UMPID" 2>/dev/null
  fi
  for h in $HIER; do
    echo $$ >"$h/cgroup.procs"
    # whatever is left in the user's subtree (by pid, never by name)
    find "$h/$CG" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  sleep 0.2
  for h in $HIER; do
    find "$h/$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
    rmdir "$h/$CGP" 2>/dev/null
    rmdir "$h/user.slice" 2>/dev/null
  done
  kill "$JPID" 2>/dev/null
  wait "$JPID" 2>/dev/null
  rm -rf "$RT"
}
UENV="env -i HOME=$(getent passwd "$U" | cut -d: -f6) USER=$U LOGNAME=$U XDG_RUNTIME_DIR=$RT PATH=/usr/local/bin:/usr/bin:/bin DBUS_SESSION_BUS_ADDRESS=unix:path=$RT/bus LANG=C.UTF-8 ${HARNESS_ENV:-}"
trap teardown EXIT

# (3) delegated cgroup owned by USER in every hierarchy systemd uses
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
  if [ "$h" = /sys/fs/cgroup ]; then
    [ "$(stat -fc %T $h)" = cgroup2fs ] || continue
  else
    [ -e $h/cgroup.procs ] || continue
  fi
  HIER="$HIER $h"
  mkdir -p "$h/$CG"
  chown -R "$U": "$h/$CG"
  echo $$ >"$h/$CG/cgroup.procs"
done

# (4) runtime dir, then the manager itself
mkdir -p "$RT"
chown "$U": "$RT"
chmod 700 "$RT"
setsid runuser -u "$U" -- $UENV /lib/systemd/systemd --user </dev/null >/dev/null 2>&1 &
UMPID=$!
# the harness itself leaves the user's cgroup again (it is not the user's)
for h in $HIER; do echo $$ >"$h/cgroup.procs"; done
for _ in $(seq 300); do [ -S "$RT/systemd/private" ] && break; sleep 0.05; done
for _ in $(seq 300); do
  runuser -u "$U" -- $UENV systemctl --user is-system-running --wait >/dev/null 2>&1 && break
  sleep 0.05
done
log "systemd --user running for $U"
rc=0
runuser -u "$U" -- $UENV bash -c "$TEST" || rc=$?
log "test rc=$rc"
exit $rc
