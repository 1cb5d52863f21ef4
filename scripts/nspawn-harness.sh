#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Usage (as root): scripts/nspawn-harness.sh [-l LAYER]... ROOTFS 'commands'
#
# Boots ROOTFS with `systemd-nspawn -b` (a real systemd as the container's
# PID 1, its own system bus, journald, logind, polkitd), runs the commands
# inside as root via nsenter, halts the container and removes everything it
# made. Works on hosts where systemd is NOT PID 1 (no machined, no host
# bus); adapted from the verified recipe in ../shared/notes/
# real-components.md §4b.
#
#   - ROOTFS is never written: the container's root is an overlay of the
#     LAYERs (first = topmost, e.g. a `meson install --destdir` tree and the
#     test's files) over ROOTFS, with a throwaway upper dir. A directory in
#     a layer must not shadow a merged-/usr symlink of ROOTFS (/lib, /bin,
#     /sbin, /lib64): move such trees below usr/ first.
#   - Everything is mounted in a private mount namespace (unshare --mount),
#     including a tmpfs on /run/systemd/nspawn (this host's /run is not a
#     tmpfs, and nspawn would leave its propagate/ dirs there).
#   - nspawn runs in its own cgroup subtree in every hierarchy (it creates
#     supervisor/ and payload/ in whatever cgroup it starts in); removed
#     afterwards, leftovers killed by pid.
#   - --private-network: the container sees only its own loopback.
#
# The commands run with a clean environment (PATH, HOME=/root, LANG) plus
# NSPAWN_ENV="K=V ..." and get NSPAWN_TIMEOUT seconds (default 240).
# Exit: the commands' exit code; 77 when nspawn/nsenter/overlayfs are
# missing; 1 when the container does not boot.
#
# NEVER replace this with `unshare --pid ... /lib/systemd/systemd`: that
# boots the HOST's own services on the host's filesystem.
set -eu
LOCK=/var/cache/agent-runner-test-rootfs/harness.lock
if [ -z "${IN_NSPAWN_HARNESS_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "nspawn-harness: needs root" >&2; exit 77; }
  for c in systemd-nspawn nsenter unshare flock; do
    command -v $c >/dev/null || { echo "nspawn-harness: $c is missing" >&2; exit 77; }
  done
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    { echo "nspawn-harness: no overlayfs" >&2; exit 77; }
  mkdir -p "$(dirname "$LOCK")"
  created_dir=""
  [ -d /run/systemd/nspawn ] || { mkdir -p /run/systemd/nspawn && created_dir=1; }
  rc=0
  sig=""
  trap 'sig=1' TERM INT HUP # flock dies with us; the inner part tears down
  # A shared lock for our lifetime: the last harness out removes the empty
  # mount point it created on the host.
  flock -s "$LOCK" unshare --mount --propagation private env IN_NSPAWN_HARNESS_NS=1 "$0" "$@" || rc=$?
  if [ -n "$created_dir" ]; then
    # after a signal, wait (bounded) for the inner teardown to let go
    wait_opt=--nonblock
    [ -n "$sig" ] && wait_opt=--timeout=45
    flock $wait_opt -x "$LOCK" rmdir /run/systemd/nspawn 2>/dev/null || true
  fi
  exit $rc
fi

LAYERS=()
while [ $# -gt 0 ]; do
  case $1 in
    -l) LAYERS+=("$2"); shift 2 ;;
    *) break ;;
  esac
done
ROOTFS=$1
TEST=$2
[ -x "$ROOTFS/lib/systemd/systemd" ] || { echo "nspawn-harness: $ROOTFS is not a systemd rootfs" >&2; exit 1; }
t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
log() { echo "[nspawn $(ms) ms] $*" >&2; }

NAME=ar-test-$$
W=$(mktemp -d /var/tmp/ar-nspawn.XXXXXX)
CG=agent-runner-nspawn-$$
HIER=""
NP=""
teardown() {
  set +e
  if [ -n "$NP" ] && kill -0 "$NP" 2>/dev/null; then
    kill -TERM "$NP"   # nspawn asks the container's systemd to halt
    for _ in $(seq 300); do kill -0 "$NP" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$NP" 2>/dev/null && { log "container did not halt in 30 s; killing it"; kill -KILL "$NP"; }
    wait "$NP" 2>/dev/null
    log "halted"
  fi
  for h in $HIER; do
    echo $$ >"$h/cgroup.procs"
    find "$h/$CG" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null # pids
  done
  sleep 0.1
  for h in $HIER; do find "$h/$CG" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  umount "$W/root" 2>/dev/null || umount -l "$W/root" 2>/dev/null
  rm -rf "$W"
}
trap teardown EXIT
trap 'exit 143' TERM INT HUP

mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn
mkdir "$W/upper" "$W/work" "$W/root"
LOWER=$(IFS=:; echo "${LAYERS[*]:+${LAYERS[*]}:}$ROOTFS")
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$W/upper,workdir=$W/work" "$W/root"

for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
  if [ "$h" = /sys/fs/cgroup ]; then
    [ "$(stat -fc %T $h)" = cgroup2fs ] || continue
  else
    [ -e $h/cgroup.procs ] || continue
  fi
  HIER="$HIER $h"
  mkdir -p "$h/$CG"
done
(
  for h in $HIER; do echo $BASHPID >"$h/$CG/cgroup.procs"; done
  exec systemd-nspawn -q -D "$W/root" -M "$NAME" -b --register=no --keep-unit \
    --console=pipe --private-network
) </dev/null >"$W/nspawn.out" 2>&1 &
NP=$!

LEADER=""
for _ in $(seq 600); do
  LEADER=$(pgrep -P $NP -x systemd || true)
  [ -n "$LEADER" ] && break
  kill -0 $NP 2>/dev/null || break
  sleep 0.05
done
[ -n "$LEADER" ] || { log "nspawn did not start systemd:"; cat "$W/nspawn.out" >&2; exit 1; }
IN="nsenter -t $LEADER -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb"
state=""
for _ in $(seq 600); do
  state=$($IN systemctl is-system-running 2>/dev/null || true)
  case $state in running | degraded) break ;; esac
  sleep 0.1
done
case $state in
  running) log "container running (leader pid $LEADER)" ;;
  degraded)
    log "container degraded (leader pid $LEADER); failed units:"
    $IN systemctl --failed --no-legend --plain >&2 || true
    ;;
  *)
    log "container did not boot (state '$state'):"
    cat "$W/nspawn.out" >&2
    $IN systemctl list-jobs --no-pager >&2 || true
    exit 1
    ;;
esac

rc=0
$IN ${NSPAWN_ENV:-} timeout -k 5 "${NSPAWN_TIMEOUT:-240}" /bin/bash -c "$TEST" || rc=$?
[ $rc = 124 ] && log "the commands timed out after ${NSPAWN_TIMEOUT:-240} s"
log "commands rc=$rc"
exit $rc
